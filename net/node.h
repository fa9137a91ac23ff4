#ifndef CS_NET_NODE_H
#define CS_NET_NODE_H

/* A running node: a libuv loop that listens and dials, runs the Secret
 * Handshake, then drives one sync machine per connection over box-stream
 * frames. A node may serve several clubs on one port: every connection
 * belongs to exactly one club, the one whose network key its handshake used
 * (the server tries each club's key on the client hello; a dial uses the
 * key of the club the peer was configured for), and carries only that
 * club's changes. docs/protocol.md describes the wire. */

#include <stdbool.h>
#include <stdint.h>

#include "core/shs1.h"
#include "store/store.h"

typedef enum cs_log_level_e { CS_LOG_ERROR = 0, CS_LOG_WARN, CS_LOG_INFO, CS_LOG_DEBUG } cs_log_level_t;

#define CS_NODE_PEERS_MAX 64 /* addresses dialed: per club, and for the whole node */
#define CS_NODE_CLUBS_MAX CS_SHS1_NETKEYS_MAX /* clubs one node serves on one port */
#define CS_NODE_LABEL_MAX (CS_NAME_MAX + 48)  /* "NAME" (8 hex of the id), for logs */
/* Slots. A connection is first a handshake (unauthenticated: nothing is
 * known of the peer but its address), then a session (the peer proved a
 * member's key). The two have separate caps, so strangers who never finish
 * a handshake cannot take the places of members, and no member key can take
 * every session. docs/limits.md gives the reasons for each number. */
#define CS_NODE_SESSIONS_MAX 64           /* inbound sessions, past the handshake */
#define CS_NODE_SESSIONS_PER_KEY 4        /* sessions of one peer key in one club; a 5th replaces the oldest */
#define CS_NODE_HANDSHAKES_MAX 128        /* inbound handshakes; one more evicts the oldest */
#define CS_NODE_HANDSHAKES_PER_ADDRESS 32 /* inbound handshakes from one IP address; one more evicts its oldest */
#define CS_NODE_ACCEPTS_PER_TURN 8        /* connections accepted per loop turn, so a flood cannot starve reads */
#define CS_NODE_IDLE_TIMEOUT_MS 20000     /* an inbound session that never caught up and made no progress */
#define CS_NODE_REQUESTS_PER_S 20         /* requests (CHECKs) answered per second on one connection... */
#define CS_NODE_REQUESTS_BURST 40         /* ...after a burst of this many; past it, reading pauses */
/* Every connection the node may hold at once: inbound sessions and
 * handshakes, one dial per peer address, and as many again for those
 * being closed (a closed connection frees its slot a loop turn later). */
#define CS_NODE_CONNECTIONS_MAX (2 * (CS_NODE_SESSIONS_MAX + CS_NODE_HANDSHAKES_MAX + CS_NODE_PEERS_MAX))
#define CS_NODE_QUEUE_HIGH (1u << 20) /* stop producing for a peer above this */
/* Stop reading a peer above this. Production alone stays under it (it
 * stops at CS_NODE_QUEUE_HIGH, after at most one more message of at most
 * CS_SYNC_MESSAGE_MAX and its box headers), so two nodes streaming to each
 * other never both stop reading; only answers to requests of a peer that
 * does not read its own can reach it. Reading resumes at CS_NODE_QUEUE_HIGH. */
#define CS_NODE_QUEUE_MAX (2 * CS_NODE_QUEUE_HIGH + (64u << 10))
#define CS_NODE_BACKOFF_MIN_MS 500
#define CS_NODE_BACKOFF_MAX_MS 60000
#define CS_NODE_POLL_MS 200
#define CS_NODE_HANDSHAKE_TIMEOUT_MS 10000
#define CS_NODE_PROGRESS_MS 5000 /* a progress line this often during a long sync */
#define CS_NODE_REPORT_MS 1000   /* a repeated refusal is logged at most this often, with its count */

/* A club the node serves. */
typedef struct cs_node_club_s {
  uint8_t id[32];
  uint8_t network_key[32];
  char label[CS_NODE_LABEL_MAX]; /* how logs name it: "Club Un" (1a2b3c4d) */
  const char *last_sync_path;    /* where a session of this club that caught up is recorded, or NULL */
} cs_node_club_t;

/* An address to dial, for one club: a peer that serves several clubs is
 * dialed once per club, each connection with its club's key. */
typedef struct cs_node_peer_s {
  const char *address; /* HOST:PORT */
  uint32_t club;       /* index in cs_node_config_t.clubs */
} cs_node_peer_t;

typedef struct cs_node_config_s {
  cs_store_t *store;
  const uint8_t *secret_key;  /* 64 bytes, the node's identity */
  const cs_node_club_t *clubs; /* 1 .. CS_NODE_CLUBS_MAX */
  uint32_t club_count;
  const char *listen;         /* HOST:PORT, or NULL */
  const cs_node_peer_t *peers;
  uint32_t peer_count;        /* at most CS_NODE_PEERS_MAX */
  bool once;                  /* sync with the peers, check, then stop */
  cs_log_level_t log_level;
  const char *status_path;    /* where serve records its connections, or NULL */
  const char *port_path;      /* where the bound port is written, or NULL */
  const char *listen_path;    /* where the bound IP:PORT is written once listening, or NULL */
  void (*on_commit)(void);    /* called after each committed batch (memory sampling), or NULL */
} cs_node_config_t;

typedef struct cs_node_result_s {
  bool synced;           /* once: every peer reached and digests equal */
  bool interrupted;      /* stopped by SIGINT or SIGTERM */
  bool expected_known;   /* once: the peer's vector arrived, so changes_expected is known */
  uint64_t changes_expected; /* once: what the peer was to send (core/sync.h) */
  uint64_t bytes_sent;   /* after handshakes */
  uint64_t bytes_received;
  uint64_t changes_received; /* once: handed to the store, and committed unless it failed */
  uint64_t changes_sent;
  uint32_t round_trips;  /* once: round trips after the handshake, until caught up */
  uint64_t sync_bytes;   /* once: bytes both ways after the handshake, until caught up */
  char reason[640];      /* why it did not sync */
} cs_node_result_t;

/* Runs until SIGINT/SIGTERM (or, with once, until done). Returns CS_OK or
 * an error for a listener that cannot bind or a configuration out of
 * bounds. What was received is committed before it returns, interrupted
 * or not. */
int cs_node_run(const cs_node_config_t *config, cs_node_result_t *result) CS_MUST_USE;

/* Splits "HOST:PORT" (IPv4 or [IPv6]); false when malformed or when the port
 * is not a number from 0 to 65535. */
bool cs_node_parse_address(const char *text, char *host, size_t host_len, int *port);

#endif
