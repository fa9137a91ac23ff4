/* Server program for the shs1-test conformance suite (npm "shs1-test").
 *
 * Invoked as: shs1_server NETWORK_ID_HEX SERVER_SK_HEX SERVER_PK_HEX
 * (32, 64 and 32 bytes, hex-encoded). Speaks the server side of the
 * handshake over stdin/stdout: reads msg1 (64), writes msg2 (64), reads
 * msg3 (112), writes msg4 (80), then writes its outcome, 112 bytes:
 * encryption key (32), encryption nonce (24), decryption key (32),
 * decryption nonce (24). A misbehaving client makes it exit with status 1
 * without writing anything more; bad arguments exit with status 2. */

#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "core/shs1.h"

/* Decodes exactly `n` bytes from a hex string with nothing left over. */
static int hex_arg(uint8_t *out, size_t n, const char *hex) {
  size_t got = 0;
  const char *end = NULL;
  size_t len = strlen(hex);
  if (len != 2 * n) return -1;
  if (sodium_hex2bin(out, n, hex, len, NULL, &got, &end) != 0) return -1;
  return (got == n && end == hex + len) ? 0 : -1;
}

/* Reads exactly `n` bytes; a short stream is a peer failure. */
static int read_exact(int fd, uint8_t *buf, size_t n) {
  size_t off = 0;
  while (off < n) {
    ssize_t r = read(fd, buf + off, n - off);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return -1;
    off += (size_t)r;
  }
  return 0;
}

static int write_all(int fd, const uint8_t *buf, size_t n) {
  size_t off = 0;
  while (off < n) {
    ssize_t w = write(fd, buf + off, n - off);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return -1;
    off += (size_t)w;
  }
  return 0;
}

static const char *err_name(int rc) {
  switch (-rc) {
  case CS_EINVAL: return "EINVAL";
  case CS_EPROTO: return "EPROTO";
  case CS_EHANDSHAKE: return "EHANDSHAKE";
  case CS_ESIG: return "ESIG";
  default: return "unknown";
  }
}

/* Drives the machine to the end over stdin/stdout. Returns 0 when the
 * handshake completed, 1 when it failed. */
static int run(cs_shs1_t *hs) {
  uint8_t buf[CS_SHS1_MAX_MSG_BYTES];
  size_t len;
  int msgno = 1;
  cs_shs1_next_t next;
  while ((next = cs_shs1_next(hs, &len)) == CS_SHS1_SEND ||
         next == CS_SHS1_RECV) {
    int rc;
    if (next == CS_SHS1_SEND) {
      rc = cs_shs1_produce(hs, buf, sizeof buf);
      if (rc == 0 && write_all(STDOUT_FILENO, buf, len) != 0) {
        fprintf(stderr, "shs1_server: cannot write msg%d\n", msgno);
        return 1;
      }
    } else {
      if (read_exact(STDIN_FILENO, buf, len) != 0) {
        fprintf(stderr, "shs1_server: stream ended before msg%d\n", msgno);
        return 1;
      }
      rc = cs_shs1_consume(hs, buf, len);
    }
    if (rc != 0) {
      fprintf(stderr, "shs1_server: msg%d failed: %s\n", msgno,
              err_name(rc));
      return 1;
    }
    msgno++;
  }
  return next == CS_SHS1_DONE ? 0 : 1;
}

int main(int argc, char **argv) {
  uint8_t netkey[CS_SHS1_NETKEY_BYTES];
  uint8_t sk[CS_SHS1_SK_BYTES];
  uint8_t pk[CS_SHS1_PK_BYTES];
  uint8_t eph[CS_SHS1_EPH_BYTES];
  uint8_t outcome[2 * (CS_SHS1_KEY_BYTES + CS_SHS1_NONCE_BYTES)];
  const cs_shs1_session_t *s;
  cs_shs1_t hs;
  int rc;

  if (argc != 4) {
    fprintf(stderr, "usage: %s NETWORK_ID_HEX SERVER_SK_HEX SERVER_PK_HEX\n",
            argv[0]);
    return 2;
  }
  if (sodium_init() < 0) {
    fprintf(stderr, "shs1_server: sodium_init failed\n");
    return 2;
  }
  if (hex_arg(netkey, sizeof netkey, argv[1]) != 0 ||
      hex_arg(sk, sizeof sk, argv[2]) != 0 ||
      hex_arg(pk, sizeof pk, argv[3]) != 0 ||
      sodium_memcmp(pk, sk + 32, sizeof pk) != 0) {
    fprintf(stderr, "shs1_server: bad arguments\n");
    return 2;
  }
  randombytes_buf(eph, sizeof eph);
  rc = cs_shs1_server_init(&hs, netkey, sk, eph);
  sodium_memzero(sk, sizeof sk);
  sodium_memzero(eph, sizeof eph);
  if (rc != 0) {
    fprintf(stderr, "shs1_server: init failed: %s\n", err_name(rc));
    return 2;
  }
  if (run(&hs) != 0) {
    cs_shs1_wipe(&hs);
    return 1;
  }
  s = cs_shs1_session(&hs);
  memcpy(outcome, s->enc_key, 32);
  memcpy(outcome + 32, s->enc_nonce, 24);
  memcpy(outcome + 56, s->dec_key, 32);
  memcpy(outcome + 88, s->dec_nonce, 24);
  cs_shs1_wipe(&hs);
  rc = write_all(STDOUT_FILENO, outcome, sizeof outcome);
  sodium_memzero(outcome, sizeof outcome);
  return rc == 0 ? 0 : 1;
}
