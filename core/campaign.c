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

bool cs_campaign_phase_closes(cs_span_t phase) {
  char text[16];
  if (!cs_value_str(phase.ptr, phase.len, text, sizeof(text))) return false;
  return strcmp(text, "closed") == 0 || strcmp(text, "sent") == 0;
}

int cs_campaign_note_close(cs_object_t *campaign, uint64_t lamport, const uint8_t author[CS_KEY_LEN], uint64_t seq,
                           const uint8_t op_id[CS_ID_LEN]) {
  cs_buf_t b;
  cs_buf_init(&b, 16);
  cs_mp_write_uint(&b, seq);
  int err = b.failed ? CS_ETOOBIG : cs_object_add(campaign, CS_F_CAMPAIGN_CLOSES, lamport, author, op_id, cs_buf_span(&b));
  cs_buf_free(&b);
  return err;
}

int cs_campaign_closed_in_past(const cs_object_t *campaign, const cs_past_t *past, const uint8_t change[CS_ID_LEN],
                               bool *closed) {
  *closed = false;
  for (uint32_t i = 0; i < campaign->entry_count && !*closed; i++) {
    const cs_entry_t *e = &campaign->entries[i];
    if (e->field != CS_F_CAMPAIGN_CLOSES) continue;
    if (!past) {
      *closed = true;
      break;
    }
    uint64_t seq;
    cs_mp_reader_t r = cs_mp_reader((cs_span_t){e->value, e->value_len});
    if (cs_mp_read_uint(&r, &seq)) return CS_ESTORE; /* the store wrote it */
    int err = cs_past_holds(past, change, e->author, seq, closed);
    if (err) return err;
  }
  return CS_OK;
}

uint64_t cs_campaign_points(const cs_object_t *campaign) {
  const cs_entry_t *e;
  uint64_t points = 0;
  if (campaign->type != CS_OBJ_CAMPAIGN || !cs_object_field(campaign, CS_F_CAMPAIGN_POINTS, &e)) return 0;
  cs_mp_reader_t r = cs_mp_reader((cs_span_t){e->value, e->value_len});
  return cs_mp_read_uint(&r, &points) == CS_OK ? points : 0;
}

int cs_campaign_ballot_check(const cs_object_t *campaign, cs_span_t allocation, const cs_past_t *past,
                             const uint8_t change[CS_ID_LEN]) {
  cs_allocation_t *a = malloc(sizeof(*a));
  if (!a) return CS_ENOMEM;
  bool closed = false;
  int err = cs_allocation_decode(allocation, a);
  if (!err && a->total > cs_campaign_points(campaign)) err = CS_EBUDGET;
  if (!err) err = cs_campaign_closed_in_past(campaign, past, change, &closed);
  if (!err && closed) err = CS_ECLOSED;
  free(a);
  return err;
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

/* The tally of a causal past --------------------------------------------- */

typedef struct cs__past_member_s {
  uint8_t key[CS_KEY_LEN];
  char museum[CS_NAME_MAX + 1];
} cs__past_member_t;

typedef struct cs__past_ballot_s {
  uint8_t id[CS_ID_LEN];
  uint8_t author[CS_KEY_LEN];
  uint64_t lamport;
  uint8_t *allocation; /* NULL until written */
  size_t allocation_len;
} cs__past_ballot_t;

typedef struct cs__past_merge_s {
  uint8_t request[CS_ID_LEN];
  cs_object_t reg; /* the request's merged-into register only */
} cs__past_merge_t;

struct cs_tally_past_s {
  uint8_t campaign[CS_ID_LEN];
  cs__past_member_t *members;
  uint32_t member_count, member_cap;
  cs__past_ballot_t *ballots;
  uint32_t ballot_count, ballot_cap;
  cs__past_merge_t *merges;
  uint32_t merge_count, merge_cap;
  cs_op_t op;
};

/* Grows an array of `size`-byte items to hold one more. */
static int cs__grow(void **items, uint32_t count, uint32_t *cap, size_t size) {
  if (count < *cap) return CS_OK;
  uint32_t grown_cap = *cap ? *cap * 2 : 16;
  void *grown = realloc(*items, grown_cap * size);
  if (!grown) return CS_ENOMEM;
  *items = grown;
  *cap = grown_cap;
  return CS_OK;
}

int cs_tally_past_new(const uint8_t campaign[CS_ID_LEN], cs_tally_past_t **out) {
  *out = calloc(1, sizeof(**out));
  if (!*out) return CS_ENOMEM;
  memcpy((*out)->campaign, campaign, CS_ID_LEN);
  return CS_OK;
}

void cs_tally_past_free(cs_tally_past_t *tp) {
  if (!tp) return;
  for (uint32_t i = 0; i < tp->ballot_count; i++) free(tp->ballots[i].allocation);
  for (uint32_t i = 0; i < tp->merge_count; i++) cs_object_free(&tp->merges[i].reg);
  free(tp->members);
  free(tp->ballots);
  free(tp->merges);
  free(tp);
}

static int cs__past_museum(cs_tally_past_t *tp, const uint8_t key[CS_KEY_LEN], cs_span_t museum) {
  cs__past_member_t *m = NULL;
  for (uint32_t i = 0; i < tp->member_count && !m; i++)
    if (memcmp(tp->members[i].key, key, CS_KEY_LEN) == 0) m = &tp->members[i];
  if (!m) {
    int err = cs__grow((void **)&tp->members, tp->member_count, &tp->member_cap, sizeof(*tp->members));
    if (err) return err;
    m = &tp->members[tp->member_count++];
    memcpy(m->key, key, CS_KEY_LEN);
  }
  size_t n = museum.len < CS_NAME_MAX ? museum.len : CS_NAME_MAX;
  memcpy(m->museum, museum.ptr, n);
  m->museum[n] = '\0';
  return CS_OK;
}

static cs__past_ballot_t *cs__past_ballot(cs_tally_past_t *tp, const uint8_t id[CS_ID_LEN]) {
  for (uint32_t i = 0; i < tp->ballot_count; i++)
    if (memcmp(tp->ballots[i].id, id, CS_ID_LEN) == 0) return &tp->ballots[i];
  return NULL;
}

static cs__past_merge_t *cs__past_merge(cs_tally_past_t *tp, const uint8_t request[CS_ID_LEN]) {
  for (uint32_t i = 0; i < tp->merge_count; i++)
    if (memcmp(tp->merges[i].request, request, CS_ID_LEN) == 0) return &tp->merges[i];
  return NULL;
}

int cs_tally_past_add(cs_tally_past_t *tp, const cs_change_t *c) {
  cs_op_iter_t it;
  cs_op_t *op = &tp->op;
  int err = cs_op_iter_init(&it, c->payload_bytes);
  for (uint32_t index = 0; !err; index++) {
    if ((err = cs_op_iter_next(&it, op))) break;
    uint8_t op_id[CS_ID_LEN];
    cs_op_id(c->id, index, op_id);
    if (op->obj_local) {
      cs_op_id(c->id, op->obj_index, op->obj);
      if (op->type == CS_OP_CREATE) memcpy(op->parent, op->obj, CS_ID_LEN);
    }
    if (op->type == CS_OP_GENESIS) {
      err = cs__past_museum(tp, c->author, op->value);
    } else if (op->type == CS_OP_MEMBER) {
      err = cs__past_museum(tp, op->key, op->name);
    } else if (op->type == CS_OP_CREATE && op->obj_type == CS_OBJ_BALLOT && op->has_parent &&
               memcmp(op->parent, tp->campaign, CS_ID_LEN) == 0) {
      if (!(err = cs__grow((void **)&tp->ballots, tp->ballot_count, &tp->ballot_cap, sizeof(*tp->ballots)))) {
        cs__past_ballot_t *b = &tp->ballots[tp->ballot_count++];
        memset(b, 0, sizeof(*b));
        memcpy(b->id, op_id, CS_ID_LEN);
        memcpy(b->author, c->author, CS_KEY_LEN);
      }
    } else if (op->type == CS_OP_SET && op->field == CS_F_BALLOT_ALLOCATION) {
      /* A ballot is written by its own key only, on that key's chain, so the
       * last write fed is the register's value. */
      cs__past_ballot_t *b = cs__past_ballot(tp, op->obj);
      if (!b) continue;
      uint8_t *copy = malloc(op->value.len ? op->value.len : 1);
      if (!copy) {
        err = CS_ENOMEM;
        break;
      }
      memcpy(copy, op->value.ptr, op->value.len);
      free(b->allocation);
      b->allocation = copy;
      b->allocation_len = op->value.len;
      b->lamport = c->lamport;
    } else if (op->type == CS_OP_SET && op->field == CS_F_REQ_MERGED_INTO) {
      /* Field 8 exists on requests only, so a valid change writes it there. */
      cs__past_merge_t *m = cs__past_merge(tp, op->obj);
      if (!m) {
        if ((err = cs__grow((void **)&tp->merges, tp->merge_count, &tp->merge_cap, sizeof(*tp->merges)))) break;
        m = &tp->merges[tp->merge_count++];
        memcpy(m->request, op->obj, CS_ID_LEN);
        cs_object_init(&m->reg);
      }
      err = cs_object_set(&m->reg, CS_F_REQ_MERGED_INTO, c->lamport, c->author, op_id, op->value, op->ref_count,
                          (const uint8_t(*)[CS_ID_LEN])op->refs);
    }
  }
  return err == CS_ENOTFOUND ? CS_OK : err;
}

static bool cs__past_merged_into(const uint8_t request[CS_ID_LEN], uint8_t into[CS_ID_LEN], void *ctx) {
  cs__past_merge_t *m = cs__past_merge(ctx, request);
  const cs_entry_t *e;
  if (!m || !cs_object_field(&m->reg, CS_F_REQ_MERGED_INTO, &e)) return false;
  cs_mp_reader_t r = cs_mp_reader((cs_span_t){e->value, e->value_len});
  return cs_mp_read_bin32(&r, into) == CS_OK;
}

int cs_tally_past_tally(cs_tally_past_t *tp, cs_tally_t *out) {
  memset(out, 0, sizeof(*out));
  cs_ballot_in_t *in = calloc(tp->ballot_count ? tp->ballot_count : 1, sizeof(*in));
  if (!in) return CS_ENOMEM;
  uint32_t n = 0;
  for (uint32_t i = 0; i < tp->ballot_count; i++) {
    const cs__past_ballot_t *b = &tp->ballots[i];
    if (!b->allocation) continue;
    in[n].museum = "";
    for (uint32_t k = 0; k < tp->member_count; k++)
      if (memcmp(tp->members[k].key, b->author, CS_KEY_LEN) == 0) in[n].museum = tp->members[k].museum;
    in[n].lamport = b->lamport;
    memcpy(in[n].author, b->author, CS_KEY_LEN);
    in[n].allocation = (cs_span_t){b->allocation, b->allocation_len};
    n++;
  }
  int err = cs_tally(in, n, cs__past_merged_into, tp, out);
  free(in);
  return err;
}

int cs_tally_past_check(cs_tally_past_t *tp, cs_span_t results) {
  cs_tally_t t;
  int err = cs_tally_past_tally(tp, &t);
  if (err) return err;
  cs_buf_t b;
  cs_buf_init(&b, CS_TEXT_MAX + 16);
  cs_tally_write(&b, &t);
  bool same = !b.failed && b.len == results.len && memcmp(b.data, results.ptr, b.len) == 0;
  cs_buf_free(&b);
  cs_tally_free(&t);
  return same ? CS_OK : CS_ERESULTS;
}
