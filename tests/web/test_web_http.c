/* The web server's HTTP/1.1 handling over real TCP: keep-alive, pipelined
 * requests answered in order (an asynchronous handler among them), the
 * security headers, the limits on headers and bodies, slow clients,
 * malformed input, path traversal, the Host and Origin checks, the write
 * queue's backpressure and the connection cap. Each refusal gets its
 * status and one log line, and the server keeps serving. */
#include "tests/web/web_testlib.h"

static const char *login_dir;

static void hello(cs_web_request_t *req, void *ctx) {
  (void)ctx;
  cs_web_respond(req, 200, "text/plain; charset=utf-8", "hello", 5);
}

static void echo(cs_web_request_t *req, void *ctx) {
  (void)ctx;
  char n[64], body[80];
  if (!cs_web_query_param(req, "n", n, sizeof(n))) snprintf(n, sizeof(n), "-");
  int len = snprintf(body, sizeof(body), "n=%s", n);
  cs_web_respond(req, 200, "text/plain; charset=utf-8", body, (size_t)len);
}

/* Answers after a round trip through the thread pool. */
typedef struct later_s {
  uv_work_t work;
  cs_web_request_t *req;
} later_t;

static void later_work(uv_work_t *work) { (void)work; }

static void later_done(uv_work_t *work, int status) {
  (void)status;
  later_t *later = work->data;
  echo(later->req, NULL);
  free(later);
}

static void async_echo(cs_web_request_t *req, void *ctx) {
  (void)ctx;
  later_t *later = calloc(1, sizeof(*later));
  REQUIRE(later);
  later->req = req;
  later->work.data = later;
  REQUIRE(uv_queue_work(cs_web_server_loop(cs_web_request_server(req)), &later->work, later_work, later_done) == 0);
}

static char big_body[200 * 1024];

static void big(cs_web_request_t *req, void *ctx) {
  (void)ctx;
  cs_web_respond_static(req, 200, "application/octet-stream", big_body, sizeof(big_body));
}

/* Larger than the kernel's socket buffers, so part of it waits in the
 * server's write queue. */
#define HUGE_LEN (16u << 20)
static char *huge_body;

/* GET /huge?n=BYTES answers that many bytes (all of HUGE_LEN without n). */
static void huge(cs_web_request_t *req, void *ctx) {
  (void)ctx;
  char n[32];
  size_t len = cs_web_query_param(req, "n", n, sizeof(n)) ? strtoul(n, NULL, 10) : HUGE_LEN;
  if (len > HUGE_LEN) len = HUGE_LEN;
  cs_web_respond_static(req, 200, "application/octet-stream", huge_body, len);
}

static void body_length(cs_web_request_t *req, void *ctx) {
  (void)ctx;
  size_t len;
  const uint8_t *body = cs_web_body(req, &len);
  char text[64];
  int n = snprintf(text, sizeof(text), "{\"length\":%zu,\"first\":%d}", len, len ? body[0] : -1);
  cs_web_respond(req, 200, "application/json", text, (size_t)n);
}

static void item(cs_web_request_t *req, void *ctx) {
  (void)ctx;
  char id[64];
  if (!cs_web_param(req, "id", id, sizeof(id))) {
    cs_web_respond_error(req, 400, "bad id");
    return;
  }
  cs_web_respond(req, 200, "text/plain; charset=utf-8", id, strlen(id));
}

static void setup(cs_web_server_t *server, void *ctx) {
  (void)ctx;
  REQUIRE(cs_web_route(server, CS_WEB_GET, "/hello", CS_WEB_PUBLIC, 0, hello, NULL) == CS_OK);
  REQUIRE(cs_web_route(server, CS_WEB_GET, "/echo", CS_WEB_PUBLIC, 0, echo, NULL) == CS_OK);
  REQUIRE(cs_web_route(server, CS_WEB_GET, "/async", CS_WEB_PUBLIC, 0, async_echo, NULL) == CS_OK);
  REQUIRE(cs_web_route(server, CS_WEB_GET, "/big", CS_WEB_PUBLIC, 0, big, NULL) == CS_OK);
  REQUIRE(cs_web_route(server, CS_WEB_GET, "/huge", CS_WEB_PUBLIC, 0, huge, NULL) == CS_OK);
  REQUIRE(cs_web_route(server, CS_WEB_POST, "/public", CS_WEB_PUBLIC, CS_WEB_BODY_MAX, body_length, NULL) == CS_OK);
  REQUIRE(cs_web_route(server, CS_WEB_POST, "/api/data", 0, CS_WEB_BODY_MAX, body_length, NULL) == CS_OK);
  REQUIRE(cs_web_route(server, CS_WEB_GET, "/items/{id}", CS_WEB_PUBLIC, 0, item, NULL) == CS_OK);
  REQUIRE(cs_web_mount_assets(server, "/assets/", &cs_web_assets, NULL) == CS_OK);
}

/* Every response carries the security headers and no CORS header. */
static void check_security_headers(const wt_response_t *r) {
  const char *csp = wt_header(r, "Content-Security-Policy");
  CHECK(csp && strcmp(csp, CS_WEB_CSP) == 0);
  CHECK(csp && strstr(csp, "default-src 'self'") && !strstr(csp, "unsafe-inline"));
  const char *nosniff = wt_header(r, "X-Content-Type-Options");
  CHECK(nosniff && strcmp(nosniff, "nosniff") == 0);
  const char *referrer = wt_header(r, "Referrer-Policy");
  CHECK(referrer && strcmp(referrer, "no-referrer") == 0);
  const char *frame = wt_header(r, "X-Frame-Options");
  CHECK(frame && strcmp(frame, "DENY") == 0);
  CHECK(!wt_has_ci(r->head, "access-control-"));
}

static void test_keep_alive_and_headers(wt_server_t *wt) {
  wt_client_t *c = wt_connect(wt->port);
  for (int i = 0; i < 3; i++) {
    wt_sendf(c, "GET /hello HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nOrigin: http://evil.example\r\n\r\n", wt->port);
    wt_response_t r;
    REQUIRE(wt_read_response(c, &r));
    CHECK(r.status == 200);
    CHECK(strcmp(r.body, "hello") == 0);
    check_security_headers(&r);
    const char *cache = wt_header(&r, "Cache-Control");
    CHECK(cache && strcmp(cache, "no-store") == 0);
    CHECK(wt_header(&r, "Connection") == NULL);
    wt_response_free(&r);
  }
  /* An error carries them as well. */
  wt_sendf(c, "GET /nowhere HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n", wt->port);
  wt_response_t r;
  REQUIRE(wt_read_response(c, &r));
  CHECK(r.status == 404);
  check_security_headers(&r);
  wt_response_free(&r);
  /* Still open: a fourth request on the same connection. */
  wt_sendf(c, "GET /echo?n=4 HTTP/1.1\r\nHost: localhost:%d\r\n\r\n", wt->port);
  REQUIRE(wt_read_response(c, &r));
  CHECK(r.status == 200 && strcmp(r.body, "n=4") == 0);
  wt_response_free(&r);
  /* HTTP/1.0 without keep-alive: answered, then closed. */
  wt_sendf(c, "GET /hello HTTP/1.0\r\nHost: 127.0.0.1:%d\r\n\r\n", wt->port);
  REQUIRE(wt_read_response(c, &r));
  CHECK(r.status == 200);
  wt_response_free(&r);
  CHECK(wt_closed(c));
  wt_close(c);
}

static void test_pipelining_in_order(wt_server_t *wt) {
  wt_client_t *c = wt_connect(wt->port);
  char batch[4096];
  size_t len = 0;
  /* An asynchronous answer sits between synchronous ones; the order holds. */
  const char *paths[] = {"/echo?n=1", "/async?n=2", "/echo?n=3", "/async?n=4", "/echo?n=5", "/items/x%2By"};
  for (size_t i = 0; i < 6; i++)
    len += (size_t)snprintf(batch + len, sizeof(batch) - len, "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n",
                            paths[i], wt->port);
  wt_send(c, batch, len);
  for (int i = 1; i <= 5; i++) {
    wt_response_t r;
    REQUIRE(wt_read_response(c, &r));
    char want[16];
    snprintf(want, sizeof(want), "n=%d", i);
    CHECK(r.status == 200 && strcmp(r.body, want) == 0);
    wt_response_free(&r);
  }
  wt_response_t r;
  REQUIRE(wt_read_response(c, &r));
  CHECK(r.status == 200 && strcmp(r.body, "x+y") == 0);
  wt_response_free(&r);
  wt_close(c);
}

static void test_head_and_expect(wt_server_t *wt) {
  wt_client_t *c = wt_connect(wt->port);
  wt_sendf(c, "HEAD /hello HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n", wt->port);
  wt_response_t r;
  REQUIRE(wt_read_response_head(c, &r, true));
  CHECK(r.status == 200);
  const char *length = wt_header(&r, "Content-Length");
  CHECK(length && strcmp(length, "5") == 0);
  wt_response_free(&r);
  /* The HEAD sent no body: the next answer starts right away. */
  wt_sendf(c,
           "POST /public HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nOrigin: http://127.0.0.1:%d\r\n"
           "Content-Length: 3\r\nExpect: 100-continue\r\n\r\n",
           wt->port, wt->port);
  REQUIRE(wt_read_response(c, &r));
  CHECK(r.status == 100);
  wt_response_free(&r);
  wt_send(c, "abc", 3);
  REQUIRE(wt_read_response(c, &r));
  CHECK(r.status == 200 && strstr(r.body, "\"length\":3"));
  wt_response_free(&r);
  wt_close(c);
}

/* Sends `request` on a new connection and checks its status, that the
 * server logged one line holding `text`, that it closed the connection
 * when `closes`, and that it still serves. */
static void expect_refusal(wt_server_t *wt, const char *request, size_t len, int status, const char *text,
                           bool closes) {
  int before = wt_log_count(wt);
  wt_client_t *c = wt_connect(wt->port);
  wt_send(c, request, len);
  wt_response_t r;
  bool got = wt_read_response(c, &r);
  CHECK(got);
  if (got) {
    if (r.status != status) fprintf(stderr, "  expected %d, got %d for %.60s\n", status, r.status, request);
    CHECK(r.status == status);
    check_security_headers(&r);
    if (closes) CHECK(wt_header(&r, "Connection") && strcmp(wt_header(&r, "Connection"), "close") == 0);
    wt_response_free(&r);
  }
  if (closes) CHECK(wt_closed(c));
  wt_close(c);
  CHECK_ONE_LOG_LINE(wt, before, text);
  char hello_request[128];
  snprintf(hello_request, sizeof(hello_request), "GET /hello HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n", wt->port);
  CHECK(wt_status_of(wt->port, hello_request) == 200);
}

static void expect_refusal_str(wt_server_t *wt, const char *request, int status, const char *text, bool closes) {
  expect_refusal(wt, request, strlen(request), status, text, closes);
}

static void test_limits(wt_server_t *wt) {
  char *request = malloc(64 * 1024);
  REQUIRE(request);
  /* One header past CS_WEB_HEAD_MAX. */
  int n = snprintf(request, 64 * 1024, "GET /hello HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nX-Big: ", wt->port);
  memset(request + n, 'a', CS_WEB_HEAD_MAX);
  n += CS_WEB_HEAD_MAX;
  n += snprintf(request + n, 64 * 1024 - (size_t)n, "\r\n\r\n");
  expect_refusal(wt, request, (size_t)n, 431, "431", true);
  /* Just under it passes. */
  n = snprintf(request, 64 * 1024, "GET /hello HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nX-Big: ", wt->port);
  size_t used = strlen("/hello") + strlen("Host") + 4 + strlen("127.0.0.1:") + 5 + strlen("X-Big") + 4;
  memset(request + n, 'a', CS_WEB_HEAD_MAX - used - 8);
  n += (int)(CS_WEB_HEAD_MAX - used - 8);
  n += snprintf(request + n, 64 * 1024 - (size_t)n, "\r\n\r\n");
  CHECK(wt_status_of(wt->port, request) == 200);
  /* One header line too many. */
  n = snprintf(request, 64 * 1024, "GET /hello HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n", wt->port);
  for (int i = 0; i < CS_WEB_HEADERS_MAX; i++) n += snprintf(request + n, 64 * 1024 - (size_t)n, "X-%d: v\r\n", i);
  n += snprintf(request + n, 64 * 1024 - (size_t)n, "\r\n");
  expect_refusal(wt, request, (size_t)n, 431, "more than 64 header lines", true);
  /* A body announced past the route's bound: refused before it is read. */
  n = snprintf(request, 64 * 1024,
               "POST /public HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nOrigin: http://127.0.0.1:%d\r\n"
               "Content-Length: %u\r\n\r\n",
               wt->port, wt->port, CS_WEB_BODY_MAX + 1);
  expect_refusal(wt, request, (size_t)n, 413, "413", true);
  /* A chunked body that grows past it. */
  int before = wt_log_count(wt);
  wt_client_t *c = wt_connect(wt->port);
  wt_sendf(c,
           "POST /public HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nOrigin: http://127.0.0.1:%d\r\n"
           "Transfer-Encoding: chunked\r\n\r\n",
           wt->port, wt->port);
  char chunk[0x2800];
  memset(chunk, 'b', sizeof(chunk));
  for (size_t sent = 0; sent <= CS_WEB_BODY_MAX; sent += sizeof(chunk)) {
    wt_sendf(c, "2800\r\n");
    wt_send(c, chunk, sizeof(chunk));
    wt_sendf(c, "\r\n");
  }
  wt_response_t r;
  REQUIRE(wt_read_response(c, &r));
  CHECK(r.status == 413);
  wt_response_free(&r);
  CHECK(wt_closed(c));
  wt_close(c);
  CHECK_ONE_LOG_LINE(wt, before, "body over 65536 bytes");
  /* A body within the bound is read whole. */
  n = snprintf(request, 64 * 1024,
               "POST /public HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nOrigin: http://127.0.0.1:%d\r\n"
               "Content-Length: 40000\r\n\r\n",
               wt->port, wt->port);
  memset(request + n, 'c', 40000);
  c = wt_connect(wt->port);
  wt_send(c, request, (size_t)n + 40000);
  REQUIRE(wt_read_response(c, &r));
  CHECK(r.status == 200 && strstr(r.body, "\"length\":40000"));
  wt_response_free(&r);
  wt_close(c);
  /* A GET route takes no body. */
  snprintf(request, 64 * 1024, "GET /hello HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Length: 3\r\n\r\nabc",
           wt->port);
  expect_refusal_str(wt, request, 413, "413", true);
  free(request);
}

static void test_slow_clients(wt_server_t *wt) {
  /* Headers that never end: 408, then the connection closes. */
  int before = wt_log_count(wt);
  wt_client_t *c = wt_connect(wt->port);
  wt_sendf(c, "GET /hello HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nX-Slow: a", wt->port);
  wt_response_t r;
  REQUIRE(wt_read_response(c, &r));
  CHECK(r.status == 408);
  wt_response_free(&r);
  CHECK(wt_closed(c));
  wt_close(c);
  CHECK_ONE_LOG_LINE(wt, before, "headers did not arrive");
  /* A body that stops arriving. */
  before = wt_log_count(wt);
  c = wt_connect(wt->port);
  wt_sendf(c,
           "POST /public HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nOrigin: http://127.0.0.1:%d\r\n"
           "Content-Length: 100\r\n\r\nonly part",
           wt->port, wt->port);
  REQUIRE(wt_read_response(c, &r));
  CHECK(r.status == 408);
  wt_response_free(&r);
  CHECK(wt_closed(c));
  wt_close(c);
  CHECK_ONE_LOG_LINE(wt, before, "body did not arrive");
  /* An idle keep-alive connection is closed quietly. */
  before = wt_log_count(wt);
  c = wt_connect(wt->port);
  CHECK(wt_closed(c));
  wt_close(c);
  CHECK(wt_log_count(wt) == before);
}

static void test_malformed(wt_server_t *wt) {
  expect_refusal_str(wt, "\x01\x02 garbage\r\n\r\n", 400, "malformed request", true);
  expect_refusal_str(wt, "GET /hello HTTP/9.9\r\n\r\n", 400, "malformed request", true);
  expect_refusal_str(wt, "GET /hello\r\n\r\n", 400, "no Host header", true);
  /* Bare LF line ends and a space before the colon: llhttp's strict mode refuses them. */
  char request[512];
  snprintf(request, sizeof(request), "GET /hello HTTP/1.1\nHost: 127.0.0.1:%d\n\n", wt->port);
  expect_refusal_str(wt, request, 400, "malformed request", true);
  snprintf(request, sizeof(request), "GET /hello HTTP/1.1\r\nHost : 127.0.0.1:%d\r\n\r\n", wt->port);
  expect_refusal_str(wt, request, 400, "whitespace in a header name", false);
  /* Request smuggling: both a length and chunked. */
  snprintf(request, sizeof(request),
           "POST /public HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nOrigin: http://127.0.0.1:%d\r\nContent-Length: 4\r\n"
           "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
           wt->port, wt->port);
  expect_refusal_str(wt, request, 400, "malformed request", true);
  /* An absolute-form target, an unknown method, an upgrade. */
  snprintf(request, sizeof(request), "GET http://127.0.0.1:%d/hello HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n",
           wt->port, wt->port);
  expect_refusal_str(wt, request, 400, "target must be a path", false);
  snprintf(request, sizeof(request), "OPTIONS /hello HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n", wt->port);
  expect_refusal_str(wt, request, 405, "method OPTIONS is not supported", false);
  snprintf(request, sizeof(request),
           "GET /hello HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n", wt->port);
  expect_refusal_str(wt, request, 400, "upgrades are not supported", true);
  /* Pipelined junk: the good request is answered, then the junk refused. */
  int before = wt_log_count(wt);
  wt_client_t *c = wt_connect(wt->port);
  wt_sendf(c, "GET /echo?n=1 HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n\x7f\x7f junk \r\n\r\n", wt->port);
  wt_response_t r;
  REQUIRE(wt_read_response(c, &r));
  CHECK(r.status == 200 && strcmp(r.body, "n=1") == 0);
  wt_response_free(&r);
  REQUIRE(wt_read_response(c, &r));
  CHECK(r.status == 400);
  wt_response_free(&r);
  CHECK(wt_closed(c));
  wt_close(c);
  CHECK_ONE_LOG_LINE(wt, before, "malformed request");
  /* A client that goes away mid-request: one line, no answer. */
  before = wt_log_count(wt);
  c = wt_connect(wt->port);
  wt_sendf(c, "GET /hello HTTP/1.1\r\nHost: 127.0");
  shutdown(c->fd, SHUT_WR);
  CHECK(wt_closed(c));
  wt_close(c);
  CHECK(wt_log_count(wt) == before + 1);
}

static void test_assets_and_traversal(wt_server_t *wt) {
  wt_client_t *c = wt_connect(wt->port);
  wt_sendf(c, "GET /assets/base.css HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n", wt->port);
  wt_response_t r;
  REQUIRE(wt_read_response(c, &r));
  CHECK(r.status == 200);
  CHECK(wt_header(&r, "Content-Type") && strcmp(wt_header(&r, "Content-Type"), "text/css; charset=utf-8") == 0);
  CHECK(wt_header(&r, "Cache-Control") && strcmp(wt_header(&r, "Cache-Control"), "no-cache") == 0);
  char etag[64];
  REQUIRE(wt_header(&r, "ETag"));
  snprintf(etag, sizeof(etag), "%s", wt_header(&r, "ETag"));
  CHECK(strlen(etag) == 18 && etag[0] == '"');
  CHECK(strstr(r.body, ":focus-visible") != NULL);
  wt_response_free(&r);
  wt_sendf(c, "GET /assets/base.css HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nIf-None-Match: %s\r\n\r\n", wt->port, etag);
  REQUIRE(wt_read_response(c, &r));
  CHECK(r.status == 304 && r.body_len == 0);
  wt_response_free(&r);
  wt_sendf(c, "GET /assets/http.js HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n", wt->port);
  REQUIRE(wt_read_response(c, &r));
  CHECK(r.status == 200);
  CHECK(wt_header(&r, "Content-Type") &&
        strcmp(wt_header(&r, "Content-Type"), "text/javascript; charset=utf-8") == 0);
  wt_response_free(&r);
  wt_close(c);
  const char *attempts[] = {
    "/assets/../web.h",        "/assets/..%2fserver.c",    "/assets/%2e%2e/%2e%2e/etc/passwd",
    "/assets//etc/passwd",     "/assets/./base.css",       "/assets/base.css%00.png",
    "/assets/base.css/",       "/assets/%2Fetc%2Fpasswd",  "/assets/..\\..\\web.h",
    "/assets/BASE.CSS",        "/assets/",                 "/assets/base.css/..",
  };
  for (size_t i = 0; i < sizeof(attempts) / sizeof(attempts[0]); i++) {
    char request[256];
    snprintf(request, sizeof(request), "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n", attempts[i], wt->port);
    expect_refusal_str(wt, request, 404, "404", false);
  }
}

static void test_host_and_origin(wt_server_t *wt) {
  char request[512];
  const char *good_hosts[] = {"127.0.0.1", "localhost", "LOCALHOST", "[::1]"};
  for (size_t i = 0; i < 4; i++) {
    snprintf(request, sizeof(request), "GET /hello HTTP/1.1\r\nHost: %s:%d\r\n\r\n", good_hosts[i], wt->port);
    CHECK(wt_status_of(wt->port, request) == 200);
  }
  /* DNS rebinding: another name, another port, no port, another address. */
  const char *bad_hosts[] = {"evil.example:%d", "127.0.0.1:1%d", "127.0.0.1", "127.0.0.2:%d", "localhost.:%d",
                             "0.0.0.0:%d"};
  for (size_t i = 0; i < sizeof(bad_hosts) / sizeof(bad_hosts[0]); i++) {
    char host[64];
    snprintf(host, sizeof(host), bad_hosts[i], wt->port);
    snprintf(request, sizeof(request), "GET /hello HTTP/1.1\r\nHost: %s\r\n\r\n", host);
    expect_refusal_str(wt, request, 403, "DNS rebinding", false);
  }
  expect_refusal_str(wt, "GET /hello HTTP/1.1\r\n\r\n", 400, "no Host header", false);
  snprintf(request, sizeof(request), "GET /hello HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nHost: evil.example\r\n\r\n",
           wt->port);
  expect_refusal_str(wt, request, 400, "more than one Host", false);
  /* A POST without an Origin, with another site's, with "null", with two. */
  snprintf(request, sizeof(request), "POST /public HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Length: 0\r\n\r\n",
           wt->port);
  expect_refusal_str(wt, request, 403, "without an Origin", false);
  const char *bad_origins[] = {"http://evil.example", "null", "http://127.0.0.1:1", "http://localhost:%d",
                               "file://"};
  for (size_t i = 0; i < sizeof(bad_origins) / sizeof(bad_origins[0]); i++) {
    char origin[64];
    snprintf(origin, sizeof(origin), bad_origins[i], wt->port);
    snprintf(request, sizeof(request),
             "POST /public HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nOrigin: %s\r\nContent-Length: 0\r\n\r\n", wt->port,
             origin);
    expect_refusal_str(wt, request, 403, "is not this server's", false);
  }
  snprintf(request, sizeof(request),
           "POST /public HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nOrigin: http://127.0.0.1:%d\r\n"
           "Origin: http://evil.example\r\nContent-Length: 0\r\n\r\n",
           wt->port, wt->port);
  expect_refusal_str(wt, request, 403, "is not this server's", false);
  /* A refused POST with a body ends its connection: the body is never read. */
  snprintf(request, sizeof(request),
           "POST /public HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nOrigin: http://evil.example\r\nContent-Length: 5\r\n\r\n"
           "hello",
           wt->port);
  expect_refusal_str(wt, request, 403, "is not this server's", true);
  /* The right origin passes (public route, so no session is needed). */
  snprintf(request, sizeof(request),
           "POST /public HTTP/1.1\r\nHost: localhost:%d\r\nOrigin: http://localhost:%d\r\nContent-Length: 0\r\n\r\n",
           wt->port, wt->port);
  CHECK(wt_status_of(wt->port, request) == 200);
}

static void test_session_checks(wt_server_t *wt) {
  char request[1024];
  /* No session: 401 on an API path, before the body is read. */
  snprintf(request, sizeof(request),
           "POST /api/data HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nOrigin: http://127.0.0.1:%d\r\n"
           "Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}",
           wt->port, wt->port);
  expect_refusal_str(wt, request, 401, "no session", true);
  wt_session_t s;
  wt_login(wt, login_dir, &s);
  /* A session without the CSRF token, or with another. */
  snprintf(request, sizeof(request),
           "POST /api/data HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nOrigin: http://127.0.0.1:%d\r\nCookie: %s\r\n"
           "Content-Length: 2\r\n\r\n{}",
           wt->port, wt->port, s.cookie);
  expect_refusal_str(wt, request, 403, "X-CSRF-Token", true);
  char wrong[CS_WEB_SECRET_HEX + 1];
  memcpy(wrong, s.csrf, sizeof(wrong));
  wrong[0] = wrong[0] == 'a' ? 'b' : 'a';
  snprintf(request, sizeof(request),
           "POST /api/data HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nOrigin: http://127.0.0.1:%d\r\nCookie: %s\r\n"
           "X-CSRF-Token: %s\r\nContent-Length: 2\r\n\r\n{}",
           wt->port, wt->port, s.cookie, wrong);
  expect_refusal_str(wt, request, 403, "X-CSRF-Token", true);
  /* With both, the request reaches its handler. */
  snprintf(request, sizeof(request),
           "POST /api/data HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nOrigin: http://127.0.0.1:%d\r\nCookie: %s\r\n"
           "X-CSRF-Token: %s\r\nContent-Length: 2\r\n\r\n{}",
           wt->port, wt->port, s.cookie, s.csrf);
  CHECK(wt_status_of(wt->port, request) == 200);
  /* A 404 and a 405 carry Allow. */
  int before = wt_log_count(wt);
  wt_client_t *c = wt_connect(wt->port);
  wt_sendf(c, "DELETE /hello HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nOrigin: http://127.0.0.1:%d\r\n\r\n", wt->port,
           wt->port);
  wt_response_t r;
  REQUIRE(wt_read_response(c, &r));
  CHECK(r.status == 405);
  CHECK(wt_header(&r, "Allow") && strcmp(wt_header(&r, "Allow"), "GET, HEAD") == 0);
  wt_response_free(&r);
  wt_close(c);
  CHECK_ONE_LOG_LINE(wt, before, "does not take DELETE");
}

static void test_write_queue(wt_server_t *wt) {
  /* 40 requests for 200 KiB each, read by nobody: the server stops
   * parsing once its queue passes CS_WEB_WRITE_QUEUE_MAX. */
  wt_client_t *c = wt_connect(wt->port);
  int rcvbuf = 16 * 1024;
  setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
  char batch[40 * 64];
  size_t len = 0;
  for (int i = 0; i < 40; i++)
    len += (size_t)snprintf(batch + len, sizeof(batch) - len, "GET /big HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n",
                            wt->port);
  wt_send(c, batch, len);
  cs_web_stats_t stats = {0};
  for (int i = 0; i < 1000; i++) {
    stats = wt_stats(wt);
    if (stats.paused == 1) break;
    usleep(5000);
  }
  CHECK(stats.paused == 1);
  CHECK(stats.queued_bytes_max <= CS_WEB_WRITE_QUEUE_MAX + sizeof(big_body) + 1024);
  /* Once read, every answer arrives, whole and in order. */
  for (int i = 0; i < 40; i++) {
    wt_response_t r;
    REQUIRE(wt_read_response(c, &r));
    CHECK(r.status == 200 && r.body_len == sizeof(big_body));
    CHECK(r.body_len == sizeof(big_body) && memcmp(r.body, big_body, sizeof(big_body)) == 0);
    wt_response_free(&r);
  }
  wt_close(c);
}

/* Reads one answer's head and counts its body; returns the body's bytes. */
static size_t read_counting(wt_client_t *c, size_t want, useconds_t pause_us) {
  while (!wt_find(c->buf, c->len, "\r\n\r\n"))
    if (!wt_fill(c)) return 0;
  char *end = wt_find(c->buf, c->len, "\r\n\r\n");
  CHECK(strncmp(c->buf, "HTTP/1.1 200", 12) == 0);
  size_t got = c->len - (size_t)(end + 4 - c->buf);
  c->len = 0;
  while (got < want) {
    struct pollfd p = {.fd = c->fd, .events = POLLIN};
    if (poll(&p, 1, WT_WAIT_MS) <= 0) break;
    ssize_t n = recv(c->fd, c->buf, 16384, 0);
    if (n <= 0) break;
    got += (size_t)n;
    if (pause_us) usleep(pause_us);
  }
  return got;
}

static void test_half_close(wt_server_t *wt) {
  /* A client that sends its request and closes its side at once still
   * gets the whole answer, even the part waiting in the write queue (under
   * CS_WEB_WRITE_QUEUE_MAX, so the server still reads and sees the end). */
  size_t len = CS_WEB_WRITE_QUEUE_MAX / 2;
  wt_client_t *c = wt_connect(wt->port);
  int rcvbuf = 16 * 1024; /* fixed: autotuning could take it all at once */
  setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
  wt_sendf(c, "GET /huge?n=%zu HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n", len, wt->port);
  shutdown(c->fd, SHUT_WR);
  usleep(100000); /* the server sees the end of input before we read */
  CHECK(read_counting(c, len, 0) == len);
  CHECK(wt_closed(c));
  wt_close(c);
}

static void test_slow_reader(wt_server_t *wt) {
  /* A client that takes a long answer slowly, over several write timeouts
   * and past the idle timeout, is making progress: it is not cut off. */
  size_t len = CS_WEB_WRITE_QUEUE_MAX;
  wt_client_t *c = wt_connect(wt->port);
  int rcvbuf = 16 * 1024;
  setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
  int before = wt_log_count(wt);
  wt_sendf(c, "GET /huge?n=%zu HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n", len, wt->port);
  CHECK(read_counting(c, len, 20000) == len);
  CHECK(wt_log_count(wt) == before);
  wt_close(c);
}

static void test_connection_cap(wt_server_t *wt) {
  wt_client_t *open[CS_WEB_CONNECTIONS_MAX];
  char request[128];
  snprintf(request, sizeof(request), "GET /hello HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n", wt->port);
  for (int i = 0; i < CS_WEB_CONNECTIONS_MAX; i++) {
    open[i] = wt_connect(wt->port);
    wt_send(open[i], request, strlen(request));
    wt_response_t r;
    REQUIRE(wt_read_response(open[i], &r));
    CHECK(r.status == 200);
    wt_response_free(&r);
  }
  int before = wt_log_count(wt);
  wt_client_t *extra = wt_connect(wt->port);
  CHECK(wt_closed(extra));
  wt_close(extra);
  extra = wt_connect(wt->port);
  CHECK(wt_closed(extra));
  wt_close(extra);
  /* One line for the burst, not one per connection. */
  CHECK_ONE_LOG_LINE(wt, before, "further connections are refused");
  for (int i = 0; i < CS_WEB_CONNECTIONS_MAX; i++) wt_close(open[i]);
  for (int i = 0; i < 1000 && wt_stats(wt).connections > 0; i++) usleep(5000);
  CHECK(wt_status_of(wt->port, request) == 200);
}

int main(void) {
  char dir[256];
  wt_tempdir(dir, sizeof(dir), "http");
  login_dir = dir;
  for (size_t i = 0; i < sizeof(big_body); i++) big_body[i] = (char)('a' + i % 26);
  huge_body = calloc(1, HUGE_LEN);
  REQUIRE(huge_body);
  wt_server_t wt;
  cs_web_config_t config = {.node_tag = "0a1b2c3d",
                            .login_dir = dir,
                            .headers_timeout_ms = 300,
                            .body_timeout_ms = 300,
                            .idle_timeout_ms = 300,
                            .write_timeout_ms = 1000,
                            .send_buffer_bytes = 16384};
  wt_start(&wt, &config, setup, NULL);
  test_keep_alive_and_headers(&wt);
  test_pipelining_in_order(&wt);
  test_head_and_expect(&wt);
  test_limits(&wt);
  test_slow_clients(&wt);
  test_malformed(&wt);
  test_assets_and_traversal(&wt);
  test_host_and_origin(&wt);
  test_session_checks(&wt);
  test_write_queue(&wt);
  test_half_close(&wt);
  test_slow_reader(&wt);
  test_connection_cap(&wt);
  cs_web_stats_t stats = wt_stats(&wt);
  printf("requests answered %llu, refused %llu\n", (unsigned long long)stats.requests,
         (unsigned long long)stats.refused);
  wt_stop(&wt);
  free(huge_body);
  wt_rmdir(dir);
  if (wt_failures) {
    fprintf(stderr, "%d checks failed\n", wt_failures);
    return 1;
  }
  printf("web http: all checks passed\n");
  return 0;
}
