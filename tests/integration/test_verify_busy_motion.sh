#!/usr/bin/env bash
# verify on a busy motion: every ballot change adds a vote entry to the audit
# bundle, a museum changing its vote too. Honest bundles of 300 and 5,000
# vote entries, made by the CLI, verify with exit 0 and print the tally the
# node shows (`motion show`), before and after the count; bundles past one of
# verify's bounds exit 5 and name it, but a member change past a bound that a
# node applies too is kept out as the node keeps it. Both builds: the
# sanitized one and the one `make build` makes, which once died with SIGSEGV
# on 300 entries.
source "$(dirname "$0")/lib.sh"
HELPERS=${CS_TEST_HELPERS:-$(dirname "$CLUBSYNC")/../tests}
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
share() { # share FROM TO...: full export of FROM imported by the others
  local from=$1
  shift
  cs --home "$WORK/$from" export "$WORK/share.bundle" >/dev/null
  for n in "$@"; do cs --home "$WORK/$n" import "$WORK/share.bundle" >/dev/null; done
}

# check_tally LABEL MOTION ENTRIES: the audit bundle of MOTION on a holds
# ENTRIES vote entries and verifies in every build, in an empty home, with
# the ballots and the resolution `motion show` prints on a.
check_tally() {
  local label=$1 motion=$2 entries=$3 bin
  cs --home "$WORK/a" motion show "$motion" --json >"$WORK/show.json"
  cs --home "$WORK/a" motion show "$motion" >"$WORK/show.txt"
  expect_code "$label: audit-bundle" 0 cs --home "$WORK/a" audit-bundle "$motion" "$WORK/audit.bundle"
  for bin in $(both_builds); do
    expect_code "$label: verify ($bin)" 0 "$bin" --home "$WORK/empty" verify "$WORK/audit.bundle"
    cp "$WORK/last.out" "$WORK/verify.txt"
    expect_code "$label: verify --json ($bin)" 0 "$bin" --home "$WORK/empty" verify "$WORK/audit.bundle" --json
    cp "$WORK/last.out" "$WORK/verify.json"
    expect_eq "$label: vote entries ($bin)" "$(json 'len(d["votes"])' <"$WORK/verify.json")" "$entries"
    expect_eq "$label: each museum's ballot as the node shows it ($bin)" \
      "$(json 'sorted((v["museum"], v["choice"]) for v in d["votes"] if v["latest"])' <"$WORK/verify.json")" \
      "$(json 'sorted((v["museum"], v["choice"]) for v in d["votes"])' <"$WORK/show.json")"
    expect_eq "$label: the resolution as the node shows it ($bin)" \
      "$(json 'd.get("resolution")' <"$WORK/verify.json")" "$(json 'd.get("resolution")' <"$WORK/show.json")"
    # The human output: one line per museum with the node's choice, and the
    # outcome with the node's counts.
    local museum choice
    while read -r museum choice; do
      grep -q "^  Musée $museum  *$choice\b" "$WORK/verify.txt" && ok ||
        fail "$label: verify prints Musée $museum $choice ($bin): $(cat "$WORK/verify.txt")"
    done < <(json '"\n".join(v["museum"].split()[-1] + " " + v["choice"] for v in d["votes"])' <"$WORK/show.json")
    expect_eq "$label: one line per museum ($bin)" "$(grep -c '^  Musée' "$WORK/verify.txt")" \
      "$(json 'len(d["votes"])' <"$WORK/show.json")"
    local counts
    counts=$(sed -n 's/^  RESOLVED: \(.*\)$/\1/p' "$WORK/show.txt")
    if [ -n "$counts" ]; then
      grep -q "^  outcome: $counts\$" "$WORK/verify.txt" && ok ||
        fail "$label: verify prints the outcome $counts ($bin): $(cat "$WORK/verify.txt")"
    fi
  done
}

make_club a b c d e
share a b c d e
mkdir -p "$WORK/empty"
choices=(yes no abstain)

# 300 entries by `motion vote` itself: each museum votes 60 times, cycling
# through the choices; the last round is a yes, b no, c abstain, d yes, e no.
M=$(cs --home "$WORK/a" motion propose "Trois cents bulletins" | tail -1)
share a b c d e
museums=(a b c d e)
for round in $(seq 1 60); do
  for i in 0 1 2 3 4; do
    cs --home "$WORK/${museums[$i]}" motion vote "$M" "${choices[$(((round + i) % 3))]}" >/dev/null
  done
done
for n in b c d e; do share "$n" a; done
check_tally "300 entries, open" "$M" 300
expect_code "the admin counts the 300" 0 cs --home "$WORK/a" motion resolve "$M"
grep -q "Rejected: 2 yes, 2 no, 1 abstain of 5 museums" "$WORK/last.out" && ok || fail "the count: $(cat "$WORK/last.out")"
check_tally "300 entries, resolved" "$M" 300

# 5,000 entries: 1,000 ballots per museum, written by a helper in one
# process per home (the same change `motion vote` writes); last choices
# a yes, b yes, c yes, d no, e abstain.
M=$(cs --home "$WORK/a" motion propose "Cinq mille bulletins" | tail -1)
share a b c d e
"$HELPERS/cs_vote_many" "$WORK/a" "$M" 1000 no yes >/dev/null
"$HELPERS/cs_vote_many" "$WORK/b" "$M" 1000 yes no abstain >/dev/null
"$HELPERS/cs_vote_many" "$WORK/c" "$M" 1000 abstain yes >/dev/null
"$HELPERS/cs_vote_many" "$WORK/d" "$M" 1000 no >/dev/null
"$HELPERS/cs_vote_many" "$WORK/e" "$M" 1000 yes abstain >/dev/null
for n in b c d e; do share "$n" a; done
expect_code "the admin counts the 5,000" 0 cs --home "$WORK/a" motion resolve "$M"
grep -q "Adopted: 3 yes, 1 no, 1 abstain of 5 museums" "$WORK/last.out" && ok || fail "the count: $(cat "$WORK/last.out")"
check_tally "5,000 entries, resolved" "$M" 5000
cp "$WORK/audit.bundle" "$WORK/busy.bundle"

# Past a bound: exit 5 naming it, in every build.
python3 - "$WORK/busy.bundle" "$WORK/records.bundle" <<'PY'
import hashlib, struct, sys
# 200,001 one-byte records (CS_AUDIT_CHANGES_MAX + 1) behind the header of a
# real audit bundle, with a valid trailer.
header = open(sys.argv[1], "rb").read()[:44]
n = 200001
body = bytearray(header) + (struct.pack(">I", 1) + b"\x00") * n
body += struct.pack(">I", 0) + struct.pack(">Q", n)
body += hashlib.blake2b(bytes(body), digest_size=32).digest()
open(sys.argv[2], "wb").write(bytes(body))
PY
"$HELPERS/cs_audit_forge" "$WORK/busy.bundle" "$WORK/votes.bundle" vote-flood >/dev/null
"$HELPERS/cs_audit_forge" "$WORK/busy.bundle" "$WORK/members.bundle" member-flood >/dev/null
for bin in $(both_builds); do
  for case in records:CS_AUDIT_CHANGES_MAX votes:CS_AUDIT_VOTE_ENTRIES_MAX members:CS_AUDIT_MEMBER_OPS_MAX; do
    file=${case%%:*} bound=${case#*:}
    expect_code "$file past the bound ($bin)" 5 "$bin" --home "$WORK/empty" verify "$WORK/$file.bundle"
    grep -q "more than 200000 .*($bound)" "$WORK/last.err" && ok ||
      fail "$file: the reason names $bound ($bin): $(cat "$WORK/last.err")"
  done
done

# A bound verify shares with a node: a key's member timeline holds at most
# CS_MEMBER_ENTRIES_MAX (32) entries, and a node keeps a change past it out
# of the membership. A club whose founder changed one member's role 33 times:
# verify keeps that change out too and says so, as the node's audit does.
"$HELPERS/cs_audit_forge" "$WORK/busy.bundle" "$WORK/timeline.bundle" member-timeline >/dev/null
new_node node "Musée n"
cs --home "$WORK/node" import "$WORK/timeline.bundle" >/dev/null
expect_code "the node's audit" 0 cs --home "$WORK/node" audit
expect_eq "the node keeps one change out" "$(grep -c 'kept out of the state: .*data exceeds a size limit' "$WORK/last.out")" 1
for bin in $(both_builds); do
  expect_code "a member timeline past its bound ($bin)" 0 "$bin" --home "$WORK/empty" verify "$WORK/timeline.bundle"
  grep -q "1 member change is kept out of the membership" "$WORK/last.out" && ok ||
    fail "verify keeps the change out as the node does ($bin): $(cat "$WORK/last.out") $(cat "$WORK/last.err")"
done
finish
