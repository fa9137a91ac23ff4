/* Operation codec and the data model's schema.
 *
 * Payload: msgpack array of 1..256 ops; each op is an array whose first item
 * is its type:
 *
 * | TYPE | NAME    | ITEMS AFTER THE TYPE                                    |
 * |------|---------|---------------------------------------------------------|
 * | 0    | genesis | club name (str), software (str), founder museum (str)   |
 * | 1    | member  | key (bin 32), museum (str), role (uint), cutoff (uint)  |
 * | 2    | create  | object type (uint), parent object (ref or nil)          |
 * | 3    | set     | object, field (uint), value (any), preds (array bin 32) |
 * | 4    | add     | object, field (uint), element (any)                     |
 * | 5    | remove  | object, field, element, add op ids seen (array bin 32)  |
 * | 6    | delete  | object                                                  |
 *
 * An object is named by a ref: a bin 32 object id, or a uint i naming the
 * object created by op i (a create op before this one) of the same change.
 */
#include "core/op.h"

#include <string.h>

const char *const cs_request_statuses[] = {
    "draft", "submitted", "review", "vote", "shortlisted", "estimated", "committed", "planned",
    "delivered", "verified", "closed", "merged", "rejected", "declined", "postponed", NULL,
};

bool cs_request_status_valid(cs_span_t status) {
  for (int i = 0; cs_request_statuses[i]; i++)
    if (strlen(cs_request_statuses[i]) == status.len &&
        memcmp(cs_request_statuses[i], status.ptr, status.len) == 0)
      return true;
  return false;
}

static const char *const cs__role_names[CS_ROLE_COUNT] = {"none", "admin", "member", "observer", "vendor"};

const char *cs_role_name(cs_role_t role) {
  return (unsigned)role < CS_ROLE_COUNT ? cs__role_names[role] : "unknown";
}

cs_role_t cs_role_parse(const char *name) {
  for (int i = 1; i < CS_ROLE_COUNT; i++)
    if (strcmp(name, cs__role_names[i]) == 0) return (cs_role_t)i;
  return CS_ROLE_NONE;
}

cs_field_kind_t cs_model_field_kind(uint64_t obj_type, uint64_t field) {
  switch (obj_type) {
  case CS_OBJ_REQUEST:
    switch (field) {
    case CS_F_REQ_TITLE: case CS_F_REQ_BODY: case CS_F_REQ_MODULE:
    case CS_F_REQ_STATUS: case CS_F_REQ_STATUS_NOTE:
      return CS_FIELD_REGISTER;
    case CS_F_REQ_TAGS:
      return CS_FIELD_SET;
    default:
      return CS_FIELD_NONE;
    }
  case CS_OBJ_COMMENT:
    return field == CS_F_COMMENT_BODY ? CS_FIELD_REGISTER : CS_FIELD_NONE;
  default:
    return CS_FIELD_NONE;
  }
}

static bool cs__writer(cs_role_t role) { return role == CS_ROLE_ADMIN || role == CS_ROLE_MEMBER; }

bool cs_model_may(cs_role_t role, cs_op_type_t op, uint64_t obj_type, uint64_t field) {
  (void)field;
  if (role == CS_ROLE_NONE) return false;
  switch (op) {
  case CS_OP_GENESIS:
    return false; /* only as the first op of a club's first change */
  case CS_OP_MEMBER:
    return role == CS_ROLE_ADMIN;
  case CS_OP_CREATE: case CS_OP_SET: case CS_OP_ADD: case CS_OP_REMOVE: case CS_OP_DELETE:
    /* Everyone with a role may discuss; only voting museums shape requests. */
    if (obj_type == CS_OBJ_COMMENT) return true;
    if (obj_type == CS_OBJ_REQUEST) return cs__writer(role) && op != CS_OP_DELETE;
    return false;
  default:
    return false;
  }
}

int cs_op_iter_init(cs_op_iter_t *it, cs_span_t payload) {
  it->reader = cs_mp_reader(payload);
  it->index = 0;
  it->created = 0;
  int err = cs_mp_read_array(&it->reader, &it->count);
  if (err) return err;
  if (it->count == 0) return CS_EFORMAT;
  if (it->count > CS_CHANGE_OPS_MAX) return CS_ETOOBIG;
  return CS_OK;
}

static int cs__read_text(cs_mp_reader_t *r, cs_span_t *out, size_t max) {
  int err = cs_mp_read_str(r, out);
  if (err) return err;
  return out->len > max ? CS_ETOOBIG : CS_OK;
}

/* Reads an object ref; index is the current op's index in the change. */
static int cs__read_obj(cs_mp_reader_t *r, cs_op_t *op, const cs_op_iter_t *it) {
  uint64_t local;
  op->obj_local = false;
  if (cs_mp_remaining(r) > 0 && r->pos[0] != 0xc4) {
    int err = cs_mp_read_uint(r, &local);
    if (err) return err;
    if (local >= 64 || local >= it->index || !(it->created >> local & 1)) return CS_EFORMAT;
    op->obj_local = true;
    op->obj_index = (uint32_t)local;
    memset(op->obj, 0, CS_ID_LEN);
    return CS_OK;
  }
  return cs_mp_read_bin32(r, op->obj);
}

static int cs__read_refs(cs_mp_reader_t *r, cs_op_t *op) {
  int err = cs_mp_read_array(r, &op->ref_count);
  if (err) return err;
  if (op->ref_count > CS_PREDS_MAX) return CS_ETOOBIG;
  for (uint32_t i = 0; i < op->ref_count; i++)
    if ((err = cs_mp_read_bin32(r, op->refs[i]))) return err;
  return CS_OK;
}

/* A value or set element is any scalar msgpack value (no containers), so
 * that equality of raw bytes is equality of values. */
static int cs__read_value(cs_mp_reader_t *r, cs_span_t *out, size_t max) {
  if (cs_mp_remaining(r) < 1) return CS_ETRUNC;
  uint8_t t = r->pos[0];
  bool container = (t & 0xf0) == 0x90 || (t & 0xf0) == 0x80 || t == 0xdc || t == 0xdd || t == 0xde || t == 0xdf;
  if (container) return CS_EFORMAT;
  int err = cs_mp_skip(r, out);
  if (err) return err;
  return out->len > max ? CS_ETOOBIG : CS_OK;
}

int cs_op_iter_next(cs_op_iter_t *it, cs_op_t *op) {
  if (it->index >= it->count) return CS_ENOTFOUND;
  cs_mp_reader_t *r = &it->reader;
  uint32_t n;
  uint64_t type;
  int err;
  if ((err = cs_mp_read_array(r, &n))) return err;
  if (n < 1) return CS_EFORMAT;
  if ((err = cs_mp_read_uint(r, &type))) return err;
  /* Reset everything but the large refs array, which ref_count bounds. */
  memset(op, 0, offsetof(cs_op_t, refs));
  op->type = (cs_op_type_t)type;
  switch (type) {
  case CS_OP_GENESIS:
    if (n != 4) return CS_EFORMAT;
    if ((err = cs__read_text(r, &op->name, CS_NAME_MAX))) return err;
    if ((err = cs__read_text(r, &op->software, CS_NAME_MAX))) return err;
    if ((err = cs__read_text(r, &op->value, CS_NAME_MAX))) return err;
    if (op->name.len == 0) return CS_EFORMAT;
    break;
  case CS_OP_MEMBER:
    if (n != 5) return CS_EFORMAT;
    if ((err = cs_mp_read_bin32(r, op->key))) return err;
    if ((err = cs__read_text(r, &op->name, CS_NAME_MAX))) return err;
    if ((err = cs_mp_read_uint(r, &op->role))) return err;
    if ((err = cs_mp_read_uint(r, &op->cutoff))) return err;
    if (op->role >= CS_ROLE_COUNT) return CS_EFORMAT;
    break;
  case CS_OP_CREATE:
    if (n != 3) return CS_EFORMAT;
    if ((err = cs_mp_read_uint(r, &op->obj_type))) return err;
    if (op->obj_type == 0 || op->obj_type >= CS_OBJ_TYPE_COUNT) return CS_EUNKNOWNOP;
    op->has_parent = !cs_mp_read_nil(r);
    if (op->has_parent && (err = cs__read_obj(r, op, it))) return err;
    if (op->has_parent) memcpy(op->parent, op->obj, CS_ID_LEN);
    /* A comment hangs under the object it discusses; a request stands alone. */
    if (op->has_parent != (op->obj_type == CS_OBJ_COMMENT)) return CS_EFORMAT;
    break;
  case CS_OP_SET:
  case CS_OP_ADD:
  case CS_OP_REMOVE:
    if (n != (type == CS_OP_ADD ? 4u : 5u)) return CS_EFORMAT;
    if ((err = cs__read_obj(r, op, it))) return err;
    if ((err = cs_mp_read_uint(r, &op->field))) return err;
    if (op->field == 0 || op->field > CS_FIELD_MAX) return CS_EFORMAT;
    if ((err = cs__read_value(r, &op->value, type == CS_OP_SET ? CS_TEXT_MAX : CS_ELEMENT_MAX))) return err;
    if (type != CS_OP_ADD && (err = cs__read_refs(r, op))) return err;
    break;
  case CS_OP_DELETE:
    if (n != 2) return CS_EFORMAT;
    if ((err = cs__read_obj(r, op, it))) return err;
    break;
  default:
    return CS_EUNKNOWNOP;
  }
  /* Local refs may only name create ops among the first 64 of a change. */
  if (type == CS_OP_CREATE && it->index < 64) it->created |= (uint64_t)1 << it->index;
  it->index++;
  if (it->index == it->count && !cs_mp_done(r)) return CS_EFORMAT;
  return CS_OK;
}

int cs_payload_check(cs_span_t payload, bool genesis) {
  cs_op_iter_t it;
  cs_op_t op;
  int err = cs_op_iter_init(&it, payload);
  if (err) return err;
  bool members = false;
  while ((err = cs_op_iter_next(&it, &op)) == CS_OK) {
    /* The genesis op appears once, first, and only in a genesis change. */
    bool first = it.index == 1;
    if ((op.type == CS_OP_GENESIS) != (genesis && first)) return CS_EFORMAT;
    /* Member ops travel alone (after the genesis op at most), so membership
     * can be replayed without evaluating anything else. */
    if (first) members = genesis || op.type == CS_OP_MEMBER;
    else if ((op.type == CS_OP_MEMBER) != members) return CS_EFORMAT;
  }
  return err == CS_ENOTFOUND ? CS_OK : err;
}

void cs_op_write_genesis(cs_buf_t *b, const char *name, const char *software, const char *museum) {
  cs_mp_write_array(b, 4);
  cs_mp_write_uint(b, CS_OP_GENESIS);
  cs_mp_write_cstr(b, name);
  cs_mp_write_cstr(b, software);
  cs_mp_write_cstr(b, museum);
}

void cs_op_write_member(cs_buf_t *b, const uint8_t key[CS_KEY_LEN], const char *museum, cs_role_t role,
                        uint64_t cutoff) {
  cs_mp_write_array(b, 5);
  cs_mp_write_uint(b, CS_OP_MEMBER);
  cs_mp_write_bin(b, key, CS_KEY_LEN);
  cs_mp_write_cstr(b, museum);
  cs_mp_write_uint(b, role);
  cs_mp_write_uint(b, cutoff);
}

static void cs__write_ref(cs_buf_t *b, cs_ref_t ref) {
  if (ref.id) cs_mp_write_bin(b, ref.id, CS_ID_LEN); else cs_mp_write_uint(b, ref.local);
}

void cs_op_write_create(cs_buf_t *b, cs_obj_type_t type, const cs_ref_t *parent) {
  cs_mp_write_array(b, 3);
  cs_mp_write_uint(b, CS_OP_CREATE);
  cs_mp_write_uint(b, type);
  if (parent) cs__write_ref(b, *parent); else cs_mp_write_nil(b);
}

static void cs__write_ids(cs_buf_t *b, uint32_t count, const uint8_t (*ids)[CS_ID_LEN]) {
  cs_mp_write_array(b, count);
  for (uint32_t i = 0; i < count; i++) cs_mp_write_bin(b, ids[i], CS_ID_LEN);
}

void cs_op_write_set_str(cs_buf_t *b, cs_ref_t obj, uint64_t field, const char *value, uint32_t pred_count,
                         const uint8_t (*preds)[CS_ID_LEN]) {
  cs_mp_write_array(b, 5);
  cs_mp_write_uint(b, CS_OP_SET);
  cs__write_ref(b, obj);
  cs_mp_write_uint(b, field);
  cs_mp_write_cstr(b, value);
  cs__write_ids(b, pred_count, preds);
}

void cs_op_write_add_str(cs_buf_t *b, cs_ref_t obj, uint64_t field, const char *elem) {
  cs_mp_write_array(b, 4);
  cs_mp_write_uint(b, CS_OP_ADD);
  cs__write_ref(b, obj);
  cs_mp_write_uint(b, field);
  cs_mp_write_cstr(b, elem);
}

void cs_op_write_remove_str(cs_buf_t *b, cs_ref_t obj, uint64_t field, const char *elem, uint32_t add_count,
                            const uint8_t (*adds)[CS_ID_LEN]) {
  cs_mp_write_array(b, 5);
  cs_mp_write_uint(b, CS_OP_REMOVE);
  cs__write_ref(b, obj);
  cs_mp_write_uint(b, field);
  cs_mp_write_cstr(b, elem);
  cs__write_ids(b, add_count, adds);
}

void cs_op_write_delete(cs_buf_t *b, cs_ref_t obj) {
  cs_mp_write_array(b, 2);
  cs_mp_write_uint(b, CS_OP_DELETE);
  cs__write_ref(b, obj);
}
