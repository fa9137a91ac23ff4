/* Fork evidence is indexed by author (store/evidence.c), so a sync vector
 * reads a forked author's evidence and nothing else; and what a node says
 * about a forked author depends on the changes it holds, not on which
 * branch its chain kept (store/sync_io.c, core/sync.c).
 *
 * 1. With 0, 100 and 2,000 forked throwaway keys, reading the vector reads
 *    exactly one evidence record per fork (linear, where it used to scan
 *    every stored evidence once per forked author), and the founder's entry
 *    is the same.
 * 2. A store of schema 3 (no index) is brought to 4 when opened and gives
 *    the same vector digest and evidence reads as before.
 * 3. Two nodes that received forked chains in different orders (each kept
 *    its own branch) sync; a second sync sends no change and their vector
 *    digests are equal. */
#include "tests/unit/testlib.h"

#include "core/op.h"
#include "tests/unit/test_session.h"

typedef test_peer_t node_t;

/* One session between a and b until both are quiet, both caught up; the
 * changes sent. */
static uint64_t session(node_t *a, node_t *b, const uint8_t club[32]) {
  test_session_t done = test_session(a, b, club, 64u << 20, 1000);
  for (int i = 0; i < 2; i++) CHECK(done.caught_up[i]);
  return done.sent;
}

/* Signs a change of `club` by sk at seq, after prev (NULL at seq 1, which
 * depends on `dep` instead), creating a request titled `title`. */
static void sign(cs_buf_t *out, const uint8_t club[32], const uint8_t *sk, uint64_t seq, const uint8_t *prev,
                 const uint8_t dep[32], uint64_t lamport, const char *title, uint8_t id[32]) {
  cs_buf_t p;
  cs_buf_init(&p, CS_CHANGE_PAYLOAD_MAX);
  cs_mp_write_array(&p, 2);
  cs_op_write_create(&p, CS_OBJ_REQUEST, NULL);
  cs_op_write_set_str(&p, cs_ref_local(0), CS_F_REQ_TITLE, title, 0, NULL);
  cs_change_draft_t d = {.club = club, .author = sk + 32, .seq = seq, .prev = prev, .dep_count = prev ? 0 : 1,
                         .deps = prev ? NULL : (const uint8_t(*)[32])dep, .lamport = lamport,
                         .time_ms = 1700000000000, .payload = cs_buf_span(&p)};
  cs_buf_init(out, CS_CHANGE_SIGNED_MAX);
  CHECK_EQ_INT(cs_change_build(&d, sk, out, id), CS_OK);
  cs_buf_free(&p);
}

/* Throwaway key number k (never a member). */
static void throwaway_key(uint32_t k, uint8_t pk[32], uint8_t sk[64]) {
  uint8_t seed[32] = {0};
  memcpy(seed, &k, sizeof(k));
  seed[31] = 0xe7;
  crypto_sign_seed_keypair(pk, sk, seed);
}

/* Ingests changes[first], changes[first + step], ... in one transaction. */
static void ingest_all(cs_store_t *s, cs_buf_t *changes, size_t count, size_t first, size_t step) {
  cs_txn_t txn;
  CHECK_EQ_INT(cs_store_begin(s, true, &txn), CS_OK);
  for (size_t i = first; i < count; i += step) {
    cs_ingest_result_t res;
    CHECK_EQ_INT(cs_store_ingest(&txn, cs_buf_span(&changes[i]), &res), CS_OK);
    CHECK(res.status != CS_INGEST_REJECTED && res.status != CS_INGEST_PENDING);
  }
  CHECK_EQ_INT(cs_store_commit(&txn), CS_OK);
}

/* A club founded in a fresh store; head gets the founder's request change
 * and *lamport the lamport after it. */
static cs_store_t *club_store(char dir[64], uint8_t club[32], uint8_t head[32], uint64_t *lamport) {
  uint8_t pk[32], sk[64], request[32];
  test_tmpdir(dir, 64);
  cs_store_t *s = test_store_open(dir);
  test_key(1, pk, sk);
  test_club_with_request(s, sk, club, request);
  cs_txn_t txn;
  CHECK_EQ_INT(cs_store_begin(s, false, &txn), CS_OK);
  CHECK_EQ_INT(cs_store_chain_get(&txn, club, pk, 2, head), CS_OK);
  cs_store_abort(&txn);
  *lamport = test_lamport(s, head) + 1;
  return s;
}

/* Collects one author's vector entry. */
typedef struct find_s {
  uint8_t author[32];
  cs_sync_entry_t entry;
  bool found;
} find_t;

static int find_each(const cs_sync_entry_t *e, void *ctx) {
  find_t *f = ctx;
  if (memcmp(e->author, f->author, 32) == 0) {
    f->entry = *e;
    f->found = true;
  }
  return 0;
}

/* The vector digest of `club` as a HELLO carries it, computed from the
 * vector (not the cache); `founder` gets the founder's entry when given. */
static void vector_digest(cs_store_t *s, const uint8_t club[32], uint8_t out[32], find_t *founder) {
  cs_store_sync_t x;
  cs_sync_io_t io;
  test_pipe_t unused;
  test_pipe_init(&unused, 1024);
  cs_store_sync_init(&x, s, club, test_pipe_send, &unused, &io);
  io.digest = NULL;
  CHECK_EQ_INT(cs_sync_vector_digest(&io, out), CS_OK);
  if (founder) CHECK_EQ_INT(io.vector(io.ctx, find_each, founder), CS_OK);
  cs_buf_free(&unused.data);
}

/* Key k's two changes at seq 1 go to changes[2k] and changes[2k + 1]. */
static cs_buf_t *forked_keys(const uint8_t club[32], const uint8_t head[32], uint64_t lamport, uint32_t keys) {
  cs_buf_t *changes = calloc(2 * (size_t)keys + 1, sizeof(*changes));
  for (uint32_t k = 0; k < keys; k++) {
    uint8_t pk[32], sk[64], id[32];
    throwaway_key(k, pk, sk);
    sign(&changes[2 * k], club, sk, 1, NULL, head, lamport, "A", id);
    sign(&changes[2 * k + 1], club, sk, 1, NULL, head, lamport, "B", id);
  }
  return changes;
}

static void free_changes(cs_buf_t *changes, size_t count) {
  for (size_t i = 0; i < count; i++) cs_buf_free(&changes[i]);
  free(changes);
}

static void evidence_reads_grow_with_forked_keys(void) {
  static const uint32_t counts[] = {0, 100, 2000};
  find_t first = {0};
  for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
    char dir[64];
    uint8_t club[32], head[32], digest[32], sk[64];
    uint64_t lamport;
    cs_store_t *s = club_store(dir, club, head, &lamport);
    find_t founder = {0};
    test_key(1, founder.author, sk);
    cs_buf_t *changes = forked_keys(club, head, lamport, counts[i]);
    ingest_all(s, changes, 2 * (size_t)counts[i], 0, 1);
    uint64_t before = cs_store_evidence_reads(s);
    vector_digest(s, club, digest, &founder);
    /* The digest, then the vector again: two reads of every fork's one
     * evidence record, and none of anyone else's. */
    CHECK_EQ_INT(cs_store_evidence_reads(s) - before, 2 * (uint64_t)counts[i]);
    CHECK(founder.found);
    CHECK_EQ_INT(founder.entry.forks, 0);
    if (i == 0) first = founder;
    CHECK_EQ_INT(founder.entry.seq, first.entry.seq);
    CHECK(memcmp(founder.entry.id, first.entry.id, 32) == 0);
    free_changes(changes, 2 * (size_t)counts[i]);
    cs_store_close(s);
    test_rmdir(dir);
  }
}

/* Turns a store of schema 4 back into one of schema 3: no evidence index. */
static void downgrade_to_schema_3(const char *dir) {
  MDB_env *env;
  MDB_txn *txn;
  MDB_dbi meta, evidence;
  uint8_t three = 3;
  MDB_val k = {6, "schema"}, v = {1, &three};
  CHECK_EQ_INT(mdb_env_create(&env), 0);
  CHECK_EQ_INT(mdb_env_set_maxdbs(env, 32), 0);
  CHECK_EQ_INT(mdb_env_set_mapsize(env, CS_STORE_MAP_SIZE), 0);
  CHECK_EQ_INT(mdb_env_open(env, dir, 0, 0600), 0);
  CHECK_EQ_INT(mdb_txn_begin(env, NULL, 0, &txn), 0);
  CHECK_EQ_INT(mdb_dbi_open(txn, "meta", 0, &meta), 0);
  CHECK_EQ_INT(mdb_dbi_open(txn, "evidence", 0, &evidence), 0);
  CHECK_EQ_INT(mdb_drop(txn, evidence, 1), 0);
  CHECK_EQ_INT(mdb_put(txn, meta, &k, &v, 0), 0);
  CHECK_EQ_INT(mdb_txn_commit(txn), 0);
  mdb_env_close(env);
}

static void schema_3_store_upgrades(void) {
  char dir[64];
  uint8_t club[32], head[32], before[32], after[32], id[32], pk[32], sk[64];
  uint64_t lamport;
  cs_store_t *s = club_store(dir, club, head, &lamport);
  /* 20 forked keys at seq 1, and one whose fork at seq 1 goes on to seq 2
   * on both branches (evidence that continues a branch). */
  cs_buf_t *changes = forked_keys(club, head, lamport, 20);
  ingest_all(s, changes, 40, 0, 1);
  cs_buf_t more[4];
  uint8_t a1[32], b1[32];
  throwaway_key(1000, pk, sk);
  sign(&more[0], club, sk, 1, NULL, head, lamport, "a1", a1);
  sign(&more[1], club, sk, 1, NULL, head, lamport, "b1", b1);
  sign(&more[2], club, sk, 2, a1, NULL, lamport + 1, "a2", id);
  sign(&more[3], club, sk, 2, b1, NULL, lamport + 1, "b2", id);
  ingest_all(s, more, 4, 0, 1);
  uint64_t reads = cs_store_evidence_reads(s);
  vector_digest(s, club, before, NULL);
  reads = cs_store_evidence_reads(s) - reads;
  CHECK_EQ_INT(reads, 22); /* one per key, two for the key whose branch went on */
  cs_store_close(s);

  downgrade_to_schema_3(dir);
  s = test_store_open(dir);
  vector_digest(s, club, after, NULL);
  CHECK(memcmp(before, after, 32) == 0);
  CHECK_EQ_INT(cs_store_evidence_reads(s), reads);
  cs_store_close(s);

  /* Opened again, it is schema 4 and upgrades nothing. */
  s = test_store_open(dir);
  vector_digest(s, club, after, NULL);
  CHECK(memcmp(before, after, 32) == 0);
  cs_store_close(s);
  free_changes(changes, 40);
  for (int i = 0; i < 4; i++) cs_buf_free(&more[i]);
  test_rmdir(dir);
}

static void branches_kept_in_any_order_sync_once(void) {
  enum { KEYS = 40 };
  char dir_a[64], dir_b[64];
  uint8_t club[32], head[32], da[32], db[32], sa[32], sb[32], pk[32], sk[64];
  uint64_t lamport;
  node_t a = {.store = club_store(dir_a, club, head, &lamport)};
  test_tmpdir(dir_b, sizeof(dir_b));
  node_t b = {.store = test_store_open(dir_b)};
  CHECK(session(&a, &b, club) > 0); /* B gets the club */

  /* Each key signs two branches of two changes: a1 a2 and b1 b2. A gets
   * branch a of every key, B branch b of the even keys and a of the odd
   * ones; then each gets the rest, so most chains differ. */
  cs_buf_t *branch[2] = {calloc(2 * KEYS, sizeof(cs_buf_t)), calloc(2 * KEYS, sizeof(cs_buf_t))};
  for (uint32_t k = 0; k < KEYS; k++) {
    uint8_t first[32], id[32];
    throwaway_key(5000 + k, pk, sk);
    for (int br = 0; br < 2; br++) {
      sign(&branch[br][2 * k], club, sk, 1, NULL, head, lamport, br ? "b1" : "a1", first);
      sign(&branch[br][2 * k + 1], club, sk, 2, first, NULL, lamport + 1, br ? "b2" : "a2", id);
    }
  }
  ingest_all(a.store, branch[0], 2 * KEYS, 0, 1);
  for (uint32_t k = 0; k < KEYS; k++) {
    cs_buf_t *own = branch[k % 2 == 0 ? 1 : 0];
    ingest_all(b.store, &own[2 * k], 2, 0, 1);
  }
  CHECK(session(&a, &b, club) > 0);
  for (uint32_t k = 0; k < KEYS; k++) {
    cs_buf_t *other = branch[k % 2 == 0 ? 0 : 1];
    ingest_all(b.store, &other[2 * k], 2, 0, 1);
  }
  /* A lacks the b branches, B lacks nothing: the first sync sends them. */
  CHECK(session(&a, &b, club) > 0);
  CHECK_EQ_INT(session(&a, &b, club), 0);
  vector_digest(a.store, club, da, NULL);
  vector_digest(b.store, club, db, NULL);
  CHECK(memcmp(da, db, 32) == 0);
  test_digest(a.store, club, sa);
  test_digest(b.store, club, sb);
  CHECK(memcmp(sa, sb, 32) == 0);

  free_changes(branch[0], 2 * KEYS);
  free_changes(branch[1], 2 * KEYS);
  cs_store_close(a.store);
  cs_store_close(b.store);
  test_rmdir(dir_a);
  test_rmdir(dir_b);
}

int main(void) {
  if (sodium_init() < 0) return 2;
  evidence_reads_grow_with_forked_keys();
  schema_3_store_upgrades();
  branches_kept_in_any_order_sync_once();
  TEST_SUMMARY();
}
