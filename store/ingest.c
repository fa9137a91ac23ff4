/* Validation and application of changes: the replica's write path.
 *
 * Order of checks (cheap first, as the architecture brief sets it):
 * size limits, decode, well-formed fields and ops, payload hash, signature,
 * club known, duplicate, fork, prev and deps stored (else pending), lamport,
 * then authorisation of every op against the member timelines. */
#include "store/store_int.h"

#include <stdlib.h>

#include <sodium.h>

#include "core/campaign.h"
#include "core/decision.h"

static int cs__put(cs_txn_t *txn, MDB_dbi dbi, const void *k, size_t kn, const void *v, size_t vn) {
  MDB_val key = cs__val(k, kn), val = cs__val(v, vn);
  return cs__mdb_err(mdb_put(txn->txn, dbi, &key, &val, 0));
}

static int cs__del(cs_txn_t *txn, MDB_dbi dbi, const void *k, size_t kn) {
  MDB_val key = cs__val(k, kn);
  int rc = mdb_del(txn->txn, dbi, &key, NULL);
  return rc == MDB_NOTFOUND ? CS_OK : cs__mdb_err(rc);
}

static bool cs__exists(cs_txn_t *txn, MDB_dbi dbi, const void *k, size_t kn) {
  MDB_val key = cs__val(k, kn), val;
  return mdb_get(txn->txn, dbi, &key, &val) == 0;
}

static int cs__set_status(cs_txn_t *txn, const uint8_t id[CS_ID_LEN], int reason) {
  if (reason == CS_OK) return cs__del(txn, txn->store->status, id, CS_ID_LEN);
  uint8_t r = (uint8_t)reason;
  return cs__put(txn, txn->store->status, id, CS_ID_LEN, &r, 1);
}

/* Deletes every key of dbi that starts with prefix. */
static int cs__del_prefix(cs_txn_t *txn, MDB_dbi dbi, const uint8_t *prefix, size_t prefix_len) {
  MDB_cursor *cur;
  MDB_val k, v;
  int rc = mdb_cursor_open(txn->txn, dbi, &cur);
  if (rc) return cs__mdb_err(rc);
  for (;;) {
    k = cs__val(prefix, prefix_len);
    rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    if (rc || k.mv_size < prefix_len || memcmp(k.mv_data, prefix, prefix_len) != 0) break;
    if ((rc = mdb_cursor_del(cur, 0))) break;
  }
  mdb_cursor_close(cur);
  return rc == MDB_NOTFOUND || rc == 0 ? CS_OK : cs__mdb_err(rc);
}

/* The earliest seq at which (club, author) is frozen by a fork, or 0. */
static uint64_t cs__frozen_from(cs_txn_t *txn, const uint8_t club[CS_ID_LEN], const uint8_t author[CS_KEY_LEN]) {
  MDB_cursor *cur;
  uint8_t key[CS__K3];
  cs__chain_key(key, club, author, 0);
  MDB_val k = cs__val(key, sizeof(key)), v;
  uint64_t seq = 0;
  if (mdb_cursor_open(txn->txn, txn->store->forks, &cur)) return 0;
  if (mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE) == 0 && k.mv_size == CS__K3 && memcmp(k.mv_data, key, CS__K2) == 0)
    seq = cs__get_be64((const uint8_t *)k.mv_data + CS__K2);
  mdb_cursor_close(cur);
  return seq;
}

/* Member-op records --------------------------------------------------- */

/* memberops value: [author, author seq, key, museum, role, cutoff, founder]. */
static int cs__memberop_put(cs_txn_t *txn, const uint8_t club[CS_ID_LEN], const cs_change_t *c, uint32_t index,
                            const cs_op_t *op, bool founder) {
  uint8_t key[CS_ID_LEN + 8 + CS_ID_LEN + 4];
  memcpy(key, club, CS_ID_LEN);
  cs__put_be64(key + CS_ID_LEN, c->lamport);
  memcpy(key + CS_ID_LEN + 8, c->id, CS_ID_LEN);
  key[CS__K3 + 0] = (uint8_t)(index >> 24);
  key[CS__K3 + 1] = (uint8_t)(index >> 16);
  key[CS__K3 + 2] = (uint8_t)(index >> 8);
  key[CS__K3 + 3] = (uint8_t)index;
  cs_buf_t b;
  cs_buf_init(&b, 1024);
  cs_mp_write_array(&b, 7);
  cs_mp_write_bin(&b, c->author, CS_KEY_LEN);
  cs_mp_write_uint(&b, c->seq);
  cs_mp_write_bin(&b, founder ? c->author : op->key, CS_KEY_LEN);
  cs_mp_write_str(&b, (const char *)(founder ? op->value.ptr : op->name.ptr), founder ? op->value.len : op->name.len);
  cs_mp_write_uint(&b, founder ? CS_ROLE_ADMIN : op->role);
  cs_mp_write_uint(&b, founder ? 0 : op->cutoff);
  cs_mp_write_bool(&b, founder);
  int err = b.failed ? CS_ETOOBIG : cs__put(txn, txn->store->memberops, key, sizeof(key), b.data, b.len);
  cs_buf_free(&b);
  return err;
}

static int cs__mop_decode(MDB_val k, MDB_val v, cs_member_op_t *m) {
  if (k.mv_size != CS__K3 + 4) return CS_ESTORE;
  const uint8_t *kp = k.mv_data;
  memset(m, 0, sizeof(*m));
  m->entry.lamport = cs__get_be64(kp + CS_ID_LEN);
  memcpy(m->entry.change, kp + CS_ID_LEN + 8, CS_ID_LEN);
  m->entry.op_index = (uint32_t)kp[CS__K3] << 24 | (uint32_t)kp[CS__K3 + 1] << 16 | (uint32_t)kp[CS__K3 + 2] << 8 |
                      kp[CS__K3 + 3];
  cs_mp_reader_t r = cs_mp_reader(cs__span(v));
  uint32_t n;
  uint64_t role;
  cs_span_t museum;
  if (cs_mp_read_array(&r, &n) || n != 7 || cs_mp_read_bin32(&r, m->author) || cs_mp_read_uint(&r, &m->seq) ||
      cs_mp_read_bin32(&r, m->key) || cs_mp_read_str(&r, &museum) || cs_mp_read_uint(&r, &role) ||
      cs_mp_read_uint(&r, &m->entry.cutoff) || cs_mp_read_bool(&r, &m->founder))
    return CS_ESTORE;
  if (museum.len > CS_NAME_MAX || role >= CS_ROLE_COUNT) return CS_ESTORE;
  memcpy(m->entry.museum, museum.ptr, museum.len);
  m->entry.museum[museum.len] = '\0';
  m->entry.role = (cs_role_t)role;
  return CS_OK;
}

static int cs__motion_members(cs_txn_t *txn, const uint8_t club[CS_ID_LEN], cs_motion_members_t *out);

int cs_store_motion_decision(cs_txn_t *txn, const uint8_t club[CS_ID_LEN], const uint8_t motion_id[CS_ID_LEN],
                             const uint8_t *at, cs_resolution_rec_t *out, bool *resolved) {
  cs_object_t motion;
  cs_resolution_rec_t *recs = NULL;
  uint32_t count = 0;
  cs_ballot_t *ballots = NULL;
  uint32_t ballot_count = 0;
  cs_motion_members_t members = {NULL, 0};
  const cs_resolution_rec_t *win = NULL;
  cs_past_t past = cs_store_past(txn);
  *resolved = false;
  int err = cs_store_object_get(txn, club, motion_id, &motion);
  if (err == CS_ENOTFOUND) return CS_OK;
  if (err) return err;
  if (motion.type == CS_OBJ_MOTION) err = cs_motion_resolutions(&motion, &recs, &count);
  if (!err) err = cs_resolution_front(&past, at, recs, &count);
  /* The members and ballots are read only when candidates tie on museums. */
  if (!err && count > 1 && !(err = cs_store_motion_ballots(txn, club, motion_id, &ballots, &ballot_count)))
    err = cs__motion_members(txn, club, &members);
  if (!err) {
    cs_motion_case_t mc = {&past, &members, motion.created_change, ballots, ballot_count};
    err = cs_resolution_pick(&mc, recs, count, &win);
  }
  if (!err && win) {
    *out = *win;
    *resolved = true;
  }
  cs_motion_members_free(&members);
  free(ballots);
  free(recs);
  cs_object_free(&motion);
  return err == CS_ENOTFOUND ? CS_ESTORE : err;
}

/* Whether change `id` carries out an adopted decision: its deps hold a
 * valid motion whose effect is exactly `want` ("remove-admin <key hex>",
 * "approve <object hex>" ...), and the winner among that motion's valid
 * resolutions in the change's causal past says adopted (core/decision.c,
 * cs_motion_winner). Deps are applied before the change, on every node.
 * *motion: the motion whose decision it carries out. With `pessimistic`,
 * no decision is adopted: the first membership replay of a rebuild reads
 * nothing an earlier derivation left (cs_store_rebuild). */
static bool cs__decision_adopted(cs_txn_t *txn, const uint8_t club[CS_ID_LEN], const uint8_t id[CS_ID_LEN],
                                 const char *want, uint8_t motion[CS_ID_LEN], bool pessimistic) {
  cs_change_t *c = malloc(sizeof(*c)), *d = malloc(sizeof(*d));
  cs_decision_scan_t *scan = calloc(1, sizeof(*scan));
  cs_span_t bytes;
  bool ok = false;
  memset(motion, 0, CS_ID_LEN);
  if (!pessimistic && c && d && scan && cs_store_change_get(txn, id, &bytes) == CS_OK && cs_change_decode(bytes, c) == CS_OK) {
    for (uint32_t i = 0; i < c->dep_count; i++)
      if (cs_store_change_get(txn, c->deps[i], &bytes) == CS_OK && cs_change_decode(bytes, d) == CS_OK &&
          cs_store_change_status(txn, c->deps[i]) == CS_OK)
        cs_decision_scan_add(scan, d, want, true, false); /* a stored valid change was authorised */
    for (uint32_t i = 0; i < scan->motion_count && !ok; i++) {
      cs_resolution_rec_t win;
      bool resolved;
      ok = cs_store_motion_decision(txn, club, scan->motions[i], id, &win, &resolved) == CS_OK && resolved &&
           win.res.adopted;
      if (ok) memcpy(motion, scan->motions[i], CS_ID_LEN);
    }
  }
  free(c);
  free(d);
  free(scan);
  return ok;
}

/* The store's side of the membership rules (core/members.h). */
typedef struct cs__rules_ctx_s {
  cs_txn_t *txn;
  const uint8_t *club;
  cs_past_t past;
  bool pessimistic;        /* see cs__decision_adopted */
  bool consulted;          /* a decision was asked for about the current change */
  const uint8_t *current;  /* the change being applied, or NULL */
} cs__rules_ctx_t;

/* A member op's cutoff is its key's highest seq in the change's causal
 * past, whatever it writes (docs/decisions.md). Every member change is
 * stored, and its vector with it, before the replay reads it. */
static int cs__rules_cutoff(void *vctx, const uint8_t change[CS_ID_LEN], const uint8_t key[CS_KEY_LEN],
                            uint64_t written, uint64_t *cutoff) {
  cs__rules_ctx_t *ctx = vctx;
  (void)written;
  int err = cs_past_seq(&ctx->past, change, key, cutoff);
  return err == CS_ENOTFOUND ? CS_ESTORE : err;
}

static int cs__rules_past_holds(void *vctx, const uint8_t change[CS_ID_LEN], const uint8_t author[CS_KEY_LEN],
                                uint64_t seq, bool *holds) {
  cs__rules_ctx_t *ctx = vctx;
  int err = cs_past_holds(&ctx->past, change, author, seq, holds);
  return err == CS_ENOTFOUND ? CS_ESTORE : err;
}

static uint64_t cs__rules_frozen_from(void *vctx, const uint8_t author[CS_KEY_LEN]) {
  cs__rules_ctx_t *ctx = vctx;
  return cs__frozen_from(ctx->txn, ctx->club, author);
}

static bool cs__rules_decision_adopted(void *vctx, const uint8_t change[CS_ID_LEN], const char *effect,
                                       uint8_t motion[CS_ID_LEN]) {
  cs__rules_ctx_t *ctx = vctx;
  bool current = ctx->current && memcmp(ctx->current, change, CS_ID_LEN) == 0;
  if (current) ctx->consulted = true;
  return cs__decision_adopted(ctx->txn, ctx->club, change, effect, motion, ctx->pessimistic);
}

int cs__members_replay(cs_txn_t *txn, const uint8_t club[CS_ID_LEN], const cs_change_t *current, bool pessimistic,
                       cs__replay_found_t *found) {
  cs_member_replay_t replay;
  memset(&replay, 0, sizeof(replay));
  cs_member_table_t *table = &replay.table;
  cs__rules_ctx_t rules_ctx = {txn, club, cs_store_past(txn), pessimistic, false, current ? current->id : NULL};
  const cs_member_rules_t rules = {cs__rules_frozen_from, cs__rules_decision_adopted, cs__rules_cutoff,
                                   cs__rules_past_holds, &rules_ctx};
  cs_member_op_t *ops = NULL;
  int *validity = NULL;
  bool *kept = NULL;
  uint32_t n = 0, cap = 0;
  cs_member_t *old = malloc(sizeof(*old));
  MDB_cursor *cur = NULL;
  int err = CS_OK, rc;
  memset(found, 0, sizeof(*found));
  if (!old) return CS_ENOMEM;
  MDB_val k = cs__val(club, CS_ID_LEN), v;
  if ((rc = mdb_cursor_open(txn->txn, txn->store->memberops, &cur))) {
    err = cs__mdb_err(rc);
    goto done;
  }
  /* Every member op of the club, in (lamport, change, index) order. */
  for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0 && k.mv_size >= CS_ID_LEN &&
                                                         memcmp(k.mv_data, club, CS_ID_LEN) == 0;
       rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
    if (n == cap) {
      cap = cap ? 2 * cap : 64;
      cs_member_op_t *grown = realloc(ops, cap * sizeof(*ops));
      if (!grown) {
        err = CS_ENOMEM;
        goto done;
      }
      ops = grown;
    }
    if ((err = cs__mop_decode(k, v, &ops[n]))) goto done;
    n++;
  }
  mdb_cursor_close(cur);
  cur = NULL;
  if (!(validity = malloc((n ? n : 1) * sizeof(*validity)))) {
    err = CS_ENOMEM;
    goto done;
  }
  if (!(kept = malloc((n ? n : 1) * sizeof(*kept)))) {
    err = CS_ENOMEM;
    goto done;
  }
  if ((err = cs_member_replay_all(&replay, ops, n, &rules, validity, &found->rounds, kept))) goto done;
  txn->store->member_rounds += found->rounds;
  for (uint32_t i = 0; i < n && !err; i++) {
    if (i > 0 && memcmp(ops[i].entry.change, ops[i - 1].entry.change, CS_ID_LEN) == 0) continue;
    bool is_current = current && memcmp(ops[i].entry.change, current->id, CS_ID_LEN) == 0;
    if (is_current && kept[i]) found->current_kept_out = true;
    if (!is_current && cs_store_change_status(txn, ops[i].entry.change) != validity[i]) found->statuses_changed = true;
    err = cs__set_status(txn, ops[i].entry.change, validity[i]);
  }
  if (err) goto done;
  found->consulted = rules_ctx.consulted;

  /* Compare with the stored table: a role that changed for a seq the key
   * already wrote means stored changes must be re-evaluated. */
  for (uint32_t i = 0; i < table->count; i++) {
    cs_member_t *now = &table->rows[i];
    uint64_t max_seq = cs_store_author_seq(txn, club, now->key, NULL);
    /* The change being applied gets its validity from this replay itself. */
    if (current && memcmp(current->author, now->key, CS_KEY_LEN) == 0 && max_seq >= current->seq)
      max_seq = current->seq - 1;
    if (cs_store_member_get(txn, club, now->key, old) != CS_OK) old->count = 0;
    if (max_seq > 0 && cs_member_roles_differ(old, now, max_seq)) found->retroactive = true;
  }
  if ((err = cs__del_prefix(txn, txn->store->members, club, CS_ID_LEN))) goto done;
  cs_buf_t b;
  cs_buf_init(&b, 64 * 1024);
  for (uint32_t i = 0; i < table->count && !err; i++) {
    uint8_t key[CS__K2];
    cs__key2(key, club, table->rows[i].key);
    if (!(err = cs_member_encode(&table->rows[i], &b)))
      err = cs__put(txn, txn->store->members, key, sizeof(key), b.data, b.len);
  }
  cs_buf_free(&b);
done:
  if (cur) mdb_cursor_close(cur);
  cs_member_replay_free(&replay);
  free(ops);
  free(validity);
  free(kept);
  free(old);
  return err;
}

/* Content ops ---------------------------------------------------------- */

#define CS__CACHE_MAX 16

typedef struct cs__cached_s {
  uint8_t id[CS_ID_LEN];
  cs_object_t obj;
  bool dirty;
} cs__cached_t;

typedef struct cs__cache_s {
  cs__cached_t items[CS__CACHE_MAX];
  uint32_t count;
} cs__cache_t;

static void cs__cache_free(cs__cache_t *cache) {
  for (uint32_t i = 0; i < cache->count; i++) cs_object_free(&cache->items[i].obj);
  cache->count = 0;
}

/* Finds an object in this change's cache or the store; NULL when unknown. */
static cs_object_t *cs__cache_get(cs_txn_t *txn, const uint8_t club[CS_ID_LEN], cs__cache_t *cache,
                                  const uint8_t id[CS_ID_LEN], int *err) {
  for (uint32_t i = 0; i < cache->count; i++)
    if (memcmp(cache->items[i].id, id, CS_ID_LEN) == 0) return &cache->items[i].obj;
  if (cache->count == CS__CACHE_MAX) {
    *err = CS_ETOOBIG;
    return NULL;
  }
  cs__cached_t *slot = &cache->items[cache->count];
  int rc = cs_store_object_get(txn, club, id, &slot->obj);
  if (rc == CS_ENOTFOUND) return NULL;
  if (rc) {
    *err = rc;
    return NULL;
  }
  memcpy(slot->id, id, CS_ID_LEN);
  slot->dirty = false;
  cache->count++;
  return &slot->obj;
}

/* Marks the cached object as changed, so the flush writes it. */
static void cs__cache_touch(cs_object_t *obj) {
  ((cs__cached_t *)((char *)obj - offsetof(cs__cached_t, obj)))->dirty = true;
}

/* The motion rules' view of the replica (core/decision.h) ---------------- */

/* The applied member ops of the club: every stored member op whose change
 * the membership replay applied. */
static int cs__motion_members(cs_txn_t *txn, const uint8_t club[CS_ID_LEN], cs_motion_members_t *out) {
  cs_member_op_t *ops = NULL;
  uint32_t count = 0, cap = 0;
  MDB_cursor *cur;
  MDB_val k = cs__val(club, CS_ID_LEN), v;
  int err = cs__mdb_err(mdb_cursor_open(txn->txn, txn->store->memberops, &cur));
  if (err) return err;
  for (int rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0 && !err;
       rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
    if (k.mv_size < CS_ID_LEN || memcmp(k.mv_data, club, CS_ID_LEN) != 0) break;
    if (count == cap) {
      cap = cap ? 2 * cap : 64;
      cs_member_op_t *grown = realloc(ops, cap * sizeof(*ops));
      if (!grown) {
        err = CS_ENOMEM;
        break;
      }
      ops = grown;
    }
    if ((err = cs__mop_decode(k, v, &ops[count]))) break;
    if (cs_store_change_status(txn, ops[count].entry.change) == CS_OK) count++;
  }
  mdb_cursor_close(cur);
  if (!err) err = cs_motion_members_init(out, ops, count);
  free(ops);
  return err;
}

/* Every valid ballot on a motion: the derived field of its votes. */
typedef struct cs__ballots_s {
  const uint8_t *motion;
  cs_ballot_t *items;
  uint32_t count, cap;
} cs__ballots_t;

static int cs__ballots_each(const uint8_t id[CS_ID_LEN], const cs_object_t *obj, void *vctx) {
  (void)id;
  cs__ballots_t *b = vctx;
  const cs_entry_t *e;
  if (!obj->has_parent || memcmp(obj->parent, b->motion, CS_ID_LEN) != 0) return CS_OK;
  uint32_t n = cs_object_field(obj, CS_F_VOTE_BALLOTS, &e);
  for (uint32_t i = 0; i < n; i++) {
    if (b->count == b->cap) {
      uint32_t cap = b->cap ? 2 * b->cap : 64;
      cs_ballot_t *grown = realloc(b->items, cap * sizeof(*grown));
      if (!grown) return CS_ENOMEM;
      b->items = grown;
      b->cap = cap;
    }
    int err = cs_ballot_from_entry(&e[i], &b->items[b->count]);
    if (err) return err;
    b->count++;
  }
  return CS_OK;
}

int cs_store_motion_ballots(cs_txn_t *txn, const uint8_t club[CS_ID_LEN], const uint8_t motion[CS_ID_LEN],
                            cs_ballot_t **out, uint32_t *count) {
  cs__ballots_t b = {motion, NULL, 0, 0};
  int err = cs_store_objects(txn, club, CS_OBJ_VOTE, cs__ballots_each, &b);
  if (err) {
    free(b.items);
    b.items = NULL;
    b.count = 0;
  }
  *out = b.items;
  *count = b.count;
  return err;
}

int cs_store_motion_members(cs_txn_t *txn, const uint8_t club[CS_ID_LEN], cs_motion_members_t *out) {
  return cs__motion_members(txn, club, out);
}

/* A resolution, judged by the rule of core/decision.c against its causal
 * past; then recorded in the motion's derived field. */
static int cs__check_resolution(cs_txn_t *txn, const uint8_t club[CS_ID_LEN], const cs_change_t *c,
                                const uint8_t motion_id[CS_ID_LEN], cs_object_t *motion, const cs_op_t *op,
                                const uint8_t op_id[CS_ID_LEN]) {
  cs_resolution_rec_t rec, *prior = NULL;
  const cs_entry_t *e;
  char rule[16] = "", why[256];
  uint32_t prior_count = 0, ballot_count = 0;
  cs_ballot_t *ballots = NULL;
  cs_motion_members_t members = {NULL, 0};
  int err = cs_resolution_decode(op->value, &rec.res);
  if (err) return err;
  if (cs_object_field(motion, CS_F_MOTION_QUORUM, &e)) cs_value_str(e->value, e->value_len, rule, sizeof(rule));
  cs_past_t past = cs_store_past(txn);
  if (!(err = cs_motion_resolutions(motion, &prior, &prior_count)) &&
      !(err = cs_store_motion_ballots(txn, club, motion_id, &ballots, &ballot_count)))
    err = cs__motion_members(txn, club, &members);
  if (!err) {
    cs_resolution_case_t rc = {&past,   &members, motion->created_change, rule,    ballots,       ballot_count,
                               prior,   prior_count, c->id,                &rec.res, op->ref_count};
    err = cs_resolution_judge(&rc, NULL, NULL, why, sizeof(why));
  }
  if (!err) {
    memcpy(rec.change, c->id, CS_ID_LEN);
    memcpy(rec.author, c->author, CS_KEY_LEN);
    rec.seq = c->seq;
    rec.lamport = c->lamport;
    cs_buf_t el;
    cs_buf_init(&el, 128);
    cs_resolution_element(&rec, &el);
    err = cs_object_add(motion, CS_F_MOTION_RESOLUTIONS, c->lamport, c->author, op_id, cs_buf_span(&el));
    cs_buf_free(&el);
  }
  cs_motion_members_free(&members);
  free(ballots);
  free(prior);
  return err;
}

/* A ballot: recorded in its vote's derived field; a second ballot of one
 * change on the same motion makes the change invalid. The change's other
 * votes are in the cache, with their ballots of this change. */
static int cs__record_ballot(cs__cache_t *cache, const cs_change_t *c, cs_object_t *vote, const cs_op_t *op,
                             const uint8_t op_id[CS_ID_LEN]) {
  cs_ballot_t b, other;
  char choice[16] = "";
  memcpy(b.change, c->id, CS_ID_LEN);
  b.seq = c->seq;
  b.choice = 0;
  cs_value_str(op->value.ptr, op->value.len, choice, sizeof(choice));
  for (uint32_t k = 0; cs_vote_choices[k]; k++)
    if (strcmp(choice, cs_vote_choices[k]) == 0) b.choice = k;
  for (uint32_t i = 0; i < cache->count; i++) {
    const cs_object_t *o = &cache->items[i].obj;
    const cs_entry_t *e;
    if (o->type != CS_OBJ_VOTE || memcmp(o->parent, vote->parent, CS_ID_LEN) != 0) continue;
    uint32_t n = cs_object_field(o, CS_F_VOTE_BALLOTS, &e);
    for (uint32_t j = 0; j < n; j++)
      if (cs_ballot_from_entry(&e[j], &other) == CS_OK && memcmp(other.change, c->id, CS_ID_LEN) == 0)
        return CS_EAUTH; /* one ballot per motion in one change */
  }
  cs_buf_t el;
  cs_buf_init(&el, 64);
  cs_ballot_element(&b, &el);
  int err = cs_object_add(vote, CS_F_VOTE_BALLOTS, c->lamport, c->author, op_id, cs_buf_span(&el));
  cs_buf_free(&el);
  return err;
}

/* What the motion rules keep of a valid write: a ballot, a resolution. */
static int cs__motion_rules(cs_txn_t *txn, const uint8_t club[CS_ID_LEN], cs__cache_t *cache, const cs_change_t *c,
                            cs_object_t *obj, const cs_op_t *op, uint32_t index) {
  if (op->type != CS_OP_SET) return CS_OK;
  uint8_t op_id[CS_ID_LEN]; /* the derived entry's own id */
  cs_op_id(c->id, CS_DERIVED_OP_INDEX(index), op_id);
  if (obj->type == CS_OBJ_VOTE && op->field == CS_F_VOTE_CHOICE) return cs__record_ballot(cache, c, obj, op, op_id);
  if (obj->type == CS_OBJ_MOTION && op->field == CS_F_MOTION_RESOLUTION)
    return cs__check_resolution(txn, club, c, op->obj, obj, op, op_id);
  return CS_OK;
}

/* The checks of a value that need state: the writer's own key, a ballot's
 * budget. Both read only what is in the change's causal past (the writer's
 * key; the campaign's points, written once by the change that created it),
 * so the outcome is the same on every node whatever the arrival order. */
static int cs__check_in_state(cs_txn_t *txn, const uint8_t club[CS_ID_LEN], cs__cache_t *cache, const cs_change_t *c,
                              const uint8_t obj_id[CS_ID_LEN], const cs_object_t *obj, const cs_field_spec_t *spec,
                              cs_span_t value) {
  (void)obj_id;
  if (spec->value == CS_VALUE_OWN_KEY) {
    uint8_t key[CS_KEY_LEN];
    cs_mp_reader_t r = cs_mp_reader(value);
    if (cs_mp_read_bin32(&r, key) || memcmp(key, c->author, CS_KEY_LEN) != 0) return CS_EAUTH;
  }
  if (spec->value == CS_VALUE_ALLOCATION) {
    /* Within the campaign's points, and not after its close (core/campaign.c). */
    int err = CS_OK;
    cs_object_t *campaign = cs__cache_get(txn, club, cache, obj->parent, &err);
    if (err) return err;
    if (!campaign || campaign->type != CS_OBJ_CAMPAIGN) return CS_EBUDGET;
    cs_past_t past = cs_store_past(txn);
    return cs_campaign_ballot_check(campaign, value, &past, c->id);
  }
  return CS_OK;
}

/* The tally of the ballots in the causal past of change `as_of` (NULL: of
 * every valid change stored, which is the past of a change this node is
 * about to write): feeds core's cs_tally_past the valid changes of that past
 * in (lamport, id) order. Costs one pass over the club's changes older than
 * `as_of`, which only a close pays. */
typedef struct cs__tally_past_ctx_s {
  cs_txn_t *txn;
  const cs_change_t *as_of;
  cs_past_t past;
  cs_tally_past_t *tp;
  cs_change_t *c;
} cs__tally_past_ctx_t;

static int cs__tally_past_each(const uint8_t id[CS_ID_LEN], cs_span_t bytes, void *vctx) {
  cs__tally_past_ctx_t *ctx = vctx;
  if (cs_store_change_status(ctx->txn, id) != CS_OK) return CS_OK;
  if (cs_change_decode(bytes, ctx->c)) return CS_ESTORE;
  if (ctx->as_of) {
    /* The past holds only lower lamports; the change itself is not its past. */
    if (ctx->c->lamport >= ctx->as_of->lamport) return CS_STOP;
    bool holds = false;
    int err = cs_past_holds(&ctx->past, ctx->as_of->id, ctx->c->author, ctx->c->seq, &holds);
    if (err || !holds) return err;
  }
  return cs_tally_past_add(ctx->tp, ctx->c);
}

int cs_store_campaign_tally(cs_txn_t *txn, const uint8_t club[CS_ID_LEN], const uint8_t campaign[CS_ID_LEN],
                            const cs_change_t *as_of, cs_tally_past_t **out) {
  cs__tally_past_ctx_t ctx = {txn, as_of, cs_store_past(txn), NULL, malloc(sizeof(cs_change_t))};
  int err = ctx.c ? cs_tally_past_new(campaign, &ctx.tp) : CS_ENOMEM;
  if (!err) err = cs_store_changes(txn, club, cs__tally_past_each, &ctx);
  if (err == CS_STOP) err = CS_OK;
  free(ctx.c);
  if (err) cs_tally_past_free(ctx.tp);
  else *out = ctx.tp;
  return err;
}

/* cs_object_seen once per object and change: an object's ops in one change
 * are checked by the first. `memo` holds the ids found seen so far. */
typedef struct cs__seen_memo_s {
  uint8_t ids[CS__CACHE_MAX][CS_ID_LEN];
  uint32_t count;
} cs__seen_memo_t;

static int cs__seen(const cs_past_t *past, const cs_change_t *c, const uint8_t id[CS_ID_LEN], const cs_object_t *obj,
                    cs__seen_memo_t *memo) {
  for (uint32_t i = 0; i < memo->count; i++)
    if (memcmp(memo->ids[i], id, CS_ID_LEN) == 0) return CS_OK;
  int err = cs_object_seen(past, c, obj);
  if (!err && memo->count < CS__CACHE_MAX) memcpy(memo->ids[memo->count++], id, CS_ID_LEN);
  return err;
}

/* The campaign rules of one op that applies (core/campaign.h): a change
 * holds at most one ballot per campaign, results are the tally of the
 * ballots in the change's causal past, and a close is recorded in the
 * campaign's record for the ballots after it. obj is the object a non-create
 * op writes. */
static int cs__campaign_op(cs_txn_t *txn, const uint8_t club[CS_ID_LEN], cs_ballot_once_t **once,
                           const cs_change_t *c, const cs_op_t *op, const uint8_t op_id[CS_ID_LEN], cs_object_t *obj) {
  if (op->type == CS_OP_SET && obj && obj->type == CS_OBJ_CAMPAIGN && op->field == CS_F_CAMPAIGN_RESULTS) {
    cs_tally_past_t *tp = NULL;
    int err = cs_store_campaign_tally(txn, club, op->obj, c, &tp);
    if (!err) err = cs_tally_past_check(tp, op->value);
    cs_tally_past_free(tp);
    return err;
  }
  if (op->type == CS_OP_SET && obj && obj->type == CS_OBJ_CAMPAIGN && op->field == CS_F_CAMPAIGN_PHASE &&
      cs_campaign_phase_closes(op->value))
    return cs_campaign_note_close(obj, c->lamport, c->author, c->seq, op_id);
  bool create = op->type == CS_OP_CREATE && op->obj_type == CS_OBJ_BALLOT && op->has_parent;
  bool allocation = op->type == CS_OP_SET && obj && obj->type == CS_OBJ_BALLOT && op->field == CS_F_BALLOT_ALLOCATION;
  if (!create && !allocation) return CS_OK;
  if (!*once && !(*once = calloc(1, sizeof(**once)))) return CS_ENOMEM; /* only changes with ballots pay */
  return create ? cs_ballot_once_note(*once, op->parent, op_id, false)
                : cs_ballot_once_note(*once, obj->parent, op->obj, true);
}

static int cs__apply_content(cs_txn_t *txn, const cs_change_t *c, const uint8_t club[CS_ID_LEN], cs_role_t role,
                             cs__cache_t *cache) {
  cs_op_iter_t it;
  cs_op_t *op = malloc(sizeof(*op));
  cs_ballot_once_t *once = NULL;
  cs_past_t past = cs_store_past(txn);
  cs__seen_memo_t memo;
  memo.count = 0;
  int err = op ? cs_op_iter_init(&it, c->payload_bytes) : CS_ENOMEM;
  for (uint32_t index = 0; !err; index++) {
    err = cs_op_iter_next(&it, op);
    if (err == CS_ENOTFOUND) {
      err = CS_OK;
      break;
    }
    if (err) break;
    uint8_t op_id[CS_ID_LEN];
    cs_op_id(c->id, index, op_id);
    if (op->obj_local) {
      cs_op_id(c->id, op->obj_index, op->obj);
      if (op->type == CS_OP_CREATE) memcpy(op->parent, op->obj, CS_ID_LEN);
    }
    if (op->type == CS_OP_CREATE) {
      if (!cs_model_may(role, CS_OP_CREATE, op->obj_type, 0)) { err = CS_EAUTH; break; }
      uint64_t parent_type = 0;
      if (op->has_parent) {
        cs_object_t *parent = cs__cache_get(txn, club, cache, op->parent, &err);
        if (err) break;
        if (!op->obj_local && (err = cs__seen(&past, c, op->parent, parent, &memo))) break;
        if (!parent) continue; /* a local parent whose creation had no effect */
        parent_type = parent->type;
      }
      if (!cs_model_parent_ok(op->obj_type, op->has_parent, parent_type)) { err = CS_EFORMAT; break; }
      if ((err = cs__campaign_op(txn, club, &once, c, op, op_id, NULL))) break;
      if (cache->count == CS__CACHE_MAX) { err = CS_ETOOBIG; break; }
      cs__cached_t *slot = &cache->items[cache->count++];
      cs_object_init(&slot->obj);
      memcpy(slot->id, op_id, CS_ID_LEN);
      slot->dirty = true;
      slot->obj.type = op->obj_type;
      slot->obj.has_parent = op->has_parent;
      memcpy(slot->obj.parent, op->parent, CS_ID_LEN);
      memcpy(slot->obj.creator, c->author, CS_KEY_LEN);
      slot->obj.created_lamport = c->lamport;
      memcpy(slot->obj.created_change, c->id, CS_ID_LEN);
      continue;
    }
    cs_object_t *obj = cs__cache_get(txn, club, cache, op->obj, &err);
    if (err) break;
    /* An op names only objects whose creating change is in its causal past. */
    if (!op->obj_local && (err = cs__seen(&past, c, op->obj, obj, &memo))) break;
    if (!obj) continue; /* a local object whose creation had no effect */
    bool creator = memcmp(obj->creator, c->author, CS_KEY_LEN) == 0;
    if (!cs_model_may(role, op->type, obj->type, op->field)) { err = CS_EAUTH; break; }
    /* A comment is edited or withdrawn by its writer (or an admin); a
     * ballot is written only by the key that cast it. */
    if (obj->type == CS_OBJ_COMMENT && !creator && role != CS_ROLE_ADMIN) { err = CS_EAUTH; break; }
    if ((obj->type == CS_OBJ_BALLOT || obj->type == CS_OBJ_VOTE) && !creator) { err = CS_EAUTH; break; }
    if (op->type == CS_OP_DELETE) {
      if (!creator && role != CS_ROLE_ADMIN) { err = CS_EAUTH; break; }
      cs_object_delete(obj, c->lamport, c->author);
    } else {
      const cs_field_spec_t *spec = cs_model_field(obj->type, op->field);
      /* A written-once field (a campaign's points) is set by the change that
       * creates the object, so everything that depends on it sees it. */
      if (spec->write_once && !op->obj_local) { err = CS_EAUTH; break; }
      if ((err = cs_model_check_value(spec, role, op->value))) break;
      if ((err = cs__check_in_state(txn, club, cache, c, op->obj, obj, spec, op->value))) break;
      if ((err = cs__campaign_op(txn, club, &once, c, op, op_id, obj))) break;
      /* Approving minutes or a document, or sending a campaign's results to
       * the vendor, carries out an adopted decision (docs/governance.md). */
      const char *verb = cs_model_governed(obj->type, op->field, op->value);
      if (verb) {
        char want[CS_GOVERNED_EFFECT_MAX + 1];
        cs_governed_effect(want, verb, op->obj);
        uint8_t motion[CS_ID_LEN];
        if (!cs__decision_adopted(txn, club, c->id, want, motion, false)) { err = CS_EAUTH; break; }
      }
      if (op->type == CS_OP_SET)
        err = cs_object_set(obj, op->field, c->lamport, c->author, op_id, op->value, op->ref_count,
                            (const uint8_t(*)[CS_ID_LEN])op->refs);
      else if (op->type == CS_OP_ADD)
        err = cs_object_add(obj, op->field, c->lamport, c->author, op_id, op->value);
      else
        cs_object_remove(obj, op->field, op->ref_count, (const uint8_t(*)[CS_ID_LEN])op->refs);
      if (!err) err = cs__motion_rules(txn, club, cache, c, obj, op, index);
    }
    cs__cache_touch(obj);
  }
  free(op);
  free(once);
  return err;
}

static int cs__cache_flush(cs_txn_t *txn, const uint8_t club[CS_ID_LEN], cs__cache_t *cache) {
  cs_buf_t b;
  int err = CS_OK;
  cs_buf_init(&b, CS_RECORD_MAX);
  for (uint32_t i = 0; i < cache->count && !err; i++) {
    if (!cache->items[i].dirty) continue;
    uint8_t key[CS__K2];
    cs__key2(key, club, cache->items[i].id);
    if (!(err = cs_object_encode(&cache->items[i].obj, &b)))
      err = cs__put(txn, txn->store->objects, key, sizeof(key), b.data, b.len);
  }
  cs_buf_free(&b);
  return err;
}

/* Whether a payload's first op is a member op (then all of them are). */
static bool cs__is_member_change(const cs_change_t *c) {
  cs_op_iter_t it;
  cs_op_t *op = malloc(sizeof(*op));
  bool member = op && cs_op_iter_init(&it, c->payload_bytes) == CS_OK && cs_op_iter_next(&it, op) == CS_OK &&
                op->type == CS_OP_MEMBER;
  free(op);
  return member;
}

static int cs__club_put(cs_txn_t *txn, const uint8_t club[CS_ID_LEN], cs_span_t name, cs_span_t software,
                        const uint8_t founder[CS_KEY_LEN], uint64_t count) {
  cs_buf_t b;
  cs_buf_init(&b, 1024);
  cs_mp_write_array(&b, 4);
  cs_mp_write_str(&b, (const char *)name.ptr, name.len);
  cs_mp_write_str(&b, (const char *)software.ptr, software.len);
  cs_mp_write_bin(&b, founder, CS_KEY_LEN);
  cs_mp_write_uint(&b, count);
  int err = b.failed ? CS_ETOOBIG : cs__put(txn, txn->store->clubs, club, CS_ID_LEN, b.data, b.len);
  cs_buf_free(&b);
  return err;
}

/* Records the member ops of a change (genesis founder included). */
static int cs__record_member_ops(cs_txn_t *txn, const cs_change_t *c, const uint8_t club[CS_ID_LEN]) {
  cs_op_iter_t it;
  cs_op_t *op = malloc(sizeof(*op));
  int err = op ? cs_op_iter_init(&it, c->payload_bytes) : CS_ENOMEM;
  for (uint32_t index = 0; !err; index++) {
    err = cs_op_iter_next(&it, op);
    if (err == CS_ENOTFOUND) {
      err = CS_OK;
      break;
    }
    if (!err && (op->type == CS_OP_GENESIS || op->type == CS_OP_MEMBER))
      err = cs__memberop_put(txn, club, c, index, op, op->type == CS_OP_GENESIS);
  }
  free(op);
  return err;
}

int cs__apply_change(cs_txn_t *txn, const cs_change_t *c, const uint8_t club[CS_ID_LEN]) {
  if (!c->has_club || cs__is_member_change(c)) {
    /* Membership is resolved by replaying every member op in order. */
    cs__replay_found_t found;
    int err = cs__members_replay(txn, club, c, false, &found);
    if (err) return err;
    /* A retroactive role change, another member change's verdict moved, or
     * a decision weighed for this change (its resolution was judged on the
     * membership this node had then): the state this node reached may
     * depend on the order changes came in, and only a rebuild, which starts
     * from no earlier verdict, gives every node the same (cs_store_rebuild).
     * So is this change kept out by the final timelines, after it was
     * applied in order: the removal that keeps it out may rest on a count
     * that it voids (test_removal_cycle). The replay's rounds alone are no
     * reason: each replay starts from none kept out, so once a club holds
     * one change the final timelines keep out, every replay takes two
     * rounds, and any member change, an outsider's included, would cost a
     * rebuild of the whole club (test_rounds_rebuild_each_member_change). */
    if (found.retroactive || found.statuses_changed || found.consulted || found.current_kept_out) {
      txn->rebuild_needed = true;
      memcpy(txn->rebuild_club, club, CS_ID_LEN);
    }
    return CS_OK;
  }
  int validity = CS_OK;
  uint64_t frozen = cs__frozen_from(txn, club, c->author);
  cs_member_t *m = malloc(sizeof(*m));
  if (!m) return CS_ENOMEM;
  cs_role_t role = CS_ROLE_NONE;
  if (cs_store_member_get(txn, club, c->author, m) == CS_OK) role = cs_member_role_at(m, c->seq);
  free(m);
  cs__cache_t *cache = calloc(1, sizeof(*cache));
  if (!cache) return CS_ENOMEM;
  if (frozen && c->seq >= frozen) validity = CS_EFORK;
  else if (role == CS_ROLE_NONE) validity = CS_EAUTH;
  else validity = cs__apply_content(txn, c, club, role, cache);
  int err = CS_OK;
  if (validity == CS_ENOMEM) err = CS_ENOMEM;
  else if (validity == CS_OK) err = cs__cache_flush(txn, club, cache);
  else err = cs__set_status(txn, c->id, validity);
  cs__cache_free(cache);
  free(cache);
  return err;
}

/* Ingest ---------------------------------------------------------------- */

typedef struct cs__worklist_s {
  uint8_t (*ids)[CS_ID_LEN];
  size_t count, cap;
} cs__worklist_t;

static int cs__worklist_push(cs__worklist_t *w, const uint8_t id[CS_ID_LEN]) {
  if (w->count == w->cap) {
    size_t cap = w->cap ? w->cap * 2 : 16;
    uint8_t(*grown)[CS_ID_LEN] = realloc(w->ids, cap * CS_ID_LEN);
    if (!grown) return CS_ENOMEM;
    w->ids = grown;
    w->cap = cap;
  }
  memcpy(w->ids[w->count++], id, CS_ID_LEN);
  return CS_OK;
}

static int cs__stored_lamport(cs_txn_t *txn, const uint8_t id[CS_ID_LEN], const uint8_t club[CS_ID_LEN],
                              uint64_t *lamport) {
  cs_span_t bytes;
  cs_change_t *dep = malloc(sizeof(*dep));
  if (!dep) return CS_ENOMEM;
  int err = cs_store_change_get(txn, id, &bytes);
  if (!err) err = cs_change_decode(bytes, dep);
  if (!err) {
    const uint8_t *dep_club = cs_change_club(dep);
    if (memcmp(dep_club, club, CS_ID_LEN) != 0) err = CS_EFORMAT; /* deps stay inside one club */
    *lamport = dep->lamport;
  }
  free(dep);
  return err == CS_ENOTFOUND ? CS_ESTORE : err;
}

/* Stores a change's bytes under the next arrival number (appended, so the
 * pages fill completely) and indexes its id to that number. */
static int cs__arrival_put(cs_txn_t *txn, const cs_change_t *c) {
  uint8_t be[8];
  cs__put_be64(be, cs_store_arrival_last(txn) + 1);
  size_t len = CS_ID_LEN + c->signed_bytes.len;
  MDB_val key = cs__val(be, 8), val = {len, NULL};
  int rc = mdb_put(txn->txn, txn->store->arrivals, &key, &val, MDB_APPEND | MDB_RESERVE);
  if (rc) return cs__mdb_err(rc);
  memcpy(val.mv_data, c->id, CS_ID_LEN);
  memcpy((uint8_t *)val.mv_data + CS_ID_LEN, c->signed_bytes.ptr, c->signed_bytes.len);
  return cs__put(txn, txn->store->changes, c->id, CS_ID_LEN, be, 8);
}

/* existing: the chain's change at this seq, or NULL for a change that
 * continues the other branch of a fork recorded at an earlier seq (its key
 * is frozen already, so the state needs no rebuild). */
static int cs__record_fork(cs_txn_t *txn, const cs_change_t *c, const uint8_t club[CS_ID_LEN],
                           const uint8_t existing[CS_ID_LEN]) {
  uint8_t key[CS__K3], val[2 * CS_ID_LEN], order_key[CS_ID_LEN + 8 + CS_ID_LEN];
  int err = cs__arrival_put(txn, c);
  if (!err) err = cs__past_put(txn, c, true);
  if (!err) err = cs__set_status(txn, c->id, CS_EFORK);
  /* Indexed under its author, so a vector reads only forked authors' evidence. */
  if (!err) err = cs__evidence_put(txn, c, club);
  cs__chain_key(key, club, c->author, c->seq);
  if (existing) memcpy(val, existing, CS_ID_LEN);
  memcpy(val + CS_ID_LEN, c->id, CS_ID_LEN);
  if (!err && existing && !cs__exists(txn, txn->store->forks, key, sizeof(key)))
    err = cs__put(txn, txn->store->forks, key, sizeof(key), val, sizeof(val));
  /* Evidence is exported and synced like any change, so it is in `order`. */
  memcpy(order_key, club, CS_ID_LEN);
  cs__put_be64(order_key + CS_ID_LEN, c->lamport);
  memcpy(order_key + CS_ID_LEN + 8, c->id, CS_ID_LEN);
  if (!err) err = cs__put(txn, txn->store->order, order_key, sizeof(order_key), "", 0);
  /* Freezing a key that never had a role in the club (no member timeline)
   * changes nothing in the state: its changes never applied. Anyone can
   * sign a fork, so it must not cost a rebuild of the whole club. */
  uint8_t member_key[2 * CS_ID_LEN];
  memcpy(member_key, club, CS_ID_LEN);
  memcpy(member_key + CS_ID_LEN, c->author, CS_KEY_LEN);
  if (!err && existing && cs__exists(txn, txn->store->members, member_key, sizeof(member_key))) {
    txn->rebuild_needed = true;
    memcpy(txn->rebuild_club, club, CS_ID_LEN);
  }
  return err;
}

/* Whether id is a stored change of `author` at `seq` in `club`: the other
 * branch of a fork, when the chain holds a different change there. */
static bool cs__is_branch(cs_txn_t *txn, const uint8_t id[CS_ID_LEN], const uint8_t club[CS_ID_LEN],
                          const uint8_t author[CS_KEY_LEN], uint64_t seq) {
  cs_span_t bytes;
  cs_change_t *p = malloc(sizeof(*p));
  bool branch = p && cs_store_change_get(txn, id, &bytes) == CS_OK && cs_change_decode(bytes, p) == CS_OK &&
                memcmp(p->author, author, CS_KEY_LEN) == 0 && p->seq == seq &&
                memcmp(cs_change_club(p), club, CS_ID_LEN) == 0;
  free(p);
  return branch;
}

static int cs__store_change(cs_txn_t *txn, const cs_change_t *c, const uint8_t club[CS_ID_LEN]) {
  uint8_t chain_key[CS__K3], order_key[CS_ID_LEN + 8 + CS_ID_LEN], head_key[CS__K2];
  int err = cs__arrival_put(txn, c);
  if (!err) err = cs__past_put(txn, c, true);
  cs__chain_key(chain_key, club, c->author, c->seq);
  if (!err) err = cs__put(txn, txn->store->chain, chain_key, sizeof(chain_key), c->id, CS_ID_LEN);
  memcpy(order_key, club, CS_ID_LEN);
  cs__put_be64(order_key + CS_ID_LEN, c->lamport);
  memcpy(order_key + CS_ID_LEN + 8, c->id, CS_ID_LEN);
  if (!err) err = cs__put(txn, txn->store->order, order_key, sizeof(order_key), "", 0);
  for (uint32_t i = 0; i <= c->dep_count && !err; i++) {
    const uint8_t *parent = i < c->dep_count ? c->deps[i] : (c->has_prev ? c->prev : NULL);
    if (!parent) continue;
    cs__key2(head_key, club, parent);
    err = cs__del(txn, txn->store->heads, head_key, sizeof(head_key));
  }
  cs__key2(head_key, club, c->id);
  if (!err) err = cs__put(txn, txn->store->heads, head_key, sizeof(head_key), "", 0);
  if (err) return err;

  if (!c->has_club) {
    cs_op_iter_t it;
    cs_op_t *op = malloc(sizeof(*op));
    if (!op) return CS_ENOMEM;
    err = cs_op_iter_init(&it, c->payload_bytes);
    if (!err) err = cs_op_iter_next(&it, op);
    if (!err) err = cs__club_put(txn, club, op->name, op->software, c->author, 1);
    free(op);
  } else {
    cs_club_info_t info;
    err = cs_store_club_get(txn, club, &info);
    cs_span_t name = {(const uint8_t *)info.name, strlen(info.name)};
    cs_span_t software = {(const uint8_t *)info.software, strlen(info.software)};
    if (!err) err = cs__club_put(txn, club, name, software, info.founder, info.change_count + 1);
  }
  if (!err && (!c->has_club || cs__is_member_change(c))) err = cs__record_member_ops(txn, c, club);
  return err;
}

/* Ingests one change; appends ids of pending changes it releases.
 * signature_checked: the caller verified this exact signed change already
 * (a verifier thread ahead of the writer, or a change parked in pending,
 * which only ever holds verified changes). */
static int cs__ingest_one(cs_txn_t *txn, cs_span_t bytes, bool signature_checked, cs_ingest_result_t *res,
                          cs__worklist_t *released) {
  cs_change_t *c = malloc(sizeof(*c));
  if (!c) return CS_ENOMEM;
  int err = CS_OK, reason;
  memset(res, 0, sizeof(*res));
  res->status = CS_INGEST_REJECTED;
  if ((reason = cs_change_decode(bytes, c))) goto reject;
  memcpy(res->id, c->id, CS_ID_LEN);
  /* A stored id means this exact header was verified before; whatever else
   * this copy carries is not stored, so skipping the costly checks is safe
   * and makes re-sent changes cheap. */
  if (cs__exists(txn, txn->store->changes, c->id, CS_ID_LEN) ||
      cs__exists(txn, txn->store->pending, c->id, CS_ID_LEN)) {
    res->status = CS_INGEST_DUPLICATE;
    goto done;
  }
  if ((reason = cs_payload_check(c->payload_bytes, !c->has_club))) goto reject;
  if ((reason = cs_change_check_payload(c))) goto reject;
  if (!signature_checked && (reason = cs_change_check_signature(c))) goto reject;

  const uint8_t *club = cs_change_club(c);
  if (c->has_club && !cs__exists(txn, txn->store->clubs, club, CS_ID_LEN)) {
    reason = CS_ECLUB;
    goto reject;
  }
  uint8_t existing[CS_ID_LEN];
  if (cs_store_chain_get(txn, club, c->author, c->seq, existing) == CS_OK) {
    if ((err = cs__record_fork(txn, c, club, existing))) goto done;
    res->status = CS_INGEST_FORK;
    res->reason = CS_EFORK;
    goto release; /* changes that depend on the evidence may be waiting */
  }

  uint8_t missing[CS_CHANGE_DEPS_MAX + 1][CS_ID_LEN];
  uint32_t missing_count = 0;
  uint64_t parents_max = 0, lamport;
  reason = CS_OK;
  if (c->has_prev) {
    uint8_t at_prev[CS_ID_LEN];
    bool in_chain = cs_store_chain_get(txn, club, c->author, c->seq - 1, at_prev) == CS_OK;
    /* prev stored but not in the chain is the other branch of a fork: this
     * change is kept as evidence like it, so that changes depending on it
     * do not wait forever on nodes whose chain took the other branch. */
    if ((!in_chain || memcmp(at_prev, c->prev, CS_ID_LEN) != 0) &&
        cs__is_branch(txn, c->prev, club, c->author, c->seq - 1)) {
      if ((err = cs__record_fork(txn, c, club, NULL))) goto done;
      res->status = CS_INGEST_FORK;
      res->reason = CS_EFORK;
      goto release;
    }
    if (!in_chain) {
      memcpy(missing[missing_count++], c->prev, CS_ID_LEN);
      reason = CS_EPREV;
    } else if (memcmp(at_prev, c->prev, CS_ID_LEN) != 0) {
      reason = CS_ECHAIN;
      goto reject;
    } else if ((reason = cs__stored_lamport(txn, c->prev, club, &lamport))) {
      goto reject;
    } else {
      parents_max = lamport;
    }
  }
  for (uint32_t i = 0; i < c->dep_count; i++) {
    int rc = cs__stored_lamport(txn, c->deps[i], club, &lamport);
    if (rc == CS_ESTORE && !cs__exists(txn, txn->store->changes, c->deps[i], CS_ID_LEN)) {
      memcpy(missing[missing_count++], c->deps[i], CS_ID_LEN);
      if (!reason) reason = CS_EDEPS;
      continue;
    }
    if (rc) {
      reason = rc;
      goto reject;
    }
    if (lamport > parents_max) parents_max = lamport;
  }
  if (missing_count > 0) {
    if ((err = cs__pending_park(txn, c, (const uint8_t(*)[CS_ID_LEN])missing, missing_count))) goto done;
    res->status = CS_INGEST_PENDING;
    res->reason = reason;
    goto done;
  }
  if (c->lamport != cs_lamport_next(parents_max)) {
    reason = CS_ELAMPORT;
    goto reject;
  }

  if ((err = cs__store_change(txn, c, club))) goto done;
  if ((err = cs__apply_change(txn, c, club))) goto done;
  int validity = cs_store_change_status(txn, c->id);
  res->status = validity == CS_OK ? CS_INGEST_NEW : CS_INGEST_UNAUTHORISED;
  res->reason = validity;

  /* Release what was waiting for this change. */
release:;
  MDB_cursor *cur;
  MDB_val k = cs__val(c->id, CS_ID_LEN), v;
  if ((err = cs__mdb_err(mdb_cursor_open(txn->txn, txn->store->pending_wait, &cur)))) goto done;
  for (int rc = mdb_cursor_get(cur, &k, &v, MDB_SET_KEY); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT_DUP))
    if (v.mv_size == CS_ID_LEN && (err = cs__worklist_push(released, v.mv_data))) break;
  mdb_cursor_close(cur);
  if (!err) err = cs__del(txn, txn->store->pending_wait, c->id, CS_ID_LEN);
  goto done;

reject:
  res->status = CS_INGEST_REJECTED;
  res->reason = reason;
done:
  free(c);
  return err;
}

int cs_store_ingest(cs_txn_t *txn, cs_span_t signed_bytes, cs_ingest_result_t *res) {
  return cs_store_ingest_checked(txn, signed_bytes, false, res);
}

int cs_store_ingest_checked(cs_txn_t *txn, cs_span_t signed_bytes, bool signature_checked, cs_ingest_result_t *res) {
  cs__worklist_t work = {0};
  int err = cs__ingest_one(txn, signed_bytes, signature_checked, res, &work);
  for (size_t i = 0; i < work.count && !err; i++) {
    MDB_val k = cs__val(work.ids[i], CS_ID_LEN), v;
    if (mdb_get(txn->txn, txn->store->pending, &k, &v) != 0 || v.mv_size < 8) continue; /* released already */
    size_t len = v.mv_size - 8;
    uint8_t *copy = malloc(len);
    if (!copy) {
      err = CS_ENOMEM;
      break;
    }
    memcpy(copy, (const uint8_t *)v.mv_data + 8, len);
    err = cs__pending_drop(txn, work.ids[i]);
    cs_ingest_result_t sub;
    cs_span_t span = {copy, len};
    if (!err) err = cs__ingest_one(txn, span, true, &sub, &work);
    if (!err && (sub.status == CS_INGEST_NEW || sub.status == CS_INGEST_UNAUTHORISED)) res->released++;
    free(copy);
  }
  free(work.ids);
  return err;
}

static int cs__cmp_id(const void *a, const void *b) { return memcmp(a, b, CS_ID_LEN); }

static int cs__author(cs_txn_t *txn, const uint8_t *club, const uint8_t *secret_key, cs_span_t payload,
                      int64_t time_ms, const uint8_t (*chosen)[CS_ID_LEN], uint32_t chosen_count,
                      uint8_t id_out[CS_ID_LEN]);

/* A change depends on at most CS_CHANGE_DEPS_MAX heads, but a node that
 * took in many concurrent changes (a thousand museums voting, each from its
 * own node) has more. A change's causal past must hold everything its
 * author has seen, or a resolution would count ballots outside its past:
 * so while there are more heads than one change can name, the author first
 * signs merge changes, changes with no op that depend on as many heads as
 * they can. Each brings the count down by CS_CHANGE_DEPS_MAX - 1. *seq,
 * prev and *parents_max follow the author's chain. */
static int cs__merge_heads(cs_txn_t *txn, const uint8_t club[CS_ID_LEN], const uint8_t *secret_key, int64_t time_ms,
                           uint64_t *seq, uint8_t prev[CS_ID_LEN], uint64_t *parents_max) {
  static const uint8_t no_op[] = {0x90}; /* an empty array of ops */
  uint8_t(*heads)[CS_ID_LEN] = malloc(CS_CHANGE_DEPS_MAX * CS_ID_LEN);
  int err = heads ? CS_OK : CS_ENOMEM;
  for (bool more = !err; more && !err;) {
    MDB_cursor *cur;
    MDB_val k = cs__val(club, CS_ID_LEN), v;
    uint32_t count = 0;
    more = false;
    if ((err = cs__mdb_err(mdb_cursor_open(txn->txn, txn->store->heads, &cur)))) break;
    for (int rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
      if (k.mv_size != CS__K2 || memcmp(k.mv_data, club, CS_ID_LEN) != 0) break;
      const uint8_t *head = (const uint8_t *)k.mv_data + CS_ID_LEN;
      if (*seq > 1 && memcmp(head, prev, CS_ID_LEN) == 0) continue;
      if (count == CS_CHANGE_DEPS_MAX) {
        more = true;
        break;
      }
      memcpy(heads[count++], head, CS_ID_LEN);
    }
    mdb_cursor_close(cur);
    if (!more) break;
    uint8_t merged[CS_ID_LEN];
    err = cs__author(txn, club, secret_key, (cs_span_t){no_op, sizeof(no_op)}, time_ms,
                     (const uint8_t(*)[CS_ID_LEN])heads, count, merged);
    if (!err) err = cs__stored_lamport(txn, merged, club, parents_max);
    if (!err) {
      memcpy(prev, merged, CS_ID_LEN);
      (*seq)++;
    }
  }
  free(heads);
  return err;
}

static int cs__author(cs_txn_t *txn, const uint8_t *club, const uint8_t *secret_key, cs_span_t payload,
                      int64_t time_ms, const uint8_t (*chosen)[CS_ID_LEN], uint32_t chosen_count,
                      uint8_t id_out[CS_ID_LEN]) {
  const uint8_t *author = secret_key + 32;
  uint8_t prev[CS_ID_LEN];
  uint8_t(*deps)[CS_ID_LEN] = malloc(CS_CHANGE_DEPS_MAX * CS_ID_LEN);
  uint32_t dep_count = 0;
  uint64_t seq = 1, parents_max = 0, lamport;
  int err = deps ? CS_OK : CS_ENOMEM;
  cs_buf_t out;
  cs_buf_init(&out, CS_CHANGE_SIGNED_MAX);
  if (!err && club) {
    seq = cs_store_author_seq(txn, club, author, prev) + 1;
    if (seq > 1 && !(err = cs__stored_lamport(txn, prev, club, &lamport))) parents_max = lamport;
    MDB_cursor *cur;
    MDB_val k = cs__val(club, CS_ID_LEN), v;
    if (chosen) {
      /* Chosen deps are kept as given, the author's own previous change
       * included. */
      for (uint32_t i = 0; i < chosen_count && i < CS_CHANGE_DEPS_MAX; i++) memcpy(deps[dep_count++], chosen[i], CS_ID_LEN);
      /* The format wants deps sorted and distinct. */
      qsort(deps, dep_count, CS_ID_LEN, cs__cmp_id);
      uint32_t distinct = 0;
      for (uint32_t i = 0; i < dep_count; i++)
        if (distinct == 0 || memcmp(deps[distinct - 1], deps[i], CS_ID_LEN) != 0)
          memmove(deps[distinct++], deps[i], CS_ID_LEN);
      dep_count = distinct;
    } else if (!err && !(err = cs__merge_heads(txn, club, secret_key, time_ms, &seq, prev, &parents_max)) &&
               !(err = cs__mdb_err(mdb_cursor_open(txn->txn, txn->store->heads, &cur)))) {
      for (int rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0 && dep_count < CS_CHANGE_DEPS_MAX;
           rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size != CS__K2 || memcmp(k.mv_data, club, CS_ID_LEN) != 0) break;
        const uint8_t *head = (const uint8_t *)k.mv_data + CS_ID_LEN;
        if (seq > 1 && memcmp(head, prev, CS_ID_LEN) == 0) continue;
        memcpy(deps[dep_count++], head, CS_ID_LEN);
      }
      mdb_cursor_close(cur);
    }
    for (uint32_t i = 0; i < dep_count && !err; i++)
      if (!(err = cs__stored_lamport(txn, deps[i], club, &lamport)) && lamport > parents_max) parents_max = lamport;
  }
  if (!err) {
    cs_change_draft_t draft = {
        .club = club,
        .author = author,
        .seq = seq,
        .prev = seq > 1 ? prev : NULL,
        .dep_count = dep_count,
        .deps = (const uint8_t(*)[CS_ID_LEN])deps,
        .lamport = cs_lamport_next(parents_max),
        .time_ms = time_ms,
        .payload = payload,
    };
    err = cs_change_build(&draft, secret_key, &out, id_out);
  }
  if (!err) {
    cs_ingest_result_t res;
    err = cs_store_ingest(txn, cs_buf_span(&out), &res);
    if (!err && res.status != CS_INGEST_NEW) err = res.reason ? res.reason : CS_EINVAL;
  }
  cs_buf_free(&out);
  free(deps);
  return err;
}

int cs_store_author(cs_txn_t *txn, const uint8_t *club, const uint8_t *secret_key, cs_span_t payload,
                    int64_t time_ms, uint8_t id_out[CS_ID_LEN]) {
  return cs__author(txn, club, secret_key, payload, time_ms, NULL, 0, id_out);
}

int cs_store_author_deps(cs_txn_t *txn, const uint8_t club[CS_ID_LEN], const uint8_t *secret_key, cs_span_t payload,
                         int64_t time_ms, const uint8_t (*deps)[CS_ID_LEN], uint32_t dep_count,
                         uint8_t id_out[CS_ID_LEN]) {
  if (dep_count > CS_CHANGE_DEPS_MAX) return CS_ETOOBIG;
  return cs__author(txn, club, secret_key, payload, time_ms, deps, dep_count, id_out);
}

static int cs__rebuild_each(const uint8_t id[CS_ID_LEN], cs_span_t bytes, void *ctx) {
  cs_txn_t *txn = ((void **)ctx)[0];
  const uint8_t *club = ((void **)ctx)[1];
  cs_change_t *c = malloc(sizeof(*c));
  if (!c) return CS_ENOMEM;
  int err = cs_change_decode(bytes, c);
  if (err) {
    free(c);
    return CS_ESTORE;
  }
  uint8_t at[CS_ID_LEN];
  if (c->has_club && (cs_store_chain_get(txn, club, c->author, c->seq, at) != CS_OK || memcmp(at, id, CS_ID_LEN)))
    err = cs__set_status(txn, id, CS_EFORK); /* fork evidence stays out of the state */
  else if (c->has_club && !cs__is_member_change(c) && !(err = cs__set_status(txn, id, CS_OK)))
    err = cs__apply_change(txn, c, club);
  free(c);
  return err;
}

/* Rounds of a rebuild after the first: each replays the membership on the
 * validity the last content pass gave, then the content again if a member
 * change's verdict moved. A club needs a second round only when a decision
 * rests on a resolution that the membership voids; the bound keeps a
 * crafted cycle of such decisions from running without end, and a bounded
 * number of rounds from one defined start is the same on every node. */
#define CS__REBUILD_ROUNDS_MAX 8

int cs_store_rebuild(cs_txn_t *txn, const uint8_t club[CS_ID_LEN]) {
  txn->rebuild_needed = false;
  txn->store->rebuilds++;
  /* The first membership replay reads nothing an earlier derivation left:
   * it takes no decision as adopted, since the motions' valid resolutions
   * are what is being derived. The content pass then recomputes every
   * content change's validity, and member changes get theirs from the
   * replays that follow it. */
  cs__replay_found_t found;
  void *ctx[2] = {txn, (void *)club};
  int err = cs__members_replay(txn, club, NULL, true, &found);
  for (uint32_t round = 0; !err && round < CS__REBUILD_ROUNDS_MAX; round++) {
    if ((err = cs__del_prefix(txn, txn->store->objects, club, CS_ID_LEN))) break;
    if ((err = cs_store_changes(txn, club, cs__rebuild_each, ctx))) break;
    if ((err = cs__members_replay(txn, club, NULL, false, &found)) || !found.statuses_changed) break;
  }
  txn->rebuild_needed = false;
  return err;
}
