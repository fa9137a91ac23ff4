/* bench: the performance benchmark, each figure beside the machine's own
 * limit measured in the same run (docs/performance.md). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <lmdb.h>
#include <sodium.h>

#include "tools/cli.h"

extern char **environ;

typedef struct bench_workload_s {
  const char *name;
  uint32_t authors;
  uint32_t changes_per_author;
  uint32_t requests;
} bench_workload_t;

static const bench_workload_t bench_workloads[] = {
    {"club-100k", 20, 5000, 10000},
    {"club-10k", 20, 500, 1000},
    {"club-2k", 4, 500, 200}, /* for tests: a real club quickly (tests/integration) */
};

static double bench_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Single-core Ed25519 verification of messages shaped like ours (the
 * signature domain and a 32-byte id). The machine is shared and its speed
 * drifts, so the run samples this before and after each phase and divides
 * each phase's rate by the mean of the samples around it. */
static double bench_verify_rate(void) {
  uint8_t pk[32], sk[64], msg[47], sig[64];
  crypto_sign_keypair(pk, sk);
  memcpy(msg, "clubsync/sig/v1", 15);
  randombytes_buf(msg + 15, 32);
  crypto_sign_detached(sig, NULL, msg, sizeof(msg), sk);
  const int rounds = 6000;
  int ok = 0;
  double t0 = bench_now();
  for (int i = 0; i < rounds; i++) ok += crypto_sign_verify_detached(sig, msg, sizeof(msg), pk) == 0;
  double dt = bench_now() - t0;
  return ok == rounds ? rounds / dt : 0;
}

static int bench_cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Raw LMDB: durable puts of change-sized values in commits of 512, as an
 * import does. */
static double bench_lmdb_rate(const char *dir, uint32_t count, size_t value_len) {
  MDB_env *env;
  MDB_dbi dbi;
  MDB_txn *txn;
  if (mkdir(dir, 0700) != 0 || mdb_env_create(&env)) return 0;
  mdb_env_set_mapsize(env, (size_t)4 << 30);
  if (mdb_env_open(env, dir, 0, 0600)) return 0;
  uint8_t key[32], *value = calloc(1, value_len);
  double t0 = bench_now();
  for (uint32_t i = 0; i < count;) {
    if (mdb_txn_begin(env, NULL, 0, &txn) || mdb_dbi_open(txn, NULL, 0, &dbi)) break;
    for (uint32_t j = 0; j < 512 && i < count; j++, i++) {
      crypto_generichash(key, sizeof(key), (const uint8_t *)&i, sizeof(i), NULL, 0);
      MDB_val k = {sizeof(key), key}, v = {value_len, value};
      mdb_put(txn, dbi, &k, &v, 0);
    }
    mdb_txn_commit(txn);
  }
  double dt = bench_now() - t0;
  free(value);
  mdb_env_close(env);
  return count / dt;
}

/* Runs this program with arguments; returns its exit code, wall seconds and
 * peak resident memory. stdout goes to out_path (or /dev/null). */
static int bench_run(char *const argv[], const char *out_path, double *seconds, long *maxrss_kib) {
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, out_path ? out_path : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0600);
  pid_t pid;
  double t0 = bench_now();
  int rc = posix_spawn(&pid, "/proc/self/exe", &fa, NULL, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) return -1;
  int status;
  struct rusage ru;
  if (wait4(pid, &status, 0, &ru) < 0) return -1;
  if (seconds) *seconds = bench_now() - t0;
  if (maxrss_kib) *maxrss_kib = ru.ru_maxrss;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static long bench_file_bytes(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 ? (long)st.st_blocks * 512 : -1;
}

static long bench_file_size(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

/* Generates the workload in gen_dir/store: authors[0] creates the club and
 * adds the others; then authors take turns, each first filing its share of
 * requests (3 fields each), then setting 3 fields of a random request. */
static int bench_generate(const char *store_dir, const bench_workload_t *w, uint8_t (*sks)[64], uint8_t club[32],
                          double *per_s) {
  cs_store_t *store;
  int err = cs_store_open(store_dir, &store);
  if (err) return err;
  cs_buf_t p;
  cs_buf_init(&p, CS_CHANGE_PAYLOAD_MAX);
  cs_txn_t txn;
  uint8_t id[32];
  cs_mp_write_array(&p, 1);
  cs_op_write_genesis(&p, "Club bench", "Flora", "Musée 0");
  if ((err = cs_store_begin(store, true, &txn))) goto done;
  if ((err = cs_store_author(&txn, NULL, sks[0], cs_buf_span(&p), 0, club))) goto abort;
  cs_buf_reset(&p);
  cs_mp_write_array(&p, w->authors - 1);
  for (uint32_t a = 1; a < w->authors; a++) {
    char museum[32];
    snprintf(museum, sizeof(museum), "Musée %u", a);
    cs_op_write_member(&p, sks[a] + 32, museum, CS_ROLE_MEMBER, 0);
  }
  if ((err = cs_store_author(&txn, club, sks[0], cs_buf_span(&p), 0, id))) goto abort;
  if ((err = cs_store_commit(&txn))) goto done;

  uint8_t(*requests)[32] = malloc((size_t)w->requests * 32);
  uint32_t filed = 0, per_author = w->requests / w->authors;
  uint64_t rng = 42;
  uint64_t total = (uint64_t)w->authors * w->changes_per_author;
  double t0 = bench_now();
  static const char *const statuses[] = {"submitted", "review", "vote", "shortlisted"};
  for (uint64_t i = 0; i < total && !err; i++) {
    if (i % 512 == 0 && (err = cs_store_begin(store, true, &txn))) break;
    uint32_t a = (uint32_t)(i % w->authors), round = (uint32_t)(i / w->authors);
    char title[64], module[32];
    snprintf(title, sizeof(title), "Demande %llu", (unsigned long long)i);
    snprintf(module, sizeof(module), "module %u", (unsigned)(i % 7));
    const char *status = statuses[i % 4];
    cs_buf_reset(&p);
    if (round < per_author) {
      cs_mp_write_array(&p, 4);
      cs_op_write_create(&p, CS_OBJ_REQUEST, NULL);
      cs_op_write_set_str(&p, cs_ref_local(0), CS_F_REQ_TITLE, title, 0, NULL);
      cs_op_write_set_str(&p, cs_ref_local(0), CS_F_REQ_STATUS, "submitted", 0, NULL);
      cs_op_write_set_str(&p, cs_ref_local(0), CS_F_REQ_MODULE, module, 0, NULL);
    } else {
      rng = rng * 6364136223846793005ull + 1442695040888963407ull;
      const uint8_t *req = requests[(rng >> 33) % filed];
      cs_object_t obj;
      uint8_t preds[3][CS_PREDS_MAX][32];
      uint32_t npreds[3] = {0, 0, 0};
      static const uint64_t fields[3] = {CS_F_REQ_TITLE, CS_F_REQ_STATUS, CS_F_REQ_MODULE};
      if (cs_store_object_get(&txn, club, req, &obj) == CS_OK) {
        for (uint32_t e = 0; e < obj.entry_count; e++)
          for (int f = 0; f < 3; f++)
            if (obj.entries[e].field == fields[f] && npreds[f] < CS_PREDS_MAX)
              memcpy(preds[f][npreds[f]++], obj.entries[e].op, 32);
        cs_object_free(&obj);
      }
      cs_mp_write_array(&p, 3);
      cs_op_write_set_str(&p, cs_ref_id(req), CS_F_REQ_TITLE, title, npreds[0], (const uint8_t(*)[32])preds[0]);
      cs_op_write_set_str(&p, cs_ref_id(req), CS_F_REQ_STATUS, status, npreds[1], (const uint8_t(*)[32])preds[1]);
      cs_op_write_set_str(&p, cs_ref_id(req), CS_F_REQ_MODULE, module, npreds[2], (const uint8_t(*)[32])preds[2]);
    }
    if ((err = cs_store_author(&txn, club, sks[a], cs_buf_span(&p), 1700000000000 + (int64_t)i, id))) break;
    if (round < per_author && filed < w->requests) cs_op_id(id, 0, requests[filed++]);
    if ((i + 1) % 512 == 0 || i + 1 == total) err = cs_store_commit(&txn);
  }
  if (err) cs_store_abort(&txn);
  *per_s = (double)total / (bench_now() - t0);
  free(requests);
  goto done;
abort:
  cs_store_abort(&txn);
done:
  cs_buf_free(&p);
  cs_store_close(store);
  return err;
}

int cmd_bench(cli_t *cli, cli_args_t *args) {
  const char *name = cli_take(args, "--workload");
  const char *keep = cli_take(args, "--keep");
  int code = cli_no_more(cli, args, "bench [--workload club-100k|club-10k|club-2k] [--json] [--keep DIR]");
  if (code) return code;
  const bench_workload_t *w = &bench_workloads[0];
  if (name) {
    w = NULL;
    for (size_t i = 0; i < sizeof(bench_workloads) / sizeof(bench_workloads[0]); i++)
      if (strcmp(name, bench_workloads[i].name) == 0) w = &bench_workloads[i];
    if (!w) return cli_fail(CLI_USAGE, "unknown workload '%s'; use club-100k, club-10k or club-2k", name);
  }
  char dir[4096];
  if (keep) {
    snprintf(dir, sizeof(dir), "%s", keep);
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) return cli_fail(CLI_ERROR, "cannot create %s", dir);
  } else {
    snprintf(dir, sizeof(dir), "/tmp/clubsync-bench-XXXXXX");
    if (!mkdtemp(dir)) return cli_fail(CLI_ERROR, "cannot create a temporary directory");
  }
  uint64_t total = (uint64_t)w->authors * w->changes_per_author;
  FILE *f;
  if (!cli->json) fprintf(stderr, "bench %s: %llu changes by %u museums, in %s\n", w->name,
                          (unsigned long long)total, w->authors, dir);

  /* verify[0] before generating, [1] before import, [2] before sync, [3] after. */
  double verify[4] = {bench_verify_rate(), 0, 0, 0};
  char path[4600], gen_home[4200], ingest_home[4200], bundle[4200], store_dir[4400];
  snprintf(path, sizeof(path), "%s/lmdb-raw", dir);
  double lmdb_per_s = bench_lmdb_rate(path, (uint32_t)total, 300);

  uint8_t(*sks)[64] = malloc((size_t)w->authors * 64);
  uint8_t pk[32], club[32];
  for (uint32_t a = 0; a < w->authors; a++) crypto_sign_keypair(pk, sks[a]);
  snprintf(gen_home, sizeof(gen_home), "%s/gen", dir);
  snprintf(store_dir, sizeof(store_dir), "%s/store", gen_home);
  mkdir(gen_home, 0700);
  double author_per_s = 0;
  if (!cli->json) fprintf(stderr, "generating the workload (signing and committing)...\n");
  int err = bench_generate(store_dir, w, sks, club, &author_per_s);
  uint8_t gen_sk0[64], gen_sk1[64];
  memcpy(gen_sk0, sks[0], 64);
  memcpy(gen_sk1, sks[1], 64);
  sodium_memzero(sks, (size_t)w->authors * 64);
  free(sks);
  if (err) return cli_fail_err(err, "cannot generate the workload");
  verify[1] = bench_verify_rate();

  snprintf(bundle, sizeof(bundle), "%s/club.bundle", dir);
  char *export_argv[] = {"clubsync", "--home", gen_home, "export", bundle, NULL};
  if (bench_run(export_argv, NULL, NULL, NULL) != 0) return cli_fail(CLI_ERROR, "export failed");
  long bundle_bytes = bench_file_size(bundle);

  snprintf(ingest_home, sizeof(ingest_home), "%s/ingest", dir);
  snprintf(store_dir, sizeof(store_dir), "%s/store", ingest_home);
  mkdir(ingest_home, 0700);
  cs_store_t *empty;
  if ((err = cs_store_open(store_dir, &empty))) return cli_fail_err(err, "cannot create the empty node");
  cs_store_close(empty);
  if (!cli->json) fprintf(stderr, "importing into an empty node...\n");
  double ingest_s = 0;
  long import_rss = 0, import_anon = 0;
  char *import_argv[] = {"clubsync", "--home", ingest_home, "import", bundle, NULL};
  char memory_report[4300];
  snprintf(memory_report, sizeof(memory_report), "%s/import.memory", dir);
  setenv("CLUBSYNC_MEMORY_REPORT", memory_report, 1);
  int import_code = bench_run(import_argv, NULL, &ingest_s, &import_rss);
  unsetenv("CLUBSYNC_MEMORY_REPORT");
  if (import_code != 0) return cli_fail(CLI_ERROR, "import failed");
  if ((f = fopen(memory_report, "r"))) {
    if (fscanf(f, "peak_anon_kib %ld", &import_anon) != 1) import_anon = 0;
    fclose(f);
  }
  double ingest_per_s = (double)(total + 2) / ingest_s;
  verify[2] = bench_verify_rate();

  char gen_digest[4400], ingest_digest[4400];
  snprintf(gen_digest, sizeof(gen_digest), "%s/gen.digest", dir);
  snprintf(ingest_digest, sizeof(ingest_digest), "%s/ingest.digest", dir);
  char *d1[] = {"clubsync", "--home", gen_home, "digest", NULL};
  char *d2[] = {"clubsync", "--home", ingest_home, "digest", NULL};
  bench_run(d1, gen_digest, NULL, NULL);
  bench_run(d2, ingest_digest, NULL, NULL);
  char a[128] = "", b[128] = "";
  if ((f = fopen(gen_digest, "r"))) { if (!fgets(a, sizeof(a), f)) a[0] = '\0'; fclose(f); }
  if ((f = fopen(ingest_digest, "r"))) { if (!fgets(b, sizeof(b), f)) b[0] = '\0'; fclose(f); }
  bool converged = a[0] && strcmp(a, b) == 0;

  snprintf(path, sizeof(path), "%s/data.mdb", store_dir);
  long disk_bytes = bench_file_bytes(path);

  double list_s = 0;
  char *list_argv[] = {"clubsync", "--home", ingest_home, "request", "list", "--json", NULL};
  bench_run(list_argv, NULL, &list_s, NULL);

  /* Initial sync over loopback with the real handshake and frames: the
   * generator serves; an empty member node syncs once. */
  double sync_s = 0, sync_per_s = 0, wire_ratio = 0;
  long sync_rss = 0, sync_anon = 0, serve_anon = 0, incremental_bytes = -1, incremental_trips = -1,
       idle_bytes = -1;
  bool synced = false;
  {
    uint8_t netkey[32], pk1[32], sk1[64];
    char hex[65], p2[4600], sync_home[4200], port_path[4400], serve_memory[4400], sync_memory[4400], out[4400];
    randombytes_buf(netkey, sizeof(netkey));
    cs_hex32(club, hex);
    crypto_sign_keypair(pk1, sk1);
    snprintf(sync_home, sizeof(sync_home), "%s/synced", dir);
    mkdir(sync_home, 0700);
    const char *homes[2] = {gen_home, sync_home};
    for (int h = 0; h < 2; h++) {
      snprintf(p2, sizeof(p2), "%s/keys", homes[h]);
      mkdir(p2, 0700);
      snprintf(p2, sizeof(p2), "%s/keys/%s.netkey", homes[h], hex);
      cli_write_private(p2, netkey, sizeof(netkey));
    }
    snprintf(p2, sizeof(p2), "%s/identity", gen_home);
    cli_write_identity(p2, gen_sk0, "Musée 0", "");
    snprintf(p2, sizeof(p2), "%s/identity", sync_home);
    cli_write_identity(p2, gen_sk1, "Musée 1", "");
    snprintf(p2, sizeof(p2), "%s/store", sync_home);
    cs_store_t *fresh;
    if (cs_store_open(p2, &fresh) == CS_OK) cs_store_close(fresh);
    snprintf(port_path, sizeof(port_path), "%s/serve.port", gen_home);
    snprintf(serve_memory, sizeof(serve_memory), "%s/serve.memory", dir);
    snprintf(sync_memory, sizeof(sync_memory), "%s/sync.memory", dir);
    setenv("CLUBSYNC_MEMORY_REPORT", serve_memory, 1);
    char *serve_argv[] = {"clubsync", "--home", gen_home, "serve", "--listen", "127.0.0.1:0", "--log-level", "error", NULL};
    pid_t serve_pid;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    bool serving = posix_spawn(&serve_pid, "/proc/self/exe", &fa, NULL, serve_argv, environ) == 0;
    posix_spawn_file_actions_destroy(&fa);
    int port = 0;
    for (int i = 0; serving && i < 200 && port == 0; i++) {
      struct timespec pause = {0, 50 * 1000 * 1000};
      nanosleep(&pause, NULL);
      if ((f = fopen(port_path, "r"))) {
        if (fscanf(f, "%d", &port) != 1) port = 0;
        fclose(f);
      }
    }
    if (port > 0) {
      char target[64];
      snprintf(target, sizeof(target), "127.0.0.1:%d", port);
      char *sync_argv[] = {"clubsync", "--home", sync_home, "sync", target, "--json", NULL};
      json_t *r;
      setenv("CLUBSYNC_MEMORY_REPORT", sync_memory, 1);
      snprintf(out, sizeof(out), "%s/sync1.json", dir);
      synced = bench_run(sync_argv, out, &sync_s, &sync_rss) == 0;
      unsetenv("CLUBSYNC_MEMORY_REPORT");
      if ((f = fopen(sync_memory, "r"))) {
        if (fscanf(f, "peak_anon_kib %ld", &sync_anon) != 1) sync_anon = 0;
        fclose(f);
      }
      if (synced && (r = json_load_file(out, 0, NULL))) {
        double wire = (double)json_integer_value(json_object_get(r, "bytes_sent")) +
                      (double)json_integer_value(json_object_get(r, "bytes_received"));
        wire_ratio = wire / (double)bundle_bytes;
        json_decref(r);
      }
      sync_per_s = (double)(total + 2) / sync_s;
      /* One new change between converged nodes, then nothing new. */
      /* A title unlike the workload's, so the duplicate suggestion stays quiet. */
      char *add_argv[] = {"clubsync", "--home", gen_home, "request", "add",
                          "--title", "Export PDF des constats d'état", NULL};
      bench_run(add_argv, NULL, NULL, NULL);
      snprintf(out, sizeof(out), "%s/sync2.json", dir);
      if (bench_run(sync_argv, out, NULL, NULL) == 0 && (r = json_load_file(out, 0, NULL))) {
        incremental_bytes = (long)json_integer_value(json_object_get(r, "sync_bytes"));
        incremental_trips = (long)json_integer_value(json_object_get(r, "round_trips"));
        json_decref(r);
      }
      snprintf(out, sizeof(out), "%s/sync3.json", dir);
      if (bench_run(sync_argv, out, NULL, NULL) == 0 && (r = json_load_file(out, 0, NULL))) {
        idle_bytes = (long)json_integer_value(json_object_get(r, "sync_bytes"));
        json_decref(r);
      }
    }
    unsetenv("CLUBSYNC_MEMORY_REPORT");
    if (serving) {
      kill(serve_pid, SIGTERM);
      waitpid(serve_pid, NULL, 0);
      if ((f = fopen(serve_memory, "r"))) {
        if (fscanf(f, "peak_anon_kib %ld", &serve_anon) != 1) serve_anon = 0;
        fclose(f);
      }
    }
    sodium_memzero(netkey, sizeof(netkey));
    sodium_memzero(sk1, sizeof(sk1));
  }
  verify[3] = bench_verify_rate();
  double author_limit = (verify[0] + verify[1]) / 2, ingest_limit = (verify[1] + verify[2]) / 2,
         sync_limit = (verify[2] + verify[3]) / 2;
  double sorted_verify[4];
  memcpy(sorted_verify, verify, sizeof(verify));
  qsort(sorted_verify, 4, sizeof(double), bench_cmp_double);
  double verify_per_s = (sorted_verify[1] + sorted_verify[2]) / 2; /* the median */
  long peak_anon = import_anon;
  if (sync_anon > peak_anon) peak_anon = sync_anon;
  if (serve_anon > peak_anon) peak_anon = serve_anon;

  json_t *doc = json_pack(
      "{s:s s:I s:b s:{s:f} s:{s:f s:f s:f} s:{s:b s:f s:f s:f s:f} s:{s:I s:I} s:{s:I} s:{s:I s:I s:f} s:f s:f "
      "s:f s:{s:f s:f s:[f f f f]}}",
      "workload", w->name, "changes", (json_int_t)total, "converged", converged, "local_author", "per_s",
      author_per_s, "ingest", "per_s", ingest_per_s, "seconds", ingest_s, "ratio_to_verify",
      ingest_per_s / ingest_limit, "initial_sync", "synced", synced, "per_s", sync_per_s, "seconds", sync_s,
      "ratio_to_verify", sync_per_s / sync_limit, "wire_ratio", wire_ratio, "incremental_sync", "bytes",
      (json_int_t)incremental_bytes, "round_trips", (json_int_t)incremental_trips, "idle_reconnect", "bytes",
      (json_int_t)idle_bytes, "disk", "bytes",
      (json_int_t)disk_bytes, "bundle_bytes", (json_int_t)bundle_bytes, "ratio", (double)disk_bytes / (double)bundle_bytes,
      "list_cold_ms", list_s * 1000, "peak_rss_mib", (double)peak_anon / 1024.0, "peak_rss_with_maps_mib",
      (double)(import_rss > sync_rss ? import_rss : sync_rss) / 1024.0, "limits", "verify_per_s",
      verify_per_s, "lmdb_put_per_s", lmdb_per_s, "verify_samples_per_s", verify[0], verify[1], verify[2],
      verify[3]);
  if (!keep) {
    char cmd[4200];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "clubsync: warning: could not remove %s\n", dir);
  }
  if (!synced) converged = false;
  if (!converged) {
    json_decref(doc);
    return cli_fail(CLI_ERROR, "the imported node's digest differs from the generator's");
  }
  if (cli->json) return cli_print_json(doc);
  printf("clubsync bench, workload %s (%llu signed changes)\n\n", w->name, (unsigned long long)total);
  printf("%-40s %14s %14s %8s\n", "figure", "value", "limit", "ratio");
  printf("%-40s %12.0f/s %12.0f/s %8.2f\n", "sign + commit locally (batches of 512)", author_per_s, author_limit,
         author_per_s / author_limit);
  printf("%-40s %12.0f/s %12.0f/s %8.2f\n", "ingest by import, durable", ingest_per_s, ingest_limit,
         ingest_per_s / ingest_limit);
  printf("%-40s %12.0f/s %12.0f/s %8.2f\n", "initial sync over 127.0.0.1, durable", sync_per_s, sync_limit,
         sync_per_s / sync_limit);
  printf("%-40s %14.2f %14s\n", "  wire bytes / raw bundle bytes", wire_ratio, "");
  printf("%-40s %13ldB %14s %8ld\n", "incremental sync of one change (trips)", incremental_bytes, "", incremental_trips);
  printf("%-40s %13ldB\n", "idle reconnect, nothing new", idle_bytes);
  printf("%-40s %12.0f/s %14s\n", "raw LMDB durable put (limit)", lmdb_per_s, "");
  printf("%-40s %12.1fMB %12.1fMB %8.2f\n", "on-disk size vs raw bundle", (double)disk_bytes / 1e6, (double)bundle_bytes / 1e6,
         (double)disk_bytes / (double)bundle_bytes);
  printf("%-40s %12.1fms %14s\n", "cold request list --json", list_s * 1000, "");
  printf("%-40s %11.1fMiB %14s\n", "peak memory (import, sync, serve)", (double)peak_anon / 1024.0, "");
  printf("%-40s %11.1fMiB %14s\n", "  same, with LMDB map and bundle pages",
         (double)(import_rss > sync_rss ? import_rss : sync_rss) / 1024.0, "");
  printf("\nlimits measured in this run: Ed25519 verify on one core %.0f/s (median; %.0f, %.0f, %.0f and %.0f/s\n"
         "before generating, importing and syncing and at the end; each rate above is divided by the mean of\n"
         "the two samples around it); LMDB put %.0f/s.\n",
         verify_per_s, verify[0], verify[1], verify[2], verify[3], lmdb_per_s);
  json_decref(doc);
  return CLI_OK;
}
