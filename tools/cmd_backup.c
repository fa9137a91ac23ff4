/* clubsync backup FILE and clubsync restore FILE: a node copied whole, also
 * while serve runs, and brought back into an empty home. The file is a tar
 * archive (POSIX ustar), so it can also be restored by hand with
 * `tar -xf FILE -C HOME` (docs/backup.md). */
#include "tools/cli.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#define BACKUP_BLOCK 512
#define BACKUP_MANIFEST "clubsync-backup"
#define BACKUP_STORE "store/data.mdb"

/* Writing ----------------------------------------------------------------- */

typedef struct backup_out_s {
  FILE *f;
  bool failed;
} backup_out_t;

static void backup_octal(char *field, size_t width, uint64_t value) {
  snprintf(field, width, "%0*llo", (int)width - 1, (unsigned long long)value);
}

/* One ustar header: a file (mode 0600) or a directory (0700). */
static void backup_header(backup_out_t *out, const char *name, uint64_t size, bool dir) {
  uint8_t h[BACKUP_BLOCK];
  memset(h, 0, sizeof(h));
  snprintf((char *)h, 100, "%s", name);
  backup_octal((char *)h + 100, 8, dir ? 0700 : 0600);
  backup_octal((char *)h + 108, 8, 0);
  backup_octal((char *)h + 116, 8, 0);
  backup_octal((char *)h + 124, 12, size);
  backup_octal((char *)h + 136, 12, (uint64_t)time(NULL));
  memset(h + 148, ' ', 8);
  h[156] = dir ? '5' : '0';
  memcpy(h + 257, "ustar", 6);
  memcpy(h + 263, "00", 2);
  unsigned sum = 0;
  for (size_t i = 0; i < sizeof(h); i++) sum += h[i];
  snprintf((char *)h + 148, 8, "%06o", sum);
  if (fwrite(h, 1, sizeof(h), out->f) != sizeof(h)) out->failed = true;
}

static void backup_pad(backup_out_t *out, uint64_t size) {
  static const uint8_t zero[BACKUP_BLOCK];
  size_t rest = (size_t)(size % BACKUP_BLOCK);
  if (rest && fwrite(zero, 1, BACKUP_BLOCK - rest, out->f) != BACKUP_BLOCK - rest) out->failed = true;
}

static void backup_bytes(backup_out_t *out, const char *name, const void *data, size_t len) {
  backup_header(out, name, len, false);
  if (len && fwrite(data, 1, len, out->f) != len) out->failed = true;
  backup_pad(out, len);
}

/* Adds a small file of the home, if it is there. */
static int backup_home_file(backup_out_t *out, const cli_t *cli, const char *name) {
  char path[4400];
  cli_path(cli, name, path, sizeof(path));
  FILE *f = fopen(path, "rb");
  if (!f) return errno == ENOENT ? 0 : -1;
  char buf[65536];
  size_t len = fread(buf, 1, sizeof(buf), f);
  bool bad = ferror(f) || !feof(f);
  fclose(f);
  if (bad) return -1;
  backup_bytes(out, name, buf, len);
  sodium_memzero(buf, sizeof(buf));
  return 0;
}

/* Adds a file's whole content from fd, from its start. */
static int backup_fd(backup_out_t *out, const char *name, int fd) {
  struct stat st;
  if (fstat(fd, &st) != 0 || lseek(fd, 0, SEEK_SET) != 0) return -1;
  backup_header(out, name, (uint64_t)st.st_size, false);
  char buf[65536];
  uint64_t left = (uint64_t)st.st_size;
  while (left > 0) {
    ssize_t n = read(fd, buf, left < sizeof(buf) ? (size_t)left : sizeof(buf));
    if (n <= 0) return -1;
    if (fwrite(buf, 1, (size_t)n, out->f) != (size_t)n) out->failed = true;
    left -= (uint64_t)n;
  }
  backup_pad(out, (uint64_t)st.st_size);
  return 0;
}

int cmd_backup(cli_t *cli, cli_args_t *args) {
  const char *file = cli_next(args);
  int code = cli_no_more(cli, args, "backup FILE");
  if (code) return code;
  if (!file || !*file) return cli_fail(CLI_USAGE, "backup needs the FILE to write, e.g. clubsync-2027-03-14.backup");
  if ((code = cli_identity(cli)) || (code = cli_open(cli, false))) return code;
  /* Both temporary files beside FILE: the rename at the end is then atomic,
   * and a FILE that exists is replaced only by a whole backup. */
  char tmp[4200], store_tmp[4200];
  snprintf(tmp, sizeof(tmp), "%s.tmp", file);
  snprintf(store_tmp, sizeof(store_tmp), "%s.store.tmp", file);
  int store_fd = open(store_tmp, O_RDWR | O_CREAT | O_TRUNC, 0600);
  if (store_fd < 0) return cli_fail(CLI_ERROR, "cannot write %s: %s; check the folder", store_tmp, strerror(errno));
  int err = cs_store_copy(cli->store, store_fd);
  if (err) {
    close(store_fd);
    unlink(store_tmp);
    return cli_fail_err(err, "cannot copy the store");
  }
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  backup_out_t out = {fd >= 0 ? fdopen(fd, "wb") : NULL, false};
  if (!out.f) {
    if (fd >= 0) close(fd);
    close(store_fd);
    unlink(store_tmp);
    return cli_fail(CLI_ERROR, "cannot write %s: %s; check the folder", tmp, strerror(errno));
  }
  char manifest[512], hex[65], when[40];
  cs_hex32(cli->secret_key + 32, hex);
  cli_time(cli_now_ms(), when, sizeof(when));
  snprintf(manifest, sizeof(manifest), "clubsync backup 1\nversion %s\nmade %s UTC\nmuseum %s\nkey %s\n", CS_VERSION,
           when, cli->museum, hex);
  backup_bytes(&out, BACKUP_MANIFEST, manifest, strlen(manifest));
  bool bad = backup_home_file(&out, cli, "identity") != 0 || backup_home_file(&out, cli, "default-club") != 0;
  /* Each club's network key and peers. */
  char dir[4300];
  cli_path(cli, "keys", dir, sizeof(dir));
  DIR *d = opendir(dir);
  struct dirent *e;
  uint32_t keys = 0;
  if (d) {
    backup_header(&out, "keys/", 0, true);
    backup_header(&out, "clubs/", 0, true);
  }
  while (d && !bad && (e = readdir(d)) != NULL) {
    size_t n = strlen(e->d_name);
    if (n != 64 + 7 || strcmp(e->d_name + 64, ".netkey") != 0) continue;
    char name[128];
    snprintf(name, sizeof(name), "keys/%.71s", e->d_name);
    bad = backup_home_file(&out, cli, name) != 0;
    snprintf(name, sizeof(name), "clubs/%.64s/", e->d_name);
    backup_header(&out, name, 0, true);
    snprintf(name, sizeof(name), "clubs/%.64s/peers", e->d_name);
    bad = bad || backup_home_file(&out, cli, name) != 0;
    keys++;
  }
  if (d) closedir(d);
  backup_header(&out, "store/", 0, true);
  bad = bad || backup_fd(&out, BACKUP_STORE, store_fd) != 0;
  close(store_fd);
  unlink(store_tmp);
  static const uint8_t end[2 * BACKUP_BLOCK];
  if (fwrite(end, 1, sizeof(end), out.f) != sizeof(end)) out.failed = true;
  if (fflush(out.f) != 0 || fsync(fileno(out.f)) != 0) out.failed = true;
  int saved = errno;
  if (fclose(out.f) != 0) out.failed = true;
  if (bad || out.failed || rename(tmp, file) != 0) {
    if (!bad && !out.failed) saved = errno;
    unlink(tmp);
    return cli_fail(CLI_ERROR, "cannot write the backup %s: %s; check the free space and the folder (the node "
                               "itself is unchanged)", file, bad ? "cannot read the home" : strerror(saved));
  }
  printf("Backed up this node (%s, %u club key%s) to %s.\nKeep it as safe as the node's key: it holds it.\n",
         cli->museum, (unsigned)keys, keys == 1 ? "" : "s", file);
  return CLI_OK;
}

/* Reading ----------------------------------------------------------------- */

/* Only the names a backup holds: a file that names another path (.., /, a
 * link) is refused, so a restore never writes outside the home. */
static bool backup_name_ok(const char *name) {
  static const char *const fixed[] = {BACKUP_MANIFEST, "identity", "default-club", BACKUP_STORE,
                                      "keys/",         "store/",       "clubs/"};
  for (size_t i = 0; i < CS_ARRAY_LEN(fixed); i++)
    if (strcmp(name, fixed[i]) == 0) return true;
  size_t n = strlen(name);
  if (n == 5 + 64 + 7 && strncmp(name, "keys/", 5) == 0 && strcmp(name + 69, ".netkey") == 0)
    return strspn(name + 5, "0123456789abcdef") == 64;
  if (strncmp(name, "clubs/", 6) == 0 && n >= 6 + 65 && strspn(name + 6, "0123456789abcdef") == 64 &&
      name[70] == '/')
    return strcmp(name + 71, "") == 0 || strcmp(name + 71, "peers") == 0;
  return false;
}

static uint64_t backup_read_octal(const uint8_t *field, size_t width) {
  uint64_t v = 0;
  for (size_t i = 0; i < width && field[i] >= '0' && field[i] <= '7'; i++) v = v * 8 + (uint64_t)(field[i] - '0');
  return v;
}

/* Checks that a directory is absent or empty. */
static bool backup_home_empty(const char *home) {
  DIR *d = opendir(home);
  if (!d) return errno == ENOENT;
  struct dirent *e;
  bool empty = true;
  while ((e = readdir(d)) != NULL)
    if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) empty = false;
  closedir(d);
  return empty;
}

int cmd_restore(cli_t *cli, cli_args_t *args) {
  const char *file = cli_next(args);
  int code = cli_no_more(cli, args, "restore FILE");
  if (code) return code;
  if (!file || !*file) return cli_fail(CLI_USAGE, "restore needs the backup FILE ('clubsync backup FILE' wrote it)");
  if (!backup_home_empty(cli->home))
    return cli_fail(CLI_ERROR, "the home %s is not empty; restore into a new, empty home (--home DIR) so that "
                               "nothing there is overwritten", cli->home);
  FILE *in = fopen(file, "rb");
  if (!in) return cli_fail(CLI_ERROR, "cannot read %s: %s; check the file's name", file, strerror(errno));
  if (mkdir(cli->home, 0700) != 0 && errno != EEXIST) {
    fclose(in);
    return cli_fail(CLI_ERROR, "cannot create the home %s: %s", cli->home, strerror(errno));
  }
  uint8_t h[BACKUP_BLOCK];
  bool seen_manifest = false, seen_identity = false, seen_store = false;
  const char *problem = NULL;
  char buf[65536];
  while (!problem) {
    if (fread(h, 1, sizeof(h), in) != sizeof(h)) {
      problem = "it ends early";
      break;
    }
    if (h[0] == 0) break; /* the end blocks */
    unsigned sum = 0;
    for (size_t i = 0; i < sizeof(h); i++) sum += (i >= 148 && i < 156) ? ' ' : h[i];
    char name[101];
    memcpy(name, h, 100);
    name[100] = '\0';
    if (memcmp(h + 257, "ustar", 5) != 0 || backup_read_octal(h + 148, 8) != sum) {
      problem = "it is not a clubsync backup (not a tar archive, or damaged)";
      break;
    }
    if (!backup_name_ok(name)) {
      problem = "it holds a file that is not part of a clubsync home";
      break;
    }
    if (!seen_manifest && strcmp(name, BACKUP_MANIFEST) != 0) {
      problem = "it is not a clubsync backup (no clubsync-backup manifest first)";
      break;
    }
    char path[4400];
    cli_path(cli, name, path, sizeof(path));
    if (h[156] == '5') {
      if (mkdir(path, 0700) != 0 && errno != EEXIST) problem = strerror(errno);
      continue;
    }
    uint64_t size = backup_read_octal(h + 124, 12);
    bool manifest = strcmp(name, BACKUP_MANIFEST) == 0;
    /* Each file through a temporary name: a restore cut short leaves no
     * half file under a real name. The manifest is only read. */
    char tmp[4500];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    FILE *out = manifest ? NULL : fopen(tmp, "wb");
    if (!manifest && (!out || fchmod(fileno(out), 0600) != 0)) {
      if (out) fclose(out);
      problem = strerror(errno);
      break;
    }
    uint64_t left = size;
    bool first = true;
    while (left > 0 && !problem) {
      size_t want = left < sizeof(buf) ? (size_t)left : sizeof(buf);
      if (fread(buf, 1, want, in) != want) problem = "it ends early";
      else if (manifest && first && (want < 18 || memcmp(buf, "clubsync backup 1\n", 18) != 0))
        problem = "it was written by another version of clubsync's backup";
      else if (out && fwrite(buf, 1, want, out) != want) problem = strerror(errno);
      left -= want;
      first = false;
    }
    if (out) {
      if ((fflush(out) != 0 || fsync(fileno(out)) != 0) && !problem) problem = strerror(errno);
      if (fclose(out) != 0 && !problem) problem = strerror(errno);
      if (!problem && rename(tmp, path) != 0) problem = strerror(errno);
      if (problem) unlink(tmp);
    }
    size_t pad = (size_t)(size % BACKUP_BLOCK);
    if (!problem && pad && fread(buf, 1, BACKUP_BLOCK - pad, in) != BACKUP_BLOCK - pad) problem = "it ends early";
    /* A club this node can sync waits for a sync before it signs. */
    if (!problem && strncmp(name, "keys/", 5) == 0 && strlen(name) == 5 + 64 + 7) {
      char marker[4400];
      snprintf(marker, sizeof(marker), "%s/clubs", cli->home);
      if (mkdir(marker, 0700) != 0 && errno != EEXIST) problem = strerror(errno);
      snprintf(marker, sizeof(marker), "%s/clubs/%.64s", cli->home, name + 5);
      if (mkdir(marker, 0700) != 0 && errno != EEXIST) problem = strerror(errno);
      snprintf(marker, sizeof(marker), "%s/clubs/%.64s/restored", cli->home, name + 5);
      if (!problem && cli_write_private(marker, "", 0) != 0) problem = strerror(errno);
    }
    seen_manifest = seen_manifest || manifest;
    seen_identity = seen_identity || strcmp(name, "identity") == 0;
    seen_store = seen_store || strcmp(name, BACKUP_STORE) == 0;
  }
  sodium_memzero(buf, sizeof(buf));
  fclose(in);
  if (!problem && (!seen_identity || !seen_store)) problem = "it holds no identity or no store";
  if (problem)
    return cli_fail(CLI_INVALID, "cannot restore %s: %s; the home %s is incomplete: empty it before trying "
                                 "another backup", file, problem, cli->home);
  /* The copy is opened once, so a damaged one is told now, not at the
   * first command. */
  if ((code = cli_identity(cli)) || (code = cli_open(cli, false))) return code;
  char hex[65];
  cs_hex32(cli->secret_key + 32, hex);
  printf("Restored the node of %s (key %.16s…) into %s.\n"
         "It signs nothing in a club until it has synced that club with a peer ('clubsync sync HOST:PORT', or "
         "'serve'): it then fetches the changes it signed after this backup was made, if a peer has them. A "
         "change signed again in their place would be a fork, which freezes this key in the club.\n",
         cli->museum, hex, cli->home);
  return CLI_OK;
}
