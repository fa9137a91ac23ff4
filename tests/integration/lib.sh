# Shared helpers for integration tests: real clubsync processes in temp homes.
set -euo pipefail
CLUBSYNC=${CLUBSYNC:?set CLUBSYNC to the clubsync binary}
WORK=$(mktemp -d /tmp/cs-it-XXXXXX)
trap 'rm -rf "$WORK"' EXIT
PASSED=0
FAILED=0

cs() { "$CLUBSYNC" "$@"; }

# The builds a test that must hold in both runs against: the one under test
# (sanitized under `make test`) and, when `make test` names it, the
# non-sanitized program that `make build` makes (CLUBSYNC_RELEASE).
both_builds() {
  echo "$CLUBSYNC"
  if [ -n "${CLUBSYNC_RELEASE:-}" ] && [ -x "$CLUBSYNC_RELEASE" ] && [ "$CLUBSYNC_RELEASE" != "$CLUBSYNC" ]; then
    echo "$CLUBSYNC_RELEASE"
  fi
}

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
  # A serving node that died on its own (a crash, a signal) fails the test:
  # stop_node takes deliberately stopped ones off the list.
  local pid
  for pid in "${SERVE_PIDS[@]}"; do
    kill -0 "$pid" 2>/dev/null || fail "serve (pid $pid) exited on its own"
  done
  echo "$PASSED passed, $FAILED failed"
  [ "$FAILED" == 0 ]
}

# new_node NAME MUSEUM: creates a home, prints nothing; key in $WORK/NAME.key
new_node() {
  cs --home "$WORK/$1" init --museum "$2" | tail -1 >"$WORK/$1.key"
}
key_of() { cat "$WORK/$1.key"; }
digest_of() { cs --home "$WORK/$1" digest; }

# serve_node NAME [ARGS...]: starts `serve` on an ephemeral port in the
# background; its port is in $WORK/NAME/serve.port once it listens.
# serve_node_on NAME IP:PORT [ARGS...] listens there instead.
SERVE_PIDS=()
serve_node() {
  local name=$1
  shift
  serve_node_on "$name" 127.0.0.1:0 "$@"
}
serve_node_on() {
  local name=$1 listen=$2
  shift 2
  rm -f "$WORK/$name/serve.port"
  "$CLUBSYNC" --home "$WORK/$name" serve --listen "$listen" --log-level info "$@" \
    >>"$WORK/$name.serve.log" 2>&1 &
  SERVE_PIDS+=($!)
  eval "PID_$name=$!"
  for _ in $(seq 1 100); do
    [ -s "$WORK/$name/serve.port" ] && return 0
    sleep 0.1
  done
  echo "serve $name did not start: $(tail -3 "$WORK/$name.serve.log")" >&2
  return 1
}
port_of() { cat "$WORK/$1/serve.port"; }
stop_node() {
  local pid_var="PID_$1"
  kill "${!pid_var}" 2>/dev/null || true
  wait "${!pid_var}" 2>/dev/null || true
  local kept=() pid
  for pid in "${SERVE_PIDS[@]}"; do [ "$pid" != "${!pid_var}" ] && kept+=("$pid"); done
  SERVE_PIDS=("${kept[@]}")
}
stop_all() {
  for pid in "${SERVE_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap 'stop_all; rm -rf "$WORK"' EXIT

# wait_equal_digests SECONDS NODE...: polls until every node has the same
# digest; returns non-zero on timeout.
wait_equal_digests() {
  local deadline=$((SECONDS + $1))
  shift
  while [ $SECONDS -lt $deadline ]; do
    local first="" same=1
    for n in "$@"; do
      local d
      d=$(digest_of "$n" 2>/dev/null || echo none)
      [ -z "$first" ] && first=$d
      [ "$d" == "$first" ] || same=0
    done
    [ $same == 1 ] && [ "$first" != none ] && return 0
    sleep 0.2
  done
  return 1
}

# A club of museums whose founder is the first node; the others joined by
# invite and were added as members. Usage: make_club FOUNDER OTHER...
make_club() {
  local founder=$1
  shift
  new_node "$founder" "Musée $founder"
  cs --home "$WORK/$founder" club create "Club régional" --software Flora >/dev/null
  local code
  code=$(cs --home "$WORK/$founder" club invite | tail -1)
  for n in "$@"; do
    new_node "$n" "Musée $n"
    cs --home "$WORK/$founder" member add "$(key_of "$n")" --museum "Musée $n" --role member >/dev/null
    cs --home "$WORK/$n" club join "$code" >/dev/null
  done
}
