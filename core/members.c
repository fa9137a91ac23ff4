/* Member timeline record (the `members` database value):
 *
 * | INDEX | TYPE  | DESCRIPTION                                           |
 * |-------|-------|-------------------------------------------------------|
 * | 0..n  | array | entries [cutoff, lamport, change, op index, role, museum] |
 *
 * Entries are sorted by (lamport, change id, op index), the order in which a
 * deterministic replay applies them.
 */
#include "core/members.h"

#include <stdlib.h>
#include <string.h>

static int cs__entry_order(const cs_member_entry_t *a, const cs_member_entry_t *b) {
  if (a->lamport != b->lamport) return a->lamport < b->lamport ? -1 : 1;
  int c = memcmp(a->change, b->change, CS_ID_LEN);
  if (c) return c;
  if (a->op_index != b->op_index) return a->op_index < b->op_index ? -1 : 1;
  return 0;
}

cs_role_t cs_member_role_at(const cs_member_t *m, uint64_t seq) {
  cs_role_t role = CS_ROLE_NONE;
  for (uint32_t i = 0; i < m->count; i++)
    if (m->entries[i].cutoff < seq) role = m->entries[i].role;
  return role;
}

const cs_member_entry_t *cs_member_latest(const cs_member_t *m) {
  return m->count ? &m->entries[m->count - 1] : NULL;
}

/* Whether a and b, adjacent, are one entry for every seq: the same role,
 * not none, and the same museum. */
static bool cs__same_grant(const cs_member_entry_t *a, const cs_member_entry_t *b) {
  return a->role != CS_ROLE_NONE && a->role == b->role && strcmp(a->museum, b->museum) == 0;
}

static void cs__entry_drop(cs_member_entry_t *v, uint32_t *count, uint32_t at) {
  memmove(&v[at], &v[at + 1], (*count - at - 1) * sizeof(*v));
  (*count)--;
}

int cs_member_insert(cs_member_t *m, const cs_member_entry_t *e) {
  uint32_t at = 0;
  while (at < m->count && cs__entry_order(&m->entries[at], e) < 0) at++;
  if (at < m->count && cs__entry_order(&m->entries[at], e) == 0) return CS_OK;
  cs_member_entry_t *v = malloc((CS_MEMBER_ENTRIES_MAX + 1) * sizeof(*v));
  if (!v) return CS_ENOMEM;
  uint32_t count = m->count + 1;
  memcpy(v, m->entries, at * sizeof(*v));
  v[at] = *e;
  memcpy(&v[at + 1], &m->entries[at], (m->count - at) * sizeof(*v));
  /* Two adjacent grants of the same role and museum: the later one adds
   * nothing when its cutoff is not lower (the earlier already covers its
   * seqs), and covers the earlier one entirely otherwise. Either way one
   * entry gives the same role at every seq, now and whatever entry later
   * lands between them (a removal then reaches further, never less far). */
  for (uint32_t i = 1; i < count;) {
    if (!cs__same_grant(&v[i - 1], &v[i])) {
      i++;
      continue;
    }
    cs__entry_drop(v, &count, v[i].cutoff >= v[i - 1].cutoff ? i : i - 1);
  }
  /* Full: two adjacent removals become one, at the later one's place with
   * the lower cutoff, the earliest pair first. A removal always finds room
   * this way (see CS_MEMBER_GRANTS_MAX); it only ever reaches further. */
  for (uint32_t i = 1; i < count && count > CS_MEMBER_ENTRIES_MAX;) {
    if (v[i - 1].role != CS_ROLE_NONE || v[i].role != CS_ROLE_NONE) {
      i++;
      continue;
    }
    if (v[i - 1].cutoff < v[i].cutoff) v[i].cutoff = v[i - 1].cutoff;
    cs__entry_drop(v, &count, i - 1);
  }
  int err = CS_ETOOBIG;
  if (count <= CS_MEMBER_ENTRIES_MAX) {
    memcpy(m->entries, v, count * sizeof(*v));
    m->count = count;
    err = CS_OK;
  }
  free(v);
  return err;
}

uint32_t cs_member_grants(const cs_member_t *m) {
  uint32_t n = 0;
  for (uint32_t i = 0; i < m->count; i++) n += m->entries[i].role != CS_ROLE_NONE;
  return n;
}

bool cs_member_roles_differ(const cs_member_t *a, const cs_member_t *b, uint64_t max_seq) {
  /* Roles only change at seq = cutoff + 1 of some entry, so checking those
   * points (and seq 1) covers every seq. */
  const cs_member_t *both[2] = {a, b};
  if (cs_member_role_at(a, 1) != cs_member_role_at(b, 1)) return true;
  for (int k = 0; k < 2; k++)
    for (uint32_t i = 0; i < both[k]->count; i++) {
      uint64_t seq = both[k]->entries[i].cutoff + 1;
      if (seq > max_seq) continue;
      if (cs_member_role_at(a, seq) != cs_member_role_at(b, seq)) return true;
    }
  return false;
}

int cs_member_encode(const cs_member_t *m, cs_buf_t *out) {
  cs_buf_reset(out);
  cs_mp_write_array(out, m->count);
  for (uint32_t i = 0; i < m->count; i++) {
    const cs_member_entry_t *e = &m->entries[i];
    cs_mp_write_array(out, 6);
    cs_mp_write_uint(out, e->cutoff);
    cs_mp_write_uint(out, e->lamport);
    cs_mp_write_bin(out, e->change, CS_ID_LEN);
    cs_mp_write_uint(out, e->op_index);
    cs_mp_write_uint(out, e->role);
    cs_mp_write_cstr(out, e->museum);
  }
  return out->failed ? CS_ETOOBIG : CS_OK;
}

int cs_member_decode(cs_span_t bytes, const uint8_t key[CS_KEY_LEN], cs_member_t *m) {
  cs_mp_reader_t r = cs_mp_reader(bytes);
  uint32_t count, n;
  int err;
  memcpy(m->key, key, CS_KEY_LEN);
  m->count = 0;
  if ((err = cs_mp_read_array(&r, &count))) return err;
  if (count > CS_MEMBER_ENTRIES_MAX) return CS_ETOOBIG;
  for (uint32_t i = 0; i < count; i++) {
    cs_member_entry_t *e = &m->entries[i];
    uint64_t index, role;
    cs_span_t museum;
    if ((err = cs_mp_read_array(&r, &n))) return err;
    if (n != 6) return CS_EFORMAT;
    if ((err = cs_mp_read_uint(&r, &e->cutoff))) return err;
    if ((err = cs_mp_read_uint(&r, &e->lamport))) return err;
    if ((err = cs_mp_read_bin32(&r, e->change))) return err;
    if ((err = cs_mp_read_uint(&r, &index))) return err;
    if ((err = cs_mp_read_uint(&r, &role))) return err;
    if ((err = cs_mp_read_str(&r, &museum))) return err;
    if (role >= CS_ROLE_COUNT || museum.len > CS_NAME_MAX || index > UINT32_MAX) return CS_EFORMAT;
    e->op_index = (uint32_t)index;
    e->role = (cs_role_t)role;
    memcpy(e->museum, museum.ptr, museum.len);
    e->museum[museum.len] = '\0';
    m->count++;
  }
  return cs_mp_done(&r) ? CS_OK : CS_EFORMAT;
}

cs_member_t *cs_member_table_find(cs_member_table_t *t, const uint8_t key[CS_KEY_LEN], bool create) {
  for (uint32_t i = 0; i < t->count; i++)
    if (memcmp(t->rows[i].key, key, CS_KEY_LEN) == 0) return &t->rows[i];
  if (!create) return NULL;
  if (t->count == t->cap) {
    uint32_t cap = t->cap ? t->cap * 2 : 16;
    cs_member_t *grown = realloc(t->rows, cap * sizeof(*grown));
    if (!grown) return NULL;
    t->rows = grown;
    t->cap = cap;
  }
  cs_member_t *m = &t->rows[t->count++];
  memcpy(m->key, key, CS_KEY_LEN);
  m->count = 0;
  return m;
}

void cs_member_table_free(cs_member_table_t *t) {
  free(t->rows);
  t->rows = NULL;
  t->count = t->cap = 0;
}

/* Replay ------------------------------------------------------------------- */

static int32_t cs__written_at(const cs_member_replay_t *r, const uint8_t change[CS_ID_LEN]) {
  for (uint32_t i = 0; i < r->count; i++)
    if (memcmp(r->changes[i], change, CS_ID_LEN) == 0) return (int32_t)i;
  return -1;
}

static int cs__written_add(cs_member_replay_t *r, const uint8_t change[CS_ID_LEN], const uint8_t key[CS_KEY_LEN],
                           uint64_t seq) {
  if (r->count == r->cap) {
    uint32_t cap = r->cap ? r->cap * 2 : 64;
    uint8_t(*changes)[CS_ID_LEN] = realloc(r->changes, cap * CS_ID_LEN);
    if (changes) r->changes = changes;
    uint8_t(*authors)[CS_KEY_LEN] = realloc(r->authors, cap * CS_KEY_LEN);
    if (authors) r->authors = authors;
    uint64_t *seqs = realloc(r->seqs, cap * sizeof(*seqs));
    if (seqs) r->seqs = seqs;
    if (!changes || !authors || !seqs) return CS_ENOMEM;
    r->cap = cap;
  }
  memcpy(r->changes[r->count], change, CS_ID_LEN);
  memcpy(r->authors[r->count], key, CS_KEY_LEN);
  r->seqs[r->count++] = seq;
  return CS_OK;
}

/* Whether the entry's change is in the causal past of `change`, in *holds.
 * Without an oracle, every applied change is taken as seen. */
static int cs__entry_in_past(const cs_member_replay_t *r, const cs_member_entry_t *e, const uint8_t change[CS_ID_LEN],
                             const cs_member_rules_t *rules, bool *holds) {
  *holds = true;
  if (!rules->past_holds) return CS_OK;
  int32_t at = cs__written_at(r, e->change);
  *holds = false;
  if (at < 0) return CS_OK;
  return rules->past_holds(rules->ctx, change, r->authors[at], r->seqs[at], holds);
}

/* The key's role as of the causal past of `change`: its latest entry (in
 * the replay's order) whose change is in that past. Every such entry's
 * cutoff is below the key's next seq there, so it applies. */
static int cs__role_in_past(const cs_member_replay_t *r, const cs_member_t *m, const uint8_t change[CS_ID_LEN],
                            const cs_member_rules_t *rules, cs_role_t *role) {
  *role = CS_ROLE_NONE;
  for (uint32_t i = m ? m->count : 0; i-- > 0;) {
    bool holds;
    /* The change's own entries, there when it is judged again on the final
     * timelines (cs_member_replay_all), are not its past. */
    if (memcmp(m->entries[i].change, change, CS_ID_LEN) == 0) continue;
    int err = cs__entry_in_past(r, &m->entries[i], change, rules, &holds);
    if (err) return err;
    if (holds) {
      *role = m->entries[i].role;
      break;
    }
  }
  return CS_OK;
}

/* The author's role at seq, leaving out the demotions and removals of it
 * that `excluded` wrote concurrently with `change` (outside its causal
 * past): two admins removing each other without having seen the other do
 * so are both removed. */
static int cs__role_without(const cs_member_replay_t *r, const cs_member_t *m, uint64_t seq,
                            const uint8_t excluded[CS_KEY_LEN], const uint8_t change[CS_ID_LEN],
                            const cs_member_rules_t *rules, cs_role_t *role) {
  *role = CS_ROLE_NONE;
  for (uint32_t i = 0; i < m->count; i++) {
    const cs_member_entry_t *e = &m->entries[i];
    int32_t at = cs__written_at(r, e->change);
    if (at >= 0 && e->role != CS_ROLE_ADMIN && memcmp(r->authors[at], excluded, CS_KEY_LEN) == 0) {
      bool seen = false;
      int err = rules->past_holds ? cs__entry_in_past(r, e, change, rules, &seen) : CS_OK;
      if (err) return err;
      if (!seen) continue;
    }
    if (e->cutoff < seq) *role = e->role;
  }
  return CS_OK;
}

/* Whether the change (author, seq) is in the causal past of `at`; without
 * an oracle, every applied change is taken as seen. */
static int cs__seen(const uint8_t at[CS_ID_LEN], const uint8_t author[CS_KEY_LEN], uint64_t seq,
                    const cs_member_rules_t *rules, bool *holds) {
  *holds = true;
  return rules->past_holds ? rules->past_holds(rules->ctx, at, author, seq, holds) : CS_OK;
}

/* Whether the decision of `motion` about `key` is spent for the change of
 * `at` (CS_EAUTH): its causal past holds a member change that carried it
 * out already, or the replay applied a grant of `key` written after such an
 * execution (the club re-admitted the key), which a concurrent execution
 * must not undo. A decision taken on trust has no motion. */
static int cs__decision_spent(const cs_member_replay_t *r, const uint8_t motion[CS_ID_LEN],
                              const uint8_t key[CS_KEY_LEN], const cs_member_op_t *at,
                              const cs_member_rules_t *rules) {
  const uint8_t *change = at->entry.change;
  static const uint8_t none[CS_ID_LEN];
  if (memcmp(motion, none, CS_ID_LEN) == 0) return CS_OK;
  const cs_member_t *row = cs_member_table_find((cs_member_table_t *)&r->table, key, false);
  for (uint32_t i = 0; i < r->carried_count; i++) {
    const struct cs_member_carried_s *done = &r->carried[i];
    if (memcmp(done->motion, motion, CS_ID_LEN) != 0) continue;
    /* Judged again on the final timelines, the change finds its own note. */
    if (done->seq == at->seq && memcmp(done->author, at->author, CS_KEY_LEN) == 0) continue;
    bool holds;
    int err = cs__seen(change, done->author, done->seq, rules, &holds);
    if (err) return err;
    if (holds) return CS_EAUTH;
    for (uint32_t e = 0; row && e < row->count; e++) {
      int32_t written = cs__written_at(r, row->entries[e].change);
      if (row->entries[e].role == CS_ROLE_NONE || written < 0) continue;
      if ((err = cs__seen(row->entries[e].change, done->author, done->seq, rules, &holds))) return err;
      if (holds) return CS_EAUTH;
    }
  }
  return CS_OK;
}

/* Whether the author of a change (ops[0..n-1]) may make each of its ops,
 * judged on the timelines as they stand in r: its author holds the admin
 * role at the change's seq (or the mutual-removal exception covers the op)
 * and is not frozen by a fork, and every demotion of a key that is an
 * admin in the change's causal past carries out an adopted decision
 * not carried out already in that past (decided[i] and motions[i], when
 * given, say which ops carry out which motion's decision). */
static int cs__judge(const cs_member_replay_t *r, const cs_member_op_t *ops, uint32_t n, const cs_role_t *roles,
                     const cs_member_rules_t *rules, bool *decided, uint8_t (*motions)[CS_ID_LEN]) {
  if (ops[0].founder) return CS_OK;
  const uint8_t *change = ops[0].entry.change;
  uint64_t frozen = rules->frozen_from ? rules->frozen_from(rules->ctx, ops[0].author) : 0;
  const cs_member_t *author = cs_member_table_find((cs_member_table_t *)&r->table, ops[0].author, false);
  if (frozen && ops[0].seq >= frozen) return CS_EFORK;
  if (!author) return CS_EAUTH;
  bool admin = cs_member_role_at(author, ops[0].seq) == CS_ROLE_ADMIN;
  for (uint32_t i = 0; i < n; i++) {
    /* Demoting or removing a key that is an admin in the change's causal
     * past needs an adopted decision. */
    const cs_member_t *target = cs_member_table_find((cs_member_table_t *)&r->table, ops[i].key, false);
    cs_role_t was = CS_ROLE_NONE, without = CS_ROLE_NONE;
    int err = cs__role_in_past(r, target, change, rules, &was);
    if (err) return err;
    bool demotes = was == CS_ROLE_ADMIN && roles[i] != CS_ROLE_ADMIN;
    /* An author that is no admin makes no op of the change, except the
     * removal of the admin that removed it concurrently (mutual removal):
     * the exception covers that op alone. It is judged before the decision
     * is asked for, so that no change of a key without the right makes a
     * node weigh a decision (a store may rebuild on what it finds). */
    if (!admin && demotes && (err = cs__role_without(r, author, ops[0].seq, ops[i].key, change, rules, &without)))
      return err;
    if (!admin && without != CS_ROLE_ADMIN) return CS_EAUTH;
    char want[CS_GOVERNED_EFFECT_MAX + 1];
    uint8_t motion[CS_ID_LEN] = {0};
    cs_governed_effect(want, "remove-admin", ops[i].key);
    if (demotes && !(rules->decision_adopted && rules->decision_adopted(rules->ctx, change, want, motion)))
      return CS_EAUTH;
    if (demotes && (err = cs__decision_spent(r, motion, ops[i].key, &ops[0], rules))) return err;
    if (decided) decided[i] = demotes;
    if (motions) memcpy(motions[i], motion, CS_ID_LEN);
  }
  return CS_OK;
}

static int cs__decision_note(cs_member_replay_t *r, const uint8_t motion[CS_ID_LEN], const uint8_t author[CS_KEY_LEN],
                             uint64_t seq) {
  if (r->carried_count == r->carried_cap) {
    uint32_t cap = r->carried_cap ? r->carried_cap * 2 : 8;
    struct cs_member_carried_s *grown = realloc(r->carried, cap * sizeof(*grown));
    if (!grown) return CS_ENOMEM;
    r->carried = grown;
    r->carried_cap = cap;
  }
  struct cs_member_carried_s *c = &r->carried[r->carried_count++];
  memcpy(c->motion, motion, CS_ID_LEN);
  memcpy(c->author, author, CS_KEY_LEN);
  c->seq = seq;
  return CS_OK;
}

/* Applies the ops of one change (ops[0..n-1], at most CS_CHANGE_OPS_MAX),
 * all of them or none, on the timelines replayed so far (the rules are
 * cs_member_replay_all's). Returns CS_OK when applied; CS_EAUTH, CS_EFORK
 * or CS_ETOOBIG when the change is kept out of the membership (stored,
 * flagged); any other error (CS_ENOMEM, an oracle's) when the replay itself
 * cannot go on. */
static int cs__replay_change(cs_member_replay_t *r, const cs_member_op_t *ops, uint32_t n,
                             const cs_member_rules_t *rules) {
  if (n == 0) return CS_OK;
  if (n > CS_CHANGE_OPS_MAX) return CS_ETOOBIG;
  const uint8_t *change = ops[0].entry.change;
  /* The cutoff that applies: the key's highest seq in the causal past. */
  cs_member_entry_t *entries = malloc(n * sizeof(*entries));
  cs_role_t *roles = malloc(n * sizeof(*roles));
  bool *decided = calloc(n, sizeof(*decided));
  uint8_t(*motions)[CS_ID_LEN] = calloc(n, CS_ID_LEN); /* the decision each decided op carries out */
  cs_member_t *rows = NULL;
  uint32_t row_count = 0;
  int err = entries && roles && decided && motions ? CS_OK : CS_ENOMEM;
  for (uint32_t i = 0; i < n && !err; i++) {
    entries[i] = ops[i].entry;
    roles[i] = ops[i].entry.role;
    if (!ops[i].founder && rules->cutoff)
      err = rules->cutoff(rules->ctx, change, ops[i].key, ops[i].entry.cutoff, &entries[i].cutoff);
  }
  if (!err) err = cs__judge(r, ops, n, roles, rules, decided, motions);
  /* All or nothing: the ops go to copies of the rows they touch, which
   * replace the rows only when every one keeps within its bounds. */
  if (!err && !(rows = malloc(n * sizeof(*rows)))) err = CS_ENOMEM;
  for (uint32_t i = 0; i < n && !err; i++) {
    cs_member_t *row = NULL;
    for (uint32_t k = 0; k < row_count; k++)
      if (memcmp(rows[k].key, ops[i].key, CS_KEY_LEN) == 0) row = &rows[k];
    if (!row) {
      row = &rows[row_count++];
      const cs_member_t *now = cs_member_table_find(&r->table, ops[i].key, false);
      if (now) *row = *now;
      else {
        memcpy(row->key, ops[i].key, CS_KEY_LEN);
        row->count = 0;
      }
    }
    err = cs_member_insert(row, &entries[i]);
  }
  /* Grants count against CS_MEMBER_GRANTS_MAX unless the change carries out
   * a decision about that key; removals never do. */
  for (uint32_t i = 0; i < n && !err; i++) {
    if (entries[i].role == CS_ROLE_NONE || decided[i]) continue;
    for (uint32_t k = 0; k < row_count; k++)
      if (memcmp(rows[k].key, ops[i].key, CS_KEY_LEN) == 0 && cs_member_grants(&rows[k]) > CS_MEMBER_GRANTS_MAX)
        err = CS_ETOOBIG;
  }
  for (uint32_t k = 0; k < row_count && !err; k++) {
    cs_member_t *row = cs_member_table_find(&r->table, rows[k].key, true);
    if (!row) err = CS_ENOMEM;
    else *row = rows[k];
  }
  if (!err) err = cs__written_add(r, change, ops[0].author, ops[0].seq);
  for (uint32_t i = 0; i < n && !err; i++)
    if (decided[i]) err = cs__decision_note(r, motions[i], ops[0].author, ops[0].seq);
  free(entries);
  free(roles);
  free(decided);
  free(motions);
  free(rows);
  return err;
}

void cs_member_replay_free(cs_member_replay_t *r) {
  cs_member_table_free(&r->table);
  free(r->changes);
  free(r->authors);
  free(r->seqs);
  free(r->carried);
  memset(r, 0, sizeof(*r));
}

int cs_member_replay_all(cs_member_replay_t *r, const cs_member_op_t *ops, uint32_t n, const cs_member_rules_t *rules,
                         int *validity, uint32_t *rounds, bool *kept) {
  /* kept_out[i], for the first op of a change: the reason a recheck found
   * it unauthorised by the timelines a round ended with; it stays out. */
  int *kept_out = calloc(n ? n : 1, sizeof(*kept_out));
  cs_role_t *roles = malloc((n ? n : 1) * sizeof(*roles));
  int err = kept_out && roles ? CS_OK : CS_ENOMEM;
  for (uint32_t i = 0; i < n && !err; i++) roles[i] = ops[i].entry.role;
  uint32_t round = 0;
  for (bool again = !err; again;) {
    again = false;
    round++;
    cs_member_replay_free(r);
    for (uint32_t at = 0, end; at < n && !err; at = end) {
      for (end = at; end < n && memcmp(ops[end].entry.change, ops[at].entry.change, CS_ID_LEN) == 0;) end++;
      int v = kept_out[at] ? kept_out[at] : cs__replay_change(r, &ops[at], end - at, rules);
      if (v != CS_OK && v != CS_EAUTH && v != CS_EFORK && v != CS_ETOOBIG) err = v;
      for (uint32_t i = at; i < end; i++) validity[i] = v;
    }
    /* A change applied in (lamport, id) order was judged on the timelines
     * of the changes before it. A later removal reaches back to every seq
     * above its cutoff, so a concurrent change of the removed key, applied
     * earlier, may have had no role after all: judged again on the final
     * timelines, it is kept out and the replay runs again without it. Each
     * round keeps out one change at least, so the rounds end. */
    for (uint32_t at = 0, end; at < n && !err; at = end) {
      for (end = at; end < n && memcmp(ops[end].entry.change, ops[at].entry.change, CS_ID_LEN) == 0;) end++;
      if (validity[at] != CS_OK) continue;
      int v = cs__judge(r, &ops[at], end - at, &roles[at], rules, NULL, NULL);
      if (v != CS_OK && v != CS_EAUTH && v != CS_EFORK) err = v;
      else if (v != CS_OK) {
        kept_out[at] = v;
        again = true;
      }
    }
    again = again && !err;
  }
  if (rounds) *rounds = round;
  for (uint32_t i = 0; kept && i < n; i++) kept[i] = kept_out[i] != CS_OK;
  free(kept_out);
  free(roles);
  return err;
}
