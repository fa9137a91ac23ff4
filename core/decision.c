#include "core/decision.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/bundle.h"
#include "core/object.h"
#include "core/op.h"
#include "core/past.h"

/* Electorate and resolution values ---------------------------------------- */

int cs_electorate_add(cs_electorate_t *e, const char *museum) {
  if (e->count == e->cap) {
    uint32_t cap = e->cap ? 2 * e->cap : 16;
    char(*grown)[CS_NAME_MAX + 1] = realloc(e->museums, (size_t)cap * sizeof(*grown));
    if (!grown) return CS_ENOMEM;
    e->museums = grown;
    e->cap = cap;
  }
  snprintf(e->museums[e->count++], sizeof(e->museums[0]), "%s", museum);
  return CS_OK;
}

static int cs__cmp_museum(const void *a, const void *b) { return strcmp(a, b); }

void cs_electorate_sort(cs_electorate_t *e) {
  if (e->count == 0) return;
  qsort(e->museums, e->count, sizeof(e->museums[0]), cs__cmp_museum);
  uint32_t distinct = 0;
  for (uint32_t i = 0; i < e->count; i++)
    if (distinct == 0 || strcmp(e->museums[distinct - 1], e->museums[i]) != 0)
      memmove(e->museums[distinct++], e->museums[i], sizeof(e->museums[i]));
  e->count = distinct;
}

bool cs_electorate_has(const cs_electorate_t *e, const char *museum) {
  return e->count && bsearch(museum, e->museums, e->count, sizeof(e->museums[0]), cs__cmp_museum) != NULL;
}

void cs_electorate_free(cs_electorate_t *e) {
  free(e->museums);
  memset(e, 0, sizeof(*e));
}

int cs_electorate_decode(cs_span_t value, cs_electorate_t *out) {
  cs_mp_reader_t outer = cs_mp_reader(value), r;
  cs_span_t inner, museum;
  uint32_t n;
  memset(out, 0, sizeof(*out));
  int err = cs_mp_read_bin(&outer, &inner);
  if (err) return err;
  if (!cs_mp_done(&outer)) return CS_EFORMAT;
  r = cs_mp_reader(inner);
  if ((err = cs_mp_read_array(&r, &n))) return err;
  if (n == 0 || n > inner.len) return CS_EFORMAT; /* each name takes a byte at least */
  char name[CS_NAME_MAX + 1];
  for (uint32_t i = 0; i < n && !err; i++) {
    if ((err = cs_mp_read_str(&r, &museum))) break;
    if (museum.len == 0 || museum.len > CS_NAME_MAX) {
      err = CS_EFORMAT;
      break;
    }
    memcpy(name, museum.ptr, museum.len);
    name[museum.len] = '\0';
    if (i > 0 && strcmp(out->museums[i - 1], name) >= 0) err = CS_EFORMAT; /* sorted, distinct */
    else err = cs_electorate_add(out, name);
  }
  if (!err && !cs_mp_done(&r)) err = CS_EFORMAT;
  if (err) cs_electorate_free(out);
  return err;
}

void cs_electorate_write(cs_buf_t *b, cs_electorate_t *e) {
  cs_electorate_sort(e);
  cs_buf_t inner;
  cs_buf_init(&inner, CS_TEXT_MAX);
  cs_mp_write_array(&inner, e->count);
  for (uint32_t i = 0; i < e->count; i++) cs_mp_write_cstr(&inner, e->museums[i]);
  if (inner.failed) b->failed = true;
  else cs_mp_write_bin(b, inner.data, inner.len);
  cs_buf_free(&inner);
}

int cs_resolution_decode(cs_span_t value, cs_resolution_t *out) {
  cs_mp_reader_t outer = cs_mp_reader(value), r;
  cs_span_t inner, outcome;
  uint32_t n;
  int err = cs_mp_read_bin(&outer, &inner);
  if (err) return err;
  r = cs_mp_reader(inner);
  if ((err = cs_mp_read_array(&r, &n))) return err;
  if (n != 4) return CS_EFORMAT;
  if ((err = cs_mp_read_str(&r, &outcome))) return err;
  if (!cs_status_in(cs_outcomes, outcome)) return CS_EFORMAT;
  out->adopted = outcome.len == 7 && memcmp(outcome.ptr, "adopted", 7) == 0;
  if ((err = cs_mp_read_uint(&r, &out->yes)) || (err = cs_mp_read_uint(&r, &out->no)) ||
      (err = cs_mp_read_uint(&r, &out->abstain)))
    return err;
  return cs_mp_done(&r) && cs_mp_done(&outer) ? CS_OK : CS_EFORMAT;
}

void cs_resolution_write(cs_buf_t *b, const cs_resolution_t *res) {
  cs_buf_t inner;
  cs_buf_init(&inner, 128);
  cs_mp_write_array(&inner, 4);
  cs_mp_write_cstr(&inner, res->adopted ? "adopted" : "rejected");
  cs_mp_write_uint(&inner, res->yes);
  cs_mp_write_uint(&inner, res->no);
  cs_mp_write_uint(&inner, res->abstain);
  cs_mp_write_bin(b, inner.data, inner.len);
  cs_buf_free(&inner);
}

bool cs_quorum_met(const char *rule, uint32_t electorate, uint64_t yes) {
  if (strcmp(rule, "two-thirds") == 0) return 3 * yes >= 2 * (uint64_t)electorate;
  return 2 * yes > electorate;
}

/* Derived fields ----------------------------------------------------------- */

static void cs__be64(uint8_t *p, uint64_t v) {
  for (int i = 7; i >= 0; i--, v >>= 8) p[i] = (uint8_t)v;
}

static uint64_t cs__get64(const uint8_t *p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++) v = v << 8 | p[i];
  return v;
}

/* An element is a bin: the change id, its seq, then the rest. */
static bool cs__element_bin(const cs_entry_t *e, cs_span_t *bin) {
  cs_mp_reader_t r = cs_mp_reader((cs_span_t){e->value, e->value_len});
  return cs_mp_read_bin(&r, bin) == CS_OK && cs_mp_done(&r);
}

void cs_ballot_element(const cs_ballot_t *b, cs_buf_t *out) {
  uint8_t raw[CS_BALLOT_ELEMENT_LEN];
  memcpy(raw, b->change, CS_ID_LEN);
  cs__be64(raw + CS_ID_LEN, b->seq);
  raw[CS_ID_LEN + 8] = (uint8_t)b->choice;
  cs_mp_write_bin(out, raw, sizeof(raw));
}

int cs_ballot_from_entry(const cs_entry_t *e, cs_ballot_t *out) {
  cs_span_t bin;
  if (!cs__element_bin(e, &bin) || bin.len != CS_BALLOT_ELEMENT_LEN || bin.ptr[CS_ID_LEN + 8] > 2) return CS_ESTORE;
  memcpy(out->change, bin.ptr, CS_ID_LEN);
  out->seq = cs__get64(bin.ptr + CS_ID_LEN);
  out->choice = bin.ptr[CS_ID_LEN + 8];
  out->lamport = e->lamport;
  memcpy(out->author, e->author, CS_KEY_LEN);
  return CS_OK;
}

#define CS__RESOLUTION_ELEMENT_LEN (CS_ID_LEN + 8 + 1 + 3 * 8)

void cs_resolution_element(const cs_resolution_rec_t *r, cs_buf_t *out) {
  uint8_t raw[CS__RESOLUTION_ELEMENT_LEN];
  memcpy(raw, r->change, CS_ID_LEN);
  cs__be64(raw + CS_ID_LEN, r->seq);
  raw[CS_ID_LEN + 8] = r->res.adopted;
  cs__be64(raw + CS_ID_LEN + 9, r->res.yes);
  cs__be64(raw + CS_ID_LEN + 17, r->res.no);
  cs__be64(raw + CS_ID_LEN + 25, r->res.abstain);
  cs_mp_write_bin(out, raw, sizeof(raw));
}

int cs_resolution_from_entry(const cs_entry_t *e, cs_resolution_rec_t *out) {
  cs_span_t bin;
  if (!cs__element_bin(e, &bin) || bin.len != CS__RESOLUTION_ELEMENT_LEN) return CS_ESTORE;
  memcpy(out->change, bin.ptr, CS_ID_LEN);
  out->seq = cs__get64(bin.ptr + CS_ID_LEN);
  out->res.adopted = bin.ptr[CS_ID_LEN + 8] != 0;
  out->res.yes = cs__get64(bin.ptr + CS_ID_LEN + 9);
  out->res.no = cs__get64(bin.ptr + CS_ID_LEN + 17);
  out->res.abstain = cs__get64(bin.ptr + CS_ID_LEN + 25);
  out->lamport = e->lamport;
  memcpy(out->author, e->author, CS_KEY_LEN);
  return CS_OK;
}

bool cs_motion_resolved(const cs_object_t *motion) {
  const cs_entry_t *e;
  cs_resolution_rec_t rec;
  uint32_t n = cs_object_field(motion, CS_F_MOTION_RESOLUTIONS, &e);
  for (uint32_t i = 0; i < n; i++)
    if (cs_resolution_from_entry(&e[i], &rec) == CS_OK) return true;
  return false;
}

int cs_motion_resolutions(const cs_object_t *motion, cs_resolution_rec_t **out, uint32_t *count) {
  const cs_entry_t *e;
  uint32_t n = cs_object_field(motion, CS_F_MOTION_RESOLUTIONS, &e);
  *count = 0;
  *out = malloc((n ? n : 1) * sizeof(**out));
  if (!*out) return CS_ENOMEM;
  for (uint32_t i = 0; i < n; i++) {
    int err = cs_resolution_from_entry(&e[i], &(*out)[*count]);
    if (err) return err;
    (*count)++;
  }
  return CS_OK;
}

static uint64_t cs__museums_counted(const cs_resolution_rec_t *r) { return r->res.yes + r->res.no + r->res.abstain; }

/* The last tie-break: the greatest (lamport, change id). */
static int cs__lamport_order(const cs_resolution_rec_t *a, const cs_resolution_rec_t *b) {
  if (a->lamport != b->lamport) return a->lamport < b->lamport ? -1 : 1;
  return memcmp(a->change, b->change, CS_ID_LEN);
}

int cs_resolution_front(const cs_past_t *past, const uint8_t *at, cs_resolution_rec_t *recs, uint32_t *count) {
  uint32_t kept = 0;
  uint64_t most = 0;
  for (uint32_t i = 0; i < *count; i++) {
    bool holds = true;
    if (at) {
      int err = cs_past_holds(past, at, recs[i].author, recs[i].seq, &holds);
      if (err) return err;
    }
    if (!holds) continue;
    uint64_t n = cs__museums_counted(&recs[i]);
    if (kept && n < most) continue;
    if (!kept || n > most) kept = 0;
    most = n;
    cs_resolution_rec_t r = recs[i];
    recs[i] = recs[kept];
    recs[kept++] = r;
  }
  *count = kept;
  return CS_OK;
}

/* One candidate's counted ballots, by museum: indexes into the ballots. */
typedef struct cs__cut_entry_s {
  const char *museum;
  uint32_t ballot;
} cs__cut_entry_t;

static int cs__cut_entry_order(const void *pa, const void *pb) {
  return strcmp(((const cs__cut_entry_t *)pa)->museum, ((const cs__cut_entry_t *)pb)->museum);
}

/* Whether x is fresher than y: for a museum both count, y's ballot is in
 * the causal past of x's (so x's supersedes it). x's resolver's own museum
 * (`own`) is left out: a resolver can cast its museum's ballots unseen and
 * count them at once. */
static int cs__fresher(const cs_motion_case_t *mc, const cs__cut_entry_t *x, uint32_t xn, const char *own,
                       const cs__cut_entry_t *y, uint32_t yn, bool *out) {
  *out = false;
  for (uint32_t i = 0; i < yn && !*out; i++) {
    if (strcmp(y[i].museum, own) == 0) continue;
    const cs__cut_entry_t *found = bsearch(&y[i], x, xn, sizeof(*x), cs__cut_entry_order);
    if (!found || found->ballot == y[i].ballot) continue;
    const cs_ballot_t *later = &mc->ballots[found->ballot], *earlier = &mc->ballots[y[i].ballot];
    int err = cs_past_holds(mc->past, later->change, earlier->author, earlier->seq, out);
    if (err) return err;
  }
  return CS_OK;
}

int cs_resolution_pick(const cs_motion_case_t *mc, const cs_resolution_rec_t *cands, uint32_t count,
                       const cs_resolution_rec_t **out) {
  *out = NULL;
  if (count <= 1) {
    *out = count ? &cands[0] : NULL;
    return CS_OK;
  }
  uint32_t nb = mc->ballot_count;
  cs_electorate_t e;
  int err = cs_motion_electorate(mc->members, mc->past, mc->motion_change, &e);
  if (err) return err;
  bool *counted = malloc((nb ? nb : 1) * sizeof(*counted));
  char(*museums)[CS_NAME_MAX + 1] = malloc((size_t)count * (nb ? nb : 1) * sizeof(*museums));
  cs__cut_entry_t *cuts = malloc((size_t)count * (nb ? nb : 1) * sizeof(*cuts));
  uint32_t *cut_len = calloc(count, sizeof(*cut_len));
  bool *dominated = calloc(count, sizeof(*dominated));
  const char **own = calloc(count, sizeof(*own)); /* each resolver's museum, in its past */
  if (!counted || !museums || !cuts || !cut_len || !dominated || !own) err = CS_ENOMEM;
  for (uint32_t c = 0; c < count && !err; c++) {
    const cs_member_op_t *op;
    err = cs_motion_member_at(mc->members, mc->past, cands[c].change, cands[c].author, &op);
    own[c] = !err && op ? op->entry.museum : "";
  }
  /* Each candidate's cut: the ballot it counts for each museum, the museum
   * read as of its own past. */
  for (uint32_t c = 0; c < count && !err; c++) {
    cs_motion_tally_t tally;
    char(*mus)[CS_NAME_MAX + 1] = &museums[(size_t)c * nb];
    cs__cut_entry_t *cut = &cuts[(size_t)c * nb];
    err = cs_motion_tally(mc->members, mc->past, cands[c].change, &e, mc->ballots, nb, &tally, counted, mus);
    for (uint32_t b = 0; b < nb && !err; b++)
      if (counted[b]) cut[cut_len[c]++] = (cs__cut_entry_t){mus[b], b};
    if (!err) qsort(cut, cut_len[c], sizeof(*cut), cs__cut_entry_order);
  }
  for (uint32_t x = 0; x < count && !err; x++)
    for (uint32_t y = 0; y < count && !err; y++) {
      bool xy, yx;
      if (x == y || dominated[y]) continue;
      err = cs__fresher(mc, &cuts[(size_t)x * nb], cut_len[x], own[x], &cuts[(size_t)y * nb], cut_len[y], &xy);
      if (!err && xy)
        err = cs__fresher(mc, &cuts[(size_t)y * nb], cut_len[y], own[y], &cuts[(size_t)x * nb], cut_len[x], &yx);
      if (!err && xy && !yx) dominated[y] = true;
    }
  bool any = false;
  for (uint32_t c = 0; c < count; c++) any |= !dominated[c];
  for (uint32_t c = 0; c < count && !err; c++)
    if ((!any || !dominated[c]) && (!*out || cs__lamport_order(&cands[c], *out) > 0)) *out = &cands[c];
  cs_electorate_free(&e);
  free(counted);
  free(museums);
  free(cuts);
  free(cut_len);
  free(dominated);
  free(own);
  return err;
}

int cs_motion_winner(const cs_motion_case_t *mc, cs_resolution_rec_t *recs, uint32_t count, const uint8_t *at,
                     const cs_resolution_rec_t **out) {
  *out = NULL;
  int err = cs_resolution_front(mc->past, at, recs, &count);
  if (!err) err = cs_resolution_pick(mc, recs, count, out);
  return err;
}

/* Membership in a causal past ---------------------------------------------- */

static int cs__mop_by_key(const void *pa, const void *pb) {
  const cs_member_op_t *a = pa, *b = pb;
  int c = memcmp(a->key, b->key, CS_KEY_LEN);
  if (c) return c;
  if (a->entry.lamport != b->entry.lamport) return a->entry.lamport < b->entry.lamport ? -1 : 1;
  if ((c = memcmp(a->entry.change, b->entry.change, CS_ID_LEN))) return c;
  return (a->entry.op_index > b->entry.op_index) - (a->entry.op_index < b->entry.op_index);
}

int cs_motion_members_init(cs_motion_members_t *m, const cs_member_op_t *ops, uint32_t count) {
  m->ops = malloc((count ? count : 1) * sizeof(*m->ops));
  m->count = 0;
  if (!m->ops) return CS_ENOMEM;
  if (count) memcpy(m->ops, ops, count * sizeof(*ops));
  m->count = count;
  qsort(m->ops, count, sizeof(*m->ops), cs__mop_by_key);
  return CS_OK;
}

void cs_motion_members_free(cs_motion_members_t *m) {
  free(m->ops);
  memset(m, 0, sizeof(*m));
}

static int cs__in_past(const cs_past_t *past, const uint8_t *at, const uint8_t author[CS_KEY_LEN], uint64_t seq,
                       bool *holds) {
  if (!at) {
    *holds = true;
    return CS_OK;
  }
  return cs_past_holds(past, at, author, seq, holds);
}

/* The key's ops are ops[first..last); walks them from the latest. */
static int cs__latest_in_past(const cs_motion_members_t *m, const cs_past_t *past, const uint8_t *at, uint32_t first,
                              uint32_t last, const cs_member_op_t **out) {
  *out = NULL;
  for (uint32_t i = last; i > first; i--) {
    bool holds;
    int err = cs__in_past(past, at, m->ops[i - 1].author, m->ops[i - 1].seq, &holds);
    if (err) return err;
    if (holds) {
      *out = &m->ops[i - 1];
      return CS_OK;
    }
  }
  return CS_OK;
}

int cs_motion_member_at(const cs_motion_members_t *m, const cs_past_t *past, const uint8_t *at,
                        const uint8_t key[CS_KEY_LEN], const cs_member_op_t **out) {
  uint32_t lo = 0, hi = m->count;
  while (lo < hi) { /* the key's first op */
    uint32_t mid = lo + (hi - lo) / 2;
    if (memcmp(m->ops[mid].key, key, CS_KEY_LEN) < 0) lo = mid + 1;
    else hi = mid;
  }
  uint32_t last = lo;
  while (last < m->count && memcmp(m->ops[last].key, key, CS_KEY_LEN) == 0) last++;
  return cs__latest_in_past(m, past, at, lo, last, out);
}

static bool cs__voting(cs_role_t role) { return role == CS_ROLE_ADMIN || role == CS_ROLE_MEMBER; }

int cs_motion_electorate(const cs_motion_members_t *m, const cs_past_t *past, const uint8_t *motion_change,
                         cs_electorate_t *out) {
  int err = CS_OK;
  memset(out, 0, sizeof(*out));
  for (uint32_t first = 0, last; first < m->count && !err; first = last) {
    for (last = first + 1; last < m->count && memcmp(m->ops[last].key, m->ops[first].key, CS_KEY_LEN) == 0; last++) {
    }
    const cs_member_op_t *op;
    if (!(err = cs__latest_in_past(m, past, motion_change, first, last, &op)) && op && cs__voting(op->entry.role))
      err = cs_electorate_add(out, op->entry.museum);
  }
  if (!err) cs_electorate_sort(out);
  else cs_electorate_free(out);
  return err;
}

/* A candidate ballot for a museum, in the order that makes the latest last. */
typedef struct cs__candidate_s {
  const char *museum;
  const cs_ballot_t *ballot;
  uint32_t index;
} cs__candidate_t;

static int cs__candidate_order(const void *pa, const void *pb) {
  const cs__candidate_t *a = pa, *b = pb;
  int c = strcmp(a->museum, b->museum);
  if (c) return c;
  if (a->ballot->lamport != b->ballot->lamport) return a->ballot->lamport < b->ballot->lamport ? -1 : 1;
  return memcmp(a->ballot->change, b->ballot->change, CS_ID_LEN);
}

int cs_motion_tally(const cs_motion_members_t *m, const cs_past_t *past, const uint8_t *at,
                    const cs_electorate_t *e, const cs_ballot_t *ballots, uint32_t count, cs_motion_tally_t *out,
                    bool *counted, char (*museums)[CS_NAME_MAX + 1]) {
  memset(out, 0, sizeof(*out));
  cs__candidate_t *cand = malloc((count ? count : 1) * sizeof(*cand));
  if (!cand) return CS_ENOMEM;
  uint32_t n = 0;
  int err = CS_OK;
  for (uint32_t i = 0; i < count && !err; i++) {
    const cs_ballot_t *b = &ballots[i];
    if (counted) counted[i] = false;
    if (museums) museums[i][0] = '\0';
    bool holds;
    /* The strict past: the resolution's own change casts no ballot it counts. */
    if (at && memcmp(b->change, at, CS_ID_LEN) == 0) continue;
    if ((err = cs__in_past(past, at, b->author, b->seq, &holds)) || !holds) continue;
    const cs_member_op_t *op;
    if ((err = cs_motion_member_at(m, past, at, b->author, &op)) || !op) continue;
    if (museums) snprintf(museums[i], sizeof(museums[i]), "%s", op->entry.museum);
    if (!cs_electorate_has(e, op->entry.museum)) continue;
    cand[n++] = (cs__candidate_t){op->entry.museum, b, i};
  }
  if (!err) qsort(cand, n, sizeof(*cand), cs__candidate_order);
  for (uint32_t i = 0; i < n && !err; i++) {
    if (i + 1 < n && strcmp(cand[i].museum, cand[i + 1].museum) == 0) continue; /* superseded */
    uint32_t choice = cand[i].ballot->choice;
    if (choice == 0) out->yes++;
    else if (choice == 1) out->no++;
    else out->abstain++;
    out->museums++;
    if (counted) counted[cand[i].index] = true;
  }
  free(cand);
  return err;
}

int cs_resolution_judge(const cs_resolution_case_t *rc, cs_motion_tally_t *tally_out, bool *counted, char *why,
                        size_t why_len) {
  cs_electorate_t e;
  cs_motion_tally_t tally;
  char hex[65];
  if (rc->pred_count) {
    snprintf(why, why_len, "it overwrites an earlier value: a resolution names no predecessor");
    return CS_EAUTH;
  }
  for (uint32_t i = 0; i < rc->prior_count; i++) {
    bool holds;
    if (memcmp(rc->prior[i].change, rc->at, CS_ID_LEN) == 0) continue;
    int err = cs_past_holds(rc->past, rc->at, rc->prior[i].author, rc->prior[i].seq, &holds);
    if (err) return err;
    if (holds) {
      cs_hex32(rc->prior[i].change, hex);
      snprintf(why, why_len, "the motion was resolved already, by change %.12s in its past", hex);
      return CS_EAUTH;
    }
  }
  int err = cs_motion_electorate(rc->members, rc->past, rc->motion_change, &e);
  if (err) return err;
  if (e.count == 0) {
    cs_electorate_free(&e);
    snprintf(why, why_len, "the motion has no electorate");
    return CS_EAUTH;
  }
  err = cs_motion_tally(rc->members, rc->past, rc->at, &e, rc->ballots, rc->ballot_count, &tally, counted, NULL);
  uint32_t voters = e.count;
  cs_electorate_free(&e);
  if (err) return err;
  if (tally_out) *tally_out = tally;
  const cs_resolution_t *r = rc->res;
  if (tally.yes != r->yes || tally.no != r->no || tally.abstain != r->abstain) {
    snprintf(why, why_len, "it claims %llu yes, %llu no, %llu abstain but the ballots in its past say %llu, %llu, %llu",
             (unsigned long long)r->yes, (unsigned long long)r->no, (unsigned long long)r->abstain,
             (unsigned long long)tally.yes, (unsigned long long)tally.no, (unsigned long long)tally.abstain);
    return CS_EAUTH;
  }
  if (r->adopted != cs_quorum_met(rc->rule, voters, tally.yes)) {
    snprintf(why, why_len, "it says %s, but %llu yes of %u museums %s the %s rule", r->adopted ? "adopted" : "rejected",
             (unsigned long long)tally.yes, voters, r->adopted ? "does not meet" : "meets", rc->rule);
    return CS_EAUTH;
  }
  return CS_OK;
}

/* Governed effects --------------------------------------------------------- */

void cs_decision_scan_add(cs_decision_scan_t *scan, const cs_change_t *dep, const char *effect, bool proposer,
                          bool resolver) {
  cs_op_iter_t it;
  cs_op_t *op = malloc(sizeof(*op));
  if (!op || cs_op_iter_init(&it, dep->payload_bytes) != CS_OK) {
    free(op);
    return;
  }
  uint64_t created[64] = {0};
  for (uint32_t index = 0; cs_op_iter_next(&it, op) == CS_OK; index++) {
    if (op->type == CS_OP_CREATE && index < 64) created[index] = op->obj_type;
    if (op->type != CS_OP_SET) continue;
    if (scan->motion_count == CS_CHANGE_DEPS_MAX || scan->adopted_count == CS_CHANGE_DEPS_MAX) break;
    char text[CS_GOVERNED_EFFECT_MAX + 2] = "";
    if (proposer && op->obj_local && op->obj_index < 64 && created[op->obj_index] == CS_OBJ_MOTION &&
        op->field == CS_F_MOTION_EFFECT && cs_value_str(op->value.ptr, op->value.len, text, sizeof(text)) &&
        strcmp(text, effect) == 0)
      cs_op_id(dep->id, op->obj_index, scan->motions[scan->motion_count++]);
    cs_resolution_t res;
    if (resolver && !op->obj_local && op->field == CS_F_MOTION_RESOLUTION && cs_resolution_decode(op->value, &res) == CS_OK &&
        res.adopted)
      memcpy(scan->adopted[scan->adopted_count++], op->obj, CS_ID_LEN);
  }
  free(op);
}

/* Audit bundles ----------------------------------------------------------- */

static int cs__mop_order(const void *pa, const void *pb) {
  const cs_member_entry_t *a = &((const cs_member_op_t *)pa)->entry, *b = &((const cs_member_op_t *)pb)->entry;
  if (a->lamport != b->lamport) return a->lamport < b->lamport ? -1 : 1;
  int c = memcmp(a->change, b->change, CS_ID_LEN);
  if (c) return c;
  return a->op_index < b->op_index ? -1 : a->op_index > b->op_index;
}

/* A key the bundle shows forked, with the lowest forked seq. */
typedef struct cs__fork_s {
  uint8_t author[CS_KEY_LEN];
  uint64_t seq;
} cs__fork_t;

/* The bundle's side of the membership rules (core/members.h). */
typedef struct cs__bundle_rules_s {
  const cs_change_t *changes;
  uint32_t count;
  const cs_change_t **by_id; /* the changes sorted by id, for lookups */
  cs_member_table_t *table;  /* the replay's, as far as it got */
  bool *elsewhere; /* per change: an admin removal whose decision is outside the bundle */
  cs__fork_t *forks; /* sorted by author */
  uint32_t fork_count;
  cs_past_mem_t *mem; /* the causal past of each change, as far as the bundle shows it */
  cs_past_t past;
  bool *complete; /* per change (same index as `changes`): the bundle holds its whole causal past */
  /* The audited motion, and its valid resolutions once judged (a second
   * replay reads them): an admin's removal carrying out the audited motion
   * is judged on the winner in its past, as on a node. */
  const uint8_t *audited;
  bool consulted; /* a removal carried out the audited motion */
  const cs_resolution_rec_t *decided;
  uint32_t decided_count;
  cs_motion_case_t decided_case;
} cs__bundle_rules_t;

static int cs__by_id(const void *pa, const void *pb) {
  const cs_change_t *a = *(const cs_change_t *const *)pa, *b = *(const cs_change_t *const *)pb;
  return memcmp(a->id, b->id, CS_ID_LEN);
}

static const cs_change_t *cs__bundle_find(const cs__bundle_rules_t *b, const uint8_t id[CS_ID_LEN]) {
  cs_change_t key;
  memcpy(key.id, id, CS_ID_LEN);
  const cs_change_t *key_ptr = &key;
  const cs_change_t *const *found = bsearch(&key_ptr, b->by_id, b->count, sizeof(*b->by_id), cs__by_id);
  return found ? *found : NULL;
}

static int cs__by_lamport(const void *pa, const void *pb) {
  const cs_change_t *a = *(const cs_change_t *const *)pa, *b = *(const cs_change_t *const *)pb;
  return (a->lamport > b->lamport) - (a->lamport < b->lamport);
}

static int cs__by_author_seq(const void *pa, const void *pb) {
  const cs_change_t *a = *(const cs_change_t *const *)pa, *b = *(const cs_change_t *const *)pb;
  int c = memcmp(a->author, b->author, CS_KEY_LEN);
  if (c) return c;
  return (a->seq > b->seq) - (a->seq < b->seq);
}

/* Indexes the bundle once, before the replay: its changes by id, and every
 * key of which it holds two different changes with the same seq, with the
 * lowest such seq (the key is frozen from there). */
static int cs__bundle_index(cs__bundle_rules_t *b) {
  const cs_change_t **sorted = malloc((b->count ? b->count : 1) * sizeof(*sorted));
  b->by_id = malloc((b->count ? b->count : 1) * sizeof(*b->by_id));
  b->forks = calloc(b->count ? b->count : 1, sizeof(*b->forks));
  if (!sorted || !b->by_id || !b->forks) {
    free(sorted);
    return CS_ENOMEM;
  }
  for (uint32_t i = 0; i < b->count; i++) sorted[i] = b->by_id[i] = &b->changes[i];
  qsort(b->by_id, b->count, sizeof(*b->by_id), cs__by_id);
  qsort(sorted, b->count, sizeof(*sorted), cs__by_author_seq);
  for (uint32_t i = 1; i < b->count; i++) {
    const cs_change_t *x = sorted[i - 1], *y = sorted[i];
    if (cs__by_author_seq(&x, &y) != 0 || memcmp(x->id, y->id, CS_ID_LEN) == 0) continue;
    /* Sorted by seq, so a key's first fork is its lowest. */
    if (b->fork_count && memcmp(b->forks[b->fork_count - 1].author, x->author, CS_KEY_LEN) == 0) continue;
    memcpy(b->forks[b->fork_count].author, x->author, CS_KEY_LEN);
    b->forks[b->fork_count++].seq = x->seq;
  }
  /* The causal past, and which changes the bundle shows all of: those
   * whose prev and deps it holds, each complete itself. Parents come first
   * in lamport order. */
  b->complete = calloc(b->count ? b->count : 1, sizeof(*b->complete));
  b->elsewhere = calloc(b->count ? b->count : 1, sizeof(*b->elsewhere));
  if (!b->complete || !b->elsewhere) {
    free(sorted);
    return CS_ENOMEM;
  }
  for (uint32_t i = 0; i < b->count; i++) sorted[i] = &b->changes[i];
  qsort(sorted, b->count, sizeof(*sorted), cs__by_lamport);
  for (uint32_t i = 0; i < b->count; i++) {
    const cs_change_t *c = sorted[i];
    bool whole = true;
    for (uint32_t d = 0; d <= c->dep_count && whole; d++) {
      const uint8_t *parent = d < c->dep_count ? c->deps[d] : (c->has_prev ? c->prev : NULL);
      if (!parent) continue;
      const cs_change_t *p = cs__bundle_find(b, parent);
      whole = p && b->complete[p - b->changes];
    }
    b->complete[c - b->changes] = whole;
  }
  int err = cs_past_mem_build((const cs_change_t *const *)sorted, b->count, &b->mem);
  free(sorted);
  if (err) return err;
  b->past = cs_past_mem_oracle(b->mem);
  return CS_OK;
}

/* A member op's cutoff: its key's highest seq in the change's causal past
 * when the bundle holds all of that past, as a node computes it. Otherwise
 * the bundle shows only part of it, and the written cutoff (what the
 * writer's node knew) is taken, never below what the bundle shows. */
static int cs__bundle_cutoff(void *ctx, const uint8_t change[CS_ID_LEN], const uint8_t key[CS_KEY_LEN],
                             uint64_t written, uint64_t *cutoff) {
  const cs__bundle_rules_t *b = ctx;
  const cs_change_t *c = cs__bundle_find(b, change);
  int err = cs_past_seq(&b->past, change, key, cutoff);
  if (err) return err;
  if (c && !b->complete[c - b->changes] && written > *cutoff) *cutoff = written;
  return CS_OK;
}

static int cs__bundle_past_holds(void *ctx, const uint8_t change[CS_ID_LEN], const uint8_t author[CS_KEY_LEN],
                                 uint64_t seq, bool *holds) {
  const cs__bundle_rules_t *b = ctx;
  int err = cs_past_holds(&b->past, change, author, seq, holds);
  if (err == CS_ENOTFOUND) *holds = false;
  return err == CS_ENOTFOUND ? CS_OK : err;
}

static int cs__fork_by_author(const void *key, const void *elem) {
  return memcmp(key, ((const cs__fork_t *)elem)->author, CS_KEY_LEN);
}

static uint64_t cs__bundle_frozen_from(void *ctx, const uint8_t author[CS_KEY_LEN]) {
  const cs__bundle_rules_t *b = ctx;
  const cs__fork_t *fork = bsearch(author, b->forks, b->fork_count, sizeof(*b->forks), cs__fork_by_author);
  return fork ? fork->seq : 0;
}

/* An admin's removal is checked against its motion and resolution when the
 * bundle holds them. When the motion is the audited one, whose resolutions
 * verify judges, the winner among its valid resolutions in the removal's
 * past must say adopted, as on a node (cs_motion_winner): the first replay,
 * before they are judged, takes an adopted resolution in the deps, and a
 * second replay the winner. For another motion the bundle need not hold
 * its ballots, so an adopted resolution by an admin in the deps is taken.
 * When a dep is outside the bundle, the removal is taken as the club took
 * it and counted, so that `verify` says so. */
static bool cs__bundle_decision_adopted(void *ctx, const uint8_t change[CS_ID_LEN], const char *effect,
                                        uint8_t motion[CS_ID_LEN]) {
  cs__bundle_rules_t *b = ctx;
  const cs_change_t *c = cs__bundle_find(b, change);
  cs_decision_scan_t *scan = calloc(1, sizeof(*scan));
  memset(motion, 0, CS_ID_LEN);
  if (!c || !scan) {
    free(scan);
    return false;
  }
  bool missing = false;
  for (uint32_t i = 0; i < c->dep_count; i++) {
    const cs_change_t *d = cs__bundle_find(b, c->deps[i]);
    if (!d) {
      missing = true;
      continue;
    }
    cs_member_t *m = cs_member_table_find(b->table, d->author, false);
    cs_role_t role = m ? cs_member_role_at(m, d->seq) : CS_ROLE_NONE;
    cs_decision_scan_add(scan, d, effect, role == CS_ROLE_ADMIN || role == CS_ROLE_MEMBER, role == CS_ROLE_ADMIN);
  }
  bool adopted = false;
  for (uint32_t i = 0; i < scan->motion_count && !adopted; i++) {
    const uint8_t *m = scan->motions[i];
    if (b->audited && memcmp(m, b->audited, CS_ID_LEN) == 0 && b->decided) {
      cs_resolution_rec_t *recs = malloc((b->decided_count ? b->decided_count : 1) * sizeof(*recs));
      const cs_resolution_rec_t *win = NULL;
      if (recs) memcpy(recs, b->decided, b->decided_count * sizeof(*recs));
      adopted = recs && cs_motion_winner(&b->decided_case, recs, b->decided_count, change, &win) == CS_OK && win &&
                win->res.adopted;
      free(recs);
    } else {
      for (uint32_t j = 0; j < scan->adopted_count && !adopted; j++)
        adopted = memcmp(m, scan->adopted[j], CS_ID_LEN) == 0;
    }
    if (b->audited && memcmp(m, b->audited, CS_ID_LEN) == 0) b->consulted = true;
    if (adopted) memcpy(motion, m, CS_ID_LEN);
  }
  free(scan);
  if (!adopted && missing) {
    b->elsewhere[c - b->changes] = true; /* once, however often the replay asks */
    return true;
  }
  return adopted;
}

/* The club's membership, replayed from the genesis by the same rules as a
 * node's (core/members.c). A member change the rules keep out is counted,
 * not fatal: a node keeps it out too, one past CS_MEMBER_ENTRIES_MAX
 * included (store/ingest.c). */
static int cs__replay(cs_member_op_t *ops, uint32_t n, cs__bundle_rules_t *b, cs_member_replay_t *replay,
                      cs_audit_report_t *rep, uint8_t *applied) {
  qsort(ops, n, sizeof(*ops), cs__mop_order);
  const cs_member_rules_t rules = {cs__bundle_frozen_from, cs__bundle_decision_adopted, cs__bundle_cutoff,
                                   cs__bundle_past_holds, b};
  b->table = &replay->table;
  int *validity = malloc((n ? n : 1) * sizeof(*validity));
  int err = validity ? cs_member_replay_all(replay, ops, n, &rules, validity, NULL, NULL) : CS_ENOMEM;
  rep->decisions_elsewhere = 0;
  for (uint32_t at = 0; at < n && !err; at++) {
    applied[at] = validity[at] == CS_OK;
    if (at > 0 && memcmp(ops[at].entry.change, ops[at - 1].entry.change, CS_ID_LEN) == 0) continue;
    const cs_change_t *c = cs__bundle_find(b, ops[at].entry.change);
    if (validity[at] != CS_OK) rep->members_kept_out++;
    else if (c && b->elsewhere[c - b->changes]) rep->decisions_elsewhere++;
  }
  free(validity);
  return err;
}

static cs_role_t cs__role(cs_member_table_t *t, const cs_change_t *c, char *museum, size_t museum_len) {
  cs_member_t *m = cs_member_table_find(t, c->author, false);
  const cs_member_entry_t *latest = m ? cs_member_latest(m) : NULL;
  if (museum) snprintf(museum, museum_len, "%s", latest ? latest->museum : "an unknown key");
  return m ? cs_member_role_at(m, c->seq) : CS_ROLE_NONE;
}

static bool cs__voter(cs_role_t role) { return role == CS_ROLE_ADMIN || role == CS_ROLE_MEMBER; }

/* Reads a str or status value into out. */
static void cs__text(cs_span_t value, char *out, size_t out_len) {
  if (!cs_value_str(value.ptr, value.len, out, out_len)) out[0] = '\0';
}

/* One vote entry: an op that creates a vote or sets its choice (a set on a
 * vote created in the same change joins that entry). */
/* Whether a payload holds a genesis op (after cs_payload_check refused it). */
static bool cs__has_genesis_op(cs_span_t payload) {
  cs_op_iter_t it;
  cs_op_t *op = malloc(sizeof(*op));
  bool found = false;
  if (op && cs_op_iter_init(&it, payload) == CS_OK)
    while (!found && cs_op_iter_next(&it, op) == CS_OK) found = op->type == CS_OP_GENESIS;
  free(op);
  return found;
}

typedef struct cs__vote_s {
  const cs_change_t *change;
  uint8_t object[CS_ID_LEN];
  bool has_parent;
  uint8_t parent[CS_ID_LEN];
  uint32_t choice;
  bool has_choice;
  bool inherited; /* parent taken from the entry that created the vote (cs__ballots_collect) */
} cs__vote_t;

/* Doubles an array of `*cap` items of `size` bytes (64 at first); NULL when
 * out of memory, the array then left as it was. Callers check their bound
 * before calling. */
static void *cs__grow(void *items, uint32_t *cap, size_t size) {
  uint32_t grown_cap = *cap ? *cap * 2 : 64;
  void *grown = realloc(items, (size_t)grown_cap * size);
  if (grown) *cap = grown_cap;
  return grown;
}

static int cs__vote_by_object(const void *pa, const void *pb) {
  const cs__vote_t *a = *(const cs__vote_t *const *)pa, *b = *(const cs__vote_t *const *)pb;
  return memcmp(a->object, b->object, CS_ID_LEN);
}

/* A resolution op of the bundle. */
typedef struct cs__res_s {
  const cs_change_t *change;
  uint8_t motion[CS_ID_LEN];
  uint32_t pred_count;
  cs_resolution_t res;
} cs__res_t;

static int cs__res_order(const void *pa, const void *pb) {
  const cs__res_t *a = pa, *b = pb;
  if (a->change->lamport != b->change->lamport) return a->change->lamport < b->change->lamport ? -1 : 1;
  int c = memcmp(a->change->id, b->change->id, CS_ID_LEN);
  return c ? c : (a > b) - (a < b);
}

/* Whether the whole causal past of `c` is in the bundle: a resolution's
 * count is checked against its past, so a change missing from it (a ballot
 * dropped) leaves the count unverifiable. */
static int cs__past_whole(const cs__bundle_rules_t *b, const cs_change_t *c, char *why, size_t why_len) {
  uint8_t *seen = calloc(b->count ? b->count : 1, 1);
  const cs_change_t **stack = malloc((b->count ? b->count : 1) * sizeof(*stack));
  int err = seen && stack ? CS_OK : CS_ENOMEM;
  uint32_t top = 0;
  if (!err) {
    stack[top++] = c;
    seen[c - b->changes] = 1;
  }
  while (top && !err) {
    const cs_change_t *x = stack[--top];
    for (uint32_t i = 0; i <= x->dep_count && !err; i++) {
      const uint8_t *parent = i < x->dep_count ? x->deps[i] : (x->has_prev ? x->prev : NULL);
      if (!parent) continue;
      const cs_change_t *p = cs__bundle_find(b, parent);
      if (!p) {
        char hex[65];
        cs_hex32(parent, hex);
        snprintf(why, why_len,
                 "change %.12s, in the causal past of the resolution (a ballot it counts, or what led to one), is "
                 "missing from the bundle: its count cannot be checked",
                 hex);
        err = CS_ENOTFOUND;
      } else if (!seen[p - b->changes]) {
        seen[p - b->changes] = 1;
        stack[top++] = p;
      }
    }
  }
  free(seen);
  free(stack);
  return err;
}

/* The motion's ballots among the vote entries, each as a node treats it: by
 * a voting member (else the bundle does not verify), not by a key frozen by
 * a fork the bundle shows (then not a ballot), on a vote its author created,
 * one per motion in a change. Fills rep->votes with every ballot. */
static int cs__ballots_collect(cs__vote_t *votes, uint32_t vote_count, cs_audit_report_t *rep,
                               const cs__bundle_rules_t *rules, cs_member_table_t *table, cs_ballot_t **out,
                               uint32_t **out_vote, uint32_t *out_count) {
  const cs__vote_t **created = malloc((vote_count ? vote_count : 1) * sizeof(*created));
  rep->votes = calloc(vote_count ? vote_count : 1, sizeof(*rep->votes));
  *out = calloc(vote_count ? vote_count : 1, sizeof(**out));
  *out_vote = calloc(vote_count ? vote_count : 1, sizeof(**out_vote));
  *out_count = 0;
  if (!created || !rep->votes || !*out || !*out_vote) {
    free(created);
    return CS_ENOMEM;
  }
  uint32_t created_count = 0;
  int err = CS_OK;
  char hex[65];
  /* A second replay collects again from the entries as they were read. */
  for (uint32_t i = 0; i < vote_count; i++)
    if (votes[i].inherited) votes[i].has_parent = votes[i].inherited = false;
  for (uint32_t i = 0; i < vote_count; i++)
    if (votes[i].has_parent) created[created_count++] = &votes[i];
  qsort(created, created_count, sizeof(*created), cs__vote_by_object);
  bool *creator_ok = calloc(vote_count ? vote_count : 1, sizeof(*creator_ok));
  if (!creator_ok) err = CS_ENOMEM;
  for (uint32_t i = 0; i < vote_count && !err; i++) {
    cs__vote_t *v = &votes[i];
    creator_ok[i] = v->has_parent;
    if (!v->has_parent) {
      const cs__vote_t *key = v;
      const cs__vote_t *const *found = bsearch(&key, created, created_count, sizeof(*created), cs__vote_by_object);
      if (found) {
        v->has_parent = v->inherited = true;
        memcpy(v->parent, (*found)->parent, CS_ID_LEN);
        /* A vote is written only by the key that created it. */
        creator_ok[i] = memcmp((*found)->change->author, v->change->author, CS_KEY_LEN) == 0;
      }
    }
  }
  for (uint32_t i = 0; i < vote_count && !err; i++) {
    cs__vote_t *v = &votes[i];
    if (!v->has_parent || memcmp(v->parent, rep->motion, CS_ID_LEN) != 0 || !v->has_choice) continue;
    cs_audit_vote_t *o = &rep->votes[rep->vote_count];
    cs_role_t role = cs__role(table, v->change, o->museum, sizeof(o->museum));
    cs_hex32(v->change->id, hex);
    if (!cs__voter(role)) {
      snprintf(rep->why, sizeof(rep->why), "ballot %.12s is by %s, which was not a voting member when it voted", hex,
               o->museum);
      err = CS_EAUTH;
      break;
    }
    memcpy(o->key, v->change->author, CS_KEY_LEN);
    memcpy(o->change, v->change->id, CS_ID_LEN);
    o->lamport = v->change->lamport;
    o->choice = v->choice;
    rep->vote_count++;
    /* Not a ballot on a node: a frozen key's, one on another's vote, or
     * one of two in a change (entries of a change are adjacent). */
    uint64_t frozen = cs__bundle_frozen_from((void *)rules, v->change->author);
    bool twice = false;
    for (uint32_t k = i; k-- > 0 && votes[k].change == v->change;)
      twice |= votes[k].has_parent && memcmp(votes[k].parent, rep->motion, CS_ID_LEN) == 0 && votes[k].has_choice;
    for (uint32_t k = i + 1; k < vote_count && votes[k].change == v->change; k++)
      twice |= votes[k].has_parent && memcmp(votes[k].parent, rep->motion, CS_ID_LEN) == 0 && votes[k].has_choice;
    if ((frozen && v->change->seq >= frozen) || !creator_ok[i] || twice) continue;
    cs_ballot_t *b = &(*out)[*out_count];
    memcpy(b->change, v->change->id, CS_ID_LEN);
    memcpy(b->author, v->change->author, CS_KEY_LEN);
    b->seq = v->change->seq;
    b->lamport = v->change->lamport;
    b->choice = v->choice;
    (*out_vote)[(*out_count)++] = rep->vote_count - 1;
  }
  free(creator_ok);
  free(created);
  return err;
}

int cs_audit_verify(const uint8_t club[CS_ID_LEN], const cs_span_t *changes, uint32_t count,
                    cs_audit_report_t *rep) {
  memset(rep, 0, sizeof(*rep));
  if (count > CS_AUDIT_CHANGES_MAX) {
    snprintf(rep->why, sizeof(rep->why),
             "the bundle holds more than %d changes, the most verify reads (CS_AUDIT_CHANGES_MAX)",
             CS_AUDIT_CHANGES_MAX);
    return CS_ETOOBIG;
  }
  cs_change_t *cs = calloc(count ? count : 1, sizeof(*cs));
  cs_member_op_t *mops = NULL;
  cs__vote_t *votes = NULL;
  cs_op_t *op = malloc(sizeof(*op));
  cs_member_replay_t replay;
  memset(&replay, 0, sizeof(replay));
  cs_member_table_t *table = &replay.table;
  uint32_t mop_count = 0, mops_cap = 0, vote_count = 0, votes_cap = 0;
  const cs_change_t *motion = NULL, *genesis = NULL;
  cs__res_t *res_ops = NULL;
  uint32_t res_count = 0, res_cap = 0;
  uint8_t *applied = NULL;
  cs_member_op_t *kept_ops = NULL; /* the applied member ops, in the replay's order */
  /* The first replay's valid resolutions, members and ballots, which a
   * second replay reads (cs__bundle_decision_adopted). */
  cs_resolution_rec_t *decided = NULL;
  cs_motion_members_t decided_members = {NULL, 0};
  cs_ballot_t *decided_ballots = NULL;
  cs_motion_members_t members = {NULL, 0};
  cs_ballot_t *ballots = NULL;
  uint32_t *ballot_vote = NULL; /* the report's vote of each ballot */
  uint32_t ballot_count = 0;
  cs__bundle_rules_t rules = {.changes = cs, .count = count};
  int err = cs && op ? CS_OK : CS_ENOMEM;
  char hex[65];

  /* 1. Every change is intact (id, payload hash, signature) and its payload
   * one a node accepts; exactly one genesis, the club's own; every other
   * change in that club. A genesis is its club's id, so a second one, or
   * another club's, could only found another club. */
  memcpy(rep->club, club, CS_ID_LEN);
  char club_hex[65];
  cs_hex32(club, club_hex);
  for (uint32_t i = 0; i < count && !err; i++) {
    if ((err = cs_change_parse_verified(changes[i], &cs[i]))) {
      snprintf(rep->why, sizeof(rep->why), "change %u of the bundle is altered or damaged: %s", i + 1,
               cs_strerror(err));
      err = CS_EHASH;
    } else if ((err = cs_payload_check(cs[i].payload_bytes, !cs[i].has_club))) {
      if (cs[i].has_club && cs__has_genesis_op(cs[i].payload_bytes))
        snprintf(rep->why, sizeof(rep->why),
                 "change %u carries a genesis op but is no genesis: only the club's genesis founds it", i + 1);
      else
        snprintf(rep->why, sizeof(rep->why), "change %u of the bundle has a payload a node refuses: %s", i + 1,
                 cs_strerror(err));
      err = CS_EFORMAT;
    } else if (!cs[i].has_club && genesis) {
      snprintf(rep->why, sizeof(rep->why),
               "the bundle holds a second genesis (changes %u and %u): an audit bundle holds its own club's only",
               (uint32_t)(genesis - cs) + 1, i + 1);
      err = CS_ECLUB;
    } else if (!cs[i].has_club && memcmp(cs[i].id, club, CS_ID_LEN) != 0) {
      cs_hex32(cs[i].id, hex);
      snprintf(rep->why, sizeof(rep->why),
               "change %u is the genesis of club %.12s, but the bundle's header names club %.12s", i + 1, hex,
               club_hex);
      err = CS_ECLUB;
    } else if (!cs[i].has_club) {
      genesis = &cs[i];
    } else if (memcmp(cs[i].club, club, CS_ID_LEN) != 0) {
      cs_hex32(cs[i].club, hex);
      snprintf(rep->why, sizeof(rep->why), "change %u belongs to club %.12s, but the bundle's header names club %.12s",
               i + 1, hex, club_hex);
      err = CS_ECLUB;
    }
  }
  if (!err && !genesis) {
    snprintf(rep->why, sizeof(rep->why),
             "the genesis of club %.12s is missing, so its founder and membership cannot be checked", club_hex);
    err = CS_ENOTFOUND;
  }
  if (!err) memcpy(rep->founder, genesis->author, CS_KEY_LEN);

  /* 2. Collect member ops, the motion, votes and the resolution. Each list
   * grows with the bundle, up to its bound. */
  for (uint32_t i = 0; i < count && !err; i++) {
    cs_op_iter_t it;
    if ((err = cs_op_iter_init(&it, cs[i].payload_bytes))) {
      snprintf(rep->why, sizeof(rep->why), "change %u of the bundle has a malformed payload: %s", i + 1,
               cs_strerror(err));
      break;
    }
    uint64_t created_types[64] = {0};
    uint32_t change_votes = vote_count; /* this change's vote entries start here */
    for (uint32_t index = 0; !err; index++) {
      int rc = cs_op_iter_next(&it, op);
      if (rc == CS_ENOTFOUND) break;
      if ((err = rc)) {
        snprintf(rep->why, sizeof(rep->why), "change %u of the bundle has a malformed payload: %s", i + 1,
                 cs_strerror(err));
        break;
      }
      uint8_t op_id[CS_ID_LEN], obj[CS_ID_LEN];
      cs_op_id(cs[i].id, index, op_id);
      if (op->type == CS_OP_CREATE && index < 64) created_types[index] = op->obj_type;
      if (op->obj_local) cs_op_id(cs[i].id, op->obj_index, obj);
      else memcpy(obj, op->obj, CS_ID_LEN);
      if (op->type == CS_OP_GENESIS || op->type == CS_OP_MEMBER) {
        if (mop_count == CS_AUDIT_MEMBER_OPS_MAX) {
          snprintf(rep->why, sizeof(rep->why),
                   "the bundle holds more than %d member ops, the most verify reads (CS_AUDIT_MEMBER_OPS_MAX)",
                   CS_AUDIT_MEMBER_OPS_MAX);
          err = CS_ETOOBIG;
          break;
        }
        if (mop_count == mops_cap) {
          cs_member_op_t *grown = cs__grow(mops, &mops_cap, sizeof(*mops));
          if (!grown) {
            err = CS_ENOMEM;
            break;
          }
          mops = grown;
        }
        cs_member_op_t *m = &mops[mop_count++];
        memset(m, 0, sizeof(*m));
        memcpy(m->author, cs[i].author, CS_KEY_LEN);
        m->seq = cs[i].seq;
        m->founder = op->type == CS_OP_GENESIS;
        memcpy(m->key, m->founder ? cs[i].author : op->key, CS_KEY_LEN);
        cs_span_t museum = m->founder ? op->value : op->name;
        snprintf(m->entry.museum, sizeof(m->entry.museum), "%.*s", (int)museum.len, (const char *)museum.ptr);
        m->entry.role = m->founder ? CS_ROLE_ADMIN : (cs_role_t)op->role;
        m->entry.cutoff = m->founder ? 0 : op->cutoff;
        m->entry.lamport = cs[i].lamport;
        memcpy(m->entry.change, cs[i].id, CS_ID_LEN);
        m->entry.op_index = index;
        if (m->founder) {
          snprintf(rep->club_name, sizeof(rep->club_name), "%.*s", (int)op->name.len, (const char *)op->name.ptr);
          snprintf(rep->founder_museum, sizeof(rep->founder_museum), "%s", m->entry.museum);
        }
        continue;
      }
      bool vote_create = op->type == CS_OP_CREATE && op->obj_type == CS_OBJ_VOTE;
      /* Field numbers are per type: a set of field 1 is a vote's choice
       * unless it is on an object of another type created here. */
      bool vote_set = op->type == CS_OP_SET && op->field == CS_F_VOTE_CHOICE &&
                      (!op->obj_local || created_types[op->obj_index] == CS_OBJ_VOTE);
      cs__vote_t *v = NULL;
      if (vote_set) {
        /* A vote's choice: on a vote created in this change, or an entry of its own. */
        for (uint32_t k = change_votes; k < vote_count; k++)
          if (memcmp(votes[k].object, obj, CS_ID_LEN) == 0) v = &votes[k];
      }
      if ((vote_create || vote_set) && !v) {
        if (vote_count == CS_AUDIT_VOTE_ENTRIES_MAX) {
          snprintf(rep->why, sizeof(rep->why),
                   "the bundle holds more than %d vote entries, the most verify reads (CS_AUDIT_VOTE_ENTRIES_MAX)",
                   CS_AUDIT_VOTE_ENTRIES_MAX);
          err = CS_ETOOBIG;
          break;
        }
        if (vote_count == votes_cap) {
          cs__vote_t *grown = cs__grow(votes, &votes_cap, sizeof(*votes));
          if (!grown) {
            err = CS_ENOMEM;
            break;
          }
          votes = grown;
        }
        v = &votes[vote_count++];
        memset(v, 0, sizeof(*v));
        v->change = &cs[i];
        memcpy(v->object, vote_create ? op_id : obj, CS_ID_LEN);
      }
      if (op->type == CS_OP_CREATE && op->obj_type == CS_OBJ_MOTION) {
        /* The audited motion is the first the bundle creates (`audit-bundle`
         * writes it first); others are there as part of a causal past. */
        if (!motion) {
          motion = &cs[i];
          memcpy(rep->motion, op_id, CS_ID_LEN);
        }
      } else if (vote_create) {
        v->has_parent = true;
        memcpy(v->parent, op->parent, CS_ID_LEN);
        if (op->obj_local) cs_op_id(cs[i].id, op->obj_index, v->parent);
      } else if (op->type == CS_OP_SET && op->obj_local && created_types[op->obj_index] == CS_OBJ_MOTION) {
        if (motion != &cs[i] || memcmp(obj, rep->motion, CS_ID_LEN) != 0) continue;
        if (op->field == CS_F_MOTION_TEXT) cs__text(op->value, rep->text, sizeof(rep->text));
        if (op->field == CS_F_MOTION_EFFECT) cs__text(op->value, rep->effect, sizeof(rep->effect));
        if (op->field == CS_F_MOTION_QUORUM) cs__text(op->value, rep->quorum, sizeof(rep->quorum));
      } else if (op->type == CS_OP_SET && op->field == CS_F_MOTION_RESOLUTION && !op->obj_local) {
        /* A resolution of some motion; which one is known once the bundle's
         * motion is found. */
        if (res_count == res_cap) {
          cs__res_t *grown = cs__grow(res_ops, &res_cap, sizeof(*res_ops));
          if (!grown) {
            err = CS_ENOMEM;
            break;
          }
          res_ops = grown;
        }
        cs__res_t *r = &res_ops[res_count++];
        memset(r, 0, sizeof(*r));
        r->change = &cs[i];
        memcpy(r->motion, obj, CS_ID_LEN);
        r->pred_count = op->ref_count;
        if (cs_resolution_decode(op->value, &r->res) != CS_OK) {
          snprintf(rep->why, sizeof(rep->why), "the resolution is malformed");
          err = CS_EFORMAT;
        }
      } else if (vote_set) {
        char choice[16];
        cs__text(op->value, choice, sizeof(choice));
        for (uint32_t k = 0; cs_vote_choices[k]; k++)
          if (strcmp(choice, cs_vote_choices[k]) == 0) v->choice = k, v->has_choice = true;
      }
    }
  }
  if (!err && !motion) {
    snprintf(rep->why, sizeof(rep->why), "the bundle holds no motion");
    err = CS_ENOTFOUND;
  }

  /* 3. Membership, replayed from the genesis; the causal past of every
   * change, as far as the bundle shows it. */
  if (!err) {
    rep->members = mop_count;
    applied = calloc(mop_count ? mop_count : 1, 1);
    kept_ops = malloc((mop_count ? mop_count : 1) * sizeof(*kept_ops));
    rules = (cs__bundle_rules_t){.changes = cs, .count = count, .audited = rep->motion};
    err = applied && kept_ops ? cs__bundle_index(&rules) : CS_ENOMEM;
  }
  /* The causal past of every change, as far as the bundle shows it: the
   * one the membership replay reads. */
  cs_past_t past = rules.mem ? rules.past : (cs_past_t){NULL, NULL};
  cs_resolution_rec_t *valid = NULL;
  uint32_t valid_count = 0, invalid_count = 0;
  char first_why[sizeof(rep->why)] = "";
  for (int pass = 0; !err; pass++) {
    err = cs__replay(mops, mop_count, &rules, &replay, rep, applied);
    uint32_t kept = 0;
    for (uint32_t i = 0; i < mop_count && !err; i++)
      if (applied[i]) kept_ops[kept++] = mops[i];
    if (!err) err = cs_motion_members_init(&members, kept_ops, kept);
    /* The forks the bundle shows freeze their keys, for ballots as for
     * member changes. */
    if (!err) err = cs__ballots_collect(votes, vote_count, rep, &rules, table, &ballots, &ballot_vote, &ballot_count);
    if (!err && !cs__voter(cs__role(table, motion, rep->proposer, sizeof(rep->proposer)))) {
      snprintf(rep->why, sizeof(rep->why), "the motion's author (%s) was not a voting member", rep->proposer);
      err = CS_EAUTH;
    }
    if (!err && !rep->quorum[0]) {
      snprintf(rep->why, sizeof(rep->why), "the motion has no quorum rule");
      err = CS_EFORMAT;
    }
    if (!err) err = cs_motion_electorate(&members, &past, motion->id, &rep->electorate);
    if (!err && rep->electorate.count == 0) {
      snprintf(rep->why, sizeof(rep->why), "the motion has no electorate: no voting member in its past");
      err = CS_EAUTH;
    }

    /* 4. The resolutions of this motion, judged in (lamport, id) order by the
     * rule a node applies (cs_resolution_judge): a later one with an earlier
     * valid one in its past is invalid, as on a node. The winner among the
     * valid ones is the motion's outcome. Each one's causal past must be
     * whole in the bundle, or its count could not be checked. */
    if (!err && res_count) {
      valid = malloc(res_count * sizeof(*valid));
      if (!valid) err = CS_ENOMEM;
      qsort(res_ops, res_count, sizeof(*res_ops), cs__res_order);
    }
    for (uint32_t i = 0; i < res_count && !err; i++) {
      cs__res_t *r = &res_ops[i];
      if (memcmp(r->motion, rep->motion, CS_ID_LEN) != 0) continue; /* another motion's */
      char why[400] = "", who[CS_NAME_MAX + 1];
      int verdict = CS_OK;
      uint64_t frozen = cs__bundle_frozen_from(&rules, r->change->author);
      if (frozen && r->change->seq >= frozen) {
        snprintf(why, sizeof(why), "its author forked at seq %llu, so its changes from there on count nowhere",
                 (unsigned long long)frozen);
        verdict = CS_EFORK;
      } else if (cs__role(table, r->change, who, sizeof(who)) != CS_ROLE_ADMIN) {
        snprintf(why, sizeof(why), "the resolution's author (%s) was not an admin", who);
        verdict = CS_EAUTH;
      } else if ((verdict = cs__past_whole(&rules, r->change, why, sizeof(why)))) {
        if (verdict == CS_ENOMEM) {
          err = verdict;
          break;
        }
      } else {
        cs_resolution_case_t rc = {&past,   &members,    motion->id,    rep->quorum, ballots,  ballot_count,
                                   valid,   valid_count, r->change->id, &r->res,     r->pred_count};
        verdict = cs_resolution_judge(&rc, NULL, NULL, why, sizeof(why));
        if (verdict == CS_ENOMEM) {
          err = verdict;
          break;
        }
      }
      if (verdict) {
        invalid_count++;
        if (!first_why[0]) {
          cs_hex32(r->change->id, hex);
          snprintf(first_why, sizeof(first_why), "resolution %.12s is invalid: %s", hex, why);
        }
        continue;
      }
      cs_resolution_rec_t *v = &valid[valid_count++];
      memcpy(v->change, r->change->id, CS_ID_LEN);
      memcpy(v->author, r->change->author, CS_KEY_LEN);
      v->seq = r->change->seq;
      v->lamport = r->change->lamport;
      v->res = r->res;
    }
    if (err || pass == 1 || !rules.consulted) break;
    /* A removal carried out the audited motion: replay again, judging it on
     * the winner among the valid resolutions in its past, now known. */
    decided = valid;
    decided_members = members;
    decided_ballots = ballots;
    rules.decided = decided;
    rules.decided_count = valid_count;
    rules.decided_case = (cs_motion_case_t){&past, &decided_members, motion->id, decided_ballots, ballot_count};
    valid = NULL;
    members = (cs_motion_members_t){NULL, 0};
    ballots = NULL;
    ballot_count = valid_count = invalid_count = 0;
    first_why[0] = '\0';
    free(ballot_vote);
    ballot_vote = NULL;
    free(rep->votes);
    rep->votes = NULL;
    rep->vote_count = 0;
    cs_electorate_free(&rep->electorate);
    cs_member_replay_free(&replay);
    memset(rules.elsewhere, 0, (rules.count ? rules.count : 1) * sizeof(*rules.elsewhere));
    rep->members_kept_out = 0;
    memset(applied, 0, mop_count ? mop_count : 1);
  }
  if (!err && invalid_count && !valid_count) {
    snprintf(rep->why, sizeof(rep->why), "%s", first_why);
    err = CS_EAUTH;
  }
  rep->resolutions_invalid = invalid_count;

  /* 5. The tally a node shows: at the winning resolution, or over every
   * ballot of the bundle when the motion is not resolved. */
  if (!err) {
    const cs_resolution_rec_t *win = NULL;
    cs_motion_case_t mc = {&past, &members, motion->id, ballots, ballot_count};
    err = cs_motion_winner(&mc, valid, valid_count, NULL, &win);
    bool *counted = calloc(ballot_count ? ballot_count : 1, sizeof(*counted));
    char(*museums)[CS_NAME_MAX + 1] = calloc(ballot_count ? ballot_count : 1, sizeof(*museums));
    cs_motion_tally_t tally = {0, 0, 0, 0};
    if (!err) err = counted && museums ? CS_OK : CS_ENOMEM;
    if (!err)
      err = cs_motion_tally(&members, &past, win ? win->change : NULL, &rep->electorate, ballots, ballot_count, &tally,
                            counted, museums);
    for (uint32_t b = 0; b < ballot_count && !err; b++) {
      cs_audit_vote_t *v = &rep->votes[ballot_vote[b]];
      if (museums[b][0]) snprintf(v->museum, sizeof(v->museum), "%s", museums[b]);
      if (win) v->counted = counted[b];
      v->latest = counted[b];
    }
    if (!err && !win) {
      /* Not resolved: each museum's latest ballot, as a node's `motion show`. */
    }
    if (!err && win) {
      rep->resolved = true;
      rep->resolution = win->res;
      const cs_change_t *wc = NULL;
      for (uint32_t i = 0; i < res_count; i++)
        if (memcmp(res_ops[i].change->id, win->change, CS_ID_LEN) == 0) wc = res_ops[i].change;
      if (wc) (void)cs__role(table, wc, rep->resolver, sizeof(rep->resolver));
    }
    rep->tally = tally;
    free(counted);
    free(museums);
  }
  free(valid);
  free(decided);
  free(decided_ballots);
  cs_motion_members_free(&decided_members);
  free(kept_ops);
  cs_member_replay_free(&replay);
  cs_motion_members_free(&members);
  cs_past_mem_free(rules.mem);
  free(rules.by_id);
  free(rules.forks);
  free(rules.complete);
  free(rules.elsewhere);
  free(applied);
  free(res_ops);
  free(ballots);
  free(ballot_vote);
  free(cs);
  free(mops);
  free(votes);
  free(op);
  return err;
}

int cs_audit_bundle_verify(cs_span_t bytes, cs_audit_report_t *rep) {
  cs_bundle_reader_t r;
  cs_bundle_header_t h;
  cs_span_t *records = NULL, record;
  uint32_t count = 0, cap = 0;
  bool too_many = false;
  int err = cs_bundle_open(&r, bytes, &h);
  while (!err && (err = cs_bundle_next(&r, &record)) == CS_OK) {
    if (count == CS_AUDIT_CHANGES_MAX) {
      too_many = true;
      err = CS_ETOOBIG;
      break;
    }
    if (count == cap) {
      cs_span_t *grown = cs__grow(records, &cap, sizeof(*records));
      if (!grown) {
        err = CS_ENOMEM;
        break;
      }
      records = grown;
    }
    records[count++] = record;
  }
  if (err == CS_ENOTFOUND) err = cs_bundle_check_trailer(&r);
  if (!err) {
    err = cs_audit_verify(h.club, records, count, rep);
  } else {
    memset(rep, 0, sizeof(*rep));
    if (too_many) {
      snprintf(rep->why, sizeof(rep->why),
               "the bundle holds more than %d changes, the most verify reads (CS_AUDIT_CHANGES_MAX)",
               CS_AUDIT_CHANGES_MAX);
    } else if (err != CS_ENOMEM) {
      rep->damaged = true;
      snprintf(rep->why, sizeof(rep->why), "%s", cs_strerror(err));
    }
  }
  free(records);
  return err;
}

void cs_audit_report_free(cs_audit_report_t *rep) {
  cs_electorate_free(&rep->electorate);
  free(rep->votes);
  rep->votes = NULL;
  rep->vote_count = 0;
}
