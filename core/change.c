/* Change codec, hashing and signatures.
 *
 * Signed form (what is stored and sent, never re-encoded):
 *
 * | OFFSET | SIZE | DESCRIPTION                                      |
 * |--------|------|--------------------------------------------------|
 * | 0      | 1    | 0x93: msgpack array of 3                         |
 * | 1      | var  | bin: header bytes (msgpack array of 10, below)   |
 * | ...    | 66   | bin 64: Ed25519 signature                        |
 * | ...    | var  | bin: payload bytes (msgpack array of ops)        |
 *
 * Header (msgpack array of 10, in this order):
 *
 * | INDEX | TYPE          | DESCRIPTION                                     |
 * |-------|---------------|-------------------------------------------------|
 * | 0     | uint          | format version, 1                               |
 * | 1     | bin 32 / nil  | club id (id of the genesis change); nil in it   |
 * | 2     | bin 32        | author: Ed25519 public key of the device        |
 * | 3     | uint          | seq: 1, 2, 3 ... per (club, author)             |
 * | 4     | bin 32 / nil  | prev: id of the author's change seq-1           |
 * | 5     | array bin 32  | deps: sorted, unique, at most 64                |
 * | 6     | uint          | lamport: 1 + max(lamport of prev and deps)      |
 * | 7     | int           | time_ms: author's wall clock, informative only  |
 * | 8     | uint          | payload_len                                     |
 * | 9     | bin 32        | payload_hash: BLAKE2b-256 of the payload bytes  |
 *
 * id  = BLAKE2b-256("clubsync/change/v1" || header bytes)
 * sig = Ed25519(author secret key, "clubsync/sig/v1" || id)
 */
#include "core/change.h"

#include <string.h>

#include <sodium.h>

static const char cs__id_domain[] = "clubsync/change/v1";
static const char cs__sig_domain[] = "clubsync/sig/v1";
static const char cs__op_domain[] = "clubsync/op/v1";

#define CS__SIG_MSG_LEN (sizeof(cs__sig_domain) - 1 + CS_ID_LEN)

static void cs__change_id(cs_span_t header, uint8_t out[CS_ID_LEN]) {
  crypto_generichash_state st;
  crypto_generichash_init(&st, NULL, 0, CS_ID_LEN);
  crypto_generichash_update(&st, (const uint8_t *)cs__id_domain, sizeof(cs__id_domain) - 1);
  crypto_generichash_update(&st, header.ptr, header.len);
  crypto_generichash_final(&st, out, CS_ID_LEN);
}

static void cs__sig_message(const uint8_t id[CS_ID_LEN], uint8_t msg[CS__SIG_MSG_LEN]) {
  memcpy(msg, cs__sig_domain, sizeof(cs__sig_domain) - 1);
  memcpy(msg + sizeof(cs__sig_domain) - 1, id, CS_ID_LEN);
}

void cs_op_id(const uint8_t change_id[CS_ID_LEN], uint32_t index, uint8_t out[CS_ID_LEN]) {
  uint8_t be[4] = {(uint8_t)(index >> 24), (uint8_t)(index >> 16), (uint8_t)(index >> 8), (uint8_t)index};
  crypto_generichash_state st;
  crypto_generichash_init(&st, NULL, 0, CS_ID_LEN);
  crypto_generichash_update(&st, (const uint8_t *)cs__op_domain, sizeof(cs__op_domain) - 1);
  crypto_generichash_update(&st, change_id, CS_ID_LEN);
  crypto_generichash_update(&st, be, sizeof(be));
  crypto_generichash_final(&st, out, CS_ID_LEN);
}

static int cs__decode_header(cs_span_t header, cs_change_t *c) {
  cs_mp_reader_t r = cs_mp_reader(header);
  uint32_t n;
  uint64_t version;
  int err;
  if ((err = cs_mp_read_array(&r, &n))) return err;
  if (n != 10) return CS_EFORMAT;
  if ((err = cs_mp_read_uint(&r, &version))) return err;
  if (version != CS_CHANGE_VERSION) return CS_EVERSION;
  c->has_club = !cs_mp_read_nil(&r);
  if (c->has_club && (err = cs_mp_read_bin32(&r, c->club))) return err;
  if ((err = cs_mp_read_bin32(&r, c->author))) return err;
  if ((err = cs_mp_read_uint(&r, &c->seq))) return err;
  c->has_prev = !cs_mp_read_nil(&r);
  if (c->has_prev && (err = cs_mp_read_bin32(&r, c->prev))) return err;
  if ((err = cs_mp_read_array(&r, &c->dep_count))) return err;
  if (c->dep_count > CS_CHANGE_DEPS_MAX) return CS_ETOOBIG;
  for (uint32_t i = 0; i < c->dep_count; i++) {
    if ((err = cs_mp_read_bin32(&r, c->deps[i]))) return err;
    /* Sorted and unique, so every node hashes one canonical header. */
    if (i > 0 && memcmp(c->deps[i - 1], c->deps[i], CS_ID_LEN) >= 0) return CS_EFORMAT;
  }
  if ((err = cs_mp_read_uint(&r, &c->lamport))) return err;
  if ((err = cs_mp_read_int(&r, &c->time_ms))) return err;
  if ((err = cs_mp_read_uint(&r, &c->payload_len))) return err;
  if ((err = cs_mp_read_bin32(&r, c->payload_hash))) return err;
  if (!cs_mp_done(&r)) return CS_EFORMAT;

  if (c->seq == 0 || c->lamport == 0) return CS_EFORMAT;
  if (c->has_prev != (c->seq > 1)) return CS_ECHAIN;
  if (!c->has_club && (c->seq != 1 || c->dep_count != 0)) return CS_EFORMAT;
  return CS_OK;
}

int cs_change_decode(cs_span_t signed_bytes, cs_change_t *out) {
  if (signed_bytes.len > CS_CHANGE_SIGNED_MAX) return CS_ETOOBIG;
  memset(out, 0, offsetof(cs_change_t, deps));
  cs_mp_reader_t r = cs_mp_reader(signed_bytes);
  uint32_t n;
  cs_span_t sig;
  int err;
  if ((err = cs_mp_read_array(&r, &n))) return err == CS_ETRUNC ? err : CS_EDECODE;
  if (n != 3) return CS_EFORMAT;
  if ((err = cs_mp_read_bin(&r, &out->header_bytes))) return err;
  if (out->header_bytes.len > CS_CHANGE_HEADER_MAX) return CS_ETOOBIG;
  if ((err = cs_mp_read_bin(&r, &sig))) return err;
  if (sig.len != CS_SIG_LEN) return CS_EFORMAT;
  memcpy(out->sig, sig.ptr, CS_SIG_LEN);
  if ((err = cs_mp_read_bin(&r, &out->payload_bytes))) return err;
  if (out->payload_bytes.len > CS_CHANGE_PAYLOAD_MAX) return CS_ETOOBIG;
  if (!cs_mp_done(&r)) return CS_EFORMAT;
  out->signed_bytes = signed_bytes;
  if ((err = cs__decode_header(out->header_bytes, out))) return err;
  if (out->payload_len != out->payload_bytes.len) return CS_EHASH;
  cs__change_id(out->header_bytes, out->id);
  return CS_OK;
}

int cs_change_peek_club(cs_span_t signed_bytes, uint8_t club[CS_ID_LEN]) {
  if (signed_bytes.len > CS_CHANGE_SIGNED_MAX) return CS_ETOOBIG;
  cs_mp_reader_t r = cs_mp_reader(signed_bytes);
  cs_span_t header;
  uint32_t n;
  uint64_t version;
  int err;
  if ((err = cs_mp_read_array(&r, &n))) return err == CS_ETRUNC ? err : CS_EDECODE;
  if (n != 3) return CS_EFORMAT;
  if ((err = cs_mp_read_bin(&r, &header))) return err;
  if (header.len > CS_CHANGE_HEADER_MAX) return CS_ETOOBIG;
  cs_mp_reader_t h = cs_mp_reader(header);
  if ((err = cs_mp_read_array(&h, &n))) return err;
  if (n != 10) return CS_EFORMAT;
  if ((err = cs_mp_read_uint(&h, &version))) return err;
  if (version != CS_CHANGE_VERSION) return CS_EVERSION;
  if (!cs_mp_read_nil(&h)) return cs_mp_read_bin32(&h, club);
  cs__change_id(header, club);
  return CS_OK;
}

bool cs_change_of_other_club(cs_span_t signed_bytes, const uint8_t club[CS_ID_LEN]) {
  uint8_t own[CS_ID_LEN];
  return cs_change_peek_club(signed_bytes, own) == CS_OK && memcmp(own, club, CS_ID_LEN) != 0;
}

int cs_change_check_payload(const cs_change_t *c) {
  uint8_t h[32];
  crypto_generichash(h, sizeof(h), c->payload_bytes.ptr, c->payload_bytes.len, NULL, 0);
  return sodium_memcmp(h, c->payload_hash, sizeof(h)) == 0 ? CS_OK : CS_EHASH;
}

int cs_change_check_signature(const cs_change_t *c) {
  uint8_t msg[CS__SIG_MSG_LEN];
  cs__sig_message(c->id, msg);
  return crypto_sign_verify_detached(c->sig, msg, sizeof(msg), c->author) == 0 ? CS_OK : CS_ESIG;
}

int cs_change_parse_verified(cs_span_t signed_bytes, cs_change_t *out) {
  int err = cs_change_decode(signed_bytes, out);
  if (err) return err;
  if ((err = cs_change_check_payload(out))) return err;
  return cs_change_check_signature(out);
}

int cs_change_build(const cs_change_draft_t *d, const uint8_t *secret_key, cs_buf_t *out,
                    uint8_t id[CS_ID_LEN]) {
  if (d->dep_count > CS_CHANGE_DEPS_MAX) return CS_ETOOBIG;
  if (d->payload.len > CS_CHANGE_PAYLOAD_MAX) return CS_ETOOBIG;
  if (d->seq == 0 || (d->prev != NULL) != (d->seq > 1)) return CS_EINVAL;
  for (uint32_t i = 1; i < d->dep_count; i++)
    if (memcmp(d->deps[i - 1], d->deps[i], CS_ID_LEN) >= 0) return CS_EINVAL;

  uint8_t payload_hash[32];
  crypto_generichash(payload_hash, sizeof(payload_hash), d->payload.ptr, d->payload.len, NULL, 0);

  cs_buf_t header;
  cs_buf_init(&header, CS_CHANGE_HEADER_MAX);
  cs_mp_write_array(&header, 10);
  cs_mp_write_uint(&header, CS_CHANGE_VERSION);
  if (d->club) cs_mp_write_bin(&header, d->club, CS_ID_LEN); else cs_mp_write_nil(&header);
  cs_mp_write_bin(&header, d->author, CS_KEY_LEN);
  cs_mp_write_uint(&header, d->seq);
  if (d->prev) cs_mp_write_bin(&header, d->prev, CS_ID_LEN); else cs_mp_write_nil(&header);
  cs_mp_write_array(&header, d->dep_count);
  for (uint32_t i = 0; i < d->dep_count; i++) cs_mp_write_bin(&header, d->deps[i], CS_ID_LEN);
  cs_mp_write_uint(&header, d->lamport);
  cs_mp_write_int(&header, d->time_ms);
  cs_mp_write_uint(&header, d->payload.len);
  cs_mp_write_bin(&header, payload_hash, sizeof(payload_hash));
  int err = CS_OK;
  if (header.failed) {
    err = CS_ETOOBIG;
    goto done;
  }

  cs__change_id(cs_buf_span(&header), id);
  uint8_t msg[CS__SIG_MSG_LEN];
  uint8_t sig[CS_SIG_LEN];
  cs__sig_message(id, msg);
  crypto_sign_detached(sig, NULL, msg, sizeof(msg), secret_key);

  cs_buf_reset(out);
  cs_mp_write_array(out, 3);
  cs_mp_write_bin(out, header.data, header.len);
  cs_mp_write_bin(out, sig, sizeof(sig));
  cs_mp_write_bin(out, d->payload.ptr, d->payload.len);
  if (out->failed) err = CS_ETOOBIG;
done:
  cs_buf_free(&header);
  return err;
}

void cs_hex32(const uint8_t bytes[32], char out[65]) {
  static const char digits[] = "0123456789abcdef";
  for (int i = 0; i < 32; i++) {
    out[2 * i] = digits[bytes[i] >> 4];
    out[2 * i + 1] = digits[bytes[i] & 15];
  }
  out[64] = '\0';
}

static int cs__hexval(char ch) {
  if (ch >= '0' && ch <= '9') return ch - '0';
  if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
  if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
  return -1;
}

int cs_unhex32(const char *hex, uint8_t out[32]) {
  if (strlen(hex) != 64) return CS_EINVAL;
  for (int i = 0; i < 32; i++) {
    int hi = cs__hexval(hex[2 * i]), lo = cs__hexval(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return CS_EINVAL;
    out[i] = (uint8_t)(hi << 4 | lo);
  }
  return CS_OK;
}
