/* Regression test for a sync bug the simulator found (clubsync-sim
 * --seed 1598): two nodes that each hold a different fork of one key, one
 * of them with the longer chain, synced without ever exchanging the fork
 * the other lacked, because vector entries compared fork *counts* (one
 * each). The key then stayed frozen from different seqs and the states
 * differed for good.
 *
 * Key B signs b1, b2, b3, then b2x (a second seq 2) and b3y (a second
 * seq 3). X holds b1 b2 b3 b3y (fork at 3, chain to 3); Y holds b1 b2x b2
 * (fork at 2, chain to 2). After one sync over the real protocol machine,
 * both must hold all five, record the fork at seq 2, and agree on the
 * digest; a second sync must move no change. */
#include "tests/unit/testlib.h"

#include "core/op.h"
#include "tests/unit/test_session.h"

typedef test_peer_t node_t;

/* One session between a and b until both are quiet; returns the changes
 * both received. */
static uint64_t session(node_t *a, node_t *b, const uint8_t club[32]) {
  return test_session(a, b, club, 64u << 20, 1000).added;
}

static uint8_t pk_a[32], sk_a[64], pk_b[32], sk_b[64];

static void sign(cs_buf_t *out, uint8_t id[32], uint64_t *lamport, const uint8_t *club, const uint8_t *sk,
                 const uint8_t *pk, uint64_t seq, const uint8_t *prev, uint64_t prev_lamport, const char *title) {
  cs_buf_t p;
  cs_buf_init(&p, CS_CHANGE_PAYLOAD_MAX);
  if (!club) {
    cs_mp_write_array(&p, 2);
    cs_op_write_genesis(&p, "Club", "Flora", "Musée A");
    cs_op_write_member(&p, pk_b, "Musée B", CS_ROLE_MEMBER, 0);
  } else {
    cs_mp_write_array(&p, 2);
    cs_op_write_create(&p, CS_OBJ_REQUEST, NULL);
    cs_op_write_set_str(&p, cs_ref_local(0), CS_F_REQ_TITLE, title, 0, NULL);
  }
  /* B's first change depends on the genesis. */
  const uint8_t(*deps)[32] = seq == 1 && club ? (const uint8_t(*)[32])club : NULL;
  cs_change_draft_t d = {
      .club = club,
      .author = pk,
      .seq = seq,
      .prev = prev,
      .dep_count = deps ? 1 : 0,
      .deps = deps,
      .lamport = prev_lamport + 1,
      .time_ms = 1700000000000,
      .payload = cs_buf_span(&p),
  };
  cs_buf_init(out, CS_CHANGE_SIGNED_MAX);
  CHECK_EQ_INT(cs_change_build(&d, sk, out, id), CS_OK);
  *lamport = d.lamport;
  cs_buf_free(&p);
}

int main(void) {
  if (sodium_init() < 0) return 2;
  test_key(0x71, pk_a, sk_a);
  test_key(0x72, pk_b, sk_b);
  enum { G, B1, B2, B3, B2X, B3Y, N };
  cs_buf_t c[N];
  uint8_t id[N][32];
  uint64_t lam[N];
  sign(&c[G], id[G], &lam[G], NULL, sk_a, pk_a, 1, NULL, 0, NULL);
  const uint8_t *club = id[G];
  sign(&c[B1], id[B1], &lam[B1], club, sk_b, pk_b, 1, NULL, lam[G], "b1");
  sign(&c[B2], id[B2], &lam[B2], club, sk_b, pk_b, 2, id[B1], lam[B1], "b2");
  sign(&c[B3], id[B3], &lam[B3], club, sk_b, pk_b, 3, id[B2], lam[B2], "b3");
  sign(&c[B2X], id[B2X], &lam[B2X], club, sk_b, pk_b, 2, id[B1], lam[B1], "b2x");
  sign(&c[B3Y], id[B3Y], &lam[B3Y], club, sk_b, pk_b, 3, id[B2], lam[B2], "b3y");

  char dir_x[64], dir_y[64];
  test_tmpdir(dir_x, sizeof(dir_x));
  test_tmpdir(dir_y, sizeof(dir_y));
  node_t x = {.store = test_store_open(dir_x)}, y = {.store = test_store_open(dir_y)};
  const int at_x[] = {G, B1, B2, B3, B3Y}, at_y[] = {G, B1, B2X, B2};
  for (size_t i = 0; i < sizeof(at_x) / sizeof(at_x[0]); i++) (void)test_ingest(x.store, cs_buf_span(&c[at_x[i]]));
  for (size_t i = 0; i < sizeof(at_y) / sizeof(at_y[0]); i++) (void)test_ingest(y.store, cs_buf_span(&c[at_y[i]]));

  (void)session(&x, &y, club);
  for (int i = 0; i < N; i++) {
    cs_span_t fx = test_fetch(x.store, id[i]), fy = test_fetch(y.store, id[i]);
    CHECK(fx.ptr != NULL);
    CHECK(fy.ptr != NULL);
    free((void *)fx.ptr);
    free((void *)fy.ptr);
  }
  uint8_t dx[32], dy[32];
  test_digest(x.store, club, dx);
  test_digest(y.store, club, dy);
  CHECK(memcmp(dx, dy, 32) == 0);
  /* Same sets: nothing more to send, even though the chains differ. */
  CHECK_EQ_INT(session(&x, &y, club), 0);

  cs_store_close(x.store);
  cs_store_close(y.store);
  test_rmdir(dir_x);
  test_rmdir(dir_y);
  for (int i = 0; i < N; i++) cs_buf_free(&c[i]);
  TEST_SUMMARY();
}
