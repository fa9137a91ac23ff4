/* The rules of motions, ballots and resolutions, tried as a hostile member
 * would: every change here is validly signed and written outside the CLI,
 * then exchanged between nodes (docs/governance.md, docs/decisions.md).
 *
 * - resolution_once: a resolution with another resolution of the same
 *   motion in its causal past is invalid (a decided motion stays decided);
 * - resolution_stale_cut: among concurrent resolutions, the one whose past
 *   holds the most electorate ballots wins, whatever its lamport;
 * - ballot_op_only: a comment "yes" under a motion is no ballot, and one
 *   change holds at most one ballot per motion;
 * - electorate_from_membership: the proposer's electorate is not read;
 * - large_electorate: 1,200 museums vote, some change their vote, and the
 *   resolution is valid on every node with the same tally. */
#include "tests/unit/rules_fixture.h"

/* A decided motion stays decided: after "rejected", late ballots and a
 * second resolution that has the first in its past change nothing. */
static void test_resolution_once(void) {
  node_t n1;
  node_open(&n1);
  key_t_ k[3];
  for (uint32_t i = 0; i < 3; i++) key_n(100 + i, k[i].pk, k[i].sk);
  const char *museums[] = {"Musée A", "Musée B", "Musée C"};
  cs_role_t roles[] = {CS_ROLE_ADMIN, CS_ROLE_MEMBER, CS_ROLE_MEMBER};
  uint8_t club[32], change[32], motion[32], ballots[3][32], votes[3][32], r1[32], r2[32];
  club_make(&n1, k, museums, roles, 3, club);
  cs_buf_t p;
  cs_buf_init(&p, CS_CHANGE_PAYLOAD_MAX);
  p_motion(&p, NULL, museums, 3);
  CHECK_EQ_INT(author(&n1, club, &k[0], &p, change), CS_OK);
  cs_op_id(change, 0, motion);
  for (uint32_t i = 0; i < 3; i++) {
    p_vote(&p, motion, "no");
    CHECK_EQ_INT(author(&n1, club, &k[i], &p, ballots[i]), CS_OK);
    cs_op_id(ballots[i], 0, votes[i]);
  }
  p_resolution(&p, motion, false, 0, 3, 0);
  CHECK_EQ_INT(author_deps(&n1, club, &k[0], &p, (const uint8_t(*)[32])ballots, 3, r1), CS_OK);
  CHECK_EQ_INT(status_of(&n1, r1), CS_OK);
  /* Late ballots, then a second count that has the first in its past. */
  for (uint32_t i = 0; i < 3; i++) {
    p_revote(&p, votes[i], "yes");
    CHECK_EQ_INT(author(&n1, club, &k[i], &p, ballots[i]), CS_OK);
  }
  p_resolution(&p, motion, true, 3, 0, 0);
  int err = author_deps(&n1, club, &k[0], &p, (const uint8_t(*)[32])ballots, 3, r2);
  CHECK_EQ_INT(err, CS_EAUTH); /* the node's own author path ingests it as any node would: invalid */
  cs_resolution_t res;
  CHECK_EQ_INT(outcome_of(&n1, club, motion, &res), 2);
  CHECK_EQ_INT(res.no, 3);
  cs_buf_free(&p);
  node_close(&n1);
}

/* Stale cut: an admin resolves from a past that holds one ballot, after
 * pumping its lamport; the honest count that holds four ballots wins on
 * every node. */
static void test_resolution_stale_cut(void) {
  node_t n1, n2;
  node_open(&n1);
  node_open(&n2);
  key_t_ k[5];
  for (uint32_t i = 0; i < 5; i++) key_n(200 + i, k[i].pk, k[i].sk);
  const char *museums[] = {"Musée A", "Musée B", "Musée C", "Musée D", "Musée X"};
  cs_role_t roles[] = {CS_ROLE_ADMIN, CS_ROLE_MEMBER, CS_ROLE_MEMBER, CS_ROLE_MEMBER, CS_ROLE_ADMIN};
  uint8_t club[32], change[32], motion[32], ballots[4][32], x_ballot[32], honest[32], stale[32], id[32];
  club_make(&n1, k, museums, roles, 5, club);
  cs_buf_t p;
  cs_buf_init(&p, CS_CHANGE_PAYLOAD_MAX);
  p_motion(&p, NULL, museums, 5);
  CHECK_EQ_INT(author(&n1, club, &k[0], &p, change), CS_OK);
  cs_op_id(change, 0, motion);
  sync_to(&n1, &n2, club);
  for (uint32_t i = 0; i < 4; i++) {
    p_vote(&p, motion, "yes");
    CHECK_EQ_INT(author(&n1, club, &k[i], &p, ballots[i]), CS_OK);
  }
  p_resolution(&p, motion, true, 4, 0, 0);
  CHECK_EQ_INT(author_deps(&n1, club, &k[0], &p, (const uint8_t(*)[32])ballots, 4, honest), CS_OK);
  /* The attacker, on its own node, sees its own ballot only. */
  p_vote(&p, motion, "no");
  CHECK_EQ_INT(author(&n2, club, &k[4], &p, x_ballot), CS_OK);
  for (int i = 0; i < 8; i++) {
    cs_mp_write_array(&p, 2);
    cs_op_write_create(&p, CS_OBJ_REQUEST, NULL);
    cs_op_write_set_str(&p, cs_ref_local(0), CS_F_REQ_TITLE, "Lamport", 0, NULL);
    CHECK_EQ_INT(author(&n2, club, &k[4], &p, id), CS_OK);
  }
  p_resolution(&p, motion, false, 0, 1, 0);
  CHECK_EQ_INT(author_deps(&n2, club, &k[4], &p, (const uint8_t(*)[32])&x_ballot, 1, stale), CS_OK);
  CHECK(lamport_of(&n2, stale) > lamport_of(&n1, honest));
  sync_to(&n1, &n2, club);
  sync_to(&n2, &n1, club);
  node_t *nodes[] = {&n1, &n2};
  for (int i = 0; i < 2; i++) {
    cs_resolution_t res;
    CHECK_EQ_INT(status_of(nodes[i], honest), CS_OK);
    CHECK_EQ_INT(outcome_of(nodes[i], club, motion, &res), 1);
    CHECK_EQ_INT(res.yes, 4);
  }
  CHECK(same_digest(&n1, &n2, club));
  cs_buf_free(&p);
  node_close(&n1);
  node_close(&n2);
}

/* Only a ballot op is a ballot: an observer's comment "yes" under the
 * motion is not counted; one change holds at most one ballot per motion. */
static void test_ballot_op_only(void) {
  node_t n1;
  node_open(&n1);
  key_t_ k[4];
  for (uint32_t i = 0; i < 4; i++) key_n(300 + i, k[i].pk, k[i].sk);
  const char *museums[] = {"Musée A", "Musée B", "Musée C", "Musée B"};
  cs_role_t roles[] = {CS_ROLE_ADMIN, CS_ROLE_MEMBER, CS_ROLE_MEMBER, CS_ROLE_OBSERVER};
  uint8_t club[32], change[32], motion[32], counted[2][32], res_id[32], two[32];
  club_make(&n1, k, museums, roles, 4, club);
  cs_buf_t p;
  cs_buf_init(&p, CS_CHANGE_PAYLOAD_MAX);
  const char *electorate[] = {"Musée A", "Musée B", "Musée C"};
  p_motion(&p, NULL, electorate, 3);
  CHECK_EQ_INT(author(&n1, club, &k[0], &p, change), CS_OK);
  cs_op_id(change, 0, motion);
  p_vote(&p, motion, "yes");
  CHECK_EQ_INT(author(&n1, club, &k[0], &p, counted[0]), CS_OK);
  /* Musée B's observer key comments "yes" under the motion. */
  cs_ref_t parent = cs_ref_id(motion);
  cs_mp_write_array(&p, 2);
  cs_op_write_create(&p, CS_OBJ_COMMENT, &parent);
  cs_op_write_set_str(&p, cs_ref_local(0), CS_F_COMMENT_BODY, "yes", 0, NULL);
  CHECK_EQ_INT(author(&n1, club, &k[3], &p, counted[1]), CS_OK);
  CHECK_EQ_INT(status_of(&n1, counted[1]), CS_OK); /* a comment is fine */
  p_resolution(&p, motion, true, 2, 0, 0);
  (void)author_deps(&n1, club, &k[0], &p, (const uint8_t(*)[32])counted, 2, res_id);
  cs_resolution_t res;
  CHECK_EQ_INT(outcome_of(&n1, club, motion, &res), 0);
  /* Two ballots of one museum in one change. */
  cs_mp_write_array(&p, 4);
  cs_op_write_create(&p, CS_OBJ_VOTE, &parent);
  cs_op_write_set_str(&p, cs_ref_local(0), CS_F_VOTE_CHOICE, "yes", 0, NULL);
  cs_op_write_create(&p, CS_OBJ_VOTE, &parent);
  cs_op_write_set_str(&p, cs_ref_local(2), CS_F_VOTE_CHOICE, "no", 0, NULL);
  /* The node's own author path ingests it as any node would: invalid. */
  CHECK_EQ_INT(author(&n1, club, &k[1], &p, two), CS_EAUTH);
  cs_buf_free(&p);
  node_close(&n1);
}

/* The electorate comes from the membership in the motion's past: an admin
 * who names an electorate of its own museum cannot remove the founder
 * alone. */
static void test_electorate_from_membership(void) {
  node_t n1;
  node_open(&n1);
  key_t_ k[4];
  for (uint32_t i = 0; i < 4; i++) key_n(400 + i, k[i].pk, k[i].sk);
  const char *museums[] = {"Musée F", "Musée G", "Musée H", "Musée I"};
  cs_role_t roles[] = {CS_ROLE_ADMIN, CS_ROLE_ADMIN, CS_ROLE_MEMBER, CS_ROLE_MEMBER};
  uint8_t club[32], change[32], motion[32], ballot[32], res_id[32], removal[32];
  club_make(&n1, k, museums, roles, 4, club);
  cs_buf_t p;
  cs_buf_init(&p, CS_CHANGE_PAYLOAD_MAX);
  char effect[CS_GOVERNED_EFFECT_MAX + 1];
  cs_governed_effect(effect, "remove-admin", k[0].pk);
  const char *own[] = {"Musée G"};
  p_motion(&p, effect, own, 1);
  CHECK_EQ_INT(author(&n1, club, &k[1], &p, change), CS_OK);
  cs_op_id(change, 0, motion);
  p_vote(&p, motion, "yes");
  CHECK_EQ_INT(author(&n1, club, &k[1], &p, ballot), CS_OK);
  p_resolution(&p, motion, true, 1, 0, 0);
  (void)author_deps(&n1, club, &k[1], &p, (const uint8_t(*)[32])&ballot, 1, res_id);
  uint8_t deps[2][32];
  memcpy(deps[0], change, 32);
  memcpy(deps[1], res_id, 32);
  cs_mp_write_array(&p, 1);
  cs_op_write_member(&p, k[0].pk, "Musée F", CS_ROLE_NONE, 3);
  (void)author_deps(&n1, club, &k[1], &p, (const uint8_t(*)[32])deps, 2, removal);
  cs_txn_t txn;
  cs_member_t *m = malloc(sizeof(*m));
  CHECK_EQ_INT(cs_store_begin(n1.s, false, &txn), CS_OK);
  CHECK_EQ_INT(cs_store_member_get(&txn, club, k[0].pk, m), CS_OK);
  cs_store_abort(&txn);
  CHECK(cs_member_latest(m) && cs_member_latest(m)->role == CS_ROLE_ADMIN);
  free(m);
  cs_resolution_t res;
  CHECK_EQ_INT(outcome_of(&n1, club, motion, &res), 0);
  cs_buf_free(&p);
  node_close(&n1);
}

/* Every change of a node, as an audit bundle. */
/* 1,200 museums vote on two nodes, 100 change their vote; the resolution
 * counts each museum's latest ballot, holds on every node, and its audit
 * bundle verifies with the same tally. */
static void test_large_electorate(void) {
  enum { N = 1200, BATCH = 200 };
  node_t n[3];
  for (int i = 0; i < 3; i++) node_open(&n[i]);
  key_t_ *k = malloc(N * sizeof(*k));
  uint8_t(*votes)[32] = malloc(N * 32);
  for (uint32_t i = 0; i < N; i++) key_n(1000 + i, k[i].pk, k[i].sk);
  uint8_t club[32], change[32], motion[32], id[32];
  cs_buf_t p;
  cs_buf_init(&p, CS_CHANGE_PAYLOAD_MAX);
  p_genesis(&p, "Musée 0");
  CHECK_EQ_INT(author(&n[0], NULL, &k[0], &p, club), CS_OK);
  char name[32];
  for (uint32_t at = 1; at < N; at += BATCH) {
    uint32_t end = at + BATCH < N ? at + BATCH : N;
    cs_mp_write_array(&p, end - at);
    for (uint32_t i = at; i < end; i++) {
      snprintf(name, sizeof(name), "Musée %u", i);
      cs_op_write_member(&p, k[i].pk, name, CS_ROLE_MEMBER, 0);
    }
    CHECK_EQ_INT(author(&n[0], club, &k[0], &p, id), CS_OK);
  }
  p_motion(&p, NULL, NULL, 0);
  CHECK_EQ_INT(author(&n[0], club, &k[0], &p, change), CS_OK);
  cs_op_id(change, 0, motion);
  sync_to(&n[0], &n[1], club);
  /* Half vote on each node: 0..599 yes on node 0; 600..899 yes and
   * 900..1199 abstain on node 1. */
  for (uint32_t i = 0; i < N; i++) {
    p_vote(&p, motion, i < 900 ? "yes" : "abstain");
    CHECK_EQ_INT(author(&n[i < 600 ? 0 : 1], club, &k[i], &p, id), CS_OK);
    cs_op_id(id, 0, votes[i]);
  }
  sync_to(&n[0], &n[1], club);
  sync_to(&n[1], &n[0], club);
  /* 100 museums change their mind. */
  for (uint32_t i = 0; i < 100; i++) {
    p_revote(&p, votes[i], "no");
    CHECK_EQ_INT(author(&n[1], club, &k[i], &p, id), CS_OK);
  }
  sync_to(&n[1], &n[0], club);
  p_resolution(&p, motion, true, 800, 100, 300);
  CHECK_EQ_INT(author(&n[0], club, &k[0], &p, id), CS_OK);
  sync_to(&n[0], &n[1], club);
  sync_to(&n[1], &n[2], club); /* another order of arrival */
  for (int i = 0; i < 3; i++) {
    cs_resolution_t res;
    CHECK_EQ_INT(status_of(&n[i], id), CS_OK);
    CHECK_EQ_INT(outcome_of(&n[i], club, motion, &res), 1);
    CHECK_EQ_INT(res.yes, 800);
    CHECK_EQ_INT(res.no, 100);
    CHECK_EQ_INT(res.abstain, 300);
  }
  CHECK(same_digest(&n[0], &n[1], club));
  CHECK(same_digest(&n[0], &n[2], club));
  /* The audit bundle verifies, with the node's tally. */
  cs_audit_report_t *rep = calloc(1, sizeof(*rep));
  int err = verify_node(&n[2], club, rep);
  if (err) fprintf(stderr, "verify: %s\n", rep->why);
  CHECK_EQ_INT(err, CS_OK);
  CHECK(rep->resolved && rep->resolution.adopted);
  CHECK_EQ_INT(rep->electorate.count, N);
  CHECK_EQ_INT(rep->tally.yes, 800);
  CHECK_EQ_INT(rep->tally.no, 100);
  CHECK_EQ_INT(rep->tally.abstain, 300);
  uint32_t counted = 0;
  for (uint32_t i = 0; i < rep->vote_count; i++) counted += rep->votes[i].counted;
  CHECK_EQ_INT(counted, N);
  cs_audit_report_free(rep);
  free(rep);
  cs_buf_free(&p);
  free(k);
  free(votes);
  for (int i = 0; i < 3; i++) node_close(&n[i]);
}

/* 150 museums vote concurrently, each ballot depending on the motion
 * alone, so the counting node holds 150 heads, more than a change can name.
 * The resolution written the way `motion resolve` writes it (this node's
 * heads as deps) still has every ballot in its causal past: merge changes,
 * with no op, come first. Held if it is valid on the node and on another. */
static void test_resolution_over_many_heads(void) {
  enum { N = 150 };
  node_t n1, n2;
  node_open(&n1);
  node_open(&n2);
  key_t_ *k = malloc(N * sizeof(*k));
  for (uint32_t i = 0; i < N; i++) key_n(3000 + i, k[i].pk, k[i].sk);
  uint8_t club[32], change[32], motion[32], id[32], deps[1][32];
  cs_buf_t p;
  cs_buf_init(&p, CS_CHANGE_PAYLOAD_MAX);
  p_genesis(&p, "Musée 0");
  CHECK_EQ_INT(author(&n1, NULL, &k[0], &p, club), CS_OK);
  cs_mp_write_array(&p, N - 1);
  char name[32];
  for (uint32_t i = 1; i < N; i++) {
    snprintf(name, sizeof(name), "Musée %u", i);
    cs_op_write_member(&p, k[i].pk, name, CS_ROLE_MEMBER, 0);
  }
  CHECK_EQ_INT(author(&n1, club, &k[0], &p, id), CS_OK);
  p_motion(&p, NULL, NULL, 0);
  CHECK_EQ_INT(author(&n1, club, &k[0], &p, change), CS_OK);
  cs_op_id(change, 0, motion);
  memcpy(deps[0], change, 32);
  for (uint32_t i = 1; i < N; i++) {
    p_vote(&p, motion, "yes");
    CHECK_EQ_INT(author_deps(&n1, club, &k[i], &p, (const uint8_t(*)[32])deps, 1, id), CS_OK);
  }
  uint8_t heads[CS_CHANGE_DEPS_MAX][32];
  uint32_t head_count = 0;
  cs_txn_t txn;
  CHECK_EQ_INT(cs_store_begin(n1.s, false, &txn), CS_OK);
  CHECK_EQ_INT(cs_store_heads(&txn, club, heads, CS_CHANGE_DEPS_MAX, &head_count), CS_OK);
  cs_store_abort(&txn);
  CHECK_EQ_INT(head_count, CS_CHANGE_DEPS_MAX); /* and more beyond */
  p_vote(&p, motion, "yes");
  CHECK_EQ_INT(author(&n1, club, &k[0], &p, id), CS_OK);
  p_resolution(&p, motion, true, N, 0, 0);
  CHECK_EQ_INT(author(&n1, club, &k[0], &p, id), CS_OK);
  CHECK_EQ_INT(status_of(&n1, id), CS_OK);
  sync_to(&n1, &n2, club);
  cs_resolution_t res;
  CHECK_EQ_INT(status_of(&n2, id), CS_OK);
  CHECK_EQ_INT(outcome_of(&n2, club, motion, &res), 1);
  CHECK_EQ_INT(res.yes, N);
  CHECK(same_digest(&n1, &n2, club));
  cs_buf_free(&p);
  free(k);
  node_close(&n1);
  node_close(&n2);
}

/* A ballot by a key that forked at that seq is no ballot, on a node and in
 * verify alike: the resolution that counted it is invalid in both. */
static void test_verify_forked_ballot(void) {
  node_t n1, n2;
  node_open(&n1);
  node_open(&n2);
  key_t_ k[3];
  for (uint32_t i = 0; i < 3; i++) key_n(500 + i, k[i].pk, k[i].sk);
  const char *museums[] = {"Musée A", "Musée B", "Musée C"};
  cs_role_t roles[] = {CS_ROLE_ADMIN, CS_ROLE_MEMBER, CS_ROLE_MEMBER};
  uint8_t club[32], change[32], motion[32], a_ballot[32], b_ballot[32], other[32], res_id[32];
  club_make(&n1, k, museums, roles, 3, club);
  cs_buf_t p;
  cs_buf_init(&p, CS_CHANGE_PAYLOAD_MAX);
  p_motion(&p, NULL, NULL, 0);
  CHECK_EQ_INT(author(&n1, club, &k[0], &p, change), CS_OK);
  cs_op_id(change, 0, motion);
  sync_to(&n1, &n2, club);
  p_vote(&p, motion, "yes");
  CHECK_EQ_INT(author(&n1, club, &k[0], &p, a_ballot), CS_OK);
  p_vote(&p, motion, "yes");
  CHECK_EQ_INT(author(&n1, club, &k[1], &p, b_ballot), CS_OK);
  /* B signs another change at the same seq on another node. */
  cs_mp_write_array(&p, 2);
  cs_op_write_create(&p, CS_OBJ_REQUEST, NULL);
  cs_op_write_set_str(&p, cs_ref_local(0), CS_F_REQ_TITLE, "Autre", 0, NULL);
  CHECK_EQ_INT(author(&n2, club, &k[1], &p, other), CS_OK);
  p_resolution(&p, motion, true, 2, 0, 0);
  CHECK_EQ_INT(author(&n1, club, &k[0], &p, res_id), CS_OK);
  CHECK_EQ_INT(status_of(&n1, res_id), CS_OK); /* before the fork is known */
  cs_audit_report_t *rep = calloc(1, sizeof(*rep));
  CHECK_EQ_INT(verify_node(&n1, club, rep), CS_OK);
  cs_audit_report_free(rep);
  sync_to(&n2, &n1, club);
  CHECK(status_of(&n1, res_id) != CS_OK);
  cs_resolution_t res;
  CHECK_EQ_INT(outcome_of(&n1, club, motion, &res), 0);
  CHECK(verify_node(&n1, club, rep) != CS_OK);
  cs_audit_report_free(rep);
  free(rep);
  cs_buf_free(&p);
  node_close(&n1);
  node_close(&n2);
}

/* A resolution op on another motion is not this motion's resolution. */
static void test_verify_other_motion(void) {
  node_t n1;
  node_open(&n1);
  key_t_ k[3];
  for (uint32_t i = 0; i < 3; i++) key_n(600 + i, k[i].pk, k[i].sk);
  const char *museums[] = {"Musée A", "Musée B", "Musée C"};
  cs_role_t roles[] = {CS_ROLE_ADMIN, CS_ROLE_MEMBER, CS_ROLE_MEMBER};
  uint8_t club[32], change[32], m1[32], m2[32], id[32];
  club_make(&n1, k, museums, roles, 3, club);
  cs_buf_t p;
  cs_buf_init(&p, CS_CHANGE_PAYLOAD_MAX);
  p_motion(&p, NULL, NULL, 0);
  CHECK_EQ_INT(author(&n1, club, &k[0], &p, change), CS_OK);
  cs_op_id(change, 0, m1);
  p_motion(&p, NULL, NULL, 0);
  CHECK_EQ_INT(author(&n1, club, &k[0], &p, change), CS_OK);
  cs_op_id(change, 0, m2);
  for (uint32_t i = 0; i < 3; i++) {
    p_vote(&p, m2, "yes");
    CHECK_EQ_INT(author(&n1, club, &k[i], &p, id), CS_OK);
  }
  p_resolution(&p, m2, true, 3, 0, 0);
  CHECK_EQ_INT(author(&n1, club, &k[0], &p, id), CS_OK);
  /* The bundle's first motion is m1, unresolved: m2's resolution is not its. */
  cs_audit_report_t *rep = calloc(1, sizeof(*rep));
  CHECK_EQ_INT(verify_node(&n1, club, rep), CS_OK);
  CHECK(memcmp(rep->motion, m1, 32) == 0);
  CHECK(!rep->resolved);
  cs_audit_report_free(rep);
  free(rep);
  cs_buf_free(&p);
  node_close(&n1);
}

int main(void) {
  if (sodium_init() < 0) return 2;
  test_resolution_once();
  test_resolution_stale_cut();
  test_ballot_op_only();
  test_electorate_from_membership();
  test_verify_forked_ballot();
  test_verify_other_motion();
  test_large_electorate();
  test_resolution_over_many_heads();
  TEST_SUMMARY();
}
