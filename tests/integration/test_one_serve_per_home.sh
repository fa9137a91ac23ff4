#!/usr/bin/env bash
# One `serve` per home: the first takes a lock on the home; a second serve
# on the same home says which process holds it and exits 1, touching
# nothing of the first (its port and status files stay, it keeps serving).
# The kernel releases the lock when the holder dies, even by kill -9, and
# `status` then says serve is not running.
source "$(dirname "$0")/lib.sh"
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

make_club a b
serve_node a
port=$(port_of a)
first=$PID_a
status_before=$(cat "$WORK/a/serve.status")
for bin in $(both_builds); do
  # `timeout` only guards against a second serve that would run for good.
  expect_code "a second serve on the home ($(basename "$(dirname "$(dirname "$bin")")"))" 1 \
    timeout 60 "$bin" --home "$WORK/a" serve --listen 127.0.0.1:0
  grep -q "serve is already running on $WORK/a (pid $first)" "$WORK/last.err" && ok ||
    fail "the second serve names the first: $(cat "$WORK/last.err")"
done
expect_eq "the port file is the first serve's" "$(port_of a)" "$port"
expect_eq "the status file is the first serve's" "$(cat "$WORK/a/serve.status")" "$status_before"
expect_eq "status: serve is running, with its pid" \
  "$(cs --home "$WORK/a" status --json | json '(d["serve"]["running"], d["serve"]["pid"], d["serve"]["listen"])')" \
  "(True, $first, '127.0.0.1:$port')"
expect_code "the first serve still serves" 0 cs --home "$WORK/b" sync "127.0.0.1:$port"

# kill -9: no chance to clean up, yet the lock goes with the process.
kill -9 "$first"
wait "$first" 2>/dev/null || true
stop_node a
expect_eq "status: serve is not running (its status file is left behind)" \
  "$(cs --home "$WORK/a" status --json | json '(d["serve"]["running"], len(d["peers"]))')" "(False, 0)"
serve_node a && ok || fail "a new serve starts once the holder is dead"
[ "$PID_a" != "$first" ] && grep -q "^serve $PID_a$" "$WORK/a/serve.status" && ok || fail "the new serve holds the home"
expect_code "the new serve serves" 0 cs --home "$WORK/b" sync "127.0.0.1:$(port_of a)"
finish
