/* A fork by a key that never had a role in the club does not make the next
 * commit rebuild the club's state (anyone can sign one, for free); a fork by
 * a member still does, since freezing the member's key changes the state. */
#include "tests/unit/testlib.h"

#include "core/op.h"

/* Signs a change of `club` by sk at seq (prev may be NULL at seq 1), on
 * the one dep, that creates a request titled `title`. */
static cs_span_t fork_change(const uint8_t club[32], const uint8_t *sk, uint64_t seq, const uint8_t *prev,
                             const uint8_t dep[32], uint64_t lamport, const char *title) {
  cs_buf_t payload, *out = malloc(sizeof(*out));
  uint8_t id[32];
  cs_buf_init(&payload, 1024);
  cs_mp_write_array(&payload, 2);
  cs_op_write_create(&payload, CS_OBJ_REQUEST, NULL);
  cs_op_write_set_str(&payload, cs_ref_local(0), CS_F_REQ_TITLE, title, 0, NULL);
  cs_change_draft_t d = {.club = club, .author = sk + 32, .seq = seq, .prev = prev, .dep_count = 1,
                         .deps = (const uint8_t(*)[32])dep, .lamport = lamport, .time_ms = 1700000000000,
                         .payload = cs_buf_span(&payload)};
  cs_buf_init(out, CS_CHANGE_SIGNED_MAX);
  CHECK_EQ_INT(cs_change_build(&d, sk, out, id), CS_OK);
  cs_buf_free(&payload);
  cs_span_t span = {out->data, out->len};
  free(out);
  return span;
}

/* Ingests bytes in its own transaction; says whether the commit was to
 * rebuild the state. */
static bool ingest_rebuilds(cs_store_t *s, cs_span_t bytes, cs_ingest_status_t want) {
  cs_txn_t txn;
  cs_ingest_result_t res;
  CHECK_EQ_INT(cs_store_begin(s, true, &txn), CS_OK);
  CHECK_EQ_INT(cs_store_ingest(&txn, bytes, &res), CS_OK);
  CHECK_EQ_INT(res.status, want);
  if (res.status != want) fprintf(stderr, "reason: %s\n", cs_strerror(res.reason));
  bool rebuild = txn.rebuild_needed;
  CHECK_EQ_INT(cs_store_commit(&txn), CS_OK);
  return rebuild;
}

int main(void) {
  if (sodium_init() < 0) return 2;
  char dir[64];
  test_tmpdir(dir, sizeof(dir));
  cs_store_t *s = test_store_open(dir);
  uint8_t pk[32], sk[64], tpk[32], tsk[64], club[32], request[32], head[32];
  test_key(1, pk, sk);
  test_key(2, tpk, tsk);
  test_club_with_request(s, sk, club, request);
  cs_txn_t txn;
  CHECK_EQ_INT(cs_store_begin(s, false, &txn), CS_OK);
  CHECK_EQ_INT(cs_store_chain_get(&txn, club, pk, 2, head), CS_OK);
  cs_store_abort(&txn);

  /* A throwaway key signs two changes at seq 1: the second is a fork. */
  cs_span_t a = fork_change(club, tsk, 1, NULL, head, 3, "A"), b = fork_change(club, tsk, 1, NULL, head, 3, "B");
  CHECK(!ingest_rebuilds(s, a, CS_INGEST_UNAUTHORISED));
  CHECK(!ingest_rebuilds(s, b, CS_INGEST_FORK));

  /* The founder (an admin) forks at seq 3: that freezes a member's key. */
  cs_span_t m1 = fork_change(club, sk, 3, head, head, 3, "M1"), m2 = fork_change(club, sk, 3, head, head, 3, "M2");
  CHECK(!ingest_rebuilds(s, m1, CS_INGEST_NEW));
  CHECK(ingest_rebuilds(s, m2, CS_INGEST_FORK));

  free((void *)a.ptr);
  free((void *)b.ptr);
  free((void *)m1.ptr);
  free((void *)m2.ptr);
  cs_store_close(s);
  test_rmdir(dir);
  TEST_SUMMARY();
}
