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
  CS_OBJ_COMMENT = 2,  /* under any other object */
  CS_OBJ_CAMPAIGN = 3,
  CS_OBJ_BALLOT = 4,   /* under a campaign: one device key's allocation */
  CS_OBJ_MEETING = 5,
  CS_OBJ_DOCUMENT = 6, /* the procedure library, and meeting minutes */
  CS_OBJ_MOTION = 7,
  CS_OBJ_VOTE = 8,     /* under a motion: one device key's yes, no or abstain */
  CS_OBJ_TYPE_COUNT
} cs_obj_type_t;

typedef enum cs_field_kind_e {
  CS_FIELD_NONE = 0,
  CS_FIELD_REGISTER, /* multi-value register with preds */
  CS_FIELD_SET,      /* add-wins observed-remove set */
} cs_field_kind_t;

/* What a field's values may be. */
typedef enum cs_value_kind_e {
  CS_VALUE_TEXT = 1,   /* UTF-8 str up to CS_TEXT_MAX bytes (core/text.h) */
  CS_VALUE_NAME,       /* one-line, non-blank UTF-8 str up to CS_TITLE_MAX bytes */
  CS_VALUE_STATUS,     /* one str of the field's list */
  CS_VALUE_POINTS,     /* uint 1..CS_POINTS_MAX */
  CS_VALUE_OBJECT,     /* bin 32: the id of another object */
  CS_VALUE_OWN_KEY,    /* bin 32: the writer's own key (co-signing, attendance) */
  CS_VALUE_ALLOCATION, /* bin: msgpack [[request id (bin 32), points (uint)]...] */
  CS_VALUE_RESULTS,    /* bin: msgpack [[request id, points, museums]...], frozen at close */
  CS_VALUE_ELECTORATE, /* bin: msgpack [museum (str)...], sorted, distinct */
  CS_VALUE_RESOLUTION, /* bin: msgpack [outcome (str), yes, no, abstain]; the change's deps are its ballots */
  CS_VALUE_TAG,        /* one-line, non-blank UTF-8 str up to CS_TAG_MAX bytes */
} cs_value_kind_t;

/* Field numbers are part of the format; never reuse one. Registers are
 * 1..15, sets 16..31. */
enum {
  CS_F_REQ_TITLE = 1,
  CS_F_REQ_BODY = 2,
  CS_F_REQ_MODULE = 3,
  CS_F_REQ_STATUS = 4,
  CS_F_REQ_STATUS_NOTE = 5,
  CS_F_REQ_KIND = 6,
  CS_F_REQ_STORY = 7,
  CS_F_REQ_MERGED_INTO = 8,
  CS_F_REQ_VENDOR_ANSWER = 9,
  CS_F_REQ_VENDOR_ESTIMATE = 10,
  CS_F_REQ_TARGET_VERSION = 11,
  CS_F_REQ_DELIVERED_VERSION = 12,
  CS_F_REQ_TAGS = 16,
  CS_F_REQ_SUPPORTERS = 17,

  CS_F_COMMENT_BODY = 1,

  CS_F_CAMPAIGN_NAME = 1,
  CS_F_CAMPAIGN_POINTS = 2, /* per museum; written once, by the creating change */
  CS_F_CAMPAIGN_PHASE = 3,
  CS_F_CAMPAIGN_RESULTS = 4,
  /* 31 on a campaign: the store's record of its closes (CS_F_CAMPAIGN_CLOSES,
   * core/campaign.h), which no op writes. */

  CS_F_BALLOT_ALLOCATION = 1,

  CS_F_MEETING_TITLE = 1,
  CS_F_MEETING_DATE = 2,
  CS_F_MEETING_PLACE = 3,
  CS_F_MEETING_STATUS = 4,
  CS_F_MEETING_MINUTES = 5, /* a document */
  CS_F_MEETING_AGENDA = 16, /* requests */
  CS_F_MEETING_ATTENDANCE = 17,
  CS_F_MEETING_ACTIONS = 18,

  CS_F_DOC_TITLE = 1,
  CS_F_DOC_BODY = 2,
  CS_F_DOC_STATUS = 3,
  CS_F_DOC_VERSION = 4,

  CS_F_MOTION_TEXT = 1,       /* written once */
  CS_F_MOTION_EFFECT = 2,     /* written once: what adopting it changes */
  CS_F_MOTION_QUORUM = 3,     /* written once: majority or two-thirds */
  CS_F_MOTION_ELECTORATE = 4, /* written once: the voting museums at the motion */
  CS_F_MOTION_RESOLUTION = 5,

  CS_F_VOTE_CHOICE = 1,

  CS_FIELD_MAX = 31,
};

#define CS_POINTS_MAX 1000000u
#define CS_ALLOCATION_MAX 200 /* requests one ballot may give points to */

/* One field of an object type: its merge rule, its values and who writes it. */
typedef struct cs_field_spec_s {
  uint8_t obj_type;
  uint8_t field;
  cs_field_kind_t kind;
  cs_value_kind_t value;
  uint8_t writers;         /* bit (1 << role) for each role that may write it */
  bool write_once;         /* only in the change that creates the object */
  const char *name;        /* for --json, the log and docs/data-model.md */
  const char *const *statuses; /* CS_VALUE_STATUS: the allowed values */
} cs_field_spec_t;

/* The spec of a field, or NULL when the object type has no such field. */
const cs_field_spec_t *cs_model_field(uint64_t obj_type, uint64_t field);
/* Checks a value against its field's spec and the writer's role: CS_EFORMAT
 * for a wrong shape, CS_ETOOBIG past a bound, CS_EAUTH for a status the role
 * may not set. Pure: checks that need state (budget, own key) are the
 * store's. */
int cs_model_check_value(const cs_field_spec_t *spec, cs_role_t role, cs_span_t value) CS_MUST_USE;

/* Governed values: a status that takes effect only through an adopted
 * decision. Returns the effect's verb ("approve", "send") when writing
 * `value` in this field is governed, else NULL. */
const char *cs_model_governed(uint64_t obj_type, uint64_t field, cs_span_t value);
/* A motion's effect text for a governed change: "<verb> <64 hex>". */
#define CS_GOVERNED_EFFECT_MAX 96
void cs_governed_effect(char out[CS_GOVERNED_EFFECT_MAX + 1], const char *verb, const uint8_t id[CS_ID_LEN]);

/* An allocation's entries, decoded (CS_VALUE_ALLOCATION). */
typedef struct cs_allocation_s {
  uint32_t count;
  uint64_t total;
  uint8_t requests[CS_ALLOCATION_MAX][CS_ID_LEN];
  uint64_t points[CS_ALLOCATION_MAX];
} cs_allocation_t;
/* Decodes the bin value of an allocation; rejects duplicates and zero points. */
int cs_allocation_decode(cs_span_t value, cs_allocation_t *out) CS_MUST_USE;
/* Encodes an allocation as the bin value a ballot's register holds. */
void cs_allocation_write(cs_buf_t *b, const cs_allocation_t *a);

#define CS_PREDS_MAX 64
/* A text value's bytes (a request body, a comment): 16 KiB of UTF-8, as
 * docs/data-model.md says. A register value is at most CS_VALUE_MAX bytes of
 * msgpack: the text and its longest str header (5 bytes). */
#define CS_TEXT_MAX 16384
#define CS_VALUE_MAX (CS_TEXT_MAX + 5)
#define CS_NAME_MAX 200
/* A CS_VALUE_NAME value: a request's title, module, kind and vendor estimate, a
 * campaign's, meeting's or document's name or title. */
#define CS_TITLE_MAX (2 * CS_NAME_MAX)
#define CS_ELEMENT_MAX 256
/* The longest str a set element holds: msgpack's str 8 header takes 2 of
 * CS_ELEMENT_MAX's bytes (meeting actions). */
#define CS_SET_TEXT_MAX (CS_ELEMENT_MAX - 2)
/* A request's tags: each is 1 to CS_TAG_MAX bytes (a value rule, like a
 * title's), and a change that files a request gives it at most CS_TAGS_MAX
 * (a shape rule of the change, checked by cs_op_iter_next). */
#define CS_TAG_MAX 64
#define CS_TAGS_MAX 32
/* The create ops a later op of the same change may name by their index (a
 * local ref): the first CS_LOCAL_REFS_MAX of the change. */
#define CS_LOCAL_REFS_MAX 64

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
  uint64_t created;                             /* bit i: op i is a create op (for local refs) */
  uint8_t created_type[CS_LOCAL_REFS_MAX];      /* the object type op i created */
  uint8_t tags[CS_LOCAL_REFS_MAX];              /* tags this change gave the request op i created */
} cs_op_iter_t;
_Static_assert(CS_LOCAL_REFS_MAX <= 64, "one bit of cs_op_iter_t.created per local ref");
_Static_assert(CS_TAGS_MAX <= UINT8_MAX, "a request's tag count in a change fits cs_op_iter_t.tags");
_Static_assert(CS_OBJ_TYPE_COUNT <= UINT8_MAX, "an object type fits cs_op_iter_t.created_type");

/* Starts iterating; fails when the payload is not an array of 1..OPS_MAX. */
int cs_op_iter_init(cs_op_iter_t *it, cs_span_t payload) CS_MUST_USE;
/* Decodes the next op; returns CS_ENOTFOUND after the last one. Checks the
 * op's shape and value types, but not whether its object exists. */
int cs_op_iter_next(cs_op_iter_t *it, cs_op_t *op) CS_MUST_USE;

/* Checks every op of a payload (shape and schema) without any state. */
int cs_payload_check(cs_span_t payload, bool genesis) CS_MUST_USE;

/* The merge rule of a field of an object type, or CS_FIELD_NONE. */
cs_field_kind_t cs_model_field_kind(uint64_t obj_type, uint64_t field);
/* Whether a role may perform an op of this type on this object type/field
 * (for a create, field is ignored; for a delete, the store also requires
 * the object's creator or an admin). */
bool cs_model_may(cs_role_t role, cs_op_type_t op, uint64_t obj_type, uint64_t field);
/* The object type a new object of this type must hang under, 0 for none;
 * a comment may hang under anything but a comment or a ballot. */
bool cs_model_parent_ok(uint64_t obj_type, bool has_parent, uint64_t parent_type);

const char *cs_role_name(cs_role_t role);
/* Parses "admin", "member", "observer", "vendor"; CS_ROLE_NONE if unknown. */
cs_role_t cs_role_parse(const char *name);

/* Request statuses, in lifecycle order; the vendor's are those it may set. */
extern const char *const cs_request_statuses[];
extern const char *const cs_vendor_statuses[];
bool cs_request_status_valid(cs_span_t status);
extern const char *const cs_campaign_phases[];
extern const char *const cs_meeting_statuses[];
extern const char *const cs_document_statuses[];
extern const char *const cs_quorum_rules[];   /* majority, two-thirds */
extern const char *const cs_vote_choices[];   /* yes, no, abstain */
extern const char *const cs_outcomes[];       /* adopted, rejected */
/* Whether text is one of a NULL-terminated list. */
bool cs_status_in(const char *const *list, cs_span_t text);

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
/* A set or add of a raw msgpack value (a uint, a bin ...) already encoded. */
void cs_op_write_set_raw(cs_buf_t *b, cs_ref_t obj, uint64_t field, cs_span_t value, uint32_t pred_count,
                         const uint8_t (*preds)[CS_ID_LEN]);
void cs_op_write_add_raw(cs_buf_t *b, cs_ref_t obj, uint64_t field, cs_span_t element);
void cs_op_write_remove_raw(cs_buf_t *b, cs_ref_t obj, uint64_t field, cs_span_t element, uint32_t add_count,
                            const uint8_t (*adds)[CS_ID_LEN]);

#endif
