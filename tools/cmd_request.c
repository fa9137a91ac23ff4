/* request add/list/show/edit/status/comment/support/unsupport/merge/answer,
 * and the duplicate suggestion shown when a request is filed. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "core/campaign.h"
#include "core/similar.h"
#include "core/text.h"
#include "tools/cli.h"

static const char request_usage[] =
    "request add --title T [--body B|--body-file FILE|-] [--module M] [--kind K] [--story S] [--tag X]... | list "
    "[--status S] [--module M] [--sort recent|title|votes] | show ID | edit ID [--title T] [--body B|--body-file "
    "FILE|-] [--module M] [--kind K] [--story S] | status ID STATUS [--note TEXT|--note-file FILE|-] | comment ID "
    "TEXT|--body-file FILE|- | comment-edit COMMENT TEXT|--body-file FILE|- | "
    "comment-delete COMMENT | support ID | unsupport ID | merge ID --into ID2 | answer ID [--answer T] "
    "[--estimate E] [--target V] [--delivered V]";

/* Similar titles -------------------------------------------------------- */

#define SUGGEST_MAX 3
#define SUGGEST_MIN_SCORE 0.3

typedef struct suggest_ctx_s {
  const char *title;
  double scores[SUGGEST_MAX];
  uint8_t ids[SUGGEST_MAX][CS_ID_LEN];
  char titles[SUGGEST_MAX][CS_TITLE_MAX + 1];
  int count;
} suggest_ctx_t;

static int suggest_each(const uint8_t id[CS_ID_LEN], const cs_object_t *obj, void *vctx) {
  suggest_ctx_t *ctx = vctx;
  char title[CS_TITLE_MAX + 1];
  cli_field_text(obj, CS_F_REQ_TITLE, title, sizeof(title));
  double score = cs_similarity(ctx->title, title);
  if (score < SUGGEST_MIN_SCORE) return 0;
  int at = ctx->count < SUGGEST_MAX ? ctx->count : SUGGEST_MAX;
  while (at > 0 && ctx->scores[at - 1] < score) at--;
  if (at == SUGGEST_MAX) return 0;
  int last = ctx->count < SUGGEST_MAX ? ctx->count : SUGGEST_MAX - 1;
  for (int i = last; i > at; i--) {
    ctx->scores[i] = ctx->scores[i - 1];
    memcpy(ctx->ids[i], ctx->ids[i - 1], CS_ID_LEN);
    memcpy(ctx->titles[i], ctx->titles[i - 1], sizeof(ctx->titles[i]));
  }
  ctx->scores[at] = score;
  memcpy(ctx->ids[at], id, CS_ID_LEN);
  memcpy(ctx->titles[at], title, sizeof(ctx->titles[at]));
  if (ctx->count < SUGGEST_MAX) ctx->count++;
  return 0;
}

/* Prints, on stderr so scripts keep the id alone on stdout's last line,
 * the existing requests whose titles look most like this one. */
static void suggest_duplicates(cs_txn_t *txn, const uint8_t club[CS_ID_LEN], const char *title) {
  suggest_ctx_t ctx;
  memset(&ctx, 0, sizeof(ctx));
  ctx.title = title;
  if (cs_store_objects(txn, club, CS_OBJ_REQUEST, suggest_each, &ctx) != CS_OK || ctx.count == 0) return;
  fprintf(stderr, "Requests that look alike (co-sign one with 'clubsync request support ID' rather than filing "
                  "twice):\n");
  for (int i = 0; i < ctx.count; i++) {
    char hex[65];
    cs_hex32(ctx.ids[i], hex);
    fprintf(stderr, "  %.12s  %3.0f%%  %s\n", hex, ctx.scores[i] * 100.0, ctx.titles[i]);
  }
}

/* The one-line fields of a request, checked as every node will (exit 2). */
static int check_text_args(const char *title, const char *module, const char *kind, const char *story) {
  int code = CLI_OK;
  if (title && (code = cli_check_text("the title", title, true, CS_TITLE_MAX))) return code;
  if (module && (code = cli_check_text("the module (--module)", module, true, CS_TITLE_MAX))) return code;
  if (kind && (code = cli_check_text("the kind (--kind: enhancement, defect, question ...)", kind, true,
                                     CS_TITLE_MAX)))
    return code;
  if (story && (code = cli_check_text("the user story (--story)", story, false, CS_TEXT_MAX))) return code;
  return code;
}

static int request_add_with(cli_t *cli, cli_args_t *args, const char *body);

static int request_add(cli_t *cli, cli_args_t *args) {
  char *body;
  int code = cli_take_long_text(args, "--body", "--body-file", "the body", &body);
  if (code) return code;
  code = request_add_with(cli, args, body);
  free(body);
  return code;
}

static int request_add_with(cli_t *cli, cli_args_t *args, const char *body) {
  const char *title = cli_take(args, "--title");
  const char *module = cli_take(args, "--module");
  const char *kind = cli_take(args, "--kind");
  const char *story = cli_take(args, "--story");
  const char *tags[CS_TAGS_MAX];
  int tag_count = 0;
  const char *tag;
  while ((tag = cli_take(args, "--tag")) != NULL) {
    if (tag_count == CS_TAGS_MAX) return cli_fail(CLI_USAGE, "at most %d tags per request", CS_TAGS_MAX);
    int code = cli_check_text("a tag (--tag)", tag, true, CS_TAG_MAX);
    if (code) return code;
    tags[tag_count++] = tag;
  }
  int code = cli_no_more(cli, args, request_usage);
  if (code) return code;
  if (!title) return cli_fail(CLI_USAGE, "request add needs --title T");
  if ((code = check_text_args(title, module, kind, story))) return code;
  uint8_t club[CS_ID_LEN];
  cs_txn_t txn;
  if ((code = cli_begin_write(cli, &txn, club, CLI_ROLES_CLUB, "file requests"))) return code;
  suggest_duplicates(&txn, club, title);
  cs_store_abort(&txn);

  /* One user action is one change: op 0 creates the request, the others
   * name it by its local index; its id is the id of op 0. */
  cs_buf_t payload;
  cs_buf_init(&payload, CS_CHANGE_PAYLOAD_MAX);
  cs_ref_t created = cs_ref_local(0);
  cs_mp_write_array(&payload, 3 + (body ? 1u : 0u) + (module ? 1u : 0u) + (kind ? 1u : 0u) + (story ? 1u : 0u) +
                                  (uint32_t)tag_count);
  cs_op_write_create(&payload, CS_OBJ_REQUEST, NULL);
  cs_op_write_set_str(&payload, created, CS_F_REQ_TITLE, title, 0, NULL);
  cs_op_write_set_str(&payload, created, CS_F_REQ_STATUS, "submitted", 0, NULL);
  if (body) cs_op_write_set_str(&payload, created, CS_F_REQ_BODY, body, 0, NULL);
  if (module) cs_op_write_set_str(&payload, created, CS_F_REQ_MODULE, module, 0, NULL);
  if (kind) cs_op_write_set_str(&payload, created, CS_F_REQ_KIND, kind, 0, NULL);
  if (story) cs_op_write_set_str(&payload, created, CS_F_REQ_STORY, story, 0, NULL);
  for (int i = 0; i < tag_count; i++) cs_op_write_add_str(&payload, created, CS_F_REQ_TAGS, tags[i]);
  uint8_t change_id[CS_ID_LEN], req[CS_ID_LEN];
  if ((code = cli_commit(cli, club, &payload, change_id, "cannot file the request"))) return code;
  cs_op_id(change_id, 0, req);
  char hex[65];
  cs_hex32(req, hex);
  printf("Filed the request \"%s\".\n%s\n", title, hex);
  return CLI_OK;
}

/* Reading ------------------------------------------------------------------ */

typedef struct read_ctx_s {
  cs_txn_t *txn;
  const uint8_t *club;
  json_t *museums; /* key hex -> museum, a cache for supporters */
  cs_tally_t tally; /* the latest campaign's, for points */
} read_ctx_t;

static const char *museum_cached(read_ctx_t *ctx, const uint8_t key[CS_KEY_LEN]) {
  char hex[65];
  cs_hex32(key, hex);
  json_t *known = json_object_get(ctx->museums, hex);
  if (!known) {
    char museum[CS_NAME_MAX + 1];
    cli_museum_of(ctx->txn, ctx->club, key, museum, sizeof(museum));
    known = json_string(museum);
    json_object_set_new(ctx->museums, hex, known);
  }
  return json_string_value(known);
}

static uint64_t points_of(const read_ctx_t *ctx, const uint8_t id[CS_ID_LEN]) {
  for (uint32_t i = 0; i < ctx->tally.count; i++)
    if (memcmp(ctx->tally.rows[i].request, id, CS_ID_LEN) == 0) return ctx->tally.rows[i].points;
  return 0;
}

/* One request as read, in plain C: a list sorts and merges thousands of
 * these, and builds each one's JSON only when printing it. */
typedef struct request_row_s {
  uint8_t id[CS_ID_LEN];
  uint8_t merged_into[CS_ID_LEN];
  bool merged;
  bool shown; /* passes the list's --status and --module */
  uint64_t lamport;
  uint64_t points;
  const char *title, *status, *module, *kind; /* in text */
  char *text;
  const char **supporters; /* museum names, owned by the read context's cache */
  size_t supporter_count, supporter_capacity;
} request_row_t;

static void request_row_free(request_row_t *row) {
  free(row->text);
  free(row->supporters);
  row->text = NULL;
  row->supporters = NULL;
}

/* Adds a museum to a request's supporters unless it is there already. */
static int add_supporter(request_row_t *row, const char *museum) {
  for (size_t i = 0; i < row->supporter_count; i++)
    if (strcmp(row->supporters[i], museum) == 0) return CS_OK;
  if (row->supporter_count == row->supporter_capacity) {
    size_t capacity = row->supporter_capacity ? 2 * row->supporter_capacity : 4;
    const char **grown = realloc(row->supporters, capacity * sizeof(*grown));
    if (!grown) return CS_ENOMEM;
    row->supporters = grown;
    row->supporter_capacity = capacity;
  }
  row->supporters[row->supporter_count++] = museum;
  return CS_OK;
}

/* A merged request's co-signers support the one it was merged into too. */
static int add_supporters_of(request_row_t *row, const request_row_t *merged) {
  int err = CS_OK;
  for (size_t i = 0; !err && i < merged->supporter_count; i++) err = add_supporter(row, merged->supporters[i]);
  return err;
}

static int request_row(read_ctx_t *ctx, const uint8_t id[CS_ID_LEN], const cs_object_t *obj, request_row_t *row) {
  memset(row, 0, sizeof(*row));
  memcpy(row->id, id, CS_ID_LEN);
  const cs_entry_t *e;
  row->merged = cs_object_field(obj, CS_F_REQ_MERGED_INTO, &e) && e->value_len == CS_ID_LEN + 2;
  if (row->merged) memcpy(row->merged_into, e->value + 2, CS_ID_LEN);
  row->lamport = obj->created_lamport;
  row->points = points_of(ctx, id);
  /* The four texts go into one block, each after the last. */
  static const uint64_t fields[4] = {CS_F_REQ_TITLE, CS_F_REQ_STATUS, CS_F_REQ_MODULE, CS_F_REQ_KIND};
  char texts[4][CS_TITLE_MAX + 1];
  size_t lengths[4], total = 0;
  for (int i = 0; i < 4; i++) {
    cli_field_text(obj, fields[i], texts[i], sizeof(texts[i]));
    lengths[i] = strlen(texts[i]) + 1;
    total += lengths[i];
  }
  if (!(row->text = malloc(total))) return CS_ENOMEM;
  const char **slots[4] = {&row->title, &row->status, &row->module, &row->kind};
  for (size_t i = 0, at = 0; i < 4; at += lengths[i], i++) {
    memcpy(row->text + at, texts[i], lengths[i]);
    *slots[i] = row->text + at;
  }
  int err = add_supporter(row, museum_cached(ctx, obj->creator));
  for (uint32_t i = 0; !err && i < obj->entry_count; i++)
    if (obj->entries[i].field == CS_F_REQ_SUPPORTERS && obj->entries[i].value_len == CS_KEY_LEN + 2)
      err = add_supporter(row, museum_cached(ctx, obj->entries[i].value + 2));
  if (err) request_row_free(row);
  return err;
}

static json_t *request_row_json(const request_row_t *row) {
  json_t *supporters = json_array();
  for (size_t i = 0; i < row->supporter_count; i++) json_array_append_new(supporters, json_string(row->supporters[i]));
  json_t *doc = json_object();
  json_object_set_new(doc, "id", cli_json_hex(row->id));
  json_object_set_new(doc, "title", json_string(row->title));
  json_object_set_new(doc, "status", json_string(row->status));
  json_object_set_new(doc, "module", json_string(row->module));
  json_object_set_new(doc, "kind", json_string(row->kind));
  json_object_set_new(doc, "points", json_integer((json_int_t)row->points));
  json_object_set_new(doc, "supporters", supporters);
  if (row->merged) json_object_set_new(doc, "merged_into", cli_json_hex(row->merged_into));
  return doc;
}

typedef struct list_ctx_s {
  read_ctx_t read;
  const char *status;
  const char *module;
  char module_folded[CS_TITLE_MAX + 1]; /* --module, folded: modules compare by cs_text_fold */
  request_row_t *rows; /* in id order, as the store hands them out */
  size_t count, capacity;
} list_ctx_t;

static int request_list_each(const uint8_t id[CS_ID_LEN], const cs_object_t *obj, void *vctx) {
  list_ctx_t *ctx = vctx;
  if (!cs_object_field(obj, CS_F_REQ_TITLE, &(const cs_entry_t *){NULL})) return 0; /* not yet titled */
  if (ctx->count == ctx->capacity) {
    size_t capacity = ctx->capacity ? 2 * ctx->capacity : 1024;
    request_row_t *rows = realloc(ctx->rows, capacity * sizeof(*rows));
    if (!rows) return CS_ENOMEM;
    ctx->rows = rows;
    ctx->capacity = capacity;
  }
  request_row_t *row = &ctx->rows[ctx->count];
  int err = request_row(&ctx->read, id, obj, row);
  if (err) return err;
  ctx->count++;
  bool module_ok = !ctx->module;
  if (ctx->module) {
    char folded[CS_TITLE_MAX + 1];
    cs_text_fold(row->module, folded, sizeof(folded));
    module_ok = strcmp(ctx->module_folded, folded) == 0;
  }
  row->shown = (!ctx->status || strcmp(ctx->status, row->status) == 0) && module_ok;
  return 0;
}

static int by_id(const void *a, const void *b) {
  return memcmp(((const request_row_t *)a)->id, ((const request_row_t *)b)->id, CS_ID_LEN);
}

static int by_recent(const void *a, const void *b) {
  const request_row_t *ra = a, *rb = b;
  if (ra->lamport != rb->lamport) return ra->lamport > rb->lamport ? -1 : 1;
  return by_id(a, b);
}

static int by_title(const void *a, const void *b) {
  int c = strcmp(((const request_row_t *)a)->title, ((const request_row_t *)b)->title);
  return c ? c : by_recent(a, b);
}

static int by_votes(const void *a, const void *b) {
  const request_row_t *ra = a, *rb = b;
  if (ra->points != rb->points) return ra->points > rb->points ? -1 : 1;
  if (ra->supporter_count != rb->supporter_count) return ra->supporter_count > rb->supporter_count ? -1 : 1;
  return by_recent(a, b);
}

typedef struct rows_s {
  request_row_t *rows; /* in id order */
  size_t count;
} rows_t;

static request_row_t *row_find(const rows_t *rows, const uint8_t id[CS_ID_LEN]) {
  request_row_t key;
  memcpy(key.id, id, CS_ID_LEN);
  return bsearch(&key, rows->rows, rows->count, sizeof(key), by_id);
}

/* A cs_merge_fn over the listed rows. */
static bool row_merged_into(const uint8_t request[CS_ID_LEN], uint8_t into[CS_ID_LEN], void *ctx) {
  const request_row_t *row = row_find(ctx, request);
  if (!row || !row->merged) return false;
  memcpy(into, row->merged_into, CS_ID_LEN);
  return true;
}

/* A merged request's co-signers count for the one it was finally merged
 * into, following links as the campaign tally does. The rows are still in
 * id order here, so targets are found by bisection. */
static int move_supporters(request_row_t *rows, size_t count) {
  rows_t all = {rows, count};
  for (size_t i = 0; i < count; i++) {
    if (!rows[i].merged) continue;
    uint8_t final[CS_ID_LEN];
    cs_merge_final(rows[i].id, row_merged_into, &all, final);
    request_row_t *target = row_find(&all, final);
    if (!target || target == &rows[i]) continue;
    int err = add_supporters_of(target, &rows[i]);
    if (err) return err;
  }
  return CS_OK;
}

static int read_begin(cli_t *cli, read_ctx_t *ctx, cs_txn_t *txn, uint8_t club[CS_ID_LEN]) {
  int code = cli_read_club(cli, txn, club);
  if (code) return code;
  ctx->txn = txn;
  ctx->club = club;
  ctx->museums = json_object();
  memset(&ctx->tally, 0, sizeof(ctx->tally));
  uint8_t campaign[CS_ID_LEN];
  bool frozen;
  if (cli_latest_campaign(txn, club, campaign) == CS_OK &&
      cli_campaign_tally(txn, club, campaign, &ctx->tally, &frozen) != CS_OK)
    memset(&ctx->tally, 0, sizeof(ctx->tally));
  return CLI_OK;
}

static void read_end(read_ctx_t *ctx) {
  cs_store_abort(ctx->txn);
  json_decref(ctx->museums);
  cs_tally_free(&ctx->tally);
}

static int request_list(cli_t *cli, cli_args_t *args) {
  list_ctx_t ctx;
  memset(&ctx, 0, sizeof(ctx));
  ctx.status = cli_take(args, "--status");
  ctx.module = cli_take(args, "--module");
  const char *sort = cli_take(args, "--sort");
  int code = cli_no_more(cli, args, request_usage);
  if (code) return code;
  if (sort && strcmp(sort, "recent") != 0 && strcmp(sort, "title") != 0 && strcmp(sort, "votes") != 0)
    return cli_fail(CLI_USAGE, "--sort must be recent, title or votes");
  if (ctx.module && (code = cli_check_text("--module", ctx.module, true, CS_TITLE_MAX))) return code;
  if (ctx.module) cs_text_fold(ctx.module, ctx.module_folded, sizeof(ctx.module_folded));
  if (ctx.status && !cs_request_status_valid((cs_span_t){(const uint8_t *)ctx.status, strlen(ctx.status)}))
    return cli_fail(CLI_USAGE, "unknown status '%s'; see docs/data-model.md for the lifecycle", ctx.status);
  cs_txn_t txn;
  uint8_t club[CS_ID_LEN];
  if ((code = read_begin(cli, &ctx.read, &txn, club))) return code;
  int err = cs_store_objects(&txn, club, CS_OBJ_REQUEST, request_list_each, &ctx);
  if (!err) err = move_supporters(ctx.rows, ctx.count);
  /* Keep the shown rows only, then sort them. */
  size_t shown = 0;
  for (size_t i = 0; i < ctx.count; i++) {
    if (!err && ctx.rows[i].shown) ctx.rows[shown++] = ctx.rows[i];
    else request_row_free(&ctx.rows[i]);
  }
  qsort(ctx.rows, shown, sizeof(*ctx.rows),
        !sort || strcmp(sort, "recent") == 0 ? by_recent : strcmp(sort, "title") == 0 ? by_title : by_votes);
  /* Each row's JSON is built, printed and freed in turn: a list of ten
   * thousand requests never exists as one document. */
  for (size_t i = 0; i < shown; i++) {
    const request_row_t *row = &ctx.rows[i];
    if (!cli->json) {
      char hex[65];
      cs_hex32(row->id, hex);
      /* Columns are counted in display width, so accented modules align. */
      size_t width = cs_text_width(row->module);
      printf("%s  %-11s %s%*s %s\n", hex, row->status, row->module, width < 16 ? (int)(16 - width) : 0, "",
             row->title);
    } else if (!code)
      code = cli_print_json_item(request_row_json(row), i);
    request_row_free(&ctx.rows[i]);
  }
  free(ctx.rows);
  read_end(&ctx.read); /* after printing: the rows' museum names live in its cache */
  if (err) return cli_fail_err(err, "cannot list requests");
  if (cli->json) return code ? code : cli_print_json_end(shown);
  if (shown == 0) printf("No requests%s.\n", ctx.status || ctx.module ? " match" : " yet");
  return CLI_OK;
}

typedef struct show_ctx_s {
  read_ctx_t *read;
  request_row_t *row; /* the request shown */
  const uint8_t *request;
  json_t *comments;
  json_t *merged_from;
} show_ctx_t;

static int show_comment_each(const uint8_t id[CS_ID_LEN], const cs_object_t *obj, void *vctx) {
  show_ctx_t *ctx = vctx;
  if (!obj->has_parent || memcmp(obj->parent, ctx->request, CS_ID_LEN) != 0) return 0;
  char body[CS_TEXT_MAX + 1];
  cli_field_text(obj, CS_F_COMMENT_BODY, body, sizeof(body));
  const cs_entry_t *e;
  bool edited = cs_object_field(obj, CS_F_COMMENT_BODY, &e) > 0 && e->lamport > obj->created_lamport;
  json_array_append_new(ctx->comments,
                        json_pack("{s:o s:o s:s s:s s:b s:b s:I}", "id", cli_json_hex(id), "author",
                                  cli_json_hex(obj->creator), "museum", museum_cached(ctx->read, obj->creator), "body",
                                  body, "deleted", obj->deleted, "edited", edited, "lamport",
                                  (json_int_t)obj->created_lamport));
  return 0;
}

static int show_merged_each(const uint8_t id[CS_ID_LEN], const cs_object_t *obj, void *vctx) {
  show_ctx_t *ctx = vctx;
  const cs_entry_t *e;
  uint8_t final[CS_ID_LEN];
  cli_merge_ctx_t merge = {ctx->read->txn, ctx->read->club};
  if (memcmp(id, ctx->request, CS_ID_LEN) == 0 || !cs_object_field(obj, CS_F_REQ_MERGED_INTO, &e)) return 0;
  cs_merge_final(id, cli_merged_into, &merge, final);
  if (memcmp(final, ctx->request, CS_ID_LEN) == 0) {
    request_row_t merged;
    int err = request_row(ctx->read, id, obj, &merged);
    if (!err) err = add_supporters_of(ctx->row, &merged);
    if (!err) json_array_append_new(ctx->merged_from, request_row_json(&merged));
    request_row_free(&merged);
    return err;
  }
  return 0;
}

static json_t *field_values(const cs_object_t *obj, uint64_t field) {
  json_t *values = json_array();
  for (uint32_t i = 0; i < obj->entry_count; i++) {
    if (obj->entries[i].field != field) continue;
    char text[CS_TEXT_MAX + 1];
    cs_value_str(obj->entries[i].value, obj->entries[i].value_len, text, sizeof(text));
    json_array_append_new(values, json_string(text));
  }
  return values;
}

/* The command that overwrites a field, which is how a person resolves a
 * conflict on it: each field is written by one command only. */
static const char *conflict_fix(const char *field) {
  static const struct {
    const char *field, *command;
  } fixes[] = {{"status", "request status ID STATUS"},
               {"status_note", "request status ID STATUS --note TEXT"},
               {"vendor_answer", "request answer ID --answer TEXT"},
               {"vendor_estimate", "request answer ID --estimate E"},
               {"target_version", "request answer ID --target V"},
               {"delivered_version", "request answer ID --delivered V"},
               {"title", "request edit ID --title T"},
               {"body", "request edit ID --body B"},
               {"module", "request edit ID --module M"},
               {"kind", "request edit ID --kind K"},
               {"story", "request edit ID --story S"}};
  for (size_t i = 0; i < CS_ARRAY_LEN(fixes); i++)
    if (strcmp(fixes[i].field, field) == 0) return fixes[i].command;
  return "request edit ID";
}

static int request_show(cli_t *cli, cli_args_t *args) {
  const char *arg = cli_next(args);
  int code = cli_no_more(cli, args, request_usage);
  if (code) return code;
  if (!arg) return cli_fail(CLI_USAGE, "request show needs the request's ID");
  cs_txn_t txn;
  uint8_t club[CS_ID_LEN], id[CS_ID_LEN];
  cs_object_t obj;
  read_ctx_t read;
  if ((code = read_begin(cli, &read, &txn, club))) return code;
  if ((code = cli_object(cli, &txn, club, arg, CS_OBJ_REQUEST, id, &obj))) {
    read_end(&read);
    return code;
  }
  request_row_t row;
  if (request_row(&read, id, &obj, &row)) {
    read_end(&read);
    cs_object_free(&obj);
    return cli_fail(CLI_ERROR, "out of memory");
  }
  show_ctx_t ctx = {&read, &row, id, json_array(), json_array()};
  int err = cs_store_objects(&txn, club, CS_OBJ_COMMENT, show_comment_each, &ctx);
  if (!err) err = cs_store_objects(&txn, club, CS_OBJ_REQUEST, show_merged_each, &ctx);
  json_t *doc = request_row_json(&row);
  request_row_free(&row);
  static const struct {
    uint64_t field;
    const char *name;
  } texts[] = {{CS_F_REQ_BODY, "body"},
               {CS_F_REQ_STORY, "story"},
               {CS_F_REQ_STATUS_NOTE, "status_note"},
               {CS_F_REQ_VENDOR_ANSWER, "vendor_answer"},
               {CS_F_REQ_VENDOR_ESTIMATE, "vendor_estimate"},
               {CS_F_REQ_TARGET_VERSION, "target_version"},
               {CS_F_REQ_DELIVERED_VERSION, "delivered_version"}};
  for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
    char text[CS_TEXT_MAX + 1];
    cli_field_text(&obj, texts[i].field, text, sizeof(text));
    json_object_set_new(doc, texts[i].name, json_string(text));
  }
  json_object_set_new(doc, "museum", json_string(museum_cached(&read, obj.creator)));
  json_object_set_new(doc, "author", cli_json_hex(obj.creator));
  json_object_set_new(doc, "tags", field_values(&obj, CS_F_REQ_TAGS));
  json_t *conflicts = json_object();
  for (uint32_t i = 0; i < obj.entry_count; i++) {
    const cs_field_spec_t *spec = cs_model_field(CS_OBJ_REQUEST, obj.entries[i].field);
    const cs_entry_t *e;
    if (!spec || spec->kind != CS_FIELD_REGISTER || spec->value == CS_VALUE_OBJECT ||
        json_object_get(conflicts, spec->name) || cs_object_field(&obj, spec->field, &e) < 2)
      continue;
    json_object_set_new(conflicts, spec->name, field_values(&obj, spec->field));
  }
  json_object_set_new(doc, "conflicts", conflicts);
  read_end(&read);
  cs_object_free(&obj);
  json_object_set_new(doc, "comments", ctx.comments);
  json_object_set_new(doc, "merged_from", ctx.merged_from);
  if (err) {
    json_decref(doc);
    return cli_fail_err(err, "cannot read comments");
  }
  if (cli->json) return cli_print_json(doc);
  size_t i;
  json_t *m, *museum;
#define DOC_STR(k) json_string_value(json_object_get(doc, k))
  printf("%s\n  id:      %s\n  status:  %s\n  module:  %s\n  kind:    %s\n  filed by %s\n", DOC_STR("title"),
         DOC_STR("id"), DOC_STR("status"), *DOC_STR("module") ? DOC_STR("module") : "-",
         *DOC_STR("kind") ? DOC_STR("kind") : "-", DOC_STR("museum"));
  printf("  points:  %lld in the latest campaign\n  museums supporting:", 
         (long long)json_integer_value(json_object_get(doc, "points")));
  json_array_foreach(json_object_get(doc, "supporters"), i, museum) printf("%s %s", i ? "," : "",
                                                                              json_string_value(museum));
  printf("\n");
  if (json_object_get(doc, "merged_into")) printf("  merged into %s\n", DOC_STR("merged_into"));
  json_array_foreach(ctx.merged_from, i, m) printf("  duplicate merged here: %.12s %s\n",
                                                   json_string_value(json_object_get(m, "id")),
                                                   json_string_value(json_object_get(m, "title")));
  if (*DOC_STR("story")) printf("\n  User story: %s\n", DOC_STR("story"));
  if (*DOC_STR("body")) printf("\n%s\n", DOC_STR("body"));
  if (*DOC_STR("vendor_answer") || *DOC_STR("vendor_estimate") || *DOC_STR("target_version") ||
      *DOC_STR("delivered_version"))
    printf("\n  Vendor: %s (estimate %s, target %s, delivered %s)\n", DOC_STR("vendor_answer"),
           *DOC_STR("vendor_estimate") ? DOC_STR("vendor_estimate") : "-",
           *DOC_STR("target_version") ? DOC_STR("target_version") : "-",
           *DOC_STR("delivered_version") ? DOC_STR("delivered_version") : "-");
#undef DOC_STR
  const char *field;
  json_t *values;
  json_object_foreach(conflicts, field, values) {
    printf("\n  CONFLICT on %s: museums wrote different values at the same time:\n", field);
    json_t *val;
    json_array_foreach(values, i, val) printf("    %s %s\n", i == 0 ? "*" : "-", json_string_value(val));
    printf("  (* is shown for now; 'clubsync %s' with the right value resolves it for everyone)\n",
           conflict_fix(field));
  }
  json_t *c;
  json_array_foreach(json_object_get(doc, "comments"), i, c) {
    if (json_is_true(json_object_get(c, "deleted"))) {
      printf("\n  [comment by %s withdrawn]\n", json_string_value(json_object_get(c, "museum")));
      continue;
    }
    printf("\n  %s%s: %s\n", json_string_value(json_object_get(c, "museum")),
           json_is_true(json_object_get(c, "edited")) ? " (edited)" : "",
           json_string_value(json_object_get(c, "body")));
  }
  json_decref(doc);
  return CLI_OK;
}

/* Writing ------------------------------------------------------------------ */

/* Opens the store for a write on one object of the club and reads it. */
static int begin_object_write(cli_t *cli, const char *arg, uint64_t type, unsigned roles, const char *what,
                              uint8_t club[CS_ID_LEN], uint8_t id[CS_ID_LEN], cs_object_t *obj) {
  cs_txn_t txn;
  int code = cli_begin_write(cli, &txn, club, roles, what);
  if (code) return code;
  code = cli_object(cli, &txn, club, arg, type, id, obj);
  cs_store_abort(&txn);
  return code;
}

static int print_done(int code, const char *message, const uint8_t id[CS_ID_LEN]) {
  if (code) return code;
  char hex[65];
  cs_hex32(id, hex);
  printf("%s\n%s\n", message, hex);
  return CLI_OK;
}

static int request_edit_with(cli_t *cli, cli_args_t *args, bool is_status, const char *text);

/* edit takes --body or --body-file, status --note or --note-file. */
static int request_edit(cli_t *cli, cli_args_t *args, bool is_status) {
  char *text;
  int code = is_status ? cli_take_long_text(args, "--note", "--note-file", "the note", &text)
                       : cli_take_long_text(args, "--body", "--body-file", "the body", &text);
  if (code) return code;
  code = request_edit_with(cli, args, is_status, text);
  free(text);
  return code;
}

static int request_edit_with(cli_t *cli, cli_args_t *args, bool is_status, const char *text) {
  const char *title = NULL, *body = NULL, *module = NULL, *kind = NULL, *story = NULL, *note = NULL, *status = NULL;
  if (is_status) {
    note = text;
  } else {
    title = cli_take(args, "--title");
    body = text;
    module = cli_take(args, "--module");
    kind = cli_take(args, "--kind");
    story = cli_take(args, "--story");
  }
  const char *arg = cli_next(args);
  if (is_status) status = cli_next(args);
  int code = cli_no_more(cli, args, request_usage);
  if (code) return code;
  if (!arg) return cli_fail(CLI_USAGE, "request %s needs the request's ID", is_status ? "status" : "edit");
  if (is_status && (!status || !cs_request_status_valid((cs_span_t){(const uint8_t *)status, strlen(status)})))
    return cli_fail(CLI_USAGE, "request status needs a STATUS among: draft submitted review vote shortlisted "
                               "estimated committed planned delivered verified closed merged rejected declined "
                               "postponed");
  if (!is_status && !title && !body && !module && !kind && !story)
    return cli_fail(CLI_USAGE, "request edit needs at least one of --title, --body, --module, --kind, --story");
  if ((code = check_text_args(title, module, kind, story))) return code;
  uint8_t club[CS_ID_LEN], id[CS_ID_LEN];
  cs_object_t obj;
  unsigned roles = is_status ? CLI_ROLES_CLUB | 1u << CS_ROLE_VENDOR : CLI_ROLES_CLUB;
  if ((code = begin_object_write(cli, arg, CS_OBJ_REQUEST, roles, is_status ? "change a request's status"
                                                                             : "edit requests",
                                 club, id, &obj)))
    return code;
  cs_buf_t payload;
  cs_buf_init(&payload, CS_CHANGE_PAYLOAD_MAX);
  const struct {
    uint64_t field;
    const char *value;
  } writes[] = {{CS_F_REQ_STATUS, status}, {CS_F_REQ_STATUS_NOTE, note}, {CS_F_REQ_TITLE, title},
                {CS_F_REQ_BODY, body},     {CS_F_REQ_MODULE, module},    {CS_F_REQ_KIND, kind},
                {CS_F_REQ_STORY, story}};
  uint32_t ops = 0;
  for (size_t i = 0; i < sizeof(writes) / sizeof(writes[0]); i++) ops += writes[i].value ? 1u : 0u;
  cs_mp_write_array(&payload, ops);
  for (size_t i = 0; i < sizeof(writes) / sizeof(writes[0]); i++)
    if (writes[i].value) cli_write_overwrite_str(&payload, &obj, id, writes[i].field, writes[i].value);
  cs_object_free(&obj);
  uint8_t change_id[CS_ID_LEN];
  code = cli_commit(cli, club, &payload, change_id, "cannot change the request");
  return print_done(code, is_status ? "Status changed." : "Request updated.", id);
}

static int request_answer(cli_t *cli, cli_args_t *args) {
  const struct {
    const char *flag;
    uint64_t field;
  } flags[] = {{"--answer", CS_F_REQ_VENDOR_ANSWER},
               {"--estimate", CS_F_REQ_VENDOR_ESTIMATE},
               {"--target", CS_F_REQ_TARGET_VERSION},
               {"--delivered", CS_F_REQ_DELIVERED_VERSION}};
  const char *values[4];
  uint32_t ops = 0;
  for (int i = 0; i < 4; i++) {
    values[i] = cli_take(args, flags[i].flag);
    int code = values[i] ? cli_check_text(flags[i].flag, values[i], i > 0, i > 0 ? CS_TITLE_MAX : CS_TEXT_MAX) : 0;
    if (code) return code;
    ops += values[i] ? 1u : 0u;
  }
  const char *arg = cli_next(args);
  int code = cli_no_more(cli, args, request_usage);
  if (code) return code;
  if (!arg || ops == 0)
    return cli_fail(CLI_USAGE, "request answer needs the request's ID and at least one of --answer, --estimate, "
                               "--target, --delivered");
  uint8_t club[CS_ID_LEN], id[CS_ID_LEN];
  cs_object_t obj;
  if ((code = begin_object_write(cli, arg, CS_OBJ_REQUEST, 1u << CS_ROLE_VENDOR | 1u << CS_ROLE_ADMIN,
                                 "answer for the vendor", club, id, &obj)))
    return code;
  cs_buf_t payload;
  cs_buf_init(&payload, CS_CHANGE_PAYLOAD_MAX);
  cs_mp_write_array(&payload, ops);
  for (int i = 0; i < 4; i++)
    if (values[i]) cli_write_overwrite_str(&payload, &obj, id, flags[i].field, values[i]);
  cs_object_free(&obj);
  uint8_t change_id[CS_ID_LEN];
  code = cli_commit(cli, club, &payload, change_id, "cannot record the answer");
  return print_done(code, "The vendor's answer is recorded, signed.", id);
}

/* support adds this key to the co-signers; unsupport removes the adds of
 * this key that this node has seen (a concurrent support still wins). */
static int request_support(cli_t *cli, cli_args_t *args, bool support) {
  const char *arg = cli_next(args);
  int code = cli_no_more(cli, args, request_usage);
  if (code) return code;
  if (!arg) return cli_fail(CLI_USAGE, "request %s needs the request's ID", support ? "support" : "unsupport");
  uint8_t club[CS_ID_LEN], id[CS_ID_LEN];
  cs_object_t obj;
  if ((code = begin_object_write(cli, arg, CS_OBJ_REQUEST, CLI_ROLES_CLUB, "co-sign requests", club, id, &obj)))
    return code;
  const uint8_t *key = cli->secret_key + 32;
  uint8_t adds[CS_PREDS_MAX][CS_ID_LEN];
  uint32_t add_count = 0;
  for (uint32_t i = 0; i < obj.entry_count && add_count < CS_PREDS_MAX; i++)
    if (obj.entries[i].field == CS_F_REQ_SUPPORTERS && obj.entries[i].value_len == CS_KEY_LEN + 2 &&
        memcmp(obj.entries[i].value + 2, key, CS_KEY_LEN) == 0)
      memcpy(adds[add_count++], obj.entries[i].op, CS_ID_LEN);
  cs_object_free(&obj);
  if (support && add_count) return print_done(CLI_OK, "Your museum already supports this request.", id);
  if (!support && !add_count) return print_done(CLI_OK, "Your key did not support this request.", id);
  cs_buf_t payload, element;
  cs_buf_init(&payload, CS_CHANGE_PAYLOAD_MAX);
  cs_buf_init(&element, 64);
  cs_mp_write_bin(&element, key, CS_KEY_LEN);
  cs_mp_write_array(&payload, 1);
  if (support) cs_op_write_add_raw(&payload, cs_ref_id(id), CS_F_REQ_SUPPORTERS, cs_buf_span(&element));
  else
    cs_op_write_remove_raw(&payload, cs_ref_id(id), CS_F_REQ_SUPPORTERS, cs_buf_span(&element), add_count,
                           (const uint8_t(*)[CS_ID_LEN])adds);
  cs_buf_free(&element);
  uint8_t change_id[CS_ID_LEN];
  code = cli_commit(cli, club, &payload, change_id, "cannot record your support");
  return print_done(code, support ? "Your museum co-signs this request." : "Your museum no longer co-signs it.", id);
}

/* merge marks a duplicate: its status becomes merged and it points to the
 * original, which then counts its supporters and its points. */
static int request_merge(cli_t *cli, cli_args_t *args) {
  const char *into_arg = cli_take(args, "--into");
  const char *arg = cli_next(args);
  int code = cli_no_more(cli, args, request_usage);
  if (code) return code;
  if (!arg || !into_arg) return cli_fail(CLI_USAGE, "request merge needs ID --into ID2 (ID is the duplicate)");
  uint8_t club[CS_ID_LEN], id[CS_ID_LEN], into[CS_ID_LEN];
  cs_object_t obj;
  cs_txn_t txn;
  if ((code = cli_begin_write(cli, &txn, club, CLI_ROLES_CLUB, "merge requests"))) return code;
  if (!(code = cli_object(cli, &txn, club, into_arg, CS_OBJ_REQUEST, into, NULL)))
    code = cli_object(cli, &txn, club, arg, CS_OBJ_REQUEST, id, &obj);
  cs_store_abort(&txn);
  if (code) return code;
  if (memcmp(id, into, CS_ID_LEN) == 0) {
    cs_object_free(&obj);
    return cli_fail(CLI_USAGE, "a request cannot be merged into itself");
  }
  cs_buf_t payload, target;
  cs_buf_init(&payload, CS_CHANGE_PAYLOAD_MAX);
  cs_buf_init(&target, 64);
  cs_mp_write_bin(&target, into, CS_ID_LEN);
  cs_mp_write_array(&payload, 2);
  cli_write_overwrite_str(&payload, &obj, id, CS_F_REQ_STATUS, "merged");
  cli_write_overwrite(&payload, &obj, id, CS_F_REQ_MERGED_INTO, cs_buf_span(&target));
  cs_buf_free(&target);
  cs_object_free(&obj);
  uint8_t change_id[CS_ID_LEN];
  code = cli_commit(cli, club, &payload, change_id, "cannot merge the request");
  return print_done(code, "Merged: its supporters and points now count for the original.", id);
}

static int request_comment_with(cli_t *cli, cli_args_t *args, const char *sub, const char *file_text);

/* A comment's text is the argument after the id, or --body-file FILE|-. */
static int request_comment(cli_t *cli, cli_args_t *args, const char *sub) {
  char *text = NULL;
  int code = strcmp(sub, "comment-delete") == 0
                 ? CLI_OK
                 : cli_take_long_text(args, "--body", "--body-file", "the comment", &text);
  if (code) return code;
  code = request_comment_with(cli, args, sub, text);
  free(text);
  return code;
}

static int request_comment_with(cli_t *cli, cli_args_t *args, const char *sub, const char *file_text) {
  bool add = strcmp(sub, "comment") == 0, del = strcmp(sub, "comment-delete") == 0;
  const char *arg = cli_next(args);
  const char *text = del || file_text ? file_text : cli_next(args);
  int code = cli_no_more(cli, args, request_usage);
  if (code) return code;
  if (text && (code = cli_check_text("the comment", text, false, CS_TEXT_MAX))) return code;
  if (!arg || (!del && (!text || !*text)))
    return cli_fail(CLI_USAGE, "usage: clubsync request %s", add ? "comment ID TEXT|--body-file FILE"
                                                             : del ? "comment-delete COMMENT"
                                                                   : "comment-edit COMMENT TEXT|--body-file FILE");
  uint8_t club[CS_ID_LEN], id[CS_ID_LEN];
  cs_object_t obj;
  if ((code = begin_object_write(cli, arg, add ? CS_OBJ_REQUEST : CS_OBJ_COMMENT, CLI_ROLES_ANY, "comment", club, id,
                                 &obj)))
    return code;
  bool mine = memcmp(obj.creator, cli->secret_key + 32, CS_KEY_LEN) == 0;
  cs_buf_t payload;
  cs_buf_init(&payload, CS_CHANGE_PAYLOAD_MAX);
  if (add) {
    cs_ref_t request = cs_ref_id(id);
    cs_mp_write_array(&payload, 2);
    cs_op_write_create(&payload, CS_OBJ_COMMENT, &request);
    cs_op_write_set_str(&payload, cs_ref_local(0), CS_F_COMMENT_BODY, text, 0, NULL);
  } else if (!mine) {
    /* Only its writer (or an admin, checked when the change applies) may. */
    cs_txn_t txn;
    uint8_t unused[CS_ID_LEN];
    if ((code = cli_begin_write(cli, &txn, unused, 1u << CS_ROLE_ADMIN, "change another museum's comment"))) {
      cs_object_free(&obj);
      cs_buf_free(&payload);
      return code;
    }
    cs_store_abort(&txn);
  }
  if (!add) {
    cs_mp_write_array(&payload, 1);
    if (del) cs_op_write_delete(&payload, cs_ref_id(id));
    else cli_write_overwrite_str(&payload, &obj, id, CS_F_COMMENT_BODY, text);
  }
  cs_object_free(&obj);
  uint8_t change_id[CS_ID_LEN], comment[CS_ID_LEN];
  if ((code = cli_commit(cli, club, &payload, change_id, "cannot write the comment"))) return code;
  if (add) cs_op_id(change_id, 0, comment);
  else memcpy(comment, id, CS_ID_LEN);
  return print_done(CLI_OK, add ? "Commented." : del ? "Comment withdrawn (the signed original stays in the audit)."
                                                     : "Comment edited.",
                    comment);
}

int cmd_request(cli_t *cli, cli_args_t *args) {
  static const char *const subs[] = {"add",    "list",      "show",  "edit",    "status",       "answer",
                                     "support", "unsupport", "merge", "comment", "comment-edit", "comment-delete",
                                     NULL};
  const char *sub = cli_next(args);
  if (!sub) return cli_fail_no_sub("request", subs);
  if (strcmp(sub, "add") == 0) return request_add(cli, args);
  if (strcmp(sub, "list") == 0) return request_list(cli, args);
  if (strcmp(sub, "show") == 0) return request_show(cli, args);
  if (strcmp(sub, "edit") == 0) return request_edit(cli, args, false);
  if (strcmp(sub, "status") == 0) return request_edit(cli, args, true);
  if (strcmp(sub, "answer") == 0) return request_answer(cli, args);
  if (strcmp(sub, "support") == 0) return request_support(cli, args, true);
  if (strcmp(sub, "unsupport") == 0) return request_support(cli, args, false);
  if (strcmp(sub, "merge") == 0) return request_merge(cli, args);
  if (strcmp(sub, "comment") == 0 || strcmp(sub, "comment-edit") == 0 || strcmp(sub, "comment-delete") == 0)
    return request_comment(cli, args, sub);
  return cli_fail_unknown("request", sub, subs);
}
