/* node: init, whoami, status. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "tools/cli.h"

/* Writes bytes to a new file readable by its owner only, atomically (a
 * temporary file renamed into place), so a crash never leaves half a key. */
int cli_write_private(const char *path, const void *data, size_t len) {
  char tmp[4300];
  snprintf(tmp, sizeof(tmp), "%s.tmp", path);
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd < 0) return -1;
  bool ok = write(fd, data, len) == (ssize_t)len && fsync(fd) == 0;
  ok = close(fd) == 0 && ok;
  if (!ok || rename(tmp, path) != 0) {
    unlink(tmp);
    return -1;
  }
  return 0;
}

int cli_write_identity(const char *path, const uint8_t *secret_key, const char *museum, const char *region) {
  cs_buf_t b;
  cs_buf_init(&b, 1024);
  cs_mp_write_array(&b, 4);
  cs_mp_write_uint(&b, 1);
  cs_mp_write_bin(&b, secret_key, CS_SECRET_KEY_LEN);
  cs_mp_write_cstr(&b, museum);
  cs_mp_write_cstr(&b, region);
  int rc = b.failed ? -1 : cli_write_private(path, b.data, b.len);
  sodium_memzero(b.data, b.len);
  cs_buf_free(&b);
  return rc;
}

int cmd_init(cli_t *cli, cli_args_t *args) {
  const char *museum = cli_take(args, "--museum");
  const char *region = cli_take(args, "--region");
  int code = cli_no_more(cli, args, "init --museum NAME [--region R]");
  if (code) return code;
  if (!museum || !*museum) return cli_fail(CLI_USAGE, "init needs --museum NAME (your museum's name)");
  if (!region) region = "";
  if (strlen(museum) > CS_NAME_MAX || strlen(region) > CS_NAME_MAX)
    return cli_fail(CLI_USAGE, "museum and region names are limited to %d bytes", CS_NAME_MAX);
  char path[4200];
  cli_path(cli, "identity", path, sizeof(path));
  if (access(path, F_OK) == 0)
    return cli_fail(CLI_ERROR, "%s already holds a node; use another --home to create a second one", cli->home);
  if ((code = cli_open(cli, true))) return code;

  uint8_t pk[CS_KEY_LEN];
  uint8_t *sk = sodium_malloc(CS_SECRET_KEY_LEN);
  if (!sk) return cli_fail(CLI_ERROR, "out of memory");
  crypto_sign_keypair(pk, sk);
  int rc = cli_write_identity(path, sk, museum, region);
  sodium_free(sk);
  if (rc != 0) return cli_fail(CLI_ERROR, "cannot write the node identity %s: %s", path, strerror(errno));
  char hex[65];
  cs_hex32(pk, hex);
  printf("Created a clubsync node for %s in %s.\n", museum, cli->home);
  printf("Give this node key to a club admin so they can add you (clubsync member add KEY ...):\n");
  printf("%s\n", hex);
  return CLI_OK;
}

int cmd_whoami(cli_t *cli, cli_args_t *args) {
  int code = cli_no_more(cli, args, "whoami");
  if (!code) code = cli_identity(cli);
  if (code) return code;
  const uint8_t *pk = cli->secret_key + 32;
  if (cli->json) {
    json_t *doc = json_pack("{s:o s:s s:s}", "key", cli_json_hex(pk), "museum", cli->museum, "region", cli->region);
    return cli_print_json(doc);
  }
  char hex[65];
  cs_hex32(pk, hex);
  printf("museum: %s\n", cli->museum);
  if (*cli->region) printf("region: %s\n", cli->region);
  printf("key:    %s\n", hex);
  return CLI_OK;
}

typedef struct status_ctx_s {
  cli_t *cli;
  cs_txn_t *txn;
  json_t *clubs;
  int err;
} status_ctx_t;

static int status_fork_each(const uint8_t author[CS_KEY_LEN], uint64_t seq, const uint8_t first[CS_ID_LEN],
                            const uint8_t second[CS_ID_LEN], void *ctx) {
  json_t *forks = ctx;
  json_array_append_new(forks, json_pack("{s:o s:I s:o s:o}", "author", cli_json_hex(author), "seq", (json_int_t)seq,
                                         "first", cli_json_hex(first), "second", cli_json_hex(second)));
  return 0;
}

static int status_member_count(const cs_member_t *m, void *ctx) {
  const cs_member_entry_t *latest = cs_member_latest(m);
  if (latest && latest->role != CS_ROLE_NONE) (*(int *)ctx)++;
  return 0;
}

static int status_club_each(const cs_club_info_t *club, void *vctx) {
  status_ctx_t *ctx = vctx;
  cs_store_counts_t counts;
  int members = 0;
  json_t *forks = json_array();
  if ((ctx->err = cs_store_counts(ctx->txn, club->id, &counts))) return 1;
  if ((ctx->err = cs_store_members(ctx->txn, club->id, status_member_count, &members))) return 1;
  if ((ctx->err = cs_store_forks(ctx->txn, club->id, status_fork_each, forks))) return 1;
  cs_role_t role = cli_my_role(ctx->cli, ctx->txn, club->id);
  json_array_append_new(
      ctx->clubs,
      json_pack("{s:o s:s s:s s:s s:I s:I s:I s:I s:i s:o s:o s:n}", "id", cli_json_hex(club->id), "name", club->name,
                "software", club->software, "role", cs_role_name(role), "changes", (json_int_t)counts.changes,
                "invalid", (json_int_t)counts.invalid, "pending", (json_int_t)counts.pending, "objects",
                (json_int_t)counts.objects, "members", members, "forks_count", json_integer((json_int_t)counts.forks),
                "forks", forks, "last_sync"));
  return 0;
}

int cmd_status(cli_t *cli, cli_args_t *args) {
  int code = cli_no_more(cli, args, "status");
  if (!code) code = cli_identity(cli);
  if (!code) code = cli_open(cli, false);
  if (code) return code;
  cs_txn_t txn;
  int err = cs_store_begin(cli->store, false, &txn);
  if (err) return cli_fail_err(err, "cannot read the store");
  status_ctx_t ctx = {cli, &txn, json_array(), 0};
  err = cs_store_clubs(&txn, status_club_each, &ctx);
  cs_store_abort(&txn);
  if (err || ctx.err) {
    json_decref(ctx.clubs);
    return cli_fail_err(err ? err : ctx.err, "cannot read the store");
  }
  /* A running `serve` records its connections and last sync in
   * serve.status: "last_sync WHEN" and "peer KEY ADDRESS in|out live|syncing". */
  char status_path[4200], line[512];
  cli_path(cli, "serve.status", status_path, sizeof(status_path));
  FILE *f = fopen(status_path, "r");
  json_t *peers = json_array(), *last_sync = json_null();
  while (f && fgets(line, sizeof(line), f)) {
    line[strcspn(line, "\n")] = '\0';
    char key[65], address[300], direction[8], state[16];
    if (strncmp(line, "last_sync ", 10) == 0) {
      json_decref(last_sync);
      last_sync = json_string(line + 10);
    } else if (sscanf(line, "peer %64s %299s %7s %15s", key, address, direction, state) == 4) {
      json_array_append_new(peers, json_pack("{s:s s:s s:s s:s}", "key", key, "address", address, "direction",
                                             direction, "state", state));
    }
  }
  if (f) fclose(f);
  char hex[65];
  cs_hex32(cli->secret_key + 32, hex);
  json_t *doc = json_pack("{s:s s:s s:s s:O s:o s:o}", "key", hex, "museum", cli->museum, "home", cli->home, "clubs",
                          ctx.clubs, "peers", peers, "last_sync", last_sync);
  json_decref(ctx.clubs);
  if (cli->json) return cli_print_json(doc);
  printf("node:   %s (%s)\nhome:   %s\n", cli->museum, hex, cli->home);
  size_t i;
  json_t *c;
  json_array_foreach(ctx.clubs, i, c) {
    printf("club:   %s  %s  (you: %s)\n", json_string_value(json_object_get(c, "name")),
           json_string_value(json_object_get(c, "id")), json_string_value(json_object_get(c, "role")));
    printf("        %lld changes, %lld kept out of the state, %lld pending, %lld objects, %d members\n",
           json_integer_value(json_object_get(c, "changes")), json_integer_value(json_object_get(c, "invalid")),
           json_integer_value(json_object_get(c, "pending")), json_integer_value(json_object_get(c, "objects")),
           (int)json_integer_value(json_object_get(c, "members")));
    size_t j;
    json_t *fork;
    json_array_foreach(json_object_get(c, "forks"), j, fork) {
      printf("        FORK: key %s signed two changes at seq %lld; it is frozen from there (see clubsync audit)\n",
             json_string_value(json_object_get(fork, "author")), json_integer_value(json_object_get(fork, "seq")));
    }
  }
  if (json_array_size(ctx.clubs) == 0) printf("clubs:  none yet (clubsync club create NAME, or import a bundle)\n");
  if (json_is_string(last_sync)) printf("sync:   serve is running; last sync %s\n", json_string_value(last_sync));
  json_t *p;
  json_array_foreach(peers, i, p) {
    printf("peer:   %s  %s (%s, %s)\n", json_string_value(json_object_get(p, "key")),
           json_string_value(json_object_get(p, "address")),
           strcmp(json_string_value(json_object_get(p, "direction")), "in") == 0 ? "connected to us" : "we connected",
           json_string_value(json_object_get(p, "state")));
  }
  if (json_array_size(peers) == 0) printf("peers:  none connected\n");
  json_decref(doc);
  return CLI_OK;
}
