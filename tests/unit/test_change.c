/* The signed change: known-answer vectors, and one negative test for every
 * validation rule, through the real store. */
#include "tests/unit/testlib.h"

#include "core/op.h"

static uint8_t pk_a[32], sk_a[64], pk_b[32], sk_b[64];

static cs_span_t payload_genesis(cs_buf_t *b) {
  cs_buf_init(b, CS_CHANGE_PAYLOAD_MAX);
  cs_mp_write_array(b, 1);
  cs_op_write_genesis(b, "Club des utilisateurs", "Flora", "Musée A");
  return cs_buf_span(b);
}

static cs_span_t payload_request(cs_buf_t *b, const char *title) {
  cs_buf_init(b, CS_CHANGE_PAYLOAD_MAX);
  cs_mp_write_array(b, 3);
  cs_op_write_create(b, CS_OBJ_REQUEST, NULL);
  cs_op_write_set_str(b, cs_ref_local(0), CS_F_REQ_TITLE, title, 0, NULL);
  cs_op_write_set_str(b, cs_ref_local(0), CS_F_REQ_STATUS, "submitted", 0, NULL);
  return cs_buf_span(b);
}

/* Builds a change with explicit header fields. */
static void build(cs_buf_t *out, const uint8_t *club, const uint8_t *sk, uint64_t seq, const uint8_t *prev,
                  uint32_t dep_count, const uint8_t (*deps)[32], uint64_t lamport, cs_span_t payload, uint8_t id[32]) {
  cs_change_draft_t d = {club, sk + 32, seq, prev, dep_count, deps, lamport, 1700000000000, payload};
  cs_buf_init(out, CS_CHANGE_SIGNED_MAX);
  int err = cs_change_build(&d, sk, out, id);
  if (err) {
    fprintf(stderr, "build failed: %s\n", cs_strerror(err));
    exit(2);
  }
}

static void hex_of(const uint8_t *p, size_t n, char *out) {
  for (size_t i = 0; i < n; i++) sprintf(out + 2 * i, "%02x", p[i]);
}

/* Compares bytes with tests/vectors/NAME (hex on one line); CS_WRITE_VECTORS=1
 * writes the file instead, once, when the format is defined. */
static void check_vector(const char *name, const uint8_t *bytes, size_t len) {
  const char *src = getenv("CS_SOURCE_DIR");
  char path[1024], *hex = malloc(2 * len + 2);
  snprintf(path, sizeof(path), "%s/tests/vectors/%s", src ? src : ".", name);
  hex_of(bytes, len, hex);
  if (getenv("CS_WRITE_VECTORS")) {
    FILE *f = fopen(path, "w");
    fprintf(f, "%s\n", hex);
    fclose(f);
  }
  FILE *f = fopen(path, "r");
  CHECK(f != NULL);
  if (f) {
    char *line = malloc(2 * len + 8);
    CHECK(fgets(line, (int)(2 * len + 8), f) != NULL);
    line[strcspn(line, "\n")] = '\0';
    if (strcmp(line, hex) != 0) fprintf(stderr, "vector %s differs:\n got  %s\n want %s\n", name, hex, line);
    CHECK(strcmp(line, hex) == 0);
    free(line);
    fclose(f);
  }
  free(hex);
}

static void test_known_answers(void) {
  cs_buf_t p, out;
  uint8_t id[32], id2[32];
  build(&out, NULL, sk_a, 1, NULL, 0, NULL, 1, payload_genesis(&p), id);
  check_vector("genesis.signed.hex", out.data, out.len);
  check_vector("genesis.id.hex", id, 32);
  cs_change_t c;
  CHECK_EQ_INT(cs_change_parse_verified(cs_buf_span(&out), &c), CS_OK);
  CHECK(memcmp(c.id, id, 32) == 0);
  CHECK_EQ_INT(c.seq, 1);
  CHECK(!c.has_club);
  /* A second change: club, prev, one dep, lamport 2. */
  cs_buf_t p2, out2;
  const uint8_t deps[1][32] = {{7}};
  build(&out2, id, sk_a, 2, id, 1, deps, 2, payload_request(&p2, "Export Joconde"), id2);
  check_vector("request.signed.hex", out2.data, out2.len);
  check_vector("request.id.hex", id2, 32);
  uint8_t op0[32];
  cs_op_id(id2, 0, op0);
  check_vector("request.op0.hex", op0, 32);
  cs_buf_free(&p);
  cs_buf_free(&out);
  cs_buf_free(&p2);
  cs_buf_free(&out2);
}

static void test_decode_limits(void) {
  cs_buf_t p, out;
  uint8_t id[32];
  cs_change_t c;
  build(&out, NULL, sk_a, 1, NULL, 0, NULL, 1, payload_genesis(&p), id);
  /* Every truncation is refused without reading past the end. */
  for (size_t n = 0; n < out.len; n++) {
    cs_span_t cut = {out.data, n};
    CHECK(cs_change_parse_verified(cut, &c) != CS_OK);
  }
  cs_span_t huge = {out.data, CS_CHANGE_SIGNED_MAX + 1};
  CHECK_EQ_INT(cs_change_decode(huge, &c), CS_ETOOBIG);
  uint8_t garbage[64];
  memset(garbage, 0xc1, sizeof(garbage));
  CHECK(cs_change_decode((cs_span_t){garbage, sizeof(garbage)}, &c) != CS_OK);
  /* Unsorted deps are refused: the header must be canonical. */
  cs_buf_t out2;
  const uint8_t unsorted[2][32] = {{9}, {3}};
  cs_change_draft_t d = {id, pk_a, 2, id, 2, unsorted, 2, 0, cs_buf_span(&p)};
  cs_buf_init(&out2, CS_CHANGE_SIGNED_MAX);
  CHECK_EQ_INT(cs_change_build(&d, sk_a, &out2, id), CS_EINVAL);
  cs_buf_free(&out2);
  cs_buf_free(&p);
  cs_buf_free(&out);
}

/* Each rule through cs_store_ingest, with the reason it reports. */
static void test_ingest_rules(void) {
  char dir[64];
  test_tmpdir(dir, sizeof(dir));
  cs_store_t *s = test_store_open(dir);
  cs_buf_t p, g, out;
  uint8_t club[32], id[32], id2[32];
  build(&g, NULL, sk_a, 1, NULL, 0, NULL, 1, payload_genesis(&p), club);
  cs_ingest_result_t r = test_ingest(s, cs_buf_span(&g));
  CHECK_EQ_INT(r.status, CS_INGEST_NEW);
  uint8_t before[32], after[32];
  test_digest(s, club, before);

  /* Idempotence: the same change again changes nothing. */
  r = test_ingest(s, cs_buf_span(&g));
  CHECK_EQ_INT(r.status, CS_INGEST_DUPLICATE);
  test_digest(s, club, after);
  CHECK(memcmp(before, after, 32) == 0);

  cs_buf_t rp;
  cs_span_t req = payload_request(&rp, "Récolement décennal");
  const uint8_t (*no_deps)[32] = NULL;

  /* Tampered payload. */
  build(&out, club, sk_a, 2, club, 0, no_deps, 2, req, id);
  uint8_t *bytes = malloc(out.len);
  memcpy(bytes, out.data, out.len);
  bytes[out.len - 3] ^= 0x01;
  r = test_ingest(s, (cs_span_t){bytes, out.len});
  CHECK_EQ_INT(r.status, CS_INGEST_REJECTED);
  CHECK_EQ_INT(r.reason, CS_EHASH);
  /* Re-signed: A's change with B's signature. */
  memcpy(bytes, out.data, out.len);
  cs_change_t c;
  CHECK_EQ_INT(cs_change_decode(cs_buf_span(&out), &c), CS_OK);
  size_t sig_at = (size_t)(c.header_bytes.ptr - out.data) + c.header_bytes.len + 2;
  uint8_t msg[15 + 32];
  memcpy(msg, "clubsync/sig/v1", 15);
  memcpy(msg + 15, id, 32);
  crypto_sign_detached(bytes + sig_at, NULL, msg, sizeof(msg), sk_b);
  r = test_ingest(s, (cs_span_t){bytes, out.len});
  CHECK_EQ_INT(r.reason, CS_ESIG);
  free(bytes);
  cs_buf_free(&out);

  /* Unknown club. */
  uint8_t other_club[32];
  memset(other_club, 0x42, 32);
  build(&out, other_club, sk_a, 1, NULL, 0, no_deps, 2, req, id);
  r = test_ingest(s, cs_buf_span(&out));
  CHECK_EQ_INT(r.reason, CS_ECLUB);
  cs_buf_free(&out);

  /* Wrong lamport. */
  build(&out, club, sk_a, 2, club, 0, no_deps, 5, req, id);
  r = test_ingest(s, cs_buf_span(&out));
  CHECK_EQ_INT(r.reason, CS_ELAMPORT);
  cs_buf_free(&out);

  /* Wrong prev at seq 2 (seq 1 is stored with another id). */
  uint8_t bogus[32];
  memset(bogus, 0x11, 32);
  build(&out, club, sk_a, 2, bogus, 0, no_deps, 2, req, id);
  r = test_ingest(s, cs_buf_span(&out));
  CHECK_EQ_INT(r.reason, CS_ECHAIN);
  cs_buf_free(&out);

  /* Missing dep: parked as pending, not applied. */
  build(&out, club, sk_a, 2, club, 1, (const uint8_t(*)[32])&bogus, 2, req, id);
  r = test_ingest(s, cs_buf_span(&out));
  CHECK_EQ_INT(r.status, CS_INGEST_PENDING);
  CHECK_EQ_INT(r.reason, CS_EDEPS);
  cs_buf_free(&out);

  /* Unknown op. */
  cs_buf_t bad;
  cs_buf_init(&bad, 256);
  cs_mp_write_array(&bad, 1);
  cs_mp_write_array(&bad, 1);
  cs_mp_write_uint(&bad, 99);
  build(&out, club, sk_a, 2, club, 0, no_deps, 2, cs_buf_span(&bad), id);
  r = test_ingest(s, cs_buf_span(&out));
  CHECK_EQ_INT(r.reason, CS_EUNKNOWNOP);
  cs_buf_free(&out);
  cs_buf_free(&bad);

  /* Out of order: seq 3 before seq 2 waits, then both apply. */
  cs_buf_t out3, rp3;
  build(&out, club, sk_a, 2, club, 0, no_deps, 2, req, id);
  build(&out3, club, sk_a, 3, id, 0, no_deps, 3, payload_request(&rp3, "Constat d'état"), id2);
  r = test_ingest(s, cs_buf_span(&out3));
  CHECK_EQ_INT(r.status, CS_INGEST_PENDING);
  CHECK_EQ_INT(r.reason, CS_EPREV);
  r = test_ingest(s, cs_buf_span(&out));
  CHECK_EQ_INT(r.status, CS_INGEST_NEW);
  CHECK_EQ_INT(r.released, 1);
  test_digest(s, club, after);
  CHECK(memcmp(before, after, 32) != 0);
  memcpy(before, after, 32);

  /* A non-member's change is kept as evidence but stays out of the state. */
  cs_buf_t outb;
  uint8_t idb[32];
  build(&outb, club, sk_b, 1, NULL, 1, (const uint8_t(*)[32])&id2, 4, req, idb);
  r = test_ingest(s, cs_buf_span(&outb));
  CHECK_EQ_INT(r.status, CS_INGEST_UNAUTHORISED);
  CHECK_EQ_INT(r.reason, CS_EAUTH);
  test_digest(s, club, after);
  CHECK(memcmp(before, after, 32) == 0);

  /* A fork: a second, different change at seq 3 is evidence and freezes A. */
  cs_buf_t fork, fp;
  uint8_t idf[32];
  build(&fork, club, sk_a, 3, id, 0, no_deps, 3, payload_request(&fp, "Autre"), idf);
  r = test_ingest(s, cs_buf_span(&fork));
  CHECK_EQ_INT(r.status, CS_INGEST_FORK);
  cs_txn_t txn;
  CHECK_EQ_INT(cs_store_begin(s, false, &txn), CS_OK);
  CHECK_EQ_INT(cs_store_change_status(&txn, idf), CS_EFORK);
  CHECK_EQ_INT(cs_store_change_status(&txn, id2), CS_EFORK); /* frozen from the fork point */
  CHECK_EQ_INT(cs_store_change_status(&txn, id), CS_OK);
  cs_store_abort(&txn);

  cs_buf_free(&fork);
  cs_buf_free(&fp);
  cs_buf_free(&outb);
  cs_buf_free(&out);
  cs_buf_free(&out3);
  cs_buf_free(&rp3);
  cs_buf_free(&rp);
  cs_buf_free(&g);
  cs_buf_free(&p);
  cs_store_close(s);
  test_rmdir(dir);
}

int main(void) {
  if (sodium_init() < 0) return 2;
  test_key(1, pk_a, sk_a);
  test_key(2, pk_b, sk_b);
  test_known_answers();
  test_decode_limits();
  test_ingest_rules();
  TEST_SUMMARY();
}
