/* Fuzzes the sync protocol machine (core/sync.h) with a hostile peer.
 *
 * The machine under test, T, holds a small replica (tests/fuzz/fuzz_fixture.h:
 * changes 0-4 and 6, optionally 5 as fork evidence) behind an in-memory
 * cs_sync_io_t. The input is the peer's side of a session: a flags byte,
 * then messages, each a u16 big-endian length and that many bytes. After
 * every message T pumps what it has to stream.
 *
 * Properties:
 *   - T never crashes, leaks, or hands the replica a span outside the
 *     message it received, or a change of another club than the session's;
 *   - everything T sends is a message an honest peer accepts: each goes to
 *     a second machine, P (replica: changes 0, 1, 5), which must return
 *     CS_OK for every one;
 *   - once T rejects a message, the driver closes the connection (so does
 *     the harness).
 *
 * FLAGS bit 0: T also holds change 5 as fork evidence of A's seq 3.
 *       bit 1: after the session, T pushes change 7 live and asks for a check.
 *       bits 2-3: pump budget, 1 KiB << (2 * value). */
#include "tests/fuzz/fuzz_fixture.h"

#include <stdlib.h>

#include "core/sync.h"

static fixture_t fx;

typedef struct replica_s {
  int have[FIXTURE_CHANGES]; /* in the chain */
  int evidence[FIXTURE_CHANGES]; /* stored as fork evidence only */
  cs_span_t message;            /* the message being received, for span checks */
  cs_sync_t *peer;              /* where sends go, or NULL to drop them */
  int peer_error;
  uint64_t ingested;
} replica_t;

static int io_vector(void *ctx, int (*each)(const cs_sync_entry_t *entry, void *each_ctx), void *each_ctx) {
  replica_t *r = ctx;
  for (int a = 0; a < 3; a++) {
    cs_sync_entry_t e = {.seq = 0};
    for (int i = 0; i < FIXTURE_CHANGES; i++)
      if (r->have[i] && fx.ch[i].author == a && fx.ch[i].seq > e.seq) {
        e.seq = fx.ch[i].seq;
        memcpy(e.id, fx.ch[i].id, CS_ID_LEN);
      }
    for (int i = 0; i < FIXTURE_CHANGES; i++)
      if (r->evidence[i] && fx.ch[i].author == a) e.forks++;
    if (e.seq == 0) continue;
    memcpy(e.author, fx.pk[a], CS_KEY_LEN);
    if (each(&e, each_ctx)) break;
  }
  return CS_OK;
}

static int io_change_at(void *ctx, const uint8_t author[CS_KEY_LEN], uint64_t seq, uint8_t id[CS_ID_LEN],
                        uint64_t *lamport) {
  replica_t *r = ctx;
  for (int i = 0; i < FIXTURE_CHANGES; i++)
    if (r->have[i] && fx.ch[i].seq == seq && memcmp(fx.pk[fx.ch[i].author], author, CS_KEY_LEN) == 0) {
      memcpy(id, fx.ch[i].id, CS_ID_LEN);
      *lamport = fx.ch[i].lamport;
      return CS_OK;
    }
  return CS_ENOTFOUND;
}

/* Stored changes (chain and evidence) in (lamport, id) order. */
static int io_changes_from(void *ctx, uint64_t from,
                           int (*each)(const uint8_t id[CS_ID_LEN], cs_span_t signed_bytes, void *each_ctx),
                           void *each_ctx) {
  replica_t *r = ctx;
  int order[FIXTURE_CHANGES], n = 0;
  for (int i = 0; i < FIXTURE_CHANGES; i++)
    if ((r->have[i] || r->evidence[i]) && fx.ch[i].lamport >= from) order[n++] = i;
  for (int i = 1; i < n; i++)
    for (int j = i; j > 0; j--) {
      const fixture_change_t *a = &fx.ch[order[j - 1]], *b = &fx.ch[order[j]];
      if (a->lamport < b->lamport || (a->lamport == b->lamport && memcmp(a->id, b->id, CS_ID_LEN) < 0)) break;
      int t = order[j];
      order[j] = order[j - 1];
      order[j - 1] = t;
    }
  for (int i = 0; i < n; i++) {
    int err = each(fx.ch[order[i]].id, cs_buf_span(&fx.ch[order[i]].bytes), each_ctx);
    if (err) return err;
  }
  return CS_OK;
}

static int io_ingest(void *ctx, const cs_span_t *changes, size_t count) {
  replica_t *r = ctx;
  cs_change_t *c = malloc(sizeof(*c));
  FUZZ_CHECK(c != NULL);
  for (size_t i = 0; i < count; i++) {
    /* Spans point into the received message. */
    if (r->message.ptr) {
      FUZZ_CHECK(changes[i].ptr >= r->message.ptr);
      FUZZ_CHECK((size_t)(changes[i].ptr - r->message.ptr) + changes[i].len <= r->message.len);
    }
    FUZZ_CHECK(!cs_change_of_other_club(changes[i], fx.club));
    if (cs_change_parse_verified(changes[i], c) == CS_OK) r->ingested++;
  }
  free(c);
  return CS_OK;
}

static int io_send(void *ctx, cs_span_t message) {
  replica_t *r = ctx;
  FUZZ_CHECK(message.len <= CS_SYNC_MESSAGE_MAX);
  if (!r->peer) return CS_OK;
  replica_t *pr = r->peer->io.ctx;
  pr->message = message;
  int err = cs_sync_receive(r->peer, message);
  pr->message.ptr = NULL;
  if (err) {
    fprintf(stderr, "an honest peer refused our message: %s\n", cs_errname(err));
    r->peer_error = err;
  }
  return CS_OK;
}

static void init_machine(cs_sync_t *s, replica_t *r) {
  cs_sync_io_t io = {
      .ctx = r,
      .vector = io_vector,
      .change_at = io_change_at,
      .changes_from = io_changes_from,
      .ingest = io_ingest,
      .send = io_send,
  };
  cs_sync_init(s, fx.club, &io);
}

static int pump(cs_sync_t *s, size_t budget) {
  bool more = true;
  for (int i = 0; i < 64 && more; i++) {
    int err = cs_sync_pump(s, budget, &more);
    if (err) return err;
  }
  return CS_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static int built;
  if (!built) {
    fixture_build(&fx);
    built = 1;
  }
  if (size < 1) return 0;
  unsigned flags = data[0];
  size_t budget = (size_t)1024 << (2 * ((flags >> 2) & 3));

  replica_t tr = {.have = {1, 1, 1, 1, 1, 0, 1, 0}}, pr = {.have = {1, 1, 0, 0, 0, 1, 0, 0}};
  if (flags & 1) tr.evidence[5] = 1;
  cs_sync_t t, p;
  init_machine(&t, &tr);
  init_machine(&p, &pr);
  tr.peer = &p;
  FUZZ_CHECK(cs_sync_start(&p) == CS_OK); /* P's own sends go nowhere */
  FUZZ_CHECK(cs_sync_start(&t) == CS_OK);

  size_t at = 1;
  int err = CS_OK;
  while (at + 2 <= size && !err) {
    size_t len = (size_t)data[at] << 8 | data[at + 1];
    at += 2;
    if (len > size - at) len = size - at;
    /* A copy of exactly the message, so reads past it are caught. */
    uint8_t *msg = malloc(len ? len : 1);
    FUZZ_CHECK(msg != NULL);
    memcpy(msg, data + at, len);
    at += len;
    cs_span_t m = {msg, len};
    tr.message = m;
    err = cs_sync_receive(&t, m);
    tr.message.ptr = NULL;
    free(msg);
    if (!err) err = pump(&t, budget);
    FUZZ_CHECK(tr.peer_error == CS_OK);
  }
  if (!err && (flags & 2)) {
    FUZZ_CHECK(cs_sync_push(&t, cs_buf_span(&fx.ch[7].bytes)) == CS_OK);
    FUZZ_CHECK(cs_sync_check(&t) == CS_OK);
    FUZZ_CHECK(tr.peer_error == CS_OK);
  }
  (void)cs_sync_caught_up(&t);
  cs_sync_free(&t);
  cs_sync_free(&p);
  return 0;
}
