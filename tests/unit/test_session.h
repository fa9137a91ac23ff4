#ifndef CS_TEST_SESSION_H
#define CS_TEST_SESSION_H

/* Two real stores synced by one session over in-memory pipes, until both
 * are quiet (tests/unit/test_fork_evidence.c, tests/sim/test_fork_sync.c,
 * tests/helpers/fork_load.c). */

#include "store/sync_io.h"
#include "tests/unit/test_pipe.h"

/* A replica in a session: its store, the session's sync machine and the
 * pipe of what it sends. */
typedef struct test_peer_s {
  cs_store_t *store;
  cs_store_sync_t x;
  cs_sync_io_t io;
  cs_sync_t sync;
  test_pipe_t out;
} test_peer_t;

/* What one session did. */
typedef struct test_session_s {
  uint64_t sent;  /* changes both sides sent */
  uint64_t added; /* changes both sides stored */
  bool caught_up[2]; /* each side (a, b) says it is caught up */
} test_session_t;

/* Runs one session of `club` between a and b, each pipe holding at most
 * pipe_max bytes, until a round delivers nothing (at most `rounds`). */
static inline test_session_t test_session(test_peer_t *a, test_peer_t *b, const uint8_t club[32], size_t pipe_max,
                                          int rounds) {
  test_peer_t *peers[2] = {a, b};
  for (int i = 0; i < 2; i++) {
    test_pipe_init(&peers[i]->out, pipe_max);
    cs_store_sync_init(&peers[i]->x, peers[i]->store, club, test_pipe_send, &peers[i]->out, &peers[i]->io);
    cs_sync_init(&peers[i]->sync, club, &peers[i]->io);
  }
  for (int i = 0; i < 2; i++) CHECK_EQ_INT(cs_sync_start(&peers[i]->sync), CS_OK);
  for (int round = 0; round < rounds; round++) {
    bool moved = false, more;
    for (int i = 0; i < 2; i++) CHECK_EQ_INT(cs_sync_pump(&peers[i]->sync, 1 << 20, &more), CS_OK);
    for (int i = 0; i < 2; i++)
      if (test_pipe_deliver(&peers[i]->out, peers[i]->out.data.len, &peers[1 - i]->sync)) moved = true;
    for (int i = 0; i < 2; i++) CHECK_EQ_INT(cs_store_sync_flush(&peers[i]->x), CS_OK);
    if (!moved) break;
  }
  test_session_t done = {a->sync.changes_sent + b->sync.changes_sent, a->x.added + b->x.added,
                         {cs_sync_caught_up(&a->sync), cs_sync_caught_up(&b->sync)}};
  for (int i = 0; i < 2; i++) {
    cs_sync_free(&peers[i]->sync);
    cs_buf_free(&peers[i]->out.data);
  }
  return done;
}

#endif
