#ifndef CS_CORE_SYNC_H
#define CS_CORE_SYNC_H

/* The sync protocol between two nodes of a club, as a state machine with no
 * I/O: the driver (net/ over TCP, or the simulator) feeds it whole messages
 * and gives it access to the replica through a small vtable; the machine
 * emits messages through the vtable's send. docs/protocol.md has the tables.
 *
 *   both:  HELLO(club, vector digest)  -- equal digests: in sync, go live
 *   both:  VECTOR(author prefix, seq, id prefix)...
 *   both:  CHANGES(signed change...)... in causal order, then DONE
 *   live:  CHANGES pushed as they are stored (never back to their source)
 *
 * A session carries only its club's changes: the machine never sends a
 * change of another club (its pump and cs_sync_push skip one, whatever the
 * driver hands them), and a received change of another club, a foreign
 * genesis included, is refused and counted in changes_other_club, never
 * handed to ingest. A node may hold several clubs; a connection is for one.
 */

#include <stdbool.h>
#include <stdint.h>

#include "core/change.h"
#include "core/mp.h"

#define CS_SYNC_VERSION 1
#define CS_SYNC_MESSAGE_MAX (1024u * 1024u)     /* checked before allocating */
#define CS_SYNC_BATCH_BYTES (256u * 1024u)      /* one CHANGES message */
#define CS_SYNC_VECTOR_MAX 20000u               /* authors in one vector */
#define CS_SYNC_PREFIX_LEN 8                    /* author and id prefixes in vectors */

typedef enum cs_sync_msg_e {
  CS_SYNC_HELLO = 1,
  CS_SYNC_VECTOR = 2,
  CS_SYNC_CHANGES = 3,
  CS_SYNC_DONE = 4,
  CS_SYNC_CHECK = 5,
} cs_sync_msg_t;

/* One entry of a version vector: an author's highest seq and the id there. */
typedef struct cs_sync_entry_s {
  uint8_t author[CS_KEY_LEN];
  uint64_t seq;
  uint8_t id[CS_ID_LEN];
  uint32_t forks; /* 0, or a summary of the author's changes held when it forked (store/sync_io.c) */
} cs_sync_entry_t;

/* What the machine needs from the replica and the transport. Every function
 * returns CS_OK or an error; `each` callbacks return non-zero to stop. */
typedef struct cs_sync_io_s {
  void *ctx;
  /* The local version vector, one entry per author, in any order. */
  int (*vector)(void *ctx, int (*each)(const cs_sync_entry_t *entry, void *each_ctx), void *each_ctx);
  /* The id and lamport of the change at (author, seq), or CS_ENOTFOUND. */
  int (*change_at)(void *ctx, const uint8_t author[CS_KEY_LEN], uint64_t seq, uint8_t id[CS_ID_LEN],
                   uint64_t *lamport);
  /* The club's stored changes in (lamport, id) order, from lamport `from`. */
  int (*changes_from)(void *ctx, uint64_t from,
                      int (*each)(const uint8_t id[CS_ID_LEN], cs_span_t signed_bytes, void *each_ctx),
                      void *each_ctx);
  /* Hands the changes of one received message to the replica, in order
   * (the driver may verify them in parallel and batch its commits). */
  int (*ingest)(void *ctx, const cs_span_t *changes, size_t count);
  /* Sends one whole message to the peer. */
  int (*send)(void *ctx, cs_span_t message);
  /* Optional, NULL to compute it from `vector` each time: the digest of the
   * local vector, which a driver may keep until the replica changes (a peer
   * asks for it with every HELLO and CHECK). */
  int (*digest)(void *ctx, uint8_t out[32]);
} cs_sync_io_t;

typedef struct cs_sync_s {
  cs_sync_io_t io;
  uint8_t club[CS_ID_LEN];
  uint8_t local_digest[32];
  bool hello_received;
  bool vector_sent;
  bool peer_vector_received;
  bool sending;          /* streaming what the peer lacks */
  bool done_sent;
  bool done_received;
  /* The peer's vector, sorted by author prefix, for "does the peer lack it". */
  uint8_t (*peer_authors)[CS_SYNC_PREFIX_LEN];
  uint64_t *peer_seqs; /* what the peer has; 0 for an author whose evidence it lacks */
  uint32_t peer_count;
  /* Resume point of the stream: the next change has lamport >= this, and
   * at exactly this lamport, an id above resume_id. */
  uint64_t resume_lamport;
  uint8_t resume_id[CS_ID_LEN];
  bool resume_have_id;
  /* A CHECK exchange: after catching up, both sides compare vector digests. */
  bool check_answered;
  bool check_equal;
  /* How many changes the peer's stream will carry, worked out from the two
   * vectors as the peer works out what we lack (known once its vector, or a
   * hello with our digest, arrived), so a driver can say "N of M". Exact
   * unless an author forked: a fork below the peer's head, or evidence kept
   * beside a chain, shows in no vector, and such changes come on top. */
  bool expected_known;
  uint64_t changes_expected;
  /* Counters, for status and the benchmark. */
  uint64_t changes_sent;
  uint64_t changes_received; /* of the session's club: the stream and live pushes */
  uint64_t changes_other_club; /* received, of another club: refused */
  uint64_t forks_seen;
  uint64_t checks_answered; /* CHECK requests of the peer answered (a driver may rate-limit them) */
} cs_sync_t;

/* Prepares a machine; nothing is sent until cs_sync_start. */
void cs_sync_init(cs_sync_t *s, const uint8_t club[CS_ID_LEN], const cs_sync_io_t *io);
void cs_sync_free(cs_sync_t *s);
/* Sends HELLO with the digest of the local vector. */
int cs_sync_start(cs_sync_t *s) CS_MUST_USE;
/* Handles one whole message from the peer. A malformed or out-of-order
 * message returns CS_EPROTO (the driver closes the connection). */
int cs_sync_receive(cs_sync_t *s, cs_span_t message) CS_MUST_USE;
/* Streams up to max_bytes more of what the peer lacks; the driver calls it
 * while its write queue has room. Sets *more when there is more to send. */
int cs_sync_pump(cs_sync_t *s, size_t max_bytes, bool *more) CS_MUST_USE;
/* True once both sides have sent everything the other lacked (or found
 * their vectors equal): from then on, new changes are pushed live. */
bool cs_sync_caught_up(const cs_sync_t *s);
/* Asks the peer for its current vector digest; when the answer arrives,
 * check_answered is set and check_equal tells whether both hold the same
 * chains. */
int cs_sync_check(cs_sync_t *s) CS_MUST_USE;

/* Pushes one newly stored change to the peer (live gossip). A change of
 * another club than the session's is not sent: the call returns CS_OK and
 * sends nothing, so a driver may offer every change its store gained. */
int cs_sync_push(cs_sync_t *s, cs_span_t signed_bytes) CS_MUST_USE;

/* The digest of a version vector: BLAKE2b-256 over its entries sorted by
 * author. Equal digests mean equal sets of chains. */
int cs_sync_vector_digest(const cs_sync_io_t *io, uint8_t out[32]) CS_MUST_USE;

#endif
