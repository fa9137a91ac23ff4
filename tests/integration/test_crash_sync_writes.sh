#!/usr/bin/env bash
# Crash safety of sync and of local writes, with real processes (besides test_crash_import.sh):
# 1. kill -9 a node during its initial sync from a serving node, at random
#    points: the store opens, `audit` passes, and syncing again ends with
#    the server's digest;
# 2. kill -9 a loop of local writes at random points: the store opens,
#    `audit` passes, every request whose id was printed (acknowledged) is
#    there, and after the node writes again and syncs, its peer holds no
#    fork from it: it never signed two changes with the same seq.
# Also the benchmark's smoke run: `bench --workload club-2k` completes and
# its nodes converge (the full benchmark stays out of make test: it takes about a minute).
#
#   CS_CRASH_ITERATIONS (default 20), CS_CRASH_SEED (default 11) to replay.
source "$(dirname "$0")/lib.sh"
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
ITERATIONS=${CS_CRASH_ITERATIONS:-20}
RANDOM=${CS_CRASH_SEED:-11}
sleep_ms() { sleep "$(printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)))"; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }

expect_code "bench smoke run (club-2k)" 0 cs bench --workload club-2k --keep "$WORK/bench" --json
expect_eq "the benchmark's nodes converged" "$(cat "$WORK/bench/gen.digest")" "$(cat "$WORK/bench/ingest.digest")"
expect_eq "bench reports the initial sync complete" "$(json 'd["initial_sync"]["synced"]' <"$WORK/last.out")" True

# --- 1. kill -9 during an initial sync ------------------------------------
mv "$WORK/bench/gen" "$WORK/full"
serve_node full
want=$(digest_of full)
fresh_member() { # an empty store with the syncing member's key and the club's network key
  rm -rf "$WORK/t"
  cs --home "$WORK/t" init --museum "Musée 1" >/dev/null
  cp -r "$WORK/bench/synced/identity" "$WORK/bench/synced/keys" "$WORK/t/"
}
fresh_member
start=$(now_ms)
cs --home "$WORK/t" sync "127.0.0.1:$(port_of full)" >/dev/null
sync_ms=$(($(now_ms) - start))
expect_eq "a clean initial sync" "$(digest_of t)" "$want"
echo "clean initial sync: ${sync_ms} ms"
cuts=""
for ((i = 1; i <= ITERATIONS; i++)); do
  fresh_member
  delay=$((RANDOM * (sync_ms + 1) / 32768))
  "$CLUBSYNC" --home "$WORK/t" sync "127.0.0.1:$(port_of full)" >/dev/null 2>&1 &
  pid=$!
  sleep_ms "$delay"
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  got=$(cs --home "$WORK/t" audit --json 2>/dev/null | json 'd["verified"] if not d["failed"] else "failed"' 2>/dev/null || echo none)
  cuts="$cuts $got"
  [ "$got" != failed ] && ok || fail "sync iteration $i (killed after ${delay} ms): audit failed"
  expect_code "sync iteration $i: sync again" 0 cs --home "$WORK/t" sync "127.0.0.1:$(port_of full)"
  expect_eq "sync iteration $i: digest" "$(digest_of t)" "$want"
done
echo "changes held when killed during sync:$cuts"

# --- 2. kill -9 a loop of local writes --------------------------------------
make_club a w
cs --home "$WORK/a" export "$WORK/club.bundle" >/dev/null
cs --home "$WORK/w" import "$WORK/club.bundle" >/dev/null
start=$(now_ms)
for k in 1 2 3 4 5; do cs --home "$WORK/w" request add --title "Mesure $k" 2>/dev/null | tail -1 >>"$WORK/acked"; done
write_ms=$((($(now_ms) - start) / 5))
for ((i = 1; i <= ITERATIONS; i++)); do
  (
    for k in $(seq 1 30); do
      cs --home "$WORK/w" request add --title "Écriture $i.$k" 2>/dev/null | tail -1 >>"$WORK/acked"
    done
  ) &
  loop=$!
  sleep_ms $((RANDOM * write_ms * 10 / 32768))
  # Stop the loop first so that it cannot start one more write between the
  # two kills (an orphaned write would finish after the checks below).
  kill -STOP "$loop" 2>/dev/null || true
  pkill -9 -P "$loop" 2>/dev/null || true
  kill -9 "$loop" 2>/dev/null || true
  wait "$loop" 2>/dev/null || true
  expect_code "writes iteration $i: the store opens" 0 cs --home "$WORK/w" status
  expect_code "writes iteration $i: audit" 0 cs --home "$WORK/w" audit
  cs --home "$WORK/w" request list --json | json '"\n".join(r["id"] for r in d)' >"$WORK/held"
  missing=$( (grep -E "^[0-9a-f]{64}$" "$WORK/acked" || true) | (grep -v -x -F -f "$WORK/held" || true) | wc -l)
  expect_eq "writes iteration $i: acknowledged requests missing" "$missing" 0
  # It writes on after the crash, then its changes meet a peer.
  cs --home "$WORK/w" request add --title "Après la coupure $i" >/dev/null 2>&1
  cs --home "$WORK/w" export "$WORK/w.bundle" >/dev/null
  cs --home "$WORK/a" import "$WORK/w.bundle" >/dev/null
  expect_eq "writes iteration $i: forks seen by the peer" \
    "$(cs --home "$WORK/a" status --json | json 'd["clubs"][0]["forks_count"]')" 0
done
cs --home "$WORK/a" request list --json | json '"\n".join(r["id"] for r in d)' >"$WORK/peer"
expect_eq "acknowledged requests missing at the peer" \
  "$( (grep -E "^[0-9a-f]{64}$" "$WORK/acked" || true) | (grep -v -x -F -f "$WORK/peer" || true) | wc -l)" 0
echo "acknowledged writes: $(grep -cE '^[0-9a-f]{64}$' "$WORK/acked"), held by the peer: $(wc -l <"$WORK/peer")"
finish
