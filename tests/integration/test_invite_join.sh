#!/usr/bin/env bash
# An invitation carries the address `serve` actually listens on, and `club
# join` saves every address it carries: invite, join, then `peer list` shows
# the inviter and `sync` to it brings the club. A wildcard or a listen
# address that failed never travels in an invite; a bad --listen is a usage
# error.
source "$(dirname "$0")/lib.sh"
INVITE="python3 $(dirname "$0")/invite_code.py"
addresses_of() { $INVITE addresses "$1"; }

# A serves on an ephemeral port of 127.0.0.1; its invite carries the real port.
new_node a "Musée A"
cs --home "$WORK/a" club create "Club régional" --software Flora >/dev/null
serve_node a
port=$(port_of a)
code=$(cs --home "$WORK/a" club invite | tail -1)
expect_eq "the invite carries A's bound address" "$(addresses_of "$code")" "127.0.0.1:$port"

# B joins with the code alone: the inviter is its peer, and a sync to it works.
new_node b "Musée B"
cs --home "$WORK/a" member add "$(key_of b)" --museum "Musée B" --role member >/dev/null
expect_code "join" 0 cs --home "$WORK/b" club join "$code"
grep -q "127.0.0.1:$port" "$WORK/last.out" && ok || fail "join says which address it saved: $(cat "$WORK/last.out")"
expect_eq "peer list shows the inviter" "$(cs --home "$WORK/b" peer list)" "127.0.0.1:$port"
expect_eq "peer list json" "$(cs --home "$WORK/b" peer list --json | python3 -c 'import json,sys;print(json.load(sys.stdin))')" "['127.0.0.1:$port']"
expect_code "sync to the saved address" 0 cs --home "$WORK/b" sync "$(cs --home "$WORK/b" peer list)"
expect_eq "B holds the club" "$(cs --home "$WORK/b" club list --json | python3 -c 'import json,sys;print(json.load(sys.stdin)[0]["name"])')" "Club régional"
expect_eq "B converged with A" "$(digest_of b)" "$(digest_of a)"

# Joining twice does not repeat the peer.
cs --home "$WORK/b" club join "$code" >/dev/null
expect_eq "a second join keeps one peer" "$(cs --home "$WORK/b" peer list)" "127.0.0.1:$port"

# C serves on every interface: the wildcard is no address to dial, so its
# invite carries none of C's own and says so (docs/decisions.md, 18).
new_node c "Musée C"
cs --home "$WORK/c" club create "Club des Causses" >/dev/null
serve_node_on c 0.0.0.0:0
expect_code "invite while serving on 0.0.0.0" 0 cs --home "$WORK/c" club invite
wildcard_code=$(tail -1 "$WORK/last.out")
expect_eq "the invite carries no wildcard" "$(addresses_of "$wildcard_code")" ""
grep -q "carries no address" "$WORK/last.out" && ok || fail "invite says it carries no address: $(cat "$WORK/last.out")"
new_node d "Musée D"
cs --home "$WORK/d" club join "$wildcard_code" >/dev/null
cs --home "$WORK/d" peer list | grep -q "^No peers yet for club" && ok || fail "nothing to dial saved: $(cs --home "$WORK/d" peer list)"

# A bad --listen is a usage error with one line saying what is wrong, and
# nothing is recorded for invites. (The timeouts only stop a serve that
# wrongly starts.)
new_node e "Musée E"
cs --home "$WORK/e" club create "Club de l'Est" >/dev/null
for bad in 127.0.0.1:99999 127.0.0.1:65536 127.0.0.1: 127.0.0.1:7x50 127.0.0.1:-1 7450 :7450 musee.example:7450 999.0.0.1:7450; do
  expect_code "--listen $bad" 2 timeout 10 "$CLUBSYNC" --home "$WORK/e" serve --listen "$bad"
  [ "$(wc -l <"$WORK/last.err")" == 1 ] && grep -q '^clubsync: error: --listen' "$WORK/last.err" && ok ||
    fail "--listen $bad: one line about --listen: $(cat "$WORK/last.err")"
done
expect_code "--listen without a value" 2 timeout 10 "$CLUBSYNC" --home "$WORK/e" serve --listen
grep -q "out of range" <(timeout 10 "$CLUBSYNC" --home "$WORK/e" serve --listen 127.0.0.1:99999 2>&1) && ok || fail "says the port is out of range"
expect_eq "nothing recorded after bad --listen" "$(addresses_of "$(cs --home "$WORK/e" club invite | tail -1)")" ""

# A listen address that is taken fails (exit 1, the reason said) and is not
# recorded either.
expect_code "--listen on a taken port" 1 timeout 10 "$CLUBSYNC" --home "$WORK/e" serve --listen "127.0.0.1:$port"
grep -q "cannot listen on 127.0.0.1:$port" "$WORK/last.err" && ok || fail "says it cannot listen: $(cat "$WORK/last.err")"
expect_eq "nothing recorded after a failed bind" "$(addresses_of "$(cs --home "$WORK/e" club invite | tail -1)")" ""

# Codes made elsewhere (an older clubsync, a hand-edited one): join keeps the
# addresses one can dial and skips wildcards and port 0; a code cut short is
# damaged (exit 5) and writes nothing.
new_node f "Musée F"
crafted=$($INVITE make 0.0.0.0:7450 "[::]:7450" "::ffff:0.0.0.0:7450" 127.0.0.1:0 192.0.2.10:7450 \
  "[2001:db8::1]:7450" $'192.0.2.11:7450\n192.0.2.66:7450')
expect_code "join a crafted code" 0 cs --home "$WORK/f" club join "$crafted"
expect_eq "only dialable addresses saved" "$(cs --home "$WORK/f" peer list | tr '\n' ' ')" "192.0.2.10:7450 [2001:db8::1]:7450 "
grep -q "Left out 5" "$WORK/last.out" && ok || fail "join says what it left out: $(cat "$WORK/last.out")"
expect_code "peer add refuses a wildcard" 2 cs --home "$WORK/f" peer add 0.0.0.0:7450
new_node g "Musée G"
expect_code "join a code cut short" 5 cs --home "$WORK/g" club join "$($INVITE make-damaged)"
expect_eq "no network key written" "$(ls "$WORK/g/keys" 2>/dev/null | wc -l)" 0
expect_eq "no peer written" "$(ls "$WORK/g/clubs" "$WORK/g/peers" 2>/dev/null | wc -l)" 0
expect_code "no club joined: peer list says so" 4 cs --home "$WORK/g" peer list
finish
