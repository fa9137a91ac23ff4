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

int cs_member_insert(cs_member_t *m, const cs_member_entry_t *e) {
  uint32_t at = 0;
  while (at < m->count && cs__entry_order(&m->entries[at], e) < 0) at++;
  if (at < m->count && cs__entry_order(&m->entries[at], e) == 0) return CS_OK;
  if (m->count == CS_MEMBER_ENTRIES_MAX) return CS_ETOOBIG;
  memmove(&m->entries[at + 1], &m->entries[at], (m->count - at) * sizeof(*e));
  m->entries[at] = *e;
  m->count++;
  return CS_OK;
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

static const uint8_t *cs__written_by(const cs_member_replay_t *r, const uint8_t change[CS_ID_LEN]) {
  for (uint32_t i = 0; i < r->count; i++)
    if (memcmp(r->changes[i], change, CS_ID_LEN) == 0) return r->authors[i];
  return NULL;
}

static int cs__written_add(cs_member_replay_t *r, const uint8_t change[CS_ID_LEN], const uint8_t key[CS_KEY_LEN]) {
  if (r->count == r->cap) {
    uint32_t cap = r->cap ? r->cap * 2 : 64;
    uint8_t(*changes)[CS_ID_LEN] = realloc(r->changes, cap * CS_ID_LEN);
    if (changes) r->changes = changes;
    uint8_t(*authors)[CS_KEY_LEN] = realloc(r->authors, cap * CS_KEY_LEN);
    if (authors) r->authors = authors;
    if (!changes || !authors) return CS_ENOMEM;
    r->cap = cap;
  }
  memcpy(r->changes[r->count], change, CS_ID_LEN);
  memcpy(r->authors[r->count++], key, CS_KEY_LEN);
  return CS_OK;
}

/* The key's role at seq, leaving out the demotions and removals of it
 * written by `excluded`. */
static cs_role_t cs__role_without(const cs_member_replay_t *r, const cs_member_t *m, uint64_t seq,
                                  const uint8_t excluded[CS_KEY_LEN]) {
  cs_role_t role = CS_ROLE_NONE;
  for (uint32_t i = 0; i < m->count; i++) {
    const uint8_t *by = cs__written_by(r, m->entries[i].change);
    if (by && memcmp(by, excluded, CS_KEY_LEN) == 0 && m->entries[i].role != CS_ROLE_ADMIN) continue;
    if (m->entries[i].cutoff < seq) role = m->entries[i].role;
  }
  return role;
}

int cs_member_replay_change(cs_member_replay_t *r, const cs_member_op_t *ops, uint32_t n,
                            const cs_member_rules_t *rules) {
  if (n == 0) return CS_OK;
  if (!ops[0].founder) {
    uint64_t frozen = rules->frozen_from ? rules->frozen_from(rules->ctx, ops[0].author) : 0;
    if (frozen && ops[0].seq >= frozen) return CS_EFORK;
    cs_member_t *author = cs_member_table_find(&r->table, ops[0].author, false);
    if (!author) return CS_EAUTH;
    bool admin = cs_member_role_at(author, ops[0].seq) == CS_ROLE_ADMIN;
    for (uint32_t i = 0; i < n; i++) {
      /* Demoting or removing an admin needs an adopted decision. */
      cs_member_t *target = cs_member_table_find(&r->table, ops[i].key, false);
      const cs_member_entry_t *latest = target ? cs_member_latest(target) : NULL;
      bool demotes = latest && latest->role == CS_ROLE_ADMIN && ops[i].entry.role != CS_ROLE_ADMIN;
      char want[CS_GOVERNED_EFFECT_MAX + 1];
      cs_governed_effect(want, "remove-admin", ops[i].key);
      if (demotes && !(rules->decision_adopted && rules->decision_adopted(rules->ctx, ops[i].entry.change, want)))
        return CS_EAUTH;
      /* Two admins removing each other concurrently are both removed: a
       * removal written by the admin this op removes does not stop it. */
      if (!admin && demotes && cs__role_without(r, author, ops[0].seq, ops[i].key) == CS_ROLE_ADMIN) admin = true;
    }
    if (!admin) return CS_EAUTH;
  }
  for (uint32_t i = 0; i < n; i++) {
    cs_member_t *target = cs_member_table_find(&r->table, ops[i].key, true);
    if (!target) return CS_ENOMEM;
    int err = cs_member_insert(target, &ops[i].entry);
    if (err) return err;
  }
  return cs__written_add(r, ops[0].entry.change, ops[0].author);
}

void cs_member_replay_free(cs_member_replay_t *r) {
  cs_member_table_free(&r->table);
  free(r->changes);
  free(r->authors);
  memset(r, 0, sizeof(*r));
}
