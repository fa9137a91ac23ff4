#ifndef CS_CORE_MEMBERS_H
#define CS_CORE_MEMBERS_H

/* Membership as a timeline over each key's own chain.
 *
 * A member op names a key, a role and a cutoff. The cutoff that applies is
 * the key's highest seq in the causal past of the op's change (the causal
 * past oracle, core/past.h), whatever the op writes; the role applies to
 * the key's changes above it. Because a key's changes are hash-chained, the
 * cutoff cannot be dodged by backdating, and a key's role at any of its
 * changes is a pure function of the set of valid member ops, whatever order
 * they arrived in (docs/governance.md, docs/decisions.md). */

#include <stdint.h>

#include "core/change.h"
#include "core/mp.h"
#include "core/op.h"

typedef struct cs_member_entry_s {
  uint64_t cutoff;
  uint64_t lamport;
  uint8_t change[CS_ID_LEN];
  uint32_t op_index;
  cs_role_t role;
  char museum[CS_NAME_MAX + 1];
} cs_member_entry_t;

/* A timeline holds at most CS_MEMBER_GRANTS_MAX grants (entries whose role
 * is not none) written by changes that carry out no decision about the key,
 * and CS_MEMBER_ENTRIES_MAX entries in all. Two adjacent entries of the same
 * role and museum are one; two adjacent removals are merged when the
 * timeline is full. So a removal always finds room: with g grants, at most
 * g + 1 removals are left unmerged (docs/limits.md). */
#define CS_MEMBER_GRANTS_MAX 16
#define CS_MEMBER_ENTRIES_MAX 48
_Static_assert(CS_MEMBER_ENTRIES_MAX >= 2 * CS_MEMBER_GRANTS_MAX + 1, "a removal must always find room");

typedef struct cs_member_s {
  uint8_t key[CS_KEY_LEN];
  uint32_t count;
  cs_member_entry_t entries[CS_MEMBER_ENTRIES_MAX]; /* sorted by (lamport, change, op_index) */
} cs_member_t;

/* The key's role for its change at seq. */
cs_role_t cs_member_role_at(const cs_member_t *m, uint64_t seq);
/* The latest entry (what `member list` shows), or NULL when there is none. */
const cs_member_entry_t *cs_member_latest(const cs_member_t *m);
/* Inserts an entry in order, then drops what no seq can tell apart: of two
 * adjacent entries with the same role and museum (a role that is not none),
 * the one the other covers. CS_ETOOBIG past CS_MEMBER_ENTRIES_MAX, and the
 * timeline is then unchanged. Idempotent. */
int cs_member_insert(cs_member_t *m, const cs_member_entry_t *e) CS_MUST_USE;
/* Entries whose role is not none. */
uint32_t cs_member_grants(const cs_member_t *m);
/* True when the role differs for any seq in 1..max_seq between a and b. */
bool cs_member_roles_differ(const cs_member_t *a, const cs_member_t *b, uint64_t max_seq);

/* A table of members being rebuilt by a replay (store/ingest.c, and
 * core/decision.c for audit bundles). */
typedef struct cs_member_table_s {
  cs_member_t *rows;
  uint32_t count, cap;
} cs_member_table_t;

/* The row of a key, created empty when asked; NULL when absent or out of memory. */
cs_member_t *cs_member_table_find(cs_member_table_t *t, const uint8_t key[CS_KEY_LEN], bool create);
void cs_member_table_free(cs_member_table_t *t);

/* The membership replay, shared by the store (store/ingest.c) and the audit
 * bundle check (core/decision.c), so that both apply the same rules
 * (docs/governance.md): cs_member_replay_all replays every member change
 * of a club in (lamport, id) order, each all or nothing, to a fixed point. */

/* One member op as the replay sees it. */
typedef struct cs_member_op_s {
  uint8_t author[CS_KEY_LEN]; /* who wrote the change */
  uint64_t seq;               /* the change's seq in its author's chain */
  uint8_t key[CS_KEY_LEN];    /* the key the op is about */
  cs_member_entry_t entry;    /* role, cutoff, museum; the change's lamport, id and op index */
  bool founder;               /* the genesis */
} cs_member_op_t;

/* What the replay asks of the world around it. */
typedef struct cs_member_rules_s {
  /* The seq from which a key is frozen by a fork, or 0. */
  uint64_t (*frozen_from)(void *ctx, const uint8_t author[CS_KEY_LEN]);
  /* Whether change `change` carries out an adopted decision with exactly
   * this effect: its deps hold the motion, and the winner among the
   * motion's valid resolutions in its causal past says adopted
   * (cs_motion_winner). Fills `motion` with the motion's id, all zero when
   * the decision is taken on trust (outside an audit bundle). */
  bool (*decision_adopted)(void *ctx, const uint8_t change[CS_ID_LEN], const char *effect,
                           uint8_t motion[CS_ID_LEN]);
  /* The cutoff that applies to a member op of change `change` about `key`
   * that writes `written`: `key`'s highest seq in the change's causal past
   * (core/past.h; the change itself included). A node ignores `written`;
   * `verify` uses it only where the bundle cannot show the whole past. */
  int (*cutoff)(void *ctx, const uint8_t change[CS_ID_LEN], const uint8_t key[CS_KEY_LEN], uint64_t written,
                uint64_t *cutoff);
  /* Whether the change (author, seq) is in the causal past of `change`. */
  int (*past_holds)(void *ctx, const uint8_t change[CS_ID_LEN], const uint8_t author[CS_KEY_LEN], uint64_t seq,
                    bool *holds);
  void *ctx;
} cs_member_rules_t;

typedef struct cs_member_replay_s {
  cs_member_table_t table;
  /* Who wrote each member change applied so far, and at which seq, for
   * the mutual-removal rule and reads of the causal past. */
  uint8_t (*changes)[CS_ID_LEN];
  uint8_t (*authors)[CS_KEY_LEN];
  uint64_t *seqs;
  uint32_t count, cap;
  /* The decisions carried out by the member changes applied so far: one
   * adopted decision is carried out once per causal line. */
  struct cs_member_carried_s {
    uint8_t motion[CS_ID_LEN];
    uint8_t author[CS_KEY_LEN];
    uint64_t seq;
  } *carried;
  uint32_t carried_count, carried_cap;
} cs_member_replay_t;

/* Replays every member change of a club, to a fixed point: ops (n of them)
 * sorted by (lamport, change id, op index), a change's ops adjacent. Each
 * change applies all or nothing, only if its author may make every op and
 * every timeline they touch keeps within its bounds; each op's cutoff is
 * the key's highest seq in the change's causal past (rules->cutoff); an op
 * carrying out a decision is refused when that past holds a member change
 * that carried out the same motion's decision already (concurrent ones are
 * the same effect), or when the key was granted a role by a change written
 * after such an execution. A change applied in that order is judged again on the timelines the replay
 * ends with; one that had no role there after all (a concurrent removal
 * reached back above its cutoff) is kept out, and the replay runs again
 * without it, until every applied change holds on the final timelines.
 * validity[i] gets each op's change's verdict (CS_OK, CS_EAUTH, CS_EFORK,
 * CS_ETOOBIG); *rounds (may be NULL) the replays it took; kept[i] (kept
 * may be NULL) whether op i's change was kept out by a judgement on the
 * final timelines rather than refused where it came in the order. r holds
 * the final table. Any other error means the replay could not go on. */
int cs_member_replay_all(cs_member_replay_t *r, const cs_member_op_t *ops, uint32_t n, const cs_member_rules_t *rules,
                         int *validity, uint32_t *rounds, bool *kept) CS_MUST_USE;
void cs_member_replay_free(cs_member_replay_t *r);

int cs_member_encode(const cs_member_t *m, cs_buf_t *out) CS_MUST_USE;
int cs_member_decode(cs_span_t bytes, const uint8_t key[CS_KEY_LEN], cs_member_t *m) CS_MUST_USE;

#endif
