/* Fuzzes the box-stream decoder with a fixed key.
 *
 * The input is a small program that builds a byte stream with the encoder
 * (same key) and damages it; the decoder then reads the stream the way a
 * connection does (34-byte header, then the body it announces):
 *
 * | OP (byte % 7) | ARGUMENTS            | EFFECT                                   |
 * |---------------|----------------------|------------------------------------------|
 * | 0             | u16 len, len bytes   | seal a body (len 0 or > 4096 must fail)  |
 * | 1             | u8 n, n bytes        | append raw bytes                         |
 * | 2             | u16 pos, u8 mask     | flip bits of one stream byte             |
 * | 3             |                      | goodbye (sealing afterwards must fail)   |
 * | 4             | u8 n                 | cut n bytes off the end                  |
 * | 5             |                      | append a copy of the last sealed box     |
 * | 6             |                      | next body: first try the wrong length    |
 *
 * Properties: a body that opens is exactly the body sealed at that position
 * (nothing forged, replayed or reordered gets through); a stream that was
 * not damaged decodes completely; after a failure or goodbye every call is
 * refused. The first input byte picks the starting nonce (all 0xff tests
 * the counter's wrap-around). */
#include "tests/fuzz/fuzz_common.h"

#include "core/boxstream.h"

#define FRAMES_MAX 256
#define STREAM_MAX (FRAMES_MAX * CS_BOXSTREAM_SEALED_BYTES(CS_BOXSTREAM_MAX_BODY))

typedef struct prog_s {
  const uint8_t *p, *end;
} prog_t;

static size_t take(prog_t *g, size_t n) {
  size_t left = (size_t)(g->end - g->p);
  return n < left ? n : left;
}
static unsigned u8(prog_t *g) { return take(g, 1) ? *g->p++ : 0; }
static unsigned u16(prog_t *g) {
  unsigned hi = u8(g);
  return hi << 8 | u8(g);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_sodium_init();
  if (size < 1) return 0;
  uint8_t key[CS_BOXSTREAM_KEY_BYTES], nonce[CS_BOXSTREAM_NONCE_BYTES];
  memset(key, 0x5a, sizeof(key));
  memset(nonce, data[0] & 1 ? 0xff : 0x00, sizeof(nonce));
  nonce[0] = data[0];

  cs_boxstream_enc_t enc;
  cs_boxstream_dec_t dec;
  FUZZ_CHECK(cs_boxstream_enc_init(&enc, key, nonce) == 0);
  FUZZ_CHECK(cs_boxstream_dec_init(&dec, key, nonce) == 0);

  static uint8_t stream[STREAM_MAX];
  /* Bodies sealed, in order, as offsets into the input. */
  const uint8_t *body_at[FRAMES_MAX];
  size_t body_len[FRAMES_MAX];
  size_t frames = 0, len = 0, last_box = 0, last_box_len = 0;
  size_t goodbye_after = SIZE_MAX; /* frames sealed before goodbye */
  int damaged = 0, wrong_length_first = 0;

  prog_t g = {data + 1, data + size};
  while (g.p < g.end && frames < FRAMES_MAX) {
    unsigned op = u8(&g) % 7;
    if (op == 0) {
      size_t n = u16(&g) % (CS_BOXSTREAM_MAX_BODY + 2);
      size_t have = take(&g, n);
      int rc = cs_boxstream_seal(&enc, g.p, have, stream + len, STREAM_MAX - len);
      if (goodbye_after != SIZE_MAX) {
        FUZZ_CHECK(rc == -CS_ECLOSED);
      } else if (have == 0 || have > CS_BOXSTREAM_MAX_BODY) {
        FUZZ_CHECK(rc == -CS_EINVAL);
      } else {
        FUZZ_CHECK(rc == 0);
        body_at[frames] = g.p;
        body_len[frames] = have;
        frames++;
        last_box = len;
        last_box_len = CS_BOXSTREAM_SEALED_BYTES(have);
        len += last_box_len;
      }
      g.p += have;
    } else if (op == 1) {
      size_t n = take(&g, u8(&g));
      if (n > STREAM_MAX - len) break;
      memcpy(stream + len, g.p, n);
      g.p += n;
      len += n;
      damaged |= n > 0;
    } else if (op == 2) {
      unsigned pos = u16(&g), mask = u8(&g);
      if (len > 0 && mask != 0) {
        stream[pos % len] ^= (uint8_t)mask;
        damaged = 1;
      }
    } else if (op == 3) {
      if (STREAM_MAX - len < CS_BOXSTREAM_HEADER_BYTES) break;
      int rc = cs_boxstream_goodbye(&enc, stream + len, STREAM_MAX - len);
      if (goodbye_after != SIZE_MAX) {
        FUZZ_CHECK(rc == -CS_ECLOSED);
      } else {
        FUZZ_CHECK(rc == 0);
        goodbye_after = frames;
        len += CS_BOXSTREAM_HEADER_BYTES;
      }
    } else if (op == 4) {
      size_t n = u8(&g);
      if (n > 0 && len > 0) {
        len -= n < len ? n : len;
        damaged = 1;
      }
    } else if (op == 5) {
      if (last_box_len > 0 && last_box_len <= STREAM_MAX - len) {
        memmove(stream + len, stream + last_box, last_box_len);
        len += last_box_len;
        damaged = 1;
      }
    } else {
      wrong_length_first = 1;
    }
  }

  /* Read it back as a connection would. */
  uint8_t body[CS_BOXSTREAM_MAX_BODY + 1], mac[CS_BOXSTREAM_MAC_BYTES];
  size_t at = 0, opened = 0;
  int end = 0; /* 0 running, 1 goodbye, 2 refused, 3 short */
  while (!end) {
    if (len - at < CS_BOXSTREAM_HEADER_BYTES) {
      end = 3;
      break;
    }
    size_t n = 0;
    int rc = cs_boxstream_open_header(&dec, stream + at, &n, mac);
    at += CS_BOXSTREAM_HEADER_BYTES;
    if (rc == -CS_ECLOSED) {
      /* Only our own goodbye, at its place, authenticates. */
      FUZZ_CHECK(goodbye_after == opened);
      end = 1;
      break;
    }
    if (rc != 0) {
      FUZZ_CHECK(rc == -CS_EPROTO || rc == -CS_ETOOBIG);
      end = 2;
      break;
    }
    FUZZ_CHECK(n <= CS_BOXSTREAM_MAX_BODY);
    FUZZ_CHECK(opened < frames && n == body_len[opened]);
    if (len - at < n) {
      end = 3;
      break;
    }
    if (wrong_length_first && n < CS_BOXSTREAM_MAX_BODY) {
      /* A caller's wrong length is refused without killing the stream. */
      FUZZ_CHECK(cs_boxstream_open_body(&dec, mac, stream + at, n + 1, body, sizeof(body)) == -CS_EINVAL);
    }
    rc = cs_boxstream_open_body(&dec, mac, stream + at, n, body, sizeof(body));
    at += n;
    if (rc != 0) {
      FUZZ_CHECK(rc == -CS_EPROTO);
      end = 2;
      break;
    }
    FUZZ_CHECK(memcmp(body, body_at[opened], n) == 0);
    opened++;
  }

  if (!damaged) {
    /* An intact stream reads back whole. */
    FUZZ_CHECK(opened == frames);
    FUZZ_CHECK(end == (goodbye_after != SIZE_MAX ? 1 : 3));
    FUZZ_CHECK(at == len);
  }
  if (end == 1 || end == 2) {
    size_t n;
    int rc = cs_boxstream_open_header(&dec, stream, &n, mac);
    FUZZ_CHECK(rc == (end == 1 ? -CS_ECLOSED : -CS_EPROTO));
    rc = cs_boxstream_open_body(&dec, mac, stream, 0, body, sizeof(body));
    FUZZ_CHECK(rc == (end == 1 ? -CS_ECLOSED : -CS_EPROTO));
  }
  cs_boxstream_enc_wipe(&enc);
  cs_boxstream_dec_wipe(&dec);
  return 0;
}
