/* The HTTP/1.1 server: listener, connections, llhttp parsing, limits,
 * timeouts, the write queue and the shape of every response.
 *
 * A connection holds one request at a time. llhttp is paused when a
 * message completes, so pipelined requests wait, unparsed, in the read
 * buffer (CS_WEB_READ_BUFFER) while the one before them is answered: their
 * answers go out in order, and a client that sends faster than it reads
 * fills its own buffers, not the server's memory. While a connection's
 * write queue is above CS_WEB_WRITE_QUEUE_MAX it is neither read nor parsed.
 *
 * | STATE    | WHAT THE CONNECTION WAITS FOR          | TIMER                         |
 * |----------|----------------------------------------|-------------------------------|
 * | IDLE     | a request's first byte                 | idle: close quietly           |
 * | HEAD     | the end of the headers                 | headers deadline: 408, close  |
 * | BODY     | the rest of the body                   | no byte for a while: 408      |
 * | HANDLING | the handler's answer                   | none                          |
 * | STREAM   | events to send (SSE)                   | ping                          |
 * | CLOSING  | the last answer to be written          | write timeout                 |
 *
 * A client that takes none of its queued bytes for CS_WEB_WRITE_TIMEOUT_MS
 * is closed in any state (the queue is looked at four times per timeout, so
 * a slow reader of a long answer is not cut off). After an answer that ends the
 * connection, the server shuts its side down and drops the client's input
 * for CS_WEB_LINGER_MS, so the client reads the answer instead of a reset. */
#include "tools/web/web_int.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

static void conn_process(cs_web__conn_t *conn);
static void conn_update_reading(cs_web__conn_t *conn);
static void conn_maybe_free(cs_web__conn_t *conn);
static void conn_finish(cs_web__conn_t *conn);
static void server_maybe_stopped(cs_web_server_t *server);

uint64_t cs_web__now_ms(const cs_web_server_t *server) { return uv_now(server->loop); }

void cs_web__log(cs_web_server_t *server, cs_web_log_level_t level, const char *fmt, ...) {
  if (!server->log) return;
  char line[CS_WEB__LOG_LINE_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof(line), fmt, ap);
  va_end(ap);
  server->log(server->log_ctx, level, line);
}

/* Copies at most `max` bytes of attacker-controlled text for a log line,
 * with anything unprintable shown as '?'. */
static void log_text(char *out, size_t out_len, const char *text, size_t len, size_t max) {
  size_t n = 0;
  for (size_t i = 0; i < len && i < max && n + 1 < out_len; i++) {
    unsigned char c = (unsigned char)text[i];
    out[n++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
  }
  if (len > max && n + 4 < out_len) {
    memcpy(out + n, "...", 3);
    n += 3;
  }
  out[n] = '\0';
}

void cs_web__log_request(const cs_web_request_t *req, int status, const char *reason) {
  const cs_web__conn_t *conn = req->conn;
  char target[160] = "-";
  if (req->url.len > 0) log_text(target, sizeof(target), req->arena + req->url.off, req->url.len, 120);
  const char *method = req->method < CS_WEB_METHOD_COUNT ? cs_web__method_name(req->method) : "-";
  cs_web__log(conn->server, status >= 500 ? CS_WEB_LOG_ERROR : CS_WEB_LOG_WARN, "web: %s %s %s: %d %s: %s",
              conn->peer[0] ? conn->peer : "-", method, target, status, cs_web_status_text(status), reason);
}

const char *cs_web_status_text(int status) {
  switch (status) {
  case 100: return "Continue";
  case 200: return "OK";
  case 201: return "Created";
  case 204: return "No Content";
  case 303: return "See Other";
  case 304: return "Not Modified";
  case 400: return "Bad Request";
  case 401: return "Unauthorized";
  case 403: return "Forbidden";
  case 404: return "Not Found";
  case 405: return "Method Not Allowed";
  case 408: return "Request Timeout";
  case 409: return "Conflict";
  case 413: return "Content Too Large";
  case 415: return "Unsupported Media Type";
  case 417: return "Expectation Failed";
  case 422: return "Unprocessable Content";
  case 429: return "Too Many Requests";
  case 431: return "Request Header Fields Too Large";
  case 500: return "Internal Server Error";
  case 501: return "Not Implemented";
  case 503: return "Service Unavailable";
  case 507: return "Insufficient Storage";
  default: return "Unknown";
  }
}

/* ---- Parsing: llhttp callbacks. ------------------------------------------ */

static cs_web__conn_t *conn_of(llhttp_t *parser) { return parser->data; }

/* Records a refusal found while parsing; the first one wins. */
void cs_web__refuse(cs_web_request_t *req, int status, const char *reason) {
  if (req->error_status) return;
  req->error_status = status;
  snprintf(req->error_reason, sizeof(req->error_reason), "%s", reason);
}

static void request_reset(cs_web_request_t *req) {
  cs_web__upload_discard(req);
  free(req->body);
  cs_web__conn_t *conn = req->conn;
  memset(req, 0, sizeof(*req));
  req->conn = conn;
  req->method = CS_WEB_METHOD_COUNT;
  req->session = -1;
  req->upload_fd = -1;
}

/* Appends a piece of the target, a header name or a value to the arena. */
static int arena_append(cs_web_request_t *req, cs_web__span_t *span, const char *at, size_t len) {
  req->head_bytes += len;
  if (req->head_bytes > CS_WEB_HEAD_MAX) {
    char reason[96];
    snprintf(reason, sizeof(reason), "request line and headers over %d bytes", CS_WEB_HEAD_MAX);
    cs_web__refuse(req, 431, reason);
    return HPE_USER;
  }
  /* head_bytes bounds the arena's text; the NULs have their own room. */
  memcpy(req->arena + req->arena_len, at, len);
  req->arena_len += len;
  span->len += (uint32_t)len;
  return 0;
}

static void arena_terminate(cs_web_request_t *req) { req->arena[req->arena_len++] = '\0'; }

static int on_message_begin(llhttp_t *parser) {
  cs_web__conn_t *conn = conn_of(parser);
  request_reset(&conn->req);
  conn->state = CONN_HEAD;
  conn->head_started_ms = cs_web__now_ms(conn->server);
  cs_web__conn_rearm(conn);
  return 0;
}

static int on_url(llhttp_t *parser, const char *at, size_t len) {
  cs_web_request_t *req = &conn_of(parser)->req;
  req->last_span = 1;
  return arena_append(req, &req->url, at, len);
}

static int on_url_complete(llhttp_t *parser) {
  cs_web_request_t *req = &conn_of(parser)->req;
  arena_terminate(req);
  req->last_span = 0;
  return 0;
}

static int on_header_field(llhttp_t *parser, const char *at, size_t len) {
  cs_web_request_t *req = &conn_of(parser)->req;
  if (req->last_span != 2) {
    if (req->header_count == CS_WEB_HEADERS_MAX) {
      char reason[64];
      snprintf(reason, sizeof(reason), "more than %d header lines", CS_WEB_HEADERS_MAX);
      cs_web__refuse(req, 431, reason);
      return HPE_USER;
    }
    req->head_bytes += 4;
    req->headers[req->header_count].name.off = (uint32_t)req->arena_len;
    req->headers[req->header_count].name.len = 0;
    req->header_count++;
    req->last_span = 2;
  }
  return arena_append(req, &req->headers[req->header_count - 1].name, at, len);
}

static int on_header_field_complete(llhttp_t *parser) {
  cs_web_request_t *req = &conn_of(parser)->req;
  if (req->header_count == 0) return 0;
  arena_terminate(req);
  cs_web__header_t *h = &req->headers[req->header_count - 1];
  /* RFC 9112 5.1: whitespace before the colon must be refused (it lets
   * two parsers disagree on a header's name). */
  if (strpbrk(req->arena + h->name.off, " \t")) cs_web__refuse(req, 400, "whitespace in a header name");
  h->value.off = (uint32_t)req->arena_len;
  h->value.len = 0;
  req->last_span = 3;
  return 0;
}

static int on_header_value(llhttp_t *parser, const char *at, size_t len) {
  cs_web_request_t *req = &conn_of(parser)->req;
  if (req->header_count == 0 || req->last_span != 3) return HPE_USER;
  return arena_append(req, &req->headers[req->header_count - 1].value, at, len);
}

static int on_header_value_complete(llhttp_t *parser) {
  cs_web_request_t *req = &conn_of(parser)->req;
  if (req->header_count == 0 || req->last_span != 3) return 0;
  cs_web__header_t *h = &req->headers[req->header_count - 1];
  /* Trailing whitespace is not part of a field value (RFC 9110 5.5). */
  while (h->value.len > 0) {
    char c = req->arena[h->value.off + h->value.len - 1];
    if (c != ' ' && c != '\t') break;
    h->value.len--;
    req->arena_len--;
  }
  arena_terminate(req);
  req->last_span = 0;
  return 0;
}

static int on_headers_complete(llhttp_t *parser) {
  cs_web__conn_t *conn = conn_of(parser);
  cs_web_request_t *req = &conn->req;
  if (req->url.len == 0) arena_terminate(req); /* an empty target stays a string */
  conn->state = CONN_BODY;
  conn->body_progress_ms = cs_web__now_ms(conn->server);
  bool has_body = (parser->flags & F_CHUNKED) || parser->content_length > 0;
  if (llhttp_get_upgrade(parser)) cs_web__refuse(req, 400, "protocol upgrades are not supported");
  if (!req->error_status) cs_web__admit(req, parser);
  if (!req->error_status && req->route && req->route->kind == ROUTE_UPLOAD && cs_web__upload_open(req) != CS_OK)
    cs_web__refuse(req, 500, "cannot create the upload file");
  cs_web__conn_rearm(conn);
  /* A refused request with a body ends the connection: its body is not read. */
  if (req->error_status && (has_body || llhttp_get_upgrade(parser))) return -1;
  return 0;
}

static int on_body(llhttp_t *parser, const char *at, size_t len) {
  cs_web__conn_t *conn = conn_of(parser);
  cs_web_request_t *req = &conn->req;
  conn->body_progress_ms = cs_web__now_ms(conn->server);
  if (req->error_status) return HPE_USER;
  if (req->route && req->route->kind == ROUTE_UPLOAD) return cs_web__upload_write(req, at, len) == CS_OK ? 0 : HPE_USER;
  if (len > req->body_max - req->body_len) {
    char reason[64];
    snprintf(reason, sizeof(reason), "body over %zu bytes", req->body_max);
    cs_web__refuse(req, 413, reason);
    return HPE_USER;
  }
  if (req->body_len + len > req->body_cap) {
    size_t cap = req->body_cap ? req->body_cap : 1024;
    while (cap < req->body_len + len) cap *= 2;
    if (cap > req->body_max) cap = req->body_max;
    uint8_t *grown = realloc(req->body, cap);
    if (!grown) {
      cs_web__refuse(req, 503, "out of memory for the body");
      return HPE_USER;
    }
    req->body = grown;
    req->body_cap = cap;
  }
  memcpy(req->body + req->body_len, at, len);
  req->body_len += len;
  return 0;
}

static int on_message_complete(llhttp_t *parser) {
  cs_web__conn_t *conn = conn_of(parser);
  if (!llhttp_should_keep_alive(parser)) conn->close_after = true;
  /* Pausing here leaves the next pipelined request unparsed until this one
   * is answered. */
  return HPE_PAUSED;
}

static void settings_init(llhttp_settings_t *s) {
  llhttp_settings_init(s);
  s->on_message_begin = on_message_begin;
  s->on_url = on_url;
  s->on_url_complete = on_url_complete;
  s->on_header_field = on_header_field;
  s->on_header_field_complete = on_header_field_complete;
  s->on_header_value = on_header_value;
  s->on_header_value_complete = on_header_value_complete;
  s->on_headers_complete = on_headers_complete;
  s->on_body = on_body;
  s->on_message_complete = on_message_complete;
}

/* ---- Connections. -------------------------------------------------------- */

typedef struct write_req_s {
  uv_write_t write;
  cs_web__conn_t *conn;
  char *owned;
  size_t total;
} write_req_t;

static void on_write(uv_write_t *w, int status) {
  write_req_t *wr = (write_req_t *)w;
  cs_web__conn_t *conn = wr->conn;
  conn->queued -= wr->total;
  free(wr->owned);
  free(wr);
  if (conn->closing) return;
  if (status < 0) {
    cs_web__conn_close(conn);
    return;
  }
  conn->write_progress_ms = cs_web__now_ms(conn->server);
  if (conn->queued == 0) conn->idle_since_ms = conn->write_progress_ms;
  if (conn->state == CONN_CLOSING && conn->queued == 0) {
    conn_finish(conn);
    return;
  }
  if (conn->paused && conn->queued <= CS_WEB_WRITE_QUEUE_MAX) {
    conn->paused = false;
    conn_process(conn);
    return;
  }
  cs_web__conn_rearm(conn);
}

void cs_web__conn_write(cs_web__conn_t *conn, char *owned, size_t len, const void *borrowed, size_t borrowed_len) {
  if (conn->closing) {
    free(owned);
    return;
  }
  if (conn->fake_out) {
    if (len) conn->fake_out(conn->fake_ctx, owned, len);
    if (borrowed_len) conn->fake_out(conn->fake_ctx, borrowed, borrowed_len);
    free(owned);
    return;
  }
  write_req_t *wr = malloc(sizeof(*wr));
  if (!wr) {
    free(owned);
    cs_web__conn_close(conn);
    return;
  }
  uv_buf_t bufs[2];
  unsigned n = 0;
  if (len) bufs[n++] = uv_buf_init(owned, (unsigned)len);
  if (borrowed_len) bufs[n++] = uv_buf_init((char *)(uintptr_t)borrowed, (unsigned)borrowed_len);
  wr->conn = conn;
  wr->owned = owned;
  wr->total = len + borrowed_len;
  if (conn->queued == 0) conn->write_progress_ms = cs_web__now_ms(conn->server);
  conn->queued += wr->total;
  int rc = uv_write(&wr->write, (uv_stream_t *)&conn->tcp, bufs, n, on_write);
  if (rc != 0) {
    conn->queued -= wr->total;
    free(owned);
    free(wr);
    cs_web__conn_close(conn);
    return;
  }
  conn->sampled_pending = uv_stream_get_write_queue_size((uv_stream_t *)&conn->tcp);
}

static void on_close(uv_handle_t *handle) {
  cs_web__conn_t *conn = handle->data;
  conn->handles_open--;
  conn_maybe_free(conn);
}

static void conn_maybe_free(cs_web__conn_t *conn) {
  if (conn->handles_open > 0) return;
  cs_web_request_t *req = &conn->req;
  /* A handler that still holds the request answers later; it is freed then. */
  if (conn->state == CONN_HANDLING && !req->answered) return;
  cs_web_server_t *server = conn->server;
  request_reset(req);
  if (conn->prev) conn->prev->next = conn->next;
  else server->conns = conn->next;
  if (conn->next) conn->next->prev = conn->prev;
  server->conn_count--;
  free(conn);
  server_maybe_stopped(server);
}

void cs_web__conn_close(cs_web__conn_t *conn) {
  if (conn->closing) return;
  conn->closing = true;
  cs_web_request_t *req = &conn->req;
  if (conn->state == CONN_HANDLING && !req->answered) req->gone = true;
  if (conn->state == CONN_STREAM) conn->server->stream_count--;
  /* A partial upload is removed now; a finished one belongs to its handler. */
  if (conn->state != CONN_HANDLING) cs_web__upload_discard(req);
  uv_close((uv_handle_t *)&conn->timer, on_close);
  if (!conn->fake_out) uv_close((uv_handle_t *)&conn->tcp, on_close);
}

static void on_shutdown(uv_shutdown_t *s, int status) {
  (void)status;
  free(s);
}

/* The last answer is written: shut our side down and drop input for a
 * while, or close a connection whose client has already gone. */
static void conn_finish(cs_web__conn_t *conn) {
  if (conn->fake_out || conn->peer_eof) {
    cs_web__conn_close(conn);
    return;
  }
  conn->lingering = true;
  conn->linger_until_ms = cs_web__now_ms(conn->server) + CS_WEB_LINGER_MS;
  uv_shutdown_t *s = malloc(sizeof(*s));
  if (!s || uv_shutdown(s, (uv_stream_t *)&conn->tcp, on_shutdown) != 0) {
    free(s);
    cs_web__conn_close(conn);
    return;
  }
  conn->in_len = 0;
  conn_update_reading(conn);
  cs_web__conn_rearm(conn);
}

static void on_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf) {
  (void)suggested;
  cs_web__conn_t *conn = handle->data;
  *buf = uv_buf_init(conn->in + conn->in_len, (unsigned)(sizeof(conn->in) - conn->in_len));
}

static void conn_eof(cs_web__conn_t *conn) {
  conn->peer_eof = true;
  cs_web_request_t *req = &conn->req;
  if (conn->state == CONN_HEAD || conn->state == CONN_BODY) {
    conn->server->refused++;
    if (req->url.len > 0) cs_web__log_request(req, 400, "the client closed the connection mid-request");
    else cs_web__log(conn->server, CS_WEB_LOG_WARN, "web: %s: the client closed the connection mid-request", conn->peer);
  }
  /* An answer still to write is written; then the connection closes. */
  if (conn->state == CONN_HANDLING) {
    conn->close_after = true;
    return;
  }
  /* A client that closed its side after its request still gets the rest
   * of the answer; then the connection closes (conn_finish). */
  if (conn->queued > 0 && (conn->state == CONN_CLOSING || conn->state == CONN_IDLE)) {
    conn->state = CONN_CLOSING;
    conn_update_reading(conn);
    cs_web__conn_rearm(conn);
    return;
  }
  cs_web__conn_close(conn);
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf) {
  (void)buf;
  cs_web__conn_t *conn = stream->data;
  if (nread == 0) return;
  if (nread < 0) {
    if (nread == UV_EOF) conn_eof(conn);
    else cs_web__conn_close(conn);
    return;
  }
  conn->in_len += (size_t)nread;
  conn_process(conn);
}

static void conn_update_reading(cs_web__conn_t *conn) {
  if (conn->closing) return;
  bool want = conn->state != CONN_HANDLING && !(conn->state == CONN_CLOSING && !conn->lingering) && !conn->paused &&
              conn->in_len < sizeof(conn->in);
  if (want == conn->reading) return;
  conn->reading = want;
  if (conn->fake_out) return;
  if (want) {
    if (uv_read_start((uv_stream_t *)&conn->tcp, on_alloc, on_read) != 0) cs_web__conn_close(conn);
  } else {
    uv_read_stop((uv_stream_t *)&conn->tcp);
  }
}

/* Answers an error found by the parser itself and ends the connection. */
static void conn_parse_error(cs_web__conn_t *conn, llhttp_errno_t err) {
  cs_web_request_t *req = &conn->req;
  if (!req->error_status) {
    char reason[160];
    snprintf(reason, sizeof(reason), "malformed request (%s: %s)", llhttp_errno_name(err),
             llhttp_get_error_reason(&conn->parser) ? llhttp_get_error_reason(&conn->parser) : "");
    cs_web__refuse(req, 400, reason);
  }
  cs_web__upload_discard(req);
  conn->close_after = true;
  conn->state = CONN_HANDLING;
  cs_web_respond_error(req, req->error_status, req->error_reason);
}

static void conn_process(cs_web__conn_t *conn) {
  if (conn->in_process || conn->closing) return;
  conn->in_process = true;
  size_t pos = 0;
  for (;;) {
    if (conn->closing) break;
    if (conn->lingering || conn->state == CONN_STREAM) {
      /* Input after the last answer, or on an event stream, is dropped. */
      conn->linger_bytes += conn->in_len - pos;
      pos = conn->in_len;
      if (conn->lingering && conn->linger_bytes > CS_WEB_LINGER_BYTES) cs_web__conn_close(conn);
      break;
    }
    if (conn->state == CONN_HANDLING || conn->state == CONN_CLOSING) break;
    if (conn->queued > CS_WEB_WRITE_QUEUE_MAX) {
      conn->paused = true;
      break;
    }
    if (pos >= conn->in_len) break;
    const char *start = conn->in + pos;
    llhttp_errno_t err = llhttp_execute(&conn->parser, start, conn->in_len - pos);
    if (err == HPE_OK) {
      pos = conn->in_len;
      continue;
    }
    if (err == HPE_PAUSED) {
      pos = (size_t)(llhttp_get_error_pos(&conn->parser) - conn->in);
      llhttp_resume(&conn->parser);
      conn->state = CONN_HANDLING;
      cs_web__dispatch(&conn->req);
      continue;
    }
    pos = conn->in_len;
    conn_parse_error(conn, err);
  }
  if (!conn->closing) {
    if (pos > 0) {
      memmove(conn->in, conn->in + pos, conn->in_len - pos);
      conn->in_len -= pos;
    }
    conn_update_reading(conn);
    cs_web__conn_rearm(conn);
  }
  conn->in_process = false;
}

static void on_timer(uv_timer_t *timer) {
  cs_web__conn_t *conn = timer->data;
  cs_web_server_t *server = conn->server;
  uint64_t now = cs_web__now_ms(server);
  if (conn->closing) return;
  if (conn->queued > 0 && !conn->fake_out) {
    /* A client that takes part of a long answer is making progress, even
     * before a whole write completes. */
    size_t pending = uv_stream_get_write_queue_size((uv_stream_t *)&conn->tcp);
    if (pending < conn->sampled_pending) conn->write_progress_ms = now;
    conn->sampled_pending = pending;
  }
  if (conn->queued > 0 && now - conn->write_progress_ms >= server->write_timeout_ms) {
    cs_web__log(server, CS_WEB_LOG_WARN, "web: %s: the client took none of %zu queued bytes for %u ms; closed",
                conn->peer, conn->queued, server->write_timeout_ms);
    server->refused++;
    cs_web__conn_close(conn);
    return;
  }
  if (conn->lingering) {
    if (now >= conn->linger_until_ms) {
      cs_web__conn_close(conn);
      return;
    }
  } else if (conn->state == CONN_IDLE) {
    /* Idle means nothing to read and nothing left to write. */
    if (conn->queued == 0 && now - conn->idle_since_ms >= server->idle_timeout_ms) {
      cs_web__conn_close(conn);
      return;
    }
  } else if (conn->state == CONN_HEAD || conn->state == CONN_BODY) {
    bool late = conn->state == CONN_HEAD ? now - conn->head_started_ms >= server->headers_timeout_ms
                                         : now - conn->body_progress_ms >= server->body_timeout_ms;
    if (late) {
      cs_web_request_t *req = &conn->req;
      char reason[96];
      snprintf(reason, sizeof(reason), "the %s did not arrive within %u ms",
               conn->state == CONN_HEAD ? "request's headers" : "request's body",
               conn->state == CONN_HEAD ? server->headers_timeout_ms : server->body_timeout_ms);
      cs_web__upload_discard(req);
      cs_web__refuse(req, 408, reason);
      conn->close_after = true;
      conn->state = CONN_HANDLING;
      cs_web_respond_error(req, 408, req->error_reason);
      return;
    }
  } else if (conn->state == CONN_STREAM) {
    cs_web__sse_ping(conn);
    if (conn->closing) return;
  }
  cs_web__conn_rearm(conn);
}

void cs_web__conn_rearm(cs_web__conn_t *conn) {
  if (conn->closing) return;
  cs_web_server_t *server = conn->server;
  uint64_t now = cs_web__now_ms(server);
  uint64_t wait = 0;
  if (conn->lingering) {
    wait = conn->linger_until_ms > now ? conn->linger_until_ms - now : 1;
  } else {
    switch (conn->state) {
    case CONN_IDLE: {
      uint64_t due = conn->idle_since_ms + server->idle_timeout_ms;
      wait = conn->queued > 0 ? 0 : due > now ? due - now : 1;
      break;
    }
    case CONN_HEAD: {
      uint64_t due = conn->head_started_ms + server->headers_timeout_ms;
      wait = due > now ? due - now : 1;
      break;
    }
    case CONN_BODY: wait = server->body_timeout_ms; break;
    case CONN_STREAM: wait = CS_WEB_SSE_PING_MS; break;
    case CONN_HANDLING:
    case CONN_CLOSING: break;
    }
  }
  if (conn->queued > 0) {
    /* Looks at the queue four times per timeout, to see progress. */
    uint64_t due = conn->write_progress_ms + server->write_timeout_ms;
    uint64_t write_wait = due > now ? due - now : 1;
    if (write_wait > server->write_timeout_ms / 4 + 1) write_wait = server->write_timeout_ms / 4 + 1;
    if (wait == 0 || write_wait < wait) wait = write_wait;
  }
  if (wait == 0) uv_timer_stop(&conn->timer);
  else uv_timer_start(&conn->timer, on_timer, wait, 0);
}

static cs_web__conn_t *conn_new(cs_web_server_t *server) {
  cs_web__conn_t *conn = calloc(1, sizeof(*conn));
  if (!conn) return NULL;
  conn->server = server;
  conn->req.conn = conn;
  conn->req.upload_fd = -1; /* not 0: request_reset would close stdin */
  request_reset(&conn->req);
  llhttp_init(&conn->parser, HTTP_REQUEST, &server->settings);
  conn->parser.data = conn;
  uv_timer_init(server->loop, &conn->timer);
  conn->timer.data = conn;
  conn->handles_open = 1;
  conn->state = CONN_IDLE;
  conn->idle_since_ms = cs_web__now_ms(server);
  conn->next = server->conns;
  if (server->conns) server->conns->prev = conn;
  server->conns = conn;
  server->conn_count++;
  return conn;
}

static void on_refused_close(uv_handle_t *handle) { free(handle); }

static void on_connection(uv_stream_t *listener, int status) {
  cs_web_server_t *server = listener->data;
  if (status < 0 || server->stopping) return;
  if (server->conn_count >= CS_WEB_CONNECTIONS_MAX) {
    uv_tcp_t *extra = malloc(sizeof(*extra));
    if (!extra) return;
    uv_tcp_init(server->loop, extra);
    if (uv_accept(listener, (uv_stream_t *)extra) == 0 && server->refused_connections++ == 0)
      cs_web__log(server, CS_WEB_LOG_WARN, "web: %d connections open; further connections are refused",
                  CS_WEB_CONNECTIONS_MAX);
    server->refused++;
    uv_close((uv_handle_t *)extra, on_refused_close);
    return;
  }
  if (server->refused_connections > 0) {
    cs_web__log(server, CS_WEB_LOG_INFO, "web: accepting connections again (%u refused)", server->refused_connections);
    server->refused_connections = 0;
  }
  cs_web__conn_t *conn = conn_new(server);
  if (!conn) return;
  uv_tcp_init(server->loop, &conn->tcp);
  conn->tcp.data = conn;
  conn->handles_open++;
  if (uv_accept(listener, (uv_stream_t *)&conn->tcp) != 0) {
    cs_web__conn_close(conn);
    return;
  }
  uv_tcp_nodelay(&conn->tcp, 1);
  if (server->send_buffer_bytes > 0) {
    int size = server->send_buffer_bytes;
    uv_send_buffer_size((uv_handle_t *)&conn->tcp, &size);
  }
  struct sockaddr_storage addr;
  int len = sizeof(addr);
  if (uv_tcp_getpeername(&conn->tcp, (struct sockaddr *)&addr, &len) == 0) {
    if (addr.ss_family == AF_INET6) uv_ip6_name((struct sockaddr_in6 *)&addr, conn->peer, sizeof(conn->peer));
    else uv_ip4_name((struct sockaddr_in *)&addr, conn->peer, sizeof(conn->peer));
  }
  conn_update_reading(conn);
  cs_web__conn_rearm(conn);
}

/* ---- Responses. ---------------------------------------------------------- */

bool cs_web_header_add(cs_web_request_t *req, const char *name, const char *value) {
  if (req->answered) return false;
  size_t name_len = strlen(name), value_len = strlen(value);
  if (name_len == 0) return false;
  for (size_t i = 0; i < name_len; i++) {
    unsigned char c = (unsigned char)name[i];
    if (c <= 0x20 || c >= 0x7f || strchr("()<>@,;:\\\"/[]?={}", c)) return false;
  }
  for (size_t i = 0; i < value_len; i++) {
    unsigned char c = (unsigned char)value[i];
    if ((c < 0x20 && c != '\t') || c == 0x7f) return false;
  }
  size_t need = name_len + 2 + value_len + 2;
  if (need > sizeof(req->response_headers) - req->response_headers_len) return false;
  char *p = req->response_headers + req->response_headers_len;
  memcpy(p, name, name_len);
  memcpy(p + name_len, ": ", 2);
  memcpy(p + name_len + 2, value, value_len);
  memcpy(p + name_len + 2 + value_len, "\r\n", 2);
  req->response_headers_len += need;
  if (strcasecmp(name, "Cache-Control") == 0) req->has_cache_control = true;
  return true;
}

void cs_web__respond(cs_web_request_t *req, int status, const char *content_type, const void *body, size_t len,
                     bool borrowed) {
  cs_web__conn_t *conn = req->conn;
  if (req->answered) return;
  req->answered = true;
  cs_web_server_t *server = conn->server;
  server->requests++;
  if (status >= 400) server->refused++;
  if (conn->closing) {
    /* The client went away while the handler worked: drop the answer. */
    conn_maybe_free(conn);
    return;
  }
  if (server->stopping) conn->close_after = true;
  bool no_body = status == 204 || status == 304 || (status >= 100 && status < 200);
  size_t head_max = 512 + sizeof(CS_WEB_SECURITY_HEADERS) + (content_type ? strlen(content_type) : 0) +
                    req->response_headers_len;
  char *head = malloc(head_max + (borrowed ? 0 : len));
  if (!head) {
    cs_web__conn_close(conn);
    return;
  }
  int n = snprintf(head, head_max, "HTTP/1.1 %d %s\r\n" CS_WEB_SECURITY_HEADERS "%s%s%s", status,
                   cs_web_status_text(status), content_type && !no_body ? "Content-Type: " : "",
                   content_type && !no_body ? content_type : "", content_type && !no_body ? "\r\n" : "");
  size_t used = (size_t)n;
  if (!no_body) used += (size_t)snprintf(head + used, head_max - used, "Content-Length: %zu\r\n", len);
  if (!req->has_cache_control)
    used += (size_t)snprintf(head + used, head_max - used, "Cache-Control: no-store\r\n");
  memcpy(head + used, req->response_headers, req->response_headers_len);
  used += req->response_headers_len;
  if (conn->close_after) used += (size_t)snprintf(head + used, head_max - used, "Connection: close\r\n");
  else if (llhttp_get_http_minor(&conn->parser) == 0)
    used += (size_t)snprintf(head + used, head_max - used, "Connection: keep-alive\r\n");
  memcpy(head + used, "\r\n", 2);
  used += 2;
  bool send_body = !no_body && !req->head && len > 0;
  if (send_body && !borrowed) {
    memcpy(head + used, body, len);
    used += len;
  }
  cs_web__conn_write(conn, head, used, send_body && borrowed ? body : NULL, send_body && borrowed ? len : 0);
  if (conn->closing) return;
  /* Next request, or the end of the connection. */
  cs_web__upload_discard(req);
  free(req->body);
  req->body = NULL;
  req->body_len = req->body_cap = 0;
  if (conn->close_after || conn->peer_eof) {
    conn->state = CONN_CLOSING;
    if (conn->queued == 0) conn_finish(conn);
    else {
      conn_update_reading(conn);
      cs_web__conn_rearm(conn);
    }
    return;
  }
  conn->state = CONN_IDLE;
  conn->idle_since_ms = cs_web__now_ms(server);
  if (conn->queued > CS_WEB_WRITE_QUEUE_MAX) conn->paused = true;
  if (!conn->in_process) conn_process(conn);
}

void cs_web_respond(cs_web_request_t *req, int status, const char *content_type, const void *body, size_t len) {
  cs_web__respond(req, status, content_type, body, len, false);
}

void cs_web_respond_static(cs_web_request_t *req, int status, const char *content_type, const void *body,
                           size_t len) {
  cs_web__respond(req, status, content_type, body, len, true);
}

void cs_web_respond_error(cs_web_request_t *req, int status, const char *reason) {
  cs_web__log_request(req, status, reason);
  char body[400];
  const char *path = req->url.len ? req->arena + req->url.off : "";
  bool api = strncmp(path, "/api/", 5) == 0;
  size_t n = 0;
  if (api) {
    n = (size_t)snprintf(body, sizeof(body), "{\"error\":\"");
    for (const char *p = reason; *p && n + 8 < sizeof(body); p++) {
      unsigned char c = (unsigned char)*p;
      if (c == '"' || c == '\\') body[n++] = '\\';
      body[n++] = c < 0x20 ? ' ' : (char)c;
    }
    n += (size_t)snprintf(body + n, sizeof(body) - n, "\"}\n");
  } else {
    n = (size_t)snprintf(body, sizeof(body), "%d %s: %s\n", status, cs_web_status_text(status), reason);
  }
  if (n >= sizeof(body)) n = sizeof(body) - 1;
  if (status == 405 && req->allow[0]) cs_web_header_add(req, "Allow", req->allow);
  cs_web__respond(req, status, api ? "application/json" : "text/plain; charset=utf-8", body, n, false);
}

/* ---- The server. --------------------------------------------------------- */

/* Splits "HOST:PORT" or "[V6]:PORT"; the host is copied without brackets. */
static bool parse_listen(const char *text, char *host, size_t host_len, int *port, bool *v6) {
  const char *colon;
  *v6 = false;
  if (text[0] == '[') {
    const char *end = strchr(text, ']');
    if (!end || end[1] != ':' || (size_t)(end - text - 1) >= host_len) return false;
    memcpy(host, text + 1, (size_t)(end - text - 1));
    host[end - text - 1] = '\0';
    colon = end + 1;
    *v6 = true;
  } else {
    colon = strrchr(text, ':');
    if (!colon || (size_t)(colon - text) >= host_len) return false;
    memcpy(host, text, (size_t)(colon - text));
    host[colon - text] = '\0';
  }
  char *end = NULL;
  long p = strtol(colon + 1, &end, 10);
  if (colon[1] == '\0' || *end != '\0' || p < 0 || p > 65535) return false;
  *port = (int)p;
  return true;
}

int cs_web_server_new(uv_loop_t *loop, const cs_web_config_t *config, cs_web_server_t **out) {
  *out = NULL;
  if (!loop || !config || !config->listen || !config->node_tag) return CS_EINVAL;
  size_t tag_len = strlen(config->node_tag);
  if (tag_len == 0 || tag_len > CS_WEB_NODE_TAG_MAX) return CS_EINVAL;
  for (size_t i = 0; i < tag_len; i++) {
    char c = config->node_tag[i];
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z'))) return CS_EINVAL;
  }
  if (strlen(config->listen) >= CS_WEB__HOST_MAX) return CS_EINVAL;
  if (config->extra_host_count > CS_WEB__EXTRA_HOSTS_MAX) return CS_ETOOBIG;
  if (config->password_hash && strlen(config->password_hash) >= CS_WEB_PASSWORD_HASH_MAX) return CS_EINVAL;
  if (sodium_init() < 0) return CS_ENOMEM;
  cs_web_server_t *server = calloc(1, sizeof(*server));
  if (!server) return CS_ENOMEM;
  server->loop = loop;
  snprintf(server->listen, sizeof(server->listen), "%s", config->listen);
  snprintf(server->node_tag, sizeof(server->node_tag), "%s", config->node_tag);
  snprintf(server->cookie_name, sizeof(server->cookie_name), "clubsync-%s", config->node_tag);
  if (config->login_dir && !(server->login_dir = strdup(config->login_dir))) {
    free(server);
    return CS_ENOMEM;
  }
  if (config->password_hash) {
    snprintf(server->password_hash, sizeof(server->password_hash), "%s", config->password_hash);
    server->has_password = true;
  }
  for (uint32_t i = 0; i < config->extra_host_count; i++) {
    if (strlen(config->extra_hosts[i]) >= CS_WEB__HOST_MAX) {
      cs_web_server_free(server);
      return CS_EINVAL;
    }
    snprintf(server->hosts[server->host_count++], CS_WEB__HOST_MAX, "%s", config->extra_hosts[i]);
  }
  server->log = config->log;
  server->log_ctx = config->log_ctx;
  server->headers_timeout_ms = config->headers_timeout_ms ? config->headers_timeout_ms : CS_WEB_HEADERS_TIMEOUT_MS;
  server->body_timeout_ms = config->body_timeout_ms ? config->body_timeout_ms : CS_WEB_BODY_TIMEOUT_MS;
  server->idle_timeout_ms = config->idle_timeout_ms ? config->idle_timeout_ms : CS_WEB_IDLE_TIMEOUT_MS;
  server->write_timeout_ms = config->write_timeout_ms ? config->write_timeout_ms : CS_WEB_WRITE_TIMEOUT_MS;
  server->send_buffer_bytes = config->send_buffer_bytes > INT_MAX ? INT_MAX : (int)config->send_buffer_bytes;
  settings_init(&server->settings);
  cs_web__auth_init(server);
  int rc = cs_web__auth_routes(server);
  if (rc != CS_OK) {
    cs_web_server_free(server);
    return rc;
  }
  *out = server;
  return CS_OK;
}

int cs_web_server_start(cs_web_server_t *server) {
  char host[CS_WEB__HOST_MAX];
  int port = 0;
  bool v6 = false;
  if (server->started) return CS_EINVAL;
  if (!parse_listen(server->listen, host, sizeof(host), &port, &v6)) {
    snprintf(server->reason, sizeof(server->reason), "%s is not an address (HOST:PORT or [V6]:PORT)",
             server->listen);
    return CS_EINVAL;
  }
  if (strcmp(host, "localhost") == 0) snprintf(host, sizeof(host), "127.0.0.1");
  struct sockaddr_storage addr;
  if ((v6 ? uv_ip6_addr(host, port, (struct sockaddr_in6 *)&addr)
          : uv_ip4_addr(host, port, (struct sockaddr_in *)&addr)) != 0) {
    snprintf(server->reason, sizeof(server->reason), "%s is not an IP address", host);
    return CS_EINVAL;
  }
  server->loopback = cs_web__is_loopback_host(host);
  if (!server->loopback && !server->has_password) {
    snprintf(server->reason, sizeof(server->reason),
             "the UI listens on %s, which is not a loopback address: set a password first "
             "(clubsync ui --set-password)",
             server->listen);
    return CS_EAUTH;
  }
  uv_tcp_init(server->loop, &server->listener);
  server->listener.data = server;
  server->started = true;
  int rc = uv_tcp_bind(&server->listener, (struct sockaddr *)&addr, 0);
  if (rc == 0) rc = uv_listen((uv_stream_t *)&server->listener, 128, on_connection);
  if (rc != 0) {
    snprintf(server->reason, sizeof(server->reason), "cannot listen on %s: %s", server->listen, uv_strerror(rc));
    return rc == UV_EADDRINUSE ? CS_EEXIST : CS_EIO;
  }
  struct sockaddr_storage bound;
  int len = sizeof(bound);
  if (uv_tcp_getsockname(&server->listener, (struct sockaddr *)&bound, &len) == 0)
    server->port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                                      : ((struct sockaddr_in *)&bound)->sin_port);
  server->listening = true;
  /* The Host values a browser sends for this server. */
  const char *loopbacks[] = {"localhost", "127.0.0.1", "[::1]"};
  for (size_t i = 0; i < sizeof(loopbacks) / sizeof(loopbacks[0]); i++)
    snprintf(server->hosts[server->host_count++], CS_WEB__HOST_MAX, "%s:%d", loopbacks[i], server->port);
  bool wildcard = strcmp(host, "0.0.0.0") == 0 || strcmp(host, "::") == 0;
  if (!wildcard && !server->loopback)
    snprintf(server->hosts[server->host_count++], CS_WEB__HOST_MAX, v6 ? "[%s]:%d" : "%s:%d", host, server->port);
  return CS_OK;
}

int cs_web_server_port(const cs_web_server_t *server) { return server->port; }
const char *cs_web_server_reason(const cs_web_server_t *server) { return server->reason; }

static void server_maybe_stopped(cs_web_server_t *server) {
  if (!server->stopping || server->conn_count > 0 || !server->listener_closed || !server->stopped_cb) return;
  cs_web_stopped_cb cb = server->stopped_cb;
  server->stopped_cb = NULL;
  cb(server, server->stopped_ctx);
}

static void on_listener_close(uv_handle_t *handle) {
  cs_web_server_t *server = handle->data;
  server->listener_closed = true;
  server_maybe_stopped(server);
}

void cs_web_server_stop(cs_web_server_t *server, cs_web_stopped_cb cb, void *ctx) {
  if (server->stopping) return;
  server->stopping = true;
  server->stopped_cb = cb;
  server->stopped_ctx = ctx;
  for (cs_web__conn_t *conn = server->conns, *next; conn; conn = next) {
    next = conn->next;
    cs_web__conn_close(conn);
  }
  if (server->started) {
    uv_close((uv_handle_t *)&server->listener, on_listener_close);
  } else {
    server->listener_closed = true;
    server_maybe_stopped(server);
  }
}

void cs_web_server_free(cs_web_server_t *server) {
  if (!server) return;
  for (uint32_t i = 0; i < server->route_count; i++) free(server->routes[i].upload_dir);
  free(server->login_dir);
  sodium_memzero(server->sessions, sizeof(server->sessions));
  sodium_memzero(server->password_hash, sizeof(server->password_hash));
  free(server);
}

void cs_web_server_stats(const cs_web_server_t *server, cs_web_stats_t *out) {
  memset(out, 0, sizeof(*out));
  out->connections = server->conn_count;
  out->streams = server->stream_count;
  out->requests = server->requests;
  out->refused = server->refused;
  for (uint32_t i = 0; i < CS_WEB_SESSIONS_MAX; i++) out->sessions += server->sessions[i].used;
  for (const cs_web__conn_t *c = server->conns; c; c = c->next) {
    out->paused += c->paused;
    if (c->queued > out->queued_bytes_max) out->queued_bytes_max = c->queued;
  }
}

/* ---- Connections without a socket (the fuzz harness). ------------------- */

cs_web__conn_t *cs_web__fake_open(cs_web_server_t *server, void (*out)(void *ctx, const char *data, size_t len),
                                  void *ctx) {
  cs_web__conn_t *conn = conn_new(server);
  if (!conn) return NULL;
  conn->fake_out = out;
  conn->fake_ctx = ctx;
  snprintf(conn->peer, sizeof(conn->peer), "127.0.0.1");
  conn_update_reading(conn);
  cs_web__conn_rearm(conn);
  return conn;
}

size_t cs_web__fake_feed(cs_web__conn_t *conn, const char *data, size_t len) {
  if (conn->closing || !conn->reading) return 0;
  size_t room = sizeof(conn->in) - conn->in_len;
  size_t n = len < room ? len : room;
  memcpy(conn->in + conn->in_len, data, n);
  conn->in_len += n;
  conn_process(conn);
  return n;
}

void cs_web__fake_eof(cs_web__conn_t *conn) {
  if (!conn->closing) conn_eof(conn);
}

bool cs_web__fake_open_p(const cs_web__conn_t *conn) { return !conn->closing; }

void cs_web__conn_stream(cs_web__conn_t *conn) {
  conn->state = CONN_STREAM;
  conn->close_after = true;
  conn->server->stream_count++;
  /* Pipelined input after the stream's request is dropped. */
  conn->in_len = 0;
  conn_update_reading(conn);
  cs_web__conn_rearm(conn);
}
