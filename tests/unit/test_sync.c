/* The sync machine between two real stores, over an in-memory pipe: they
 * converge; one new change costs a few hundred bytes; an idle reconnect
 * costs two hellos; a fork is carried as evidence; a session carries only
 * its club's changes, whatever the store beside it holds. */
#include "tests/unit/testlib.h"

#include "core/op.h"
#include "store/sync_io.h"
#include "tests/unit/test_pipe.h"

typedef struct node_s {
  cs_store_t *store;
  cs_store_sync_t x;
  cs_sync_io_t io;
  cs_sync_t sync;
} node_t;

/* Delivers every queued message in both directions until both are quiet;
 * returns the number of round trips (turns in which something moved). */
static int run(node_t *a, node_t *b, test_pipe_t *ab, test_pipe_t *ba) {
  int turns = 0;
  for (int guard = 0; guard < 10000; guard++) {
    bool moved = false, more;
    CHECK_EQ_INT(cs_sync_pump(&a->sync, 1 << 20, &more), CS_OK);
    CHECK_EQ_INT(cs_sync_pump(&b->sync, 1 << 20, &more), CS_OK);
    size_t ab_end = ab->data.len, ba_end = ba->data.len;
    if (test_pipe_deliver(ab, ab_end, &b->sync)) moved = true;
    if (test_pipe_deliver(ba, ba_end, &a->sync)) moved = true;
    CHECK_EQ_INT(cs_store_sync_flush(&a->x), CS_OK);
    CHECK_EQ_INT(cs_store_sync_flush(&b->x), CS_OK);
    if (!moved) break;
    turns++;
  }
  return turns;
}

static void connect_nodes(node_t *a, node_t *b, const uint8_t club[32], test_pipe_t *ab, test_pipe_t *ba) {
  test_pipe_init(ab, 256u << 20);
  test_pipe_init(ba, 256u << 20);
  cs_store_sync_init(&a->x, a->store, club, test_pipe_send, ab, &a->io);
  cs_store_sync_init(&b->x, b->store, club, test_pipe_send, ba, &b->io);
  cs_sync_init(&a->sync, club, &a->io);
  cs_sync_init(&b->sync, club, &b->io);
  CHECK_EQ_INT(cs_sync_start(&a->sync), CS_OK);
  CHECK_EQ_INT(cs_sync_start(&b->sync), CS_OK);
}

static void disconnect(node_t *a, node_t *b, test_pipe_t *ab, test_pipe_t *ba) {
  cs_sync_free(&a->sync);
  cs_sync_free(&b->sync);
  cs_buf_free(&ab->data);
  cs_buf_free(&ba->data);
}

static void add_request(cs_store_t *s, const uint8_t club[32], const uint8_t *sk, const char *title) {
  cs_buf_t p;
  uint8_t id[32];
  cs_buf_init(&p, CS_CHANGE_PAYLOAD_MAX);
  cs_mp_write_array(&p, 3);
  cs_op_write_create(&p, CS_OBJ_REQUEST, NULL);
  cs_op_write_set_str(&p, cs_ref_local(0), CS_F_REQ_TITLE, title, 0, NULL);
  cs_op_write_set_str(&p, cs_ref_local(0), CS_F_REQ_STATUS, "submitted", 0, NULL);
  CHECK_EQ_INT(test_author(s, club, sk, cs_buf_span(&p), id), CS_OK);
  cs_buf_free(&p);
}

static int count_club(const cs_club_info_t *club, void *ctx) {
  (void)club;
  ++*(int *)ctx;
  return 0;
}

static int clubs_in(cs_store_t *s) {
  cs_txn_t txn;
  int count = 0;
  if (cs_store_begin(s, false, &txn) != CS_OK) return -1;
  if (cs_store_clubs(&txn, count_club, &count) != CS_OK) count = -1;
  cs_store_abort(&txn);
  return count;
}

/* A driver whose store walk also returns another club's changes after the
 * session's (a buggy or careless driver): the machine must not send them. */
typedef struct mixed_io_s {
  cs_sync_io_t inner;
  cs_store_t *store;
  const uint8_t *other_club;
} mixed_io_t;

static int mixed_vector(void *ctx, int (*each)(const cs_sync_entry_t *entry, void *each_ctx), void *each_ctx) {
  mixed_io_t *m = ctx;
  return m->inner.vector(m->inner.ctx, each, each_ctx);
}
static int mixed_change_at(void *ctx, const uint8_t author[CS_KEY_LEN], uint64_t seq, uint8_t id[CS_ID_LEN],
                           uint64_t *lamport) {
  mixed_io_t *m = ctx;
  return m->inner.change_at(m->inner.ctx, author, seq, id, lamport);
}
static int mixed_changes_from(void *ctx, uint64_t from,
                              int (*each)(const uint8_t id[CS_ID_LEN], cs_span_t signed_bytes, void *each_ctx),
                              void *each_ctx) {
  mixed_io_t *m = ctx;
  int err = m->inner.changes_from(m->inner.ctx, from, each, each_ctx);
  cs_txn_t txn;
  if (!err && !(err = cs_store_begin(m->store, false, &txn))) {
    err = cs_store_changes(&txn, m->other_club, each, each_ctx);
    cs_store_abort(&txn);
  }
  return err;
}
static int mixed_ingest(void *ctx, const cs_span_t *changes, size_t count) {
  mixed_io_t *m = ctx;
  return m->inner.ingest(m->inner.ctx, changes, count);
}
static int mixed_send(void *ctx, cs_span_t message) {
  mixed_io_t *m = ctx;
  return m->inner.send(m->inner.ctx, message);
}

/* A CHANGES message carrying these signed changes. */
static void changes_message(cs_buf_t *b, const cs_span_t *changes, uint32_t count) {
  cs_buf_reset(b);
  cs_mp_write_array(b, 3);
  cs_mp_write_uint(b, CS_SYNC_CHANGES);
  cs_mp_write_array(b, count);
  for (uint32_t i = 0; i < count; i++) cs_mp_write_bin(b, changes[i].ptr, changes[i].len);
  cs_mp_write_bool(b, false);
}

static bool same_digest(node_t *a, node_t *b, const uint8_t club[32]) {
  uint8_t da[32], db[32];
  test_digest(a->store, club, da);
  test_digest(b->store, club, db);
  return memcmp(da, db, 32) == 0;
}

int main(void) {
  if (sodium_init() < 0) return 2;
  char dir_a[64], dir_b[64];
  test_tmpdir(dir_a, sizeof(dir_a));
  test_tmpdir(dir_b, sizeof(dir_b));
  node_t a = {.store = test_store_open(dir_a)}, b = {.store = test_store_open(dir_b)};
  uint8_t pk[20][32], sk[20][64], club[32], id[32];
  for (int i = 0; i < 20; i++) test_key((uint8_t)(10 + i), pk[i], sk[i]);

  /* A creates the club with 20 museums; B starts empty. */
  cs_buf_t p;
  cs_buf_init(&p, CS_CHANGE_PAYLOAD_MAX);
  cs_mp_write_array(&p, 1);
  cs_op_write_genesis(&p, "Club", "Flora", "Musée 0");
  CHECK_EQ_INT(test_author(a.store, NULL, sk[0], cs_buf_span(&p), club), CS_OK);
  cs_buf_reset(&p);
  cs_mp_write_array(&p, 19);
  for (int i = 1; i < 20; i++) cs_op_write_member(&p, pk[i], "Musée", CS_ROLE_MEMBER, 0);
  CHECK_EQ_INT(test_author(a.store, club, sk[0], cs_buf_span(&p), id), CS_OK);
  cs_buf_free(&p);
  for (int i = 0; i < 400; i++) {
    char title[32];
    snprintf(title, sizeof(title), "Demande %d", i);
    add_request(a.store, club, sk[i % 20], title);
  }

  test_pipe_t ab, ba;
  /* Initial sync into an empty node. */
  connect_nodes(&a, &b, club, &ab, &ba);
  run(&a, &b, &ab, &ba);
  CHECK(cs_sync_caught_up(&a.sync) && cs_sync_caught_up(&b.sync));
  CHECK(same_digest(&a, &b, club));
  CHECK_EQ_INT(b.x.added, 402);
  /* Each side knew from the vectors how many changes the other would send. */
  CHECK(b.sync.expected_known && a.sync.expected_known);
  CHECK_EQ_INT(b.sync.changes_expected, 402);
  CHECK_EQ_INT(b.sync.changes_received, 402);
  CHECK_EQ_INT(a.sync.changes_expected, 0);
  disconnect(&a, &b, &ab, &ba);

  /* Both write offline, then sync both ways. */
  add_request(a.store, club, sk[3], "Chez A");
  add_request(b.store, club, sk[4], "Chez B");
  add_request(b.store, club, sk[5], "Encore chez B");
  connect_nodes(&a, &b, club, &ab, &ba);
  run(&a, &b, &ab, &ba);
  CHECK(same_digest(&a, &b, club));
  CHECK_EQ_INT(a.sync.changes_expected, 2);
  CHECK_EQ_INT(a.sync.changes_received, 2);
  CHECK_EQ_INT(b.sync.changes_expected, 1);
  CHECK_EQ_INT(b.sync.changes_received, 1);

  /* The vector digest is computed once per commit, not per request: 1,000
   * CHECKs from B cost A at most one reading of its vector (counted, not
   * timed), and what it answers is the digest of its vector. A commit makes
   * the next request read it once again. */
  {
    uint64_t before = a.x.vectors_read;
    for (int i = 0; i < 1000; i++) {
      CHECK_EQ_INT(cs_sync_check(&b.sync), CS_OK);
      run(&a, &b, &ab, &ba);
      CHECK(b.sync.check_answered && b.sync.check_equal);
    }
    CHECK(a.x.vectors_read - before <= 1);
    uint8_t cached[32], computed[32];
    cs_sync_io_t plain = a.io;
    plain.digest = NULL;
    CHECK_EQ_INT(cs_sync_vector_digest(&a.io, cached), CS_OK);
    CHECK_EQ_INT(cs_sync_vector_digest(&plain, computed), CS_OK);
    CHECK(memcmp(cached, computed, 32) == 0);
    add_request(a.store, club, sk[6], "Après les CHECKs");
    before = a.x.vectors_read;
    for (int i = 0; i < 10; i++) CHECK_EQ_INT(cs_sync_vector_digest(&a.io, cached), CS_OK);
    CHECK_EQ_INT(a.x.vectors_read - before, 1);
    CHECK_EQ_INT(cs_sync_vector_digest(&plain, computed), CS_OK);
    CHECK(memcmp(cached, computed, 32) == 0);
    /* B takes that change, so what follows starts from equal replicas. */
    disconnect(&a, &b, &ab, &ba);
    connect_nodes(&a, &b, club, &ab, &ba);
    run(&a, &b, &ab, &ba);
    CHECK(same_digest(&a, &b, club));
  }
  disconnect(&a, &b, &ab, &ba);

  /* A transfer cut short: B knows it was to receive 1,000 changes and got
   * the first CHANGES message of them (one pump of at most 256 KiB); the
   * next session expects and carries exactly the rest. */
  enum { LOT = 1000 };
  for (int i = 0; i < LOT; i++) {
    char title[32];
    snprintf(title, sizeof(title), "Lot %d", i);
    add_request(a.store, club, sk[i % 20], title);
  }
  connect_nodes(&a, &b, club, &ab, &ba);
  for (int turn = 0; turn < 2; turn++) { /* the hellos, then the vectors */
    size_t ab_end = ab.data.len, ba_end = ba.data.len;
    test_pipe_deliver(&ab, ab_end, &b.sync);
    test_pipe_deliver(&ba, ba_end, &a.sync);
  }
  CHECK(b.sync.expected_known);
  CHECK_EQ_INT(b.sync.changes_expected, LOT);
  bool more_to_send;
  CHECK_EQ_INT(cs_sync_pump(&a.sync, 1, &more_to_send), CS_OK);
  CHECK(more_to_send);
  test_pipe_deliver(&ab, ab.data.len, &b.sync);
  CHECK_EQ_INT(cs_store_sync_flush(&b.x), CS_OK);
  uint64_t cut_after = b.sync.changes_received;
  printf("transfer cut after %llu of %d changes\n", (unsigned long long)cut_after, LOT);
  CHECK(cut_after > 0 && cut_after < LOT);
  disconnect(&a, &b, &ab, &ba);
  connect_nodes(&a, &b, club, &ab, &ba);
  run(&a, &b, &ab, &ba);
  CHECK(same_digest(&a, &b, club));
  CHECK_EQ_INT(b.sync.changes_expected, LOT - cut_after);
  CHECK_EQ_INT(b.sync.changes_received, LOT - cut_after);
  CHECK_EQ_INT(a.sync.changes_expected, 0);
  disconnect(&a, &b, &ab, &ba);

  /* Idle reconnect: only the two hellos. */
  connect_nodes(&a, &b, club, &ab, &ba);
  run(&a, &b, &ab, &ba);
  CHECK(a.sync.expected_known && b.sync.expected_known);
  CHECK_EQ_INT(b.sync.changes_expected, 0);
  size_t idle = ab.bytes + ba.bytes;
  printf("idle reconnect: %zu bytes of messages\n", idle);
  CHECK_EQ_INT(ab.messages + ba.messages, 2);
  CHECK(idle + 2 * 34 <= 256); /* with one box-stream header per message */
  disconnect(&a, &b, &ab, &ba);

  /* One new change: a few hundred bytes, at most 3 round trips. */
  add_request(a.store, club, sk[7], "Une seule nouvelle demande");
  connect_nodes(&a, &b, club, &ab, &ba);
  int turns = run(&a, &b, &ab, &ba);
  size_t one = ab.bytes + ba.bytes;
  uint32_t messages = ab.messages + ba.messages;
  printf("one new change: %zu bytes in %u messages, %d turns\n", one, messages, turns);
  CHECK(one + 34 * messages <= 2048);
  CHECK(turns <= 3);
  CHECK(same_digest(&a, &b, club));
  disconnect(&a, &b, &ab, &ba);

  /* A fork: the same author signs two different seq-N changes, one on each
   * node; sync carries each as evidence to the other. */
  add_request(a.store, club, sk[9], "Version A");
  add_request(b.store, club, sk[9], "Version B");
  connect_nodes(&a, &b, club, &ab, &ba);
  run(&a, &b, &ab, &ba);
  CHECK(a.x.forks >= 1);
  CHECK(b.x.forks >= 1);
  CHECK_EQ_INT(b.sync.changes_expected, 1); /* the other branch, at the same seq */
  CHECK_EQ_INT(b.sync.changes_received, 1);
  CHECK(same_digest(&a, &b, club));
  disconnect(&a, &b, &ab, &ba);

  /* A node in two clubs: A also holds a second club, founded by a key of
   * its own (B lacks every change of that key, so only the club rule keeps
   * them off the session), with a request. */
  uint8_t other[32], other_request[32], other_pk[32], other_sk[64], head[32];
  cs_txn_t txn;
  test_key(200, other_pk, other_sk);
  cs_buf_init(&p, CS_CHANGE_PAYLOAD_MAX);
  cs_mp_write_array(&p, 1);
  cs_op_write_genesis(&p, "Autre club", "Flora", "Musée 0");
  CHECK_EQ_INT(test_author(a.store, NULL, other_sk, cs_buf_span(&p), other), CS_OK);
  cs_buf_free(&p);
  add_request(a.store, other, other_sk, "Dans l'autre club");
  CHECK_EQ_INT(cs_store_begin(a.store, false, &txn), CS_OK);
  CHECK_EQ_INT(cs_store_author_seq(&txn, other, other_pk, other_request), 2);
  cs_store_abort(&txn);
  add_request(a.store, club, sk[1], "Après l'autre club");
  CHECK_EQ_INT(clubs_in(a.store), 2);

  /* A session of the first club streams none of the second, even when the
   * driver's store walk hands the machine both clubs' changes. */
  test_pipe_t mixed_ab, mixed_ba;
  mixed_io_t mixed = {.store = a.store, .other_club = other};
  test_pipe_init(&mixed_ab, 256u << 20);
  test_pipe_init(&mixed_ba, 256u << 20);
  cs_store_sync_init(&a.x, a.store, club, test_pipe_send, &mixed_ab, &mixed.inner);
  cs_sync_io_t mixed_io = {&mixed, mixed_vector, mixed_change_at, mixed_changes_from, mixed_ingest, mixed_send, NULL};
  cs_store_sync_init(&b.x, b.store, club, test_pipe_send, &mixed_ba, &b.io);
  cs_sync_init(&a.sync, club, &mixed_io);
  cs_sync_init(&b.sync, club, &b.io);
  CHECK_EQ_INT(cs_sync_start(&a.sync), CS_OK);
  CHECK_EQ_INT(cs_sync_start(&b.sync), CS_OK);
  run(&a, &b, &mixed_ab, &mixed_ba);
  CHECK(cs_sync_caught_up(&a.sync) && cs_sync_caught_up(&b.sync));
  CHECK(same_digest(&a, &b, club));
  CHECK_EQ_INT(clubs_in(b.store), 1);
  CHECK_EQ_INT(b.sync.changes_other_club, 0); /* nothing was even sent */

  /* Live: a push of the other club's changes sends nothing. */
  cs_span_t genesis = test_fetch(a.store, other), request = test_fetch(a.store, other_request);
  uint32_t before = mixed_ab.messages;
  CHECK_EQ_INT(cs_sync_push(&a.sync, genesis), CS_OK);
  CHECK_EQ_INT(cs_sync_push(&a.sync, request), CS_OK);
  CHECK_EQ_INT(mixed_ab.messages, before);
  disconnect(&a, &b, &mixed_ab, &mixed_ba);

  /* A peer that sends them anyway, beside a change of the session's club:
   * B refuses and counts the other club's two, the genesis included, and
   * stores the one of its club. */
  connect_nodes(&a, &b, club, &ab, &ba);
  run(&a, &b, &ab, &ba);
  add_request(a.store, club, sk[2], "Avec des intrus");
  CHECK_EQ_INT(cs_store_begin(a.store, false, &txn), CS_OK);
  CHECK(cs_store_author_seq(&txn, club, pk[2], head) > 0);
  cs_store_abort(&txn);
  cs_span_t own = test_fetch(a.store, head);
  cs_span_t mixed_changes[3] = {genesis, own, request};
  cs_buf_t message;
  cs_buf_init(&message, CS_SYNC_MESSAGE_MAX);
  changes_message(&message, mixed_changes, 3);
  uint64_t added = b.x.added, duplicates = b.x.duplicates;
  CHECK_EQ_INT(cs_sync_receive(&b.sync, cs_buf_span(&message)), CS_OK);
  CHECK_EQ_INT(cs_store_sync_flush(&b.x), CS_OK);
  CHECK_EQ_INT(b.sync.changes_other_club, 2);
  CHECK_EQ_INT(b.x.rejected, 0);
  CHECK_EQ_INT(b.x.added, added + 1);
  CHECK_EQ_INT(b.x.duplicates, duplicates);
  CHECK_EQ_INT(clubs_in(b.store), 1);
  CHECK(same_digest(&a, &b, club));
  /* Damaged bytes are not "another club": ingest refuses them with the
   * reason, as before. */
  uint8_t junk_change[] = {0x93, 0xc4, 0x01, 0x00};
  cs_span_t damaged = {junk_change, sizeof(junk_change)};
  changes_message(&message, &damaged, 1);
  uint64_t rejected = b.x.rejected;
  CHECK_EQ_INT(cs_sync_receive(&b.sync, cs_buf_span(&message)), CS_OK);
  CHECK_EQ_INT(b.x.rejected, rejected + 1);
  CHECK_EQ_INT(b.sync.changes_other_club, 2);
  cs_buf_free(&message);
  free((void *)genesis.ptr);
  free((void *)request.ptr);
  free((void *)own.ptr);
  disconnect(&a, &b, &ab, &ba);

  /* A hostile message is a protocol error, not a crash. */
  connect_nodes(&a, &b, club, &ab, &ba);
  uint8_t junk[] = {0x92, 0x03, 0x91, 0xc4, 0xff};
  CHECK(cs_sync_receive(&a.sync, (cs_span_t){junk, sizeof(junk)}) != CS_OK);
  disconnect(&a, &b, &ab, &ba);

  cs_store_close(a.store);
  cs_store_close(b.store);
  test_rmdir(dir_a);
  test_rmdir(dir_b);
  TEST_SUMMARY();
}
