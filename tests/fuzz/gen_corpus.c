/* Writes the seed corpus of every fuzz harness: valid inputs built with the
 * project's own encoders, and near-valid ones (one byte flipped, cut short,
 * a count or a length off by one) that stop at each check in turn.
 *
 *   gen_corpus OUT_DIR      (tests/fuzz/gen_corpus.sh builds and runs it)
 *
 * Everything is deterministic (fixed keys, fixed clock), so running it
 * again rewrites the same files. Files named regress-* are crash inputs
 * kept by hand and are never touched here. */
#include "tests/fuzz/fuzz_fixture.h"
#include "tests/fuzz/fuzz_audit.h"

#include <errno.h>
#include <stdarg.h>
#include <sys/stat.h>

#include "core/boxstream.h"
#include "core/bundle.h"
#include "core/decision.h"
#include "core/members.h"
#include "core/object.h"
#include "core/shs1.h"
#include "core/sync.h"

static const char *out_dir;
static int written;

static void mkdir_p(const char *path) {
  if (mkdir(path, 0755) != 0 && errno != EEXIST) {
    perror(path);
    exit(1);
  }
}

static void put(const char *target, const char *name, const void *data, size_t len) {
  char path[512];
  snprintf(path, sizeof(path), "%s/%s", out_dir, target);
  mkdir_p(path);
  snprintf(path, sizeof(path), "%s/%s/seed-%s", out_dir, target, name);
  FILE *f = fopen(path, "wb");
  if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
    perror(path);
    exit(1);
  }
  written++;
}

static void put_buf(const char *target, const char *name, const cs_buf_t *b) {
  if (b->failed) {
    fprintf(stderr, "%s/%s: buffer overflow\n", target, name);
    exit(1);
  }
  put(target, name, b->data, b->len);
}

/* The same bytes with one byte XORed. */
static void put_flipped(const char *target, const char *name, const uint8_t *data, size_t len, size_t at,
                        uint8_t mask) {
  uint8_t *copy = malloc(len);
  memcpy(copy, data, len);
  copy[at % len] ^= mask;
  put(target, name, copy, len);
  free(copy);
}

static fixture_t fx;

/* change ------------------------------------------------------------------ */

static void gen_change(void) {
  cs_change_t *c = malloc(sizeof(*c));
  char name[64];
  for (int i = 0; i < FIXTURE_CHANGES; i++) {
    cs_span_t s = cs_buf_span(&fx.ch[i].bytes);
    snprintf(name, sizeof(name), "signed-%d", i);
    put("change", name, s.ptr, s.len);
    if (cs_change_decode(s, c) != CS_OK) abort();
    snprintf(name, sizeof(name), "payload-%d", i);
    put("change", name, c->payload_bytes.ptr, c->payload_bytes.len);
  }
  /* Near-valid signed changes, each failing one check. */
  cs_span_t s = cs_buf_span(&fx.ch[4].bytes);
  if (cs_change_decode(s, c) != CS_OK) abort();
  size_t header_at = (size_t)(c->header_bytes.ptr - s.ptr);
  size_t sig_at = header_at + c->header_bytes.len + 2; /* after c4 40 */
  size_t payload_at = (size_t)(c->payload_bytes.ptr - s.ptr);
  put("change", "truncated", s.ptr, s.len - 1);
  put_flipped("change", "bad-signature", s.ptr, s.len, sig_at + 5, 0x01);
  put_flipped("change", "bad-payload-hash", s.ptr, s.len, payload_at + 3, 0x20);
  put_flipped("change", "bad-version", s.ptr, s.len, header_at + 1, 0x02);
  /* Header: 9a, version, club (c4 20 + 32), author (34), then seq 3. */
  put_flipped("change", "seq-zero", s.ptr, s.len, header_at + 1 + 1 + 34 + 34, 0x03);
  /* An extra item after the three parts. */
  cs_buf_t b;
  cs_buf_init(&b, CS_CHANGE_SIGNED_MAX + 16);
  cs_buf_append(&b, s.ptr, s.len);
  b.data[0] = 0x94;
  cs_mp_write_nil(&b);
  put_buf("change", "four-items", &b);

  /* Payload edge cases. */
  cs_buf_reset(&b);
  cs_mp_write_array(&b, CS_CHANGE_OPS_MAX);
  cs_op_write_create(&b, CS_OBJ_REQUEST, NULL);
  for (int i = 1; i < CS_CHANGE_OPS_MAX; i++) cs_op_write_add_str(&b, cs_ref_local(0), CS_F_REQ_TAGS, "t");
  put_buf("change", "payload-ops-max", &b);
  cs_buf_reset(&b);
  cs_mp_write_array(&b, CS_CHANGE_OPS_MAX + 1);
  for (int i = 0; i <= CS_CHANGE_OPS_MAX; i++) cs_op_write_create(&b, CS_OBJ_REQUEST, NULL);
  put_buf("change", "payload-ops-over", &b);
  cs_buf_reset(&b);
  /* 70 creates, then refs to op 63 and 64 (only the first 64 may be named). */
  cs_mp_write_array(&b, 72);
  for (int i = 0; i < 70; i++) cs_op_write_create(&b, CS_OBJ_REQUEST, NULL);
  cs_op_write_set_str(&b, cs_ref_local(63), CS_F_REQ_TITLE, "a", 0, NULL);
  cs_op_write_set_str(&b, cs_ref_local(64), CS_F_REQ_TITLE, "b", 0, NULL);
  put_buf("change", "payload-local-64", &b);
  cs_buf_reset(&b);
  uint8_t preds[CS_PREDS_MAX + 1][CS_ID_LEN];
  memset(preds, 0x5c, sizeof(preds));
  cs_mp_write_array(&b, 2);
  cs_op_write_create(&b, CS_OBJ_REQUEST, NULL);
  cs_op_write_set_str(&b, cs_ref_local(0), CS_F_REQ_TITLE, "x", CS_PREDS_MAX + 1, (const uint8_t(*)[CS_ID_LEN])preds);
  put_buf("change", "payload-preds-over", &b);
  cs_buf_reset(&b);
  /* A value that is a container (refused) and one nested 20 deep. */
  cs_mp_write_array(&b, 2);
  cs_op_write_create(&b, CS_OBJ_REQUEST, NULL);
  cs_mp_write_array(&b, 5);
  cs_mp_write_uint(&b, CS_OP_SET);
  cs_mp_write_uint(&b, 0);
  cs_mp_write_uint(&b, CS_F_REQ_TITLE);
  for (int i = 0; i < 20; i++) cs_mp_write_array(&b, 1);
  cs_mp_write_nil(&b);
  cs_mp_write_array(&b, 0);
  put_buf("change", "payload-nested-value", &b);
  cs_buf_reset(&b);
  cs_mp_write_array(&b, 2);
  cs_op_write_member(&b, fx.pk[1], "Musée B", CS_ROLE_ADMIN, 7);
  cs_op_write_create(&b, CS_OBJ_REQUEST, NULL);
  put_buf("change", "payload-member-mixed", &b);
  cs_buf_reset(&b);
  cs_mp_write_array(&b, 1);
  cs_mp_write_array(&b, 2);
  cs_mp_write_uint(&b, 99);
  cs_mp_write_nil(&b);
  put_buf("change", "payload-unknown-op", &b);
  cs_buf_free(&b);
  free(c);
}

/* bundle ------------------------------------------------------------------ */

static void bundle_of(cs_buf_t *out, cs_bundle_kind_t kind, int first, int count) {
  cs_bundle_writer_t w;
  cs_bundle_header_t h = {.kind = kind};
  memcpy(h.club, fx.club, CS_ID_LEN);
  cs_buf_reset(out);
  cs_bundle_write_header(&w, &h, out);
  for (int i = first; i < first + count; i++)
    if (cs_bundle_write_change(&w, cs_buf_span(&fx.ch[i].bytes), out) != CS_OK) abort();
  cs_bundle_write_trailer(&w, out);
}

static void gen_bundle(void) {
  cs_buf_t b;
  cs_buf_init(&b, 1 << 20);
  bundle_of(&b, CS_BUNDLE_CHANGES, 0, FIXTURE_CHANGES);
  put_buf("bundle", "all", &b);
  put("bundle", "truncated-trailer", b.data, b.len - 1);
  put("bundle", "truncated-record", b.data, CS_BUNDLE_HEADER_LEN + 40);
  put_flipped("bundle", "bad-trailer-hash", b.data, b.len, b.len - 3, 0x40);
  put_flipped("bundle", "bad-count", b.data, b.len, b.len - 33, 0x01);
  put_flipped("bundle", "bad-record", b.data, b.len, CS_BUNDLE_HEADER_LEN + 60, 0x08);
  put_flipped("bundle", "bad-version", b.data, b.len, 8, 0x03);
  put_flipped("bundle", "bad-kind", b.data, b.len, 9, 0x07);
  put_flipped("bundle", "bad-magic", b.data, b.len, 0, 0x01);
  /* A record length over the limit: the first length's top byte. */
  put_flipped("bundle", "record-too-big", b.data, b.len, CS_BUNDLE_HEADER_LEN, 0x01);
  bundle_of(&b, CS_BUNDLE_AUDIT, 0, 2);
  put_buf("bundle", "audit", &b);
  bundle_of(&b, CS_BUNDLE_CHANGES, 0, 0);
  put_buf("bundle", "empty", &b);
  put("bundle", "header-only", b.data, CS_BUNDLE_HEADER_LEN);
  cs_buf_free(&b);
}

/* frame ------------------------------------------------------------------- */

static void gen_frame(void) {
  cs_buf_t b;
  cs_buf_init(&b, 1 << 16);
  /* nonce byte, then ops (see fuzz_frame.c). */
  static const uint8_t hello[] = {0x00, 0, 0, 5, 'h', 'e', 'l', 'l', 'o', 0, 0, 3, 'a', 'b', 'c', 3};
  put("frame", "two-boxes-goodbye", hello, sizeof(hello));
  uint8_t wrap[] = {0x01, 0, 0, 4, 'w', 'r', 'a', 'p', 0, 0, 2, 'o', 'k'};
  put("frame", "nonce-wraps", wrap, sizeof(wrap));
  uint8_t flipped[] = {0x00, 0, 0, 3, 'a', 'b', 'c', 0, 0, 3, 'd', 'e', 'f', 2, 0, 40, 0x10};
  put("frame", "flipped-body", flipped, sizeof(flipped));
  uint8_t header_flip[] = {0x00, 0, 0, 3, 'a', 'b', 'c', 2, 0, 1, 0x80};
  put("frame", "flipped-header", header_flip, sizeof(header_flip));
  uint8_t replay[] = {0x00, 0, 0, 3, 'a', 'b', 'c', 5, 0, 0, 1, 'z'};
  put("frame", "replayed-box", replay, sizeof(replay));
  uint8_t cut[] = {0x00, 0, 0, 6, 'a', 'b', 'c', 'd', 'e', 'f', 4, 2};
  put("frame", "cut-short", cut, sizeof(cut));
  uint8_t garbage[] = {0x00, 1, 40, 1,   2,   3,   4,   5,   6,   7,   8,   9,   10,  11, 12, 13, 14,
                       15,   16, 17, 18, 19,  20,  21,  22,  23,  24,  25,  26,  27,  28, 29, 30, 31,
                       32,   33, 34, 35, 36,  37,  38,  39,  40,  0,   0,   1,   'x'};
  put("frame", "garbage-first", garbage, sizeof(garbage));
  uint8_t wrong_len[] = {0x00, 6, 0, 0, 4, 'b', 'o', 'd', 'y', 6, 0, 0, 1, '!'};
  put("frame", "wrong-length-call", wrong_len, sizeof(wrong_len));
  uint8_t after_bye[] = {0x00, 3, 0, 0, 2, 'n', 'o', 3};
  put("frame", "seal-after-goodbye", after_bye, sizeof(after_bye));
  uint8_t bad_len[] = {0x00, 0, 0, 0, 0, 0x10, 0x01};
  put("frame", "empty-and-oversize", bad_len, sizeof(bad_len));
  /* One full-size body. */
  cs_buf_append(&b, "\x00\x00\x10\x00", 4);
  for (int i = 0; i < 4096; i++) cs_buf_append(&b, &(uint8_t){(uint8_t)i}, 1);
  cs_buf_append(&b, "\x03", 1);
  put_buf("frame", "max-body", &b);
  cs_buf_free(&b);
}

/* handshake --------------------------------------------------------------- */

static void gen_handshake(void) {
  uint8_t netkey[32], spk[32], ssk[64], cpk[32], csk[64], eph_server[32], eph[32];
  memset(netkey, 0x42, sizeof(netkey));
  fuzz_key(1, spk, ssk);
  fuzz_key(2, cpk, csk);
  memset(eph_server, 0x77, sizeof(eph_server));
  memset(eph, 0x31, sizeof(eph));
  cs_buf_t b;
  cs_buf_init(&b, 4096);

  /* Mode 3, zero masks: an honest handshake. */
  uint8_t in[1 + 32 + 64 + 112] = {3};
  memcpy(in + 1, eph, 32);
  put("handshake", "client-honest", in, sizeof(in));
  in[1 + 32 + 64 + 50] = 0x04;
  put("handshake", "client-msg3-flipped", in, sizeof(in));
  in[1 + 32 + 64 + 50] = 0;
  in[1 + 32 + 5] = 0x80;
  put("handshake", "client-msg1-flipped", in, sizeof(in));

  /* Mode 0: the raw messages of the same honest client, and one with a
   * wrong network key. The server's reply depends only on fixed values, so
   * msg3 can be computed here. */
  cs_shs1_t client, server;
  uint8_t msg1[64], msg2[64], msg3[112];
  if (cs_shs1_client_init(&client, netkey, csk, eph, spk) || cs_shs1_server_init(&server, netkey, ssk, eph_server) ||
      cs_shs1_produce(&client, msg1, sizeof(msg1)) || cs_shs1_consume(&server, msg1, sizeof(msg1)) ||
      cs_shs1_produce(&server, msg2, sizeof(msg2)) || cs_shs1_consume(&client, msg2, sizeof(msg2)) ||
      cs_shs1_produce(&client, msg3, sizeof(msg3)))
    abort();
  cs_buf_append(&b, "\x00", 1);
  cs_buf_append(&b, msg1, sizeof(msg1));
  cs_buf_append(&b, msg3, sizeof(msg3));
  put_buf("handshake", "raw-honest", &b);
  put_flipped("handshake", "raw-wrong-netkey", b.data, b.len, 1, 0x01);
  put("handshake", "raw-short", b.data, 1 + 64 + 30);

  /* Mode 1: chosen ephemeral keys with a valid HMAC: zero, a low-order
   * point, the identity, a valid key. */
  static const uint8_t low_order[32] = {0xe0, 0xeb, 0x7a, 0x7c, 0x3b, 0x41, 0xb8, 0xae, 0x16, 0x56, 0xe3,
                                        0xfa, 0xf1, 0x9f, 0xc4, 0x6a, 0xda, 0x09, 0x8d, 0xeb, 0x9c, 0x32,
                                        0xb1, 0xfd, 0x86, 0x62, 0x05, 0x16, 0x5f, 0x49, 0xb8, 0x00};
  uint8_t m1[1 + 32 + 112] = {1};
  put("handshake", "eph-zero", m1, sizeof(m1));
  memcpy(m1 + 1, low_order, 32);
  put("handshake", "eph-low-order", m1, sizeof(m1));
  memset(m1 + 1, 0, 32);
  m1[1] = 1;
  put("handshake", "eph-one", m1, sizeof(m1));
  memcpy(m1 + 1, msg1 + 32, 32);
  memcpy(m1 + 33, msg3, sizeof(msg3));
  put("handshake", "eph-valid", m1, sizeof(m1));

  /* Mode 2: the plaintext of msg3 chosen: the honest one (signature and
   * key), then a wrong key, a key that is not a point, an all-zero one. */
  uint8_t ab[32], ab_hash[32], signed_msg[96], plain[96];
  if (crypto_scalarmult(ab, eph, msg2 + 32) != 0) abort();
  crypto_hash_sha256(ab_hash, ab, 32);
  memcpy(signed_msg, netkey, 32);
  memcpy(signed_msg + 32, spk, 32);
  memcpy(signed_msg + 64, ab_hash, 32);
  crypto_sign_detached(plain, NULL, signed_msg, sizeof(signed_msg), csk);
  memcpy(plain + 64, cpk, 32);
  uint8_t m2[1 + 32 + 96] = {2};
  memcpy(m2 + 1, eph, 32);
  memcpy(m2 + 33, plain, 96);
  put("handshake", "auth-honest", m2, sizeof(m2));
  m2[33 + 64] ^= 0x01;
  put("handshake", "auth-wrong-key", m2, sizeof(m2));
  memset(m2 + 33 + 64, 0xff, 32);
  put("handshake", "auth-not-a-point", m2, sizeof(m2));
  memset(m2 + 33, 0, 96);
  put("handshake", "auth-zero", m2, sizeof(m2));

  /* Mode 4: calls out of order, with wrong lengths and short buffers. */
  uint8_t calls[] = {4, 0, 64, 1, 10, 1, 64, 0, 10, 2, 64, 3, 112, 1, 113};
  put("handshake", "calls", calls, sizeof(calls));
  cs_buf_reset(&b);
  cs_buf_append(&b, "\x04\x01\x40", 3);
  cs_buf_append(&b, msg1, sizeof(msg1));
  cs_buf_append(&b, "\x00\x3f\x00\x40\x01\x70", 6);
  cs_buf_append(&b, msg3, sizeof(msg3));
  cs_buf_append(&b, "\x00\x50\x02\x00", 4);
  put_buf("handshake", "calls-honest", &b);
  cs_shs1_wipe(&client);
  cs_shs1_wipe(&server);
  cs_buf_free(&b);
}

/* record ------------------------------------------------------------------ */

static void gen_record(void) {
  cs_buf_t b, in;
  cs_buf_init(&b, CS_RECORD_MAX);
  cs_buf_init(&in, CS_RECORD_MAX + 1);
  cs_object_t obj;
  cs_object_init(&obj);
  uint8_t op[CS_ID_LEN], op2[CS_ID_LEN];
  obj.type = CS_OBJ_REQUEST;
  memcpy(obj.creator, fx.pk[0], CS_KEY_LEN);
  obj.created_lamport = 2;
  memcpy(obj.created_change, fx.ch[1].id, CS_ID_LEN);
  cs_op_id(fx.ch[1].id, 1, op);
  cs_op_id(fx.ch[2].id, 1, op2);
  cs_span_t title = {(const uint8_t *)"\xae" "Export Joconde", 15};
  cs_span_t other = {(const uint8_t *)"\xa3POP", 4};
  cs_span_t tag = {(const uint8_t *)"\xa4tag1", 5};
  if (cs_object_set(&obj, CS_F_REQ_TITLE, 2, fx.pk[0], op, title, 0, NULL) ||
      cs_object_set(&obj, CS_F_REQ_TITLE, 3, fx.pk[1], op2, other, 0, NULL) ||
      cs_object_add(&obj, CS_F_REQ_TAGS, 3, fx.pk[1], fx.ch[3].id, tag) || cs_object_encode(&obj, &b))
    abort();
  cs_buf_append(&in, "\x00", 1);
  cs_buf_append(&in, b.data, b.len);
  put_buf("record", "object-conflict", &in);
  put("record", "object-truncated", in.data, in.len - 2);
  /* Selector, 95, type, nil parent, 93, creator (34), lamport, change (34),
   * nil tombstone, then the entry count. */
  put_flipped("record", "object-bad-entry-count", in.data, in.len, 1 + 1 + 1 + 1 + 1 + 34 + 1 + 34 + 1, 0x0f);
  cs_object_delete(&obj, 9, fx.pk[0]);
  obj.has_parent = true;
  memcpy(obj.parent, op, CS_ID_LEN);
  obj.type = CS_OBJ_COMMENT;
  if (cs_object_encode(&obj, &b)) abort();
  cs_buf_reset(&in);
  cs_buf_append(&in, "\x00", 1);
  cs_buf_append(&in, b.data, b.len);
  put_buf("record", "object-deleted-comment", &in);
  cs_object_free(&obj);

  cs_member_t *m = calloc(1, sizeof(*m));
  memcpy(m->key, fx.pk[2], CS_KEY_LEN);
  cs_member_entry_t e = {.cutoff = 0, .lamport = 1, .op_index = 1, .role = CS_ROLE_MEMBER};
  memcpy(e.change, fx.ch[0].id, CS_ID_LEN);
  snprintf(e.museum, sizeof(e.museum), "Musée C");
  if (cs_member_insert(m, &e)) abort();
  e.cutoff = 4;
  e.lamport = 6;
  e.role = CS_ROLE_NONE;
  memcpy(e.change, fx.ch[7].id, CS_ID_LEN);
  if (cs_member_insert(m, &e) || cs_member_encode(m, &b)) abort();
  cs_buf_reset(&in);
  cs_buf_append(&in, "\x01", 1);
  cs_buf_append(&in, b.data, b.len);
  put_buf("record", "member-removed", &in);
  put("record", "member-truncated", in.data, in.len - 1);
  put_flipped("record", "member-bad-role", in.data, in.len, in.len - 10, 0x07);
  /* 33 entries: one over the bound. */
  cs_buf_reset(&in);
  cs_buf_append(&in, "\x01", 1);
  {
    cs_buf_t big;
    cs_buf_init(&big, 1 << 16);
    cs_mp_write_array(&big, CS_MEMBER_ENTRIES_MAX + 1);
    for (uint32_t i = 0; i <= CS_MEMBER_ENTRIES_MAX; i++) {
      cs_mp_write_array(&big, 6);
      cs_mp_write_uint(&big, i);
      cs_mp_write_uint(&big, i + 1);
      cs_mp_write_bin(&big, fx.ch[i % FIXTURE_CHANGES].id, CS_ID_LEN);
      cs_mp_write_uint(&big, i);
      cs_mp_write_uint(&big, i % CS_ROLE_COUNT);
      cs_mp_write_cstr(&big, "M");
    }
    cs_buf_append(&in, big.data, big.len);
    cs_buf_free(&big);
  }
  put_buf("record", "member-too-many", &in);
  free(m);
  cs_buf_free(&b);
  cs_buf_free(&in);
}

/* sync -------------------------------------------------------------------- */

/* The peer P of fuzz_sync.c holds changes 0, 1 and 5. */
static const int peer_has[FIXTURE_CHANGES] = {1, 1, 0, 0, 0, 1, 0, 0};

static int peer_vector(void *ctx, int (*each)(const cs_sync_entry_t *entry, void *each_ctx), void *each_ctx) {
  (void)ctx;
  for (int a = 0; a < 3; a++) {
    cs_sync_entry_t e = {.seq = 0};
    for (int i = 0; i < FIXTURE_CHANGES; i++)
      if (peer_has[i] && fx.ch[i].author == a && fx.ch[i].seq > e.seq) {
        e.seq = fx.ch[i].seq;
        memcpy(e.id, fx.ch[i].id, CS_ID_LEN);
      }
    if (e.seq == 0) continue;
    memcpy(e.author, fx.pk[a], CS_KEY_LEN);
    if (each(&e, each_ctx)) break;
  }
  return CS_OK;
}

static void msg_begin(cs_buf_t *msg) { cs_buf_reset(msg); }
static void msg_end(cs_buf_t *session, cs_buf_t *msg) {
  uint8_t len[2] = {(uint8_t)(msg->len >> 8), (uint8_t)msg->len};
  cs_buf_append(session, len, 2);
  cs_buf_append(session, msg->data, msg->len);
}

static void hello(cs_buf_t *msg, uint64_t version, const uint8_t *club, const uint8_t digest[32]) {
  cs_mp_write_array(msg, 4);
  cs_mp_write_uint(msg, CS_SYNC_HELLO);
  cs_mp_write_uint(msg, version);
  cs_mp_write_bin(msg, club, CS_SYNC_PREFIX_LEN);
  cs_mp_write_bin(msg, digest, 32);
}

static void vector(cs_buf_t *msg, int forks) {
  cs_mp_write_array(msg, 2);
  cs_mp_write_uint(msg, CS_SYNC_VECTOR);
  cs_mp_write_array(msg, 1);
  cs_mp_write_array(msg, 4);
  cs_mp_write_bin(msg, fx.pk[0], CS_SYNC_PREFIX_LEN);
  cs_mp_write_uint(msg, 3);
  cs_mp_write_bin(msg, fx.ch[5].id, CS_SYNC_PREFIX_LEN);
  cs_mp_write_uint(msg, (uint64_t)forks);
}

static void changes(cs_buf_t *msg, const int *which, int n, bool last) {
  cs_mp_write_array(msg, 3);
  cs_mp_write_uint(msg, CS_SYNC_CHANGES);
  cs_mp_write_array(msg, (uint32_t)n);
  for (int i = 0; i < n; i++) {
    cs_span_t s = cs_buf_span(&fx.ch[which[i]].bytes);
    cs_mp_write_bin(msg, s.ptr, s.len);
  }
  cs_mp_write_bool(msg, last);
}

static void gen_sync(void) {
  cs_sync_io_t io = {.vector = peer_vector};
  uint8_t digest[32], zero[32] = {0};
  if (cs_sync_vector_digest(&io, digest)) abort();
  cs_buf_t session, msg;
  cs_buf_init(&session, 1 << 20);
  cs_buf_init(&msg, 1 << 16);
  static const int fork[] = {5}, all[] = {0, 1, 5, 7}, junk_free[] = {6};

  for (int flags = 0; flags < 4; flags++) {
    /* The honest session P would run: hello, vector, its changes, done. */
    cs_buf_reset(&session);
    cs_buf_append(&session, &(uint8_t){(uint8_t)(flags | (flags << 2))}, 1);
    msg_begin(&msg), hello(&msg, CS_SYNC_VERSION, fx.club, digest), msg_end(&session, &msg);
    msg_begin(&msg), vector(&msg, 0), msg_end(&session, &msg);
    msg_begin(&msg), changes(&msg, fork, 1, true), msg_end(&session, &msg);
    char name[32];
    snprintf(name, sizeof(name), "session-%d", flags);
    put_buf("sync", name, &session);
  }
  /* Variants. */
  cs_buf_reset(&session);
  cs_buf_append(&session, "\x01", 1);
  msg_begin(&msg), hello(&msg, CS_SYNC_VERSION, fx.club, zero), msg_end(&session, &msg);
  msg_begin(&msg), vector(&msg, 1), msg_end(&session, &msg);
  msg_begin(&msg), changes(&msg, all, 4, false), msg_end(&session, &msg);
  msg_begin(&msg), cs_mp_write_array(&msg, 1), cs_mp_write_uint(&msg, CS_SYNC_DONE), msg_end(&session, &msg);
  msg_begin(&msg), cs_mp_write_array(&msg, 3), cs_mp_write_uint(&msg, CS_SYNC_CHECK), cs_mp_write_bin(&msg, zero, 32),
      cs_mp_write_bool(&msg, false), msg_end(&session, &msg);
  msg_begin(&msg), cs_mp_write_array(&msg, 3), cs_mp_write_uint(&msg, CS_SYNC_CHECK), cs_mp_write_bin(&msg, zero, 32),
      cs_mp_write_bool(&msg, true), msg_end(&session, &msg);
  put_buf("sync", "forks-done-check", &session);

  cs_buf_reset(&session);
  cs_buf_append(&session, "\x00", 1);
  msg_begin(&msg), changes(&msg, junk_free, 1, false), msg_end(&session, &msg);
  put_buf("sync", "changes-before-hello", &session);
  /* Another club's genesis and a change of that club, around one of the
   * session's club: the machine refuses the first two, never stored. */
  cs_buf_t payload, other[2];
  uint8_t other_ids[2][CS_ID_LEN];
  cs_buf_init(&payload, CS_CHANGE_PAYLOAD_MAX);
  for (int i = 0; i < 2; i++) {
    cs_buf_init(&other[i], CS_CHANGE_SIGNED_MAX);
    cs_buf_reset(&payload);
    if (i == 0) {
      cs_mp_write_array(&payload, 1);
      cs_op_write_genesis(&payload, "Un autre club", "Flora", "Musée B");
    } else {
      cs_mp_write_array(&payload, 2);
      cs_op_write_create(&payload, CS_OBJ_REQUEST, NULL);
      cs_op_write_set_str(&payload, cs_ref_local(0), CS_F_REQ_TITLE, "Ailleurs", 0, NULL);
    }
    cs_change_draft_t d = {.club = i ? other_ids[0] : NULL, .author = fx.pk[1], .seq = (uint64_t)i + 1,
                           .prev = i ? other_ids[0] : NULL, .lamport = (uint64_t)i + 1,
                           .payload = cs_buf_span(&payload)};
    if (payload.failed || cs_change_build(&d, fx.sk[1], &other[i], other_ids[i]) != CS_OK) abort();
  }
  cs_buf_reset(&session);
  cs_buf_append(&session, "\x00", 1);
  msg_begin(&msg), hello(&msg, CS_SYNC_VERSION, fx.club, digest), msg_end(&session, &msg);
  msg_begin(&msg), vector(&msg, 0), msg_end(&session, &msg);
  msg_begin(&msg);
  cs_mp_write_array(&msg, 3);
  cs_mp_write_uint(&msg, CS_SYNC_CHANGES);
  cs_mp_write_array(&msg, 3);
  cs_mp_write_bin(&msg, other[0].data, other[0].len);
  cs_mp_write_bin(&msg, fx.ch[5].bytes.data, fx.ch[5].bytes.len);
  cs_mp_write_bin(&msg, other[1].data, other[1].len);
  cs_mp_write_bool(&msg, true);
  msg_end(&session, &msg);
  put_buf("sync", "changes-other-club", &session);
  for (int i = 0; i < 2; i++) cs_buf_free(&other[i]);
  cs_buf_free(&payload);
  cs_buf_reset(&session);
  cs_buf_append(&session, "\x00", 1);
  msg_begin(&msg), hello(&msg, 2, fx.club, digest), msg_end(&session, &msg);
  put_buf("sync", "hello-version-2", &session);
  cs_buf_reset(&session);
  cs_buf_append(&session, "\x00", 1);
  msg_begin(&msg), hello(&msg, CS_SYNC_VERSION, zero, digest), msg_end(&session, &msg);
  put_buf("sync", "hello-other-club", &session);
  cs_buf_reset(&session);
  cs_buf_append(&session, "\x00", 1);
  msg_begin(&msg), hello(&msg, CS_SYNC_VERSION, fx.club, digest), msg_end(&session, &msg);
  msg_begin(&msg), hello(&msg, CS_SYNC_VERSION, fx.club, digest), msg_end(&session, &msg);
  put_buf("sync", "hello-twice", &session);
  cs_buf_reset(&session);
  cs_buf_append(&session, "\x00", 1);
  msg_begin(&msg), hello(&msg, CS_SYNC_VERSION, fx.club, digest), msg_end(&session, &msg);
  msg_begin(&msg), vector(&msg, 0), msg_end(&session, &msg);
  msg_begin(&msg), vector(&msg, 0), msg_end(&session, &msg);
  put_buf("sync", "vector-twice", &session);
  /* A vector whose count promises more entries than follow. */
  cs_buf_reset(&session);
  cs_buf_append(&session, "\x00", 1);
  msg_begin(&msg), hello(&msg, CS_SYNC_VERSION, fx.club, digest), msg_end(&session, &msg);
  msg_begin(&msg), vector(&msg, 0);
  msg.data[2] = 0x93;
  msg_end(&session, &msg);
  put_buf("sync", "vector-short", &session);
  /* Changes whose bytes are not changes. */
  cs_buf_reset(&session);
  cs_buf_append(&session, "\x00", 1);
  msg_begin(&msg), hello(&msg, CS_SYNC_VERSION, fx.club, digest), msg_end(&session, &msg);
  msg_begin(&msg), cs_mp_write_array(&msg, 3), cs_mp_write_uint(&msg, CS_SYNC_CHANGES), cs_mp_write_array(&msg, 2),
      cs_mp_write_bin(&msg, "garbage", 7), cs_mp_write_bin(&msg, "", 0), cs_mp_write_bool(&msg, true),
      msg_end(&session, &msg);
  put_buf("sync", "changes-garbage", &session);
  cs_buf_free(&session);
  cs_buf_free(&msg);
}

/* ingest ------------------------------------------------------------------ */

/* FLAGS byte then the payload or signed change (see fuzz_ingest.c). */
static void put_flagged(const char *name, uint8_t flags, const cs_buf_t *b) {
  cs_buf_t in;
  cs_buf_init(&in, CS_CHANGE_SIGNED_MAX + 1);
  cs_buf_append(&in, &flags, 1);
  cs_buf_append(&in, b->data, b->len);
  put_buf("ingest", name, &in);
  cs_buf_free(&in);
}

enum { BY_A = 0x01, BY_B = 0x03, BY_C = 0x05, BY_D = 0x07, RAW = 0x00, RAW_TRUSTED = 0x08 };

static void gen_ingest(void) {
  cs_buf_t b;
  cs_buf_init(&b, CS_CHANGE_SIGNED_MAX);
  uint8_t req_r[CS_ID_LEN], req_s[CS_ID_LEN], title_op[CS_ID_LEN], comment[CS_ID_LEN], tag_op[CS_ID_LEN];
  uint8_t pk_d[32], sk_d[64];
  fuzz_key(0xdd, pk_d, sk_d);
  cs_op_id(fx.ch[1].id, 0, req_r);
  cs_op_id(fx.ch[2].id, 0, req_s);
  cs_op_id(fx.ch[4].id, 0, title_op);
  cs_op_id(fx.ch[3].id, 0, comment);
  cs_op_id(fx.ch[2].id, 3, tag_op);
  static const uint8_t by[] = {BY_A, BY_B, BY_C, BY_D};
  static const char *const who[] = {"a", "b", "c", "d"};
  char name[64];
  for (int k = 0; k < 4; k++) {
    cs_buf_reset(&b);
    cs_mp_write_array(&b, 3);
    cs_op_write_create(&b, CS_OBJ_REQUEST, NULL);
    cs_op_write_set_str(&b, cs_ref_local(0), CS_F_REQ_TITLE, "Nouvelle demande", 0, NULL);
    cs_op_write_set_str(&b, cs_ref_local(0), CS_F_REQ_STATUS, "submitted", 0, NULL);
    snprintf(name, sizeof(name), "request-by-%s", who[k]);
    put_flagged(name, by[k], &b);
    cs_buf_reset(&b);
    cs_ref_t parent = cs_ref_id(req_r);
    cs_mp_write_array(&b, 2);
    cs_op_write_create(&b, CS_OBJ_COMMENT, &parent);
    cs_op_write_set_str(&b, cs_ref_local(0), CS_F_COMMENT_BODY, "Un avis", 0, NULL);
    snprintf(name, sizeof(name), "comment-by-%s", who[k]);
    put_flagged(name, by[k], &b);
    cs_buf_reset(&b);
    cs_mp_write_array(&b, 1);
    cs_op_write_delete(&b, cs_ref_id(comment));
    snprintf(name, sizeof(name), "delete-comment-by-%s", who[k]);
    put_flagged(name, by[k], &b);
  }
  cs_buf_reset(&b);
  cs_mp_write_array(&b, 2);
  cs_op_write_set_str(&b, cs_ref_id(req_r), CS_F_REQ_TITLE, "Titre repris", 1, (const uint8_t(*)[CS_ID_LEN])title_op);
  cs_op_write_set_str(&b, cs_ref_id(req_r), CS_F_REQ_STATUS, "vote", 0, NULL);
  put_flagged("edit-with-pred", BY_B, &b);
  cs_buf_reset(&b);
  cs_mp_write_array(&b, 1);
  cs_op_write_set_str(&b, cs_ref_id(req_r), CS_F_REQ_STATUS, "not-a-status", 0, NULL);
  put_flagged("bad-status", BY_A, &b);
  cs_buf_reset(&b);
  cs_mp_write_array(&b, 2);
  cs_op_write_add_str(&b, cs_ref_id(req_s), CS_F_REQ_TAGS, "urgent");
  cs_op_write_remove_str(&b, cs_ref_id(req_s), CS_F_REQ_TAGS, "récolement", 1, (const uint8_t(*)[CS_ID_LEN])tag_op);
  put_flagged("tags", BY_B, &b);
  cs_buf_reset(&b);
  cs_mp_write_array(&b, 1);
  cs_op_write_add_str(&b, cs_ref_id(req_s), CS_F_REQ_TITLE, "a set op on a register");
  put_flagged("wrong-field-kind", BY_A, &b);
  cs_buf_reset(&b);
  cs_mp_write_array(&b, 17);
  for (int i = 0; i < 17; i++) cs_op_write_create(&b, CS_OBJ_REQUEST, NULL);
  put_flagged("seventeen-objects", BY_A, &b);
  cs_buf_reset(&b);
  {
    char title[420];
    memset(title, 't', sizeof(title) - 1);
    title[sizeof(title) - 1] = '\0';
    cs_mp_write_array(&b, 1);
    cs_op_write_set_str(&b, cs_ref_id(req_r), CS_F_REQ_TITLE, title, 0, NULL);
    put_flagged("title-too-long", BY_A, &b);
  }
  /* Membership: grant, demote, strong remove, an admin demoted without a
   * decision (refused), and a member op mixed with another op. */
  cs_buf_reset(&b);
  cs_mp_write_array(&b, 1);
  cs_op_write_member(&b, pk_d, "Musée D", CS_ROLE_MEMBER, 0);
  put_flagged("member-add", BY_A, &b);
  cs_buf_reset(&b);
  cs_mp_write_array(&b, 1);
  cs_op_write_member(&b, fx.pk[1], "Musée B", CS_ROLE_NONE, 1);
  put_flagged("member-remove-retroactive", BY_A, &b);
  cs_buf_reset(&b);
  cs_mp_write_array(&b, 1);
  cs_op_write_member(&b, fx.pk[0], "Musée A", CS_ROLE_MEMBER, 0);
  put_flagged("admin-demoted", BY_A, &b);
  cs_buf_reset(&b);
  cs_mp_write_array(&b, 1);
  cs_op_write_member(&b, fx.pk[1], "Musée B", CS_ROLE_ADMIN, 2);
  put_flagged("member-by-member", BY_B, &b);
  cs_buf_reset(&b);
  cs_mp_write_array(&b, 2);
  cs_op_write_member(&b, fx.pk[2], "Musée C", CS_ROLE_MEMBER, 1);
  cs_op_write_member(&b, pk_d, "Musée D", CS_ROLE_ADMIN, 0);
  put_flagged("member-two", BY_A, &b);

  /* Signed changes as received: every fixture change (duplicates, the
   * fork), then damaged ones, trusted or not. */
  for (int i = 0; i < FIXTURE_CHANGES; i++) {
    snprintf(name, sizeof(name), "raw-%d", i);
    put_flagged(name, RAW, &fx.ch[i].bytes);
  }
  cs_change_t *c = malloc(sizeof(*c));
  const cs_buf_t *four = &fx.ch[4].bytes;
  if (cs_change_decode(cs_buf_span(four), c) != CS_OK) abort();
  size_t header_at = (size_t)(c->header_bytes.ptr - four->data);
  struct {
    const char *name;
    size_t at;
    uint8_t mask;
  } flips[] = {
      {"trusted-seq", header_at + 1 + 1 + 34 + 34, 0x04},     /* seq 3 -> 7 */
      {"trusted-prev", header_at + 1 + 1 + 34 + 34 + 1 + 5, 0x10},
      {"trusted-dep", header_at + 1 + 1 + 34 + 34 + 1 + 34 + 1 + 4, 0x01},
      {"trusted-lamport", header_at + 1 + 1 + 34 + 34 + 1 + 34 + 1 + 34, 0x02},
      {"trusted-author", header_at + 1 + 1 + 34 + 3, 0x80},
  };
  for (size_t i = 0; i < sizeof(flips) / sizeof(flips[0]); i++) {
    cs_buf_t copy;
    cs_buf_init(&copy, CS_CHANGE_SIGNED_MAX);
    cs_buf_append(&copy, four->data, four->len);
    copy.data[flips[i].at] ^= flips[i].mask;
    put_flagged(flips[i].name, RAW_TRUSTED, &copy);
    snprintf(name, sizeof(name), "untrusted-%s", flips[i].name + 8);
    put_flagged(name, RAW, &copy);
    cs_buf_free(&copy);
  }
  free(c);
  cs_buf_free(&b);
}

/* verify ------------------------------------------------------------------ */

/* Honest audit bundles of a club of the museums in tests/fuzz/fuzz_audit.h,
 * written the way `clubsync` writes them: museum 0 founds the club and adds
 * the others, a motion, ballots (the first creates the key's vote, each
 * later one overwrites it naming the value it replaces), a resolution whose
 * deps are exactly the ballots it counts. Other changes depend on the one
 * written before them. */
typedef struct audit_club_s {
  uint8_t pk[FUZZ_AUDIT_KEYS][32], sk[FUZZ_AUDIT_KEYS][64];
  uint8_t club[CS_ID_LEN];
  uint64_t seq[FUZZ_AUDIT_KEYS];
  uint8_t prev[FUZZ_AUDIT_KEYS][CS_ID_LEN];
  uint8_t last[CS_ID_LEN]; /* the change written last */
  uint64_t lamport;
  cs_bundle_writer_t w;
  cs_buf_t out;
  /* Per museum: its vote on the current motion and the op of its choice. */
  bool voted[FUZZ_AUDIT_KEYS];
  uint8_t vote[FUZZ_AUDIT_KEYS][CS_ID_LEN], choice_op[FUZZ_AUDIT_KEYS][CS_ID_LEN];
  uint8_t ballot[FUZZ_AUDIT_KEYS][CS_ID_LEN]; /* its latest ballot change */
  uint32_t choice[FUZZ_AUDIT_KEYS];
} audit_club_t;

static int by_id(const void *a, const void *b) { return memcmp(a, b, CS_ID_LEN); }

static void ac_change(audit_club_t *a, int author, cs_buf_t *payload, uint8_t (*deps)[CS_ID_LEN], uint32_t n,
                      uint8_t id[CS_ID_LEN]) {
  bool genesis = a->lamport == 0;
  if (!genesis && !deps) deps = &a->last, n = 1;
  qsort(deps, n, CS_ID_LEN, by_id);
  a->seq[author]++;
  a->lamport++;
  cs_change_draft_t d = {genesis ? NULL : a->club, a->pk[author], a->seq[author],
                         a->seq[author] > 1 ? a->prev[author] : NULL, n, (const uint8_t(*)[CS_ID_LEN])deps,
                         a->lamport, 1700000000000 + (int64_t)a->lamport * 1000, cs_buf_span(payload)};
  cs_buf_t signed_bytes;
  cs_buf_init(&signed_bytes, CS_CHANGE_SIGNED_MAX);
  if (payload->failed || cs_change_build(&d, a->sk[author], &signed_bytes, id) != CS_OK ||
      cs_bundle_write_change(&a->w, cs_buf_span(&signed_bytes), &a->out) != CS_OK)
    abort();
  cs_buf_free(&signed_bytes);
  if (genesis) memcpy(a->club, id, CS_ID_LEN);
  memcpy(a->prev[author], id, CS_ID_LEN);
  memcpy(a->last, id, CS_ID_LEN);
  cs_buf_reset(payload);
}

/* A club of `museums` museums; the first `admins` are admins. */
static void ac_begin(audit_club_t *a, int museums, int admins) {
  memset(a, 0, sizeof(*a));
  fuzz_audit_keys(a->pk, a->sk);
  cs_buf_t p, genesis;
  cs_buf_init(&p, CS_CHANGE_PAYLOAD_MAX);
  cs_buf_init(&genesis, CS_CHANGE_SIGNED_MAX);
  cs_mp_write_array(&p, 1);
  cs_op_write_genesis(&p, "Club des musées", "Flora", "Musée 0");
  /* The header names the club, whose id is its genesis's: sign the genesis
   * once to learn it (ac_change signs the same bytes again). */
  cs_change_draft_t d = {NULL, a->pk[0], 1, NULL, 0, NULL, 1, 1700000000000 + 1000, cs_buf_span(&p)};
  cs_bundle_header_t h = {CS_BUNDLE_AUDIT, {0}};
  if (cs_change_build(&d, a->sk[0], &genesis, h.club) != CS_OK) abort();
  cs_buf_init(&a->out, 1 << 20);
  cs_bundle_write_header(&a->w, &h, &a->out);
  uint8_t id[CS_ID_LEN];
  ac_change(a, 0, &p, NULL, 0, id);
  if (memcmp(id, h.club, CS_ID_LEN) != 0) abort();
  char museum[32];
  for (int i = 1; i < museums; i++) {
    snprintf(museum, sizeof(museum), "Musée %d", i);
    cs_mp_write_array(&p, 1);
    cs_op_write_member(&p, a->pk[i], museum, i < admins ? CS_ROLE_ADMIN : CS_ROLE_MEMBER, 0);
    ac_change(a, 0, &p, NULL, 0, id);
  }
  cs_buf_free(&p);
  cs_buf_free(&genesis);
}

/* A motion by `author` with the first `museums` museums as its electorate. */
static void ac_motion(audit_club_t *a, int author, int museums, const char *quorum, const char *effect,
                      uint8_t change[CS_ID_LEN], uint8_t motion[CS_ID_LEN]) {
  cs_electorate_t e = {NULL, 0, 0};
  cs_buf_t p, value;
  cs_buf_init(&p, CS_CHANGE_PAYLOAD_MAX);
  cs_buf_init(&value, CS_TEXT_MAX);
  char name[32];
  for (int i = 0; i < museums; i++) {
    snprintf(name, sizeof(name), "Musée %d", i);
    if (cs_electorate_add(&e, name)) abort();
  }
  cs_electorate_write(&value, &e);
  cs_electorate_free(&e);
  cs_mp_write_array(&p, effect ? 5 : 4);
  cs_op_write_create(&p, CS_OBJ_MOTION, NULL);
  cs_op_write_set_str(&p, cs_ref_local(0), CS_F_MOTION_TEXT, "Adopter la charte", 0, NULL);
  cs_op_write_set_str(&p, cs_ref_local(0), CS_F_MOTION_QUORUM, quorum, 0, NULL);
  cs_op_write_set_raw(&p, cs_ref_local(0), CS_F_MOTION_ELECTORATE, cs_buf_span(&value), 0, NULL);
  if (effect) cs_op_write_set_str(&p, cs_ref_local(0), CS_F_MOTION_EFFECT, effect, 0, NULL);
  ac_change(a, author, &p, NULL, 0, change);
  cs_op_id(change, 0, motion);
  memset(a->voted, 0, sizeof(a->voted));
  cs_buf_free(&p);
  cs_buf_free(&value);
}

static void ac_vote(audit_club_t *a, int author, const uint8_t motion[CS_ID_LEN], uint32_t choice) {
  static const char *const choices[] = {"yes", "no", "abstain"};
  cs_buf_t p;
  cs_buf_init(&p, CS_CHANGE_PAYLOAD_MAX);
  uint8_t id[CS_ID_LEN];
  if (a->voted[author]) {
    cs_mp_write_array(&p, 1);
    cs_op_write_set_str(&p, cs_ref_id(a->vote[author]), CS_F_VOTE_CHOICE, choices[choice], 1,
                        (const uint8_t(*)[CS_ID_LEN])a->choice_op[author]);
    ac_change(a, author, &p, NULL, 0, id);
    cs_op_id(id, 0, a->choice_op[author]);
  } else {
    cs_ref_t parent = cs_ref_id(motion);
    cs_mp_write_array(&p, 2);
    cs_op_write_create(&p, CS_OBJ_VOTE, &parent);
    cs_op_write_set_str(&p, cs_ref_local(0), CS_F_VOTE_CHOICE, choices[choice], 0, NULL);
    ac_change(a, author, &p, NULL, 0, id);
    cs_op_id(id, 0, a->vote[author]);
    cs_op_id(id, 1, a->choice_op[author]);
    a->voted[author] = true;
  }
  memcpy(a->ballot[author], id, CS_ID_LEN);
  a->choice[author] = choice;
  cs_buf_free(&p);
}

/* Museum 0 counts the latest ballot of each of the first `museums`. */
static void ac_resolve(audit_club_t *a, int museums, const char *quorum, const uint8_t motion[CS_ID_LEN],
                       uint8_t change[CS_ID_LEN]) {
  uint8_t deps[FUZZ_AUDIT_KEYS][CS_ID_LEN];
  cs_resolution_t res = {false, 0, 0, 0};
  uint32_t n = 0;
  for (int i = 0; i < museums; i++) {
    if (!a->voted[i]) continue;
    memcpy(deps[n++], a->ballot[i], CS_ID_LEN);
    if (a->choice[i] == 0) res.yes++;
    else if (a->choice[i] == 1) res.no++;
    else res.abstain++;
  }
  res.adopted = cs_quorum_met(quorum, (uint32_t)museums, res.yes);
  cs_buf_t p, value;
  cs_buf_init(&p, CS_CHANGE_PAYLOAD_MAX);
  cs_buf_init(&value, 256);
  cs_resolution_write(&value, &res);
  cs_mp_write_array(&p, 1);
  cs_op_write_set_raw(&p, cs_ref_id(motion), CS_F_MOTION_RESOLUTION, cs_buf_span(&value), 0, NULL);
  ac_change(a, 0, &p, deps, n, change);
  cs_buf_free(&p);
  cs_buf_free(&value);
}

/* Writes the bundle as a seed after checking that it verifies as expected. */
static void ac_put(audit_club_t *a, const char *name, const char *outcome, uint32_t vote_entries) {
  cs_bundle_write_trailer(&a->w, &a->out);
  cs_audit_report_t rep;
  if (cs_audit_bundle_verify(cs_buf_span(&a->out), &rep) != CS_OK) {
    fprintf(stderr, "verify/%s does not verify: %s\n", name, rep.why);
    exit(1);
  }
  const char *got = !rep.resolved ? "not resolved" : rep.resolution.adopted ? "adopted" : "rejected";
  if (strcmp(got, outcome) != 0 || rep.vote_count != vote_entries) {
    fprintf(stderr, "verify/%s: %s with %u vote entries\n", name, got, rep.vote_count);
    exit(1);
  }
  cs_audit_report_free(&rep);
  put_buf("verify", name, &a->out);
  cs_buf_free(&a->out);
}

static void gen_verify(void) {
  audit_club_t *a = malloc(sizeof(*a));
  uint8_t change[CS_ID_LEN], motion[CS_ID_LEN], resolution[CS_ID_LEN];
  if (!a) abort();

  /* Three museums; a member proposes; adopted 2 to 1. */
  ac_begin(a, 3, 1);
  ac_motion(a, 1, 3, "majority", NULL, change, motion);
  ac_vote(a, 0, motion, 0);
  ac_vote(a, 1, motion, 1);
  ac_vote(a, 2, motion, 0);
  ac_resolve(a, 3, "majority", motion, change);
  ac_put(a, "small", "adopted", 3);

  /* Four museums change their votes, three times each; not counted yet. */
  ac_begin(a, 4, 1);
  ac_motion(a, 0, 4, "two-thirds", NULL, change, motion);
  for (int round = 0; round < 3; round++)
    for (int i = 0; i < 4; i++) ac_vote(a, i, motion, (uint32_t)(round + i) % 3);
  ac_put(a, "changed-votes-open", "not resolved", 12);

  /* An admin removed by an adopted motion whose effect names it: the
   * removal depends on the motion and the resolution, in the bundle. */
  ac_begin(a, 3, 2);
  char effect[CS_GOVERNED_EFFECT_MAX + 1];
  cs_governed_effect(effect, "remove-admin", a->pk[1]);
  uint8_t motion_change[CS_ID_LEN];
  ac_motion(a, 2, 3, "majority", effect, motion_change, motion);
  ac_vote(a, 0, motion, 0);
  ac_vote(a, 1, motion, 1);
  ac_vote(a, 2, motion, 0);
  ac_resolve(a, 3, "majority", motion, resolution);
  {
    uint8_t deps[2][CS_ID_LEN];
    memcpy(deps[0], motion_change, CS_ID_LEN);
    memcpy(deps[1], resolution, CS_ID_LEN);
    cs_buf_t p;
    cs_buf_init(&p, CS_CHANGE_PAYLOAD_MAX);
    cs_mp_write_array(&p, 1);
    cs_op_write_member(&p, a->pk[1], "Musée 1", CS_ROLE_MEMBER, a->seq[1]);
    ac_change(a, 0, &p, deps, 2, change);
    cs_buf_free(&p);
  }
  ac_put(a, "remove-admin", "adopted", 3);

  /* Busy motions: five museums change their votes many times, past the 256
   * entries that once overflowed the report; in the last round the first
   * `yes` museums vote yes and the others no. */
  static const struct {
    const char *name;
    int rounds, yes;
    const char *outcome;
  } busy[] = {{"busy-300", 60, 3, "adopted"}, {"busy-800", 160, 2, "rejected"}};
  for (size_t b = 0; b < sizeof(busy) / sizeof(busy[0]); b++) {
    ac_begin(a, 5, 1);
    ac_motion(a, 0, 5, "majority", NULL, change, motion);
    for (int round = 0; round < busy[b].rounds - 1; round++)
      for (int i = 0; i < 5; i++) ac_vote(a, i, motion, (uint32_t)(round + i) % 3);
    for (int i = 0; i < 5; i++) ac_vote(a, i, motion, i < busy[b].yes ? 0 : 1);
    ac_resolve(a, 5, "majority", motion, change);
    ac_put(a, busy[b].name, busy[b].outcome, (uint32_t)busy[b].rounds * 5);
  }
  free(a);
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s OUT_DIR\n", argv[0]);
    return 2;
  }
  out_dir = argv[1];
  mkdir_p(out_dir);
  fixture_build(&fx);
  gen_change();
  gen_bundle();
  gen_frame();
  gen_handshake();
  gen_record();
  gen_sync();
  gen_ingest();
  gen_verify();
  fixture_free(&fx);
  printf("wrote %d seed files under %s\n", written, out_dir);
  return 0;
}
