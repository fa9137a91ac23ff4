#ifndef CS_CORE_SHS1_H
#define CS_CORE_SHS1_H

/* Scuttlebutt's Secret Handshake, version 1 ("shs1"), as a sans-I/O state
 * machine. It never reads, writes, sleeps or draws randomness: the caller
 * moves the four fixed-size messages between peers and supplies the
 * ephemeral secret. libsodium must have been initialised (sodium_init())
 * before any function here is called.
 *
 * A run on either side is:
 *
 *   cs_shs1_client_init(&hs, ...)  or  cs_shs1_server_init(&hs, ...)
 *   while ((next = cs_shs1_next(&hs, &len)) == CS_SHS1_SEND
 *                                          || next == CS_SHS1_RECV) {
 *     SEND: cs_shs1_produce(&hs, buf, sizeof buf), then write len bytes;
 *     RECV: read exactly len bytes, then cs_shs1_consume(&hs, buf, len).
 *   }
 *   on CS_SHS1_DONE: cs_shs1_session(&hs) gives the box-stream keys;
 *   always: cs_shs1_wipe(&hs).
 *
 * Functions returning int return 0 on success or a negated cs_err_t from
 * core/error.h on failure:
 *   -CS_EINVAL     a NULL argument, a bad local key, or a length or buffer
 *                  capacity that does not match the next message;
 *   -CS_EPROTO     a call that the current state does not allow (out of
 *                  order, after the end or after a failure);
 *   -CS_EHANDSHAKE the peer's message failed authentication: a hello whose
 *                  HMAC matches none of our network keys, a box that does not
 *                  open, or a key that is not a usable curve point;
 *   -CS_ESIG       the box opened but the peer's signature did not verify.
 * Any failure on peer input moves the machine to CS_SHS1_FAILED and wipes
 * its secrets; every later call then returns -CS_EPROTO. */

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

#define CS_SHS1_NETKEY_BYTES 32u /* Network identifier (app key). */
#define CS_SHS1_PK_BYTES 32u     /* Ed25519 long-term public key. */
#define CS_SHS1_SK_BYTES 64u     /* Ed25519 secret key, libsodium layout. */
#define CS_SHS1_EPH_BYTES 32u    /* Ephemeral Curve25519 secret. */
#define CS_SHS1_KEY_BYTES 32u    /* Box-stream key. */
#define CS_SHS1_NONCE_BYTES 24u  /* Box-stream starting nonce. */
#define CS_SHS1_NETKEYS_MAX 64u  /* Network keys a server tries on a hello. */

#define CS_SHS1_MSG1_BYTES 64u  /* Client hello. */
#define CS_SHS1_MSG2_BYTES 64u  /* Server hello. */
#define CS_SHS1_MSG3_BYTES 112u /* Client authenticate. */
#define CS_SHS1_MSG4_BYTES 80u  /* Server accept. */
#define CS_SHS1_MAX_MSG_BYTES CS_SHS1_MSG3_BYTES

/* What the machine waits for next. */
typedef enum cs_shs1_next_e {
  CS_SHS1_SEND = 1,   /* Call cs_shs1_produce and send the result. */
  CS_SHS1_RECV = 2,   /* Receive a message and call cs_shs1_consume. */
  CS_SHS1_DONE = 3,   /* Handshake complete; cs_shs1_session is valid. */
  CS_SHS1_FAILED = 4  /* Handshake failed; the machine is wiped. */
} cs_shs1_next_t;

/* The outcome of a completed handshake. The keys and nonces feed box-stream:
 * encrypt what we send with (enc_key, enc_nonce), decrypt what we receive
 * with (dec_key, dec_nonce). The peer's enc pair equals our dec pair. */
typedef struct cs_shs1_session_s {
  uint8_t peer_pk[CS_SHS1_PK_BYTES];
  uint8_t enc_key[CS_SHS1_KEY_BYTES];
  uint8_t enc_nonce[CS_SHS1_NONCE_BYTES];
  uint8_t dec_key[CS_SHS1_KEY_BYTES];
  uint8_t dec_nonce[CS_SHS1_NONCE_BYTES];
} cs_shs1_session_t;

/* The machine. Its layout is public only so callers can place it on the
 * stack or inside their connection struct; treat every field as private. */
typedef struct cs_shs1_s {
  int role;
  int state;
  uint8_t netkey[CS_SHS1_NETKEY_BYTES]; /* Server: the one the hello used. */
  /* Server: the keys a client hello may use, wiped once one matched. */
  uint8_t netkeys[CS_SHS1_NETKEYS_MAX][CS_SHS1_NETKEY_BYTES];
  uint32_t netkey_count;
  uint32_t netkey_index;
  uint8_t local_sk[CS_SHS1_SK_BYTES];
  uint8_t local_pk[CS_SHS1_PK_BYTES];
  uint8_t local_curve_sk[32];
  uint8_t server_pk[CS_SHS1_PK_BYTES]; /* Client: expected; server: ours. */
  uint8_t peer_pk[CS_SHS1_PK_BYTES];   /* Client's key, known after msg3. */
  uint8_t eph_sk[32];
  uint8_t eph_pk[32];
  uint8_t peer_eph_pk[32];
  uint8_t local_hmac[32]; /* First 32 bytes of our hello. */
  uint8_t peer_hmac[32];  /* First 32 bytes of the peer's hello. */
  uint8_t ab[32];         /* Ephemeral x ephemeral. */
  uint8_t ab_hash[32];    /* sha256(ab), signed by both sides. */
  uint8_t aB[32];         /* Client ephemeral x server long-term. */
  uint8_t Ab[32];         /* Client long-term x server ephemeral. */
  uint8_t sig_a[64];      /* The client's signature carried in msg3. */
  uint8_t key4[32];       /* Box key of msg4; hashed into the session. */
  cs_shs1_session_t session;
} cs_shs1_t;

/* Starts the client side. `netkey` is the 32-byte network identifier,
 * `local_sk` our 64-byte Ed25519 secret key (seed || public key, as
 * crypto_sign_keypair makes it), `eph_sk` 32 fresh random bytes or a
 * Curve25519 secret key (both work: scalar multiplication clamps), and
 * `server_pk` the long-term public key we expect the server to prove.
 * Copies what it needs, so the inputs may be wiped afterwards. Returns 0,
 * or -CS_EINVAL for a NULL pointer or a key that cannot be converted to
 * Curve25519. On failure `hs` is left wiped and in CS_SHS1_FAILED. */
int cs_shs1_client_init(cs_shs1_t *hs,
                        const uint8_t netkey[CS_SHS1_NETKEY_BYTES],
                        const uint8_t local_sk[CS_SHS1_SK_BYTES],
                        const uint8_t eph_sk[CS_SHS1_EPH_BYTES],
                        const uint8_t server_pk[CS_SHS1_PK_BYTES])
    CS_MUST_USE;

/* Starts the server side; arguments as for cs_shs1_client_init, the server
 * does not know its peer in advance. Returns 0 or -CS_EINVAL. */
int cs_shs1_server_init(cs_shs1_t *hs,
                        const uint8_t netkey[CS_SHS1_NETKEY_BYTES],
                        const uint8_t local_sk[CS_SHS1_SK_BYTES],
                        const uint8_t eph_sk[CS_SHS1_EPH_BYTES]) CS_MUST_USE;

/* Starts the server side of one port shared by several networks (a node in
 * several clubs): the client hello's HMAC is checked under each of the
 * `count` keys, 1 to CS_SHS1_NETKEYS_MAX, every one of them whatever
 * matched, so the time a hello takes does not tell which key it used. The
 * handshake goes on under the first key that matched (the others are wiped
 * from the machine then), and cs_shs1_netkey_index tells which it was; a
 * hello that matches none fails with -CS_EHANDSHAKE. Copies the keys.
 * Returns 0, or -CS_EINVAL for a NULL pointer, a count out of range or a
 * bad local key. */
int cs_shs1_server_init_keys(cs_shs1_t *hs,
                             const uint8_t (*netkeys)[CS_SHS1_NETKEY_BYTES],
                             size_t count,
                             const uint8_t local_sk[CS_SHS1_SK_BYTES],
                             const uint8_t eph_sk[CS_SHS1_EPH_BYTES])
    CS_MUST_USE;

/* Server: the index, in the keys given at init, of the network key the
 * client's hello used, once the hello is consumed; -1 before, on the client
 * side and after a failure. */
int cs_shs1_netkey_index(const cs_shs1_t *hs);

/* Tells what the machine needs next. When `len` is not NULL it receives
 * the exact size of the message to produce or consume, or 0 in the DONE
 * and FAILED states. A NULL `hs` reports CS_SHS1_FAILED. */
cs_shs1_next_t cs_shs1_next(const cs_shs1_t *hs, size_t *len);

/* Writes the next outgoing message into `out`, whose capacity is `cap`.
 * Only valid when cs_shs1_next says CS_SHS1_SEND. Writes exactly the
 * length cs_shs1_next reported and nothing when it fails. Returns 0,
 * -CS_EINVAL when `cap` is too small, or -CS_EPROTO in the wrong state. */
int cs_shs1_produce(cs_shs1_t *hs, uint8_t *out, size_t cap) CS_MUST_USE;

/* Checks and absorbs the peer's next message of `len` bytes. Only valid
 * when cs_shs1_next says CS_SHS1_RECV, and `len` must be exactly the size
 * it reported. Returns 0 or an error as listed at the top of this file;
 * a rejected message moves the machine to CS_SHS1_FAILED. */
int cs_shs1_consume(cs_shs1_t *hs, const uint8_t *in, size_t len)
    CS_MUST_USE;

/* Returns the peer's authenticated long-term public key, or NULL while it
 * is not yet proven. The server learns it on consuming msg3, before it
 * sends msg4, so it may refuse an unwanted client by not sending msg4.
 * The client gets it after consuming msg4. Points into `hs`. */
const uint8_t *cs_shs1_peer_pk(const cs_shs1_t *hs);

/* Returns the session keys once the machine is in CS_SHS1_DONE, else NULL.
 * The struct lives inside `hs` and is erased by cs_shs1_wipe, so copy the
 * keys into box-stream states before wiping. */
const cs_shs1_session_t *cs_shs1_session(const cs_shs1_t *hs);

/* Erases every secret in `hs` with sodium_memzero and leaves it in
 * CS_SHS1_FAILED. Safe to call on NULL and more than once. */
void cs_shs1_wipe(cs_shs1_t *hs);

#endif
