/* Unit tests for core/shs1.c and core/boxstream.c: both handshake machines
 * run against each other in memory, tampering at every byte of every
 * message, known-answer vectors from the JavaScript reference modules, and
 * box-stream round trips, tampering and goodbye. Prints "N passed, M
 * failed" and exits non-zero on any failure. */

#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "core/boxstream.h"
#include "core/shs1.h"

static int passed;
static int failed;

#define CHECK(cond)                                                            \
  do {                                                                         \
    if (cond) {                                                                \
      passed++;                                                                \
    } else {                                                                   \
      failed++;                                                                \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__,        \
              #cond);                                                          \
    }                                                                          \
  } while (0)

/* Decodes a hex literal of known size; the vectors are fixed, so a bad one
 * is a bug in this file and fails the check that uses it. */
static int unhex(uint8_t *out, size_t n, const char *hex) {
  size_t got = 0;
  if (strlen(hex) != 2 * n) return -1;
  if (sodium_hex2bin(out, n, hex, 2 * n, NULL, &got, NULL) != 0) return -1;
  return got == n ? 0 : -1;
}

/* Everything two peers need for one handshake. */
typedef struct peers_s {
  uint8_t netkey[32];
  uint8_t client_pk[32], client_sk[64];
  uint8_t server_pk[32], server_sk[64];
  uint8_t client_eph[32], server_eph[32];
  cs_shs1_t client, server;
} peers_t;

/* Fresh keys for both sides; the seed byte makes long-term keys
 * reproducible while ephemerals stay random. */
static void peers_keys(peers_t *p, uint8_t seed_byte) {
  uint8_t seed[32];
  memset(seed, seed_byte, sizeof seed);
  crypto_sign_seed_keypair(p->client_pk, p->client_sk, seed);
  seed[0] ^= 0x80;
  crypto_sign_seed_keypair(p->server_pk, p->server_sk, seed);
  randombytes_buf(p->netkey, sizeof p->netkey);
  randombytes_buf(p->client_eph, sizeof p->client_eph);
  randombytes_buf(p->server_eph, sizeof p->server_eph);
}

static int peers_init(peers_t *p) {
  int rc = cs_shs1_client_init(&p->client, p->netkey, p->client_sk,
                               p->client_eph, p->server_pk);
  if (rc != 0) return rc;
  return cs_shs1_server_init(&p->server, p->netkey, p->server_sk,
                             p->server_eph);
}

/* Moves one message from `from` to `to`, flipping byte `flip_pos` with
 * `mask` on the way when flip_pos >= 0. Returns the receiver's result, or
 * 1 when the machines disagree about what comes next. */
static int exchange(cs_shs1_t *from, cs_shs1_t *to, long flip_pos,
                    uint8_t mask) {
  uint8_t buf[CS_SHS1_MAX_MSG_BYTES];
  size_t len = 0, want = 0;
  if (cs_shs1_next(from, &len) != CS_SHS1_SEND) return 1;
  if (cs_shs1_next(to, &want) != CS_SHS1_RECV || want != len) return 1;
  if (cs_shs1_produce(from, buf, sizeof buf) != 0) return 1;
  if (flip_pos >= 0 && (size_t)flip_pos < len) buf[flip_pos] ^= mask;
  return cs_shs1_consume(to, buf, len);
}

/* Runs the messages from `first` (1-4) to the end, untouched. */
static int run_handshake_from(peers_t *p, int first) {
  for (int msg = first; msg <= 4; msg++) {
    int client_sends = (msg % 2) == 1;
    int rc = exchange(client_sends ? &p->client : &p->server,
                      client_sends ? &p->server : &p->client, -1, 0);
    if (rc != 0) return rc;
  }
  return 0;
}

/* Runs the four messages. Tampers with message `flip_msg` (1-4, 0 for
 * none). Returns 0 when all four were accepted, else sets `*fail_msg` to
 * the rejected message and returns the receiver's error. */
static int run_handshake(peers_t *p, int flip_msg, long flip_pos,
                         uint8_t mask, int *fail_msg) {
  int msg;
  for (msg = 1; msg <= 4; msg++) {
    int client_sends = (msg % 2) == 1;
    cs_shs1_t *from = client_sends ? &p->client : &p->server;
    cs_shs1_t *to = client_sends ? &p->server : &p->client;
    int rc = exchange(from, to, msg == flip_msg ? flip_pos : -1, mask);
    if (rc != 0) {
      if (fail_msg != NULL) *fail_msg = msg;
      return rc;
    }
  }
  if (fail_msg != NULL) *fail_msg = 0;
  return 0;
}

static void test_handshake_ok(void) {
  peers_t p;
  const cs_shs1_session_t *c, *s;
  size_t len = 99;
  int fail_msg = -1;
  peers_keys(&p, 7);
  CHECK(peers_init(&p) == 0);
  CHECK(cs_shs1_next(&p.client, &len) == CS_SHS1_SEND && len == 64);
  CHECK(cs_shs1_next(&p.server, &len) == CS_SHS1_RECV && len == 64);
  CHECK(cs_shs1_session(&p.client) == NULL);
  CHECK(cs_shs1_peer_pk(&p.client) == NULL);
  CHECK(run_handshake(&p, 0, -1, 0, &fail_msg) == 0 && fail_msg == 0);
  CHECK(cs_shs1_next(&p.client, &len) == CS_SHS1_DONE && len == 0);
  CHECK(cs_shs1_next(&p.server, &len) == CS_SHS1_DONE && len == 0);
  c = cs_shs1_session(&p.client);
  s = cs_shs1_session(&p.server);
  CHECK(c != NULL && s != NULL);
  if (c == NULL || s == NULL) return;
  CHECK(memcmp(c->enc_key, s->dec_key, 32) == 0);
  CHECK(memcmp(c->enc_nonce, s->dec_nonce, 24) == 0);
  CHECK(memcmp(c->dec_key, s->enc_key, 32) == 0);
  CHECK(memcmp(c->dec_nonce, s->enc_nonce, 24) == 0);
  CHECK(memcmp(c->enc_key, c->dec_key, 32) != 0);
  CHECK(memcmp(c->peer_pk, p.server_pk, 32) == 0);
  CHECK(memcmp(s->peer_pk, p.client_pk, 32) == 0);
  CHECK(cs_shs1_peer_pk(&p.server) != NULL &&
        memcmp(cs_shs1_peer_pk(&p.server), p.client_pk, 32) == 0);
  /* A finished machine takes no more messages. */
  {
    uint8_t buf[CS_SHS1_MAX_MSG_BYTES] = {0};
    CHECK(cs_shs1_produce(&p.client, buf, sizeof buf) == -CS_EPROTO);
    CHECK(cs_shs1_consume(&p.server, buf, 64) == -CS_EPROTO);
  }
  cs_shs1_wipe(&p.client);
  cs_shs1_wipe(&p.server);
  CHECK(sodium_is_zero((const unsigned char *)&p.client, sizeof p.client));
  CHECK(cs_shs1_next(&p.client, NULL) == CS_SHS1_FAILED);
  CHECK(cs_shs1_session(&p.client) == NULL);
  cs_shs1_wipe(NULL);
}

/* The server learns the client's key after msg3, before it commits to
 * msg4, so that it can turn away unknown clients. */
static void test_server_peer_before_accept(void) {
  peers_t p;
  peers_keys(&p, 8);
  CHECK(peers_init(&p) == 0);
  CHECK(exchange(&p.client, &p.server, -1, 0) == 0);
  CHECK(cs_shs1_peer_pk(&p.server) == NULL);
  CHECK(exchange(&p.server, &p.client, -1, 0) == 0);
  CHECK(exchange(&p.client, &p.server, -1, 0) == 0);
  CHECK(cs_shs1_peer_pk(&p.server) != NULL &&
        memcmp(cs_shs1_peer_pk(&p.server), p.client_pk, 32) == 0);
  CHECK(cs_shs1_session(&p.server) == NULL);
  CHECK(cs_shs1_peer_pk(&p.client) == NULL);
  cs_shs1_wipe(&p.client);
  cs_shs1_wipe(&p.server);
}

static void test_wrong_netkey(void) {
  peers_t p;
  int fail_msg = -1;
  peers_keys(&p, 9);
  CHECK(cs_shs1_client_init(&p.client, p.netkey, p.client_sk, p.client_eph,
                            p.server_pk) == 0);
  p.netkey[5] ^= 1;
  CHECK(cs_shs1_server_init(&p.server, p.netkey, p.server_sk,
                            p.server_eph) == 0);
  CHECK(run_handshake(&p, 0, -1, 0, &fail_msg) == -CS_EHANDSHAKE);
  CHECK(fail_msg == 1);
  CHECK(cs_shs1_next(&p.server, NULL) == CS_SHS1_FAILED);
  /* A failed machine has dropped its secrets and refuses to go on. */
  CHECK(sodium_is_zero(p.server.eph_sk, sizeof p.server.eph_sk));
  {
    uint8_t buf[64] = {0};
    CHECK(cs_shs1_produce(&p.server, buf, sizeof buf) == -CS_EPROTO);
    CHECK(cs_shs1_consume(&p.server, buf, sizeof buf) == -CS_EPROTO);
  }
  cs_shs1_wipe(&p.client);
}

/* A server on one port for several networks: a client of any of them
 * completes the handshake under its own key, the server says which one,
 * and the session equals the one a single-key server would make; a client
 * of none of them is turned away at its hello. */
static void test_server_several_netkeys(void) {
  enum { KEYS = 5 };
  uint8_t keys[KEYS][32];
  for (int k = 0; k < KEYS; k++) randombytes_buf(keys[k], 32);
  for (int used = 0; used < KEYS; used++) {
    peers_t p, single;
    int fail_msg = -1;
    peers_keys(&p, 20);
    memcpy(p.netkey, keys[used], 32);
    single = p;
    CHECK(cs_shs1_client_init(&p.client, p.netkey, p.client_sk, p.client_eph,
                              p.server_pk) == 0);
    CHECK(cs_shs1_server_init_keys(&p.server,
                                   (const uint8_t(*)[32])keys, KEYS,
                                   p.server_sk, p.server_eph) == 0);
    CHECK(cs_shs1_netkey_index(&p.server) == -1);
    CHECK(exchange(&p.client, &p.server, -1, 0) == 0);
    CHECK(cs_shs1_netkey_index(&p.server) == used);
    /* Only the key in use stays in the machine. */
    CHECK(sodium_is_zero(&p.server.netkeys[0][0], sizeof p.server.netkeys));
    CHECK(run_handshake_from(&p, 2) == 0);
    CHECK(cs_shs1_netkey_index(&p.server) == used);
    CHECK(cs_shs1_netkey_index(&p.client) == -1);
    /* The same handshake with a server that holds only that key. */
    CHECK(peers_init(&single) == 0);
    CHECK(run_handshake(&single, 0, -1, 0, &fail_msg) == 0);
    const cs_shs1_session_t *a = cs_shs1_session(&p.server);
    const cs_shs1_session_t *b = cs_shs1_session(&single.server);
    CHECK(a != NULL && b != NULL && memcmp(a, b, sizeof *a) == 0);
    cs_shs1_wipe(&p.client);
    cs_shs1_wipe(&p.server);
    cs_shs1_wipe(&single.client);
    cs_shs1_wipe(&single.server);
  }
  {
    peers_t p;
    int fail_msg = -1;
    peers_keys(&p, 21); /* a random network key, none of the server's */
    CHECK(peers_init(&p) == 0);
    CHECK(cs_shs1_server_init_keys(&p.server,
                                   (const uint8_t(*)[32])keys, KEYS,
                                   p.server_sk, p.server_eph) == 0);
    CHECK(run_handshake(&p, 0, -1, 0, &fail_msg) == -CS_EHANDSHAKE);
    CHECK(fail_msg == 1);
    CHECK(cs_shs1_netkey_index(&p.server) == -1);
    CHECK(sodium_is_zero((const unsigned char *)&p.server, sizeof p.server));
    cs_shs1_wipe(&p.client);
  }
  {
    cs_shs1_t hs;
    uint8_t sk[64], pk[32], eph[32] = {1};
    static uint8_t many[CS_SHS1_NETKEYS_MAX + 1][32];
    crypto_sign_keypair(pk, sk);
    CHECK(cs_shs1_server_init_keys(&hs, (const uint8_t(*)[32])many, 0, sk,
                                   eph) == -CS_EINVAL);
    CHECK(cs_shs1_server_init_keys(&hs, (const uint8_t(*)[32])many,
                                   CS_SHS1_NETKEYS_MAX + 1, sk,
                                   eph) == -CS_EINVAL);
    CHECK(cs_shs1_server_init_keys(&hs, NULL, 1, sk, eph) == -CS_EINVAL);
    CHECK(cs_shs1_server_init_keys(&hs, (const uint8_t(*)[32])many,
                                   CS_SHS1_NETKEYS_MAX, sk, eph) == 0);
    cs_shs1_wipe(&hs);
  }
}

/* A client that expects another server fails at msg3: the server cannot
 * open a box sealed to a key it does not hold. */
static void test_wrong_server_key(void) {
  peers_t p;
  uint8_t other_pk[32], other_sk[64];
  int fail_msg = -1;
  peers_keys(&p, 10);
  crypto_sign_keypair(other_pk, other_sk);
  CHECK(cs_shs1_client_init(&p.client, p.netkey, p.client_sk, p.client_eph,
                            other_pk) == 0);
  CHECK(cs_shs1_server_init(&p.server, p.netkey, p.server_sk,
                            p.server_eph) == 0);
  CHECK(run_handshake(&p, 0, -1, 0, &fail_msg) == -CS_EHANDSHAKE);
  CHECK(fail_msg == 3);
  CHECK(cs_shs1_next(&p.server, NULL) == CS_SHS1_FAILED);
  CHECK(cs_shs1_session(&p.client) == NULL);
  cs_shs1_wipe(&p.client);
}

/* Flips every bit position class (low, high, all bits) at every byte of
 * every message; the receiver must reject each one at that message. */
static void test_flipped_bytes(void) {
  static const size_t sizes[5] = {0, 64, 64, 112, 80};
  static const uint8_t masks[3] = {0x01, 0x80, 0xff};
  int msg;
  for (msg = 1; msg <= 4; msg++) {
    int wrong = 0;
    size_t pos;
    for (pos = 0; pos < sizes[msg]; pos++) {
      size_t m;
      for (m = 0; m < sizeof masks; m++) {
        peers_t p;
        int fail_msg = -1;
        int rc;
        cs_shs1_t *receiver;
        peers_keys(&p, (uint8_t)(20 + msg));
        if (peers_init(&p) != 0) {
          wrong++;
          continue;
        }
        rc = run_handshake(&p, msg, (long)pos, masks[m], &fail_msg);
        receiver = (msg % 2) == 1 ? &p.server : &p.client;
        if (rc >= 0 || fail_msg != msg ||
            cs_shs1_next(receiver, NULL) != CS_SHS1_FAILED) {
          if (wrong == 0)
            fprintf(stderr, "msg%d byte %zu mask %02x: rc %d at msg%d\n", msg,
                    pos, masks[m], rc, fail_msg);
          wrong++;
        }
        cs_shs1_wipe(&p.client);
        cs_shs1_wipe(&p.server);
      }
    }
    CHECK(wrong == 0);
  }
}

/* A box that opens but holds a bad signature is -CS_ESIG on both sides;
 * the test builds it from the machines' own secrets. */
static void test_bad_signatures(void) {
  static const uint8_t zero_nonce[24];
  peers_t p;
  uint8_t msg3[112], msg4[80], plain[96], key3[32];
  crypto_hash_sha256_state st;

  peers_keys(&p, 11);
  CHECK(peers_init(&p) == 0);
  CHECK(exchange(&p.client, &p.server, -1, 0) == 0);
  CHECK(exchange(&p.server, &p.client, -1, 0) == 0);
  randombytes_buf(plain, sizeof plain);
  crypto_hash_sha256_init(&st);
  crypto_hash_sha256_update(&st, p.server.netkey, 32);
  crypto_hash_sha256_update(&st, p.server.ab, 32);
  crypto_hash_sha256_update(&st, p.server.aB, 32);
  crypto_hash_sha256_final(&st, key3);
  crypto_secretbox_easy(msg3, plain, sizeof plain, zero_nonce, key3);
  CHECK(cs_shs1_consume(&p.server, msg3, sizeof msg3) == -CS_ESIG);

  /* Same for msg4, with a random "signature" under the right box key. */
  peers_keys(&p, 12);
  CHECK(peers_init(&p) == 0);
  CHECK(exchange(&p.client, &p.server, -1, 0) == 0);
  CHECK(exchange(&p.server, &p.client, -1, 0) == 0);
  CHECK(exchange(&p.client, &p.server, -1, 0) == 0);
  randombytes_buf(plain, 64);
  crypto_secretbox_easy(msg4, plain, 64, zero_nonce, p.client.key4);
  CHECK(cs_shs1_consume(&p.client, msg4, sizeof msg4) == -CS_ESIG);
  CHECK(cs_shs1_session(&p.client) == NULL);
  cs_shs1_wipe(&p.server);
}

/* Someone who knows the network key sends a low-order ephemeral key,
 * which would make the shared secret predictable. */
static void test_low_order_ephemeral(void) {
  peers_t p;
  uint8_t msg1[64];
  peers_keys(&p, 13);
  CHECK(peers_init(&p) == 0);
  memset(msg1 + 32, 0, 32);
  crypto_auth(msg1, msg1 + 32, 32, p.netkey);
  CHECK(cs_shs1_consume(&p.server, msg1, sizeof msg1) == -CS_EHANDSHAKE);
  cs_shs1_wipe(&p.client);
}

static void test_api_misuse(void) {
  peers_t p;
  uint8_t buf[CS_SHS1_MAX_MSG_BYTES];
  uint8_t bad_sk[64];
  uint8_t identity_pk[32] = {1};
  size_t len;
  peers_keys(&p, 14);
  CHECK(peers_init(&p) == 0);
  /* Out of order: the server cannot speak first, the client cannot
   * listen first. */
  CHECK(cs_shs1_produce(&p.server, buf, sizeof buf) == -CS_EPROTO);
  CHECK(cs_shs1_consume(&p.client, buf, 64) == -CS_EPROTO);
  /* Caller mistakes leave the machine where it was. */
  memset(buf, 0xee, sizeof buf);
  CHECK(cs_shs1_produce(&p.client, buf, 63) == -CS_EINVAL);
  CHECK(buf[0] == 0xee);
  CHECK(cs_shs1_produce(&p.client, NULL, 64) == -CS_EINVAL);
  CHECK(cs_shs1_next(&p.client, &len) == CS_SHS1_SEND && len == 64);
  CHECK(cs_shs1_produce(&p.client, buf, 64) == 0);
  CHECK(cs_shs1_consume(&p.server, buf, 63) == -CS_EINVAL);
  CHECK(cs_shs1_consume(&p.server, buf, 65) == -CS_EINVAL);
  CHECK(cs_shs1_consume(&p.server, NULL, 64) == -CS_EINVAL);
  CHECK(cs_shs1_next(&p.server, NULL) == CS_SHS1_RECV);
  CHECK(cs_shs1_consume(&p.server, buf, 64) == 0);
  CHECK(cs_shs1_produce(NULL, buf, 64) == -CS_EINVAL);
  CHECK(cs_shs1_consume(NULL, buf, 64) == -CS_EINVAL);
  CHECK(cs_shs1_next(NULL, &len) == CS_SHS1_FAILED && len == 0);
  cs_shs1_wipe(&p.client);
  cs_shs1_wipe(&p.server);

  /* A secret key whose public half does not match its seed. */
  memcpy(bad_sk, p.server_sk, 64);
  bad_sk[40] ^= 1;
  CHECK(cs_shs1_server_init(&p.server, p.netkey, bad_sk, p.server_eph) ==
        -CS_EINVAL);
  CHECK(cs_shs1_next(&p.server, NULL) == CS_SHS1_FAILED);
  /* An expected server key that is not a usable point. */
  CHECK(cs_shs1_client_init(&p.client, p.netkey, p.client_sk, p.client_eph,
                            identity_pk) == -CS_EINVAL);
  CHECK(cs_shs1_client_init(&p.client, NULL, p.client_sk, p.client_eph,
                            p.server_pk) == -CS_EINVAL);
  CHECK(cs_shs1_server_init(NULL, p.netkey, p.server_sk, p.server_eph) ==
        -CS_EINVAL);
}

/* Vectors made with the JavaScript modules shs1-crypto 1.0.2 (the code
 * behind the shs1-test suite) and pull-box-stream 1.0.13: long-term keys
 * from seeds of 32 bytes 0x01 (client) and 0x02 (server), ephemerals the
 * Curve25519 forms of the keys from seeds 0x03 and 0x04, and the main
 * Scuttlebutt network key. */
static const char *const kat_netkey =
    "d4a1cb88a66f02f8db635ce26441cc5dac1b08420ceaac230839b755845a9ffb";
static const char *const kat_client_eph =
    "98aebbb178a551876bfaf8e1e530dac6aaf6c2ea1c8f8406a3ab37dfb40fbc65";
static const char *const kat_server_eph =
    "483e3c145d7e680a16676925fc045183d2f510cb2f660a1fc517c73762185d43";
static const char *const kat_msg[5] = {
    NULL,
    "28c218018fb494285b3c31cee451d460d8d73f843a99baceb564dd5f46f3278e"
    "75e270df2952c57ba8367ba8618c178f9fe50db2799d304e74e918d985686146",
    "c1bea72b1b06c117aba5ab1ab0cf41f6af08b4426fe0c1ae9db73f39d8f28855"
    "edd03cade80d29de6ea313a74ab369f4732ecb36649066b78b5b2dd664cb0417",
    "12e62a78b59fa4dec4cbd8d0935ac65bce246bc3078792d9aac6c60aa233d2b4"
    "6a0d432173da44343196baa17541ed5d55d67ef3c10addc8a30c9760b5f95fab"
    "f92ee384747c8bbd00e89d6c5304d23fb295dc136df45559c88964f0b987ff05"
    "b04b73820145fb31d2c957c3c35d6e4e",
    "23857ffb1ffe8b56bb10f971a0876327a11b93f913d8010f43fe8929f9965502"
    "c9ca7ba1b7c798b1f7527016d1a3c4c16c91068595a49743db7a20e6f1f2b36b"
    "30e213db669c77b48438c6b66ba17f5d"};
static const char *const kat_client_enc_key =
    "1b09decc219671538c81bddc7761450c6f75a083ba2a9febb65212c2068c7f83";
static const char *const kat_client_enc_nonce =
    "c1bea72b1b06c117aba5ab1ab0cf41f6af08b4426fe0c1ae";
static const char *const kat_client_dec_key =
    "6bc54c9e93faee942fc509d606506bcda45c1d7984a6e8890e19b68bcd9cbd40";
static const char *const kat_client_dec_nonce =
    "28c218018fb494285b3c31cee451d460d8d73f843a99bace";

static void test_known_answer_handshake(void) {
  static const size_t sizes[5] = {0, 64, 64, 112, 80};
  peers_t p;
  uint8_t seed[32], expect[112], got[112];
  uint8_t enc_key[32], enc_nonce[24], dec_key[32], dec_nonce[24];
  const cs_shs1_session_t *c, *s;
  int msg;

  memset(seed, 1, sizeof seed);
  crypto_sign_seed_keypair(p.client_pk, p.client_sk, seed);
  memset(seed, 2, sizeof seed);
  crypto_sign_seed_keypair(p.server_pk, p.server_sk, seed);
  CHECK(unhex(p.netkey, 32, kat_netkey) == 0);
  CHECK(unhex(p.client_eph, 32, kat_client_eph) == 0);
  CHECK(unhex(p.server_eph, 32, kat_server_eph) == 0);
  CHECK(peers_init(&p) == 0);
  for (msg = 1; msg <= 4; msg++) {
    cs_shs1_t *from = (msg % 2) == 1 ? &p.client : &p.server;
    cs_shs1_t *to = (msg % 2) == 1 ? &p.server : &p.client;
    size_t n = sizes[msg];
    CHECK(unhex(expect, n, kat_msg[msg]) == 0);
    CHECK(cs_shs1_produce(from, got, sizeof got) == 0);
    CHECK(memcmp(got, expect, n) == 0);
    CHECK(cs_shs1_consume(to, got, n) == 0);
  }
  CHECK(unhex(enc_key, 32, kat_client_enc_key) == 0);
  CHECK(unhex(enc_nonce, 24, kat_client_enc_nonce) == 0);
  CHECK(unhex(dec_key, 32, kat_client_dec_key) == 0);
  CHECK(unhex(dec_nonce, 24, kat_client_dec_nonce) == 0);
  c = cs_shs1_session(&p.client);
  s = cs_shs1_session(&p.server);
  CHECK(c != NULL && s != NULL);
  if (c == NULL || s == NULL) return;
  CHECK(memcmp(c->enc_key, enc_key, 32) == 0);
  CHECK(memcmp(c->enc_nonce, enc_nonce, 24) == 0);
  CHECK(memcmp(c->dec_key, dec_key, 32) == 0);
  CHECK(memcmp(c->dec_nonce, dec_nonce, 24) == 0);
  CHECK(memcmp(s->dec_key, enc_key, 32) == 0);
  CHECK(memcmp(s->enc_nonce, dec_nonce, 24) == 0);
  cs_shs1_wipe(&p.client);
  cs_shs1_wipe(&p.server);
}

/* pull-box-stream sealing "hello" then "world!" then goodbye. The nonce
 * ends in ff fe so the second box's header nonce carries across bytes. */
static const char *const kat_box_nonce =
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaafffe";
static const char *const kat_box_stream =
    "bccc98c99f086ba93bfdbdeedc063934dbd337a8a83382a6df0f7903be3f0f616c65"
    "5d92f2ae38584f2949dcc7103d8c66372c0fe8e0914549911205610e7accb6ebc0e5"
    "695083bf6cb2eb5ba3a014aff164e571c2e6c28c3f7861f815f325de1999166c90ba"
    "aac2ab958ec3bff7fce45c";
#define KAT_BOX_LEN (34u + 5u + 34u + 6u + 34u)

static void box_key(uint8_t key[32]) {
  uint8_t i;
  for (i = 0; i < 32; i++) key[i] = i;
}

static void test_boxstream_known_answer(void) {
  cs_boxstream_enc_t enc;
  cs_boxstream_dec_t dec;
  uint8_t key[32], nonce[24], expect[KAT_BOX_LEN], got[KAT_BOX_LEN];
  uint8_t mac[16], body[16];
  size_t body_len = 0;

  box_key(key);
  CHECK(unhex(nonce, 24, kat_box_nonce) == 0);
  CHECK(unhex(expect, sizeof expect, kat_box_stream) == 0);
  CHECK(cs_boxstream_enc_init(&enc, key, nonce) == 0);
  CHECK(cs_boxstream_seal(&enc, (const uint8_t *)"hello", 5, got,
                          sizeof got) == 0);
  CHECK(cs_boxstream_seal(&enc, (const uint8_t *)"world!", 6, got + 39,
                          sizeof got - 39) == 0);
  CHECK(cs_boxstream_goodbye(&enc, got + 79, sizeof got - 79) == 0);
  CHECK(memcmp(got, expect, sizeof expect) == 0);

  CHECK(cs_boxstream_dec_init(&dec, key, nonce) == 0);
  CHECK(cs_boxstream_open_header(&dec, expect, &body_len, mac) == 0);
  CHECK(body_len == 5);
  CHECK(cs_boxstream_open_body(&dec, mac, expect + 34, 5, body,
                               sizeof body) == 0);
  CHECK(memcmp(body, "hello", 5) == 0);
  CHECK(cs_boxstream_open_header(&dec, expect + 39, &body_len, mac) == 0);
  CHECK(body_len == 6);
  CHECK(cs_boxstream_open_body(&dec, mac, expect + 73, 6, body,
                               sizeof body) == 0);
  CHECK(memcmp(body, "world!", 6) == 0);
  CHECK(cs_boxstream_open_header(&dec, expect + 79, &body_len, mac) ==
        -CS_ECLOSED);
  cs_boxstream_enc_wipe(&enc);
  cs_boxstream_dec_wipe(&dec);
}

/* Client and server talk over box-stream with the handshake's keys. */
static void test_boxstream_roundtrip(void) {
  static const size_t sizes[] = {1, 2, 255, 256, 1000, 4095, 4096};
  static uint8_t body[CS_BOXSTREAM_MAX_BODY];
  static uint8_t wire[CS_BOXSTREAM_SEALED_BYTES(CS_BOXSTREAM_MAX_BODY)];
  static uint8_t out[CS_BOXSTREAM_MAX_BODY];
  peers_t p;
  const cs_shs1_session_t *c, *s;
  cs_boxstream_enc_t c2s, s2c;
  cs_boxstream_dec_t s_in, c_in;
  size_t i, body_len;
  uint8_t mac[16];
  int round;

  peers_keys(&p, 30);
  CHECK(peers_init(&p) == 0);
  CHECK(run_handshake(&p, 0, -1, 0, NULL) == 0);
  c = cs_shs1_session(&p.client);
  s = cs_shs1_session(&p.server);
  CHECK(c != NULL && s != NULL);
  if (c == NULL || s == NULL) return;
  CHECK(cs_boxstream_enc_init(&c2s, c->enc_key, c->enc_nonce) == 0);
  CHECK(cs_boxstream_dec_init(&c_in, c->dec_key, c->dec_nonce) == 0);
  CHECK(cs_boxstream_enc_init(&s2c, s->enc_key, s->enc_nonce) == 0);
  CHECK(cs_boxstream_dec_init(&s_in, s->dec_key, s->dec_nonce) == 0);
  cs_shs1_wipe(&p.client);
  cs_shs1_wipe(&p.server);

  randombytes_buf(body, sizeof body);
  for (round = 0; round < 2; round++) {
    cs_boxstream_enc_t *enc = round == 0 ? &c2s : &s2c;
    cs_boxstream_dec_t *dec = round == 0 ? &s_in : &c_in;
    int bad = 0;
    for (i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
      size_t n = sizes[i];
      if (cs_boxstream_seal(enc, body, n, wire, sizeof wire) != 0) bad++;
      if (cs_boxstream_open_header(dec, wire, &body_len, mac) != 0 ||
          body_len != n)
        bad++;
      /* Decrypting in place, as a network layer with one buffer would. */
      if (cs_boxstream_open_body(dec, mac, wire + 34, n, wire + 34, n) != 0 ||
          memcmp(wire + 34, body, n) != 0)
        bad++;
    }
    CHECK(bad == 0);
  }
  /* The directions use different keys: a client box does not open as a
   * server box. */
  CHECK(cs_boxstream_seal(&c2s, body, 10, wire, sizeof wire) == 0);
  CHECK(cs_boxstream_open_header(&c_in, wire, &body_len, mac) ==
        -CS_EPROTO);
  CHECK(cs_boxstream_open_header(&s_in, wire, &body_len, mac) == 0);
  CHECK(cs_boxstream_open_body(&s_in, mac, wire + 34, 10, out, sizeof out) ==
        0);

  /* Goodbye ends the stream on both sides. */
  CHECK(cs_boxstream_goodbye(&c2s, wire, sizeof wire) == 0);
  CHECK(cs_boxstream_seal(&c2s, body, 1, wire + 34, sizeof wire - 34) ==
        -CS_ECLOSED);
  CHECK(cs_boxstream_goodbye(&c2s, wire + 34, sizeof wire - 34) ==
        -CS_ECLOSED);
  CHECK(cs_boxstream_open_header(&s_in, wire, &body_len, mac) == -CS_ECLOSED);
  CHECK(cs_boxstream_open_header(&s_in, wire, &body_len, mac) == -CS_ECLOSED);
  cs_boxstream_enc_wipe(&c2s);
  cs_boxstream_enc_wipe(&s2c);
  cs_boxstream_dec_wipe(&s_in);
  cs_boxstream_dec_wipe(&c_in);
}

/* Seals one 20-byte box with a fresh pair of states. */
static void seal_one(cs_boxstream_enc_t *enc, cs_boxstream_dec_t *dec,
                     uint8_t wire[54]) {
  uint8_t key[32], nonce[24], body[20];
  box_key(key);
  memset(nonce, 0x42, sizeof nonce);
  memset(body, 'x', sizeof body);
  if (cs_boxstream_enc_init(enc, key, nonce) != 0 ||
      cs_boxstream_dec_init(dec, key, nonce) != 0 ||
      cs_boxstream_seal(enc, body, sizeof body, wire, 54) != 0)
    memset(wire, 0, 54);
}

static void test_boxstream_tamper(void) {
  cs_boxstream_enc_t enc;
  cs_boxstream_dec_t dec;
  uint8_t wire[54], out[20], mac[16];
  size_t pos, body_len;
  int bad = 0;

  /* Every byte of the header. */
  for (pos = 0; pos < 34; pos++) {
    seal_one(&enc, &dec, wire);
    wire[pos] ^= 0x01;
    body_len = 777;
    if (cs_boxstream_open_header(&dec, wire, &body_len, mac) != -CS_EPROTO ||
        body_len != 777)
      bad++;
    /* The decoder stays failed even for a genuine header afterwards. */
    wire[pos] ^= 0x01;
    if (cs_boxstream_open_header(&dec, wire, &body_len, mac) != -CS_EPROTO)
      bad++;
  }
  CHECK(bad == 0);

  /* Every byte of the body; the output buffer stays untouched. */
  bad = 0;
  for (pos = 34; pos < 54; pos++) {
    seal_one(&enc, &dec, wire);
    wire[pos] ^= 0x80;
    memset(out, 0xee, sizeof out);
    if (cs_boxstream_open_header(&dec, wire, &body_len, mac) != 0 ||
        body_len != 20)
      bad++;
    if (cs_boxstream_open_body(&dec, mac, wire + 34, 20, out, sizeof out) !=
        -CS_EPROTO)
      bad++;
    for (body_len = 0; body_len < sizeof out; body_len++)
      if (out[body_len] != 0xee) bad++;
  }
  CHECK(bad == 0);

  /* A wrong body MAC from the caller is a failure too. */
  seal_one(&enc, &dec, wire);
  CHECK(cs_boxstream_open_header(&dec, wire, &body_len, mac) == 0);
  mac[0] ^= 1;
  CHECK(cs_boxstream_open_body(&dec, mac, wire + 34, 20, out, sizeof out) ==
        -CS_EPROTO);
  cs_boxstream_enc_wipe(&enc);
  cs_boxstream_dec_wipe(&dec);
}

static void test_boxstream_limits(void) {
  static uint8_t big[CS_BOXSTREAM_MAX_BODY + 1];
  static uint8_t wire[CS_BOXSTREAM_SEALED_BYTES(CS_BOXSTREAM_MAX_BODY + 1)];
  cs_boxstream_enc_t enc;
  cs_boxstream_dec_t dec;
  uint8_t key[32], nonce[24], header[18], boxed[34], mac[16], out[20];
  size_t body_len = 0;

  box_key(key);
  memset(nonce, 7, sizeof nonce);
  CHECK(cs_boxstream_enc_init(&enc, key, nonce) == 0);
  CHECK(cs_boxstream_dec_init(&dec, key, nonce) == 0);

  /* Sealing rejects bad sizes before writing anything. */
  memset(wire, 0xee, sizeof wire);
  CHECK(cs_boxstream_seal(&enc, big, 0, wire, sizeof wire) == -CS_EINVAL);
  CHECK(cs_boxstream_seal(&enc, big, CS_BOXSTREAM_MAX_BODY + 1, wire,
                          sizeof wire) == -CS_EINVAL);
  CHECK(cs_boxstream_seal(&enc, big, 10, wire, 43) == -CS_EINVAL);
  CHECK(cs_boxstream_seal(&enc, NULL, 10, wire, sizeof wire) == -CS_EINVAL);
  CHECK(cs_boxstream_goodbye(&enc, wire, 33) == -CS_EINVAL);
  CHECK(wire[0] == 0xee && wire[42] == 0xee);
  /* None of those used a nonce, so the stream still lines up. */
  CHECK(cs_boxstream_seal(&enc, big, 10, wire, 44) == 0);
  CHECK(cs_boxstream_open_header(&dec, wire, &body_len, mac) == 0);
  /* A header while a body is due, and a body of the wrong length. */
  CHECK(cs_boxstream_open_body(&dec, mac, wire + 34, 9, out, sizeof out) ==
        -CS_EINVAL);
  CHECK(cs_boxstream_open_body(&dec, mac, wire + 34, 10, out, 9) ==
        -CS_EINVAL);
  CHECK(cs_boxstream_open_body(&dec, mac, wire + 34, 10, out, sizeof out) ==
        0);
  CHECK(cs_boxstream_open_body(&dec, mac, wire + 34, 10, out, sizeof out) ==
        -CS_EPROTO);

  /* An authentic header announcing 4097 bytes, made with the key directly
   * at the decoder's next nonce (the start nonce plus two). */
  nonce[23] = (uint8_t)(nonce[23] + 2);
  memset(header, 0x11, sizeof header);
  header[0] = 0x10;
  header[1] = 0x01;
  crypto_secretbox_easy(boxed, header, sizeof header, nonce, key);
  body_len = 5;
  CHECK(cs_boxstream_open_header(&dec, boxed, &body_len, mac) ==
        -CS_ETOOBIG);
  CHECK(body_len == 5);
  CHECK(cs_boxstream_open_header(&dec, boxed, &body_len, mac) ==
        -CS_EPROTO);

  /* An empty body is legal on the wire and still authenticated. */
  CHECK(cs_boxstream_dec_init(&dec, key, nonce) == 0);
  {
    uint8_t body_nonce[24];
    memcpy(body_nonce, nonce, 24);
    body_nonce[23] = (uint8_t)(body_nonce[23] + 1);
    header[0] = 0;
    header[1] = 0;
    crypto_secretbox_detached(out, header + 2, out, 0, body_nonce, key);
    crypto_secretbox_easy(boxed, header, sizeof header, nonce, key);
  }
  CHECK(cs_boxstream_open_header(&dec, boxed, &body_len, mac) == 0);
  CHECK(body_len == 0);
  CHECK(cs_boxstream_open_body(&dec, mac, NULL, 0, NULL, 0) == 0);

  /* Uninitialised and wiped states refuse to work with a zero key. */
  cs_boxstream_enc_wipe(&enc);
  cs_boxstream_dec_wipe(&dec);
  CHECK(cs_boxstream_seal(&enc, big, 1, wire, sizeof wire) == -CS_EPROTO);
  CHECK(cs_boxstream_goodbye(&enc, wire, sizeof wire) == -CS_EPROTO);
  CHECK(cs_boxstream_open_header(&dec, boxed, &body_len, mac) == -CS_EPROTO);
  CHECK(cs_boxstream_enc_init(NULL, key, nonce) == -CS_EINVAL);
  CHECK(cs_boxstream_dec_init(&dec, NULL, nonce) == -CS_EINVAL);
  CHECK(cs_boxstream_open_header(&dec, boxed, &body_len, mac) == -CS_EPROTO);
  CHECK(cs_boxstream_open_header(NULL, boxed, &body_len, mac) == -CS_EINVAL);
  cs_boxstream_enc_wipe(NULL);
  cs_boxstream_dec_wipe(NULL);
}

int main(void) {
  if (sodium_init() < 0) {
    fprintf(stderr, "sodium_init failed\n");
    return 1;
  }
  test_handshake_ok();
  test_server_peer_before_accept();
  test_wrong_netkey();
  test_wrong_server_key();
  test_server_several_netkeys();
  test_flipped_bytes();
  test_bad_signatures();
  test_low_order_ephemeral();
  test_api_misuse();
  test_known_answer_handshake();
  test_boxstream_known_answer();
  test_boxstream_roundtrip();
  test_boxstream_tamper();
  test_boxstream_limits();
  printf("%d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}
