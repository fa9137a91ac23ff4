/* The campaign rules and object references, tried as a hostile member would:
 * each change below is validly signed and written outside the CLI, with the
 * deps its author chose, then ingested. Each rule is judged from the change
 * and its causal past only, so the verdict is the same on every node. */
#include "tests/unit/testlib.h"

#include "core/campaign.h"

static uint8_t pk[4][32], sk[4][64];

/* The lamport of a stored change. */
static uint64_t lamport_of(cs_store_t *s, const uint8_t id[32]) {
  cs_span_t bytes = test_fetch(s, id);
  cs_change_t *c = malloc(sizeof(*c));
  uint64_t lamport = 0;
  if (bytes.ptr && cs_change_decode(bytes, c) == CS_OK) lamport = c->lamport;
  free(c);
  free((void *)bytes.ptr);
  return lamport;
}

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
  if (seq > 0) parents_max = lamport_of(s, prev);
  for (uint32_t i = 0; i < dep_count; i++) {
    memcpy(sorted[i], deps[i], 32);
    uint64_t l = lamport_of(s, deps[i]);
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

int main(void) {
  if (sodium_init() < 0) return 2;
  for (int k = 0; k < 4; k++) test_key((uint8_t)(0x51 + k), pk[k], sk[k]);
  test_one_ballot_per_campaign_per_change();
  TEST_SUMMARY();
}
