/* Measures what forked throwaway keys cost two nodes of a club, for
 * docs/performance.md and the before/after figures of issue 25:
 *
 *   fork_load KEYS [single]
 *
 * Node A and node B hold a club founded by one key. KEYS throwaway keys
 * (never members) each sign two changes at seq 1; A receives each key's
 * first change then its second, B the second then the first, as two nodes
 * fed by different peers would. With `single`, each key signs one change
 * only (no fork), for the cost of as many authors that never forked. The program then prints the time one
 * vector digest takes on A (the work of a HELLO, VECTOR or CHECK after a
 * commit), and the changes sent by a first and a second sync between A and
 * B, over the real protocol machine (the second should send none: both hold
 * the same changes). Timing is reported, never asserted. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/op.h"
#include "tests/unit/test_session.h"

typedef test_peer_t node_t;

/* One session between a and b until both are quiet; the changes sent. */
static uint64_t session(node_t *a, node_t *b, const uint8_t club[32]) {
  return test_session(a, b, club, 256u << 20, 100000).sent;
}

/* Signs a change of `club` at seq 1 by sk on the one dep, creating a
 * request titled `title`. */
static void sign(cs_buf_t *out, const uint8_t club[32], const uint8_t *sk, const uint8_t dep[32], uint64_t lamport,
                 const char *title) {
  cs_buf_t p;
  uint8_t id[32];
  cs_buf_init(&p, CS_CHANGE_PAYLOAD_MAX);
  cs_mp_write_array(&p, 2);
  cs_op_write_create(&p, CS_OBJ_REQUEST, NULL);
  cs_op_write_set_str(&p, cs_ref_local(0), CS_F_REQ_TITLE, title, 0, NULL);
  cs_change_draft_t d = {.club = club, .author = sk + 32, .seq = 1, .dep_count = 1,
                         .deps = (const uint8_t(*)[32])dep, .lamport = lamport, .time_ms = 1700000000000,
                         .payload = cs_buf_span(&p)};
  cs_buf_init(out, CS_CHANGE_SIGNED_MAX);
  if (cs_change_build(&d, sk, out, id) != CS_OK) exit(2);
  cs_buf_free(&p);
}

/* Ingests many changes in one transaction, as a sync batch would. */
static void ingest_all(cs_store_t *s, cs_buf_t *changes, size_t count, size_t first, size_t step) {
  cs_txn_t txn;
  if (cs_store_begin(s, true, &txn) != CS_OK) exit(2);
  for (size_t i = first; i < count; i += step) {
    cs_ingest_result_t res;
    if (cs_store_ingest(&txn, cs_buf_span(&changes[i]), &res) != CS_OK) exit(2);
  }
  if (cs_store_commit(&txn) != CS_OK) exit(2);
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
  long keys = argc >= 2 ? atol(argv[1]) : -1;
  bool single = argc == 3 && strcmp(argv[2], "single") == 0;
  if (keys < 0 || keys > 100000 || argc > 3 || (argc == 3 && !single)) {
    fprintf(stderr, "usage: fork_load KEYS [single] (KEYS from 0 to 100000)\n");
    return 2;
  }
  if (sodium_init() < 0) return 2;
  char dir_a[64], dir_b[64];
  test_tmpdir(dir_a, sizeof(dir_a));
  test_tmpdir(dir_b, sizeof(dir_b));
  node_t a = {.store = test_store_open(dir_a)}, b = {.store = test_store_open(dir_b)};
  uint8_t pk[32], sk[64], club[32], request[32], head[32];
  test_key(1, pk, sk);
  test_club_with_request(a.store, sk, club, request);
  cs_txn_t txn;
  if (cs_store_begin(a.store, false, &txn) != CS_OK || cs_store_chain_get(&txn, club, pk, 2, head) != CS_OK) return 2;
  cs_store_abort(&txn);
  uint64_t lamport = test_lamport(a.store, head) + 1;
  (void)session(&a, &b, club); /* B gets the club */

  /* changes[2k] and changes[2k+1] are key k's two changes at seq 1. */
  size_t n = (size_t)keys * 2;
  cs_buf_t *changes = calloc(n ? n : 1, sizeof(*changes));
  for (long k = 0; k < keys; k++) {
    uint8_t seed[32] = {0}, tpk[32], tsk[64];
    memcpy(seed, &k, sizeof(k));
    seed[31] = 0xf0;
    crypto_sign_seed_keypair(tpk, tsk, seed);
    sign(&changes[2 * k], club, tsk, head, lamport, "A");
    sign(&changes[2 * k + 1], club, tsk, head, lamport, "B");
  }
  ingest_all(a.store, changes, n, 0, 2);
  if (!single) ingest_all(a.store, changes, n, 1, 2);
  ingest_all(b.store, changes, n, single ? 0 : 1, 2);
  if (!single) ingest_all(b.store, changes, n, 0, 2);

  /* A digest computed from the vector, as after every commit. */
  cs_store_sync_t x;
  cs_sync_io_t io;
  test_pipe_t unused;
  test_pipe_init(&unused, 1024);
  cs_store_sync_init(&x, a.store, club, test_pipe_send, &unused, &io);
  io.digest = NULL;
  uint8_t digest[32];
  double t0 = now_s();
  if (cs_sync_vector_digest(&io, digest) != CS_OK) return 2;
  double digest_ms = (now_s() - t0) * 1000;
  cs_buf_free(&unused.data);

  uint64_t first = session(&a, &b, club), second = session(&a, &b, club);
  printf("%s keys %ld: vector digest %.1f ms; sync 1 sent %llu changes, sync 2 sent %llu\n", single ? "unforked" : "forked", keys, digest_ms,
         (unsigned long long)first, (unsigned long long)second);
  for (size_t i = 0; i < n; i++) cs_buf_free(&changes[i]);
  free(changes);
  cs_store_close(a.store);
  cs_store_close(b.store);
  test_rmdir(dir_a);
  test_rmdir(dir_b);
  return test_failed ? 1 : 0;
}
