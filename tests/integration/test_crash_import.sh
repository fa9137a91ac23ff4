#!/usr/bin/env bash
# Crash safety of import: kill -9 a `clubsync import` of a large bundle at random points.
# After each kill the store opens, `audit` passes, what was committed is a
# whole number of import batches (512 changes: nothing half-applied), and
# importing the bundle again gives exactly the digest of a clean import,
# which is also the digest the simulator computed for the same history.
#
#   CS_CRASH_ITERATIONS (default 20), CS_CRASH_SEED (default 6) to replay.
source "$(dirname "$0")/lib.sh"
SIM=${CLUBSYNC_SIM:-$(dirname "$CLUBSYNC")/clubsync-sim}
ITERATIONS=${CS_CRASH_ITERATIONS:-20}
RANDOM=${CS_CRASH_SEED:-6}
BATCH=512

# A large, realistic history: three museums filing, editing, commenting and
# managing members for 1500 ticks, converged by the simulator.
"$SIM" --seed 6 --calm --honest --nodes 3 --steps 1500 --activity 900000 --bundle "$WORK/big.bundle" \
  >"$WORK/sim.out"
sim_digest=$(sed -n 's/^digest //p' "$WORK/sim.out")
total=$(sed -n 's/.* acked=\([0-9]*\) .*/\1/p' "$WORK/sim.out")
echo "bundle: $total changes, $(stat -c %s "$WORK/big.bundle") bytes"
[ "$total" -gt $((4 * BATCH)) ] || fail "the bundle is too small to cut an import in many places ($total)"

new_node clean "Musée témoin"
start=$(date +%s%N)
cs --home "$WORK/clean" import "$WORK/big.bundle" >/dev/null
import_ms=$((($(date +%s%N) - start) / 1000000))
want=$(digest_of clean)
expect_eq "a clean import gives the simulator's digest" "$want" "$sim_digest"
echo "clean import: ${import_ms} ms"

verified_of() { # verified_of HOME: changes audit verified, or "none" without a club
  local out code=0
  out=$(cs --home "$1" audit --json 2>"$WORK/audit.err") || code=$?
  if [ "$code" == 4 ] && grep -q -i "club" "$WORK/audit.err"; then echo none; return 0; fi
  [ "$code" == 0 ] || { echo "audit exit $code: $(head -c 300 "$WORK/audit.err")"; return 0; }
  python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["verified"] if not d["failed"] else "failed")' <<<"$out"
}

cuts=""
for ((i = 1; i <= ITERATIONS; i++)); do
  rm -rf "$WORK/t"
  new_node t "Musée coupé"
  # Anywhere from the start to a little past the end of a clean import.
  delay_ms=$((RANDOM * (import_ms + import_ms / 4 + 1) / 32768))
  "$CLUBSYNC" --home "$WORK/t" import "$WORK/big.bundle" >/dev/null 2>&1 &
  pid=$!
  sleep "$(printf '%d.%03d' $((delay_ms / 1000)) $((delay_ms % 1000)))"
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true

  got=$(verified_of "$WORK/t")
  cuts="$cuts $got"
  case "$got" in
  none) ok ;; # killed before the first batch committed: nothing to check
  *[!0-9]*) fail "iteration $i (killed after ${delay_ms} ms): $got" ;;
  *)
    if [ $((got % BATCH)) == 0 ] || [ "$got" == "$total" ]; then ok; else
      fail "iteration $i: $got changes committed, not a whole number of $BATCH-change batches"
    fi
    ;;
  esac
  expect_code "iteration $i: the store opens" 0 cs --home "$WORK/t" status
  expect_code "iteration $i: import again" 0 cs --home "$WORK/t" import "$WORK/big.bundle"
  expect_eq "iteration $i: digest after import again" "$(digest_of t)" "$want"
  expect_eq "iteration $i: audit after import again" "$(verified_of "$WORK/t")" "$total"
done
echo "changes committed when killed:$cuts"
finish
