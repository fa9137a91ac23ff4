/* The node's event loop: listener, dialer, handshake, box-stream framing,
 * backpressure, live push, reconnect with backoff, clean shutdown.
 *
 * On the wire, after TCP connects:
 *
 * | STEP | FROM   | BYTES      | WHAT                                          |
 * |------|--------|------------|-----------------------------------------------|
 * | 1    | server | 32         | server's Ed25519 key, so a client that knows  |
 * |      |        |            | only HOST:PORT can run the handshake           |
 * | 2    | both   | 64,64,112,80 | Secret Handshake v1 (shs1), network key =   |
 * |      |        |            | a club's secret network key: the server tries |
 * |      |        |            | each club it serves; the hello's club is the  |
 * |      |        |            | connection's                                  |
 * | 3    | both   | boxes      | box-stream: 34-byte header + body <= 4096     |
 *
 * Inside the box-stream, each sync message is a u32 big-endian length (at
 * most CS_SYNC_MESSAGE_MAX, checked before allocating) and the message. */
#include "net/node.h"

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>
#include <uv.h>

#include "core/boxstream.h"
#include "core/shs1.h"
#include "core/sync.h"
#include "store/sync_io.h"

typedef enum { PHASE_GREETING, PHASE_HANDSHAKE, PHASE_SYNC } phase_t;

#define CS__IN_MAX (2 * (34 + 4096))
#define CS__FROM_PEER_MAX 16

typedef struct cs_node_s cs_node_t;

typedef struct conn_s {
  cs_node_t *node;
  uv_tcp_t tcp;
  uv_timer_t timer;
  int handles;
  bool closing;
  bool outbound;
  int peer_slot; /* index in node->peers for outbound connections, else -1 */
  int club;      /* index in cfg->clubs: the dialed peer's, or the one the client hello used; -1 before */
  bool counted;  /* once: its counters were added to the result */
  char address[280];
  phase_t phase;
  bool hs_lazy; /* inbound: the handshake state is made when the first bytes arrive */
  cs_shs1_t hs;
  uint8_t in[CS__IN_MAX];
  size_t in_len;
  cs_boxstream_enc_t enc;
  cs_boxstream_dec_t dec;
  bool have_header;
  size_t body_len;
  uint8_t mac[16];
  uint8_t len_buf[4];
  size_t len_have;
  uint8_t *msg;
  size_t msg_len, msg_have;
  cs_store_sync_t x;
  cs_sync_io_t io;
  cs_sync_t sync;
  bool sync_started;
  bool caught_up_logged;
  uint64_t progress_at; /* loop time of the last progress line, ms */
  uint64_t other_club_reported;    /* changes of another club refused and logged so far */
  uint64_t other_club_reported_at; /* loop time of that line, ms */
  bool check_sent;
  size_t queued;        /* bytes handed to libuv and not yet written, with each request's own size */
  bool reading_paused;  /* queued went over CS_NODE_QUEUE_MAX: nothing is read until it drains */
  bool rate_paused;     /* requests over their rate: nothing is read until the timer */
  bool reading;         /* libuv is reading this connection */
  int64_t request_tokens;  /* requests the peer may still make now, in thousandths */
  uint64_t request_at;     /* loop time the tokens were counted at, ms */
  uint64_t requests_seen;  /* sync.checks_answered when they were */
  uint64_t pushed_upto;
  struct {
    uint64_t lo, hi;
  } from_peer[CS__FROM_PEER_MAX];
  int from_count;
  uint8_t peer_key[32];
  uint64_t bytes_sent, bytes_received;
  uint32_t round_trips;      /* reads that answered something we had sent */
  bool sent_since_read;
  uint64_t opened_at;     /* loop time it was accepted or dialed, ms: the oldest handshake is evicted first */
  uint64_t active_at;     /* loop time of its last sync progress, ms (the idle timeout) */
  uint64_t progress_seen; /* the progress count at active_at (conn_progress) */
  uint32_t sync_round_trips; /* until caught up, without the final check */
  uint64_t sync_bytes;       /* both ways, until caught up */
} conn_t;

/* A refusal repeated by a flood is logged at most once per
 * CS_NODE_REPORT_MS, with how many happened since the last line. */
typedef struct report_s {
  uint64_t count; /* since the last line */
  uint64_t at;    /* loop time of the last line, ms; 0 before the first */
} report_t;

typedef struct peer_slot_s {
  char host[256];
  int port;
  uint32_t club; /* dialed with this club's network key */
  conn_t *conn;
  uv_timer_t retry;
  uint32_t backoff_ms;
  bool finished; /* once: synced or failed for good */
  /* The host is looked up each time it is dialed (a name may move); the
   * addresses found are tried in turn before the backoff. */
  uv_getaddrinfo_t *resolving;
  struct addrinfo *addrs, *next_addr;
} peer_slot_t;

struct cs_node_s {
  const cs_node_config_t *cfg;
  cs_node_result_t *result;
  uv_loop_t loop;
  uv_tcp_t listener;
  bool listening;
  uv_signal_t sigint, sigterm;
  uv_timer_t poll;
  uv_prepare_t turn;       /* before each poll: resets the accept budget, takes a deferred connection */
  int accepts_this_turn;   /* at CS_NODE_ACCEPTS_PER_TURN, the next connection waits for the next turn */
  bool accept_deferred;    /* a connection waits in the listener (libuv stopped watching it) */
  conn_t *conns[CS_NODE_CONNECTIONS_MAX];
  report_t refused;        /* connections refused: no room left even for closing ones */
  report_t evicted;        /* handshakes closed for a newer one */
  report_t sessions_full;  /* handshakes refused: every session slot taken */
  int conn_count;
  peer_slot_t peers[CS_NODE_PEERS_MAX];
  uint64_t last_txnid;
  bool stopping;
  uint8_t (*netkeys)[32]; /* every club's network key, in cfg->clubs order, for the server's handshake */
  bool status_dirty;      /* a connection's counters moved since serve.status was written */
};

static void node_log(cs_node_t *node, cs_log_level_t level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void node_log(cs_node_t *node, cs_log_level_t level, const char *fmt, ...) {
  if (level > node->cfg->log_level) return;
  static const char *const names[] = {"error", "warning", "info", "debug"};
  char when[32];
  time_t now = time(NULL);
  struct tm tm;
  gmtime_r(&now, &tm);
  strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
  va_list ap;
  fprintf(stderr, "%s clubsync %s: ", when, names[level]);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
}

static void key_short(const uint8_t key[32], char out[17]) {
  char hex[65];
  cs_hex32(key, hex);
  memcpy(out, hex, 16);
  out[16] = '\0';
}

bool cs_node_parse_address(const char *text, char *host, size_t host_len, int *port) {
  const char *colon = strrchr(text, ':');
  if (!colon || colon == text) return false;
  size_t n = (size_t)(colon - text);
  const char *start = text;
  if (text[0] == '[' && n >= 2 && text[n - 1] == ']') {
    start = text + 1;
    n -= 2;
  }
  if (n == 0 || n >= host_len) return false;
  /* Digits only: strtol would also take "", " 7", "+7" and "-0". */
  const char *digits = colon + 1;
  size_t count = strspn(digits, "0123456789");
  if (count == 0 || count > 5 || digits[count] != '\0') return false;
  long p = strtol(digits, NULL, 10);
  if (p > 65535) return false;
  memcpy(host, start, n);
  host[n] = '\0';
  *port = (int)p;
  return true;
}

/* Replaces PATH with one line, through a rename, so a reader never sees half of it. */
static void node_write_line(const char *path, const char *line) {
  char tmp[4200];
  snprintf(tmp, sizeof(tmp), "%s.tmp", path);
  FILE *f = fopen(tmp, "w");
  if (!f) return;
  bool written = fprintf(f, "%s\n", line) >= 0;
  if (fclose(f) != 0 || !written || rename(tmp, path) != 0) remove(tmp);
}

/* serve.status, for `status` (docs/store.md, "The home"): the serving
 * process, then one line per connection past the handshake, with its club
 * and what it carried:
 *   serve PID
 *   conn CLUB KEY ADDRESS in|out live|syncing SENT RECEIVED OTHER_CLUB
 * SENT and RECEIVED count changes of the connection's club; OTHER_CLUB the
 * changes of another club the peer sent on it, refused. */
static void node_write_status(cs_node_t *node) {
  if (!node->cfg->status_path) return;
  node->status_dirty = false;
  char tmp[4200];
  snprintf(tmp, sizeof(tmp), "%s.tmp", node->cfg->status_path);
  FILE *f = fopen(tmp, "w");
  if (!f) return;
  fprintf(f, "serve %ld\n", (long)getpid());
  for (int i = 0; i < node->conn_count; i++) {
    conn_t *c = node->conns[i];
    if (c->phase != PHASE_SYNC || c->club < 0) continue;
    char key[65], club[65];
    cs_hex32(c->peer_key, key);
    cs_hex32(node->cfg->clubs[c->club].id, club);
    fprintf(f, "conn %s %s %s %s %s %llu %llu %llu\n", club, key, c->address, c->outbound ? "out" : "in",
            cs_sync_caught_up(&c->sync) ? "live" : "syncing", (unsigned long long)c->sync.changes_sent,
            (unsigned long long)c->sync.changes_received, (unsigned long long)c->sync.changes_other_club);
  }
  bool written = !ferror(f);
  if (fclose(f) != 0 || !written || rename(tmp, node->cfg->status_path) != 0) remove(tmp);
}

/* A session that caught up is the club's last sync, kept after the process
 * ends (for `status`): "WHEN ADDRESS KEY", in UTC. */
static void node_mark_synced(cs_node_t *node, const conn_t *c) {
  const char *path = node->cfg->clubs[c->club].last_sync_path;
  if (path) {
    char when[32], key[65], line[400];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
    cs_hex32(c->peer_key, key);
    snprintf(line, sizeof(line), "%s %s %s", when, c->address, key);
    node_write_line(path, line);
  }
  node_write_status(node);
}

static void conn_close(conn_t *c, const char *why);
static bool node_admit_session(cs_node_t *node, conn_t *c, const uint8_t key[32]);
static void conn_report_other_club(conn_t *c, bool now);
static void node_maybe_finish(cs_node_t *node);
static void peer_schedule(cs_node_t *node, int slot);

/* Writes ---------------------------------------------------------------- */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf);

/* Reads while nothing holds reading back: a full queue, or requests over
 * their rate. */
static void conn_read_update(conn_t *c) {
  if (c->closing) return;
  bool want = !c->reading_paused && !c->rate_paused;
  if (want == c->reading) return;
  c->reading = want;
  if (want) uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
  else uv_read_stop((uv_stream_t *)&c->tcp);
}

static void on_rate_resume(uv_timer_t *t) {
  conn_t *c = t->data;
  c->rate_paused = false;
  conn_read_update(c);
}

/* A token bucket on the peer's requests (CHECKs; the other messages each
 * come once a session or carry changes): CS_NODE_REQUESTS_PER_S a second
 * after a burst of CS_NODE_REQUESTS_BURST. Requests are counted after they
 * were answered (one read may hold a few hundred); when the bucket is in
 * debt, reading pauses until it is paid. */
static void conn_rate_limit(conn_t *c) {
  uint64_t now = uv_now(&c->node->loop);
  uint64_t used = c->sync.checks_answered - c->requests_seen;
  c->requests_seen = c->sync.checks_answered;
  c->request_tokens += (int64_t)((now - c->request_at) * CS_NODE_REQUESTS_PER_S);
  if (c->request_tokens > CS_NODE_REQUESTS_BURST * 1000) c->request_tokens = CS_NODE_REQUESTS_BURST * 1000;
  c->request_at = now;
  c->request_tokens -= (int64_t)used * 1000;
  if (c->request_tokens >= 0 || c->closing) return;
  c->rate_paused = true;
  conn_read_update(c);
  uv_timer_start(&c->timer, on_rate_resume, (uint64_t)(-c->request_tokens) / CS_NODE_REQUESTS_PER_S + 1, 0);
}

typedef struct write_req_s {
  uv_write_t req;
  conn_t *conn;
  size_t len;
  uint8_t data[];
} write_req_t;

static void on_write(uv_write_t *req, int status) {
  write_req_t *w = (write_req_t *)req;
  conn_t *c = w->conn;
  c->queued -= sizeof(*w) + w->len;
  free(w);
  if (status < 0) {
    conn_close(c, uv_strerror(status));
    return;
  }
  /* Reading resumes once the peer has taken the queue down to where
   * production stops. */
  if (c->reading_paused && c->queued <= CS_NODE_QUEUE_HIGH) {
    c->reading_paused = false;
    conn_read_update(c);
  }
  if (!c->closing && c->phase == PHASE_SYNC && c->sync.sending && c->queued < CS_NODE_QUEUE_HIGH) {
    bool more;
    int err = cs_sync_pump(&c->sync, CS_NODE_QUEUE_HIGH - c->queued, &more);
    c->node->status_dirty = true;
    if (err) conn_close(c, cs_strerror(err));
  }
}

static int conn_write_raw(conn_t *c, const uint8_t *data, size_t len) {
  if (c->closing) return CS_ECLOSED;
  write_req_t *w = malloc(sizeof(*w) + len);
  if (!w) return CS_ENOMEM;
  memcpy(w->data, data, len);
  w->conn = c;
  w->len = len;
  uv_buf_t buf = uv_buf_init((char *)w->data, (unsigned)len);
  int rc = uv_write(&w->req, (uv_stream_t *)&c->tcp, &buf, 1, on_write);
  if (rc < 0) {
    free(w);
    return CS_EIO;
  }
  c->queued += sizeof(*w) + len;
  /* Backpressure both ways: a peer that sends requests without reading the
   * answers stops being read, so its answers cannot pile up here. */
  if (c->queued > CS_NODE_QUEUE_MAX && !c->reading_paused) {
    c->reading_paused = true;
    conn_read_update(c);
  }
  return CS_OK;
}

/* Sends one sync message: length-prefixed, cut into sealed boxes. */
static int conn_send_message(void *ctx, cs_span_t message) {
  conn_t *c = ctx;
  if (c->closing) return CS_ECLOSED;
  size_t plain_len = 4 + message.len;
  size_t boxes = (plain_len + 4095) / 4096;
  size_t total = plain_len + boxes * 34;
  uint8_t *plain = malloc(plain_len), *sealed = malloc(total);
  if (!plain || !sealed) {
    free(plain);
    free(sealed);
    return CS_ENOMEM;
  }
  plain[0] = (uint8_t)(message.len >> 24);
  plain[1] = (uint8_t)(message.len >> 16);
  plain[2] = (uint8_t)(message.len >> 8);
  plain[3] = (uint8_t)message.len;
  memcpy(plain + 4, message.ptr, message.len);
  size_t at = 0, out = 0;
  int err = CS_OK;
  while (at < plain_len && !err) {
    size_t n = plain_len - at < 4096 ? plain_len - at : 4096;
    if (cs_boxstream_seal(&c->enc, plain + at, n, sealed + out, total - out) != 0) err = CS_EPROTO;
    at += n;
    out += 34 + n;
  }
  if (!err) err = conn_write_raw(c, sealed, out);
  if (!err) c->bytes_sent += out;
  c->sent_since_read = true;
  free(plain);
  free(sealed);
  return err;
}

/* Closing ---------------------------------------------------------------- */

static void on_handle_closed(uv_handle_t *h) {
  conn_t *c = h->data;
  if (--c->handles > 0) return;
  cs_node_t *node = c->node;
  for (int i = 0; i < node->conn_count; i++)
    if (node->conns[i] == c) {
      node->conns[i] = node->conns[--node->conn_count];
      break;
    }
  int slot = c->peer_slot;
  if (slot >= 0 && node->peers[slot].conn == c) node->peers[slot].conn = NULL;
  if (c->sync_started) cs_sync_free(&c->sync);
  cs_shs1_wipe(&c->hs);
  cs_boxstream_enc_wipe(&c->enc);
  cs_boxstream_dec_wipe(&c->dec);
  free(c->msg);
  bool was_session = c->sync_started;
  free(c);
  /* serve.status lists sessions only: a handshake that ends changes nothing
   * there, and a flood of them must not cost a file write each. */
  if (was_session) node_write_status(node);
  if (slot >= 0 && !node->stopping) peer_schedule(node, slot);
  node_maybe_finish(node);
}

static void conn_close(conn_t *c, const char *why) {
  if (c->closing) return;
  c->closing = true;
  if (c->phase == PHASE_SYNC) {
    /* What was received is acknowledged only once committed. */
    int err = cs_store_sync_flush(&c->x);
    if (err) node_log(c->node, CS_LOG_ERROR, "cannot commit changes from %s: %s", c->address, cs_strerror(err));
    conn_report_other_club(c, true);
  }
  cs_node_t *node = c->node;
  if (c->phase == PHASE_SYNC && c->club >= 0) {
    /* What the connection carried, for the log and for `sync`'s result. */
    char who[17];
    key_short(c->peer_key, who);
    node_log(node, CS_LOG_INFO, "connection with %s (%s) for club %s ends: %llu changes sent, %llu received, %llu of "
             "another club refused", who, c->address, node->cfg->clubs[c->club].label,
             (unsigned long long)c->sync.changes_sent, (unsigned long long)c->sync.changes_received,
             (unsigned long long)c->sync.changes_other_club);
    if (node->cfg->once && !c->counted) {
      c->counted = true;
      /* After a reconnect, what this session expected comes on top of
       * what the earlier ones brought. */
      if (c->sync.expected_known) {
        node->result->changes_expected = node->result->changes_received + c->sync.changes_expected;
        node->result->expected_known = true;
      }
      node->result->bytes_sent += c->bytes_sent;
      node->result->bytes_received += c->bytes_received;
      node->result->changes_received += c->sync.changes_received;
      node->result->changes_sent += c->sync.changes_sent;
      node->result->round_trips += c->sync_round_trips;
      node->result->sync_bytes += c->sync_bytes;
    }
  }
  if (why) node_log(node, CS_LOG_INFO, "closed connection with %s: %s", c->address, why);
  uv_close((uv_handle_t *)&c->timer, on_handle_closed);
  uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
}

/* Membership ------------------------------------------------------------- */

/* Whether a key may sync with us in a club: a member of it with any role.
 * A node that holds no data for the club yet (joined by invite) accepts any
 * key that completed the handshake with the club's network key. */
static bool node_accepts(cs_node_t *node, int club_index, const uint8_t key[32]) {
  cs_txn_t txn;
  cs_club_info_t info;
  const uint8_t *club = node->cfg->clubs[club_index].id;
  if (cs_store_begin(node->cfg->store, false, &txn) != CS_OK) return false;
  bool accept = true;
  if (cs_store_club_get(&txn, club, &info) == CS_OK) {
    cs_member_t *m = malloc(sizeof(*m));
    accept = m && cs_store_member_get(&txn, club, key, m) == CS_OK &&
             cs_member_role_at(m, cs_store_author_seq(&txn, club, key, NULL) + 1) != CS_ROLE_NONE;
    free(m);
  }
  cs_store_abort(&txn);
  return accept;
}

/* Sync ------------------------------------------------------------------- */

/* A batch this connection committed stored arrivals (lo, hi]: they came
 * from its peer and are never pushed back to it. */
static void conn_on_stored(void *ctx, uint64_t lo, uint64_t hi) {
  conn_t *c = ctx;
  if (hi <= lo) return;
  if (c->from_count > 0 && c->from_peer[c->from_count - 1].hi == lo) {
    c->from_peer[c->from_count - 1].hi = hi;
    return;
  }
  if (c->from_count == CS__FROM_PEER_MAX) {
    memmove(&c->from_peer[0], &c->from_peer[1], (CS__FROM_PEER_MAX - 1) * sizeof(c->from_peer[0]));
    c->from_count--;
  }
  c->from_peer[c->from_count].lo = lo;
  c->from_peer[c->from_count].hi = hi;
  c->from_count++;
}

static uint64_t node_arrival_last(cs_node_t *node) {
  cs_txn_t txn;
  uint64_t last = 0;
  if (cs_store_begin(node->cfg->store, false, &txn) == CS_OK) {
    last = cs_store_arrival_last(&txn);
    cs_store_abort(&txn);
  }
  return last;
}

static void conn_start_sync(conn_t *c) {
  const cs_shs1_session_t *session = cs_shs1_session(&c->hs);
  memcpy(c->peer_key, session->peer_pk, 32);
  if (cs_boxstream_enc_init(&c->enc, session->enc_key, session->enc_nonce) != 0 ||
      cs_boxstream_dec_init(&c->dec, session->dec_key, session->dec_nonce) != 0) {
    conn_close(c, "cannot set up encryption");
    return;
  }
  cs_shs1_wipe(&c->hs);
  char who[17];
  key_short(c->peer_key, who);
  const cs_node_club_t *club = &c->node->cfg->clubs[c->club];
  if (c->outbound && !node_accepts(c->node, c->club, c->peer_key)) {
    node_log(c->node, CS_LOG_WARN, "refused %s at %s: that key is not a member of club %s; ask an admin to add it",
             who, c->address, club->label);
    conn_close(c, NULL);
    return;
  }
  c->phase = PHASE_SYNC;
  c->active_at = uv_now(&c->node->loop);
  c->request_at = c->active_at;
  c->request_tokens = CS_NODE_REQUESTS_BURST * 1000;
  c->pushed_upto = node_arrival_last(c->node);
  cs_store_sync_init(&c->x, c->node->cfg->store, club->id, conn_send_message, c, &c->io);
  c->x.stored = conn_on_stored;
  cs_sync_init(&c->sync, club->id, &c->io);
  c->sync_started = true;
  node_log(c->node, CS_LOG_INFO, "connected to %s (%s, %s) for club %s", who, c->address,
           c->outbound ? "outgoing" : "incoming", club->label);
  int err = cs_sync_start(&c->sync);
  if (err) conn_close(c, cs_strerror(err));
  node_write_status(c->node);
}

static bool conn_from_peer(const conn_t *c, uint64_t arrival) {
  for (int i = 0; i < c->from_count; i++)
    if (arrival > c->from_peer[i].lo && arrival <= c->from_peer[i].hi) return true;
  return false;
}

typedef struct push_ctx_s {
  conn_t *conn;
  int err;
  bool stopped;
} push_ctx_t;

static int push_each(uint64_t arrival, const uint8_t id[CS_ID_LEN], cs_span_t bytes, void *vctx) {
  push_ctx_t *p = vctx;
  (void)id;
  conn_t *c = p->conn;
  if (c->queued >= CS_NODE_QUEUE_HIGH) {
    p->stopped = true; /* backpressure: resume on the next poll */
    return CS_STOP;
  }
  if (!conn_from_peer(c, arrival) && (p->err = cs_sync_push(&c->sync, bytes))) return p->err;
  c->pushed_upto = arrival;
  return 0;
}

/* The sync machine refuses a change of another club than the connection's
 * (core/sync.h); the node says so in one line with the count, at most once
 * per CS_NODE_REPORT_MS per connection (`now` forces it, at the close), so a
 * peer that streams thousands of them does not flood the log. */
static void conn_report_other_club(conn_t *c, bool now) {
  uint64_t count = c->sync.changes_other_club - c->other_club_reported;
  uint64_t at = uv_now(&c->node->loop);
  if (!c->sync_started || count == 0) return;
  if (!now && c->other_club_reported_at != 0 && at - c->other_club_reported_at < CS_NODE_REPORT_MS) return;
  char who[17];
  key_short(c->peer_key, who);
  node_log(c->node, CS_LOG_WARN,
           "refused %llu changes of another club from %s (%s): this connection is for club %s and carries only "
           "its changes",
           (unsigned long long)count, who, c->address, c->node->cfg->clubs[c->club].label);
  c->other_club_reported = c->sync.changes_other_club;
  c->other_club_reported_at = at ? at : 1;
}

/* Pushes what was stored since the last push to a caught-up connection:
 * every arrival is offered, and the sync machine sends only those of the
 * connection's club. */
static void conn_push_new(conn_t *c) {
  if (c->closing || c->phase != PHASE_SYNC || !cs_sync_caught_up(&c->sync)) return;
  cs_txn_t txn;
  if (cs_store_begin(c->node->cfg->store, false, &txn) != CS_OK) return;
  push_ctx_t p = {c, CS_OK, false};
  int err = cs_store_arrivals_since(&txn, c->pushed_upto, push_each, &p);
  cs_store_abort(&txn);
  c->node->status_dirty = true;
  if (p.err) err = p.err;
  if (err) conn_close(c, cs_strerror(err));
}

/* Commits what this connection received; false when it had to close. */
static bool conn_commit(conn_t *c) {
  bool had_batch = c->x.write_open;
  int err = cs_store_sync_flush(&c->x);
  if (err) {
    node_log(c->node, CS_LOG_ERROR, "cannot store changes from %s: %s", c->address, cs_strerror(err));
    conn_close(c, NULL);
    return false;
  }
  if (had_batch && c->node->cfg->on_commit) c->node->cfg->on_commit();
  return true;
}

static void conn_after_messages(conn_t *c) {
  cs_node_t *node = c->node;
  if (c->closing) return;
  node->status_dirty = true;
  /* While the peer is still streaming its backlog, the batch stays open
   * across reads and commits when full (or at the next poll tick): one
   * commit, and its fsyncs, per 512 changes rather than per message. */
  if (c->sync.done_received && !conn_commit(c)) return;
  int err;
  if (c->x.rejected) {
    node_log(node, CS_LOG_WARN, "%s sent %llu invalid changes (last: %s); they were refused", c->address,
             (unsigned long long)c->x.rejected, cs_strerror(c->x.last_reject_reason));
    c->x.rejected = 0;
  }
  conn_report_other_club(c, false);
  bool more;
  if (c->sync.sending && c->queued < CS_NODE_QUEUE_HIGH &&
      (err = cs_sync_pump(&c->sync, CS_NODE_QUEUE_HIGH - c->queued, &more))) {
    conn_close(c, cs_strerror(err));
    return;
  }
  if (cs_sync_caught_up(&c->sync) && !c->caught_up_logged) {
    c->caught_up_logged = true;
    char who[17];
    key_short(c->peer_key, who);
    node_log(node, CS_LOG_INFO, "in sync with %s for club %s: received %llu changes, sent %llu", who,
             node->cfg->clubs[c->club].label, (unsigned long long)c->sync.changes_received,
             (unsigned long long)c->sync.changes_sent);
    node_mark_synced(node, c);
    conn_push_new(c);
    if (node->cfg->once && c->outbound && !c->check_sent) {
      /* Round trips and bytes of the sync itself; the final check is extra. */
      c->sync_round_trips = c->round_trips;
      c->sync_bytes = c->bytes_sent + c->bytes_received;
      c->check_sent = true;
      if ((err = cs_sync_check(&c->sync))) conn_close(c, cs_strerror(err));
    }
  }
  if (node->cfg->once && c->check_sent && c->sync.check_answered) {
    if (!c->sync.check_equal)
      snprintf(node->result->reason, sizeof(node->result->reason),
               "%s still holds other changes (some may be invalid or waiting for missing ones)", c->address);
    if (c->peer_slot >= 0) node->peers[c->peer_slot].finished = true;
    conn_close(c, NULL);
  }
}

/* Feeds decrypted bytes into the message assembler. */
static int conn_plain(conn_t *c, const uint8_t *p, size_t n) {
  while (n > 0) {
    if (!c->msg) {
      size_t take = 4 - c->len_have < n ? 4 - c->len_have : n;
      memcpy(c->len_buf + c->len_have, p, take);
      c->len_have += take;
      p += take;
      n -= take;
      if (c->len_have < 4) break;
      size_t len = (size_t)c->len_buf[0] << 24 | (size_t)c->len_buf[1] << 16 | (size_t)c->len_buf[2] << 8 |
                   c->len_buf[3];
      if (len == 0 || len > CS_SYNC_MESSAGE_MAX) return CS_ETOOBIG; /* before allocating */
      c->msg = malloc(len);
      if (!c->msg) return CS_ENOMEM;
      c->msg_len = len;
      c->msg_have = 0;
      continue;
    }
    size_t take = c->msg_len - c->msg_have < n ? c->msg_len - c->msg_have : n;
    memcpy(c->msg + c->msg_have, p, take);
    c->msg_have += take;
    p += take;
    n -= take;
    if (c->msg_have < c->msg_len) break;
    cs_span_t message = {c->msg, c->msg_len};
    int err = cs_sync_receive(&c->sync, message);
    free(c->msg);
    c->msg = NULL;
    c->len_have = 0;
    if (err) return err;
    if (c->closing) return CS_ECLOSED;
  }
  return CS_OK;
}

/* Consumes whole boxes from the input buffer. */
static int conn_boxes(conn_t *c) {
  size_t at = 0;
  int err = CS_OK;
  for (;;) {
    if (!c->have_header) {
      if (c->in_len - at < 34) break;
      int rc = cs_boxstream_open_header(&c->dec, c->in + at, &c->body_len, c->mac);
      if (rc == -CS_ECLOSED) {
        err = CS_ECLOSED;
        break;
      }
      if (rc != 0) {
        err = CS_EPROTO;
        break;
      }
      at += 34;
      c->have_header = true;
    }
    if (c->in_len - at < c->body_len) break;
    uint8_t plain[4096];
    if (cs_boxstream_open_body(&c->dec, c->mac, c->in + at, c->body_len, plain, sizeof(plain)) != 0) {
      err = CS_EPROTO;
      break;
    }
    at += c->body_len;
    c->have_header = false;
    if ((err = conn_plain(c, plain, c->body_len))) break;
  }
  memmove(c->in, c->in + at, c->in_len - at);
  c->in_len -= at;
  return err;
}

/* Handshake -------------------------------------------------------------- */

static void conn_handshake_step(conn_t *c) {
  for (;;) {
    size_t len;
    cs_shs1_next_t next = cs_shs1_next(&c->hs, &len);
    if (next == CS_SHS1_DONE) {
      uv_timer_stop(&c->timer);
      conn_start_sync(c);
      if (!c->closing && c->in_len > 0) {
        int err = conn_boxes(c);
        if (err) conn_close(c, cs_strerror(err));
        else conn_after_messages(c);
      }
      return;
    }
    if (next == CS_SHS1_FAILED) {
      conn_close(c, "handshake failed (a key of no club served here, or not a clubsync node)");
      return;
    }
    if (next == CS_SHS1_SEND) {
      /* The server learns the client's key with message 3 and refuses a
       * non-member before confirming the handshake. */
      if (!c->outbound) {
        const uint8_t *peer = cs_shs1_peer_pk(&c->hs);
        if (peer && !node_accepts(c->node, c->club, peer)) {
          char who[17];
          key_short(peer, who);
          node_log(c->node, CS_LOG_WARN,
                   "refused %s from %s: that key is not a member of club %s; ask an admin to add it", who, c->address,
                   c->node->cfg->clubs[c->club].label);
          conn_close(c, NULL);
          return;
        }
        if (peer && !node_admit_session(c->node, c, peer)) {
          conn_close(c, NULL);
          return;
        }
      }
      uint8_t out[128];
      if (cs_shs1_produce(&c->hs, out, sizeof(out)) != 0 || conn_write_raw(c, out, len) != CS_OK) {
        conn_close(c, "handshake failed");
        return;
      }
      continue;
    }
    if (c->in_len < len) return;
    int rc = cs_shs1_consume(&c->hs, c->in, len);
    memmove(c->in, c->in + len, c->in_len - len);
    c->in_len -= len;
    if (rc != 0) {
      if (c->outbound)
        conn_close(c, "handshake failed: the peer does not have this club's network key");
      else
        conn_close(c, "handshake failed: the peer used the network key of no club served here");
      return;
    }
    /* The client hello tells which club this connection is for. */
    if (!c->outbound && c->club < 0) c->club = cs_shs1_netkey_index(&c->hs);
  }
}

static void conn_begin_client(conn_t *c, const uint8_t server_key[32]) {
  uint8_t eph[32];
  randombytes_buf(eph, sizeof(eph));
  int rc = cs_shs1_client_init(&c->hs, c->node->cfg->clubs[c->club].network_key, c->node->cfg->secret_key, eph,
                               server_key);
  sodium_memzero(eph, sizeof(eph));
  if (rc != 0) {
    conn_close(c, "cannot start the handshake");
    return;
  }
  c->phase = PHASE_HANDSHAKE;
  conn_handshake_step(c);
}

/* Reading ----------------------------------------------------------------- */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  (void)suggested;
  conn_t *c = h->data;
  buf->base = (char *)c->in + c->in_len;
  buf->len = sizeof(c->in) - c->in_len;
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf) {
  (void)buf;
  conn_t *c = stream->data;
  if (nread < 0) {
    conn_close(c, nread == UV_EOF ? "the peer closed the connection" : uv_strerror((int)nread));
    return;
  }
  if (nread == 0 || c->closing) return;
  c->in_len += (size_t)nread;
  if (c->phase == PHASE_GREETING) {
    if (c->in_len < 32) return;
    uint8_t server_key[32];
    memcpy(server_key, c->in, 32);
    memmove(c->in, c->in + 32, c->in_len - 32);
    c->in_len -= 32;
    conn_begin_client(c, server_key);
    return;
  }
  if (c->phase == PHASE_HANDSHAKE) {
    if (c->hs_lazy) {
      c->hs_lazy = false;
      uint8_t eph[32];
      randombytes_buf(eph, sizeof(eph));
      int rc = cs_shs1_server_init_keys(&c->hs, (const uint8_t(*)[32])c->node->netkeys, c->node->cfg->club_count,
                                        c->node->cfg->secret_key, eph);
      sodium_memzero(eph, sizeof(eph));
      if (rc != 0) {
        conn_close(c, "cannot start the handshake");
        return;
      }
    }
    conn_handshake_step(c);
    return;
  }
  c->bytes_received += (size_t)nread;
  int err = conn_boxes(c);
  if (err) {
    char who[17];
    key_short(c->peer_key, who);
    if (err == CS_ECLOSED) conn_close(c, "the peer said goodbye");
    else {
      node_log(c->node, CS_LOG_WARN, "%s (%s) broke the protocol (%s); disconnected", who, c->address,
               cs_strerror(err));
      conn_close(c, NULL);
    }
    return;
  }
  if (c->sent_since_read) {
    c->round_trips++;
    c->sent_since_read = false;
  }
  conn_after_messages(c);
  conn_rate_limit(c);
  /* A long initial sync says how far it got, every few seconds. */
  uint64_t now = uv_now(&c->node->loop);
  if (!c->closing && !cs_sync_caught_up(&c->sync) && c->sync.changes_received > 0 &&
      now - c->progress_at >= CS_NODE_PROGRESS_MS) {
    if (c->progress_at) {
      char who[17];
      key_short(c->peer_key, who);
      uint64_t of = c->sync.changes_expected > c->sync.changes_received ? c->sync.changes_expected
                                                                        : c->sync.changes_received;
      node_log(c->node, CS_LOG_INFO, "syncing with %s for club %s: %llu of %llu changes received so far", who,
               c->node->cfg->clubs[c->club].label, (unsigned long long)c->sync.changes_received,
               (unsigned long long)of);
    }
    c->progress_at = now;
  }
}

static void on_handshake_timeout(uv_timer_t *t) {
  conn_t *c = t->data;
  if (c->phase != PHASE_SYNC) conn_close(c, "handshake timed out");
}

static conn_t *conn_new(cs_node_t *node, bool outbound, int slot) {
  if (node->conn_count >= CS_NODE_CONNECTIONS_MAX) return NULL;
  conn_t *c = calloc(1, sizeof(*c));
  if (!c) return NULL;
  c->node = node;
  c->outbound = outbound;
  c->peer_slot = slot;
  c->club = slot >= 0 ? (int)node->peers[slot].club : -1;
  uv_tcp_init(&node->loop, &c->tcp);
  uv_timer_init(&node->loop, &c->timer);
  c->tcp.data = c;
  c->timer.data = c;
  c->handles = 2;
  c->opened_at = uv_now(&node->loop);
  node->conns[node->conn_count++] = c;
  uv_timer_start(&c->timer, on_handshake_timeout, CS_NODE_HANDSHAKE_TIMEOUT_MS, 0);
  return c;
}

static void conn_started(conn_t *c) {
  uv_tcp_nodelay(&c->tcp, 1);
  uv_tcp_keepalive(&c->tcp, 1, 30);
  conn_read_update(c);
}

/* Slots ------------------------------------------------------------------ */

static bool report_due(cs_node_t *node, report_t *r) {
  r->count++;
  return r->at == 0 || uv_now(&node->loop) - r->at >= CS_NODE_REPORT_MS;
}

static void report_done(cs_node_t *node, report_t *r) {
  uint64_t now = uv_now(&node->loop);
  r->count = 0;
  r->at = now ? now : 1;
}

/* An inbound connection that has not finished its handshake, and holds one
 * of the CS_NODE_HANDSHAKES_MAX slots. */
static bool conn_is_handshake(const conn_t *c) { return !c->outbound && !c->closing && c->phase != PHASE_SYNC; }

static bool conn_is_session(const conn_t *c) { return !c->closing && c->phase == PHASE_SYNC; }

/* How far a handshake got: 0 before a valid client hello (all a stranger
 * without a network key can reach), 1 after it. */
static int conn_handshake_stage(const conn_t *c) { return c->club >= 0 ? 1 : 0; }

static int node_handshakes_from(const cs_node_t *node, const char *address, const conn_t *except) {
  int n = 0;
  for (int i = 0; i < node->conn_count; i++) {
    const conn_t *o = node->conns[i];
    if (o != except && conn_is_handshake(o) && strcmp(o->address, address) == 0) n++;
  }
  return n;
}

/* Makes room for the inbound connection C, just accepted. At
 * CS_NODE_HANDSHAKES_PER_ADDRESS handshakes from C's address, one of them
 * is closed; else, at CS_NODE_HANDSHAKES_MAX in all, one of the address
 * holding the most. Within that address the victim is the least advanced
 * (no valid hello before a hello), then the oldest: a stranger churning
 * bare connections evicts its own first, and an honest peer behind the
 * same address only needs its hello to arrive before that many newer
 * connections do. */
static void node_make_room(cs_node_t *node, conn_t *c) {
  const char *address = c->address;
  if (node_handshakes_from(node, address, c) < CS_NODE_HANDSHAKES_PER_ADDRESS) {
    int total = 0, most = 0;
    for (int i = 0; i < node->conn_count; i++) {
      const conn_t *o = node->conns[i];
      if (o == c || !conn_is_handshake(o)) continue;
      total++;
      int n = node_handshakes_from(node, o->address, c);
      if (n > most) {
        most = n;
        address = o->address;
      }
    }
    if (total < CS_NODE_HANDSHAKES_MAX) return;
  }
  conn_t *victim = NULL;
  for (int i = 0; i < node->conn_count; i++) {
    conn_t *o = node->conns[i];
    if (o == c || !conn_is_handshake(o) || strcmp(o->address, address) != 0) continue;
    if (!victim || conn_handshake_stage(o) < conn_handshake_stage(victim) ||
        (conn_handshake_stage(o) == conn_handshake_stage(victim) && o->opened_at < victim->opened_at))
      victim = o;
  }
  if (!victim) return;
  if (report_due(node, &node->evicted)) {
    node_log(node, CS_LOG_WARN,
             "too many connections waiting for a handshake (at most %d, %d per address); closed the oldest from %s, "
             "%llu closed so since the last report",
             CS_NODE_HANDSHAKES_MAX, CS_NODE_HANDSHAKES_PER_ADDRESS, victim->address,
             (unsigned long long)node->evicted.count);
    report_done(node, &node->evicted);
  }
  conn_close(victim, NULL);
}

/* Whether the inbound handshake C, whose peer just proved KEY, may become a
 * session. A key at CS_NODE_SESSIONS_PER_KEY sessions in C's club gives up
 * its oldest inbound session there for this one: a peer that reconnects
 * replaces its stale sessions, a member that opens more only rotates its
 * own, and a node that shares several clubs with us (two sessions in each)
 * is never refused for holding the others; past
 * CS_NODE_SESSIONS_MAX inbound sessions the newcomer is refused. */
static bool node_admit_session(cs_node_t *node, conn_t *c, const uint8_t key[32]) {
  int of_key = 0, inbound = 0;
  conn_t *oldest = NULL;
  for (int i = 0; i < node->conn_count; i++) {
    conn_t *o = node->conns[i];
    if (o == c || !conn_is_session(o)) continue;
    if (!o->outbound) inbound++;
    if (o->club != c->club || memcmp(o->peer_key, key, 32) != 0) continue;
    of_key++;
    if (!o->outbound && (!oldest || o->opened_at < oldest->opened_at)) oldest = o;
  }
  char who[17];
  key_short(key, who);
  if (of_key >= CS_NODE_SESSIONS_PER_KEY && oldest) {
    node_log(node, CS_LOG_WARN,
             "%s holds %d sessions for club %s, the most one key may; closed its oldest (%s) for a new one", who,
             of_key, node->cfg->clubs[c->club].label, oldest->address);
    conn_close(oldest, NULL);
    inbound--;
  }
  if (inbound < CS_NODE_SESSIONS_MAX) return true;
  if (report_due(node, &node->sessions_full)) {
    node_log(node, CS_LOG_WARN, "too many sessions (%d, the most a node holds); refused %s from %s, %llu refused since "
             "the last report", CS_NODE_SESSIONS_MAX, who, c->address, (unsigned long long)node->sessions_full.count);
    report_done(node, &node->sessions_full);
  }
  return false;
}

/* A count that grows whenever the session makes sync progress: a message
 * of the protocol's course (HELLO, VECTOR, DONE) or a change either way.
 * CHECKs and their answers do not count: a peer that only checks is idle. */
static uint64_t conn_progress(const conn_t *c) {
  const cs_sync_t *s = &c->sync;
  return (uint64_t)s->hello_received + (uint64_t)s->peer_vector_received + (uint64_t)s->done_received +
         (uint64_t)s->done_sent + s->changes_received + s->changes_sent + s->changes_other_club;
}

/* Closes an inbound session that has not caught up and made no progress
 * for CS_NODE_IDLE_TIMEOUT_MS: it holds a slot and does nothing with it. A
 * caught-up session stays open however quiet (live push), and is bounded
 * by CS_NODE_SESSIONS_PER_KEY. */
static void conn_check_idle(conn_t *c, uint64_t now) {
  if (!conn_is_session(c) || c->outbound || !c->sync_started) return;
  uint64_t progress = conn_progress(c);
  if (progress != c->progress_seen) {
    c->progress_seen = progress;
    c->active_at = now;
    return;
  }
  if (cs_sync_caught_up(&c->sync) || now - c->active_at < CS_NODE_IDLE_TIMEOUT_MS) return;
  char who[17];
  key_short(c->peer_key, who);
  node_log(c->node, CS_LOG_WARN, "closed the session with %s (%s): idle, no sync progress for %d s", who,
           c->address, CS_NODE_IDLE_TIMEOUT_MS / 1000);
  conn_close(c, NULL);
}

static void on_connection(uv_stream_t *server, int status) {
  cs_node_t *node = server->data;
  if (status < 0) return;
  /* Leaving a connection unaccepted makes libuv stop watching the
   * listener until uv_accept; on_turn takes it before the next poll, after
   * this turn's reads were served. */
  if (node->accepts_this_turn >= CS_NODE_ACCEPTS_PER_TURN) {
    node->accept_deferred = true;
    return;
  }
  node->accepts_this_turn++;
  conn_t *c = conn_new(node, false, -1);
  if (!c) {
    uv_tcp_t *reject = malloc(sizeof(*reject));
    if (reject && uv_tcp_init(&node->loop, reject) == 0 && uv_accept(server, (uv_stream_t *)reject) == 0) {
      /* A flood would flood the log too: one line per second at most. */
      if (report_due(node, &node->refused)) {
        node_log(node, CS_LOG_WARN, "too many connections (%d open); refused %llu since the last report",
                 node->conn_count, (unsigned long long)node->refused.count);
        report_done(node, &node->refused);
      }
      uv_close((uv_handle_t *)reject, (uv_close_cb)free);
    } else {
      free(reject);
    }
    return;
  }
  if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0) {
    conn_close(c, NULL);
    return;
  }
  struct sockaddr_storage addr;
  int len = sizeof(addr);
  char ip[64] = "?";
  if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&addr, &len) == 0) {
    if (addr.ss_family == AF_INET) uv_ip4_name((struct sockaddr_in *)&addr, ip, sizeof(ip));
    else uv_ip6_name((struct sockaddr_in6 *)&addr, ip, sizeof(ip));
  }
  snprintf(c->address, sizeof(c->address), "%s", ip);
  node_make_room(node, c);
  /* The handshake's state (an ephemeral key pair: a scalar multiplication)
   * waits for the client's first bytes: a bare connection costs no crypto. */
  c->hs_lazy = true;
  c->phase = PHASE_HANDSHAKE;
  conn_started(c);
  /* The greeting: our public key, for clients that know only our address. */
  if (conn_write_raw(c, node->cfg->secret_key + 32, 32) != CS_OK) conn_close(c, "cannot write");
}

static void peer_forget_addrs(peer_slot_t *p) {
  if (p->addrs) uv_freeaddrinfo(p->addrs);
  p->addrs = p->next_addr = NULL;
}

static void on_connect(uv_connect_t *req, int status) {
  conn_t *c = req->data;
  free(req);
  if (status < 0) {
    node_log(c->node, CS_LOG_INFO, "cannot reach %s: %s", c->address, uv_strerror(status));
    conn_close(c, NULL);
    return;
  }
  /* Reached: the next dial looks the host up again. */
  if (c->peer_slot >= 0) peer_forget_addrs(&c->node->peers[c->peer_slot]);
  c->phase = PHASE_GREETING;
  conn_started(c);
}

/* Dialing and reconnecting --------------------------------------------- */

static void peer_dial(cs_node_t *node, int slot);

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res) {
  cs_node_t *node = req->loop->data;
  int slot = (int)(intptr_t)req->data;
  peer_slot_t *p = &node->peers[slot];
  p->resolving = NULL;
  free(req);
  if (node->stopping || status == UV_ECANCELED) {
    if (res) uv_freeaddrinfo(res);
    return;
  }
  if (status < 0 || !res) {
    if (res) uv_freeaddrinfo(res);
    /* sync says it once, as its error; serve logs it and tries again later. */
    node_log(node, node->cfg->once ? CS_LOG_INFO : CS_LOG_ERROR, "cannot find the host %s (%s); check its spelling, "
             "and that this machine's DNS settings (or /etc/hosts) know it; trying again later", p->host,
             status < 0 ? uv_strerror(status) : "no address");
    if (node->cfg->once) {
      p->finished = true;
      snprintf(node->result->reason, sizeof(node->result->reason),
               "cannot find the host %s (%s); check its spelling, and that this machine's DNS settings (or "
               "/etc/hosts) know it", p->host, status < 0 ? uv_strerror(status) : "no address");
      node_maybe_finish(node);
    } else {
      peer_schedule(node, slot);
    }
    return;
  }
  peer_forget_addrs(p);
  p->addrs = p->next_addr = res;
  peer_dial(node, slot);
}

static void peer_dial(cs_node_t *node, int slot) {
  peer_slot_t *p = &node->peers[slot];
  if (node->stopping || p->conn || p->finished || p->resolving) return;
  if (!p->next_addr) {
    /* uv_getaddrinfo resolves on libuv's thread pool: a slow DNS server
     * never stalls the other connections. An IP address resolves at once. */
    uv_getaddrinfo_t *req = malloc(sizeof(*req));
    char port[8];
    snprintf(port, sizeof(port), "%d", p->port);
    struct addrinfo hints;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    if (!req) return;
    req->data = (void *)(intptr_t)slot;
    p->resolving = req;
    int rc = uv_getaddrinfo(&node->loop, req, on_resolved, p->host, port, &hints);
    if (rc != 0) {
      p->resolving = NULL;
      free(req);
      node_log(node, CS_LOG_ERROR, "cannot look up the host %s: %s", p->host, uv_strerror(rc));
      peer_schedule(node, slot);
    }
    return;
  }
  struct sockaddr_storage addr;
  memset(&addr, 0, sizeof(addr));
  memcpy(&addr, p->next_addr->ai_addr,
         p->next_addr->ai_addrlen < sizeof(addr) ? p->next_addr->ai_addrlen : sizeof(addr));
  p->next_addr = p->next_addr->ai_next;
  if (!p->next_addr) peer_forget_addrs(p);
  conn_t *c = conn_new(node, true, slot);
  if (!c) return;
  snprintf(c->address, sizeof(c->address), "%s:%d", p->host, p->port);
  p->conn = c;
  uv_connect_t *req = malloc(sizeof(*req));
  if (!req) {
    conn_close(c, "out of memory");
    return;
  }
  req->data = c;
  if (uv_tcp_connect(req, &c->tcp, (struct sockaddr *)&addr, on_connect) != 0) {
    free(req);
    conn_close(c, "cannot connect");
  }
}

static void on_retry(uv_timer_t *t) {
  cs_node_t *node = t->loop->data;
  peer_dial(node, (int)(intptr_t)t->data);
}

static void peer_schedule(cs_node_t *node, int slot) {
  peer_slot_t *p = &node->peers[slot];
  if (p->finished || node->stopping) return;
  /* The host's next address first ("localhost" is ::1, then 127.0.0.1). */
  if (p->next_addr) {
    peer_dial(node, slot);
    return;
  }
  if (node->cfg->once && p->backoff_ms >= 4 * CS_NODE_BACKOFF_MIN_MS) {
    p->finished = true;
    snprintf(node->result->reason, sizeof(node->result->reason),
             "could not complete a sync with %s:%d; check the address and that the peer is a member", p->host,
             p->port);
    return;
  }
  /* Exponential backoff with jitter, so restarted nodes do not reconnect in
   * lockstep. */
  p->backoff_ms = p->backoff_ms ? p->backoff_ms * 2 : CS_NODE_BACKOFF_MIN_MS;
  if (p->backoff_ms > CS_NODE_BACKOFF_MAX_MS) p->backoff_ms = CS_NODE_BACKOFF_MAX_MS;
  uint32_t delay = p->backoff_ms / 2 + randombytes_uniform(p->backoff_ms / 2 + 1);
  uv_timer_start(&p->retry, on_retry, delay, 0);
}

/* Loop ------------------------------------------------------------------- */

static void on_poll(uv_timer_t *t) {
  cs_node_t *node = t->data;
  /* A batch left open by a slow stream commits within one tick, so other
   * writers (the CLI) never wait long for LMDB's write lock. */
  for (int i = 0; i < node->conn_count; i++)
    if (!node->conns[i]->closing && node->conns[i]->phase == PHASE_SYNC && conn_commit(node->conns[i]))
      conn_report_other_club(node->conns[i], false);
  uint64_t now = uv_now(&node->loop);
  for (int i = 0; i < node->conn_count; i++) conn_check_idle(node->conns[i], now);
  /* Counters move with every message; serve.status follows at most once a tick. */
  if (node->status_dirty) node_write_status(node);
  /* A change written by the CLI while we run shows as a new LMDB txn id. */
  uint64_t txnid = cs_store_last_txnid(node->cfg->store);
  if (txnid == node->last_txnid) return;
  node->last_txnid = txnid;
  for (int i = 0; i < node->conn_count; i++) conn_push_new(node->conns[i]);
}

static void on_turn(uv_prepare_t *h) {
  cs_node_t *node = h->data;
  node->accepts_this_turn = 0;
  if (node->accept_deferred && node->listening && !node->stopping) {
    node->accept_deferred = false;
    on_connection((uv_stream_t *)&node->listener, 0);
  }
}

static void node_stop(cs_node_t *node) {
  if (node->stopping) return;
  node->stopping = true;
  for (int i = 0; i < node->conn_count; i++) conn_close(node->conns[i], NULL);
  for (uint32_t i = 0; i < node->cfg->peer_count; i++) {
    uv_timer_stop(&node->peers[i].retry);
    if (node->peers[i].resolving) uv_cancel((uv_req_t *)node->peers[i].resolving);
  }
  uv_timer_stop(&node->poll);
  uv_prepare_stop(&node->turn);
  if (node->listening) uv_close((uv_handle_t *)&node->listener, NULL);
  node->listening = false;
  uv_signal_stop(&node->sigint);
  uv_signal_stop(&node->sigterm);
  uv_stop(&node->loop);
}

static void node_maybe_finish(cs_node_t *node) {
  if (!node->cfg->once || node->stopping) return;
  for (uint32_t i = 0; i < node->cfg->peer_count; i++)
    if (!node->peers[i].finished) return;
  node_stop(node);
}

static void on_signal(uv_signal_t *s, int signum) {
  cs_node_t *node = s->data;
  node_log(node, CS_LOG_INFO, "stopping (signal %d); committing what was received", signum);
  node->result->interrupted = true;
  node_stop(node);
}

static void close_walk(uv_handle_t *h, void *arg) {
  (void)arg;
  if (!uv_is_closing(h)) uv_close(h, NULL);
}

int cs_node_run(const cs_node_config_t *cfg, cs_node_result_t *result) {
  memset(result, 0, sizeof(*result));
  cs_node_t *node = calloc(1, sizeof(*node));
  if (!node) return CS_ENOMEM;
  node->cfg = cfg;
  node->result = result;
  /* libuv leaves SIGPIPE alone: a peer that closes while we write would
   * kill the whole node instead of failing one write with EPIPE. */
  signal(SIGPIPE, SIG_IGN);
  uv_loop_init(&node->loop);
  node->loop.data = node;
  int err = CS_OK;
  if (cfg->peer_count > CS_NODE_PEERS_MAX || cfg->club_count == 0 || cfg->club_count > CS_NODE_CLUBS_MAX) {
    snprintf(result->reason, sizeof(result->reason), "a node serves 1 to %u clubs and dials at most %d addresses",
             (unsigned)CS_NODE_CLUBS_MAX, CS_NODE_PEERS_MAX);
    err = CS_ETOOBIG;
    goto done;
  }
  for (uint32_t i = 0; i < cfg->peer_count; i++)
    if (cfg->peers[i].club >= cfg->club_count) {
      snprintf(result->reason, sizeof(result->reason), "peer %s is given for no club", cfg->peers[i].address);
      err = CS_EINVAL;
      goto done;
    }
  node->netkeys = sodium_malloc(CS_NODE_CLUBS_MAX * sizeof(*node->netkeys));
  if (!node->netkeys) {
    err = CS_ENOMEM;
    goto done;
  }
  for (uint32_t i = 0; i < cfg->club_count; i++) memcpy(node->netkeys[i], cfg->clubs[i].network_key, 32);
  uv_signal_init(&node->loop, &node->sigint);
  uv_signal_init(&node->loop, &node->sigterm);
  node->sigint.data = node->sigterm.data = node;
  uv_signal_start(&node->sigint, on_signal, SIGINT);
  uv_signal_start(&node->sigterm, on_signal, SIGTERM);
  uv_timer_init(&node->loop, &node->poll);
  node->poll.data = node;
  node->last_txnid = cs_store_last_txnid(cfg->store);
  uv_timer_start(&node->poll, on_poll, CS_NODE_POLL_MS, CS_NODE_POLL_MS);
  uv_prepare_init(&node->loop, &node->turn);
  node->turn.data = node;
  uv_prepare_start(&node->turn, on_turn);
  if (cfg->listen) {
    char host[256];
    int port;
    struct sockaddr_storage addr;
    if (!cs_node_parse_address(cfg->listen, host, sizeof(host), &port) ||
        (uv_ip4_addr(host, port, (struct sockaddr_in *)&addr) != 0 &&
         uv_ip6_addr(host, port, (struct sockaddr_in6 *)&addr) != 0)) {
      snprintf(result->reason, sizeof(result->reason), "--listen wants IP:PORT, not '%s'", cfg->listen);
      err = CS_EINVAL;
      goto done;
    }
    uv_tcp_init(&node->loop, &node->listener);
    node->listener.data = node;
    int rc = uv_tcp_bind(&node->listener, (struct sockaddr *)&addr, 0);
    if (rc == 0) rc = uv_listen((uv_stream_t *)&node->listener, 64, on_connection);
    if (rc != 0) {
      snprintf(result->reason, sizeof(result->reason), "cannot listen on %s: %s", cfg->listen, uv_strerror(rc));
      err = CS_EIO;
      goto done;
    }
    node->listening = true;
    struct sockaddr_storage bound;
    int len = sizeof(bound);
    uv_tcp_getsockname(&node->listener, (struct sockaddr *)&bound, &len);
    int bound_port = ntohs(bound.ss_family == AF_INET ? ((struct sockaddr_in *)&bound)->sin_port
                                                      : ((struct sockaddr_in6 *)&bound)->sin6_port);
    char bound_host[64] = "", bound_address[80], port_text[8];
    if (bound.ss_family == AF_INET)
      uv_ip4_name((struct sockaddr_in *)&bound, bound_host, sizeof(bound_host));
    else
      uv_ip6_name((struct sockaddr_in6 *)&bound, bound_host, sizeof(bound_host));
    snprintf(bound_address, sizeof(bound_address), bound.ss_family == AF_INET ? "%s:%d" : "[%s]:%d", bound_host,
             bound_port);
    snprintf(port_text, sizeof(port_text), "%d", bound_port);
    for (uint32_t i = 0; i < cfg->club_count; i++)
      node_log(node, CS_LOG_INFO, "listening on %s for club %s", bound_address, cfg->clubs[i].label);
    /* The address before the port: whoever waits for the port finds both. */
    if (cfg->listen_path) node_write_line(cfg->listen_path, bound_address);
    if (cfg->port_path) node_write_line(cfg->port_path, port_text);
  }
  for (uint32_t i = 0; i < cfg->peer_count; i++) {
    peer_slot_t *p = &node->peers[i];
    p->club = cfg->peers[i].club;
    if (!cs_node_parse_address(cfg->peers[i].address, p->host, sizeof(p->host), &p->port)) {
      snprintf(result->reason, sizeof(result->reason), "a peer is given as IP:PORT, not '%s'", cfg->peers[i].address);
      err = CS_EINVAL;
      goto done;
    }
    uv_timer_init(&node->loop, &p->retry);
    p->retry.data = (void *)(intptr_t)i;
  }
  node_write_status(node);
  for (uint32_t i = 0; i < cfg->peer_count; i++) peer_dial(node, (int)i);
  node_maybe_finish(node);
  if (!node->stopping) uv_run(&node->loop, UV_RUN_DEFAULT);
  if (cfg->once) {
    result->synced = result->reason[0] == '\0' && !result->interrupted;
  }
done:
  node->stopping = true;
  /* Let connections finish closing (their changes are committed), then
   * close whatever handle is left. */
  uv_run(&node->loop, UV_RUN_NOWAIT);
  uv_walk(&node->loop, close_walk, NULL);
  uv_run(&node->loop, UV_RUN_DEFAULT);
  uv_loop_close(&node->loop);
  for (uint32_t i = 0; i < CS_NODE_PEERS_MAX; i++) peer_forget_addrs(&node->peers[i]);
  if (cfg->status_path) remove(cfg->status_path);
  if (node->netkeys) sodium_free(node->netkeys);
  free(node);
  return err;
}
