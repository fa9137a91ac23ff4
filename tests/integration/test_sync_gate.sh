#!/usr/bin/env bash
# The membership gate of sync: a key that is not a member gets nothing and injects
# nothing, even with the invite code; without the network key, no handshake.
source "$(dirname "$0")/lib.sh"

make_club a b
cs --home "$WORK/a" request add --title "Réservé aux membres" >/dev/null
code=$(cs --home "$WORK/a" club invite | tail -1)
serve_node a
before=$(digest_of a)

# X has the invite code but was never added.
new_node x "Musée inconnu"
cs --home "$WORK/x" club join "$code" >/dev/null
expect_code "non-member sync" 1 cs --home "$WORK/x" sync "127.0.0.1:$(port_of a)"
expect_code "non-member got no club data" 4 cs --home "$WORK/x" request list
grep -q "not a member of club" "$WORK/a.serve.log" && ok || fail "a logs the refusal: $(tail -3 "$WORK/a.serve.log")"

# X gets the club's data by other means and tries to push its own changes:
# the gate still refuses the connection, and a's state does not move.
cs --home "$WORK/a" export "$WORK/club.bundle" >/dev/null
cs --home "$WORK/x" import "$WORK/club.bundle" >/dev/null
expect_code "non-member cannot write locally" 3 cs --home "$WORK/x" request add --title "Intrus"
expect_code "non-member sync with data" 1 cs --home "$WORK/x" sync "127.0.0.1:$(port_of a)"
expect_eq "a unchanged" "$(digest_of a)" "$before"

# Y has the club id but a wrong network key: the handshake fails.
new_node y "Musée sans clé"
club=$(cs --home "$WORK/a" club list --json | python3 -c 'import json,sys;print(json.load(sys.stdin)[0]["id"])')
mkdir -p "$WORK/y/keys" && head -c 32 /dev/urandom >"$WORK/y/keys/$club.netkey"
expect_code "sync without the network key" 1 cs --home "$WORK/y" sync "127.0.0.1:$(port_of a)"
grep -q "handshake failed" "$WORK/a.serve.log" && ok || fail "a logs the failed handshake"
expect_eq "a unchanged after y" "$(digest_of a)" "$before"

# The member b, by contrast, syncs.
expect_code "member sync" 0 cs --home "$WORK/b" sync "127.0.0.1:$(port_of a)"
expect_eq "member converged" "$(digest_of b)" "$(digest_of a)"
finish
