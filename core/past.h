#ifndef CS_CORE_PAST_H
#define CS_CORE_PAST_H

/* The causal past of a change, as the rules read it.
 *
 * Every rule of the club is judged against the change's causal past (the
 * change, its prev chain and its deps, transitively), never against "the
 * latest" state of a node, so every node and `verify` reach one verdict.
 * Because each author's changes form a chain, the past of a change is
 * described by a version vector: for each author, the highest seq of theirs
 * in that past. Change x (author a, seq s) is in the past of c exactly when
 * c's vector holds a at s or above.
 *
 * A key that forked has two changes at one seq; this index cannot tell them
 * apart, and need not: a forked key is frozen from the fork's seq, so its
 * changes from there on are invalid wherever they are. */

#include <stdbool.h>
#include <stdint.h>

#include "core/change.h"
#include "core/mp.h"

/* An oracle over some set of changes: a store's replica, or a bundle's
 * changes in memory. */
typedef struct cs_past_s {
  /* Sets *seq to the highest seq by `author` in the causal past of change
   * `change` (the change itself included), 0 if none. Returns CS_OK,
   * CS_ENOTFOUND when `change` is not in the set, or another error. */
  int (*seq_in_past)(void *ctx, const uint8_t change[CS_ID_LEN], const uint8_t author[CS_KEY_LEN], uint64_t *seq);
  void *ctx;
} cs_past_t;

/* The highest seq by `author` in the causal past of `change`. */
int cs_past_seq(const cs_past_t *past, const uint8_t change[CS_ID_LEN], const uint8_t author[CS_KEY_LEN],
                uint64_t *seq) CS_MUST_USE;

/* Whether the change by `author` at `seq` is in the causal past of `change`
 * (or is it). */
int cs_past_holds(const cs_past_t *past, const uint8_t change[CS_ID_LEN], const uint8_t author[CS_KEY_LEN],
                  uint64_t seq, bool *holds) CS_MUST_USE;

/* Version vectors -------------------------------------------------------- */

/* Authors are numbered by whoever keeps the vectors (a store per club, a
 * bundle for itself); the numbers never leave it. */
typedef struct cs_vv_entry_s {
  uint32_t author;
  uint64_t seq;
} cs_vv_entry_t;

/* Entries sorted by author number, each author once. */
typedef struct cs_vv_s {
  cs_vv_entry_t *items;
  uint32_t count, cap;
} cs_vv_t;

#define CS_VV_INIT {NULL, 0, 0}

void cs_vv_free(cs_vv_t *vv);
void cs_vv_clear(cs_vv_t *vv);
/* The seq held for `author`, 0 if none. */
uint64_t cs_vv_get(const cs_vv_t *vv, uint32_t author);
/* Raises `author` to `seq` if it is below. */
int cs_vv_raise(cs_vv_t *vv, uint32_t author, uint64_t seq) CS_MUST_USE;
/* Raises every author of `from` in `into` (the pointwise maximum). */
int cs_vv_merge(cs_vv_t *into, const cs_vv_t *from) CS_MUST_USE;

/* The stored form (docs/store.md): a varint count, then per entry a varint
 * author number delta (from the previous entry's, the first from 0) and a
 * varint seq. Decoding checks every length and the strict order. */
void cs_vv_encode(const cs_vv_t *vv, cs_buf_t *out);
int cs_vv_decode(cs_span_t bytes, cs_vv_t *out) CS_MUST_USE;
/* Merges an encoded vector without decoding it to a second vector. */
int cs_vv_merge_encoded(cs_vv_t *into, cs_span_t bytes) CS_MUST_USE;
/* The seq an encoded vector holds for `author`, without decoding it. */
int cs_vv_get_encoded(cs_span_t bytes, uint32_t author, uint64_t *seq) CS_MUST_USE;

/* The past of a set of changes held in memory (verify's bundle) ---------- */

typedef struct cs_past_mem_s cs_past_mem_t;

/* Computes every change's vector. `changes` may come in any order; a parent
 * (prev or dep) that is not in the set adds nothing to the past, so the
 * past of a change is what the set can show of it. */
int cs_past_mem_build(const cs_change_t *const *changes, uint32_t count, cs_past_mem_t **out) CS_MUST_USE;
cs_past_t cs_past_mem_oracle(cs_past_mem_t *mem);
void cs_past_mem_free(cs_past_mem_t *mem);

#endif
