# Shared helpers for integration tests: real clubsync processes in temp homes.
set -euo pipefail
CLUBSYNC=${CLUBSYNC:?set CLUBSYNC to the clubsync binary}
WORK=$(mktemp -d /tmp/cs-it-XXXXXX)
trap 'rm -rf "$WORK"' EXIT
PASSED=0
FAILED=0

cs() { "$CLUBSYNC" "$@"; }

ok() { PASSED=$((PASSED + 1)); }
fail() {
  FAILED=$((FAILED + 1))
  echo "FAIL: $*" >&2
}
expect_eq() { # expect_eq WHAT GOT WANT
  if [ "$2" == "$3" ]; then ok; else fail "$1: got '$2', want '$3'"; fi
}
expect_code() { # expect_code WHAT WANT CMD...
  local what=$1 want=$2 got=0
  shift 2
  "$@" >"$WORK/last.out" 2>"$WORK/last.err" || got=$?
  if [ "$got" == "$want" ]; then ok; else
    fail "$what: exit $got, want $want; stderr: $(head -c 400 "$WORK/last.err")"
  fi
}
finish() {
  echo "$PASSED passed, $FAILED failed"
  [ "$FAILED" == 0 ]
}

# new_node NAME MUSEUM: creates a home, prints nothing; key in $WORK/NAME.key
new_node() {
  cs --home "$WORK/$1" init --museum "$2" | tail -1 >"$WORK/$1.key"
}
key_of() { cat "$WORK/$1.key"; }
digest_of() { cs --home "$WORK/$1" digest; }
