/* Sync protocol messages (msgpack arrays; the first item is the type):
 *
 * | TYPE | NAME    | ITEMS AFTER THE TYPE                                        |
 * |------|---------|-------------------------------------------------------------|
 * | 1    | hello   | version (uint), club prefix (bin 8), vector digest (bin 32) |
 * | 2    | vector  | array of [author prefix (bin 8), seq, id prefix (bin 8), forks] |
 * | 3    | changes | array of signed changes (bin), about 64 KiB; last (bool)    |
 * | 4    | done    | (nothing): every change the peer lacked has been sent       |
 * | 5    | check   | vector digest (bin 32), is an answer (bool)                 |
 *
 * "last" set on a changes message means done as well, saving a message.
 * The club travels as a prefix: the network key already binds a connection
 * to one club, the prefix only catches a misconfiguration.
 * A changes message carries only changes of the session's club: the
 * network key binds the connection to one club, and a node that holds
 * several would otherwise hand a peer a club it never joined. The receiver
 * refuses and counts any other (docs/protocol.md, "One club per session").
 * Prefixes keep a vector near 24 bytes an author, so one new change costs
 * well under 2 KiB on the wire; a full id would be needed only to tell two
 * forked changes apart, and 64 bits of a BLAKE2b hash already do.
 */
#include "core/sync.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

void cs_sync_init(cs_sync_t *s, const uint8_t club[CS_ID_LEN], const cs_sync_io_t *io) {
  memset(s, 0, sizeof(*s));
  s->io = *io;
  memcpy(s->club, club, CS_ID_LEN);
}

void cs_sync_free(cs_sync_t *s) {
  free(s->peer_authors);
  free(s->peer_seqs);
  s->peer_authors = NULL;
  s->peer_seqs = NULL;
  s->peer_count = 0;
}

/* Collects the local vector into a growable array. */
typedef struct cs__vec_s {
  cs_sync_entry_t *entries;
  uint32_t count, cap;
  int err;
} cs__vec_t;

static int cs__vec_each(const cs_sync_entry_t *e, void *ctx) {
  cs__vec_t *v = ctx;
  if (v->count == v->cap) {
    uint32_t cap = v->cap ? v->cap * 2 : 32;
    cs_sync_entry_t *grown = realloc(v->entries, cap * sizeof(*grown));
    if (!grown) {
      v->err = CS_ENOMEM;
      return 1;
    }
    v->entries = grown;
    v->cap = cap;
  }
  v->entries[v->count++] = *e;
  return 0;
}

static int cs__entry_cmp(const void *a, const void *b) {
  return memcmp(((const cs_sync_entry_t *)a)->author, ((const cs_sync_entry_t *)b)->author, CS_KEY_LEN);
}

static int cs__local_vector(const cs_sync_io_t *io, cs__vec_t *v) {
  memset(v, 0, sizeof(*v));
  int err = io->vector(io->ctx, cs__vec_each, v);
  if (!err) err = v->err;
  if (!err && v->count > 1) qsort(v->entries, v->count, sizeof(*v->entries), cs__entry_cmp);
  return err;
}

int cs_sync_vector_digest(const cs_sync_io_t *io, uint8_t out[32]) {
  if (io->digest) return io->digest(io->ctx, out);
  cs__vec_t v;
  int err = cs__local_vector(io, &v);
  if (err) {
    free(v.entries);
    return err;
  }
  crypto_generichash_state st;
  crypto_generichash_init(&st, NULL, 0, 32);
  for (uint32_t i = 0; i < v.count; i++) {
    uint8_t tail[12];
    for (int b = 0; b < 8; b++) tail[b] = (uint8_t)(v.entries[i].seq >> (56 - 8 * b));
    for (int b = 0; b < 4; b++) tail[8 + b] = (uint8_t)(v.entries[i].forks >> (24 - 8 * b));
    crypto_generichash_update(&st, v.entries[i].author, CS_KEY_LEN);
    crypto_generichash_update(&st, v.entries[i].id, CS_ID_LEN);
    crypto_generichash_update(&st, tail, sizeof(tail));
  }
  crypto_generichash_final(&st, out, 32);
  free(v.entries);
  return CS_OK;
}

static int cs__send(cs_sync_t *s, cs_buf_t *b) {
  if (b->failed) return CS_ETOOBIG;
  return s->io.send(s->io.ctx, cs_buf_span(b));
}

int cs_sync_start(cs_sync_t *s) {
  int err = cs_sync_vector_digest(&s->io, s->local_digest);
  if (err) return err;
  cs_buf_t b;
  cs_buf_init(&b, 256);
  cs_mp_write_array(&b, 4);
  cs_mp_write_uint(&b, CS_SYNC_HELLO);
  cs_mp_write_uint(&b, CS_SYNC_VERSION);
  cs_mp_write_bin(&b, s->club, CS_SYNC_PREFIX_LEN);
  cs_mp_write_bin(&b, s->local_digest, 32);
  err = cs__send(s, &b);
  cs_buf_free(&b);
  return err;
}

static int cs__send_vector(cs_sync_t *s) {
  cs__vec_t v;
  int err = cs__local_vector(&s->io, &v);
  cs_buf_t b;
  cs_buf_init(&b, CS_SYNC_MESSAGE_MAX);
  if (!err) {
    cs_mp_write_array(&b, 2);
    cs_mp_write_uint(&b, CS_SYNC_VECTOR);
    cs_mp_write_array(&b, v.count);
    for (uint32_t i = 0; i < v.count; i++) {
      cs_mp_write_array(&b, 4);
      cs_mp_write_bin(&b, v.entries[i].author, CS_SYNC_PREFIX_LEN);
      cs_mp_write_uint(&b, v.entries[i].seq);
      cs_mp_write_bin(&b, v.entries[i].id, CS_SYNC_PREFIX_LEN);
      cs_mp_write_uint(&b, v.entries[i].forks);
    }
    err = cs__send(s, &b);
  }
  s->vector_sent = true;
  cs_buf_free(&b);
  free(v.entries);
  return err;
}

/* The peer's seq for an author, found by prefix (0 when absent). */
static uint64_t cs__peer_seq(const cs_sync_t *s, const uint8_t author[CS_KEY_LEN]) {
  uint32_t lo = 0, hi = s->peer_count;
  while (lo < hi) {
    uint32_t mid = lo + (hi - lo) / 2;
    int c = memcmp(s->peer_authors[mid], author, CS_SYNC_PREFIX_LEN);
    if (c == 0) return s->peer_seqs[mid];
    if (c < 0) lo = mid + 1;
    else hi = mid;
  }
  return 0;
}

static int cs__prefix_cmp(const void *a, const void *b) { return memcmp(a, b, CS_SYNC_PREFIX_LEN); }

/* One entry of a received vector. */
typedef struct cs__peer_entry_s {
  uint8_t author[CS_SYNC_PREFIX_LEN];
  uint64_t seq;
  uint8_t id[CS_SYNC_PREFIX_LEN];
  uint64_t forks;
} cs__peer_entry_t;

/* How many changes the peer will stream to us: for each author of its
 * vector, the seqs above what it will take us to hold, worked out with the
 * rule cs__receive_vector applies on its side. A fork below the peer's head
 * and the evidence a forked author's summary stands for are not in the
 * vectors, so such changes come on top of this count. */
static uint64_t cs__expected_from(const cs__peer_entry_t *peer, uint32_t count, const cs__vec_t *mine) {
  uint64_t expected = 0;
  for (uint32_t i = 0; i < count; i++) {
    const cs__peer_entry_t *theirs = &peer[i];
    const cs_sync_entry_t *ours = NULL;
    uint32_t lo = 0, hi = mine->count;
    while (lo < hi && !ours) {
      uint32_t mid = lo + (hi - lo) / 2;
      int c = memcmp(mine->entries[mid].author, theirs->author, CS_SYNC_PREFIX_LEN);
      if (c == 0) ours = &mine->entries[mid];
      else if (c < 0) lo = mid + 1;
      else hi = mid;
    }
    uint64_t has = ours ? ours->seq : 0;
    if (ours && ours->forks != 0 && ours->forks == theirs->forks) continue; /* the same changes: none to send */
    if (ours && has > 0 && has == theirs->seq && memcmp(ours->id, theirs->id, CS_SYNC_PREFIX_LEN) != 0) has -= 1;
    if (ours && ours->forks != theirs->forks) has = 0;
    if (theirs->seq > has) expected += theirs->seq - has;
  }
  return expected;
}

/* Reads the peer's vector, then decides where the stream of what it lacks
 * starts: the smallest lamport among each author's first missing change. */
static int cs__receive_vector(cs_sync_t *s, cs_mp_reader_t *r) {
  uint32_t count, n;
  int err = cs_mp_read_array(r, &count);
  if (err) return CS_EPROTO;
  if (count > CS_SYNC_VECTOR_MAX || count > cs_mp_remaining(r) || s->peer_vector_received) return CS_EPROTO;
  /* Entries are read into one array of (prefix, seq, id prefix, forks). */
  typedef cs__peer_entry_t peer_entry_t;
  peer_entry_t *peer = malloc((count ? count : 1) * sizeof(*peer));
  s->peer_authors = malloc((count ? count : 1) * (size_t)CS_SYNC_PREFIX_LEN);
  s->peer_seqs = malloc((count ? count : 1) * sizeof(uint64_t));
  if (!peer || !s->peer_authors || !s->peer_seqs) {
    free(peer);
    return CS_ENOMEM;
  }
  for (uint32_t i = 0; i < count; i++) {
    cs_span_t a, id;
    if (cs_mp_read_array(r, &n) || n != 4 || cs_mp_read_bin(r, &a) || a.len != CS_SYNC_PREFIX_LEN ||
        cs_mp_read_uint(r, &peer[i].seq) || cs_mp_read_bin(r, &id) || id.len != CS_SYNC_PREFIX_LEN ||
        cs_mp_read_uint(r, &peer[i].forks)) {
      free(peer);
      return CS_EPROTO;
    }
    memcpy(peer[i].author, a.ptr, CS_SYNC_PREFIX_LEN);
    memcpy(peer[i].id, id.ptr, CS_SYNC_PREFIX_LEN);
  }
  qsort(peer, count, sizeof(*peer), cs__prefix_cmp);
  s->peer_count = count;
  for (uint32_t i = 0; i < count; i++) {
    memcpy(s->peer_authors[i], peer[i].author, CS_SYNC_PREFIX_LEN);
    s->peer_seqs[i] = peer[i].seq;
  }
  s->peer_vector_received = true;

  cs__vec_t v;
  err = cs__local_vector(&s->io, &v);
  if (!err) {
    s->changes_expected = cs__expected_from(peer, count, &v);
    s->expected_known = true;
  }
  uint64_t start = UINT64_MAX;
  for (uint32_t i = 0; i < v.count && !err; i++) {
    const cs_sync_entry_t *mine = &v.entries[i];
    peer_entry_t key, *theirs;
    memcpy(key.author, mine->author, CS_SYNC_PREFIX_LEN);
    theirs = bsearch(&key, peer, count, sizeof(*peer), cs__prefix_cmp);
    uint64_t has = theirs ? theirs->seq : 0;
    uint8_t id[CS_ID_LEN];
    uint64_t lamport;
    /* Both sides forked with equal summaries: they hold the same changes
     * of this author, whichever branch each chain kept, so nothing is sent
     * (the stream skips the author). */
    if (theirs && mine->forks != 0 && theirs->forks == mine->forks) {
      s->peer_seqs[theirs - peer] = UINT64_MAX;
      continue;
    }
    /* A different id where both have the seq is a fork: send from there,
     * so the peer stores our change as evidence. Differing fork summaries
     * mean evidence to share: send that author's whole history (rare). */
    if (theirs && has > 0 && has <= mine->seq && s->io.change_at(s->io.ctx, mine->author, has, id, &lamport) == CS_OK &&
        memcmp(id, theirs->id, CS_SYNC_PREFIX_LEN) != 0) {
      has -= 1;
      s->forks_seen++;
    }
    if (theirs && theirs->forks != mine->forks) has = 0;
    if (theirs) {
      /* Record what the stream will treat as already there. */
      size_t at = (size_t)(theirs - peer);
      s->peer_seqs[at] = has;
    }
    if (has >= mine->seq) continue;
    if ((err = s->io.change_at(s->io.ctx, mine->author, has + 1, id, &lamport))) break;
    if (lamport < start) start = lamport;
  }
  free(v.entries);
  free(peer);
  if (err) return err;
  s->sending = true;
  s->resume_lamport = start == UINT64_MAX ? UINT64_MAX : start;
  s->resume_have_id = false;
  return CS_OK;
}

typedef struct cs__pump_s {
  cs_sync_t *s;
  cs_buf_t batch;
  uint32_t in_batch;
  size_t budget;
  size_t sent_bytes;
  int err;
  bool stopped;
  cs_change_t *scratch; /* one decode buffer for the whole pump, not one per change */
} cs__pump_t;

static int cs__flush_batch(cs__pump_t *p, bool last) {
  if (p->in_batch == 0) return CS_OK;
  /* The batch holds the encoded changes; the header goes in front. */
  cs_buf_t msg;
  cs_buf_init(&msg, CS_SYNC_MESSAGE_MAX);
  cs_mp_write_array(&msg, 3);
  cs_mp_write_uint(&msg, CS_SYNC_CHANGES);
  cs_mp_write_array(&msg, p->in_batch);
  cs_buf_append(&msg, p->batch.data, p->batch.len);
  cs_mp_write_bool(&msg, last);
  int err = cs__send(p->s, &msg);
  p->sent_bytes += msg.len;
  cs_buf_free(&msg);
  cs_buf_reset(&p->batch);
  p->in_batch = 0;
  return err;
}

static int cs__pump_each(const uint8_t id[CS_ID_LEN], cs_span_t bytes, void *ctx) {
  cs__pump_t *p = ctx;
  cs_sync_t *s = p->s;
  cs_change_t *c = p->scratch;
  int err = cs_change_decode(bytes, c);
  uint64_t lamport = c->lamport;
  /* changes_from reads the session's club; checking it here keeps the rule
   * in the machine, whatever the driver's store returns. */
  bool skip = err != CS_OK || memcmp(cs_change_club(c), s->club, CS_ID_LEN) != 0;
  /* Resume strictly after the last change handled at the same lamport. */
  if (!skip && s->resume_have_id && lamport == s->resume_lamport && memcmp(id, s->resume_id, CS_ID_LEN) <= 0)
    skip = true;
  bool lacks = !skip && c->seq > cs__peer_seq(s, c->author);
  if (skip) return 0;
  if (lacks) {
    cs_mp_write_bin(&p->batch, bytes.ptr, bytes.len);
    p->in_batch++;
    s->changes_sent++;
    if (p->batch.len >= CS_SYNC_BATCH_BYTES && (p->err = cs__flush_batch(p, false))) return 1;
  }
  s->resume_lamport = lamport;
  memcpy(s->resume_id, id, CS_ID_LEN);
  s->resume_have_id = true;
  if (p->sent_bytes >= p->budget) {
    p->stopped = true;
    return 1;
  }
  return 0;
}

int cs_sync_pump(cs_sync_t *s, size_t max_bytes, bool *more) {
  *more = false;
  if (!s->sending) return CS_OK;
  cs__pump_t p = {.s = s, .budget = max_bytes};
  if (!(p.scratch = malloc(sizeof(*p.scratch)))) return CS_ENOMEM;
  cs_buf_init(&p.batch, CS_SYNC_MESSAGE_MAX);
  int err = CS_OK;
  if (s->resume_lamport != UINT64_MAX) err = s->io.changes_from(s->io.ctx, s->resume_lamport, cs__pump_each, &p);
  free(p.scratch);
  /* The callback's non-zero return only stops the walk; its own error, if
   * any, is in p.err. */
  if (p.stopped || p.err) err = p.err;
  bool last = !err && !p.stopped;
  bool batched = p.in_batch > 0;
  if (!err) err = cs__flush_batch(&p, last);
  cs_buf_free(&p.batch);
  if (err) return err;
  if (p.stopped) {
    *more = true;
    return CS_OK;
  }
  s->sending = false;
  s->done_sent = true;
  if (batched) return CS_OK; /* the last changes message said done */
  cs_buf_t b;
  cs_buf_init(&b, 16);
  cs_mp_write_array(&b, 1);
  cs_mp_write_uint(&b, CS_SYNC_DONE);
  err = cs__send(s, &b);
  cs_buf_free(&b);
  return err;
}

static int cs__send_check(cs_sync_t *s, const uint8_t digest[32], bool answer) {
  cs_buf_t b;
  cs_buf_init(&b, 64);
  cs_mp_write_array(&b, 3);
  cs_mp_write_uint(&b, CS_SYNC_CHECK);
  cs_mp_write_bin(&b, digest, 32);
  cs_mp_write_bool(&b, answer);
  int err = cs__send(s, &b);
  cs_buf_free(&b);
  return err;
}

int cs_sync_check(cs_sync_t *s) {
  uint8_t mine[32];
  int err = cs_sync_vector_digest(&s->io, mine);
  s->check_answered = false;
  return err ? err : cs__send_check(s, mine, false);
}

int cs_sync_receive(cs_sync_t *s, cs_span_t message) {
  if (message.len > CS_SYNC_MESSAGE_MAX) return CS_EPROTO;
  cs_mp_reader_t r = cs_mp_reader(message);
  uint32_t n;
  uint64_t type;
  if (cs_mp_read_array(&r, &n) || n < 1 || cs_mp_read_uint(&r, &type)) return CS_EPROTO;
  switch (type) {
  case CS_SYNC_HELLO: {
    uint64_t version;
    uint8_t digest[32];
    cs_span_t club;
    if (n != 4 || s->hello_received || cs_mp_read_uint(&r, &version) || cs_mp_read_bin(&r, &club) ||
        club.len != CS_SYNC_PREFIX_LEN || cs_mp_read_bin32(&r, digest) || !cs_mp_done(&r))
      return CS_EPROTO;
    if (version != CS_SYNC_VERSION) return CS_EVERSION;
    if (memcmp(club.ptr, s->club, CS_SYNC_PREFIX_LEN) != 0) return CS_ECLUB;
    s->hello_received = true;
    if (memcmp(digest, s->local_digest, 32) == 0) {
      /* Equal vectors: nothing to exchange; both sides conclude the same. */
      s->done_sent = s->done_received = true;
      s->expected_known = true;
      return CS_OK;
    }
    return cs__send_vector(s);
  }
  case CS_SYNC_VECTOR: {
    if (n != 2 || !s->hello_received) return CS_EPROTO;
    int err = cs__receive_vector(s, &r);
    if (!err && !cs_mp_done(&r)) err = CS_EPROTO;
    return err;
  }
  case CS_SYNC_CHANGES: {
    uint32_t count;
    if (n != 3 || !s->hello_received || cs_mp_read_array(&r, &count) || count > cs_mp_remaining(&r))
      return CS_EPROTO;
    cs_span_t *changes = malloc((count ? count : 1) * sizeof(*changes));
    if (!changes) return CS_ENOMEM;
    int err = CS_OK;
    bool last = false;
    uint32_t kept = 0;
    for (uint32_t i = 0; i < count && !err; i++) {
      if (cs_mp_read_bin(&r, &changes[kept])) err = CS_EPROTO;
      else if (cs_change_of_other_club(changes[kept], s->club)) s->changes_other_club++; /* refused, never stored */
      else kept++;
    }
    if (!err && (cs_mp_read_bool(&r, &last) || !cs_mp_done(&r))) err = CS_EPROTO;
    if (!err && last) s->done_received = true;
    if (!err) err = s->io.ingest(s->io.ctx, changes, kept);
    if (!err) s->changes_received += kept;
    free(changes);
    return err;
  }
  case CS_SYNC_DONE:
    if (n != 1 || !s->hello_received) return CS_EPROTO;
    s->done_received = true;
    return CS_OK;
  case CS_SYNC_CHECK: {
    uint8_t digest[32], mine[32];
    bool answer;
    if (n != 3 || !s->hello_received || cs_mp_read_bin32(&r, digest) || cs_mp_read_bool(&r, &answer) ||
        !cs_mp_done(&r))
      return CS_EPROTO;
    int err = cs_sync_vector_digest(&s->io, mine);
    if (err) return err;
    if (answer) {
      s->check_answered = true;
      s->check_equal = memcmp(digest, mine, 32) == 0;
      return CS_OK;
    }
    s->checks_answered++;
    return cs__send_check(s, mine, true);
  }
  default:
    return CS_EPROTO;
  }
}

bool cs_sync_caught_up(const cs_sync_t *s) { return s->done_sent && s->done_received; }

int cs_sync_push(cs_sync_t *s, cs_span_t signed_bytes) {
  uint8_t club[CS_ID_LEN];
  if (cs_change_peek_club(signed_bytes, club) != CS_OK || memcmp(club, s->club, CS_ID_LEN) != 0) return CS_OK;
  cs_buf_t b;
  cs_buf_init(&b, CS_SYNC_MESSAGE_MAX);
  cs_mp_write_array(&b, 3);
  cs_mp_write_uint(&b, CS_SYNC_CHANGES);
  cs_mp_write_array(&b, 1);
  cs_mp_write_bin(&b, signed_bytes.ptr, signed_bytes.len);
  cs_mp_write_bool(&b, false);
  int err = cs__send(s, &b);
  if (!err) s->changes_sent++;
  cs_buf_free(&b);
  return err;
}
