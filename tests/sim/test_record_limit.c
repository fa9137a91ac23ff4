/* Regression test: a materialized record past 4 MiB (the old CS_RECORD_MAX)
 * made cs_store_ingest fail with a store error, so a member who signed
 * about 90 changes of conflicting 16 KB values on one request stopped every
 * node from storing that change, and any batch that held it, for good: a
 * poison change. A record's size is derived state and must neither fail an
 * ingest nor decide a change's validity (that would depend on the order of
 * arrival). Every change must be stored and applied, on the author's node
 * and on another, with equal digests. */
#include "tests/unit/testlib.h"

#include "core/op.h"

#define CHANGES 100

typedef struct copy_s {
  cs_store_t *to;
  int new_count, failed;
} copy_t;

/* Ingests one change into the other store, in its own transaction. */
static int copy_each(const uint8_t cid[32], cs_span_t bytes, void *vctx) {
  copy_t *copy = vctx;
  (void)cid;
  cs_txn_t txn;
  cs_ingest_result_t res;
  if (cs_store_begin(copy->to, true, &txn) != CS_OK) return CS_ESTORE;
  int err = cs_store_ingest(&txn, bytes, &res);
  if (err) {
    cs_store_abort(&txn);
    copy->failed++;
    return 0;
  }
  if (cs_store_commit(&txn) != CS_OK) copy->failed++;
  else if (res.status == CS_INGEST_NEW) copy->new_count++;
  return 0;
}

int main(void) {
  if (sodium_init() < 0) return 2;
  uint8_t pk[32], sk[64], club[32], id[32], req[32];
  test_key(0x51, pk, sk);
  char dir_a[64], dir_b[64];
  test_tmpdir(dir_a, sizeof(dir_a));
  test_tmpdir(dir_b, sizeof(dir_b));
  cs_store_t *a = test_store_open(dir_a), *b = test_store_open(dir_b);
  test_club_with_request(a, sk, club, req);
  cs_buf_t p;
  cs_buf_init(&p, CS_CHANGE_PAYLOAD_MAX);

  /* Three concurrent-looking body values per change (no preds): none
   * overwrites another, so the request's record keeps them all. */
  static char body[16000];
  memset(body, 'x', sizeof(body) - 1);
  int authored = 0;
  for (int i = 0; i < CHANGES; i++) {
    cs_buf_reset(&p);
    cs_mp_write_array(&p, 3);
    for (int k = 0; k < 3; k++) {
      char tag[16];
      int n = snprintf(tag, sizeof(tag), "%04d-%d:", i, k);
      memcpy(body, tag, (size_t)n);
      cs_op_write_set_str(&p, cs_ref_id(req), CS_F_REQ_BODY, body, 0, NULL);
    }
    int err = test_author(a, club, sk, cs_buf_span(&p), id);
    if (err) {
      fprintf(stderr, "change %d: %s\n", i, cs_strerror(err));
      break;
    }
    authored++;
  }
  CHECK_EQ_INT(authored, CHANGES);

  /* Another node stores and applies every one of them. */
  cs_txn_t txn;
  CHECK_EQ_INT(cs_store_begin(a, false, &txn), CS_OK);
  copy_t copy = {b, 0, 0};
  CHECK_EQ_INT(cs_store_changes(&txn, club, copy_each, &copy), CS_OK);
  cs_object_t obj;
  CHECK_EQ_INT(cs_store_object_get(&txn, club, req, &obj), CS_OK);
  const cs_entry_t *first;
  CHECK_EQ_INT(cs_object_field(&obj, CS_F_REQ_BODY, &first), 3 * CHANGES);
  cs_object_free(&obj);
  cs_store_abort(&txn);
  CHECK_EQ_INT(copy.failed, 0);
  CHECK_EQ_INT(copy.new_count, CHANGES + 2);
  uint8_t da[32], db[32];
  test_digest(a, club, da);
  test_digest(b, club, db);
  CHECK(memcmp(da, db, 32) == 0);

  cs_buf_free(&p);
  cs_store_close(a);
  cs_store_close(b);
  test_rmdir(dir_a);
  test_rmdir(dir_b);
  TEST_SUMMARY();
}
