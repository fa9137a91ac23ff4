/* The simulated world: nodes, connections, the network, faults, the heal at
 * the end and the checks that decide whether a run passed.
 *
 * One tick is 10 simulated milliseconds. Each tick, in this order:
 *   1. faults: the network splits or heals, nodes crash or come back,
 *      connections are reset;
 *   2. every node that is up may author a change and may open a session;
 *   3. messages due this tick are delivered, in (due tick, send order);
 *   4. sessions stream what their peer lacks; open batches may commit;
 *   5. sessions that stalled are closed, old live ones are rotated.
 * After `steps` ticks the network heals, every node comes back, and every
 * pair of nodes syncs in rounds until a round stores nothing new. */
#include "tools/sim/sim_int.h"

#include "core/bundle.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SIM_TICK_MS 10
#define SIM_EPOCH_MS 1700000000000
#define SIM_SYNC_TIMEOUT 60 /* ticks a session may take to catch up */
#define SIM_LIVE_MAX 150    /* ticks a caught-up session stays open */
#define SIM_PUMP_BYTES (16u * 1024u)
#define SIM_HEAL_ROUNDS_EXTRA 3
#define SIM_HEAL_TICKS_MAX 2000 /* per session while healing */

/* PRNG ------------------------------------------------------------------ */

static uint64_t splitmix64(uint64_t *x) {
  uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

void sim_rng_seed(sim_rng_t *r, uint64_t seed) {
  for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&seed);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t sim_rng_next(sim_rng_t *r) {
  uint64_t *s = r->s;
  uint64_t result = rotl(s[1] * 5, 7) * 9;
  uint64_t t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 45);
  return result;
}

uint32_t sim_rng_below(sim_rng_t *r, uint32_t n) { return (uint32_t)((sim_rng_next(r) >> 32) * n >> 32); }

bool sim_rng_ppm(sim_rng_t *r, uint32_t ppm) { return sim_rng_below(r, 1000000) < ppm; }

/* Sets ------------------------------------------------------------------ */

static size_t set_stride(const sim_set_t *s) { return 1 + s->key_len + s->val_len; }

static uint64_t set_hash(const uint8_t *key, size_t len) {
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < len; i++) h = (h ^ key[i]) * 1099511628211ull;
  return h;
}

int sim_set_init(sim_set_t *s, size_t key_len, size_t val_len) {
  memset(s, 0, sizeof(*s));
  s->key_len = key_len;
  s->val_len = val_len;
  s->cap = 1024;
  s->slots = calloc(s->cap, set_stride(s));
  return s->slots ? CS_OK : CS_ENOMEM;
}

void sim_set_free(sim_set_t *s) {
  free(s->slots);
  memset(s, 0, sizeof(*s));
}

static uint8_t *set_find(const sim_set_t *s, const uint8_t *key, bool *found) {
  size_t stride = set_stride(s), i = (size_t)set_hash(key, s->key_len) & (s->cap - 1);
  for (;;) {
    uint8_t *slot = s->slots + i * stride;
    if (!slot[0]) {
      *found = false;
      return slot;
    }
    if (memcmp(slot + 1, key, s->key_len) == 0) {
      *found = true;
      return slot;
    }
    i = (i + 1) & (s->cap - 1);
  }
}

int sim_set_put(sim_set_t *s, const uint8_t *key, const uint8_t *val, uint8_t *val_out) {
  if ((s->count + 1) * 2 > s->cap) {
    sim_set_t grown = *s;
    grown.cap = s->cap * 2;
    grown.count = 0;
    grown.slots = calloc(grown.cap, set_stride(s));
    if (!grown.slots) return -1;
    for (size_t i = 0; i < s->cap; i++) {
      const uint8_t *slot = s->slots + i * set_stride(s);
      if (!slot[0]) continue;
      bool found;
      uint8_t *to = set_find(&grown, slot + 1, &found);
      memcpy(to, slot, set_stride(s));
      grown.count++;
    }
    free(s->slots);
    *s = grown;
  }
  bool found;
  uint8_t *slot = set_find(s, key, &found);
  if (found) {
    if (val_out && s->val_len) memcpy(val_out, slot + 1 + s->key_len, s->val_len);
    return 0;
  }
  slot[0] = 1;
  memcpy(slot + 1, key, s->key_len);
  if (s->val_len) memcpy(slot + 1 + s->key_len, val, s->val_len);
  s->count++;
  return 1;
}

bool sim_set_has(const sim_set_t *s, const uint8_t *key) {
  bool found;
  (void)set_find(s, key, &found);
  return found;
}

const uint8_t *sim_set_slot_key(const sim_set_t *s, size_t slot) {
  const uint8_t *p = s->slots + slot * set_stride(s);
  return p[0] ? p + 1 : NULL;
}

/* Events and failures ---------------------------------------------------- */

void sim_event(sim_world_t *w, const char *what, int a, int b, uint64_t x, const void *data, size_t len) {
  uint8_t rec[8 + 4 + 4 + 8 + 32];
  uint64_t fields[2] = {w->now, x};
  memset(rec, 0, sizeof(rec));
  for (int i = 0; i < 8; i++) {
    rec[i] = (uint8_t)(fields[0] >> (8 * i));
    rec[16 + i] = (uint8_t)(fields[1] >> (8 * i));
  }
  for (int i = 0; i < 4; i++) {
    rec[8 + i] = (uint8_t)((uint32_t)a >> (8 * i));
    rec[12 + i] = (uint8_t)((uint32_t)b >> (8 * i));
  }
  if (data && len) crypto_generichash(rec + 24, 32, data, len, NULL, 0);
  crypto_generichash_update(&w->trace, (const uint8_t *)what, strlen(what) + 1);
  crypto_generichash_update(&w->trace, rec, sizeof(rec));
  if (w->cfg->verbose) {
    printf("%6llu %-12s %2d %2d %llu", (unsigned long long)w->now, what, a, b, (unsigned long long)x);
    if (data && len == CS_ID_LEN) { /* an id: its first bytes, as the tools print them */
      printf(" ");
      for (int i = 0; i < 8; i++) printf("%02x", ((const uint8_t *)data)[i]);
    }
    printf("\n");
  }
}

void sim_fail(sim_world_t *w, const char *fmt, ...) {
  if (w->failed) return;
  w->failed = true;
  va_list ap;
  va_start(ap, fmt);
  int n = snprintf(w->res->reason, sizeof(w->res->reason), "tick %llu: ", (unsigned long long)w->now);
  if (n > 0 && (size_t)n < sizeof(w->res->reason))
    vsnprintf(w->res->reason + n, sizeof(w->res->reason) - (size_t)n, fmt, ap);
  va_end(ap);
  sim_event(w, "FAIL", -1, -1, 0, w->res->reason, strlen(w->res->reason));
}

bool sim_node_up(const sim_world_t *w, int node) { return w->node[node].store != NULL; }

/* Connections ------------------------------------------------------------ */

static sim_conn_t *conn_of(sim_world_t *w, int a, int b) {
  return a < b ? &w->conn[a][b] : &w->conn[b][a];
}

static void msg_push(sim_world_t *w, const sim_end_t *from, const uint8_t *data, size_t len, uint64_t deliver_at) {
  if (w->msg_count == w->msg_cap) {
    size_t cap = w->msg_cap ? w->msg_cap * 2 : 256;
    sim_msg_t *grown = realloc(w->msgs, cap * sizeof(*grown));
    if (!grown) {
      sim_fail(w, "out of memory for messages");
      return;
    }
    w->msgs = grown;
    w->msg_cap = cap;
  }
  sim_msg_t *m = &w->msgs[w->msg_count];
  m->data = malloc(len ? len : 1);
  if (!m->data) {
    sim_fail(w, "out of memory for a message");
    return;
  }
  if (len) memcpy(m->data, data, len);
  m->len = len;
  m->deliver_at = deliver_at;
  m->order = ++w->msg_order;
  m->conn_id = conn_of(w, from->a, from->b)->id;
  m->a = from->a;
  m->b = from->b;
  m->to_side = 1 - from->side;
  w->msg_count++;
}

/* Damages a message the byzantine node sends: a flipped byte, a cut, or
 * bytes that are not msgpack at all. */
static size_t garble(sim_world_t *w, uint8_t *buf, size_t len, size_t cap) {
  switch (sim_rng_below(&w->rng, 4)) {
  case 0:
    if (len) buf[sim_rng_below(&w->rng, (uint32_t)len)] ^= (uint8_t)(1 + sim_rng_below(&w->rng, 255));
    return len;
  case 1:
    return len ? sim_rng_below(&w->rng, (uint32_t)len) : 0;
  case 2: {
    size_t n = 1 + sim_rng_below(&w->rng, 64);
    if (n > cap) n = cap;
    for (size_t i = 0; i < n; i++) buf[i] = (uint8_t)sim_rng_next(&w->rng);
    return n;
  }
  default:
    /* A valid message type with a body of the wrong shape. */
    if (len > 2) buf[1] = (uint8_t)(1 + sim_rng_below(&w->rng, 5));
    return len;
  }
}

/* Whether a message carries a change of another club than the run's: a
 * sync machine must never send one (a session carries only its club's
 * changes), whatever its node's store holds. */
static bool carries_other_club(const sim_world_t *w, cs_span_t message) {
  cs_mp_reader_t r = cs_mp_reader(message);
  uint32_t n, count;
  uint64_t type;
  cs_span_t change;
  if (cs_mp_read_array(&r, &n) || n != 3 || cs_mp_read_uint(&r, &type) || type != CS_SYNC_CHANGES ||
      cs_mp_read_array(&r, &count))
    return false;
  for (uint32_t i = 0; i < count; i++)
    if (cs_mp_read_bin(&r, &change) || cs_change_of_other_club(change, w->club)) return true;
  return false;
}

/* The send hook of every sync machine: the network's entry. */
static int sim_send(void *ctx, cs_span_t message) {
  sim_end_t *e = ctx;
  sim_world_t *w = e->w;
  const sim_config_t *cfg = w->cfg;
  if (!w->raw_send && carries_other_club(w, message))
    sim_fail(w, "node %d's session sent node %d a change of another club", e->node, e->peer);
  w->res->messages_sent++;
  uint8_t *copy = NULL;
  if (e->node == w->byz && !w->healing && sim_rng_ppm(&w->rng, cfg->garbage_ppm)) {
    copy = malloc(message.len + 64);
    if (!copy) return CS_ENOMEM;
    memcpy(copy, message.ptr, message.len);
    message.len = garble(w, copy, message.len, message.len + 64);
    message.ptr = copy;
    w->res->garbage_sent++;
    sim_event(w, "garble", e->node, e->peer, message.len, message.ptr, message.len);
  }
  if (!w->healing && sim_rng_ppm(&w->rng, cfg->drop_ppm)) {
    w->res->messages_dropped++;
    sim_event(w, "drop", e->node, e->peer, message.len, message.ptr, message.len);
    free(copy);
    return CS_OK;
  }
  int copies = !w->healing && sim_rng_ppm(&w->rng, cfg->dup_ppm) ? 2 : 1;
  if (copies == 2) w->res->messages_duplicated++;
  for (int i = 0; i < copies; i++) {
    uint64_t at = w->now + 1;
    if (!w->healing) at += sim_rng_below(&w->rng, (uint32_t)cfg->delay_max);
    if (w->healing || !sim_rng_ppm(&w->rng, cfg->reorder_ppm)) {
      /* A connection delivers in order unless this message is reordered. */
      if (at < e->last_deliver_at) at = e->last_deliver_at;
      e->last_deliver_at = at;
    }
    msg_push(w, e, message.ptr, message.len, at);
  }
  sim_event(w, "send", e->node, e->peer, message.len, message.ptr, message.len);
  free(copy);
  return CS_OK;
}

static uint64_t arrival_last(cs_store_t *store) {
  cs_txn_t txn;
  if (cs_store_begin(store, false, &txn) != CS_OK) return 0;
  uint64_t last = cs_store_arrival_last(&txn);
  cs_store_abort(&txn);
  return last;
}

/* Commits one side's batch: what it received is now acknowledged. */
static void end_commit(sim_world_t *w, sim_end_t *e) {
  sim_node_t *n = &w->node[e->node];
  bool open = e->x.write_open;
  int err = cs_store_sync_flush(&e->x);
  if (n->batch == e) n->batch = NULL;
  if (err) {
    sim_fail(w, "node %d cannot commit changes from node %d: %s", e->node, e->peer, cs_strerror(err));
    return;
  }
  if (open) {
    sim_event(w, "commit", e->node, e->peer, 0, NULL, 0);
    sim_node_committed(w, e->node, e->peer);
  }
}

void sim_node_flush(sim_world_t *w, int node) {
  sim_node_t *n = &w->node[node];
  if (n->batch) end_commit(w, n->batch);
}

/* Closes a connection. The sides flush what they received (a reset peer
 * still commits what it got), except a crashed node's side, which loses its
 * open batch. */
static void conn_close(sim_world_t *w, int a, int b, const char *why, int crashed) {
  sim_conn_t *c = conn_of(w, a, b);
  if (!c->open) return;
  c->open = false;
  sim_event(w, why, a, b, c->id, NULL, 0);
  for (int s = 0; s < 2; s++) {
    sim_end_t *e = &c->end[s];
    if (crashed >= 0 && e->node == crashed) {
      if (e->x.write_open) sim_event(w, "batch-lost", e->node, e->peer, e->x.in_batch, NULL, 0);
      cs_store_sync_abort(&e->x);
      if (w->node[crashed].batch == e) w->node[crashed].batch = NULL;
    } else {
      end_commit(w, e);
    }
  }
  for (int s = 0; s < 2; s++) {
    const cs_store_sync_t *x = &c->end[s].x;
    w->res->ingest_pending += x->pending;
    w->res->ingest_rejected += x->rejected;
    w->res->ingest_forks += x->forks;
    w->res->ingest_duplicates += x->duplicates;
    w->res->other_club_refused += c->end[s].sync.changes_other_club;
    cs_sync_free(&c->end[s].sync);
  }
}

static bool reachable(const sim_world_t *w, int a, int b) {
  return sim_node_up(w, a) && sim_node_up(w, b) && (!w->partitioned || w->side[a] == w->side[b]);
}

static void conn_open(sim_world_t *w, int a, int b) {
  if (a > b) {
    int t = a;
    a = b;
    b = t;
  }
  sim_conn_t *c = &w->conn[a][b];
  if (c->open || !reachable(w, a, b) || !w->have_club) return;
  sim_node_flush(w, a);
  sim_node_flush(w, b);
  memset(c, 0, sizeof(*c));
  c->open = true;
  c->id = ++w->next_conn_id;
  c->opened_at = w->now;
  w->res->sessions++;
  sim_event(w, "connect", a, b, c->id, NULL, 0);
  for (int s = 0; s < 2; s++) {
    sim_end_t *e = &c->end[s];
    e->w = w;
    e->side = s;
    e->a = a;
    e->b = b;
    e->node = s ? b : a;
    e->peer = s ? a : b;
    cs_store_sync_init(&e->x, w->node[e->node].store, w->club, sim_send, e, &e->io);
    cs_sync_init(&e->sync, w->club, &e->io);
    e->pushed_upto = arrival_last(w->node[e->node].store);
  }
  for (int s = 0; s < 2 && c->open; s++) {
    int err = cs_sync_start(&c->end[s].sync);
    if (err) {
      sim_fail(w, "node %d cannot start a session: %s", c->end[s].node, cs_strerror(err));
      conn_close(w, a, b, "start-failed", -1);
    }
  }
}

/* Pushes what the node stored since the last push to a caught-up peer,
 * except what came from that peer (as net/node.c does). */
typedef struct push_ctx_s {
  sim_world_t *w;
  sim_end_t *e;
  int err;
} push_ctx_t;

static int push_each(uint64_t arrival, const uint8_t id[CS_ID_LEN], cs_span_t bytes, void *vctx) {
  push_ctx_t *p = vctx;
  (void)id;
  const sim_node_t *n = &p->w->node[p->e->node];
  bool from_peer = arrival < SIM_ARRIVALS_MAX && n->arrival_src[arrival] == p->e->peer;
  if (!from_peer && (p->err = cs_sync_push(&p->e->sync, bytes))) return p->err;
  p->e->pushed_upto = arrival;
  return 0;
}

static void end_push(sim_world_t *w, sim_end_t *e) {
  sim_conn_t *c = conn_of(w, e->a, e->b);
  if (!c->open || !cs_sync_caught_up(&e->sync)) return;
  cs_txn_t txn;
  if (cs_store_begin(w->node[e->node].store, false, &txn) != CS_OK) return;
  push_ctx_t p = {w, e, CS_OK};
  int err = cs_store_arrivals_since(&txn, e->pushed_upto, push_each, &p);
  cs_store_abort(&txn);
  if (p.err) err = p.err;
  if (err) conn_close(w, e->a, e->b, "push-failed", -1);
}

typedef struct acked_ctx_s {
  sim_world_t *w;
  int node, source;
} acked_ctx_t;

static int acked_each(uint64_t arrival, const uint8_t id[CS_ID_LEN], cs_span_t bytes, void *vctx) {
  acked_ctx_t *a = vctx;
  sim_node_t *n = &a->w->node[a->node];
  if (arrival < SIM_ARRIVALS_MAX) n->arrival_src[arrival] = (int8_t)a->source;
  if (arrival <= n->acked_arrival) {
    sim_fail(a->w, "node %d: arrival %llu after %llu", a->node, (unsigned long long)arrival,
             (unsigned long long)n->acked_arrival);
    return CS_STOP;
  }
  n->acked_arrival = arrival;
  /* Every node must end with the club's acknowledged changes; the other
   * club's stay with the byzantine node that made them. */
  if (cs_change_of_other_club(bytes, a->w->club)) return 0;
  if (sim_set_put(&a->w->acked, id, NULL, NULL) < 0) sim_fail(a->w, "out of memory");
  return 0;
}

void sim_node_committed(sim_world_t *w, int node, int source) {
  sim_node_t *n = &w->node[node];
  cs_txn_t txn;
  if (cs_store_begin(n->store, false, &txn) != CS_OK) {
    sim_fail(w, "node %d cannot read its store", node);
    return;
  }
  acked_ctx_t a = {w, node, source};
  int err = cs_store_arrivals_since(&txn, n->acked_arrival, acked_each, &a);
  cs_store_abort(&txn);
  if (err) sim_fail(w, "node %d cannot list arrivals: %s", node, cs_strerror(err));
  for (int p = 0; p < w->n; p++) {
    if (p == node) continue;
    sim_conn_t *c = conn_of(w, node, p);
    if (c->open) end_push(w, &c->end[node < p ? 0 : 1]);
  }
}

int sim_author(sim_world_t *w, int node, cs_span_t payload, uint8_t id[CS_ID_LEN]) {
  return sim_author_deps(w, node, payload, NULL, 0, id);
}

int sim_author_deps(sim_world_t *w, int node, cs_span_t payload, const uint8_t (*deps)[CS_ID_LEN], uint32_t dep_count,
                    uint8_t id[CS_ID_LEN]) {
  sim_node_t *n = &w->node[node];
  sim_node_flush(w, node);
  cs_txn_t txn;
  int err = cs_store_begin(n->store, true, &txn);
  if (err) {
    sim_fail(w, "node %d cannot begin a write: %s", node, cs_strerror(err));
    return err;
  }
  int64_t time_ms = SIM_EPOCH_MS + (int64_t)w->now * SIM_TICK_MS;
  err = deps && w->have_club ? cs_store_author_deps(&txn, w->club, n->sk, payload, time_ms, deps, dep_count, id)
                             : cs_store_author(&txn, w->have_club ? w->club : NULL, n->sk, payload, time_ms, id);
  if (err) {
    /* Refused (the node's role does not allow it, as seen from here). */
    cs_store_abort(&txn);
    sim_event(w, "author-refused", node, -1, (uint64_t)err, NULL, 0);
    return err;
  }
  if (!w->healing && w->have_club && sim_rng_ppm(&w->rng, w->cfg->crash_write_ppm)) {
    /* Power cut between signing and committing: the change is lost, and
     * was never sent anywhere. */
    cs_store_abort(&txn);
    w->res->changes_lost_in_crash++;
    sim_event(w, "author-lost", node, -1, 0, id, CS_ID_LEN);
    return CS_EIO;
  }
  uint8_t key[CS_KEY_LEN + 8], prior[CS_ID_LEN];
  uint64_t seq = cs_store_author_seq(&txn, w->have_club ? w->club : id, n->pk, NULL);
  err = cs_store_commit(&txn);
  if (err) {
    sim_fail(w, "node %d cannot commit its change: %s", node, cs_strerror(err));
    return err;
  }
  w->res->changes_authored++;
  sim_event(w, "author", node, -1, seq, id, CS_ID_LEN);
  /* Never two different committed changes for one (author, seq). */
  memcpy(key, n->pk, CS_KEY_LEN);
  for (int i = 0; i < 8; i++) key[CS_KEY_LEN + i] = (uint8_t)(seq >> (8 * i));
  int put = sim_set_put(&w->signed_, key, id, prior);
  if (put < 0) sim_fail(w, "out of memory");
  if (put == 0 && memcmp(prior, id, CS_ID_LEN) != 0)
    sim_fail(w, "node %d signed two different changes with seq %llu", node, (unsigned long long)seq);
  sim_node_committed(w, node, -1);
  return CS_OK;
}

bool sim_send_raw(sim_world_t *w, int node, cs_span_t message) {
  int peers[SIM_NODES_MAX], count = 0;
  for (int p = 0; p < w->n; p++)
    if (p != node && conn_of(w, node, p)->open) peers[count++] = p;
  if (!count) return false;
  int p = peers[sim_rng_below(&w->rng, (uint32_t)count)];
  sim_conn_t *c = conn_of(w, node, p);
  w->raw_send = true;
  bool sent = sim_send(&c->end[node < p ? 0 : 1], message) == CS_OK;
  w->raw_send = false;
  return sent;
}

int sim_author_other_club(sim_world_t *w, int node, cs_span_t payload, uint8_t id[CS_ID_LEN]) {
  sim_node_t *n = &w->node[node];
  sim_node_flush(w, node);
  cs_txn_t txn;
  int err = cs_store_begin(n->store, true, &txn);
  if (err) {
    sim_fail(w, "node %d cannot begin a write: %s", node, cs_strerror(err));
    return err;
  }
  int64_t time_ms = SIM_EPOCH_MS + (int64_t)w->now * SIM_TICK_MS;
  err = cs_store_author(&txn, w->have_other_club ? w->other_club : NULL, n->sk, payload, time_ms, id);
  if (err) {
    cs_store_abort(&txn);
    sim_event(w, "author-refused", node, -1, (uint64_t)err, NULL, 0);
    return err;
  }
  if ((err = cs_store_commit(&txn))) {
    sim_fail(w, "node %d cannot commit its change: %s", node, cs_strerror(err));
    return err;
  }
  if (!w->have_other_club) memcpy(w->other_club, id, CS_ID_LEN);
  w->have_other_club = true;
  sim_event(w, "author-other", node, -1, 0, id, CS_ID_LEN);
  sim_node_committed(w, node, -1);
  return CS_OK;
}

/* Nodes ------------------------------------------------------------------ */

static void node_crash(sim_world_t *w, int node) {
  sim_node_t *n = &w->node[node];
  for (int p = 0; p < w->n; p++)
    if (p != node) conn_close(w, node, p, "crash-reset", node);
  n->batch = NULL;
  cs_store_close(n->store);
  n->store = NULL;
  n->down_until = w->now + 1 + sim_rng_below(&w->rng, (uint32_t)w->cfg->down_max);
  w->res->crashes++;
  sim_event(w, "crash", node, -1, n->down_until, NULL, 0);
}

static void node_restart(sim_world_t *w, int node) {
  sim_node_t *n = &w->node[node];
  int err = cs_store_open(n->dir, &n->store);
  if (err) {
    n->store = NULL;
    sim_fail(w, "node %d cannot reopen its store after a crash: %s", node, cs_strerror(err));
    return;
  }
  /* Everything it committed before the crash is still there. */
  uint64_t last = arrival_last(n->store);
  if (last < n->acked_arrival)
    sim_fail(w, "node %d lost committed changes in a crash (arrival %llu < %llu)", node, (unsigned long long)last,
             (unsigned long long)n->acked_arrival);
  sim_event(w, "restart", node, -1, last, NULL, 0);
}

/* The network ------------------------------------------------------------ */

static void partition_toggle(sim_world_t *w) {
  if (w->partitioned) {
    w->partitioned = false;
    sim_event(w, "heal", -1, -1, 0, NULL, 0);
    return;
  }
  /* A random split with at least one node on each side. */
  uint32_t mask = 1 + sim_rng_below(&w->rng, (1u << w->n) - 2);
  for (int i = 0; i < w->n; i++) w->side[i] = (int)(mask >> i & 1);
  w->partitioned = true;
  w->res->partitions++;
  sim_event(w, "partition", -1, -1, mask, NULL, 0);
  for (int a = 0; a < w->n; a++)
    for (int b = a + 1; b < w->n; b++)
      if (w->side[a] != w->side[b]) conn_close(w, a, b, "cut", -1);
}

static int msg_cmp(const void *x, const void *y) {
  const sim_msg_t *a = x, *b = y;
  if (a->deliver_at != b->deliver_at) return a->deliver_at < b->deliver_at ? -1 : 1;
  return a->order < b->order ? -1 : a->order > b->order;
}

static void pump_end(sim_world_t *w, sim_end_t *e) {
  sim_conn_t *c = conn_of(w, e->a, e->b);
  if (!c->open || !e->sync.sending) return;
  bool more;
  int err = cs_sync_pump(&e->sync, SIM_PUMP_BYTES, &more);
  if (err) conn_close(w, e->a, e->b, "pump-failed", -1);
}

static void deliver(sim_world_t *w, sim_msg_t *m) {
  sim_conn_t *c = &w->conn[m->a][m->b];
  if (!c->open || c->id != m->conn_id) return; /* the connection is gone */
  sim_end_t *e = &c->end[m->to_side];
  sim_node_t *n = &w->node[e->node];
  if (n->batch && n->batch != e) end_commit(w, n->batch); /* one writer per node */
  cs_span_t span = {m->data, m->len};
  uint64_t received_before = e->sync.changes_received;
  int err = cs_sync_receive(&e->sync, span);
  if (e->x.write_open) n->batch = e;
  sim_event(w, "deliver", e->node, e->peer, (uint64_t)err, m->data, m->len);
  if (err) {
    if (e->peer != w->byz) w->res->sessions_failed++;
    conn_close(w, m->a, m->b, "refused", -1);
    return;
  }
  pump_end(w, e);
  if (!c->open) return;
  bool commit = w->healing || sim_rng_ppm(&w->rng, w->cfg->commit_ppm);
  if (commit && e->x.write_open) end_commit(w, e);
  else if (e->sync.changes_received == received_before && cs_sync_caught_up(&e->sync)) end_push(w, e);
}

static void deliver_due(sim_world_t *w) {
  size_t due = 0;
  for (size_t i = 0; i < w->msg_count; i++)
    if (w->msgs[i].deliver_at <= w->now) due++;
  if (!due) return;
  sim_msg_t *batch = malloc(due * sizeof(*batch));
  if (!batch) {
    sim_fail(w, "out of memory");
    return;
  }
  size_t k = 0, kept = 0;
  for (size_t i = 0; i < w->msg_count; i++) {
    if (w->msgs[i].deliver_at <= w->now) batch[k++] = w->msgs[i];
    else w->msgs[kept++] = w->msgs[i];
  }
  w->msg_count = kept;
  qsort(batch, due, sizeof(*batch), msg_cmp);
  for (size_t i = 0; i < due; i++) {
    if (!w->failed) deliver(w, &batch[i]);
    free(batch[i].data);
  }
  free(batch);
}

static void drop_all_messages(sim_world_t *w) {
  for (size_t i = 0; i < w->msg_count; i++) free(w->msgs[i].data);
  w->msg_count = 0;
}

static void close_all(sim_world_t *w, const char *why) {
  for (int a = 0; a < w->n; a++)
    for (int b = a + 1; b < w->n; b++) conn_close(w, a, b, why, -1);
}

/* One tick of the active phase. */
static void step(sim_world_t *w) {
  const sim_config_t *cfg = w->cfg;
  if (sim_rng_ppm(&w->rng, cfg->partition_ppm)) partition_toggle(w);
  for (int i = 0; i < w->n; i++) {
    sim_node_t *n = &w->node[i];
    if (!n->store && w->now >= n->down_until) node_restart(w, i);
    else if (n->store && sim_rng_ppm(&w->rng, cfg->crash_ppm)) node_crash(w, i);
  }
  for (int a = 0; a < w->n; a++)
    for (int b = a + 1; b < w->n; b++)
      if (w->conn[a][b].open && sim_rng_ppm(&w->rng, cfg->reset_ppm)) conn_close(w, a, b, "reset", -1);
  int first = (int)sim_rng_below(&w->rng, (uint32_t)w->n);
  for (int k = 0; k < w->n && !w->failed; k++) {
    int i = (first + k) % w->n;
    if (!sim_node_up(w, i)) continue;
    if (sim_rng_ppm(&w->rng, cfg->act_ppm)) sim_activity(w, i);
    if (sim_node_up(w, i) && sim_rng_ppm(&w->rng, cfg->connect_ppm)) {
      int p = (int)sim_rng_below(&w->rng, (uint32_t)(w->n - 1));
      conn_open(w, i, p >= i ? p + 1 : p);
    }
  }
  deliver_due(w);
  for (int a = 0; a < w->n; a++)
    for (int b = a + 1; b < w->n; b++) {
      sim_conn_t *c = &w->conn[a][b];
      if (!c->open) continue;
      for (int s = 0; s < 2; s++) pump_end(w, &c->end[s]);
      if (!c->open) continue;
      bool caught_up = cs_sync_caught_up(&c->end[0].sync) && cs_sync_caught_up(&c->end[1].sync);
      uint64_t age = w->now - c->opened_at;
      /* Now and then a side asks whether both hold the same chains (as
       * `clubsync sync` does at the end); a "no" ends the session, so the
       * next one catches up. */
      for (int s = 0; s < 2 && caught_up; s++) {
        sim_end_t *e = &c->end[s];
        if (e->sync.check_answered && !e->sync.check_equal) {
          e->sync.check_answered = false;
          conn_close(w, a, b, "check-differs", -1);
          break;
        }
        if (sim_rng_ppm(&w->rng, 20000) && cs_sync_check(&e->sync) != CS_OK) {
          conn_close(w, a, b, "check-failed", -1);
          break;
        }
      }
      if (!c->open) continue;
      if (!caught_up && age > SIM_SYNC_TIMEOUT) conn_close(w, a, b, "timeout", -1);
      else if (caught_up && age > SIM_LIVE_MAX) conn_close(w, a, b, "rotate", -1);
    }
  /* Group commit: an open batch waits at most until the next tick or so. */
  for (int i = 0; i < w->n; i++)
    if (w->node[i].batch && sim_rng_ppm(&w->rng, 500000)) sim_node_flush(w, i);
  w->now++;
}

/* The heal: everyone up, no faults, every pair syncs until nothing moves. */
static uint64_t total_arrivals(const sim_world_t *w) {
  uint64_t sum = 0;
  for (int i = 0; i < w->n; i++) sum += w->node[i].acked_arrival;
  return sum;
}

static void heal_session(sim_world_t *w, int a, int b) {
  conn_open(w, a, b);
  sim_conn_t *c = &w->conn[a][b];
  for (int t = 0; c->open && !w->failed; t++) {
    if (t > SIM_HEAL_TICKS_MAX) {
      sim_fail(w, "the healed session between %d and %d does not finish", a, b);
      break;
    }
    deliver_due(w);
    for (int s = 0; s < 2 && c->open; s++) pump_end(w, &c->end[s]);
    w->now++;
    bool quiet = w->msg_count == 0;
    if (quiet && c->open && cs_sync_caught_up(&c->end[0].sync) && cs_sync_caught_up(&c->end[1].sync)) break;
    if (quiet && c->open && !c->end[0].sync.sending && !c->end[1].sync.sending &&
        !(cs_sync_caught_up(&c->end[0].sync) && cs_sync_caught_up(&c->end[1].sync))) {
      sim_fail(w, "the healed session between %d and %d stalled", a, b);
      break;
    }
  }
  if (!c->open && !w->failed) sim_fail(w, "the healed session between %d and %d was refused", a, b);
  conn_close(w, a, b, "heal-done", -1);
}

static void heal(sim_world_t *w) {
  w->healing = true;
  w->partitioned = false;
  close_all(w, "heal-close");
  drop_all_messages(w);
  for (int i = 0; i < w->n; i++)
    if (!sim_node_up(w, i)) node_restart(w, i);
  sim_event(w, "heal-start", -1, -1, 0, NULL, 0);
  int rounds_max = w->n + SIM_HEAL_ROUNDS_EXTRA;
  for (int round = 0; !w->failed; round++) {
    if (round == rounds_max) {
      sim_fail(w, "sync does not reach quiescence after %d rounds", rounds_max);
      break;
    }
    uint64_t before = total_arrivals(w);
    for (int a = 0; a < w->n && !w->failed; a++)
      for (int b = a + 1; b < w->n && !w->failed; b++) heal_session(w, a, b);
    w->res->heal_rounds++;
    if (total_arrivals(w) == before) break;
  }
}

/* Checks ----------------------------------------------------------------- */

typedef struct check_ctx_s {
  sim_world_t *w;
  int node;
  uint64_t forks;
} check_ctx_t;

static int fork_each(const uint8_t author[CS_KEY_LEN], uint64_t seq, const uint8_t first[CS_ID_LEN],
                     const uint8_t second[CS_ID_LEN], void *vctx) {
  check_ctx_t *k = vctx;
  (void)first, (void)second;
  sim_world_t *w = k->w;
  k->forks++;
  if (w->byz < 0 || memcmp(author, w->node[w->byz].pk, CS_KEY_LEN) != 0)
    sim_fail(w, "node %d holds fork evidence against an honest key at seq %llu", k->node, (unsigned long long)seq);
  return 0;
}

static int count_club(const cs_club_info_t *club, void *vctx) {
  (void)club;
  ++*(int *)vctx;
  return 0;
}

static void check_world(sim_world_t *w) {
  uint8_t digest0[32], vector0[32];
  cs_store_counts_t counts0;
  memset(&counts0, 0, sizeof(counts0));
  for (int i = 0; i < w->n && !w->failed; i++) {
    sim_node_t *n = &w->node[i];
    cs_txn_t txn;
    uint8_t digest[32], vector[32];
    cs_store_counts_t counts;
    if (cs_store_begin(n->store, false, &txn) != CS_OK) {
      sim_fail(w, "node %d cannot read its store", i);
      return;
    }
    int err = cs_store_digest(&txn, w->club, digest);
    if (!err) err = cs_store_counts(&txn, w->club, &counts);
    /* Only the byzantine node holds the other club: no session carried it. */
    int clubs = 0;
    if (!err) err = cs_store_clubs(&txn, count_club, &clubs);
    if (!err && clubs != (i == w->byz && w->have_other_club ? 2 : 1))
      sim_fail(w, "node %d holds %d clubs after the heal", i, clubs);
    check_ctx_t k = {w, i, 0};
    if (!err) err = cs_store_forks(&txn, w->club, fork_each, &k);
    /* Every change any node acknowledged is here. */
    for (size_t s = 0; s < w->acked.cap && !err && !w->failed; s++) {
      const uint8_t *id = sim_set_slot_key(&w->acked, s);
      cs_span_t bytes;
      if (!id) continue;
      if (cs_store_change_get(&txn, id, &bytes) == CS_OK) continue;
      /* Look the change up where it was acknowledged, to say what it was. */
      bool described = false;
      int author = -1, holder = -1;
      uint64_t seq = 0, lamport = 0;
      cs_change_t *c = malloc(sizeof(*c));
      for (int j = 0; j < w->n && !described && c; j++) {
        cs_txn_t other;
        if (j == i || cs_store_begin(w->node[j].store, false, &other) != CS_OK) continue;
        if (cs_store_change_get(&other, id, &bytes) == CS_OK) {
          if (cs_change_decode(bytes, c) == CS_OK) {
            described = true;
            holder = j;
            seq = c->seq;
            lamport = c->lamport;
            for (int a = 0; a < w->n; a++)
              if (memcmp(w->node[a].pk, c->author, CS_KEY_LEN) == 0) author = a;
          }
        }
        cs_store_abort(&other);
      }
      free(c);
      char hex[65];
      cs_hex32(id, hex);
      sim_fail(w, "node %d lacks acknowledged change %.16s (by node %d, seq %llu, lamport %llu, held by node %d)", i,
               hex, author, (unsigned long long)seq, (unsigned long long)lamport, holder);
    }
    cs_store_abort(&txn);
    if (err) {
      sim_fail(w, "node %d: cannot check its store: %s", i, cs_strerror(err));
      return;
    }
    if (w->failed) return;
    cs_store_sync_t x;
    cs_sync_io_t io;
    cs_store_sync_init(&x, n->store, w->club, NULL, NULL, &io);
    if ((err = cs_sync_vector_digest(&io, vector))) {
      sim_fail(w, "node %d: no vector digest: %s", i, cs_strerror(err));
      return;
    }
    if (counts.pending != 0)
      sim_fail(w, "node %d still holds %llu pending changes after the heal", i, (unsigned long long)counts.pending);
    if (i == 0) {
      w->res->final_changes = counts.changes;
      w->res->final_invalid = counts.invalid;
      w->res->final_objects = counts.objects;
      memcpy(w->res->digest, digest, 32);
      memcpy(digest0, digest, 32);
      memcpy(vector0, vector, 32);
      counts0 = counts;
      continue;
    }
    if (memcmp(digest, digest0, 32) != 0) {
      char h0[65], h1[65];
      cs_hex32(digest0, h0);
      cs_hex32(digest, h1);
      sim_fail(w, "digests differ after the heal: node 0 %.16s, node %d %.16s (changes %llu vs %llu, invalid %llu vs "
                  "%llu, objects %llu vs %llu)",
               h0, i, h1, (unsigned long long)counts0.changes, (unsigned long long)counts.changes,
               (unsigned long long)counts0.invalid, (unsigned long long)counts.invalid,
               (unsigned long long)counts0.objects, (unsigned long long)counts.objects);
      return;
    }
    bool branches = w->byz >= 0 && w->node[w->byz].forked_at;
    if (!branches && memcmp(vector, vector0, 32) != 0) {
      sim_fail(w, "node %d holds other chains than node 0 after the heal", i);
      return;
    }
  }
  if (w->failed) return;
  /* The state is a function of the set of changes: rebuilding node 0 from
   * its changes, in one order, gives the digest the arrivals gave. */
  cs_txn_t txn;
  uint8_t rebuilt[32];
  if (cs_store_begin(w->node[0].store, true, &txn) != CS_OK) {
    sim_fail(w, "node 0 cannot begin a write");
    return;
  }
  int err = cs_store_rebuild(&txn, w->club);
  if (!err) err = cs_store_digest(&txn, w->club, rebuilt);
  cs_store_abort(&txn);
  if (err) sim_fail(w, "node 0 cannot rebuild: %s", cs_strerror(err));
  else if (memcmp(rebuilt, digest0, 32) != 0) sim_fail(w, "rebuilding node 0 from its changes changes its digest");
  w->res->acked = w->acked.count;
}

/* Export ----------------------------------------------------------------- */

typedef struct export_ctx_s {
  cs_bundle_writer_t writer;
  cs_buf_t out;
  FILE *f;
  int err;
} export_ctx_t;

static int export_each(const uint8_t id[CS_ID_LEN], cs_span_t bytes, void *vctx) {
  export_ctx_t *x = vctx;
  (void)id;
  if ((x->err = cs_bundle_write_change(&x->writer, bytes, &x->out))) return x->err;
  if (x->out.len >= (1u << 20)) {
    if (fwrite(x->out.data, 1, x->out.len, x->f) != x->out.len) x->err = CS_EIO;
    cs_buf_reset(&x->out);
  }
  return x->err;
}

/* Writes node 0's whole club history, in causal order, as a bundle. */
static void export_bundle(sim_world_t *w, const char *path) {
  export_ctx_t x = {.err = CS_OK};
  cs_bundle_header_t h = {.kind = CS_BUNDLE_CHANGES};
  memcpy(h.club, w->club, CS_ID_LEN);
  cs_buf_init(&x.out, 4u << 20);
  x.f = fopen(path, "wb");
  if (!x.f) {
    sim_fail(w, "cannot write %s: %s", path, strerror(errno));
    cs_buf_free(&x.out);
    return;
  }
  cs_txn_t txn;
  cs_bundle_write_header(&x.writer, &h, &x.out);
  int err = cs_store_begin(w->node[0].store, false, &txn);
  if (!err) {
    err = cs_store_changes(&txn, w->club, export_each, &x);
    cs_store_abort(&txn);
  }
  if (!err) err = x.err;
  cs_bundle_write_trailer(&x.writer, &x.out);
  if (!err && (x.out.failed || fwrite(x.out.data, 1, x.out.len, x.f) != x.out.len)) err = CS_EIO;
  if (fclose(x.f) != 0 && !err) err = CS_EIO;
  cs_buf_free(&x.out);
  if (err) sim_fail(w, "cannot export the bundle to %s: %s", path, cs_strerror(err));
}

/* Set-up and tear-down --------------------------------------------------- */

static void remove_tree(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return;
  struct dirent *e;
  char path[SIM_PATH_MAX + 256];
  while ((e = readdir(d)) != NULL) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
    snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
    struct stat st;
    if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode)) remove_tree(path);
    else unlink(path);
  }
  closedir(d);
  rmdir(dir);
}

int sim_run(const sim_config_t *cfg, sim_result_t *res) {
  memset(res, 0, sizeof(*res));
  if (cfg->nodes < 2 || cfg->nodes > SIM_NODES_MAX || cfg->delay_max < 1 || cfg->down_max < 1) {
    snprintf(res->reason, sizeof(res->reason), "bad configuration");
    return CS_EINVAL;
  }
  sim_world_t *w = calloc(1, sizeof(*w));
  if (!w) return CS_ENOMEM;
  w->cfg = cfg;
  w->res = res;
  w->n = cfg->nodes;
  w->byz = cfg->byzantine ? cfg->nodes - 1 : -1;
  sim_rng_seed(&w->rng, cfg->seed);
  crypto_generichash_init(&w->trace, NULL, 0, 32);
  w->conn = calloc(SIM_NODES_MAX, sizeof(*w->conn));
  char root[SIM_BASE_DIR_MAX + 64];
  snprintf(root, sizeof(root), "%s/cs-sim-%llu-XXXXXX", cfg->base_dir, (unsigned long long)cfg->seed);
  if (!w->conn || sim_set_init(&w->acked, CS_ID_LEN, 0) || sim_set_init(&w->signed_, CS_KEY_LEN + 8, CS_ID_LEN) ||
      !mkdtemp(root)) {
    snprintf(res->reason, sizeof(res->reason), "cannot set up the run in %.200s: %s", cfg->base_dir, strerror(errno));
    sim_set_free(&w->acked);
    sim_set_free(&w->signed_);
    free(w->conn);
    free(w);
    return CS_EIO;
  }
  for (int i = 0; i < w->n && !w->failed; i++) {
    sim_node_t *n = &w->node[i];
    uint8_t seed[32], material[16];
    for (int b = 0; b < 8; b++) material[b] = (uint8_t)(cfg->seed >> (8 * b));
    memset(material + 8, i, 8);
    crypto_generichash(seed, sizeof(seed), material, sizeof(material), NULL, 0);
    crypto_sign_seed_keypair(n->pk, n->sk, seed);
    snprintf(n->museum, sizeof(n->museum), "Musée %c", 'A' + i);
    snprintf(n->dir, sizeof(n->dir), "%s/node%d", root, i);
    n->arrival_src = malloc(SIM_ARRIVALS_MAX);
    if (n->arrival_src) memset(n->arrival_src, -2, SIM_ARRIVALS_MAX); /* source unknown */
    if (!n->arrival_src) sim_fail(w, "out of memory");
    else if (cs_store_open(n->dir, &n->store) != CS_OK) sim_fail(w, "cannot open a store in %s", n->dir);
  }
  if (!w->failed && sim_genesis(w) != CS_OK) sim_fail(w, "node 0 cannot create the club");
  while (!w->failed && w->now < (uint64_t)cfg->steps) step(w);
  if (!w->failed) heal(w);
  if (!w->failed) check_world(w);
  if (!w->failed && cfg->bundle_path[0]) export_bundle(w, cfg->bundle_path);

  close_all(w, "end");
  drop_all_messages(w);
  crypto_generichash_final(&w->trace, res->trace, sizeof(res->trace));
  res->ok = !w->failed;
  for (int i = 0; i < w->n; i++) {
    cs_store_close(w->node[i].store);
    free(w->node[i].arrival_src);
  }
  if (res->ok && !cfg->keep) remove_tree(root);
  else if (!res->ok) {
    size_t len = strlen(res->reason);
    snprintf(res->reason + len, sizeof(res->reason) - len, " [stores kept in %s]", root);
  }
  free(w->msgs);
  free(w->conn);
  sim_set_free(&w->acked);
  sim_set_free(&w->signed_);
  free(w);
  return CS_OK;
}
