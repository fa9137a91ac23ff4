#include "store/sync_io.h"

#include <stdlib.h>
#include <string.h>

#include "store/store_int.h"
#include "store/verifier.h"

/* Reads go through the open write transaction when there is one (it sees
 * what this batch added), else through a short read transaction. */
static int cs__read_begin(cs_store_sync_t *x, cs_txn_t *txn, bool *own) {
  if (x->write_open) {
    *txn = x->write;
    *own = false;
    return CS_OK;
  }
  *own = true;
  return cs_store_begin(x->store, false, txn);
}

static void cs__read_end(cs_txn_t *txn, bool own) {
  if (own) cs_store_abort(txn);
}

typedef struct cs__vector_ctx_s {
  int (*each)(const cs_sync_entry_t *entry, void *each_ctx);
  void *each_ctx;
  cs_txn_t *txn;
  const uint8_t *club;
} cs__vector_ctx_t;

/* What a forked author's vector entry says: a function of the set of that
 * author's changes stored here, whichever branch the chain took.
 *
 * `x` is the XOR of the first four bytes of the ids of every change of the
 * author stored here, in the chain or kept off it as evidence (never 0 in
 * the entry, which means "no fork"). A count is not enough: two nodes that
 * each saw a different fork (seq 9 on one, seq 12 on the other) count one
 * each, and the one with the shorter chain never sends its branch, so their
 * states stay apart (found by the simulator, tools/sim, --seed 1598). With
 * a summary, any difference in the sets makes both sides send that author's
 * whole history, and equal sets send nothing (core/sync.c).
 *
 * `seq` and `id` are the highest seq held and the smallest id held there,
 * not the chain's head: the chain keeps the branch that arrived first, so
 * two nodes holding the same changes may keep different branches, and
 * their vectors (and digests) must still be equal. */
typedef struct cs__fork_summary_s {
  uint32_t x;
  uint64_t seq;
  uint8_t id[CS_ID_LEN];
  bool forked;
} cs__fork_summary_t;

static void cs__summary_add(cs__fork_summary_t *f, uint64_t seq, const uint8_t id[CS_ID_LEN]) {
  f->x ^= (uint32_t)id[0] << 24 | (uint32_t)id[1] << 16 | (uint32_t)id[2] << 8 | id[3];
  if (seq > f->seq || (seq == f->seq && memcmp(id, f->id, CS_ID_LEN) < 0)) {
    f->seq = seq;
    memcpy(f->id, id, CS_ID_LEN);
  }
}

static int cs__evidence_each(uint64_t seq, const uint8_t id[CS_ID_LEN], void *ctx) {
  cs__fork_summary_t *f = ctx;
  f->forked = true;
  cs__summary_add(f, seq, id);
  return 0;
}

/* Adds the author's chain, seqs 1 to `max`, to a forked author's summary. */
static int cs__summary_chain(cs_txn_t *txn, const uint8_t club[CS_ID_LEN], const uint8_t author[CS_KEY_LEN],
                             uint64_t max, cs__fork_summary_t *f) {
  uint8_t id[CS_ID_LEN];
  int err = CS_OK;
  for (uint64_t seq = 1; seq <= max && !err; seq++)
    if (!(err = cs_store_chain_get(txn, club, author, seq, id))) cs__summary_add(f, seq, id);
  return err;
}

/* The evidence index (store/evidence.c) is read for each author of the
 * vector, one seek each: an author with no evidence costs that seek, and a
 * forked one its own records, whatever other keys forked. */
static int cs__vector_each(const uint8_t author[CS_KEY_LEN], uint64_t seq, const uint8_t id[CS_ID_LEN], void *vctx) {
  cs__vector_ctx_t *v = vctx;
  cs_sync_entry_t e;
  cs__fork_summary_t f = {.seq = seq};
  memcpy(e.author, author, CS_KEY_LEN);
  memcpy(e.id, id, CS_ID_LEN);
  memcpy(f.id, id, CS_ID_LEN);
  e.seq = seq;
  e.forks = 0;
  int err = cs_store_fork_evidence(v->txn, v->club, author, cs__evidence_each, &f);
  if (!err && f.forked) err = cs__summary_chain(v->txn, v->club, author, seq, &f);
  if (err) return err;
  if (f.forked) {
    e.seq = f.seq;
    memcpy(e.id, f.id, CS_ID_LEN);
    e.forks = f.x ? f.x : 1;
  }
  return v->each(&e, v->each_ctx);
}

static int cs__io_vector(void *ctx, int (*each)(const cs_sync_entry_t *entry, void *each_ctx), void *each_ctx) {
  cs_store_sync_t *x = ctx;
  cs_txn_t txn;
  bool own;
  x->vectors_read++;
  int err = cs__read_begin(x, &txn, &own);
  if (err) return err;
  cs__vector_ctx_t v = {each, each_ctx, &txn, x->club};
  err = cs_store_vector(&txn, x->club, cs__vector_each, &v);
  cs__read_end(&txn, own);
  return err;
}

static int cs__io_change_at(void *ctx, const uint8_t author[CS_KEY_LEN], uint64_t seq, uint8_t id[CS_ID_LEN],
                            uint64_t *lamport) {
  cs_store_sync_t *x = ctx;
  cs_txn_t txn;
  bool own;
  int err = cs__read_begin(x, &txn, &own);
  if (err) return err;
  cs_span_t bytes;
  cs_change_t *c = malloc(sizeof(*c));
  if (!c) err = CS_ENOMEM;
  if (!err) err = cs_store_chain_get(&txn, x->club, author, seq, id);
  if (!err) err = cs_store_change_get(&txn, id, &bytes);
  if (!err) err = cs_change_decode(bytes, c);
  if (!err) *lamport = c->lamport;
  free(c);
  cs__read_end(&txn, own);
  return err;
}

static int cs__io_changes_from(void *ctx, uint64_t from,
                               int (*each)(const uint8_t id[CS_ID_LEN], cs_span_t signed_bytes, void *each_ctx),
                               void *each_ctx) {
  cs_store_sync_t *x = ctx;
  cs_txn_t txn;
  bool own;
  int err = cs__read_begin(x, &txn, &own);
  if (err) return err;
  err = cs_store_changes_from(&txn, x->club, from, each, each_ctx);
  cs__read_end(&txn, own);
  return err;
}

static int cs__io_ingest(void *ctx, const cs_span_t *changes, size_t count) {
  cs_store_sync_t *x = ctx;
  cs_verifier_t *verifier = count > 1 ? cs_verifier_start(changes, count) : NULL;
  /* A full batch commits here, once the helper is verifying this message:
   * the commit's writes and fsync overlap with verification. */
  int err = x->in_batch >= CS_STORE_SYNC_BATCH ? cs_store_sync_flush(x) : CS_OK;
  for (size_t i = 0; i < count && !err; i++) {
    bool verified = verifier ? cs_verifier_wait(verifier, i) : false;
    if (!x->write_open) {
      cs_store_sync_t *other = x->store->open_batch;
      if (other && other != x) other->deferred_err = cs_store_sync_flush(other);
      if ((err = cs_store_begin(x->store, true, &x->write))) break;
      x->write_open = true;
      x->write_base = cs_store_arrival_last(&x->write);
      x->store->open_batch = x;
    }
    cs_ingest_result_t res;
    if ((err = cs_store_ingest_checked(&x->write, changes[i], verified, &res))) {
      /* A store failure leaves the transaction half-applied: it must not be
       * committed by a later flush (net/ flushes when it closes). */
      cs_store_sync_abort(x);
      break;
    }
    switch (res.status) {
    case CS_INGEST_NEW: case CS_INGEST_UNAUTHORISED: x->added += 1 + res.released; break;
    case CS_INGEST_DUPLICATE: x->duplicates++; break;
    case CS_INGEST_PENDING: x->pending++; break;
    case CS_INGEST_FORK: x->forks++; break;
    case CS_INGEST_REJECTED:
      x->rejected++;
      x->last_reject_reason = res.reason;
      break;
    }
    x->in_batch++;
  }
  cs_verifier_stop(verifier);
  return err;
}

static int cs__io_send(void *ctx, cs_span_t message) {
  cs_store_sync_t *x = ctx;
  return x->send(x->send_ctx, message);
}

/* The club's vector digest, kept in the store per committed transaction:
 * computed once after each commit (by anyone), then found. Inside an open
 * batch the digest covers uncommitted changes and is computed each time. The
 * transaction id is read before the vector, so a digest is never filed
 * under an id newer than the state it covers. */
static int cs__io_digest(void *ctx, uint8_t out[32]) {
  cs_store_sync_t *x = ctx;
  cs_store_t *s = x->store;
  cs_sync_io_t plain = {.ctx = x, .vector = cs__io_vector};
  uint64_t txnid = x->write_open ? 0 : cs_store_last_txnid(s);
  uint32_t at = CS_STORE_DIGESTS_MAX;
  for (uint32_t i = 0; i < CS_STORE_DIGESTS_MAX && txnid; i++)
    if (s->digests[i].txnid && memcmp(s->digests[i].club, x->club, CS_ID_LEN) == 0) at = i;
  if (at < CS_STORE_DIGESTS_MAX && s->digests[at].txnid == txnid) {
    memcpy(out, s->digests[at].digest, 32);
    return CS_OK;
  }
  int err = cs_sync_vector_digest(&plain, out);
  if (err || !txnid) return err;
  if (at == CS_STORE_DIGESTS_MAX) {
    at = s->digest_next;
    s->digest_next = (s->digest_next + 1) % CS_STORE_DIGESTS_MAX;
  }
  memcpy(s->digests[at].club, x->club, CS_ID_LEN);
  s->digests[at].txnid = txnid;
  memcpy(s->digests[at].digest, out, 32);
  return CS_OK;
}

void cs_store_sync_init(cs_store_sync_t *x, cs_store_t *store, const uint8_t club[CS_ID_LEN],
                        int (*send)(void *send_ctx, cs_span_t message), void *send_ctx, cs_sync_io_t *io) {
  memset(x, 0, sizeof(*x));
  x->store = store;
  memcpy(x->club, club, CS_ID_LEN);
  x->send = send;
  x->send_ctx = send_ctx;
  io->ctx = x;
  io->vector = cs__io_vector;
  io->change_at = cs__io_change_at;
  io->changes_from = cs__io_changes_from;
  io->ingest = cs__io_ingest;
  io->send = cs__io_send;
  io->digest = cs__io_digest;
}

int cs_store_sync_flush(cs_store_sync_t *x) {
  /* A commit another batch forced failed: say so now, even if a new batch
   * was opened since (it is dropped too; the caller closes the session). */
  if (x->deferred_err) {
    int deferred = x->deferred_err;
    x->deferred_err = CS_OK;
    cs_store_sync_abort(x);
    return deferred;
  }
  if (!x->write_open) return CS_OK;
  x->write_open = false;
  x->in_batch = 0;
  if (x->store->open_batch == x) x->store->open_batch = NULL;
  uint64_t upto = cs_store_arrival_last(&x->write);
  int err = cs_store_commit(&x->write);
  if (!err && x->stored && upto > x->write_base) x->stored(x->send_ctx, x->write_base, upto);
  return err;
}

void cs_store_sync_abort(cs_store_sync_t *x) {
  if (x->store && x->store->open_batch == x) x->store->open_batch = NULL;
  if (x->write_open) cs_store_abort(&x->write);
  x->write_open = false;
  x->in_batch = 0;
}
