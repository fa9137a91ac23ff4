/* Fuzzes the web server's request handling (tools/web/): llhttp's strict
 * parsing, the limits, the Host, Origin, session and CSRF checks, routing,
 * assets, uploads, event streams and asynchronous answers, on a connection
 * without a socket (cs_web__fake_open) of a server bound to 127.0.0.1:0.
 *
 * The input is what a client sends on one connection:
 *
 * | BYTES | WHAT                                                          |
 * |-------|---------------------------------------------------------------|
 * | 1     | piece size: the rest is fed in pieces of (byte % 64) + 1 bytes,|
 * |       | 0 feeds it whole; then the client closes its side             |
 * | rest  | the bytes, where 0x01 followed by H, O, C or T stands for this |
 * |       | server's Host ("127.0.0.1:PORT"), Origin ("http://" + Host),  |
 * |       | a valid session cookie or that session's CSRF token           |
 *
 * The sessions and the rate limiter are reset before each input, so an
 * input's outcome does not depend on the inputs before it.
 *
 * Properties:
 *   - no crash, leak, or read outside the input (the sanitizers);
 *   - every answer is a well-formed HTTP/1.1 response whose head carries
 *     the security headers (CS_WEB_SECURITY_HEADERS) and no CORS header,
 *     whose Content-Length matches the bytes that follow (event streams
 *     aside), and a request's answers come one after another, whole;
 *   - once the client has closed and the loop has run, the connection is
 *     gone, and no upload file is left behind. */
#include "tests/fuzz/fuzz_common.h"

#include <dirent.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tools/web/web_int.h"

typedef struct out_s {
  char *data;
  size_t len, cap;
} out_t;

static uv_loop_t loop;
static cs_web_server_t *server;
static char home[256], login_dir[300], upload_dir[300];
static char host[64], origin[80], cookie[160], csrf[CS_WEB_SECRET_HEX + 1];
static cs_web__session_t sessions[CS_WEB_SESSIONS_MAX];

static void out_append(void *ctx, const char *data, size_t len) {
  out_t *out = ctx;
  if (out->len + len > out->cap) {
    size_t cap = out->cap ? out->cap : 4096;
    while (cap < out->len + len) cap *= 2;
    char *grown = realloc(out->data, cap);
    FUZZ_CHECK(grown != NULL);
    out->data = grown;
    out->cap = cap;
  }
  memcpy(out->data + out->len, data, len);
  out->len += len;
}

static void hello(cs_web_request_t *req, void *ctx) {
  (void)ctx;
  cs_web_respond(req, 200, "text/plain; charset=utf-8", "hello", 5);
}

static void echo_body(cs_web_request_t *req, void *ctx) {
  (void)ctx;
  size_t len;
  const uint8_t *body = cs_web_body(req, &len);
  char field[64], param[64], cookie_value[80];
  bool a = cs_web_form_param(req, "a", field, sizeof(field));
  bool b = cs_web_query_param(req, "b", param, sizeof(param));
  bool c = cs_web_cookie(req, "k", cookie_value, sizeof(cookie_value));
  FUZZ_CHECK(!a || strlen(field) < sizeof(field));
  FUZZ_CHECK(!b || strlen(param) < sizeof(param));
  FUZZ_CHECK(!c || strlen(cookie_value) < sizeof(cookie_value));
  FUZZ_CHECK(len <= CS_WEB_BODY_MAX);
  cs_web_respond(req, 200, "application/octet-stream", body, len);
}

static void item(cs_web_request_t *req, void *ctx) {
  (void)ctx;
  char id[32];
  if (!cs_web_param(req, "id", id, sizeof(id))) {
    cs_web_respond_error(req, 400, "bad id");
    return;
  }
  FUZZ_CHECK(strchr(id, '/') == NULL);
  cs_web_respond(req, 200, "text/plain; charset=utf-8", id, strlen(id));
}

typedef struct later_s {
  uv_work_t work;
  cs_web_request_t *req;
} later_t;

static void later_work(uv_work_t *work) { (void)work; }

static void later_done(uv_work_t *work, int status) {
  (void)status;
  later_t *later = work->data;
  hello(later->req, NULL);
  free(later);
}

static void async_hello(cs_web_request_t *req, void *ctx) {
  (void)ctx;
  later_t *later = calloc(1, sizeof(*later));
  FUZZ_CHECK(later != NULL);
  later->req = req;
  later->work.data = later;
  FUZZ_CHECK(uv_queue_work(&loop, &later->work, later_work, later_done) == 0);
}

static void events(cs_web_request_t *req, void *ctx) {
  (void)ctx;
  cs_web_sse_start(req, "changes");
}

static void uploaded(cs_web_request_t *req, void *ctx) {
  (void)ctx;
  uint64_t size = 0;
  const char *path = cs_web_upload_path(req, &size);
  FUZZ_CHECK(path != NULL && size <= 1024 * 1024);
  unlink(path);
  cs_web_respond(req, 201, NULL, NULL, 0);
}

static bool fake_pending(const cs_web__conn_t *conn) {
  return conn->state == CONN_HANDLING && !conn->req.answered;
}

/* Sends `request` on a fake connection and returns what came back. */
static void exchange(const char *request, out_t *out) {
  cs_web__conn_t *conn = cs_web__fake_open(server, out_append, out);
  FUZZ_CHECK(conn != NULL);
  FUZZ_CHECK(cs_web__fake_feed(conn, request, strlen(request)) == strlen(request));
  cs_web__fake_eof(conn);
  while (server->conn_count > 0) uv_run(&loop, UV_RUN_NOWAIT);
}

static const char *header_in(const out_t *out, const char *name) {
  out_append((void *)(uintptr_t)out, "", 1);
  ((out_t *)(uintptr_t)out)->len--;
  const char *at = strstr(out->data, name);
  return at ? at + strlen(name) : NULL;
}

static void remove_home(void) {
  const char *dirs[] = {login_dir, upload_dir};
  for (size_t i = 0; i < 2; i++) {
    DIR *d = opendir(dirs[i]);
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
      if (e->d_name[0] == '.' && (!e->d_name[1] || (e->d_name[1] == '.' && !e->d_name[2]))) continue;
      char path[600];
      snprintf(path, sizeof(path), "%s/%s", dirs[i], e->d_name);
      unlink(path);
    }
    if (d) closedir(d);
    rmdir(dirs[i]);
  }
  rmdir(home);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  fuzz_sodium_init();
  const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
  snprintf(home, sizeof(home), "%s/cs-fuzz-http-XXXXXX", tmp);
  FUZZ_CHECK(mkdtemp(home) != NULL);
  snprintf(login_dir, sizeof(login_dir), "%s/ui-login", home);
  snprintf(upload_dir, sizeof(upload_dir), "%s/uploads", home);
  FUZZ_CHECK(mkdir(upload_dir, 0700) == 0);
  atexit(remove_home);
  FUZZ_CHECK(uv_loop_init(&loop) == 0);
  cs_web_config_t config = {.listen = "127.0.0.1:0", .node_tag = "f0220001", .login_dir = login_dir};
  FUZZ_CHECK(cs_web_server_new(&loop, &config, &server) == CS_OK);
  FUZZ_CHECK(cs_web_route(server, CS_WEB_GET, "/hello", CS_WEB_PUBLIC, 0, hello, NULL) == CS_OK);
  FUZZ_CHECK(cs_web_route(server, CS_WEB_GET, "/async", CS_WEB_PUBLIC, 0, async_hello, NULL) == CS_OK);
  FUZZ_CHECK(cs_web_route(server, CS_WEB_POST, "/public", CS_WEB_PUBLIC, 4096, echo_body, NULL) == CS_OK);
  FUZZ_CHECK(cs_web_route(server, CS_WEB_PUT, "/api/echo", 0, CS_WEB_BODY_MAX, echo_body, NULL) == CS_OK);
  FUZZ_CHECK(cs_web_route(server, CS_WEB_POST, "/api/echo", 0, CS_WEB_BODY_MAX, echo_body, NULL) == CS_OK);
  FUZZ_CHECK(cs_web_route(server, CS_WEB_GET, "/api/items/{id}", 0, 0, item, NULL) == CS_OK);
  FUZZ_CHECK(cs_web_route(server, CS_WEB_GET, "/api/events", 0, 0, events, NULL) == CS_OK);
  FUZZ_CHECK(cs_web_route_upload(server, "/api/upload", upload_dir, 1024 * 1024, uploaded, NULL) == CS_OK);
  FUZZ_CHECK(cs_web_mount_assets(server, "/assets/", &cs_web_assets, "login.html") == CS_OK);
  FUZZ_CHECK(cs_web_route_asset(server, "/", CS_WEB_PUBLIC, &cs_web_assets, "login.html") == CS_OK);
  FUZZ_CHECK(cs_web_server_start(server) == CS_OK);
  snprintf(host, sizeof(host), "127.0.0.1:%d", cs_web_server_port(server));
  snprintf(origin, sizeof(origin), "http://%s", host);

  /* One session, as a browser gets it. */
  char token[CS_WEB_SECRET_HEX + 1], request[512];
  FUZZ_CHECK(cs_web_login_token_mint(login_dir, (uint64_t)time(NULL), token) == CS_OK);
  snprintf(request, sizeof(request), "GET /login?token=%s HTTP/1.1\r\nHost: %s\r\n\r\n", token, host);
  out_t out = {0};
  exchange(request, &out);
  const char *set = header_in(&out, "Set-Cookie: ");
  FUZZ_CHECK(set != NULL);
  snprintf(cookie, sizeof(cookie), "%.*s", (int)strcspn(set, ";"), set);
  out.len = 0;
  snprintf(request, sizeof(request), "GET /api/session HTTP/1.1\r\nHost: %s\r\nCookie: %s\r\n\r\n", host, cookie);
  exchange(request, &out);
  const char *at = header_in(&out, "\"csrf_token\":\"");
  FUZZ_CHECK(at != NULL);
  memcpy(csrf, at, CS_WEB_SECRET_HEX);
  free(out.data);
  memcpy(sessions, server->sessions, sizeof(sessions));
  return 0;
}

/* Expands the 0x01 placeholders. */
static char *expand(const uint8_t *data, size_t size, size_t *len) {
  char *text = malloc(size * 80 + 1);
  FUZZ_CHECK(text != NULL);
  size_t n = 0;
  for (size_t i = 0; i < size; i++) {
    const char *with = NULL;
    if (data[i] == 0x01 && i + 1 < size) {
      switch (data[i + 1]) {
      case 'H': with = host; break;
      case 'O': with = origin; break;
      case 'C': with = cookie; break;
      case 'T': with = csrf; break;
      default: break;
      }
    }
    if (with) {
      size_t w = strlen(with);
      memcpy(text + n, with, w);
      n += w;
      i++;
    } else {
      text[n++] = (char)data[i];
    }
  }
  *len = n;
  return text;
}

static size_t find(const char *hay, size_t len, const char *needle) {
  size_t n = strlen(needle);
  for (size_t i = 0; i + n <= len; i++)
    if (memcmp(hay + i, needle, n) == 0) return i;
  return SIZE_MAX;
}

static bool starts_answer(const out_t *out, size_t at) {
  return at == out->len || (out->len - at >= 9 && memcmp(out->data + at, "HTTP/1.1 ", 9) == 0);
}

/* Checks the answers, one after another. */
static void check_output(const out_t *out) {
  size_t pos = 0;
  while (pos < out->len) {
    const char *head = out->data + pos;
    size_t left = out->len - pos;
    FUZZ_CHECK(left >= 13 && memcmp(head, "HTTP/1.1 ", 9) == 0);
    int status = (head[9] - '0') * 100 + (head[10] - '0') * 10 + (head[11] - '0');
    FUZZ_CHECK(status >= 100 && status <= 599);
    size_t end = find(head, left, "\r\n\r\n");
    FUZZ_CHECK(end != SIZE_MAX);
    size_t head_len = end + 4;
    if (status == 100) {
      pos += head_len;
      continue;
    }
    FUZZ_CHECK(find(head, head_len, CS_WEB_SECURITY_HEADERS) != SIZE_MAX);
    FUZZ_CHECK(find(head, head_len, "Access-Control-") == SIZE_MAX);
    if (find(head, head_len, "Content-Type: text/event-stream\r\n") != SIZE_MAX) return; /* a stream to the end */
    size_t length_at = find(head, head_len, "\r\nContent-Length: ");
    size_t body = 0;
    if (length_at != SIZE_MAX) body = strtoul(head + length_at + 18, NULL, 10);
    FUZZ_CHECK(length_at != SIZE_MAX || status == 204 || status == 304);
    /* A HEAD's answer carries the length of a body it does not send: the
     * next answer starts either after the body or right after the head. */
    size_t after_body = pos + head_len + body, after_head = pos + head_len;
    if (body <= left - head_len && starts_answer(out, after_body)) {
      pos = after_body;
    } else {
      FUZZ_CHECK(starts_answer(out, after_head));
      pos = after_head;
    }
  }
}

static bool uploads_empty(void) {
  DIR *d = opendir(upload_dir);
  FUZZ_CHECK(d != NULL);
  struct dirent *e;
  bool empty = true;
  while ((e = readdir(d)) != NULL) empty &= e->d_name[0] == '.';
  closedir(d);
  return empty;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!server) LLVMFuzzerInitialize(NULL, NULL);
  if (size < 1) return 0;
  memcpy(server->sessions, sessions, sizeof(sessions));
  memset(server->clients, 0, sizeof(server->clients));
  size_t piece = data[0] ? (size_t)(data[0] % 64) + 1 : SIZE_MAX;
  size_t len;
  char *text = expand(data + 1, size - 1, &len);
  out_t out = {0};
  cs_web__conn_t *conn = cs_web__fake_open(server, out_append, &out);
  FUZZ_CHECK(conn != NULL);
  size_t pos = 0;
  int stalls = 0;
  /* The harness has one connection at a time: it is alive while listed. */
#define ALIVE (server->conns == conn && !conn->closing)
  while (pos < len && ALIVE && stalls < 1000) {
    size_t n = len - pos < piece ? len - pos : piece;
    size_t took = cs_web__fake_feed(conn, text + pos, n);
    pos += took;
    if (took == 0) {
      /* Not reading: an answer is pending (a handler in the thread pool). */
      uv_run(&loop, fake_pending(conn) ? UV_RUN_ONCE : UV_RUN_NOWAIT);
      stalls++;
    }
  }
  while (ALIVE && fake_pending(conn)) uv_run(&loop, UV_RUN_ONCE);
  if (ALIVE) cs_web__fake_eof(conn);
#undef ALIVE
  /* An answer still pending after the client closed is written and dropped. */
  while (server->conn_count > 0) {
    uv_run(&loop, UV_RUN_ONCE);
    for (cs_web__conn_t *c = server->conns; c; c = c->next)
      if (!fake_pending(c) && !c->closing) cs_web__conn_close(c);
  }
  if (getenv("FUZZ_HTTP_VERBOSE")) fprintf(stderr, "%.*s\n----\n", (int)(out.len < 3000 ? out.len : 3000), out.data);
  check_output(&out);
  FUZZ_CHECK(uploads_empty());
  free(out.data);
  free(text);
  return 0;
}
