#ifndef CS_CORE_CHANGE_H
#define CS_CORE_CHANGE_H

/* The signed unit of clubsync: one author's atomic batch of operations.
 * See core/change.c for the byte layout and docs/formats.md for the tables. */

#include <stdbool.h>
#include <stdint.h>

#include "core/error.h"
#include "core/mp.h"

#define CS_KEY_LEN 32
#define CS_ID_LEN 32
#define CS_SIG_LEN 64
#define CS_SECRET_KEY_LEN 64

#define CS_CHANGE_VERSION 1
#define CS_CHANGE_HEADER_MAX 4096
#define CS_CHANGE_PAYLOAD_MAX (64 * 1024)
#define CS_CHANGE_SIGNED_MAX (CS_CHANGE_HEADER_MAX + CS_CHANGE_PAYLOAD_MAX + 128)
#define CS_CHANGE_DEPS_MAX 64
#define CS_CHANGE_OPS_MAX 256

/* A decoded change. Spans borrow from the signed bytes given to
 * cs_change_decode and live exactly as long as those bytes. */
typedef struct cs_change_s {
  uint8_t id[CS_ID_LEN];
  cs_span_t signed_bytes;
  cs_span_t header_bytes;
  cs_span_t payload_bytes;
  uint8_t sig[CS_SIG_LEN];
  bool has_club;
  uint8_t club[CS_ID_LEN];
  uint8_t author[CS_KEY_LEN];
  uint64_t seq;
  bool has_prev;
  uint8_t prev[CS_ID_LEN];
  uint32_t dep_count;
  uint8_t deps[CS_CHANGE_DEPS_MAX][CS_ID_LEN];
  uint64_t lamport;
  int64_t time_ms;
  uint64_t payload_len;
  uint8_t payload_hash[32];
} cs_change_t;

/* What an author supplies to create a change; the library computes the
 * payload hash, the id and the signature. */
typedef struct cs_change_draft_s {
  const uint8_t *club; /* NULL for a genesis change */
  const uint8_t *author;
  uint64_t seq;
  const uint8_t *prev; /* NULL when seq == 1 */
  uint32_t dep_count;
  const uint8_t (*deps)[CS_ID_LEN]; /* must be sorted, unique */
  uint64_t lamport;
  int64_t time_ms;
  cs_span_t payload;
} cs_change_draft_t;

/* Decodes and checks the structure of a signed change (size limits, msgpack
 * shape, field ranges, deps sorted, chain fields consistent) and computes its
 * id. It does not check the payload hash or the signature. */
int cs_change_decode(cs_span_t signed_bytes, cs_change_t *out) CS_MUST_USE;

/* Returns CS_OK when the payload bytes hash to the header's payload_hash. */
int cs_change_check_payload(const cs_change_t *c) CS_MUST_USE;

/* Returns CS_OK when the signature is the author's over the id. */
int cs_change_check_signature(const cs_change_t *c) CS_MUST_USE;

/* Runs every stateless check in the brief's order: decode, well-formed fields,
 * payload hash, signature. Stateful checks (chain, deps, lamport, roles)
 * belong to the replica. */
int cs_change_parse_verified(cs_span_t signed_bytes, cs_change_t *out) CS_MUST_USE;

/* Encodes, hashes and signs a draft into out (reset first). On success id
 * receives the change id. secret_key is the 64-byte Ed25519 secret key. */
int cs_change_build(const cs_change_draft_t *draft, const uint8_t *secret_key, cs_buf_t *out,
                    uint8_t id[CS_ID_LEN]) CS_MUST_USE;

/* The club a decoded change belongs to: the club its header names or, for a
 * genesis (which names none), its own id, since a club's id is the id of
 * its genesis. */
static inline const uint8_t *cs_change_club(const cs_change_t *c) { return c->has_club ? c->club : c->id; }

/* The same from signed bytes, reading only the header's first fields (and
 * hashing the header of a genesis): for a sync session or an import that
 * must tell another club's change apart before handing changes on. Returns
 * CS_OK, or the error cs_change_decode would return for these bytes' start
 * (it checks nothing past the club field). */
int cs_change_peek_club(cs_span_t signed_bytes, uint8_t club[CS_ID_LEN]) CS_MUST_USE;

/* True when signed bytes are a change of another club than `club` (another
 * club's genesis included): a sync session or a bundle for `club` refuses
 * it. False for a change of `club`, and for bytes whose club cannot be
 * read, which validation then refuses with the precise reason. */
bool cs_change_of_other_club(cs_span_t signed_bytes, const uint8_t club[CS_ID_LEN]);

/* The lamport value a change must carry: 1 + the maximum of its parents. */
static inline uint64_t cs_lamport_next(uint64_t parents_max) { return parents_max + 1; }

/* The id of operation `index` of change `change_id`; a created object's id
 * is the id of the operation that created it. */
void cs_op_id(const uint8_t change_id[CS_ID_LEN], uint32_t index, uint8_t out[CS_ID_LEN]);

/* Lowercase hex of 32 bytes into a 65-byte buffer. */
void cs_hex32(const uint8_t bytes[32], char out[65]);
/* Parses exactly 64 hex characters. */
int cs_unhex32(const char *hex, uint8_t out[32]) CS_MUST_USE;

#endif
