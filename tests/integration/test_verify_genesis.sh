#!/usr/bin/env bash
# verify and the club's genesis. An audit bundle is of the club its header
# names: its one genesis is that club's (a club's id is its genesis's id) and
# every other change is in that club. verify prints the club's id, name and
# founder (museum and key), which tell it from an impostor's club of the same
# name. Bundles forged with validly signed changes by an outsider's key
# (tests/helpers/audit_forge.c), each of which once verified as "adopted" or
# was not compared, exit 5 with the reason, in both builds.
source "$(dirname "$0")/lib.sh"
HELPERS=${CS_TEST_HELPERS:-$(dirname "$CLUBSYNC")/../tests}
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
share() { # share FROM TO...: full export of FROM imported by the others
  local from=$1
  shift
  cs --home "$WORK/$from" export "$WORK/share.bundle" >/dev/null
  for n in "$@"; do cs --home "$WORK/$n" import "$WORK/share.bundle" >/dev/null; done
}

make_club a b c
share a b c
M=$(cs --home "$WORK/a" motion propose "Adopter la charte" | tail -1)
share a b c
for n in a b c; do cs --home "$WORK/$n" motion vote "$M" yes >/dev/null; done
for n in b c; do share "$n" a; done
cs --home "$WORK/a" motion resolve "$M" >/dev/null
expect_code "audit-bundle" 0 cs --home "$WORK/a" audit-bundle "$M" "$WORK/audit.bundle"
CLUB=$(cs --home "$WORK/a" club list --json | json 'd[0]["id"]')
mkdir -p "$WORK/empty"

# The honest bundle: the club as its members know it.
for bin in $(both_builds); do
  expect_code "the honest bundle verifies ($bin)" 0 "$bin" --home "$WORK/empty" verify "$WORK/audit.bundle"
  grep -q "^Club Club régional (id $CLUB)\$" "$WORK/last.out" && ok ||
    fail "verify prints the club's name and id ($bin): $(cat "$WORK/last.out")"
  grep -q "^  founded by Musée a (key $(key_of a))\$" "$WORK/last.out" && ok ||
    fail "verify prints the founder's museum and key ($bin): $(cat "$WORK/last.out")"
  expect_code "verify --json ($bin)" 0 "$bin" --home "$WORK/empty" verify "$WORK/audit.bundle" --json
  expect_eq "club, id and founder in --json ($bin)" \
    "$(json '(d["club"], d["club_id"], d["founder"]["museum"], d["founder"]["key"])' <"$WORK/last.out")" \
    "('Club régional', '$CLUB', 'Musée a', '$(key_of a)')"
done

# An outsider's own club, named like ours, founded by a "Musée a" of its
# own, with a decision of its own: under its own header it verifies, and
# what verify prints tells it apart.
{ read -r OTHER && read -r OUTSIDER; } < <("$HELPERS/cs_audit_forge" "$WORK/audit.bundle" "$WORK/other-club-own.bundle" other-club-own)
for bin in $(both_builds); do
  expect_code "an impostor club under its own header ($bin)" 0 "$bin" --home "$WORK/empty" verify "$WORK/other-club-own.bundle"
  grep -q "^Club Club régional (id $OTHER)\$" "$WORK/last.out" && grep -q "^  founded by Musée a (key $OUTSIDER)\$" "$WORK/last.out" &&
    ok || fail "verify prints the impostor's club id and key ($bin): $(cat "$WORK/last.out")"
done
[ "$OTHER" != "$CLUB" ] && [ "$OUTSIDER" != "$(key_of a)" ] && ok || fail "the impostor has its own id and key"

# Forged bundles: MODE and the reason verify gives.
cases=(
  "second-genesis-first|change 1 is the genesis of club ${OTHER:0:12}, but the bundle's header names club ${CLUB:0:12}"
  "second-genesis-last|the bundle holds a second genesis (changes [0-9]* and [0-9]*)"
  "genesis-op|carries a genesis op but is no genesis"
  "other-club|change 1 is the genesis of club ${OTHER:0:12}, but the bundle's header names club ${CLUB:0:12}"
  "header-club|is the genesis of club ${CLUB:0:12}, but the bundle's header names club ${OTHER:0:12}"
)
for c in "${cases[@]}"; do
  mode=${c%%|*} reason=${c#*|}
  "$HELPERS/cs_audit_forge" "$WORK/audit.bundle" "$WORK/$mode.bundle" "$mode" >/dev/null
  for bin in $(both_builds); do
    expect_code "$mode ($bin)" 5 "$bin" --home "$WORK/empty" verify "$WORK/$mode.bundle"
    grep -q "the decision does not verify: .*$reason" "$WORK/last.err" && ok ||
      fail "$mode: the reason ($bin): $(cat "$WORK/last.err")"
  done
done
finish
