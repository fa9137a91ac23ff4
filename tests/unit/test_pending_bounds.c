/* The pending table is bounded per key and in all (store/pending.c,
 * docs/limits.md), and an honest out-of-order delivery still completes.
 *
 * 1. A stranger's flood of signed changes whose prev or deps are missing
 *    stays under the per-key bounds (count, then bytes), its own oldest
 *    evicted; many strangers together stay under the store's bounds.
 * 2. An honest chain delivered in reverse order is parked, then released
 *    whole by its first change: the pending table ends empty.
 * 3. A member's flood evicts only its own changes: another key's honest
 *    pending changes stay, and are released when their parent arrives.
 * 4. A store of schema 4 (no index, no totals) is brought to 5 when opened,
 *    with the same totals as before. */
#include "tests/unit/testlib.h"

#include "core/op.h"
#include "store/store_int.h"

#define FIELD_CHUNK 15000u

/* A request titled `title` with about `body` bytes of text spread over
 * text fields (each at most 16 KiB). */
static void request_payload(cs_buf_t *p, const char *title, size_t body) {
  static const uint64_t fields[] = {CS_F_REQ_BODY, CS_F_REQ_STORY, CS_F_REQ_STATUS_NOTE, CS_F_REQ_VENDOR_ANSWER};
  static char text[FIELD_CHUNK + 1];
  uint32_t chunks = (uint32_t)((body + FIELD_CHUNK - 1) / FIELD_CHUNK);
  if (chunks > 4) chunks = 4;
  cs_mp_write_array(p, 2 + chunks);
  cs_op_write_create(p, CS_OBJ_REQUEST, NULL);
  cs_op_write_set_str(p, cs_ref_local(0), CS_F_REQ_TITLE, title, 0, NULL);
  for (uint32_t i = 0; i < chunks; i++) {
    size_t n = body - i * FIELD_CHUNK < FIELD_CHUNK ? body - i * FIELD_CHUNK : FIELD_CHUNK;
    memset(text, 'a' + (int)i, n);
    text[n] = '\0';
    cs_op_write_set_str(p, cs_ref_local(0), fields[i], text, 0, NULL);
  }
}

/* An id that no store holds: the missing parent number n. */
static void missing_id(uint32_t n, uint8_t out[32]) {
  crypto_generichash(out, 32, (const uint8_t *)&n, sizeof(n), (const uint8_t *)"missing", 7);
}

/* Change seq of sk in `club`, whose prev (or at seq 1, whose dep) is a
 * missing id: it can only be parked. */
static void orphan(cs_buf_t *out, const uint8_t club[32], const uint8_t *sk, uint64_t seq, size_t body, uint8_t id[32]) {
  uint8_t parent[32];
  missing_id((uint32_t)seq ^ (uint32_t)sk[40] << 24, parent);
  cs_buf_t p;
  cs_buf_init(&p, CS_CHANGE_PAYLOAD_MAX);
  char title[32];
  snprintf(title, sizeof(title), "Orpheline %llu", (unsigned long long)seq);
  request_payload(&p, title, body);
  cs_change_draft_t d = {.club = club, .author = sk + 32, .seq = seq, .prev = seq > 1 ? parent : NULL,
                         .dep_count = seq > 1 ? 0 : 1, .deps = seq > 1 ? NULL : (const uint8_t(*)[32])parent,
                         .lamport = 1000 + seq, .time_ms = 1700000000000, .payload = cs_buf_span(&p)};
  cs_buf_init(out, CS_CHANGE_SIGNED_MAX);
  CHECK_EQ_INT(cs_change_build(&d, sk, out, id), CS_OK);
  cs_buf_free(&p);
}

/* Stranger number k (never a member). */
static void stranger(uint32_t k, uint8_t pk[32], uint8_t sk[64]) {
  uint8_t seed[32] = {0};
  memcpy(seed, &k, sizeof(k));
  seed[31] = 0x5c;
  crypto_sign_seed_keypair(pk, sk, seed);
}

/* sk signs `count` orphans from seq `first`, each of about `body` bytes,
 * ingested 256 to a transaction; every one is parked. */
static void flood(cs_store_t *s, const uint8_t club[32], const uint8_t *sk, uint64_t first, uint32_t count,
                  size_t body) {
  cs_txn_t txn;
  CHECK_EQ_INT(cs_store_begin(s, true, &txn), CS_OK);
  for (uint32_t i = 0; i < count; i++) {
    cs_buf_t b;
    uint8_t id[32];
    orphan(&b, club, sk, first + i, body, id);
    cs_ingest_result_t res;
    CHECK_EQ_INT(cs_store_ingest(&txn, cs_buf_span(&b), &res), CS_OK);
    CHECK_EQ_INT(res.status, CS_INGEST_PENDING);
    cs_buf_free(&b);
    if (i % 256 == 255) {
      CHECK_EQ_INT(cs_store_commit(&txn), CS_OK);
      CHECK_EQ_INT(cs_store_begin(s, true, &txn), CS_OK);
    }
  }
  CHECK_EQ_INT(cs_store_commit(&txn), CS_OK);
}

/* The store's totals, for one author or (NULL) all. */
static cs_store_pending_t usage(cs_store_t *s, const uint8_t *author) {
  cs_txn_t txn;
  cs_store_pending_t u = {0};
  CHECK_EQ_INT(cs_store_begin(s, false, &txn), CS_OK);
  CHECK_EQ_INT(cs_store_pending_usage(&txn, author, &u), CS_OK);
  cs_store_abort(&txn);
  return u;
}

/* What the pending table itself holds, counted entry by entry (of one
 * author, or NULL all), to hold the totals to. */
static cs_store_pending_t table(cs_store_t *s, const uint8_t *author) {
  cs_txn_t txn;
  cs_store_pending_t u = {0};
  MDB_cursor *cur;
  MDB_val k, v;
  cs_change_t *c = malloc(sizeof(*c));
  CHECK_EQ_INT(cs_store_begin(s, false, &txn), CS_OK);
  CHECK_EQ_INT(mdb_cursor_open(txn.txn, s->pending, &cur), 0);
  for (int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
    cs_span_t bytes = {(const uint8_t *)v.mv_data + 8, v.mv_size - 8};
    CHECK_EQ_INT(cs_change_decode(bytes, c), CS_OK);
    if (author && memcmp(c->author, author, 32) != 0) continue;
    u.changes++;
    /* Its signed bytes and its entries: pending, age, author, one wait
     * entry per parent. */
    u.bytes += bytes.len + (uint64_t)(3 + c->dep_count + (c->has_prev ? 1 : 0)) * CS_PENDING_ENTRY_BYTES;
  }
  mdb_cursor_close(cur);
  cs_store_abort(&txn);
  free(c);
  return u;
}

static bool is_pending(cs_store_t *s, const uint8_t id[32]) {
  cs_txn_t txn;
  MDB_val k = {32, (void *)id}, v;
  CHECK_EQ_INT(cs_store_begin(s, false, &txn), CS_OK);
  bool found = mdb_get(txn.txn, s->pending, &k, &v) == 0;
  cs_store_abort(&txn);
  return found;
}

static void check_totals(cs_store_t *s, const uint8_t *author) {
  cs_store_pending_t u = usage(s, author), t = table(s, author);
  CHECK_EQ_INT(u.changes, t.changes);
  CHECK_EQ_INT(u.bytes, t.bytes);
}

static cs_store_t *club_store(char dir[64], uint8_t club[32]) {
  uint8_t pk[32], sk[64], request[32];
  test_tmpdir(dir, 64);
  cs_store_t *s = test_store_open(dir);
  test_key(1, pk, sk);
  test_club_with_request(s, sk, club, request);
  return s;
}

static void stranger_flood_stays_under_per_key_and_store_bounds(void) {
  char dir[64];
  uint8_t club[32], pk[32], sk[64], first[32], last[32];
  cs_store_t *s = club_store(dir, club);

  /* Count: 5,000 small orphans keep the newest 4,096. */
  stranger(0, pk, sk);
  flood(s, club, sk, 1, CS_PENDING_KEY_MAX + 904, 0);
  cs_store_pending_t u = usage(s, pk);
  CHECK_EQ_INT(u.changes, CS_PENDING_KEY_MAX);
  check_totals(s, pk);
  check_totals(s, NULL);
  cs_buf_t b;
  orphan(&b, club, sk, 1, 0, first);
  cs_buf_free(&b);
  orphan(&b, club, sk, CS_PENDING_KEY_MAX + 904, 0, last);
  cs_buf_free(&b);
  CHECK(!is_pending(s, first)); /* the oldest went first */
  CHECK(is_pending(s, last));

  /* Bytes: 300 orphans of 60 KB (18 MB) keep at most 16 MiB. */
  flood(s, club, sk, 10000, 300, 60000);
  u = usage(s, pk);
  CHECK(u.bytes <= CS_PENDING_KEY_BYTES);
  CHECK(u.bytes > CS_PENDING_KEY_BYTES - CS_CHANGE_SIGNED_MAX);
  CHECK(u.changes < 300);
  check_totals(s, pk);

  /* The store: nine more strangers of 15 MB each (150 MB in all) keep at
   * most 128 MiB, and no key more than its own bound. */
  for (uint32_t k = 1; k <= 9; k++) {
    uint8_t kpk[32], ksk[64];
    stranger(k, kpk, ksk);
    flood(s, club, ksk, 1, 250, 60000);
    CHECK(usage(s, kpk).bytes <= CS_PENDING_KEY_BYTES);
  }
  u = usage(s, NULL);
  CHECK(u.bytes <= CS_PENDING_BYTES);
  CHECK(u.bytes > CS_PENDING_BYTES - CS_CHANGE_SIGNED_MAX);
  check_totals(s, NULL);
  uint8_t kpk[32], ksk[64];
  stranger(9, kpk, ksk);
  CHECK_EQ_INT(usage(s, kpk).changes, 250); /* the newest key lost nothing */
  fprintf(stderr, "# 10 strangers, 152 MB of orphans: %llu changes, %llu bytes pending\n",
          (unsigned long long)u.changes, (unsigned long long)u.bytes);
  cs_store_close(s);
  test_rmdir(dir);

  /* Count in all: six strangers of 4,000 small orphans keep 20,000. */
  s = club_store(dir, club);
  for (uint32_t k = 20; k < 26; k++) {
    stranger(k, kpk, ksk);
    flood(s, club, ksk, 1, 4000, 0);
  }
  CHECK_EQ_INT(usage(s, NULL).changes, CS_PENDING_MAX);
  check_totals(s, NULL);
  cs_store_close(s);
  test_rmdir(dir);
}

/* The founder's changes of store `a` at seqs 1..count, as signed bytes. */
static cs_span_t *chain_of(cs_store_t *a, const uint8_t club[32], const uint8_t *pk, uint64_t count) {
  cs_span_t *out = calloc(count + 1, sizeof(*out));
  cs_txn_t txn;
  CHECK_EQ_INT(cs_store_begin(a, false, &txn), CS_OK);
  for (uint64_t seq = 1; seq <= count; seq++) {
    uint8_t id[32];
    CHECK_EQ_INT(cs_store_chain_get(&txn, club, pk, seq, id), CS_OK);
    cs_store_abort(&txn);
    out[seq] = test_fetch(a, id);
    CHECK_EQ_INT(cs_store_begin(a, false, &txn), CS_OK);
  }
  cs_store_abort(&txn);
  return out;
}

static void free_chain(cs_span_t *chain, uint64_t count) {
  for (uint64_t i = 1; i <= count; i++) free((void *)chain[i].ptr);
  free(chain);
}

/* The founder of a club in store a writes `extra` more requests, of about
 * `body` bytes each. */
static void founder_writes(cs_store_t *a, const uint8_t club[32], const uint8_t *sk, uint32_t extra, size_t body) {
  for (uint32_t i = 0; i < extra; i++) {
    cs_buf_t p;
    uint8_t id[32];
    cs_buf_init(&p, CS_CHANGE_PAYLOAD_MAX);
    request_payload(&p, "Une demande de plus", body);
    CHECK_EQ_INT(test_author(a, club, sk, cs_buf_span(&p), id), CS_OK);
    cs_buf_free(&p);
  }
}

static void honest_chain_in_reverse_order_completes(void) {
  enum { EXTRA = 600 };
  const uint64_t count = 2 + EXTRA;
  char dir_a[64], dir_b[64];
  uint8_t club[32], pk[32], sk[64], da[32], db[32];
  cs_store_t *a = club_store(dir_a, club);
  test_key(1, pk, sk);
  /* 600 changes of 20 KB: 12 MB, within one key's bounds. */
  founder_writes(a, club, sk, EXTRA, 20000);
  cs_span_t *chain = chain_of(a, club, pk, count);

  test_tmpdir(dir_b, sizeof(dir_b));
  cs_store_t *b = test_store_open(dir_b);
  CHECK_EQ_INT(test_ingest(b, chain[1]).status, CS_INGEST_NEW); /* the genesis: b knows the club */
  cs_txn_t txn;
  CHECK_EQ_INT(cs_store_begin(b, true, &txn), CS_OK);
  for (uint64_t seq = count; seq > 2; seq--) {
    cs_ingest_result_t res;
    CHECK_EQ_INT(cs_store_ingest(&txn, chain[seq], &res), CS_OK);
    CHECK_EQ_INT(res.status, CS_INGEST_PENDING);
  }
  CHECK_EQ_INT(cs_store_commit(&txn), CS_OK);
  CHECK_EQ_INT(usage(b, pk).changes, EXTRA);
  check_totals(b, pk);
  cs_ingest_result_t res = test_ingest(b, chain[2]);
  CHECK_EQ_INT(res.status, CS_INGEST_NEW);
  CHECK_EQ_INT(res.released, EXTRA);

  cs_store_pending_t u = usage(b, NULL), t = table(b, NULL);
  CHECK_EQ_INT(u.changes, 0);
  CHECK_EQ_INT(u.bytes, 0);
  CHECK_EQ_INT(t.changes, 0);
  CHECK_EQ_INT(usage(b, pk).changes, 0);
  MDB_stat st;
  CHECK_EQ_INT(cs_store_begin(b, false, &txn), CS_OK);
  CHECK_EQ_INT(mdb_stat(txn.txn, b->pending_author, &st), 0);
  CHECK_EQ_INT(st.ms_entries, 0);
  CHECK_EQ_INT(mdb_stat(txn.txn, b->pending_keys, &st), 0);
  CHECK_EQ_INT(st.ms_entries, 0);
  cs_store_abort(&txn);
  test_digest(a, club, da);
  test_digest(b, club, db);
  CHECK(memcmp(da, db, 32) == 0);

  free_chain(chain, count);
  cs_store_close(a);
  cs_store_close(b);
  test_rmdir(dir_a);
  test_rmdir(dir_b);
}

static void member_flood_spares_another_keys_pending(void) {
  enum { EXTRA = 100 };
  char dir_a[64], dir_b[64];
  uint8_t club[32], pk[32], sk[64], mpk[32], msk[64], id[32], da[32], db[32];
  cs_store_t *a = club_store(dir_a, club);
  test_key(1, pk, sk);
  test_key(2, mpk, msk);
  cs_buf_t p;
  cs_buf_init(&p, CS_CHANGE_PAYLOAD_MAX);
  cs_mp_write_array(&p, 1);
  cs_op_write_member(&p, mpk, "Musée B", CS_ROLE_MEMBER, 0);
  CHECK_EQ_INT(test_author(a, club, sk, cs_buf_span(&p), id), CS_OK);
  cs_buf_free(&p);
  founder_writes(a, club, sk, EXTRA, 1000);
  const uint64_t count = 3 + EXTRA;
  cs_span_t *chain = chain_of(a, club, pk, count);

  /* b holds the club and the grant; the founder's next changes come in
   * reverse, the first of them held back. */
  test_tmpdir(dir_b, sizeof(dir_b));
  cs_store_t *b = test_store_open(dir_b);
  for (uint64_t seq = 1; seq <= 3; seq++) CHECK_EQ_INT(test_ingest(b, chain[seq]).status, CS_INGEST_NEW);
  for (uint64_t seq = count; seq > 4; seq--) CHECK_EQ_INT(test_ingest(b, chain[seq]).status, CS_INGEST_PENDING);
  cs_store_pending_t honest = usage(b, pk);
  CHECK_EQ_INT(honest.changes, EXTRA - 1);

  /* The member floods 6,000 orphans. */
  flood(b, club, msk, 1, 6000, 0);
  CHECK_EQ_INT(usage(b, mpk).changes, CS_PENDING_KEY_MAX);
  cs_store_pending_t after = usage(b, pk);
  CHECK_EQ_INT(after.changes, honest.changes);
  CHECK_EQ_INT(after.bytes, honest.bytes);
  check_totals(b, pk);
  check_totals(b, NULL);

  cs_ingest_result_t res = test_ingest(b, chain[4]);
  CHECK_EQ_INT(res.status, CS_INGEST_NEW);
  CHECK_EQ_INT(res.released, EXTRA - 1);
  CHECK_EQ_INT(usage(b, pk).changes, 0);
  CHECK_EQ_INT(usage(b, NULL).changes, CS_PENDING_KEY_MAX);
  test_digest(a, club, da);
  test_digest(b, club, db);
  CHECK(memcmp(da, db, 32) == 0);

  free_chain(chain, count);
  cs_store_close(a);
  cs_store_close(b);
  test_rmdir(dir_a);
  test_rmdir(dir_b);
}

/* Turns a store of schema 5 back into one of schema 4: no index by author,
 * no totals. */
static void downgrade_to_schema_4(const char *dir) {
  MDB_env *env;
  MDB_txn *txn;
  MDB_dbi meta, by_author, keys;
  uint8_t four = 4;
  MDB_val k = {6, "schema"}, v = {1, &four}, bytes = {13, "pending_bytes"};
  CHECK_EQ_INT(mdb_env_create(&env), 0);
  CHECK_EQ_INT(mdb_env_set_maxdbs(env, 32), 0);
  CHECK_EQ_INT(mdb_env_set_mapsize(env, CS_STORE_MAP_SIZE), 0);
  CHECK_EQ_INT(mdb_env_open(env, dir, 0, 0600), 0);
  CHECK_EQ_INT(mdb_txn_begin(env, NULL, 0, &txn), 0);
  CHECK_EQ_INT(mdb_dbi_open(txn, "meta", 0, &meta), 0);
  CHECK_EQ_INT(mdb_dbi_open(txn, "pending_author", 0, &by_author), 0);
  CHECK_EQ_INT(mdb_dbi_open(txn, "pending_keys", 0, &keys), 0);
  CHECK_EQ_INT(mdb_drop(txn, by_author, 1), 0);
  CHECK_EQ_INT(mdb_drop(txn, keys, 1), 0);
  CHECK_EQ_INT(mdb_del(txn, meta, &bytes, NULL), 0);
  CHECK_EQ_INT(mdb_put(txn, meta, &k, &v, 0), 0);
  CHECK_EQ_INT(mdb_txn_commit(txn), 0);
  mdb_env_close(env);
}

static uint8_t schema_of(cs_store_t *s) {
  cs_txn_t txn;
  MDB_val k = {6, "schema"}, v;
  uint8_t version = 0;
  CHECK_EQ_INT(cs_store_begin(s, false, &txn), CS_OK);
  if (mdb_get(txn.txn, s->meta, &k, &v) == 0 && v.mv_size == 1) version = *(uint8_t *)v.mv_data;
  cs_store_abort(&txn);
  return version;
}

static void schema_4_store_upgrades(void) {
  char dir[64];
  uint8_t club[32], pk[32], sk[64], spk[32], ssk[64];
  cs_store_t *s = club_store(dir, club);
  test_key(1, pk, sk);
  stranger(40, spk, ssk);
  flood(s, club, ssk, 1, 50, 3000);
  uint8_t tpk[32], tsk[64];
  stranger(41, tpk, tsk);
  flood(s, club, tsk, 1, 7, 20000);
  cs_store_pending_t all = usage(s, NULL), one = usage(s, spk), two = usage(s, tpk);
  CHECK_EQ_INT(all.changes, 57);
  cs_store_close(s);

  downgrade_to_schema_4(dir);
  s = test_store_open(dir);
  CHECK_EQ_INT(schema_of(s), 5);
  cs_store_pending_t u = usage(s, NULL);
  CHECK_EQ_INT(u.changes, all.changes);
  CHECK_EQ_INT(u.bytes, all.bytes);
  u = usage(s, spk);
  CHECK_EQ_INT(u.changes, one.changes);
  CHECK_EQ_INT(u.bytes, one.bytes);
  u = usage(s, tpk);
  CHECK_EQ_INT(u.changes, two.changes);
  CHECK_EQ_INT(u.bytes, two.bytes);
  check_totals(s, NULL);

  /* The index serves the bounds: the stranger's flood is still capped. */
  flood(s, club, ssk, 100, CS_PENDING_KEY_MAX, 0);
  CHECK_EQ_INT(usage(s, spk).changes, CS_PENDING_KEY_MAX);
  CHECK_EQ_INT(usage(s, tpk).changes, two.changes);
  check_totals(s, NULL);
  cs_store_close(s);
  test_rmdir(dir);
}

int main(void) {
  if (sodium_init() < 0) return 2;
  stranger_flood_stays_under_per_key_and_store_bounds();
  honest_chain_in_reverse_order_completes();
  member_flood_spares_another_keys_pending();
  schema_4_store_upgrades();
  TEST_SUMMARY();
}
