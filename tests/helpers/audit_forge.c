/* Forges audit bundles that `clubsync verify` must refuse, for
 * tests/integration/test_verify_*.sh: every change it adds is validly signed
 * (core's cs_change_build) by an outsider's key, so that verify gets past
 * the signatures to the rule under test.
 *
 *   audit_forge IN OUT MODE
 *
 * IN is an honest audit bundle; OUT gets IN's header and changes plus what
 * MODE adds:
 *
 * | MODE         | adds                                                       |
 * |--------------|------------------------------------------------------------|
 * | vote-flood   | changes in IN's club holding CS_AUDIT_VOTE_ENTRIES_MAX + 1 |
 * |              | vote entries (256 sets of a vote's choice each)            |
 * | member-flood | changes in IN's club holding CS_AUDIT_MEMBER_OPS_MAX + 1   |
 * |              | member ops (256 each)                                      |
 *
 * Exit status: 0 when OUT was written, 1 otherwise, 2 on usage. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "core/bundle.h"
#include "core/change.h"
#include "core/decision.h"
#include "core/op.h"

/* The outsider: a fixed key that no club admitted. */
typedef struct forger_s {
  uint8_t pk[CS_KEY_LEN];
  uint8_t sk[CS_SECRET_KEY_LEN];
  uint64_t seq;
  uint8_t prev[CS_ID_LEN];
} forger_t;

typedef struct forge_s {
  cs_bundle_header_t header;
  cs_bundle_writer_t writer;
  cs_buf_t out;
  forger_t outsider;
} forge_t;

static int die(const char *what) {
  fprintf(stderr, "audit_forge: %s\n", what);
  return 1;
}

/* Signs the next change of f's chain in `club` (a genesis when NULL) and
 * appends it to the bundle. */
static int forge_change(forge_t *g, forger_t *f, const uint8_t *club, cs_span_t payload, uint64_t lamport,
                        uint8_t id[CS_ID_LEN]) {
  f->seq++;
  cs_change_draft_t d = {club, f->pk, f->seq, f->seq > 1 ? f->prev : NULL, 0, NULL, lamport, 1700000000000, payload};
  cs_buf_t signed_bytes;
  cs_buf_init(&signed_bytes, CS_CHANGE_SIGNED_MAX);
  int err = cs_change_build(&d, f->sk, &signed_bytes, id);
  if (!err) err = cs_bundle_write_change(&g->writer, cs_buf_span(&signed_bytes), &g->out);
  cs_buf_free(&signed_bytes);
  memcpy(f->prev, id, CS_ID_LEN);
  return err;
}

/* Changes of 256 ops each until `total` ops are written; op i is written
 * by write_op. */
static int forge_flood(forge_t *g, uint32_t total, void (*write_op)(cs_buf_t *b, uint32_t i)) {
  cs_buf_t payload;
  cs_buf_init(&payload, CS_CHANGE_PAYLOAD_MAX);
  int err = CS_OK;
  for (uint32_t written = 0; !err && written < total;) {
    uint32_t n = total - written < CS_CHANGE_OPS_MAX ? total - written : CS_CHANGE_OPS_MAX;
    cs_buf_reset(&payload);
    cs_mp_write_array(&payload, n);
    for (uint32_t i = 0; i < n; i++) write_op(&payload, written + i);
    written += n;
    uint8_t id[CS_ID_LEN];
    err = payload.failed ? CS_ETOOBIG : forge_change(g, &g->outsider, g->header.club, cs_buf_span(&payload),
                                                     1000000 + g->outsider.seq, id);
  }
  cs_buf_free(&payload);
  return err;
}

/* A choice set on vote object number i (objects nobody created). */
static void write_vote_set(cs_buf_t *b, uint32_t i) {
  uint8_t object[CS_ID_LEN];
  crypto_generichash(object, sizeof(object), (const uint8_t *)&i, sizeof(i), NULL, 0);
  cs_op_write_set_str(b, cs_ref_id(object), CS_F_VOTE_CHOICE, "yes", 0, NULL);
}

/* Key number i made a member. */
static void write_member(cs_buf_t *b, uint32_t i) {
  uint8_t key[CS_KEY_LEN];
  crypto_generichash(key, sizeof(key), (const uint8_t *)&i, sizeof(i), NULL, 0);
  cs_op_write_member(b, key, "Musée inventé", CS_ROLE_MEMBER, 0);
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: audit_forge IN OUT MODE\n");
    return 2;
  }
  if (sodium_init() < 0) return die("libsodium failed to start");
  FILE *in = fopen(argv[1], "rb");
  if (!in) return die("cannot read IN");
  size_t cap = 1 << 20, len = 0, n;
  uint8_t *bytes = malloc(cap);
  while (bytes && (n = fread(bytes + len, 1, cap - len, in)) > 0) {
    len += n;
    if (len == cap) bytes = realloc(bytes, cap *= 2);
  }
  fclose(in);
  if (!bytes) return die("out of memory");

  forge_t g;
  memset(&g, 0, sizeof(g));
  uint8_t seed[32];
  memset(seed, 0x42, sizeof(seed));
  crypto_sign_seed_keypair(g.outsider.pk, g.outsider.sk, seed);
  cs_bundle_reader_t r;
  int err = cs_bundle_open(&r, (cs_span_t){bytes, len}, &g.header);
  if (err) return die("IN is not a bundle");
  cs_buf_init(&g.out, 256u << 20);
  cs_bundle_write_header(&g.writer, &g.header, &g.out);
  cs_span_t record;
  while ((err = cs_bundle_next(&r, &record)) == CS_OK)
    if ((err = cs_bundle_write_change(&g.writer, record, &g.out))) break;
  if (err != CS_ENOTFOUND) return die("IN is damaged");

  const char *mode = argv[3];
  if (strcmp(mode, "vote-flood") == 0) err = forge_flood(&g, CS_AUDIT_VOTE_ENTRIES_MAX + 1, write_vote_set);
  else if (strcmp(mode, "member-flood") == 0) err = forge_flood(&g, CS_AUDIT_MEMBER_OPS_MAX + 1, write_member);
  else return die("unknown MODE");
  if (err) return die(cs_strerror(err));
  cs_bundle_write_trailer(&g.writer, &g.out);
  FILE *out = fopen(argv[2], "wb");
  if (g.out.failed || !out || fwrite(g.out.data, 1, g.out.len, out) != g.out.len || fclose(out) != 0)
    return die("cannot write OUT");
  cs_buf_free(&g.out);
  free(bytes);
  return 0;
}
