#ifndef CS_CORE_OP_H
#define CS_CORE_OP_H

/* Operations inside a change's payload, and the club's data model: which
 * object types exist, which fields they have, their merge rule, and which
 * roles may write them. docs/data-model.md draws the same tables. */

#include <stdbool.h>
#include <stdint.h>

#include "core/change.h"
#include "core/mp.h"

typedef enum cs_op_type_e {
  CS_OP_GENESIS = 0, /* [0, club name, software, founder museum] */
  CS_OP_MEMBER = 1,  /* [1, key, museum, role, cutoff] */
  CS_OP_CREATE = 2,  /* [2, object type, parent object | nil] */
  CS_OP_SET = 3,     /* [3, object, field, value, [pred op ids]] */
  CS_OP_ADD = 4,     /* [4, object, field, element] */
  CS_OP_REMOVE = 5,  /* [5, object, field, element, [add op ids seen]] */
  CS_OP_DELETE = 6,  /* [6, object] */
  CS_OP_TYPE_COUNT
} cs_op_type_t;

typedef enum cs_role_e {
  CS_ROLE_NONE = 0, /* not a member, or removed */
  CS_ROLE_ADMIN = 1,
  CS_ROLE_MEMBER = 2,
  CS_ROLE_OBSERVER = 3,
  CS_ROLE_VENDOR = 4,
  CS_ROLE_COUNT
} cs_role_t;

typedef enum cs_obj_type_e {
  CS_OBJ_REQUEST = 1,
  CS_OBJ_COMMENT = 2,
  CS_OBJ_TYPE_COUNT
} cs_obj_type_t;

typedef enum cs_field_kind_e {
  CS_FIELD_NONE = 0,
  CS_FIELD_REGISTER, /* multi-value register with preds */
  CS_FIELD_SET,      /* add-wins observed-remove set */
} cs_field_kind_t;

/* Field numbers are part of the format; never reuse one. */
enum {
  CS_F_REQ_TITLE = 1,
  CS_F_REQ_BODY = 2,
  CS_F_REQ_MODULE = 3,
  CS_F_REQ_STATUS = 4,
  CS_F_REQ_STATUS_NOTE = 5,
  CS_F_REQ_TAGS = 16,
  CS_F_COMMENT_BODY = 1,
  CS_FIELD_MAX = 31,
};

#define CS_PREDS_MAX 64
#define CS_TEXT_MAX 16384
#define CS_NAME_MAX 200
#define CS_ELEMENT_MAX 256

typedef struct cs_op_s {
  cs_op_type_t type;
  /* GENESIS and MEMBER */
  cs_span_t name;     /* club name, or member museum */
  cs_span_t software; /* GENESIS only */
  uint8_t key[CS_KEY_LEN];
  uint64_t role;
  uint64_t cutoff;
  /* CREATE */
  uint64_t obj_type;
  bool has_parent;
  uint8_t parent[CS_ID_LEN];
  /* SET, ADD, REMOVE, DELETE */
  uint8_t obj[CS_ID_LEN];
  bool obj_local;     /* obj (or parent) names op `obj_index` of this change */
  uint32_t obj_index;
  uint64_t field;
  cs_span_t value; /* raw msgpack of the value or element */
  uint32_t ref_count;
  uint8_t refs[CS_PREDS_MAX][CS_ID_LEN]; /* preds of SET, adds of REMOVE */
} cs_op_t;

/* Iterates the ops of a payload. */
typedef struct cs_op_iter_s {
  cs_mp_reader_t reader;
  uint32_t count;
  uint32_t index;
  uint64_t created; /* bit i: op i is a create op (for local refs) */
} cs_op_iter_t;

/* Starts iterating; fails when the payload is not an array of 1..OPS_MAX. */
int cs_op_iter_init(cs_op_iter_t *it, cs_span_t payload) CS_MUST_USE;
/* Decodes the next op; returns CS_ENOTFOUND after the last one. Checks the
 * op's shape and value types, but not whether its object exists. */
int cs_op_iter_next(cs_op_iter_t *it, cs_op_t *op) CS_MUST_USE;

/* Checks every op of a payload (shape and schema) without any state. */
int cs_payload_check(cs_span_t payload, bool genesis) CS_MUST_USE;

/* The merge rule of a field of an object type, or CS_FIELD_NONE. */
cs_field_kind_t cs_model_field_kind(uint64_t obj_type, uint64_t field);
/* Whether a role may perform an op of this type on this object type/field. */
bool cs_model_may(cs_role_t role, cs_op_type_t op, uint64_t obj_type, uint64_t field);

const char *cs_role_name(cs_role_t role);
/* Parses "admin", "member", "observer", "vendor"; CS_ROLE_NONE if unknown. */
cs_role_t cs_role_parse(const char *name);

/* Request statuses, in lifecycle order. */
extern const char *const cs_request_statuses[];
bool cs_request_status_valid(cs_span_t status);

/* Names an object in an op: by id, or as the object created by op `local`
 * of the same change, so one change can create an object and fill it in. */
typedef struct cs_ref_s {
  const uint8_t *id;
  uint32_t local;
} cs_ref_t;
static inline cs_ref_t cs_ref_id(const uint8_t *id) {
  cs_ref_t r = {id, 0};
  return r;
}
static inline cs_ref_t cs_ref_local(uint32_t op_index) {
  cs_ref_t r = {NULL, op_index};
  return r;
}

/* Encoding helpers for authors building payloads. */
void cs_op_write_genesis(cs_buf_t *b, const char *name, const char *software, const char *museum);
void cs_op_write_member(cs_buf_t *b, const uint8_t key[CS_KEY_LEN], const char *museum, cs_role_t role,
                        uint64_t cutoff);
void cs_op_write_create(cs_buf_t *b, cs_obj_type_t type, const cs_ref_t *parent);
void cs_op_write_set_str(cs_buf_t *b, cs_ref_t obj, uint64_t field, const char *value, uint32_t pred_count,
                         const uint8_t (*preds)[CS_ID_LEN]);
void cs_op_write_add_str(cs_buf_t *b, cs_ref_t obj, uint64_t field, const char *elem);
void cs_op_write_remove_str(cs_buf_t *b, cs_ref_t obj, uint64_t field, const char *elem, uint32_t add_count,
                            const uint8_t (*adds)[CS_ID_LEN]);
void cs_op_write_delete(cs_buf_t *b, cs_ref_t obj);

#endif
