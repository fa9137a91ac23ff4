/* campaign open/list/vote/results/close/phase, and report: the prioritised
 * list for the vendor meeting (docs/data-model.md). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/campaign.h"
#include "tools/cli.h"

static const char campaign_usage[] =
    "campaign open NAME --points N | list | vote CAMPAIGN REQ=POINTS...|--clear | results CAMPAIGN | close CAMPAIGN | "
    "phase CAMPAIGN submission|review|vote|sent [--motion M]";

/* Tallying -------------------------------------------------------------- */

typedef struct ballots_ctx_s {
  cs_txn_t *txn;
  const uint8_t *club;
  const uint8_t *campaign;
  cs_ballot_in_t *items;
  uint32_t count, cap;
  int err;
} ballots_ctx_t;

static int ballots_each(const uint8_t id[CS_ID_LEN], const cs_object_t *obj, void *vctx) {
  (void)id;
  ballots_ctx_t *ctx = vctx;
  const cs_entry_t *e;
  if (!obj->has_parent || memcmp(obj->parent, ctx->campaign, CS_ID_LEN) != 0) return 0;
  if (!cs_object_field(obj, CS_F_BALLOT_ALLOCATION, &e)) return 0;
  if (ctx->count == ctx->cap) {
    uint32_t cap = ctx->cap ? ctx->cap * 2 : 16;
    cs_ballot_in_t *grown = realloc(ctx->items, cap * sizeof(*grown));
    if (!grown) return ctx->err = CS_ENOMEM;
    ctx->items = grown;
    ctx->cap = cap;
  }
  cs_ballot_in_t *b = &ctx->items[ctx->count];
  char *museum = malloc(CS_NAME_MAX + 1);
  uint8_t *value = malloc(e->value_len ? e->value_len : 1);
  if (!museum || !value) {
    free(museum);
    free(value);
    return ctx->err = CS_ENOMEM;
  }
  cli_museum_of(ctx->txn, ctx->club, obj->creator, museum, CS_NAME_MAX + 1);
  memcpy(value, e->value, e->value_len);
  b->museum = museum;
  b->lamport = e->lamport;
  memcpy(b->author, e->author, CS_KEY_LEN);
  b->allocation = (cs_span_t){value, e->value_len};
  ctx->count++;
  return 0;
}

bool cli_merged_into(const uint8_t request[CS_ID_LEN], uint8_t into[CS_ID_LEN], void *vctx) {
  cli_merge_ctx_t *ctx = vctx;
  cs_object_t obj;
  const cs_entry_t *e;
  if (cs_store_object_get(ctx->txn, ctx->club, request, &obj) != CS_OK) return false;
  bool merged = cs_object_field(&obj, CS_F_REQ_MERGED_INTO, &e) > 0;
  if (merged) {
    cs_mp_reader_t r = cs_mp_reader((cs_span_t){e->value, e->value_len});
    merged = cs_mp_read_bin32(&r, into) == CS_OK;
  }
  cs_object_free(&obj);
  return merged;
}

int cli_campaign_tally(cs_txn_t *txn, const uint8_t club[CS_ID_LEN], const uint8_t campaign[CS_ID_LEN],
                       cs_tally_t *out, bool *frozen) {
  cs_object_t obj;
  const cs_entry_t *e;
  int err = cs_store_object_get(txn, club, campaign, &obj);
  if (err) return err;
  char phase[32] = "";
  cli_field_text(&obj, CS_F_CAMPAIGN_PHASE, phase, sizeof(phase));
  *frozen = (strcmp(phase, "closed") == 0 || strcmp(phase, "sent") == 0) &&
            cs_object_field(&obj, CS_F_CAMPAIGN_RESULTS, &e) > 0;
  if (*frozen) {
    err = cs_tally_read((cs_span_t){e->value, e->value_len}, out);
    cs_object_free(&obj);
    return err;
  }
  cs_object_free(&obj);
  ballots_ctx_t ctx = {txn, club, campaign, NULL, 0, 0, CS_OK};
  err = cs_store_objects(txn, club, CS_OBJ_BALLOT, ballots_each, &ctx);
  if (!err) err = ctx.err;
  cli_merge_ctx_t merge = {txn, club};
  if (!err) err = cs_tally(ctx.items, ctx.count, cli_merged_into, &merge, out);
  for (uint32_t i = 0; i < ctx.count; i++) {
    free((void *)ctx.items[i].museum);
    free((void *)ctx.items[i].allocation.ptr);
  }
  free(ctx.items);
  return err;
}

typedef struct latest_ctx_s {
  uint8_t id[CS_ID_LEN];
  uint64_t lamport;
  bool found;
} latest_ctx_t;

static int latest_each(const uint8_t id[CS_ID_LEN], const cs_object_t *obj, void *vctx) {
  latest_ctx_t *ctx = vctx;
  if (!ctx->found || obj->created_lamport > ctx->lamport ||
      (obj->created_lamport == ctx->lamport && memcmp(id, ctx->id, CS_ID_LEN) > 0)) {
    memcpy(ctx->id, id, CS_ID_LEN);
    ctx->lamport = obj->created_lamport;
    ctx->found = true;
  }
  return 0;
}

int cli_latest_campaign(cs_txn_t *txn, const uint8_t club[CS_ID_LEN], uint8_t out[CS_ID_LEN]) {
  latest_ctx_t ctx = {{0}, 0, false};
  int err = cs_store_objects(txn, club, CS_OBJ_CAMPAIGN, latest_each, &ctx);
  if (err) return err;
  if (!ctx.found) return CS_ENOTFOUND;
  memcpy(out, ctx.id, CS_ID_LEN);
  return CS_OK;
}

/* Commands ---------------------------------------------------------------- */

static int campaign_open(cli_t *cli, cli_args_t *args) {
  const char *points_arg = cli_take(args, "--points");
  const char *name = cli_next(args);
  int code = cli_no_more(cli, args, campaign_usage);
  if (code) return code;
  char *end = NULL;
  unsigned long long points = points_arg ? strtoull(points_arg, &end, 10) : 0;
  if (!name) return cli_fail(CLI_USAGE, "campaign open needs a NAME");
  if ((code = cli_check_text("the campaign's name", name, true, CS_TITLE_MAX))) return code;
  if (!points_arg || !*points_arg || *end || points == 0 || points > CS_POINTS_MAX)
    return cli_fail(CLI_USAGE, "campaign open needs --points N, the points each museum may give (1 to %u)",
                    CS_POINTS_MAX);
  uint8_t club[CS_ID_LEN];
  cs_txn_t txn;
  if ((code = cli_begin_write(cli, &txn, club, 1u << CS_ROLE_ADMIN, "open a campaign"))) return code;
  cs_store_abort(&txn);
  cs_buf_t payload, points_value;
  cs_buf_init(&payload, CS_CHANGE_PAYLOAD_MAX);
  cs_buf_init(&points_value, 16);
  cs_mp_write_uint(&points_value, points);
  cs_mp_write_array(&payload, 4);
  cs_op_write_create(&payload, CS_OBJ_CAMPAIGN, NULL);
  cs_op_write_set_str(&payload, cs_ref_local(0), CS_F_CAMPAIGN_NAME, name, 0, NULL);
  cs_op_write_set_raw(&payload, cs_ref_local(0), CS_F_CAMPAIGN_POINTS, cs_buf_span(&points_value), 0, NULL);
  cs_op_write_set_str(&payload, cs_ref_local(0), CS_F_CAMPAIGN_PHASE, "vote", 0, NULL);
  cs_buf_free(&points_value);
  uint8_t change_id[CS_ID_LEN], id[CS_ID_LEN];
  if ((code = cli_commit(cli, club, &payload, change_id, "cannot open the campaign"))) return code;
  cs_op_id(change_id, 0, id);
  char hex[65];
  cs_hex32(id, hex);
  printf("Opened the campaign \"%s\": %llu points per museum, voting open.\n%s\n", name, points, hex);
  return CLI_OK;
}

static int campaign_list_each(const uint8_t id[CS_ID_LEN], const cs_object_t *obj, void *vctx) {
  char name[CS_TITLE_MAX + 1], phase[32];
  const cs_entry_t *e;
  uint64_t points = 0;
  cli_field_text(obj, CS_F_CAMPAIGN_NAME, name, sizeof(name));
  cli_field_text(obj, CS_F_CAMPAIGN_PHASE, phase, sizeof(phase));
  if (cs_object_field(obj, CS_F_CAMPAIGN_POINTS, &e)) {
    cs_mp_reader_t r = cs_mp_reader((cs_span_t){e->value, e->value_len});
    if (cs_mp_read_uint(&r, &points)) points = 0;
  }
  json_array_append_new(vctx, json_pack("{s:o s:s s:s s:I s:I}", "id", cli_json_hex(id), "name", name, "phase",
                                        phase, "points", (json_int_t)points, "lamport",
                                        (json_int_t)obj->created_lamport));
  return 0;
}

static int campaign_list(cli_t *cli, cli_args_t *args) {
  int code = cli_no_more(cli, args, campaign_usage);
  if (code) return code;
  cs_txn_t txn;
  uint8_t club[CS_ID_LEN];
  if ((code = cli_read_club(cli, &txn, club))) return code;
  json_t *items = json_array();
  int err = cs_store_objects(&txn, club, CS_OBJ_CAMPAIGN, campaign_list_each, items);
  cs_store_abort(&txn);
  if (err) {
    json_decref(items);
    return cli_fail_err(err, "cannot list campaigns");
  }
  if (cli->json) return cli_print_json(items);
  size_t i;
  json_t *c;
  json_array_foreach(items, i, c) printf("%s  %-10s %4lld points  %s\n", json_string_value(json_object_get(c, "id")),
                                         json_string_value(json_object_get(c, "phase")),
                                         (long long)json_integer_value(json_object_get(c, "points")),
                                         json_string_value(json_object_get(c, "name")));
  if (json_array_size(items) == 0) printf("No campaigns yet; an admin opens one with 'clubsync campaign open'.\n");
  json_decref(items);
  return CLI_OK;
}

/* Finds this key's own ballot in the campaign, if it cast one. */
typedef struct own_ballot_ctx_s {
  const uint8_t *campaign;
  const uint8_t *key;
  uint8_t id[CS_ID_LEN];
  bool found;
} own_ballot_ctx_t;

static int own_ballot_each(const uint8_t id[CS_ID_LEN], const cs_object_t *obj, void *vctx) {
  own_ballot_ctx_t *ctx = vctx;
  if (obj->has_parent && memcmp(obj->parent, ctx->campaign, CS_ID_LEN) == 0 &&
      memcmp(obj->creator, ctx->key, CS_KEY_LEN) == 0) {
    memcpy(ctx->id, id, CS_ID_LEN);
    ctx->found = true;
    return CS_STOP;
  }
  return 0;
}

static int campaign_vote(cli_t *cli, cli_args_t *args) {
  bool clear = cli_flag(args, "--clear");
  const char *campaign_arg = cli_next(args);
  const char *pairs[CS_ALLOCATION_MAX];
  uint32_t pair_count = 0;
  const char *arg;
  while ((arg = cli_next(args)) != NULL) {
    if (pair_count == CS_ALLOCATION_MAX) return cli_fail(CLI_USAGE, "a ballot names at most %d requests",
                                                         CS_ALLOCATION_MAX);
    pairs[pair_count++] = arg;
  }
  int code = cli_no_more(cli, args, campaign_usage);
  if (code) return code;
  if (!campaign_arg) return cli_fail(CLI_USAGE, "campaign vote needs CAMPAIGN and REQ=POINTS...");
  /* An empty ballot withdraws the museum's votes: only on purpose. */
  if (!clear && pair_count == 0)
    return cli_fail(CLI_USAGE, "campaign vote needs your points, e.g. 'clubsync campaign vote %s REQ1=60 REQ2=40' "
                               "(a request id or prefix, '=', points); --clear withdraws your ballot", campaign_arg);
  if (clear && pair_count > 0)
    return cli_fail(CLI_USAGE, "--clear withdraws your whole ballot and takes no REQ=POINTS; give one or the other");
  uint8_t club[CS_ID_LEN], campaign[CS_ID_LEN];
  cs_txn_t txn;
  cs_object_t obj;
  if ((code = cli_begin_write(cli, &txn, club, CLI_ROLES_CLUB, "vote"))) return code;
  if ((code = cli_object(cli, &txn, club, campaign_arg, CS_OBJ_CAMPAIGN, campaign, &obj))) {
    cs_store_abort(&txn);
    return code;
  }
  /* The ballot will have everything this node holds in its causal past:
   * the club's rule (core/campaign.c) with that past says whether it stands. */
  uint64_t budget = cs_campaign_points(&obj);
  bool closed = false;
  int rule = cs_campaign_closed_in_past(&obj, NULL, NULL, &closed);
  if (rule || closed) {
    cs_store_abort(&txn);
    cs_object_free(&obj);
    if (rule) return cli_fail_err(rule, "cannot read the campaign");
    return cli_fail(CLI_ERROR, "the campaign %s is closed: ballots are no longer accepted (%s)", campaign_arg,
                    cs_strerror(CS_ECLOSED));
  }
  cs_allocation_t *a = calloc(1, sizeof(*a));
  if (!a) {
    cs_store_abort(&txn);
    cs_object_free(&obj);
    return cli_fail(CLI_ERROR, "out of memory");
  }
  for (uint32_t i = 0; i < pair_count && !code; i++) {
    char prefix[80];
    const char *eq = strchr(pairs[i], '=');
    char *end = NULL;
    unsigned long long points = eq ? strtoull(eq + 1, &end, 10) : 0;
    if (!eq || (size_t)(eq - pairs[i]) >= sizeof(prefix) || !eq[1] || *end || points == 0 || points > CS_POINTS_MAX) {
      code = cli_fail(CLI_USAGE, "'%s' is not REQ=POINTS (a request id or prefix, '=', points above 0)", pairs[i]);
      break;
    }
    memcpy(prefix, pairs[i], (size_t)(eq - pairs[i]));
    prefix[eq - pairs[i]] = 0;
    if ((code = cli_object(cli, &txn, club, prefix, CS_OBJ_REQUEST, a->requests[a->count], NULL))) break;
    for (uint32_t j = 0; j < a->count && !code; j++)
      if (memcmp(a->requests[j], a->requests[a->count], CS_ID_LEN) == 0)
        code = cli_fail(CLI_USAGE, "request %s is named twice; give its points once", prefix);
    a->points[a->count] = points;
    a->total += points;
    a->count++;
  }
  own_ballot_ctx_t own = {campaign, cli->secret_key + 32, {0}, false};
  int err = code ? CS_OK : cs_store_objects(&txn, club, CS_OBJ_BALLOT, own_ballot_each, &own);
  cs_object_t ballot;
  cs_object_init(&ballot);
  if (!code && !err && own.found) err = cs_store_object_get(&txn, club, own.id, &ballot);
  cs_store_abort(&txn);
  if (!code && err) code = cli_fail_err(err, "cannot read your ballot");
  if (!code && clear && !own.found) {
    free(a);
    cs_object_free(&obj);
    printf("Your museum has no ballot in this campaign: nothing to withdraw.\n");
    return CLI_OK;
  }
  cs_buf_t payload, value;
  cs_buf_init(&value, CS_TEXT_MAX);
  cs_allocation_write(&value, a);
  rule = code ? CS_OK : cs_campaign_ballot_check(&obj, cs_buf_span(&value), NULL, NULL);
  cs_object_free(&obj);
  if (rule == CS_EBUDGET)
    code = cli_fail(CLI_USAGE, "this ballot gives %llu points but each museum has %llu in this campaign (%s)",
                    (unsigned long long)a->total, (unsigned long long)budget, cs_strerror(CS_EBUDGET));
  else if (rule)
    code = cli_fail_err(rule, "this ballot breaks the club's rules");
  if (code) {
    free(a);
    cs_buf_free(&value);
    cs_object_free(&ballot);
    return code;
  }
  /* A museum's vote replaces its whole allocation: this key overwrites its
   * own ballot, or creates one under the campaign. */
  cs_buf_init(&payload, CS_CHANGE_PAYLOAD_MAX);
  if (own.found) {
    cs_mp_write_array(&payload, 1);
    cli_write_overwrite(&payload, &ballot, own.id, CS_F_BALLOT_ALLOCATION, cs_buf_span(&value));
  } else {
    cs_ref_t parent = cs_ref_id(campaign);
    cs_mp_write_array(&payload, 2);
    cs_op_write_create(&payload, CS_OBJ_BALLOT, &parent);
    cs_op_write_set_raw(&payload, cs_ref_local(0), CS_F_BALLOT_ALLOCATION, cs_buf_span(&value), 0, NULL);
  }
  if (value.failed) payload.failed = true;
  cs_buf_free(&value);
  cs_object_free(&ballot);
  uint8_t change_id[CS_ID_LEN];
  uint64_t total = a->total;
  uint32_t count = a->count;
  free(a);
  if ((code = cli_commit(cli, club, &payload, change_id, "cannot record the ballot"))) return code;
  char hex[65];
  cs_hex32(change_id, hex);
  if (clear) printf("Your museum's ballot is withdrawn: it gives no points in this campaign.\n%s\n", hex);
  else
    printf("Voted: %llu of %llu points on %u request%s; this replaces your museum's earlier ballot.\n%s\n",
           (unsigned long long)total, (unsigned long long)budget, count, count == 1 ? "" : "s", hex);
  return CLI_OK;
}

/* The ranked rows of a campaign with their requests' fields, as JSON. */
static int campaign_rows(cs_txn_t *txn, const uint8_t club[CS_ID_LEN], const uint8_t campaign[CS_ID_LEN],
                         json_t **rows_out, bool *frozen) {
  cs_tally_t t;
  int err = cli_campaign_tally(txn, club, campaign, &t, frozen);
  if (err) return err;
  json_t *rows = json_array();
  for (uint32_t i = 0; i < t.count; i++) {
    cs_object_t req;
    char title[CS_TITLE_MAX + 1] = "", module[CS_TITLE_MAX + 1] = "", status[32] = "",
         answer[CS_TEXT_MAX + 1] = "";
    if (cs_store_object_get(txn, club, t.rows[i].request, &req) == CS_OK) {
      cli_field_text(&req, CS_F_REQ_TITLE, title, sizeof(title));
      cli_field_text(&req, CS_F_REQ_MODULE, module, sizeof(module));
      cli_field_text(&req, CS_F_REQ_STATUS, status, sizeof(status));
      cli_field_text(&req, CS_F_REQ_VENDOR_ANSWER, answer, sizeof(answer));
      cs_object_free(&req);
    }
    json_array_append_new(rows, json_pack("{s:i s:o s:s s:s s:I s:i s:s s:s}", "rank", (int)i + 1, "id",
                                          cli_json_hex(t.rows[i].request), "title", title, "module", module,
                                          "points", (json_int_t)t.rows[i].points, "museums",
                                          (int)t.rows[i].museums, "status", status, "vendor_answer", answer));
  }
  cs_tally_free(&t);
  *rows_out = rows;
  return CS_OK;
}

static int campaign_results(cli_t *cli, cli_args_t *args) {
  const char *campaign_arg = cli_next(args);
  int code = cli_no_more(cli, args, campaign_usage);
  if (code) return code;
  if (!campaign_arg) return cli_fail(CLI_USAGE, "campaign results needs the CAMPAIGN's id");
  cs_txn_t txn;
  uint8_t club[CS_ID_LEN], campaign[CS_ID_LEN];
  if ((code = cli_read_club(cli, &txn, club))) return code;
  if ((code = cli_object(cli, &txn, club, campaign_arg, CS_OBJ_CAMPAIGN, campaign, NULL))) {
    cs_store_abort(&txn);
    return code;
  }
  json_t *rows;
  bool frozen;
  int err = campaign_rows(&txn, club, campaign, &rows, &frozen);
  cs_store_abort(&txn);
  if (err) return cli_fail_err(err, "cannot count the ballots");
  if (cli->json) return cli_print_json(rows);
  printf("%s\n", frozen ? "Final results, frozen and signed when the campaign closed:"
                        : "Current standing (the campaign is still open):");
  printf("%4s %7s %7s  %s\n", "rank", "points", "museums", "request");
  size_t i;
  json_t *r;
  json_array_foreach(rows, i, r) printf("%4lld %7lld %7lld  %.12s  %s\n",
                                        (long long)json_integer_value(json_object_get(r, "rank")),
                                        (long long)json_integer_value(json_object_get(r, "points")),
                                        (long long)json_integer_value(json_object_get(r, "museums")),
                                        json_string_value(json_object_get(r, "id")),
                                        json_string_value(json_object_get(r, "title")));
  if (json_array_size(rows) == 0) printf("No ballots yet.\n");
  json_decref(rows);
  return CLI_OK;
}

static int campaign_set_phase(cli_t *cli, cli_args_t *args, bool close) {
  const char *motion_arg = close ? NULL : cli_take(args, "--motion");
  const char *campaign_arg = cli_next(args);
  const char *phase = close ? "closed" : cli_next(args);
  int code = cli_no_more(cli, args, campaign_usage);
  if (code) return code;
  if (!campaign_arg || !phase)
    return cli_fail(CLI_USAGE, close ? "campaign close needs the CAMPAIGN"
                                     : "campaign phase needs the CAMPAIGN and a PHASE: submission, review, vote or sent");
  if (!close && (strcmp(phase, "closed") == 0 ||
                 !cs_status_in(cs_campaign_phases, (cs_span_t){(const uint8_t *)phase, strlen(phase)})))
    return cli_fail(CLI_USAGE, "a phase is submission, review, vote or sent ('campaign close' freezes the results)");
  uint8_t club[CS_ID_LEN], campaign[CS_ID_LEN];
  cs_txn_t txn;
  cs_object_t obj;
  if ((code = cli_begin_write(cli, &txn, club, 1u << CS_ROLE_ADMIN, "run campaigns"))) return code;
  if ((code = cli_object(cli, &txn, club, campaign_arg, CS_OBJ_CAMPAIGN, campaign, &obj))) {
    cs_store_abort(&txn);
    return code;
  }
  /* Sending the results to the vendor carries out an adopted decision. */
  uint8_t deps[2][CS_ID_LEN];
  bool governed = strcmp(phase, "sent") == 0;
  if (governed && (code = cli_decision_deps(cli, &txn, club, motion_arg, "send", campaign, deps))) {
    cs_store_abort(&txn);
    cs_object_free(&obj);
    return code;
  }
  cs_buf_t payload, results;
  cs_buf_init(&payload, CS_CHANGE_PAYLOAD_MAX);
  cs_buf_init(&results, CS_TEXT_MAX);
  uint32_t rows = 0;
  if (close) {
    /* Closing freezes into the signed change the tally of the ballots in its
     * causal past, which is everything this node holds: the club's rule
     * (core/campaign.h) computes it, and every node checks it. */
    cs_tally_t t;
    cs_tally_past_t *tp = NULL;
    int err = cs_store_campaign_tally(&txn, club, campaign, NULL, &tp);
    if (!err) err = cs_tally_past_tally(tp, &t);
    cs_tally_past_free(tp);
    if (err) {
      cs_store_abort(&txn);
      cs_object_free(&obj);
      cs_buf_free(&payload);
      cs_buf_free(&results);
      return cli_fail_err(err, "cannot count the ballots");
    }
    cs_tally_write(&results, &t);
    rows = t.count;
    cs_tally_free(&t);
  }
  cs_store_abort(&txn);
  cs_mp_write_array(&payload, close ? 2 : 1);
  cli_write_overwrite_str(&payload, &obj, campaign, CS_F_CAMPAIGN_PHASE, phase);
  if (close) cli_write_overwrite(&payload, &obj, campaign, CS_F_CAMPAIGN_RESULTS, cs_buf_span(&results));
  if (results.failed) payload.failed = true;
  cs_buf_free(&results);
  cs_object_free(&obj);
  uint8_t change_id[CS_ID_LEN];
  if ((code = cli_commit_deps(cli, club, &payload, governed ? (const uint8_t(*)[CS_ID_LEN])deps : NULL,
                              governed ? 2 : 0, change_id, "cannot change the campaign")))
    return code;
  char hex[65];
  cs_hex32(change_id, hex);
  if (close) printf("Closed the campaign; its results (%u requests) are frozen in change:\n%s\n", rows, hex);
  else printf("The campaign is now in phase '%s'.\n%s\n", phase, hex);
  return CLI_OK;
}

int cmd_campaign(cli_t *cli, cli_args_t *args) {
  static const char *const subs[] = {"open", "list", "vote", "results", "close", "phase", NULL};
  const char *sub = cli_next(args);
  if (!sub) return cli_fail_no_sub("campaign", subs);
  if (strcmp(sub, "open") == 0) return campaign_open(cli, args);
  if (strcmp(sub, "list") == 0) return campaign_list(cli, args);
  if (strcmp(sub, "vote") == 0) return campaign_vote(cli, args);
  if (strcmp(sub, "results") == 0) return campaign_results(cli, args);
  if (strcmp(sub, "close") == 0) return campaign_set_phase(cli, args, true);
  if (strcmp(sub, "phase") == 0) return campaign_set_phase(cli, args, false);
  return cli_fail_unknown("campaign", sub, subs);
}

/* report ------------------------------------------------------------------ */

static void csv_field(FILE *out, const char *text) {
  fputc('"', out);
  for (; *text; text++) {
    if (*text == '"') fputc('"', out);
    fputc(*text, out);
  }
  fputc('"', out);
}

static void html_text(FILE *out, const char *text) {
  for (; *text; text++) {
    switch (*text) {
    case '<': fputs("&lt;", out); break;
    case '>': fputs("&gt;", out); break;
    case '&': fputs("&amp;", out); break;
    case '"': fputs("&quot;", out); break;
    default: fputc(*text, out);
    }
  }
}

/* Markdown table cells: a pipe or a newline would break the row. */
static void md_text(FILE *out, const char *text) {
  for (; *text; text++) {
    if (*text == '|') fputs("\\|", out);
    else if (*text == '\n' || *text == '\r') fputc(' ', out);
    else fputc(*text, out);
  }
}

#define ROW_STR(r, k) json_string_value(json_object_get(r, k))
#define ROW_INT(r, k) (long long)json_integer_value(json_object_get(r, k))

static void report_csv(FILE *out, json_t *rows) {
  fputs("rank,id,title,module,points,museums,status,vendor_answer\n", out);
  size_t i;
  json_t *r;
  json_array_foreach(rows, i, r) {
    fprintf(out, "%lld,%s,", ROW_INT(r, "rank"), ROW_STR(r, "id"));
    csv_field(out, ROW_STR(r, "title"));
    fputc(',', out);
    csv_field(out, ROW_STR(r, "module"));
    fprintf(out, ",%lld,%lld,%s,", ROW_INT(r, "points"), ROW_INT(r, "museums"), ROW_STR(r, "status"));
    csv_field(out, ROW_STR(r, "vendor_answer"));
    fputc('\n', out);
  }
}

static void report_md(FILE *out, json_t *rows, const char *name, bool frozen) {
  fprintf(out, "# ");
  md_text(out, name);
  fprintf(out, "\n\n%s\n\n", frozen ? "Final results, frozen and signed when the campaign closed."
                                    : "Current standing: the campaign is still open.");
  fputs("| Rank | Request | Module | Points | Museums | Status | Vendor answer |\n", out);
  fputs("|---:|---|---|---:|---:|---|---|\n", out);
  size_t i;
  json_t *r;
  json_array_foreach(rows, i, r) {
    fprintf(out, "| %lld | ", ROW_INT(r, "rank"));
    md_text(out, ROW_STR(r, "title"));
    fputs(" | ", out);
    md_text(out, ROW_STR(r, "module"));
    fprintf(out, " | %lld | %lld | %s | ", ROW_INT(r, "points"), ROW_INT(r, "museums"), ROW_STR(r, "status"));
    md_text(out, ROW_STR(r, "vendor_answer"));
    fputs(" |\n", out);
  }
}

/* A self-contained page, printable on A4, with the points as an inline SVG
 * bar chart: no script, no external file. */
static void report_html(FILE *out, json_t *rows, const char *name, bool frozen) {
  fputs("<!DOCTYPE html>\n<html lang=\"fr\"><head><meta charset=\"utf-8\"><title>", out);
  html_text(out, name);
  fputs("</title>\n<style>@page{size:A4;margin:15mm}body{font:10pt sans-serif;color:#222}"
        "table{border-collapse:collapse;width:100%}th,td{border:1px solid #999;padding:3px 5px;"
        "text-align:left;vertical-align:top}td.n{text-align:right}tr{page-break-inside:avoid}"
        "svg{width:100%;height:auto}</style></head><body>\n<h1>",
        out);
  html_text(out, name);
  fprintf(out, "</h1>\n<p>%s</p>\n", frozen ? "Final results, frozen and signed when the campaign closed."
                                             : "Current standing: the campaign is still open.");
  size_t n = json_array_size(rows), i;
  long long max = 1;
  json_t *r;
  json_array_foreach(rows, i, r) if (ROW_INT(r, "points") > max) max = ROW_INT(r, "points");
  size_t shown = n < 30 ? n : 30;
  const int bar_h = 16, label_w = 260, chart_w = 420;
  fprintf(out, "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d %zu\" role=\"img\">\n",
          label_w + chart_w + 60, shown * (size_t)bar_h + 4);
  for (i = 0; i < shown; i++) {
    r = json_array_get(rows, i);
    long long width = ROW_INT(r, "points") * chart_w / max;
    size_t y = i * (size_t)bar_h + 2;
    fprintf(out, "<text x=\"%d\" y=\"%zu\" font-size=\"10\" text-anchor=\"end\">%lld. ", label_w - 4, y + 11,
            ROW_INT(r, "rank"));
    char title[64];
    snprintf(title, sizeof(title), "%s", ROW_STR(r, "title"));
    html_text(out, title);
    fprintf(out, "</text><rect x=\"%d\" y=\"%zu\" width=\"%lld\" height=\"%d\" fill=\"#3b6ea5\"/>"
                 "<text x=\"%lld\" y=\"%zu\" font-size=\"10\">%lld</text>\n",
            label_w, y, width, bar_h - 4, label_w + width + 4, y + 11, ROW_INT(r, "points"));
  }
  fputs("</svg>\n<table><thead><tr><th>Rank</th><th>Request</th><th>Module</th><th>Points</th><th>Museums</th>"
        "<th>Status</th><th>Vendor answer</th></tr></thead><tbody>\n",
        out);
  json_array_foreach(rows, i, r) {
    fprintf(out, "<tr><td class=\"n\">%lld</td><td>", ROW_INT(r, "rank"));
    html_text(out, ROW_STR(r, "title"));
    fputs("</td><td>", out);
    html_text(out, ROW_STR(r, "module"));
    fprintf(out, "</td><td class=\"n\">%lld</td><td class=\"n\">%lld</td><td>%s</td><td>", ROW_INT(r, "points"),
            ROW_INT(r, "museums"), ROW_STR(r, "status"));
    html_text(out, ROW_STR(r, "vendor_answer"));
    fputs("</td></tr>\n", out);
  }
  fputs("</tbody></table>\n</body></html>\n", out);
}

int cmd_report(cli_t *cli, cli_args_t *args) {
  const char *campaign_arg = cli_take(args, "--campaign");
  const char *format = cli_take(args, "--format");
  const char *output = cli_take(args, "--output");
  int code = cli_no_more(cli, args, "report [--campaign C] --format md|csv|html [--output FILE]");
  if (code) return code;
  if (!format || (strcmp(format, "md") != 0 && strcmp(format, "csv") != 0 && strcmp(format, "html") != 0))
    return cli_fail(CLI_USAGE, "report needs --format md, csv or html");
  cs_txn_t txn;
  uint8_t club[CS_ID_LEN], campaign[CS_ID_LEN];
  if ((code = cli_read_club(cli, &txn, club))) return code;
  if (campaign_arg) code = cli_object(cli, &txn, club, campaign_arg, CS_OBJ_CAMPAIGN, campaign, NULL);
  else if (cli_latest_campaign(&txn, club, campaign) != CS_OK)
    code = cli_fail(CLI_NOTFOUND, "this club has no campaign yet; an admin opens one with 'clubsync campaign open'");
  if (code) {
    cs_store_abort(&txn);
    return code;
  }
  cs_object_t obj;
  char name[CS_TITLE_MAX + 1] = "";
  if (cs_store_object_get(&txn, club, campaign, &obj) == CS_OK) {
    cli_field_text(&obj, CS_F_CAMPAIGN_NAME, name, sizeof(name));
    cs_object_free(&obj);
  }
  json_t *rows;
  bool frozen;
  int err = campaign_rows(&txn, club, campaign, &rows, &frozen);
  cs_store_abort(&txn);
  if (err) return cli_fail_err(err, "cannot count the ballots");
  FILE *out = output ? fopen(output, "w") : stdout;
  if (!out) {
    json_decref(rows);
    return cli_fail(CLI_ERROR, "cannot write %s: %s", output, strerror(errno));
  }
  if (strcmp(format, "csv") == 0) report_csv(out, rows);
  else if (strcmp(format, "md") == 0) report_md(out, rows, name, frozen);
  else report_html(out, rows, name, frozen);
  json_decref(rows);
  if (output && fclose(out) != 0) return cli_fail(CLI_ERROR, "cannot write %s: %s", output, strerror(errno));
  if (output) printf("Wrote the report to %s.\n", output);
  return CLI_OK;
}
