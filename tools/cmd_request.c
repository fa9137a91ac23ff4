/* request add/list/show/edit/status/comment. */
#include <stdlib.h>
#include <string.h>

#include "tools/cli.h"

static const char request_usage[] =
    "request add --title T [--body B] [--module M] [--tag X]... | list [--status S] [--module M] "
    "[--sort recent|title] | show ID | edit ID [--title T] [--body B] [--module M] | status ID STATUS "
    "[--note TEXT] | comment ID TEXT";

/* Opens the store and identity and picks the club for a writing command,
 * checking that this node's role may write requests. */
static int request_prepare(cli_t *cli, uint8_t club[CS_ID_LEN], cs_txn_t *txn, bool comment_only) {
  int code;
  if ((code = cli_identity(cli)) || (code = cli_open(cli, false))) return code;
  int err = cs_store_begin(cli->store, false, txn);
  if (err) return cli_fail_err(err, "cannot read the store");
  if ((code = cli_club(cli, txn, club))) {
    cs_store_abort(txn);
    return code;
  }
  cs_role_t role = cli_my_role(cli, txn, club);
  bool allowed = comment_only ? role != CS_ROLE_NONE : (role == CS_ROLE_ADMIN || role == CS_ROLE_MEMBER);
  if (!allowed) {
    cs_store_abort(txn);
    if (role == CS_ROLE_NONE)
      return cli_fail(CLI_DENIED, "this node's key is not a member of the club yet; give 'clubsync whoami' to an "
                                  "admin and sync or import their bundle");
    return cli_fail(CLI_DENIED, "your role (%s) may comment on requests but not file or change them",
                    cs_role_name(role));
  }
  return CLI_OK;
}

static int request_commit(cli_t *cli, const uint8_t club[CS_ID_LEN], cs_buf_t *payload, uint8_t id[CS_ID_LEN],
                          const char *what) {
  int err = payload->failed ? CS_ETOOBIG : cli_author(cli, club, cs_buf_span(payload), id);
  cs_buf_free(payload);
  if (err == CS_ETOOBIG) return cli_fail(CLI_USAGE, "%s: the text is too long (a change holds at most 64 KiB)", what);
  return err ? cli_fail_err(err, what) : CLI_OK;
}

static int request_add(cli_t *cli, cli_args_t *args) {
  const char *title = cli_take(args, "--title");
  const char *body = cli_take(args, "--body");
  const char *module = cli_take(args, "--module");
  const char *tags[32];
  int tag_count = 0;
  const char *tag;
  while ((tag = cli_take(args, "--tag")) != NULL) {
    if (tag_count == 32) return cli_fail(CLI_USAGE, "at most 32 tags per request");
    if (!*tag || strlen(tag) > 64) return cli_fail(CLI_USAGE, "a tag is 1 to 64 bytes");
    tags[tag_count++] = tag;
  }
  int code = cli_no_more(cli, args, request_usage);
  if (code) return code;
  if (!title || !*title) return cli_fail(CLI_USAGE, "request add needs --title T");
  if (strlen(title) > 2 * CS_NAME_MAX) return cli_fail(CLI_USAGE, "a title is limited to %d bytes", 2 * CS_NAME_MAX);
  if (module && strlen(module) > 2 * CS_NAME_MAX) return cli_fail(CLI_USAGE, "a module name is too long");
  uint8_t club[CS_ID_LEN];
  cs_txn_t txn;
  if ((code = request_prepare(cli, club, &txn, false))) return code;
  cs_store_abort(&txn);

  /* One user action is one change: op 0 creates the request, the others
   * name it by its local index; its id is the id of op 0. */
  cs_buf_t payload;
  cs_buf_init(&payload, CS_CHANGE_PAYLOAD_MAX);
  cs_ref_t created = cs_ref_local(0);
  cs_mp_write_array(&payload, 3 + (body ? 1u : 0u) + (module ? 1u : 0u) + (uint32_t)tag_count);
  cs_op_write_create(&payload, CS_OBJ_REQUEST, NULL);
  cs_op_write_set_str(&payload, created, CS_F_REQ_TITLE, title, 0, NULL);
  cs_op_write_set_str(&payload, created, CS_F_REQ_STATUS, "submitted", 0, NULL);
  if (body) cs_op_write_set_str(&payload, created, CS_F_REQ_BODY, body, 0, NULL);
  if (module) cs_op_write_set_str(&payload, created, CS_F_REQ_MODULE, module, 0, NULL);
  for (int i = 0; i < tag_count; i++) cs_op_write_add_str(&payload, created, CS_F_REQ_TAGS, tags[i]);
  uint8_t change_id[CS_ID_LEN], req[CS_ID_LEN];
  if ((code = request_commit(cli, club, &payload, change_id, "cannot file the request"))) return code;
  cs_op_id(change_id, 0, req);
  char hex[65];
  cs_hex32(req, hex);
  printf("Filed the request \"%s\".\n%s\n", title, hex);
  return CLI_OK;
}

/* A request's fields, read from its record for listing and showing. */
typedef struct request_view_s {
  char title[2 * CS_NAME_MAX + 1];
  char status[32];
  char module[2 * CS_NAME_MAX + 1];
  uint64_t created_lamport;
} request_view_t;

static void request_view(const cs_object_t *obj, request_view_t *v) {
  const cs_entry_t *e;
  memset(v, 0, sizeof(*v));
  if (cs_object_field(obj, CS_F_REQ_TITLE, &e)) cs_value_str(e->value, e->value_len, v->title, sizeof(v->title));
  if (cs_object_field(obj, CS_F_REQ_STATUS, &e)) cs_value_str(e->value, e->value_len, v->status, sizeof(v->status));
  if (cs_object_field(obj, CS_F_REQ_MODULE, &e)) cs_value_str(e->value, e->value_len, v->module, sizeof(v->module));
  v->created_lamport = obj->created_lamport;
}

typedef struct list_ctx_s {
  const char *status;
  const char *module;
  json_t *items;
} list_ctx_t;

static json_t *request_json(const uint8_t id[CS_ID_LEN], const cs_object_t *obj, const request_view_t *v) {
  (void)obj;
  return json_pack("{s:o s:s s:s s:s s:i s:[] s:I}", "id", cli_json_hex(id), "title", v->title, "status", v->status,
                   "module", v->module, "points", 0, "supporters", "lamport", (json_int_t)v->created_lamport);
}

static int request_list_each(const uint8_t id[CS_ID_LEN], const cs_object_t *obj, void *vctx) {
  list_ctx_t *ctx = vctx;
  request_view_t v;
  if (!cs_object_field(obj, CS_F_REQ_TITLE, &(const cs_entry_t *){NULL})) return 0; /* not yet titled */
  request_view(obj, &v);
  if (ctx->status && strcmp(ctx->status, v.status) != 0) return 0;
  if (ctx->module && strcmp(ctx->module, v.module) != 0) return 0;
  json_array_append_new(ctx->items, request_json(id, obj, &v));
  return 0;
}

static int by_recent(const void *a, const void *b) {
  json_int_t la = json_integer_value(json_object_get(*(json_t *const *)a, "lamport"));
  json_int_t lb = json_integer_value(json_object_get(*(json_t *const *)b, "lamport"));
  if (la != lb) return la > lb ? -1 : 1;
  return strcmp(json_string_value(json_object_get(*(json_t *const *)a, "id")),
                json_string_value(json_object_get(*(json_t *const *)b, "id")));
}

static int by_title(const void *a, const void *b) {
  int c = strcmp(json_string_value(json_object_get(*(json_t *const *)a, "title")),
                 json_string_value(json_object_get(*(json_t *const *)b, "title")));
  return c ? c : by_recent(a, b);
}

static int request_list(cli_t *cli, cli_args_t *args) {
  list_ctx_t ctx = {cli_take(args, "--status"), cli_take(args, "--module"), NULL};
  const char *sort = cli_take(args, "--sort");
  int code = cli_no_more(cli, args, request_usage);
  if (code) return code;
  if (sort && strcmp(sort, "recent") != 0 && strcmp(sort, "title") != 0)
    return cli_fail(CLI_USAGE, "--sort must be recent or title");
  if (ctx.status && !cs_request_status_valid((cs_span_t){(const uint8_t *)ctx.status, strlen(ctx.status)}))
    return cli_fail(CLI_USAGE, "unknown status '%s'; see docs/data-model.md for the lifecycle", ctx.status);
  if ((code = cli_open(cli, false))) return code;
  cs_txn_t txn;
  uint8_t club[CS_ID_LEN];
  int err = cs_store_begin(cli->store, false, &txn);
  if (err) return cli_fail_err(err, "cannot read the store");
  if ((code = cli_club(cli, &txn, club))) {
    cs_store_abort(&txn);
    return code;
  }
  ctx.items = json_array();
  err = cs_store_objects(&txn, club, CS_OBJ_REQUEST, request_list_each, &ctx);
  cs_store_abort(&txn);
  if (err) {
    json_decref(ctx.items);
    return cli_fail_err(err, "cannot list requests");
  }
  /* Sort through a plain array of pointers, then rebuild the list. */
  size_t n = json_array_size(ctx.items);
  json_t **items = malloc((n ? n : 1) * sizeof(*items));
  if (!items) return cli_fail(CLI_ERROR, "out of memory");
  for (size_t i = 0; i < n; i++) items[i] = json_incref(json_array_get(ctx.items, i));
  qsort(items, n, sizeof(*items), sort && strcmp(sort, "title") == 0 ? by_title : by_recent);
  json_array_clear(ctx.items);
  for (size_t i = 0; i < n; i++) {
    json_object_del(items[i], "lamport");
    json_array_append_new(ctx.items, items[i]);
  }
  free(items);
  if (cli->json) return cli_print_json(ctx.items);
  size_t i;
  json_t *r;
  json_array_foreach(ctx.items, i, r) {
    printf("%s  %-11s %-16s %s\n", json_string_value(json_object_get(r, "id")),
           json_string_value(json_object_get(r, "status")), json_string_value(json_object_get(r, "module")),
           json_string_value(json_object_get(r, "title")));
  }
  if (n == 0) printf("No requests%s.\n", ctx.status || ctx.module ? " match" : " yet");
  json_decref(ctx.items);
  return CLI_OK;
}

typedef struct show_ctx_s {
  cs_txn_t *txn;
  const uint8_t *club;
  const uint8_t *request;
  json_t *comments;
} show_ctx_t;

static int show_comment_each(const uint8_t id[CS_ID_LEN], const cs_object_t *obj, void *vctx) {
  show_ctx_t *ctx = vctx;
  if (!obj->has_parent || memcmp(obj->parent, ctx->request, CS_ID_LEN) != 0) return 0;
  const cs_entry_t *e;
  char body[CS_TEXT_MAX + 1] = "";
  if (cs_object_field(obj, CS_F_COMMENT_BODY, &e)) cs_value_str(e->value, e->value_len, body, sizeof(body));
  char museum[CS_NAME_MAX + 1];
  cli_museum_of(ctx->txn, ctx->club, obj->creator, museum, sizeof(museum));
  json_array_append_new(ctx->comments,
                        json_pack("{s:o s:o s:s s:s s:b s:I}", "id", cli_json_hex(id), "author", cli_json_hex(obj->creator),
                                  "museum", museum, "body", body, "deleted", obj->deleted, "lamport",
                                  (json_int_t)obj->created_lamport));
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

static int request_show(cli_t *cli, cli_args_t *args) {
  const char *arg = cli_next(args);
  int code = cli_no_more(cli, args, request_usage);
  if (code) return code;
  if (!arg) return cli_fail(CLI_USAGE, "request show needs the request's ID");
  if ((code = cli_open(cli, false))) return code;
  cs_txn_t txn;
  uint8_t club[CS_ID_LEN], id[CS_ID_LEN];
  cs_object_t obj;
  int err = cs_store_begin(cli->store, false, &txn);
  if (err) return cli_fail_err(err, "cannot read the store");
  if ((code = cli_club(cli, &txn, club)) || (code = cli_object(cli, &txn, club, arg, CS_OBJ_REQUEST, id, &obj))) {
    cs_store_abort(&txn);
    return code;
  }
  request_view_t v;
  request_view(&obj, &v);
  json_t *doc = request_json(id, &obj, &v);
  json_object_del(doc, "lamport");
  char body[CS_TEXT_MAX + 1] = "", museum[CS_NAME_MAX + 1];
  const cs_entry_t *e;
  if (cs_object_field(&obj, CS_F_REQ_BODY, &e)) cs_value_str(e->value, e->value_len, body, sizeof(body));
  cli_museum_of(&txn, club, obj.creator, museum, sizeof(museum));
  json_object_set_new(doc, "body", json_string(body));
  json_object_set_new(doc, "museum", json_string(museum));
  json_object_set_new(doc, "author", cli_json_hex(obj.creator));
  json_object_set_new(doc, "tags", field_values(&obj, CS_F_REQ_TAGS));
  json_t *conflicts = json_object();
  static const struct {
    uint64_t field;
    const char *name;
  } registers[] = {{CS_F_REQ_TITLE, "title"}, {CS_F_REQ_BODY, "body"}, {CS_F_REQ_MODULE, "module"},
                   {CS_F_REQ_STATUS, "status"}, {CS_F_REQ_STATUS_NOTE, "status_note"}};
  for (size_t i = 0; i < sizeof(registers) / sizeof(registers[0]); i++)
    if (cs_object_field(&obj, registers[i].field, &e) > 1)
      json_object_set_new(conflicts, registers[i].name, field_values(&obj, registers[i].field));
  json_object_set_new(doc, "conflicts", conflicts);
  show_ctx_t ctx = {&txn, club, id, json_array()};
  err = cs_store_objects(&txn, club, CS_OBJ_COMMENT, show_comment_each, &ctx);
  cs_store_abort(&txn);
  cs_object_free(&obj);
  json_object_set_new(doc, "comments", ctx.comments);
  if (err) {
    json_decref(doc);
    return cli_fail_err(err, "cannot read comments");
  }
  if (cli->json) return cli_print_json(doc);
  printf("%s\n  id:      %s\n  status:  %s\n  module:  %s\n  filed by %s\n", v.title,
         json_string_value(json_object_get(doc, "id")), v.status, *v.module ? v.module : "-", museum);
  if (*body) printf("\n%s\n", body);
  const char *field;
  json_t *values;
  json_object_foreach(conflicts, field, values) {
    printf("\n  CONFLICT on %s: museums wrote different values at the same time:\n", field);
    size_t i;
    json_t *val;
    json_array_foreach(values, i, val) printf("    %s %s\n", i == 0 ? "*" : "-", json_string_value(val));
    printf("  (* is shown for now; 'clubsync request edit' with the right value resolves it for everyone)\n");
  }
  size_t i;
  json_t *c;
  json_array_foreach(json_object_get(doc, "comments"), i, c) {
    if (json_is_true(json_object_get(c, "deleted"))) {
      printf("\n  [comment by %s deleted]\n", json_string_value(json_object_get(c, "museum")));
      continue;
    }
    printf("\n  %s: %s\n", json_string_value(json_object_get(c, "museum")), json_string_value(json_object_get(c, "body")));
  }
  json_decref(doc);
  return CLI_OK;
}

/* Writes a register op that overwrites every live value of the field, which
 * is how a person resolves a conflict. */
static void write_overwrite(cs_buf_t *payload, const cs_object_t *obj, const uint8_t id[CS_ID_LEN], uint64_t field,
                            const char *value) {
  uint8_t preds[CS_PREDS_MAX][CS_ID_LEN];
  uint32_t n = 0;
  for (uint32_t i = 0; i < obj->entry_count && n < CS_PREDS_MAX; i++)
    if (obj->entries[i].field == field) memcpy(preds[n++], obj->entries[i].op, CS_ID_LEN);
  cs_op_write_set_str(payload, cs_ref_id(id), field, value, n, (const uint8_t(*)[CS_ID_LEN])preds);
}

static int request_update(cli_t *cli, cli_args_t *args, const char *sub) {
  bool is_status = strcmp(sub, "status") == 0, is_comment = strcmp(sub, "comment") == 0;
  const char *title = NULL, *body = NULL, *module = NULL, *note = NULL, *status = NULL, *text = NULL;
  if (is_status) note = cli_take(args, "--note");
  else if (!is_comment) {
    title = cli_take(args, "--title");
    body = cli_take(args, "--body");
    module = cli_take(args, "--module");
  }
  const char *arg = cli_next(args);
  if (is_status) status = cli_next(args);
  if (is_comment) text = cli_next(args);
  int code = cli_no_more(cli, args, request_usage);
  if (code) return code;
  if (!arg) return cli_fail(CLI_USAGE, "request %s needs the request's ID", sub);
  if (is_status && (!status || !cs_request_status_valid((cs_span_t){(const uint8_t *)status, strlen(status)})))
    return cli_fail(CLI_USAGE, "request status needs a STATUS among: draft submitted review vote shortlisted "
                               "estimated committed planned delivered verified closed merged rejected declined "
                               "postponed");
  if (is_comment && (!text || !*text)) return cli_fail(CLI_USAGE, "request comment needs the comment's TEXT");
  if (!is_status && !is_comment && !title && !body && !module)
    return cli_fail(CLI_USAGE, "request edit needs at least one of --title, --body, --module");
  if (title && (!*title || strlen(title) > 2 * CS_NAME_MAX)) return cli_fail(CLI_USAGE, "a title is 1 to 400 bytes");

  uint8_t club[CS_ID_LEN], id[CS_ID_LEN];
  cs_txn_t txn;
  cs_object_t obj;
  if ((code = request_prepare(cli, club, &txn, is_comment))) return code;
  code = cli_object(cli, &txn, club, arg, CS_OBJ_REQUEST, id, &obj);
  cs_store_abort(&txn);
  if (code) return code;

  cs_buf_t payload;
  cs_buf_init(&payload, CS_CHANGE_PAYLOAD_MAX);
  uint8_t change_id[CS_ID_LEN];
  if (is_comment) {
    cs_ref_t request = cs_ref_id(id);
    cs_mp_write_array(&payload, 2);
    cs_op_write_create(&payload, CS_OBJ_COMMENT, &request);
    cs_op_write_set_str(&payload, cs_ref_local(0), CS_F_COMMENT_BODY, text, 0, NULL);
    cs_object_free(&obj);
    if ((code = request_commit(cli, club, &payload, change_id, "cannot add the comment"))) return code;
    uint8_t comment[CS_ID_LEN];
    cs_op_id(change_id, 0, comment);
    char hex[65];
    cs_hex32(comment, hex);
    printf("Commented.\n%s\n", hex);
    return CLI_OK;
  }
  uint32_t ops = is_status ? 1u + (note ? 1u : 0u) : (title ? 1u : 0u) + (body ? 1u : 0u) + (module ? 1u : 0u);
  cs_mp_write_array(&payload, ops);
  if (status) write_overwrite(&payload, &obj, id, CS_F_REQ_STATUS, status);
  if (note) write_overwrite(&payload, &obj, id, CS_F_REQ_STATUS_NOTE, note);
  if (title) write_overwrite(&payload, &obj, id, CS_F_REQ_TITLE, title);
  if (body) write_overwrite(&payload, &obj, id, CS_F_REQ_BODY, body);
  if (module) write_overwrite(&payload, &obj, id, CS_F_REQ_MODULE, module);
  cs_object_free(&obj);
  if ((code = request_commit(cli, club, &payload, change_id, "cannot change the request"))) return code;
  char hex[65];
  cs_hex32(id, hex);
  printf("%s\n", hex);
  return CLI_OK;
}

int cmd_request(cli_t *cli, cli_args_t *args) {
  const char *sub = cli_next(args);
  if (!sub) return cli_fail(CLI_USAGE, "usage: clubsync %s", request_usage);
  if (strcmp(sub, "add") == 0) return request_add(cli, args);
  if (strcmp(sub, "list") == 0) return request_list(cli, args);
  if (strcmp(sub, "show") == 0) return request_show(cli, args);
  if (strcmp(sub, "edit") == 0 || strcmp(sub, "status") == 0 || strcmp(sub, "comment") == 0)
    return request_update(cli, args, sub);
  return cli_fail(CLI_USAGE, "unknown request command '%s'; usage: clubsync %s", sub, request_usage);
}
