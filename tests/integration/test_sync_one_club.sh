#!/usr/bin/env bash
# A sync connection carries only its club's changes. B is in Club Un with
# A, both serving and connected; B imports a bundle of Club Deux (made by
# C): A never receives any of it, even while B's serve pushes B's new
# changes, and A refuses Club Deux's changes sent on a Club Un connection,
# genesis included, and logs it in one line with the count.
source "$(dirname "$0")/lib.sh"
ADV=${CS_ADVERSARY:-$(dirname "$CLUBSYNC")/../tests/cs_adversary}
EDIT="$(dirname "$0")/bundle_edit.py"
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
club_ids() { cs --home "$WORK/$1" club list --json | json '" ".join(sorted(c["id"] for c in d))'; }

# Club Un: A founds it, B joins as a member.
new_node a "Musée A"
un=$(cs --home "$WORK/a" club create "Club Un" --software Flora | tail -1)
new_node b "Musée B"
cs --home "$WORK/a" member add "$(key_of b)" --museum "Musée B" --role member >/dev/null
cs --home "$WORK/b" club join "$(cs --home "$WORK/a" club invite | tail -1)" >/dev/null
cs --home "$WORK/a" request add --title "Demande du club Un" >/dev/null
# Club Deux: C's club, which A never joined.
new_node c "Musée C"
deux=$(cs --home "$WORK/c" club create "Club Deux" --software Flora | tail -1)
for title in Inventaire Prêts Photographies; do
  cs --home "$WORK/c" request add --title "$title (club Deux)" >/dev/null 2>&1
done
cs --home "$WORK/c" export "$WORK/deux.bundle" >/dev/null
deux_changes=$(python3 "$EDIT" "$WORK/deux.bundle" ids | wc -l)

serve_node a
serve_node b --peer "127.0.0.1:$(port_of a)"
wait_equal_digests 30 a b && ok || fail "b did not sync Club Un from a"

# B imports Club Deux while its serve is connected to A (B's first bundle of
# that club, so B now holds two clubs, as before), then writes in Club Un.
cs --home "$WORK/b" import "$WORK/deux.bundle" --new-club >/dev/null
expect_eq "b holds both clubs" "$(club_ids b)" "$(echo -e "$un\n$deux" | sort | tr '\n' ' ' | sed 's/ $//')"
cs --home "$WORK/b" --club "Club Un" request add --title "Écrit à B après l'import" >/dev/null
# B's serve pushes its new changes in arrival order: once A holds B's
# request, every change B stored before it has been through B's push.
arrived=0
for _ in $(seq 1 100); do
  if cs --home "$WORK/a" --club "$un" request list --json 2>/dev/null | grep -q "Écrit à B après l'import"; then
    arrived=1
    break
  fi
  sleep 0.1
done
expect_eq "b's Club Un request reached a" "$arrived" 1
expect_eq "a holds only Club Un" "$(club_ids a)" "$un"
expect_code "a's plain status works" 0 cs --home "$WORK/a" status --json
expect_eq "a's status lists one club" "$(cs --home "$WORK/a" status --json | json 'len(d["clubs"])')" 1
expect_code "a's plain request list works" 0 cs --home "$WORK/a" request list
cs --home "$WORK/a" request list --json | grep -q "club Deux" && fail "a lists Club Deux's requests" || ok
grep -q "another club" "$WORK/a.serve.log" && fail "a refused changes of another club: b's serve sent them" || ok

# A member's node that sends Club Deux's changes on a Club Un connection
# (a buggy or hostile peer, with B's key and Club Un's network key): A
# refuses every one of them, genesis included, and says so in one line
# with the count, not one line per change.
expect_code "the peer sends Club Deux's changes" 0 "$ADV" send 127.0.0.1 "$(port_of a)" "$WORK/b" "$WORK/deux.bundle"
expect_eq "a still holds only Club Un" "$(club_ids a)" "$un"
lines=$(grep -c "changes of another club" "$WORK/a.serve.log" || true)
[ "$lines" -ge 1 ] && [ "$lines" -lt "$deux_changes" ] && ok ||
  fail "a logs the refusal in a line or two, not per change: $lines lines for $deux_changes changes"
grep "changes of another club" "$WORK/a.serve.log" || true
refused=$(sed -n 's/.*refused \([0-9]*\) changes of another club.*/\1/p' "$WORK/a.serve.log" | awk '{s += $1} END {print s + 0}')
expect_eq "a's log counts every refused change" "$refused" "$deux_changes"
expect_code "a's plain commands still work" 0 cs --home "$WORK/a" request list
finish
