#ifndef CS_STORE_STORE_INT_H
#define CS_STORE_STORE_INT_H

/* Internals shared by the store sources; not part of the store interface. */

#include <string.h>

#include "store/store.h"

struct cs_store_s {
  MDB_env *env;
  /* The sync batch holding this process's write transaction, if any: one
   * thread cannot open a second, so another batch commits it first. */
  struct cs_store_sync_s *open_batch;
  MDB_dbi meta;
  MDB_dbi changes;      /* id -> arrival number (u64) */
  MDB_dbi status;       /* id -> reason (u8) for stored changes kept out of the state */
  MDB_dbi chain;        /* club|author|seq -> id */
  MDB_dbi order;        /* club|lamport|id -> (empty) */
  MDB_dbi heads;        /* club|id -> (empty) */
  MDB_dbi pending;      /* id -> arrival (u64) | signed bytes */
  MDB_dbi pending_wait; /* missing id -> waiting id (dupsort) */
  MDB_dbi pending_age;  /* arrival (u64) -> id */
  MDB_dbi pending_author; /* author|arrival (u64) -> id: pending by author, oldest first (pending.c) */
  MDB_dbi pending_keys;   /* author -> count (u64) | signed bytes (u64) of its pending changes */
  MDB_dbi objects;      /* club|object -> record */
  MDB_dbi clubs;        /* club -> club record */
  MDB_dbi members;      /* club|key -> member timeline */
  MDB_dbi memberops;    /* club|lamport|change|index -> member op record */
  MDB_dbi forks;        /* club|author|seq -> [first id, second id] */
  MDB_dbi arrivals;     /* arrival number (u64) -> id | signed bytes, appended in arrival order */
  MDB_dbi authors;      /* author key -> author number (u32), for the vectors of `pasts` */
  MDB_dbi pasts;        /* arrival number (u64) -> version vector of that change's causal past (core/past.h) */
  MDB_dbi evidence;     /* club|author|seq|id -> (empty): fork evidence by author (evidence.c) */
  uint64_t evidence_reads; /* evidence records read, for tests and benchmarks */
  uint64_t rebuilds;       /* club rebuilds run (cs_store_rebuild), for tests */
  uint64_t member_rounds;  /* membership replay rounds run, for tests */
  /* Vector digests of the clubs, each valid at the committed transaction
   * it was computed after (sync_io.c): a CHECK costs a lookup, and a commit
   * costs one recomputation, at the next request. */
  struct {
    uint8_t club[CS_ID_LEN];
    uint64_t txnid; /* 0: empty */
    uint8_t digest[32];
  } digests[CS_STORE_DIGESTS_MAX];
  uint32_t digest_next; /* the entry a new club takes (round robin) */
};

#define CS__K2 (2 * CS_ID_LEN)
#define CS__K3 (2 * CS_ID_LEN + 8)

static inline void cs__put_be64(uint8_t *p, uint64_t v) {
  for (int i = 7; i >= 0; i--) {
    p[i] = (uint8_t)v;
    v >>= 8;
  }
}
static inline uint64_t cs__get_be64(const uint8_t *p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++) v = v << 8 | p[i];
  return v;
}
static inline void cs__key2(uint8_t out[CS__K2], const uint8_t *a, const uint8_t *b) {
  memcpy(out, a, CS_ID_LEN);
  memcpy(out + CS_ID_LEN, b, CS_ID_LEN);
}
/* club|author|seq */
static inline void cs__chain_key(uint8_t out[CS__K3], const uint8_t *club, const uint8_t *author, uint64_t seq) {
  cs__key2(out, club, author);
  cs__put_be64(out + CS__K2, seq);
}
static inline MDB_val cs__val(const void *p, size_t n) {
  MDB_val v = {n, (void *)p};
  return v;
}
static inline cs_span_t cs__span(MDB_val v) {
  cs_span_t s = {(const uint8_t *)v.mv_data, v.mv_size};
  return s;
}

/* Translates an LMDB return code into a cs_err_t. */
int cs__mdb_err(int rc);

/* ingest.c */
int cs__apply_change(cs_txn_t *txn, const cs_change_t *c, const uint8_t club[CS_ID_LEN]);
/* What a membership replay found (cs__members_replay). */
typedef struct cs__replay_found_s {
  bool retroactive;      /* a role changed for a seq its key already wrote */
  bool consulted;        /* a decision was weighed for the current change */
  bool statuses_changed; /* another member change's validity differs from the stored one */
  uint32_t rounds;       /* replays the fixed point took (cs_member_replay_all) */
  bool current_kept_out; /* the current change applied, then kept out on the final timelines */
} cs__replay_found_t;
/* Replays the club's membership to a fixed point (cs_member_replay_all);
 * `current` is the change being applied (NULL in a rebuild); `pessimistic`
 * takes no decision as adopted (cs_store_rebuild). */
int cs__members_replay(cs_txn_t *txn, const uint8_t club[CS_ID_LEN], const cs_change_t *current, bool pessimistic,
                       cs__replay_found_t *found);

/* past.c */
/* Stores c's vector; `appended`: c is the last change appended to
 * `arrivals` (ingest), so its vector is appended too. */
int cs__past_put(cs_txn_t *txn, const cs_change_t *c, bool appended);
int cs__past_backfill(cs_txn_t *txn);

/* evidence.c */
/* Indexes c, just stored off its author's chain in `club`, as evidence. */
int cs__evidence_put(cs_txn_t *txn, const cs_change_t *c, const uint8_t club[CS_ID_LEN]);
int cs__evidence_backfill(cs_txn_t *txn);

/* pending.c */
/* Parks c, verified, until `missing` arrive; evicts first what the bounds
 * (CS_PENDING_*) require. */
int cs__pending_park(cs_txn_t *txn, const cs_change_t *c, const uint8_t (*missing)[CS_ID_LEN],
                     uint32_t missing_count);
/* Deletes a pending change, its wait entries and its index entry. */
int cs__pending_drop(cs_txn_t *txn, const uint8_t id[CS_ID_LEN]);
int cs__pending_trim(cs_txn_t *txn);
int cs__pending_backfill(cs_txn_t *txn);

#endif
