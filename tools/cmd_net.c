/* serve, sync, peer add/list, club invite/join: the node on the network. */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
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

/* Picks the club to serve: the store's clubs and the clubs joined by invite
 * (a network key without data yet); --club chooses among several. */
static int net_pick_club(cli_t *cli, uint8_t club[CS_ID_LEN], uint8_t netkey[32], char *name, size_t name_len) {
  char dir[4200];
  snprintf(dir, sizeof(dir), "%s/keys", cli->home);
  DIR *d = opendir(dir);
  int matches = 0;
  struct dirent *e;
  cs_txn_t txn;
  bool have_txn = cs_store_begin(cli->store, false, &txn) == CS_OK;
  while (d && (e = readdir(d))) {
    size_t len = strlen(e->d_name);
    if (len != 64 + 7 || strcmp(e->d_name + 64, ".netkey") != 0) continue;
    char hex[65];
    memcpy(hex, e->d_name, 64);
    hex[64] = '\0';
    uint8_t id[CS_ID_LEN];
    if (cs_unhex32(hex, id)) continue;
    cs_club_info_t info;
    bool known = have_txn && cs_store_club_get(&txn, id, &info) == CS_OK;
    const char *club_name = known ? info.name : "(joined, not yet synced)";
    if (cli->club_arg && strncmp(hex, cli->club_arg, strlen(cli->club_arg)) != 0 &&
        !(known && strcmp(info.name, cli->club_arg) == 0))
      continue;
    memcpy(club, id, CS_ID_LEN);
    snprintf(name, name_len, "%s", club_name);
    matches++;
  }
  if (d) closedir(d);
  if (have_txn) cs_store_abort(&txn);
  if (matches == 0)
    return cli_fail(CLI_NOTFOUND, "no club to sync: create one, or join one with 'clubsync club join CODE'");
  if (matches > 1) return cli_fail(CLI_USAGE, "this node has several clubs; say which with --club ID|NAME");
  if (net_read_key(cli, club, netkey) != 0)
    return cli_fail(CLI_ERROR, "the club's network key in %s/keys is unreadable", cli->home);
  return CLI_OK;
}

/* The peers file: one IP:PORT a line. */
static int net_read_peers(cli_t *cli, char ***out, uint32_t *count) {
  char path[4200], line[512];
  cli_path(cli, "peers", path, sizeof(path));
  FILE *f = fopen(path, "r");
  *out = NULL;
  *count = 0;
  if (!f) return CLI_OK;
  while (fgets(line, sizeof(line), f) && *count < CS_NODE_PEERS_MAX) {
    line[strcspn(line, "\r\n")] = '\0';
    if (!*line) continue;
    char **grown = realloc(*out, (*count + 1) * sizeof(char *));
    if (!grown) break;
    *out = grown;
    (*out)[(*count)++] = strdup(line);
  }
  fclose(f);
  return CLI_OK;
}

static void net_free_peers(char **peers, uint32_t count) {
  for (uint32_t i = 0; i < count; i++) free(peers[i]);
  free(peers);
}

static int net_add_peer(cli_t *cli, const char *address) {
  if (!net_is_dialable(address))
    return cli_fail(CLI_USAGE, "a peer is an IP:PORT to dial, e.g. 192.0.2.10:7450, not '%s'", address);
  char **peers;
  uint32_t count;
  net_read_peers(cli, &peers, &count);
  for (uint32_t i = 0; i < count; i++)
    if (strcmp(peers[i], address) == 0) {
      net_free_peers(peers, count);
      return CLI_OK;
    }
  net_free_peers(peers, count);
  char path[4200];
  cli_path(cli, "peers", path, sizeof(path));
  FILE *f = fopen(path, "a");
  if (!f || fprintf(f, "%s\n", address) < 0 || fclose(f) != 0)
    return cli_fail(CLI_ERROR, "cannot write %s: %s", path, strerror(errno));
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
  uint8_t club[CS_ID_LEN], netkey[32];
  char name[CS_NAME_MAX + 32];
  if ((code = net_pick_club(cli, club, netkey, name, sizeof(name)))) return code;

  char **file_peers = NULL;
  uint32_t file_count = 0;
  if (!once) net_read_peers(cli, &file_peers, &file_count);
  const char **peers = calloc(file_count + extra_count + 1, sizeof(char *));
  uint32_t peer_count = 0;
  if (once) peers[peer_count++] = target;
  for (uint32_t i = 0; i < extra_count; i++) peers[peer_count++] = extra[i];
  for (uint32_t i = 0; i < file_count && peer_count < CS_NODE_PEERS_MAX; i++) peers[peer_count++] = file_peers[i];
  if (!once && !listen && peer_count == 0) listen = "0.0.0.0:7450";

  char status_path[4200], port_path[4200], listen_path[4200];
  cli_path(cli, "serve.status", status_path, sizeof(status_path));
  cli_path(cli, "serve.port", port_path, sizeof(port_path));
  cli_path(cli, "serve.listen", listen_path, sizeof(listen_path));
  cs_node_config_t config = {
      .store = cli->store,
      .secret_key = cli->secret_key,
      .club = club,
      .network_key = netkey,
      .club_name = name,
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
  sodium_memzero(netkey, sizeof(netkey));
  free(peers);
  net_free_peers(file_peers, file_count);
  if (err) return cli_fail(CLI_ERROR, "%s", result.reason[0] ? result.reason : cs_strerror(err));
  if (!once) return CLI_OK;
  if (cli->json)
    cli_print_json(json_pack("{s:b s:I s:I s:I s:I s:I s:I s:s}", "synced", result.synced, "sync_bytes",
                             (json_int_t)result.sync_bytes, "bytes_sent",
                             (json_int_t)result.bytes_sent, "bytes_received", (json_int_t)result.bytes_received,
                             "changes_received", (json_int_t)result.changes_received, "changes_sent",
                             (json_int_t)result.changes_sent, "round_trips", (json_int_t)result.round_trips, "reason",
                             result.reason));
  else if (result.synced)
    printf("In sync with %s: received %llu changes, sent %llu.\n", target,
           (unsigned long long)result.changes_received, (unsigned long long)result.changes_sent);
  if (!result.synced) return cli_fail(CLI_ERROR, "not in sync with %s: %s", target, result.reason);
  return CLI_OK;
}

int cmd_serve(cli_t *cli, cli_args_t *args) { return net_run(cli, args, false); }
int cmd_sync(cli_t *cli, cli_args_t *args) { return net_run(cli, args, true); }

int cmd_peer(cli_t *cli, cli_args_t *args) {
  const char *sub = cli_next(args);
  if (sub && strcmp(sub, "add") == 0) {
    const char *address = cli_next(args);
    int code = cli_no_more(cli, args, "peer add HOST:PORT");
    if (code) return code;
    if (!address) return cli_fail(CLI_USAGE, "peer add needs the peer's IP:PORT");
    if ((code = cli_open(cli, false)) || (code = net_add_peer(cli, address))) return code;
    printf("Added %s; 'clubsync serve' will keep syncing with it.\n", address);
    return CLI_OK;
  }
  if (sub && strcmp(sub, "list") == 0) {
    int code = cli_no_more(cli, args, "peer list");
    if (code || (code = cli_open(cli, false))) return code;
    char **peers;
    uint32_t count;
    net_read_peers(cli, &peers, &count);
    json_t *list = json_array();
    for (uint32_t i = 0; i < count; i++) json_array_append_new(list, json_string(peers[i]));
    net_free_peers(peers, count);
    if (cli->json) return cli_print_json(list);
    size_t i;
    json_t *p;
    json_array_foreach(list, i, p) printf("%s\n", json_string_value(p));
    if (json_array_size(list) == 0) printf("No peers yet: 'clubsync peer add IP:PORT'.\n");
    json_decref(list);
    return CLI_OK;
  }
  return cli_fail(CLI_USAGE, "usage: clubsync peer add HOST:PORT | peer list");
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
  uint8_t club[CS_ID_LEN], netkey[32];
  char name[CS_NAME_MAX + 32];
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
  net_read_peers(cli, &peers, &count);
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
  printf("Invitation to \"%s\". Give it only to the museum you invite (it holds the club's key);\n"
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
    if ((code = net_add_peer(cli, addresses[i]))) return code;
    printf("%s %s", saved++ ? "," : "Peers saved from the invitation ('clubsync peer list'):", addresses[i]);
  }
  if (saved)
    printf(".\n");
  else
    printf("The invitation carries no address to dial: ask the inviter for theirs, then "
           "'clubsync peer add IP:PORT'.\n");
  if (saved < count)
    printf("Left out %u of its entries that name no address to dial (a wildcard such as 0.0.0.0, port 0, "
           "or no IP:PORT at all).\n", count - saved);
  printf("Joined club %s. Give your key ('clubsync whoami') to an admin; once added, 'clubsync serve' syncs.\n", hex);
  printf("%s\n", hex);
  return CLI_OK;
}
