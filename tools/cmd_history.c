/* log, audit, digest: reading the signed history. */
#include <stdlib.h>
#include <string.h>

#include "tools/cli.h"

static const char *field_name(uint64_t type, uint64_t field) {
  const cs_field_spec_t *spec = cs_model_field(type, field);
  return spec ? spec->name : "a field";
}

/* What creating an object of each type is called in `log`, indexed by
 * cs_obj_type_t (0 is no type). */
static const char *const created_whats[] = {
    "created an object", "filed a request",  "commented",        "opened a campaign", "cast a ballot",
    "planned a meeting", "added a document", "proposed a motion", "voted on a motion"};
_Static_assert(CS_ARRAY_LEN(created_whats) == CS_OBJ_TYPE_COUNT, "one phrase per object type");

static const char *created_what(uint64_t type) {
  return type < CS_OBJ_TYPE_COUNT ? created_whats[type] : created_whats[0];
}

/* A value in people's terms: text as is, a key as its museum, an id short,
 * a ballot as its total. */
static void describe_value(cs_txn_t *txn, const uint8_t club[CS_ID_LEN], uint64_t type, uint64_t field,
                           cs_span_t value, char *out, size_t out_len) {
  const cs_field_spec_t *spec = cs_model_field(type, field);
  cs_mp_reader_t r = cs_mp_reader(value);
  uint8_t id[CS_ID_LEN];
  uint64_t number;
  char hex[65];
  out[0] = '\0';
  if (!spec || !value.len) return;
  switch (spec->value) {
  case CS_VALUE_OWN_KEY:
    if (cs_mp_read_bin32(&r, id) == CS_OK) cli_museum_of(txn, club, id, out, out_len);
    return;
  case CS_VALUE_OBJECT:
    if (cs_mp_read_bin32(&r, id) == CS_OK) cs_hex32(id, hex), snprintf(out, out_len, "%.12s", hex);
    return;
  case CS_VALUE_POINTS:
    if (cs_mp_read_uint(&r, &number) == CS_OK) snprintf(out, out_len, "%llu", (unsigned long long)number);
    return;
  case CS_VALUE_ALLOCATION: {
    cs_allocation_t *a = malloc(sizeof(*a));
    if (a && cs_allocation_decode(value, a) == CS_OK)
      snprintf(out, out_len, "%llu points on %u requests", (unsigned long long)a->total, a->count);
    free(a);
    return;
  }
  case CS_VALUE_RESULTS:
    snprintf(out, out_len, "the frozen results");
    return;
  default:
    cs_value_str(value.ptr, value.len, out, out_len);
  }
}

/* Describes a change's ops in people's terms, e.g. "filed a request:
 * Export Joconde; set its status to submitted". */
static void describe_ops(cs_txn_t *txn, const uint8_t club[CS_ID_LEN], const cs_change_t *c, char *out,
                         size_t out_len) {
  cs_op_iter_t it;
  cs_op_t *op = malloc(sizeof(*op));
  size_t used = 0;
  out[0] = '\0';
  if (!op || cs_op_iter_init(&it, c->payload_bytes) != CS_OK) {
    free(op);
    snprintf(out, out_len, "(unreadable)");
    return;
  }
  uint64_t created[CS_LOCAL_REFS_MAX] = {0}; /* object type created by op i, for local refs */
  uint32_t index = 0;
  for (; cs_op_iter_next(&it, op) == CS_OK && used < out_len; index++) {
    char text[161] = "", hex[65];
    uint64_t type = 0;
    if (op->type == CS_OP_CREATE && index < CS_LOCAL_REFS_MAX) created[index] = op->obj_type;
    if (op->obj_local) {
      type = created[op->obj_index];
    } else if (op->type >= CS_OP_SET) {
      cs_object_t obj;
      if (cs_store_object_get(txn, club, op->obj, &obj) == CS_OK) {
        type = obj.type;
        cs_object_free(&obj);
      }
    }
    describe_value(txn, club, type, op->field, op->value, text, sizeof(text));
    int n = 0;
    const char *sep = used ? "; " : "";
    switch (op->type) {
    case CS_OP_GENESIS:
      n = snprintf(out + used, out_len - used, "%screated the club \"%.*s\"", sep, (int)op->name.len,
                   (const char *)op->name.ptr);
      break;
    case CS_OP_MEMBER: {
      char museum[CS_NAME_MAX + 1];
      snprintf(museum, sizeof(museum), "%.*s", (int)op->name.len, (const char *)op->name.ptr);
      n = snprintf(out + used, out_len - used, "%sset %s as %s", sep, museum, cs_role_name((cs_role_t)op->role));
      break;
    }
    case CS_OP_CREATE:
      n = snprintf(out + used, out_len - used, "%s%s", sep, created_what(op->obj_type));
      break;
    case CS_OP_SET:
      if (op->obj_local) {
        n = snprintf(out + used, out_len - used, "%s%s \"%s\"", sep, field_name(type, op->field), text);
      } else {
        cs_hex32(op->obj, hex);
        n = snprintf(out + used, out_len - used, "%sset %s of %.12s to \"%s\"", sep, field_name(type, op->field),
                     hex, text);
      }
      break;
    case CS_OP_ADD:
      n = snprintf(out + used, out_len - used, "%sadded \"%s\" to %s", sep, text, field_name(type, op->field));
      break;
    case CS_OP_REMOVE:
      n = snprintf(out + used, out_len - used, "%sremoved \"%s\" from %s", sep, text, field_name(type, op->field));
      break;
    case CS_OP_DELETE:
      n = snprintf(out + used, out_len - used, "%swithdrew a %s", sep, cli_type_name(type));
      break;
    default:
      break;
    }
    if (n < 0) break;
    used += (size_t)n;
  }
  /* A change with no op merges heads (docs/decisions.md, 61): say so rather
   * than print nothing. */
  if (index == 0) snprintf(out, out_len, "merged heads (no change to the club)");
  free(op);
}

typedef struct log_ctx_s {
  cs_txn_t *txn;
  const uint8_t *club;
  json_t *entries;
} log_ctx_t;

static int log_each(const uint8_t id[CS_ID_LEN], cs_span_t bytes, void *vctx) {
  log_ctx_t *ctx = vctx;
  cs_change_t *c = malloc(sizeof(*c));
  if (!c) return CS_ENOMEM;
  if (cs_change_decode(bytes, c) != CS_OK) {
    free(c);
    return 0; /* audit reports undecodable entries; the log shows what it can */
  }
  char museum[CS_NAME_MAX + 1], what[1024], when[32];
  cli_museum_of(ctx->txn, ctx->club, c->author, museum, sizeof(museum));
  describe_ops(ctx->txn, ctx->club, c, what, sizeof(what));
  cli_time(c->time_ms, when, sizeof(when));
  int status = cs_store_change_status(ctx->txn, id);
  cs_member_t *m = malloc(sizeof(*m));
  cs_role_t role = CS_ROLE_NONE;
  if (m && cs_store_member_get(ctx->txn, ctx->club, c->author, m) == CS_OK) role = cs_member_role_at(m, c->seq);
  free(m);
  json_t *entry = json_pack("{s:o s:s s:o s:s s:I s:s s:I s:s}", "id", cli_json_hex(id), "time", when, "author",
                            cli_json_hex(c->author), "museum", museum, "seq", (json_int_t)c->seq, "role",
                            cs_role_name(role), "lamport", (json_int_t)c->lamport, "what", what);
  if (status != CS_OK) json_object_set_new(entry, "invalid", json_string(cs_strerror(status)));
  json_array_append_new(ctx->entries, entry);
  free(c);
  return 0;
}

int cmd_log(cli_t *cli, cli_args_t *args) {
  int code = cli_no_more(cli, args, "log");
  cs_txn_t txn;
  uint8_t club[CS_ID_LEN];
  if (code || (code = cli_read_club(cli, &txn, club))) return code;
  log_ctx_t ctx = {&txn, club, json_array()};
  int err = cs_store_changes(&txn, club, log_each, &ctx);
  cs_store_abort(&txn);
  if (err) {
    json_decref(ctx.entries);
    return cli_fail_err(err, "cannot read the history");
  }
  if (cli->json) return cli_print_json(ctx.entries);
  size_t i;
  json_t *e;
  json_array_foreach(ctx.entries, i, e) {
    const char *invalid = json_string_value(json_object_get(e, "invalid"));
    printf("%s  %s (%s): %s\n    change %s%s%s\n", json_string_value(json_object_get(e, "time")),
           json_string_value(json_object_get(e, "museum")), json_string_value(json_object_get(e, "role")),
           json_string_value(json_object_get(e, "what")), json_string_value(json_object_get(e, "id")),
           invalid ? "  INVALID: " : "", invalid ? invalid : "");
  }
  json_decref(ctx.entries);
  return CLI_OK;
}

typedef struct audit_ctx_s {
  cs_txn_t *txn;
  const uint8_t *club;
  const uint8_t *only;
  uint64_t verified;
  json_t *failed;
  json_t *invalid;
} audit_ctx_t;

static void audit_failed(audit_ctx_t *ctx, const uint8_t id[CS_ID_LEN], const char *reason) {
  json_array_append_new(ctx->failed, json_pack("{s:o s:s}", "id", cli_json_hex(id), "reason", reason));
}

/* Re-verifies one stored change from its bytes: id, payload hash, signature,
 * its place in the author's chain, and that its validity flag still holds. */
static int audit_each(const uint8_t id[CS_ID_LEN], cs_span_t bytes, void *vctx) {
  audit_ctx_t *ctx = vctx;
  if (ctx->only && memcmp(ctx->only, id, CS_ID_LEN) != 0) return 0;
  cs_change_t *c = malloc(sizeof(*c));
  if (!c) return CS_ENOMEM;
  int err = cs_change_parse_verified(bytes, c);
  if (!err && memcmp(c->id, id, CS_ID_LEN) != 0) err = CS_EHASH;
  if (!err) err = cs_payload_check(c->payload_bytes, !c->has_club);
  if (err) {
    audit_failed(ctx, id, cs_strerror(err));
    free(c);
    return 0;
  }
  int status = cs_store_change_status(ctx->txn, id);
  uint8_t at[CS_ID_LEN];
  if (c->has_club) {
    bool in_chain = cs_store_chain_get(ctx->txn, ctx->club, c->author, c->seq, at) == CS_OK &&
                    memcmp(at, id, CS_ID_LEN) == 0;
    if (!in_chain && status != CS_EFORK) audit_failed(ctx, id, "missing from its author's chain");
    if (in_chain && c->has_prev &&
        (cs_store_chain_get(ctx->txn, ctx->club, c->author, c->seq - 1, at) != CS_OK ||
         memcmp(at, c->prev, CS_ID_LEN) != 0))
      audit_failed(ctx, id, "its previous change is not the stored one");
  }
  if (status != CS_OK) {
    char museum[CS_NAME_MAX + 1];
    cli_museum_of(ctx->txn, ctx->club, c->author, museum, sizeof(museum));
    /* A change kept out because its key was removed says by which change. */
    char reason[256];
    snprintf(reason, sizeof(reason), "%s", cs_strerror(status));
    cs_member_t *m = malloc(sizeof(*m));
    if (status == CS_EAUTH && m && cs_store_member_get(ctx->txn, ctx->club, c->author, m) == CS_OK &&
        cs_member_role_at(m, c->seq) == CS_ROLE_NONE) {
      for (uint32_t i = 0; i < m->count; i++) {
        if (m->entries[i].role != CS_ROLE_NONE || m->entries[i].cutoff >= c->seq) continue;
        char hex[65];
        cs_hex32(m->entries[i].change, hex);
        snprintf(reason, sizeof(reason), "invalidated: its key was removed from the club after its change %llu, by "
                 "change %.12s",
                 (unsigned long long)m->entries[i].cutoff, hex);
      }
    }
    free(m);
    json_array_append_new(ctx->invalid, json_pack("{s:o s:o s:s s:I s:s}", "id", cli_json_hex(id), "author",
                                                  cli_json_hex(c->author), "museum", museum, "seq",
                                                  (json_int_t)c->seq, "reason", reason));
  }
  ctx->verified++;
  free(c);
  return 0;
}

static int audit_fork_each(const uint8_t author[CS_KEY_LEN], uint64_t seq, const uint8_t first[CS_ID_LEN],
                           const uint8_t second[CS_ID_LEN], void *ctx) {
  json_array_append_new(ctx, json_pack("{s:o s:I s:o s:o}", "author", cli_json_hex(author), "seq", (json_int_t)seq,
                                       "first", cli_json_hex(first), "second", cli_json_hex(second)));
  return 0;
}

int cmd_audit(cli_t *cli, cli_args_t *args) {
  const char *only_arg = cli_next(args);
  int code = cli_no_more(cli, args, "audit [ID]");
  cs_txn_t txn;
  uint8_t club[CS_ID_LEN], only[CS_ID_LEN];
  if (code || (code = cli_read_club(cli, &txn, club))) return code;
  if (only_arg) {
    int err = cs_store_resolve_prefix(&txn, CS_LOOKUP_CHANGE, NULL, only_arg, only);
    if (err) {
      cs_store_abort(&txn);
      return err == CS_EINVAL ? cli_fail(CLI_USAGE, "'%s' is not a change id", only_arg)
                              : cli_fail_err(err, "no such change");
    }
  }
  audit_ctx_t ctx = {&txn, club, only_arg ? only : NULL, 0, json_array(), json_array()};
  json_t *forks = json_array();
  int err = cs_store_changes(&txn, club, audit_each, &ctx);
  if (!err) err = cs_store_forks(&txn, club, audit_fork_each, forks);
  cs_store_abort(&txn);
  json_t *doc = json_pack("{s:I s:o s:o s:o}", "verified", (json_int_t)ctx.verified, "failed", ctx.failed,
                          "invalidated", ctx.invalid, "forks", forks);
  if (err) {
    json_decref(doc);
    return cli_fail_err(err, "cannot read the history");
  }
  if (only_arg && ctx.verified == 0 && json_array_size(ctx.failed) == 0) {
    json_decref(doc);
    return cli_fail(CLI_NOTFOUND, "change %s is not in this club", only_arg);
  }
  size_t failures = json_array_size(ctx.failed);
  if (cli->json) {
    cli_print_json(doc);
  } else {
    printf("Verified %llu signed changes: ids, payload hashes, signatures and chains.\n",
           (unsigned long long)ctx.verified);
    size_t i;
    json_t *e;
    json_array_foreach(ctx.failed, i, e) printf("TAMPERED: change %s: %s\n", json_string_value(json_object_get(e, "id")),
                                                json_string_value(json_object_get(e, "reason")));
    json_array_foreach(ctx.invalid, i, e)
      printf("kept out of the state: change %s by %s (seq %lld): %s\n", json_string_value(json_object_get(e, "id")),
             json_string_value(json_object_get(e, "museum")), json_integer_value(json_object_get(e, "seq")),
             json_string_value(json_object_get(e, "reason")));
    json_array_foreach(forks, i, e)
      printf("FORK: key %s signed two changes at seq %lld (%s, %s); frozen from there\n",
             json_string_value(json_object_get(e, "author")), json_integer_value(json_object_get(e, "seq")),
             json_string_value(json_object_get(e, "first")), json_string_value(json_object_get(e, "second")));
    printf(failures ? "Audit FAILED: the store holds altered data.\n" : "Audit passed.\n");
    json_decref(doc);
  }
  if (failures) return cli_fail(CLI_INVALID, "%zu stored changes do not verify", failures);
  return CLI_OK;
}

int cmd_digest(cli_t *cli, cli_args_t *args) {
  int code = cli_no_more(cli, args, "digest");
  cs_txn_t txn;
  uint8_t club[CS_ID_LEN], digest[32];
  if (code || (code = cli_read_club(cli, &txn, club))) return code;
  int err = cs_store_digest(&txn, club, digest);
  cs_store_abort(&txn);
  if (err) return cli_fail_err(err, "cannot compute the digest");
  char hex[65];
  cs_hex32(digest, hex);
  if (cli->json) return cli_print_json(json_pack("{s:s s:o}", "digest", hex, "club", cli_json_hex(club)));
  printf("%s\n", hex);
  return CLI_OK;
}
