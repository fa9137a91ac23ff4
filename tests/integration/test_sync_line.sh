#!/usr/bin/env bash
# Sync along a line: a line A–B–C where C never talks to A; writes at A
# and at C reach every node; B stops, the others write, B catches up.
source "$(dirname "$0")/lib.sh"

make_club a b c
serve_node a
serve_node b --peer "127.0.0.1:$(port_of a)"
serve_node c --peer "127.0.0.1:$(port_of b)"

cs --home "$WORK/a" request add --title "Écrit à A" --module inventaire >/dev/null
wait_equal_digests 30 a b c && ok || fail "a's club did not reach b and c"
cs --home "$WORK/c" request add --title "Écrit à C" --module récolement >/dev/null
cs --home "$WORK/a" request add --title "Encore A" >/dev/null
wait_equal_digests 30 a b c && ok || fail "writes at a and c did not converge through b"
expect_eq "requests at a" "$(cs --home "$WORK/a" request list --json | python3 -c 'import json,sys;print(sorted(r["title"] for r in json.load(sys.stdin)))')" \
  "['Encore A', 'Écrit à A', 'Écrit à C']"
grep -q "127.0.0.1:$(port_of a)" "$WORK/c.serve.log" && fail "c dialled a" || ok

# B goes away; A and C keep writing; B comes back and catches up by itself.
stop_node b
cs --home "$WORK/a" request add --title "Pendant l'absence de B (A)" >/dev/null
cs --home "$WORK/c" request add --title "Pendant l'absence de B (C)" >/dev/null
sleep 1
[ "$(digest_of a)" != "$(digest_of c)" ] && ok || fail "a and c should differ while b is down"
serve_node b --peer "127.0.0.1:$(port_of a)"
# c redials b's new port only if told; point c at it through a fresh serve.
stop_node c
serve_node c --peer "127.0.0.1:$(port_of b)"
wait_equal_digests 40 a b c && ok || fail "b did not catch up after restart"
cs --home "$WORK/b" status | grep "^serve:  running (pid $PID_b)" >/dev/null && ok || fail "status shows the running serve"
# b is connected to a (it dialed) and to c (c dialed it): status lists both.
peers=$(cs --home "$WORK/b" status --json | python3 -c '
import json, sys
d = json.load(sys.stdin)
print(sorted(p["direction"] for p in d["peers"]), d["last_sync"] is not None)')
expect_eq "status --json lists b's peers" "$peers" "['in', 'out'] True"

# C goes offline, A writes one request; C's one-shot sync with B brings it,
# and C does not send it back to B, from which it just came.
stop_node c
cs --home "$WORK/a" request add --title "Une seule nouvelle" >/dev/null
wait_equal_digests 30 a b && ok || fail "a's new request did not reach b"
expect_eq "c receives one change and echoes none" \
  "$(cs --home "$WORK/c" sync "127.0.0.1:$(port_of b)" --json | python3 -c '
import json, sys
d = json.load(sys.stdin)
print(d["changes_received"], d["changes_sent"])')" "1 0"
finish
