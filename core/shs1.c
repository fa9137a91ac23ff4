/* Secret Handshake v1, written from the protocol description.
 *
 * Notation: K = network identifier, (A, a_sk) client long-term Ed25519 key,
 * (B, b_sk) server long-term key, a / b the client's / server's ephemeral
 * Curve25519 keys. Shared secrets are X25519 products: ab = a x b,
 * aB = a x curve(B), Ab = curve(A) x b. hmac() is crypto_auth
 * (HMAC-SHA-512-256), box() is crypto_secretbox_easy with a zero nonce,
 * which is safe because each box key is used exactly once.
 *
 * msg1, client hello (client -> server), 64 bytes
 *   OFFSET  SIZE  DESCRIPTION
 *   0       32    hmac(msg: a_pk, key: K)
 *   32      32    a_pk, the client's ephemeral public key
 *
 * msg2, server hello (server -> client), 64 bytes
 *   OFFSET  SIZE  DESCRIPTION
 *   0       32    hmac(msg: b_pk, key: K)
 *   32      32    b_pk, the server's ephemeral public key
 *
 * msg3, client authenticate (client -> server), 112 bytes
 *   OFFSET  SIZE  DESCRIPTION
 *   0       16    secretbox MAC
 *   16      64    boxed sig_A = sign(K || B || sha256(ab), a_sk)
 *   80      32    boxed A, the client's long-term public key
 *   box key: sha256(K || ab || aB)
 *
 * msg4, server accept (server -> client), 80 bytes
 *   OFFSET  SIZE  DESCRIPTION
 *   0       16    secretbox MAC
 *   16      64    boxed sig_B = sign(K || sig_A || A || sha256(ab), b_sk)
 *   box key: key4 = sha256(K || ab || aB || Ab)
 *
 * Session, with k = sha256(key4), for either side:
 *   enc_key   = sha256(k || peer's long-term pk)
 *   enc_nonce = first 24 bytes of the peer's hello HMAC
 *   dec_key   = sha256(k || our long-term pk)
 *   dec_nonce = first 24 bytes of our hello HMAC
 */

#include "core/shs1.h"

#include <string.h>

#include <sodium.h>

/* Zero is FAILED so that a wiped (all-zero) machine refuses every call. */
enum {
  ST_FAILED = 0,
  ST_C_SEND1,
  ST_C_RECV2,
  ST_C_SEND3,
  ST_C_RECV4,
  ST_S_RECV1,
  ST_S_SEND2,
  ST_S_RECV3,
  ST_S_SEND4,
  ST_DONE
};

enum { ROLE_CLIENT = 1, ROLE_SERVER = 2 };

static const uint8_t zero_nonce[crypto_secretbox_NONCEBYTES];

/* Fails the machine: a half-run handshake must not keep secrets around. */
static int fail(cs_shs1_t *hs, int err) {
  cs_shs1_wipe(hs);
  return err;
}

/* Hashes the concatenation of up to four parts without building it in a
 * buffer; the hash state is wiped because its input includes secrets. */
static void sha256_parts(uint8_t out[32], const uint8_t *p1, size_t n1,
                         const uint8_t *p2, size_t n2, const uint8_t *p3,
                         size_t n3, const uint8_t *p4, size_t n4) {
  crypto_hash_sha256_state st;
  crypto_hash_sha256_init(&st);
  crypto_hash_sha256_update(&st, p1, n1);
  if (p2 != NULL) crypto_hash_sha256_update(&st, p2, n2);
  if (p3 != NULL) crypto_hash_sha256_update(&st, p3, n3);
  if (p4 != NULL) crypto_hash_sha256_update(&st, p4, n4);
  crypto_hash_sha256_final(&st, out);
  sodium_memzero(&st, sizeof st);
}

/* Common part of both inits. The client knows its network key (netkey);
 * the server learns which of its keys applies from the client hello, so it
 * passes NULL and computes its own hello's HMAC then. */
static int init_common(cs_shs1_t *hs, int role, const uint8_t *netkey,
                       const uint8_t *local_sk, const uint8_t *eph_sk) {
  memset(hs, 0, sizeof *hs);
  hs->role = role;
  if (netkey != NULL) memcpy(hs->netkey, netkey, CS_SHS1_NETKEY_BYTES);
  memcpy(hs->local_sk, local_sk, CS_SHS1_SK_BYTES);
  /* The public half is recomputed from the seed rather than trusted from
   * the last 32 bytes, so a mismatched key pair cannot sign for another. */
  {
    uint8_t seed_pk[crypto_sign_PUBLICKEYBYTES];
    uint8_t seed_sk[crypto_sign_SECRETKEYBYTES];
    if (crypto_sign_seed_keypair(seed_pk, seed_sk, local_sk) != 0 ||
        sodium_memcmp(seed_pk, local_sk + 32, 32) != 0) {
      sodium_memzero(seed_sk, sizeof seed_sk);
      return fail(hs, -CS_EINVAL);
    }
    sodium_memzero(seed_sk, sizeof seed_sk);
    memcpy(hs->local_pk, seed_pk, sizeof seed_pk);
  }
  if (crypto_sign_ed25519_sk_to_curve25519(hs->local_curve_sk, local_sk) != 0)
    return fail(hs, -CS_EINVAL);
  memcpy(hs->eph_sk, eph_sk, CS_SHS1_EPH_BYTES);
  if (crypto_scalarmult_base(hs->eph_pk, hs->eph_sk) != 0)
    return fail(hs, -CS_EINVAL);
  if (netkey != NULL)
    crypto_auth(hs->local_hmac, hs->eph_pk, sizeof hs->eph_pk, hs->netkey);
  return 0;
}

int cs_shs1_client_init(cs_shs1_t *hs,
                        const uint8_t netkey[CS_SHS1_NETKEY_BYTES],
                        const uint8_t local_sk[CS_SHS1_SK_BYTES],
                        const uint8_t eph_sk[CS_SHS1_EPH_BYTES],
                        const uint8_t server_pk[CS_SHS1_PK_BYTES]) {
  uint8_t server_curve[32];
  int rc;
  if (hs == NULL) return -CS_EINVAL;
  if (netkey == NULL || local_sk == NULL || eph_sk == NULL ||
      server_pk == NULL)
    return fail(hs, -CS_EINVAL);
  rc = init_common(hs, ROLE_CLIENT, netkey, local_sk, eph_sk);
  if (rc != 0) return rc;
  /* Checked now so a bad configured key is a local error, not a failed
   * exchange with an innocent server. */
  if (crypto_sign_ed25519_pk_to_curve25519(server_curve, server_pk) != 0)
    return fail(hs, -CS_EINVAL);
  memcpy(hs->server_pk, server_pk, CS_SHS1_PK_BYTES);
  hs->state = ST_C_SEND1;
  return 0;
}

int cs_shs1_server_init(cs_shs1_t *hs,
                        const uint8_t netkey[CS_SHS1_NETKEY_BYTES],
                        const uint8_t local_sk[CS_SHS1_SK_BYTES],
                        const uint8_t eph_sk[CS_SHS1_EPH_BYTES]) {
  if (hs == NULL) return -CS_EINVAL;
  if (netkey == NULL) return fail(hs, -CS_EINVAL);
  return cs_shs1_server_init_keys(
      hs, (const uint8_t(*)[CS_SHS1_NETKEY_BYTES])netkey, 1, local_sk,
      eph_sk);
}

int cs_shs1_server_init_keys(cs_shs1_t *hs,
                             const uint8_t (*netkeys)[CS_SHS1_NETKEY_BYTES],
                             size_t count,
                             const uint8_t local_sk[CS_SHS1_SK_BYTES],
                             const uint8_t eph_sk[CS_SHS1_EPH_BYTES]) {
  int rc;
  if (hs == NULL) return -CS_EINVAL;
  if (netkeys == NULL || local_sk == NULL || eph_sk == NULL || count == 0 ||
      count > CS_SHS1_NETKEYS_MAX)
    return fail(hs, -CS_EINVAL);
  rc = init_common(hs, ROLE_SERVER, NULL, local_sk, eph_sk);
  if (rc != 0) return rc;
  memcpy(hs->netkeys, netkeys, count * CS_SHS1_NETKEY_BYTES);
  hs->netkey_count = (uint32_t)count;
  memcpy(hs->server_pk, hs->local_pk, CS_SHS1_PK_BYTES);
  hs->state = ST_S_RECV1;
  return 0;
}

cs_shs1_next_t cs_shs1_next(const cs_shs1_t *hs, size_t *len) {
  cs_shs1_next_t next = CS_SHS1_FAILED;
  size_t n = 0;
  if (hs != NULL) {
    switch (hs->state) {
    case ST_C_SEND1: next = CS_SHS1_SEND; n = CS_SHS1_MSG1_BYTES; break;
    case ST_C_RECV2: next = CS_SHS1_RECV; n = CS_SHS1_MSG2_BYTES; break;
    case ST_C_SEND3: next = CS_SHS1_SEND; n = CS_SHS1_MSG3_BYTES; break;
    case ST_C_RECV4: next = CS_SHS1_RECV; n = CS_SHS1_MSG4_BYTES; break;
    case ST_S_RECV1: next = CS_SHS1_RECV; n = CS_SHS1_MSG1_BYTES; break;
    case ST_S_SEND2: next = CS_SHS1_SEND; n = CS_SHS1_MSG2_BYTES; break;
    case ST_S_RECV3: next = CS_SHS1_RECV; n = CS_SHS1_MSG3_BYTES; break;
    case ST_S_SEND4: next = CS_SHS1_SEND; n = CS_SHS1_MSG4_BYTES; break;
    case ST_DONE: next = CS_SHS1_DONE; break;
    default: break;
    }
  }
  if (len != NULL) *len = n;
  return next;
}

/* Both hellos have the same shape: our HMAC, then our ephemeral key. */
static void write_hello(const cs_shs1_t *hs, uint8_t out[64]) {
  memcpy(out, hs->local_hmac, 32);
  memcpy(out + 32, hs->eph_pk, 32);
}

/* Stores the parts of a hello whose HMAC has been verified. */
static int absorb_hello(cs_shs1_t *hs, const uint8_t in[64]) {
  memcpy(hs->peer_hmac, in, 32);
  memcpy(hs->peer_eph_pk, in + 32, 32);
  /* libsodium refuses low-order points (an all-zero product), which would
   * make the secret predictable to a man in the middle. */
  if (crypto_scalarmult(hs->ab, hs->eph_sk, hs->peer_eph_pk) != 0)
    return -CS_EHANDSHAKE;
  crypto_hash_sha256(hs->ab_hash, hs->ab, sizeof hs->ab);
  return 0;
}

/* Client: verifies the server's hello against our network key. */
static int read_hello(cs_shs1_t *hs, const uint8_t in[64]) {
  if (crypto_auth_verify(in, in + 32, 32, hs->netkey) != 0)
    return -CS_EHANDSHAKE;
  return absorb_hello(hs, in);
}

/* Server: finds which of its network keys the client hello used. Every key
 * is tried, and the first match is selected with masks rather than a
 * branch, so the work done does not depend on which key matched: an
 * observer timing hellos cannot tell one club's connections from
 * another's. The other keys leave the machine. */
static int server_pick_key(cs_shs1_t *hs, const uint8_t in[64]) {
  uint32_t found = 0, index = 0;
  for (uint32_t i = 0; i < hs->netkey_count; i++) {
    uint32_t ok =
        (uint32_t)(crypto_auth_verify(in, in + 32, 32, hs->netkeys[i]) == 0);
    uint32_t mask = 0u - (ok & (found ^ 1u));
    index = (index & ~mask) | (i & mask);
    found |= ok;
  }
  if (!found) return -CS_EHANDSHAKE;
  memcpy(hs->netkey, hs->netkeys[index], CS_SHS1_NETKEY_BYTES);
  sodium_memzero(hs->netkeys, sizeof hs->netkeys);
  hs->netkey_index = index;
  crypto_auth(hs->local_hmac, hs->eph_pk, sizeof hs->eph_pk, hs->netkey);
  return 0;
}

/* key4 and the session keys are the same formula on both sides, with the
 * roles of local and peer swapped. */
static void derive_session(cs_shs1_t *hs) {
  uint8_t k[32];
  const uint8_t *peer = hs->role == ROLE_CLIENT ? hs->server_pk : hs->peer_pk;
  crypto_hash_sha256(k, hs->key4, sizeof hs->key4);
  memcpy(hs->session.peer_pk, peer, 32);
  sha256_parts(hs->session.enc_key, k, 32, peer, 32, NULL, 0, NULL, 0);
  memcpy(hs->session.enc_nonce, hs->peer_hmac, CS_SHS1_NONCE_BYTES);
  sha256_parts(hs->session.dec_key, k, 32, hs->local_pk, 32, NULL, 0, NULL,
               0);
  memcpy(hs->session.dec_nonce, hs->local_hmac, CS_SHS1_NONCE_BYTES);
  sodium_memzero(k, sizeof k);
}

/* The message signed by the server in msg4, in a caller buffer. */
static void msg4_signed(const cs_shs1_t *hs, const uint8_t *client_pk,
                        uint8_t out[160]) {
  memcpy(out, hs->netkey, 32);
  memcpy(out + 32, hs->sig_a, 64);
  memcpy(out + 96, client_pk, 32);
  memcpy(out + 128, hs->ab_hash, 32);
}

/* Client: builds msg3. */
static void client_write_auth(cs_shs1_t *hs, uint8_t out[112]) {
  uint8_t signed_msg[96];
  uint8_t plain[96];
  uint8_t key3[32];
  memcpy(signed_msg, hs->netkey, 32);
  memcpy(signed_msg + 32, hs->server_pk, 32);
  memcpy(signed_msg + 64, hs->ab_hash, 32);
  crypto_sign_detached(hs->sig_a, NULL, signed_msg, sizeof signed_msg,
                       hs->local_sk);
  memcpy(plain, hs->sig_a, 64);
  memcpy(plain + 64, hs->local_pk, 32);
  sha256_parts(key3, hs->netkey, 32, hs->ab, 32, hs->aB, 32, NULL, 0);
  crypto_secretbox_easy(out, plain, sizeof plain, zero_nonce, key3);
  sodium_memzero(key3, sizeof key3);
  sodium_memzero(plain, sizeof plain);
  sodium_memzero(signed_msg, sizeof signed_msg);
}

/* Client: absorbs msg2 and derives every secret it can already know. */
static int client_read_hello(cs_shs1_t *hs, const uint8_t in[64]) {
  uint8_t server_curve[32];
  int rc = read_hello(hs, in);
  if (rc != 0) return rc;
  if (crypto_sign_ed25519_pk_to_curve25519(server_curve, hs->server_pk) != 0)
    return -CS_EHANDSHAKE;
  if (crypto_scalarmult(hs->aB, hs->eph_sk, server_curve) != 0)
    return -CS_EHANDSHAKE;
  if (crypto_scalarmult(hs->Ab, hs->local_curve_sk, hs->peer_eph_pk) != 0)
    return -CS_EHANDSHAKE;
  sha256_parts(hs->key4, hs->netkey, 32, hs->ab, 32, hs->aB, 32, hs->Ab, 32);
  return 0;
}

/* Client: opens msg4 and checks that the expected server signed. */
static int client_read_accept(cs_shs1_t *hs, const uint8_t in[80]) {
  uint8_t sig_b[64];
  uint8_t signed_msg[160];
  int rc = 0;
  if (crypto_secretbox_open_easy(sig_b, in, CS_SHS1_MSG4_BYTES, zero_nonce,
                                 hs->key4) != 0)
    return -CS_EHANDSHAKE;
  msg4_signed(hs, hs->local_pk, signed_msg);
  if (crypto_sign_verify_detached(sig_b, signed_msg, sizeof signed_msg,
                                  hs->server_pk) != 0)
    rc = -CS_ESIG;
  if (rc == 0) {
    memcpy(hs->peer_pk, hs->server_pk, 32);
    derive_session(hs);
  }
  sodium_memzero(sig_b, sizeof sig_b);
  sodium_memzero(signed_msg, sizeof signed_msg);
  return rc;
}

/* Server: absorbs msg1. */
static int server_read_hello(cs_shs1_t *hs, const uint8_t in[64]) {
  int rc = server_pick_key(hs, in);
  if (rc == 0) rc = absorb_hello(hs, in);
  if (rc != 0) return rc;
  if (crypto_scalarmult(hs->aB, hs->local_curve_sk, hs->peer_eph_pk) != 0)
    return -CS_EHANDSHAKE;
  return 0;
}

/* Server: opens msg3, checks the client's signature and learns its key. */
static int server_read_auth(cs_shs1_t *hs, const uint8_t in[112]) {
  uint8_t key3[32];
  uint8_t plain[96];
  uint8_t signed_msg[96];
  uint8_t client_curve[32];
  int rc = 0;
  sha256_parts(key3, hs->netkey, 32, hs->ab, 32, hs->aB, 32, NULL, 0);
  if (crypto_secretbox_open_easy(plain, in, CS_SHS1_MSG3_BYTES, zero_nonce,
                                 key3) != 0) {
    rc = -CS_EHANDSHAKE;
    goto out;
  }
  memcpy(signed_msg, hs->netkey, 32);
  memcpy(signed_msg + 32, hs->local_pk, 32);
  memcpy(signed_msg + 64, hs->ab_hash, 32);
  if (crypto_sign_verify_detached(plain, signed_msg, sizeof signed_msg,
                                  plain + 64) != 0) {
    rc = -CS_ESIG;
    goto out;
  }
  if (crypto_sign_ed25519_pk_to_curve25519(client_curve, plain + 64) != 0 ||
      crypto_scalarmult(hs->Ab, hs->eph_sk, client_curve) != 0) {
    rc = -CS_EHANDSHAKE;
    goto out;
  }
  memcpy(hs->sig_a, plain, 64);
  memcpy(hs->peer_pk, plain + 64, 32);
  sha256_parts(hs->key4, hs->netkey, 32, hs->ab, 32, hs->aB, 32, hs->Ab, 32);
out:
  sodium_memzero(key3, sizeof key3);
  sodium_memzero(plain, sizeof plain);
  sodium_memzero(signed_msg, sizeof signed_msg);
  return rc;
}

/* Server: builds msg4 and, with it, the session. */
static void server_write_accept(cs_shs1_t *hs, uint8_t out[80]) {
  uint8_t signed_msg[160];
  uint8_t sig_b[64];
  msg4_signed(hs, hs->peer_pk, signed_msg);
  crypto_sign_detached(sig_b, NULL, signed_msg, sizeof signed_msg,
                       hs->local_sk);
  crypto_secretbox_easy(out, sig_b, sizeof sig_b, zero_nonce, hs->key4);
  derive_session(hs);
  sodium_memzero(sig_b, sizeof sig_b);
  sodium_memzero(signed_msg, sizeof signed_msg);
}

int cs_shs1_produce(cs_shs1_t *hs, uint8_t *out, size_t cap) {
  size_t need;
  if (hs == NULL) return -CS_EINVAL;
  if (cs_shs1_next(hs, &need) != CS_SHS1_SEND) return -CS_EPROTO;
  /* A short buffer is the caller's bug, not the peer's: keep the state. */
  if (out == NULL || cap < need) return -CS_EINVAL;
  switch (hs->state) {
  case ST_C_SEND1:
    write_hello(hs, out);
    hs->state = ST_C_RECV2;
    break;
  case ST_C_SEND3:
    client_write_auth(hs, out);
    hs->state = ST_C_RECV4;
    break;
  case ST_S_SEND2:
    write_hello(hs, out);
    hs->state = ST_S_RECV3;
    break;
  case ST_S_SEND4:
    server_write_accept(hs, out);
    hs->state = ST_DONE;
    break;
  default:
    return -CS_EPROTO;
  }
  return 0;
}

int cs_shs1_consume(cs_shs1_t *hs, const uint8_t *in, size_t len) {
  size_t need;
  int rc;
  if (hs == NULL) return -CS_EINVAL;
  if (cs_shs1_next(hs, &need) != CS_SHS1_RECV) return -CS_EPROTO;
  if (in == NULL || len != need) return -CS_EINVAL;
  switch (hs->state) {
  case ST_C_RECV2:
    rc = client_read_hello(hs, in);
    if (rc == 0) hs->state = ST_C_SEND3;
    break;
  case ST_C_RECV4:
    rc = client_read_accept(hs, in);
    if (rc == 0) hs->state = ST_DONE;
    break;
  case ST_S_RECV1:
    rc = server_read_hello(hs, in);
    if (rc == 0) hs->state = ST_S_SEND2;
    break;
  case ST_S_RECV3:
    rc = server_read_auth(hs, in);
    if (rc == 0) hs->state = ST_S_SEND4;
    break;
  default:
    rc = -CS_EPROTO;
    break;
  }
  if (rc != 0) return fail(hs, rc);
  return 0;
}

int cs_shs1_netkey_index(const cs_shs1_t *hs) {
  if (hs == NULL || hs->role != ROLE_SERVER) return -1;
  if (hs->state != ST_S_SEND2 && hs->state != ST_S_RECV3 &&
      hs->state != ST_S_SEND4 && hs->state != ST_DONE)
    return -1;
  return (int)hs->netkey_index;
}

const uint8_t *cs_shs1_peer_pk(const cs_shs1_t *hs) {
  if (hs == NULL) return NULL;
  if (hs->state == ST_DONE) return hs->peer_pk;
  if (hs->role == ROLE_SERVER && hs->state == ST_S_SEND4) return hs->peer_pk;
  return NULL;
}

const cs_shs1_session_t *cs_shs1_session(const cs_shs1_t *hs) {
  if (hs == NULL || hs->state != ST_DONE) return NULL;
  return &hs->session;
}

void cs_shs1_wipe(cs_shs1_t *hs) {
  if (hs == NULL) return;
  sodium_memzero(hs, sizeof *hs);
}
