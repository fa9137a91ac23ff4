#!/usr/bin/env bash
# `club join` saves every address an invitation carries that someone can
# dial, and reads the whole code before it writes anything.
source "$(dirname "$0")/lib.sh"
INVITE="python3 $(dirname "$0")/invite_code.py"
addresses_of() { $INVITE addresses "$1"; }

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
expect_eq "no peer written" "$(cs --home "$WORK/g" peer list)" "No peers yet: 'clubsync peer add IP:PORT'."
finish
