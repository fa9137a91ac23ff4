/* Replays a fuzz harness over a committed corpus, so ctest runs every
 * harness on every build without libFuzzer.
 *
 *   fuzz_<target> DIR|FILE...
 *
 * Every regular file of each directory (in name order, so a run is
 * reproducible) and every file named directly goes through
 * LLVMFuzzerTestOneInput once. A harness reports a broken property by
 * aborting, and the sanitizers abort on memory errors, so getting to the
 * end means every input passed. Returns 0 when at least one input ran,
 * 1 when none was found, 2 when a path cannot be read. */
#include <dirent.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* Optional, as in libFuzzer. */
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

/* Inputs larger than this are refused: the corpus holds small files. */
#define REPLAY_INPUT_MAX ((size_t)16 << 20)

static int replay_file(const char *path, size_t *ran) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    perror(path);
    return 2;
  }
  uint8_t *data = NULL;
  size_t len = 0, cap = 0;
  for (;;) {
    if (len == cap) {
      size_t grown_cap = cap ? cap * 2 : 4096;
      if (grown_cap > REPLAY_INPUT_MAX) {
        fprintf(stderr, "%s: larger than %zu bytes\n", path, REPLAY_INPUT_MAX);
        free(data);
        fclose(f);
        return 2;
      }
      uint8_t *grown = realloc(data, grown_cap);
      if (!grown) {
        free(data);
        fclose(f);
        return 2;
      }
      data = grown;
      cap = grown_cap;
    }
    size_t n = fread(data + len, 1, cap - len, f);
    len += n;
    if (n == 0) break;
  }
  int failed = ferror(f);
  fclose(f);
  if (failed) {
    perror(path);
    free(data);
    return 2;
  }
  /* An exact-size copy, so ASan catches a read one past the input. */
  uint8_t *exact = malloc(len ? len : 1);
  if (!exact) {
    free(data);
    return 2;
  }
  if (len) memcpy(exact, data, len);
  free(data);
  LLVMFuzzerTestOneInput(exact, len);
  free(exact);
  (*ran)++;
  return 0;
}

static int by_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int replay_dir(const char *dir, size_t *ran) {
  DIR *d = opendir(dir);
  if (!d) {
    perror(dir);
    return 2;
  }
  char **names = NULL;
  size_t count = 0, cap = 0;
  int rc = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.') continue;
    if (count == cap) {
      cap = cap ? cap * 2 : 64;
      char **grown = realloc(names, cap * sizeof(*names));
      if (!grown) {
        rc = 2;
        break;
      }
      names = grown;
    }
    size_t n = strlen(dir) + 1 + strlen(e->d_name) + 1;
    names[count] = malloc(n);
    if (!names[count]) {
      rc = 2;
      break;
    }
    snprintf(names[count], n, "%s/%s", dir, e->d_name);
    count++;
  }
  closedir(d);
  if (count > 1) qsort(names, count, sizeof(*names), by_name);
  for (size_t i = 0; i < count && rc == 0; i++) {
    struct stat st;
    if (stat(names[i], &st) != 0 || !S_ISREG(st.st_mode)) continue;
    rc = replay_file(names[i], ran);
  }
  for (size_t i = 0; i < count; i++) free(names[i]);
  free(names);
  return rc;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s CORPUS_DIR|FILE...\n", argv[0]);
    return 2;
  }
  if (LLVMFuzzerInitialize) LLVMFuzzerInitialize(&argc, &argv);
  size_t ran = 0;
  for (int i = 1; i < argc; i++) {
    struct stat st;
    if (stat(argv[i], &st) != 0) {
      perror(argv[i]);
      return 2;
    }
    int rc = S_ISDIR(st.st_mode) ? replay_dir(argv[i], &ran) : replay_file(argv[i], &ran);
    if (rc) return rc;
  }
  printf("%s: %zu inputs replayed\n", argv[0], ran);
  if (ran == 0) {
    fprintf(stderr, "no inputs found\n");
    return 1;
  }
  return 0;
}
