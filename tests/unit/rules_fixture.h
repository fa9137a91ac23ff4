#ifndef CS_TESTS_RULES_FIXTURE_H
#define CS_TESTS_RULES_FIXTURE_H

/* Nodes, keys and payloads for the tests that try the club's rules with
 * changes signed outside the CLI: a node is a real store in a temporary
 * directory, changes move between nodes by copying their signed bytes. */

#include "tests/unit/testlib.h"

#include "core/bundle.h"
#include "core/decision.h"

typedef struct node_s {
  char dir[64];
  cs_store_t *s;
} node_t;

static inline void node_open(node_t *n) {
  test_tmpdir(n->dir, sizeof(n->dir));
  n->s = test_store_open(n->dir);
}

static inline void node_close(node_t *n) {
  cs_store_close(n->s);
  test_rmdir(n->dir);
}

/* Key number i: a deterministic key from a 32-byte seed. */
static inline void key_n(uint32_t i, uint8_t pk[32], uint8_t sk[64]) {
  uint8_t seed[32];
  memset(seed, 0x5a, sizeof(seed));
  memcpy(seed, &i, sizeof(i));
  crypto_sign_seed_keypair(pk, sk, seed);
}

typedef struct key_s {
  uint8_t pk[32], sk[64];
} key_t_;

static inline int author(node_t *n, const uint8_t *club, const key_t_ *k, cs_buf_t *p, uint8_t id[32]) {
  int err = test_author(n->s, club, k->sk, cs_buf_span(p), id);
  cs_buf_reset(p);
  return err;
}

static inline int author_deps(node_t *n, const uint8_t *club, const key_t_ *k, cs_buf_t *p, const uint8_t (*deps)[32],
                       uint32_t dep_count, uint8_t id[32]) {
  cs_txn_t txn;
  int err = cs_store_begin(n->s, true, &txn);
  if (!err) err = cs_store_author_deps(&txn, club, k->sk, cs_buf_span(p), 1700000000000, deps, dep_count, id);
  if (!err) err = cs_store_commit(&txn);
  else cs_store_abort(&txn);
  cs_buf_reset(p);
  return err;
}

/* The same, but a change the node's rules refuse (invalid, not malformed)
 * is kept, as a node keeps one it receives: a hostile signer's change is
 * then on the node for sync and verify. Returns the node's verdict. */
static inline int author_deps_kept(node_t *n, const uint8_t *club, const key_t_ *k, cs_buf_t *p,
                                   const uint8_t (*deps)[32], uint32_t dep_count, uint8_t id[32]) {
  cs_txn_t txn;
  int err = cs_store_begin(n->s, true, &txn);
  if (err) return err;
  err = cs_store_author_deps(&txn, club, k->sk, cs_buf_span(p), 1700000000000, deps, dep_count, id);
  cs_buf_reset(p);
  if (err != CS_OK && err != CS_EAUTH) {
    cs_store_abort(&txn);
    return err;
  }
  int commit = cs_store_commit(&txn);
  return commit ? commit : err;
}

/* Copies every change of `club` from one node to another, in the order the
 * source keeps them (lamport, then id: parents first). */
typedef struct copy_ctx_s {
  node_t *to;
  uint32_t copied;
} copy_ctx_t;

static inline int copy_each(const uint8_t id[32], cs_span_t bytes, void *vctx) {
  (void)id;
  copy_ctx_t *ctx = vctx;
  cs_ingest_result_t res;
  cs_txn_t txn;
  if (cs_store_begin(ctx->to->s, true, &txn)) return CS_ESTORE;
  int err = cs_store_ingest(&txn, bytes, &res);
  if (err) {
    cs_store_abort(&txn);
    return err;
  }
  ctx->copied++;
  return cs_store_commit(&txn);
}

static inline void sync_to(node_t *from, node_t *to, const uint8_t club[32]) {
  cs_txn_t txn;
  copy_ctx_t ctx = {to, 0};
  CHECK_EQ_INT(cs_store_begin(from->s, false, &txn), CS_OK);
  CHECK_EQ_INT(cs_store_changes(&txn, club, copy_each, &ctx), CS_OK);
  cs_store_abort(&txn);
}

static inline int status_of(node_t *n, const uint8_t id[32]) {
  cs_txn_t txn;
  if (cs_store_begin(n->s, false, &txn)) return CS_ESTORE;
  int st = cs_store_change_status(&txn, id);
  cs_store_abort(&txn);
  return st;
}

static inline uint64_t lamport_of(node_t *n, const uint8_t id[32]) { return test_lamport(n->s, id); }

/* The motion's outcome as a node shows it: 0 not resolved, 1 adopted, 2 rejected. */
static inline int outcome_of(node_t *n, const uint8_t club[32], const uint8_t motion[32], cs_resolution_t *res) {
  cs_txn_t txn;
  cs_resolution_rec_t win;
  bool resolved = false;
  int outcome = 0;
  memset(res, 0, sizeof(*res));
  if (cs_store_begin(n->s, false, &txn)) return -1;
  if (cs_store_motion_decision(&txn, club, motion, NULL, &win, &resolved) != CS_OK) outcome = -1;
  else if (resolved) {
    *res = win.res;
    outcome = res->adopted ? 1 : 2;
  }
  cs_store_abort(&txn);
  return outcome;
}

static inline bool same_digest(node_t *a, node_t *b, const uint8_t club[32]) {
  uint8_t da[32], db[32];
  test_digest(a->s, club, da);
  test_digest(b->s, club, db);
  return memcmp(da, db, 32) == 0;
}

/* Writers of payloads. */
static inline void p_genesis(cs_buf_t *p, const char *museum) {
  cs_mp_write_array(p, 1);
  cs_op_write_genesis(p, "Club", "Flora", museum);
}

static inline void p_member(cs_buf_t *p, const uint8_t key[32], const char *museum, cs_role_t role) {
  cs_mp_write_array(p, 1);
  cs_op_write_member(p, key, museum, role, 0);
}

/* A motion as a proposer writes it; `electorate` NULL writes none. */
static inline void p_motion(cs_buf_t *p, const char *effect, const char *const *electorate, uint32_t electorate_count) {
  cs_mp_write_array(p, 3 + (effect ? 1u : 0u) + (electorate ? 1u : 0u));
  cs_op_write_create(p, CS_OBJ_MOTION, NULL);
  cs_op_write_set_str(p, cs_ref_local(0), CS_F_MOTION_TEXT, "Adopter la charte", 0, NULL);
  cs_op_write_set_str(p, cs_ref_local(0), CS_F_MOTION_QUORUM, "majority", 0, NULL);
  if (effect) cs_op_write_set_str(p, cs_ref_local(0), CS_F_MOTION_EFFECT, effect, 0, NULL);
  if (electorate) {
    /* [museum...], sorted and distinct, in a bin. */
    cs_buf_t inner, value;
    cs_buf_init(&inner, CS_TEXT_MAX);
    cs_buf_init(&value, CS_TEXT_MAX);
    cs_mp_write_array(&inner, electorate_count);
    for (uint32_t i = 0; i < electorate_count; i++) cs_mp_write_cstr(&inner, electorate[i]);
    cs_mp_write_bin(&value, inner.data, inner.len);
    cs_op_write_set_raw(p, cs_ref_local(0), CS_F_MOTION_ELECTORATE, cs_buf_span(&value), 0, NULL);
    cs_buf_free(&inner);
    cs_buf_free(&value);
  }
}

static inline void p_vote(cs_buf_t *p, const uint8_t motion[32], const char *choice) {
  cs_ref_t parent = cs_ref_id(motion);
  cs_mp_write_array(p, 2);
  cs_op_write_create(p, CS_OBJ_VOTE, &parent);
  cs_op_write_set_str(p, cs_ref_local(0), CS_F_VOTE_CHOICE, choice, 0, NULL);
}

static inline void p_revote(cs_buf_t *p, const uint8_t vote[32], const char *choice) {
  cs_mp_write_array(p, 1);
  cs_op_write_set_str(p, cs_ref_id(vote), CS_F_VOTE_CHOICE, choice, 0, NULL);
}

static inline void p_resolution(cs_buf_t *p, const uint8_t motion[32], bool adopted, uint64_t yes, uint64_t no,
                         uint64_t abstain) {
  cs_resolution_t res = {adopted, yes, no, abstain};
  cs_buf_t value;
  cs_buf_init(&value, 256);
  cs_resolution_write(&value, &res);
  cs_mp_write_array(p, 1);
  cs_op_write_set_raw(p, cs_ref_id(motion), CS_F_MOTION_RESOLUTION, cs_buf_span(&value), 0, NULL);
  cs_buf_free(&value);
}

/* A club founded by keys[0] ("Musée A") with keys[1..n-1] as `roles[i]` of
 * `museums[i]`. */
static inline void club_make(node_t *n, const key_t_ *keys, const char *const *museums, const cs_role_t *roles, uint32_t count,
                      uint8_t club[32]) {
  cs_buf_t p;
  uint8_t id[32];
  cs_buf_init(&p, CS_CHANGE_PAYLOAD_MAX);
  p_genesis(&p, museums[0]);
  CHECK_EQ_INT(author(n, NULL, &keys[0], &p, club), CS_OK);
  for (uint32_t i = 1; i < count; i++) {
    p_member(&p, keys[i].pk, museums[i], roles[i]);
    CHECK_EQ_INT(author(n, club, &keys[0], &p, id), CS_OK);
  }
  cs_buf_free(&p);
}

/* Every change a node holds, written as an audit bundle and checked as
 * `verify` checks one: the node's verdict and verify's, side by side. */
typedef struct bundle_ctx_s {
  cs_bundle_writer_t w;
  cs_buf_t out;
} bundle_ctx_t;

static inline int bundle_each(const uint8_t id[32], cs_span_t bytes, void *vctx) {
  (void)id;
  bundle_ctx_t *b = vctx;
  return cs_bundle_write_change(&b->w, bytes, &b->out);
}

static inline int verify_node(node_t *n, const uint8_t club[32], cs_audit_report_t *rep) {
  bundle_ctx_t b;
  cs_buf_init(&b.out, 256u << 20);
  cs_bundle_header_t h = {CS_BUNDLE_AUDIT, {0}};
  memcpy(h.club, club, 32);
  cs_bundle_write_header(&b.w, &h, &b.out);
  cs_txn_t txn;
  int err = cs_store_begin(n->s, false, &txn);
  if (!err) err = cs_store_changes(&txn, club, bundle_each, &b);
  cs_store_abort(&txn);
  cs_bundle_write_trailer(&b.w, &b.out);
  if (!err) err = cs_audit_bundle_verify(cs_buf_span(&b.out), rep);
  cs_buf_free(&b.out);
  return err;
}


#endif
