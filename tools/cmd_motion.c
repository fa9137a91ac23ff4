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

/* The electorate: museums with a voting role now. */
static int electorate_each(const cs_member_t *m, void *vctx) {
  cs_electorate_t *e = vctx;
  const cs_member_entry_t *latest = cs_member_latest(m);
  if (!latest || (latest->role != CS_ROLE_ADMIN && latest->role != CS_ROLE_MEMBER)) return 0;
  for (uint32_t i = 0; i < e->count; i++)
    if (strcmp(e->museums[i], latest->museum) == 0) return 0;
  if (e->count == CS_ELECTORATE_MAX) return CS_ETOOBIG;
  snprintf(e->museums[e->count++], sizeof(e->museums[0]), "%s", latest->museum);
  return 0;
}

static int motion_propose(cli_t *cli, cli_args_t *args) {
  const char *quorum = cli_take(args, "--quorum");
  const char *effect = cli_take(args, "--effect");
  const char *text = cli_next(args);
  int code = cli_no_more(cli, args, motion_usage);
  if (code) return code;
  if (!quorum) quorum = "majority";
  if (!text || !*text) return cli_fail(CLI_USAGE, "motion propose needs the motion's TEXT");
  if (!cs_status_in(cs_quorum_rules, (cs_span_t){(const uint8_t *)quorum, strlen(quorum)}))
    return cli_fail(CLI_USAGE, "--quorum is majority or two-thirds");
  cs_txn_t txn;
  uint8_t club[CS_ID_LEN];
  if ((code = cli_begin_write(cli, &txn, club, CLI_ROLES_CLUB, "propose motions"))) return code;
  cs_electorate_t *e = calloc(1, sizeof(*e));
  int err = e ? cs_store_members(&txn, club, electorate_each, e) : CS_ENOMEM;
  cs_store_abort(&txn);
  if (err) {
    free(e);
    return err == CS_ETOOBIG ? cli_fail(CLI_ERROR, "more than %d voting museums: a resolution cannot count them all",
                                        CS_ELECTORATE_MAX)
                             : cli_fail_err(err, "cannot read the members");
  }
  cs_buf_t payload, value;
  cs_buf_init(&payload, CS_CHANGE_PAYLOAD_MAX);
  cs_buf_init(&value, CS_TEXT_MAX);
  cs_electorate_write(&value, e);
  uint32_t voters = e->count;
  free(e);
  cs_mp_write_array(&payload, 4 + (effect ? 1u : 0u));
  cs_op_write_create(&payload, CS_OBJ_MOTION, NULL);
  cs_op_write_set_str(&payload, cs_ref_local(0), CS_F_MOTION_TEXT, text, 0, NULL);
  cs_op_write_set_str(&payload, cs_ref_local(0), CS_F_MOTION_QUORUM, quorum, 0, NULL);
  cs_op_write_set_raw(&payload, cs_ref_local(0), CS_F_MOTION_ELECTORATE, cs_buf_span(&value), 0, NULL);
  if (effect) cs_op_write_set_str(&payload, cs_ref_local(0), CS_F_MOTION_EFFECT, effect, 0, NULL);
  if (value.failed) payload.failed = true;
  cs_buf_free(&value);
  uint8_t change_id[CS_ID_LEN], id[CS_ID_LEN];
  if ((code = cli_commit(cli, club, &payload, change_id, "cannot propose the motion"))) return code;
  cs_op_id(change_id, 0, id);
  char hex[65];
  cs_hex32(id, hex);
  printf("Proposed; %u museums may vote, %s of them carries it.\n%s\n", voters,
         strcmp(quorum, "majority") == 0 ? "more than half" : "two thirds", hex);
  return CLI_OK;
}

/* A motion's votes as this node sees them: per museum, the latest choice. */
typedef struct tally_vote_s {
  char museum[CS_NAME_MAX + 1];
  uint8_t key[CS_KEY_LEN];
  uint8_t vote[CS_ID_LEN]; /* the vote object */
  uint8_t op[CS_ID_LEN];   /* its winning write */
  uint64_t lamport;
  char choice[16];
} tally_vote_t;

typedef struct votes_ctx_s {
  cs_txn_t *txn;
  const uint8_t *club;
  const uint8_t *motion;
  const uint8_t *only_creator;
  tally_vote_t items[4 * CS_ELECTORATE_MAX];
  uint32_t count;
} votes_ctx_t;

static int votes_each(const uint8_t id[CS_ID_LEN], const cs_object_t *obj, void *vctx) {
  votes_ctx_t *ctx = vctx;
  const cs_entry_t *e;
  if (!obj->has_parent || memcmp(obj->parent, ctx->motion, CS_ID_LEN) != 0) return 0;
  if (ctx->only_creator && memcmp(obj->creator, ctx->only_creator, CS_KEY_LEN) != 0) return 0;
  if (!cs_object_field(obj, CS_F_VOTE_CHOICE, &e)) return 0;
  tally_vote_t v;
  memset(&v, 0, sizeof(v));
  cli_museum_of(ctx->txn, ctx->club, obj->creator, v.museum, sizeof(v.museum));
  memcpy(v.key, obj->creator, CS_KEY_LEN);
  memcpy(v.vote, id, CS_ID_LEN);
  memcpy(v.op, e->op, CS_ID_LEN);
  v.lamport = e->lamport;
  cs_value_str(e->value, e->value_len, v.choice, sizeof(v.choice));
  /* One museum, one vote: keep its latest by (lamport, key). */
  for (uint32_t i = 0; i < ctx->count; i++) {
    tally_vote_t *o = &ctx->items[i];
    if (strcmp(o->museum, v.museum) != 0) continue;
    if (v.lamport > o->lamport || (v.lamport == o->lamport && memcmp(v.key, o->key, CS_KEY_LEN) > 0)) *o = v;
    return 0;
  }
  if (ctx->count < sizeof(ctx->items) / sizeof(ctx->items[0])) ctx->items[ctx->count++] = v;
  return 0;
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
  bool resolved = cs_object_field(&obj, CS_F_MOTION_RESOLUTION, &(const cs_entry_t *){NULL}) > 0;
  cs_object_free(&obj);
  votes_ctx_t *mine = calloc(1, sizeof(*mine));
  if (!mine) {
    cs_store_abort(&txn);
    return cli_fail(CLI_ERROR, "out of memory");
  }
  *mine = (votes_ctx_t){.txn = &txn, .club = club, .motion = motion, .only_creator = cli->secret_key + 32};
  int err = cs_store_objects(&txn, club, CS_OBJ_VOTE, votes_each, mine);
  cs_object_t vote;
  cs_object_init(&vote);
  if (!err && mine->count) err = cs_store_object_get(&txn, club, mine->items[0].vote, &vote);
  cs_store_abort(&txn);
  if (err) code = cli_fail_err(err, "cannot read your vote");
  else if (resolved) code = cli_fail(CLI_ERROR, "this motion is resolved already: ballots are no longer counted");
  if (code) {
    free(mine);
    cs_object_free(&vote);
    return code;
  }
  /* Changeable until counted: this key overwrites its own vote. */
  cs_buf_t payload;
  cs_buf_init(&payload, CS_CHANGE_PAYLOAD_MAX);
  if (mine->count) {
    cs_mp_write_array(&payload, 1);
    cli_write_overwrite_str(&payload, &vote, mine->items[0].vote, CS_F_VOTE_CHOICE, choice);
  } else {
    cs_ref_t parent = cs_ref_id(motion);
    cs_mp_write_array(&payload, 2);
    cs_op_write_create(&payload, CS_OBJ_VOTE, &parent);
    cs_op_write_set_str(&payload, cs_ref_local(0), CS_F_VOTE_CHOICE, choice, 0, NULL);
  }
  free(mine);
  cs_object_free(&vote);
  uint8_t change_id[CS_ID_LEN];
  if ((code = cli_commit(cli, club, &payload, change_id, "cannot record the vote"))) return code;
  char hex[65];
  cs_hex32(change_id, hex);
  printf("Voted %s; you may change it until the motion is resolved.\n%s\n", choice, hex);
  return CLI_OK;
}

/* The ids of the changes that wrote given ops (a vote's winning write), by
 * scanning the history: a resolution names changes, records name ops. */
typedef struct op_changes_ctx_s {
  const tally_vote_t *votes;
  uint32_t count;
  uint8_t (*changes)[CS_ID_LEN];
  uint32_t found;
} op_changes_ctx_t;

static int op_changes_each(const uint8_t id[CS_ID_LEN], cs_span_t bytes, void *vctx) {
  op_changes_ctx_t *ctx = vctx;
  cs_change_t *c = malloc(sizeof(*c));
  cs_op_iter_t it;
  if (!c) return CS_ENOMEM;
  if (cs_change_decode(bytes, c) == CS_OK && cs_op_iter_init(&it, c->payload_bytes) == CS_OK) {
    for (uint32_t index = 0; index < it.count; index++) {
      uint8_t op_id[CS_ID_LEN];
      cs_op_id(id, index, op_id);
      for (uint32_t v = 0; v < ctx->count; v++)
        if (memcmp(ctx->votes[v].op, op_id, CS_ID_LEN) == 0) {
          memcpy(ctx->changes[v], id, CS_ID_LEN);
          ctx->found++;
        }
    }
  }
  free(c);
  return 0;
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
  const cs_entry_t *e;
  char rule[16] = "";
  cs_electorate_t *electorate = calloc(1, sizeof(*electorate));
  votes_ctx_t *votes = calloc(1, sizeof(*votes));
  uint8_t(*changes)[CS_ID_LEN] = calloc(CS_CHANGE_DEPS_MAX, CS_ID_LEN);
  int err = electorate && votes && changes ? CS_OK : CS_ENOMEM;
  if (cs_object_field(&obj, CS_F_MOTION_QUORUM, &e)) cs_value_str(e->value, e->value_len, rule, sizeof(rule));
  if (!err && (!cs_object_field(&obj, CS_F_MOTION_ELECTORATE, &e) ||
               cs_electorate_decode((cs_span_t){e->value, e->value_len}, electorate) != CS_OK))
    err = CS_EFORMAT;
  if (!err) {
    *votes = (votes_ctx_t){.txn = &txn, .club = club, .motion = motion};
    err = cs_store_objects(&txn, club, CS_OBJ_VOTE, votes_each, votes);
  }
  /* Count the latest vote of each museum of the electorate. */
  cs_resolution_t res = {false, 0, 0, 0};
  uint32_t counted = 0;
  for (uint32_t i = 0; !err && i < votes->count; i++) {
    if (!cs_electorate_has(electorate, votes->items[i].museum)) continue;
    votes->items[counted] = votes->items[i];
    counted++;
  }
  op_changes_ctx_t find = {votes->items, counted, changes, 0};
  if (!err) err = cs_store_changes(&txn, club, op_changes_each, &find);
  cs_store_abort(&txn);
  if (!err && find.found != counted) err = CS_ENOTFOUND;
  for (uint32_t i = 0; !err && i < counted; i++) {
    const char *choice = votes->items[i].choice;
    if (strcmp(choice, "yes") == 0) res.yes++;
    else if (strcmp(choice, "no") == 0) res.no++;
    else res.abstain++;
  }
  res.adopted = cs_quorum_met(rule, electorate->count, res.yes);
  uint32_t electorate_count = electorate->count;
  free(electorate);
  free(votes);
  if (err) {
    free(changes);
    cs_object_free(&obj);
    return cli_fail_err(err, "cannot count the votes");
  }
  cs_buf_t payload, value;
  cs_buf_init(&payload, CS_CHANGE_PAYLOAD_MAX);
  cs_buf_init(&value, 256);
  cs_resolution_write(&value, &res);
  cs_mp_write_array(&payload, 1);
  cli_write_overwrite(&payload, &obj, motion, CS_F_MOTION_RESOLUTION, cs_buf_span(&value));
  cs_buf_free(&value);
  cs_object_free(&obj);
  /* The resolution depends on exactly the ballots it counts. */
  uint8_t change_id[CS_ID_LEN];
  err = payload.failed ? CS_ETOOBIG
                       : cli_author_deps(cli, club, cs_buf_span(&payload), (const uint8_t(*)[CS_ID_LEN])changes, counted,
                                         change_id);
  cs_buf_free(&payload);
  free(changes);
  if (err) return cli_fail_err(err, "cannot write the resolution");
  char hex[65];
  cs_hex32(change_id, hex);
  printf("%s: %llu yes, %llu no, %llu abstain of %u museums (%s rule); the resolution counts exactly these %u "
         "ballots.\n%s\n",
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
  const cs_entry_t *e;
  cs_electorate_t *electorate = calloc(1, sizeof(*electorate));
  votes_ctx_t *votes = calloc(1, sizeof(*votes));
  if (!electorate || !votes) {
    free(electorate);
    free(votes);
    cs_store_abort(&txn);
    cs_object_free(&obj);
    return cli_fail(CLI_ERROR, "out of memory");
  }
  if (cs_object_field(&obj, CS_F_MOTION_ELECTORATE, &e) &&
      cs_electorate_decode((cs_span_t){e->value, e->value_len}, electorate) != CS_OK)
    electorate->count = 0;
  *votes = (votes_ctx_t){.txn = &txn, .club = club, .motion = motion};
  int err = cs_store_objects(&txn, club, CS_OBJ_VOTE, votes_each, votes);
  cs_store_abort(&txn);
  json_t *doc = json_pack("{s:o s:s s:s s:s s:s}", "id", cli_json_hex(motion), "text", text, "effect", effect,
                          "quorum", rule, "proposer", proposer);
  json_t *names = json_array(), *ballots = json_array();
  for (uint32_t i = 0; i < electorate->count; i++) json_array_append_new(names, json_string(electorate->museums[i]));
  for (uint32_t i = 0; i < votes->count; i++)
    json_array_append_new(ballots, json_pack("{s:s s:s}", "museum", votes->items[i].museum, "choice",
                                             votes->items[i].choice));
  json_object_set_new(doc, "electorate", names);
  json_object_set_new(doc, "votes", ballots);
  cs_resolution_t res;
  if (cs_object_field(&obj, CS_F_MOTION_RESOLUTION, &e) &&
      cs_resolution_decode((cs_span_t){e->value, e->value_len}, &res) == CS_OK)
    json_object_set_new(doc, "resolution",
                        json_pack("{s:s s:I s:I s:I}", "outcome", res.adopted ? "adopted" : "rejected", "yes",
                                  (json_int_t)res.yes, "no", (json_int_t)res.no, "abstain", (json_int_t)res.abstain));
  free(electorate);
  free(votes);
  cs_object_free(&obj);
  if (err) {
    json_decref(doc);
    return cli_fail_err(err, "cannot read the votes");
  }
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
  bool resolved = cs_object_field(obj, CS_F_MOTION_RESOLUTION, &(const cs_entry_t *){NULL}) > 0;
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
  const char *sub = cli_next(args);
  if (!sub) return cli_fail(CLI_USAGE, "usage: clubsync %s", motion_usage);
  if (strcmp(sub, "propose") == 0) return motion_propose(cli, args);
  if (strcmp(sub, "vote") == 0) return motion_vote(cli, args);
  if (strcmp(sub, "resolve") == 0) return motion_resolve(cli, args);
  if (strcmp(sub, "show") == 0) return motion_show(cli, args);
  if (strcmp(sub, "list") == 0) return motion_list(cli, args);
  return cli_fail(CLI_USAGE, "unknown motion command '%s'; usage: clubsync %s", sub, motion_usage);
}

/* audit-bundle ------------------------------------------------------------- */

#define AUDIT_VOTES_MAX 4096

typedef struct audit_ctx_s {
  const uint8_t *motion;
  uint8_t (*vote_objects)[CS_ID_LEN];
  uint32_t vote_count;
  cs_bundle_writer_t writer;
  cs_buf_t out;
  uint64_t written;
  bool motion_found;
  int err;
} audit_ctx_t;

/* Keeps a change when it is membership, the motion, a vote on it, or the
 * resolution. History comes in causal order, so a vote's creation is seen
 * before any overwrite of it. */
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
    for (uint32_t index = 0; cs_op_iter_next(&it, op) == CS_OK; index++) {
      uint8_t op_id[CS_ID_LEN], obj[CS_ID_LEN];
      cs_op_id(id, index, op_id);
      if (op->obj_local) cs_op_id(id, op->obj_index, obj);
      else memcpy(obj, op->obj, CS_ID_LEN);
      if (op->type == CS_OP_GENESIS || op->type == CS_OP_MEMBER) keep = true;
      if (op->type == CS_OP_CREATE && op->obj_type == CS_OBJ_MOTION && memcmp(op_id, ctx->motion, CS_ID_LEN) == 0)
        keep = ctx->motion_found = true;
      if (op->type == CS_OP_SET && memcmp(obj, ctx->motion, CS_ID_LEN) == 0) keep = true;
      if (op->type == CS_OP_CREATE && op->obj_type == CS_OBJ_VOTE && memcmp(obj, ctx->motion, CS_ID_LEN) == 0 &&
          ctx->vote_count < AUDIT_VOTES_MAX) {
        memcpy(ctx->vote_objects[ctx->vote_count++], op_id, CS_ID_LEN);
        keep = true;
      }
      if (op->type == CS_OP_SET && op->field == CS_F_VOTE_CHOICE)
        for (uint32_t v = 0; v < ctx->vote_count; v++)
          if (memcmp(ctx->vote_objects[v], obj, CS_ID_LEN) == 0) keep = true;
    }
  }
  free(c);
  free(op);
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
  if ((code = cli_read_club(cli, &txn, club))) return code;
  if ((code = motion_read(cli, &txn, club, arg, motion, NULL))) {
    cs_store_abort(&txn);
    return code;
  }
  audit_ctx_t ctx;
  memset(&ctx, 0, sizeof(ctx));
  ctx.motion = motion;
  ctx.vote_objects = calloc(AUDIT_VOTES_MAX, CS_ID_LEN);
  cs_buf_init(&ctx.out, 64u << 20);
  cs_bundle_header_t header = {CS_BUNDLE_AUDIT, {0}};
  memcpy(header.club, club, CS_ID_LEN);
  cs_bundle_write_header(&ctx.writer, &header, &ctx.out);
  int err = ctx.vote_objects ? cs_store_changes(&txn, club, audit_each, &ctx) : CS_ENOMEM;
  cs_store_abort(&txn);
  if (!err) err = ctx.err;
  free(ctx.vote_objects);
  if (!err) cs_bundle_write_trailer(&ctx.writer, &ctx.out);
  if (!err && ctx.out.failed) err = CS_ETOOBIG;
  if (!err && cli_write_private(path, ctx.out.data, ctx.out.len) != 0) {
    cs_buf_free(&ctx.out);
    return cli_fail(CLI_ERROR, "cannot write %s: %s", path, strerror(errno));
  }
  cs_buf_free(&ctx.out);
  if (err) return cli_fail_err(err, "cannot write the audit bundle");
  printf("Wrote %llu signed changes (the motion, its ballots, its resolution and the membership back to the "
         "genesis) to %s; anyone can check it with 'clubsync verify %s'.\n",
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
