#include "core/decision.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/bundle.h"
#include "core/object.h"
#include "core/op.h"
#include "core/past.h"

/* Electorate and resolution values ---------------------------------------- */

int cs_electorate_decode(cs_span_t value, cs_electorate_t *out) {
  cs_mp_reader_t outer = cs_mp_reader(value), r;
  cs_span_t inner, museum;
  uint32_t n;
  int err = cs_mp_read_bin(&outer, &inner);
  if (err) return err;
  if (!cs_mp_done(&outer)) return CS_EFORMAT;
  r = cs_mp_reader(inner);
  if ((err = cs_mp_read_array(&r, &n))) return err;
  if (n == 0) return CS_EFORMAT;
  if (n > CS_ELECTORATE_MAX) return CS_ETOOBIG;
  out->count = n;
  for (uint32_t i = 0; i < n; i++) {
    if ((err = cs_mp_read_str(&r, &museum))) return err;
    if (museum.len == 0 || museum.len > CS_NAME_MAX) return CS_EFORMAT;
    memcpy(out->museums[i], museum.ptr, museum.len);
    out->museums[i][museum.len] = '\0';
    if (i > 0 && strcmp(out->museums[i - 1], out->museums[i]) >= 0) return CS_EFORMAT; /* sorted, distinct */
  }
  return cs_mp_done(&r) ? CS_OK : CS_EFORMAT;
}

static int cs__cmp_museum(const void *a, const void *b) { return strcmp(a, b); }

void cs_electorate_write(cs_buf_t *b, cs_electorate_t *e) {
  qsort(e->museums, e->count, sizeof(e->museums[0]), cs__cmp_museum);
  uint32_t distinct = 0;
  for (uint32_t i = 0; i < e->count; i++)
    if (distinct == 0 || strcmp(e->museums[distinct - 1], e->museums[i]) != 0)
      memmove(e->museums[distinct++], e->museums[i], sizeof(e->museums[i]));
  e->count = distinct;
  cs_buf_t inner;
  cs_buf_init(&inner, CS_TEXT_MAX);
  cs_mp_write_array(&inner, e->count);
  for (uint32_t i = 0; i < e->count; i++) cs_mp_write_cstr(&inner, e->museums[i]);
  if (inner.failed) b->failed = true;
  else cs_mp_write_bin(b, inner.data, inner.len);
  cs_buf_free(&inner);
}

bool cs_electorate_has(const cs_electorate_t *e, const char *museum) {
  for (uint32_t i = 0; i < e->count; i++)
    if (strcmp(e->museums[i], museum) == 0) return true;
  return false;
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

int cs_resolution_check(const cs_resolution_t *r, const char *rule, const cs_electorate_t *e,
                        const cs_counted_t *ballots, uint32_t count, char *why, size_t why_len) {
  uint64_t tally[3] = {0, 0, 0};
  for (uint32_t i = 0; i < count; i++) {
    if (!cs_electorate_has(e, ballots[i].museum)) {
      snprintf(why, why_len, "it counts a ballot of %s, which is not in the motion's electorate", ballots[i].museum);
      return CS_EAUTH;
    }
    for (uint32_t j = 0; j < i; j++)
      if (strcmp(ballots[i].museum, ballots[j].museum) == 0) {
        snprintf(why, why_len, "it counts two ballots of %s", ballots[i].museum);
        return CS_EAUTH;
      }
    if (ballots[i].choice < 3) tally[ballots[i].choice]++;
  }
  if (tally[0] != r->yes || tally[1] != r->no || tally[2] != r->abstain) {
    snprintf(why, why_len, "it claims %llu yes, %llu no, %llu abstain but its ballots say %llu, %llu, %llu",
             (unsigned long long)r->yes, (unsigned long long)r->no, (unsigned long long)r->abstain,
             (unsigned long long)tally[0], (unsigned long long)tally[1], (unsigned long long)tally[2]);
    return CS_EAUTH;
  }
  if (r->adopted != cs_quorum_met(rule, e->count, tally[0])) {
    snprintf(why, why_len, "it says %s, but %llu yes of %u museums %s the %s rule", r->adopted ? "adopted" : "rejected",
             (unsigned long long)tally[0], e->count, r->adopted ? "does not meet" : "meets", rule);
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

bool cs_decision_scan_adopted(const cs_decision_scan_t *scan) {
  for (uint32_t i = 0; i < scan->motion_count; i++)
    for (uint32_t j = 0; j < scan->adopted_count; j++)
      if (memcmp(scan->motions[i], scan->adopted[j], CS_ID_LEN) == 0) return true;
  return false;
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
  uint32_t decisions_elsewhere;
  cs__fork_t *forks; /* sorted by author */
  uint32_t fork_count;
  cs_past_mem_t *mem; /* the causal past of each change, as far as the bundle shows it */
  cs_past_t past;
  bool *complete; /* per change (same index as `changes`): the bundle holds its whole causal past */
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
  if (!b->complete) {
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
 * bundle holds them (the audited motion may be that very decision). When a
 * dep is outside the bundle, the removal is taken as the club took it and
 * counted, so that `verify` says so. */
static bool cs__bundle_decision_adopted(void *ctx, const uint8_t change[CS_ID_LEN], const char *effect) {
  cs__bundle_rules_t *b = ctx;
  const cs_change_t *c = cs__bundle_find(b, change);
  cs_decision_scan_t *scan = calloc(1, sizeof(*scan));
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
  bool adopted = cs_decision_scan_adopted(scan);
  free(scan);
  if (!adopted && missing) {
    b->decisions_elsewhere++;
    return true;
  }
  return adopted;
}

/* The club's membership, replayed from the genesis by the same rules as a
 * node's (core/members.c). A member change the rules keep out is counted,
 * not fatal: a node keeps it out too, one past CS_MEMBER_ENTRIES_MAX
 * included (store/ingest.c). */
static int cs__replay(cs_member_op_t *ops, uint32_t n, cs__bundle_rules_t *b, cs_member_replay_t *replay,
                      cs_audit_report_t *rep) {
  qsort(ops, n, sizeof(*ops), cs__mop_order);
  const cs_member_rules_t rules = {cs__bundle_frozen_from, cs__bundle_decision_adopted, cs__bundle_cutoff,
                                   cs__bundle_past_holds, b};
  b->table = &replay->table;
  for (uint32_t at = 0; at < n;) {
    uint32_t end = at;
    while (end < n && memcmp(ops[end].entry.change, ops[at].entry.change, CS_ID_LEN) == 0) end++;
    int validity = cs_member_replay_change(replay, &ops[at], end - at, &rules);
    if (validity != CS_OK && validity != CS_EAUTH && validity != CS_EFORK && validity != CS_ETOOBIG) return validity;
    if (validity != CS_OK) rep->members_kept_out++;
    at = end;
  }
  rep->decisions_elsewhere = b->decisions_elsewhere;
  return CS_OK;
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

/* A museum's ballots in order, its latest last; ties (one change writing
 * twice) by position in the bundle, so exactly one is the latest. */
static int cs__ballot_order(const void *pa, const void *pb) {
  const cs_audit_vote_t *a = *(const cs_audit_vote_t *const *)pa, *b = *(const cs_audit_vote_t *const *)pb;
  int c = strcmp(a->museum, b->museum);
  if (c) return c;
  if (a->lamport != b->lamport) return a->lamport < b->lamport ? -1 : 1;
  if ((c = memcmp(a->key, b->key, CS_KEY_LEN))) return c;
  return (a > b) - (a < b);
}

/* Marks each museum's latest ballot, as a node's tally takes it. */
static int cs__mark_latest(cs_audit_report_t *rep) {
  if (rep->vote_count == 0) return CS_OK;
  const cs_audit_vote_t **order = malloc(rep->vote_count * sizeof(*order));
  if (!order) return CS_ENOMEM;
  for (uint32_t i = 0; i < rep->vote_count; i++) order[i] = &rep->votes[i];
  qsort(order, rep->vote_count, sizeof(*order), cs__ballot_order);
  for (uint32_t i = 0; i < rep->vote_count; i++)
    if (i + 1 == rep->vote_count || strcmp(order[i]->museum, order[i + 1]->museum) != 0)
      rep->votes[order[i] - rep->votes].latest = true;
  free(order);
  return CS_OK;
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
  const cs__vote_t **created = NULL;
  cs_op_t *op = malloc(sizeof(*op));
  cs_member_replay_t replay;
  memset(&replay, 0, sizeof(replay));
  cs_member_table_t *table = &replay.table;
  uint32_t mop_count = 0, mops_cap = 0, vote_count = 0, votes_cap = 0, created_count = 0;
  const cs_change_t *motion = NULL, *resolution = NULL, *genesis = NULL;
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
        motion = &cs[i];
        memcpy(rep->motion, op_id, CS_ID_LEN);
      } else if (vote_create) {
        v->has_parent = true;
        memcpy(v->parent, op->parent, CS_ID_LEN);
        if (op->obj_local) cs_op_id(cs[i].id, op->obj_index, v->parent);
      } else if (op->type == CS_OP_SET && op->obj_local && created_types[op->obj_index] == CS_OBJ_MOTION) {
        if (op->field == CS_F_MOTION_TEXT) cs__text(op->value, rep->text, sizeof(rep->text));
        if (op->field == CS_F_MOTION_EFFECT) cs__text(op->value, rep->effect, sizeof(rep->effect));
        if (op->field == CS_F_MOTION_QUORUM) cs__text(op->value, rep->quorum, sizeof(rep->quorum));
        if (op->field == CS_F_MOTION_ELECTORATE && cs_electorate_decode(op->value, &rep->electorate) != CS_OK) {
          snprintf(rep->why, sizeof(rep->why), "the motion's electorate is malformed");
          err = CS_EFORMAT;
        }
      } else if (op->type == CS_OP_SET && op->field == CS_F_MOTION_RESOLUTION) {
        resolution = &cs[i];
        if (cs_resolution_decode(op->value, &rep->resolution) != CS_OK) {
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

  /* 3. Membership, replayed from the genesis. */
  if (!err) {
    rep->members = mop_count;
    cs__bundle_rules_t rules = {cs, count, NULL, NULL, 0, NULL, 0, NULL, {0}, NULL};
    err = cs__bundle_index(&rules);
    if (!err) err = cs__replay(mops, mop_count, &rules, &replay, rep);
    free(rules.by_id);
    free(rules.forks);
    free(rules.complete);
    if (rules.mem) cs_past_mem_free(rules.mem);
  }
  if (!err && !cs__voter(cs__role(table, motion, rep->proposer, sizeof(rep->proposer)))) {
    snprintf(rep->why, sizeof(rep->why), "the motion's author (%s) was not a voting member", rep->proposer);
    err = CS_EAUTH;
  }
  if (!err && (!rep->quorum[0] || rep->electorate.count == 0)) {
    snprintf(rep->why, sizeof(rep->why), "the motion has no quorum rule or electorate");
    err = CS_EFORMAT;
  }

  /* 4. Ballots: each by a voting member of the electorate, on this motion.
   * An entry that only overwrites a vote takes the parent of the vote's
   * creation, found by object among the entries that created one. */
  if (!err) {
    created = malloc((vote_count ? vote_count : 1) * sizeof(*created));
    rep->votes = calloc(vote_count ? vote_count : 1, sizeof(*rep->votes));
    if (!created || !rep->votes) err = CS_ENOMEM;
  }
  for (uint32_t i = 0; i < vote_count && !err; i++)
    if (votes[i].has_parent) created[created_count++] = &votes[i];
  if (!err) qsort(created, created_count, sizeof(*created), cs__vote_by_object);
  for (uint32_t i = 0; i < vote_count && !err; i++) {
    cs__vote_t *v = &votes[i];
    if (!v->has_parent) {
      const cs__vote_t *key = v;
      const cs__vote_t *const *found = bsearch(&key, created, created_count, sizeof(*created), cs__vote_by_object);
      if (found) {
        v->has_parent = true;
        memcpy(v->parent, (*found)->parent, CS_ID_LEN);
      }
    }
    if (!v->has_parent || memcmp(v->parent, rep->motion, CS_ID_LEN) != 0 || !v->has_choice) continue;
    cs_audit_vote_t *out = &rep->votes[rep->vote_count];
    cs_role_t role = cs__role(table, v->change, out->museum, sizeof(out->museum));
    cs_hex32(v->change->id, hex);
    if (!cs__voter(role)) {
      snprintf(rep->why, sizeof(rep->why), "ballot %.12s is by %s, which was not a voting member when it voted", hex,
               out->museum);
      err = CS_EAUTH;
      break;
    }
    memcpy(out->key, v->change->author, CS_KEY_LEN);
    memcpy(out->change, v->change->id, CS_ID_LEN);
    out->lamport = v->change->lamport;
    out->choice = v->choice;
    rep->vote_count++;
  }
  if (!err) err = cs__mark_latest(rep);

  /* 5. The resolution: by an admin; its deps are exactly the counted ballots. */
  if (!err && resolution) {
    rep->resolved = true;
    if (cs__role(table, resolution, rep->resolver, sizeof(rep->resolver)) != CS_ROLE_ADMIN) {
      snprintf(rep->why, sizeof(rep->why), "the resolution's author (%s) was not an admin", rep->resolver);
      err = CS_EAUTH;
    }
    cs_counted_t *counted = calloc(CS_CHANGE_DEPS_MAX, sizeof(*counted));
    uint32_t counted_n = 0;
    if (!err && !counted) err = CS_ENOMEM;
    for (uint32_t d = 0; d < resolution->dep_count && !err; d++) {
      cs_audit_vote_t *found = NULL;
      for (uint32_t k = 0; k < rep->vote_count; k++)
        if (memcmp(rep->votes[k].change, resolution->deps[d], CS_ID_LEN) == 0) found = &rep->votes[k];
      if (!found) {
        cs_hex32(resolution->deps[d], hex);
        snprintf(rep->why, sizeof(rep->why), "ballot %.12s, counted by the resolution, is missing from the bundle",
                 hex);
        err = CS_ENOTFOUND;
        break;
      }
      found->counted = true;
      snprintf(counted[counted_n].museum, sizeof(counted[counted_n].museum), "%s", found->museum);
      counted[counted_n++].choice = found->choice;
    }
    if (!err) err = cs_resolution_check(&rep->resolution, rep->quorum, &rep->electorate, counted, counted_n, rep->why,
                                        sizeof(rep->why));
    free(counted);
  }
  cs_member_replay_free(&replay);
  free(cs);
  free(mops);
  free(votes);
  free(created);
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
  free(rep->votes);
  rep->votes = NULL;
  rep->vote_count = 0;
}
