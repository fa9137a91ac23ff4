/* meeting and doc: the club's meetings (agenda, attendance, minutes, action
 * items) and its procedure library. */
#include <stdlib.h>
#include <string.h>

#include "tools/cli.h"

static const char meeting_usage[] =
    "meeting add --title T --date YYYY-MM-DD [--place P] [--agenda REQ]... | list | show ID | "
    "status ID planned|convened|held|minutes-review|approved [--motion M] | attend ID | agenda ID REQ | action ID TEXT | "
    "minutes ID DOC";
static const char doc_usage[] =
    "doc add --title T [--body B|--body-file FILE|-] [--version V] | list | show ID | edit ID [--title T] "
    "[--body B|--body-file FILE|-] [--version V] | "
    "status ID draft|reviewed|approved|obsolete [--motion M]";

/* Shared by both: prints an object's fields from the schema. */
static json_t *object_json(cs_txn_t *txn, const uint8_t club[CS_ID_LEN], const uint8_t id[CS_ID_LEN],
                           const cs_object_t *obj) {
  json_t *doc = json_object();
  char museum[CS_NAME_MAX + 1];
  json_object_set_new(doc, "id", cli_json_hex(id));
  cli_museum_of(txn, club, obj->creator, museum, sizeof(museum));
  json_object_set_new(doc, "museum", json_string(museum));
  json_t *conflicts = json_object();
  for (uint64_t field = 1; field <= CS_FIELD_MAX; field++) {
    const cs_field_spec_t *spec = cs_model_field(obj->type, field);
    if (!spec) continue;
    json_t *values = json_array();
    for (uint32_t i = 0; i < obj->entry_count; i++) {
      const cs_entry_t *e = &obj->entries[i];
      if (e->field != field) continue;
      char text[CS_TEXT_MAX + 1];
      if (spec->value == CS_VALUE_OWN_KEY && e->value_len == CS_KEY_LEN + 2) {
        cli_museum_of(txn, club, e->value + 2, text, sizeof(text));
      } else if (spec->value == CS_VALUE_OBJECT && e->value_len == CS_ID_LEN + 2) {
        cs_hex32(e->value + 2, text);
      } else {
        cs_value_str(e->value, e->value_len, text, sizeof(text));
      }
      json_array_append_new(values, json_string(text));
    }
    if (spec->kind == CS_FIELD_SET) {
      json_object_set_new(doc, spec->name, values);
      continue;
    }
    json_t *first = json_array_get(values, 0);
    json_object_set_new(doc, spec->name, first ? json_incref(first) : json_string(""));
    if (json_array_size(values) > 1) json_object_set_new(conflicts, spec->name, values);
    else json_decref(values);
  }
  json_object_set_new(doc, "deleted", json_boolean(obj->deleted));
  json_object_set_new(doc, "conflicts", conflicts);
  return doc;
}

typedef struct list_ctx_s {
  cs_txn_t *txn;
  const uint8_t *club;
  json_t *items;
} list_ctx_t;

static int list_each(const uint8_t id[CS_ID_LEN], const cs_object_t *obj, void *vctx) {
  list_ctx_t *ctx = vctx;
  if (!obj->deleted) json_array_append_new(ctx->items, object_json(ctx->txn, ctx->club, id, obj));
  return 0;
}

static int objects_list(cli_t *cli, cli_args_t *args, uint64_t type, const char *usage) {
  int code = cli_no_more(cli, args, usage);
  if (code) return code;
  cs_txn_t txn;
  uint8_t club[CS_ID_LEN];
  if ((code = cli_read_club(cli, &txn, club))) return code;
  list_ctx_t ctx = {&txn, club, json_array()};
  int err = cs_store_objects(&txn, club, type, list_each, &ctx);
  cs_store_abort(&txn);
  if (err) {
    json_decref(ctx.items);
    return cli_fail_err(err, "cannot list");
  }
  if (cli->json) return cli_print_json(ctx.items);
  size_t i;
  json_t *o;
  json_array_foreach(ctx.items, i, o) {
    const char *when = type == CS_OBJ_MEETING ? json_string_value(json_object_get(o, "date"))
                                              : json_string_value(json_object_get(o, "software_version"));
    printf("%s  %-14s %-10s %s\n", json_string_value(json_object_get(o, "id")),
           json_string_value(json_object_get(o, "status")), when ? when : "",
           json_string_value(json_object_get(o, "title")));
  }
  if (json_array_size(ctx.items) == 0) printf("None yet.\n");
  json_decref(ctx.items);
  return CLI_OK;
}

static int objects_show(cli_t *cli, cli_args_t *args, uint64_t type, const char *usage) {
  const char *arg = cli_next(args);
  int code = cli_no_more(cli, args, usage);
  if (code) return code;
  if (!arg) return cli_fail(CLI_USAGE, "%s show needs the ID of one (see 'clubsync %s list')", cli_type_name(type),
                            type == CS_OBJ_DOCUMENT ? "doc" : "meeting");
  cs_txn_t txn;
  uint8_t club[CS_ID_LEN], id[CS_ID_LEN];
  cs_object_t obj;
  if ((code = cli_read_club(cli, &txn, club))) return code;
  if ((code = cli_object(cli, &txn, club, arg, type, id, &obj))) {
    cs_store_abort(&txn);
    return code;
  }
  json_t *doc = object_json(&txn, club, id, &obj);
  cs_store_abort(&txn);
  cs_object_free(&obj);
  if (cli->json) return cli_print_json(doc);
  const char *key;
  json_t *value;
  json_object_foreach(doc, key, value) {
    if (strcmp(key, "conflicts") == 0 || strcmp(key, "deleted") == 0) continue;
    if (json_is_array(value)) {
      printf("%-17s", key);
      size_t i;
      json_t *v;
      json_array_foreach(value, i, v) printf("%s%s", i ? "\n                 " : "", json_string_value(v));
      printf("%s\n", json_array_size(value) ? "" : "-");
    } else {
      printf("%-17s%s\n", key, *json_string_value(value) ? json_string_value(value) : "-");
    }
  }
  json_object_foreach(json_object_get(doc, "conflicts"), key, value) {
    printf("CONFLICT on %s: museums wrote different values at the same time; edit it to resolve:\n", key);
    size_t i;
    json_t *v;
    json_array_foreach(value, i, v) printf("  %s %s\n", i == 0 ? "*" : "-", json_string_value(v));
  }
  json_decref(doc);
  return CLI_OK;
}

/* One writing step on an existing object: a register overwrite, or a set
 * add of a raw element. */
/* A governed value (an approval) also needs --motion: the change then
 * depends on the adopted decision it carries out. */
static int object_write(cli_t *cli, const char *arg, uint64_t type, uint64_t field, const char *text,
                        cs_span_t element, const char *motion_arg, const char *done) {
  cs_txn_t txn;
  uint8_t club[CS_ID_LEN], id[CS_ID_LEN], deps[2][CS_ID_LEN];
  cs_object_t obj;
  int code = cli_begin_write(cli, &txn, club, CLI_ROLES_CLUB, "change meetings or documents");
  if (code) return code;
  code = cli_object(cli, &txn, club, arg, type, id, &obj);
  const char *verb = NULL;
  if (!code && text) {
    cs_buf_t v;
    cs_buf_init(&v, CS_TEXT_MAX + 16);
    cs_mp_write_cstr(&v, text);
    verb = cs_model_governed(type, field, cs_buf_span(&v));
    cs_buf_free(&v);
  }
  if (!code && verb && (code = cli_decision_deps(cli, &txn, club, motion_arg, verb, id, deps))) cs_object_free(&obj);
  cs_store_abort(&txn);
  if (code) return code;
  cs_buf_t payload;
  cs_buf_init(&payload, CS_CHANGE_PAYLOAD_MAX);
  cs_mp_write_array(&payload, 1);
  if (text) cli_write_overwrite_str(&payload, &obj, id, field, text);
  else if (cs_model_field_kind(type, field) == CS_FIELD_SET) cs_op_write_add_raw(&payload, cs_ref_id(id), field, element);
  else cli_write_overwrite(&payload, &obj, id, field, element);
  cs_object_free(&obj);
  uint8_t change_id[CS_ID_LEN];
  if ((code = cli_commit_deps(cli, club, &payload, verb ? (const uint8_t(*)[CS_ID_LEN])deps : NULL, verb ? 2 : 0,
                              change_id, "cannot record the change")))
    return code;
  char hex[65];
  cs_hex32(id, hex);
  printf("%s\n%s\n", done, hex);
  return CLI_OK;
}

/* Resolves an id argument of another object into a bin 32 element. */
static int id_element(cli_t *cli, const char *arg, uint64_t type, cs_buf_t *out) {
  cs_txn_t txn;
  uint8_t club[CS_ID_LEN], id[CS_ID_LEN];
  int code = cli_read_club(cli, &txn, club);
  if (code) return code;
  code = cli_object(cli, &txn, club, arg, type, id, NULL);
  cs_store_abort(&txn);
  if (!code) cs_mp_write_bin(out, id, CS_ID_LEN);
  return code;
}

static bool status_ok(const char *const *list, const char *status) {
  return status && cs_status_in(list, (cs_span_t){(const uint8_t *)status, strlen(status)});
}

static int meeting_add(cli_t *cli, cli_args_t *args) {
  const char *title = cli_take(args, "--title");
  const char *date = cli_take(args, "--date");
  const char *place = cli_take(args, "--place");
  const char *agenda[32];
  int agenda_count = 0;
  const char *item;
  while ((item = cli_take(args, "--agenda")) != NULL) {
    if (agenda_count == 32) return cli_fail(CLI_USAGE, "at most 32 agenda items when adding a meeting");
    agenda[agenda_count++] = item;
  }
  int code = cli_no_more(cli, args, meeting_usage);
  if (code) return code;
  if (!title || !date) return cli_fail(CLI_USAGE, "meeting add needs --title T and --date D");
  if ((code = cli_check_text("the meeting's title", title, true, CS_TITLE_MAX)) ||
      (code = cli_check_text("the date (--date)", date, true, CLI_DATE_MAX)) ||
      (place && (code = cli_check_text("the place (--place)", place, true, CS_TITLE_MAX))))
    return code;
  cs_txn_t txn;
  uint8_t club[CS_ID_LEN], ids[32][CS_ID_LEN];
  if ((code = cli_begin_write(cli, &txn, club, CLI_ROLES_CLUB, "plan meetings"))) return code;
  for (int i = 0; i < agenda_count && !code; i++)
    code = cli_object(cli, &txn, club, agenda[i], CS_OBJ_REQUEST, ids[i], NULL);
  cs_store_abort(&txn);
  if (code) return code;
  cs_buf_t payload;
  cs_buf_init(&payload, CS_CHANGE_PAYLOAD_MAX);
  cs_ref_t meeting = cs_ref_local(0);
  cs_mp_write_array(&payload, 4 + (place ? 1u : 0u) + (uint32_t)agenda_count);
  cs_op_write_create(&payload, CS_OBJ_MEETING, NULL);
  cs_op_write_set_str(&payload, meeting, CS_F_MEETING_TITLE, title, 0, NULL);
  cs_op_write_set_str(&payload, meeting, CS_F_MEETING_DATE, date, 0, NULL);
  cs_op_write_set_str(&payload, meeting, CS_F_MEETING_STATUS, "planned", 0, NULL);
  if (place) cs_op_write_set_str(&payload, meeting, CS_F_MEETING_PLACE, place, 0, NULL);
  for (int i = 0; i < agenda_count; i++) {
    uint8_t element[CS_ID_LEN + 2] = {0xc4, CS_ID_LEN};
    memcpy(element + 2, ids[i], CS_ID_LEN);
    cs_op_write_add_raw(&payload, meeting, CS_F_MEETING_AGENDA, (cs_span_t){element, sizeof(element)});
  }
  uint8_t change_id[CS_ID_LEN], id[CS_ID_LEN];
  if ((code = cli_commit(cli, club, &payload, change_id, "cannot add the meeting"))) return code;
  cs_op_id(change_id, 0, id);
  char hex[65];
  cs_hex32(id, hex);
  printf("Planned the meeting \"%s\" on %s.\n%s\n", title, date, hex);
  return CLI_OK;
}

int cmd_meeting(cli_t *cli, cli_args_t *args) {
  static const char *const subs[] = {"add", "list", "show", "status", "attend", "agenda", "action", "minutes", NULL};
  const char *sub = cli_next(args);
  if (!sub) return cli_fail_no_sub("meeting", subs);
  bool known = false;
  for (size_t i = 0; subs[i]; i++) known = known || strcmp(sub, subs[i]) == 0;
  if (!known) return cli_fail_unknown("meeting", sub, subs);
  if (strcmp(sub, "add") == 0) return meeting_add(cli, args);
  if (strcmp(sub, "list") == 0) return objects_list(cli, args, CS_OBJ_MEETING, meeting_usage);
  if (strcmp(sub, "show") == 0) return objects_show(cli, args, CS_OBJ_MEETING, meeting_usage);
  const char *motion_arg = cli_take(args, "--motion");
  const char *arg = cli_next(args), *value = cli_next(args);
  int code = cli_no_more(cli, args, meeting_usage);
  if (code) return code;
  if (!arg) return cli_fail(CLI_USAGE, "meeting %s needs the meeting's ID (see 'clubsync meeting --help')", sub);
  cs_buf_t element;
  cs_buf_init(&element, CS_ELEMENT_MAX);
  if (strcmp(sub, "status") == 0) {
    if (!status_ok(cs_meeting_statuses, value))
      return cli_fail(CLI_USAGE, "a meeting's status is planned, convened, held, minutes-review or approved");
    code = object_write(cli, arg, CS_OBJ_MEETING, CS_F_MEETING_STATUS, value, (cs_span_t){0}, motion_arg,
                        "Status changed.");
  } else if (strcmp(sub, "attend") == 0) {
    if (value) return cli_fail(CLI_USAGE, "meeting attend takes only the meeting's ID");
    if ((code = cli_identity(cli))) return code;
    cs_mp_write_bin(&element, cli->secret_key + 32, CS_KEY_LEN);
    code = object_write(cli, arg, CS_OBJ_MEETING, CS_F_MEETING_ATTENDANCE, NULL, cs_buf_span(&element),
                        NULL, "Your museum is listed as present.");
  } else if (strcmp(sub, "agenda") == 0 || strcmp(sub, "minutes") == 0) {
    bool agenda = strcmp(sub, "agenda") == 0;
    if (!value)
      return cli_fail(CLI_USAGE, "meeting %s needs the meeting's ID and the %s's ID", sub, agenda ? "request" : "document");
    if (!(code = id_element(cli, value, agenda ? CS_OBJ_REQUEST : CS_OBJ_DOCUMENT, &element)))
      code = object_write(cli, arg, CS_OBJ_MEETING, agenda ? CS_F_MEETING_AGENDA : CS_F_MEETING_MINUTES, NULL,
                          cs_buf_span(&element), NULL, agenda ? "Added to the agenda." : "Minutes linked.");
  } else if (strcmp(sub, "action") == 0) {
    if (!value) return cli_fail(CLI_USAGE, "meeting action needs ID and the action's TEXT (at most %d bytes)",
                                CS_SET_TEXT_MAX);
    if ((code = cli_check_text("the action", value, true, CS_SET_TEXT_MAX))) {
      cs_buf_free(&element);
      return code;
    }
    cs_mp_write_cstr(&element, value);
    code = object_write(cli, arg, CS_OBJ_MEETING, CS_F_MEETING_ACTIONS, NULL, cs_buf_span(&element), NULL,
                        "Action item added.");
  } else {
    code = cli_fail(CLI_USAGE, "unknown meeting command '%s'; usage: clubsync %s", sub, meeting_usage);
  }
  cs_buf_free(&element);
  return code;
}

static int doc_write_with(cli_t *cli, cli_args_t *args, bool add, const char *body);

/* The body is --body TEXT or --body-file FILE|- (cli_take_long_text). */
static int doc_write(cli_t *cli, cli_args_t *args, bool add) {
  char *body;
  int code = cli_take_long_text(args, "--body", "--body-file", "the body", &body);
  if (code) return code;
  code = doc_write_with(cli, args, add, body);
  free(body);
  return code;
}

static int doc_write_with(cli_t *cli, cli_args_t *args, bool add, const char *body) {
  const char *title = cli_take(args, "--title");
  const char *version = cli_take(args, "--version");
  const char *arg = add ? NULL : cli_next(args);
  int code = cli_no_more(cli, args, doc_usage);
  if (code) return code;
  if (add && !title) return cli_fail(CLI_USAGE, "doc add needs --title T");
  if (!add && (!arg || (!title && !body && !version)))
    return cli_fail(CLI_USAGE, "doc edit needs ID and at least one of --title, --body, --version");
  if ((title && (code = cli_check_text("the document's title", title, true, CS_TITLE_MAX))) ||
      (version && (code = cli_check_text("the version (--version)", version, true, CS_TITLE_MAX))))
    return code;
  cs_txn_t txn;
  uint8_t club[CS_ID_LEN], id[CS_ID_LEN];
  cs_object_t obj;
  cs_object_init(&obj);
  if ((code = cli_begin_write(cli, &txn, club, CLI_ROLES_CLUB, "write procedures"))) return code;
  if (!add) code = cli_object(cli, &txn, club, arg, CS_OBJ_DOCUMENT, id, &obj);
  cs_store_abort(&txn);
  if (code) return code;
  cs_buf_t payload;
  cs_buf_init(&payload, CS_CHANGE_PAYLOAD_MAX);
  const struct {
    uint64_t field;
    const char *value;
  } writes[] = {{CS_F_DOC_TITLE, title}, {CS_F_DOC_BODY, body}, {CS_F_DOC_VERSION, version},
                {CS_F_DOC_STATUS, add ? "draft" : NULL}};
  uint32_t ops = add ? 1u : 0u;
  for (int i = 0; i < 4; i++) ops += writes[i].value ? 1u : 0u;
  cs_mp_write_array(&payload, ops);
  if (add) cs_op_write_create(&payload, CS_OBJ_DOCUMENT, NULL);
  for (int i = 0; i < 4; i++) {
    if (!writes[i].value) continue;
    if (add) cs_op_write_set_str(&payload, cs_ref_local(0), writes[i].field, writes[i].value, 0, NULL);
    else cli_write_overwrite_str(&payload, &obj, id, writes[i].field, writes[i].value);
  }
  cs_object_free(&obj);
  uint8_t change_id[CS_ID_LEN];
  if ((code = cli_commit(cli, club, &payload, change_id, "cannot write the document"))) return code;
  if (add) cs_op_id(change_id, 0, id);
  char hex[65];
  cs_hex32(id, hex);
  printf("%s\n%s\n", add ? "Document added as a draft." : "Document updated.", hex);
  return CLI_OK;
}

int cmd_doc(cli_t *cli, cli_args_t *args) {
  static const char *const subs[] = {"add", "edit", "list", "show", "status", NULL};
  const char *sub = cli_next(args);
  if (!sub) return cli_fail_no_sub("doc", subs);
  if (strcmp(sub, "add") == 0) return doc_write(cli, args, true);
  if (strcmp(sub, "edit") == 0) return doc_write(cli, args, false);
  if (strcmp(sub, "list") == 0) return objects_list(cli, args, CS_OBJ_DOCUMENT, doc_usage);
  if (strcmp(sub, "show") == 0) return objects_show(cli, args, CS_OBJ_DOCUMENT, doc_usage);
  if (strcmp(sub, "status") == 0) {
    const char *motion_arg = cli_take(args, "--motion");
    const char *arg = cli_next(args), *status = cli_next(args);
    int code = cli_no_more(cli, args, doc_usage);
    if (code) return code;
    if (!arg || !status_ok(cs_document_statuses, status))
      return cli_fail(CLI_USAGE, "doc status needs ID and one of draft, reviewed, approved, obsolete");
    return object_write(cli, arg, CS_OBJ_DOCUMENT, CS_F_DOC_STATUS, status, (cs_span_t){0}, motion_arg,
                        "Status changed.");
  }
  return cli_fail_unknown("doc", sub, subs);
}
