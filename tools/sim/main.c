/* clubsync-sim: the deterministic simulator's command line.
 *
 *   clubsync-sim --seed N [options]          one run; prints its trace
 *   clubsync-sim --seeds COUNT [--first S]   many runs; stops at the first
 *                                            failing seed and exits 1
 * Options:
 *   --nodes N        nodes (default 5, at most 16)
 *   --steps T        ticks of activity before the heal (default 400)
 *   --byzantine      one node equivocates and sends garbage (default: one
 *                    seed in four); --honest: never
 *   --calm           no faults at all (to tell a fault bug from a logic bug)
 *   --activity PPM   chance per million that a node acts in a tick
 *   --bundle FILE    after a passing --seed run, write node 0's whole club
 *                    history there as a bundle (tests/integration uses it)
 *   --dir D          where node stores go (default $CS_SIM_DIR, else
 *                    /dev/shm when writable, else $TMPDIR or /tmp)
 *   --keep           keep the stores of passing runs too
 *   --verbose        print every event
 * Exit status: 0 all runs passed, 1 a run failed, 2 usage or set-up error. */
#include "tools/sim/sim.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char usage[] =
    "usage: clubsync-sim (--seed N | --seeds COUNT [--first S]) [--nodes N] [--steps T] [--byzantine | --honest]\n"
    "                    [--calm] [--activity PPM] [--bundle FILE] [--dir D] [--keep] [--verbose]\n";

/* Every fault is on in every run; how much of each varies with the seed, so
 * many seeds cover gentle and harsh networks alike. */
void sim_config_for_seed(sim_config_t *cfg, uint64_t seed) {
  sim_rng_t r;
  sim_rng_seed(&r, seed ^ 0x636c756273796e63ull); /* its own stream: "clubsync" */
#define RANGE(lo, hi) ((lo) + sim_rng_below(&r, (hi) - (lo) + 1))
  memset(cfg, 0, sizeof(*cfg));
  cfg->seed = seed;
  cfg->nodes = 5;
  cfg->steps = 400;
  cfg->act_ppm = RANGE(40000, 100000);
  cfg->connect_ppm = RANGE(20000, 80000);
  cfg->commit_ppm = RANGE(300000, 900000);
  cfg->drop_ppm = RANGE(5000, 50000);
  cfg->dup_ppm = RANGE(5000, 50000);
  cfg->reorder_ppm = RANGE(5000, 50000);
  cfg->delay_max = (int)RANGE(1, 10);
  cfg->reset_ppm = RANGE(1000, 10000);
  cfg->partition_ppm = RANGE(2000, 10000);
  cfg->crash_ppm = RANGE(1000, 5000);
  cfg->crash_write_ppm = RANGE(20000, 100000);
  cfg->down_max = (int)RANGE(5, 40);
  cfg->byzantine = sim_rng_below(&r, 4) == 0;
  cfg->garbage_ppm = RANGE(20000, 100000);
#undef RANGE
}

static void default_dir(char *out, size_t len) {
  const char *env = getenv("CS_SIM_DIR");
  if (env && *env) snprintf(out, len, "%s", env);
  else if (access("/dev/shm", W_OK) == 0) snprintf(out, len, "/dev/shm"); /* fsync costs nothing there */
  else if ((env = getenv("TMPDIR")) && *env) snprintf(out, len, "%s", env);
  else snprintf(out, len, "/tmp");
}

static bool parse_u64(const char *s, uint64_t *out) {
  char *end;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno || end == s || *end || *s == '-') return false;
  *out = v;
  return true;
}

static void print_hex(const uint8_t *b, size_t n) {
  for (size_t i = 0; i < n; i++) printf("%02x", b[i]);
}

int main(int argc, char **argv) {
  uint64_t seed = 0, seeds = 0, first = 1, nodes = 0, steps = 0, activity = 0;
  const char *bundle = NULL;
  bool have_seed = false, have_seeds = false, calm = false, keep = false, verbose = false;
  int byz = -1; /* -1: by seed */
  char dir[SIM_BASE_DIR_MAX];
  default_dir(dir, sizeof(dir));
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    bool ok = true;
    if (strcmp(a, "--seed") == 0) ok = v && parse_u64(v, &seed), have_seed = true, i++;
    else if (strcmp(a, "--seeds") == 0) ok = v && parse_u64(v, &seeds), have_seeds = true, i++;
    else if (strcmp(a, "--first") == 0) ok = v && parse_u64(v, &first), i++;
    else if (strcmp(a, "--nodes") == 0) ok = v && parse_u64(v, &nodes) && nodes >= 2 && nodes <= SIM_NODES_MAX, i++;
    else if (strcmp(a, "--steps") == 0) ok = v && parse_u64(v, &steps) && steps > 0 && steps <= 1000000, i++;
    else if (strcmp(a, "--dir") == 0) {
      ok = v && strlen(v) < SIM_BASE_DIR_MAX;
      if (ok) snprintf(dir, sizeof(dir), "%s", v);
      i++;
    }
    else if (strcmp(a, "--activity") == 0) ok = v && parse_u64(v, &activity) && activity <= 1000000, i++;
    else if (strcmp(a, "--bundle") == 0) ok = v && strlen(v) < SIM_PATH_MAX, bundle = v, i++;
    else if (strcmp(a, "--byzantine") == 0) byz = 1;
    else if (strcmp(a, "--honest") == 0) byz = 0;
    else if (strcmp(a, "--calm") == 0) calm = true;
    else if (strcmp(a, "--keep") == 0) keep = true;
    else if (strcmp(a, "--verbose") == 0) verbose = true;
    else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      fputs(usage, stdout);
      return 0;
    } else ok = false;
    if (!ok) {
      fprintf(stderr, "clubsync-sim: bad argument '%s'\n%s", a, usage);
      return 2;
    }
  }
  if (have_seed == have_seeds || (have_seeds && seeds == 0)) {
    fputs(usage, stderr);
    return 2;
  }
  if (sodium_init() < 0) {
    fprintf(stderr, "clubsync-sim: libsodium failed to initialise\n");
    return 2;
  }
  uint64_t from = have_seed ? seed : first, count = have_seed ? 1 : seeds;
  sim_result_t res;
  uint64_t totals[8] = {0};
  for (uint64_t k = 0; k < count; k++) {
    sim_config_t cfg;
    sim_config_for_seed(&cfg, from + k);
    if (nodes) cfg.nodes = (int)nodes;
    if (steps) cfg.steps = (int)steps;
    if (byz >= 0) cfg.byzantine = byz == 1;
    if (activity) cfg.act_ppm = (uint32_t)activity;
    if (bundle && have_seed) snprintf(cfg.bundle_path, sizeof(cfg.bundle_path), "%s", bundle);
    if (calm) {
      cfg.drop_ppm = cfg.dup_ppm = cfg.reorder_ppm = cfg.reset_ppm = cfg.partition_ppm = 0;
      cfg.crash_ppm = cfg.crash_write_ppm = cfg.garbage_ppm = 0;
      cfg.delay_max = 1;
      cfg.commit_ppm = 1000000;
    }
    cfg.verbose = verbose;
    cfg.keep = keep;
    snprintf(cfg.base_dir, sizeof(cfg.base_dir), "%s", dir);
    if (sim_run(&cfg, &res) != CS_OK) {
      fprintf(stderr, "clubsync-sim: %s\n", res.reason);
      return 2;
    }
    totals[0] += res.changes_authored;
    totals[1] += res.messages_sent;
    totals[2] += res.crashes;
    totals[3] += res.acked;
    totals[4] += res.ingest_pending;
    totals[5] += res.final_invalid;
    totals[6] += res.ingest_forks;
    totals[7] += res.sessions_failed;
    if (have_seed || !res.ok) {
      printf("seed %" PRIu64 ": %s nodes=%d%s authored=%" PRIu64 " lost_in_crash=%" PRIu64 " acked=%" PRIu64
             " messages=%" PRIu64 " dropped=%" PRIu64 " duplicated=%" PRIu64 " sessions=%" PRIu64
             " refused=%" PRIu64 " crashes=%" PRIu64 " partitions=%" PRIu64 " forks=%" PRIu64 " garbage=%" PRIu64
             " other_club=%" PRIu64 " heal_rounds=%" PRIu64 "\n  replicas: parked=%" PRIu64 " rejected=%" PRIu64
             " other_club_refused=%" PRIu64 " fork_evidence=%" PRIu64 " duplicates=%" PRIu64 "; final: changes=%" PRIu64
             " invalid=%" PRIu64 " objects=%" PRIu64 "\n",
             from + k, res.ok ? "ok" : "FAIL", cfg.nodes, cfg.byzantine ? " byzantine" : "", res.changes_authored,
             res.changes_lost_in_crash, res.acked, res.messages_sent, res.messages_dropped, res.messages_duplicated,
             res.sessions, res.sessions_failed, res.crashes, res.partitions, res.forks_made, res.garbage_sent,
             res.other_club_sent, res.heal_rounds, res.ingest_pending, res.ingest_rejected, res.other_club_refused,
             res.ingest_forks, res.ingest_duplicates, res.final_changes, res.final_invalid, res.final_objects);
      if (res.ok) {
        printf("digest ");
        print_hex(res.digest, sizeof(res.digest));
        printf("\n");
      }
      printf("trace ");
      print_hex(res.trace, sizeof(res.trace));
      printf("\n");
    }
    if (!res.ok) {
      printf("FAIL seed %" PRIu64 ": %s\n", from + k, res.reason);
      printf("replay: clubsync-sim --seed %" PRIu64 "%s%s\n", from + k,
             byz == 1 ? " --byzantine" : byz == 0 ? " --honest" : "", calm ? " --calm" : "");
      return 1;
    }
    if (!have_seed && (k + 1) % 100 == 0) {
      fprintf(stderr, "%" PRIu64 " seeds passed\n", k + 1);
    }
  }
  if (have_seeds)
    printf("%" PRIu64 " seeds passed (%" PRIu64 "..%" PRIu64 "): %" PRIu64 " changes authored, %" PRIu64
           " acknowledged, %" PRIu64 " messages, %" PRIu64 " crashes, %" PRIu64 " parked, %" PRIu64
           " invalid at the end, %" PRIu64 " fork evidence stored, %" PRIu64 " sessions refused\n",
           count, from, from + count - 1, totals[0], totals[3], totals[1], totals[2], totals[4], totals[5], totals[6],
           totals[7]);
  return 0;
}
