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
#include "core/object.h"
#include "core/op.h"
#include "core/past.h"

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

/* Closing ---------------------------------------------------------------

   A campaign is closed for ballots by a change that writes its phase
   `closed` (or `sent`). A ballot whose causal past holds such a change is
   invalid (ECLOSED) on every node; one concurrent with it is kept and cannot
   change the frozen results. The store records each close that applies in
   the campaign's record, under a field no op may write: one entry per close,
   its author the closer and its value the closing change's seq. */
#define CS_F_CAMPAIGN_CLOSES 31

/* Whether writing this phase value closes the campaign. */
bool cs_campaign_phase_closes(cs_span_t phase);
/* Records, in the campaign's record, that change (author, seq) closed it;
   op_id is the op that wrote the phase. */
int cs_campaign_note_close(cs_object_t *campaign, uint64_t lamport, const uint8_t author[CS_KEY_LEN], uint64_t seq,
                           const uint8_t op_id[CS_ID_LEN]) CS_MUST_USE;
/* Whether a close of the campaign is in the causal past of `change`. With
   past NULL, whether the campaign was closed by any change the record holds:
   a front-end's pre-check for a change it is about to write, whose past is
   everything the node holds. */
int cs_campaign_closed_in_past(const cs_object_t *campaign, const cs_past_t *past, const uint8_t change[CS_ID_LEN],
                               bool *closed) CS_MUST_USE;
/* The rule for a ballot's allocation: within the campaign's points
   (CS_EBUDGET), and not after the campaign's close (CS_ECLOSED); past and
   change as for cs_campaign_closed_in_past. */
int cs_campaign_ballot_check(const cs_object_t *campaign, cs_span_t allocation, const cs_past_t *past,
                             const uint8_t change[CS_ID_LEN]) CS_MUST_USE;
/* The points each museum may give in the campaign; 0 when unknown. */
uint64_t cs_campaign_points(const cs_object_t *campaign);

/* The tally of a causal past --------------------------------------------

   The results a change writes (`campaign close`) must be the tally of the
   ballots in that change's causal past, or the change is invalid
   (CS_ERESULTS): each museum's latest ballot in that past, the museum of
   each key and the merges of requests as that past has them. The caller
   feeds the valid changes of the past in (lamport, change id) order, a
   causal order; nothing else is read, so every node and every front-end
   get one tally. */
typedef struct cs_tally_past_s cs_tally_past_t;

int cs_tally_past_new(const uint8_t campaign[CS_ID_LEN], cs_tally_past_t **out) CS_MUST_USE;
/* Feeds one valid change of the past (its member ops, the campaign's
   ballots and their allocations, requests' merges). */
int cs_tally_past_add(cs_tally_past_t *tp, const cs_change_t *c) CS_MUST_USE;
/* The tally of what was fed. */
int cs_tally_past_tally(cs_tally_past_t *tp, cs_tally_t *out) CS_MUST_USE;
/* CS_OK when `results` (a CS_VALUE_RESULTS value) is exactly the tally of
   what was fed, CS_ERESULTS otherwise. */
int cs_tally_past_check(cs_tally_past_t *tp, cs_span_t results) CS_MUST_USE;
void cs_tally_past_free(cs_tally_past_t *tp);

/* Frozen results (CS_VALUE_RESULTS): a bin of [[request, points, museums]...]. */
void cs_tally_write(cs_buf_t *b, const cs_tally_t *t);
int cs_tally_read(cs_span_t value, cs_tally_t *out) CS_MUST_USE;

#endif
