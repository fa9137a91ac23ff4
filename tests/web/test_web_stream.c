/* Server-Sent Events and streamed uploads: events reach the open streams
 * of their channel and no other, streams are bounded in count and in what
 * each may hold queued; an upload streams to a file under its bound, a
 * refused or cut one leaves no file, and an upload far larger than any
 * in-memory body gets through. */
#include "tests/web/web_testlib.h"

#include <dirent.h>
#include <sys/stat.h>

static char upload_dir[300];

static int files_in(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return -1;
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) n += e->d_name[0] != '.';
  closedir(d);
  return n;
}

static void events(cs_web_request_t *req, void *ctx) {
  (void)ctx;
  char channel[40];
  if (!cs_web_query_param(req, "channel", channel, sizeof(channel))) snprintf(channel, sizeof(channel), "changes");
  cs_web_sse_start(req, channel);
}

/* Checks the uploaded file holds the pattern the test sends, then removes it. */
static void uploaded(cs_web_request_t *req, void *ctx) {
  (void)ctx;
  uint64_t size = 0;
  const char *path = cs_web_upload_path(req, &size);
  struct stat st;
  bool ok = path && stat(path, &st) == 0 && (uint64_t)st.st_size == size && (st.st_mode & 0777) == 0600;
  FILE *f = path ? fopen(path, "rb") : NULL;
  for (uint64_t i = 0; f && ok && i < size; i++) ok = fgetc(f) == (int)('A' + i % 23);
  if (f) fclose(f);
  if (path) unlink(path);
  char body[96];
  int n = snprintf(body, sizeof(body), "{\"size\":%llu,\"intact\":%s}", (unsigned long long)size,
                   ok ? "true" : "false");
  cs_web_respond(req, 200, "application/json", body, (size_t)n);
}

#define UPLOAD_MAX (3u * 1024u * 1024u)

static void setup(cs_web_server_t *server, void *ctx) {
  (void)ctx;
  REQUIRE(cs_web_route(server, CS_WEB_GET, "/api/events", 0, 0, events, NULL) == CS_OK);
  REQUIRE(cs_web_route_upload(server, "/api/bundles", upload_dir, UPLOAD_MAX, uploaded, NULL) == CS_OK);
}

typedef struct publish_s {
  const char *channel, *event, *data;
  int sent;
} publish_t;

static void publish_call(cs_web_server_t *server, void *arg) {
  publish_t *p = arg;
  p->sent = cs_web_sse_publish(server, p->channel, p->event, p->data);
}

static int publish(wt_server_t *wt, const char *channel, const char *event, const char *data) {
  publish_t p = {channel, event, data, 0};
  wt_call(wt, publish_call, &p);
  return p.sent;
}

static wt_client_t *open_stream(wt_server_t *wt, const wt_session_t *s, const char *channel, int *status) {
  wt_client_t *c = wt_connect(wt->port);
  wt_sendf(c, "GET /api/events?channel=%s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nCookie: %s\r\n\r\n", channel, wt->port,
           s->cookie);
  /* The stream's head has no length: read it alone. */
  while (!wt_find(c->buf, c->len, "\r\n\r\n"))
    if (!wt_fill(c)) break;
  *status = 0;
  sscanf(c->buf, "HTTP/1.1 %d", status);
  return c;
}

/* Reads until `text` arrived on the stream. */
static bool stream_has(wt_client_t *c, const char *text) {
  while (!wt_find(c->buf, c->len, text))
    if (!wt_fill(c)) return false;
  return true;
}

static void test_sse(wt_server_t *wt, const wt_session_t *s) {
  int status;
  wt_client_t *a = open_stream(wt, s, "changes", &status);
  CHECK(status == 200);
  CHECK(wt_find(a->buf, a->len, "Content-Type: text/event-stream") != NULL);
  CHECK(wt_find(a->buf, a->len, "Content-Security-Policy: default-src 'self'") != NULL);
  CHECK(stream_has(a, "retry: 3000\n\n"));
  wt_client_t *b = open_stream(wt, s, "changes", &status);
  CHECK(status == 200 && stream_has(b, "retry: 3000\n\n"));
  wt_client_t *other = open_stream(wt, s, "other", &status);
  CHECK(status == 200 && stream_has(other, "retry: 3000\n\n"));
  size_t other_len = other->len;
  CHECK(wt_stats(wt).streams == 3);

  CHECK(publish(wt, "changes", "change", "{\"kind\":\"request\"}") == 2);
  CHECK(stream_has(a, "event: change\ndata: {\"kind\":\"request\"}\n\n"));
  CHECK(stream_has(b, "event: change\ndata: {\"kind\":\"request\"}\n\n"));
  /* Lines of data become data lines; no line can forge a field. */
  CHECK(publish(wt, "changes", NULL, "one\nevent: forged\r\ntwo") == 2);
  CHECK(stream_has(a, "data: one\ndata: event: forged\ndata: two\n\n"));
  CHECK(publish(wt, "changes", "bad\nname", "x") == -1);
  /* The other channel got nothing. */
  CHECK(publish(wt, "none", "change", "x") == 0);
  usleep(20000);
  struct pollfd p = {.fd = other->fd, .events = POLLIN};
  CHECK(poll(&p, 1, 0) == 0 && other->len == other_len);

  /* A closed stream is forgotten. */
  wt_close(b);
  for (int i = 0; i < 1000 && wt_stats(wt).streams != 2; i++) usleep(5000);
  CHECK(wt_stats(wt).streams == 2);
  CHECK(publish(wt, "changes", "change", "after") == 1);
  CHECK(stream_has(a, "data: after\n\n"));

  /* At most CS_WEB_SSE_STREAMS_MAX streams. */
  wt_client_t *more[CS_WEB_SSE_STREAMS_MAX];
  int opened = 0;
  for (int i = 2; i < CS_WEB_SSE_STREAMS_MAX; i++) {
    more[opened] = open_stream(wt, s, "changes", &status);
    CHECK(status == 200);
    opened++;
  }
  int before = wt_log_count(wt);
  wt_client_t *extra = open_stream(wt, s, "changes", &status);
  CHECK(status == 503);
  wt_close(extra);
  CHECK_ONE_LOG_LINE(wt, before, "event streams are open already");
  for (int i = 0; i < opened; i++) wt_close(more[i]);
  wt_close(other);

  /* A stream whose client reads nothing is closed once its queue is full;
   * the others still get their events. */
  wt_client_t *stuck = wt_connect(wt->port);
  int small = 4096;
  setsockopt(stuck->fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
  wt_sendf(stuck, "GET /api/events?channel=flood HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nCookie: %s\r\n\r\n", wt->port, s->cookie);
  for (int i = 0; i < 1000 && wt_stats(wt).streams != 2; i++) usleep(5000);
  CHECK(wt_stats(wt).streams == 2);
  char *big = malloc(CS_WEB_SSE_EVENT_MAX + 2);
  REQUIRE(big);
  memset(big, 'z', CS_WEB_SSE_EVENT_MAX - 1);
  big[CS_WEB_SSE_EVENT_MAX - 1] = '\0';
  before = wt_log_count(wt);
  int rounds = 0;
  while (rounds < 2000 && wt_stats(wt).streams == 2) {
    publish(wt, "flood", "big", big);
    rounds++;
  }
  CHECK(wt_stats(wt).streams == 1);
  CHECK(wt_logged(wt, before, "event stream closed"));
  CHECK(publish(wt, "changes", "change", "still here") == 1);
  CHECK(stream_has(a, "data: still here\n\n"));
  /* An event larger than CS_WEB_SSE_EVENT_MAX is refused. */
  memset(big, 'x', CS_WEB_SSE_EVENT_MAX + 1);
  big[CS_WEB_SSE_EVENT_MAX + 1] = '\0';
  CHECK(publish(wt, "changes", "big", big) == -1);
  free(big);
  wt_close(stuck);
  wt_close(a);
}

static void send_upload_head(wt_client_t *c, int port, const wt_session_t *s, const char *length_header) {
  wt_sendf(c,
           "POST /api/bundles HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nOrigin: http://127.0.0.1:%d\r\nCookie: %s\r\n"
           "X-CSRF-Token: %s\r\nContent-Type: application/octet-stream\r\n%s\r\n\r\n",
           port, port, s->cookie, s->csrf, length_header);
}

static void send_pattern(wt_client_t *c, size_t total, bool chunked) {
  char piece[8192];
  for (size_t sent = 0; sent < total;) {
    size_t n = total - sent < sizeof(piece) ? total - sent : sizeof(piece);
    for (size_t i = 0; i < n; i++) piece[i] = (char)('A' + (sent + i) % 23);
    if (chunked) wt_sendf(c, "%zx\r\n", n);
    wt_send(c, piece, n);
    if (chunked) wt_sendf(c, "\r\n");
    sent += n;
  }
  if (chunked) wt_sendf(c, "0\r\n\r\n");
}

static void test_upload(wt_server_t *wt, const wt_session_t *s) {
  /* 2 MiB, far past CS_WEB_BODY_MAX: streamed to a file, never held whole. */
  size_t size = 2u * 1024u * 1024u;
  char length[64];
  snprintf(length, sizeof(length), "Content-Length: %zu", size);
  wt_client_t *c = wt_connect(wt->port);
  send_upload_head(c, wt->port, s, length);
  send_pattern(c, size, false);
  wt_response_t r;
  REQUIRE(wt_read_response(c, &r));
  CHECK(r.status == 200);
  CHECK(strstr(r.body, "\"size\":2097152") && strstr(r.body, "\"intact\":true"));
  wt_response_free(&r);
  /* Chunked, on the same connection. */
  send_upload_head(c, wt->port, s, "Transfer-Encoding: chunked");
  send_pattern(c, 100000, true);
  REQUIRE(wt_read_response(c, &r));
  CHECK(r.status == 200 && strstr(r.body, "\"size\":100000") && strstr(r.body, "\"intact\":true"));
  wt_response_free(&r);
  wt_close(c);
  CHECK(files_in(upload_dir) == 0);

  /* Announced past the bound: 413 before a byte of it is read, no file. */
  int before = wt_log_count(wt);
  snprintf(length, sizeof(length), "Content-Length: %u", UPLOAD_MAX + 1);
  c = wt_connect(wt->port);
  send_upload_head(c, wt->port, s, length);
  REQUIRE(wt_read_response(c, &r));
  CHECK(r.status == 413);
  wt_response_free(&r);
  CHECK(wt_closed(c));
  wt_close(c);
  CHECK_ONE_LOG_LINE(wt, before, "413");
  CHECK(files_in(upload_dir) == 0);

  /* Chunked past the bound: 413 once it passes, and the partial file goes. */
  before = wt_log_count(wt);
  c = wt_connect(wt->port);
  send_upload_head(c, wt->port, s, "Transfer-Encoding: chunked");
  send_pattern(c, UPLOAD_MAX + 65536, true);
  REQUIRE(wt_read_response(c, &r));
  CHECK(r.status == 413);
  wt_response_free(&r);
  CHECK(wt_closed(c));
  wt_close(c);
  CHECK_ONE_LOG_LINE(wt, before, "the upload is over 3145728 bytes");
  CHECK(files_in(upload_dir) == 0);

  /* Cut off halfway: the file goes too. */
  snprintf(length, sizeof(length), "Content-Length: %zu", size);
  c = wt_connect(wt->port);
  send_upload_head(c, wt->port, s, length);
  send_pattern(c, size / 2, false);
  for (int i = 0; i < 1000 && files_in(upload_dir) != 1; i++) usleep(5000);
  CHECK(files_in(upload_dir) == 1);
  wt_close(c);
  for (int i = 0; i < 1000 && files_in(upload_dir) != 0; i++) usleep(5000);
  CHECK(files_in(upload_dir) == 0);

  /* Without a session or CSRF token: refused before any file exists. */
  c = wt_connect(wt->port);
  wt_sendf(c,
           "POST /api/bundles HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nOrigin: http://127.0.0.1:%d\r\n"
           "Content-Length: 10\r\n\r\n0123456789",
           wt->port, wt->port);
  REQUIRE(wt_read_response(c, &r));
  CHECK(r.status == 401);
  wt_response_free(&r);
  wt_close(c);
  c = wt_connect(wt->port);
  wt_sendf(c,
           "POST /api/bundles HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nOrigin: http://127.0.0.1:%d\r\nCookie: %s\r\n"
           "Content-Length: 10\r\n\r\n0123456789",
           wt->port, wt->port, s->cookie);
  REQUIRE(wt_read_response(c, &r));
  CHECK(r.status == 403);
  wt_response_free(&r);
  wt_close(c);
  CHECK(files_in(upload_dir) == 0);
}

int main(void) {
  char dir[256];
  wt_tempdir(dir, sizeof(dir), "stream");
  char login_dir[300];
  snprintf(login_dir, sizeof(login_dir), "%s/ui-login", dir);
  snprintf(upload_dir, sizeof(upload_dir), "%s/uploads", dir);
  REQUIRE(mkdir(upload_dir, 0700) == 0);
  wt_server_t wt;
  cs_web_config_t config = {.node_tag = "feedf00d", .login_dir = login_dir};
  wt_start(&wt, &config, setup, NULL);
  wt_session_t s;
  wt_login(&wt, login_dir, &s);
  test_sse(&wt, &s);
  test_upload(&wt, &s);
  wt_stop(&wt);
  wt_rmdir(dir);
  if (wt_failures) {
    fprintf(stderr, "%d checks failed\n", wt_failures);
    return 1;
  }
  printf("web stream: all checks passed\n");
  return 0;
}
