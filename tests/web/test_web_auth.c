/* Logging in to the web UI: one-time login tokens (single use, five
 * minutes, redeemed across processes through the login directory), the
 * session cookie's attributes and name, logout, password logins checked
 * off the loop and rate-limited per client address, and the rule that a
 * UI on a non-loopback address needs a password. */
#include "tests/web/web_testlib.h"

#include <dirent.h>
#include <sys/stat.h>

static int files_in(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return -1;
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) n += e->d_name[0] != '.';
  closedir(d);
  return n;
}

static void whoami(cs_web_request_t *req, void *ctx) {
  (void)ctx;
  cs_web_respond(req, 200, "text/plain; charset=utf-8", "in", 2);
}

static void setup(cs_web_server_t *server, void *ctx) {
  (void)ctx;
  REQUIRE(cs_web_route(server, CS_WEB_GET, "/api/whoami", 0, 0, whoami, NULL) == CS_OK);
  REQUIRE(cs_web_route(server, CS_WEB_GET, "/page", 0, 0, whoami, NULL) == CS_OK);
  REQUIRE(cs_web_mount_assets(server, "/assets/", &cs_web_assets, NULL) == CS_OK);
}

/* GET path with an optional cookie; returns the response. */
static int get_with_cookie(wt_server_t *wt, const char *path, const char *cookie, wt_response_t *r) {
  wt_client_t *c = wt_connect(wt->port);
  if (cookie)
    wt_sendf(c, "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nCookie: theme=dark; %s; other=1\r\n\r\n", path, wt->port,
             cookie);
  else wt_sendf(c, "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n", path, wt->port);
  REQUIRE(wt_read_response(c, r));
  wt_close(c);
  return r->status;
}

static int status_with_cookie(wt_server_t *wt, const char *path, const char *cookie) {
  wt_response_t r;
  int status = get_with_cookie(wt, path, cookie, &r);
  wt_response_free(&r);
  return status;
}

static void test_login_token(wt_server_t *wt, const char *dir) {
  char token[CS_WEB_SECRET_HEX + 1];
  REQUIRE(cs_web_login_token_mint(dir, (uint64_t)time(NULL), token) == CS_OK);
  CHECK(strlen(token) == CS_WEB_SECRET_HEX);
  /* The directory is private; the token's file is named by its hash. */
  struct stat st;
  REQUIRE(stat(dir, &st) == 0);
  CHECK((st.st_mode & 0777) == 0700);
  char path[512];
  snprintf(path, sizeof(path), "%s/%s", dir, token);
  CHECK(access(path, F_OK) != 0);
  CHECK(files_in(dir) == 1);

  char target[160];
  snprintf(target, sizeof(target), "/login?token=%s", token);
  wt_response_t r;
  int before = wt_log_count(wt);
  CHECK(get_with_cookie(wt, target, NULL, &r) == 303);
  const char *location = wt_header(&r, "Location");
  CHECK(location && strcmp(location, "/") == 0);
  const char *set = wt_header(&r, "Set-Cookie");
  REQUIRE(set);
  char cookie[160];
  snprintf(cookie, sizeof(cookie), "%.*s", (int)strcspn(set, ";"), set);
  CHECK(strncmp(set, "clubsync-5e5e1a2b=", 18) == 0);
  CHECK(strlen(cookie) == 18 + CS_WEB_SECRET_HEX);
  CHECK(strstr(set, "; HttpOnly") && strstr(set, "; SameSite=Strict") && strstr(set, "; Path=/"));
  CHECK(strstr(r.head, token) == NULL);
  wt_response_free(&r);
  CHECK(wt_logged(wt, before, "logged in"));
  CHECK(files_in(dir) == 0);

  /* The session opens API paths and pages; a forged cookie does not. */
  CHECK(status_with_cookie(wt, "/api/whoami", cookie) == 200);
  CHECK(status_with_cookie(wt, "/page", cookie) == 200);
  char forged[160];
  snprintf(forged, sizeof(forged), "%s", cookie);
  forged[20] = forged[20] == '0' ? '1' : '0';
  before = wt_log_count(wt);
  CHECK(status_with_cookie(wt, "/api/whoami", forged) == 401);
  CHECK_ONE_LOG_LINE(wt, before, "no session");
  /* The same id under another node's cookie name is not this node's session. */
  char other_node[160];
  snprintf(other_node, sizeof(other_node), "clubsync-00000000=%s", cookie + 18);
  CHECK(status_with_cookie(wt, "/api/whoami", other_node) == 401);
  CHECK(status_with_cookie(wt, "/api/whoami", NULL) == 401);
  /* A page without a session sends the browser to the login page. */
  CHECK(get_with_cookie(wt, "/page", NULL, &r) == 303);
  CHECK(wt_header(&r, "Location") && strcmp(wt_header(&r, "Location"), "/login") == 0);
  wt_response_free(&r);

  /* Reused: refused, with one line. */
  before = wt_log_count(wt);
  CHECK(status_with_cookie(wt, target, NULL) == 403);
  CHECK_ONE_LOG_LINE(wt, before, "unknown or already used login token");

  /* Expired: minted more than five minutes ago. */
  REQUIRE(cs_web_login_token_mint(dir, (uint64_t)time(NULL) - CS_WEB_LOGIN_TOKEN_TTL_S - 1, token) == CS_OK);
  snprintf(target, sizeof(target), "/login?token=%s", token);
  before = wt_log_count(wt);
  CHECK(status_with_cookie(wt, target, NULL) == 403);
  CHECK_ONE_LOG_LINE(wt, before, "expired login token");
  CHECK(files_in(dir) == 0);
  CHECK(status_with_cookie(wt, target, NULL) == 403);

  /* Malformed or unknown tokens. */
  before = wt_log_count(wt);
  CHECK(status_with_cookie(wt, "/login?token=../../etc/passwd", NULL) == 400);
  CHECK_ONE_LOG_LINE(wt, before, "malformed login token");
  CHECK(status_with_cookie(wt, "/login?token=%00", NULL) == 400);
  char unknown[CS_WEB_SECRET_HEX + 16];
  memset(unknown, 'a', CS_WEB_SECRET_HEX);
  unknown[CS_WEB_SECRET_HEX] = '\0';
  snprintf(target, sizeof(target), "/login?token=%s", unknown);
  CHECK(status_with_cookie(wt, target, NULL) == 403);

  /* Without a token, the login page. */
  CHECK(get_with_cookie(wt, "/login", NULL, &r) == 200);
  CHECK(strstr(r.body, "clubsync ui") != NULL);
  CHECK(wt_header(&r, "Content-Type") && strstr(wt_header(&r, "Content-Type"), "text/html"));
  wt_response_free(&r);

  /* Logout ends the session; it needs the CSRF token like any change. */
  wt_session_t s;
  wt_login(wt, dir, &s);
  CHECK(status_with_cookie(wt, "/api/whoami", s.cookie) == 200);
  wt_client_t *c = wt_connect(wt->port);
  wt_sendf(c, "POST /logout HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nOrigin: http://127.0.0.1:%d\r\nCookie: %s\r\n\r\n",
           wt->port, wt->port, s.cookie);
  REQUIRE(wt_read_response(c, &r));
  CHECK(r.status == 403);
  wt_response_free(&r);
  wt_close(c);
  c = wt_connect(wt->port);
  wt_sendf(c,
           "POST /logout HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nOrigin: http://127.0.0.1:%d\r\nCookie: %s\r\n"
           "X-CSRF-Token: %s\r\n\r\n",
           wt->port, wt->port, s.cookie, s.csrf);
  REQUIRE(wt_read_response(c, &r));
  CHECK(r.status == 303);
  CHECK(wt_header(&r, "Set-Cookie") && strstr(wt_header(&r, "Set-Cookie"), "Max-Age=0"));
  wt_response_free(&r);
  wt_close(c);
  CHECK(status_with_cookie(wt, "/api/whoami", s.cookie) == 401);
}

static void test_token_bounds(const char *dir) {
  /* A token works once, whoever redeems it. */
  char token[CS_WEB_SECRET_HEX + 1];
  uint64_t now = (uint64_t)time(NULL);
  REQUIRE(cs_web_login_token_mint(dir, now, token) == CS_OK);
  CHECK(cs_web_login_token_redeem(dir, token, now + CS_WEB_LOGIN_TOKEN_TTL_S - 1) == CS_OK);
  CHECK(cs_web_login_token_redeem(dir, token, now) == CS_ENOTFOUND);
  REQUIRE(cs_web_login_token_mint(dir, now, token) == CS_OK);
  CHECK(cs_web_login_token_redeem(dir, token, now + CS_WEB_LOGIN_TOKEN_TTL_S) == CS_ECLOSED);
  CHECK(cs_web_login_token_redeem(dir, "zz", now) == CS_EINVAL);
  /* No more than CS_WEB_LOGIN_TOKENS_MAX wait: the oldest go first. */
  char first[CS_WEB_SECRET_HEX + 1];
  REQUIRE(cs_web_login_token_mint(dir, now, first) == CS_OK);
  for (int i = 1; i <= CS_WEB_LOGIN_TOKENS_MAX; i++) REQUIRE(cs_web_login_token_mint(dir, now + (uint64_t)i, token) == CS_OK);
  CHECK(files_in(dir) == CS_WEB_LOGIN_TOKENS_MAX);
  CHECK(cs_web_login_token_redeem(dir, first, now) == CS_ENOTFOUND);
  CHECK(cs_web_login_token_redeem(dir, token, now) == CS_OK);
  /* Expired files are cleared by the next mint. */
  REQUIRE(cs_web_login_token_mint(dir, now + 10 * CS_WEB_LOGIN_TOKEN_TTL_S, token) == CS_OK);
  CHECK(files_in(dir) == 1);
  CHECK(cs_web_login_token_redeem(dir, token, now + 10 * CS_WEB_LOGIN_TOKEN_TTL_S) == CS_OK);
}

static int post_password(wt_server_t *wt, const char *source, const char *password, wt_response_t *r) {
  wt_client_t *c = wt_connect_from(wt->port, source);
  char body[128];
  int n = snprintf(body, sizeof(body), "password=%s", password);
  wt_sendf(c,
           "POST /login HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nOrigin: http://127.0.0.1:%d\r\n"
           "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n\r\n%s",
           wt->port, wt->port, n, body);
  REQUIRE(wt_read_response(c, r));
  wt_close(c);
  return r->status;
}

static void test_password(const char *dir) {
  char hash[CS_WEB_PASSWORD_HASH_MAX];
  REQUIRE(cs_web_password_hash("sésame ouvre-toi", hash) == CS_OK);
  CHECK(strncmp(hash, "$argon2id$", 10) == 0);
  wt_server_t wt;
  cs_web_config_t config = {.node_tag = "77aa77aa", .login_dir = dir, .password_hash = hash};
  wt_start(&wt, &config, setup, NULL);
  wt_response_t r;
  /* A POST to /login from another site is refused before any hashing. */
  wt_client_t *c = wt_connect(wt.port);
  wt_sendf(c,
           "POST /login HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nOrigin: http://evil.example\r\n"
           "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 10\r\n\r\npassword=x",
           wt.port);
  REQUIRE(wt_read_response(c, &r));
  CHECK(r.status == 403);
  wt_response_free(&r);
  wt_close(c);
  /* Right password: a session (the form encodes é and spaces). */
  CHECK(post_password(&wt, NULL, "s%C3%A9same+ouvre-toi", &r) == 303);
  CHECK(wt_header(&r, "Set-Cookie") && strncmp(wt_header(&r, "Set-Cookie"), "clubsync-77aa77aa=", 18) == 0);
  wt_response_free(&r);
  /* Wrong passwords: 401 each, one line each, then 429 without hashing. */
  for (int i = 0; i < CS_WEB_LOGIN_ATTEMPTS_MAX; i++) {
    int before = wt_log_count(&wt);
    CHECK(post_password(&wt, "127.0.0.3", "guess", &r) == 401);
    wt_response_free(&r);
    CHECK_ONE_LOG_LINE(&wt, before, "wrong password");
  }
  int before = wt_log_count(&wt);
  CHECK(post_password(&wt, "127.0.0.3", "s%C3%A9same+ouvre-toi", &r) == 429);
  CHECK(wt_header(&r, "Retry-After") && atoi(wt_header(&r, "Retry-After")) > 0);
  wt_response_free(&r);
  CHECK_ONE_LOG_LINE(&wt, before, "password attempts within 60 s");
  /* Another address is counted apart. */
  CHECK(post_password(&wt, "127.0.0.4", "guess", &r) == 401);
  wt_response_free(&r);
  CHECK(post_password(&wt, "127.0.0.4", "s%C3%A9same+ouvre-toi", &r) == 303);
  wt_response_free(&r);
  /* No password field. */
  CHECK(post_password(&wt, "127.0.0.5", "", &r) == 400);
  wt_response_free(&r);
  wt_stop(&wt);
}

static void test_password_required_off_loopback(void) {
  uv_loop_t loop;
  REQUIRE(uv_loop_init(&loop) == 0);
  /* The check comes before binding, so nothing listens on 0.0.0.0. */
  const char *listens[] = {"0.0.0.0:0", "[::]:0", "192.0.2.1:0"};
  for (size_t i = 0; i < 3; i++) {
    cs_web_config_t config = {.listen = listens[i], .node_tag = "12345678"};
    cs_web_server_t *server = NULL;
    REQUIRE(cs_web_server_new(&loop, &config, &server) == CS_OK);
    CHECK(cs_web_server_start(server) == CS_EAUTH);
    CHECK(strstr(cs_web_server_reason(server), "set a password") != NULL);
    cs_web_server_free(server);
  }
  /* Password login is off when no password is set. */
  REQUIRE(uv_loop_close(&loop) == 0);
}

int main(void) {
  char dir[256];
  wt_tempdir(dir, sizeof(dir), "auth");
  char login_dir[300];
  snprintf(login_dir, sizeof(login_dir), "%s/ui-login", dir);
  wt_server_t wt;
  cs_web_config_t config = {.node_tag = "5e5e1a2b", .login_dir = login_dir};
  wt_start(&wt, &config, setup, NULL);
  test_login_token(&wt, login_dir);
  /* Password login is refused where no password is set. */
  wt_response_t r;
  int before = wt_log_count(&wt);
  CHECK(post_password(&wt, NULL, "anything", &r) == 403);
  wt_response_free(&r);
  CHECK_ONE_LOG_LINE(&wt, before, "password login is not enabled");
  wt_stop(&wt);
  test_token_bounds(login_dir);
  test_password(login_dir);
  test_password_required_off_loopback();
  wt_rmdir(dir);
  if (wt_failures) {
    fprintf(stderr, "%d checks failed\n", wt_failures);
    return 1;
  }
  printf("web auth: all checks passed\n");
  return 0;
}
