/* Membership rules against a hostile admin (docs/governance.md, "Membership
 * is a timeline"): every change below is validly signed and written outside
 * the CLI, the way a member who reads the code could write it, and ingested
 * as a node ingests what a peer sends. Each test is named by the rule it
 * holds:
 *
 * - member_change_all_or_nothing: a member change that breaks a bound part
 *   way applies none of its ops;
 * - removal_not_blocked_by_a_full_timeline: an admin that fills its own
 *   timeline with self-promotions is still removed by a decided removal;
 * - mutual_removal_covers_one_op: a removed admin that removes the admin who
 *   removed it cannot re-grant itself in the same change;
 * - removal_cutoff_from_causal_past: a removal whose written cutoff is 0
 *   leaves the removed key's earlier changes valid;
 * - target_role_read_in_causal_past: whether a change demotes an admin is
 *   read from its causal past, not from a concurrent grant. */
#include "tests/unit/testlib.h"

#include "core/decision.h"
#include "core/members.h"

typedef struct who_s {
  uint8_t pk[32], sk[64];
  const char *museum;
} who_t;

static who_t A, B, C;
static uint8_t added[32]; /* the change of club_abc that adds B and C */

static void who_init(who_t *w, uint8_t seed, const char *museum) {
  test_key(seed, w->pk, w->sk);
  w->museum = museum;
}

static int cmp_id(const void *a, const void *b) { return memcmp(a, b, 32); }

/* A change by w with exactly these deps (and its own prev), signed and
 * ingested whatever its validity; returns the ingest result. */
static cs_ingest_result_t forge(cs_store_t *s, const uint8_t club[32], const who_t *w, cs_buf_t *payload,
                                const uint8_t (*deps)[32], uint32_t dep_count, uint8_t id[32]) {
  cs_txn_t txn;
  uint8_t prev[32];
  uint64_t lamport_max = 0;
  cs_change_t *c = malloc(sizeof(*c));
  CHECK(cs_store_begin(s, false, &txn) == CS_OK);
  uint64_t seq = cs_store_author_seq(&txn, club, w->pk, prev) + 1;
  for (uint32_t i = 0; i <= dep_count; i++) {
    const uint8_t *parent = i < dep_count ? deps[i] : (seq > 1 ? prev : NULL);
    cs_span_t bytes;
    if (!parent) continue;
    CHECK(cs_store_change_get(&txn, parent, &bytes) == CS_OK && cs_change_decode(bytes, c) == CS_OK);
    if (c->lamport > lamport_max) lamport_max = c->lamport;
  }
  cs_store_abort(&txn);
  free(c);
  uint8_t sorted[8][32];
  for (uint32_t i = 0; i < dep_count && i < 8; i++) memcpy(sorted[i], deps[i], 32);
  qsort(sorted, dep_count, 32, cmp_id);
  cs_change_draft_t d = {club,          w->pk,
                         seq,           seq > 1 ? prev : NULL,
                         dep_count,     (const uint8_t(*)[32])sorted,
                         cs_lamport_next(lamport_max), 1700000000000,
                         cs_buf_span(payload)};
  cs_buf_t out;
  cs_buf_init(&out, CS_CHANGE_SIGNED_MAX);
  CHECK(cs_change_build(&d, w->sk, &out, id) == CS_OK);
  cs_ingest_result_t res = test_ingest(s, cs_buf_span(&out));
  cs_buf_free(&out);
  return res;
}

/* An honest change by w (deps: the node's heads). */
static void honest(cs_store_t *s, const uint8_t club[32], const who_t *w, cs_buf_t *p, uint8_t id[32]) {
  CHECK_EQ_INT(test_author(s, club, w->sk, cs_buf_span(p), id), CS_OK);
}

static void member_op(cs_buf_t *p, const who_t *w, const char *museum, cs_role_t role, uint64_t cutoff) {
  cs_op_write_member(p, w->pk, museum, role, cutoff);
}

static uint64_t seq_of(cs_store_t *s, const uint8_t club[32], const who_t *w) {
  cs_txn_t txn;
  CHECK(cs_store_begin(s, false, &txn) == CS_OK);
  uint64_t seq = cs_store_author_seq(&txn, club, w->pk, NULL);
  cs_store_abort(&txn);
  return seq;
}

/* w's role for its next change, and its latest museum. */
static cs_role_t role_next(cs_store_t *s, const uint8_t club[32], const uint8_t pk[32], char *museum) {
  cs_txn_t txn;
  cs_member_t *m = malloc(sizeof(*m));
  cs_role_t role = CS_ROLE_NONE;
  if (museum) museum[0] = '\0';
  CHECK(cs_store_begin(s, false, &txn) == CS_OK);
  if (cs_store_member_get(&txn, club, pk, m) == CS_OK) {
    role = cs_member_role_at(m, cs_store_author_seq(&txn, club, pk, NULL) + 1);
    if (museum && cs_member_latest(m)) strcpy(museum, cs_member_latest(m)->museum);
  }
  cs_store_abort(&txn);
  free(m);
  return role;
}

static int status_of(cs_store_t *s, const uint8_t id[32]) {
  cs_txn_t txn;
  CHECK(cs_store_begin(s, false, &txn) == CS_OK);
  int st = cs_store_change_status(&txn, id);
  cs_store_abort(&txn);
  return st;
}

/* The club: A founds it, B is an admin, C a member. */
static void club_abc(cs_store_t *s, uint8_t club[32]) {
  cs_buf_t p;
  cs_buf_init(&p, CS_CHANGE_PAYLOAD_MAX);
  cs_mp_write_array(&p, 1);
  cs_op_write_genesis(&p, "Club", "Flora", A.museum);
  CHECK_EQ_INT(test_author(s, NULL, A.sk, cs_buf_span(&p), club), CS_OK);
  cs_buf_reset(&p);
  cs_mp_write_array(&p, 2);
  member_op(&p, &B, B.museum, CS_ROLE_ADMIN, 0);
  member_op(&p, &C, C.museum, CS_ROLE_MEMBER, 0);
  honest(s, club, &A, &p, added);
  cs_buf_free(&p);
}

/* An adopted decision "remove-admin TARGET": proposed by `by`, yes from
 * `by` and C (two of the three museums), resolved by `by` with those two
 * ballots in its past. deps_out gets the motion's change and the resolution's. */
static void decide_removal(cs_store_t *s, const uint8_t club[32], const who_t *by, const who_t *target,
                           uint8_t deps_out[2][32]) {
  cs_buf_t p, v;
  cs_buf_init(&p, CS_CHANGE_PAYLOAD_MAX);
  cs_buf_init(&v, 1024);
  char effect[CS_GOVERNED_EFFECT_MAX + 1];
  cs_governed_effect(effect, "remove-admin", target->pk);
  /* The electorate is the membership in the motion's past: A, B and C. */
  cs_mp_write_array(&p, 4);
  cs_op_write_create(&p, CS_OBJ_MOTION, NULL);
  cs_op_write_set_str(&p, cs_ref_local(0), CS_F_MOTION_TEXT, "Retirer du bureau", 0, NULL);
  cs_op_write_set_str(&p, cs_ref_local(0), CS_F_MOTION_QUORUM, "majority", 0, NULL);
  cs_op_write_set_str(&p, cs_ref_local(0), CS_F_MOTION_EFFECT, effect, 0, NULL);
  honest(s, club, by, &p, deps_out[0]);
  uint8_t motion[32], ballots[2][32];
  cs_op_id(deps_out[0], 0, motion);
  const who_t *voters[2] = {by, &C};
  for (int i = 0; i < 2; i++) {
    cs_ref_t parent = cs_ref_id(motion);
    cs_buf_reset(&p);
    cs_mp_write_array(&p, 2);
    cs_op_write_create(&p, CS_OBJ_VOTE, &parent);
    cs_op_write_set_str(&p, cs_ref_local(0), CS_F_VOTE_CHOICE, "yes", 0, NULL);
    honest(s, club, voters[i], &p, ballots[i]);
  }
  cs_resolution_t res = {true, 2, 0, 0};
  cs_buf_reset(&v);
  cs_resolution_write(&v, &res);
  cs_buf_reset(&p);
  cs_mp_write_array(&p, 1);
  cs_op_write_set_raw(&p, cs_ref_id(motion), CS_F_MOTION_RESOLUTION, cs_buf_span(&v), 0, NULL);
  cs_ingest_result_t r = forge(s, club, by, &p, (const uint8_t(*)[32])ballots, 2, deps_out[1]);
  CHECK_EQ_INT(r.status, CS_INGEST_NEW);
  cs_buf_free(&p);
  cs_buf_free(&v);
}

/* B's removal carrying out a decision, with the heads as well. */
static cs_ingest_result_t remove_decided(cs_store_t *s, const uint8_t club[32], const who_t *by, const who_t *target,
                                         uint8_t decision[2][32], uint64_t cutoff, uint8_t id[32]) {
  cs_buf_t p;
  cs_buf_init(&p, CS_CHANGE_PAYLOAD_MAX);
  cs_mp_write_array(&p, 1);
  member_op(&p, target, target->museum, CS_ROLE_NONE, cutoff);
  cs_ingest_result_t r = forge(s, club, by, &p, (const uint8_t(*)[32])decision, 2, id);
  cs_buf_free(&p);
  return r;
}

static void member_change_all_or_nothing(void) {
  char dir[64];
  test_tmpdir(dir, sizeof(dir));
  cs_store_t *s = test_store_open(dir);
  uint8_t club[32], heads[1][32], id[32];
  club_abc(s, club);
  who_t X;
  who_init(&X, 9, "Musée X");
  /* B adds X, then relabels itself more times than a timeline holds. */
  cs_buf_t p;
  cs_buf_init(&p, CS_CHANGE_PAYLOAD_MAX);
  cs_mp_write_array(&p, 1 + 2 * CS_MEMBER_ENTRIES_MAX);
  member_op(&p, &X, X.museum, CS_ROLE_MEMBER, 0);
  for (int i = 0; i < 2 * CS_MEMBER_ENTRIES_MAX; i++) {
    char museum[32];
    snprintf(museum, sizeof(museum), "Musée B %d", i);
    member_op(&p, &B, museum, CS_ROLE_ADMIN, seq_of(s, club, &B));
  }
  memcpy(heads[0], added, 32);
  cs_ingest_result_t r = forge(s, club, &B, &p, (const uint8_t(*)[32])heads, 1, id);
  CHECK_EQ_INT(r.status, CS_INGEST_UNAUTHORISED);
  CHECK_EQ_INT(status_of(s, id), CS_ETOOBIG);
  char museum[CS_NAME_MAX + 1];
  CHECK_EQ_INT(role_next(s, club, X.pk, NULL), CS_ROLE_NONE); /* X was not added */
  CHECK_EQ_INT(role_next(s, club, B.pk, museum), CS_ROLE_ADMIN);
  CHECK(strcmp(museum, B.museum) == 0); /* nor B relabelled */
  cs_buf_free(&p);
  cs_store_close(s);
  test_rmdir(dir);
}

static void removal_not_blocked_by_a_full_timeline(void) {
  for (int distinct = 0; distinct < 2; distinct++) {
    char dir[64];
    test_tmpdir(dir, sizeof(dir));
    cs_store_t *s = test_store_open(dir);
    uint8_t club[32], id[32], decision[2][32];
    club_abc(s, club);
    decide_removal(s, club, &A, &B, decision);
    /* B promotes itself 31 times in one change (its museum's name kept, or
     * a new one each time), filling its timeline to the old bound. */
    cs_buf_t p;
    cs_buf_init(&p, CS_CHANGE_PAYLOAD_MAX);
    cs_mp_write_array(&p, 31);
    for (int i = 0; i < 31; i++) {
      char museum[32];
      if (distinct) snprintf(museum, sizeof(museum), "Musée B %d", i);
      else snprintf(museum, sizeof(museum), "%s", B.museum);
      member_op(&p, &B, museum, CS_ROLE_ADMIN, seq_of(s, club, &B));
    }
    uint8_t heads[1][32];
    memcpy(heads[0], decision[1], 32);
    forge(s, club, &B, &p, (const uint8_t(*)[32])heads, 1, id);
    cs_buf_free(&p);
    /* The club's decision removes B all the same. */
    cs_ingest_result_t r = remove_decided(s, club, &A, &B, decision, seq_of(s, club, &B), id);
    CHECK_EQ_INT(r.status, CS_INGEST_NEW);
    CHECK_EQ_INT(status_of(s, id), CS_OK);
    CHECK_EQ_INT(role_next(s, club, B.pk, NULL), CS_ROLE_NONE);
    cs_store_close(s);
    test_rmdir(dir);
  }
}

static void mutual_removal_covers_one_op(void) {
  char dir[64];
  test_tmpdir(dir, sizeof(dir));
  cs_store_t *s = test_store_open(dir);
  uint8_t club[32], id[32], on_b[2][32], on_a[2][32], removal[32];
  club_abc(s, club);
  decide_removal(s, club, &A, &B, on_b);
  decide_removal(s, club, &B, &A, on_a);
  /* A carries out its decision, having seen B's (B is removed after it). */
  uint8_t seen[3][32];
  memcpy(seen[0], on_b[0], 32);
  memcpy(seen[1], on_b[1], 32);
  memcpy(seen[2], on_a[1], 32);
  cs_buf_t p;
  cs_buf_init(&p, CS_CHANGE_PAYLOAD_MAX);
  cs_mp_write_array(&p, 1);
  member_op(&p, &B, B.museum, CS_ROLE_NONE, seq_of(s, club, &B));
  cs_ingest_result_t r = forge(s, club, &A, &p, (const uint8_t(*)[32])seen, 3, removal);
  CHECK_EQ_INT(r.status, CS_INGEST_NEW);
  /* C writes on, without seeing that removal, so that B's next change
   * comes after it in (lamport, id) order without having seen it either. */
  uint8_t c_last[32];
  for (int i = 0; i < 8; i++) {
    cs_buf_reset(&p);
    cs_mp_write_array(&p, 1);
    cs_op_write_create(&p, CS_OBJ_REQUEST, NULL);
    r = forge(s, club, &C, &p, NULL, 0, c_last);
    CHECK_EQ_INT(r.status, CS_INGEST_NEW);
  }
  /* B removes A by its own decision and, in the same change, makes itself
   * an admin again. */
  uint8_t deps[3][32];
  memcpy(deps[0], on_a[0], 32);
  memcpy(deps[1], on_a[1], 32);
  memcpy(deps[2], c_last, 32);
  cs_buf_reset(&p);
  cs_mp_write_array(&p, 2);
  member_op(&p, &A, A.museum, CS_ROLE_NONE, seq_of(s, club, &A));
  member_op(&p, &B, B.museum, CS_ROLE_ADMIN, seq_of(s, club, &B) + 1);
  r = forge(s, club, &B, &p, (const uint8_t(*)[32])deps, 3, id);
  CHECK_EQ_INT(r.status, CS_INGEST_UNAUTHORISED);
  CHECK_EQ_INT(status_of(s, id), CS_EAUTH);
  CHECK_EQ_INT(role_next(s, club, B.pk, NULL), CS_ROLE_NONE);
  CHECK_EQ_INT(role_next(s, club, A.pk, NULL), CS_ROLE_ADMIN);
  /* The same removal alone is the mutual removal the rules allow. */
  cs_buf_reset(&p);
  cs_mp_write_array(&p, 1);
  member_op(&p, &A, A.museum, CS_ROLE_NONE, seq_of(s, club, &A));
  memcpy(deps[2], id, 32);
  r = forge(s, club, &B, &p, (const uint8_t(*)[32])deps, 2, id);
  CHECK_EQ_INT(status_of(s, id), CS_OK);
  CHECK_EQ_INT(role_next(s, club, A.pk, NULL), CS_ROLE_NONE);
  cs_buf_free(&p);
  cs_store_close(s);
  test_rmdir(dir);
}

static void removal_cutoff_from_causal_past(void) {
  char dir[64];
  test_tmpdir(dir, sizeof(dir));
  cs_store_t *s = test_store_open(dir);
  uint8_t club[32], id[32], request_change[32];
  club_abc(s, club);
  /* C files a request; then A removes C writing a cutoff of 0. */
  cs_buf_t p;
  cs_buf_init(&p, CS_CHANGE_PAYLOAD_MAX);
  cs_mp_write_array(&p, 2);
  cs_op_write_create(&p, CS_OBJ_REQUEST, NULL);
  cs_op_write_set_str(&p, cs_ref_local(0), CS_F_REQ_TITLE, "Une demande", 0, NULL);
  honest(s, club, &C, &p, request_change);
  cs_buf_reset(&p);
  cs_mp_write_array(&p, 1);
  member_op(&p, &C, C.museum, CS_ROLE_NONE, 0);
  honest(s, club, &A, &p, id);
  /* C's request, in the removal's causal past, stays valid and in the state. */
  CHECK_EQ_INT(status_of(s, request_change), CS_OK);
  uint8_t request[32];
  cs_op_id(request_change, 0, request);
  cs_object_t obj;
  cs_object_init(&obj);
  cs_txn_t txn;
  CHECK(cs_store_begin(s, false, &txn) == CS_OK);
  CHECK_EQ_INT(cs_store_object_get(&txn, club, request, &obj), CS_OK);
  cs_object_free(&obj);
  cs_store_abort(&txn);
  /* What C writes after it is invalid. */
  cs_buf_reset(&p);
  cs_mp_write_array(&p, 1);
  cs_op_write_create(&p, CS_OBJ_REQUEST, NULL);
  CHECK_EQ_INT(test_author(s, club, C.sk, cs_buf_span(&p), id), CS_EAUTH);
  CHECK_EQ_INT(role_next(s, club, C.pk, NULL), CS_ROLE_NONE);
  cs_buf_free(&p);
  cs_store_close(s);
  test_rmdir(dir);
}

static void target_role_read_in_causal_past(void) {
  char dir[64];
  test_tmpdir(dir, sizeof(dir));
  cs_store_t *s = test_store_open(dir);
  uint8_t club[32], grant[32], id[32];
  club_abc(s, club);
  /* A makes C an admin; B, without seeing it, removes C (a member in
   * B's causal past), after it in (lamport, id) order. */
  cs_buf_t p;
  cs_buf_init(&p, CS_CHANGE_PAYLOAD_MAX);
  cs_mp_write_array(&p, 1);
  member_op(&p, &C, C.museum, CS_ROLE_ADMIN, seq_of(s, club, &C));
  cs_ingest_result_t r = forge(s, club, &A, &p, NULL, 0, grant);
  CHECK_EQ_INT(r.status, CS_INGEST_NEW);
  uint8_t b_last[32];
  for (int i = 0; i < 3; i++) {
    cs_buf_reset(&p);
    cs_mp_write_array(&p, 1);
    cs_op_write_create(&p, CS_OBJ_REQUEST, NULL);
    r = forge(s, club, &B, &p, NULL, 0, b_last);
  }
  cs_buf_reset(&p);
  cs_mp_write_array(&p, 1);
  member_op(&p, &C, C.museum, CS_ROLE_NONE, seq_of(s, club, &C));
  r = forge(s, club, &B, &p, NULL, 0, id);
  /* B removed a member, which needs no decision. */
  CHECK_EQ_INT(r.status, CS_INGEST_NEW);
  CHECK_EQ_INT(status_of(s, id), CS_OK);
  CHECK_EQ_INT(role_next(s, club, C.pk, NULL), CS_ROLE_NONE);
  cs_buf_free(&p);
  cs_store_close(s);
  test_rmdir(dir);
}

int main(void) {
  if (sodium_init() < 0) return 2;
  who_init(&A, 1, "Musée A");
  who_init(&B, 2, "Musée B");
  who_init(&C, 3, "Musée C");
  member_change_all_or_nothing();
  removal_not_blocked_by_a_full_timeline();
  mutual_removal_covers_one_op();
  removal_cutoff_from_causal_past();
  target_role_read_in_causal_past();
  TEST_SUMMARY();
}
