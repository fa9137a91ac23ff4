/* Shared helpers of the clubsync command. */
#include "tools/cli.h"

#include "core/decision.h"
#include "core/text.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

static void cli__remove(cli_args_t *args, int at, int n) {
  memmove(&args->argv[at], &args->argv[at + n], (size_t)(args->argc - at - n) * sizeof(char *));
  args->argc -= n;
}

const char *cli_take(cli_args_t *args, const char *name) {
  for (int i = 0; i < args->argc; i++) {
    if (strcmp(args->argv[i], name) != 0) continue;
    if (i + 1 >= args->argc) return "";
    const char *value = args->argv[i + 1];
    cli__remove(args, i, 2);
    return value;
  }
  return NULL;
}

int cli_check_text(const char *what, const char *text, bool one_line, size_t max_bytes) {
  int32_t c = 0;
  size_t len = strlen(text);
  switch (cs_text_check((cs_span_t){(const uint8_t *)text, len}, one_line, max_bytes, &c)) {
  case CS_TEXT_OK:
    return CLI_OK;
  case CS_TEXT_UTF8:
    return cli_fail(CLI_USAGE, "%s is not valid UTF-8 text; save it as UTF-8 (in a terminal, LANG should end in "
                               ".UTF-8) and try again", what);
  case CS_TEXT_TOO_LONG:
    if (max_bytes == CS_TEXT_MAX)
      return cli_fail(CLI_USAGE, "%s is %zu bytes; a text holds at most 16 KiB (%d bytes): shorten it, or put the "
                                 "rest in a comment", what, len, CS_TEXT_MAX);
    return cli_fail(CLI_USAGE, "%s is %zu bytes; it holds at most %zu bytes: shorten it", what, len, max_bytes);
  case CS_TEXT_BLANK:
    return cli_fail(CLI_USAGE, "%s is empty or only spaces; write a few words in it", what);
  case CS_TEXT_LINE_BREAK:
    return cli_fail(CLI_USAGE, "%s holds a line break; write it on one line (longer text goes in the body, "
                               "e.g. --body-file FILE)", what);
  case CS_TEXT_CONTROL:
  case CS_TEXT_PROBLEM_COUNT:
    break;
  }
  return cli_fail(CLI_USAGE, "%s holds a control character (U+%04X), which cannot be shown; remove it", what,
                  (unsigned)c);
}

int cli_take_long_text(cli_args_t *args, const char *flag, const char *file_flag, const char *what, char **out) {
  const char *text = cli_take(args, flag);
  const char *path = cli_take(args, file_flag);
  *out = NULL;
  if (text && path) return cli_fail(CLI_USAGE, "give %s or %s, not both", flag, file_flag);
  if (path && !*path) return cli_fail(CLI_USAGE, "%s needs a FILE, or - for standard input", file_flag);
  if (text) {
    int code = cli_check_text(what, text, false, CS_TEXT_MAX);
    if (code) return code;
    if (!(*out = strdup(text))) return cli_fail(CLI_ERROR, "out of memory");
    return CLI_OK;
  }
  if (!path) return CLI_OK;
  bool stdin_ = strcmp(path, "-") == 0;
  FILE *f = stdin_ ? stdin : fopen(path, "rb");
  if (!f) return cli_fail(CLI_ERROR, "cannot read %s: %s; check the file's name", path, strerror(errno));
  /* One byte past the limit tells a text that is too long, without reading
   * a file of any size into memory. */
  char *buf = malloc(CS_TEXT_MAX + 2);
  size_t len = buf ? fread(buf, 1, CS_TEXT_MAX + 1, f) : 0;
  bool failed = buf && ferror(f);
  if (!stdin_) fclose(f);
  if (!buf) return cli_fail(CLI_ERROR, "out of memory");
  if (failed) {
    free(buf);
    return cli_fail(CLI_ERROR, "cannot read %s: %s", stdin_ ? "standard input" : path, strerror(errno));
  }
  buf[len] = '\0';
  if (memchr(buf, '\0', len)) {
    free(buf);
    return cli_fail(CLI_USAGE, "%s holds a NUL byte, so it is not text; give a UTF-8 text file", path);
  }
  if (len > CS_TEXT_MAX) {
    free(buf);
    return cli_fail(CLI_USAGE, "%s is over 16 KiB; a text holds at most 16 KiB (%d bytes): shorten it, or put the "
                               "rest in a comment", stdin_ ? "standard input" : path, CS_TEXT_MAX);
  }
  int code = cli_check_text(what, buf, false, CS_TEXT_MAX);
  if (code) {
    free(buf);
    return code;
  }
  *out = buf;
  return CLI_OK;
}

bool cli_flag(cli_args_t *args, const char *name) {
  for (int i = 0; i < args->argc; i++)
    if (strcmp(args->argv[i], name) == 0) {
      cli__remove(args, i, 1);
      return true;
    }
  return false;
}

const char *cli_next(cli_args_t *args) {
  for (int i = 0; i < args->argc; i++) {
    if (strncmp(args->argv[i], "--", 2) == 0 && args->argv[i][2] != '\0') continue;
    const char *value = args->argv[i];
    cli__remove(args, i, 1);
    return value;
  }
  return NULL;
}

int cli_no_more(cli_t *cli, cli_args_t *args, const char *usage) {
  (void)cli;
  if (args->argc == 0) return CLI_OK;
  /* A family's whole usage is too long for one line: its page has it. */
  if (strstr(usage, " | ")) {
    size_t family = strcspn(usage, " ");
    return cli_fail(CLI_USAGE, "unexpected argument '%s'; see 'clubsync %.*s --help'", args->argv[0], (int)family,
                    usage);
  }
  return cli_fail(CLI_USAGE, "unexpected argument '%s'; usage: clubsync %s", args->argv[0], usage);
}

int cli_fail(int code, const char *fmt, ...) {
  va_list ap;
  fputs("clubsync: error: ", stderr);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  return code;
}

int cli_fail_err(int err, const char *what) {
  switch (err) {
  case CS_EAUTH:
    return cli_fail(CLI_DENIED, "%s: your key is not authorised for this in the club", what);
  case CS_ENOTFOUND:
    return cli_fail(CLI_NOTFOUND, "%s: not found", what);
  case CS_ECLUB:
    return cli_fail(CLI_NOTFOUND, "%s: this node does not belong to that club", what);
  case CS_EAMBIGUOUS:
    return cli_fail(CLI_USAGE, "%s: that prefix matches several ids; give more characters", what);
  case CS_ENOSPC:
    return cli_fail(CLI_ERROR, "%s: the disk or the store is full; free some space and try again (nothing was written)",
                    what);
  case CS_EVERSION:
    return cli_fail(CLI_ERROR, "%s: the store was written by another version of clubsync", what);
  case CS_EIO:
    return cli_fail(CLI_ERROR, "%s: cannot read or write the home directory; check that it exists and is yours", what);
  default:
    if (err >= CS_ETOOBIG && err <= CS_EFORK) return cli_fail(CLI_INVALID, "%s: %s", what, cs_strerror(err));
    return cli_fail(CLI_ERROR, "%s: %s", what, cs_strerror(err));
  }
}

void cli_path(const cli_t *cli, const char *name, char *out, size_t out_len) {
  snprintf(out, out_len, "%s/%s", cli->home, name);
}

int cli_open(cli_t *cli, bool create) {
  struct stat st;
  if (stat(cli->home, &st) != 0) {
    if (!create)
      return cli_fail(CLI_ERROR, "no clubsync home at %s; run 'clubsync init --museum NAME' first", cli->home);
    if (mkdir(cli->home, 0700) != 0)
      return cli_fail(CLI_ERROR, "cannot create the home %s: %s", cli->home, strerror(errno));
  } else if (!S_ISDIR(st.st_mode)) {
    return cli_fail(CLI_ERROR, "the home %s is not a directory", cli->home);
  }
  char path[4200];
  cli_path(cli, "store", path, sizeof(path));
  if (!create && stat(path, &st) != 0)
    return cli_fail(CLI_ERROR, "no clubsync store in %s; run 'clubsync init --museum NAME' first", cli->home);
  int err = cs_store_open(path, &cli->store);
  if (err) return cli_fail_err(err, "cannot open the store");
  return CLI_OK;
}

/* identity file: msgpack [1, secret key (bin 64), museum, region], mode 0600. */
int cli_identity(cli_t *cli) {
  char path[4200];
  cli_path(cli, "identity", path, sizeof(path));
  uint8_t buf[1024];
  int fd = open(path, O_RDONLY);
  if (fd < 0) return cli_fail(CLI_ERROR, "no node identity in %s; run 'clubsync init --museum NAME' first", cli->home);
  ssize_t n = read(fd, buf, sizeof(buf));
  close(fd);
  cs_span_t span = {buf, n > 0 ? (size_t)n : 0};
  cs_mp_reader_t r = cs_mp_reader(span);
  uint32_t count;
  uint64_t version;
  cs_span_t sk, museum, region;
  if (n <= 0 || cs_mp_read_array(&r, &count) || count != 4 || cs_mp_read_uint(&r, &version) || version != 1 ||
      cs_mp_read_bin(&r, &sk) || sk.len != CS_SECRET_KEY_LEN || cs_mp_read_str(&r, &museum) ||
      museum.len > CS_NAME_MAX || cs_mp_read_str(&r, &region) || region.len > CS_NAME_MAX) {
    sodium_memzero(buf, sizeof(buf));
    return cli_fail(CLI_INVALID, "the node identity file %s is damaged", path);
  }
  cli->secret_key = sodium_malloc(CS_SECRET_KEY_LEN);
  if (!cli->secret_key) return cli_fail(CLI_ERROR, "out of memory");
  memcpy(cli->secret_key, sk.ptr, CS_SECRET_KEY_LEN);
  memcpy(cli->museum, museum.ptr, museum.len);
  cli->museum[museum.len] = '\0';
  memcpy(cli->region, region.ptr, region.len);
  cli->region[region.len] = '\0';
  sodium_memzero(buf, sizeof(buf));
  return CLI_OK;
}

void cli_close(cli_t *cli) {
  if (cli->secret_key) sodium_free(cli->secret_key);
  cli->secret_key = NULL;
  cs_store_close(cli->store);
  cli->store = NULL;
}

typedef struct cli__held_s {
  cli_club_entry_t *clubs;
  uint32_t count, cap;
  int err;
} cli__held_t;

static cli_club_entry_t *cli__held_add(cli__held_t *held, const uint8_t id[CS_ID_LEN]) {
  for (uint32_t i = 0; i < held->count; i++)
    if (memcmp(held->clubs[i].id, id, CS_ID_LEN) == 0) return &held->clubs[i];
  if (held->count == held->cap) {
    uint32_t cap = held->cap ? held->cap * 2 : 8;
    cli_club_entry_t *grown = realloc(held->clubs, cap * sizeof(*grown));
    if (!grown) return NULL;
    held->clubs = grown;
    held->cap = cap;
  }
  cli_club_entry_t *e = &held->clubs[held->count++];
  memset(e, 0, sizeof(*e));
  memcpy(e->id, id, CS_ID_LEN);
  return e;
}

static int cli__held_each(const cs_club_info_t *club, void *ctx) {
  cli__held_t *held = ctx;
  cli_club_entry_t *e = cli__held_add(held, club->id);
  if (!e) {
    return held->err = CS_ENOMEM;
  }
  snprintf(e->name, sizeof(e->name), "%s", club->name);
  e->has_data = true;
  return 0;
}

static int cli__held_cmp(const void *a, const void *b) {
  const cli_club_entry_t *x = a, *y = b;
  if (x->has_data != y->has_data) return x->has_data ? -1 : 1;
  int c = strcmp(x->name, y->name);
  return c ? c : memcmp(x->id, y->id, CS_ID_LEN);
}

int cli_clubs_held(cli_t *cli, cs_txn_t *txn, cli_club_entry_t **out, uint32_t *count) {
  cli__held_t held = {NULL, 0, 0, CS_OK};
  int err = txn ? cs_store_clubs(txn, cli__held_each, &held) : CS_OK;
  if (!err) err = held.err;
  char dir[4200];
  cli_path(cli, "keys", dir, sizeof(dir));
  DIR *d = err ? NULL : opendir(dir);
  struct dirent *e;
  while (d && !err && (e = readdir(d)) != NULL) {
    char hex[65];
    uint8_t id[CS_ID_LEN];
    if (strlen(e->d_name) != 64 + 7 || strcmp(e->d_name + 64, ".netkey") != 0) continue;
    memcpy(hex, e->d_name, 64);
    hex[64] = '\0';
    if (cs_unhex32(hex, id) != CS_OK) continue;
    cli_club_entry_t *entry = cli__held_add(&held, id);
    if (!entry) err = CS_ENOMEM;
    else entry->has_netkey = true;
  }
  if (d) closedir(d);
  if (err) {
    free(held.clubs);
    return err;
  }
  if (held.count > 1) qsort(held.clubs, held.count, sizeof(*held.clubs), cli__held_cmp);
  *out = held.clubs;
  *count = held.count;
  return CS_OK;
}

void cli_club_label(const cli_club_entry_t *club, char *out, size_t out_len) {
  char hex[65];
  cs_hex32(club->id, hex);
  if (club->has_data) snprintf(out, out_len, "\"%s\" (%.8s)", club->name, hex);
  else snprintf(out, out_len, "%.8s (joined, not yet synced)", hex);
}

bool cli_default_club(const cli_t *cli, uint8_t out[CS_ID_LEN]) {
  char path[4200], line[80] = "";
  cli_path(cli, "default-club", path, sizeof(path));
  FILE *f = fopen(path, "r");
  if (!f) return false;
  bool ok = fgets(line, sizeof(line), f) != NULL;
  fclose(f);
  line[strcspn(line, "\r\n")] = '\0';
  return ok && cs_unhex32(line, out) == CS_OK;
}

int cli_set_default_club(const cli_t *cli, const uint8_t id[CS_ID_LEN]) {
  char path[4200], hex[66];
  cli_path(cli, "default-club", path, sizeof(path));
  cs_hex32(id, hex);
  hex[64] = '\n';
  return cli_write_private(path, hex, 65);
}

/* The names of the clubs, for a message that asks to choose. */
static void cli__labels(const cli_club_entry_t *clubs, uint32_t count, char *out, size_t out_len) {
  size_t at = 0;
  out[0] = '\0';
  for (uint32_t i = 0; i < count && at + 1 < out_len; i++) {
    char label[CLI_CLUB_LABEL_MAX];
    cli_club_label(&clubs[i], label, sizeof(label));
    int n = snprintf(out + at, out_len - at, "%s%s", i ? ", " : "", label);
    if (n < 0) break;
    at += (size_t)n;
  }
}

/* Whether arg can be an id prefix: 6 to 64 hex characters. */
static bool cli__id_prefix(const char *arg) {
  size_t n = strlen(arg);
  return n >= 6 && n <= 64 && strspn(arg, "0123456789abcdefABCDEF") == n;
}

static bool cli__id_starts(const uint8_t id[CS_ID_LEN], const char *prefix) {
  char hex[65];
  cs_hex32(id, hex);
  for (size_t i = 0; prefix[i]; i++)
    if (hex[i] != (char)tolower((unsigned char)prefix[i])) return false;
  return true;
}

int cli_club_pick(cli_t *cli, cs_txn_t *txn, bool joined_too, uint8_t club[CS_ID_LEN]) {
  cli_club_entry_t *clubs = NULL;
  uint32_t count = 0;
  int err = cli_clubs_held(cli, txn, &clubs, &count);
  if (err) return cli_fail_err(err, "cannot list clubs");
  char names[2048];
  int code = CLI_OK;
  const cli_club_entry_t *chosen = NULL;
  const char *how = NULL;
  if (cli->club_arg) {
    /* An id prefix first, then a name. */
    cli_club_entry_t *matches = malloc((count ? count : 1) * sizeof(*matches));
    uint32_t found = 0;
    for (uint32_t pass = 0; pass < 2 && found == 0 && matches; pass++)
      for (uint32_t i = 0; i < count; i++)
        if (pass == 0 ? cli__id_prefix(cli->club_arg) && cli__id_starts(clubs[i].id, cli->club_arg)
                      : clubs[i].has_data && strcmp(clubs[i].name, cli->club_arg) == 0)
          matches[found++] = clubs[i];
    if (!matches) {
      code = cli_fail(CLI_ERROR, "out of memory");
    } else if (found == 0) {
      code = cli_fail(CLI_NOTFOUND, "no club '%s' on this node; 'clubsync club list' shows them", cli->club_arg);
    } else if (found > 1) {
      cli__labels(matches, found, names, sizeof(names));
      code = cli_fail(CLI_USAGE, "'%s' names several clubs: %s; give the id of the one you mean (at least 6 "
                                 "characters)", cli->club_arg, names);
    } else {
      for (uint32_t i = 0; i < count; i++)
        if (memcmp(clubs[i].id, matches[0].id, CS_ID_LEN) == 0) chosen = &clubs[i];
      how = "--club";
    }
    free(matches);
  } else {
    uint8_t fallback[CS_ID_LEN];
    bool has_default = cli_default_club(cli, fallback);
    for (uint32_t i = 0; i < count && has_default; i++)
      if (memcmp(clubs[i].id, fallback, CS_ID_LEN) == 0) {
        chosen = &clubs[i];
        how = "the default club";
      }
    uint32_t candidates = 0;
    for (uint32_t i = 0; i < count && !chosen; i++)
      if (joined_too || clubs[i].has_data) candidates++;
    for (uint32_t i = 0; i < count && !chosen && candidates == 1; i++)
      if (joined_too || clubs[i].has_data) chosen = &clubs[i];
    if (!chosen && candidates == 0)
      code = cli_fail(CLI_NOTFOUND, "this node belongs to no club yet; create one with 'clubsync club create NAME', "
                                    "join one with 'clubsync club join CODE' or import a club's bundle");
    else if (!chosen) {
      cli__labels(clubs, count, names, sizeof(names));
      code = cli_fail(CLI_USAGE, "this node belongs to several clubs (%s); choose the one plain commands act on "
                                 "with 'clubsync club use NAME|ID', or give --club NAME|ID", names);
    }
  }
  if (chosen && !joined_too && !chosen->has_data) {
    char label[CLI_CLUB_LABEL_MAX];
    cli_club_label(chosen, label, sizeof(label));
    code = cli_fail(CLI_NOTFOUND, "club %s (%s) has no data on this node yet: sync it first ('clubsync sync "
                                  "IP:PORT'), or give another club with --club", label, how);
    chosen = NULL;
  }
  if (chosen) memcpy(club, chosen->id, CS_ID_LEN);
  free(clubs);
  return code;
}

int cli_club(cli_t *cli, cs_txn_t *txn, uint8_t club[CS_ID_LEN]) { return cli_club_pick(cli, txn, false, club); }

int cli_before_new_club(cli_t *cli, const uint8_t new_club[CS_ID_LEN]) {
  cs_txn_t txn;
  int err = cs_store_begin(cli->store, false, &txn);
  if (err) return cli_fail_err(err, "cannot read the store");
  cli_club_entry_t *clubs = NULL;
  uint32_t count = 0;
  err = cli_clubs_held(cli, &txn, &clubs, &count);
  cs_store_abort(&txn);
  if (err) return cli_fail_err(err, "cannot list clubs");
  bool held = false;
  for (uint32_t i = 0; i < count && new_club; i++)
    if (memcmp(clubs[i].id, new_club, CS_ID_LEN) == 0) held = true;
  int code = CLI_OK;
  uint8_t current[CS_ID_LEN];
  if (!held && count >= CLI_CLUBS_MAX) {
    code = cli_fail(CLI_ERROR, "this node holds %u clubs already, the most one node serves on its port; use "
                               "another --home for this one", (unsigned)count);
  } else if (!held && count == 1 && !cli_default_club(cli, current)) {
    char label[CLI_CLUB_LABEL_MAX];
    cli_club_label(&clubs[0], label, sizeof(label));
    if (cli_set_default_club(cli, clubs[0].id) != 0)
      code = cli_fail(CLI_ERROR, "cannot write %s/default-club: %s", cli->home, strerror(errno));
    else if (!cli->json)
      printf("Commands without --club still act on %s, now the default club ('clubsync club use' changes it).\n",
             label);
  }
  free(clubs);
  return code;
}

int cli_read_club(cli_t *cli, cs_txn_t *txn, uint8_t club[CS_ID_LEN]) {
  int code = cli->store ? CLI_OK : cli_open(cli, false);
  if (code) return code;
  int err = cs_store_begin(cli->store, false, txn);
  if (err) return cli_fail_err(err, "cannot read the store");
  if ((code = cli_club(cli, txn, club))) cs_store_abort(txn);
  return code;
}

int cli_object(cli_t *cli, cs_txn_t *txn, const uint8_t club[CS_ID_LEN], const char *arg, uint64_t type,
               uint8_t out[CS_ID_LEN], cs_object_t *obj) {
  (void)cli;
  int err = cs_store_resolve_prefix(txn, CS_LOOKUP_OBJECT, club, arg, out);
  if (err == CS_EINVAL) return cli_fail(CLI_USAGE, "'%s' is not an id (give at least 6 hex characters)", arg);
  if (err == CS_ENOTFOUND) return cli_fail(CLI_NOTFOUND, "no %s with id %s in this club", cli_type_name(type), arg);
  if (err) return cli_fail_err(err, arg);
  cs_object_t tmp, *o = obj ? obj : &tmp;
  if ((err = cs_store_object_get(txn, club, out, o))) return cli_fail_err(err, arg);
  if (type && o->type != type) {
    cs_object_free(o);
    return cli_fail(CLI_NOTFOUND, "%s is not a %s", arg, cli_type_name(type));
  }
  if (!obj) cs_object_free(o);
  return CLI_OK;
}

cs_role_t cli_my_role(cli_t *cli, cs_txn_t *txn, const uint8_t club[CS_ID_LEN]) {
  const uint8_t *key = cli->secret_key + 32;
  cs_member_t *m = malloc(sizeof(*m));
  cs_role_t role = CS_ROLE_NONE;
  if (m && cs_store_member_get(txn, club, key, m) == CS_OK)
    role = cs_member_role_at(m, cs_store_author_seq(txn, club, key, NULL) + 1);
  free(m);
  return role;
}

void cli_museum_of(cs_txn_t *txn, const uint8_t club[CS_ID_LEN], const uint8_t key[CS_KEY_LEN], char *out,
                   size_t out_len) {
  cs_member_t *m = malloc(sizeof(*m));
  const cs_member_entry_t *latest = NULL;
  if (m && cs_store_member_get(txn, club, key, m) == CS_OK) latest = cs_member_latest(m);
  snprintf(out, out_len, "%s", latest ? latest->museum : "unknown museum");
  free(m);
}

int cli_author(cli_t *cli, const uint8_t *club, cs_span_t payload, uint8_t id_out[CS_ID_LEN]) {
  return cli_author_deps(cli, club, payload, NULL, 0, id_out);
}

int cli_author_deps(cli_t *cli, const uint8_t *club, cs_span_t payload, const uint8_t (*deps)[CS_ID_LEN],
                    uint32_t dep_count, uint8_t id_out[CS_ID_LEN]) {
  cs_txn_t txn;
  int err = cs_store_begin(cli->store, true, &txn);
  if (err) return err;
  err = deps ? cs_store_author_deps(&txn, club, cli->secret_key, payload, cli_now_ms(), deps, dep_count, id_out)
             : cs_store_author(&txn, club, cli->secret_key, payload, cli_now_ms(), id_out);
  if (err) {
    cs_store_abort(&txn);
    return err;
  }
  /* Committed before anything is sent anywhere: after a power cut this node
   * can never sign a second, different change with the same seq. */
  return cs_store_commit(&txn);
}

int64_t cli_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void cli_time(int64_t time_ms, char *out, size_t out_len) {
  time_t secs = (time_t)(time_ms / 1000);
  struct tm tm;
  if (!gmtime_r(&secs, &tm) || !strftime(out, out_len, "%Y-%m-%d %H:%M", &tm)) snprintf(out, out_len, "?");
}

int cli_print_json(json_t *doc) {
  if (!doc) return cli_fail(CLI_ERROR, "out of memory");
  /* One buffer and one write: dumping straight to the stream costs a call
   * per token, which dominates a long list. */
  char *text = json_dumps(doc, JSON_INDENT(2));
  json_decref(doc);
  if (!text) return cli_fail(CLI_ERROR, "out of memory");
  size_t len = strlen(text);
  int rc = fwrite(text, 1, len, stdout) == len && fputc('\n', stdout) != EOF ? CLI_OK : CLI_ERROR;
  free(text);
  return rc;
}

/* Collects a dumped element with every line indented one level more, as a
 * whole-array dump would; JSON strings escape their newlines, so every
 * newline the dumper emits is layout. */
typedef struct json_item_buf_s {
  char *text;
  size_t len, capacity;
} json_item_buf_t;

static int json_item_append(const char *chunk, size_t size, void *vbuf) {
  json_item_buf_t *buf = vbuf;
  if (buf->len + 3 * size + 1 > buf->capacity) {
    size_t capacity = 2 * (buf->len + 3 * size + 1);
    char *grown = realloc(buf->text, capacity);
    if (!grown) return -1;
    buf->text = grown;
    buf->capacity = capacity;
  }
  for (size_t i = 0; i < size; i++) {
    buf->text[buf->len++] = chunk[i];
    if (chunk[i] == '\n') {
      buf->text[buf->len++] = ' ';
      buf->text[buf->len++] = ' ';
    }
  }
  return 0;
}

int cli_print_json_item(json_t *doc, size_t index) {
  if (!doc) return cli_fail(CLI_ERROR, "out of memory");
  json_item_buf_t buf = {NULL, 0, 0};
  json_item_append(index ? ",\n" : "[\n", 2, &buf);
  int rc = json_dump_callback(doc, json_item_append, &buf, JSON_INDENT(2));
  json_decref(doc);
  if (rc || !buf.text) {
    free(buf.text);
    return cli_fail(CLI_ERROR, "out of memory");
  }
  rc = fwrite(buf.text, 1, buf.len, stdout) == buf.len ? CLI_OK : CLI_ERROR;
  free(buf.text);
  return rc;
}

int cli_print_json_end(size_t count) {
  fputs(count ? "\n]\n" : "[]\n", stdout);
  return ferror(stdout) ? CLI_ERROR : CLI_OK;
}

json_t *cli_json_hex(const uint8_t bytes[32]) {
  char hex[65];
  cs_hex32(bytes, hex);
  return json_string(hex);
}

static long cli__peak_anon_kib;

static long cli__status_kib(const char *field) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  long kib = -1;
  size_t n = strlen(field);
  while (f && fgets(line, sizeof(line), f))
    if (strncmp(line, field, n) == 0 && line[n] == ':') kib = strtol(line + n + 1, NULL, 10);
  if (f) fclose(f);
  return kib;
}

void cli_memory_sample(void) {
  long anon = cli__status_kib("RssAnon");
  if (anon > cli__peak_anon_kib) cli__peak_anon_kib = anon;
}

void cli_memory_report(void) {
  const char *path = getenv("CLUBSYNC_MEMORY_REPORT");
  if (!path || !*path) return;
  cli_memory_sample();
  FILE *f = fopen(path, "w");
  if (!f) return;
  fprintf(f, "peak_anon_kib %ld\npeak_rss_kib %ld\n", cli__peak_anon_kib, cli__status_kib("VmHWM"));
  fclose(f);
}

/* Indexed by cs_obj_type_t; 0 is no type ("object"). */
static const char *const cli__type_names[] = {"object", "request", "comment",  "campaign", "ballot",
                                              "meeting", "document", "motion", "vote"};
_Static_assert(CS_ARRAY_LEN(cli__type_names) == CS_OBJ_TYPE_COUNT, "one name per object type");

const char *cli_type_name(uint64_t type) {
  const char *name = type < CS_OBJ_TYPE_COUNT ? cli__type_names[type] : "object";
  CS_ASSERT(name != NULL);
  return name;
}

void cli_field_text(const cs_object_t *obj, uint64_t field, char *out, size_t out_len) {
  const cs_entry_t *e;
  out[0] = 0;
  if (cs_object_field(obj, field, &e)) cs_value_str(e->value, e->value_len, out, out_len);
}

int cli_begin_write(cli_t *cli, cs_txn_t *txn, uint8_t club[CS_ID_LEN], unsigned roles, const char *what) {
  int code;
  if ((code = cli_identity(cli)) || (code = cli_open(cli, false))) return code;
  int err = cs_store_begin(cli->store, false, txn);
  if (err) return cli_fail_err(err, "cannot read the store");
  if ((code = cli_club(cli, txn, club))) {
    cs_store_abort(txn);
    return code;
  }
  cs_role_t role = cli_my_role(cli, txn, club);
  if (roles >> role & 1u) return CLI_OK;
  cs_store_abort(txn);
  if (role == CS_ROLE_NONE)
    return cli_fail(CLI_DENIED, "this node's key is not a member of the club yet; give 'clubsync whoami' to an "
                                "admin and sync or import their bundle");
  return cli_fail(CLI_DENIED, "your role (%s) may not %s; ask an admin of the club", cs_role_name(role), what);
}

int cli_commit(cli_t *cli, const uint8_t club[CS_ID_LEN], cs_buf_t *payload, uint8_t change_id[CS_ID_LEN],
               const char *what) {
  return cli_commit_deps(cli, club, payload, NULL, 0, change_id, what);
}

int cli_restored_guard(const cli_t *cli, const uint8_t club[CS_ID_LEN]) {
  char hex[65], marker[4400], synced[4400];
  cs_hex32(club, hex);
  snprintf(marker, sizeof(marker), "%s/clubs/%s/restored", cli->home, hex);
  snprintf(synced, sizeof(synced), "%s/clubs/%s/last-sync", cli->home, hex);
  struct stat m, s;
  if (stat(marker, &m) != 0) return CLI_OK;
  if (stat(synced, &s) == 0 && (s.st_mtim.tv_sec > m.st_mtim.tv_sec ||
                                (s.st_mtim.tv_sec == m.st_mtim.tv_sec && s.st_mtim.tv_nsec >= m.st_mtim.tv_nsec)))
    return CLI_OK;
  return cli_fail(CLI_DENIED, "this node was restored from a backup and has not synced club %.8s since: sync it "
                              "first ('clubsync sync HOST:PORT' or serve), so that it does not sign again what it "
                              "signed after the backup, a fork that would freeze its key (docs/backup.md)", hex);
}

int cli_commit_deps(cli_t *cli, const uint8_t club[CS_ID_LEN], cs_buf_t *payload, const uint8_t (*deps)[CS_ID_LEN],
                    uint32_t dep_count, uint8_t change_id[CS_ID_LEN], const char *what) {
  int code = cli_restored_guard(cli, club);
  if (code) {
    cs_buf_free(payload);
    return code;
  }
  int err = payload->failed ? CS_ETOOBIG : cli_author_deps(cli, club, cs_buf_span(payload), deps, dep_count, change_id);
  cs_buf_free(payload);
  /* Each text was checked against its own limit first: this is their sum. */
  if (err == CS_ETOOBIG)
    return cli_fail(CLI_USAGE, "%s: the texts together are too long (one change holds at most 64 KiB); give them in "
                               "two edits", what);
  return err ? cli_fail_err(err, what) : CLI_OK;
}

void cli_write_overwrite(cs_buf_t *payload, const cs_object_t *obj, const uint8_t id[CS_ID_LEN], uint64_t field,
                         cs_span_t value) {
  uint8_t preds[CS_PREDS_MAX][CS_ID_LEN];
  uint32_t n = 0;
  for (uint32_t i = 0; i < obj->entry_count && n < CS_PREDS_MAX; i++)
    if (obj->entries[i].field == field) memcpy(preds[n++], obj->entries[i].op, CS_ID_LEN);
  cs_op_write_set_raw(payload, cs_ref_id(id), field, value, n, (const uint8_t(*)[CS_ID_LEN])preds);
}

void cli_write_overwrite_str(cs_buf_t *payload, const cs_object_t *obj, const uint8_t id[CS_ID_LEN],
                             uint64_t field, const char *value) {
  cs_buf_t v;
  cs_buf_init(&v, CS_TEXT_MAX + 16);
  cs_mp_write_cstr(&v, value);
  if (v.failed) payload->failed = true;
  else cli_write_overwrite(payload, obj, id, field, cs_buf_span(&v));
  cs_buf_free(&v);
}

int cli_map_file(const char *path, cli_mapped_t *m) {
  memset(m, 0, sizeof(*m));
  int fd = open(path, O_RDONLY);
  if (fd < 0) return -1;
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    errno = EINVAL;
    return -1;
  }
  m->len = (size_t)st.st_size;
  if (m->len) {
    m->addr = mmap(NULL, m->len, PROT_READ, MAP_PRIVATE, fd, 0);
    if (m->addr == MAP_FAILED) {
      close(fd);
      return -1;
    }
  }
  close(fd);
  m->bytes.ptr = m->addr;
  m->bytes.len = m->len;
  return 0;
}

void cli_unmap_file(cli_mapped_t *m) {
  if (m->addr && m->len) munmap(m->addr, m->len);
}


/* Finds the change that created a motion and one that resolved it as
 * adopted: an admin's removal depends on both (docs/governance.md). */
typedef struct cli__decision_ctx_s {
  const uint8_t *motion;
  uint8_t motion_change[CS_ID_LEN];
  uint8_t resolution_change[CS_ID_LEN];
  bool has_motion, has_resolution;
} cli__decision_ctx_t;

int cli_decision_deps(cli_t *cli, cs_txn_t *txn, const uint8_t club[CS_ID_LEN], const char *motion_arg,
                      const char *verb, const uint8_t id[CS_ID_LEN], uint8_t deps[2][CS_ID_LEN]) {
  char want[CS_GOVERNED_EFFECT_MAX + 1];
  cs_governed_effect(want, verb, id);
  cli__decision_ctx_t ctx;
  memset(&ctx, 0, sizeof(ctx));
  uint8_t motion[CS_ID_LEN];
  int code;
  if (motion_arg) {
    cs_object_t obj;
    char effect[CS_TEXT_MAX + 1];
    if ((code = cli_object(cli, txn, club, motion_arg, CS_OBJ_MOTION, motion, &obj))) return code;
    cli_field_text(&obj, CS_F_MOTION_EFFECT, effect, sizeof(effect));
    /* The motion's outcome is its winning valid resolution (core/decision.h),
     * which the change this node writes will hold in its past. */
    cs_resolution_rec_t win;
    bool resolved = false;
    int err = cs_store_motion_decision(txn, club, motion, NULL, &win, &resolved);
    memcpy(ctx.motion_change, obj.created_change, CS_ID_LEN);
    ctx.has_motion = true;
    if (!err && resolved && win.res.adopted) {
      memcpy(ctx.resolution_change, win.change, CS_ID_LEN);
      ctx.has_resolution = true;
    }
    cs_object_free(&obj);
    if (err) return cli_fail_err(err, "cannot read the motion's resolutions");
    ctx.motion = motion;
    if (strcmp(effect, want) != 0)
      return cli_fail(CLI_DENIED, "motion %s does not decide this: its effect must be \"%s\"", motion_arg, want);
  }
  if (!ctx.has_motion || !ctx.has_resolution)
    return cli_fail(CLI_DENIED, "this needs a decision adopted by the club: propose 'motion propose TEXT --effect "
                                "\"%s\"', have it voted and resolved, then give it with --motion ID",
                    want);
  memcpy(deps[0], ctx.motion_change, CS_ID_LEN);
  memcpy(deps[1], ctx.resolution_change, CS_ID_LEN);
  return CLI_OK;
}
