#include "core/mp.h"

#include <stdlib.h>
#include <string.h>

static uint64_t cs__be(const uint8_t *p, size_t n) {
  uint64_t v = 0;
  for (size_t i = 0; i < n; i++) v = (v << 8) | p[i];
  return v;
}

/* Reads a container or length header for the given family. Returns the count
 * and the header size, or an error when the bytes for the header are absent. */
typedef enum { CS__ARR, CS__MAP, CS__BIN, CS__STR } cs__family_t;

static int cs__read_len(cs_mp_reader_t *r, cs__family_t family, uint64_t *out) {
  size_t left = cs_mp_remaining(r);
  if (left < 1) return CS_ETRUNC;
  uint8_t t = r->pos[0];
  size_t size_len = 0;
  uint64_t n = 0;
  switch (family) {
  case CS__ARR:
    if ((t & 0xf0) == 0x90) { n = t & 0x0f; break; }
    if (t == 0xdc) size_len = 2; else if (t == 0xdd) size_len = 4; else return CS_EFORMAT;
    break;
  case CS__MAP:
    if ((t & 0xf0) == 0x80) { n = t & 0x0f; break; }
    if (t == 0xde) size_len = 2; else if (t == 0xdf) size_len = 4; else return CS_EFORMAT;
    break;
  case CS__STR:
    if ((t & 0xe0) == 0xa0) { n = t & 0x1f; break; }
    if (t == 0xd9) size_len = 1; else if (t == 0xda) size_len = 2;
    else if (t == 0xdb) size_len = 4; else return CS_EFORMAT;
    break;
  case CS__BIN:
    if (t == 0xc4) size_len = 1; else if (t == 0xc5) size_len = 2;
    else if (t == 0xc6) size_len = 4; else return CS_EFORMAT;
    break;
  }
  if (size_len > 0) {
    if (left < 1 + size_len) return CS_ETRUNC;
    n = cs__be(r->pos + 1, size_len);
  }
  if ((family == CS__BIN || family == CS__STR) && n > left - 1 - size_len) return CS_ETRUNC;
  r->pos += 1 + size_len;
  *out = n;
  return CS_OK;
}

int cs_mp_read_array(cs_mp_reader_t *r, uint32_t *count) {
  uint64_t n;
  int err = cs__read_len(r, CS__ARR, &n);
  if (err) return err;
  *count = (uint32_t)n;
  return CS_OK;
}

int cs_mp_read_map(cs_mp_reader_t *r, uint32_t *count) {
  uint64_t n;
  int err = cs__read_len(r, CS__MAP, &n);
  if (err) return err;
  *count = (uint32_t)n;
  return CS_OK;
}

static int cs__read_bytes(cs_mp_reader_t *r, cs__family_t family, cs_span_t *out) {
  uint64_t n;
  int err = cs__read_len(r, family, &n);
  if (err) return err;
  out->ptr = r->pos;
  out->len = (size_t)n;
  r->pos += n;
  return CS_OK;
}

int cs_mp_read_bin(cs_mp_reader_t *r, cs_span_t *bytes) { return cs__read_bytes(r, CS__BIN, bytes); }
int cs_mp_read_str(cs_mp_reader_t *r, cs_span_t *text) { return cs__read_bytes(r, CS__STR, text); }

int cs_mp_read_bin32(cs_mp_reader_t *r, uint8_t out[32]) {
  cs_mp_reader_t saved = *r;
  cs_span_t s;
  int err = cs_mp_read_bin(r, &s);
  if (err) return err;
  if (s.len != 32) {
    *r = saved;
    return CS_EFORMAT;
  }
  memcpy(out, s.ptr, 32);
  return CS_OK;
}

bool cs_mp_read_nil(cs_mp_reader_t *r) {
  if (r->pos < r->end && r->pos[0] == 0xc0) {
    r->pos++;
    return true;
  }
  return false;
}

int cs_mp_read_bool(cs_mp_reader_t *r, bool *value) {
  if (r->pos >= r->end) return CS_ETRUNC;
  if (r->pos[0] != 0xc2 && r->pos[0] != 0xc3) return CS_EFORMAT;
  *value = r->pos[0] == 0xc3;
  r->pos++;
  return CS_OK;
}

int cs_mp_read_uint(cs_mp_reader_t *r, uint64_t *value) {
  size_t left = cs_mp_remaining(r);
  if (left < 1) return CS_ETRUNC;
  uint8_t t = r->pos[0];
  size_t n = 0;
  if (t <= 0x7f) {
    *value = t;
    r->pos++;
    return CS_OK;
  }
  if (t == 0xcc) n = 1; else if (t == 0xcd) n = 2; else if (t == 0xce) n = 4;
  else if (t == 0xcf) n = 8; else return CS_EFORMAT;
  if (left < 1 + n) return CS_ETRUNC;
  *value = cs__be(r->pos + 1, n);
  r->pos += 1 + n;
  return CS_OK;
}

int cs_mp_read_int(cs_mp_reader_t *r, int64_t *value) {
  size_t left = cs_mp_remaining(r);
  if (left < 1) return CS_ETRUNC;
  uint8_t t = r->pos[0];
  if (t >= 0xe0) {
    *value = (int8_t)t;
    r->pos++;
    return CS_OK;
  }
  size_t n = 0;
  if (t == 0xd0) n = 1; else if (t == 0xd1) n = 2; else if (t == 0xd2) n = 4;
  else if (t == 0xd3) n = 8;
  else {
    uint64_t u;
    cs_mp_reader_t saved = *r;
    int err = cs_mp_read_uint(r, &u);
    if (err) return err;
    if (u > INT64_MAX) {
      *r = saved;
      return CS_EFORMAT;
    }
    *value = (int64_t)u;
    return CS_OK;
  }
  if (left < 1 + n) return CS_ETRUNC;
  uint64_t raw = cs__be(r->pos + 1, n);
  /* Sign-extend from n bytes. */
  unsigned shift = (unsigned)(64 - 8 * n);
  *value = (int64_t)(raw << shift) >> shift;
  r->pos += 1 + n;
  return CS_OK;
}

static int cs__skip(cs_mp_reader_t *r, int depth) {
  if (depth > CS_MP_DEPTH_MAX) return CS_ETOOBIG;
  size_t left = cs_mp_remaining(r);
  if (left < 1) return CS_ETRUNC;
  uint8_t t = r->pos[0];
  uint64_t n;
  int err;
  if (t <= 0x7f || t >= 0xe0 || t == 0xc0 || t == 0xc2 || t == 0xc3) {
    r->pos++;
    return CS_OK;
  }
  if ((t & 0xf0) == 0x90 || t == 0xdc || t == 0xdd || (t & 0xf0) == 0x80 || t == 0xde || t == 0xdf) {
    bool is_map = (t & 0xf0) == 0x80 || t == 0xde || t == 0xdf;
    err = cs__read_len(r, is_map ? CS__MAP : CS__ARR, &n);
    if (err) return err;
    uint64_t items = is_map ? n * 2 : n;
    /* Every item takes at least one byte, so a count beyond the bytes left
     * is refused before looping over it. */
    if (items > cs_mp_remaining(r)) return CS_ETRUNC;
    for (uint64_t i = 0; i < items; i++) {
      err = cs__skip(r, depth + 1);
      if (err) return err;
    }
    return CS_OK;
  }
  if ((t & 0xe0) == 0xa0 || t == 0xd9 || t == 0xda || t == 0xdb) {
    cs_span_t s;
    return cs__read_bytes(r, CS__STR, &s);
  }
  if (t == 0xc4 || t == 0xc5 || t == 0xc6) {
    cs_span_t s;
    return cs__read_bytes(r, CS__BIN, &s);
  }
  size_t fixed = 0;
  switch (t) {
  case 0xcc: case 0xd0: fixed = 1; break;
  case 0xcd: case 0xd1: fixed = 2; break;
  case 0xce: case 0xd2: case 0xca: fixed = 4; break;
  case 0xcf: case 0xd3: case 0xcb: fixed = 8; break;
  default: return CS_EFORMAT; /* ext types are not part of any format here */
  }
  if (left < 1 + fixed) return CS_ETRUNC;
  r->pos += 1 + fixed;
  return CS_OK;
}

int cs_mp_skip(cs_mp_reader_t *r, cs_span_t *raw) {
  const uint8_t *start = r->pos;
  int err = cs__skip(r, 0);
  if (err) {
    r->pos = start;
    return err;
  }
  if (raw) {
    raw->ptr = start;
    raw->len = (size_t)(r->pos - start);
  }
  return CS_OK;
}

static int cs__buf_write_cb(void *data, const char *buf, size_t len) {
  cs_buf_append((cs_buf_t *)data, buf, len);
  return 0;
}

void cs_buf_init(cs_buf_t *b, size_t max) {
  memset(b, 0, sizeof(*b));
  b->max = max;
  msgpack_packer_init(&b->pk, b, cs__buf_write_cb);
}

void cs_buf_free(cs_buf_t *b) {
  free(b->data);
  b->data = NULL;
  b->len = b->cap = 0;
}

void cs_buf_reset(cs_buf_t *b) {
  b->len = 0;
  b->failed = false;
}

void cs_buf_append(cs_buf_t *b, const void *data, size_t len) {
  if (b->failed) return;
  if (len > b->max - b->len) {
    b->failed = true;
    return;
  }
  if (b->len + len > b->cap) {
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + len) cap *= 2;
    if (cap > b->max) cap = b->max;
    uint8_t *grown = realloc(b->data, cap);
    if (!grown) {
      b->failed = true;
      return;
    }
    b->data = grown;
    b->cap = cap;
  }
  if (len) memcpy(b->data + b->len, data, len);
  b->len += len;
}

void cs_mp_write_array(cs_buf_t *b, uint32_t count) { msgpack_pack_array(&b->pk, count); }
void cs_mp_write_uint(cs_buf_t *b, uint64_t value) { msgpack_pack_uint64(&b->pk, value); }
void cs_mp_write_int(cs_buf_t *b, int64_t value) { msgpack_pack_int64(&b->pk, value); }
void cs_mp_write_bool(cs_buf_t *b, bool value) {
  if (value) msgpack_pack_true(&b->pk); else msgpack_pack_false(&b->pk);
}
void cs_mp_write_nil(cs_buf_t *b) { msgpack_pack_nil(&b->pk); }
void cs_mp_write_bin(cs_buf_t *b, const void *data, size_t len) {
  msgpack_pack_bin(&b->pk, len);
  msgpack_pack_bin_body(&b->pk, data, len);
}
void cs_mp_write_str(cs_buf_t *b, const char *text, size_t len) {
  msgpack_pack_str(&b->pk, len);
  msgpack_pack_str_body(&b->pk, text, len);
}
void cs_mp_write_cstr(cs_buf_t *b, const char *text) { cs_mp_write_str(b, text, strlen(text)); }
void cs_mp_write_raw(cs_buf_t *b, cs_span_t raw) { cs_buf_append(b, raw.ptr, raw.len); }
