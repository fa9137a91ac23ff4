/* Fuzzes the Secret Handshake server machine with client messages.
 *
 * Random bytes never pass the hello's HMAC, so the harness can also play
 * the client's part, keyed with the network key, and let the fuzzer choose
 * what matters beyond it. The first byte picks the mode:
 *
 * | MODE (% 5) | CLIENT MESSAGES                                              |
 * |------------|--------------------------------------------------------------|
 * | 0          | msg1 and msg3 raw from the input                             |
 * | 1          | msg1 = valid HMAC over an ephemeral key chosen by the input  |
 * |            | (low-order points and the like), msg3 raw                    |
 * | 2          | honest msg1; msg3 boxed under the right key around 96 bytes  |
 * |            | chosen by the input (signature and client key)               |
 * | 3          | the real client machine; the input XORs masks into msg1 and  |
 * |            | msg3; with zero masks the handshake must succeed             |
 * | 4          | calls in any order with any lengths and capacities           |
 *
 * The scripted modes (0 to 2) run a server that holds three network keys,
 * the client's second.
 *
 * Properties: a rejected message leaves the machine FAILED and every later
 * call refused; a wrong length or short buffer is the caller's error and
 * leaves the state as it was; the server learns a peer key only from a
 * valid msg3; a completed handshake gives both sides matching keys. */
#include "tests/fuzz/fuzz_common.h"

#include "core/shs1.h"

typedef struct prog_s {
  const uint8_t *p, *end;
} prog_t;

/* Copies n bytes from the input, zero-padding past its end. */
static void take(prog_t *g, uint8_t *out, size_t n) {
  size_t left = (size_t)(g->end - g->p), k = n < left ? n : left;
  memcpy(out, g->p, k);
  memset(out + k, 0, n - k);
  g->p += k;
}

static uint8_t netkey[32], server_pk[32], server_sk[64], client_pk[32], client_sk[64];

static void keys_init(void) {
  static int done;
  if (done) return;
  memset(netkey, 0x42, sizeof(netkey));
  fuzz_key(1, server_pk, server_sk);
  fuzz_key(2, client_pk, client_sk);
  done = 1;
}

/* After a failure, everything is refused. */
static void check_dead(cs_shs1_t *hs) {
  uint8_t buf[CS_SHS1_MAX_MSG_BYTES] = {0};
  size_t n = 1;
  FUZZ_CHECK(cs_shs1_next(hs, &n) == CS_SHS1_FAILED && n == 0);
  FUZZ_CHECK(cs_shs1_consume(hs, buf, CS_SHS1_MSG1_BYTES) == -CS_EPROTO);
  FUZZ_CHECK(cs_shs1_consume(hs, buf, CS_SHS1_MSG3_BYTES) == -CS_EPROTO);
  FUZZ_CHECK(cs_shs1_produce(hs, buf, sizeof(buf)) == -CS_EPROTO);
  FUZZ_CHECK(cs_shs1_peer_pk(hs) == NULL && cs_shs1_session(hs) == NULL);
}

/* Feeds one message; on failure checks the machine is dead and returns 0. */
static int feed(cs_shs1_t *hs, const uint8_t *msg, size_t len) {
  int rc = cs_shs1_consume(hs, msg, len);
  if (rc != 0) {
    FUZZ_CHECK(rc == -CS_EHANDSHAKE || rc == -CS_ESIG);
    check_dead(hs);
    return 0;
  }
  return 1;
}

static void produce(cs_shs1_t *hs, uint8_t *out) {
  size_t n;
  FUZZ_CHECK(cs_shs1_next(hs, &n) == CS_SHS1_SEND);
  FUZZ_CHECK(cs_shs1_produce(hs, out, n) == 0);
}

/* Boxes a msg3 plaintext the way an honest client with ephemeral secret
 * eph would, given the server's hello. */
static void box_auth(const uint8_t eph[32], const uint8_t msg2[64], const uint8_t plain[96], uint8_t out[112]) {
  uint8_t ab[32], aB[32], curve[32], key3[32], nonce[24] = {0};
  crypto_hash_sha256_state st;
  if (crypto_scalarmult(ab, eph, msg2 + 32) != 0) memset(ab, 0, 32);
  FUZZ_CHECK(crypto_sign_ed25519_pk_to_curve25519(curve, server_pk) == 0);
  if (crypto_scalarmult(aB, eph, curve) != 0) memset(aB, 0, 32);
  crypto_hash_sha256_init(&st);
  crypto_hash_sha256_update(&st, netkey, 32);
  crypto_hash_sha256_update(&st, ab, 32);
  crypto_hash_sha256_update(&st, aB, 32);
  crypto_hash_sha256_final(&st, key3);
  crypto_secretbox_easy(out, plain, 96, nonce, key3);
}

static void mode_scripted(prog_t *g, unsigned mode, const uint8_t eph_server[32]) {
  cs_shs1_t hs;
  uint8_t msg1[64], msg2[64], msg3[112], msg4[80], eph[32];
  /* The server serves three networks, the client's in the middle: msg1
   * is checked under each (core/shs1.h), the one it used is named. */
  uint8_t keys[3][32];
  memset(keys[0], 0x41, 32);
  memcpy(keys[1], netkey, 32);
  memset(keys[2], 0x43, 32);
  FUZZ_CHECK(cs_shs1_server_init_keys(&hs, (const uint8_t(*)[32])keys, 3, server_sk, eph_server) == 0);
  if (mode == 0) {
    take(g, msg1, sizeof(msg1));
  } else if (mode == 1) {
    take(g, msg1 + 32, 32);
    crypto_auth(msg1, msg1 + 32, 32, netkey);
  } else {
    take(g, eph, sizeof(eph));
    crypto_scalarmult_base(msg1 + 32, eph);
    crypto_auth(msg1, msg1 + 32, 32, netkey);
  }
  FUZZ_CHECK(cs_shs1_peer_pk(&hs) == NULL);
  if (!feed(&hs, msg1, sizeof(msg1))) goto done;
  FUZZ_CHECK(cs_shs1_netkey_index(&hs) == 1);
  produce(&hs, msg2);
  FUZZ_CHECK(crypto_auth_verify(msg2, msg2 + 32, 32, netkey) == 0);
  if (mode == 2) {
    uint8_t plain[96];
    take(g, plain, sizeof(plain));
    box_auth(eph, msg2, plain, msg3);
  } else {
    take(g, msg3, sizeof(msg3));
  }
  FUZZ_CHECK(cs_shs1_peer_pk(&hs) == NULL);
  if (!feed(&hs, msg3, sizeof(msg3))) goto done;
  /* Only a client holding a key can sign; the harness's plaintext could
   * carry a valid signature only by copying one, so whoever got here is
   * the key inside msg3, and the server now names it. */
  FUZZ_CHECK(cs_shs1_peer_pk(&hs) != NULL);
  produce(&hs, msg4);
  FUZZ_CHECK(cs_shs1_next(&hs, NULL) == CS_SHS1_DONE && cs_shs1_session(&hs) != NULL);
done:
  cs_shs1_wipe(&hs);
  check_dead(&hs);
}

static void mode_client(prog_t *g, const uint8_t eph_server[32]) {
  cs_shs1_t server, client;
  uint8_t eph[32], mask1[64], mask3[112], msg1[64], msg2[64], msg3[112], msg4[80];
  take(g, eph, sizeof(eph));
  take(g, mask1, sizeof(mask1));
  take(g, mask3, sizeof(mask3));
  FUZZ_CHECK(cs_shs1_server_init(&server, netkey, server_sk, eph_server) == 0);
  FUZZ_CHECK(cs_shs1_client_init(&client, netkey, client_sk, eph, server_pk) == 0);
  int clean = sodium_is_zero(mask1, sizeof(mask1)) && sodium_is_zero(mask3, sizeof(mask3));
  produce(&client, msg1);
  for (size_t i = 0; i < sizeof(msg1); i++) msg1[i] ^= mask1[i];
  if (!feed(&server, msg1, sizeof(msg1))) {
    FUZZ_CHECK(!clean);
    goto done;
  }
  produce(&server, msg2);
  if (cs_shs1_consume(&client, msg2, sizeof(msg2)) != 0) {
    /* The server echoes nothing of msg1 but may have taken a bad key. */
    FUZZ_CHECK(!clean);
    goto done;
  }
  produce(&client, msg3);
  for (size_t i = 0; i < sizeof(msg3); i++) msg3[i] ^= mask3[i];
  if (!feed(&server, msg3, sizeof(msg3))) {
    FUZZ_CHECK(!clean);
    goto done;
  }
  FUZZ_CHECK(memcmp(cs_shs1_peer_pk(&server), client_pk, 32) == 0);
  produce(&server, msg4);
  FUZZ_CHECK(cs_shs1_consume(&client, msg4, sizeof(msg4)) == 0);
  const cs_shs1_session_t *s = cs_shs1_session(&server), *c = cs_shs1_session(&client);
  FUZZ_CHECK(s && c);
  FUZZ_CHECK(memcmp(s->enc_key, c->dec_key, 32) == 0 && memcmp(s->dec_key, c->enc_key, 32) == 0);
  FUZZ_CHECK(memcmp(s->enc_nonce, c->dec_nonce, 24) == 0 && memcmp(s->dec_nonce, c->enc_nonce, 24) == 0);
  FUZZ_CHECK(memcmp(c->peer_pk, server_pk, 32) == 0);
done:
  cs_shs1_wipe(&server);
  cs_shs1_wipe(&client);
}

static void mode_calls(prog_t *g, const uint8_t eph_server[32]) {
  cs_shs1_t hs;
  uint8_t buf[256];
  FUZZ_CHECK(cs_shs1_server_init(&hs, netkey, server_sk, eph_server) == 0);
  while (g->p < g->end) {
    uint8_t op[2];
    take(g, op, 2);
    size_t need;
    cs_shs1_next_t before = cs_shs1_next(&hs, &need);
    size_t len = op[1] % (CS_SHS1_MAX_MSG_BYTES + 2);
    if (op[0] & 1) {
      take(g, buf, len);
      int rc = cs_shs1_consume(&hs, buf, len);
      if (before != CS_SHS1_RECV) FUZZ_CHECK(rc == -CS_EPROTO);
      else if (len != need) FUZZ_CHECK(rc == -CS_EINVAL && cs_shs1_next(&hs, NULL) == before);
      else if (rc != 0) check_dead(&hs);
    } else {
      int rc = cs_shs1_produce(&hs, buf, len);
      if (before != CS_SHS1_SEND) FUZZ_CHECK(rc == -CS_EPROTO);
      else if (len < need) FUZZ_CHECK(rc == -CS_EINVAL && cs_shs1_next(&hs, NULL) == before);
      else FUZZ_CHECK(rc == 0);
    }
    if (op[0] & 2) {
      /* NULL arguments are refused, never dereferenced. */
      FUZZ_CHECK(cs_shs1_consume(&hs, NULL, need) != 0);
      FUZZ_CHECK(cs_shs1_produce(&hs, NULL, need) != 0);
    }
  }
  cs_shs1_wipe(&hs);
  check_dead(&hs);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_sodium_init();
  keys_init();
  if (size < 1) return 0;
  prog_t g = {data + 1, data + size};
  uint8_t eph_server[32];
  memset(eph_server, 0x77, sizeof(eph_server));
  unsigned mode = data[0] % 5;
  if (mode <= 2) mode_scripted(&g, mode, eph_server);
  else if (mode == 3) mode_client(&g, eph_server);
  else mode_calls(&g, eph_server);
  return 0;
}
