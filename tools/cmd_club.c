/* club create/list/use, member add/list. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sodium.h>

#include "core/text.h"
#include "tools/cli.h"

static int club_create(cli_t *cli, cli_args_t *args) {
  const char *software = cli_take(args, "--software");
  const char *name = cli_next(args);
  int code = cli_no_more(cli, args, "club create NAME [--software S]");
  if (code) return code;
  if (!name) return cli_fail(CLI_USAGE, "club create needs the club's NAME");
  if ((code = cli_check_text("the club's name", name, true, CS_NAME_MAX))) return code;
  if (software && (code = cli_check_text("the software's name (--software)", software, true, CS_NAME_MAX))) return code;
  if (!software) software = "";
  if ((code = cli_identity(cli)) || (code = cli_open(cli, false)) || (code = cli_before_new_club(cli, NULL)))
    return code;

  /* The network key comes first: a club without it could never sync. */
  uint8_t network_key[32];
  randombytes_buf(network_key, sizeof(network_key));
  cs_buf_t payload;
  cs_buf_init(&payload, CS_CHANGE_PAYLOAD_MAX);
  cs_mp_write_array(&payload, 1);
  cs_op_write_genesis(&payload, name, software, cli->museum);
  uint8_t id[CS_ID_LEN];
  int err = cli_author(cli, NULL, cs_buf_span(&payload), id);
  cs_buf_free(&payload);
  if (err) return cli_fail_err(err, "cannot create the club");
  char hex[65], dir[4200], path[4400];
  cs_hex32(id, hex);
  cli_path(cli, "keys", dir, sizeof(dir));
  if (mkdir(dir, 0700) != 0 && errno != EEXIST)
    return cli_fail(CLI_ERROR, "cannot create %s: %s", dir, strerror(errno));
  snprintf(path, sizeof(path), "%s/%s.netkey", dir, hex);
  int rc = cli_write_private(path, network_key, sizeof(network_key));
  sodium_memzero(network_key, sizeof(network_key));
  if (rc != 0) return cli_fail(CLI_ERROR, "cannot write the club's network key %s: %s", path, strerror(errno));
  printf("Created the club \"%s\"; you (%s) are its first admin.\n", name, cli->museum);
  printf("%s\n", hex);
  return CLI_OK;
}

/* The club plain commands act on: the default club ('club use'), else the
 * only club with data; NULL when they would ask for --club. */
static const cli_club_entry_t *club_effective_default(const cli_t *cli, const cli_club_entry_t *clubs,
                                                      uint32_t count) {
  uint8_t id[CS_ID_LEN];
  if (cli_default_club(cli, id))
    for (uint32_t i = 0; i < count; i++)
      if (memcmp(clubs[i].id, id, CS_ID_LEN) == 0) return &clubs[i];
  const cli_club_entry_t *only = NULL;
  for (uint32_t i = 0; i < count; i++)
    if (clubs[i].has_data) {
      if (only) return NULL;
      only = &clubs[i];
    }
  return only;
}

static int club_list(cli_t *cli, cli_args_t *args) {
  int code = cli_no_more(cli, args, "club list");
  if (!code) code = cli_open(cli, false);
  if (code) return code;
  cs_txn_t txn;
  int err = cs_store_begin(cli->store, false, &txn);
  if (err) return cli_fail_err(err, "cannot read the store");
  cli_club_entry_t *clubs = NULL;
  uint32_t count = 0;
  err = cli_clubs_held(cli, &txn, &clubs, &count);
  if (err) {
    cs_store_abort(&txn);
    return cli_fail_err(err, "cannot list clubs");
  }
  const cli_club_entry_t *current = club_effective_default(cli, clubs, count);
  json_t *list = json_array();
  for (uint32_t i = 0; i < count; i++) {
    cs_club_info_t info;
    memset(&info, 0, sizeof(info));
    if (clubs[i].has_data && (err = cs_store_club_get(&txn, clubs[i].id, &info))) break;
    json_array_append_new(list, json_pack("{s:o s:s s:s s:I s:b s:b s:b}", "id", cli_json_hex(clubs[i].id), "name",
                                          clubs[i].name, "software", info.software, "changes",
                                          (json_int_t)info.change_count, "default", &clubs[i] == current, "synced",
                                          clubs[i].has_data, "network_key", clubs[i].has_netkey));
  }
  cs_store_abort(&txn);
  free(clubs);
  if (err) {
    json_decref(list);
    return cli_fail_err(err, "cannot list clubs");
  }
  if (cli->json) return cli_print_json(list);
  size_t i;
  json_t *c;
  json_array_foreach(list, i, c) {
    const char *software = json_string_value(json_object_get(c, "software"));
    printf("%s %s  ", json_is_true(json_object_get(c, "default")) ? "*" : " ",
           json_string_value(json_object_get(c, "id")));
    if (json_is_true(json_object_get(c, "synced")))
      printf("%s%s%s  (%lld changes)\n", json_string_value(json_object_get(c, "name")), *software ? ", " : "", software,
             json_integer_value(json_object_get(c, "changes")));
    else
      printf("(joined, not yet synced)\n");
  }
  if (json_array_size(list) == 0) printf("No clubs yet: create one with 'clubsync club create NAME'.\n");
  else if (json_array_size(list) > 1)
    printf("* marks the default club, the one commands act on without --club ('clubsync club use NAME|ID').\n");
  json_decref(list);
  return CLI_OK;
}

static int club_use(cli_t *cli, cli_args_t *args) {
  const char *which = cli_next(args);
  int code = cli_no_more(cli, args, "club use NAME|ID");
  if (code) return code;
  if (!which || !*which) return cli_fail(CLI_USAGE, "club use needs the club's NAME or ID ('clubsync club list')");
  if ((code = cli_open(cli, false))) return code;
  cs_txn_t txn;
  int err = cs_store_begin(cli->store, false, &txn);
  if (err) return cli_fail_err(err, "cannot read the store");
  uint8_t club[CS_ID_LEN];
  cli->club_arg = which;
  code = cli_club_pick(cli, &txn, true, club);
  cli_club_entry_t *clubs = NULL;
  uint32_t count = 0;
  if (!code && (err = cli_clubs_held(cli, &txn, &clubs, &count))) code = cli_fail_err(err, "cannot list clubs");
  cs_store_abort(&txn);
  char label[CLI_CLUB_LABEL_MAX] = "";
  for (uint32_t i = 0; i < count; i++)
    if (memcmp(clubs[i].id, club, CS_ID_LEN) == 0) cli_club_label(&clubs[i], label, sizeof(label));
  free(clubs);
  if (code) return code;
  if (cli_set_default_club(cli, club) != 0)
    return cli_fail(CLI_ERROR, "cannot write %s/default-club: %s", cli->home, strerror(errno));
  char hex[65];
  cs_hex32(club, hex);
  printf("The default club is now %s: commands act on it unless given --club.\n%s\n", label, hex);
  return CLI_OK;
}

int cmd_club(cli_t *cli, cli_args_t *args) {
  static const char *const subs[] = {"create", "list", "use", "invite", "join", NULL};
  const char *sub = cli_next(args);
  if (!sub) return cli_fail_no_sub("club", subs);
  if (strcmp(sub, "create") == 0) return club_create(cli, args);
  if (sub && strcmp(sub, "list") == 0) return club_list(cli, args);
  if (sub && strcmp(sub, "use") == 0) return club_use(cli, args);
  if (sub && strcmp(sub, "invite") == 0) return cmd_club_invite(cli, args);
  if (sub && strcmp(sub, "join") == 0) return cmd_club_join(cli, args);
  return cli_fail_unknown("club", sub, subs);
}

/* Finds a member museum whose name folds like a new one (case, accents,
 * spacing, punctuation: cs_text_fold) but is spelled otherwise. */
typedef struct museum_like_ctx_s {
  const char *museum;
  char folded[CS_NAME_MAX + 1];
  char found[CS_NAME_MAX + 1];
} museum_like_ctx_t;

static int museum_like_each(const cs_member_t *m, void *vctx) {
  museum_like_ctx_t *ctx = vctx;
  const cs_member_entry_t *latest = cs_member_latest(m);
  if (!latest || !*latest->museum || strcmp(latest->museum, ctx->museum) == 0) return 0;
  char folded[CS_NAME_MAX + 1];
  cs_text_fold(latest->museum, folded, sizeof(folded));
  if (strcmp(folded, ctx->folded) != 0) return 0;
  snprintf(ctx->found, sizeof(ctx->found), "%s", latest->museum);
  return 1;
}

/* member add sets a key's role; member remove sets it to none. Either way
 * the op carries a cutoff, the key's highest seq this node has seen; the one
 * that applies is the key's highest seq in the change's causal past, which
 * every node computes: the new role applies to what the key writes after it,
 * on every node, whenever the op arrives (a strong remove:
 * docs/governance.md). */
static int member_write(cli_t *cli, cli_args_t *args, bool remove) {
  const char *motion_arg = remove ? cli_take(args, "--motion") : NULL;
  const char *museum_arg = remove ? NULL : cli_take(args, "--museum");
  const char *role_name = remove ? NULL : cli_take(args, "--role");
  bool new_museum = !remove && cli_flag(args, "--new-museum");
  const char *key_hex = cli_next(args);
  int code = cli_no_more(cli, args, remove ? "member remove KEY [--motion ID]"
                                           : "member add KEY --museum NAME --role admin|member|observer|vendor "
                                             "[--new-museum]");
  if (code) return code;
  uint8_t key[CS_KEY_LEN];
  if (!key_hex || cs_unhex32(key_hex, key) != CS_OK)
    return cli_fail(CLI_USAGE, "member %s needs the member's node key: 64 hex characters (clubsync whoami)",
                    remove ? "remove" : "add");
  if (!remove && !museum_arg) return cli_fail(CLI_USAGE, "member add needs --museum NAME (at most %d bytes)", CS_NAME_MAX);
  if (!remove && (code = cli_check_text("the museum's name (--museum)", museum_arg, true, CS_NAME_MAX))) return code;
  cs_role_t role = role_name ? cs_role_parse(role_name) : CS_ROLE_NONE;
  if (!remove && role == CS_ROLE_NONE) return cli_fail(CLI_USAGE, "--role must be admin, member, observer or vendor");
  cs_txn_t txn;
  uint8_t club[CS_ID_LEN];
  if ((code = cli_identity(cli)) || (code = cli_read_club(cli, &txn, club))) return code;
  if (cli_my_role(cli, &txn, club) != CS_ROLE_ADMIN) {
    cs_store_abort(&txn);
    return cli_fail(CLI_DENIED, "only a club admin can add or remove members or change roles; ask one of the admins "
                                "('clubsync member list')");
  }
  /* One museum, one vote: a second spelling of a member museum would be a
   * second museum, so it is refused unless the admin says it is another. */
  if (!remove && !new_museum) {
    museum_like_ctx_t like = {museum_arg, "", ""};
    cs_text_fold(museum_arg, like.folded, sizeof(like.folded));
    int found = cs_store_members(&txn, club, museum_like_each, &like);
    if (found == 1 || *like.found) {
      cs_store_abort(&txn);
      return cli_fail(CLI_USAGE, "the club has a museum \"%s\", spelled like \"%s\" but for case, accents or "
                                 "spacing: give --museum \"%s\" for a key of the same museum, or add --new-museum "
                                 "if it is another museum", like.found, museum_arg, like.found);
    }
  }
  cs_member_t *m = malloc(sizeof(*m));
  const cs_member_entry_t *latest = NULL;
  if (m && cs_store_member_get(&txn, club, key, m) == CS_OK) latest = cs_member_latest(m);
  bool demotes_admin = latest && latest->role == CS_ROLE_ADMIN && role != CS_ROLE_ADMIN;
  char museum[CS_NAME_MAX + 1];
  snprintf(museum, sizeof(museum), "%s", museum_arg ? museum_arg : latest ? latest->museum : "");
  bool known = latest && latest->role != CS_ROLE_NONE;
  free(m);
  uint64_t cutoff = cs_store_author_seq(&txn, club, key, NULL);
  uint8_t deps[CS_CHANGE_DEPS_MAX][CS_ID_LEN];
  uint32_t dep_count = 2, heads = 0;
  if (demotes_admin && (code = cli_decision_deps(cli, &txn, club, motion_arg, "remove-admin", key, deps))) {
    cs_store_abort(&txn);
    return code;
  }
  /* A decided removal depends on the decision and on this node's heads, so
   * that its causal past, from which every node computes the cutoff, holds
   * everything the key wrote that this node has seen. */
  if (demotes_admin && cs_store_heads(&txn, club, deps + 2, CS_CHANGE_DEPS_MAX - 2, &heads) == CS_OK) dep_count += heads;
  cs_store_abort(&txn);
  if (remove && !known) return cli_fail(CLI_NOTFOUND, "%s is not a member of this club", key_hex);

  code = cli_restored_guard(cli, club);
  if (code) return code;
  cs_buf_t payload;
  cs_buf_init(&payload, CS_CHANGE_PAYLOAD_MAX);
  cs_mp_write_array(&payload, 1);
  cs_op_write_member(&payload, key, museum, role, cutoff);
  uint8_t id[CS_ID_LEN];
  /* An admin's removal depends on the decision it carries out. */
  int err = demotes_admin ? cli_author_deps(cli, club, cs_buf_span(&payload), (const uint8_t(*)[CS_ID_LEN])deps,
                                            dep_count, id)
                          : cli_author(cli, club, cs_buf_span(&payload), id);
  cs_buf_free(&payload);
  if (err) return cli_fail_err(err, remove ? "cannot remove the member" : "cannot add the member");
  /* The cutoff that applies is the key's highest seq in the change's causal
   * past, which every node computes (docs/decisions.md, 48). */
  cs_member_t *after = malloc(sizeof(*after));
  if (after && cli_read_club(cli, &txn, club) == CLI_OK) {
    if (cs_store_member_get(&txn, club, key, after) == CS_OK)
      for (uint32_t i = 0; i < after->count; i++)
        if (memcmp(after->entries[i].change, id, CS_ID_LEN) == 0) cutoff = after->entries[i].cutoff;
    cs_store_abort(&txn);
  }
  free(after);
  if (remove)
    printf("%s (%s) is removed from the club: whatever that key writes after its change %llu is invalid on every "
           "node.\n",
           museum, key_hex, (unsigned long long)cutoff);
  else printf("%s (%s) is now %s of the club.\n", museum, key_hex, cs_role_name(role));
  printf("%s\n", key_hex);
  return CLI_OK;
}

static int member_list_each(const cs_member_t *m, void *ctx) {
  const cs_member_entry_t *latest = cs_member_latest(m);
  if (!latest) return 0;
  json_array_append_new(ctx, json_pack("{s:o s:s s:s}", "key", cli_json_hex(m->key), "museum", latest->museum, "role",
                                       latest->role == CS_ROLE_NONE ? "removed" : cs_role_name(latest->role)));
  return 0;
}

static int member_list(cli_t *cli, cli_args_t *args) {
  int code = cli_no_more(cli, args, "member list");
  cs_txn_t txn;
  uint8_t club[CS_ID_LEN];
  if (code || (code = cli_read_club(cli, &txn, club))) return code;
  json_t *list = json_array();
  int err = cs_store_members(&txn, club, member_list_each, list);
  cs_store_abort(&txn);
  if (err) {
    json_decref(list);
    return cli_fail_err(err, "cannot list members");
  }
  if (cli->json) return cli_print_json(list);
  size_t i;
  json_t *m;
  json_array_foreach(list, i, m) {
    printf("%s  %-8s  %s\n", json_string_value(json_object_get(m, "key")),
           json_string_value(json_object_get(m, "role")), json_string_value(json_object_get(m, "museum")));
  }
  json_decref(list);
  return CLI_OK;
}

int cmd_member(cli_t *cli, cli_args_t *args) {
  static const char *const subs[] = {"add", "remove", "list", NULL};
  const char *sub = cli_next(args);
  if (!sub) return cli_fail_no_sub("member", subs);
  if (strcmp(sub, "add") == 0) return member_write(cli, args, false);
  if (sub && strcmp(sub, "remove") == 0) return member_write(cli, args, true);
  if (sub && strcmp(sub, "list") == 0) return member_list(cli, args);
  return cli_fail_unknown("member", sub, subs);
}
