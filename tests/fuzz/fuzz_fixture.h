#ifndef CS_TESTS_FUZZ_FIXTURE_H
#define CS_TESTS_FUZZ_FIXTURE_H

/* A small club of real signed changes, built the same way every time (fixed
 * keys, fixed clock), shared by the sync harness and the corpus generator so
 * that seed messages name the club, authors and ids the harness knows.
 *
 * | CHANGE | AUTHOR | SEQ | LAMPORT | PARENTS        | WHAT                              |
 * |--------|--------|-----|---------|----------------|-----------------------------------|
 * | 0      | A      | 1   | 1       | -              | genesis, B as a member            |
 * | 1      | A      | 2   | 2       | 0              | request R (create, title, status) |
 * | 2      | B      | 1   | 3       | 1              | request S with a tag              |
 * | 3      | B      | 2   | 4       | 2              | comment on R                      |
 * | 4      | A      | 3   | 5       | 1, 3           | R's title overwritten (pred)      |
 * | 5      | A      | 3   | 4       | 1, 2           | fork of change 4: another request |
 * | 6      | C      | 1   | 2       | 0              | request by a key with no role     |
 * | 7      | A      | 4   | 6       | 4, 5, 6        | member op: C becomes an observer  |
 */

#include "core/change.h"
#include "core/op.h"
#include "tests/fuzz/fuzz_common.h"

#define FIXTURE_CHANGES 8

typedef struct fixture_change_s {
  cs_buf_t bytes;
  uint8_t id[CS_ID_LEN];
  int author; /* 0 A, 1 B, 2 C */
  uint64_t seq, lamport;
} fixture_change_t;

typedef struct fixture_s {
  uint8_t pk[3][CS_KEY_LEN], sk[3][CS_SECRET_KEY_LEN];
  uint8_t club[CS_ID_LEN];
  fixture_change_t ch[FIXTURE_CHANGES];
} fixture_t;

static inline void fixture__sign(fixture_t *f, int i, int author, uint64_t seq, const uint8_t *prev,
                                 uint32_t dep_count, const uint8_t (*deps)[CS_ID_LEN], uint64_t lamport,
                                 cs_buf_t *payload) {
  cs_change_draft_t d = {
      .club = i == 0 ? NULL : f->club,
      .author = f->pk[author],
      .seq = seq,
      .prev = prev,
      .dep_count = dep_count,
      .deps = deps,
      .lamport = lamport,
      .time_ms = 1700000000000 + i,
      .payload = cs_buf_span(payload),
  };
  fixture_change_t *c = &f->ch[i];
  cs_buf_init(&c->bytes, CS_CHANGE_SIGNED_MAX);
  if (payload->failed || cs_change_build(&d, f->sk[author], &c->bytes, c->id) != CS_OK) abort();
  c->author = author;
  c->seq = seq;
  c->lamport = lamport;
  if (i == 0) memcpy(f->club, c->id, CS_ID_LEN);
  cs_buf_reset(payload);
}

/* Sorts two ids into deps order. */
static inline void fixture__deps2(const uint8_t *a, const uint8_t *b, uint8_t out[2][CS_ID_LEN]) {
  int swap = memcmp(a, b, CS_ID_LEN) > 0;
  memcpy(out[0], swap ? b : a, CS_ID_LEN);
  memcpy(out[1], swap ? a : b, CS_ID_LEN);
}

static inline void fixture_build(fixture_t *f) {
  fuzz_sodium_init();
  memset(f, 0, sizeof(*f));
  for (int k = 0; k < 3; k++) fuzz_key((uint8_t)(0xa0 + k), f->pk[k], f->sk[k]);
  cs_buf_t p;
  cs_buf_init(&p, CS_CHANGE_PAYLOAD_MAX);
  uint8_t deps[2][CS_ID_LEN], req_r[CS_ID_LEN], title_op[CS_ID_LEN];

  cs_mp_write_array(&p, 2);
  cs_op_write_genesis(&p, "Club des musées", "Flora", "Musée A");
  cs_op_write_member(&p, f->pk[1], "Musée B", CS_ROLE_MEMBER, 0);
  fixture__sign(f, 0, 0, 1, NULL, 0, NULL, 1, &p);

  cs_mp_write_array(&p, 3);
  cs_op_write_create(&p, CS_OBJ_REQUEST, NULL);
  cs_op_write_set_str(&p, cs_ref_local(0), CS_F_REQ_TITLE, "Export Joconde", 0, NULL);
  cs_op_write_set_str(&p, cs_ref_local(0), CS_F_REQ_STATUS, "submitted", 0, NULL);
  fixture__sign(f, 1, 0, 2, f->ch[0].id, 0, NULL, 2, &p);
  cs_op_id(f->ch[1].id, 0, req_r);
  cs_op_id(f->ch[1].id, 1, title_op);

  cs_mp_write_array(&p, 4);
  cs_op_write_create(&p, CS_OBJ_REQUEST, NULL);
  cs_op_write_set_str(&p, cs_ref_local(0), CS_F_REQ_TITLE, "Constat d'état", 0, NULL);
  cs_op_write_set_str(&p, cs_ref_local(0), CS_F_REQ_STATUS, "submitted", 0, NULL);
  cs_op_write_add_str(&p, cs_ref_local(0), CS_F_REQ_TAGS, "récolement");
  memcpy(deps[0], f->ch[1].id, CS_ID_LEN);
  fixture__sign(f, 2, 1, 1, NULL, 1, (const uint8_t(*)[CS_ID_LEN])deps, 3, &p);

  cs_ref_t parent = cs_ref_id(req_r);
  cs_mp_write_array(&p, 2);
  cs_op_write_create(&p, CS_OBJ_COMMENT, &parent);
  cs_op_write_set_str(&p, cs_ref_local(0), CS_F_COMMENT_BODY, "Nous aussi.", 0, NULL);
  fixture__sign(f, 3, 1, 2, f->ch[2].id, 0, NULL, 4, &p);

  cs_mp_write_array(&p, 1);
  cs_op_write_set_str(&p, cs_ref_id(req_r), CS_F_REQ_TITLE, "Export Joconde et POP", 1,
                      (const uint8_t(*)[CS_ID_LEN])title_op);
  memcpy(deps[0], f->ch[3].id, CS_ID_LEN);
  fixture__sign(f, 4, 0, 3, f->ch[1].id, 1, (const uint8_t(*)[CS_ID_LEN])deps, 5, &p);

  cs_mp_write_array(&p, 2);
  cs_op_write_create(&p, CS_OBJ_REQUEST, NULL);
  cs_op_write_set_str(&p, cs_ref_local(0), CS_F_REQ_TITLE, "Prêts", 0, NULL);
  memcpy(deps[0], f->ch[2].id, CS_ID_LEN);
  fixture__sign(f, 5, 0, 3, f->ch[1].id, 1, (const uint8_t(*)[CS_ID_LEN])deps, 4, &p);

  cs_mp_write_array(&p, 2);
  cs_op_write_create(&p, CS_OBJ_REQUEST, NULL);
  cs_op_write_set_str(&p, cs_ref_local(0), CS_F_REQ_TITLE, "Multimédia", 0, NULL);
  memcpy(deps[0], f->ch[0].id, CS_ID_LEN);
  fixture__sign(f, 6, 2, 1, NULL, 1, (const uint8_t(*)[CS_ID_LEN])deps, 2, &p);

  cs_mp_write_array(&p, 1);
  cs_op_write_member(&p, f->pk[2], "Musée C", CS_ROLE_OBSERVER, 1);
  fixture__deps2(f->ch[5].id, f->ch[6].id, deps);
  fixture__sign(f, 7, 0, 4, f->ch[4].id, 2, (const uint8_t(*)[CS_ID_LEN])deps, 6, &p);
  cs_buf_free(&p);
}

static inline void fixture_free(fixture_t *f) {
  for (int i = 0; i < FIXTURE_CHANGES; i++) cs_buf_free(&f->ch[i].bytes);
}

#endif
