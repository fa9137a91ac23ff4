#!/usr/bin/env bash
# Removing an admin needs an adopted decision; two admins
# who remove each other concurrently are both removed, on every node,
# whatever the delivery order.
source "$(dirname "$0")/lib.sh"
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
share() { # share FROM TO...
  local from=$1
  shift
  cs --home "$WORK/$from" export "$WORK/share.bundle" >/dev/null
  for n in "$@"; do cs --home "$WORK/$n" import "$WORK/share.bundle" >/dev/null; done
}
roles() { cs --home "$WORK/$1" member list --json | json 'sorted((m["museum"], m["role"]) for m in d if m["museum"] in ("Musée a", "Musée b"))'; }

make_club a b c d e
cs --home "$WORK/a" member add "$(key_of b)" --museum "Musée b" --role admin >/dev/null
share a b c d e
expect_code "no admin removal without a decision" 3 cs --home "$WORK/a" member remove "$(key_of b)"
grep -q "needs a decision adopted by the club" "$WORK/last.err" && ok || fail "says what to do: $(cat "$WORK/last.err")"

M1=$(cs --home "$WORK/a" motion propose "Retirer b du bureau" --effect "remove-admin $(key_of b)" | tail -1)
M2=$(cs --home "$WORK/b" motion propose "Retirer a du bureau" --effect "remove-admin $(key_of a)" | tail -1)
share a b c d e
share b a c d e
for n in a b c d e; do
  cs --home "$WORK/$n" motion vote "$M1" yes >/dev/null
  cs --home "$WORK/$n" motion vote "$M2" yes >/dev/null
done
for n in c d e; do share "$n" a b; done
share a b
share b a
expect_code "a resolves the motion on b" 0 cs --home "$WORK/a" motion resolve "$M1"
expect_code "b resolves the motion on a" 0 cs --home "$WORK/b" motion resolve "$M2"
# Both decisions are known to both; then each carries out its own without
# having seen the other do so.
share a b
share b a
expect_code "a removes b" 0 cs --home "$WORK/a" member remove "$(key_of b)" --motion "$M1"
expect_code "b removes a" 0 cs --home "$WORK/b" member remove "$(key_of a)" --motion "$M2"
cs --home "$WORK/a" export "$WORK/a.bundle" >/dev/null
cs --home "$WORK/b" export "$WORK/b.bundle" >/dev/null
for f in a b; do cs --home "$WORK/c" import "$WORK/$f.bundle" >/dev/null; done
for f in b a; do cs --home "$WORK/d" import "$WORK/$f.bundle" >/dev/null; done
cs --home "$WORK/a" import "$WORK/b.bundle" >/dev/null
cs --home "$WORK/b" import "$WORK/a.bundle" >/dev/null
for n in a b c d; do
  expect_eq "both removed at $n" "$(roles "$n")" "[('Musée a', 'removed'), ('Musée b', 'removed')]"
done
expect_eq "digests a c" "$(digest_of a)" "$(digest_of c)"
expect_eq "digests b d" "$(digest_of b)" "$(digest_of d)"
expect_eq "digests c d" "$(digest_of c)" "$(digest_of d)"

# The decision that removed b can be audited by anyone: `verify` replays the
# membership by the club's rules, mutual removal included, checks a's removal
# of b against M1 (in the bundle) and says that b's removal of a rests on M2,
# which is not.
expect_code "audit-bundle of M1" 0 cs --home "$WORK/c" audit-bundle "$M1" "$WORK/m1.audit"
mkdir -p "$WORK/empty"
expect_code "M1 verifies in an empty home" 0 cs --home "$WORK/empty" verify "$WORK/m1.audit"
grep -q "1 removal of an admin rests on a decision outside this bundle" "$WORK/last.out" && ok ||
  fail "verify names what it did not check: $(cat "$WORK/last.out")"
expect_eq "verify --json" "$(cs --home "$WORK/empty" verify "$WORK/m1.audit" --json |
  json '(d["outcome"], d["admin_removals_decided_elsewhere"], d["member_changes_kept_out"])')" "('adopted', 1, 0)"
finish
