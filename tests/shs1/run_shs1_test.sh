#!/usr/bin/env bash
# Runs the shs1-test conformance suite (npm package shs1-test 1.1.1) against
# the shs1_server and shs1_client programs, once per seed.
#
# Usage: run_shs1_test.sh [BIN_DIR]
#   BIN_DIR             where shs1_server and shs1_client are
#                       (default: <repo>/build/tests)
# Environment:
#   SHS1_TEST_DIR       npm prefix holding node_modules/shs1-test
#                       (default: <repo>/build/npm)
#   SHS1_SEEDS          space-separated seeds (default: 1 to 10); the seed
#                       fixes the suite's keys and faults, so a failure can be
#                       replayed with `shs1testserver PROGRAM SEED`
#   SHS1_TEST_REQUIRED  if 1, a missing node or shs1-test fails (exit 1)
#                       instead of skipping (exit 77)
#
# Each run of either suite performs 45 handshakes: 20 well-behaved, 25 with
# a forged or corrupted message that the program must reject.
set -u

script_dir=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$script_dir/../.." && pwd)
bin_dir=${1:-$repo/build/tests}
test_dir=${SHS1_TEST_DIR:-$repo/build/npm}
npm_bin=$test_dir/node_modules/.bin
seeds=${SHS1_SEEDS:-1 2 3 4 5 6 7 8 9 10}

missing() {
  echo "run_shs1_test: $1" >&2
  echo "run_shs1_test: install it with: npm install --prefix '$test_dir' shs1-test@1.1.1" >&2
  if [ "${SHS1_TEST_REQUIRED:-0}" = 1 ]; then exit 1; fi
  echo "run_shs1_test: skipped" >&2
  exit 77
}

command -v node >/dev/null 2>&1 || missing "node is not on PATH"
for tool in shs1testserver shs1testclient; do
  [ -x "$npm_bin/$tool" ] || missing "$npm_bin/$tool not found"
done
for prog in shs1_server shs1_client; do
  if [ ! -x "$bin_dir/$prog" ]; then
    echo "run_shs1_test: $bin_dir/$prog not found; build it first" >&2
    exit 1
  fi
done

version=$(node -p "require('$test_dir/node_modules/shs1-test/package.json').version" 2>/dev/null || echo unknown)
if [ "$version" != "1.1.1" ]; then
  echo "run_shs1_test: warning: shs1-test is version $version, expected 1.1.1" >&2
fi

# A hung program would stall the suite forever; bound each run.
run_bounded() {
  if command -v timeout >/dev/null 2>&1; then
    timeout 120 "$@"
  else
    "$@"
  fi
}

log=$(mktemp)
trap 'rm -f "$log"' EXIT

passed=0
failed=0
failures=()
for seed in $seeds; do
  for role in server client; do
    run_bounded "$npm_bin/shs1test$role" "$bin_dir/shs1_$role" "$seed" >"$log" 2>&1
    rc=$?
    if [ "$rc" -eq 0 ] && grep -q "Passed the $role test suite" "$log"; then
      passed=$((passed + 1))
      echo "ok    shs1test$role seed $seed"
    else
      failed=$((failed + 1))
      failures+=("shs1test$role seed $seed (exit $rc)")
      echo "FAIL  shs1test$role seed $seed (exit $rc); its output:"
      # The program's own stderr lines are expected noise on forged input;
      # show the suite's verdicts first, then the full log.
      grep -E "Failed|failures|Passed" "$log" | sed 's/^/    /'
      sed 's/^/    | /' "$log"
    fi
  done
done

if [ "$failed" -ne 0 ]; then
  echo "failed runs:"
  printf '  %s\n' "${failures[@]}"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
