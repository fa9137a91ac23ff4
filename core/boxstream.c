/* Box-stream, written from the protocol description.
 *
 * Every box uses two consecutive nonces from the direction's counter: N for
 * the header and N+1 for the body; the next box starts at N+2. The counter
 * is the 24-byte nonce read as a big-endian integer, wrapping at 2^192.
 * secretbox is crypto_secretbox (XSalsa20-Poly1305).
 *
 * On the wire, one box for a body of n bytes (1 <= n <= 4096):
 *   OFFSET  SIZE  DESCRIPTION
 *   0       34    boxed header = secretbox(header, nonce N)
 *   34      n     boxed body = secretbox_detached(body, nonce N+1) without
 *                 its MAC, which travels inside the header
 *
 * The 34-byte boxed header:
 *   OFFSET  SIZE  DESCRIPTION
 *   0       16    secretbox MAC of the header
 *   16      2     boxed body length n, big-endian
 *   18      16    boxed body MAC
 *
 * Goodbye: a boxed header whose 18 plaintext bytes are all zero, at the
 * next header nonce. A real header is all zero only if its body MAC came
 * out as sixteen zero bytes, which has negligible probability. The end of
 * the stream is thereby authenticated, so truncation is detectable.
 */

#include "core/boxstream.h"

#include <string.h>

#include <sodium.h>

/* Zero means unusable, so that a never-initialised or wiped state refuses
 * every call instead of using an all-zero key. */
enum { ENC_DEAD = 0, ENC_OPEN, ENC_CLOSED };
enum { DEC_DEAD = 0, DEC_HEADER, DEC_BODY, DEC_CLOSED };

#define HEADER_PLAIN_BYTES 18u /* Length (2) + body MAC (16). */

/* Advances a nonce by one, as a big-endian counter. */
static void nonce_inc(uint8_t nonce[CS_BOXSTREAM_NONCE_BYTES]) {
  size_t i = CS_BOXSTREAM_NONCE_BYTES;
  while (i > 0) {
    i--;
    nonce[i] = (uint8_t)(nonce[i] + 1u);
    if (nonce[i] != 0) break;
  }
}

int cs_boxstream_enc_init(cs_boxstream_enc_t *enc,
                          const uint8_t key[CS_BOXSTREAM_KEY_BYTES],
                          const uint8_t nonce[CS_BOXSTREAM_NONCE_BYTES]) {
  if (enc == NULL) return -CS_EINVAL;
  sodium_memzero(enc, sizeof *enc);
  if (key == NULL || nonce == NULL) return -CS_EINVAL;
  memcpy(enc->key, key, CS_BOXSTREAM_KEY_BYTES);
  memcpy(enc->nonce, nonce, CS_BOXSTREAM_NONCE_BYTES);
  enc->state = ENC_OPEN;
  return 0;
}

int cs_boxstream_dec_init(cs_boxstream_dec_t *dec,
                          const uint8_t key[CS_BOXSTREAM_KEY_BYTES],
                          const uint8_t nonce[CS_BOXSTREAM_NONCE_BYTES]) {
  if (dec == NULL) return -CS_EINVAL;
  sodium_memzero(dec, sizeof *dec);
  if (key == NULL || nonce == NULL) return -CS_EINVAL;
  memcpy(dec->key, key, CS_BOXSTREAM_KEY_BYTES);
  memcpy(dec->nonce, nonce, CS_BOXSTREAM_NONCE_BYTES);
  dec->state = DEC_HEADER;
  return 0;
}

/* Reports why an encoder cannot seal, or 0 when it can. */
static int enc_check(const cs_boxstream_enc_t *enc) {
  if (enc == NULL) return -CS_EINVAL;
  if (enc->state == ENC_CLOSED) return -CS_ECLOSED;
  if (enc->state != ENC_OPEN) return -CS_EPROTO;
  return 0;
}

int cs_boxstream_seal(cs_boxstream_enc_t *enc, const uint8_t *body,
                      size_t len, uint8_t *out, size_t out_cap) {
  uint8_t header[HEADER_PLAIN_BYTES];
  uint8_t body_nonce[CS_BOXSTREAM_NONCE_BYTES];
  int rc = enc_check(enc);
  if (rc != 0) return rc;
  if (body == NULL || out == NULL) return -CS_EINVAL;
  /* Empty boxes are not sent: the reference encoder skips them too. */
  if (len == 0 || len > CS_BOXSTREAM_MAX_BODY) return -CS_EINVAL;
  if (out_cap < CS_BOXSTREAM_SEALED_BYTES(len)) return -CS_EINVAL;

  memcpy(body_nonce, enc->nonce, sizeof body_nonce);
  nonce_inc(body_nonce);
  header[0] = (uint8_t)(len >> 8);
  header[1] = (uint8_t)(len & 0xffu);
  crypto_secretbox_detached(out + CS_BOXSTREAM_HEADER_BYTES, header + 2,
                            body, len, body_nonce, enc->key);
  crypto_secretbox_easy(out, header, sizeof header, enc->nonce, enc->key);
  nonce_inc(enc->nonce);
  nonce_inc(enc->nonce);
  return 0;
}

int cs_boxstream_goodbye(cs_boxstream_enc_t *enc, uint8_t *out,
                         size_t out_cap) {
  static const uint8_t zeros[HEADER_PLAIN_BYTES];
  int rc = enc_check(enc);
  if (rc != 0) return rc;
  if (out == NULL || out_cap < CS_BOXSTREAM_HEADER_BYTES) return -CS_EINVAL;
  crypto_secretbox_easy(out, zeros, sizeof zeros, enc->nonce, enc->key);
  /* Nothing may be sealed after goodbye, so the key is no longer needed. */
  sodium_memzero(enc->key, sizeof enc->key);
  enc->state = ENC_CLOSED;
  return 0;
}

/* Reports why a decoder cannot take a call that needs state `want`. */
static int dec_check(const cs_boxstream_dec_t *dec, int want) {
  if (dec == NULL) return -CS_EINVAL;
  if (dec->state == DEC_CLOSED) return -CS_ECLOSED;
  if (dec->state != want) return -CS_EPROTO;
  return 0;
}

/* Kills a decoder after bad input; the stream cannot be trusted again. */
static int dec_fail(cs_boxstream_dec_t *dec, int err) {
  cs_boxstream_dec_wipe(dec);
  return err;
}

int cs_boxstream_open_header(cs_boxstream_dec_t *dec,
                             const uint8_t in[CS_BOXSTREAM_HEADER_BYTES],
                             size_t *body_len,
                             uint8_t mac[CS_BOXSTREAM_MAC_BYTES]) {
  uint8_t header[HEADER_PLAIN_BYTES];
  size_t n;
  int rc = dec_check(dec, DEC_HEADER);
  if (rc != 0) {
    /* A header where a body is due means the caller lost framing. */
    if (rc == -CS_EPROTO && dec->state == DEC_BODY) return dec_fail(dec, rc);
    return rc;
  }
  if (in == NULL || body_len == NULL || mac == NULL) return -CS_EINVAL;
  if (crypto_secretbox_open_easy(header, in, CS_BOXSTREAM_HEADER_BYTES,
                                 dec->nonce, dec->key) != 0)
    return dec_fail(dec, -CS_EPROTO);
  if (sodium_is_zero(header, sizeof header)) {
    dec->state = DEC_CLOSED;
    sodium_memzero(dec->key, sizeof dec->key);
    return -CS_ECLOSED;
  }
  n = ((size_t)header[0] << 8) | (size_t)header[1];
  if (n > CS_BOXSTREAM_MAX_BODY) return dec_fail(dec, -CS_ETOOBIG);
  nonce_inc(dec->nonce);
  dec->body_len = n;
  dec->state = DEC_BODY;
  *body_len = n;
  memcpy(mac, header + 2, CS_BOXSTREAM_MAC_BYTES);
  return 0;
}

int cs_boxstream_open_body(cs_boxstream_dec_t *dec,
                           const uint8_t mac[CS_BOXSTREAM_MAC_BYTES],
                           const uint8_t *in, size_t len, uint8_t *out,
                           size_t out_cap) {
  uint8_t empty[1] = {0};
  int rc = dec_check(dec, DEC_BODY);
  if (rc != 0) return rc;
  if (mac == NULL || len != dec->body_len || out_cap < len) return -CS_EINVAL;
  /* An empty body still carries a MAC to check; libsodium gets a valid
   * pointer even though it reads and writes nothing. */
  if (len == 0) {
    in = empty;
    out = empty;
  } else if (in == NULL || out == NULL) {
    return -CS_EINVAL;
  }
  /* libsodium checks the MAC before it decrypts, so a forged body leaves
   * `out` untouched. */
  if (crypto_secretbox_open_detached(out, in, mac, len, dec->nonce,
                                     dec->key) != 0)
    return dec_fail(dec, -CS_EPROTO);
  nonce_inc(dec->nonce);
  dec->body_len = 0;
  dec->state = DEC_HEADER;
  return 0;
}

void cs_boxstream_enc_wipe(cs_boxstream_enc_t *enc) {
  if (enc == NULL) return;
  sodium_memzero(enc, sizeof *enc);
}

void cs_boxstream_dec_wipe(cs_boxstream_dec_t *dec) {
  if (dec == NULL) return;
  sodium_memzero(dec, sizeof *dec);
}
