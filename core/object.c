/* Object record codec and CRDT rules.
 *
 * Record (msgpack array of 6), canonical:
 *
 * | INDEX | TYPE            | DESCRIPTION                                      |
 * |-------|-----------------|--------------------------------------------------|
 * | 0     | uint            | object type                                      |
 * | 1     | bin 32 / nil    | parent object                                    |
 * | 2     | array [bin 32, uint, bin 32] | creator key, lamport, creating change |
 * | 3     | nil / [bin 32, uint] | tombstone: deleter key, lamport             |
 * | 4     | array of entries | live register values and set elements          |
 *
 * Entry: [field uint, lamport uint, author bin 32, op bin 32, value any],
 * sorted by field ascending, then (lamport, author, op) descending, so the
 * first entry of a register's field is the value people see.
 */
#include "core/object.h"

#include <stdlib.h>
#include <string.h>

void cs_object_init(cs_object_t *obj) { memset(obj, 0, sizeof(*obj)); }

void cs_object_free(cs_object_t *obj) {
  for (uint32_t i = 0; i < obj->entry_count; i++) free(obj->entries[i].value);
  free(obj->entries);
  memset(obj, 0, sizeof(*obj));
}

/* Orders entries: field ascending, then newest first. */
static int cs__entry_cmp(const cs_entry_t *a, const cs_entry_t *b) {
  if (a->field != b->field) return a->field < b->field ? -1 : 1;
  if (a->lamport != b->lamport) return a->lamport > b->lamport ? -1 : 1;
  int c = memcmp(b->author, a->author, CS_KEY_LEN);
  if (c) return c;
  return memcmp(b->op, a->op, CS_ID_LEN);
}

static int cs__insert(cs_object_t *obj, const cs_entry_t *proto, cs_span_t value) {
  for (uint32_t i = 0; i < obj->entry_count; i++)
    if (memcmp(obj->entries[i].op, proto->op, CS_ID_LEN) == 0) return CS_OK; /* idempotent */
  if (obj->entry_count == obj->entry_cap) {
    uint32_t cap = obj->entry_cap ? obj->entry_cap * 2 : 8;
    cs_entry_t *grown = realloc(obj->entries, cap * sizeof(*grown));
    if (!grown) return CS_ENOMEM;
    obj->entries = grown;
    obj->entry_cap = cap;
  }
  uint8_t *copy = malloc(value.len ? value.len : 1);
  if (!copy) return CS_ENOMEM;
  memcpy(copy, value.ptr, value.len);
  uint32_t at = 0;
  while (at < obj->entry_count && cs__entry_cmp(&obj->entries[at], proto) < 0) at++;
  memmove(&obj->entries[at + 1], &obj->entries[at], (obj->entry_count - at) * sizeof(cs_entry_t));
  obj->entries[at] = *proto;
  obj->entries[at].value = copy;
  obj->entries[at].value_len = value.len;
  obj->entry_count++;
  return CS_OK;
}

static bool cs__listed(const uint8_t id[CS_ID_LEN], uint32_t count, const uint8_t (*ids)[CS_ID_LEN]) {
  for (uint32_t i = 0; i < count; i++)
    if (memcmp(ids[i], id, CS_ID_LEN) == 0) return true;
  return false;
}

static void cs__drop_listed(cs_object_t *obj, uint64_t field, uint32_t count, const uint8_t (*ids)[CS_ID_LEN]) {
  uint32_t kept = 0;
  for (uint32_t i = 0; i < obj->entry_count; i++) {
    cs_entry_t *e = &obj->entries[i];
    if (e->field == field && cs__listed(e->op, count, ids)) {
      free(e->value);
      continue;
    }
    obj->entries[kept++] = *e;
  }
  obj->entry_count = kept;
}

int cs_object_set(cs_object_t *obj, uint64_t field, uint64_t lamport, const uint8_t author[CS_KEY_LEN],
                  const uint8_t op[CS_ID_LEN], cs_span_t value, uint32_t pred_count,
                  const uint8_t (*preds)[CS_ID_LEN]) {
  cs__drop_listed(obj, field, pred_count, preds);
  cs_entry_t e = {.field = field, .lamport = lamport};
  memcpy(e.author, author, CS_KEY_LEN);
  memcpy(e.op, op, CS_ID_LEN);
  return cs__insert(obj, &e, value);
}

int cs_object_add(cs_object_t *obj, uint64_t field, uint64_t lamport, const uint8_t author[CS_KEY_LEN],
                  const uint8_t op[CS_ID_LEN], cs_span_t element) {
  return cs_object_set(obj, field, lamport, author, op, element, 0, NULL);
}

void cs_object_remove(cs_object_t *obj, uint64_t field, uint32_t add_count, const uint8_t (*adds)[CS_ID_LEN]) {
  cs__drop_listed(obj, field, add_count, adds);
}

void cs_object_delete(cs_object_t *obj, uint64_t lamport, const uint8_t author[CS_KEY_LEN]) {
  bool earlier = !obj->deleted || lamport < obj->deleted_lamport ||
                 (lamport == obj->deleted_lamport && memcmp(author, obj->deleted_by, CS_KEY_LEN) < 0);
  if (!earlier) return;
  obj->deleted = true;
  obj->deleted_lamport = lamport;
  memcpy(obj->deleted_by, author, CS_KEY_LEN);
}

uint32_t cs_object_field(const cs_object_t *obj, uint64_t field, const cs_entry_t **first) {
  uint32_t count = 0;
  *first = NULL;
  for (uint32_t i = 0; i < obj->entry_count; i++) {
    if (obj->entries[i].field != field) continue;
    if (!count) *first = &obj->entries[i];
    count++;
  }
  return count;
}

int cs_object_seen(const cs_past_t *past, const cs_change_t *c, const cs_object_t *obj) {
  if (!obj) return CS_EREF;
  /* One author's changes are a chain whose lamports grow: its change of a
   * lower lamport is an earlier seq, in c's past through prev. */
  if (memcmp(obj->creator, c->author, CS_KEY_LEN) == 0) return obj->created_lamport < c->lamport ? CS_OK : CS_EREF;
  const uint8_t *change = c->id;
  uint64_t created_seq = 0, seen_seq = 0;
  /* A change's own vector holds its author at its own seq. */
  int err = cs_past_seq(past, obj->created_change, obj->creator, &created_seq);
  if (err == CS_ENOTFOUND) return CS_EREF;
  if (!err) err = cs_past_seq(past, change, obj->creator, &seen_seq);
  if (err) return err;
  return created_seq > 0 && seen_seq >= created_seq ? CS_OK : CS_EREF;
}

bool cs_value_str(const uint8_t *value, size_t value_len, char *out, size_t out_len) {
  cs_span_t span = {value, value_len};
  cs_mp_reader_t r = cs_mp_reader(span);
  cs_span_t text;
  if (cs_mp_read_str(&r, &text) != CS_OK) {
    if (out_len) out[0] = '\0';
    return false;
  }
  size_t n = text.len < out_len - 1 ? text.len : out_len - 1;
  memcpy(out, text.ptr, n);
  out[n] = '\0';
  return true;
}

int cs_object_encode(const cs_object_t *obj, cs_buf_t *out) {
  cs_buf_reset(out);
  cs_mp_write_array(out, 5);
  cs_mp_write_uint(out, obj->type);
  if (obj->has_parent) cs_mp_write_bin(out, obj->parent, CS_ID_LEN); else cs_mp_write_nil(out);
  cs_mp_write_array(out, 3);
  cs_mp_write_bin(out, obj->creator, CS_KEY_LEN);
  cs_mp_write_uint(out, obj->created_lamport);
  cs_mp_write_bin(out, obj->created_change, CS_ID_LEN);
  if (obj->deleted) {
    cs_mp_write_array(out, 2);
    cs_mp_write_bin(out, obj->deleted_by, CS_KEY_LEN);
    cs_mp_write_uint(out, obj->deleted_lamport);
  } else {
    cs_mp_write_nil(out);
  }
  cs_mp_write_array(out, obj->entry_count);
  for (uint32_t i = 0; i < obj->entry_count; i++) {
    const cs_entry_t *e = &obj->entries[i];
    cs_mp_write_array(out, 5);
    cs_mp_write_uint(out, e->field);
    cs_mp_write_uint(out, e->lamport);
    cs_mp_write_bin(out, e->author, CS_KEY_LEN);
    cs_mp_write_bin(out, e->op, CS_ID_LEN);
    cs_span_t v = {e->value, e->value_len};
    cs_mp_write_raw(out, v);
  }
  return out->failed ? CS_ETOOBIG : CS_OK;
}

int cs_object_decode(cs_span_t bytes, cs_object_t *obj) {
  cs_object_init(obj);
  cs_mp_reader_t r = cs_mp_reader(bytes);
  uint32_t n, count;
  int err;
  if ((err = cs_mp_read_array(&r, &n))) goto fail;
  if (n != 5) { err = CS_EFORMAT; goto fail; }
  if ((err = cs_mp_read_uint(&r, &obj->type))) goto fail;
  obj->has_parent = !cs_mp_read_nil(&r);
  if (obj->has_parent && (err = cs_mp_read_bin32(&r, obj->parent))) goto fail;
  if ((err = cs_mp_read_array(&r, &n))) goto fail;
  if (n != 3) { err = CS_EFORMAT; goto fail; }
  if ((err = cs_mp_read_bin32(&r, obj->creator))) goto fail;
  if ((err = cs_mp_read_uint(&r, &obj->created_lamport))) goto fail;
  if ((err = cs_mp_read_bin32(&r, obj->created_change))) goto fail;
  if (!cs_mp_read_nil(&r)) {
    if ((err = cs_mp_read_array(&r, &n))) goto fail;
    if (n != 2) { err = CS_EFORMAT; goto fail; }
    if ((err = cs_mp_read_bin32(&r, obj->deleted_by))) goto fail;
    if ((err = cs_mp_read_uint(&r, &obj->deleted_lamport))) goto fail;
    obj->deleted = true;
  }
  if ((err = cs_mp_read_array(&r, &count))) goto fail;
  if (count > cs_mp_remaining(&r)) { err = CS_ETRUNC; goto fail; }
  obj->entries = calloc(count ? count : 1, sizeof(cs_entry_t));
  if (!obj->entries) { err = CS_ENOMEM; goto fail; }
  obj->entry_cap = count ? count : 1;
  for (uint32_t i = 0; i < count; i++) {
    cs_entry_t *e = &obj->entries[i];
    cs_span_t v;
    if ((err = cs_mp_read_array(&r, &n))) goto fail;
    if (n != 5) { err = CS_EFORMAT; goto fail; }
    if ((err = cs_mp_read_uint(&r, &e->field))) goto fail;
    if ((err = cs_mp_read_uint(&r, &e->lamport))) goto fail;
    if ((err = cs_mp_read_bin32(&r, e->author))) goto fail;
    if ((err = cs_mp_read_bin32(&r, e->op))) goto fail;
    if ((err = cs_mp_skip(&r, &v))) goto fail;
    e->value = malloc(v.len ? v.len : 1);
    if (!e->value) { err = CS_ENOMEM; goto fail; }
    memcpy(e->value, v.ptr, v.len);
    e->value_len = v.len;
    obj->entry_count++;
  }
  if (!cs_mp_done(&r)) { err = CS_EFORMAT; goto fail; }
  return CS_OK;
fail:
  cs_object_free(obj);
  return err;
}
