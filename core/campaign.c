#include "core/campaign.h"

#include <stdlib.h>
#include <string.h>

/* Merge links are followed this many times at most, so a cycle written by
 * two museums at once cannot loop. */
#define CS__MERGE_HOPS 16

static int cs__row_rank(const void *pa, const void *pb) {
  const cs_tally_row_t *a = pa, *b = pb;
  if (a->points != b->points) return a->points > b->points ? -1 : 1;
  if (a->museums != b->museums) return a->museums > b->museums ? -1 : 1;
  return memcmp(a->request, b->request, CS_ID_LEN);
}

/* Whether ballot a was written after ballot b. */
static bool cs__later(const cs_ballot_in_t *a, const cs_ballot_in_t *b) {
  if (a->lamport != b->lamport) return a->lamport > b->lamport;
  return memcmp(a->author, b->author, CS_KEY_LEN) > 0;
}

static cs_tally_row_t *cs__row(cs_tally_t *t, uint32_t *cap, const uint8_t request[CS_ID_LEN]) {
  for (uint32_t i = 0; i < t->count; i++)
    if (memcmp(t->rows[i].request, request, CS_ID_LEN) == 0) return &t->rows[i];
  if (t->count == *cap) {
    uint32_t grown_cap = *cap ? *cap * 2 : 64;
    cs_tally_row_t *grown = realloc(t->rows, grown_cap * sizeof(*grown));
    if (!grown) return NULL;
    t->rows = grown;
    *cap = grown_cap;
  }
  cs_tally_row_t *row = &t->rows[t->count++];
  memcpy(row->request, request, CS_ID_LEN);
  row->points = 0;
  row->museums = 0;
  return row;
}

void cs_merge_final(const uint8_t request[CS_ID_LEN], cs_merge_fn merged, void *ctx, uint8_t out[CS_ID_LEN]) {
  uint8_t next[CS_ID_LEN];
  memmove(out, request, CS_ID_LEN);
  for (int hop = 0; merged && hop < CS__MERGE_HOPS && merged(out, next, ctx); hop++) memcpy(out, next, CS_ID_LEN);
}

int cs_tally(const cs_ballot_in_t *ballots, uint32_t count, cs_merge_fn merged, void *ctx, cs_tally_t *out) {
  memset(out, 0, sizeof(*out));
  uint32_t cap = 0;
  cs_allocation_t *a = malloc(sizeof(*a));
  /* last[i]: the row a museum's vote last touched, so it counts once per row. */
  uint32_t *counted = malloc((CS_ALLOCATION_MAX + 1) * sizeof(*counted));
  int err = a && counted ? CS_OK : CS_ENOMEM;
  for (uint32_t i = 0; i < count && !err; i++) {
    /* Only the museum's latest ballot counts. */
    bool superseded = false;
    for (uint32_t j = 0; j < count && !superseded; j++)
      superseded = j != i && strcmp(ballots[j].museum, ballots[i].museum) == 0 && cs__later(&ballots[j], &ballots[i]);
    if (superseded || cs_allocation_decode(ballots[i].allocation, a) != CS_OK || a->count == 0) continue;
    out->voters++;
    uint32_t touched = 0;
    for (uint32_t k = 0; k < a->count && !err; k++) {
      uint8_t target[CS_ID_LEN];
      cs_merge_final(a->requests[k], merged, ctx, target);
      cs_tally_row_t *row = cs__row(out, &cap, target);
      if (!row) {
        err = CS_ENOMEM;
        break;
      }
      row->points += a->points[k];
      uint32_t index = (uint32_t)(row - out->rows);
      bool seen = false;
      for (uint32_t m = 0; m < touched; m++) seen |= counted[m] == index;
      if (!seen) {
        counted[touched++] = index;
        row->museums++;
      }
    }
  }
  free(a);
  free(counted);
  if (err) {
    cs_tally_free(out);
    return err;
  }
  if (out->count) qsort(out->rows, out->count, sizeof(*out->rows), cs__row_rank);
  return CS_OK;
}

int cs_ballot_once_note(cs_ballot_once_t *once, const uint8_t campaign[CS_ID_LEN], const uint8_t ballot[CS_ID_LEN],
                        bool allocation) {
  for (uint32_t i = 0; i < once->count; i++) {
    if (memcmp(once->seen[i].campaign, campaign, CS_ID_LEN) != 0) continue;
    if (memcmp(once->seen[i].ballot, ballot, CS_ID_LEN) != 0) return CS_EFORMAT; /* a second ballot */
    if (allocation && once->seen[i].allocation) return CS_EFORMAT;             /* a second allocation */
    once->seen[i].allocation |= allocation;
    return CS_OK;
  }
  if (once->count == CS_CHANGE_OPS_MAX) return CS_ETOOBIG; /* one entry per op at most */
  memcpy(once->seen[once->count].campaign, campaign, CS_ID_LEN);
  memcpy(once->seen[once->count].ballot, ballot, CS_ID_LEN);
  once->seen[once->count].allocation = allocation;
  once->count++;
  return CS_OK;
}

void cs_tally_free(cs_tally_t *t) {
  free(t->rows);
  memset(t, 0, sizeof(*t));
}

void cs_tally_write(cs_buf_t *b, const cs_tally_t *t) {
  cs_buf_t inner;
  cs_buf_init(&inner, CS_TEXT_MAX);
  cs_mp_write_array(&inner, t->count);
  for (uint32_t i = 0; i < t->count; i++) {
    cs_mp_write_array(&inner, 3);
    cs_mp_write_bin(&inner, t->rows[i].request, CS_ID_LEN);
    cs_mp_write_uint(&inner, t->rows[i].points);
    cs_mp_write_uint(&inner, t->rows[i].museums);
  }
  if (inner.failed) b->failed = true;
  else cs_mp_write_bin(b, inner.data, inner.len);
  cs_buf_free(&inner);
}

int cs_tally_read(cs_span_t value, cs_tally_t *out) {
  memset(out, 0, sizeof(*out));
  cs_mp_reader_t outer = cs_mp_reader(value);
  cs_span_t inner;
  uint32_t n, row;
  int err = cs_mp_read_bin(&outer, &inner);
  if (err) return err;
  cs_mp_reader_t r = cs_mp_reader(inner);
  if ((err = cs_mp_read_array(&r, &n))) return err;
  if (n > CS_TEXT_MAX / 36) return CS_ETOOBIG;
  out->rows = calloc(n ? n : 1, sizeof(*out->rows));
  if (!out->rows) return CS_ENOMEM;
  for (uint32_t i = 0; i < n && !err; i++) {
    uint64_t museums = 0;
    cs_tally_row_t *x = &out->rows[i];
    if ((err = cs_mp_read_array(&r, &row))) break;
    if (row != 3) err = CS_EFORMAT;
    if (!err) err = cs_mp_read_bin32(&r, x->request);
    if (!err) err = cs_mp_read_uint(&r, &x->points);
    if (!err) err = cs_mp_read_uint(&r, &museums);
    x->museums = (uint32_t)(museums > UINT32_MAX ? UINT32_MAX : museums);
    out->count = i + 1;
  }
  if (err) cs_tally_free(out);
  return err;
}
