/* Convergence of the data model and of membership at the store level: random
 * club histories of 5 authors and 2,000 changes over every operation of the
 * data model and membership changes (removals, demotions, re-admissions),
 * written on 5 replicas that sync now and then (so many writes are concurrent),
 * give the same digest in every delivery order: 200 random permutations,
 * each with duplicates, into fresh stores. A ballot over budget is refused
 * where it is written and rejected, with its reason, where it arrives. */
#include "tests/unit/testlib.h"

#include "core/campaign.h"
#include "core/op.h"

#define AUTHORS 5
#define CHANGES 2000
#define ORDERS 200
#define MAX_IDS 4096

static uint64_t rng_state = 0x5eed0003u;
static uint64_t rng(void) {
  uint64_t z = (rng_state += 0x9e3779b97f4a7c15u);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
  return z ^ (z >> 31);
}
static uint32_t pick(uint32_t n) { return (uint32_t)(rng() % n); }

static uint8_t pk[AUTHORS][32], sk[AUTHORS][64], club[32];
static cs_store_t *replica[AUTHORS];
/* What kinds of changes the history holds, so the test cannot pass on an
 * empty or one-sided history. */
enum { K_REQUEST, K_EDIT, K_STATUS, K_TAG, K_UNTAG, K_SUPPORT, K_UNSUPPORT, K_MERGE, K_COMMENT, K_COMMENT_EDIT,
       K_COMMENT_DELETE, K_CAMPAIGN, K_VOTE, K_CLOSE, K_MEETING, K_ATTEND, K_DOC, K_DOC_EDIT, K_MEMBER, K_KINDS };
static const char *const kind_names[K_KINDS] = {
    "request", "edit", "status", "tag", "untag", "support", "unsupport", "merge", "comment",
    "comment-edit", "comment-delete", "campaign", "vote", "close", "meeting", "attend", "doc", "doc-edit", "member"};
static int kind_count[K_KINDS];


/* The objects of a type on one replica, optionally only those created by a key. */
typedef struct ids_s {
  uint8_t ids[MAX_IDS][32];
  uint32_t count;
  uint64_t type;
  const uint8_t *creator;
  const uint8_t *parent;
} ids_t;

static int ids_each(const uint8_t id[32], const cs_object_t *obj, void *vctx) {
  ids_t *ids = vctx;
  if (ids->creator && memcmp(obj->creator, ids->creator, 32) != 0) return 0;
  if (ids->parent && (!obj->has_parent || memcmp(obj->parent, ids->parent, 32) != 0)) return 0;
  if (obj->deleted || ids->count == MAX_IDS) return 0;
  memcpy(ids->ids[ids->count++], id, 32);
  return 0;
}

static ids_t *objects(cs_store_t *s, uint64_t type, const uint8_t *creator, const uint8_t *parent) {
  static ids_t ids;
  ids.count = 0;
  ids.type = type;
  ids.creator = creator;
  ids.parent = parent;
  cs_txn_t txn;
  if (cs_store_begin(s, false, &txn) == CS_OK) {
    CHECK_EQ_INT(cs_store_objects(&txn, club, type, ids_each, &ids), CS_OK);
    cs_store_abort(&txn);
  }
  return &ids;
}

static bool object_get(cs_store_t *s, const uint8_t id[32], cs_object_t *obj) {
  cs_txn_t txn;
  if (cs_store_begin(s, false, &txn) != CS_OK) return false;
  bool ok = cs_store_object_get(&txn, club, id, obj) == CS_OK;
  cs_store_abort(&txn);
  return ok;
}

/* A register write over every live value this replica sees. */
static void overwrite(cs_buf_t *p, const cs_object_t *obj, const uint8_t id[32], uint64_t field, cs_span_t value) {
  uint8_t preds[CS_PREDS_MAX][32];
  uint32_t n = 0;
  for (uint32_t i = 0; i < obj->entry_count && n < CS_PREDS_MAX; i++)
    if (obj->entries[i].field == field) memcpy(preds[n++], obj->entries[i].op, 32);
  cs_op_write_set_raw(p, cs_ref_id(id), field, value, n, (const uint8_t(*)[32])preds);
}

static cs_span_t str_value(cs_buf_t *b, const char *text) {
  cs_buf_reset(b);
  cs_mp_write_cstr(b, text);
  return cs_buf_span(b);
}

static cs_span_t key_value(cs_buf_t *b, const uint8_t key[32]) {
  cs_buf_reset(b);
  cs_mp_write_bin(b, key, 32);
  return cs_buf_span(b);
}

/* The role of author a for its next change, as its own replica sees it. */
static cs_role_t role_of(cs_store_t *s, int a) {
  cs_txn_t txn;
  cs_role_t role = CS_ROLE_NONE;
  cs_member_t *m = malloc(sizeof(*m));
  if (m && cs_store_begin(s, false, &txn) == CS_OK) {
    if (cs_store_member_get(&txn, club, pk[a], m) == CS_OK)
      role = cs_member_role_at(m, cs_store_author_seq(&txn, club, pk[a], NULL) + 1);
    cs_store_abort(&txn);
  }
  free(m);
  return role;
}

static uint64_t seq_of(cs_store_t *s, int a) {
  cs_txn_t txn;
  uint64_t seq = 0;
  if (cs_store_begin(s, false, &txn) == CS_OK) {
    seq = cs_store_author_seq(&txn, club, pk[a], NULL);
    cs_store_abort(&txn);
  }
  return seq;
}

/* One random action of author a on its own replica; returns its kind, or
 * -1 when nothing applicable was written (the caller tries again). */
static int act(int a) {
  cs_store_t *s = replica[a];
  cs_buf_t p, v;
  cs_buf_init(&p, CS_CHANGE_PAYLOAD_MAX);
  cs_buf_init(&v, CS_TEXT_MAX);
  char text[64];
  snprintf(text, sizeof(text), "t%llu", (unsigned long long)(rng() % 1000));
  ids_t *reqs = objects(s, CS_OBJ_REQUEST, NULL, NULL);
  uint8_t req[32], other[32];
  bool have_req = reqs->count > 0;
  if (have_req) {
    memcpy(req, reqs->ids[pick(reqs->count)], 32);
    memcpy(other, reqs->ids[pick(reqs->count)], 32);
  }
  int kind = (int)pick(K_KINDS);
  if (!have_req || pick(8) == 0) kind = K_REQUEST;
  cs_object_t obj;
  cs_object_init(&obj);
  /* A key its own replica sees as removed or observer stops writing; its
   * changes written before it learnt of it are what removal invalidates. */
  cs_role_t role = role_of(s, a);
  if (role != CS_ROLE_ADMIN && role != CS_ROLE_MEMBER) goto none;
  switch (kind) {
  case K_REQUEST:
    cs_mp_write_array(&p, 4);
    cs_op_write_create(&p, CS_OBJ_REQUEST, NULL);
    cs_op_write_set_str(&p, cs_ref_local(0), CS_F_REQ_TITLE, text, 0, NULL);
    cs_op_write_set_str(&p, cs_ref_local(0), CS_F_REQ_STATUS, "submitted", 0, NULL);
    cs_op_write_add_str(&p, cs_ref_local(0), CS_F_REQ_TAGS, "x");
    break;
  case K_EDIT: case K_STATUS: case K_MERGE: {
    static const char *const statuses[] = {"review", "vote", "shortlisted", "verified", "postponed"};
    if (!object_get(s, req, &obj)) goto none;
    cs_mp_write_array(&p, kind == K_MERGE ? 2 : 1);
    if (kind == K_EDIT) overwrite(&p, &obj, req, CS_F_REQ_TITLE, str_value(&v, text));
    if (kind == K_STATUS) overwrite(&p, &obj, req, CS_F_REQ_STATUS, str_value(&v, statuses[pick(5)]));
    if (kind == K_MERGE) {
      if (memcmp(req, other, 32) == 0) goto none;
      overwrite(&p, &obj, req, CS_F_REQ_STATUS, str_value(&v, "merged"));
      overwrite(&p, &obj, req, CS_F_REQ_MERGED_INTO, key_value(&v, other));
    }
    break;
  }
  case K_TAG: case K_UNTAG: case K_SUPPORT: case K_UNSUPPORT: {
    bool tag = kind == K_TAG || kind == K_UNTAG, add = kind == K_TAG || kind == K_SUPPORT;
    uint64_t field = tag ? CS_F_REQ_TAGS : CS_F_REQ_SUPPORTERS;
    cs_span_t element = tag ? str_value(&v, pick(2) ? "x" : "y") : key_value(&v, pk[a]);
    cs_mp_write_array(&p, 1);
    if (add) {
      cs_op_write_add_raw(&p, cs_ref_id(req), field, element);
      break;
    }
    if (!object_get(s, req, &obj)) goto none;
    uint8_t adds[CS_PREDS_MAX][32];
    uint32_t n = 0;
    for (uint32_t i = 0; i < obj.entry_count && n < CS_PREDS_MAX; i++)
      if (obj.entries[i].field == field && obj.entries[i].value_len == element.len &&
          memcmp(obj.entries[i].value, element.ptr, element.len) == 0)
        memcpy(adds[n++], obj.entries[i].op, 32);
    if (n == 0) goto none;
    cs_op_write_remove_raw(&p, cs_ref_id(req), field, element, n, (const uint8_t(*)[32])adds);
    break;
  }
  case K_COMMENT: {
    cs_ref_t parent = cs_ref_id(req);
    cs_mp_write_array(&p, 2);
    cs_op_write_create(&p, CS_OBJ_COMMENT, &parent);
    cs_op_write_set_str(&p, cs_ref_local(0), CS_F_COMMENT_BODY, text, 0, NULL);
    break;
  }
  case K_COMMENT_EDIT: case K_COMMENT_DELETE: case K_ATTEND: case K_DOC_EDIT: {
    uint64_t type = kind == K_ATTEND ? CS_OBJ_MEETING : kind == K_DOC_EDIT ? CS_OBJ_DOCUMENT : CS_OBJ_COMMENT;
    ids_t *mine = objects(s, type, type == CS_OBJ_COMMENT ? pk[a] : NULL, NULL);
    if (mine->count == 0) goto none;
    uint8_t id[32];
    memcpy(id, mine->ids[pick(mine->count)], 32);
    cs_mp_write_array(&p, 1);
    if (kind == K_COMMENT_DELETE) {
      cs_op_write_delete(&p, cs_ref_id(id));
      break;
    }
    if (kind == K_ATTEND) {
      cs_op_write_add_raw(&p, cs_ref_id(id), CS_F_MEETING_ATTENDANCE, key_value(&v, pk[a]));
      break;
    }
    if (!object_get(s, id, &obj)) goto none;
    overwrite(&p, &obj, id, kind == K_DOC_EDIT ? CS_F_DOC_BODY : CS_F_COMMENT_BODY, str_value(&v, text));
    break;
  }
  case K_CAMPAIGN: case K_CLOSE: {
    if (a != 0) goto none; /* only the admin runs campaigns */
    ids_t *campaigns = objects(s, CS_OBJ_CAMPAIGN, NULL, NULL);
    if (kind == K_CAMPAIGN) {
      if (campaigns->count >= 3) goto none;
      cs_buf_reset(&v);
      cs_mp_write_uint(&v, 100);
      cs_mp_write_array(&p, 4);
      cs_op_write_create(&p, CS_OBJ_CAMPAIGN, NULL);
      cs_op_write_set_str(&p, cs_ref_local(0), CS_F_CAMPAIGN_NAME, text, 0, NULL);
      cs_op_write_set_raw(&p, cs_ref_local(0), CS_F_CAMPAIGN_POINTS, cs_buf_span(&v), 0, NULL);
      cs_op_write_set_str(&p, cs_ref_local(0), CS_F_CAMPAIGN_PHASE, "vote", 0, NULL);
      break;
    }
    if (campaigns->count == 0) goto none;
    uint8_t id[32];
    memcpy(id, campaigns->ids[pick(campaigns->count)], 32);
    if (!object_get(s, id, &obj)) goto none;
    /* An admin closes a campaign once: each close reads the whole past. */
    bool closed = false;
    if (cs_campaign_closed_in_past(&obj, NULL, NULL, &closed) != CS_OK || closed) goto none;
    /* The results are the tally of the ballots in the close's past. */
    cs_tally_t t = {NULL, 0, 0};
    cs_tally_past_t *tp = NULL;
    cs_txn_t txn;
    if (cs_store_begin(s, false, &txn) == CS_OK) {
      if (cs_store_campaign_tally(&txn, club, id, NULL, &tp) != CS_OK || cs_tally_past_tally(tp, &t) != CS_OK)
        CHECK(!"the tally of the past");
      cs_tally_past_free(tp);
      cs_store_abort(&txn);
    }
    cs_mp_write_array(&p, 2);
    overwrite(&p, &obj, id, CS_F_CAMPAIGN_PHASE, str_value(&v, "closed"));
    cs_buf_reset(&v);
    cs_tally_write(&v, &t);
    cs_tally_free(&t);
    overwrite(&p, &obj, id, CS_F_CAMPAIGN_RESULTS, cs_buf_span(&v));
    break;
  }
  case K_VOTE: {
    ids_t *campaigns = objects(s, CS_OBJ_CAMPAIGN, NULL, NULL);
    if (campaigns->count == 0) goto none;
    uint8_t campaign[32];
    memcpy(campaign, campaigns->ids[pick(campaigns->count)], 32);
    /* A ballot after the close is invalid: honest authors do not write one. */
    bool closed = false;
    if (!object_get(s, campaign, &obj)) goto none;
    if (cs_campaign_closed_in_past(&obj, NULL, NULL, &closed) != CS_OK || closed) goto none;
    cs_object_free(&obj);
    cs_allocation_t alloc;
    alloc.count = 0;
    alloc.total = 0;
    reqs = objects(s, CS_OBJ_REQUEST, NULL, NULL);
    for (uint32_t i = 0; i < 3 && i < reqs->count; i++) {
      uint32_t r = pick(reqs->count);
      bool dup = false;
      for (uint32_t j = 0; j < alloc.count; j++) dup |= memcmp(alloc.requests[j], reqs->ids[r], 32) == 0;
      if (dup) continue;
      memcpy(alloc.requests[alloc.count], reqs->ids[r], 32);
      alloc.points[alloc.count] = 1 + pick(33);
      alloc.total += alloc.points[alloc.count++];
    }
    cs_buf_reset(&v);
    cs_allocation_write(&v, &alloc);
    ids_t *mine = objects(s, CS_OBJ_BALLOT, pk[a], campaign);
    if (mine->count == 0) {
      cs_ref_t parent = cs_ref_id(campaign);
      cs_mp_write_array(&p, 2);
      cs_op_write_create(&p, CS_OBJ_BALLOT, &parent);
      cs_op_write_set_raw(&p, cs_ref_local(0), CS_F_BALLOT_ALLOCATION, cs_buf_span(&v), 0, NULL);
    } else {
      uint8_t ballot[32];
      memcpy(ballot, mine->ids[0], 32);
      if (!object_get(s, ballot, &obj)) goto none;
      cs_mp_write_array(&p, 1);
      overwrite(&p, &obj, ballot, CS_F_BALLOT_ALLOCATION, cs_buf_span(&v));
    }
    break;
  }
  case K_MEETING:
    cs_mp_write_array(&p, 4);
    cs_op_write_create(&p, CS_OBJ_MEETING, NULL);
    cs_op_write_set_str(&p, cs_ref_local(0), CS_F_MEETING_TITLE, text, 0, NULL);
    cs_op_write_set_str(&p, cs_ref_local(0), CS_F_MEETING_DATE, "2027-03-14", 0, NULL);
    cs_op_write_add_raw(&p, cs_ref_local(0), CS_F_MEETING_AGENDA, key_value(&v, req));
    break;
  case K_MEMBER: {
    /* The admin removes a member, makes it an observer, or re-admits it;
     * the cutoff is what the admin's replica has seen of that key. */
    if (a != 0) goto none;
    int target = 1 + (int)pick(AUTHORS - 1);
    static const cs_role_t roles[] = {CS_ROLE_NONE, CS_ROLE_OBSERVER, CS_ROLE_MEMBER, CS_ROLE_MEMBER};
    char museum[32];
    snprintf(museum, sizeof(museum), "Musée %d", target);
    cs_mp_write_array(&p, 1);
    cs_op_write_member(&p, pk[target], museum, roles[pick(4)], seq_of(s, target));
    break;
  }
  case K_DOC:
    cs_mp_write_array(&p, 3);
    cs_op_write_create(&p, CS_OBJ_DOCUMENT, NULL);
    cs_op_write_set_str(&p, cs_ref_local(0), CS_F_DOC_TITLE, text, 0, NULL);
    cs_op_write_set_str(&p, cs_ref_local(0), CS_F_DOC_STATUS, "draft", 0, NULL);
    break;
  }
  uint8_t id[32];
  int err = test_author(s, club, sk[a], cs_buf_span(&p), id);
  if (err) fprintf(stderr, "author %d, %s: %s\n", a, kind_names[kind], cs_strerror(err));
  CHECK_EQ_INT(err, CS_OK);
  cs_object_free(&obj);
  cs_buf_free(&p);
  cs_buf_free(&v);
  return kind;
none:
  cs_object_free(&obj);
  cs_buf_free(&p);
  cs_buf_free(&v);
  return -1;
}

/* Every change of a store, copied. */
typedef struct changes_s {
  cs_span_t *items;
  uint32_t count, cap;
} changes_t;

static int collect_each(const uint8_t id[32], cs_span_t bytes, void *vctx) {
  (void)id;
  changes_t *c = vctx;
  if (c->count == c->cap) {
    c->cap = c->cap ? c->cap * 2 : 1024;
    c->items = realloc(c->items, c->cap * sizeof(*c->items));
  }
  uint8_t *copy = malloc(bytes.len);
  memcpy(copy, bytes.ptr, bytes.len);
  c->items[c->count++] = (cs_span_t){copy, bytes.len};
  return 0;
}

static void collect(cs_store_t *s, changes_t *out) {
  cs_txn_t txn;
  memset(out, 0, sizeof(*out));
  CHECK_EQ_INT(cs_store_begin(s, false, &txn), CS_OK);
  CHECK_EQ_INT(cs_store_changes(&txn, club, collect_each, out), CS_OK);
  cs_store_abort(&txn);
}

static void changes_free(changes_t *c) {
  for (uint32_t i = 0; i < c->count; i++) free((void *)c->items[i].ptr);
  free(c->items);
}

/* Ingests changes in the given order in batches of 256, one write
 * transaction each, as import does. Signatures were checked once already. */
static void deliver(cs_store_t *s, const cs_span_t *items, const uint32_t *order, uint32_t count, bool check_sigs) {
  for (uint32_t at = 0; at < count; at += 256) {
    cs_txn_t txn;
    CHECK_EQ_INT(cs_store_begin(s, true, &txn), CS_OK);
    for (uint32_t i = at; i < count && i < at + 256; i++) {
      cs_ingest_result_t res;
      CHECK_EQ_INT(cs_store_ingest_checked(&txn, items[order[i]], !check_sigs, &res), CS_OK);
    }
    CHECK_EQ_INT(cs_store_commit(&txn), CS_OK);
  }
}

static void sync_into(cs_store_t *to, cs_store_t *from) {
  changes_t c;
  collect(from, &c);
  uint32_t *order = malloc((c.count + 1) * sizeof(*order));
  for (uint32_t i = 0; i < c.count; i++) order[i] = i;
  deliver(to, c.items, order, c.count, true);
  free(order);
  changes_free(&c);
}

int main(void) {
  if (sodium_init() < 0) return 2;
  char dirs[AUTHORS][64];
  for (int a = 0; a < AUTHORS; a++) {
    test_key((uint8_t)(40 + a), pk[a], sk[a]);
    test_tmpdir(dirs[a], sizeof(dirs[a]));
    replica[a] = test_store_open(dirs[a]);
  }
  /* The club: author 0 is its admin, the others are members. */
  cs_buf_t p;
  cs_buf_init(&p, CS_CHANGE_PAYLOAD_MAX);
  cs_mp_write_array(&p, 1);
  cs_op_write_genesis(&p, "Club", "Flora", "Musée 0");
  uint8_t id[32];
  CHECK_EQ_INT(test_author(replica[0], NULL, sk[0], cs_buf_span(&p), club), CS_OK);
  cs_buf_reset(&p);
  cs_mp_write_array(&p, AUTHORS - 1);
  for (int a = 1; a < AUTHORS; a++) {
    char museum[32];
    snprintf(museum, sizeof(museum), "Musée %d", a);
    cs_op_write_member(&p, pk[a], museum, CS_ROLE_MEMBER, 0);
  }
  CHECK_EQ_INT(test_author(replica[0], club, sk[0], cs_buf_span(&p), id), CS_OK);
  for (int a = 1; a < AUTHORS; a++) sync_into(replica[a], replica[0]);

  /* The history: random actions, with a sync between two replicas now and
   * then, so that most writes are concurrent with some others. */
  int written = 2;
  while (written < CHANGES) {
    int a = (int)pick(AUTHORS);
    if (pick(12) == 0) {
      sync_into(replica[a], replica[pick(AUTHORS)]);
      continue;
    }
    int kind = act(a);
    if (kind < 0) continue;
    kind_count[kind]++;
    written++;
  }
  for (int k = 0; k < K_KINDS; k++) {
    if (kind_count[k] == 0) fprintf(stderr, "no change of kind %s in the history\n", kind_names[k]);
    CHECK(kind_count[k] > 0);
  }

  /* Full mesh: every replica ends with the same state. */
  for (int a = 1; a < AUTHORS; a++) sync_into(replica[0], replica[a]);
  for (int a = 1; a < AUTHORS; a++) sync_into(replica[a], replica[0]);
  uint8_t want[32], got[32];
  test_digest(replica[0], club, want);
  for (int a = 1; a < AUTHORS; a++) {
    test_digest(replica[a], club, got);
    CHECK(memcmp(want, got, 32) == 0);
  }
  changes_t all;
  collect(replica[0], &all);
  CHECK(all.count >= CHANGES);

  /* Concurrency happened: some register holds more than one value. */
  ids_t *reqs = objects(replica[0], CS_OBJ_REQUEST, NULL, NULL);
  uint32_t conflicted = 0;
  for (uint32_t i = 0; i < reqs->count; i++) {
    cs_object_t obj;
    const cs_entry_t *e;
    if (object_get(replica[0], reqs->ids[i], &obj)) {
      conflicted += cs_object_field(&obj, CS_F_REQ_TITLE, &e) > 1 || cs_object_field(&obj, CS_F_REQ_STATUS, &e) > 1;
      cs_object_free(&obj);
    }
  }
  cs_txn_t counts_txn;
  cs_store_counts_t totals = {0};
  if (cs_store_begin(replica[0], false, &counts_txn) == CS_OK) {
    CHECK_EQ_INT(cs_store_counts(&counts_txn, club, &totals), CS_OK);
    cs_store_abort(&counts_txn);
  }
  printf("%u changes, %u requests, %u with concurrent values, %llu invalidated (by removals)\n", all.count,
         reqs->count, conflicted, (unsigned long long)totals.invalid);
  CHECK(conflicted > 0);
  CHECK(totals.invalid > 0); /* late removals retracted some writes */

  /* 200 delivery orders, each with about 5% duplicates, into fresh stores.
   * Changes for a club a node has not joined are refused (ECLUB), so every
   * order starts with the genesis. */
  cs_change_t *first = malloc(sizeof(*first));
  CHECK(all.count > 0 && cs_change_decode(all.items[0], first) == CS_OK && !first->has_club);
  free(first);
  uint32_t extra = all.count / 20, n = all.count + extra;
  uint32_t *order = malloc(n * sizeof(*order));
  int differing = 0;
  for (int round = 0; round < ORDERS; round++) {
    for (uint32_t i = 0; i < all.count; i++) order[i] = i;
    for (uint32_t i = all.count; i < n; i++) order[i] = pick(all.count);
    /* A node joins a club from its genesis (the first change collected);
     * everything after it comes in any order. */
    for (uint32_t i = n - 1; i > 1; i--) {
      uint32_t j = 1 + pick(i), t = order[i];
      order[i] = order[j];
      order[j] = t;
    }
    char dir[64];
    test_tmpdir(dir, sizeof(dir));
    cs_store_t *fresh = test_store_open(dir);
    deliver(fresh, all.items, order, n, false);
    test_digest(fresh, club, got);
    if (memcmp(want, got, 32) != 0) {
      differing++;
      cs_txn_t txn;
      cs_store_counts_t counts;
      if (cs_store_begin(fresh, false, &txn) == CS_OK && cs_store_counts(&txn, club, &counts) == CS_OK)
        fprintf(stderr, "order %d gave another digest (%llu changes, %llu invalid, %llu pending)\n", round,
                (unsigned long long)counts.changes, (unsigned long long)counts.invalid,
                (unsigned long long)counts.pending);
      cs_store_abort(&txn);
    }
    cs_store_close(fresh);
    test_rmdir(dir);
  }
  CHECK_EQ_INT(differing, 0);
  printf("%d delivery orders of %u deliveries each: %d gave another digest\n", ORDERS, n, differing);
  free(order);

  /* A ballot over budget: refused where it is written; a node that
   * receives it anyway (stored by a tampered client) rejects it, EBUDGET. */
  ids_t *campaigns = objects(replica[0], CS_OBJ_CAMPAIGN, NULL, NULL);
  CHECK(campaigns->count > 0);
  if (campaigns->count > 0 && reqs->count > 0) {
    uint8_t campaign[32];
    memcpy(campaign, campaigns->ids[0], 32);
    cs_allocation_t alloc = {.count = 1, .total = 101};
    memcpy(alloc.requests[0], reqs->ids[0], 32);
    alloc.points[0] = 101;
    cs_buf_t v;
    cs_buf_init(&v, CS_TEXT_MAX);
    cs_allocation_write(&v, &alloc);
    cs_ref_t parent = cs_ref_id(campaign);
    cs_buf_reset(&p);
    cs_mp_write_array(&p, 2);
    cs_op_write_create(&p, CS_OBJ_BALLOT, &parent);
    cs_op_write_set_raw(&p, cs_ref_local(0), CS_F_BALLOT_ALLOCATION, cs_buf_span(&v), 0, NULL);
    CHECK_EQ_INT(test_author(replica[0], club, sk[0], cs_buf_span(&p), id), CS_EBUDGET);
    /* The tampered client (the admin's, whose role cannot change here) keeps it anyway. */
    cs_txn_t txn;
    CHECK_EQ_INT(cs_store_begin(replica[0], true, &txn), CS_OK);
    CHECK_EQ_INT(cs_store_author(&txn, club, sk[0], cs_buf_span(&p), 1700000000000, id), CS_EBUDGET);
    CHECK_EQ_INT(cs_store_commit(&txn), CS_OK);
    cs_span_t forged = test_fetch(replica[0], id);
    CHECK(forged.len > 0);
    test_digest(replica[1], club, want);
    cs_ingest_result_t res = test_ingest(replica[1], forged);
    CHECK_EQ_INT(res.status, CS_INGEST_UNAUTHORISED);
    CHECK_EQ_INT(res.reason, CS_EBUDGET);
    test_digest(replica[1], club, got);
    CHECK(memcmp(want, got, 32) == 0);
    free((void *)forged.ptr);
    cs_buf_free(&v);
  }
  cs_buf_free(&p);
  changes_free(&all);
  for (int a = 0; a < AUTHORS; a++) {
    cs_store_close(replica[a]);
    test_rmdir(dirs[a]);
  }
  TEST_SUMMARY();
}
