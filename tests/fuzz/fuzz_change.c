/* Fuzzes the change decoder and the op codec.
 *
 * The input is tried three ways:
 *   1. as a signed change: cs_change_decode, then the payload hash and the
 *      signature, and cs_change_parse_verified must agree with the two;
 *   2. as a payload (genesis and not): cs_payload_check and a walk over the
 *      ops with cs_op_iter, which must agree with each other;
 *   3. when it is a valid payload: signed into a change with a fixed key,
 *      which must then parse, verify and give back the same fields.
 * Every span a decoder returns must lie inside the input. */
#include "tests/fuzz/fuzz_common.h"

#include "core/change.h"
#include "core/object.h"
#include "core/op.h"

static int inside(cs_span_t outer, cs_span_t inner) {
  if (inner.len == 0) return 1;
  return inner.ptr >= outer.ptr && inner.len <= outer.len && (size_t)(inner.ptr - outer.ptr) <= outer.len - inner.len;
}

/* Walks every op of a payload and checks what the iterator reports. */
static void walk_payload(cs_span_t payload, bool genesis) {
  int checked = cs_payload_check(payload, genesis);
  cs_op_iter_t it;
  cs_op_t *op = malloc(sizeof(*op));
  FUZZ_CHECK(op != NULL);
  int err = cs_op_iter_init(&it, payload);
  if (err) {
    FUZZ_CHECK(checked != CS_OK);
    free(op);
    return;
  }
  FUZZ_CHECK(it.count >= 1 && it.count <= CS_CHANGE_OPS_MAX);
  uint32_t seen = 0;
  while ((err = cs_op_iter_next(&it, op)) == CS_OK) {
    seen++;
    FUZZ_CHECK(seen <= it.count);
    FUZZ_CHECK((unsigned)op->type < CS_OP_TYPE_COUNT);
    FUZZ_CHECK(op->ref_count <= CS_PREDS_MAX);
    FUZZ_CHECK(inside(payload, op->name) && inside(payload, op->software) && inside(payload, op->value));
    FUZZ_CHECK(op->name.len <= CS_NAME_MAX && op->software.len <= CS_NAME_MAX);
    if (op->obj_local) FUZZ_CHECK(op->obj_index < seen - 1);
    if (op->type == CS_OP_SET) FUZZ_CHECK(op->value.len <= CS_VALUE_MAX);
    if (op->type == CS_OP_ADD || op->type == CS_OP_REMOVE) FUZZ_CHECK(op->value.len <= CS_ELEMENT_MAX);
    if (op->type == CS_OP_MEMBER) FUZZ_CHECK(op->role < CS_ROLE_COUNT);
    if (op->type == CS_OP_CREATE) FUZZ_CHECK(op->obj_type > 0 && op->obj_type < CS_OBJ_TYPE_COUNT);
    if (op->value.len > 0 && op->type != CS_OP_GENESIS) {
      /* A value is exactly one msgpack item. */
      cs_mp_reader_t r = cs_mp_reader(op->value);
      cs_span_t raw;
      FUZZ_CHECK(cs_mp_skip(&r, &raw) == CS_OK && cs_mp_done(&r));
      char text[64];
      (void)cs_value_str(op->value.ptr, op->value.len, text, sizeof(text));
    }
    for (int role = 0; role < CS_ROLE_COUNT; role++)
      (void)cs_model_may((cs_role_t)role, op->type, op->obj_type, op->field);
    (void)cs_model_field_kind(op->obj_type, op->field);
  }
  if (checked == CS_OK) {
    /* A payload that checks has exactly `count` well-formed ops. */
    FUZZ_CHECK(err == CS_ENOTFOUND);
    FUZZ_CHECK(seen == it.count);
  }
  free(op);
}

/* Signs a valid payload and checks that the change reads back intact. */
static void round_trip(cs_span_t payload, bool genesis) {
  static uint8_t pk[32], sk[64];
  static int have_key;
  if (!have_key) {
    fuzz_key(7, pk, sk);
    have_key = 1;
  }
  uint8_t club[32], prev[32], deps[2][32], id[32];
  memset(club, 0x11, sizeof(club));
  memset(prev, 0x22, sizeof(prev));
  memset(deps[0], 0x33, 32);
  memset(deps[1], 0x44, 32);
  cs_change_draft_t d = {
      .club = genesis ? NULL : club,
      .author = pk,
      .seq = genesis ? 1 : 9,
      .prev = genesis ? NULL : prev,
      .dep_count = genesis ? 0 : 2,
      .deps = (const uint8_t(*)[32])deps,
      .lamport = 12,
      .time_ms = -5,
      .payload = payload,
  };
  cs_buf_t out;
  cs_buf_init(&out, CS_CHANGE_SIGNED_MAX);
  int err = cs_change_build(&d, sk, &out, id);
  FUZZ_CHECK(err == CS_OK);
  cs_change_t *c = malloc(sizeof(*c));
  FUZZ_CHECK(c != NULL);
  err = cs_change_parse_verified(cs_buf_span(&out), c);
  FUZZ_CHECK(err == CS_OK);
  FUZZ_CHECK(memcmp(c->id, id, 32) == 0);
  FUZZ_CHECK(c->has_club == !genesis && c->seq == d.seq && c->lamport == 12 && c->time_ms == -5);
  FUZZ_CHECK(c->dep_count == d.dep_count && c->has_prev == !genesis);
  FUZZ_CHECK(c->payload_bytes.len == payload.len && memcmp(c->payload_bytes.ptr, payload.ptr, payload.len) == 0);
  FUZZ_CHECK(cs_payload_check(c->payload_bytes, genesis) == CS_OK);
  free(c);
  cs_buf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_sodium_init();
  cs_span_t in = {data, size};
  cs_change_t *c = malloc(sizeof(*c));
  cs_change_t *again = malloc(sizeof(*again));
  FUZZ_CHECK(c && again);

  /* 1. A signed change. */
  if (cs_change_decode(in, c) == CS_OK) {
    FUZZ_CHECK(size <= CS_CHANGE_SIGNED_MAX);
    FUZZ_CHECK(inside(in, c->header_bytes) && inside(in, c->payload_bytes));
    FUZZ_CHECK(c->header_bytes.len <= CS_CHANGE_HEADER_MAX && c->payload_bytes.len <= CS_CHANGE_PAYLOAD_MAX);
    FUZZ_CHECK(c->payload_len == c->payload_bytes.len);
    FUZZ_CHECK(c->dep_count <= CS_CHANGE_DEPS_MAX && c->seq >= 1 && c->lamport >= 1);
    FUZZ_CHECK(c->has_prev == (c->seq > 1));
    for (uint32_t i = 1; i < c->dep_count; i++) FUZZ_CHECK(memcmp(c->deps[i - 1], c->deps[i], 32) < 0);
    int payload_ok = cs_change_check_payload(c);
    int sig_ok = cs_change_check_signature(c);
    int verified = cs_change_parse_verified(in, again);
    FUZZ_CHECK(verified == (payload_ok ? payload_ok : sig_ok));
    FUZZ_CHECK(memcmp(again->id, c->id, 32) == 0);
    walk_payload(c->payload_bytes, !c->has_club);
  }

  /* 2. A payload. */
  walk_payload(in, false);
  walk_payload(in, true);

  /* 3. Signed and read back. */
  if (size <= CS_CHANGE_PAYLOAD_MAX) {
    if (cs_payload_check(in, false) == CS_OK) round_trip(in, false);
    if (cs_payload_check(in, true) == CS_OK) round_trip(in, true);
  }
  free(c);
  free(again);
  return 0;
}
