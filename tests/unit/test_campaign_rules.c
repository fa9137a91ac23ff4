/* The campaign rules and object references, tried as a hostile member would:
 * each change below is validly signed and written outside the CLI, with the
 * deps its author chose, then ingested. Each rule is judged from the change
 * and its causal past only, so the verdict is the same on every node. */
#include "tests/unit/testlib.h"

#include "core/campaign.h"

static uint8_t pk[4][32], sk[4][64];


static int cmp_id(const void *a, const void *b) { return memcmp(a, b, 32); }

/* Signs, as key k, a change whose deps are exactly `deps` (besides k's own
 * previous change), and ingests it into s: what any member can do without
 * the CLI. Returns the ingest result. */
static cs_ingest_result_t forge(cs_store_t *s, const uint8_t club[32], int k, cs_span_t payload, uint32_t dep_count,
                                const uint8_t (*deps)[32], uint8_t id[32], cs_buf_t *out) {
  cs_txn_t txn;
  uint8_t prev[32], sorted[8][32];
  uint64_t seq = 0, parents_max = 0;
  if (cs_store_begin(s, false, &txn) == CS_OK) {
    seq = cs_store_author_seq(&txn, club, pk[k], prev);
    cs_store_abort(&txn);
  }
  if (seq > 0) parents_max = test_lamport(s, prev);
  for (uint32_t i = 0; i < dep_count; i++) {
    memcpy(sorted[i], deps[i], 32);
    uint64_t l = test_lamport(s, deps[i]);
    if (l > parents_max) parents_max = l;
  }
  qsort(sorted, dep_count, 32, cmp_id);
  cs_change_draft_t d = {club,          pk[k], seq + 1, seq > 0 ? prev : NULL, dep_count, (const uint8_t(*)[32])sorted,
                         parents_max + 1, 1700000000000, payload};
  cs_buf_init(out, CS_CHANGE_SIGNED_MAX);
  if (cs_change_build(&d, sk[k], out, id) != CS_OK) {
    fprintf(stderr, "cannot build a change\n");
    exit(2);
  }
  return test_ingest(s, cs_buf_span(out));
}

typedef struct club_s {
  uint8_t club[32], request[32], campaign[32], campaign_change[32], members_change[32];
} club_t;

/* A club founded by key 0 (Musée A), with keys 1 (Musée B) and 2 (Musée C)
 * as members, one request and a campaign of 100 points in phase vote. */
static void club_setup(cs_store_t *s, club_t *c) {
  cs_buf_t p;
  test_club_with_request(s, sk[0], c->club, c->request);
  cs_buf_init(&p, CS_CHANGE_PAYLOAD_MAX);
  cs_mp_write_array(&p, 2);
  cs_op_write_member(&p, pk[1], "Musée B", CS_ROLE_MEMBER, 0);
  cs_op_write_member(&p, pk[2], "Musée C", CS_ROLE_MEMBER, 0);
  CHECK_EQ_INT(test_author(s, c->club, sk[0], cs_buf_span(&p), c->members_change), CS_OK);
  cs_buf_t points;
  cs_buf_init(&points, 16);
  cs_mp_write_uint(&points, 100);
  cs_buf_reset(&p);
  cs_mp_write_array(&p, 4);
  cs_op_write_create(&p, CS_OBJ_CAMPAIGN, NULL);
  cs_op_write_set_str(&p, cs_ref_local(0), CS_F_CAMPAIGN_NAME, "Campagne", 0, NULL);
  cs_op_write_set_raw(&p, cs_ref_local(0), CS_F_CAMPAIGN_POINTS, cs_buf_span(&points), 0, NULL);
  cs_op_write_set_str(&p, cs_ref_local(0), CS_F_CAMPAIGN_PHASE, "vote", 0, NULL);
  CHECK_EQ_INT(test_author(s, c->club, sk[0], cs_buf_span(&p), c->campaign_change), CS_OK);
  cs_op_id(c->campaign_change, 0, c->campaign);
  cs_buf_free(&points);
  cs_buf_free(&p);
}

/* An allocation of `points` to one request. */
static void allocation_one(cs_buf_t *v, const uint8_t request[32], uint64_t points) {
  cs_allocation_t *a = calloc(1, sizeof(*a));
  memcpy(a->requests[0], request, 32);
  a->points[0] = points;
  a->total = points;
  a->count = 1;
  cs_buf_init(v, 256);
  cs_allocation_write(v, a);
  free(a);
}

typedef struct count_ctx_s {
  const uint8_t *parent;
  uint32_t count;
} count_ctx_t;

static int count_each(const uint8_t id[32], const cs_object_t *obj, void *vctx) {
  (void)id;
  count_ctx_t *ctx = vctx;
  if (obj->has_parent && memcmp(obj->parent, ctx->parent, 32) == 0) ctx->count++;
  return 0;
}

/* How many objects of a type hang under `parent`. */
static uint32_t children(cs_store_t *s, const uint8_t club[32], uint64_t type, const uint8_t parent[32]) {
  cs_txn_t txn;
  count_ctx_t ctx = {parent, 0};
  if (cs_store_begin(s, false, &txn) != CS_OK) return 0;
  if (cs_store_objects(&txn, club, type, count_each, &ctx) != CS_OK) ctx.count = 0;
  cs_store_abort(&txn);
  return ctx.count;
}

/* One change creating 15 ballots under a campaign once counted 1,500 points
 * and 15 museums for one museum: a change holds at most one ballot per
 * campaign, and writes its allocation at most once. */
static void test_one_ballot_per_campaign_per_change(void) {
  char dir[64];
  test_tmpdir(dir, sizeof(dir));
  cs_store_t *s = test_store_open(dir);
  club_t c;
  club_setup(s, &c);
  cs_buf_t p, v, out;
  uint8_t id[32];
  allocation_one(&v, c.request, 100);
  cs_ref_t parent = cs_ref_id(c.campaign);

  cs_buf_init(&p, CS_CHANGE_PAYLOAD_MAX);
  cs_mp_write_array(&p, 30);
  for (uint32_t i = 0; i < 15; i++) {
    cs_op_write_create(&p, CS_OBJ_BALLOT, &parent);
    cs_op_write_set_raw(&p, cs_ref_local(2 * i), CS_F_BALLOT_ALLOCATION, cs_buf_span(&v), 0, NULL);
  }
  cs_ingest_result_t res = forge(s, c.club, 1, cs_buf_span(&p), 1, &c.campaign_change, id, &out);
  CHECK_EQ_INT(res.status, CS_INGEST_UNAUTHORISED);
  CHECK_EQ_INT(res.reason, CS_EFORMAT);
  CHECK_EQ_INT(children(s, c.club, CS_OBJ_BALLOT, c.campaign), 0);
  cs_buf_free(&out);

  /* One ballot whose allocation is written twice in the change: invalid too. */
  cs_buf_reset(&p);
  cs_mp_write_array(&p, 3);
  cs_op_write_create(&p, CS_OBJ_BALLOT, &parent);
  cs_op_write_set_raw(&p, cs_ref_local(0), CS_F_BALLOT_ALLOCATION, cs_buf_span(&v), 0, NULL);
  cs_op_write_set_raw(&p, cs_ref_local(0), CS_F_BALLOT_ALLOCATION, cs_buf_span(&v), 0, NULL);
  res = forge(s, c.club, 2, cs_buf_span(&p), 1, &c.campaign_change, id, &out);
  CHECK_EQ_INT(res.status, CS_INGEST_UNAUTHORISED);
  CHECK_EQ_INT(res.reason, CS_EFORMAT);
  cs_buf_free(&out);

  /* The honest shape, a ballot created and filled in one change, stands. */
  cs_buf_reset(&p);
  cs_mp_write_array(&p, 2);
  cs_op_write_create(&p, CS_OBJ_BALLOT, &parent);
  cs_op_write_set_raw(&p, cs_ref_local(0), CS_F_BALLOT_ALLOCATION, cs_buf_span(&v), 0, NULL);
  CHECK_EQ_INT(test_author(s, c.club, sk[0], cs_buf_span(&p), id), CS_OK);
  CHECK_EQ_INT(children(s, c.club, CS_OBJ_BALLOT, c.campaign), 1);

  cs_buf_free(&p);
  cs_buf_free(&v);
  cs_store_close(s);
  test_rmdir(dir);
}


/* Copies every change of `from` into `to` in (lamport, id) order, except
 * those listed, which the caller delivers later in an order of its own. */
typedef struct ids_s {
  uint8_t (*ids)[32];
  uint32_t count;
} ids_t;

static int collect_each(const uint8_t id[32], cs_span_t bytes, void *vctx) {
  (void)bytes;
  ids_t *ids = vctx;
  uint8_t(*grown)[32] = realloc(ids->ids, (ids->count + 1) * 32);
  if (!grown) return CS_ENOMEM;
  ids->ids = grown;
  memcpy(ids->ids[ids->count++], id, 32);
  return 0;
}

static cs_ingest_result_t deliver(cs_store_t *from, cs_store_t *to, const uint8_t id[32]);

static void copy_except(cs_store_t *from, cs_store_t *to, const uint8_t club[32], const uint8_t (*skip)[32],
                        uint32_t skip_count) {
  cs_txn_t txn;
  ids_t ids = {NULL, 0};
  if (cs_store_begin(from, false, &txn) != CS_OK) return;
  CHECK_EQ_INT(cs_store_changes(&txn, club, collect_each, &ids), CS_OK);
  cs_store_abort(&txn);
  for (uint32_t i = 0; i < ids.count; i++) {
    bool skipped = false;
    for (uint32_t k = 0; k < skip_count; k++) skipped |= memcmp(skip[k], ids.ids[i], 32) == 0;
    if (skipped) continue;
    cs_ingest_result_t res = deliver(from, to, ids.ids[i]);
    CHECK(res.status == CS_INGEST_NEW || res.status == CS_INGEST_UNAUTHORISED);
  }
  free(ids.ids);
}

/* Delivers a stored change of `from` to `to`. */
static cs_ingest_result_t deliver(cs_store_t *from, cs_store_t *to, const uint8_t id[32]) {
  cs_span_t bytes = test_fetch(from, id);
  cs_ingest_result_t res = test_ingest(to, bytes);
  free((void *)bytes.ptr);
  return res;
}

static bool digests_equal(cs_store_t *a, cs_store_t *b, const uint8_t club[32]) {
  uint8_t da[32], db[32];
  test_digest(a, club, da);
  test_digest(b, club, db);
  return memcmp(da, db, 32) == 0;
}

/* A close: phase closed and these results, in one change. */
static void close_payload(cs_buf_t *p, const uint8_t campaign[32], const cs_tally_t *t) {
  cs_buf_t v;
  cs_buf_init(&v, CS_TEXT_MAX);
  cs_tally_write(&v, t);
  cs_buf_init(p, CS_CHANGE_PAYLOAD_MAX);
  cs_mp_write_array(p, 2);
  cs_op_write_set_str(p, cs_ref_id(campaign), CS_F_CAMPAIGN_PHASE, "closed", 0, NULL);
  cs_op_write_set_raw(p, cs_ref_id(campaign), CS_F_CAMPAIGN_RESULTS, cs_buf_span(&v), 0, NULL);
  cs_buf_free(&v);
}

/* A new ballot under the campaign with `points` for one request. */
static void ballot_payload(cs_buf_t *p, const uint8_t campaign[32], const uint8_t request[32], uint64_t points) {
  cs_buf_t v;
  cs_ref_t parent = cs_ref_id(campaign);
  allocation_one(&v, request, points);
  cs_buf_init(p, CS_CHANGE_PAYLOAD_MAX);
  cs_mp_write_array(p, 2);
  cs_op_write_create(p, CS_OBJ_BALLOT, &parent);
  cs_op_write_set_raw(p, cs_ref_local(0), CS_F_BALLOT_ALLOCATION, cs_buf_span(&v), 0, NULL);
  cs_buf_free(&v);
}

/* The campaign's results register, as the campaign record holds it. */
static bool results_of(cs_store_t *s, const uint8_t club[32], const uint8_t campaign[32], cs_tally_t *out) {
  cs_txn_t txn;
  cs_object_t obj;
  const cs_entry_t *e;
  bool found = false;
  memset(out, 0, sizeof(*out));
  if (cs_store_begin(s, false, &txn) != CS_OK) return false;
  if (cs_store_object_get(&txn, club, campaign, &obj) == CS_OK) {
    found = cs_object_field(&obj, CS_F_CAMPAIGN_RESULTS, &e) > 0 &&
            cs_tally_read((cs_span_t){e->value, e->value_len}, out) == CS_OK;
    cs_object_free(&obj);
  }
  cs_store_abort(&txn);
  return found;
}

/* A ballot whose causal past holds the campaign's close is invalid on every
 * node (it was refused only by the CLI); one concurrent with the close is
 * kept and cannot change the frozen results. */
static void test_ballot_after_close_is_invalid(void) {
  char dir[64], dir2[64];
  test_tmpdir(dir, sizeof(dir));
  test_tmpdir(dir2, sizeof(dir2));
  cs_store_t *s = test_store_open(dir), *s2 = test_store_open(dir2);
  club_t c;
  club_setup(s, &c);
  cs_buf_t p, out1, out2;
  uint8_t close_id[32], late[32], concurrent[32];
  cs_tally_t empty = {NULL, 0, 0};
  close_payload(&p, c.campaign, &empty);
  CHECK_EQ_INT(test_author(s, c.club, sk[0], cs_buf_span(&p), close_id), CS_OK);
  cs_buf_free(&p);

  /* Musée B votes after seeing the close. */
  ballot_payload(&p, c.campaign, c.request, 100);
  cs_ingest_result_t res = forge(s, c.club, 1, cs_buf_span(&p), 1, (const uint8_t(*)[32])close_id, late, &out1);
  CHECK_EQ_INT(res.status, CS_INGEST_UNAUTHORISED);
  CHECK_EQ_INT(res.reason, CS_ECLOSED);
  /* Musée C votes without having seen it. */
  res = forge(s, c.club, 2, cs_buf_span(&p), 1, &c.campaign_change, concurrent, &out2);
  CHECK_EQ_INT(res.status, CS_INGEST_NEW);
  CHECK_EQ_INT(children(s, c.club, CS_OBJ_BALLOT, c.campaign), 1);
  cs_buf_free(&p);
  cs_tally_t t;
  CHECK(results_of(s, c.club, c.campaign, &t));
  CHECK_EQ_INT(t.count, 0);
  cs_tally_free(&t);

  /* Another node, the concurrent ballot first: the same verdicts. */
  const uint8_t skip[3][32];
  memcpy((void *)skip[0], close_id, 32);
  memcpy((void *)skip[1], late, 32);
  memcpy((void *)skip[2], concurrent, 32);
  copy_except(s, s2, c.club, skip, 3);
  CHECK_EQ_INT(deliver(s, s2, concurrent).status, CS_INGEST_NEW);
  CHECK_EQ_INT(deliver(s, s2, close_id).status, CS_INGEST_NEW);
  res = deliver(s, s2, late);
  CHECK_EQ_INT(res.status, CS_INGEST_UNAUTHORISED);
  CHECK_EQ_INT(res.reason, CS_ECLOSED);
  CHECK(digests_equal(s, s2, c.club));

  cs_buf_free(&out1);
  cs_buf_free(&out2);
  cs_store_close(s);
  cs_store_close(s2);
  test_rmdir(dir);
  test_rmdir(dir2);
}

/* The results a close writes must be the tally of the ballots in its causal
 * past: inflated results, or results counting a ballot the closer had not
 * seen, make the close invalid (evidence, no effect). */
static void test_close_results_are_the_tally_of_its_past(void) {
  char dir[64];
  test_tmpdir(dir, sizeof(dir));
  cs_store_t *s = test_store_open(dir);
  club_t c;
  club_setup(s, &c);
  cs_buf_t p, out;
  uint8_t b_ballot[32], c_ballot[32], id[32];
  ballot_payload(&p, c.campaign, c.request, 60);
  CHECK_EQ_INT(forge(s, c.club, 1, cs_buf_span(&p), 1, &c.campaign_change, b_ballot, &out).status, CS_INGEST_NEW);
  cs_buf_free(&p);
  cs_buf_free(&out);
  ballot_payload(&p, c.campaign, c.request, 40);
  CHECK_EQ_INT(forge(s, c.club, 2, cs_buf_span(&p), 1, &c.campaign_change, c_ballot, &out).status, CS_INGEST_NEW);
  cs_buf_free(&p);
  cs_buf_free(&out);

  cs_tally_row_t row;
  memcpy(row.request, c.request, 32);
  cs_tally_t t = {&row, 1, 1};
  /* Inflated: 100 points from one museum that gave 60. */
  row.points = 100;
  row.museums = 1;
  close_payload(&p, c.campaign, &t);
  cs_ingest_result_t res = forge(s, c.club, 0, cs_buf_span(&p), 1, (const uint8_t(*)[32])b_ballot, id, &out);
  CHECK_EQ_INT(res.status, CS_INGEST_UNAUTHORISED);
  CHECK_EQ_INT(res.reason, CS_ERESULTS);
  cs_tally_t now;
  CHECK(!results_of(s, c.club, c.campaign, &now));
  cs_buf_free(&p);
  cs_buf_free(&out);

  /* Counting Musée C's ballot, which is not in the close's causal past. */
  row.points = 100;
  row.museums = 2;
  close_payload(&p, c.campaign, &t);
  res = forge(s, c.club, 0, cs_buf_span(&p), 1, (const uint8_t(*)[32])b_ballot, id, &out);
  CHECK_EQ_INT(res.status, CS_INGEST_UNAUTHORISED);
  CHECK_EQ_INT(res.reason, CS_ERESULTS);
  cs_buf_free(&p);
  cs_buf_free(&out);

  /* The tally of its past: Musée B's 60 points alone. */
  row.points = 60;
  row.museums = 1;
  close_payload(&p, c.campaign, &t);
  res = forge(s, c.club, 0, cs_buf_span(&p), 1, (const uint8_t(*)[32])b_ballot, id, &out);
  CHECK_EQ_INT(res.status, CS_INGEST_NEW);
  CHECK(results_of(s, c.club, c.campaign, &now));
  CHECK_EQ_INT(now.count, 1);
  if (now.count == 1) CHECK_EQ_INT(now.rows[0].points, 60);
  cs_tally_free(&now);
  cs_buf_free(&p);
  cs_buf_free(&out);
  cs_store_close(s);
  test_rmdir(dir);
}

/* An op may name only objects whose creating change is in its causal past:
 * co-signing a request its author had not seen applied on nodes that held
 * the request first and not on the others, for good. Now the change is
 * invalid everywhere, and every delivery order gives one digest. */
static void test_op_names_only_objects_in_its_past(void) {
  char dir[64], dir2[64];
  test_tmpdir(dir, sizeof(dir));
  test_tmpdir(dir2, sizeof(dir2));
  cs_store_t *s = test_store_open(dir), *s2 = test_store_open(dir2);
  club_t c;
  club_setup(s, &c);
  cs_buf_t p, out;
  uint8_t created[32], request2[32], cosign[32];
  cs_buf_init(&p, CS_CHANGE_PAYLOAD_MAX);
  cs_mp_write_array(&p, 2);
  cs_op_write_create(&p, CS_OBJ_REQUEST, NULL);
  cs_op_write_set_str(&p, cs_ref_local(0), CS_F_REQ_TITLE, "Une autre demande", 0, NULL);
  CHECK_EQ_INT(test_author(s, c.club, sk[0], cs_buf_span(&p), created), CS_OK);
  cs_op_id(created, 0, request2);
  /* Musée B co-signs it from a past that does not hold it. */
  cs_buf_t key;
  cs_buf_init(&key, 64);
  cs_mp_write_bin(&key, pk[1], 32);
  cs_buf_reset(&p);
  cs_mp_write_array(&p, 1);
  cs_op_write_add_raw(&p, cs_ref_id(request2), CS_F_REQ_SUPPORTERS, cs_buf_span(&key));
  cs_ingest_result_t res = forge(s, c.club, 1, cs_buf_span(&p), 1, &c.campaign_change, cosign, &out);
  CHECK_EQ_INT(res.status, CS_INGEST_UNAUTHORISED);
  CHECK_EQ_INT(res.reason, CS_EREF);

  /* A node that gets the co-signing before the request. */
  const uint8_t skip[2][32];
  memcpy((void *)skip[0], created, 32);
  memcpy((void *)skip[1], cosign, 32);
  copy_except(s, s2, c.club, skip, 2);
  res = deliver(s, s2, cosign);
  CHECK_EQ_INT(res.status, CS_INGEST_UNAUTHORISED);
  CHECK_EQ_INT(res.reason, CS_EREF);
  CHECK_EQ_INT(deliver(s, s2, created).status, CS_INGEST_NEW);
  CHECK(digests_equal(s, s2, c.club));

  cs_buf_free(&key);
  cs_buf_free(&p);
  cs_buf_free(&out);
  cs_store_close(s);
  cs_store_close(s2);
  test_rmdir(dir);
  test_rmdir(dir2);
}

int main(void) {
  if (sodium_init() < 0) return 2;
  for (int k = 0; k < 4; k++) test_key((uint8_t)(0x51 + k), pk[k], sk[k]);
  test_one_ballot_per_campaign_per_change();
  test_ballot_after_close_is_invalid();
  test_close_results_are_the_tally_of_its_past();
  test_op_names_only_objects_in_its_past();
  TEST_SUMMARY();
}
