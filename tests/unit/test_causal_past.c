/* The causal-past index: for random histories of several authors, "is x in
 * the causal past of c" answered by the store's vectors, by verify's
 * in-memory vectors and by a plain graph walk agree for every pair, in
 * whatever order the changes arrive; a store of the previous schema gains
 * the index when opened, with the same state; hostile encodings are refused. */
#include "tests/unit/testlib.h"

#include "core/past.h"

#define AUTHORS 5
#define CHANGES 240

typedef struct history_s {
  cs_buf_t bytes[CHANGES];
  cs_change_t changes[CHANGES];
  uint32_t count;
  uint8_t club[32];
} history_t;

static uint8_t pks[AUTHORS][32], sks[AUTHORS][64];

static uint32_t rng_state = 12345;
static uint32_t rng(void) {
  rng_state = rng_state * 1103515245u + 12345u;
  return rng_state >> 8;
}

static void add_change(history_t *h, uint32_t author, cs_span_t payload, const uint8_t (*deps)[32], uint32_t dep_count) {
  uint64_t seq = 1, parents_max = 0;
  const uint8_t *prev = NULL;
  for (uint32_t i = 0; i < h->count; i++)
    if (memcmp(h->changes[i].author, pks[author], 32) == 0 && h->changes[i].seq >= seq) {
      seq = h->changes[i].seq + 1;
      prev = h->changes[i].id;
      if (h->changes[i].lamport > parents_max) parents_max = h->changes[i].lamport;
    }
  for (uint32_t d = 0; d < dep_count; d++)
    for (uint32_t i = 0; i < h->count; i++)
      if (memcmp(h->changes[i].id, deps[d], 32) == 0 && h->changes[i].lamport > parents_max)
        parents_max = h->changes[i].lamport;
  cs_change_draft_t draft = {h->count ? h->club : NULL, pks[author], seq, prev, dep_count, deps,
                             cs_lamport_next(parents_max), 1700000000000 + h->count, payload};
  uint8_t id[32];
  cs_buf_t *out = &h->bytes[h->count];
  cs_buf_init(out, CS_CHANGE_SIGNED_MAX);
  CHECK_EQ_INT(cs_change_build(&draft, sks[author], out, id), CS_OK);
  CHECK_EQ_INT(cs_change_decode(cs_buf_span(out), &h->changes[h->count]), CS_OK);
  if (h->count == 0) memcpy(h->club, id, 32);
  h->count++;
}

static int id_cmp(const void *a, const void *b) { return memcmp(a, b, 32); }

/* A founder, four members, then changes by random authors, each depending
 * on its author's previous change and on one to three random earlier ones. */
static void make_history(history_t *h) {
  cs_buf_t p;
  cs_buf_init(&p, CS_CHANGE_PAYLOAD_MAX);
  memset(h, 0, sizeof(*h));
  cs_mp_write_array(&p, 1);
  cs_op_write_genesis(&p, "Club", "Flora", "Musée 0");
  add_change(h, 0, cs_buf_span(&p), NULL, 0);
  cs_buf_reset(&p);
  cs_mp_write_array(&p, AUTHORS - 1);
  for (uint32_t a = 1; a < AUTHORS; a++) {
    char museum[16];
    snprintf(museum, sizeof(museum), "Musée %u", a);
    cs_op_write_member(&p, pks[a], museum, CS_ROLE_MEMBER, 0);
  }
  add_change(h, 0, cs_buf_span(&p), NULL, 0);
  while (h->count < CHANGES) {
    uint8_t deps[3][32];
    uint32_t dep_count = 1 + rng() % 3, n = 0;
    for (uint32_t d = 0; d < dep_count; d++) {
      const uint8_t *pick = h->changes[1 + rng() % (h->count - 1)].id;
      bool seen = false;
      for (uint32_t k = 0; k < n; k++) seen |= memcmp(deps[k], pick, 32) == 0;
      if (!seen) memcpy(deps[n++], pick, 32);
    }
    qsort(deps, n, 32, id_cmp);
    cs_buf_reset(&p);
    cs_mp_write_array(&p, 1);
    cs_op_write_create(&p, CS_OBJ_REQUEST, NULL);
    add_change(h, rng() % AUTHORS, cs_buf_span(&p), (const uint8_t(*)[32])deps, n);
  }
  cs_buf_free(&p);
}

static int find(const history_t *h, const uint8_t id[32]) {
  for (uint32_t i = 0; i < h->count; i++)
    if (memcmp(h->changes[i].id, id, 32) == 0) return (int)i;
  return -1;
}

/* The reference: walk the graph from c. */
static void reachable(const history_t *h, uint32_t c, bool *seen) {
  if (seen[c]) return;
  seen[c] = true;
  const cs_change_t *ch = &h->changes[c];
  for (uint32_t d = 0; d <= ch->dep_count; d++) {
    const uint8_t *parent = d < ch->dep_count ? ch->deps[d] : (ch->has_prev ? ch->prev : NULL);
    int p = parent ? find(h, parent) : -1;
    if (p >= 0) reachable(h, (uint32_t)p, seen);
  }
}

/* Every pair (c, x): the oracle says x is in c's past exactly when the
 * walk reaches it. Returns the number of pairs that disagree. */
static uint32_t disagreements(const history_t *h, const cs_past_t *past) {
  uint32_t wrong = 0;
  bool seen[CHANGES];
  for (uint32_t c = 0; c < h->count; c++) {
    memset(seen, 0, sizeof(seen));
    reachable(h, c, seen);
    for (uint32_t x = 0; x < h->count; x++) {
      bool holds = false;
      int err = cs_past_holds(past, h->changes[c].id, h->changes[x].author, h->changes[x].seq, &holds);
      if (err || holds != seen[x]) wrong++;
    }
  }
  return wrong;
}

static void ingest_all(cs_store_t *s, const history_t *h, const uint32_t *order) {
  for (uint32_t i = 0; i < h->count; i++) {
    cs_ingest_result_t res = test_ingest(s, cs_buf_span(&h->bytes[order[i]]));
    CHECK(res.status == CS_INGEST_NEW || res.status == CS_INGEST_PENDING);
  }
}

static void test_store_and_memory_agree_with_the_graph(const history_t *h) {
  char dir_a[64], dir_b[64];
  uint32_t order[CHANGES];
  test_tmpdir(dir_a, sizeof(dir_a));
  test_tmpdir(dir_b, sizeof(dir_b));
  cs_store_t *a = test_store_open(dir_a), *b = test_store_open(dir_b);
  for (uint32_t i = 0; i < h->count; i++) order[i] = i;
  ingest_all(a, h, order);
  /* The same changes, the genesis first and the rest shuffled: most wait
   * in pending for their parents. */
  for (uint32_t i = h->count - 1; i > 1; i--) {
    uint32_t j = 1 + rng() % i, t = order[i];
    order[i] = order[j];
    order[j] = t;
  }
  ingest_all(b, h, order);
  cs_txn_t txn;
  CHECK_EQ_INT(cs_store_begin(a, false, &txn), CS_OK);
  cs_past_t past = cs_store_past(&txn);
  CHECK_EQ_INT(disagreements(h, &past), 0);
  cs_store_abort(&txn);
  CHECK_EQ_INT(cs_store_begin(b, false, &txn), CS_OK);
  past = cs_store_past(&txn);
  CHECK_EQ_INT(disagreements(h, &past), 0);
  uint64_t seq = 99;
  uint8_t unknown[32] = {1};
  CHECK_EQ_INT(cs_store_past_seq(&txn, unknown, pks[0], &seq), CS_ENOTFOUND);
  cs_store_abort(&txn);

  const cs_change_t *ptrs[CHANGES];
  for (uint32_t i = 0; i < h->count; i++) ptrs[i] = &h->changes[order[i]];
  cs_past_mem_t *mem = NULL;
  CHECK_EQ_INT(cs_past_mem_build(ptrs, h->count, &mem), CS_OK);
  past = cs_past_mem_oracle(mem);
  CHECK_EQ_INT(disagreements(h, &past), 0);
  cs_past_mem_free(mem);
  cs_store_close(a);
  cs_store_close(b);
  test_rmdir(dir_a);
  test_rmdir(dir_b);
}

/* A store written before the index existed (schema 2, no `pasts`) gains it
 * when opened, and its state is what it was. */
static void test_previous_schema_gains_the_index(const history_t *h) {
  char dir[64];
  uint32_t order[CHANGES];
  uint8_t before[32], after[32];
  test_tmpdir(dir, sizeof(dir));
  cs_store_t *s = test_store_open(dir);
  for (uint32_t i = 0; i < h->count; i++) order[i] = i;
  ingest_all(s, h, order);
  test_digest(s, h->club, before);
  cs_store_close(s);

  MDB_env *env;
  MDB_txn *txn;
  MDB_dbi meta, pasts;
  CHECK_EQ_INT(mdb_env_create(&env), 0);
  CHECK_EQ_INT(mdb_env_set_maxdbs(env, 32), 0);
  CHECK_EQ_INT(mdb_env_set_mapsize(env, CS_STORE_MAP_SIZE), 0);
  CHECK_EQ_INT(mdb_env_open(env, dir, 0, 0600), 0);
  CHECK_EQ_INT(mdb_txn_begin(env, NULL, 0, &txn), 0);
  CHECK_EQ_INT(mdb_dbi_open(txn, "meta", 0, &meta), 0);
  CHECK_EQ_INT(mdb_dbi_open(txn, "pasts", 0, &pasts), 0);
  CHECK_EQ_INT(mdb_drop(txn, pasts, 0), 0);
  uint8_t version = 2;
  MDB_val k = {6, "schema"}, v = {1, &version};
  CHECK_EQ_INT(mdb_put(txn, meta, &k, &v, 0), 0);
  CHECK_EQ_INT(mdb_txn_commit(txn), 0);
  mdb_env_close(env);

  s = test_store_open(dir);
  test_digest(s, h->club, after);
  CHECK(memcmp(before, after, 32) == 0);
  cs_txn_t t;
  CHECK_EQ_INT(cs_store_begin(s, false, &t), CS_OK);
  cs_past_t past = cs_store_past(&t);
  CHECK_EQ_INT(disagreements(h, &past), 0);
  cs_store_abort(&t);
  cs_store_close(s);
  test_rmdir(dir);
}

static void test_vectors_refuse_hostile_encodings(void) {
  cs_vv_t vv = CS_VV_INIT, back = CS_VV_INIT;
  cs_buf_t out;
  cs_buf_init(&out, 1024);
  CHECK_EQ_INT(cs_vv_raise(&vv, 7, 3), CS_OK);
  CHECK_EQ_INT(cs_vv_raise(&vv, 2, 900), CS_OK);
  CHECK_EQ_INT(cs_vv_raise(&vv, 7, 1), CS_OK); /* lower: no change */
  CHECK_EQ_INT(cs_vv_get(&vv, 7), 3);
  cs_vv_encode(&vv, &out);
  CHECK_EQ_INT(cs_vv_decode(cs_buf_span(&out), &back), CS_OK);
  CHECK_EQ_INT(back.count, 2);
  CHECK_EQ_INT(cs_vv_get(&back, 2), 900);
  uint64_t seq;
  CHECK_EQ_INT(cs_vv_get_encoded(cs_buf_span(&out), 7, &seq), CS_OK);
  CHECK_EQ_INT(seq, 3);
  CHECK_EQ_INT(cs_vv_get_encoded(cs_buf_span(&out), 5, &seq), CS_OK);
  CHECK_EQ_INT(seq, 0);
  /* Truncated, a count larger than the bytes, a repeated author, a varint
   * of eleven bytes, trailing bytes. */
  cs_span_t truncated = {out.data, out.len - 1};
  CHECK(cs_vv_decode(truncated, &back) != CS_OK);
  const uint8_t big_count[] = {0xff, 0xff, 0x03, 1, 1};
  CHECK(cs_vv_decode((cs_span_t){big_count, sizeof(big_count)}, &back) != CS_OK);
  const uint8_t repeated[] = {2, 4, 1, 0, 2};
  CHECK(cs_vv_decode((cs_span_t){repeated, sizeof(repeated)}, &back) != CS_OK);
  const uint8_t overlong[] = {1, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
  CHECK(cs_vv_decode((cs_span_t){overlong, sizeof(overlong)}, &back) != CS_OK);
  const uint8_t trailing[] = {1, 0, 5, 9};
  CHECK(cs_vv_decode((cs_span_t){trailing, sizeof(trailing)}, &back) != CS_OK);
  cs_vv_t other = CS_VV_INIT;
  CHECK_EQ_INT(cs_vv_raise(&other, 7, 10), CS_OK);
  CHECK_EQ_INT(cs_vv_raise(&other, 1, 1), CS_OK);
  CHECK_EQ_INT(cs_vv_merge(&vv, &other), CS_OK);
  CHECK_EQ_INT(vv.count, 3);
  CHECK_EQ_INT(cs_vv_get(&vv, 7), 10);
  CHECK_EQ_INT(cs_vv_get(&vv, 2), 900);
  CHECK_EQ_INT(cs_vv_get(&vv, 1), 1);
  cs_vv_free(&vv);
  cs_vv_free(&back);
  cs_vv_free(&other);
  cs_buf_free(&out);
}

int main(void) {
  if (sodium_init() < 0) return 2;
  for (uint8_t a = 0; a < AUTHORS; a++) test_key((uint8_t)(a + 1), pks[a], sks[a]);
  static history_t h;
  make_history(&h);
  test_vectors_refuse_hostile_encodings();
  test_store_and_memory_agree_with_the_graph(&h);
  test_previous_schema_gains_the_index(&h);
  for (uint32_t i = 0; i < h.count; i++) cs_buf_free(&h.bytes[i]);
  TEST_SUMMARY();
}
