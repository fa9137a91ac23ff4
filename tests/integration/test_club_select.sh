#!/usr/bin/env bash
# Which club a command acts on, on a node with several: `club use NAME|ID`
# sets the default club, `--club NAME|ID` picks one for a command, two
# clubs of the same name are told apart by their id wherever they are
# listed, and a node with one club needs neither. A bundle is for one club:
# a node with no club imports its first as before; a node that holds clubs
# names a bundle's new club and holds it only with --new-club. A node holds
# at most 64 clubs. Peers are kept per club, and the per-home peers file of
# earlier versions moves to the clubs.
source "$(dirname "$0")/lib.sh"
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
default_of() { cs --home "$WORK/$1" club list --json | json '" ".join(c["id"] for c in d if c["default"])'; }
titles() { cs --home "$WORK/$1" --club "$2" request list --json | json '" | ".join(sorted(r["title"] for r in d))'; }

# One club: nothing to choose, nothing recorded.
new_node n "Musée N"
un1=$(cs --home "$WORK/n" club create "Club Un" --software Flora | tail -1)
expect_code "one club: plain commands work" 0 cs --home "$WORK/n" request add --title "Dans le premier Club Un"
expect_eq "one club: no default recorded" "$(ls "$WORK/n/default-club" 2>/dev/null | wc -l)" 0
expect_eq "one club: club list marks it" "$(default_of n)" "$un1"

# A second club named the same, then a third: plain commands keep acting on
# the first, which becomes the default, and the node says so.
cs --home "$WORK/n" club create "Club Un" --software Flora >"$WORK/create.out"
un2=$(tail -1 "$WORK/create.out")
grep -q "still act on \"Club Un\" (${un1:0:8}), now the default club" "$WORK/create.out" && ok ||
  fail "club create says which club stays the default: $(cat "$WORK/create.out")"
deux=$(cs --home "$WORK/n" club create "Club Deux" | tail -1)
expect_eq "the first club is the default" "$(default_of n)" "$un1"
expect_code "plain request add" 0 cs --home "$WORK/n" request add --title "Encore dans le premier"
expect_eq "it went to the default club" "$(titles n "$un1")" "Dans le premier Club Un | Encore dans le premier"
expect_eq "not to the other Club Un" "$(titles n "$un2")" ""

# club list and status tell the two Club Un apart by id.
cs --home "$WORK/n" club list >"$WORK/list.out"
grep -q "^\* $un1  Club Un, Flora" "$WORK/list.out" && grep -q "^  $un2  Club Un, Flora" "$WORK/list.out" &&
  grep -q "^  $deux  Club Deux" "$WORK/list.out" && ok || fail "club list: $(cat "$WORK/list.out")"
expect_eq "status labels" "$(cs --home "$WORK/n" status --json | json '" ".join(sorted(c["label"] for c in d["clubs"]))')" \
  "$(printf '"Club Deux" (%s)\n"Club Un" (%s)\n"Club Un" (%s)\n' "${deux:0:8}" "${un1:0:8}" "${un2:0:8}" | LC_ALL=C sort | paste -sd' ')"
cs --home "$WORK/n" status >"$WORK/status.out"
grep -q "^club:   \"Club Un\" (${un1:0:8})  $un1  (you: admin)  \[default\]" "$WORK/status.out" && ok ||
  fail "status marks the default: $(cat "$WORK/status.out")"

# club use: a name that two clubs bear is refused, naming both with their id.
expect_code "club use of a shared name" 2 cs --home "$WORK/n" club use "Club Un"
grep -q "\"Club Un\" (${un1:0:8})" "$WORK/last.err" && grep -q "\"Club Un\" (${un2:0:8})" "$WORK/last.err" && ok ||
  fail "the refusal names both: $(cat "$WORK/last.err")"
expect_eq "the default did not change" "$(default_of n)" "$un1"
expect_code "club use by id prefix" 0 cs --home "$WORK/n" club use "${un2:0:8}"
expect_eq "club use prints the id last" "$(tail -1 "$WORK/last.out")" "$un2"
expect_eq "the second Club Un is the default" "$(default_of n)" "$un2"
cs --home "$WORK/n" request add --title "Dans le second Club Un" >/dev/null 2>&1
expect_eq "plain commands follow club use" "$(titles n "$un2")" "Dans le second Club Un"
expect_code "club use by a unique name" 0 cs --home "$WORK/n" club use "Club Deux"
expect_eq "Club Deux is the default" "$(default_of n)" "$deux"
expect_eq "digest follows the default" "$(cs --home "$WORK/n" digest)" "$(cs --home "$WORK/n" --club "$deux" digest)"
expect_code "club use of no club" 4 cs --home "$WORK/n" club use "Club Trois"
expect_code "club use needs a club" 2 cs --home "$WORK/n" club use

# --club on any command, by name or id prefix, whatever the default.
expect_code "--club by id prefix" 0 cs --home "$WORK/n" --club "${un1:0:10}" request add --title "Choisi par --club"
expect_eq "--club chose the first Club Un" "$(titles n "$un1")" \
  "Choisi par --club | Dans le premier Club Un | Encore dans le premier"
expect_code "--club after the command" 0 cs --home "$WORK/n" member list --club "Club Deux"
expect_code "--club of a shared name" 2 cs --home "$WORK/n" --club "Club Un" request list
expect_code "--club of no club" 4 cs --home "$WORK/n" --club "Nulle part" request list
expect_code "--club of no club, hex-like" 4 cs --home "$WORK/n" --club "abcdef" request list
expect_eq "the default is still Club Deux" "$(default_of n)" "$deux"

# A node of an earlier version, with several clubs and no default: plain
# commands ask which club, listing them with their ids.
rm "$WORK/n/default-club"
expect_code "several clubs and no default" 2 cs --home "$WORK/n" request list
grep -q "club use NAME|ID" "$WORK/last.err" && grep -q "(${un2:0:8})" "$WORK/last.err" && ok ||
  fail "the error says how to choose: $(cat "$WORK/last.err")"
expect_eq "club list marks no default" "$(default_of n)" ""
cs --home "$WORK/n" club use "${un1:0:8}" >/dev/null

# Bundles: a node with no club imports its first club as before.
for c in "$un1" "$un2"; do cs --home "$WORK/n" --club "$c" export "$WORK/${c:0:8}.bundle" >/dev/null; done
new_node p "Musée P"
expect_code "the first club of a node" 0 cs --home "$WORK/p" import "$WORK/${un1:0:8}.bundle"
# A bundle of another club with the same name: named with its id, and held
# only when asked.
expect_code "another club's bundle needs --new-club" 2 cs --home "$WORK/p" import "$WORK/${un2:0:8}.bundle"
grep -q "\"Club Un\" (${un2:0:8}), not the \"Club Un\" (${un1:0:8}) it holds" "$WORK/last.err" && grep -q -- "--new-club" \
  "$WORK/last.err" && ok || fail "the refusal names the new club: $(cat "$WORK/last.err")"
expect_eq "nothing was imported" "$(cs --home "$WORK/p" club list --json | json 'len(d)')" 1
expect_code "with --new-club" 0 cs --home "$WORK/p" import "$WORK/${un2:0:8}.bundle" --new-club
grep -q "new club for this node: \"Club Un\" (${un2:0:8})" "$WORK/last.out" && ok ||
  fail "import says which club it adds: $(cat "$WORK/last.out")"
expect_eq "p holds both, the first one the default" "$(cs --home "$WORK/p" club list --json | json 'len(d)') $(default_of p)" \
  "2 $un1"
expect_eq "p's second club is n's" "$(cs --home "$WORK/p" --club "$un2" digest)" "$(cs --home "$WORK/n" --club "$un2" digest)"
expect_code "a bundle of a club held needs no flag" 0 cs --home "$WORK/p" import "$WORK/${un2:0:8}.bundle"

# At most 64 clubs a node: the 65th is refused, whichever way it comes.
new_node full "Musée Plein"
mkdir -p "$WORK/full/keys"
for i in $(seq 1 64); do
  head -c 32 /dev/urandom >"$WORK/full/keys/$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n').netkey"
done
expect_code "a 65th club: create" 1 cs --home "$WORK/full" club create "Club de trop"
grep -q "holds 64 clubs already" "$WORK/last.err" && ok || fail "create says why: $(cat "$WORK/last.err")"
expect_code "a 65th club: import" 1 cs --home "$WORK/full" import "$WORK/${un1:0:8}.bundle" --new-club
expect_code "a 65th club: join" 1 cs --home "$WORK/full" club join "$(cs --home "$WORK/n" --club "$deux" club invite | tail -1)"
expect_eq "still 64 clubs" "$(cs --home "$WORK/full" club list --json | json 'len(d)')" 64

# Peers are kept per club: peer add, list and remove act on the chosen club.
expect_code "peer add for Club Deux" 0 cs --home "$WORK/n" --club "$deux" peer add 192.0.2.20:7450
expect_code "peer add for the default club" 0 cs --home "$WORK/n" peer add 192.0.2.10:7450
expect_eq "the default club's peers" "$(cs --home "$WORK/n" peer list | paste -sd' ')" "192.0.2.10:7450"
expect_eq "Club Deux's peers" "$(cs --home "$WORK/n" --club "Club Deux" peer list --json | json '" ".join(d)')" "192.0.2.20:7450"
expect_code "peer remove" 0 cs --home "$WORK/n" --club "$deux" peer remove 192.0.2.20:7450
expect_code "peer remove of no peer" 4 cs --home "$WORK/n" --club "$deux" peer remove 192.0.2.20:7450
peers_in_status() { cs --home "$WORK/n" status --json | json "[','.join(c['peers']) or '-' for c in d['clubs'] if c['id'] == '$1'][0]"; }
expect_eq "status lists each club's peers" "$(peers_in_status "$un1") $(peers_in_status "$un2") $(peers_in_status "$deux")" \
  "192.0.2.10:7450 - -"
# At most 64 peers a club, and serve dials at most 64 addresses in all,
# naming each one it leaves out.
mkdir -p "$WORK/n/clubs/$un2"
for i in $(seq 1 64); do echo "127.0.0.1:$((20000 + i))"; done >"$WORK/n/clubs/$un2/peers"
expect_code "a 65th peer for a club" 1 cs --home "$WORK/n" --club "$un2" peer add 192.0.2.99:7450
grep -q "has 64 peers already" "$WORK/last.err" && ok || fail "peer add says why: $(cat "$WORK/last.err")"
serve_node n
for _ in $(seq 1 50); do grep -q "cannot reach" "$WORK/n.serve.log" && break; sleep 0.1; done
stop_node n
expect_eq "serve leaves out the addresses past 64, each named" \
  "$(grep -c "serve dials at most 64 addresses; .* is left out" "$WORK/n.serve.log")" 1
rm "$WORK/n/clubs/$un2/peers"

# The per-home peers file of an earlier version moves to every club.
printf '192.0.2.30:7450\n192.0.2.10:7450\n' >"$WORK/n/peers"
expect_code "the first network command moves it" 0 cs --home "$WORK/n" peer list
grep -q "peers are kept per club now" "$WORK/last.err" && ok || fail "it says so: $(cat "$WORK/last.err")"
expect_eq "the old file is gone" "$(ls "$WORK/n/peers" 2>/dev/null | wc -l)" 0
expect_eq "the default club got both, once each" "$(cs --home "$WORK/n" peer list | sort | paste -sd' ')" \
  "192.0.2.10:7450 192.0.2.30:7450"
expect_eq "Club Deux got them" "$(cs --home "$WORK/n" --club "$deux" peer list | sort | paste -sd' ')" \
  "192.0.2.10:7450 192.0.2.30:7450"
finish
