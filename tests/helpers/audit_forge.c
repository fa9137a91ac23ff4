/* Forges audit bundles that `clubsync verify` must refuse, for
 * tests/integration/test_verify_*.sh: every change it adds is validly signed
 * (core's cs_change_build) by an outsider's key, so that verify gets past
 * the signatures to the rule under test.
 *
 *   audit_forge IN OUT MODE
 *
 * IN is an honest audit bundle of club C. "A decision" below is a motion
 * whose electorate is the outsider's museum, its yes ballot and an adopted
 * resolution counting it, all signed by the outsider. OUT holds:
 *
 * | MODE                 | header | changes                                          |
 * |----------------------|--------|--------------------------------------------------|
 * | vote-flood           | C      | IN's, then CS_AUDIT_VOTE_ENTRIES_MAX + 1 vote    |
 * |                      |        | entries in C (256 sets of a vote's choice each)  |
 * | member-flood         | C      | IN's, then CS_AUDIT_MEMBER_OPS_MAX + 1 member    |
 * |                      |        | ops in C (256 each)                              |
 * | second-genesis-first | C      | the outsider's genesis of its own club X, IN's,  |
 * |                      |        | then a decision in C                             |
 * | second-genesis-last  | C      | IN's, a decision in C, the genesis of X          |
 * | genesis-op           | C      | IN's, a change in C whose op is a genesis op,    |
 * |                      |        | then a decision in C                             |
 * | other-club           | C      | the genesis of X and a decision in X only        |
 * | other-club-own       | X      | the same, under its own club's header            |
 * | member-timeline      | X      | the genesis of X, CS_MEMBER_GRANTS_MAX + 1       |
 * |                      |        | changes of one member's role, a decision in X    |
 * | header-club          | X      | IN's changes                                     |
 *
 * The outsider's club X is named like C's ("Club régional") and its
 * museum "Musée a", as an impostor would. Prints X's id and the outsider's
 * key. Exit status: 0 when OUT was written, 1 otherwise, 2 on usage. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "core/bundle.h"
#include "core/change.h"
#include "core/decision.h"
#include "core/members.h"
#include "core/op.h"

#define FORGE_RECORDS_MAX 65536

/* A key's chain in one club. */
typedef struct chain_s {
  const uint8_t *pk, *sk;
  const uint8_t *club; /* NULL: the chain of a genesis */
  uint64_t seq;
  uint8_t prev[CS_ID_LEN];
} chain_t;

typedef struct forge_s {
  cs_buf_t records[FORGE_RECORDS_MAX];
  uint32_t count;
  uint64_t lamport;
} forge_t;

static int die(const char *what) {
  fprintf(stderr, "audit_forge: %s\n", what);
  return 1;
}

static int forge_add(forge_t *g, cs_span_t bytes) {
  if (g->count == FORGE_RECORDS_MAX) return CS_ETOOBIG;
  cs_buf_t *r = &g->records[g->count++];
  cs_buf_init(r, CS_CHANGE_SIGNED_MAX);
  cs_buf_append(r, bytes.ptr, bytes.len);
  return r->failed ? CS_ETOOBIG : CS_OK;
}

/* Signs the next change of chain c with the given deps and appends it. */
static int forge_change(forge_t *g, chain_t *c, cs_span_t payload, const uint8_t (*deps)[CS_ID_LEN],
                        uint32_t dep_count, uint8_t id[CS_ID_LEN]) {
  c->seq++;
  g->lamport++;
  cs_change_draft_t d = {c->club,   c->pk,    c->seq,        c->seq > 1 ? c->prev : NULL, dep_count, deps,
                         g->lamport, 1700000000000, payload};
  cs_buf_t signed_bytes;
  cs_buf_init(&signed_bytes, CS_CHANGE_SIGNED_MAX);
  int err = cs_change_build(&d, c->sk, &signed_bytes, id);
  if (!err) err = forge_add(g, cs_buf_span(&signed_bytes));
  cs_buf_free(&signed_bytes);
  memcpy(c->prev, id, CS_ID_LEN);
  return err;
}

/* The genesis of the outsider's own club X, named like C's. */
static int forge_genesis(forge_t *g, chain_t *c, uint8_t club_out[CS_ID_LEN]) {
  cs_buf_t payload;
  cs_buf_init(&payload, CS_CHANGE_PAYLOAD_MAX);
  cs_mp_write_array(&payload, 1);
  cs_op_write_genesis(&payload, "Club régional", "Flora", "Musée a");
  int err = forge_change(g, c, cs_buf_span(&payload), NULL, 0, club_out);
  cs_buf_free(&payload);
  return err;
}

/* A change in c's club whose only op is a genesis op. */
static int forge_genesis_op(forge_t *g, chain_t *c) {
  cs_buf_t payload;
  uint8_t id[CS_ID_LEN];
  cs_buf_init(&payload, CS_CHANGE_PAYLOAD_MAX);
  cs_mp_write_array(&payload, 1);
  cs_op_write_genesis(&payload, "Club régional", "Flora", "Musée a");
  int err = forge_change(g, c, cs_buf_span(&payload), NULL, 0, id);
  cs_buf_free(&payload);
  return err;
}

/* CS_MEMBER_GRANTS_MAX + 1 changes of one key's role, each a member op of
 * its own: a node keeps the last one out of the membership. */
static int forge_timeline(forge_t *g, chain_t *c) {
  uint8_t key[CS_KEY_LEN], id[CS_ID_LEN];
  crypto_generichash(key, sizeof(key), (const uint8_t *)"member", 6, NULL, 0);
  cs_buf_t payload;
  cs_buf_init(&payload, CS_CHANGE_PAYLOAD_MAX);
  int err = CS_OK;
  for (int i = 0; i <= CS_MEMBER_GRANTS_MAX && !err; i++) {
    cs_buf_reset(&payload);
    cs_mp_write_array(&payload, 1);
    cs_op_write_member(&payload, key, "Musée b", i % 2 ? CS_ROLE_OBSERVER : CS_ROLE_MEMBER, 0);
    err = forge_change(g, c, cs_buf_span(&payload), NULL, 0, id);
  }
  cs_buf_free(&payload);
  return err;
}

/* A motion with the outsider's museum as electorate, its yes ballot, and an
 * adopted resolution that counts exactly that ballot. */
static int forge_decision(forge_t *g, chain_t *c) {
  cs_buf_t payload, value;
  cs_buf_init(&payload, CS_CHANGE_PAYLOAD_MAX);
  cs_buf_init(&value, CS_TEXT_MAX);
  uint8_t motion_change[CS_ID_LEN], motion[CS_ID_LEN], vote_change[CS_ID_LEN], resolution_change[CS_ID_LEN];
  cs_electorate_t e = {NULL, 0, 0};
  if (cs_electorate_add(&e, "Musée a")) return CS_ENOMEM;
  cs_electorate_write(&value, &e);
  cs_electorate_free(&e);
  cs_mp_write_array(&payload, 4);
  cs_op_write_create(&payload, CS_OBJ_MOTION, NULL);
  cs_op_write_set_str(&payload, cs_ref_local(0), CS_F_MOTION_TEXT, "Dissoudre le club", 0, NULL);
  cs_op_write_set_str(&payload, cs_ref_local(0), CS_F_MOTION_QUORUM, "majority", 0, NULL);
  cs_op_write_set_raw(&payload, cs_ref_local(0), CS_F_MOTION_ELECTORATE, cs_buf_span(&value), 0, NULL);
  int err = forge_change(g, c, cs_buf_span(&payload), NULL, 0, motion_change);
  cs_op_id(motion_change, 0, motion);

  cs_buf_reset(&payload);
  cs_ref_t parent = cs_ref_id(motion);
  cs_mp_write_array(&payload, 2);
  cs_op_write_create(&payload, CS_OBJ_VOTE, &parent);
  cs_op_write_set_str(&payload, cs_ref_local(0), CS_F_VOTE_CHOICE, "yes", 0, NULL);
  if (!err) err = forge_change(g, c, cs_buf_span(&payload), NULL, 0, vote_change);

  cs_buf_reset(&payload);
  cs_buf_reset(&value);
  cs_resolution_t res = {true, 1, 0, 0};
  cs_resolution_write(&value, &res);
  cs_mp_write_array(&payload, 1);
  cs_op_write_set_raw(&payload, cs_ref_id(motion), CS_F_MOTION_RESOLUTION, cs_buf_span(&value), 0, NULL);
  if (!err) err = forge_change(g, c, cs_buf_span(&payload), (const uint8_t(*)[CS_ID_LEN])vote_change, 1,
                               resolution_change);
  cs_buf_free(&payload);
  cs_buf_free(&value);
  return err;
}

/* Changes of 256 ops each in c's club until `total` ops are written; op i
 * is written by write_op. Too many for the record list, so they go
 * straight to the bundle being written. */
static int forge_flood(cs_bundle_writer_t *w, cs_buf_t *out, chain_t *c, uint32_t total,
                       void (*write_op)(cs_buf_t *b, uint32_t i)) {
  forge_t *g = calloc(1, sizeof(*g));
  cs_buf_t payload;
  cs_buf_init(&payload, CS_CHANGE_PAYLOAD_MAX);
  int err = g ? CS_OK : CS_ENOMEM;
  for (uint32_t written = 0; !err && written < total;) {
    uint32_t n = total - written < CS_CHANGE_OPS_MAX ? total - written : CS_CHANGE_OPS_MAX;
    cs_buf_reset(&payload);
    cs_mp_write_array(&payload, n);
    for (uint32_t i = 0; i < n; i++) write_op(&payload, written + i);
    written += n;
    uint8_t id[CS_ID_LEN];
    g->lamport = 1000000 + c->seq;
    err = payload.failed ? CS_ETOOBIG : forge_change(g, c, cs_buf_span(&payload), NULL, 0, id);
    if (!err) err = cs_bundle_write_change(w, cs_buf_span(&g->records[0]), out);
    for (uint32_t k = 0; k < g->count; k++) cs_buf_free(&g->records[k]);
    g->count = 0;
  }
  cs_buf_free(&payload);
  free(g);
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

static uint8_t *read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  size_t cap = 1 << 20, n;
  uint8_t *bytes = malloc(cap);
  *len = 0;
  while (bytes && (n = fread(bytes + *len, 1, cap - *len, f)) > 0) {
    *len += n;
    if (*len == cap) {
      uint8_t *grown = realloc(bytes, cap *= 2);
      if (!grown) free(bytes);
      bytes = grown;
    }
  }
  fclose(f);
  return bytes;
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: audit_forge IN OUT MODE\n");
    return 2;
  }
  const char *mode = argv[3];
  if (sodium_init() < 0) return die("libsodium failed to start");
  size_t len;
  uint8_t *bytes = read_file(argv[1], &len);
  if (!bytes) return die("cannot read IN");
  cs_bundle_reader_t r;
  cs_bundle_header_t header;
  if (cs_bundle_open(&r, (cs_span_t){bytes, len}, &header) != CS_OK) return die("IN is not a bundle");
  uint8_t club[CS_ID_LEN], other[CS_ID_LEN];
  memcpy(club, header.club, CS_ID_LEN);

  /* The outsider: a fixed key that no club admitted. */
  uint8_t pk[CS_KEY_LEN], sk[CS_SECRET_KEY_LEN], seed[32];
  memset(seed, 0x42, sizeof(seed));
  crypto_sign_seed_keypair(pk, sk, seed);
  chain_t own = {pk, sk, NULL, 0, {0}}, in_c = {pk, sk, club, 0, {0}};

  /* The outsider's club, forged first so that its id is known. */
  forge_t *mine = calloc(1, sizeof(*mine)), *in = calloc(1, sizeof(*in));
  if (!mine || !in) return die("out of memory");
  int err = forge_genesis(mine, &own, other);
  /* The founder's chain goes on in its club after the genesis. */
  chain_t in_x = own;
  in_x.club = other;
  cs_span_t record;
  while (!err && (err = cs_bundle_next(&r, &record)) == CS_OK) err = forge_add(in, record);
  if (err != CS_ENOTFOUND) return die("IN is damaged or too long");
  in->lamport = 1000000;

  cs_bundle_writer_t w;
  cs_buf_t out;
  cs_buf_init(&out, 256u << 20);
  const forge_t *parts[3] = {NULL, NULL, NULL};
  forge_t *tail = calloc(1, sizeof(*tail));
  if (!tail) return die("out of memory");
  tail->lamport = 1000000;
  err = CS_OK;
  if (strcmp(mode, "second-genesis-first") == 0) {
    err = forge_decision(tail, &in_c);
    parts[0] = mine, parts[1] = in, parts[2] = tail;
  } else if (strcmp(mode, "second-genesis-last") == 0) {
    err = forge_decision(in, &in_c);
    parts[0] = in, parts[1] = mine;
  } else if (strcmp(mode, "genesis-op") == 0) {
    err = forge_genesis_op(tail, &in_c);
    if (!err) err = forge_decision(tail, &in_c);
    parts[0] = in, parts[1] = tail;
  } else if (strcmp(mode, "other-club") == 0 || strcmp(mode, "other-club-own") == 0) {
    err = forge_decision(mine, &in_x);
    parts[0] = mine;
    if (strcmp(mode, "other-club-own") == 0) memcpy(header.club, other, CS_ID_LEN);
  } else if (strcmp(mode, "member-timeline") == 0) {
    err = forge_timeline(mine, &in_x);
    if (!err) err = forge_decision(mine, &in_x);
    parts[0] = mine;
    memcpy(header.club, other, CS_ID_LEN);
  } else if (strcmp(mode, "header-club") == 0) {
    parts[0] = in;
    memcpy(header.club, other, CS_ID_LEN);
  } else if (strcmp(mode, "vote-flood") != 0 && strcmp(mode, "member-flood") != 0) {
    return die("unknown MODE");
  }
  if (!err && (strcmp(mode, "vote-flood") == 0 || strcmp(mode, "member-flood") == 0)) parts[0] = in;
  if (err) return die(cs_strerror(err));

  cs_bundle_write_header(&w, &header, &out);
  for (int p = 0; p < 3 && parts[p] && !err; p++)
    for (uint32_t i = 0; i < parts[p]->count && !err; i++)
      err = cs_bundle_write_change(&w, cs_buf_span(&parts[p]->records[i]), &out);
  if (!err && strcmp(mode, "vote-flood") == 0)
    err = forge_flood(&w, &out, &in_c, CS_AUDIT_VOTE_ENTRIES_MAX + 1, write_vote_set);
  if (!err && strcmp(mode, "member-flood") == 0)
    err = forge_flood(&w, &out, &in_c, CS_AUDIT_MEMBER_OPS_MAX + 1, write_member);
  if (err) return die(cs_strerror(err));
  cs_bundle_write_trailer(&w, &out);
  FILE *f = fopen(argv[2], "wb");
  if (out.failed || !f || fwrite(out.data, 1, out.len, f) != out.len || fclose(f) != 0)
    return die("cannot write OUT");
  char hex[65];
  cs_hex32(other, hex);
  printf("%s\n", hex);
  cs_hex32(pk, hex);
  printf("%s\n", hex);

  forge_t *all[3] = {mine, in, tail};
  for (int p = 0; p < 3; p++) {
    for (uint32_t i = 0; i < all[p]->count; i++) cs_buf_free(&all[p]->records[i]);
    free(all[p]);
  }
  cs_buf_free(&out);
  free(bytes);
  return 0;
}
