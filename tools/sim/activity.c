/* Random club activity, built the way the CLI builds it (tools/cmd_request.c,
 * tools/cmd_club.c): file a request, edit its fields (overwriting every live
 * value, or not, which makes a conflict), change its status, tag and untag
 * it, co-sign it, comment, edit or delete one's comments, vote in campaigns
 * (sometimes over budget), propose and vote on motions (some of them to
 * remove an admin), and, for admins, resolve motions, carry out adopted
 * removals, open campaigns, add members, change roles and remove keys
 * (strong remove with a cutoff). The byzantine node also writes lying
 * counts and carries out decisions on any resolution. A node only
 * does what its own replica says its role allows, as a person at the
 * keyboard would; the store refuses anything else. */
#include "tools/sim/sim_int.h"

#include <stdlib.h>
#include <string.h>

#include "core/decision.h"

#define SIM_PICK_MAX 4096

static const char *const titles[] = {"Export Joconde", "Constat d'état", "Récolement décennal", "Prêts",
                                     "Mouvements", "Multimédia", "Inventaire", "Exposition"};
static const char *const modules[] = {"inventaire", "récolement", "mouvements", "constat d'état", "prêts",
                                      "exposition", "multimédia", "export"};
static const char *const tags[] = {"urgent", "réglementaire", "ergonomie", "export", "pop"};

static const char *const cs_vote_choices_sim[] = {"yes", "no", "abstain"};

#define PICK(w, array) (array)[sim_rng_below(&(w)->rng, (uint32_t)(sizeof(array) / sizeof((array)[0])))]

/* Reservoir sampling over objects, so the choice is uniform and depends only
 * on the replica's (deterministic) iteration order. */
typedef struct pick_ctx_s {
  sim_world_t *w;
  const uint8_t *creator; /* only objects by this key, when set */
  uint32_t seen;
  uint8_t id[CS_ID_LEN];
} pick_ctx_t;

static int pick_each(const uint8_t id[CS_ID_LEN], const cs_object_t *obj, void *vctx) {
  pick_ctx_t *p = vctx;
  if (p->creator && (memcmp(obj->creator, p->creator, CS_KEY_LEN) != 0 || obj->deleted)) return 0;
  p->seen++;
  if (sim_rng_below(&p->w->rng, p->seen) == 0) memcpy(p->id, id, CS_ID_LEN);
  return p->seen >= SIM_PICK_MAX ? CS_STOP : 0;
}

static bool pick(sim_world_t *w, int node, uint64_t type, const uint8_t *creator, uint8_t id[CS_ID_LEN]) {
  cs_txn_t txn;
  if (cs_store_begin(w->node[node].store, false, &txn) != CS_OK) return false;
  pick_ctx_t p = {w, creator, 0, {0}};
  int err = cs_store_objects(&txn, w->club, type, pick_each, &p);
  cs_store_abort(&txn);
  if (err || !p.seen) return false;
  memcpy(id, p.id, CS_ID_LEN);
  return true;
}

/* The role the node's replica gives `key` for its next change. */
static cs_role_t role_of(sim_world_t *w, int node, const uint8_t key[CS_KEY_LEN], cs_member_t *m) {
  cs_txn_t txn;
  cs_role_t role = CS_ROLE_NONE;
  if (cs_store_begin(w->node[node].store, false, &txn) != CS_OK) return role;
  uint64_t seq = cs_store_author_seq(&txn, w->club, key, NULL);
  if (cs_store_member_get(&txn, w->club, key, m) == CS_OK) role = cs_member_role_at(m, seq + 1);
  else m->count = 0;
  cs_store_abort(&txn);
  return role;
}

/* The live ops of a field, to overwrite them all. */
static uint32_t preds_of(sim_world_t *w, int node, const uint8_t obj_id[CS_ID_LEN], uint64_t field,
                         uint8_t preds[CS_PREDS_MAX][CS_ID_LEN]) {
  cs_txn_t txn;
  cs_object_t obj;
  uint32_t n = 0;
  if (cs_store_begin(w->node[node].store, false, &txn) != CS_OK) return 0;
  if (cs_store_object_get(&txn, w->club, obj_id, &obj) == CS_OK) {
    for (uint32_t i = 0; i < obj.entry_count && n < CS_PREDS_MAX; i++)
      if (obj.entries[i].field == field) memcpy(preds[n++], obj.entries[i].op, CS_ID_LEN);
    cs_object_free(&obj);
  }
  cs_store_abort(&txn);
  return n;
}

static void write_set(sim_world_t *w, int node, cs_buf_t *p, const uint8_t obj[CS_ID_LEN], uint64_t field,
                      const char *value) {
  uint8_t preds[CS_PREDS_MAX][CS_ID_LEN];
  /* Mostly a person edits what they see; sometimes two edit blind. */
  uint32_t n = sim_rng_below(&w->rng, 8) ? preds_of(w, node, obj, field, preds) : 0;
  cs_op_write_set_str(p, cs_ref_id(obj), field, value, n, (const uint8_t(*)[CS_ID_LEN])preds);
}

static void author(sim_world_t *w, int node, cs_buf_t *p, const char *what) {
  uint8_t id[CS_ID_LEN];
  if (p->failed) {
    sim_fail(w, "node %d: %s payload too large", node, what);
    return;
  }
  int err = sim_author(w, node, cs_buf_span(p), id);
  sim_event(w, what, node, -1, (uint64_t)err, NULL, 0);
}

static void request_add(sim_world_t *w, int node, cs_buf_t *p) {
  bool body = sim_rng_below(&w->rng, 2), module = sim_rng_below(&w->rng, 2);
  uint32_t tag_count = sim_rng_below(&w->rng, 3);
  char title[96];
  snprintf(title, sizeof(title), "%s (%s, t%llu)", PICK(w, titles), w->node[node].museum, (unsigned long long)w->now);
  cs_ref_t created = cs_ref_local(0);
  cs_mp_write_array(p, 3 + (body ? 1u : 0u) + (module ? 1u : 0u) + tag_count);
  cs_op_write_create(p, CS_OBJ_REQUEST, NULL);
  cs_op_write_set_str(p, created, CS_F_REQ_TITLE, title, 0, NULL);
  cs_op_write_set_str(p, created, CS_F_REQ_STATUS, "submitted", 0, NULL);
  if (body) {
    /* Bodies of a few lines to a few pages, so that histories outgrow one
     * 64 KiB CHANGES message and sessions stream in several. */
    static char text[CS_TEXT_MAX / 2];
    size_t len = 40 + sim_rng_below(&w->rng, sim_rng_below(&w->rng, 8) ? 600 : (uint32_t)sizeof(text) - 41);
    static const char line[] = "En tant que régisseur, je veux enregistrer le constat d'état au retour du prêt. ";
    for (size_t i = 0; i < len; i++) text[i] = line[i % (sizeof(line) - 1)];
    while (len > 0 && (text[len - 1] & 0xc0) == 0x80) len--; /* keep whole UTF-8 characters */
    if (len > 0 && (text[len - 1] & 0x80)) len--;
    text[len] = '\0';
    cs_op_write_set_str(p, created, CS_F_REQ_BODY, text, 0, NULL);
  }
  if (module) cs_op_write_set_str(p, created, CS_F_REQ_MODULE, PICK(w, modules), 0, NULL);
  for (uint32_t i = 0; i < tag_count; i++) cs_op_write_add_str(p, created, CS_F_REQ_TAGS, PICK(w, tags));
  author(w, node, p, "request-add");
}

static void request_edit(sim_world_t *w, int node, cs_buf_t *p) {
  uint8_t req[CS_ID_LEN];
  if (!pick(w, node, CS_OBJ_REQUEST, NULL, req)) return;
  char text[96];
  snprintf(text, sizeof(text), "%s, revu par %s", PICK(w, titles), w->node[node].museum);
  uint32_t which = sim_rng_below(&w->rng, 4);
  cs_mp_write_array(p, which == 3 ? 2 : 1);
  if (which == 0 || which == 3) write_set(w, node, p, req, CS_F_REQ_TITLE, text);
  if (which == 1) write_set(w, node, p, req, CS_F_REQ_BODY, text);
  if (which == 2 || which == 3) write_set(w, node, p, req, CS_F_REQ_MODULE, PICK(w, modules));
  author(w, node, p, "request-edit");
}

static void request_status(sim_world_t *w, int node, cs_buf_t *p) {
  uint8_t req[CS_ID_LEN];
  if (!pick(w, node, CS_OBJ_REQUEST, NULL, req)) return;
  uint32_t count = 0;
  while (cs_request_statuses[count]) count++;
  cs_mp_write_array(p, 2);
  write_set(w, node, p, req, CS_F_REQ_STATUS, cs_request_statuses[sim_rng_below(&w->rng, count)]);
  write_set(w, node, p, req, CS_F_REQ_STATUS_NOTE, "vu en réunion");
  author(w, node, p, "request-status");
}

static void request_tag(sim_world_t *w, int node, cs_buf_t *p) {
  uint8_t req[CS_ID_LEN];
  if (!pick(w, node, CS_OBJ_REQUEST, NULL, req)) return;
  const char *tag = PICK(w, tags);
  if (sim_rng_below(&w->rng, 2)) {
    cs_mp_write_array(p, 1);
    cs_op_write_add_str(p, cs_ref_id(req), CS_F_REQ_TAGS, tag);
    author(w, node, p, "tag-add");
    return;
  }
  /* Remove: name the add ops of that element this node has seen. */
  uint8_t adds[CS_PREDS_MAX][CS_ID_LEN];
  uint32_t n = 0;
  cs_txn_t txn;
  cs_object_t obj;
  if (cs_store_begin(w->node[node].store, false, &txn) != CS_OK) return;
  if (cs_store_object_get(&txn, w->club, req, &obj) == CS_OK) {
    for (uint32_t i = 0; i < obj.entry_count && n < CS_PREDS_MAX; i++) {
      char value[64];
      const cs_entry_t *e = &obj.entries[i];
      if (e->field == CS_F_REQ_TAGS && cs_value_str(e->value, e->value_len, value, sizeof(value)) &&
          strcmp(value, tag) == 0)
        memcpy(adds[n++], e->op, CS_ID_LEN);
    }
    cs_object_free(&obj);
  }
  cs_store_abort(&txn);
  cs_mp_write_array(p, 1);
  cs_op_write_remove_str(p, cs_ref_id(req), CS_F_REQ_TAGS, tag, n, (const uint8_t(*)[CS_ID_LEN])adds);
  author(w, node, p, "tag-remove");
}

static void comment_add(sim_world_t *w, int node, cs_buf_t *p) {
  uint8_t req[CS_ID_LEN];
  if (!pick(w, node, CS_OBJ_REQUEST, NULL, req)) return;
  char text[96];
  snprintf(text, sizeof(text), "Avis de %s (t%llu)", w->node[node].museum, (unsigned long long)w->now);
  cs_ref_t parent = cs_ref_id(req);
  cs_mp_write_array(p, 2);
  cs_op_write_create(p, CS_OBJ_COMMENT, &parent);
  cs_op_write_set_str(p, cs_ref_local(0), CS_F_COMMENT_BODY, text, 0, NULL);
  author(w, node, p, "comment-add");
}

static void comment_change(sim_world_t *w, int node, cs_buf_t *p) {
  uint8_t comment[CS_ID_LEN];
  if (!pick(w, node, CS_OBJ_COMMENT, w->node[node].pk, comment)) return;
  cs_mp_write_array(p, 1);
  if (sim_rng_below(&w->rng, 3) == 0) {
    cs_op_write_delete(p, cs_ref_id(comment));
    author(w, node, p, "comment-delete");
  } else {
    write_set(w, node, p, comment, CS_F_COMMENT_BODY, "Précision : ...");
    author(w, node, p, "comment-edit");
  }
}

/* Co-signing: a museum supports a request, or withdraws the supports it sees. */
static void request_support(sim_world_t *w, int node, cs_buf_t *p) {
  uint8_t req[CS_ID_LEN], element[CS_KEY_LEN + 2] = {0xc4, CS_KEY_LEN};
  if (!pick(w, node, CS_OBJ_REQUEST, NULL, req)) return;
  memcpy(element + 2, w->node[node].pk, CS_KEY_LEN);
  cs_span_t mine = {element, sizeof(element)};
  cs_mp_write_array(p, 1);
  if (sim_rng_below(&w->rng, 3)) {
    cs_op_write_add_raw(p, cs_ref_id(req), CS_F_REQ_SUPPORTERS, mine);
    author(w, node, p, "support");
    return;
  }
  cs_txn_t txn;
  cs_object_t obj;
  uint8_t adds[CS_PREDS_MAX][CS_ID_LEN];
  uint32_t n = 0;
  if (cs_store_begin(w->node[node].store, false, &txn) != CS_OK) return;
  if (cs_store_object_get(&txn, w->club, req, &obj) == CS_OK) {
    for (uint32_t i = 0; i < obj.entry_count && n < CS_PREDS_MAX; i++)
      if (obj.entries[i].field == CS_F_REQ_SUPPORTERS && obj.entries[i].value_len == sizeof(element) &&
          memcmp(obj.entries[i].value, element, sizeof(element)) == 0)
        memcpy(adds[n++], obj.entries[i].op, CS_ID_LEN);
    cs_object_free(&obj);
  }
  cs_store_abort(&txn);
  cs_op_write_remove_raw(p, cs_ref_id(req), CS_F_REQ_SUPPORTERS, mine, n, (const uint8_t(*)[CS_ID_LEN])adds);
  author(w, node, p, "unsupport");
}

/* Admins open campaigns (100 points each); voting members replace their
 * key's whole allocation, now and then over budget (refused by the store). */
static void campaign_open(sim_world_t *w, int node, cs_buf_t *p) {
  uint8_t points[9] = {0xcd, 0, 100};
  cs_mp_write_array(p, 4);
  cs_op_write_create(p, CS_OBJ_CAMPAIGN, NULL);
  cs_op_write_set_str(p, cs_ref_local(0), CS_F_CAMPAIGN_NAME, "Campagne", 0, NULL);
  cs_op_write_set_raw(p, cs_ref_local(0), CS_F_CAMPAIGN_POINTS, (cs_span_t){points, 3}, 0, NULL);
  cs_op_write_set_str(p, cs_ref_local(0), CS_F_CAMPAIGN_PHASE, "vote", 0, NULL);
  author(w, node, p, "campaign-open");
}

typedef struct own_ctx_s {
  const uint8_t *parent, *creator;
  uint8_t id[CS_ID_LEN];
  bool found;
} own_ctx_t;

static int own_each(const uint8_t id[CS_ID_LEN], const cs_object_t *obj, void *vctx) {
  own_ctx_t *o = vctx;
  if (!obj->has_parent || memcmp(obj->parent, o->parent, CS_ID_LEN) != 0 ||
      memcmp(obj->creator, o->creator, CS_KEY_LEN) != 0)
    return 0;
  memcpy(o->id, id, CS_ID_LEN);
  o->found = true;
  return CS_STOP;
}

/* Writes `value` in this key's own child object of `parent` (a ballot or a
 * vote), creating it the first time. */
static void own_child_write(sim_world_t *w, int node, cs_buf_t *p, uint64_t type, const uint8_t parent[CS_ID_LEN],
                            uint64_t field, cs_span_t value, const char *what) {
  own_ctx_t own = {parent, w->node[node].pk, {0}, false};
  cs_txn_t txn;
  if (cs_store_begin(w->node[node].store, false, &txn) != CS_OK) return;
  int err = cs_store_objects(&txn, w->club, type, own_each, &own);
  cs_store_abort(&txn);
  if (err) return;
  if (own.found) {
    uint8_t preds[CS_PREDS_MAX][CS_ID_LEN];
    uint32_t n = preds_of(w, node, own.id, field, preds);
    cs_mp_write_array(p, 1);
    cs_op_write_set_raw(p, cs_ref_id(own.id), field, value, n, (const uint8_t(*)[CS_ID_LEN])preds);
  } else {
    cs_ref_t ref = cs_ref_id(parent);
    cs_mp_write_array(p, 2);
    cs_op_write_create(p, type, &ref);
    cs_op_write_set_raw(p, cs_ref_local(0), field, value, 0, NULL);
  }
  author(w, node, p, what);
}

static void campaign_vote(sim_world_t *w, int node, cs_buf_t *p) {
  uint8_t campaign[CS_ID_LEN];
  if (!pick(w, node, CS_OBJ_CAMPAIGN, NULL, campaign)) return;
  cs_allocation_t *a = calloc(1, sizeof(*a));
  if (!a) return;
  uint32_t want = 1 + sim_rng_below(&w->rng, 3);
  for (uint32_t i = 0; i < want; i++) {
    uint8_t req[CS_ID_LEN];
    bool dup = false;
    if (!pick(w, node, CS_OBJ_REQUEST, NULL, req)) break;
    for (uint32_t j = 0; j < a->count; j++) dup |= memcmp(a->requests[j], req, CS_ID_LEN) == 0;
    if (dup) continue;
    memcpy(a->requests[a->count], req, CS_ID_LEN);
    a->points[a->count] = 1 + sim_rng_below(&w->rng, sim_rng_below(&w->rng, 10) ? 40 : 120);
    a->total += a->points[a->count++];
  }
  cs_buf_t value;
  cs_buf_init(&value, CS_TEXT_MAX);
  cs_allocation_write(&value, a);
  free(a);
  own_child_write(w, node, p, CS_OBJ_BALLOT, campaign, CS_F_BALLOT_ALLOCATION, cs_buf_span(&value), "ballot");
  cs_buf_free(&value);
}

/* Motions: proposed (the electorate is the membership in the motion's
 * past), voted on. */
/* A motion; one in three, when this node sees another admin, proposes
 * its removal (a governed effect that an adopted resolution carries out). */
static void motion_propose(sim_world_t *w, int node, cs_buf_t *p, cs_member_t *m) {
  char effect[CS_GOVERNED_EFFECT_MAX + 1] = "";
  int target = (int)sim_rng_below(&w->rng, (uint32_t)w->n);
  if (target != node && sim_rng_below(&w->rng, 3) == 0 && role_of(w, node, w->node[target].pk, m) == CS_ROLE_ADMIN)
    cs_governed_effect(effect, "remove-admin", w->node[target].pk);
  cs_mp_write_array(p, *effect ? 4 : 3);
  cs_op_write_create(p, CS_OBJ_MOTION, NULL);
  cs_op_write_set_str(p, cs_ref_local(0), CS_F_MOTION_TEXT, "Motion", 0, NULL);
  cs_op_write_set_str(p, cs_ref_local(0), CS_F_MOTION_QUORUM, sim_rng_below(&w->rng, 2) ? "majority" : "two-thirds",
                      0, NULL);
  if (*effect) cs_op_write_set_str(p, cs_ref_local(0), CS_F_MOTION_EFFECT, effect, 0, NULL);
  author(w, node, p, "motion");
}

/* What this node holds of a motion: its object, the count `motion resolve`
 * would write now (each electorate museum's latest ballot the node holds,
 * core/decision.c), and its valid resolutions. */
typedef struct motion_seen_s {
  uint8_t id[CS_ID_LEN];
  cs_object_t obj;
  cs_resolution_t count;
  cs_resolution_rec_t recs[8];
  uint32_t rec_count;
} motion_seen_t;

static bool motion_seen(sim_world_t *w, int node, motion_seen_t *ms) {
  uint8_t *motion = ms->id;
  if (!pick(w, node, CS_OBJ_MOTION, NULL, motion)) return false;
  cs_txn_t txn;
  if (cs_store_begin(w->node[node].store, false, &txn) != CS_OK) return false;
  cs_past_t past = cs_store_past(&txn);
  cs_motion_members_t members = {NULL, 0};
  cs_electorate_t e = {NULL, 0, 0};
  cs_ballot_t *ballots = NULL;
  uint32_t ballot_count = 0;
  cs_motion_tally_t tally;
  int err = cs_store_object_get(&txn, w->club, motion, &ms->obj);
  bool have_obj = !err;
  if (!err) err = cs_store_motion_members(&txn, w->club, &members);
  if (!err) err = cs_motion_electorate(&members, &past, ms->obj.created_change, &e);
  if (!err) err = cs_store_motion_ballots(&txn, w->club, motion, &ballots, &ballot_count);
  if (!err) err = cs_motion_tally(&members, &past, NULL, &e, ballots, ballot_count, &tally, NULL, NULL);
  cs_store_abort(&txn);
  if (!err) {
    char rule[16] = "";
    const cs_entry_t *q;
    if (cs_object_field(&ms->obj, CS_F_MOTION_QUORUM, &q)) cs_value_str(q->value, q->value_len, rule, sizeof(rule));
    ms->count = (cs_resolution_t){cs_quorum_met(rule, e.count, tally.yes), tally.yes, tally.no, tally.abstain};
    const cs_entry_t *r;
    uint32_t n = cs_object_field(&ms->obj, CS_F_MOTION_RESOLUTIONS, &r);
    ms->rec_count = 0;
    for (uint32_t i = 0; i < n && ms->rec_count < 8; i++)
      if (cs_resolution_from_entry(&r[i], &ms->recs[ms->rec_count]) == CS_OK) ms->rec_count++;
  }
  cs_motion_members_free(&members);
  cs_electorate_free(&e);
  free(ballots);
  if (err && have_obj) cs_object_free(&ms->obj);
  return !err;
}

/* Admins: count an unresolved motion, as `motion resolve` does. A lying
 * count (the byzantine node's) adds a yes, or resolves a decided motion
 * again: every node must refuse it alike. */
static void motion_resolve(sim_world_t *w, int node, cs_buf_t *p, bool lie) {
  motion_seen_t ms;
  if (!motion_seen(w, node, &ms)) return;
  if (ms.rec_count == 0 || lie) {
    if (lie && sim_rng_below(&w->rng, 2)) ms.count.yes++;
    cs_buf_t value;
    cs_buf_init(&value, 64);
    cs_resolution_write(&value, &ms.count);
    cs_mp_write_array(p, 1);
    cs_op_write_set_raw(p, cs_ref_id(ms.id), CS_F_MOTION_RESOLUTION, cs_buf_span(&value), 0, NULL);
    cs_buf_free(&value);
    author(w, node, p, lie ? "motion-resolve-lie" : "motion-resolve");
  }
  cs_object_free(&ms.obj);
}

/* Admins: carry out an adopted remove-admin decision, depending on the
 * motion and its winning resolution, as `member remove KEY --motion ID`
 * does. The byzantine node names any resolution, a losing or rejecting
 * one included. */
static void decision_carry_out(sim_world_t *w, int node, cs_buf_t *p, bool any) {
  motion_seen_t ms;
  char effect[CS_TEXT_MAX + 1] = "", want[CS_GOVERNED_EFFECT_MAX + 1];
  /* A few looks for a motion with an effect, as an admin scanning the list. */
  bool found = false;
  for (int look = 0; look < 4 && !found; look++) {
    if (!motion_seen(w, node, &ms)) return;
    const cs_entry_t *e;
    effect[0] = '\0';
    if (cs_object_field(&ms.obj, CS_F_MOTION_EFFECT, &e)) cs_value_str(e->value, e->value_len, effect, sizeof(effect));
    found = *effect && ms.rec_count;
    if (!found) cs_object_free(&ms.obj);
  }
  if (!found) return;
  int target = -1;
  for (int i = 0; i < w->n && target < 0; i++) {
    cs_governed_effect(want, "remove-admin", w->node[i].pk);
    if (strcmp(want, effect) == 0) target = i;
  }
  cs_resolution_rec_t winner;
  const cs_resolution_rec_t *use = NULL;
  bool resolved = false;
  cs_txn_t txn;
  if (cs_store_begin(w->node[node].store, false, &txn) == CS_OK) {
    if (cs_store_motion_decision(&txn, w->club, ms.id, NULL, &winner, &resolved) == CS_OK && resolved) use = &winner;
    cs_store_abort(&txn);
  }
  if (any && ms.rec_count) use = &ms.recs[sim_rng_below(&w->rng, ms.rec_count)];
  if (target >= 0 && use && (any || use->res.adopted)) {
    uint8_t deps[2][CS_ID_LEN], id[CS_ID_LEN];
    memcpy(deps[0], ms.obj.created_change, CS_ID_LEN);
    memcpy(deps[1], use->change, CS_ID_LEN);
    cs_mp_write_array(p, 1);
    cs_op_write_member(p, w->node[target].pk, w->node[target].museum, CS_ROLE_NONE, 0);
    int err = p->failed ? CS_ETOOBIG : sim_author_deps(w, node, cs_buf_span(p), (const uint8_t(*)[CS_ID_LEN])deps, 2, id);
    sim_event(w, any ? "decision-any" : "decision", node, target, (uint64_t)err, NULL, 0);
  }
  cs_object_free(&ms.obj);
}

static void motion_vote(sim_world_t *w, int node, cs_buf_t *p) {
  uint8_t motion[CS_ID_LEN];
  if (!pick(w, node, CS_OBJ_MOTION, NULL, motion)) return;
  cs_buf_t value;
  cs_buf_init(&value, 16);
  /* Mostly yes, so that some motions pass and their decisions are carried out. */
  cs_mp_write_cstr(&value, sim_rng_below(&w->rng, 3) ? "yes" : PICK(w, cs_vote_choices_sim));
  own_child_write(w, node, p, CS_OBJ_VOTE, motion, CS_F_VOTE_CHOICE, cs_buf_span(&value), "motion-vote");
  cs_buf_free(&value);
}

/* Admins: grant, change or remove a role. Demoting an admin needs an
 * adopted decision, which the store refuses; it is tried now and then. */
static void member_change(sim_world_t *w, int node, cs_buf_t *p, cs_member_t *m) {
  int target = (int)sim_rng_below(&w->rng, (uint32_t)(w->n - 1));
  if (target >= node) target++;
  cs_role_t now = role_of(w, node, w->node[target].pk, m);
  cs_role_t next;
  uint32_t r = sim_rng_below(&w->rng, 100);
  if (now == CS_ROLE_NONE) next = r < 15 ? CS_ROLE_ADMIN : r < 75 ? CS_ROLE_MEMBER : CS_ROLE_OBSERVER;
  else if (now == CS_ROLE_ADMIN) next = r < 10 ? CS_ROLE_MEMBER : CS_ROLE_ADMIN;
  else next = r < 30 ? CS_ROLE_NONE : r < 60 ? CS_ROLE_OBSERVER : r < 90 ? CS_ROLE_MEMBER : CS_ROLE_ADMIN;
  if (target == w->byz && next == CS_ROLE_NONE) next = CS_ROLE_OBSERVER;
  /* The cutoff is the target's last change this admin has seen. */
  cs_txn_t txn;
  uint64_t cutoff = 0;
  if (cs_store_begin(w->node[node].store, false, &txn) == CS_OK) {
    cutoff = cs_store_author_seq(&txn, w->club, w->node[target].pk, NULL);
    cs_store_abort(&txn);
  }
  cs_mp_write_array(p, 1);
  cs_op_write_member(p, w->node[target].pk, w->node[target].museum, next, cutoff);
  author(w, node, p, "member");
}

/* The byzantine node signs a second, different change with the seq of its
 * latest one, and sends it to one peer only. */
static void equivocate(sim_world_t *w, int node) {
  sim_node_t *n = &w->node[node];
  cs_txn_t txn;
  uint8_t head[CS_ID_LEN], id[CS_ID_LEN];
  cs_span_t bytes;
  cs_change_t *c = malloc(sizeof(*c));
  cs_buf_t p, out, msg;
  if (!c || cs_store_begin(n->store, false, &txn) != CS_OK) {
    free(c);
    return;
  }
  uint64_t seq = cs_store_author_seq(&txn, w->club, n->pk, head);
  bool ok = seq > 0 && cs_store_change_get(&txn, head, &bytes) == CS_OK && cs_change_decode(bytes, c) == CS_OK;
  cs_store_abort(&txn);
  if (!ok) {
    free(c);
    return;
  }
  cs_buf_init(&p, CS_CHANGE_PAYLOAD_MAX);
  cs_buf_init(&out, CS_CHANGE_SIGNED_MAX);
  cs_buf_init(&msg, CS_SYNC_MESSAGE_MAX);
  char title[64];
  snprintf(title, sizeof(title), "Double jeu t%llu", (unsigned long long)w->now);
  cs_mp_write_array(&p, 3);
  cs_op_write_create(&p, CS_OBJ_REQUEST, NULL);
  cs_op_write_set_str(&p, cs_ref_local(0), CS_F_REQ_TITLE, title, 0, NULL);
  cs_op_write_set_str(&p, cs_ref_local(0), CS_F_REQ_STATUS, "submitted", 0, NULL);
  cs_change_draft_t d = {
      .club = w->club,
      .author = n->pk,
      .seq = c->seq,
      .prev = c->has_prev ? c->prev : NULL,
      .dep_count = c->dep_count,
      .deps = (const uint8_t(*)[CS_ID_LEN])c->deps,
      .lamport = c->lamport,
      .time_ms = c->time_ms + 1,
      .payload = cs_buf_span(&p),
  };
  if (cs_change_build(&d, n->sk, &out, id) == CS_OK) {
    cs_mp_write_array(&msg, 3);
    cs_mp_write_uint(&msg, CS_SYNC_CHANGES);
    cs_mp_write_array(&msg, 1);
    cs_mp_write_bin(&msg, out.data, out.len);
    cs_mp_write_bool(&msg, false);
    if (!msg.failed && sim_send_raw(w, node, cs_buf_span(&msg))) {
      if (!n->forked_at || c->seq < n->forked_at) n->forked_at = c->seq;
      w->res->forks_made++;
      sim_event(w, "equivocate", node, -1, c->seq, id, CS_ID_LEN);
    }
  }
  cs_buf_free(&p);
  cs_buf_free(&out);
  cs_buf_free(&msg);
  free(c);
}

/* The byzantine node also holds a club no one else joined, as a museum in
 * two clubs does: it writes there (so its sessions' live pushes are offered
 * that club's changes, which the sync machine must not send), and it sends
 * that club's genesis and latest change on a session of the run's club, as
 * a buggy or hostile peer would: the receiver must refuse both. */
static void other_club(sim_world_t *w, int node) {
  cs_buf_t p, msg;
  uint8_t id[CS_ID_LEN];
  cs_buf_init(&p, CS_CHANGE_PAYLOAD_MAX);
  if (!w->have_other_club) {
    cs_mp_write_array(&p, 1);
    cs_op_write_genesis(&p, "Club d'à côté (simulé)", "Flora", w->node[node].museum);
  } else {
    cs_mp_write_array(&p, 2);
    cs_op_write_create(&p, CS_OBJ_REQUEST, NULL);
    cs_op_write_set_str(&p, cs_ref_local(0), CS_F_REQ_TITLE, PICK(w, titles), 0, NULL);
  }
  int err = p.failed ? CS_ETOOBIG : sim_author_other_club(w, node, cs_buf_span(&p), id);
  cs_buf_free(&p);
  if (err || !sim_node_up(w, node)) return;
  cs_txn_t txn;
  cs_span_t genesis, latest;
  cs_buf_init(&msg, CS_SYNC_MESSAGE_MAX);
  if (cs_store_begin(w->node[node].store, false, &txn) != CS_OK) {
    cs_buf_free(&msg);
    return;
  }
  bool two = memcmp(id, w->other_club, CS_ID_LEN) != 0;
  if (cs_store_change_get(&txn, w->other_club, &genesis) == CS_OK &&
      (!two || cs_store_change_get(&txn, id, &latest) == CS_OK)) {
    cs_mp_write_array(&msg, 3);
    cs_mp_write_uint(&msg, CS_SYNC_CHANGES);
    cs_mp_write_array(&msg, two ? 2 : 1);
    cs_mp_write_bin(&msg, genesis.ptr, genesis.len);
    if (two) cs_mp_write_bin(&msg, latest.ptr, latest.len);
    cs_mp_write_bool(&msg, false);
  }
  cs_store_abort(&txn); /* msg holds copies */
  if (msg.len && !msg.failed && sim_send_raw(w, node, cs_buf_span(&msg))) {
    w->res->other_club_sent += two ? 2 : 1;
    sim_event(w, "send-other", node, -1, two ? 2 : 1, id, CS_ID_LEN);
  }
  cs_buf_free(&msg);
}

void sim_activity(sim_world_t *w, int node) {
  if (!w->have_club) return;
  cs_member_t *m = malloc(sizeof(*m));
  cs_buf_t p;
  if (!m) return;
  cs_buf_init(&p, CS_CHANGE_PAYLOAD_MAX);
  cs_role_t role = role_of(w, node, w->node[node].pk, m);
  bool writer = role == CS_ROLE_ADMIN || role == CS_ROLE_MEMBER;
  uint32_t r = sim_rng_below(&w->rng, 100);
  if (node == w->byz && r < 8) equivocate(w, node);
  else if (node == w->byz && r < 10) other_club(w, node);
  else if (node == w->byz && writer && r < 11) motion_resolve(w, node, &p, true);
  else if (node == w->byz && writer && r < 12) decision_carry_out(w, node, &p, true);
  else if (role == CS_ROLE_NONE) { /* not a member yet, as far as it knows */
  } else if (role == CS_ROLE_ADMIN && r < 14) member_change(w, node, &p, m);
  else if (writer && r < 38) request_add(w, node, &p);
  else if (writer && r < 56) request_edit(w, node, &p);
  else if (writer && r < 64) request_status(w, node, &p);
  else if (writer && r < 70) request_tag(w, node, &p);
  else if (writer && r < 74) request_support(w, node, &p);
  else if (role == CS_ROLE_ADMIN && r < 75) campaign_open(w, node, &p);
  else if (writer && r < 79) campaign_vote(w, node, &p);
  else if (writer && r < 81) motion_propose(w, node, &p, m);
  else if (writer && r < 86) motion_vote(w, node, &p);
  else if (role == CS_ROLE_ADMIN && r < 89) motion_resolve(w, node, &p, false);
  else if (role == CS_ROLE_ADMIN && r < 91) decision_carry_out(w, node, &p, false);
  else if (r < 94) comment_add(w, node, &p);
  else comment_change(w, node, &p);
  cs_buf_free(&p);
  free(m);
}

int sim_genesis(sim_world_t *w) {
  cs_buf_t p;
  uint8_t id[CS_ID_LEN];
  cs_buf_init(&p, CS_CHANGE_PAYLOAD_MAX);
  /* Founding members: sometimes a second admin, the byzantine node, and a
   * random few; the others are added later by an admin. */
  int founders[SIM_NODES_MAX], count = 0;
  cs_role_t roles[SIM_NODES_MAX];
  for (int i = 1; i < w->n; i++) {
    bool second_admin = i == 1 && sim_rng_below(&w->rng, 2);
    if (second_admin || i == w->byz || sim_rng_below(&w->rng, 2)) {
      founders[count] = i;
      roles[count++] = second_admin ? CS_ROLE_ADMIN : CS_ROLE_MEMBER;
    }
  }
  cs_mp_write_array(&p, 1 + (uint32_t)count);
  cs_op_write_genesis(&p, "Club des utilisateurs (simulé)", "Flora", w->node[0].museum);
  for (int k = 0; k < count; k++)
    cs_op_write_member(&p, w->node[founders[k]].pk, w->node[founders[k]].museum, roles[k], 0);
  int err = p.failed ? CS_ETOOBIG : sim_author(w, 0, cs_buf_span(&p), id);
  cs_buf_free(&p);
  if (err) return err;
  memcpy(w->club, id, CS_ID_LEN);
  w->have_club = true;
  sim_event(w, "genesis", 0, count, 0, id, CS_ID_LEN);
  return CS_OK;
}
