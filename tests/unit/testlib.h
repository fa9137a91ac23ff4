#ifndef CS_TESTS_TESTLIB_H
#define CS_TESTS_TESTLIB_H

/* A minimal test harness: CHECK records a failure and goes on, so one run
 * reports every broken expectation; main() ends with TEST_SUMMARY(). */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "core/op.h"
#include "store/store.h"

static int test_passed, test_failed;

#define CHECK(cond)                                                                                                    \
  do {                                                                                                                 \
    if (cond) {                                                                                                        \
      test_passed++;                                                                                                   \
    } else {                                                                                                           \
      test_failed++;                                                                                                   \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);                                        \
    }                                                                                                                  \
  } while (0)

#define CHECK_EQ_INT(a, b)                                                                                             \
  do {                                                                                                                 \
    long long va_ = (long long)(a), vb_ = (long long)(b);                                                              \
    if (va_ == vb_) {                                                                                                  \
      test_passed++;                                                                                                   \
    } else {                                                                                                           \
      test_failed++;                                                                                                   \
      fprintf(stderr, "%s:%d: CHECK failed: %s == %s (%lld != %lld)\n", __FILE__, __LINE__, #a, #b, va_, vb_);         \
    }                                                                                                                  \
  } while (0)

#define TEST_SUMMARY()                                                                                                 \
  do {                                                                                                                 \
    printf("%d passed, %d failed\n", test_passed, test_failed);                                                        \
    return test_failed ? 1 : 0;                                                                                        \
  } while (0)

/* A fresh temporary directory, removed by test_rmdir. */
static inline void test_tmpdir(char *out, size_t len) {
  snprintf(out, len, "/tmp/cs-test-XXXXXX");
  if (!mkdtemp(out)) {
    perror("mkdtemp");
    exit(2);
  }
}

static inline void test_rmdir(const char *dir) {
  char cmd[512];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
  if (system(cmd) != 0) fprintf(stderr, "warning: could not remove %s\n", dir);
}

/* A deterministic Ed25519 key from a one-byte seed, for known answers. */
static inline void test_key(uint8_t seed_byte, uint8_t pk[32], uint8_t sk[64]) {
  uint8_t seed[32];
  memset(seed, seed_byte, sizeof(seed));
  crypto_sign_seed_keypair(pk, sk, seed);
}

static inline cs_store_t *test_store_open(const char *dir) {
  cs_store_t *s = NULL;
  if (cs_store_open(dir, &s) != CS_OK) {
    fprintf(stderr, "cannot open store %s\n", dir);
    exit(2);
  }
  return s;
}

/* Authors a change in its own transaction; returns the ingest error. */
static inline int test_author(cs_store_t *s, const uint8_t *club, const uint8_t *sk, cs_span_t payload,
                              uint8_t id[32]) {
  cs_txn_t txn;
  int err = cs_store_begin(s, true, &txn);
  if (err) return err;
  err = cs_store_author(&txn, club, sk, payload, 1700000000000, id);
  if (err) {
    cs_store_abort(&txn);
    return err;
  }
  return cs_store_commit(&txn);
}

/* A club founded in store s by sk's key (museum "Musée A"), with one
 * titled request: writes the club's id and the request's. */
static inline void test_club_with_request(cs_store_t *s, const uint8_t *sk, uint8_t club[32], uint8_t request[32]) {
  cs_buf_t p;
  uint8_t id[32];
  cs_buf_init(&p, CS_CHANGE_PAYLOAD_MAX);
  cs_mp_write_array(&p, 1);
  cs_op_write_genesis(&p, "Club", "Flora", "Musée A");
  CHECK_EQ_INT(test_author(s, NULL, sk, cs_buf_span(&p), club), CS_OK);
  cs_buf_reset(&p);
  cs_mp_write_array(&p, 2);
  cs_op_write_create(&p, CS_OBJ_REQUEST, NULL);
  cs_op_write_set_str(&p, cs_ref_local(0), CS_F_REQ_TITLE, "Une demande", 0, NULL);
  CHECK_EQ_INT(test_author(s, club, sk, cs_buf_span(&p), id), CS_OK);
  cs_op_id(id, 0, request);
  cs_buf_free(&p);
}

static inline cs_ingest_result_t test_ingest(cs_store_t *s, cs_span_t bytes) {
  cs_txn_t txn;
  cs_ingest_result_t res;
  memset(&res, 0, sizeof(res));
  res.status = CS_INGEST_REJECTED;
  if (cs_store_begin(s, true, &txn) != CS_OK) return res;
  if (cs_store_ingest(&txn, bytes, &res) != CS_OK) {
    cs_store_abort(&txn);
    res.status = CS_INGEST_REJECTED;
    res.reason = CS_ESTORE;
    return res;
  }
  if (cs_store_commit(&txn) != CS_OK) res.reason = CS_ESTORE;
  return res;
}

static inline void test_digest(cs_store_t *s, const uint8_t club[32], uint8_t out[32]) {
  cs_txn_t txn;
  if (cs_store_begin(s, false, &txn) != CS_OK || cs_store_digest(&txn, club, out) != CS_OK) memset(out, 0, 32);
  cs_store_abort(&txn);
}

/* Copies the signed bytes of a stored change into a malloc'd span. */
static inline cs_span_t test_fetch(cs_store_t *s, const uint8_t id[32]) {
  cs_txn_t txn;
  cs_span_t bytes = {NULL, 0}, copy = {NULL, 0};
  if (cs_store_begin(s, false, &txn) != CS_OK) return copy;
  if (cs_store_change_get(&txn, id, &bytes) == CS_OK) {
    uint8_t *p = malloc(bytes.len);
    memcpy(p, bytes.ptr, bytes.len);
    copy.ptr = p;
    copy.len = bytes.len;
  }
  cs_store_abort(&txn);
  return copy;
}

/* The lamport of a stored change, 0 if it is not stored. */
static inline uint64_t test_lamport(cs_store_t *s, const uint8_t id[32]) {
  cs_span_t bytes = test_fetch(s, id);
  cs_change_t *c = malloc(sizeof(*c));
  uint64_t lamport = 0;
  if (bytes.ptr && c && cs_change_decode(bytes, c) == CS_OK) lamport = c->lamport;
  free(c);
  free((void *)bytes.ptr);
  return lamport;
}

#endif
