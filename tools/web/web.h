#ifndef CS_TOOLS_WEB_WEB_H
#define CS_TOOLS_WEB_WEB_H

/* The HTTP/1.1 server of the web UI, on a libuv loop its caller owns.
 *
 * The server has no event loop, thread or signal handler of its own: the
 * caller creates it on its loop, adds routes, starts it, and later stops it
 * and frees it once the stop callback has run. Every function here must be
 * called on the loop's thread.
 *
 * Each request passes, in this order, before its handler sees it: strict
 * HTTP/1.1 parsing (llhttp, no lenient flag) within the limits below; the
 * Host check (DNS rebinding); the route (404, 405); for every method but
 * GET and HEAD the Origin check; for a route that is not public a session
 * (the cookie `clubsync-<node tag>`; without one, 401 for /api/ paths and
 * changes, a redirect to /login for pages), and for every method
 * but GET and HEAD the session's X-CSRF-Token. Every response carries the
 * security headers (CS_WEB_SECURITY_HEADERS) and no CORS header. A refused
 * request gets its status and one line through the caller's log callback.
 * docs/web.md has the design, the security model and the login flow;
 * docs/limits.md the limits. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "core/error.h"

/* Request line and headers: the request target, header names and values,
 * plus 4 bytes per header line (": " and CRLF). Past it: 431. */
#define CS_WEB_HEAD_MAX 8192
/* Header lines in one request. Past it: 431. */
#define CS_WEB_HEADERS_MAX 64
/* A body held in memory (JSON, forms); a route may ask for less. Past it: 413. */
#define CS_WEB_BODY_MAX (64u * 1024u)
/* Bytes read from a connection and not yet parsed (pipelined requests wait
 * here while the one before them is answered). */
#define CS_WEB_READ_BUFFER 16384
/* Bytes queued to one connection: above it the server stops reading and
 * parsing that connection until the client has taken its responses. */
#define CS_WEB_WRITE_QUEUE_MAX (1u << 20)
/* Open connections; one more is accepted and closed at once. */
#define CS_WEB_CONNECTIONS_MAX 64
/* Routes one server holds. */
#define CS_WEB_ROUTES_MAX 64
/* Headers a handler adds to one response (names, values, separators). */
#define CS_WEB_RESPONSE_HEADERS_MAX 2048

/* Timeouts. A client has this long from its request's first byte to the end
 * of its headers (408, then close). */
#define CS_WEB_HEADERS_TIMEOUT_MS 10000
/* A body that stops arriving for this long (408, then close). */
#define CS_WEB_BODY_TIMEOUT_MS 30000
/* A keep-alive connection with no request for this long is closed. */
#define CS_WEB_IDLE_TIMEOUT_MS 60000
/* A client that takes none of its queued response bytes for this long is
 * closed (it may be reading nothing at all). */
#define CS_WEB_WRITE_TIMEOUT_MS 30000
/* After an error that ends a connection, its remaining input is read and
 * dropped for this long (or this many bytes), so the client can read the
 * error instead of a reset. */
#define CS_WEB_LINGER_MS 2000
#define CS_WEB_LINGER_BYTES (64u * 1024u)

/* Sessions (tools/web/auth.c). */
#define CS_WEB_SESSIONS_MAX 16                 /* the least recently used goes first */
#define CS_WEB_SESSION_IDLE_MS (12u * 3600000u) /* a session unused this long ends */
#define CS_WEB_SECRET_BYTES 32                  /* session ids, CSRF tokens, login tokens */
#define CS_WEB_SECRET_HEX (2 * CS_WEB_SECRET_BYTES)
#define CS_WEB_NODE_TAG_MAX 16                  /* the cookie name's node tag */
/* One-time login tokens (`clubsync ui`): valid this long, at most this many
 * waiting at once (the oldest goes first). */
#define CS_WEB_LOGIN_TOKEN_TTL_S 300
#define CS_WEB_LOGIN_TOKENS_MAX 16
/* Password logins: attempts per client address within a window (429 past
 * it), and the addresses remembered (the oldest window goes first). */
#define CS_WEB_LOGIN_ATTEMPTS_MAX 5
#define CS_WEB_LOGIN_WINDOW_MS 60000
#define CS_WEB_LOGIN_CLIENTS_MAX 256
#define CS_WEB_PASSWORD_MAX 256
#define CS_WEB_PASSWORD_HASH_MAX 128 /* crypto_pwhash_STRBYTES */

/* Server-Sent Events (tools/web/sse.c). */
#define CS_WEB_SSE_STREAMS_MAX 16        /* open streams; one more gets 503 */
#define CS_WEB_SSE_QUEUE_MAX (256u * 1024u) /* bytes queued to one stream before it is closed */
#define CS_WEB_SSE_EVENT_MAX (64u * 1024u)  /* one event's data */
#define CS_WEB_SSE_PING_MS 15000         /* a comment line this often keeps streams and proxies alive */
#define CS_WEB_CHANNEL_MAX 32            /* a channel name's length */

/* The headers every response carries. The policy allows scripts, styles,
 * images, fonts and fetches from the UI's own origin only: no inline
 * script or style, no framing, no plugin. */
#define CS_WEB_CSP                                                                              \
  "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'; object-src " \
  "'none'"
#define CS_WEB_SECURITY_HEADERS                                                                 \
  "Content-Security-Policy: " CS_WEB_CSP "\r\n"                                                 \
  "X-Content-Type-Options: nosniff\r\n"                                                         \
  "Referrer-Policy: no-referrer\r\n"                                                            \
  "X-Frame-Options: DENY\r\n"                                                                   \
  "Cross-Origin-Opener-Policy: same-origin\r\n"                                                 \
  "Cross-Origin-Resource-Policy: same-origin\r\n"

typedef struct cs_web_server_s cs_web_server_t;
typedef struct cs_web_request_s cs_web_request_t;

typedef enum cs_web_method_e {
  CS_WEB_GET = 0,
  CS_WEB_HEAD,
  CS_WEB_POST,
  CS_WEB_PUT,
  CS_WEB_PATCH,
  CS_WEB_DELETE,
  CS_WEB_METHOD_COUNT
} cs_web_method_t;

typedef enum cs_web_log_level_e { CS_WEB_LOG_ERROR = 0, CS_WEB_LOG_WARN, CS_WEB_LOG_INFO } cs_web_log_level_t;

/* One line, without a newline, valid during the call. */
typedef void (*cs_web_log_cb)(void *ctx, cs_web_log_level_t level, const char *line);

/* A handler answers its request exactly once, now or later (for example
 * from a uv_queue_work completion), with one of the cs_web_respond*
 * functions, cs_web_sse_start or cs_web_upload's path. Until it has, the
 * request stays valid even if the client goes away, and the server's stop
 * does not complete. */
typedef void (*cs_web_handler_cb)(cs_web_request_t *req, void *ctx);

typedef void (*cs_web_stopped_cb)(cs_web_server_t *server, void *ctx);

/* An embedded asset (tools/web/embed.cmake generates the tables). */
typedef struct cs_web_asset_s {
  const char *path;          /* relative to the asset directory, e.g. "base.css" */
  const unsigned char *data; /* followed by one 0 byte */
  size_t len;
  const char *etag;          /* quoted, e.g. "\"0123abcd...\"" */
} cs_web_asset_t;

typedef struct cs_web_asset_table_s {
  const cs_web_asset_t *assets; /* sorted by path (strcmp) */
  size_t count;
} cs_web_asset_table_t;

/* The assets of tools/web/assets/, built into cs_web. */
extern const cs_web_asset_table_t cs_web_assets;

typedef struct cs_web_config_s {
  /* "127.0.0.1:7451", "[::1]:0" (0 picks a free port), "0.0.0.0:7451". */
  const char *listen;
  /* A short name of the node (8 hex digits of its key): the session cookie
   * is `clubsync-<node_tag>`, since cookies are not isolated by port and
   * two nodes on one host must not clobber each other's sessions. */
  const char *node_tag;
  /* Where one-time login tokens wait (cs_web_login_token_mint); NULL: no
   * token login. */
  const char *login_dir;
  /* A crypto_pwhash_str string, or NULL for no password login. Required
   * when `listen` is not a loopback address. */
  const char *password_hash;
  /* Host header values accepted besides the loopback names and the bound
   * address, as the browser sends them ("museum.example:7451"): the name a
   * reverse proxy passes on. */
  const char *const *extra_hosts;
  uint32_t extra_host_count;
  cs_web_log_cb log;
  void *log_ctx;
  /* 0 takes the CS_WEB_*_TIMEOUT_MS default; tests make them short. */
  uint32_t headers_timeout_ms;
  uint32_t body_timeout_ms;
  uint32_t idle_timeout_ms;
  uint32_t write_timeout_ms;
  /* SO_SNDBUF of each connection; 0 keeps the kernel's (which autotunes to
   * megabytes). Tests make it small so answers wait in the write queue. */
  uint32_t send_buffer_bytes;
} cs_web_config_t;

/* Route flags. */
#define CS_WEB_PUBLIC 1u /* no session needed (login page, assets) */

/* Creates a server on `loop` (not yet listening). The configuration's
 * strings are copied. *out is NULL on error. */
int cs_web_server_new(uv_loop_t *loop, const cs_web_config_t *config, cs_web_server_t **out) CS_MUST_USE;

/* Adds a route: `pattern` is a path whose segments are literal, `{name}`
 * (one non-empty segment, read with cs_web_param) or a final `*` (the rest
 * of the path, read with cs_web_param(req, "*")). A GET route answers HEAD
 * too. `body_max` bounds the body held in memory (0: no body accepted;
 * at most CS_WEB_BODY_MAX). The first matching route wins. */
int cs_web_route(cs_web_server_t *server, cs_web_method_t method, const char *pattern, unsigned flags,
                 size_t body_max, cs_web_handler_cb handler, void *ctx) CS_MUST_USE;

/* Serves `table` under `prefix` ("/assets/"), public, GET and HEAD, with
 * its Content-Type, its ETag and `Cache-Control: no-cache` (304 for a
 * matching If-None-Match). A path not in the table is 404: no file is
 * read, so no path can reach outside it. `index` (or NULL) is the asset
 * served for the prefix itself. */
int cs_web_mount_assets(cs_web_server_t *server, const char *prefix, const cs_web_asset_table_t *table,
                        const char *index) CS_MUST_USE;

/* Serves one asset at an exact path ("/", "/login"), with `flags`. */
int cs_web_route_asset(cs_web_server_t *server, const char *path, unsigned flags, const cs_web_asset_table_t *table,
                       const char *asset) CS_MUST_USE;

/* A route whose body streams into a new file under `dir` (mode 0600),
 * never held whole in memory, at most `max_bytes` (413 past it, and the
 * partial file is removed). The handler then reads cs_web_upload_path and
 * owns the file: it must rename or remove it. */
int cs_web_route_upload(cs_web_server_t *server, const char *pattern, const char *dir, uint64_t max_bytes,
                        cs_web_handler_cb handler, void *ctx) CS_MUST_USE;

/* Binds and listens. On error, `reason` holds a sentence (a taken
 * address, a non-loopback address without a password). */
int cs_web_server_start(cs_web_server_t *server) CS_MUST_USE;
/* The bound port, after a successful start. */
int cs_web_server_port(const cs_web_server_t *server);
const char *cs_web_server_reason(const cs_web_server_t *server);

/* Stops listening and closes every connection; `cb` runs once every
 * handle is closed and every pending handler has answered. */
void cs_web_server_stop(cs_web_server_t *server, cs_web_stopped_cb cb, void *ctx);
/* Frees a server that was never started or whose stop callback ran. */
void cs_web_server_free(cs_web_server_t *server);

typedef struct cs_web_stats_s {
  uint32_t connections;
  uint32_t streams;        /* open SSE streams */
  uint32_t sessions;
  uint32_t paused;         /* connections not read because of their write queue */
  size_t queued_bytes_max; /* largest write queue now */
  uint64_t requests;       /* answered since start */
  uint64_t refused;        /* answered with an error status, or closed on an error */
} cs_web_stats_t;
void cs_web_server_stats(const cs_web_server_t *server, cs_web_stats_t *out);

/* Request accessors; strings stay valid until the request is answered. */
cs_web_method_t cs_web_method(const cs_web_request_t *req);
const char *cs_web_path(const cs_web_request_t *req);  /* as sent, without the query */
const char *cs_web_query(const cs_web_request_t *req); /* after '?', or "" */
/* Case-insensitive; the first such header or NULL. */
const char *cs_web_header(const cs_web_request_t *req, const char *name);
/* The named parameter of the route's pattern, percent-decoded into `out`;
 * false when absent, too long, or decoding to a NUL or a '/'. */
bool cs_web_param(const cs_web_request_t *req, const char *name, char *out, size_t out_len);
/* A query parameter, percent-decoded ('+' is a space); false when absent,
 * too long, or holding a NUL. */
bool cs_web_query_param(const cs_web_request_t *req, const char *name, char *out, size_t out_len);
/* A form field of an application/x-www-form-urlencoded body, the same way. */
bool cs_web_form_param(const cs_web_request_t *req, const char *name, char *out, size_t out_len);
/* A cookie's value, copied into `out`; false when absent or too long. */
bool cs_web_cookie(const cs_web_request_t *req, const char *name, char *out, size_t out_len);
const uint8_t *cs_web_body(const cs_web_request_t *req, size_t *len);
/* The client's address ("127.0.0.1", "::1"). */
const char *cs_web_peer(const cs_web_request_t *req);
/* The uploaded file of an upload route, and its size. */
const char *cs_web_upload_path(const cs_web_request_t *req, uint64_t *size);
cs_web_server_t *cs_web_request_server(const cs_web_request_t *req);
/* The loop the server runs on, for handlers that answer later. */
uv_loop_t *cs_web_server_loop(const cs_web_server_t *server);
/* True once the client has gone: a late answer is dropped. */
bool cs_web_request_gone(const cs_web_request_t *req);

/* Adds a header to the response (before cs_web_respond). Names are
 * tokens, values have no control characters; false past
 * CS_WEB_RESPONSE_HEADERS_MAX or for a malformed header. */
bool cs_web_header_add(cs_web_request_t *req, const char *name, const char *value);
/* Answers with `body` (copied; HEAD sends only the headers). Cache-Control
 * is no-store unless the handler added one. */
void cs_web_respond(cs_web_request_t *req, int status, const char *content_type, const void *body, size_t len);
/* The same, with a body that outlives the response (an embedded asset). */
void cs_web_respond_static(cs_web_request_t *req, int status, const char *content_type, const void *body,
                           size_t len);
/* An error: logs one line (status, method, path, `reason`) and answers with
 * a JSON body {"error": reason} under /api/, plain text elsewhere. */
void cs_web_respond_error(cs_web_request_t *req, int status, const char *reason);

/* Server-Sent Events: turns the request into an open stream on `channel`
 * (at most CS_WEB_CHANNEL_MAX bytes). 503 past CS_WEB_SSE_STREAMS_MAX. */
void cs_web_sse_start(cs_web_request_t *req, const char *channel);
/* Sends an event to every open stream of `channel`; returns how many got
 * it. `event` is a name without CR or LF (or NULL); `data` may hold lines.
 * A stream whose queue would pass CS_WEB_SSE_QUEUE_MAX is closed with a log
 * line: its client reconnects and reloads. -1 for a malformed event. */
int cs_web_sse_publish(cs_web_server_t *server, const char *channel, const char *event, const char *data);

/* One-time login tokens: `clubsync ui` mints one in the node's login
 * directory (docs/decisions.md 17), the running server redeems it at
 * GET /login?token=... . The file is named by the token's hash and
 * removed when redeemed, so a token works once, from any process, and is
 * refused CS_WEB_LOGIN_TOKEN_TTL_S seconds after `now_s` (Unix time).
 * `token_hex` receives CS_WEB_SECRET_HEX hex digits and a NUL. */
int cs_web_login_token_mint(const char *login_dir, uint64_t now_s, char token_hex[CS_WEB_SECRET_HEX + 1]) CS_MUST_USE;
/* CS_OK once; CS_ENOTFOUND for an unknown or used token, CS_ECLOSED for an
 * expired one (removed too), CS_EINVAL for a malformed one. */
int cs_web_login_token_redeem(const char *login_dir, const char *token_hex, uint64_t now_s) CS_MUST_USE;

/* Hashes a password for cs_web_config_t.password_hash with crypto_pwhash's
 * INTERACTIVE limits (slow by design: call it off the loop). */
int cs_web_password_hash(const char *password, char out[CS_WEB_PASSWORD_HASH_MAX]) CS_MUST_USE;

/* The Content-Type for a file name's extension (text/html; charset=utf-8,
 * text/javascript, ...), application/octet-stream when unknown. */
const char *cs_web_content_type(const char *path);

/* The status line's text ("Not Found"). */
const char *cs_web_status_text(int status);

#endif
