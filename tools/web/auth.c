/* Sessions, one-time login tokens, password logins and CSRF tokens.
 *
 * | ROUTE             | WHO           | WHAT                                            |
 * |-------------------|---------------|-------------------------------------------------|
 * | GET /login        | anyone        | the login page                                  |
 * | GET /login?token= | anyone        | redeems a one-time token: session cookie, 303 / |
 * | POST /login       | same origin   | password=...: checked off the loop, 303 /       |
 * | POST /logout      | session, CSRF | ends the session, 303 /login                    |
 * | GET /api/session  | session       | {"csrf_token": ...} for the page's scripts      |
 *
 * The session cookie is `clubsync-<node tag>=<64 hex>; Path=/; HttpOnly;
 * SameSite=Strict`: scripts cannot read it, and the browser sends it on no
 * request that another site starts. Scripts read the CSRF token from
 * GET /api/session, which another origin cannot read (no CORS header, and
 * the Host check keeps rebound names out), and send it as X-CSRF-Token.
 *
 * A login token file, in the login directory (docs/decisions.md 17):
 *
 * | PART      | WHAT                                                           |
 * |-----------|----------------------------------------------------------------|
 * | file name | 64 hex digits: BLAKE2b-256 of the token's 32 bytes             |
 * | contents  | "expires <unix seconds>\n"                                     |
 * | mode      | 0600, in a 0700 directory                                      |
 *
 * Redeeming opens the file, then removes it: only the one unlink that
 * succeeds logs in, so a token works once even with two servers racing. */
#include "tools/web/web_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

void cs_web__auth_init(cs_web_server_t *server) {
  memset(server->sessions, 0, sizeof(server->sessions));
  memset(server->clients, 0, sizeof(server->clients));
}

/* ---- Sessions. ----------------------------------------------------------- */

static void random_hex(char out[CS_WEB_SECRET_HEX + 1]) {
  uint8_t bytes[CS_WEB_SECRET_BYTES];
  randombytes_buf(bytes, sizeof(bytes));
  sodium_bin2hex(out, CS_WEB_SECRET_HEX + 1, bytes, sizeof(bytes));
  sodium_memzero(bytes, sizeof(bytes));
}

static bool session_expired(const cs_web_server_t *server, const cs_web__session_t *s) {
  return cs_web__now_ms(server) - s->last_used_ms >= CS_WEB_SESSION_IDLE_MS;
}

static int session_new(cs_web_server_t *server) {
  int slot = -1;
  for (int i = 0; i < CS_WEB_SESSIONS_MAX; i++) {
    cs_web__session_t *s = &server->sessions[i];
    if (!s->used || session_expired(server, s)) {
      slot = i;
      break;
    }
    if (slot < 0 || s->last_used_ms < server->sessions[slot].last_used_ms) slot = i;
  }
  cs_web__session_t *s = &server->sessions[slot];
  if (s->used && !session_expired(server, s))
    cs_web__log(server, CS_WEB_LOG_INFO, "web: %d sessions open; the least recently used one ends",
                CS_WEB_SESSIONS_MAX);
  sodium_memzero(s, sizeof(*s));
  s->used = true;
  random_hex(s->id);
  random_hex(s->csrf);
  s->last_used_ms = cs_web__now_ms(server);
  return slot;
}

int cs_web__session_find(cs_web_server_t *server, const cs_web_request_t *req) {
  char value[CS_WEB_SECRET_HEX + 2];
  if (!cs_web_cookie(req, server->cookie_name, value, sizeof(value)) || strlen(value) != CS_WEB_SECRET_HEX)
    return -1;
  int found = -1;
  for (int i = 0; i < CS_WEB_SESSIONS_MAX; i++) {
    cs_web__session_t *s = &server->sessions[i];
    if (!s->used) continue;
    if (session_expired(server, s)) {
      sodium_memzero(s, sizeof(*s));
      continue;
    }
    if (sodium_memcmp(s->id, value, CS_WEB_SECRET_HEX) == 0) found = i;
  }
  if (found >= 0) server->sessions[found].last_used_ms = cs_web__now_ms(server);
  return found;
}

bool cs_web__csrf_ok(const cs_web_server_t *server, const cs_web_request_t *req) {
  const char *token = cs_web_header(req, "x-csrf-token");
  if (req->session < 0 || !token || strlen(token) != CS_WEB_SECRET_HEX) return false;
  return sodium_memcmp(server->sessions[req->session].csrf, token, CS_WEB_SECRET_HEX) == 0;
}

/* Sets the session cookie and sends the browser to the UI's first page,
 * whose URL carries no token. */
static void respond_logged_in(cs_web_request_t *req, int session) {
  cs_web_server_t *server = req->conn->server;
  char cookie[160];
  snprintf(cookie, sizeof(cookie), "%s=%s; Path=/; HttpOnly; SameSite=Strict", server->cookie_name,
           server->sessions[session].id);
  if (!cs_web_header_add(req, "Set-Cookie", cookie) || !cs_web_header_add(req, "Location", "/")) {
    cs_web_respond_error(req, 500, "cannot build the login answer");
    return;
  }
  cs_web__log(server, CS_WEB_LOG_INFO, "web: %s logged in", req->conn->peer);
  static const char body[] = "Logged in.\n";
  cs_web_respond_static(req, 303, "text/plain; charset=utf-8", body, sizeof(body) - 1);
}

/* ---- One-time login tokens. ---------------------------------------------- */

static bool token_file_name(const char *token_hex, char name[CS_WEB_SECRET_HEX + 1]) {
  uint8_t token[CS_WEB_SECRET_BYTES], digest[32];
  size_t len = 0;
  if (strlen(token_hex) != CS_WEB_SECRET_HEX ||
      sodium_hex2bin(token, sizeof(token), token_hex, CS_WEB_SECRET_HEX, NULL, &len, NULL) != 0 ||
      len != sizeof(token))
    return false;
  crypto_generichash(digest, sizeof(digest), token, sizeof(token), NULL, 0);
  sodium_bin2hex(name, CS_WEB_SECRET_HEX + 1, digest, sizeof(digest));
  sodium_memzero(token, sizeof(token));
  return true;
}

static bool is_token_file_name(const char *name) {
  if (strlen(name) != CS_WEB_SECRET_HEX) return false;
  for (const char *p = name; *p; p++)
    if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'))) return false;
  return true;
}

/* Reads "expires N" from a token file; false when unreadable. */
static bool token_file_expiry(int dir_fd, const char *name, uint64_t *expires) {
  int fd = openat(dir_fd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return false;
  char text[64];
  ssize_t n = read(fd, text, sizeof(text) - 1);
  close(fd);
  if (n <= 0) return false;
  text[n] = '\0';
  unsigned long long value = 0;
  if (sscanf(text, "expires %llu", &value) != 1) return false;
  *expires = value;
  return true;
}

/* Removes expired tokens, then the soonest to expire until fewer than
 * CS_WEB_LOGIN_TOKENS_MAX wait. */
static void tokens_prune(int dir_fd, uint64_t now_s) {
  DIR *d = fdopendir(dup(dir_fd));
  if (!d) return;
  char names[CS_WEB_LOGIN_TOKENS_MAX][CS_WEB_SECRET_HEX + 1];
  uint64_t expiries[CS_WEB_LOGIN_TOKENS_MAX];
  size_t live = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (!is_token_file_name(e->d_name)) continue;
    uint64_t expires = 0;
    if (!token_file_expiry(dir_fd, e->d_name, &expires) || expires <= now_s) {
      unlinkat(dir_fd, e->d_name, 0);
      continue;
    }
    if (live == CS_WEB_LOGIN_TOKENS_MAX) {
      /* Keep the latest; the soonest to expire goes. */
      size_t soonest = 0;
      for (size_t i = 1; i < live; i++)
        if (expiries[i] < expiries[soonest]) soonest = i;
      if (expires <= expiries[soonest]) {
        unlinkat(dir_fd, e->d_name, 0);
        continue;
      }
      unlinkat(dir_fd, names[soonest], 0);
      live--;
      memmove(names[soonest], names[live], sizeof(names[0]));
      expiries[soonest] = expiries[live];
    }
    memcpy(names[live], e->d_name, sizeof(names[0]));
    expiries[live++] = expires;
  }
  closedir(d);
  /* Room for the one being minted. */
  if (live == CS_WEB_LOGIN_TOKENS_MAX) {
    size_t soonest = 0;
    for (size_t i = 1; i < live; i++)
      if (expiries[i] < expiries[soonest]) soonest = i;
    unlinkat(dir_fd, names[soonest], 0);
  }
}

int cs_web_login_token_mint(const char *login_dir, uint64_t now_s, char token_hex[CS_WEB_SECRET_HEX + 1]) {
  int rc = CS_EIO, dir_fd = -1, fd = -1;
  char name[CS_WEB_SECRET_HEX + 1], tmp[CS_WEB_SECRET_HEX + 8];
  token_hex[0] = '\0';
  if (sodium_init() < 0) return CS_ENOMEM;
  if (mkdir(login_dir, 0700) != 0 && errno != EEXIST) goto done;
  dir_fd = open(login_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd < 0) goto done;
  tokens_prune(dir_fd, now_s);
  random_hex(token_hex);
  if (!token_file_name(token_hex, name)) goto done;
  snprintf(tmp, sizeof(tmp), ".tmp-%.16s", name);
  fd = openat(dir_fd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) goto done;
  char text[48];
  int len = snprintf(text, sizeof(text), "expires %llu\n", (unsigned long long)(now_s + CS_WEB_LOGIN_TOKEN_TTL_S));
  if (write(fd, text, (size_t)len) != len || close(fd) != 0) {
    fd = -1;
    unlinkat(dir_fd, tmp, 0);
    goto done;
  }
  fd = -1;
  if (renameat(dir_fd, tmp, dir_fd, name) != 0) {
    unlinkat(dir_fd, tmp, 0);
    goto done;
  }
  rc = CS_OK;
done:
  if (fd >= 0) close(fd);
  if (dir_fd >= 0) close(dir_fd);
  if (rc != CS_OK) sodium_memzero(token_hex, CS_WEB_SECRET_HEX + 1);
  return rc;
}

int cs_web_login_token_redeem(const char *login_dir, const char *token_hex, uint64_t now_s) {
  char name[CS_WEB_SECRET_HEX + 1];
  if (!token_file_name(token_hex, name)) return CS_EINVAL;
  int dir_fd = open(login_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd < 0) return CS_ENOTFOUND;
  uint64_t expires = 0;
  bool readable = token_file_expiry(dir_fd, name, &expires);
  /* Only the caller whose unlink succeeds may log in. */
  bool removed = unlinkat(dir_fd, name, 0) == 0;
  close(dir_fd);
  if (!removed || !readable) return CS_ENOTFOUND;
  if (now_s >= expires) return CS_ECLOSED;
  return CS_OK;
}

/* ---- Passwords. ---------------------------------------------------------- */

int cs_web_password_hash(const char *password, char out[CS_WEB_PASSWORD_HASH_MAX]) {
  _Static_assert(crypto_pwhash_STRBYTES <= CS_WEB_PASSWORD_HASH_MAX, "a pwhash string fits");
  if (sodium_init() < 0) return CS_ENOMEM;
  size_t len = strlen(password);
  if (len == 0 || len > CS_WEB_PASSWORD_MAX) return CS_EINVAL;
  if (crypto_pwhash_str(out, password, len, crypto_pwhash_OPSLIMIT_INTERACTIVE,
                        crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0)
    return CS_ENOMEM;
  return CS_OK;
}

typedef struct verify_s {
  uv_work_t work;
  cs_web_request_t *req;
  char hash[CS_WEB_PASSWORD_HASH_MAX];
  char *password; /* sodium_malloc'ed */
  bool ok;
} verify_t;

static void verify_work(uv_work_t *work) {
  verify_t *v = work->data;
  v->ok = crypto_pwhash_str_verify(v->hash, v->password, strlen(v->password)) == 0;
}

static cs_web__client_t *client_for(cs_web_server_t *server, const char *peer) {
  cs_web__client_t *oldest = &server->clients[0];
  for (size_t i = 0; i < CS_WEB_LOGIN_CLIENTS_MAX; i++) {
    cs_web__client_t *c = &server->clients[i];
    if (c->peer[0] && strcmp(c->peer, peer) == 0) return c;
    if (!c->peer[0] || c->window_start_ms < oldest->window_start_ms) oldest = c;
    if (!c->peer[0]) break;
  }
  memset(oldest, 0, sizeof(*oldest));
  snprintf(oldest->peer, sizeof(oldest->peer), "%s", peer);
  oldest->window_start_ms = cs_web__now_ms(server);
  return oldest;
}

static void verify_done(uv_work_t *work, int status) {
  verify_t *v = work->data;
  cs_web_request_t *req = v->req;
  cs_web_server_t *server = req->conn->server;
  server->verifying = false;
  sodium_free(v->password);
  bool ok = status == 0 && v->ok;
  sodium_memzero(v->hash, sizeof(v->hash));
  free(v);
  if (cs_web_request_gone(req)) {
    cs_web_respond(req, 499, NULL, NULL, 0); /* dropped: the client has gone */
    return;
  }
  if (!ok) {
    cs_web_respond_error(req, 401, "wrong password");
    return;
  }
  /* A person who knows the password starts afresh. */
  client_for(server, req->conn->peer)->attempts = 0;
  respond_logged_in(req, session_new(server));
}

static void login_post(cs_web_request_t *req, void *ctx) {
  (void)ctx;
  cs_web_server_t *server = req->conn->server;
  if (!server->has_password) {
    cs_web_respond_error(req, 403, "password login is not enabled: open the UI with the link `clubsync ui` prints");
    return;
  }
  cs_web__client_t *client = client_for(server, req->conn->peer);
  uint64_t now = cs_web__now_ms(server);
  if (now - client->window_start_ms >= CS_WEB_LOGIN_WINDOW_MS) {
    client->window_start_ms = now;
    client->attempts = 0;
  }
  if (client->attempts >= CS_WEB_LOGIN_ATTEMPTS_MAX) {
    char retry[24], reason[96];
    uint64_t wait_s = (client->window_start_ms + CS_WEB_LOGIN_WINDOW_MS - now + 999) / 1000;
    snprintf(retry, sizeof(retry), "%llu", (unsigned long long)wait_s);
    snprintf(reason, sizeof(reason), "%d password attempts within %d s from this address", CS_WEB_LOGIN_ATTEMPTS_MAX,
             CS_WEB_LOGIN_WINDOW_MS / 1000);
    cs_web_header_add(req, "Retry-After", retry);
    cs_web_respond_error(req, 429, reason);
    return;
  }
  if (server->verifying) {
    /* One hash at a time: crypto_pwhash's INTERACTIVE limits take 64 MiB. */
    cs_web_header_add(req, "Retry-After", "1");
    cs_web_respond_error(req, 503, "another password is being checked");
    return;
  }
  char password[CS_WEB_PASSWORD_MAX + 1];
  if (!cs_web_form_param(req, "password", password, sizeof(password)) || password[0] == '\0') {
    sodium_memzero(password, sizeof(password));
    cs_web_respond_error(req, 400, "no password field in the form");
    return;
  }
  client->attempts++;
  verify_t *v = calloc(1, sizeof(*v));
  size_t len = strlen(password);
  char *copy = v ? sodium_malloc(len + 1) : NULL;
  if (!copy) {
    free(v);
    sodium_memzero(password, sizeof(password));
    cs_web_respond_error(req, 503, "out of memory for the password check");
    return;
  }
  memcpy(copy, password, len + 1);
  sodium_memzero(password, sizeof(password));
  v->password = copy;
  v->req = req;
  memcpy(v->hash, server->password_hash, sizeof(v->hash));
  v->work.data = v;
  server->verifying = true;
  if (uv_queue_work(server->loop, &v->work, verify_work, verify_done) != 0) {
    server->verifying = false;
    sodium_free(copy);
    free(v);
    cs_web_respond_error(req, 500, "cannot start the password check");
  }
}

/* ---- Routes. ------------------------------------------------------------- */

static void login_get(cs_web_request_t *req, void *ctx) {
  (void)ctx;
  cs_web_server_t *server = req->conn->server;
  char token[CS_WEB_SECRET_HEX + 2];
  const char *query = cs_web_query(req);
  if (!query[0]) {
    cs_web__serve_asset(req, cs_web__asset_find(&cs_web_assets, "login.html", 10));
    return;
  }
  if (!cs_web_query_param(req, "token", token, sizeof(token))) {
    cs_web_respond_error(req, 400, "malformed login link");
    return;
  }
  if (!server->login_dir) {
    cs_web_respond_error(req, 403, "token login is not enabled on this server");
    return;
  }
  int rc = cs_web_login_token_redeem(server->login_dir, token, (uint64_t)time(NULL));
  sodium_memzero(token, sizeof(token));
  switch (rc) {
  case CS_OK: respond_logged_in(req, session_new(server)); return;
  case CS_EINVAL: cs_web_respond_error(req, 400, "malformed login token"); return;
  case CS_ECLOSED:
    cs_web_respond_error(req, 403, "expired login token: run `clubsync ui` again for a new link");
    return;
  default:
    cs_web_respond_error(req, 403, "unknown or already used login token: run `clubsync ui` again for a new link");
    return;
  }
}

static void logout_post(cs_web_request_t *req, void *ctx) {
  (void)ctx;
  cs_web_server_t *server = req->conn->server;
  sodium_memzero(&server->sessions[req->session], sizeof(server->sessions[0]));
  char cookie[96];
  snprintf(cookie, sizeof(cookie), "%s=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0", server->cookie_name);
  if (!cs_web_header_add(req, "Set-Cookie", cookie) || !cs_web_header_add(req, "Location", "/login")) {
    cs_web_respond_error(req, 500, "cannot build the logout answer");
    return;
  }
  static const char body[] = "Logged out.\n";
  cs_web_respond_static(req, 303, "text/plain; charset=utf-8", body, sizeof(body) - 1);
}

static void session_get(cs_web_request_t *req, void *ctx) {
  (void)ctx;
  cs_web_server_t *server = req->conn->server;
  char body[128];
  int n = snprintf(body, sizeof(body), "{\"csrf_token\":\"%s\"}\n", server->sessions[req->session].csrf);
  cs_web_respond(req, 200, "application/json", body, (size_t)n);
}

int cs_web__auth_routes(cs_web_server_t *server) {
  int rc = cs_web_route(server, CS_WEB_GET, "/login", CS_WEB_PUBLIC, 0, login_get, NULL);
  if (rc == CS_OK) rc = cs_web_route(server, CS_WEB_POST, "/login", CS_WEB_PUBLIC, 1024, login_post, NULL);
  if (rc == CS_OK) rc = cs_web_route(server, CS_WEB_POST, "/logout", 0, 1024, logout_post, NULL);
  if (rc == CS_OK) rc = cs_web_route(server, CS_WEB_GET, "/api/session", 0, 0, session_get, NULL);
  return rc;
}
