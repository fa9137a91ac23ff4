#ifndef CS_TOOLS_WEB_WEB_INT_H
#define CS_TOOLS_WEB_WEB_INT_H

/* Internals shared by the files of tools/web/; not for callers. */

#include <limits.h>
#include <stdio.h>

#include <llhttp.h>

#include "tools/web/web.h"

#define CS_WEB__PATTERN_MAX 128
#define CS_WEB__PARAMS_MAX 8
#define CS_WEB__PATH_MAX 4096
#define CS_WEB__HOST_MAX 262 /* "[" + 253-byte name or address + "]:65535" */
#define CS_WEB__EXTRA_HOSTS_MAX 8
#define CS_WEB__LOG_LINE_MAX 512

typedef enum cs_web__route_kind_e { ROUTE_HANDLER = 0, ROUTE_ASSETS, ROUTE_ASSET, ROUTE_UPLOAD } cs_web__route_kind_t;

typedef struct cs_web__route_s {
  cs_web__route_kind_t kind;
  cs_web_method_t method;
  char pattern[CS_WEB__PATTERN_MAX];
  unsigned flags;
  size_t body_max;
  cs_web_handler_cb handler;
  void *ctx;
  const cs_web_asset_table_t *assets; /* ROUTE_ASSETS, ROUTE_ASSET */
  char asset[CS_WEB__PATTERN_MAX];    /* ROUTE_ASSET: the asset; ROUTE_ASSETS: the index, or "" */
  char *upload_dir;                   /* ROUTE_UPLOAD */
  uint64_t upload_max;
} cs_web__route_t;

typedef struct cs_web__span_s {
  uint32_t off, len;
} cs_web__span_t;

typedef struct cs_web__header_s {
  cs_web__span_t name, value; /* into the request's arena, each NUL-terminated */
} cs_web__header_t;

typedef enum cs_web__conn_state_e {
  CONN_IDLE = 0, /* between requests */
  CONN_HEAD,     /* reading a request line and headers */
  CONN_BODY,     /* reading a body */
  CONN_HANDLING, /* the handler has the request; nothing more is parsed */
  CONN_STREAM,   /* an SSE stream */
  CONN_CLOSING   /* answered the last request; closes once the queue is written */
} cs_web__conn_state_t;

typedef struct cs_web__conn_s cs_web__conn_t;

struct cs_web_request_s {
  cs_web__conn_t *conn;
  cs_web_method_t method;
  bool head;     /* a HEAD answered like its GET */
  bool answered; /* the handler has responded */
  bool gone;     /* the connection closed before the answer */
  /* The request target, header names and values, NUL-terminated. */
  char arena[CS_WEB_HEAD_MAX + 2 * CS_WEB_HEADERS_MAX + 4];
  size_t arena_len;
  size_t head_bytes; /* counted against CS_WEB_HEAD_MAX */
  cs_web__span_t url;
  size_t path_len;   /* the path's length within url */
  int last_span;     /* 0 none, 1 url, 2 header name, 3 header value */
  cs_web__header_t headers[CS_WEB_HEADERS_MAX];
  uint32_t header_count;
  const cs_web__route_t *route;
  cs_web__span_t params[CS_WEB__PARAMS_MAX]; /* into url */
  const char *param_names[CS_WEB__PARAMS_MAX];
  size_t param_name_lens[CS_WEB__PARAMS_MAX];
  uint32_t param_count;
  int session;      /* index into the server's sessions, or -1 */
  /* The body in memory. */
  uint8_t *body;
  size_t body_len, body_cap, body_max;
  /* An upload route's file. */
  int upload_fd;
  char upload_path[CS_WEB__PATH_MAX];
  uint64_t upload_len;
  /* Refused while parsing: answered with this status once the message is
   * complete (or at once, closing, if a body would follow). */
  int error_status;
  char error_reason[160];
  char allow[64]; /* the Allow header of a 405 */
  /* The response's extra headers. */
  char response_headers[CS_WEB_RESPONSE_HEADERS_MAX];
  size_t response_headers_len;
  bool has_cache_control;
};

struct cs_web__conn_s {
  cs_web_server_t *server;
  cs_web__conn_t *prev, *next;
  uv_tcp_t tcp;
  uv_timer_t timer;
  int handles_open;
  /* A connection without a socket, driven by the fuzz harness. */
  void (*fake_out)(void *ctx, const char *data, size_t len);
  void *fake_ctx;
  cs_web__conn_state_t state;
  bool closing;         /* uv_close called or about to be */
  bool close_after;     /* close once the current answer is written */
  bool reading;
  bool paused;          /* not read because of the write queue */
  bool in_process;
  bool peer_eof;
  bool lingering;       /* written the last answer; dropping input until EOF */
  llhttp_t parser;
  char in[CS_WEB_READ_BUFFER];
  size_t in_len;
  size_t queued;        /* bytes handed to uv_write and not yet written */
  size_t sampled_pending; /* libuv's write queue when last looked at */
  uint64_t write_progress_ms;
  uint64_t head_started_ms;
  uint64_t body_progress_ms;
  uint64_t idle_since_ms;
  uint64_t linger_until_ms;
  size_t linger_bytes;
  char peer[64];        /* the client's address, without the port */
  char channel[CS_WEB_CHANNEL_MAX + 1];
  cs_web_request_t req;
};

typedef struct cs_web__session_s {
  bool used;
  char id[CS_WEB_SECRET_HEX + 1];
  char csrf[CS_WEB_SECRET_HEX + 1];
  uint64_t last_used_ms;
} cs_web__session_t;

typedef struct cs_web__client_s {
  char peer[64];
  uint64_t window_start_ms;
  uint32_t attempts;
} cs_web__client_t;

struct cs_web_server_s {
  uv_loop_t *loop;
  uv_tcp_t listener;
  bool listening, started, stopping, listener_closed;
  cs_web_stopped_cb stopped_cb;
  void *stopped_ctx;
  char listen[CS_WEB__HOST_MAX];
  bool loopback;
  int port;
  char hosts[4 + CS_WEB__EXTRA_HOSTS_MAX][CS_WEB__HOST_MAX]; /* accepted Host values */
  uint32_t host_count;
  char node_tag[CS_WEB_NODE_TAG_MAX + 1];
  char cookie_name[CS_WEB_NODE_TAG_MAX + 16];
  char *login_dir;
  char password_hash[CS_WEB_PASSWORD_HASH_MAX];
  bool has_password;
  cs_web_log_cb log;
  void *log_ctx;
  uint32_t headers_timeout_ms, body_timeout_ms, idle_timeout_ms, write_timeout_ms;
  int send_buffer_bytes;
  cs_web__route_t routes[CS_WEB_ROUTES_MAX];
  uint32_t route_count;
  cs_web__conn_t *conns;
  uint32_t conn_count;
  uint32_t stream_count;
  uint32_t refused_connections; /* past the cap since the last log line */
  cs_web__session_t sessions[CS_WEB_SESSIONS_MAX];
  cs_web__client_t clients[CS_WEB_LOGIN_CLIENTS_MAX];
  bool verifying; /* one password hash at a time */
  uint64_t requests, refused;
  llhttp_settings_t settings;
  char reason[600];
};

/* server.c */
void cs_web__log(cs_web_server_t *server, cs_web_log_level_t level, const char *fmt, ...)
  __attribute__((format(printf, 3, 4)));
/* Logs a refused request as one line: peer, method, path, status, reason. */
void cs_web__log_request(const cs_web_request_t *req, int status, const char *reason);
/* Queues raw bytes on a connection (the 100 Continue line, SSE frames). */
void cs_web__conn_write(cs_web__conn_t *conn, char *owned, size_t len, const void *borrowed, size_t borrowed_len);
void cs_web__conn_close(cs_web__conn_t *conn);
/* Turns a connection whose answer is an event stream into a stream. */
void cs_web__conn_stream(cs_web__conn_t *conn);
/* Records a refusal found while reading a request; the first one wins. */
void cs_web__refuse(cs_web_request_t *req, int status, const char *reason);
void cs_web__conn_rearm(cs_web__conn_t *conn);
uint64_t cs_web__now_ms(const cs_web_server_t *server);
/* Sends a whole response for the current request (headers built here). */
void cs_web__respond(cs_web_request_t *req, int status, const char *content_type, const void *body, size_t len,
                     bool borrowed);

/* A connection without a socket, for the fuzz harness: bytes go in with
 * cs_web__fake_feed (returns how many it took: fewer while the connection
 * does not read), answers come out through `out`. */
cs_web__conn_t *cs_web__fake_open(cs_web_server_t *server, void (*out)(void *ctx, const char *data, size_t len),
                                  void *ctx);
size_t cs_web__fake_feed(cs_web__conn_t *conn, const char *data, size_t len);
void cs_web__fake_eof(cs_web__conn_t *conn);
bool cs_web__fake_open_p(const cs_web__conn_t *conn);

/* router.c */
/* Runs the checks of a request whose headers are complete; sets
 * req->error_status on a refusal. */
void cs_web__admit(cs_web_request_t *req, llhttp_t *parser);
/* Runs the route's handler (or answers the refusal) once the message is complete. */
void cs_web__dispatch(cs_web_request_t *req);
bool cs_web__method_from_llhttp(uint8_t method, cs_web_method_t *out);
const char *cs_web__method_name(cs_web_method_t method);
/* Percent-decodes `len` bytes into `out`; '+' is a space when `plus`.
 * False when malformed, holding a NUL, or too long for `out`. */
bool cs_web__decode(const char *in, size_t len, bool plus, char *out, size_t out_len);
bool cs_web__is_loopback_host(const char *host);

/* auth.c */
void cs_web__auth_init(cs_web_server_t *server);
int cs_web__auth_routes(cs_web_server_t *server) CS_MUST_USE;
/* The session named by the request's cookie, or -1; touches it. */
int cs_web__session_find(cs_web_server_t *server, const cs_web_request_t *req);
bool cs_web__csrf_ok(const cs_web_server_t *server, const cs_web_request_t *req);

/* assets.c */
const cs_web_asset_t *cs_web__asset_find(const cs_web_asset_table_t *table, const char *path, size_t len);
void cs_web__serve_asset(cs_web_request_t *req, const cs_web_asset_t *asset);

/* sse.c */
void cs_web__sse_ping(cs_web__conn_t *conn);

/* upload.c */
int cs_web__upload_open(cs_web_request_t *req);
int cs_web__upload_write(cs_web_request_t *req, const char *data, size_t len);
void cs_web__upload_finish(cs_web_request_t *req);
void cs_web__upload_discard(cs_web_request_t *req);

#endif
