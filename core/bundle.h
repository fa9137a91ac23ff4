#ifndef CS_CORE_BUNDLE_H
#define CS_CORE_BUNDLE_H

/* Bundle files: signed changes carried on a USB stick or by e-mail, and the
 * same container for audit bundles. The codec works on bytes only; the
 * program reads and writes the files. Layout in core/bundle.c. */

#include <stdint.h>

#include <sodium.h>

#include "core/change.h"
#include "core/mp.h"

#define CS_BUNDLE_MAGIC "CSBUNDLE"
#define CS_BUNDLE_VERSION 1
#define CS_BUNDLE_HEADER_LEN 44
#define CS_BUNDLE_TRAILER_LEN 44

typedef enum cs_bundle_kind_e {
  CS_BUNDLE_CHANGES = 0,
  CS_BUNDLE_AUDIT = 1,
} cs_bundle_kind_t;

typedef struct cs_bundle_header_s {
  cs_bundle_kind_t kind;
  uint8_t club[CS_ID_LEN];
} cs_bundle_header_t;

/* A bundle is for the one club its header names: true when a record is a
 * change of another club (another club's genesis included), which a reader
 * refuses and counts rather than import. Records whose club cannot be read
 * are left to validation, which gives the precise reason. */
static inline bool cs_bundle_of_other_club(const cs_bundle_header_t *h, cs_span_t record) {
  return cs_change_of_other_club(record, h->club);
}

/* Writer: call header, then one record per change, then trailer; each
 * appends to out, so the caller can flush out to a file between calls. */
typedef struct cs_bundle_writer_s {
  crypto_generichash_state hash;
  uint64_t count;
} cs_bundle_writer_t;

void cs_bundle_write_header(cs_bundle_writer_t *w, const cs_bundle_header_t *h, cs_buf_t *out);
int cs_bundle_write_change(cs_bundle_writer_t *w, cs_span_t signed_bytes, cs_buf_t *out) CS_MUST_USE;
void cs_bundle_write_trailer(cs_bundle_writer_t *w, cs_buf_t *out);

/* Reader over the whole file's bytes. */
typedef struct cs_bundle_reader_s {
  cs_span_t bytes;
  size_t offset;
  uint64_t count;
  bool ended;
} cs_bundle_reader_t;

/* Checks magic, version and kind; CS_EFORMAT / CS_EVERSION / CS_ETRUNC. */
int cs_bundle_open(cs_bundle_reader_t *r, cs_span_t bytes, cs_bundle_header_t *h) CS_MUST_USE;
/* The next record's bytes; CS_ENOTFOUND at the end marker; CS_ETRUNC or
 * CS_ETOOBIG when the framing is damaged (reading cannot go on). */
int cs_bundle_next(cs_bundle_reader_t *r, cs_span_t *record) CS_MUST_USE;
/* After CS_ENOTFOUND: checks the count and hash of the whole file. */
int cs_bundle_check_trailer(const cs_bundle_reader_t *r) CS_MUST_USE;

#endif
