/* Fuzzes the bundle reader: cs_bundle_open, then cs_bundle_next until the
 * end marker or damage, every record through cs_change_decode, and the
 * trailer check. Properties:
 *   - every record lies inside the input and respects the size limit;
 *   - the reader never goes backwards and stops for good at the end marker;
 *   - re-writing the records read with the bundle writer gives a bundle
 *     that reads back record for record with a valid trailer, and when the
 *     input's trailer was valid, the re-written bundle is byte-identical. */
#include "tests/fuzz/fuzz_common.h"

#include "core/bundle.h"
#include "core/change.h"

#define FUZZ_RECORDS_MAX 4096

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_sodium_init();
  cs_span_t in = {data, size};
  cs_bundle_reader_t r;
  cs_bundle_header_t h;
  if (cs_bundle_open(&r, in, &h) != CS_OK) return 0;
  FUZZ_CHECK(h.kind == CS_BUNDLE_CHANGES || h.kind == CS_BUNDLE_AUDIT);

  cs_change_t *c = malloc(sizeof(*c));
  cs_span_t *records = malloc(FUZZ_RECORDS_MAX * sizeof(*records));
  FUZZ_CHECK(c && records);
  size_t count = 0, last_offset = r.offset;
  int err;
  cs_span_t rec;
  while ((err = cs_bundle_next(&r, &rec)) == CS_OK) {
    FUZZ_CHECK(rec.len >= 1 && rec.len <= CS_CHANGE_SIGNED_MAX);
    FUZZ_CHECK(rec.ptr > data && (size_t)(rec.ptr - data) + rec.len <= size);
    FUZZ_CHECK(r.offset > last_offset && r.offset <= size);
    last_offset = r.offset;
    if (cs_change_decode(rec, c) == CS_OK) {
      /* What a decoded change borrows lies inside its record. */
      FUZZ_CHECK(c->signed_bytes.ptr == rec.ptr && c->signed_bytes.len == rec.len);
      int payload_ok = cs_change_check_payload(c);
      FUZZ_CHECK(payload_ok == CS_OK || payload_ok == CS_EHASH);
    }
    if (count < FUZZ_RECORDS_MAX) records[count] = rec;
    count++;
  }
  FUZZ_CHECK(err == CS_ENOTFOUND || err == CS_ETRUNC || err == CS_ETOOBIG);
  FUZZ_CHECK(r.count == count);
  int trailer = err == CS_ENOTFOUND ? cs_bundle_check_trailer(&r) : CS_EINVAL;
  if (err == CS_ENOTFOUND) {
    /* The end is final. */
    FUZZ_CHECK(cs_bundle_next(&r, &rec) == CS_ENOTFOUND);
  }

  if (count <= FUZZ_RECORDS_MAX) {
    cs_bundle_writer_t w;
    cs_buf_t out;
    cs_buf_init(&out, size + 64);
    cs_bundle_write_header(&w, &h, &out);
    for (size_t i = 0; i < count; i++) FUZZ_CHECK(cs_bundle_write_change(&w, records[i], &out) == CS_OK);
    cs_bundle_write_trailer(&w, &out);
    FUZZ_CHECK(!out.failed);
    if (trailer == CS_OK) FUZZ_CHECK(out.len == size && memcmp(out.data, data, size) == 0);

    cs_bundle_reader_t r2;
    cs_bundle_header_t h2;
    FUZZ_CHECK(cs_bundle_open(&r2, cs_buf_span(&out), &h2) == CS_OK);
    FUZZ_CHECK(h2.kind == h.kind && memcmp(h2.club, h.club, 32) == 0);
    for (size_t i = 0; i < count; i++) {
      FUZZ_CHECK(cs_bundle_next(&r2, &rec) == CS_OK);
      FUZZ_CHECK(rec.len == records[i].len && memcmp(rec.ptr, records[i].ptr, rec.len) == 0);
    }
    FUZZ_CHECK(cs_bundle_next(&r2, &rec) == CS_ENOTFOUND);
    FUZZ_CHECK(cs_bundle_check_trailer(&r2) == CS_OK);
    cs_buf_free(&out);
  }
  free(records);
  free(c);
  return 0;
}
