#ifndef CS_STORE_STORE_H
#define CS_STORE_STORE_H

/* The replica: one LMDB environment per node home.
 *
 * Every change received (from the network, a bundle, or signed here) goes
 * through cs_store_ingest, which runs the brief's validation in order and
 * applies the change to the materialized state in the caller's write
 * transaction, so a batch is acknowledged only once its commit returns.
 * docs/store.md draws every database as a table. */

#include <stdbool.h>
#include <stdint.h>

#include <lmdb.h>

#include "core/change.h"
#include "core/decision.h"
#include "core/members.h"
#include "core/object.h"
#include "core/op.h"
#include "core/past.h"

typedef struct cs_store_s cs_store_t;

#define CS_STORE_DIGESTS_MAX 64 /* clubs whose vector digest the store keeps (one node holds at most 64) */

typedef struct cs_txn_s {
  cs_store_t *store;
  MDB_txn *txn;
  bool write;
  bool rebuild_needed; /* a membership change altered a role retroactively */
  uint8_t rebuild_club[CS_ID_LEN];
} cs_txn_t;

/* The outcome of ingesting one signed change. */
typedef enum cs_ingest_status_e {
  CS_INGEST_NEW = 0,      /* stored and applied */
  CS_INGEST_DUPLICATE,    /* already stored; nothing changed */
  CS_INGEST_PENDING,      /* valid signature, waiting for prev or deps */
  CS_INGEST_UNAUTHORISED, /* stored as signed evidence, kept out of the state */
  CS_INGEST_FORK,         /* second change with an existing (author, seq): kept as evidence */
  CS_INGEST_REJECTED,     /* invalid; not stored */
} cs_ingest_status_t;

typedef struct cs_ingest_result_s {
  cs_ingest_status_t status;
  int reason;              /* a cs_err_t for every status but NEW and DUPLICATE */
  uint8_t id[CS_ID_LEN];   /* valid once the change decoded */
  uint32_t released;       /* pending changes applied because this one arrived */
} cs_ingest_result_t;

/* Bounds of the pending table (store/pending.c; derived in docs/limits.md).
 * Over a key's bound, that key's own oldest pending change is evicted, so a
 * key that floods hurts only itself; over the store's, the oldest of all.
 * A change's bytes are its signed bytes plus CS_PENDING_ENTRY_BYTES per
 * index entry it may hold (3, and one wait entry per parent). An honest
 * out-of-order burst fits: a key's chain of 4,096 changes, or 16 MiB (64
 * CHANGES messages of 256 KiB). */
#define CS_PENDING_KEY_MAX 4096u
#define CS_PENDING_KEY_BYTES ((uint64_t)16 << 20)
#define CS_PENDING_MAX 20000u
#define CS_PENDING_BYTES ((uint64_t)128 << 20)
#define CS_PENDING_ENTRY_BYTES 128u
#define CS_STORE_MAP_SIZE ((size_t)16 << 30)

int cs_store_open(const char *dir, cs_store_t **out) CS_MUST_USE;
void cs_store_close(cs_store_t *store);

int cs_store_begin(cs_store_t *store, bool write, cs_txn_t *txn) CS_MUST_USE;
/* Commits (or for a read transaction, ends) and releases the transaction.
 * A write transaction whose membership changed retroactively rebuilds the
 * club's state first, inside the same transaction. */
int cs_store_commit(cs_txn_t *txn) CS_MUST_USE;
void cs_store_abort(cs_txn_t *txn);
/* Writes a compacted copy of the whole environment (data.mdb) to fd, as one
 * read transaction sees it: LMDB's own copy (mdb_env_copyfd2 with
 * MDB_CP_COMPACT), which writers of this or another process do not wait
 * for. fd must be a fresh regular file: the copy seeks back to its start. */
int cs_store_copy(cs_store_t *store, int fd) CS_MUST_USE;
/* LMDB's id of the last committed write transaction, for change watching. */
uint64_t cs_store_last_txnid(cs_store_t *store);

/* Validates and applies one signed change; see cs_ingest_status_t. Returns
 * CS_OK whatever the outcome for the change; a non-zero return is a store
 * failure (disk full, I/O) after which the transaction must be aborted. */
int cs_store_ingest(cs_txn_t *txn, cs_span_t signed_bytes, cs_ingest_result_t *res) CS_MUST_USE;
/* The same, for a caller that has already verified this exact change's
 * signature (with cs_change_parse_verified), e.g. on another thread. */
int cs_store_ingest_checked(cs_txn_t *txn, cs_span_t signed_bytes, bool signature_checked,
                            cs_ingest_result_t *res) CS_MUST_USE;

/* Signs a new change by `secret_key`'s author in `club` (or a new club's
 * genesis when club is NULL) with the given payload, and ingests it. The
 * caller commits before sending it anywhere. */
int cs_store_author(cs_txn_t *txn, const uint8_t *club, const uint8_t *secret_key, cs_span_t payload,
                    int64_t time_ms, uint8_t id_out[CS_ID_LEN]) CS_MUST_USE;
/* This node's heads in a club (the changes nothing stored depends on), at
 * most `max`, into heads_out; *count gets how many. */
int cs_store_heads(cs_txn_t *txn, const uint8_t club[CS_ID_LEN], uint8_t (*heads_out)[CS_ID_LEN], uint32_t max,
                   uint32_t *count) CS_MUST_USE;
/* The same with chosen deps instead of this node's heads: a resolution
 * carrying out a decision depends on its motion and resolution. */
int cs_store_author_deps(cs_txn_t *txn, const uint8_t club[CS_ID_LEN], const uint8_t *secret_key, cs_span_t payload,
                         int64_t time_ms, const uint8_t (*deps)[CS_ID_LEN], uint32_t dep_count,
                         uint8_t id_out[CS_ID_LEN]) CS_MUST_USE;

/* Rebuilds a club's materialized state and validity flags from its stored
 * changes, in (lamport, id) order. */
int cs_store_rebuild(cs_txn_t *txn, const uint8_t club[CS_ID_LEN]) CS_MUST_USE;

/* Reads -------------------------------------------------------------- */

/* Walks. Every function here that takes an `each_cb` calls it once per
 * record, in the order it states, and follows one convention:
 * - the callback returns 0 to go on;
 * - any other value stops the walk at once, and the walk returns it: an error
 *   code of the callback's comes back unchanged (CS_ENOTFOUND included), and
 *   CS_STOP ends the walk early as a success (the walk returns CS_OK);
 * - a failure of the store's own on the way (a record that does not decode, a
 *   cursor error) stops the walk and is returned; the callback is not called
 *   again. A walk that returns an error before its first record never calls
 *   the callback. */
#define CS_STOP (-1)

typedef struct cs_club_info_s {
  uint8_t id[CS_ID_LEN];
  char name[CS_NAME_MAX + 1];
  char software[CS_NAME_MAX + 1];
  uint8_t founder[CS_KEY_LEN];
  uint64_t change_count;
} cs_club_info_t;

/* Walks the clubs, in id order. */
int cs_store_clubs(cs_txn_t *txn, int (*each_cb)(const cs_club_info_t *club, void *ctx), void *ctx);
int cs_store_club_get(cs_txn_t *txn, const uint8_t club[CS_ID_LEN], cs_club_info_t *out) CS_MUST_USE;

/* Fetches a stored change's signed bytes (borrowed until the txn ends). */
int cs_store_change_get(cs_txn_t *txn, const uint8_t id[CS_ID_LEN], cs_span_t *signed_bytes) CS_MUST_USE;
/* The validity of a stored change: CS_OK, or the reason it is kept out. */
int cs_store_change_status(cs_txn_t *txn, const uint8_t id[CS_ID_LEN]);

/* Iterates a club's stored changes in (lamport, id) order, a causal order. */
int cs_store_changes(cs_txn_t *txn, const uint8_t club[CS_ID_LEN],
                     int (*each_cb)(const uint8_t id[CS_ID_LEN], cs_span_t signed_bytes, void *ctx), void *ctx);

/* The same, from the first change whose lamport is at least `lamport`. */
int cs_store_changes_from(cs_txn_t *txn, const uint8_t club[CS_ID_LEN], uint64_t lamport,
                          int (*each_cb)(const uint8_t id[CS_ID_LEN], cs_span_t signed_bytes, void *ctx), void *ctx);

/* The tally of a campaign's ballots in the causal past of stored change
 * `as_of`, or, with as_of NULL, in every valid change stored (the past of a
 * change this node is about to write): core/campaign.h, cs_tally_past_t.
 * The caller frees *out with cs_tally_past_free. */
typedef struct cs_tally_past_s cs_tally_past_t;
int cs_store_campaign_tally(cs_txn_t *txn, const uint8_t club[CS_ID_LEN], const uint8_t campaign[CS_ID_LEN],
                            const cs_change_t *as_of, cs_tally_past_t **out) CS_MUST_USE;

/* The highest seq stored for (club, author), 0 if none; id of it if wanted. */
uint64_t cs_store_author_seq(cs_txn_t *txn, const uint8_t club[CS_ID_LEN], const uint8_t author[CS_KEY_LEN],
                             uint8_t *id_out);

/* Iterates (author, max seq, id at max seq): the version vector. */
int cs_store_vector(cs_txn_t *txn, const uint8_t club[CS_ID_LEN],
                    int (*each_cb)(const uint8_t author[CS_KEY_LEN], uint64_t seq, const uint8_t id[CS_ID_LEN],
                                   void *ctx),
                    void *ctx);
/* The id of (club, author, seq), CS_ENOTFOUND if absent. */
int cs_store_chain_get(cs_txn_t *txn, const uint8_t club[CS_ID_LEN], const uint8_t author[CS_KEY_LEN],
                       uint64_t seq, uint8_t id_out[CS_ID_LEN]) CS_MUST_USE;

/* The causal past of stored changes (core/past.h): the highest seq by
 * `author` in the past of `change` (itself included), 0 if none;
 * CS_ENOTFOUND when `change` is not stored. */
int cs_store_past_seq(cs_txn_t *txn, const uint8_t change[CS_ID_LEN], const uint8_t author[CS_KEY_LEN],
                      uint64_t *seq) CS_MUST_USE;
/* The same as the rules' oracle, valid while txn is. */
cs_past_t cs_store_past(cs_txn_t *txn);

/* Materialized objects. */
int cs_store_object_get(cs_txn_t *txn, const uint8_t club[CS_ID_LEN], const uint8_t obj[CS_ID_LEN],
                        cs_object_t *out) CS_MUST_USE;
/* Walks a club's objects of one type (0: every type), in id order. */
int cs_store_objects(cs_txn_t *txn, const uint8_t club[CS_ID_LEN], uint64_t type,
                     int (*each_cb)(const uint8_t id[CS_ID_LEN], const cs_object_t *obj, void *ctx), void *ctx);

/* Resolved members. */
/* What the motion rules read (core/decision.h), as the replica holds it:
 * every valid ballot on a motion (*out malloc'd, the caller frees it), and
 * the applied member ops (free with cs_motion_members_free). */
int cs_store_motion_ballots(cs_txn_t *txn, const uint8_t club[CS_ID_LEN], const uint8_t motion[CS_ID_LEN],
                            cs_ballot_t **out, uint32_t *count) CS_MUST_USE;
int cs_store_motion_members(cs_txn_t *txn, const uint8_t club[CS_ID_LEN], cs_motion_members_t *out) CS_MUST_USE;
/* The decision on a motion as of change `at` (NULL: as this node holds it):
 * the winner among its valid resolutions in that causal past, by the rule
 * every node and `verify` apply (cs_motion_winner). *resolved false when
 * there is none (or no such motion). */
int cs_store_motion_decision(cs_txn_t *txn, const uint8_t club[CS_ID_LEN], const uint8_t motion[CS_ID_LEN],
                             const uint8_t *at, cs_resolution_rec_t *out, bool *resolved) CS_MUST_USE;
int cs_store_member_get(cs_txn_t *txn, const uint8_t club[CS_ID_LEN], const uint8_t key[CS_KEY_LEN],
                        cs_member_t *out) CS_MUST_USE;
int cs_store_members(cs_txn_t *txn, const uint8_t club[CS_ID_LEN],
                     int (*each_cb)(const cs_member_t *member, void *ctx), void *ctx);

/* Ids (changes, objects, members, clubs) that start with a hex prefix. */
typedef enum { CS_LOOKUP_CLUB, CS_LOOKUP_OBJECT, CS_LOOKUP_MEMBER, CS_LOOKUP_CHANGE } cs_lookup_kind_t;
int cs_store_resolve_prefix(cs_txn_t *txn, cs_lookup_kind_t kind, const uint8_t *club, const char *hex_prefix,
                            uint8_t out[CS_ID_LEN]) CS_MUST_USE;

/* The digest of a club's materialized state (club, members, objects). */
int cs_store_digest(cs_txn_t *txn, const uint8_t club[CS_ID_LEN], uint8_t out[32]) CS_MUST_USE;

typedef struct cs_store_counts_s {
  uint64_t changes;
  uint64_t invalid;
  uint64_t pending;
  uint64_t forks;
  uint64_t objects;
  uint64_t heads;
} cs_store_counts_t;
int cs_store_counts(cs_txn_t *txn, const uint8_t club[CS_ID_LEN], cs_store_counts_t *out) CS_MUST_USE;

/* What the pending table holds: of one author's changes, or (author NULL)
 * of all, read from the totals the store keeps (store/pending.c). */
typedef struct cs_store_pending_s {
  uint64_t changes;
  uint64_t bytes; /* signed bytes and index entries (CS_PENDING_ENTRY_BYTES each) */
} cs_store_pending_t;
int cs_store_pending_usage(cs_txn_t *txn, const uint8_t *author, cs_store_pending_t *out) CS_MUST_USE;

/* Recorded forks: (author, seq) with two different signed changes. */
int cs_store_forks(cs_txn_t *txn, const uint8_t club[CS_ID_LEN],
                   int (*each_cb)(const uint8_t author[CS_KEY_LEN], uint64_t seq, const uint8_t first[CS_ID_LEN],
                                  const uint8_t second[CS_ID_LEN], void *ctx),
                   void *ctx);

/* Walks the fork evidence of (club, author), in (seq, id) order: the
 * author's stored changes kept off its chain (a second change at a seq, and
 * the changes continuing that branch). An author with none never forked.
 * It reads that author's records only, whatever else is stored. */
int cs_store_fork_evidence(cs_txn_t *txn, const uint8_t club[CS_ID_LEN], const uint8_t author[CS_KEY_LEN],
                           int (*each_cb)(uint64_t seq, const uint8_t id[CS_ID_LEN], void *ctx), void *ctx);
/* Evidence records read by cs_store_fork_evidence since the store was
 * opened (a measure of work, for tests and benchmarks). */
uint64_t cs_store_evidence_reads(const cs_store_t *store);
/* Rebuilds of a club's state and rounds of the membership replay run since
 * the store was opened: the work a hostile change can force, counted. */
uint64_t cs_store_rebuilds(const cs_store_t *store);
uint64_t cs_store_member_rounds(const cs_store_t *store);

/* Every stored change (evidence included) gets a local arrival number, so a
 * running node can find what was added since it last looked, whichever
 * process added it. */
uint64_t cs_store_arrival_last(cs_txn_t *txn);
int cs_store_arrivals_since(cs_txn_t *txn, uint64_t after,
                            int (*each_cb)(uint64_t arrival, const uint8_t id[CS_ID_LEN], cs_span_t signed_bytes,
                                           void *ctx),
                            void *ctx);

#endif
