#ifndef CS_CORE_DECISION_H
#define CS_CORE_DECISION_H

/* Motions, ballots and resolutions: the rules that make a decision
 * checkable by anyone, offline, from signed data alone (docs/governance.md,
 * docs/decisions.md).
 *
 * Every rule here is a pure function of a change and its causal past, read
 * through the causal-past oracle (core/past.h), so a node's ingest, its
 * rebuild and `verify` reach one verdict:
 * - the electorate of a motion is the museums whose key holds a voting role
 *   (admin, member) by its latest member entry in the motion's causal past;
 *   what the proposer writes in the motion's `electorate` field is not read;
 * - a ballot is a write of a vote object's `choice` (a vote is created under
 *   the motion) in a valid change, so by a key whose role may vote at that
 *   change; one change holds at most one ballot per motion;
 * - a resolution counts, for each electorate museum, its latest ballot in
 *   the resolution's strict causal past: by (lamport, change id), which
 *   follows causal order; the voter's museum is its key's latest member
 *   entry in that same past;
 * - a resolution with another valid resolution of the same motion in its
 *   causal past is invalid, and names no predecessor;
 * - among concurrent resolutions of a motion, the one whose past holds the
 *   most electorate ballots wins, then the one holding later ballots of the
 *   same museums (cs_resolution_pick), then the greatest (lamport, change
 *   id);
 * - a governed effect is carried out only if the winner among its motion's
 *   valid resolutions in the carrying change's causal past says adopted
 *   (cs_motion_winner), and once per causal line (core/members.c). */

#include <stdbool.h>
#include <stdint.h>

#include "core/change.h"
#include "core/members.h"
#include "core/mp.h"
#include "core/object.h"
#include "core/past.h"

/* Derived fields, which no op may write (no schema row: cs_model_may says
 * no): the store keeps in them what the rules read, rebuilt with the
 * objects. */
#define CS_F_VOTE_BALLOTS 30       /* set on a vote: one element per ballot, cs_ballot_encode */
#define CS_F_MOTION_RESOLUTIONS 30 /* set on a motion: one element per valid resolution */
/* A derived element's id: cs_op_id of its change at this index, which no op
 * has (a change holds at most CS_CHANGE_OPS_MAX ops). */
#define CS_DERIVED_OP_INDEX(index) ((uint32_t)(index) | 0x80000000u)

/* A list of museums, sorted and distinct once cs_electorate_sort ran. It
 * grows with the membership: there is no bound but the membership's. */
typedef struct cs_electorate_s {
  char (*museums)[CS_NAME_MAX + 1];
  uint32_t count, cap;
} cs_electorate_t;

int cs_electorate_add(cs_electorate_t *e, const char *museum) CS_MUST_USE;
void cs_electorate_sort(cs_electorate_t *e);
bool cs_electorate_has(const cs_electorate_t *e, const char *museum); /* on a sorted list */
void cs_electorate_free(cs_electorate_t *e);
/* The motion field `electorate` of earlier versions: a bin of sorted,
 * distinct museum names. Checked as a format (a SET value holds at most
 * CS_VALUE_MAX bytes); the rules never read it. */
int cs_electorate_decode(cs_span_t value, cs_electorate_t *out) CS_MUST_USE;
/* Sorts and de-duplicates, then writes the bin value. */
void cs_electorate_write(cs_buf_t *b, cs_electorate_t *e);

typedef struct cs_resolution_s {
  bool adopted;
  uint64_t yes, no, abstain;
} cs_resolution_t;

int cs_resolution_decode(cs_span_t value, cs_resolution_t *out) CS_MUST_USE;
void cs_resolution_write(cs_buf_t *b, const cs_resolution_t *r);

/* The motions a change carries out the decision of: fed the change's deps
 * one by one (each a valid change), it collects the motions whose effect is
 * exactly `effect` ("remove-admin <key hex>", "approve <object hex>" ...),
 * and the motions a dep resolves as adopted. Whether a motion's decision is
 * adopted as of the change is its winner's verdict (cs_motion_winner); the
 * adopted resolutions in the deps are what `verify` takes for a motion
 * whose ballots the bundle need not hold. Used by the store and by the
 * audit bundle check alike. */
typedef struct cs_decision_scan_s {
  uint8_t motions[CS_CHANGE_DEPS_MAX][CS_ID_LEN];
  uint8_t adopted[CS_CHANGE_DEPS_MAX][CS_ID_LEN];
  uint32_t motion_count, adopted_count;
} cs_decision_scan_t;

/* `proposer` and `resolver`: whether the dep's author may propose a motion
 * (a voting member) and resolve one (an admin) at that change. */
void cs_decision_scan_add(cs_decision_scan_t *scan, const cs_change_t *dep, const char *effect, bool proposer,
                          bool resolver);

/* Whether `yes` votes carry a motion under a rule ("majority": more than half
 * of the electorate; "two-thirds": at least two thirds of it). */
bool cs_quorum_met(const char *rule, uint32_t electorate, uint64_t yes);

/* One ballot: a valid change's write of its author's vote on a motion. */
typedef struct cs_ballot_s {
  uint8_t change[CS_ID_LEN];
  uint8_t author[CS_KEY_LEN];
  uint64_t seq, lamport;
  uint32_t choice; /* index in cs_vote_choices: 0 yes, 1 no, 2 abstain */
} cs_ballot_t;

/* A valid resolution of a motion, as the motion's derived field keeps it. */
typedef struct cs_resolution_rec_s {
  uint8_t change[CS_ID_LEN];
  uint8_t author[CS_KEY_LEN];
  uint64_t seq, lamport;
  cs_resolution_t res;
} cs_resolution_rec_t;

/* Element codecs of the derived fields (the author is the entry's). */
#define CS_BALLOT_ELEMENT_LEN (CS_ID_LEN + 8 + 1)
void cs_ballot_element(const cs_ballot_t *b, cs_buf_t *out);
int cs_ballot_from_entry(const cs_entry_t *e, cs_ballot_t *out) CS_MUST_USE;
void cs_resolution_element(const cs_resolution_rec_t *r, cs_buf_t *out);
int cs_resolution_from_entry(const cs_entry_t *e, cs_resolution_rec_t *out) CS_MUST_USE;

/* Whether a motion holds a valid resolution (its derived field): then it is
 * resolved, and its outcome is the winner's (cs_motion_winner). */
bool cs_motion_resolved(const cs_object_t *motion);
/* The valid resolutions a motion's derived field holds (*out malloc'd, the
 * caller frees it, also on error). */
int cs_motion_resolutions(const cs_object_t *motion, cs_resolution_rec_t **out, uint32_t *count) CS_MUST_USE;

/* The membership the rules read: the applied member ops of a club (the
 * genesis's included), indexed by key. */
typedef struct cs_motion_members_s {
  cs_member_op_t *ops; /* sorted by (key, lamport, change, op index) */
  uint32_t count;
} cs_motion_members_t;

/* Copies and indexes `ops` (any order). */
int cs_motion_members_init(cs_motion_members_t *m, const cs_member_op_t *ops, uint32_t count) CS_MUST_USE;
void cs_motion_members_free(cs_motion_members_t *m);
/* The key's latest member op in the causal past of change `at` (every op
 * when `at` is NULL): *out NULL when there is none. */
int cs_motion_member_at(const cs_motion_members_t *m, const cs_past_t *past, const uint8_t *at,
                        const uint8_t key[CS_KEY_LEN], const cs_member_op_t **out) CS_MUST_USE;
/* The electorate of the motion created by change `motion_change`. */
int cs_motion_electorate(const cs_motion_members_t *m, const cs_past_t *past, const uint8_t *motion_change,
                         cs_electorate_t *out) CS_MUST_USE;

/* A tally: each electorate museum's latest ballot in the strict causal past
 * of change `at` (every ballot given when `at` is NULL). */
typedef struct cs_motion_tally_s {
  uint64_t yes, no, abstain;
  uint32_t museums; /* electorate museums counted: yes + no + abstain */
} cs_motion_tally_t;

/* counted (may be NULL): set for the ballots counted. museums (may be
 * NULL): each ballot's museum at `at`, "" when its key has none. */
int cs_motion_tally(const cs_motion_members_t *m, const cs_past_t *past, const uint8_t *at,
                    const cs_electorate_t *e, const cs_ballot_t *ballots, uint32_t count, cs_motion_tally_t *out,
                    bool *counted, char (*museums)[CS_NAME_MAX + 1]) CS_MUST_USE;

/* What the winner among a motion's valid resolutions is read from: every
 * node and `verify` hold the same of it for a given causal past, so they
 * pick the same winner. */
typedef struct cs_motion_case_s {
  const cs_past_t *past;
  const cs_motion_members_t *members;
  const uint8_t *motion_change; /* the change that created the motion */
  const cs_ballot_t *ballots;   /* every valid ballot on the motion the set holds */
  uint32_t ballot_count;
} cs_motion_case_t;

/* The candidates for the win: of recs, the ones in the causal past of
 * change `at` (every one when `at` is NULL) that count the most museums,
 * moved to the front of recs; *count becomes their number. */
int cs_resolution_front(const cs_past_t *past, const uint8_t *at, cs_resolution_rec_t *recs,
                        uint32_t *count) CS_MUST_USE;
/* The winner among candidates that count as many museums. X is fresher
 * than Y when, for a museum both count other than X's resolver's own, the
 * ballot Y counts is in the causal past of the one X counts (X holds a
 * later vote of that museum; a resolver's own museum is left out, as it can
 * cast that museum's ballots unseen and count them at once); X dominates Y when X is fresher than Y and Y not fresher than X. The
 * winner is the greatest (lamport, change id) among the candidates no other
 * dominates (among all of them if each is dominated, which only concurrent
 * ballots of one museum's several keys can make). A function of the set,
 * so the delivery order does not matter. *out points into cands. */
int cs_resolution_pick(const cs_motion_case_t *mc, const cs_resolution_rec_t *cands, uint32_t count,
                       const cs_resolution_rec_t **out) CS_MUST_USE;
/* Both: the decision on the motion as of change `at` (NULL: of every valid
 * resolution given), *out NULL when none is in that past. recs is
 * reordered; *out points into it. */
int cs_motion_winner(const cs_motion_case_t *mc, cs_resolution_rec_t *recs, uint32_t count, const uint8_t *at,
                     const cs_resolution_rec_t **out) CS_MUST_USE;

/* Everything a resolution is judged on. */
typedef struct cs_resolution_case_s {
  const cs_past_t *past;
  const cs_motion_members_t *members;
  const uint8_t *motion_change; /* the change that created the motion */
  const char *rule;             /* the motion's quorum rule */
  const cs_ballot_t *ballots;   /* every valid ballot on the motion the set holds */
  uint32_t ballot_count;
  const cs_resolution_rec_t *prior; /* the motion's valid resolutions so far */
  uint32_t prior_count;
  const uint8_t *at; /* the resolution's change */
  const cs_resolution_t *res;
  uint32_t pred_count; /* predecessors the resolution's op names */
} cs_resolution_case_t;

/* The rule of resolutions: CS_OK, or CS_EAUTH with a sentence in why.
 * Fills *tally (may be NULL) and, when given, counted[] over the ballots. */
int cs_resolution_judge(const cs_resolution_case_t *rc, cs_motion_tally_t *tally, bool *counted, char *why,
                        size_t why_len) CS_MUST_USE;

/* Bounds on what `verify` reads from an audit bundle (docs/limits.md). Each
 * is checked before anything is allocated for it; past one, the bundle is
 * invalid and the reason names the bound. An honest audit bundle holds one
 * change per ballot (a museum changing its vote adds one), the motion, the
 * resolution and the membership changes. */
#define CS_AUDIT_CHANGES_MAX 200000      /* records in one audit bundle */
#define CS_AUDIT_VOTE_ENTRIES_MAX 200000 /* vote entries: ops that create a vote or set its choice */
#define CS_AUDIT_MEMBER_OPS_MAX 200000   /* genesis and member ops */
/* The bytes `audit-bundle` writes at most: a resolution's whole causal
 * past goes in, so its count can be read as a node reads it. */
#define CS_BUNDLE_AUDIT_BYTES_MAX (512u << 20)

/* An audit bundle's verdict (clubsync verify). */
typedef struct cs_audit_vote_s {
  char museum[CS_NAME_MAX + 1];
  uint8_t key[CS_KEY_LEN];
  uint32_t choice;
  bool counted;
  /* The ballot a node's tally takes for its museum: at the winning resolution,
   * or, unresolved, the museum's latest in the bundle by (lamport, change
   * id), as `motion show` takes it. */
  bool latest;
  uint64_t lamport;
  uint8_t change[CS_ID_LEN];
} cs_audit_vote_t;

typedef struct cs_audit_report_s {
  uint8_t club[CS_ID_LEN]; /* the bundle's club: its genesis's id, the one the header names */
  char club_name[CS_NAME_MAX + 1];
  uint8_t founder[CS_KEY_LEN]; /* the genesis's author */
  char founder_museum[CS_NAME_MAX + 1];
  uint8_t motion[CS_ID_LEN];
  char text[CS_TEXT_MAX + 1];
  char effect[CS_TEXT_MAX + 1];
  char quorum[16];
  char proposer[CS_NAME_MAX + 1];
  cs_electorate_t electorate; /* from the membership in the motion's causal past; freed with the report */
  cs_audit_vote_t *votes; /* vote_count ballots on the motion, in bundle order; owned by the report */
  uint32_t vote_count;
  bool resolved;
  cs_resolution_t resolution; /* the winner's, when several concurrent resolutions are valid */
  cs_motion_tally_t tally;           /* at the winning resolution, or over every ballot when not resolved */
  uint32_t resolutions_invalid; /* resolutions of the motion a node keeps out (one valid at least) */
  char resolver[CS_NAME_MAX + 1];
  uint32_t members;            /* member ops replayed */
  uint32_t members_kept_out;   /* member changes the club's rules keep out, as a node does */
  uint32_t decisions_elsewhere; /* admin removals whose decision is outside the bundle, taken as the club took them */
  bool damaged;    /* the file's framing or trailer is broken (rather than the decision) */
  char why[512];   /* the first problem found, when the result is not CS_OK */
} cs_audit_report_t;

/* Verifies an audit bundle of club `club` (the id its header names) from
 * its changes (any order, at most CS_AUDIT_CHANGES_MAX): every id, hash and
 * signature, and every payload as a node checks it (a genesis op only in a
 * genesis change); exactly one genesis, the club's own (its id is `club`),
 * and every other change in that club; the membership replayed from that
 * genesis; the motion, its ballots and its resolution authorised by that
 * membership; the counts. Fills *report (its previous content is
 * overwritten, not freed). Returns CS_OK, or an error with report->why
 * naming the first problem. Free the report with cs_audit_report_free
 * whatever the result. */
int cs_audit_verify(const uint8_t club[CS_ID_LEN], const cs_span_t *changes, uint32_t count,
                    cs_audit_report_t *report) CS_MUST_USE;

/* What `verify FILE` does with the file's bytes: reads the bundle
 * (core/bundle.c) with its record count bounded by CS_AUDIT_CHANGES_MAX,
 * checks its trailer, then cs_audit_verify. report->damaged tells a broken
 * file from a decision that does not verify. Same contract as
 * cs_audit_verify. */
int cs_audit_bundle_verify(cs_span_t bytes, cs_audit_report_t *report) CS_MUST_USE;

void cs_audit_report_free(cs_audit_report_t *report);

#endif
