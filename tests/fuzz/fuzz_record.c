/* Fuzzes the materialized-record codecs read back from LMDB: the object
 * record (cs_object_decode / cs_object_encode) and the member timeline
 * (cs_member_decode / cs_member_encode). A store that a crash or a bad disk
 * left damaged must give an error, never a crash.
 *
 * The first byte picks the codec (even: object, odd: member); the rest is
 * the record. Properties: decode -> encode -> decode -> encode is stable
 * (the second encoding equals the first, so records stay canonical); the
 * CRDT operations on a decoded object keep its entries sorted and its
 * field lookups consistent; a member's role lookup never leaves the enum. */
#include "tests/fuzz/fuzz_common.h"

#include "core/members.h"
#include "core/object.h"

/* Entries sorted: field ascending, then (lamport, author, op) descending. */
static int entry_before(const cs_entry_t *a, const cs_entry_t *b) {
  if (a->field != b->field) return a->field < b->field;
  if (a->lamport != b->lamport) return a->lamport > b->lamport;
  int c = memcmp(a->author, b->author, CS_KEY_LEN);
  if (c) return c > 0;
  return memcmp(a->op, b->op, CS_ID_LEN) > 0;
}

static void fuzz_object(cs_span_t in) {
  cs_object_t obj, again;
  if (cs_object_decode(in, &obj) != CS_OK) {
    FUZZ_CHECK(obj.entries == NULL && obj.entry_count == 0);
    return;
  }
  cs_buf_t first, second;
  cs_buf_init(&first, CS_RECORD_MAX);
  cs_buf_init(&second, CS_RECORD_MAX);
  FUZZ_CHECK(cs_object_encode(&obj, &first) == CS_OK);
  FUZZ_CHECK(cs_object_decode(cs_buf_span(&first), &again) == CS_OK);
  FUZZ_CHECK(cs_object_encode(&again, &second) == CS_OK);
  FUZZ_CHECK(first.len == second.len && memcmp(first.data, second.data, first.len) == 0);
  FUZZ_CHECK(again.entry_count == obj.entry_count && again.type == obj.type && again.deleted == obj.deleted);
  cs_object_free(&again);

  /* A record written by the store is sorted; one from elsewhere may not be,
   * so the CRDT rules are exercised on a re-sorted copy built by inserts. */
  cs_object_t built;
  cs_object_init(&built);
  for (uint32_t i = 0; i < obj.entry_count; i++) {
    const cs_entry_t *e = &obj.entries[i];
    cs_span_t v = {e->value, e->value_len};
    FUZZ_CHECK(cs_object_add(&built, e->field, e->lamport, e->author, e->op, v) == CS_OK);
  }
  for (uint32_t i = 1; i < built.entry_count; i++)
    FUZZ_CHECK(!entry_before(&built.entries[i], &built.entries[i - 1]));
  if (obj.entry_count > 0) {
    /* Overwrite the first entry's field, naming every live value. */
    const cs_entry_t *first_entry = &obj.entries[0];
    uint8_t preds[CS_PREDS_MAX][CS_ID_LEN], op[CS_ID_LEN];
    uint32_t n = 0;
    for (uint32_t i = 0; i < built.entry_count && n < CS_PREDS_MAX; i++)
      if (built.entries[i].field == first_entry->field) memcpy(preds[n++], built.entries[i].op, CS_ID_LEN);
    memset(op, 0xee, sizeof(op));
    const cs_entry_t *winner;
    uint32_t live = cs_object_field(&built, first_entry->field, &winner);
    FUZZ_CHECK(live >= 1 && winner != NULL && winner->field == first_entry->field);
    cs_span_t v = {(const uint8_t *)"\xa1x", 2};
    bool op_taken = false;
    for (uint32_t i = 0; i < built.entry_count; i++) op_taken |= memcmp(built.entries[i].op, op, CS_ID_LEN) == 0;
    uint32_t before = live;
    FUZZ_CHECK(cs_object_set(&built, first_entry->field, UINT64_MAX, first_entry->author, op, v, n,
                             (const uint8_t(*)[CS_ID_LEN])preds) == CS_OK);
    live = cs_object_field(&built, first_entry->field, &winner);
    if (!op_taken && before <= CS_PREDS_MAX) {
      /* Naming every live value overwrites them all. */
      FUZZ_CHECK(live == 1 && memcmp(winner->op, op, CS_ID_LEN) == 0);
      char text[8];
      FUZZ_CHECK(cs_value_str(winner->value, winner->value_len, text, sizeof(text)) && strcmp(text, "x") == 0);
    }
    cs_object_remove(&built, first_entry->field, 1, (const uint8_t(*)[CS_ID_LEN])op);
    cs_object_delete(&built, 3, first_entry->author);
    FUZZ_CHECK(built.deleted && built.deleted_lamport == 3);
  }
  FUZZ_CHECK(cs_object_encode(&built, &second) == CS_OK);
  cs_object_free(&built);
  cs_object_free(&obj);
  cs_buf_free(&first);
  cs_buf_free(&second);
}

static void fuzz_member(cs_span_t in) {
  uint8_t key[CS_KEY_LEN];
  memset(key, 0xab, sizeof(key));
  cs_member_t *m = malloc(sizeof(*m)), *again = malloc(sizeof(*again));
  FUZZ_CHECK(m && again);
  if (cs_member_decode(in, key, m) == CS_OK) {
    FUZZ_CHECK(m->count <= CS_MEMBER_ENTRIES_MAX);
    cs_buf_t first, second;
    cs_buf_init(&first, 64 * 1024);
    cs_buf_init(&second, 64 * 1024);
    FUZZ_CHECK(cs_member_encode(m, &first) == CS_OK);
    FUZZ_CHECK(cs_member_decode(cs_buf_span(&first), key, again) == CS_OK);
    FUZZ_CHECK(cs_member_encode(again, &second) == CS_OK);
    FUZZ_CHECK(first.len == second.len && memcmp(first.data, second.data, first.len) == 0);
    FUZZ_CHECK(again->count == m->count);
    for (uint32_t i = 0; i < m->count; i++) {
      FUZZ_CHECK((unsigned)m->entries[i].role < CS_ROLE_COUNT);
      FUZZ_CHECK(strlen(m->entries[i].museum) <= CS_NAME_MAX);
      uint64_t seq = m->entries[i].cutoff + 1;
      FUZZ_CHECK((unsigned)cs_member_role_at(m, seq) < CS_ROLE_COUNT);
    }
    FUZZ_CHECK(!cs_member_roles_differ(m, again, UINT64_MAX));
    const cs_member_entry_t *latest = cs_member_latest(m);
    FUZZ_CHECK((latest == NULL) == (m->count == 0));
    /* Re-inserting every entry of a timeline into an empty one sorts it;
     * inserting twice changes nothing. */
    again->count = 0;
    for (uint32_t i = 0; i < m->count; i++) {
      FUZZ_CHECK(cs_member_insert(again, &m->entries[i]) == CS_OK);
      uint32_t before = again->count;
      FUZZ_CHECK(cs_member_insert(again, &m->entries[i]) == CS_OK && again->count == before);
    }
    cs_buf_free(&first);
    cs_buf_free(&second);
  }
  free(m);
  free(again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  cs_span_t in = {data + 1, size - 1};
  if (data[0] & 1) fuzz_member(in);
  else fuzz_object(in);
  return 0;
}
