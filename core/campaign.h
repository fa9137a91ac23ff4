#ifndef CS_CORE_CAMPAIGN_H
#define CS_CORE_CAMPAIGN_H

/* A campaign's tally: one museum, one vote. Pure, so every node ranks the
 * same ballots the same way.
 *
 * Each device key of a museum writes its own ballot (a register holding the
 * whole allocation); a museum's vote is the allocation written last, by
 * (lamport, author), among its keys' ballots. Points for a request merged
 * into another count for the one it was merged into. Rows are ranked by
 * points, then by number of museums, then by request id. */

#include <stdint.h>

#include "core/change.h"
#include "core/op.h"

typedef struct cs_ballot_in_s {
  const char *museum;  /* the museum of the key that cast it */
  uint64_t lamport;    /* of the allocation's winning write */
  uint8_t author[CS_KEY_LEN];
  cs_span_t allocation; /* the register's value (CS_VALUE_ALLOCATION) */
} cs_ballot_in_t;

typedef struct cs_tally_row_s {
  uint8_t request[CS_ID_LEN];
  uint64_t points;
  uint32_t museums;
} cs_tally_row_t;

typedef struct cs_tally_s {
  cs_tally_row_t *rows; /* ranked */
  uint32_t count;
  uint32_t voters; /* museums whose vote counted */
} cs_tally_t;

/* Where a merged request's points go: writes the request it was merged into
 * to `into` and returns true, or returns false for a request that stands. */
typedef bool (*cs_merge_fn)(const uint8_t request[CS_ID_LEN], uint8_t into[CS_ID_LEN], void *ctx);

/* The request a merged one finally counts for: follows merge links at most
 * 16 times, so a cycle written by two museums at once cannot loop; writes
 * `request` itself to `out` when it stands. */
void cs_merge_final(const uint8_t request[CS_ID_LEN], cs_merge_fn merged, void *ctx, uint8_t out[CS_ID_LEN]);

int cs_tally(const cs_ballot_in_t *ballots, uint32_t count, cs_merge_fn merged, void *ctx, cs_tally_t *out) CS_MUST_USE;
void cs_tally_free(cs_tally_t *t);

/* One ballot per campaign in one change ---------------------------------

   A change holds at most one ballot of a campaign: it creates at most one
   ballot under the campaign, and writes the allocation of at most one of the
   campaign's ballots, at most once. So a change is worth at most one vote per
   campaign, and no two ballots of one key ever tie on (lamport, author). The
   store's apply path notes each ballot op of a change as it meets it. */
typedef struct cs_ballot_once_s {
  uint32_t count;
  struct {
    uint8_t campaign[CS_ID_LEN];
    uint8_t ballot[CS_ID_LEN];
    bool allocation; /* this change wrote the ballot's allocation */
  } seen[CS_CHANGE_OPS_MAX];
} cs_ballot_once_t;

/* Notes a ballot op of one change: the creation of `ballot` under
   `campaign` (allocation false), or a write of its allocation (true).
   Returns CS_EFORMAT when the change already holds another ballot of the
   campaign, or already wrote this one's allocation; the change is then
   invalid. */
int cs_ballot_once_note(cs_ballot_once_t *once, const uint8_t campaign[CS_ID_LEN], const uint8_t ballot[CS_ID_LEN],
                        bool allocation) CS_MUST_USE;

/* Frozen results (CS_VALUE_RESULTS): a bin of [[request, points, museums]...]. */
void cs_tally_write(cs_buf_t *b, const cs_tally_t *t);
int cs_tally_read(cs_span_t value, cs_tally_t *out) CS_MUST_USE;

#endif
