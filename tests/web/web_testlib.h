/* Helpers for the web server's tests: a server on its own loop in a
 * thread, bound to 127.0.0.1:0, and a raw HTTP/1.1 client over real TCP.
 *
 * Every wait on the network has a generous time limit (WT_WAIT_MS) so a
 * broken server fails a test instead of hanging it; no test asserts on
 * time. The server's log lines are kept, so a test can check that each
 * refusal logs exactly one line. */
#ifndef CS_TESTS_WEB_TESTLIB_H
#define CS_TESTS_WEB_TESTLIB_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "tools/web/web.h"

#define WT_WAIT_MS 15000
#define WT_LOG_MAX 512

static int wt_failures = 0;

#define CHECK(cond)                                                                \
  do {                                                                             \
    if (!(cond)) {                                                                 \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);     \
      wt_failures++;                                                               \
    }                                                                              \
  } while (0)

#define REQUIRE(cond)                                                              \
  do {                                                                             \
    if (!(cond)) {                                                                 \
      fprintf(stderr, "%s:%d: required: %s\n", __FILE__, __LINE__, #cond);         \
      exit(1);                                                                     \
    }                                                                              \
  } while (0)

typedef void (*wt_setup_cb)(cs_web_server_t *server, void *ctx);
typedef void (*wt_call_cb)(cs_web_server_t *server, void *arg);

typedef struct wt_server_s {
  uv_loop_t loop;
  uv_async_t stop_async, call_async;
  cs_web_server_t *server;
  pthread_t thread;
  int port;
  pthread_mutex_t lock;
  pthread_cond_t cond;
  wt_call_cb call;
  void *call_arg;
  bool call_done;
  char *log[WT_LOG_MAX];
  int log_count;
} wt_server_t;

static inline void wt_log(void *ctx, cs_web_log_level_t level, const char *line) {
  wt_server_t *wt = ctx;
  (void)level;
  pthread_mutex_lock(&wt->lock);
  if (wt->log_count < WT_LOG_MAX) wt->log[wt->log_count++] = strdup(line);
  pthread_mutex_unlock(&wt->lock);
  if (getenv("WT_VERBOSE")) fprintf(stderr, "  log: %s\n", line);
}

static inline int wt_log_count(wt_server_t *wt) {
  pthread_mutex_lock(&wt->lock);
  int n = wt->log_count;
  pthread_mutex_unlock(&wt->lock);
  return n;
}

/* True when one of the log lines from `from` on holds `text`. */
static inline bool wt_logged(wt_server_t *wt, int from, const char *text) {
  bool found = false;
  pthread_mutex_lock(&wt->lock);
  for (int i = from; i < wt->log_count && !found; i++) found = strstr(wt->log[i], text) != NULL;
  pthread_mutex_unlock(&wt->lock);
  return found;
}

static inline void wt_on_stopped(cs_web_server_t *server, void *ctx) {
  (void)server;
  wt_server_t *wt = ctx;
  uv_close((uv_handle_t *)&wt->stop_async, NULL);
  uv_close((uv_handle_t *)&wt->call_async, NULL);
}

static inline void wt_on_stop(uv_async_t *async) {
  wt_server_t *wt = async->data;
  cs_web_server_stop(wt->server, wt_on_stopped, wt);
}

static inline void wt_on_call(uv_async_t *async) {
  wt_server_t *wt = async->data;
  pthread_mutex_lock(&wt->lock);
  wt_call_cb call = wt->call;
  void *arg = wt->call_arg;
  pthread_mutex_unlock(&wt->lock);
  if (!call) return;
  call(wt->server, arg);
  pthread_mutex_lock(&wt->lock);
  wt->call = NULL;
  wt->call_done = true;
  pthread_cond_broadcast(&wt->cond);
  pthread_mutex_unlock(&wt->lock);
}

static inline void *wt_thread(void *arg) {
  wt_server_t *wt = arg;
  uv_run(&wt->loop, UV_RUN_DEFAULT);
  return NULL;
}

/* Starts a server with `config` (listen and log are filled in when NULL)
 * and the routes `setup` adds. */
static inline void wt_start(wt_server_t *wt, cs_web_config_t *config, wt_setup_cb setup, void *ctx) {
  memset(wt, 0, sizeof(*wt));
  REQUIRE(sodium_init() >= 0);
  pthread_mutex_init(&wt->lock, NULL);
  pthread_cond_init(&wt->cond, NULL);
  REQUIRE(uv_loop_init(&wt->loop) == 0);
  if (!config->listen) config->listen = "127.0.0.1:0";
  if (!config->log) {
    config->log = wt_log;
    config->log_ctx = wt;
  }
  REQUIRE(cs_web_server_new(&wt->loop, config, &wt->server) == CS_OK);
  if (setup) setup(wt->server, ctx);
  int rc = cs_web_server_start(wt->server);
  if (rc != CS_OK) fprintf(stderr, "start: %s\n", cs_web_server_reason(wt->server));
  REQUIRE(rc == CS_OK);
  wt->port = cs_web_server_port(wt->server);
  uv_async_init(&wt->loop, &wt->stop_async, wt_on_stop);
  wt->stop_async.data = wt;
  uv_async_init(&wt->loop, &wt->call_async, wt_on_call);
  wt->call_async.data = wt;
  REQUIRE(pthread_create(&wt->thread, NULL, wt_thread, wt) == 0);
}

/* Runs `call` on the server's loop and waits for it. */
static inline void wt_call(wt_server_t *wt, wt_call_cb call, void *arg) {
  pthread_mutex_lock(&wt->lock);
  wt->call = call;
  wt->call_arg = arg;
  wt->call_done = false;
  pthread_mutex_unlock(&wt->lock);
  uv_async_send(&wt->call_async);
  pthread_mutex_lock(&wt->lock);
  while (!wt->call_done) pthread_cond_wait(&wt->cond, &wt->lock);
  pthread_mutex_unlock(&wt->lock);
}

static inline void wt_stats_call(cs_web_server_t *server, void *arg) { cs_web_server_stats(server, arg); }

static inline cs_web_stats_t wt_stats(wt_server_t *wt) {
  cs_web_stats_t stats;
  wt_call(wt, wt_stats_call, &stats);
  return stats;
}

/* Stops the server; every connection and handler must be done. */
static inline void wt_stop(wt_server_t *wt) {
  uv_async_send(&wt->stop_async);
  pthread_join(wt->thread, NULL);
  uv_run(&wt->loop, UV_RUN_DEFAULT);
  REQUIRE(uv_loop_close(&wt->loop) == 0);
  cs_web_server_free(wt->server);
  for (int i = 0; i < wt->log_count; i++) free(wt->log[i]);
  pthread_mutex_destroy(&wt->lock);
  pthread_cond_destroy(&wt->cond);
}

/* ---- The client. ---------------------------------------------------------- */

typedef struct wt_client_s {
  int fd;
  char buf[1 << 18];
  size_t len;
} wt_client_t;

typedef struct wt_response_s {
  int status;
  char head[8192];
  char *body;
  size_t body_len;
} wt_response_t;

/* Connects from `source` (NULL: any loopback address) to 127.0.0.1:port. */
static inline wt_client_t *wt_connect_from(int port, const char *source) {
  wt_client_t *c = calloc(1, sizeof(*c));
  REQUIRE(c);
  c->fd = socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(c->fd >= 0);
  if (source) {
    struct sockaddr_in from = {.sin_family = AF_INET};
    inet_pton(AF_INET, source, &from.sin_addr);
    REQUIRE(bind(c->fd, (struct sockaddr *)&from, sizeof(from)) == 0);
  }
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  REQUIRE(connect(c->fd, (struct sockaddr *)&addr, sizeof(addr)) == 0);
  int one = 1;
  setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  return c;
}

static inline wt_client_t *wt_connect(int port) { return wt_connect_from(port, NULL); }

static inline void wt_close(wt_client_t *c) {
  close(c->fd);
  free(c);
}

static inline void wt_send(wt_client_t *c, const void *data, size_t len) {
  const char *p = data;
  while (len > 0) {
    ssize_t n = send(c->fd, p, len, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return; /* the server closed: the next read tells */
    p += n;
    len -= (size_t)n;
  }
}

static inline void wt_sendf(wt_client_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static inline void wt_sendf(wt_client_t *c, const char *fmt, ...) {
  char text[16384];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(text, sizeof(text), fmt, ap);
  va_end(ap);
  REQUIRE(n > 0 && (size_t)n < sizeof(text));
  wt_send(c, text, (size_t)n);
}

/* Reads more into the buffer; false at EOF, on error or after WT_WAIT_MS. */
static inline bool wt_fill(wt_client_t *c) {
  if (c->len == sizeof(c->buf)) return false;
  struct pollfd p = {.fd = c->fd, .events = POLLIN};
  if (poll(&p, 1, WT_WAIT_MS) <= 0) return false;
  ssize_t n = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, 0);
  if (getenv("WT_VERBOSE")) fprintf(stderr, "  recv %zd (errno %d)\n", n, n < 0 ? errno : 0);
  if (n <= 0) return false;
  c->len += (size_t)n;
  return true;
}

static inline char *wt_find(char *hay, size_t len, const char *needle) {
  size_t n = strlen(needle);
  for (size_t i = 0; i + n <= len; i++)
    if (memcmp(hay + i, needle, n) == 0) return hay + i;
  return NULL;
}

/* True when `text` holds `lower` (lowercase) in any case. */
static inline bool wt_has_ci(const char *text, const char *lower) {
  size_t n = strlen(lower);
  for (const char *p = text; *p; p++)
    if (strncasecmp(p, lower, n) == 0) return true;
  return false;
}

static inline void wt_consume(wt_client_t *c, size_t n) {
  memmove(c->buf, c->buf + n, c->len - n);
  c->len -= n;
}

/* The value of a response header, copied into a static buffer; NULL when absent. */
static inline const char *wt_header(const wt_response_t *r, const char *name) {
  static char value[4096];
  size_t name_len = strlen(name);
  const char *p = strstr(r->head, "\r\n");
  while (p && p[2]) {
    p += 2;
    if (strncasecmp(p, name, name_len) == 0 && p[name_len] == ':') {
      const char *v = p + name_len + 1;
      while (*v == ' ') v++;
      const char *end = strstr(v, "\r\n");
      size_t len = end ? (size_t)(end - v) : strlen(v);
      if (len >= sizeof(value)) len = sizeof(value) - 1;
      memcpy(value, v, len);
      value[len] = '\0';
      return value;
    }
    p = strstr(p, "\r\n");
  }
  return NULL;
}

static inline void wt_response_free(wt_response_t *r) {
  free(r->body);
  r->body = NULL;
}

/* Reads one response (a HEAD's has no body: pass `head`). False when the
 * connection ends first. */
static inline bool wt_read_response_head(wt_client_t *c, wt_response_t *r, bool head) {
  memset(r, 0, sizeof(*r));
  char *end;
  for (;;) {
    end = wt_find(c->buf, c->len, "\r\n\r\n");
    if (end) break;
    if (!wt_fill(c)) return false;
  }
  size_t head_len = (size_t)(end - c->buf) + 4;
  REQUIRE(head_len < sizeof(r->head));
  memcpy(r->head, c->buf, head_len);
  r->head[head_len] = '\0';
  REQUIRE(sscanf(r->head, "HTTP/1.1 %d", &r->status) == 1);
  wt_consume(c, head_len);
  const char *length = wt_header(r, "Content-Length");
  size_t body_len = length && !head ? strtoul(length, NULL, 10) : 0;
  while (c->len < body_len)
    if (!wt_fill(c)) return false;
  r->body = malloc(body_len + 1);
  REQUIRE(r->body);
  memcpy(r->body, c->buf, body_len);
  r->body[body_len] = '\0';
  r->body_len = body_len;
  wt_consume(c, body_len);
  return true;
}

static inline bool wt_read_response(wt_client_t *c, wt_response_t *r) { return wt_read_response_head(c, r, false); }

/* True when the server closes the connection (after any bytes still due). */
static inline bool wt_closed(wt_client_t *c) {
  for (;;) {
    struct pollfd p = {.fd = c->fd, .events = POLLIN};
    if (poll(&p, 1, WT_WAIT_MS) <= 0) return false;
    char scratch[4096];
    ssize_t n = recv(c->fd, scratch, sizeof(scratch), 0);
    if (n == 0 || (n < 0 && errno == ECONNRESET)) return true;
    if (n < 0) return false;
  }
}

/* One request on a new connection; returns the status (0 when none came). */
static inline int wt_status_of(int port, const char *request) {
  wt_client_t *c = wt_connect(port);
  wt_send(c, request, strlen(request));
  wt_response_t r;
  int status = wt_read_response(c, &r) ? r.status : 0;
  wt_response_free(&r);
  wt_close(c);
  return status;
}

/* A session: mints a login token in `login_dir`, redeems it, and reads
 * the session cookie ("clubsync-TAG=...") and the CSRF token. */
typedef struct wt_session_s {
  char cookie[160];
  char csrf[CS_WEB_SECRET_HEX + 1];
} wt_session_t;

static inline void wt_login(wt_server_t *wt, const char *login_dir, wt_session_t *s) {
  char token[CS_WEB_SECRET_HEX + 1];
  REQUIRE(cs_web_login_token_mint(login_dir, (uint64_t)time(NULL), token) == CS_OK);
  wt_client_t *c = wt_connect(wt->port);
  wt_sendf(c, "GET /login?token=%s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n", token, wt->port);
  wt_response_t r;
  REQUIRE(wt_read_response(c, &r) && r.status == 303);
  const char *set = wt_header(&r, "Set-Cookie");
  REQUIRE(set);
  size_t len = strcspn(set, ";");
  REQUIRE(len < sizeof(s->cookie));
  memcpy(s->cookie, set, len);
  s->cookie[len] = '\0';
  wt_response_free(&r);
  wt_sendf(c, "GET /api/session HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nCookie: %s\r\n\r\n", wt->port, s->cookie);
  REQUIRE(wt_read_response(c, &r) && r.status == 200);
  const char *at = strstr(r.body, "\"csrf_token\":\"");
  REQUIRE(at);
  memcpy(s->csrf, at + 14, CS_WEB_SECRET_HEX);
  s->csrf[CS_WEB_SECRET_HEX] = '\0';
  wt_response_free(&r);
  wt_close(c);
}

/* A fresh directory under TMPDIR; removed with wt_rmdir. */
static inline void wt_tempdir(char *out, size_t len, const char *name) {
  const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
  snprintf(out, len, "%s/cs-web-%s-XXXXXX", tmp, name);
  REQUIRE(mkdtemp(out) != NULL);
}

static inline void wt_rmdir(const char *dir) {
  char cmd[4200];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
  REQUIRE(system(cmd) == 0);
}

/* Checks that a request logged exactly one line, holding `text`. */
#define CHECK_ONE_LOG_LINE(wt, before, text)                                       \
  do {                                                                             \
    CHECK(wt_log_count(wt) == (before) + 1);                                       \
    CHECK(wt_logged((wt), (before), (text)));                                      \
  } while (0)

#endif
