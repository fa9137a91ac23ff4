#!/usr/bin/env bash
# A seed fully determines a run: the same seed twice prints the same trace
# (a hash of every event), and a different seed prints another.
#   tests/sim/replay_same_trace.sh path/to/clubsync-sim
set -euo pipefail
sim="$1"
trace_of() { "$sim" "$@" | sed -n 's/^trace //p'; }
for args in "--seed 7" "--seed 42 --byzantine" "--seed 9 --nodes 8 --steps 200"; do
  # shellcheck disable=SC2086
  a="$(trace_of $args)"
  # shellcheck disable=SC2086
  b="$(trace_of $args)"
  if [ -z "$a" ] || [ "$a" != "$b" ]; then
    echo "FAIL: $args gave traces '$a' and '$b'" >&2
    exit 1
  fi
  echo "$args: trace $a (twice)"
done
c="$(trace_of --seed 8)"
if [ "$c" = "$(trace_of --seed 7)" ]; then
  echo "FAIL: seeds 7 and 8 gave the same trace" >&2
  exit 1
fi
echo "ok"
