#ifndef CS_TOOLS_SIM_H
#define CS_TOOLS_SIM_H

/* The deterministic simulator: N clubsync nodes in one process, each with
 * its own real LMDB replica, talking through the real sync machine
 * (core/sync.h over store/sync_io.h) across a simulated network that drops,
 * duplicates, delays, reorders and partitions messages, while nodes crash
 * (losing their open write transaction) and restart on their files.
 *
 * A run is a pure function of its seed and options: one PRNG drives every
 * choice, the clock is a tick counter, and every event is hashed into a
 * trace, so `--seed N` replays a failure exactly. docs/reliability.md
 * describes the fault model and the checks. */

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <sodium.h>

#include "core/sync.h"
#include "store/store.h"
#include "store/sync_io.h"

/* Limits of one run. */
#define SIM_NODES_MAX 16
#define SIM_ARRIVALS_MAX 65536 /* per node: changes stored, for push sources */
#define SIM_PATH_MAX 512
#define SIM_BASE_DIR_MAX 256

/* xoshiro256**, seeded through splitmix64: small, fast, and the same on
 * every platform. */
typedef struct sim_rng_s {
  uint64_t s[4];
} sim_rng_t;

void sim_rng_seed(sim_rng_t *r, uint64_t seed);
uint64_t sim_rng_next(sim_rng_t *r);
/* Uniform in [0, n); n > 0. */
uint32_t sim_rng_below(sim_rng_t *r, uint32_t n);
/* True with probability ppm / 1e6. */
bool sim_rng_ppm(sim_rng_t *r, uint32_t ppm);

/* What a run does; sim_config_for_seed fills it from the seed, options may
 * override some fields afterwards. Probabilities are per million. */
typedef struct sim_config_s {
  uint64_t seed;
  int nodes;
  int steps;             /* ticks of activity before the heal */
  uint32_t act_ppm;      /* a node authors a change, per tick */
  uint32_t connect_ppm;  /* a node opens a session to a random peer, per tick */
  uint32_t commit_ppm;   /* a node commits its open batch right after a message */
  /* Network faults. */
  uint32_t drop_ppm;     /* a message is lost */
  uint32_t dup_ppm;      /* a message is delivered twice */
  uint32_t reorder_ppm;  /* a message ignores its connection's order */
  int delay_max;         /* ticks of latency, 1..delay_max */
  uint32_t reset_ppm;    /* an open connection is reset, per tick */
  uint32_t partition_ppm; /* the network splits in two (or heals), per tick */
  /* Node faults. */
  uint32_t crash_ppm;      /* a node crashes, per tick */
  uint32_t crash_write_ppm; /* a local change is lost by a crash before its commit */
  int down_max;            /* ticks a crashed node stays down, 1..down_max */
  /* A node that equivocates, sends garbage and sends another club's
   * changes. */
  bool byzantine;
  uint32_t garbage_ppm;    /* the byzantine node damages a message it sends */
  bool verbose;
  bool keep;               /* keep the node directories */
  char base_dir[SIM_BASE_DIR_MAX];
  /* When set, a passing run writes node 0's whole club history there as a
   * bundle (for the crash-import test). */
  char bundle_path[SIM_PATH_MAX];
} sim_config_t;

void sim_config_for_seed(sim_config_t *cfg, uint64_t seed);

/* The outcome of one run. */
typedef struct sim_result_s {
  bool ok;
  char reason[512];
  uint8_t trace[32];
  uint8_t digest[32]; /* the converged state digest (`clubsync digest`) */
  /* Statistics, for the summary line. */
  uint64_t changes_authored, changes_lost_in_crash, messages_sent, messages_dropped, messages_duplicated,
      sessions, sessions_failed, crashes, partitions, heal_rounds, acked, forks_made, garbage_sent;
  /* The byzantine node's changes of another club: sent on sessions of the
   * club, and refused by their receivers. */
  uint64_t other_club_sent, other_club_refused;
  /* What the replicas saw, summed over sessions, and the final state. */
  uint64_t ingest_pending, ingest_rejected, ingest_forks, ingest_duplicates, final_changes, final_invalid,
      final_objects;
} sim_result_t;

int sim_run(const sim_config_t *cfg, sim_result_t *result);

/* Activity: one random club action by node `node` (tools/sim/activity.c). */
struct sim_world_s;
typedef struct sim_world_s sim_world_t;
void sim_activity(sim_world_t *w, int node);
/* The club's creation by node 0 at the start of a run. */
int sim_genesis(sim_world_t *w);

#endif
