#ifndef CS_CORE_DECISION_H
#define CS_CORE_DECISION_H

/* Motions, ballots and resolutions: the rules that make a decision
 * checkable by anyone, offline, from signed data alone (docs/governance.md).
 *
 * A motion names its electorate (the voting museums when it was proposed)
 * and its quorum rule. A resolution is a signed change whose deps are
 * exactly the ballots it counts, at most one per museum of the electorate;
 * it is valid only if those ballots are valid and its counts and outcome
 * follow from them. Late ballots cannot change it. */

#include <stdbool.h>
#include <stdint.h>

#include "core/change.h"
#include "core/members.h"
#include "core/mp.h"

#define CS_ELECTORATE_MAX CS_CHANGE_DEPS_MAX /* a resolution counts at most one ballot per dep */

typedef struct cs_electorate_s {
  uint32_t count;
  char museums[CS_ELECTORATE_MAX][CS_NAME_MAX + 1]; /* sorted, distinct */
} cs_electorate_t;

int cs_electorate_decode(cs_span_t value, cs_electorate_t *out) CS_MUST_USE;
/* Sorts and de-duplicates, then writes the bin value. */
void cs_electorate_write(cs_buf_t *b, cs_electorate_t *e);
bool cs_electorate_has(const cs_electorate_t *e, const char *museum);

typedef struct cs_resolution_s {
  bool adopted;
  uint64_t yes, no, abstain;
} cs_resolution_t;

int cs_resolution_decode(cs_span_t value, cs_resolution_t *out) CS_MUST_USE;
void cs_resolution_write(cs_buf_t *b, const cs_resolution_t *r);

/* Whether a change carries out an adopted decision: fed the change's deps
 * one by one (each a valid change), it tells whether they hold the motion
 * whose effect is exactly `effect` ("remove-admin <key hex>", "approve
 * <object hex>" ...) and a resolution of that motion saying adopted. Used
 * by the store and by the audit bundle check alike. */
typedef struct cs_decision_scan_s {
  uint8_t motions[CS_CHANGE_DEPS_MAX][CS_ID_LEN];
  uint8_t adopted[CS_CHANGE_DEPS_MAX][CS_ID_LEN];
  uint32_t motion_count, adopted_count;
} cs_decision_scan_t;

/* `proposer` and `resolver`: whether the dep's author may propose a motion
 * (a voting member) and resolve one (an admin) at that change. */
void cs_decision_scan_add(cs_decision_scan_t *scan, const cs_change_t *dep, const char *effect, bool proposer,
                          bool resolver);
bool cs_decision_scan_adopted(const cs_decision_scan_t *scan);

/* Whether `yes` votes carry a motion under a rule ("majority": more than half
 * of the electorate; "two-thirds": at least two thirds of it). */
bool cs_quorum_met(const char *rule, uint32_t electorate, uint64_t yes);

/* One ballot a resolution counts. */
typedef struct cs_counted_s {
  char museum[CS_NAME_MAX + 1];
  uint32_t choice; /* index in cs_vote_choices: 0 yes, 1 no, 2 abstain */
} cs_counted_t;

/* Checks a resolution against the ballots its deps name: distinct museums,
 * all in the electorate, counts equal, outcome as the quorum rule says.
 * Returns CS_OK, or CS_EAUTH with a sentence in why. */
int cs_resolution_check(const cs_resolution_t *r, const char *rule, const cs_electorate_t *e,
                        const cs_counted_t *ballots, uint32_t count, char *why, size_t why_len) CS_MUST_USE;

/* Bounds on what `verify` reads from an audit bundle (docs/limits.md). Each
 * is checked before anything is allocated for it; past one, the bundle is
 * invalid and the reason names the bound. An honest audit bundle holds one
 * change per ballot (a museum changing its vote adds one), the motion, the
 * resolution and the membership changes. */
#define CS_AUDIT_CHANGES_MAX 200000      /* records in one audit bundle */
#define CS_AUDIT_VOTE_ENTRIES_MAX 200000 /* vote entries: ops that create a vote or set its choice */
#define CS_AUDIT_MEMBER_OPS_MAX 200000   /* genesis and member ops */

/* An audit bundle's verdict (clubsync verify). */
typedef struct cs_audit_vote_s {
  char museum[CS_NAME_MAX + 1];
  uint8_t key[CS_KEY_LEN];
  uint32_t choice;
  bool counted;
  /* The museum's latest ballot in the bundle, by (lamport, key): the one a
   * node's tally (`motion show`, `motion resolve`) takes for that museum. */
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
  cs_electorate_t electorate;
  cs_audit_vote_t *votes; /* vote_count ballots on the motion, in bundle order; owned by the report */
  uint32_t vote_count;
  bool resolved;
  cs_resolution_t resolution;
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
