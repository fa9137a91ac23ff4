#ifndef CS_TEST_PIPE_H
#define CS_TEST_PIPE_H

/* A one-way in-memory pipe of whole sync messages, for running the sync
 * machine between two real stores without a network (tests/unit/test_sync.c,
 * and tests/unit/test_session.h for a whole session). */

#include "core/sync.h"
#include "tests/unit/testlib.h"

typedef struct test_pipe_s {
  cs_buf_t data; /* u32 length | message ... */
  size_t read_at;
  size_t bytes;      /* message bytes sent, without the length prefixes */
  uint32_t messages; /* messages sent */
} test_pipe_t;

static inline void test_pipe_init(test_pipe_t *p, size_t max) {
  memset(p, 0, sizeof(*p));
  cs_buf_init(&p->data, max);
}

/* The sending side, as a cs_store_sync_t's `send`. */
static inline int test_pipe_send(void *ctx, cs_span_t message) {
  test_pipe_t *p = ctx;
  uint8_t len[4] = {(uint8_t)(message.len >> 24), (uint8_t)(message.len >> 16), (uint8_t)(message.len >> 8),
                    (uint8_t)message.len};
  cs_buf_append(&p->data, len, 4);
  cs_buf_append(&p->data, message.ptr, message.len);
  p->bytes += message.len;
  p->messages++;
  return p->data.failed ? CS_ENOMEM : CS_OK;
}

/* Hands the messages queued before byte `end` (a length the caller took
 * earlier, so that replies sent meanwhile wait for the next turn) to the
 * receiving machine; true when there was one. */
static inline bool test_pipe_deliver(test_pipe_t *p, size_t end, cs_sync_t *to) {
  bool moved = false;
  while (p->read_at < end) {
    const uint8_t *h = p->data.data + p->read_at;
    size_t len = (size_t)h[0] << 24 | (size_t)h[1] << 16 | (size_t)h[2] << 8 | h[3];
    CHECK_EQ_INT(cs_sync_receive(to, (cs_span_t){h + 4, len}), CS_OK);
    p->read_at += 4 + len;
    moved = true;
  }
  return moved;
}

#endif
