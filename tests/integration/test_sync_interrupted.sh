#!/usr/bin/env bash
# An interrupted `sync` says so. A peer that sends the first 15 changes of
# its club and then stalls (tests/adversary, mode stall) stands for a slow
# link: once those 15 are stored, Ctrl-C (SIGINT, or SIGTERM) stops the sync, which
# says "interrupted after 15 of M changes", where M is what the peer's
# vector said it would send, and exits 130, keeping the 15. The next sync,
# with a serve of the whole club, fetches exactly the M - 15 left. `status`
# shows no last sync after the interrupted one, and the one-off sync once it
# completed (per club, kept after the process ends).
source "$(dirname "$0")/lib.sh"
ADV=${CS_ADVERSARY:-$(dirname "$CLUBSYNC")/../tests/cs_adversary}
EDIT="$(dirname "$0")/bundle_edit.py"
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
changes_of() { cs --home "$WORK/$1" status --json | json 'sum(c["changes"] for c in d["clubs"])'; }
FIRST=15

make_club a n t
club=$(cs --home "$WORK/a" club list --json | json 'd[0]["id"]')
for k in $(seq 1 40); do cs --home "$WORK/a" request add --title "Demande $k" >/dev/null 2>&1; done
cs --home "$WORK/a" export "$WORK/club.bundle" >/dev/null
total=$(python3 "$EDIT" "$WORK/club.bundle" ids | wc -l)

# interrupt NODE SIGNAL: a sync of NODE with the stalling peer, stopped by
# SIGNAL once NODE holds the first changes.
interrupt() {
  local node=$1 signal=$2 held=0 code=0
  rm -f "$WORK/stall.port"
  "$ADV" stall "$WORK/stall.port" "$WORK/a" "$WORK/club.bundle" "$FIRST" 2>"$WORK/stall.err" &
  local stall=$!
  for _ in $(seq 1 100); do [ -s "$WORK/stall.port" ] && break; sleep 0.1; done
  "$CLUBSYNC" --home "$WORK/$node" sync "127.0.0.1:$(cat "$WORK/stall.port")" >"$WORK/sync.out" 2>"$WORK/sync.err" &
  local sync=$!
  # The sync commits what it received within a poll tick (200 ms).
  for _ in $(seq 1 300); do
    held=$(changes_of "$node" 2>/dev/null || echo 0)
    [ "$held" == "$FIRST" ] && break
    sleep 0.1
  done
  expect_eq "$node stored the first changes while the peer stalls" "$held" "$FIRST"
  kill -"$signal" "$sync"
  wait "$sync" || code=$?
  expect_eq "a sync stopped by SIG$signal exits 130" "$code" 130
  grep -q "interrupted after $FIRST of $total changes from 127.0.0.1:" "$WORK/sync.err" && ok ||
    fail "SIG$signal: it says how far it got: $(cat "$WORK/sync.err")"
  grep -q "In sync" "$WORK/sync.out" && fail "SIG$signal: it claims to be in sync: $(cat "$WORK/sync.out")" || ok
  wait "$stall" 2>/dev/null || true
}
interrupt n INT
interrupt t TERM
expect_eq "t kept what it received too" "$(changes_of t)" "$FIRST"
expect_eq "what was received is kept" "$(changes_of n)" "$FIRST"
expect_code "the store is sound" 0 cs --home "$WORK/n" audit
expect_eq "status: no sync completed yet" \
  "$(cs --home "$WORK/n" status --json | json '[c["last_sync"] for c in d["clubs"]]')" "[None]"

# The resume, from a serve of the whole club: exactly what is left.
serve_node a
port=$(port_of a)
expect_code "the next sync" 0 cs --home "$WORK/n" sync "127.0.0.1:$port" --json
expect_eq "it expected and fetched exactly the rest" \
  "$(json '(d["changes_expected"], d["changes_received"], d["interrupted"])' <"$WORK/last.out")" \
  "($((total - FIRST)), $((total - FIRST)), False)"
expect_eq "n holds the whole club" "$(changes_of n)" "$total"
expect_eq "n's state is a's" "$(digest_of n)" "$(digest_of a)"

# status shows that one-off sync as the club's last sync, after it ended.
expect_eq "status: the one-off sync is the last sync" \
  "$(cs --home "$WORK/n" status --json | json '[(c["id"], c["last_sync"] is not None, c["last_sync_with"]["address"]) for c in d["clubs"]]')" \
  "[('$club', True, '127.0.0.1:$port')]"
cs --home "$WORK/n" status | grep -q "^        last sync: 20.* with 127.0.0.1:$port$" && ok ||
  fail "status says it: $(cs --home "$WORK/n" status)"
expect_eq "status: no serve runs on n" "$(cs --home "$WORK/n" status --json | json 'd["serve"]["running"]')" False

finish
