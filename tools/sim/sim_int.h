#ifndef CS_TOOLS_SIM_INT_H
#define CS_TOOLS_SIM_INT_H

/* Internals of the simulator shared by its sources. */

#include "tools/sim/sim.h"

/* A message in flight on one connection. */
typedef struct sim_msg_s {
  uint64_t deliver_at;
  uint64_t order; /* global send order: ties keep it */
  uint32_t conn_id;
  int a, b;       /* the connection's slot (a < b) */
  int to_side;    /* 0: to node a, 1: to node b */
  uint8_t *data;
  size_t len;
} sim_msg_t;

/* One side of a connection: a sync machine over this node's store. */
typedef struct sim_end_s {
  sim_world_t *w;
  int node, peer, side;
  int a, b;
  cs_store_sync_t x;
  cs_sync_io_t io;
  cs_sync_t sync;
  uint64_t pushed_upto;     /* arrivals pushed live, as net/ does */
  uint64_t last_deliver_at; /* FIFO order of what this side sends */
} sim_end_t;

typedef struct sim_conn_s {
  bool open;
  uint32_t id;
  uint64_t opened_at;
  sim_end_t end[2];
} sim_conn_t;

typedef struct sim_node_s {
  char dir[SIM_PATH_MAX];
  cs_store_t *store; /* NULL while crashed */
  uint64_t down_until;
  uint8_t pk[CS_KEY_LEN], sk[CS_SECRET_KEY_LEN];
  char museum[32];
  uint64_t acked_arrival; /* last arrival number seen committed */
  int8_t *arrival_src;    /* where each arrival came from: peer, or -1 local */
  sim_end_t *batch;       /* the side holding this node's open write transaction */
  /* Byzantine only: seq of the first fork it made, 0 if none. */
  uint64_t forked_at;
} sim_node_t;

/* An open-addressing set of 32-byte ids, or a map (key 40 bytes -> id). */
typedef struct sim_set_s {
  uint8_t *slots; /* cap * (key_len + val_len + 1) */
  size_t cap, count, key_len, val_len;
} sim_set_t;

struct sim_world_s {
  const sim_config_t *cfg;
  sim_result_t *res;
  sim_rng_t rng;
  uint64_t now;
  crypto_generichash_state trace;
  int n;
  sim_node_t node[SIM_NODES_MAX];
  sim_conn_t (*conn)[SIM_NODES_MAX]; /* conn[a][b], a < b */
  uint32_t next_conn_id;
  sim_msg_t *msgs;
  size_t msg_count, msg_cap;
  uint64_t msg_order;
  uint8_t club[CS_ID_LEN];
  bool have_club;
  int side[SIM_NODES_MAX]; /* partition side of each node */
  bool partitioned;
  bool healing; /* no faults, no activity: the end of a run */
  int byz;      /* the byzantine node, or -1 */
  /* A club only the byzantine node holds, once it has made it. */
  uint8_t other_club[CS_ID_LEN];
  bool have_other_club;
  bool raw_send; /* sim_send_raw is sending: bytes not made by a sync machine */
  sim_set_t acked;  /* every change some node committed */
  sim_set_t signed_; /* (author, seq) -> id of every change committed by its author */
  bool failed;
};

/* Records an event in the trace (and prints it when verbose). */
void sim_event(sim_world_t *w, const char *what, int a, int b, uint64_t x, const void *data, size_t len);
/* Marks the run failed with a reason (the first one wins). */
void sim_fail(sim_world_t *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

bool sim_node_up(const sim_world_t *w, int node);
/* Commits the node's open batch, if any, so a new write can begin. */
void sim_node_flush(sim_world_t *w, int node);
/* After a commit: records what was acknowledged and pushes it live. */
void sim_node_committed(sim_world_t *w, int node, int source);
/* Signs a change by the node in its own write transaction and commits it
 * (unless a crash is injected first). Returns CS_OK when committed. */
int sim_author(sim_world_t *w, int node, cs_span_t payload, uint8_t id[CS_ID_LEN]);
/* The same with chosen deps (a change carrying out a decision), its own
 * previous change among them when it wants one. */
int sim_author_deps(sim_world_t *w, int node, cs_span_t payload, const uint8_t (*deps)[CS_ID_LEN], uint32_t dep_count,
                    uint8_t id[CS_ID_LEN]);
/* Sends raw bytes as a message from node to a random connected peer. */
bool sim_send_raw(sim_world_t *w, int node, cs_span_t message);
/* Signs a change by the node in w->other_club (its genesis, the first time)
 * and commits it, so the node's sessions are offered it like any arrival.
 * Returns CS_OK when committed. */
int sim_author_other_club(sim_world_t *w, int node, cs_span_t payload, uint8_t id[CS_ID_LEN]);

int sim_set_init(sim_set_t *s, size_t key_len, size_t val_len);
void sim_set_free(sim_set_t *s);
/* Inserts key -> val; returns 1 if new, 0 if present (val_out gets the
 * stored value), -1 on allocation failure. */
int sim_set_put(sim_set_t *s, const uint8_t *key, const uint8_t *val, uint8_t *val_out);
bool sim_set_has(const sim_set_t *s, const uint8_t *key);
/* Iterates the keys: i from 0 while sim_set_key returns non-NULL. */
const uint8_t *sim_set_slot_key(const sim_set_t *s, size_t slot);

#endif
