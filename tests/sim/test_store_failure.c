/* Regression test: when storing a received change fails (here: the store
 * is full), the sync io left its write transaction open and half-applied,
 * and net/ (like the simulator) flushes a connection's batch when it
 * closes, which would have committed a change without its effects. Now the
 * batch is abandoned on a store failure: nothing is left to commit, what
 * was committed before is intact, and the state still equals a rebuild
 * from the stored changes. */
#include "tests/unit/testlib.h"

#include "core/op.h"
#include "store/sync_io.h"

#define CHANGES 60

static int no_send(void *ctx, cs_span_t message) {
  (void)ctx, (void)message;
  return CS_OK;
}

typedef struct collect_s {
  cs_span_t spans[CHANGES + 2];
  size_t count;
} collect_t;

static int collect_each(const uint8_t id[32], cs_span_t bytes, void *vctx) {
  collect_t *c = vctx;
  (void)id;
  uint8_t *copy = malloc(bytes.len);
  memcpy(copy, bytes.ptr, bytes.len);
  c->spans[c->count].ptr = copy;
  c->spans[c->count].len = bytes.len;
  c->count++;
  return 0;
}

int main(void) {
  if (sodium_init() < 0) return 2;
  uint8_t pk[32], sk[64], club[32], id[32], req[32];
  test_key(0x41, pk, sk);
  char dir_a[64], dir_b[64];
  test_tmpdir(dir_a, sizeof(dir_a));
  test_tmpdir(dir_b, sizeof(dir_b));
  cs_store_t *a = test_store_open(dir_a);
  test_club_with_request(a, sk, club, req);
  cs_buf_t p;
  cs_buf_init(&p, CS_CHANGE_PAYLOAD_MAX);
  static char body[15000];
  memset(body, 'y', sizeof(body) - 1);
  for (int i = 0; i < CHANGES; i++) {
    cs_buf_reset(&p);
    cs_mp_write_array(&p, 2);
    body[0] = (char)('a' + i % 26);
    body[1] = (char)('a' + i / 26);
    cs_op_write_set_str(&p, cs_ref_id(req), CS_F_REQ_BODY, body, 0, NULL);
    cs_op_write_add_str(&p, cs_ref_id(req), CS_F_REQ_TAGS, body + sizeof(body) - 1 - CS_TAG_MAX);
    CHECK_EQ_INT(test_author(a, club, sk, cs_buf_span(&p), id), CS_OK);
  }
  collect_t all = {.count = 0};
  cs_txn_t txn;
  CHECK_EQ_INT(cs_store_begin(a, false, &txn), CS_OK);
  CHECK_EQ_INT(cs_store_changes(&txn, club, collect_each, &all), CS_OK);
  cs_store_abort(&txn);
  CHECK_EQ_INT(all.count, CHANGES + 2);

  /* B's store is far too small for all of it. */
  setenv("CLUBSYNC_STORE_MAP_MIB", "1", 1);
  cs_store_t *b = test_store_open(dir_b);
  unsetenv("CLUBSYNC_STORE_MAP_MIB");
  cs_store_sync_t x;
  cs_sync_io_t io;
  cs_store_sync_init(&x, b, club, no_send, NULL, &io);
  /* A first batch that fits, committed: acknowledged. */
  CHECK_EQ_INT(io.ingest(io.ctx, all.spans, 3), CS_OK);
  CHECK_EQ_INT(cs_store_sync_flush(&x), CS_OK);
  /* Then the rest, until the store fills up. */
  int err = io.ingest(io.ctx, all.spans + 3, all.count - 3);
  CHECK_EQ_INT(err, CS_ENOSPC);
  CHECK(!x.write_open);
  CHECK_EQ_INT(cs_store_sync_flush(&x), CS_OK); /* nothing half-applied to commit */

  /* What was acknowledged is there and consistent with a rebuild. */
  uint8_t before[32], rebuilt[32];
  test_digest(b, club, before);
  CHECK_EQ_INT(cs_store_begin(b, false, &txn), CS_OK);
  for (size_t i = 0; i < 3; i++) {
    cs_change_t *c = malloc(sizeof(*c));
    cs_span_t got;
    CHECK_EQ_INT(cs_change_decode(all.spans[i], c), CS_OK);
    CHECK_EQ_INT(cs_store_change_get(&txn, c->id, &got), CS_OK);
    free(c);
  }
  cs_store_abort(&txn);
  CHECK_EQ_INT(cs_store_begin(b, true, &txn), CS_OK);
  CHECK_EQ_INT(cs_store_rebuild(&txn, club), CS_OK);
  CHECK_EQ_INT(cs_store_digest(&txn, club, rebuilt), CS_OK);
  cs_store_abort(&txn);
  CHECK(memcmp(before, rebuilt, 32) == 0);

  for (size_t i = 0; i < all.count; i++) free((void *)all.spans[i].ptr);
  cs_buf_free(&p);
  cs_store_close(a);
  cs_store_close(b);
  test_rmdir(dir_a);
  test_rmdir(dir_b);
  TEST_SUMMARY();
}
