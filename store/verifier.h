#ifndef CS_STORE_VERIFIER_H
#define CS_STORE_VERIFIER_H

/* Signature verification ahead of the writer, on the second core.
 *
 * Ed25519 verification is the costliest step of ingesting a change; applying
 * it to LMDB is cheaper. A verifier checks a batch's signatures on a helper
 * thread while the caller applies them in order; when the caller catches up
 * it verifies the next unclaimed change itself, so both cores stay busy. */

#include <stdbool.h>
#include <stddef.h>

#include "core/mp.h"

typedef struct cs_verifier_s cs_verifier_t;

/* Starts verifying spans[0..count-1]; the spans must outlive the verifier.
 * Returns NULL on allocation failure (callers then verify inline). */
cs_verifier_t *cs_verifier_start(const cs_span_t *spans, size_t count);
/* Waits until change i is verified (helping if needed); true when its
 * structure, payload hash and signature are valid. */
bool cs_verifier_wait(cs_verifier_t *v, size_t i);
/* Stops the helper thread and frees the verifier. */
void cs_verifier_stop(cs_verifier_t *v);

#endif
