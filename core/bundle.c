/* Bundle container.
 *
 * | OFFSET | SIZE | DESCRIPTION                                             |
 * |--------|------|---------------------------------------------------------|
 * | 0      | 8    | magic "CSBUNDLE"                                        |
 * | 8      | 1    | version, 1                                              |
 * | 9      | 1    | kind: 0 changes, 1 audit bundle                         |
 * | 10     | 2    | reserved, zero                                          |
 * | 12     | 32   | club id                                                 |
 * | 44     | var  | records: u32 big-endian length (1..signed max), change  |
 * | ...    | 4    | end marker: u32 zero                                    |
 * | +4     | 8    | record count, u64 big-endian                            |
 * | +12    | 32   | BLAKE2b-256 of every byte before this field             |
 *
 * Every change inside is validated on import exactly like network input; the
 * trailer only tells a damaged or truncated file apart from a complete one.
 */
#include "core/bundle.h"

#include <string.h>

static void cs__be32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}

static void cs__emit(cs_bundle_writer_t *w, cs_buf_t *out, const void *data, size_t len) {
  crypto_generichash_update(&w->hash, data, len);
  cs_buf_append(out, data, len);
}

void cs_bundle_write_header(cs_bundle_writer_t *w, const cs_bundle_header_t *h, cs_buf_t *out) {
  uint8_t header[CS_BUNDLE_HEADER_LEN] = {0};
  memcpy(header, CS_BUNDLE_MAGIC, 8);
  header[8] = CS_BUNDLE_VERSION;
  header[9] = (uint8_t)h->kind;
  memcpy(header + 12, h->club, CS_ID_LEN);
  crypto_generichash_init(&w->hash, NULL, 0, 32);
  w->count = 0;
  cs__emit(w, out, header, sizeof(header));
}

int cs_bundle_write_change(cs_bundle_writer_t *w, cs_span_t signed_bytes, cs_buf_t *out) {
  if (signed_bytes.len == 0 || signed_bytes.len > CS_CHANGE_SIGNED_MAX) return CS_ETOOBIG;
  uint8_t len[4];
  cs__be32(len, (uint32_t)signed_bytes.len);
  cs__emit(w, out, len, sizeof(len));
  cs__emit(w, out, signed_bytes.ptr, signed_bytes.len);
  w->count++;
  return CS_OK;
}

void cs_bundle_write_trailer(cs_bundle_writer_t *w, cs_buf_t *out) {
  uint8_t tail[12] = {0};
  for (int i = 0; i < 8; i++) tail[4 + i] = (uint8_t)(w->count >> (56 - 8 * i));
  cs__emit(w, out, tail, sizeof(tail));
  uint8_t digest[32];
  crypto_generichash_final(&w->hash, digest, sizeof(digest));
  cs_buf_append(out, digest, sizeof(digest));
}

int cs_bundle_open(cs_bundle_reader_t *r, cs_span_t bytes, cs_bundle_header_t *h) {
  memset(r, 0, sizeof(*r));
  r->bytes = bytes;
  if (bytes.len < CS_BUNDLE_HEADER_LEN) return bytes.len >= 8 && !memcmp(bytes.ptr, CS_BUNDLE_MAGIC, 8) ? CS_ETRUNC
                                                                                                       : CS_EFORMAT;
  if (memcmp(bytes.ptr, CS_BUNDLE_MAGIC, 8) != 0) return CS_EFORMAT;
  if (bytes.ptr[8] != CS_BUNDLE_VERSION) return CS_EVERSION;
  if (bytes.ptr[9] > CS_BUNDLE_AUDIT || bytes.ptr[10] || bytes.ptr[11]) return CS_EFORMAT;
  h->kind = (cs_bundle_kind_t)bytes.ptr[9];
  memcpy(h->club, bytes.ptr + 12, CS_ID_LEN);
  r->offset = CS_BUNDLE_HEADER_LEN;
  return CS_OK;
}

int cs_bundle_next(cs_bundle_reader_t *r, cs_span_t *record) {
  if (r->ended) return CS_ENOTFOUND;
  if (r->bytes.len - r->offset < 4) return CS_ETRUNC;
  const uint8_t *p = r->bytes.ptr + r->offset;
  uint32_t len = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
  if (len == 0) {
    r->ended = true;
    return CS_ENOTFOUND;
  }
  if (len > CS_CHANGE_SIGNED_MAX) return CS_ETOOBIG;
  if (r->bytes.len - r->offset - 4 < len) return CS_ETRUNC;
  record->ptr = p + 4;
  record->len = len;
  r->offset += 4 + (size_t)len;
  r->count++;
  return CS_OK;
}

int cs_bundle_check_trailer(const cs_bundle_reader_t *r) {
  if (!r->ended) return CS_EINVAL;
  if (r->bytes.len - r->offset != CS_BUNDLE_TRAILER_LEN) return CS_ETRUNC;
  const uint8_t *p = r->bytes.ptr + r->offset + 4;
  uint64_t count = 0;
  for (int i = 0; i < 8; i++) count = count << 8 | p[i];
  if (count != r->count) return CS_EFORMAT;
  uint8_t digest[32];
  crypto_generichash(digest, sizeof(digest), r->bytes.ptr, r->offset + 12, NULL, 0);
  return sodium_memcmp(digest, p + 8, 32) == 0 ? CS_OK : CS_EHASH;
}
