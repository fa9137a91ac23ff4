#!/usr/bin/env bash
# Hostile peers against a running `serve`: garbage before and after
# the handshake, an oversized and a truncated message, a peer that sends one
# byte a second, forged signatures, replayed changes, 100,000 changes with
# missing deps, a flood of connections. The node disconnects each offender
# with one clear log line, stays within bounded memory, keeps its replica
# intact and keeps syncing with an honest member throughout.
#   CS_ADVERSARY_MISSING (default 100000): how many changes with missing deps.
source "$(dirname "$0")/lib.sh"
ADV=${CS_ADVERSARY:-$(dirname "$CLUBSYNC")/../tests/cs_adversary}
MISSING=${CS_ADVERSARY_MISSING:-100000}
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

make_club a m h
cs --home "$WORK/a" export "$WORK/club.bundle" >/dev/null
for n in m h; do cs --home "$WORK/$n" import "$WORK/club.bundle" >/dev/null; done
# m's own writes, unknown to a: the material for forged signatures.
for k in 1 2 3 4 5; do cs --home "$WORK/m" request add --title "Demande de m $k" >/dev/null 2>&1; done
cs --home "$WORK/m" export "$WORK/m.bundle" >/dev/null

CLUBSYNC_MEMORY_REPORT="$WORK/serve.memory" serve_node a
PORT=$(port_of a)
honest_sync() { # honest_sync WHAT: h writes one request and syncs with a
  cs --home "$WORK/h" request add --title "Honnête: $1" >/dev/null 2>&1
  expect_code "honest sync after $1" 0 cs --home "$WORK/h" sync "127.0.0.1:$PORT"
}
attack() { # attack MODE [HOME] [ARG]: runs the adversary, then an honest sync
  local mode=$1
  shift
  expect_code "adversary $mode ends" 0 "$ADV" "$mode" 127.0.0.1 "$PORT" "$@"
  honest_sync "$mode"
}

attack garbage-pre
attack slow 30
attack flood 300
attack garbage-post "$WORK/m"
attack oversize "$WORK/m"
attack truncated "$WORK/m"
attack forged "$WORK/m" "$WORK/m.bundle"
attack replay "$WORK/m" "$WORK/club.bundle"
attack missing "$WORK/m" "$MISSING"

# The replica is intact and holds none of the forged or dangling changes.
expect_code "audit after the attacks" 0 cs --home "$WORK/a" audit
titles=$(cs --home "$WORK/a" request list --json | json 'sorted(set(r["title"].split(":")[0] for r in d))')
expect_eq "only honest requests" "$titles" "['Honnête']"
pending=$(cs --home "$WORK/a" status --json | json 'd["clubs"][0]["pending"]')
[ "$pending" -le 20000 ] && ok || fail "pending changes are bounded: $pending"
expect_eq "a and h agree" "$(digest_of a)" "$(digest_of h)"

# One clear line per offence in the server's log.
log="$WORK/a.serve.log"
grep -q "handshake failed" "$log" && ok || fail "garbage before the handshake is logged"
grep -q "handshake.*time\|timed out" "$log" && ok || fail "the slow peer is logged: $(grep -i slow "$log" | head -2)"
grep -q "too many connections" "$log" && ok || fail "the flood is logged"
grep -q "invalid changes" "$log" && ok || fail "forged signatures are logged"
grep -qi "protocol\|too big\|exceeds\|limit" "$log" && ok || fail "garbage and oversize messages are logged"

# Peak memory of the serving node over all of it, beside the LMDB map.
kill -TERM "$PID_a"
wait "$PID_a" 2>/dev/null || true
SERVE_PIDS=()
peak=$(sed -n 's/^peak_anon_kib //p' "$WORK/serve.memory")
echo "serve peak anonymous memory during the attacks: ${peak} KiB ($(grep -c . "$log") log lines)"
# Under AddressSanitizer the shadow memory and the quarantine of freed
# blocks count as anonymous memory, so the 64 MiB bound holds for the real
# build only; a sanitized build is held to its quarantine's size plus that.
# (grep reads all of ldd's output: with pipefail, grep -q could end the
# pipe early and the SIGPIPE would read as "no sanitizer".)
bound=$((64 * 1024))
if ldd "$CLUBSYNC" 2>/dev/null | grep libasan >/dev/null; then bound=$((bound + 512 * 1024)); fi
[ -n "$peak" ] && [ "$peak" -lt "$bound" ] && ok || fail "peak memory ${peak} KiB is not under ${bound} KiB"
finish
