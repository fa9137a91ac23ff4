#ifndef CS_TESTS_FUZZ_COMMON_H
#define CS_TESTS_FUZZ_COMMON_H

/* Shared by the fuzz harnesses: a property check that aborts (libFuzzer and
 * the replay main both treat an abort as a failure), one-time libsodium
 * set-up, and fixed keys, so every run of a harness is reproducible. */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#define FUZZ_CHECK(cond)                                                                                               \
  do {                                                                                                                 \
    if (!(cond)) {                                                                                                     \
      fprintf(stderr, "%s:%d: property failed: %s\n", __FILE__, __LINE__, #cond);                                     \
      abort();                                                                                                         \
    }                                                                                                                  \
  } while (0)

static inline void fuzz_sodium_init(void) {
  static int done;
  if (!done) {
    if (sodium_init() < 0) abort();
    done = 1;
  }
}

/* A deterministic Ed25519 key pair from a one-byte seed. */
static inline void fuzz_key(uint8_t seed_byte, uint8_t pk[32], uint8_t sk[64]) {
  uint8_t seed[32];
  memset(seed, seed_byte, sizeof(seed));
  crypto_sign_seed_keypair(pk, sk, seed);
}

#endif
