/* motion propose/vote/show/list/resolve, audit-bundle and verify: decisions
 * anyone can check offline (docs/governance.md). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/bundle.h"
#include "core/decision.h"
#include "tools/cli.h"

static const char motion_usage[] =
    "motion propose TEXT [--quorum majority|two-thirds] [--effect TEXT] | vote ID yes|no|abstain | show ID | list | "
    "resolve ID";

/* A motion as this node's rules see it (core/decision.h): the electorate
 * from the membership in the motion's causal past, every valid ballot, the
 * winning resolution, and the tally at it (or, unresolved, over every ballot
 * this node holds, as a resolution written now would count them). */
typedef struct motion_view_s {
  cs_motion_members_t members;
  cs_electorate_t electorate;
  cs_ballot_t *ballots;
  uint32_t ballot_count;
  bool *counted;
  char (*museums)[CS_NAME_MAX + 1];
  bool resolved;
  cs_resolution_t resolution;
  cs_motion_tally_t tally;
} motion_view_t;

static void motion_view_free(motion_view_t *v) {
  cs_motion_members_free(&v->members);
  cs_electorate_free(&v->electorate);
  free(v->ballots);
  free(v->counted);
  free(v->museums);
  memset(v, 0, sizeof(*v));
}

static int motion_view(cs_txn_t *txn, const uint8_t club[CS_ID_LEN], const uint8_t motion[CS_ID_LEN],
                       const cs_object_t *obj, motion_view_t *v) {
  memset(v, 0, sizeof(*v));
  cs_past_t past = cs_store_past(txn);
  int err = cs_store_motion_members(txn, club, &v->members);
  if (!err) err = cs_motion_electorate(&v->members, &past, obj->created_change, &v->electorate);
  if (!err) err = cs_store_motion_ballots(txn, club, motion, &v->ballots, &v->ballot_count);
  if (!err) {
    v->counted = calloc(v->ballot_count ? v->ballot_count : 1, sizeof(*v->counted));
    v->museums = calloc(v->ballot_count ? v->ballot_count : 1, sizeof(*v->museums));
    if (!v->counted || !v->museums) err = CS_ENOMEM;
  }
  /* The winner's change, for its past. */
  cs_resolution_rec_t *recs = NULL;
  uint32_t rec_count = 0;
  const cs_resolution_rec_t *win = NULL;
  if (!err) err = cs_motion_resolutions(obj, &recs, &rec_count);
  if (!err) {
    cs_motion_case_t mc = {&past, &v->members, obj->created_change, v->ballots, v->ballot_count};
    err = cs_motion_winner(&mc, recs, rec_count, NULL, &win);
  }
  if (win) {
    v->resolved = true;
    v->resolution = win->res;
  }
  if (!err)
    err = cs_motion_tally(&v->members, &past, win ? win->change : NULL, &v->electorate, v->ballots, v->ballot_count,
                          &v->tally, v->counted, v->museums);
  free(recs);
  if (err) motion_view_free(v);
  return err;
}

static int motion_propose(cli_t *cli, cli_args_t *args) {
  const char *quorum = cli_take(args, "--quorum");
  const char *effect = cli_take(args, "--effect");
  const char *text = cli_next(args);
  int code = cli_no_more(cli, args, motion_usage);
  if (code) return code;
  if (!quorum) quorum = "majority";
  if (!text || !*text) return cli_fail(CLI_USAGE, "motion propose needs the motion's TEXT");
  if ((code = cli_check_text("the motion's text", text, false, CS_TEXT_MAX)) ||
      (effect && (code = cli_check_text("the effect (--effect)", effect, true, CS_TEXT_MAX))))
    return code;
  if (!cs_status_in(cs_quorum_rules, (cs_span_t){(const uint8_t *)quorum, strlen(quorum)}))
    return cli_fail(CLI_USAGE, "--quorum is majority or two-thirds");
  cs_txn_t txn;
  uint8_t club[CS_ID_LEN];
  if ((code = cli_begin_write(cli, &txn, club, CLI_ROLES_CLUB, "propose motions"))) return code;
  /* The electorate is not written: every node reads it from the membership
   * in the motion's causal past, which is this node's membership now. */
  cs_motion_members_t members;
  cs_electorate_t e = {NULL, 0, 0};
  cs_past_t past = cs_store_past(&txn);
  int err = cs_store_motion_members(&txn, club, &members);
  if (!err) {
    err = cs_motion_electorate(&members, &past, NULL, &e);
    cs_motion_members_free(&members);
  }
  cs_store_abort(&txn);
  if (err) return cli_fail_err(err, "cannot read the members");
  uint32_t voters = e.count;
  cs_electorate_free(&e);
  cs_buf_t payload;
  cs_buf_init(&payload, CS_CHANGE_PAYLOAD_MAX);
  cs_mp_write_array(&payload, 3 + (effect ? 1u : 0u));
  cs_op_write_create(&payload, CS_OBJ_MOTION, NULL);
  cs_op_write_set_str(&payload, cs_ref_local(0), CS_F_MOTION_TEXT, text, 0, NULL);
  cs_op_write_set_str(&payload, cs_ref_local(0), CS_F_MOTION_QUORUM, quorum, 0, NULL);
  if (effect) cs_op_write_set_str(&payload, cs_ref_local(0), CS_F_MOTION_EFFECT, effect, 0, NULL);
  uint8_t change_id[CS_ID_LEN], id[CS_ID_LEN];
  if ((code = cli_commit(cli, club, &payload, change_id, "cannot propose the motion"))) return code;
  cs_op_id(change_id, 0, id);
  char hex[65];
  cs_hex32(id, hex);
  printf("Proposed; %u museums may vote, %s of them carries it.\n%s\n", voters,
         strcmp(quorum, "majority") == 0 ? "more than half" : "two thirds", hex);
  return CLI_OK;
}

/* This key's own vote object on a motion, if it has one. */
typedef struct own_vote_s {
  const uint8_t *motion;
  const uint8_t *key;
  bool found;
  uint8_t id[CS_ID_LEN];
} own_vote_t;

static int own_vote_each(const uint8_t id[CS_ID_LEN], const cs_object_t *obj, void *vctx) {
  own_vote_t *ctx = vctx;
  if (!obj->has_parent || memcmp(obj->parent, ctx->motion, CS_ID_LEN) != 0) return 0;
  if (memcmp(obj->creator, ctx->key, CS_KEY_LEN) != 0) return 0;
  ctx->found = true;
  memcpy(ctx->id, id, CS_ID_LEN);
  return CS_STOP;
}

static int motion_read(cli_t *cli, cs_txn_t *txn, const uint8_t club[CS_ID_LEN], const char *arg,
                       uint8_t id[CS_ID_LEN], cs_object_t *obj) {
  return cli_object(cli, txn, club, arg, CS_OBJ_MOTION, id, obj);
}

static int motion_vote(cli_t *cli, cli_args_t *args) {
  const char *arg = cli_next(args), *choice = cli_next(args);
  int code = cli_no_more(cli, args, motion_usage);
  if (code) return code;
  if (!arg || !choice || !cs_status_in(cs_vote_choices, (cs_span_t){(const uint8_t *)choice, strlen(choice)}))
    return cli_fail(CLI_USAGE, "motion vote needs the motion's ID and yes, no or abstain");
  cs_txn_t txn;
  uint8_t club[CS_ID_LEN], motion[CS_ID_LEN];
  cs_object_t obj;
  if ((code = cli_begin_write(cli, &txn, club, CLI_ROLES_CLUB, "vote on motions"))) return code;
  if ((code = motion_read(cli, &txn, club, arg, motion, &obj))) {
    cs_store_abort(&txn);
    return code;
  }
  bool resolved = cs_motion_resolved(&obj);
  cs_object_free(&obj);
  own_vote_t mine = {motion, cli->secret_key + 32, false, {0}};
  int err = cs_store_objects(&txn, club, CS_OBJ_VOTE, own_vote_each, &mine);
  cs_object_t vote;
  cs_object_init(&vote);
  if (!err && mine.found) err = cs_store_object_get(&txn, club, mine.id, &vote);
  cs_store_abort(&txn);
  if (err) code = cli_fail_err(err, "cannot read your vote");
  else if (resolved) code = cli_fail(CLI_ERROR, "this motion is resolved already: ballots are no longer counted");
  if (code) {
    cs_object_free(&vote);
    return code;
  }
  /* Changeable until counted: this key overwrites its own vote. */
  cs_buf_t payload;
  cs_buf_init(&payload, CS_CHANGE_PAYLOAD_MAX);
  if (mine.found) {
    cs_mp_write_array(&payload, 1);
    cli_write_overwrite_str(&payload, &vote, mine.id, CS_F_VOTE_CHOICE, choice);
  } else {
    cs_ref_t parent = cs_ref_id(motion);
    cs_mp_write_array(&payload, 2);
    cs_op_write_create(&payload, CS_OBJ_VOTE, &parent);
    cs_op_write_set_str(&payload, cs_ref_local(0), CS_F_VOTE_CHOICE, choice, 0, NULL);
  }
  cs_object_free(&vote);
  uint8_t change_id[CS_ID_LEN];
  if ((code = cli_commit(cli, club, &payload, change_id, "cannot record the vote"))) return code;
  char hex[65];
  cs_hex32(change_id, hex);
  printf("Voted %s; you may change it until the motion is resolved.\n%s\n", choice, hex);
  return CLI_OK;
}

static int motion_resolve(cli_t *cli, cli_args_t *args) {
  const char *arg = cli_next(args);
  int code = cli_no_more(cli, args, motion_usage);
  if (code) return code;
  if (!arg) return cli_fail(CLI_USAGE, "motion resolve needs the motion's ID");
  cs_txn_t txn;
  uint8_t club[CS_ID_LEN], motion[CS_ID_LEN];
  cs_object_t obj;
  if ((code = cli_begin_write(cli, &txn, club, 1u << CS_ROLE_ADMIN, "resolve motions"))) return code;
  if ((code = motion_read(cli, &txn, club, arg, motion, &obj))) {
    cs_store_abort(&txn);
    return code;
  }
  char rule[16] = "";
  cli_field_text(&obj, CS_F_MOTION_QUORUM, rule, sizeof(rule));
  /* The count the rules will check: every ballot this node holds, each
   * museum's latest (core/decision.c, cs_motion_tally). */
  motion_view_t v;
  int err = motion_view(&txn, club, motion, &obj, &v);
  cs_store_abort(&txn);
  if (err) {
    cs_object_free(&obj);
    return cli_fail_err(err, "cannot count the votes");
  }
  if (v.resolved) {
    bool adopted = v.resolution.adopted;
    motion_view_free(&v);
    cs_object_free(&obj);
    return cli_fail(CLI_ERROR, "this motion is resolved already (%s): a decided motion stays decided",
                    adopted ? "adopted" : "rejected");
  }
  cs_resolution_t res = {cs_quorum_met(rule, v.electorate.count, v.tally.yes), v.tally.yes, v.tally.no,
                         v.tally.abstain};
  uint32_t electorate_count = v.electorate.count, counted = v.tally.museums;
  motion_view_free(&v);
  cs_buf_t payload, value;
  cs_buf_init(&payload, CS_CHANGE_PAYLOAD_MAX);
  cs_buf_init(&value, 256);
  cs_resolution_write(&value, &res);
  cs_mp_write_array(&payload, 1);
  /* A resolution names no predecessor: no valid one is in its past. */
  cs_op_write_set_raw(&payload, cs_ref_id(motion), CS_F_MOTION_RESOLUTION, cs_buf_span(&value), 0, NULL);
  cs_buf_free(&value);
  cs_object_free(&obj);
  uint8_t change_id[CS_ID_LEN];
  if ((code = cli_commit(cli, club, &payload, change_id, "cannot write the resolution"))) return code;
  char hex[65];
  cs_hex32(change_id, hex);
  printf("%s: %llu yes, %llu no, %llu abstain of %u museums (%s rule); the resolution counts the latest ballot of "
         "each of these %u museums in its causal past.\n%s\n",
         res.adopted ? "Adopted" : "Rejected", (unsigned long long)res.yes, (unsigned long long)res.no,
         (unsigned long long)res.abstain, electorate_count, rule, counted, hex);
  return CLI_OK;
}

static int motion_show(cli_t *cli, cli_args_t *args) {
  const char *arg = cli_next(args);
  int code = cli_no_more(cli, args, motion_usage);
  if (code) return code;
  if (!arg) return cli_fail(CLI_USAGE, "motion show needs the motion's ID");
  cs_txn_t txn;
  uint8_t club[CS_ID_LEN], motion[CS_ID_LEN];
  cs_object_t obj;
  if ((code = cli_read_club(cli, &txn, club))) return code;
  if ((code = motion_read(cli, &txn, club, arg, motion, &obj))) {
    cs_store_abort(&txn);
    return code;
  }
  char text[CS_TEXT_MAX + 1], effect[CS_TEXT_MAX + 1], rule[16], proposer[CS_NAME_MAX + 1];
  cli_field_text(&obj, CS_F_MOTION_TEXT, text, sizeof(text));
  cli_field_text(&obj, CS_F_MOTION_EFFECT, effect, sizeof(effect));
  cli_field_text(&obj, CS_F_MOTION_QUORUM, rule, sizeof(rule));
  cli_museum_of(&txn, club, obj.creator, proposer, sizeof(proposer));
  motion_view_t v;
  int err = motion_view(&txn, club, motion, &obj, &v);
  cs_store_abort(&txn);
  cs_object_free(&obj);
  if (err) return cli_fail_err(err, "cannot read the votes");
  json_t *doc = json_pack("{s:o s:s s:s s:s s:s}", "id", cli_json_hex(motion), "text", text, "effect", effect,
                          "quorum", rule, "proposer", proposer);
  json_t *names = json_array(), *ballots = json_array();
  for (uint32_t i = 0; i < v.electorate.count; i++) json_array_append_new(names, json_string(v.electorate.museums[i]));
  /* Each museum's ballot the tally takes, as `verify` prints it. */
  for (uint32_t i = 0; i < v.ballot_count; i++)
    if (v.counted[i])
      json_array_append_new(ballots, json_pack("{s:s s:s}", "museum", v.museums[i], "choice",
                                               cs_vote_choices[v.ballots[i].choice]));
  json_object_set_new(doc, "electorate", names);
  json_object_set_new(doc, "votes", ballots);
  if (v.resolved)
    json_object_set_new(doc, "resolution",
                        json_pack("{s:s s:I s:I s:I}", "outcome", v.resolution.adopted ? "adopted" : "rejected", "yes",
                                  (json_int_t)v.resolution.yes, "no", (json_int_t)v.resolution.no, "abstain",
                                  (json_int_t)v.resolution.abstain));
  motion_view_free(&v);
  if (cli->json) return cli_print_json(doc);
  printf("Motion %s\n  proposed by %s: %s\n", json_string_value(json_object_get(doc, "id")), proposer, text);
  if (*effect) printf("  effect: %s\n", effect);
  printf("  rule: %s of %zu museums\n", rule, json_array_size(names));
  size_t i;
  json_t *b;
  json_array_foreach(ballots, i, b) printf("  %-30s %s\n", json_string_value(json_object_get(b, "museum")),
                                           json_string_value(json_object_get(b, "choice")));
  json_t *r = json_object_get(doc, "resolution");
  if (r) printf("  RESOLVED: %s (%lld yes, %lld no, %lld abstain)\n", json_string_value(json_object_get(r, "outcome")),
                (long long)json_integer_value(json_object_get(r, "yes")),
                (long long)json_integer_value(json_object_get(r, "no")),
                (long long)json_integer_value(json_object_get(r, "abstain")));
  else printf("  not resolved yet; an admin counts it with 'clubsync motion resolve'\n");
  json_decref(doc);
  return CLI_OK;
}

static int motion_list_each(const uint8_t id[CS_ID_LEN], const cs_object_t *obj, void *vctx) {
  char text[81];
  cli_field_text(obj, CS_F_MOTION_TEXT, text, sizeof(text));
  bool resolved = cs_motion_resolved(obj);
  json_array_append_new(vctx, json_pack("{s:o s:s s:b}", "id", cli_json_hex(id), "text", text, "resolved", resolved));
  return 0;
}

static int motion_list(cli_t *cli, cli_args_t *args) {
  int code = cli_no_more(cli, args, motion_usage);
  if (code) return code;
  cs_txn_t txn;
  uint8_t club[CS_ID_LEN];
  if ((code = cli_read_club(cli, &txn, club))) return code;
  json_t *items = json_array();
  int err = cs_store_objects(&txn, club, CS_OBJ_MOTION, motion_list_each, items);
  cs_store_abort(&txn);
  if (err) {
    json_decref(items);
    return cli_fail_err(err, "cannot list motions");
  }
  if (cli->json) return cli_print_json(items);
  size_t i;
  json_t *m;
  json_array_foreach(items, i, m) printf("%s  %-9s %s\n", json_string_value(json_object_get(m, "id")),
                                         json_is_true(json_object_get(m, "resolved")) ? "resolved" : "open",
                                         json_string_value(json_object_get(m, "text")));
  if (json_array_size(items) == 0) printf("No motions yet.\n");
  json_decref(items);
  return CLI_OK;
}

int cmd_motion(cli_t *cli, cli_args_t *args) {
  static const char *const subs[] = {"propose", "vote", "resolve", "show", "list", NULL};
  const char *sub = cli_next(args);
  if (!sub) return cli_fail_no_sub("motion", subs);
  if (strcmp(sub, "propose") == 0) return motion_propose(cli, args);
  if (strcmp(sub, "vote") == 0) return motion_vote(cli, args);
  if (strcmp(sub, "resolve") == 0) return motion_resolve(cli, args);
  if (strcmp(sub, "show") == 0) return motion_show(cli, args);
  if (strcmp(sub, "list") == 0) return motion_list(cli, args);
  return cli_fail_unknown("motion", sub, subs);
}

/* audit-bundle ------------------------------------------------------------- */

typedef struct audit_ctx_s {
  const uint8_t *motion;
  const uint8_t *club;
  cs_past_t past;
  const cs_resolution_rec_t *resolutions; /* the motion's valid ones: their whole causal past goes in */
  uint32_t resolution_count;
  uint8_t motion_change[CS_ID_LEN];
  uint8_t (*vote_objects)[CS_ID_LEN]; /* the motion's votes seen so far, sorted */
  uint32_t vote_count, vote_cap;
  cs_bundle_writer_t writer;
  cs_buf_t out;
  uint64_t written;
  bool motion_found;
  int err;
} audit_ctx_t;

static int audit_cmp_id(const void *a, const void *b) { return memcmp(a, b, CS_ID_LEN); }

static bool audit_is_vote(const audit_ctx_t *ctx, const uint8_t obj[CS_ID_LEN]) {
  return ctx->vote_count && bsearch(obj, ctx->vote_objects, ctx->vote_count, CS_ID_LEN, audit_cmp_id) != NULL;
}

static int audit_add_vote(audit_ctx_t *ctx, const uint8_t obj[CS_ID_LEN]) {
  if (ctx->vote_count == ctx->vote_cap) {
    uint32_t cap = ctx->vote_cap ? 2 * ctx->vote_cap : 256;
    uint8_t(*grown)[CS_ID_LEN] = realloc(ctx->vote_objects, (size_t)cap * CS_ID_LEN);
    if (!grown) return CS_ENOMEM;
    ctx->vote_objects = grown;
    ctx->vote_cap = cap;
  }
  uint32_t at = ctx->vote_count;
  while (at > 0 && memcmp(ctx->vote_objects[at - 1], obj, CS_ID_LEN) > 0) at--;
  memmove(ctx->vote_objects[at + 1], ctx->vote_objects[at], (size_t)(ctx->vote_count - at) * CS_ID_LEN);
  memcpy(ctx->vote_objects[at], obj, CS_ID_LEN);
  ctx->vote_count++;
  return CS_OK;
}

/* Keeps a change when it is membership, the motion, a vote on it, one of
 * its resolutions, or in the causal past of the motion or of a valid
 * resolution (what `verify` needs to read each count as a node does).
 * History comes in causal order, so a vote's creation is seen before any
 * overwrite of it. */
static int audit_each(const uint8_t id[CS_ID_LEN], cs_span_t bytes, void *vctx) {
  audit_ctx_t *ctx = vctx;
  cs_change_t *c = malloc(sizeof(*c));
  cs_op_t *op = malloc(sizeof(*op));
  cs_op_iter_t it;
  bool keep = false;
  if (!c || !op) {
    free(c);
    free(op);
    return ctx->err = CS_ENOMEM;
  }
  if (cs_change_decode(bytes, c) == CS_OK && cs_op_iter_init(&it, c->payload_bytes) == CS_OK) {
    for (uint32_t i = 0; i <= ctx->resolution_count && !keep && c->has_club; i++) {
      const uint8_t *at = i < ctx->resolution_count ? ctx->resolutions[i].change : ctx->motion_change;
      bool holds = false;
      if (cs_past_holds(&ctx->past, at, c->author, c->seq, &holds) == CS_OK && holds) keep = true;
    }
    for (uint32_t index = 0; cs_op_iter_next(&it, op) == CS_OK && !ctx->err; index++) {
      uint8_t op_id[CS_ID_LEN], obj[CS_ID_LEN];
      cs_op_id(id, index, op_id);
      if (op->obj_local) cs_op_id(id, op->obj_index, obj);
      else memcpy(obj, op->obj, CS_ID_LEN);
      if (op->type == CS_OP_GENESIS || op->type == CS_OP_MEMBER) keep = true;
      if (op->type == CS_OP_CREATE && op->obj_type == CS_OBJ_MOTION && memcmp(op_id, ctx->motion, CS_ID_LEN) == 0)
        keep = ctx->motion_found = true;
      if (op->type == CS_OP_SET && memcmp(obj, ctx->motion, CS_ID_LEN) == 0) keep = true;
      if (op->type == CS_OP_CREATE && op->obj_type == CS_OBJ_VOTE && memcmp(obj, ctx->motion, CS_ID_LEN) == 0) {
        ctx->err = audit_add_vote(ctx, op_id);
        keep = true;
      }
      if (op->type == CS_OP_SET && op->field == CS_F_VOTE_CHOICE && audit_is_vote(ctx, obj)) keep = true;
    }
  }
  free(c);
  free(op);
  if (ctx->err) return ctx->err;
  if (memcmp(id, ctx->motion_change, CS_ID_LEN) == 0 || memcmp(id, ctx->club, CS_ID_LEN) == 0) return 0; /* written first */
  if (keep && (ctx->err = cs_bundle_write_change(&ctx->writer, bytes, &ctx->out))) return ctx->err;
  ctx->written += keep;
  return 0;
}

int cmd_audit_bundle(cli_t *cli, cli_args_t *args) {
  const char *arg = cli_next(args), *path = cli_next(args);
  int code = cli_no_more(cli, args, "audit-bundle MOTION FILE");
  if (code) return code;
  if (!arg || !path || !*path) return cli_fail(CLI_USAGE, "usage: clubsync audit-bundle MOTION FILE");
  cs_txn_t txn;
  uint8_t club[CS_ID_LEN], motion[CS_ID_LEN];
  cs_object_t obj;
  if ((code = cli_read_club(cli, &txn, club))) return code;
  if ((code = motion_read(cli, &txn, club, arg, motion, &obj))) {
    cs_store_abort(&txn);
    return code;
  }
  audit_ctx_t ctx;
  memset(&ctx, 0, sizeof(ctx));
  ctx.motion = motion;
  ctx.club = club;
  ctx.past = cs_store_past(&txn);
  memcpy(ctx.motion_change, obj.created_change, CS_ID_LEN);
  const cs_entry_t *e;
  uint32_t n = cs_object_field(&obj, CS_F_MOTION_RESOLUTIONS, &e);
  cs_resolution_rec_t *recs = calloc(n ? n : 1, sizeof(*recs));
  int err = recs ? CS_OK : CS_ENOMEM;
  for (uint32_t i = 0; i < n && !err; i++)
    if (cs_resolution_from_entry(&e[i], &recs[ctx.resolution_count]) == CS_OK) ctx.resolution_count++;
  cs_object_free(&obj);
  ctx.resolutions = recs;
  cs_buf_init(&ctx.out, CS_BUNDLE_AUDIT_BYTES_MAX);
  cs_bundle_header_t header = {CS_BUNDLE_AUDIT, {0}};
  memcpy(header.club, club, CS_ID_LEN);
  cs_bundle_write_header(&ctx.writer, &header, &ctx.out);
  /* The motion's change first: `verify` audits the first motion it meets,
   * and a resolution's causal past may hold other motions. */
  cs_span_t first;
  if (!err) err = cs_store_change_get(&txn, club, &first); /* the genesis, first as in every bundle */
  if (!err) err = cs_bundle_write_change(&ctx.writer, first, &ctx.out);
  if (!err) err = cs_store_change_get(&txn, ctx.motion_change, &first);
  if (!err) err = cs_bundle_write_change(&ctx.writer, first, &ctx.out);
  if (!err) {
    ctx.written = 2;
    err = cs_store_changes(&txn, club, audit_each, &ctx);
  }
  cs_store_abort(&txn);
  if (!err) err = ctx.err;
  free(ctx.vote_objects);
  free(recs);
  if (!err) cs_bundle_write_trailer(&ctx.writer, &ctx.out);
  if (!err && ctx.out.failed) err = CS_ETOOBIG;
  if (!err && cli_write_private(path, ctx.out.data, ctx.out.len) != 0) {
    cs_buf_free(&ctx.out);
    return cli_fail(CLI_ERROR, "cannot write %s: %s", path, strerror(errno));
  }
  cs_buf_free(&ctx.out);
  if (err == CS_ETOOBIG)
    return cli_fail(CLI_ERROR, "the audit bundle would pass %u MiB (CS_BUNDLE_AUDIT_BYTES_MAX)",
                    (unsigned)(CS_BUNDLE_AUDIT_BYTES_MAX >> 20));
  if (err) return cli_fail_err(err, "cannot write the audit bundle");
  printf("Wrote %llu signed changes (the motion, its ballots, its resolution with its whole causal past, and the "
         "membership back to the genesis) to %s; anyone can check it with 'clubsync verify %s'.\n",
         (unsigned long long)ctx.written, path, path);
  return CLI_OK;
}

/* verify ------------------------------------------------------------------ */

int cmd_verify(cli_t *cli, cli_args_t *args) {
  const char *path = cli_next(args);
  int code = cli_no_more(cli, args, "verify FILE");
  if (code) return code;
  if (!path) return cli_fail(CLI_USAGE, "verify needs the audit bundle FILE");
  cli_mapped_t m;
  if (cli_map_file(path, &m) != 0) return cli_fail(CLI_ERROR, "cannot read %s: %s", path, strerror(errno));
  cs_audit_report_t *rep = calloc(1, sizeof(*rep));
  int err = rep ? cs_audit_bundle_verify(m.bytes, rep) : CS_ENOMEM;
  cli_unmap_file(&m);
  if (err) {
    code = err == CS_ENOMEM   ? cli_fail(CLI_ERROR, "out of memory")
           : rep->damaged     ? cli_fail(CLI_INVALID, "%s is damaged or altered: %s", path, rep->why)
                              : cli_fail(CLI_INVALID, "the decision does not verify: %s",
                                         rep->why[0] ? rep->why : cs_strerror(err));
    if (rep) cs_audit_report_free(rep);
    free(rep);
    return code;
  }
  char hex[65];
  cs_hex32(rep->motion, hex);
  json_t *doc = json_pack("{s:s s:o s:{s:s s:o} s:o s:s s:s s:s s:s}", "club", rep->club_name, "club_id",
                          cli_json_hex(rep->club), "founder", "museum", rep->founder_museum, "key",
                          cli_json_hex(rep->founder), "motion", cli_json_hex(rep->motion), "text", rep->text, "effect",
                          rep->effect, "proposer", rep->proposer, "quorum", rep->quorum);
  json_t *electorate = json_array(), *votes = json_array();
  for (uint32_t i = 0; i < rep->electorate.count; i++)
    json_array_append_new(electorate, json_string(rep->electorate.museums[i]));
  for (uint32_t i = 0; i < rep->vote_count; i++)
    json_array_append_new(votes, json_pack("{s:s s:o s:s s:b s:b s:o}", "museum", rep->votes[i].museum, "key",
                                           cli_json_hex(rep->votes[i].key), "choice",
                                           cs_vote_choices[rep->votes[i].choice], "counted", rep->votes[i].counted,
                                           "latest", rep->votes[i].latest, "change",
                                           cli_json_hex(rep->votes[i].change)));
  json_object_set_new(doc, "electorate", electorate);
  json_object_set_new(doc, "votes", votes);
  json_object_set_new(doc, "outcome", json_string(!rep->resolved           ? "not resolved"
                                                  : rep->resolution.adopted ? "adopted"
                                                                            : "rejected"));
  /* The same shape as `motion show --json`. */
  if (rep->resolved)
    json_object_set_new(doc, "resolution",
                        json_pack("{s:s s:I s:I s:I}", "outcome", rep->resolution.adopted ? "adopted" : "rejected",
                                  "yes", (json_int_t)rep->resolution.yes, "no", (json_int_t)rep->resolution.no,
                                  "abstain", (json_int_t)rep->resolution.abstain));
  json_object_set_new(doc, "member_changes_kept_out", json_integer(rep->members_kept_out));
  json_object_set_new(doc, "admin_removals_decided_elsewhere", json_integer(rep->decisions_elsewhere));
  uint32_t kept_out = rep->members_kept_out, elsewhere = rep->decisions_elsewhere;
  cs_audit_report_free(rep);
  free(rep);
  if (cli->json) return cli_print_json(doc);
  /* The club is its genesis: its id and founder tell it from another club
   * of the same name. */
  json_t *founder = json_object_get(doc, "founder");
  printf("Club %s (id %s)\n  founded by %s (key %s)\nMotion %s\n", json_string_value(json_object_get(doc, "club")),
         json_string_value(json_object_get(doc, "club_id")), json_string_value(json_object_get(founder, "museum")),
         json_string_value(json_object_get(founder, "key")), hex);
  printf("  proposed by %s: %s\n", json_string_value(json_object_get(doc, "proposer")),
         json_string_value(json_object_get(doc, "text")));
  printf("  electorate (%s rule): ", json_string_value(json_object_get(doc, "quorum")));
  size_t i;
  json_t *v;
  json_array_foreach(electorate, i, v) printf("%s%s", i ? ", " : "", json_string_value(v));
  printf("\n");
  /* Each museum's latest ballot, as `motion show` lists them, and any
   * counted ballot that is not its museum's latest. */
  size_t earlier = 0;
  json_array_foreach(votes, i, v) {
    bool latest = json_is_true(json_object_get(v, "latest")), counted = json_is_true(json_object_get(v, "counted"));
    if (!latest && !counted) {
      earlier++;
      continue;
    }
    if (counted)
      printf("  %-30s %-8s (counted)\n", json_string_value(json_object_get(v, "museum")),
             json_string_value(json_object_get(v, "choice")));
    else
      printf("  %-30s %s\n", json_string_value(json_object_get(v, "museum")),
             json_string_value(json_object_get(v, "choice")));
  }
  if (earlier)
    printf("  %zu earlier ballot%s, each replaced by a later one of %s museum (--json lists every ballot)\n", earlier,
           earlier == 1 ? "" : "s", earlier == 1 ? "its" : "their");
  json_t *r = json_object_get(doc, "resolution");
  if (r)
    printf("  outcome: %s (%lld yes, %lld no, %lld abstain)\n", json_string_value(json_object_get(r, "outcome")),
           (long long)json_integer_value(json_object_get(r, "yes")),
           (long long)json_integer_value(json_object_get(r, "no")),
           (long long)json_integer_value(json_object_get(r, "abstain")));
  else
    printf("  outcome: not resolved\n");
  printf("Every signature, the membership and the count verify.\n");
  if (kept_out)
    printf("  %u member change%s kept out of the membership by the club's rules, as every node keeps %s out.\n",
           kept_out, kept_out == 1 ? " is" : "s are", kept_out == 1 ? "it" : "them");
  if (elsewhere)
    printf("  Not checked here: %u removal%s of an admin rest%s on a decision outside this bundle; verify that\n"
           "  motion's own audit bundle.\n",
           elsewhere, elsewhere == 1 ? "" : "s", elsewhere == 1 ? "s" : "");
  json_decref(doc);
  return CLI_OK;
}
