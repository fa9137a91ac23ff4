/* Store walks follow one convention (store/store.h, "Walks"): a callback's 0
 * goes on; any other value stops the walk at once and comes back unchanged,
 * CS_ENOTFOUND and every other error code included; CS_STOP stops it as a
 * success. Each walk is run on a real LMDB store holding two clubs, a member,
 * two requests and a second author, with a callback that stops at its first,
 * second or no call. */
#include "tests/unit/testlib.h"

/* What a callback does: counts its calls, and returns `ret` at call `at`
 * (0: never). */
typedef struct walk_s {
  int calls, at, ret;
} walk_t;

static int walk_step(walk_t *w) {
  w->calls++;
  return w->calls == w->at ? w->ret : 0;
}

static int club_cb(const cs_club_info_t *club, void *ctx) {
  (void)club;
  return walk_step(ctx);
}
static int change_cb(const uint8_t id[CS_ID_LEN], cs_span_t bytes, void *ctx) {
  (void)id, (void)bytes;
  return walk_step(ctx);
}
static int vector_cb(const uint8_t author[CS_KEY_LEN], uint64_t seq, const uint8_t id[CS_ID_LEN], void *ctx) {
  (void)author, (void)seq, (void)id;
  return walk_step(ctx);
}
static int object_cb(const uint8_t id[CS_ID_LEN], const cs_object_t *obj, void *ctx) {
  (void)id, (void)obj;
  return walk_step(ctx);
}
static int member_cb(const cs_member_t *member, void *ctx) {
  (void)member;
  return walk_step(ctx);
}
static int arrival_cb(uint64_t arrival, const uint8_t id[CS_ID_LEN], cs_span_t bytes, void *ctx) {
  (void)arrival, (void)id, (void)bytes;
  return walk_step(ctx);
}

typedef struct fixture_s {
  cs_txn_t *txn;
  uint8_t club[32];
} fixture_t;

/* Runs one walk with the callback in `w`; returns the walk's result. */
typedef int (*run_fn)(const fixture_t *f, walk_t *w);
static int run_clubs(const fixture_t *f, walk_t *w) { return cs_store_clubs(f->txn, club_cb, w); }
static int run_changes(const fixture_t *f, walk_t *w) { return cs_store_changes(f->txn, f->club, change_cb, w); }
static int run_changes_from(const fixture_t *f, walk_t *w) {
  return cs_store_changes_from(f->txn, f->club, 1, change_cb, w);
}
static int run_vector(const fixture_t *f, walk_t *w) { return cs_store_vector(f->txn, f->club, vector_cb, w); }
static int run_objects(const fixture_t *f, walk_t *w) {
  return cs_store_objects(f->txn, f->club, CS_OBJ_REQUEST, object_cb, w);
}
static int run_members(const fixture_t *f, walk_t *w) { return cs_store_members(f->txn, f->club, member_cb, w); }
static int run_arrivals(const fixture_t *f, walk_t *w) { return cs_store_arrivals_since(f->txn, 0, arrival_cb, w); }

static const struct {
  const char *name;
  run_fn run;
} walks[] = {
    {"cs_store_clubs", run_clubs},       {"cs_store_changes", run_changes}, {"cs_store_changes_from", run_changes_from},
    {"cs_store_vector", run_vector},     {"cs_store_objects", run_objects}, {"cs_store_members", run_members},
    {"cs_store_arrivals_since", run_arrivals},
};

static void check_walk(const char *name, run_fn run, const fixture_t *f) {
  walk_t all = {0, 0, 0};
  int err = run(f, &all);
  if (err != CS_OK || all.calls < 2) fprintf(stderr, "%s: a full walk gave %d after %d calls\n", name, err, all.calls);
  CHECK_EQ_INT(err, CS_OK);
  CHECK(all.calls >= 2); /* the fixture gives every walk two records or more */
  /* Every error code a callback can return comes back as is, after one call. */
  const int codes[] = {CS_ENOTFOUND, CS_EIO, CS_ENOMEM, CS_ECONFLICT, CS_ESTORE, 1234};
  for (size_t i = 0; i < CS_ARRAY_LEN(codes); i++) {
    for (int at = 1; at <= 2; at++) {
      walk_t w = {0, at, codes[i]};
      err = run(f, &w);
      if (err != codes[i] || w.calls != at)
        fprintf(stderr, "%s: callback returned %d at call %d; walk returned %d after %d calls\n", name, codes[i], at,
                err, w.calls);
      CHECK_EQ_INT(err, codes[i]);
      CHECK_EQ_INT(w.calls, at);
    }
  }
  /* CS_STOP ends the walk early as a success. */
  walk_t stop = {0, 1, CS_STOP};
  CHECK_EQ_INT(run(f, &stop), CS_OK);
  CHECK_EQ_INT(stop.calls, 1);
}

static void author(cs_store_t *s, const uint8_t *club, const uint8_t *sk, cs_buf_t *p, uint8_t id[32]) {
  CHECK_EQ_INT(test_author(s, club, sk, cs_buf_span(p), id), CS_OK);
  cs_buf_reset(p);
}

int main(void) {
  if (sodium_init() < 0) return 2;
  char dir[64];
  test_tmpdir(dir, sizeof(dir));
  cs_store_t *s = test_store_open(dir);
  uint8_t pk[32], sk[64], pk2[32], sk2[64], club[32], other[32], request[32], id[32];
  test_key(1, pk, sk);
  test_key(2, pk2, sk2);

  /* Club one: founder, a second member who files a request, and another
   * request by the founder. Club two: founded by the same key. */
  test_club_with_request(s, sk, club, request);
  cs_buf_t p;
  cs_buf_init(&p, CS_CHANGE_PAYLOAD_MAX);
  cs_mp_write_array(&p, 1);
  cs_op_write_member(&p, pk2, "Musée B", CS_ROLE_MEMBER, 0);
  author(s, club, sk, &p, id);
  cs_mp_write_array(&p, 2);
  cs_op_write_create(&p, CS_OBJ_REQUEST, NULL);
  cs_op_write_set_str(&p, cs_ref_local(0), CS_F_REQ_TITLE, "Une autre demande", 0, NULL);
  author(s, club, sk2, &p, id);
  cs_mp_write_array(&p, 1);
  cs_op_write_genesis(&p, "Autre club", "Flora", "Musée A");
  author(s, NULL, sk, &p, other);
  cs_buf_free(&p);

  cs_txn_t txn;
  CHECK_EQ_INT(cs_store_begin(s, false, &txn), CS_OK);
  fixture_t f = {&txn, {0}};
  memcpy(f.club, club, 32);
  for (size_t i = 0; i < CS_ARRAY_LEN(walks); i++) check_walk(walks[i].name, walks[i].run, &f);

  /* A walk with nothing to visit never calls its callback. */
  walk_t none = {0, 1, CS_EIO};
  CHECK_EQ_INT(cs_store_changes_from(&txn, club, UINT64_MAX, change_cb, &none), CS_OK);
  CHECK_EQ_INT(none.calls, 0);
  CHECK_EQ_INT(cs_store_arrivals_since(&txn, cs_store_arrival_last(&txn), arrival_cb, &none), CS_OK);
  CHECK_EQ_INT(none.calls, 0);
  cs_store_abort(&txn);
  cs_store_close(s);
  test_rmdir(dir);
  TEST_SUMMARY();
}
