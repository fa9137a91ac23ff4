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

#include "core/decision.h"
#include "core/text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const cs_request_statuses[] = {
    "draft", "submitted", "review", "vote", "shortlisted", "estimated", "committed", "planned",
    "delivered", "verified", "closed", "merged", "rejected", "declined", "postponed", NULL,
};
const char *const cs_vendor_statuses[] = {"estimated", "committed", "planned", "delivered", "declined", NULL};
const char *const cs_campaign_phases[] = {"submission", "review", "vote", "closed", "sent", NULL};
const char *const cs_meeting_statuses[] = {"planned", "convened", "held", "minutes-review", "approved", NULL};
const char *const cs_document_statuses[] = {"draft", "reviewed", "approved", "obsolete", NULL};
const char *const cs_quorum_rules[] = {"majority", "two-thirds", NULL};
const char *const cs_vote_choices[] = {"yes", "no", "abstain", NULL};
const char *const cs_outcomes[] = {"adopted", "rejected", NULL};

bool cs_status_in(const char *const *list, cs_span_t text) {
  for (int i = 0; list[i]; i++)
    if (strlen(list[i]) == text.len && memcmp(list[i], text.ptr, text.len) == 0) return true;
  return false;
}

bool cs_request_status_valid(cs_span_t status) { return cs_status_in(cs_request_statuses, status); }

static const char *const cs__role_names[] = {"none", "admin", "member", "observer", "vendor"};
_Static_assert(CS_ARRAY_LEN(cs__role_names) == CS_ROLE_COUNT, "one name per role");

const char *cs_role_name(cs_role_t role) {
  return (unsigned)role < CS_ROLE_COUNT ? cs__role_names[role] : "unknown";
}

cs_role_t cs_role_parse(const char *name) {
  for (int i = 1; i < CS_ROLE_COUNT; i++)
    if (strcmp(name, cs__role_names[i]) == 0) return (cs_role_t)i;
  return CS_ROLE_NONE;
}

/* Who writes what: the club's members shape their requests, the vendor
 * answers them, admins run campaigns and approve documents. */
#define CS__ADMIN (1u << CS_ROLE_ADMIN)
#define CS__MEMBER (1u << CS_ROLE_MEMBER)
#define CS__VENDOR (1u << CS_ROLE_VENDOR)
#define CS__CLUB (CS__ADMIN | CS__MEMBER)

#define R CS_FIELD_REGISTER
#define S CS_FIELD_SET
static const cs_field_spec_t cs__fields[] = {
    {CS_OBJ_REQUEST, CS_F_REQ_TITLE, R, CS_VALUE_NAME, CS__CLUB, false, "title", NULL},
    {CS_OBJ_REQUEST, CS_F_REQ_BODY, R, CS_VALUE_TEXT, CS__CLUB, false, "body", NULL},
    {CS_OBJ_REQUEST, CS_F_REQ_MODULE, R, CS_VALUE_NAME, CS__CLUB, false, "module", NULL},
    {CS_OBJ_REQUEST, CS_F_REQ_STATUS, R, CS_VALUE_STATUS, CS__CLUB | CS__VENDOR, false, "status",
     cs_request_statuses},
    {CS_OBJ_REQUEST, CS_F_REQ_STATUS_NOTE, R, CS_VALUE_TEXT, CS__CLUB | CS__VENDOR, false, "status_note", NULL},
    {CS_OBJ_REQUEST, CS_F_REQ_KIND, R, CS_VALUE_NAME, CS__CLUB, false, "kind", NULL},
    {CS_OBJ_REQUEST, CS_F_REQ_STORY, R, CS_VALUE_TEXT, CS__CLUB, false, "story", NULL},
    {CS_OBJ_REQUEST, CS_F_REQ_MERGED_INTO, R, CS_VALUE_OBJECT, CS__CLUB, false, "merged_into", NULL},
    {CS_OBJ_REQUEST, CS_F_REQ_VENDOR_ANSWER, R, CS_VALUE_TEXT, CS__VENDOR | CS__ADMIN, false, "vendor_answer", NULL},
    {CS_OBJ_REQUEST, CS_F_REQ_VENDOR_ESTIMATE, R, CS_VALUE_NAME, CS__VENDOR | CS__ADMIN, false, "vendor_estimate",
     NULL},
    {CS_OBJ_REQUEST, CS_F_REQ_TARGET_VERSION, R, CS_VALUE_NAME, CS__VENDOR | CS__ADMIN, false, "target_version",
     NULL},
    {CS_OBJ_REQUEST, CS_F_REQ_DELIVERED_VERSION, R, CS_VALUE_NAME, CS__VENDOR | CS__ADMIN, false,
     "delivered_version", NULL},
    {CS_OBJ_REQUEST, CS_F_REQ_TAGS, S, CS_VALUE_TAG, CS__CLUB, false, "tags", NULL},
    {CS_OBJ_REQUEST, CS_F_REQ_SUPPORTERS, S, CS_VALUE_OWN_KEY, CS__CLUB, false, "supporters", NULL},
    {CS_OBJ_COMMENT, CS_F_COMMENT_BODY, R, CS_VALUE_TEXT, 0xff, false, "body", NULL},
    {CS_OBJ_CAMPAIGN, CS_F_CAMPAIGN_NAME, R, CS_VALUE_NAME, CS__ADMIN, false, "name", NULL},
    {CS_OBJ_CAMPAIGN, CS_F_CAMPAIGN_POINTS, R, CS_VALUE_POINTS, CS__ADMIN, true, "points", NULL},
    {CS_OBJ_CAMPAIGN, CS_F_CAMPAIGN_PHASE, R, CS_VALUE_STATUS, CS__ADMIN, false, "phase", cs_campaign_phases},
    {CS_OBJ_CAMPAIGN, CS_F_CAMPAIGN_RESULTS, R, CS_VALUE_RESULTS, CS__ADMIN, false, "results", NULL},
    {CS_OBJ_BALLOT, CS_F_BALLOT_ALLOCATION, R, CS_VALUE_ALLOCATION, CS__CLUB, false, "allocation", NULL},
    {CS_OBJ_MEETING, CS_F_MEETING_TITLE, R, CS_VALUE_NAME, CS__CLUB, false, "title", NULL},
    {CS_OBJ_MEETING, CS_F_MEETING_DATE, R, CS_VALUE_NAME, CS__CLUB, false, "date", NULL},
    {CS_OBJ_MEETING, CS_F_MEETING_PLACE, R, CS_VALUE_NAME, CS__CLUB, false, "place", NULL},
    {CS_OBJ_MEETING, CS_F_MEETING_STATUS, R, CS_VALUE_STATUS, CS__CLUB, false, "status", cs_meeting_statuses},
    {CS_OBJ_MEETING, CS_F_MEETING_MINUTES, R, CS_VALUE_OBJECT, CS__CLUB, false, "minutes", NULL},
    {CS_OBJ_MEETING, CS_F_MEETING_AGENDA, S, CS_VALUE_OBJECT, CS__CLUB, false, "agenda", NULL},
    {CS_OBJ_MEETING, CS_F_MEETING_ATTENDANCE, S, CS_VALUE_OWN_KEY, CS__CLUB, false, "attendance", NULL},
    {CS_OBJ_MEETING, CS_F_MEETING_ACTIONS, S, CS_VALUE_NAME, CS__CLUB, false, "actions", NULL},
    {CS_OBJ_DOCUMENT, CS_F_DOC_TITLE, R, CS_VALUE_NAME, CS__CLUB, false, "title", NULL},
    {CS_OBJ_DOCUMENT, CS_F_DOC_BODY, R, CS_VALUE_TEXT, CS__CLUB, false, "body", NULL},
    {CS_OBJ_DOCUMENT, CS_F_DOC_STATUS, R, CS_VALUE_STATUS, CS__CLUB, false, "status", cs_document_statuses},
    {CS_OBJ_DOCUMENT, CS_F_DOC_VERSION, R, CS_VALUE_NAME, CS__CLUB, false, "software_version", NULL},
    {CS_OBJ_MOTION, CS_F_MOTION_TEXT, R, CS_VALUE_TEXT, CS__CLUB, true, "text", NULL},
    {CS_OBJ_MOTION, CS_F_MOTION_EFFECT, R, CS_VALUE_TEXT, CS__CLUB, true, "effect", NULL},
    {CS_OBJ_MOTION, CS_F_MOTION_QUORUM, R, CS_VALUE_STATUS, CS__CLUB, true, "quorum", cs_quorum_rules},
    {CS_OBJ_MOTION, CS_F_MOTION_ELECTORATE, R, CS_VALUE_ELECTORATE, CS__CLUB, true, "electorate", NULL},
    {CS_OBJ_MOTION, CS_F_MOTION_RESOLUTION, R, CS_VALUE_RESOLUTION, CS__ADMIN, false, "resolution", NULL},
    {CS_OBJ_VOTE, CS_F_VOTE_CHOICE, R, CS_VALUE_STATUS, CS__CLUB, false, "choice", cs_vote_choices},
};
#undef R
#undef S

const cs_field_spec_t *cs_model_field(uint64_t obj_type, uint64_t field) {
  for (size_t i = 0; i < sizeof(cs__fields) / sizeof(cs__fields[0]); i++)
    if (cs__fields[i].obj_type == obj_type && cs__fields[i].field == field) return &cs__fields[i];
  return NULL;
}

cs_field_kind_t cs_model_field_kind(uint64_t obj_type, uint64_t field) {
  const cs_field_spec_t *spec = cs_model_field(obj_type, field);
  return spec ? spec->kind : CS_FIELD_NONE;
}

int cs_allocation_decode(cs_span_t value, cs_allocation_t *out) {
  cs_mp_reader_t outer = cs_mp_reader(value);
  cs_span_t inner;
  uint32_t n, pair;
  int err = cs_mp_read_bin(&outer, &inner);
  if (err) return err;
  if (!cs_mp_done(&outer)) return CS_EFORMAT;
  cs_mp_reader_t r = cs_mp_reader(inner);
  if ((err = cs_mp_read_array(&r, &n))) return err;
  if (n > CS_ALLOCATION_MAX) return CS_ETOOBIG;
  out->count = n;
  out->total = 0;
  for (uint32_t i = 0; i < n; i++) {
    if ((err = cs_mp_read_array(&r, &pair))) return err;
    if (pair != 2) return CS_EFORMAT;
    if ((err = cs_mp_read_bin32(&r, out->requests[i])) || (err = cs_mp_read_uint(&r, &out->points[i]))) return err;
    if (out->points[i] == 0 || out->points[i] > CS_POINTS_MAX) return CS_EFORMAT;
    for (uint32_t j = 0; j < i; j++)
      if (memcmp(out->requests[j], out->requests[i], CS_ID_LEN) == 0) return CS_EFORMAT;
    out->total += out->points[i];
  }
  return cs_mp_done(&r) ? CS_OK : CS_EFORMAT;
}

void cs_allocation_write(cs_buf_t *b, const cs_allocation_t *a) {
  cs_buf_t inner;
  cs_buf_init(&inner, CS_TEXT_MAX);
  cs_mp_write_array(&inner, a->count);
  for (uint32_t i = 0; i < a->count; i++) {
    cs_mp_write_array(&inner, 2);
    cs_mp_write_bin(&inner, a->requests[i], CS_ID_LEN);
    cs_mp_write_uint(&inner, a->points[i]);
  }
  if (inner.failed) b->failed = true;
  else cs_mp_write_bin(b, inner.data, inner.len);
  cs_buf_free(&inner);
}

/* Frozen results: [[request id (bin 32), points (uint), museums (uint)]...]. */
static int cs__check_results(cs_span_t value) {
  cs_mp_reader_t outer = cs_mp_reader(value);
  cs_span_t inner;
  uint32_t n, row;
  uint8_t id[CS_ID_LEN];
  uint64_t number;
  int err = cs_mp_read_bin(&outer, &inner);
  if (err) return err;
  cs_mp_reader_t r = cs_mp_reader(inner);
  if ((err = cs_mp_read_array(&r, &n))) return err;
  for (uint32_t i = 0; i < n; i++) {
    if ((err = cs_mp_read_array(&r, &row))) return err;
    if (row != 3) return CS_EFORMAT;
    if ((err = cs_mp_read_bin32(&r, id)) || (err = cs_mp_read_uint(&r, &number)) ||
        (err = cs_mp_read_uint(&r, &number)))
      return err;
  }
  return cs_mp_done(&r) && cs_mp_done(&outer) ? CS_OK : CS_EFORMAT;
}

int cs_model_check_value(const cs_field_spec_t *spec, cs_role_t role, cs_span_t value) {
  cs_mp_reader_t r = cs_mp_reader(value);
  cs_span_t text;
  uint64_t number;
  uint8_t id[CS_ID_LEN];
  int err;
  switch (spec->value) {
  /* Text is valid UTF-8 on every node; one-line values are neither blank
   * nor broken across lines (core/text.h, docs/decisions.md). */
  case CS_VALUE_TEXT:
    if (cs_mp_read_str(&r, &text)) return CS_EFORMAT;
    return cs_text_error(cs_text_check(text, false, CS_TEXT_MAX, NULL));
  case CS_VALUE_NAME:
    if (cs_mp_read_str(&r, &text)) return CS_EFORMAT;
    return cs_text_error(cs_text_check(text, true, CS_TITLE_MAX, NULL));
  case CS_VALUE_TAG:
    if (cs_mp_read_str(&r, &text)) return CS_EFORMAT;
    return cs_text_error(cs_text_check(text, true, CS_TAG_MAX, NULL));
  case CS_VALUE_STATUS:
    if (cs_mp_read_str(&r, &text) || !cs_status_in(spec->statuses, text)) return CS_EFORMAT;
    /* The vendor moves a request along its own part of the lifecycle only. */
    if (role == CS_ROLE_VENDOR && !cs_status_in(cs_vendor_statuses, text)) return CS_EAUTH;
    return CS_OK;
  case CS_VALUE_POINTS:
    if ((err = cs_mp_read_uint(&r, &number))) return CS_EFORMAT;
    return number == 0 || number > CS_POINTS_MAX ? CS_EFORMAT : CS_OK;
  case CS_VALUE_OBJECT:
  case CS_VALUE_OWN_KEY:
    return cs_mp_read_bin32(&r, id) ? CS_EFORMAT : CS_OK;
  case CS_VALUE_ALLOCATION: {
    cs_allocation_t *a = malloc(sizeof(*a));
    if (!a) return CS_ENOMEM;
    err = cs_allocation_decode(value, a);
    free(a);
    return err;
  }
  case CS_VALUE_RESULTS:
    return cs__check_results(value);
  case CS_VALUE_ELECTORATE: {
    cs_electorate_t e;
    err = cs_electorate_decode(value, &e);
    cs_electorate_free(&e);
    return err;
  }
  case CS_VALUE_RESOLUTION: {
    cs_resolution_t res;
    return cs_resolution_decode(value, &res);
  }
  }
  return CS_EFORMAT;
}

static bool cs__writer(cs_role_t role) { return role == CS_ROLE_ADMIN || role == CS_ROLE_MEMBER; }

bool cs_model_may(cs_role_t role, cs_op_type_t op, uint64_t obj_type, uint64_t field) {
  if (role == CS_ROLE_NONE || (unsigned)role >= CS_ROLE_COUNT) return false;
  switch (op) {
  case CS_OP_GENESIS:
    return false; /* only as the first op of a club's first change */
  case CS_OP_MEMBER:
    return role == CS_ROLE_ADMIN;
  case CS_OP_CREATE:
    /* Everyone with a role may discuss; voting museums file requests, vote,
     * plan meetings and write procedures; admins open campaigns. */
    if (obj_type == CS_OBJ_COMMENT) return true;
    if (obj_type == CS_OBJ_CAMPAIGN) return role == CS_ROLE_ADMIN;
    return obj_type < CS_OBJ_TYPE_COUNT && cs__writer(role);
  case CS_OP_DELETE:
    /* Comments, meetings and documents can be withdrawn (a tombstone that
     * keeps the signed original); requests are closed, not deleted. */
    if (obj_type == CS_OBJ_COMMENT) return true;
    return (obj_type == CS_OBJ_MEETING || obj_type == CS_OBJ_DOCUMENT) && cs__writer(role);
  case CS_OP_SET: case CS_OP_ADD: case CS_OP_REMOVE: {
    const cs_field_spec_t *spec = cs_model_field(obj_type, field);
    if (!spec) return false;
    if ((spec->kind == CS_FIELD_REGISTER) != (op == CS_OP_SET)) return false;
    return (spec->writers >> role & 1u) != 0;
  }
  default:
    return false;
  }
}

const char *cs_model_governed(uint64_t obj_type, uint64_t field, cs_span_t value) {
  cs_mp_reader_t r = cs_mp_reader(value);
  cs_span_t text;
  if (cs_mp_read_str(&r, &text)) return NULL;
  bool approved = text.len == 8 && memcmp(text.ptr, "approved", 8) == 0;
  if (obj_type == CS_OBJ_MEETING && field == CS_F_MEETING_STATUS && approved) return "approve";
  if (obj_type == CS_OBJ_DOCUMENT && field == CS_F_DOC_STATUS && approved) return "approve";
  if (obj_type == CS_OBJ_CAMPAIGN && field == CS_F_CAMPAIGN_PHASE && text.len == 4 && memcmp(text.ptr, "sent", 4) == 0)
    return "send";
  return NULL;
}

void cs_governed_effect(char out[CS_GOVERNED_EFFECT_MAX + 1], const char *verb, const uint8_t id[CS_ID_LEN]) {
  char hex[65];
  cs_hex32(id, hex);
  snprintf(out, CS_GOVERNED_EFFECT_MAX + 1, "%s %s", verb, hex);
}

bool cs_model_parent_ok(uint64_t obj_type, bool has_parent, uint64_t parent_type) {
  if (obj_type == CS_OBJ_COMMENT)
    return has_parent && parent_type != CS_OBJ_COMMENT && parent_type != CS_OBJ_BALLOT && parent_type != CS_OBJ_VOTE;
  if (obj_type == CS_OBJ_BALLOT) return has_parent && parent_type == CS_OBJ_CAMPAIGN;
  if (obj_type == CS_OBJ_VOTE) return has_parent && parent_type == CS_OBJ_MOTION;
  return !has_parent;
}

int cs_op_iter_init(cs_op_iter_t *it, cs_span_t payload) {
  it->reader = cs_mp_reader(payload);
  it->index = 0;
  it->created = 0;
  memset(it->created_type, 0, sizeof(it->created_type));
  memset(it->tags, 0, sizeof(it->tags));
  int err = cs_mp_read_array(&it->reader, &it->count);
  if (err) return err;
  if (it->count > CS_CHANGE_OPS_MAX) return CS_ETOOBIG;
  return CS_OK;
}

/* A club, software or museum name: at most max bytes of one-line UTF-8,
 * which may be empty (a club may name no software). */
static int cs__read_text(cs_mp_reader_t *r, cs_span_t *out, size_t max) {
  int err = cs_mp_read_str(r, out);
  if (err) return err;
  cs_text_problem_t problem = cs_text_check(*out, true, max, NULL);
  return problem == CS_TEXT_BLANK ? CS_OK : cs_text_error(problem);
}

/* Reads an object ref; index is the current op's index in the change. */
static int cs__read_obj(cs_mp_reader_t *r, cs_op_t *op, const cs_op_iter_t *it) {
  uint64_t local;
  op->obj_local = false;
  if (cs_mp_remaining(r) > 0 && r->pos[0] != 0xc4) {
    int err = cs_mp_read_uint(r, &local);
    if (err) return err;
    if (local >= CS_LOCAL_REFS_MAX || local >= it->index || !(it->created >> local & 1)) return CS_EFORMAT;
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
    /* A comment hangs under what it discusses, a ballot under its campaign. */
    if (op->has_parent != (op->obj_type == CS_OBJ_COMMENT || op->obj_type == CS_OBJ_BALLOT ||
                           op->obj_type == CS_OBJ_VOTE))
      return CS_EFORMAT;
    break;
  case CS_OP_SET:
  case CS_OP_ADD:
  case CS_OP_REMOVE:
    if (n != (type == CS_OP_ADD ? 4u : 5u)) return CS_EFORMAT;
    if ((err = cs__read_obj(r, op, it))) return err;
    if ((err = cs_mp_read_uint(r, &op->field))) return err;
    if (op->field == 0 || op->field > CS_FIELD_MAX) return CS_EFORMAT;
    if ((err = cs__read_value(r, &op->value, type == CS_OP_SET ? CS_VALUE_MAX : CS_ELEMENT_MAX))) return err;
    if (type != CS_OP_ADD && (err = cs__read_refs(r, op))) return err;
    break;
  case CS_OP_DELETE:
    if (n != 2) return CS_EFORMAT;
    if ((err = cs__read_obj(r, op, it))) return err;
    break;
  default:
    return CS_EUNKNOWNOP;
  }
  /* A change that files a request gives it at most CS_TAGS_MAX tags. */
  if (type == CS_OP_ADD && op->obj_local && op->field == CS_F_REQ_TAGS &&
      it->created_type[op->obj_index] == CS_OBJ_REQUEST && ++it->tags[op->obj_index] > CS_TAGS_MAX)
    return CS_ETOOBIG;
  /* Local refs may only name create ops among the first CS_LOCAL_REFS_MAX. */
  if (type == CS_OP_CREATE && it->index < CS_LOCAL_REFS_MAX) {
    it->created |= (uint64_t)1 << it->index;
    it->created_type[it->index] = (uint8_t)op->obj_type;
  }
  it->index++;
  if (it->index == it->count && !cs_mp_done(r)) return CS_EFORMAT;
  return CS_OK;
}

int cs_payload_check(cs_span_t payload, bool genesis) {
  cs_op_iter_t it;
  cs_op_t op;
  int err = cs_op_iter_init(&it, payload);
  if (err) return err;
  /* A change with no op merges heads (store/ingest.c); a genesis has one. */
  if (genesis && it.count == 0) return CS_EFORMAT;
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

void cs_op_write_set_raw(cs_buf_t *b, cs_ref_t obj, uint64_t field, cs_span_t value, uint32_t pred_count,
                         const uint8_t (*preds)[CS_ID_LEN]) {
  cs_mp_write_array(b, 5);
  cs_mp_write_uint(b, CS_OP_SET);
  cs__write_ref(b, obj);
  cs_mp_write_uint(b, field);
  cs_mp_write_raw(b, value);
  cs__write_ids(b, pred_count, preds);
}

void cs_op_write_add_raw(cs_buf_t *b, cs_ref_t obj, uint64_t field, cs_span_t element) {
  cs_mp_write_array(b, 4);
  cs_mp_write_uint(b, CS_OP_ADD);
  cs__write_ref(b, obj);
  cs_mp_write_uint(b, field);
  cs_mp_write_raw(b, element);
}

void cs_op_write_remove_raw(cs_buf_t *b, cs_ref_t obj, uint64_t field, cs_span_t element, uint32_t add_count,
                            const uint8_t (*adds)[CS_ID_LEN]) {
  cs_mp_write_array(b, 5);
  cs_mp_write_uint(b, CS_OP_REMOVE);
  cs__write_ref(b, obj);
  cs_mp_write_uint(b, field);
  cs_mp_write_raw(b, element);
  cs__write_ids(b, add_count, adds);
}
