/* Fuzzes the replica's write path: cs_store_ingest on a real LMDB store
 * that holds a small club (tests/fuzz/fuzz_fixture.h: changes 0-4 and 6,
 * then A makes C an observer; 5, the fork, and 7 are left for inputs).
 * Each input runs in one write transaction that is then aborted, so every
 * input sees the same store.
 *
 * FLAGS (first byte):
 *   bit 0 set: the rest is a PAYLOAD, signed by the store itself as the
 *              next change of a fixture key (cs_store_author: the right
 *              seq, prev, deps and lamport), so the fuzzer reaches the
 *              apply and authorisation code with any ops a member could
 *              sign. Bits 1-2 pick the key: A (admin), B (member), C
 *              (observer), or D (never a member).
 *   bit 0 clear: the rest is a SIGNED CHANGE; bit 3 set marks its
 *              signature as already checked (cs_store_ingest_checked), so
 *              headers that no one signed still reach the chain, deps,
 *              lamport and fork logic.
 *
 * Properties:
 *   - hostile input never makes ingest fail as a store error (a poison
 *     change would stop a node from ever storing the batch that holds it);
 *   - a change the store accepted from its own signer in PAYLOAD mode (it
 *     depends on every head, so all of the club is in its causal past)
 *     gives the same state applied incrementally as rebuilt from all
 *     changes in (lamport, id) order;
 *   - the store answers reads afterwards (digest, counts, vector). */
#include "tests/fuzz/fuzz_fixture.h"

#include <dirent.h>
#include <unistd.h>

#include "store/store.h"

static fixture_t fx;
static cs_store_t *store;
static char dir[64];
static uint8_t pk_d[32], sk_d[64];

static void cleanup(void) {
  if (store) cs_store_close(store);
  store = NULL;
  DIR *d = opendir(dir);
  if (!d) return;
  struct dirent *e;
  char path[sizeof(dir) + sizeof(e->d_name) + 1];
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.') continue;
    snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
    unlink(path);
  }
  closedir(d);
  rmdir(dir);
}

static void setup(void) {
  fixture_build(&fx);
  fuzz_key(0xdd, pk_d, sk_d);
  snprintf(dir, sizeof(dir), "%s/cs-fuzz-ingest-XXXXXX", access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
  FUZZ_CHECK(mkdtemp(dir) != NULL);
  atexit(cleanup);
  FUZZ_CHECK(cs_store_open(dir, &store) == CS_OK);
  cs_txn_t txn;
  FUZZ_CHECK(cs_store_begin(store, true, &txn) == CS_OK);
  static const int order[] = {0, 1, 2, 3, 4, 6};
  for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
    cs_ingest_result_t res;
    FUZZ_CHECK(cs_store_ingest(&txn, cs_buf_span(&fx.ch[order[i]].bytes), &res) == CS_OK);
    FUZZ_CHECK(res.status == CS_INGEST_NEW || res.status == CS_INGEST_UNAUTHORISED);
  }
  cs_buf_t p;
  uint8_t id[CS_ID_LEN];
  cs_buf_init(&p, 1024);
  cs_mp_write_array(&p, 1);
  cs_op_write_member(&p, fx.pk[2], "Musée C", CS_ROLE_OBSERVER, 1);
  FUZZ_CHECK(cs_store_author(&txn, fx.club, fx.sk[0], cs_buf_span(&p), 1700000000000, id) == CS_OK);
  cs_buf_free(&p);
  FUZZ_CHECK(cs_store_commit(&txn) == CS_OK);
}

/* Errors that describe the input, as opposed to the store failing. */
static bool is_verdict(int err) {
  switch (err) {
  case CS_ETOOBIG: case CS_ETRUNC: case CS_EDECODE: case CS_EFORMAT: case CS_EVERSION: case CS_EHASH:
  case CS_ESIG: case CS_EPREV: case CS_EDEPS: case CS_ECHAIN: case CS_ELAMPORT: case CS_EAUTH: case CS_EFORK:
  case CS_EUNKNOWNOP: case CS_ECLUB: case CS_EINVAL:
    return true;
  default:
    return false;
  }
}

static int count_each(const uint8_t author[CS_KEY_LEN], uint64_t seq, const uint8_t id[CS_ID_LEN], void *ctx) {
  (void)author, (void)seq, (void)id;
  (*(int *)ctx)++;
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!store) setup();
  if (size < 1) return 0;
  unsigned flags = data[0];
  cs_span_t body = {data + 1, size - 1};
  cs_txn_t txn;
  FUZZ_CHECK(cs_store_begin(store, true, &txn) == CS_OK);
  bool compare_rebuild = false;
  if (flags & 1) {
    const uint8_t *keys[4] = {fx.sk[0], fx.sk[1], fx.sk[2], sk_d};
    uint8_t id[CS_ID_LEN];
    int err = cs_store_author(&txn, fx.club, keys[(flags >> 1) & 3], body, 1700000000000, id);
    if (err && !is_verdict(err)) {
      fprintf(stderr, "signing and storing a payload failed as a store error: %s\n", cs_errname(err));
      abort();
    }
    compare_rebuild = true;
  } else {
    cs_ingest_result_t res;
    int err = cs_store_ingest_checked(&txn, body, (flags & 8) != 0, &res);
    if (err) {
      fprintf(stderr, "ingest failed as a store error: %s\n", cs_errname(err));
      abort();
    }
    FUZZ_CHECK(res.status <= CS_INGEST_REJECTED);
    if (res.status != CS_INGEST_NEW && res.status != CS_INGEST_DUPLICATE) FUZZ_CHECK(res.reason != CS_OK);
  }
  /* What cs_store_commit would do first. */
  if (txn.rebuild_needed) FUZZ_CHECK(cs_store_rebuild(&txn, txn.rebuild_club) == CS_OK);
  uint8_t incremental[32], rebuilt[32];
  cs_store_counts_t counts;
  int authors = 0;
  FUZZ_CHECK(cs_store_digest(&txn, fx.club, incremental) == CS_OK);
  FUZZ_CHECK(cs_store_counts(&txn, fx.club, &counts) == CS_OK);
  FUZZ_CHECK(cs_store_vector(&txn, fx.club, count_each, &authors) == CS_OK);
  if (compare_rebuild) {
    FUZZ_CHECK(cs_store_rebuild(&txn, fx.club) == CS_OK);
    FUZZ_CHECK(cs_store_digest(&txn, fx.club, rebuilt) == CS_OK);
    if (memcmp(incremental, rebuilt, 32) != 0) {
      fprintf(stderr, "incremental state differs from the state rebuilt from the same changes\n");
      abort();
    }
  }
  cs_store_abort(&txn);
  return 0;
}
