/* Regression test for two store bugs the simulator found with an
 * equivocating member (seed 1 of `clubsync-sim --byzantine`):
 *
 * 1. A change continuing the other branch of a fork (its prev is fork
 *    evidence) was rejected with ECHAIN, or parked forever when this node's
 *    chain stopped before it; an honest change that depended on it then
 *    waited in pending forever on the nodes whose chain took the other
 *    branch, so honest nodes never converged.
 * 2. Storing fork evidence did not release the changes waiting for it.
 *
 * Key B signs b1, then two changes at seq 2 (b2, b2x) and continues the
 * second branch with b3x and b4x. A (admin) signs h, which depends on b4x.
 * Node X sees b2 first (its chain takes branch 1), node Y sees b2x first;
 * both must end with every change stored, nothing pending, and the same
 * state digest. */
#include "tests/unit/testlib.h"

#include "core/op.h"

static uint8_t pk_a[32], sk_a[64], pk_b[32], sk_b[64];

typedef struct signed_s {
  cs_buf_t bytes;
  uint8_t id[32];
  uint64_t lamport;
} signed_t;

static void sign(signed_t *out, const uint8_t *club, const uint8_t *sk, const uint8_t *pk, uint64_t seq,
                 const signed_t *prev, const signed_t *dep, const char *title) {
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
  uint64_t parents = 0;
  if (prev && prev->lamport > parents) parents = prev->lamport;
  if (dep && dep->lamport > parents) parents = dep->lamport;
  cs_change_draft_t d = {
      .club = club,
      .author = pk,
      .seq = seq,
      .prev = prev ? prev->id : NULL,
      .dep_count = dep ? 1 : 0,
      .deps = dep ? (const uint8_t(*)[32])dep->id : NULL,
      .lamport = parents + 1,
      .time_ms = 1700000000000,
      .payload = cs_buf_span(&p),
  };
  cs_buf_init(&out->bytes, CS_CHANGE_SIGNED_MAX);
  CHECK_EQ_INT(cs_change_build(&d, sk, &out->bytes, out->id), CS_OK);
  out->lamport = d.lamport;
  cs_buf_free(&p);
}

static cs_ingest_status_t put(cs_store_t *s, const signed_t *c) {
  return test_ingest(s, cs_buf_span(&c->bytes)).status;
}

static uint64_t pending_of(cs_store_t *s, const uint8_t club[32]) {
  cs_txn_t txn;
  cs_store_counts_t counts;
  memset(&counts, 0, sizeof(counts));
  if (cs_store_begin(s, false, &txn) == CS_OK) {
    if (cs_store_counts(&txn, club, &counts) != CS_OK) counts.pending = 999;
    cs_store_abort(&txn);
  }
  return counts.pending;
}

static bool stored(cs_store_t *s, const signed_t *c) {
  cs_txn_t txn;
  cs_span_t bytes;
  bool ok = cs_store_begin(s, false, &txn) == CS_OK && cs_store_change_get(&txn, c->id, &bytes) == CS_OK;
  cs_store_abort(&txn);
  return ok;
}

int main(void) {
  if (sodium_init() < 0) return 2;
  test_key(0x61, pk_a, sk_a);
  test_key(0x62, pk_b, sk_b);
  signed_t g, b1, b2, b2x, b3x, b4x, h;
  sign(&g, NULL, sk_a, pk_a, 1, NULL, NULL, NULL);
  const uint8_t *club = g.id;
  sign(&b1, club, sk_b, pk_b, 1, NULL, &g, "b1");
  sign(&b2, club, sk_b, pk_b, 2, &b1, NULL, "b2");
  sign(&b2x, club, sk_b, pk_b, 2, &b1, NULL, "b2x");
  sign(&b3x, club, sk_b, pk_b, 3, &b2x, NULL, "b3x");
  sign(&b4x, club, sk_b, pk_b, 4, &b3x, NULL, "b4x");
  sign(&h, club, sk_a, pk_a, 2, &g, &b4x, "h");

  char dir_x[64], dir_y[64];
  test_tmpdir(dir_x, sizeof(dir_x));
  test_tmpdir(dir_y, sizeof(dir_y));
  cs_store_t *x = test_store_open(dir_x), *y = test_store_open(dir_y);

  /* X: its chain takes branch 1; h arrives before the branch it needs. */
  CHECK_EQ_INT(put(x, &g), CS_INGEST_NEW);
  CHECK_EQ_INT(put(x, &b1), CS_INGEST_NEW);
  CHECK_EQ_INT(put(x, &b2), CS_INGEST_NEW);
  CHECK_EQ_INT(put(x, &h), CS_INGEST_PENDING);
  /* b3x before the evidence it continues is refused (its prev is unknown
   * and the chain holds another change at seq 2); it is sent again. */
  CHECK_EQ_INT(put(x, &b3x), CS_INGEST_REJECTED);
  CHECK_EQ_INT(put(x, &b2x), CS_INGEST_FORK);
  /* Bug 1: continuing the other branch is evidence, not ECHAIN... */
  CHECK_EQ_INT(put(x, &b3x), CS_INGEST_FORK);
  /* ...even past the end of this node's chain (seq 4 > chain's 2). */
  CHECK_EQ_INT(put(x, &b4x), CS_INGEST_FORK);
  /* Bug 2: storing evidence releases what waited for it. */
  CHECK(stored(x, &h));
  CHECK_EQ_INT(pending_of(x, club), 0);

  /* Y: its chain takes branch 2, in causal order. */
  const signed_t *order_y[] = {&g, &b1, &b2x, &b3x, &b4x, &h, &b2};
  const cs_ingest_status_t want_y[] = {CS_INGEST_NEW, CS_INGEST_NEW, CS_INGEST_NEW, CS_INGEST_NEW,
                                       CS_INGEST_NEW, CS_INGEST_NEW, CS_INGEST_FORK};
  for (size_t i = 0; i < sizeof(order_y) / sizeof(order_y[0]); i++) CHECK_EQ_INT(put(y, order_y[i]), want_y[i]);
  CHECK_EQ_INT(pending_of(y, club), 0);

  /* Same changes, same state; B is frozen from seq 2 on both. */
  const signed_t *all[] = {&g, &b1, &b2, &b2x, &b3x, &b4x, &h};
  for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
    CHECK(stored(x, all[i]));
    CHECK(stored(y, all[i]));
  }
  uint8_t dx[32], dy[32];
  test_digest(x, club, dx);
  test_digest(y, club, dy);
  CHECK(memcmp(dx, dy, 32) == 0);

  /* A third node gets everything in the worst order (h first, the branch
   * backwards) and, after one resend of what it refused, agrees. */
  char dir_z[64];
  test_tmpdir(dir_z, sizeof(dir_z));
  cs_store_t *z = test_store_open(dir_z);
  const signed_t *order_z[] = {&g, &h, &b4x, &b3x, &b2x, &b2, &b1, &b4x, &b3x, &b2};
  for (size_t i = 0; i < sizeof(order_z) / sizeof(order_z[0]); i++) (void)put(z, order_z[i]);
  for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) CHECK(stored(z, all[i]));
  CHECK_EQ_INT(pending_of(z, club), 0);
  uint8_t dz[32];
  test_digest(z, club, dz);
  CHECK(memcmp(dx, dz, 32) == 0);

  cs_store_close(x);
  cs_store_close(y);
  cs_store_close(z);
  test_rmdir(dir_x);
  test_rmdir(dir_y);
  test_rmdir(dir_z);
  const signed_t *every[] = {&g, &b1, &b2, &b2x, &b3x, &b4x, &h};
  for (size_t i = 0; i < sizeof(every) / sizeof(every[0]); i++) cs_buf_free((cs_buf_t *)&every[i]->bytes);
  TEST_SUMMARY();
}
