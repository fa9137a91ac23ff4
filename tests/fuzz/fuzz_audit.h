#ifndef CS_TESTS_FUZZ_AUDIT_H
#define CS_TESTS_FUZZ_AUDIT_H

/* The keys of the museums in the verify harness's seed club
 * (tests/fuzz/gen_corpus.c writes honest audit bundles of it; fuzz_verify
 * re-signs what they sign, so that mutations get past the signatures). */

#include "tests/fuzz/fuzz_common.h"

#define FUZZ_AUDIT_KEYS 5
#define FUZZ_AUDIT_KEY_SEED 0x60 /* museum i's key comes from seed byte 0x60 + i */

static inline void fuzz_audit_keys(uint8_t pk[FUZZ_AUDIT_KEYS][32], uint8_t sk[FUZZ_AUDIT_KEYS][64]) {
  for (int i = 0; i < FUZZ_AUDIT_KEYS; i++) fuzz_key((uint8_t)(FUZZ_AUDIT_KEY_SEED + i), pk[i], sk[i]);
}

#endif
