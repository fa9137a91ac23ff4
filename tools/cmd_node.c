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
  if (!museum) return cli_fail(CLI_USAGE, "init needs --museum NAME (your museum's name)");
  if ((code = cli_check_text("the museum's name (--museum)", museum, true, CS_NAME_MAX))) return code;
  if (region && (code = cli_check_text("the region (--region)", region, true, CS_NAME_MAX))) return code;
  if (!region) region = "";
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

/* One club's object: its data, if any, and whether it is the default. */
static int status_club(cli_t *cli, cs_txn_t *txn, const cli_club_entry_t *club, bool is_default, json_t **out) {
  cs_store_counts_t counts;
  cs_club_info_t info;
  int members = 0, err = CS_OK;
  json_t *forks = json_array();
  memset(&counts, 0, sizeof(counts));
  memset(&info, 0, sizeof(info));
  if (club->has_data) {
    if (!err) err = cs_store_club_get(txn, club->id, &info);
    if (!err) err = cs_store_counts(txn, club->id, &counts);
    if (!err) err = cs_store_members(txn, club->id, status_member_count, &members);
    if (!err) err = cs_store_forks(txn, club->id, status_fork_each, forks);
  }
  if (err) {
    json_decref(forks);
    return err;
  }
  char label[CLI_CLUB_LABEL_MAX];
  cli_club_label(club, label, sizeof(label));
  cs_role_t role = club->has_data ? cli_my_role(cli, txn, club->id) : CS_ROLE_NONE;
  *out = json_pack("{s:o s:s s:s s:s s:b s:b s:b s:s s:I s:I s:I s:I s:i s:o s:o}", "id", cli_json_hex(club->id),
                   "name", club->name, "label", label, "software", info.software, "default", is_default, "synced",
                   club->has_data, "network_key", club->has_netkey, "role", cs_role_name(role), "changes",
                   (json_int_t)counts.changes, "invalid", (json_int_t)counts.invalid, "pending",
                   (json_int_t)counts.pending, "objects", (json_int_t)counts.objects, "members", members,
                   "forks_count", json_integer((json_int_t)counts.forks), "forks", forks);
  return *out ? CS_OK : CS_ENOMEM;
}

int cmd_status(cli_t *cli, cli_args_t *args) {
  int code = cli_no_more(cli, args, "status");
  if (!code) code = cli_identity(cli);
  if (!code) code = cli_open(cli, false);
  if (code) return code;
  cs_txn_t txn;
  int err = cs_store_begin(cli->store, false, &txn);
  if (err) return cli_fail_err(err, "cannot read the store");
  cli_club_entry_t *held = NULL;
  uint32_t count = 0;
  err = cli_clubs_held(cli, &txn, &held, &count);
  /* The default as plain commands see it: the chosen one, else the only
   * club with data. */
  uint8_t chosen[CS_ID_LEN];
  bool has_default = cli_default_club(cli, chosen);
  uint32_t with_data = 0;
  for (uint32_t i = 0; i < count; i++) with_data += held[i].has_data;
  json_t *clubs = json_array();
  for (uint32_t i = 0; i < count && !err; i++) {
    json_t *club = NULL;
    bool is_default = has_default ? memcmp(held[i].id, chosen, CS_ID_LEN) == 0 : held[i].has_data && with_data == 1;
    if (!(err = status_club(cli, &txn, &held[i], is_default, &club))) json_array_append_new(clubs, club);
  }
  cs_store_abort(&txn);
  free(held);
  if (err) {
    json_decref(clubs);
    return cli_fail_err(err, "cannot read the store");
  }
  json_t *connections, *last_sync;
  json_t *serve = cli_network_status(cli, clubs, &connections, &last_sync);
  char hex[65];
  cs_hex32(cli->secret_key + 32, hex);
  json_t *doc = json_pack("{s:s s:s s:s s:O s:o s:o s:o}", "key", hex, "museum", cli->museum, "home", cli->home,
                          "clubs", clubs, "serve", serve, "peers", connections, "last_sync", last_sync);
  json_decref(clubs);
  if (cli->json) return cli_print_json(doc);
  printf("node:   %s (%s)\nhome:   %s\n", cli->museum, hex, cli->home);
  if (json_is_true(json_object_get(serve, "running"))) {
    printf("serve:  running (pid %lld)", json_integer_value(json_object_get(serve, "pid")));
    if (json_is_string(json_object_get(serve, "listen")))
      printf(", listening on %s", json_string_value(json_object_get(serve, "listen")));
    printf("\n");
  } else {
    printf("serve:  not running\n");
  }
  size_t i;
  json_t *c;
  json_array_foreach(json_object_get(doc, "clubs"), i, c) {
    bool synced = json_is_true(json_object_get(c, "synced"));
    printf("club:   %s  %s  (you: %s)%s\n", json_string_value(json_object_get(c, "label")),
           json_string_value(json_object_get(c, "id")), json_string_value(json_object_get(c, "role")),
           json_is_true(json_object_get(c, "default")) ? "  [default]" : "");
    if (synced)
      printf("        %lld changes, %lld kept out of the state, %lld pending, %lld objects, %d members\n",
             json_integer_value(json_object_get(c, "changes")), json_integer_value(json_object_get(c, "invalid")),
             json_integer_value(json_object_get(c, "pending")), json_integer_value(json_object_get(c, "objects")),
             (int)json_integer_value(json_object_get(c, "members")));
    else
      printf("        joined; no data yet (serve or sync brings it once an admin added this node's key)\n");
    size_t j;
    json_t *item;
    json_array_foreach(json_object_get(c, "forks"), j, item) {
      printf("        FORK: key %s signed two changes at seq %lld; it is frozen from there (see clubsync audit)\n",
             json_string_value(json_object_get(item, "author")), json_integer_value(json_object_get(item, "seq")));
    }
    if (!json_is_true(json_object_get(c, "network_key")))
      printf("        no network key here (the club came in a bundle): join it with an invitation to sync it\n");
    json_t *peers = json_object_get(c, "peers");
    printf("        peers: ");
    json_array_foreach(peers, j, item) printf("%s%s", j ? ", " : "", json_string_value(item));
    printf("%s\n", json_array_size(peers) ? "" : "none ('clubsync peer add IP:PORT')");
    json_t *last = json_object_get(c, "last_sync_with");
    if (json_is_object(last))
      printf("        last sync: %s with %s\n", json_string_value(json_object_get(c, "last_sync")),
             json_string_value(json_object_get(last, "address")));
    else
      printf("        last sync: never\n");
    json_array_foreach(json_object_get(c, "connections"), j, item) {
      printf("        connected: %s  %s (%s, %s; %lld changes sent, %lld received)\n",
             json_string_value(json_object_get(item, "key")), json_string_value(json_object_get(item, "address")),
             strcmp(json_string_value(json_object_get(item, "direction")), "in") == 0 ? "connected to us"
                                                                                      : "we connected",
             json_string_value(json_object_get(item, "state")),
             json_integer_value(json_object_get(item, "changes_sent")),
             json_integer_value(json_object_get(item, "changes_received")));
    }
  }
  if (json_array_size(json_object_get(doc, "clubs")) == 0)
    printf("clubs:  none yet (clubsync club create NAME, or import a bundle)\n");
  json_decref(doc);
  return CLI_OK;
}
