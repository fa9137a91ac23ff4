#!/usr/bin/env bash
# Device keys: a museum adds a second device key and revokes a
# lost one; whatever key cast them, its campaign points and its motion vote
# count once, and its co-signature is listed once.
source "$(dirname "$0")/lib.sh"
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
share() { # share FROM TO...: full export of FROM imported by the others
  local from=$1
  shift
  cs --home "$WORK/$from" export "$WORK/share.bundle" >/dev/null
  for n in "$@"; do cs --home "$WORK/$n" import "$WORK/share.bundle" >/dev/null; done
}

make_club a b
# The same museum, Musée b, on a second device (a laptop).
new_node b2 "Musée b"
cs --home "$WORK/a" member add "$(key_of b2)" --museum "Musée b" --role member >/dev/null
cs --home "$WORK/b2" club join "$(cs --home "$WORK/a" club invite | tail -1)" >/dev/null
share a b b2
expect_eq "two keys, one museum" "$(cs --home "$WORK/a" member list --json |
  json 'sorted(m["museum"] for m in d if m["role"] != "removed")')" "['Musée a', 'Musée b', 'Musée b']"

R1=$(cs --home "$WORK/a" request add --title "Récolement sur tablette" | tail -1)
R2=$(cs --home "$WORK/a" request add --title "Bordereau de prêt" 2>/dev/null | tail -1)
C=$(cs --home "$WORK/a" campaign open "Campagne 2027" --points 100 | tail -1)
M=$(cs --home "$WORK/a" motion propose "Adopter la charte 2027" --quorum majority | tail -1)
share a b b2
expect_eq "the electorate counts museums, not keys" \
  "$(cs --home "$WORK/a" motion show "$M" --json | json 'd["electorate"]')" "['Musée a', 'Musée b']"

# Musée b votes from its office, then again from the laptop, which has seen
# the first ballot: the later one is Musée b's.
cs --home "$WORK/b" campaign vote "$C" "$R1=100" >/dev/null
cs --home "$WORK/b" motion vote "$M" no >/dev/null
cs --home "$WORK/b" request support "$R2" >/dev/null
share b b2
cs --home "$WORK/b2" campaign vote "$C" "$R2=100" >/dev/null
cs --home "$WORK/b2" motion vote "$M" yes >/dev/null
cs --home "$WORK/b2" request support "$R2" >/dev/null
cs --home "$WORK/a" campaign vote "$C" "$R1=40" "$R2=60" >/dev/null
cs --home "$WORK/a" motion vote "$M" yes >/dev/null
share b a
share b2 a
expect_eq "Musée b's points count once, from its latest ballot" \
  "$(cs --home "$WORK/a" campaign results "$C" --json | json '[(r["title"], r["points"], r["museums"]) for r in d]')" \
  "[('Bordereau de prêt', 160, 2), ('Récolement sur tablette', 40, 1)]"
expect_eq "co-signed once" \
  "$(cs --home "$WORK/a" request list --json | json '[r["supporters"] for r in d if r["id"] == "'"$R2"'"][0]')" \
  "['Musée a', 'Musée b']"
expect_code "the admin resolves" 0 cs --home "$WORK/a" motion resolve "$M"
grep -q "Adopted: 2 yes, 0 no, 0 abstain of 2 museums" "$WORK/last.out" && ok ||
  fail "one vote per museum: $(cat "$WORK/last.out")"

# The laptop is lost: the admin revokes its key. What the laptop writes after
# that is kept out of the club's state, and it can no longer sync.
cs --home "$WORK/a" member remove "$(key_of b2)" >/dev/null
cs --home "$WORK/b2" request add --title "Écrit après la perte" >/dev/null
share b2 a
expect_eq "the lost key's later write is not in the state" \
  "$(cs --home "$WORK/a" request list --json | json 'sorted(r["title"] for r in d)')" \
  "['Bordereau de prêt', 'Récolement sur tablette']"
cs --home "$WORK/a" audit | grep "invalidated" >/dev/null && ok || fail "audit lists the revoked key's write"
serve_node a
expect_code "the revoked key cannot sync" 1 cs --home "$WORK/b2" sync "127.0.0.1:$(port_of a)"
expect_code "the museum's other key still can" 0 cs --home "$WORK/b" sync "127.0.0.1:$(port_of a)"
finish
