#ifndef CS_CORE_BOXSTREAM_H
#define CS_CORE_BOXSTREAM_H

/* Scuttlebutt box-stream framing, sans-I/O. The encoder turns a body of at
 * most 4096 bytes into a 34-byte boxed header followed by the boxed body;
 * the decoder opens the header first (so it learns how many body bytes to
 * read, and never reads an unauthenticated length), then the body. Each
 * direction uses its own key and nonce, as cs_shs1_session gives them.
 * libsodium must have been initialised (sodium_init()) before use.
 *
 * Functions returning int return 0 on success or a negated cs_err_t from
 * core/error.h:
 *   -CS_EINVAL  a NULL argument, a body too long to seal, an output buffer
 *               too small or a body length other than the header announced;
 *   -CS_EPROTO  a header or body that fails authentication (tampered, out
 *               of order or under the wrong key), or a call out of order;
 *   -CS_ETOOBIG an authentic header announcing more than 4096 body bytes;
 *   -CS_ECLOSED the stream has ended with a goodbye header.
 * A state that was never initialised (all zero) or was wiped refuses every
 * call with -CS_EPROTO.
 * A decoder that rejected input stays failed: every later call returns
 * -CS_EPROTO, since the stream can no longer be trusted or resynchronised.
 * Nothing is written into a caller buffer unless the call succeeds. */

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

#define CS_BOXSTREAM_KEY_BYTES 32u
#define CS_BOXSTREAM_NONCE_BYTES 24u
#define CS_BOXSTREAM_MAC_BYTES 16u
#define CS_BOXSTREAM_HEADER_BYTES 34u
#define CS_BOXSTREAM_MAX_BODY 4096u
/* Bytes on the wire for a body of n bytes. */
#define CS_BOXSTREAM_SEALED_BYTES(n) (CS_BOXSTREAM_HEADER_BYTES + (n))

/* Encoder state; fields are private. */
typedef struct cs_boxstream_enc_s {
  uint8_t key[CS_BOXSTREAM_KEY_BYTES];
  uint8_t nonce[CS_BOXSTREAM_NONCE_BYTES];
  int state;
} cs_boxstream_enc_t;

/* Decoder state; fields are private. */
typedef struct cs_boxstream_dec_s {
  uint8_t key[CS_BOXSTREAM_KEY_BYTES];
  uint8_t nonce[CS_BOXSTREAM_NONCE_BYTES];
  int state;
  size_t body_len; /* Announced by the last header, while a body is due. */
} cs_boxstream_dec_t;

/* Prepares an encoder with a 32-byte key and 24-byte starting nonce (a
 * session's enc_key and enc_nonce). Copies both. Returns 0 or -CS_EINVAL. */
int cs_boxstream_enc_init(cs_boxstream_enc_t *enc,
                          const uint8_t key[CS_BOXSTREAM_KEY_BYTES],
                          const uint8_t nonce[CS_BOXSTREAM_NONCE_BYTES])
    CS_MUST_USE;

/* Prepares a decoder with a session's dec_key and dec_nonce. Copies both.
 * Returns 0 or -CS_EINVAL. */
int cs_boxstream_dec_init(cs_boxstream_dec_t *dec,
                          const uint8_t key[CS_BOXSTREAM_KEY_BYTES],
                          const uint8_t nonce[CS_BOXSTREAM_NONCE_BYTES])
    CS_MUST_USE;

/* Seals `len` bytes of `body` (1 to CS_BOXSTREAM_MAX_BODY; larger data
 * must be split by the caller) into `out`, which must hold `out_cap` >=
 * CS_BOXSTREAM_SEALED_BYTES(len) bytes: the 34-byte header, then `len`
 * bytes of boxed body. `body` and `out` must not overlap. Advances the
 * nonce by two. Returns 0, -CS_EINVAL, or -CS_ECLOSED after goodbye. */
int cs_boxstream_seal(cs_boxstream_enc_t *enc, const uint8_t *body,
                      size_t len, uint8_t *out, size_t out_cap) CS_MUST_USE;

/* Writes the 34-byte goodbye header that ends the stream into `out`
 * (capacity `out_cap`). Afterwards the encoder refuses to seal. Returns 0,
 * -CS_EINVAL, or -CS_ECLOSED when goodbye was already sent. */
int cs_boxstream_goodbye(cs_boxstream_enc_t *enc, uint8_t *out,
                         size_t out_cap) CS_MUST_USE;

/* Opens a 34-byte boxed header. On success sets `*body_len` to the number
 * of body bytes that follow (0 to 4096) and `mac` to the body's MAC, both
 * to be handed to cs_boxstream_open_body. Returns 0, -CS_ECLOSED for an
 * authentic goodbye (the decoder is then closed), -CS_EPROTO for a header
 * that fails authentication or a header while a body is still due,
 * -CS_ETOOBIG for an announced length over 4096, or -CS_EINVAL. */
int cs_boxstream_open_header(cs_boxstream_dec_t *dec,
                             const uint8_t in[CS_BOXSTREAM_HEADER_BYTES],
                             size_t *body_len,
                             uint8_t mac[CS_BOXSTREAM_MAC_BYTES])
    CS_MUST_USE;

/* Opens the `len`-byte boxed body that follows a header, with the `mac`
 * that cs_boxstream_open_header returned, into `out` of capacity
 * `out_cap` >= len. `in` and `out` may be the same buffer (decryption in
 * place) but must not otherwise overlap. Returns 0, -CS_EINVAL when `len`
 * differs from the announced length or `out` is too small (the decoder
 * keeps waiting for the body), -CS_EPROTO when the body fails
 * authentication or no header was opened before. */
int cs_boxstream_open_body(cs_boxstream_dec_t *dec,
                           const uint8_t mac[CS_BOXSTREAM_MAC_BYTES],
                           const uint8_t *in, size_t len, uint8_t *out,
                           size_t out_cap) CS_MUST_USE;

/* Erase the key and nonce with sodium_memzero; the state then refuses
 * every call with -CS_EPROTO. Safe on NULL and more than once. */
void cs_boxstream_enc_wipe(cs_boxstream_enc_t *enc);
void cs_boxstream_dec_wipe(cs_boxstream_dec_t *dec);

#endif
