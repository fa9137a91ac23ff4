/* Server-Sent Events: a handler turns its request into a stream on a
 * channel; cs_web_sse_publish sends an event to every stream of that
 * channel. Streams are bounded in count (CS_WEB_SSE_STREAMS_MAX) and each
 * in what it may hold queued (CS_WEB_SSE_QUEUE_MAX): a client that does
 * not keep up is closed, and its EventSource reconnects and reloads.
 *
 * | FRAME          | BYTES                                             |
 * |----------------|---------------------------------------------------|
 * | opening        | "retry: 3000\n\n" (reconnect after 3 s)           |
 * | event          | "event: NAME\n", "data: LINE\n" per line, "\n"    |
 * | keep-alive     | ": ping\n\n" every CS_WEB_SSE_PING_MS             | */
#include "tools/web/web_int.h"

#include <stdlib.h>
#include <string.h>

static bool channel_valid(const char *channel) {
  size_t len = strlen(channel);
  if (len == 0 || len > CS_WEB_CHANNEL_MAX) return false;
  for (size_t i = 0; i < len; i++)
    if (channel[i] <= 0x20 || channel[i] >= 0x7f) return false;
  return true;
}

void cs_web_sse_start(cs_web_request_t *req, const char *channel) {
  cs_web__conn_t *conn = req->conn;
  cs_web_server_t *server = conn->server;
  if (!channel_valid(channel)) {
    cs_web_respond_error(req, 500, "the event stream's channel name is malformed");
    return;
  }
  if (req->head || req->gone || conn->closing) {
    cs_web_respond(req, 200, "text/event-stream", NULL, 0);
    return;
  }
  if (server->stream_count >= CS_WEB_SSE_STREAMS_MAX) {
    char reason[64];
    snprintf(reason, sizeof(reason), "%d event streams are open already", CS_WEB_SSE_STREAMS_MAX);
    cs_web_header_add(req, "Retry-After", "10");
    cs_web_respond_error(req, 503, reason);
    return;
  }
  size_t max = 256 + sizeof(CS_WEB_SECURITY_HEADERS) + req->response_headers_len;
  char *head = malloc(max);
  if (!head) {
    cs_web_respond_error(req, 503, "out of memory for an event stream");
    return;
  }
  size_t n = (size_t)snprintf(head, max,
                              "HTTP/1.1 200 OK\r\n" CS_WEB_SECURITY_HEADERS "Content-Type: text/event-stream\r\n"
                              "Cache-Control: no-store\r\nConnection: close\r\n");
  memcpy(head + n, req->response_headers, req->response_headers_len);
  n += req->response_headers_len;
  n += (size_t)snprintf(head + n, max - n, "\r\nretry: 3000\n\n");
  req->answered = true;
  server->requests++;
  snprintf(conn->channel, sizeof(conn->channel), "%s", channel);
  cs_web__conn_stream(conn);
  cs_web__conn_write(conn, head, n, NULL, 0);
}

void cs_web__sse_ping(cs_web__conn_t *conn) {
  static const char ping[] = ": ping\n\n";
  if (conn->queued + sizeof(ping) > CS_WEB_SSE_QUEUE_MAX) {
    cs_web__log(conn->server, CS_WEB_LOG_WARN, "web: %s: event stream closed: %zu bytes not taken", conn->peer,
                conn->queued);
    cs_web__conn_close(conn);
    return;
  }
  cs_web__conn_write(conn, NULL, 0, ping, sizeof(ping) - 1);
}

int cs_web_sse_publish(cs_web_server_t *server, const char *channel, const char *event, const char *data) {
  size_t data_len = strlen(data);
  if (data_len > CS_WEB_SSE_EVENT_MAX) return -1;
  if (event && (strlen(event) > 64 || strpbrk(event, "\r\n") || !event[0])) return -1;
  /* Each line costs at most 7 bytes of framing ("data: " and "\n"). */
  size_t lines = 1;
  for (size_t i = 0; i < data_len; i++) lines += data[i] == '\n' || data[i] == '\r';
  size_t max = 80 + data_len + 7 * lines;
  char *frame = malloc(max);
  if (!frame) return -1;
  size_t n = 0;
  if (event) n += (size_t)snprintf(frame, max, "event: %s\n", event);
  const char *p = data, *end = data + data_len;
  for (;;) {
    const char *eol = p;
    while (eol < end && *eol != '\n' && *eol != '\r') eol++;
    memcpy(frame + n, "data: ", 6);
    n += 6;
    memcpy(frame + n, p, (size_t)(eol - p));
    n += (size_t)(eol - p);
    frame[n++] = '\n';
    if (eol == end) break;
    p = eol + (eol[0] == '\r' && eol + 1 < end && eol[1] == '\n' ? 2 : 1);
  }
  frame[n++] = '\n';
  int sent = 0;
  for (cs_web__conn_t *conn = server->conns, *next; conn; conn = next) {
    next = conn->next;
    if (conn->state != CONN_STREAM || conn->closing || strcmp(conn->channel, channel) != 0) continue;
    if (conn->queued + n > CS_WEB_SSE_QUEUE_MAX) {
      cs_web__log(server, CS_WEB_LOG_WARN, "web: %s: event stream closed: %zu bytes not taken", conn->peer,
                  conn->queued);
      cs_web__conn_close(conn);
      continue;
    }
    char *copy = malloc(n);
    if (!copy) {
      cs_web__conn_close(conn);
      continue;
    }
    memcpy(copy, frame, n);
    cs_web__conn_write(conn, copy, n, NULL, 0);
    sent++;
  }
  free(frame);
  return sent;
}
