/* Fuzzes `clubsync verify`: the input goes as an audit bundle to
 * cs_audit_bundle_verify, the function the command calls on the file's
 * bytes. Then the same input resealed: every record that decodes as a
 * change signed by one of the seed club's keys (tests/fuzz/fuzz_audit.h) is
 * signed again (payload hash, id and signature made valid for what it now
 * says), and the records read up to any damage are framed again with a
 * valid trailer. Without that, nearly every mutation would stop at a
 * signature or at the trailer's hash; resealed, it reaches the genesis
 * rule, the membership replay, the ballots and the count.
 *
 * Properties, for both:
 *   - no crash, leak or sanitizer report, whatever the counts the input
 *     claims (the bounds of docs/limits.md);
 *   - every failure but running out of memory has a reason;
 *   - a bundle that verifies is of the club its header names; each ballot
 *     has a choice; each museum that voted has exactly one latest ballot;
 *     when resolved, the counted ballots are exactly the resolution's
 *     counts, at most one per dep of a change. */
#include "tests/fuzz/fuzz_audit.h"

#include "core/bundle.h"
#include "core/change.h"
#include "core/decision.h"

static uint8_t pk[FUZZ_AUDIT_KEYS][32], sk[FUZZ_AUDIT_KEYS][64];

static int by_museum(const void *pa, const void *pb) {
  const cs_audit_vote_t *a = *(const cs_audit_vote_t *const *)pa, *b = *(const cs_audit_vote_t *const *)pb;
  return strcmp(a->museum, b->museum);
}

static void check_report(cs_span_t in, int err, const cs_audit_report_t *rep) {
  if (err != CS_OK) {
    FUZZ_CHECK(err == CS_ENOMEM || rep->why[0] != '\0');
    return;
  }
  cs_bundle_reader_t r;
  cs_bundle_header_t h;
  FUZZ_CHECK(cs_bundle_open(&r, in, &h) == CS_OK);
  FUZZ_CHECK(memcmp(rep->club, h.club, CS_ID_LEN) == 0);
  FUZZ_CHECK(!rep->damaged);
  FUZZ_CHECK(rep->electorate.count >= 1);
  FUZZ_CHECK(rep->vote_count <= CS_AUDIT_VOTE_ENTRIES_MAX);
  uint64_t tally[3] = {0, 0, 0}, counted = 0;
  const cs_audit_vote_t **order = malloc((rep->vote_count ? rep->vote_count : 1) * sizeof(*order));
  FUZZ_CHECK(order != NULL);
  for (uint32_t i = 0; i < rep->vote_count; i++) {
    const cs_audit_vote_t *v = &rep->votes[i];
    FUZZ_CHECK(v->choice < 3);
    if (v->counted) tally[v->choice]++, counted++;
    order[i] = v;
  }
  qsort(order, rep->vote_count, sizeof(*order), by_museum);
  for (uint32_t i = 0, latest = 0; i < rep->vote_count; i++) {
    latest += order[i]->latest;
    if (i + 1 == rep->vote_count || strcmp(order[i]->museum, order[i + 1]->museum) != 0) {
      FUZZ_CHECK(latest == 1);
      latest = 0;
    }
  }
  free(order);
  if (rep->resolved) {
    FUZZ_CHECK(counted <= CS_CHANGE_DEPS_MAX);
    FUZZ_CHECK(tally[0] == rep->resolution.yes && tally[1] == rep->resolution.no &&
               tally[2] == rep->resolution.abstain);
  } else {
    FUZZ_CHECK(counted == 0);
  }
}

static void verify(cs_span_t in) {
  cs_audit_report_t *rep = malloc(sizeof(*rep));
  FUZZ_CHECK(rep != NULL);
  int err = cs_audit_bundle_verify(in, rep);
  check_report(in, err, rep);
  cs_audit_report_free(rep);
  free(rep);
}

/* The input with the seed club's changes signed again and a valid trailer;
 * false when it is not a bundle at all. */
static bool reseal(cs_span_t in, cs_buf_t *out) {
  cs_bundle_reader_t r;
  cs_bundle_header_t h;
  if (cs_bundle_open(&r, in, &h) != CS_OK) return false;
  cs_bundle_writer_t w;
  cs_bundle_write_header(&w, &h, out);
  cs_change_t *c = malloc(sizeof(*c));
  cs_buf_t signed_bytes;
  cs_buf_init(&signed_bytes, CS_CHANGE_SIGNED_MAX);
  FUZZ_CHECK(c != NULL);
  cs_span_t record;
  while (cs_bundle_next(&r, &record) == CS_OK) {
    cs_span_t keep = record;
    int k = 0;
    if (cs_change_decode(record, c) == CS_OK)
      while (k < FUZZ_AUDIT_KEYS && memcmp(c->author, pk[k], CS_KEY_LEN) != 0) k++;
    else
      k = FUZZ_AUDIT_KEYS;
    if (k < FUZZ_AUDIT_KEYS) {
      cs_change_draft_t d = {c->has_club ? c->club : NULL,
                             c->author,
                             c->seq,
                             c->has_prev ? c->prev : NULL,
                             c->dep_count,
                             (const uint8_t(*)[CS_ID_LEN])c->deps,
                             c->lamport,
                             c->time_ms,
                             c->payload_bytes};
      uint8_t id[CS_ID_LEN];
      if (cs_change_build(&d, sk[k], &signed_bytes, id) == CS_OK) keep = cs_buf_span(&signed_bytes);
    }
    FUZZ_CHECK(cs_bundle_write_change(&w, keep, out) == CS_OK);
  }
  cs_bundle_write_trailer(&w, out);
  cs_buf_free(&signed_bytes);
  free(c);
  return !out->failed;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static bool ready;
  if (!ready) {
    fuzz_sodium_init();
    fuzz_audit_keys(pk, sk);
    ready = true;
  }
  cs_span_t in = {data, size};
  verify(in);
  cs_buf_t sealed;
  cs_buf_init(&sealed, size + 4096);
  if (reseal(in, &sealed) && (sealed.len != size || memcmp(sealed.data, data, size) != 0))
    verify(cs_buf_span(&sealed));
  cs_buf_free(&sealed);
  return 0;
}
