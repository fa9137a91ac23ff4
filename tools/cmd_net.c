/* serve, sync, peer add/list, club invite/join: the node on the network. */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "net/node.h"
#include "tools/cli.h"

#define NET_INVITE_PREFIX "clubsync1:"
#define NET_INVITE_BYTES_MAX 20480 /* an invitation before base64: 64 addresses of 255-byte hosts fit */
#define NET_ADDRESS_MAX 264        /* "[" 255-byte host "]:" 5-digit port, and the NUL */

/* True when HOST is an IP literal that names no one machine (0.0.0.0, ::,
 * ::ffff:0.0.0.0): fine to listen on, but a peer that dials it reaches itself. */
static bool net_is_wildcard(const char *host) {
  struct in_addr v4;
  struct in6_addr v6;
  if (inet_pton(AF_INET, host, &v4) == 1) return v4.s_addr == htonl(INADDR_ANY);
  if (inet_pton(AF_INET6, host, &v6) != 1) return false;
  static const uint8_t zero[4] = {0};
  return IN6_IS_ADDR_UNSPECIFIED(&v6) || (IN6_IS_ADDR_V4MAPPED(&v6) && memcmp(&v6.s6_addr[12], zero, 4) == 0);
}

/* An address another node can dial: HOST:PORT with a port other than 0 and
 * a host that is not a wildcard. */
static bool net_is_dialable(const char *address) {
  /* Printable and without spaces: the peers file holds one address a line. */
  for (const char *c = address; *c; c++)
    if (*c <= ' ' || *c > '~') return false;
  char host[256];
  int port;
  return strlen(address) < NET_ADDRESS_MAX && cs_node_parse_address(address, host, sizeof(host), &port) && port != 0 &&
         !net_is_wildcard(host);
}

/* --listen takes an IP address of this machine and a port (0: any free one);
 * anything else is a usage error that says which part is wrong. */
static int net_check_listen(const char *listen) {
  const char *colon = strrchr(listen, ':');
  if (!colon || colon == listen)
    return cli_fail(CLI_USAGE, "--listen wants IP:PORT, e.g. 0.0.0.0:7450, not '%s'", listen);
  const char *port = colon + 1;
  size_t digits = strspn(port, "0123456789");
  if (digits == 0 || port[digits] != '\0')
    return cli_fail(CLI_USAGE, "--listen %s: the port '%s' is not a number from 0 to 65535", listen, port);
  if (digits > 5 || strtol(port, NULL, 10) > 65535)
    return cli_fail(CLI_USAGE, "--listen %s: the port %s is out of range (0 to 65535; 0 takes any free port)", listen,
                    port);
  char host[256];
  int unused;
  struct in6_addr ip;
  if (!cs_node_parse_address(listen, host, sizeof(host), &unused) ||
      (inet_pton(AF_INET, host, &ip) != 1 && inet_pton(AF_INET6, host, &ip) != 1))
    return cli_fail(CLI_USAGE, "--listen %s: '%.*s' is not an IP address (0.0.0.0 listens on every interface)",
                    listen, (int)(colon - listen), listen);
  return CLI_OK;
}

_Static_assert(CLI_CLUBS_MAX <= CS_NODE_CLUBS_MAX, "serve serves every club a node may hold");
_Static_assert(CLI_CLUB_LABEL_MAX == CS_NODE_LABEL_MAX, "a club label fits the node's");

/* Reads the club's network key from HOME/keys/<club>.netkey. */
static int net_read_key(cli_t *cli, const uint8_t club[CS_ID_LEN], uint8_t key[32]) {
  char hex[65], path[4300];
  cs_hex32(club, hex);
  snprintf(path, sizeof(path), "%s/keys/%s.netkey", cli->home, hex);
  int fd = open(path, O_RDONLY);
  if (fd < 0) return -1;
  ssize_t n = read(fd, key, 32);
  close(fd);
  return n == 32 ? 0 : -1;
}

/* A club's own network files live in HOME/clubs/<club id>/ (docs/store.md,
 * "The home"): `peers`, the addresses serve dials for it, one IP:PORT a
 * line; `last-sync`, its last session that caught up, "WHEN ADDRESS KEY". */
static void net_club_path(const cli_t *cli, const uint8_t club[CS_ID_LEN], const char *name, char *out,
                          size_t out_len) {
  char hex[65];
  cs_hex32(club, hex);
  snprintf(out, out_len, "%s/clubs/%s/%s", cli->home, hex, name);
}

static int net_club_dir(const cli_t *cli, const uint8_t club[CS_ID_LEN]) {
  char dir[4300], hex[65];
  cs_hex32(club, hex);
  snprintf(dir, sizeof(dir), "%s/clubs", cli->home);
  if (mkdir(dir, 0700) != 0 && errno != EEXIST) return -1;
  snprintf(dir, sizeof(dir), "%s/clubs/%s", cli->home, hex);
  if (mkdir(dir, 0700) != 0 && errno != EEXIST) return -1;
  return 0;
}

/* Reads a peers file, up to CS_NODE_PEERS_MAX addresses. */
static void net_read_peers_file(const char *path, char ***out, uint32_t *count) {
  char line[512];
  FILE *f = fopen(path, "r");
  *out = NULL;
  *count = 0;
  if (!f) return;
  while (fgets(line, sizeof(line), f) && *count < CS_NODE_PEERS_MAX) {
    line[strcspn(line, "\r\n")] = '\0';
    if (!*line) continue;
    char **grown = realloc(*out, (*count + 1) * sizeof(char *));
    char *copy = strdup(line);
    if (!grown || !copy) {
      free(copy);
      if (grown) *out = grown;
      break;
    }
    *out = grown;
    (*out)[(*count)++] = copy;
  }
  fclose(f);
}

static void net_read_peers(const cli_t *cli, const uint8_t club[CS_ID_LEN], char ***out, uint32_t *count) {
  char path[4400];
  net_club_path(cli, club, "peers", path, sizeof(path));
  net_read_peers_file(path, out, count);
}

static void net_free_peers(char **peers, uint32_t count) {
  for (uint32_t i = 0; i < count; i++) free(peers[i]);
  free(peers);
}

/* Writes a club's peers file whole, through a rename. */
static int net_write_peers(const cli_t *cli, const uint8_t club[CS_ID_LEN], char *const *peers, uint32_t count) {
  char path[4400], tmp[4500];
  if (net_club_dir(cli, club) != 0) return -1;
  net_club_path(cli, club, "peers", path, sizeof(path));
  snprintf(tmp, sizeof(tmp), "%s.tmp", path);
  FILE *f = fopen(tmp, "w");
  if (!f) return -1;
  bool ok = true;
  for (uint32_t i = 0; i < count; i++) ok = fprintf(f, "%s\n", peers[i]) >= 0 && ok;
  ok = fclose(f) == 0 && ok;
  if (!ok || rename(tmp, path) != 0) {
    remove(tmp);
    return -1;
  }
  return 0;
}

/* Adds an address to a club's peers (once); sets *added when it was new. */
static int net_add_peer(const cli_t *cli, const uint8_t club[CS_ID_LEN], const char *address, bool *added) {
  if (!net_is_dialable(address))
    return cli_fail(CLI_USAGE, "a peer is an IP:PORT to dial, e.g. 192.0.2.10:7450, not '%s'", address);
  char **peers;
  uint32_t count;
  net_read_peers(cli, club, &peers, &count);
  bool known = false;
  for (uint32_t i = 0; i < count; i++) known = known || strcmp(peers[i], address) == 0;
  int code = CLI_OK;
  if (added) *added = !known;
  if (!known && count >= CS_NODE_PEERS_MAX) {
    code = cli_fail(CLI_ERROR, "this club has %d peers already, the most serve dials; remove one with 'clubsync peer "
                               "remove IP:PORT'", CS_NODE_PEERS_MAX);
  } else if (!known) {
    char **grown = realloc(peers, (count + 1) * sizeof(char *));
    if (!grown) {
      code = cli_fail(CLI_ERROR, "out of memory");
    } else {
      peers = grown;
      peers[count++] = strdup(address);
      if (!peers[count - 1] || net_write_peers(cli, club, peers, count) != 0)
        code = cli_fail(CLI_ERROR, "cannot write the peers of the club in %s/clubs: %s", cli->home, strerror(errno));
    }
  }
  net_free_peers(peers, count);
  return code;
}

/* Peers were kept per home before a node could serve several clubs: the
 * old HOME/peers file moves to every club whose network key the node holds
 * (an old node served one club at a time, with the same peers whichever it
 * was; one that dials a peer with a club it does not serve is refused and
 * retries with backoff, and `peer remove --club` takes it out). Nothing
 * moves while the node holds no network key. */
static void net_migrate_peers(cli_t *cli) {
  char old[4200];
  cli_path(cli, "peers", old, sizeof(old));
  if (access(old, F_OK) != 0) return;
  cli_club_entry_t *clubs = NULL;
  uint32_t club_count = 0;
  if (cli_clubs_held(cli, NULL, &clubs, &club_count) != CS_OK) return;
  char **peers;
  uint32_t count;
  net_read_peers_file(old, &peers, &count);
  bool moved = club_count > 0;
  for (uint32_t c = 0; c < club_count && moved; c++) {
    char **have;
    uint32_t have_count;
    net_read_peers(cli, clubs[c].id, &have, &have_count);
    char **all = calloc(have_count + count + 1, sizeof(char *));
    uint32_t n = 0;
    for (uint32_t i = 0; all && i < have_count; i++) all[n++] = have[i];
    for (uint32_t i = 0; all && i < count && n < CS_NODE_PEERS_MAX; i++) {
      bool known = false;
      for (uint32_t j = 0; j < n; j++) known = known || strcmp(all[j], peers[i]) == 0;
      if (!known) all[n++] = peers[i];
    }
    moved = all && net_write_peers(cli, clubs[c].id, all, n) == 0;
    free(all);
    net_free_peers(have, have_count);
  }
  if (moved && remove(old) == 0)
    fprintf(stderr, "clubsync: peers are kept per club now: moved the %u addresses of %s to %s/clubs/<club id>/peers "
                    "for each of the %u clubs ('clubsync peer list --club NAME')\n",
            (unsigned)count, old, cli->home, (unsigned)club_count);
  net_free_peers(peers, count);
  free(clubs);
}

/* The club a network command acts on (--club, else the default, else the
 * only one), which must have its network key here. */
static int net_pick_club(cli_t *cli, uint8_t club[CS_ID_LEN], uint8_t netkey[32], char *label, size_t label_len) {
  cs_txn_t txn;
  int err = cs_store_begin(cli->store, false, &txn);
  if (err) return cli_fail_err(err, "cannot read the store");
  int code = cli_club_pick(cli, &txn, true, club);
  cli_club_entry_t *clubs = NULL;
  uint32_t count = 0;
  if (!code && (err = cli_clubs_held(cli, &txn, &clubs, &count))) code = cli_fail_err(err, "cannot list clubs");
  cs_store_abort(&txn);
  for (uint32_t i = 0; i < count && !code; i++)
    if (memcmp(clubs[i].id, club, CS_ID_LEN) == 0) cli_club_label(&clubs[i], label, label_len);
  free(clubs);
  if (code) return code;
  if (net_read_key(cli, club, netkey) != 0)
    return cli_fail(CLI_ERROR, "this node has no network key for club %s (it came in a bundle): join it with an "
                               "invitation code ('clubsync club join CODE') to sync it", label);
  return CLI_OK;
}

/* One `serve` per home: an exclusive flock on HOME/serve.lock, held as long
 * as the process lives (the kernel releases it when the process dies, even
 * by kill -9), with the holder's pid in the file for the message. */
static int net_lock_home(cli_t *cli, int *fd_out) {
  char path[4200];
  cli_path(cli, "serve.lock", path, sizeof(path));
  int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return cli_fail(CLI_ERROR, "cannot open %s: %s", path, strerror(errno));
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int why = errno;
    char pid[32] = "";
    ssize_t n = pread(fd, pid, sizeof(pid) - 1, 0);
    close(fd);
    pid[n > 0 ? n : 0] = '\0';
    pid[strcspn(pid, "\r\n")] = '\0';
    if (why != EWOULDBLOCK) return cli_fail(CLI_ERROR, "cannot lock %s: %s", path, strerror(why));
    if (*pid)
      return cli_fail(CLI_ERROR, "serve is already running on %s (pid %s); one serve per home: stop it first "
                                 "(kill %s), or give another --home", cli->home, pid, pid);
    return cli_fail(CLI_ERROR, "serve is already running on %s; one serve per home: stop it first, or give another "
                               "--home", cli->home);
  }
  char pid[32];
  int len = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
  if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)len, 0) != len) {
    close(fd);
    return cli_fail(CLI_ERROR, "cannot write %s: %s", path, strerror(errno));
  }
  *fd_out = fd;
  return CLI_OK;
}

static cs_log_level_t net_log_level(const char *name, bool *ok) {
  *ok = true;
  if (!name || strcmp(name, "info") == 0) return CS_LOG_INFO;
  if (strcmp(name, "error") == 0) return CS_LOG_ERROR;
  if (strcmp(name, "warn") == 0) return CS_LOG_WARN;
  if (strcmp(name, "debug") == 0) return CS_LOG_DEBUG;
  *ok = false;
  return CS_LOG_INFO;
}

/* The clubs serve serves: every club whose network key this node holds. */
static int net_serve_clubs(cli_t *cli, cs_node_club_t *out, uint32_t *count, char (*last_sync)[4400]) {
  cs_txn_t txn;
  int err = cs_store_begin(cli->store, false, &txn);
  if (err) return cli_fail_err(err, "cannot read the store");
  cli_club_entry_t *clubs = NULL;
  uint32_t held = 0;
  err = cli_clubs_held(cli, &txn, &clubs, &held);
  cs_store_abort(&txn);
  if (err) return cli_fail_err(err, "cannot list clubs");
  *count = 0;
  for (uint32_t i = 0; i < held; i++) {
    char label[CLI_CLUB_LABEL_MAX];
    cli_club_label(&clubs[i], label, sizeof(label));
    if (!clubs[i].has_netkey) {
      fprintf(stderr, "clubsync: warning: club %s came in a bundle without its network key, so serve cannot sync "
                      "it; join it with an invitation code ('clubsync club join CODE') to sync it\n", label);
      continue;
    }
    if (*count == CS_NODE_CLUBS_MAX) {
      fprintf(stderr, "clubsync: warning: serve serves at most %u clubs; club %s is left out\n",
              (unsigned)CS_NODE_CLUBS_MAX, label);
      continue;
    }
    cs_node_club_t *c = &out[*count];
    memcpy(c->id, clubs[i].id, CS_ID_LEN);
    /* A club joined without data yet is named by its id: the label stays
     * as long as serve runs, and its data may come meanwhile. */
    char hex[65];
    cs_hex32(clubs[i].id, hex);
    if (clubs[i].has_data) snprintf(c->label, sizeof(c->label), "%s", label);
    else snprintf(c->label, sizeof(c->label), "%.8s (joined by invitation)", hex);
    if (net_read_key(cli, c->id, c->network_key) != 0 || net_club_dir(cli, c->id) != 0) {
      free(clubs);
      return cli_fail(CLI_ERROR, "the network key of club %s in %s/keys is unreadable", label, cli->home);
    }
    net_club_path(cli, c->id, "last-sync", last_sync[*count], sizeof(last_sync[*count]));
    c->last_sync_path = last_sync[*count];
    (*count)++;
  }
  free(clubs);
  if (*count == 0)
    return cli_fail(CLI_NOTFOUND, "no club to sync: create one, or join one with 'clubsync club join CODE'");
  return CLI_OK;
}

/* serve: every club held, on one port; sync: the chosen club with one peer. */
static int net_run(cli_t *cli, cli_args_t *args, bool once) {
  const char *listen = once ? NULL : cli_take(args, "--listen");
  const char *level_name = cli_take(args, "--log-level");
  const char *extra[CS_NODE_PEERS_MAX];
  uint32_t extra_count = 0;
  const char *peer;
  while (!once && (peer = cli_take(args, "--peer")) != NULL && extra_count < CS_NODE_PEERS_MAX) extra[extra_count++] = peer;
  const char *target = once ? cli_next(args) : NULL;
  int code = cli_no_more(cli, args, once ? "sync HOST:PORT" : "serve [--listen HOST:PORT] [--peer HOST:PORT]...");
  if (code || (listen && (code = net_check_listen(listen)))) return code;
  bool level_ok;
  cs_log_level_t level = net_log_level(level_name, &level_ok);
  if (!level_ok) return cli_fail(CLI_USAGE, "--log-level is error, warn, info or debug");
  if (once && !target) return cli_fail(CLI_USAGE, "sync needs the peer's HOST:PORT");
  if ((code = cli_identity(cli)) || (code = cli_open(cli, false))) return code;
  int lock_fd = -1;
  if (!once && (code = net_lock_home(cli, &lock_fd))) return code;
  net_migrate_peers(cli);

  cs_node_club_t *clubs = sodium_malloc(CS_NODE_CLUBS_MAX * sizeof(*clubs));
  char(*last_sync)[4400] = calloc(CS_NODE_CLUBS_MAX, sizeof(*last_sync));
  cs_node_peer_t peers[CS_NODE_PEERS_MAX];
  char **files[CS_NODE_CLUBS_MAX] = {0};
  uint32_t file_counts[CS_NODE_CLUBS_MAX] = {0};
  uint32_t club_count = 0, peer_count = 0;
  if (!clubs || !last_sync) {
    code = cli_fail(CLI_ERROR, "out of memory");
    goto done;
  }
  if (once || extra_count > 0 || cli->club_arg) {
    /* sync's club, and the club serve's --peer addresses are for (serve
     * serves every club; a --club that names none is an error all the same). */
    uint8_t id[CS_ID_LEN];
    char label[CLI_CLUB_LABEL_MAX];
    if ((code = net_pick_club(cli, id, clubs[0].network_key, label, sizeof(label)))) goto done;
    if (once) {
      memcpy(clubs[0].id, id, CS_ID_LEN);
      snprintf(clubs[0].label, sizeof(clubs[0].label), "%s", label);
      if (net_club_dir(cli, id) != 0) {
        code = cli_fail(CLI_ERROR, "cannot create %s/clubs: %s", cli->home, strerror(errno));
        goto done;
      }
      net_club_path(cli, id, "last-sync", last_sync[0], sizeof(last_sync[0]));
      clubs[0].last_sync_path = last_sync[0];
      club_count = 1;
      peers[peer_count++] = (cs_node_peer_t){target, 0};
    } else {
      if ((code = net_serve_clubs(cli, clubs, &club_count, last_sync))) goto done;
      for (uint32_t c = 0; c < club_count; c++)
        if (memcmp(clubs[c].id, id, CS_ID_LEN) == 0)
          for (uint32_t i = 0; i < extra_count; i++) peers[peer_count++] = (cs_node_peer_t){extra[i], c};
    }
  } else if ((code = net_serve_clubs(cli, clubs, &club_count, last_sync))) {
    goto done;
  }
  if (!once) {
    for (uint32_t c = 0; c < club_count; c++) {
      net_read_peers(cli, clubs[c].id, &files[c], &file_counts[c]);
      for (uint32_t i = 0; i < file_counts[c]; i++) {
        if (peer_count < CS_NODE_PEERS_MAX) peers[peer_count++] = (cs_node_peer_t){files[c][i], c};
        else fprintf(stderr, "clubsync: warning: serve dials at most %d addresses; %s (club %s) is left out\n",
                     CS_NODE_PEERS_MAX, files[c][i], clubs[c].label);
      }
    }
    if (!listen && peer_count == 0) listen = "0.0.0.0:7450";
  }

  char status_path[4200], port_path[4200], listen_path[4200];
  cli_path(cli, "serve.status", status_path, sizeof(status_path));
  cli_path(cli, "serve.port", port_path, sizeof(port_path));
  cli_path(cli, "serve.listen", listen_path, sizeof(listen_path));
  cs_node_config_t config = {
      .store = cli->store,
      .secret_key = cli->secret_key,
      .clubs = clubs,
      .club_count = club_count,
      .listen = listen,
      .peers = peers,
      .peer_count = peer_count,
      .once = once,
      /* `sync` at a terminal shows progress (info); in scripts, warnings only. */
      .log_level = once && !level_name ? (isatty(2) ? CS_LOG_INFO : CS_LOG_WARN) : level,
      .status_path = once ? NULL : status_path,
      .port_path = once ? NULL : port_path,
      /* The address the node bound, for invites; written only once it listens. */
      .listen_path = once ? NULL : listen_path,
      .on_commit = cli_memory_sample,
  };
  cs_node_result_t result;
  int err = cs_node_run(&config, &result);
  if (err) {
    code = cli_fail(CLI_ERROR, "%s", result.reason[0] ? result.reason : cs_strerror(err));
    goto done;
  }
  if (!once) goto done;
  char hex[65];
  cs_hex32(clubs[0].id, hex);
  if (cli->json)
    cli_print_json(json_pack("{s:s s:b s:b s:o s:I s:I s:I s:I s:I s:I s:s}", "club", hex, "synced", result.synced,
                             "interrupted", result.interrupted, "changes_expected",
                             result.expected_known ? json_integer((json_int_t)result.changes_expected) : json_null(),
                             "sync_bytes", (json_int_t)result.sync_bytes, "bytes_sent", (json_int_t)result.bytes_sent,
                             "bytes_received", (json_int_t)result.bytes_received, "changes_received",
                             (json_int_t)result.changes_received, "changes_sent", (json_int_t)result.changes_sent,
                             "round_trips", (json_int_t)result.round_trips, "reason", result.reason));
  if (result.interrupted) {
    /* A live push may bring a change the count did not expect. */
    uint64_t of = result.changes_expected > result.changes_received ? result.changes_expected : result.changes_received;
    if (result.expected_known)
      fprintf(stderr, "clubsync: interrupted after %llu of %llu changes from %s (club %s); the %llu received are "
                      "kept, and the next 'clubsync sync %s' fetches the rest\n",
              (unsigned long long)result.changes_received, (unsigned long long)of, target, clubs[0].label,
              (unsigned long long)result.changes_received, target);
    else
      fprintf(stderr, "clubsync: interrupted before %s said how many changes it would send (club %s); %llu "
                      "received are kept\n", target, clubs[0].label, (unsigned long long)result.changes_received);
    code = CLI_INTERRUPTED;
  } else if (result.synced) {
    if (!cli->json)
      printf("In sync with %s for club %s: received %llu changes, sent %llu.\n", target, clubs[0].label,
             (unsigned long long)result.changes_received, (unsigned long long)result.changes_sent);
  } else {
    code = cli_fail(CLI_ERROR, "not in sync with %s: %s", target, result.reason);
  }
done:
  if (clubs) {
    sodium_memzero(clubs, CS_NODE_CLUBS_MAX * sizeof(*clubs));
    sodium_free(clubs);
  }
  free(last_sync);
  for (uint32_t c = 0; c < CS_NODE_CLUBS_MAX; c++) net_free_peers(files[c], file_counts[c]);
  if (lock_fd >= 0) close(lock_fd);
  return code;
}

int cmd_serve(cli_t *cli, cli_args_t *args) { return net_run(cli, args, false); }
int cmd_sync(cli_t *cli, cli_args_t *args) { return net_run(cli, args, true); }

int cmd_peer(cli_t *cli, cli_args_t *args) {
  const char *sub = cli_next(args);
  bool add = sub && strcmp(sub, "add") == 0, remove_peer = sub && strcmp(sub, "remove") == 0;
  bool list = sub && strcmp(sub, "list") == 0;
  static const char *const subs[] = {"add", "remove", "list", NULL};
  if (!sub) return cli_fail_no_sub("peer", subs);
  if (!add && !remove_peer && !list) return cli_fail_unknown("peer", sub, subs);
  const char *address = list ? NULL : cli_next(args);
  int code = cli_no_more(cli, args, add ? "peer add HOST:PORT" : remove_peer ? "peer remove HOST:PORT" : "peer list");
  if (code) return code;
  if (!list && !address) return cli_fail(CLI_USAGE, "peer %s needs the peer's HOST:PORT", sub);
  if ((code = cli_open(cli, false))) return code;
  net_migrate_peers(cli);
  uint8_t club[CS_ID_LEN], netkey[32];
  char label[CLI_CLUB_LABEL_MAX];
  code = net_pick_club(cli, club, netkey, label, sizeof(label));
  sodium_memzero(netkey, sizeof(netkey));
  if (code) return code;
  if (add) {
    bool added;
    if ((code = net_add_peer(cli, club, address, &added))) return code;
    printf("%s %s for club %s; 'clubsync serve' will keep syncing the club with it.\n", added ? "Added" : "Already had",
           address, label);
    return CLI_OK;
  }
  char **peers;
  uint32_t count;
  net_read_peers(cli, club, &peers, &count);
  if (remove_peer) {
    uint32_t kept = 0;
    for (uint32_t i = 0; i < count; i++) {
      if (strcmp(peers[i], address) == 0) free(peers[i]);
      else peers[kept++] = peers[i];
    }
    if (kept == count) code = cli_fail(CLI_NOTFOUND, "%s is not a peer of club %s ('clubsync peer list')", address, label);
    else if (net_write_peers(cli, club, peers, kept) != 0)
      code = cli_fail(CLI_ERROR, "cannot write the peers of club %s: %s", label, strerror(errno));
    else printf("Removed %s from the peers of club %s.\n", address, label);
    net_free_peers(peers, kept);
    return code;
  }
  json_t *array = json_array();
  for (uint32_t i = 0; i < count; i++) json_array_append_new(array, json_string(peers[i]));
  net_free_peers(peers, count);
  if (cli->json) return cli_print_json(array);
  size_t i;
  json_t *p;
  json_array_foreach(array, i, p) printf("%s\n", json_string_value(p));
  if (json_array_size(array) == 0) printf("No peers yet for club %s: 'clubsync peer add IP:PORT'.\n", label);
  json_decref(array);
  return CLI_OK;
}

/* Invite code: "clubsync1:" + base64url(msgpack [1, club, network key,
 * [addresses], role hint]), docs/protocol.md. It carries the network key:
 * share it like a password, with the museum you invite only. The addresses
 * are the one serve last bound, unless no one can dial it, then the peers. */
int cmd_club_invite(cli_t *cli, cli_args_t *args) {
  const char *role = cli_take(args, "--role");
  int code = cli_no_more(cli, args, "club invite [--role R]");
  if (code) return code;
  if (role && cs_role_parse(role) == CS_ROLE_NONE) return cli_fail(CLI_USAGE, "--role is admin, member, observer or vendor");
  if ((code = cli_open(cli, false))) return code;
  net_migrate_peers(cli);
  uint8_t club[CS_ID_LEN], netkey[32];
  char name[CLI_CLUB_LABEL_MAX];
  if ((code = net_pick_club(cli, club, netkey, name, sizeof(name)))) return code;
  char listen_path[4200], listen[NET_ADDRESS_MAX + 2] = "";
  cli_path(cli, "serve.listen", listen_path, sizeof(listen_path));
  FILE *f = fopen(listen_path, "r");
  if (f) {
    if (fgets(listen, sizeof(listen), f)) listen[strcspn(listen, "\r\n")] = '\0';
    fclose(f);
  }
  char **peers;
  uint32_t count;
  net_read_peers(cli, club, &peers, &count);
  const char *carried[CS_NODE_PEERS_MAX];
  uint32_t carried_count = 0;
  bool own = net_is_dialable(listen);
  if (own) carried[carried_count++] = listen;
  for (uint32_t i = 0; i < count && carried_count < CS_NODE_PEERS_MAX; i++)
    if (net_is_dialable(peers[i]) && !(own && strcmp(peers[i], listen) == 0)) carried[carried_count++] = peers[i];
  cs_buf_t b;
  cs_buf_init(&b, NET_INVITE_BYTES_MAX);
  cs_mp_write_array(&b, 5);
  cs_mp_write_uint(&b, 1);
  cs_mp_write_bin(&b, club, CS_ID_LEN);
  cs_mp_write_bin(&b, netkey, 32);
  cs_mp_write_array(&b, carried_count);
  for (uint32_t i = 0; i < carried_count; i++) cs_mp_write_cstr(&b, carried[i]);
  cs_mp_write_cstr(&b, role ? role : "member");
  sodium_memzero(netkey, sizeof(netkey));
  bool too_long = b.failed;
  char *text = NULL;
  size_t max = sodium_base64_ENCODED_LEN(b.len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  if (!too_long && (text = malloc(max)) != NULL)
    sodium_bin2base64(text, max, b.data, b.len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  if (b.data) sodium_memzero(b.data, b.len);
  cs_buf_free(&b);
  if (!text) {
    net_free_peers(peers, count);
    if (too_long)
      return cli_fail(CLI_ERROR, "the invitation would pass %d bytes: the peers file holds too many long addresses",
                      NET_INVITE_BYTES_MAX);
    return cli_fail_err(CS_ENOMEM, "club invite");
  }
  printf("Invitation to club %s. Give it only to the museum you invite (it holds the club's key);\n"
         "they run 'clubsync club join CODE', then send you their key for 'clubsync member add'.\n", name);
  uint32_t peers_carried = carried_count - (own ? 1u : 0u);
  if (own) {
    printf("It carries this node's address, %s", listen);
    if (peers_carried) printf(", and %u of its peers'", peers_carried);
  } else {
    printf("It carries no address of this node");
    if (peers_carried) printf(" (only %u of its peers')", peers_carried);
    if (*listen)
      printf(": serve listens on %s, which names none to dial (0.0.0.0 is every interface)", listen);
    else
      printf(": it has not listened yet ('clubsync serve --listen IP:PORT')");
    printf("; give the museum yours for 'clubsync sync IP:PORT'");
  }
  printf(".\n%s%s\n", NET_INVITE_PREFIX, text);
  net_free_peers(peers, count);
  sodium_memzero(text, max);
  free(text);
  return CLI_OK;
}

int cmd_club_join(cli_t *cli, cli_args_t *args) {
  const char *code_text = cli_next(args);
  int code = cli_no_more(cli, args, "club join CODE");
  if (code) return code;
  size_t prefix = strlen(NET_INVITE_PREFIX);
  if (!code_text || strncmp(code_text, NET_INVITE_PREFIX, prefix) != 0)
    return cli_fail(CLI_USAGE, "club join needs the invitation CODE (it starts with %s)", NET_INVITE_PREFIX);
  if ((code = cli_open(cli, false))) return code;
  uint8_t bytes[NET_INVITE_BYTES_MAX];
  size_t len;
  if (sodium_base642bin(bytes, sizeof(bytes), code_text + prefix, strlen(code_text + prefix), NULL, &len, NULL,
                        sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0)
    return cli_fail(CLI_INVALID, "this invitation code is damaged; ask for it again");
  /* The whole code is read before anything is written (and before the
   * buffer holding the network key is wiped): a damaged code leaves nothing. */
  cs_mp_reader_t r = cs_mp_reader((cs_span_t){bytes, len});
  uint32_t n, count = 0;
  uint64_t version;
  uint8_t club[CS_ID_LEN], netkey[32];
  char addresses[CS_NODE_PEERS_MAX][NET_ADDRESS_MAX];
  cs_span_t text;
  bool ok = cs_mp_read_array(&r, &n) == CS_OK && n == 5 && cs_mp_read_uint(&r, &version) == CS_OK && version == 1 &&
            cs_mp_read_bin32(&r, club) == CS_OK && cs_mp_read_bin32(&r, netkey) == CS_OK &&
            cs_mp_read_array(&r, &count) == CS_OK && count <= CS_NODE_PEERS_MAX;
  for (uint32_t i = 0; ok && i < count; i++) {
    ok = cs_mp_read_str(&r, &text) == CS_OK;
    /* Too long, or with a NUL inside, is no address: kept empty, left out below. */
    bool fits = ok && text.len < NET_ADDRESS_MAX && !memchr(text.ptr, '\0', text.len);
    memcpy(addresses[i], fits ? text.ptr : (const uint8_t *)"", fits ? text.len : 0);
    addresses[i][fits ? text.len : 0] = '\0';
  }
  ok = ok && cs_mp_read_str(&r, &text) == CS_OK && cs_mp_done(&r); /* the role hint */
  sodium_memzero(bytes, sizeof(bytes));
  if (!ok) {
    sodium_memzero(netkey, sizeof(netkey));
    return cli_fail(CLI_INVALID, "this invitation code is damaged; ask for it again");
  }
  char hex[65], dir[4200], path[4300];
  cs_hex32(club, hex);
  net_migrate_peers(cli);
  if ((code = cli_before_new_club(cli, club))) {
    sodium_memzero(netkey, sizeof(netkey));
    return code;
  }
  snprintf(dir, sizeof(dir), "%s/keys", cli->home);
  if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
    sodium_memzero(netkey, sizeof(netkey));
    return cli_fail(CLI_ERROR, "cannot create %s", dir);
  }
  snprintf(path, sizeof(path), "%s/%s.netkey", dir, hex);
  int rc = cli_write_private(path, netkey, sizeof(netkey));
  sodium_memzero(netkey, sizeof(netkey));
  if (rc != 0) return cli_fail(CLI_ERROR, "cannot write %s: %s", path, strerror(errno));
  uint32_t saved = 0;
  for (uint32_t i = 0; i < count; i++) {
    if (!net_is_dialable(addresses[i])) continue;
    if ((code = net_add_peer(cli, club, addresses[i], NULL))) return code;
    printf("%s %s", saved++ ? "," : "Peers of the club saved from the invitation:", addresses[i]);
  }
  if (saved)
    printf(".\n");
  else
    printf("The invitation carries no address to dial: ask the inviter for theirs, then "
           "'clubsync peer add IP:PORT'.\n");
  if (saved < count)
    printf("Left out %u of its entries that name no address to dial (a wildcard such as 0.0.0.0, port 0, "
           "or no IP:PORT at all).\n", count - saved);
  printf("Joined club %.8s. Give your key ('clubsync whoami') to an admin; once added, 'clubsync serve' syncs it "
         "('clubsync --club %.8s peer list' shows its peers).\n", hex, hex);
  printf("%s\n", hex);
  return CLI_OK;
}

/* status's network side: for each club object of `clubs` (with its "id"),
 * its peers, last sync and serve's connections for it; returns serve's
 * state, and the connections of every club and the latest sync in
 * *connections and *last_sync. */
json_t *cli_network_status(cli_t *cli, json_t *clubs, json_t **connections, json_t **last_sync) {
  net_migrate_peers(cli);
  *connections = json_array();
  *last_sync = json_null();
  /* serve.status is current only while the serve that wrote it lives (a
   * serve killed with -9 leaves it behind). */
  char path[4200], line[1024];
  cli_path(cli, "serve.status", path, sizeof(path));
  FILE *f = fopen(path, "r");
  long pid = 0;
  bool running = false;
  while (f && fgets(line, sizeof(line), f)) {
    line[strcspn(line, "\n")] = '\0';
    char club[65], key[65], address[300], direction[8], state[16];
    unsigned long long sent, received, other;
    if (sscanf(line, "serve %ld", &pid) == 1) {
      running = pid > 0 && (kill((pid_t)pid, 0) == 0 || errno == EPERM);
      if (!running) break;
    } else if (running && sscanf(line, "conn %64s %64s %299s %7s %15s %llu %llu %llu", club, key, address, direction,
                                 state, &sent, &received, &other) == 8) {
      json_array_append_new(*connections,
                            json_pack("{s:s s:s s:s s:s s:s s:I s:I s:I}", "club", club, "key", key, "address", address,
                                      "direction", direction, "state", state, "changes_sent", (json_int_t)sent,
                                      "changes_received", (json_int_t)received, "other_club_refused",
                                      (json_int_t)other));
    }
  }
  if (f) fclose(f);
  char listen[NET_ADDRESS_MAX + 2] = "";
  cli_path(cli, "serve.listen", path, sizeof(path));
  if (running && (f = fopen(path, "r"))) {
    if (fgets(listen, sizeof(listen), f)) listen[strcspn(listen, "\r\n")] = '\0';
    fclose(f);
  }
  size_t i;
  json_t *club;
  json_array_foreach(clubs, i, club) {
    uint8_t id[CS_ID_LEN];
    if (cs_unhex32(json_string_value(json_object_get(club, "id")), id) != CS_OK) continue;
    char **peers;
    uint32_t count;
    net_read_peers(cli, id, &peers, &count);
    json_t *list = json_array();
    for (uint32_t p = 0; p < count; p++) json_array_append_new(list, json_string(peers[p]));
    net_free_peers(peers, count);
    json_object_set_new(club, "peers", list);
    json_t *mine = json_array();
    size_t j;
    json_t *conn;
    json_array_foreach(*connections, j, conn)
      if (strcmp(json_string_value(json_object_get(conn, "club")), json_string_value(json_object_get(club, "id"))) == 0)
        json_array_append(mine, conn);
    json_object_set_new(club, "connections", mine);
    /* last-sync: "WHEN ADDRESS KEY", written when a session caught up. */
    char when[40] = "", address[300] = "", key[65] = "";
    net_club_path(cli, id, "last-sync", path, sizeof(path));
    if ((f = fopen(path, "r"))) {
      if (!fgets(line, sizeof(line), f) || sscanf(line, "%39s %299s %64s", when, address, key) != 3) when[0] = '\0';
      fclose(f);
    }
    json_object_set_new(club, "last_sync", *when ? json_string(when) : json_null());
    json_object_set_new(club, "last_sync_with", *when ? json_pack("{s:s s:s}", "address", address, "key", key)
                                                       : json_null());
    if (*when && (json_is_null(*last_sync) || strcmp(when, json_string_value(*last_sync)) > 0)) {
      json_decref(*last_sync);
      *last_sync = json_string(when);
    }
  }
  return json_pack("{s:b s:o s:o}", "running", running, "pid", running ? json_integer(pid) : json_null(), "listen",
                   running && *listen ? json_string(listen) : json_null());
}
