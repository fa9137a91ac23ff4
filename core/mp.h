#ifndef CS_CORE_MP_H
#define CS_CORE_MP_H

/* A bounded msgpack reader and a small writer.
 *
 * Decoding never trusts a declared length: every read checks the bytes that
 * remain before it looks at them, and nothing is allocated, so hostile input
 * costs at most one pass over its own bytes. Encoding goes through msgpack-c's
 * packer into a growable buffer with a hard maximum size. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#include "core/error.h"

typedef struct cs_span_s {
  const uint8_t *ptr;
  size_t len;
} cs_span_t;

typedef struct cs_mp_reader_s {
  const uint8_t *pos;
  const uint8_t *end;
} cs_mp_reader_t;

/* Nesting deeper than this is refused by cs_mp_skip, so a hostile value
 * cannot exhaust the stack. */
#define CS_MP_DEPTH_MAX 16

static inline cs_mp_reader_t cs_mp_reader(cs_span_t span) {
  cs_mp_reader_t r = {span.ptr, span.ptr + span.len};
  return r;
}
static inline size_t cs_mp_remaining(const cs_mp_reader_t *r) {
  return (size_t)(r->end - r->pos);
}
static inline bool cs_mp_done(const cs_mp_reader_t *r) { return r->pos == r->end; }

/* Each reader returns CS_OK and advances, or returns an error and leaves the
 * reader where it was. */
int cs_mp_read_array(cs_mp_reader_t *r, uint32_t *count) CS_MUST_USE;
int cs_mp_read_map(cs_mp_reader_t *r, uint32_t *count) CS_MUST_USE;
int cs_mp_read_uint(cs_mp_reader_t *r, uint64_t *value) CS_MUST_USE;
int cs_mp_read_int(cs_mp_reader_t *r, int64_t *value) CS_MUST_USE;
int cs_mp_read_bool(cs_mp_reader_t *r, bool *value) CS_MUST_USE;
int cs_mp_read_bin(cs_mp_reader_t *r, cs_span_t *bytes) CS_MUST_USE;
int cs_mp_read_str(cs_mp_reader_t *r, cs_span_t *text) CS_MUST_USE;
/* Reads a bin of exactly 32 bytes into out. */
int cs_mp_read_bin32(cs_mp_reader_t *r, uint8_t out[32]) CS_MUST_USE;
/* Returns true and consumes the byte if the next value is nil. */
bool cs_mp_read_nil(cs_mp_reader_t *r);
/* Skips one complete value of any type; raw (may be NULL) receives its bytes. */
int cs_mp_skip(cs_mp_reader_t *r, cs_span_t *raw) CS_MUST_USE;

/* A growable output buffer with a hard maximum; once the maximum would be
 * passed, `failed` is set and later writes are ignored, so a caller checks
 * once at the end. */
typedef struct cs_buf_s {
  uint8_t *data;
  size_t len;
  size_t cap;
  size_t max;
  bool failed;
  msgpack_packer pk;
} cs_buf_t;

void cs_buf_init(cs_buf_t *b, size_t max);
void cs_buf_free(cs_buf_t *b);
void cs_buf_reset(cs_buf_t *b);
void cs_buf_append(cs_buf_t *b, const void *data, size_t len);
static inline cs_span_t cs_buf_span(const cs_buf_t *b) {
  cs_span_t s = {b->data, b->len};
  return s;
}

/* Thin wrappers over msgpack-c's packer for the types the formats use. */
void cs_mp_write_array(cs_buf_t *b, uint32_t count);
void cs_mp_write_uint(cs_buf_t *b, uint64_t value);
void cs_mp_write_int(cs_buf_t *b, int64_t value);
void cs_mp_write_bool(cs_buf_t *b, bool value);
void cs_mp_write_nil(cs_buf_t *b);
void cs_mp_write_bin(cs_buf_t *b, const void *data, size_t len);
void cs_mp_write_str(cs_buf_t *b, const char *text, size_t len);
void cs_mp_write_cstr(cs_buf_t *b, const char *text);
/* Appends an already-encoded msgpack value verbatim. */
void cs_mp_write_raw(cs_buf_t *b, cs_span_t raw);

#endif
