#!/usr/bin/env bash
# Forks over sync: a forked author (one key signing two different changes
# with the same seq, from two copies of a home) is detected during sync,
# both changes are kept as evidence, and status and audit report it.
source "$(dirname "$0")/lib.sh"

make_club a b
cs --home "$WORK/a" export "$WORK/club.bundle" >/dev/null
cs --home "$WORK/b" import "$WORK/club.bundle" >/dev/null
cs --home "$WORK/b" request add --title "Avant la copie" >/dev/null
cp -r "$WORK/b" "$WORK/b2"
cs --home "$WORK/b" request add --title "Branche un" >/dev/null
cs --home "$WORK/b2" request add --title "Branche deux" >/dev/null

serve_node a
expect_code "b syncs" 0 cs --home "$WORK/b" sync "127.0.0.1:$(port_of a)"
cs --home "$WORK/b2" sync "127.0.0.1:$(port_of a)" >/dev/null 2>&1 || true
wait_equal_digests 10 a b2 && ok || fail "the copy converged with a"
cs --home "$WORK/b" sync "127.0.0.1:$(port_of a)" >/dev/null 2>&1 || true
expect_eq "forks at a" "$(cs --home "$WORK/a" status --json | python3 -c 'import json,sys;print(json.load(sys.stdin)["clubs"][0]["forks_count"])')" 1
cs --home "$WORK/a" status | grep "FORK" >/dev/null && ok || fail "status shows the fork"
cs --home "$WORK/a" audit >"$WORK/audit.txt"
grep -q "^FORK" "$WORK/audit.txt" && ok || fail "audit shows the fork"
# Both changes are stored; the frozen key's changes from the fork on are out of the state.
expect_eq "titles at a" "$(cs --home "$WORK/a" request list --json | python3 -c 'import json,sys;print(sorted(r["title"] for r in json.load(sys.stdin)))')" "['Avant la copie']"
expect_eq "a and b agree" "$(digest_of a)" "$(digest_of b)"
finish
