#!/usr/bin/env bash
# Session slots under hostile load: a member holding many idle handshaken
# sessions from another address (127.0.0.2), and a stranger churning bare TCP
# connections from the honest peer's own address (127.0.0.1), do not stop an
# honest member's syncs: at least 18 of 20 `clubsync sync` runs, started 1 s
# apart, exit 0 within 10 s. A second member's sessions that never sync are
# closed by the idle timeout.
#   CS_CHURN_RATE (default 1000): bare connections per second.
source "$(dirname "$0")/lib.sh"
ADV=${CS_ADVERSARY:-$(dirname "$CLUBSYNC")/../tests/cs_adversary}
RATE=${CS_CHURN_RATE:-1000}

make_club a m h n
cs --home "$WORK/a" export "$WORK/club.bundle" >/dev/null
for x in m h n; do cs --home "$WORK/$x" import "$WORK/club.bundle" >/dev/null; done
serve_node a
PORT=$(port_of a)

# Unloaded, for the record.
start=$(date +%s.%N)
expect_code "an unloaded sync" 0 cs --home "$WORK/h" sync "127.0.0.1:$PORT"
unloaded=$(echo "$(date +%s.%N) - $start" | bc)

ATTACK_S=32
CS_ADVERSARY_FROM=127.0.0.2 "$ADV" idle 127.0.0.1 "$PORT" "$WORK/m" "128:$ATTACK_S" >"$WORK/idle.out" 2>&1 &
IDLE_PID=$!
CS_ADVERSARY_FROM=127.0.0.1 "$ADV" churn 127.0.0.1 "$PORT" "$ATTACK_S" "$RATE" >"$WORK/churn.out" 2>&1 &
CHURN_PID=$!
# Two sessions of another member that never sync: the idle timeout's work.
CS_ADVERSARY_FROM=127.0.0.2 "$ADV" idle 127.0.0.1 "$PORT" "$WORK/n" "2:$ATTACK_S" >"$WORK/idle2.out" 2>&1 &
IDLE2_PID=$!
sleep 3

# h writes once before: the runs overlap when the machine is slow, and a write
# by one run between another's vector and its final CHECK would make that one
# report a difference that is not the attack's doing.
cs --home "$WORK/h" request add --title "Honnête" >/dev/null 2>&1
for i in $(seq 1 20); do
  (
    t0=$(date +%s.%N)
    code=0
    timeout 10 "$CLUBSYNC" --home "$WORK/h" sync "127.0.0.1:$PORT" >"$WORK/sync.$i.out" 2>&1 || code=$?
    echo "$code $(echo "$(date +%s.%N) - $t0" | bc)" >"$WORK/sync.$i.result"
  ) &
  sleep 1
done
wait_syncs() {
  for i in $(seq 1 20); do
    for _ in $(seq 1 150); do [ -s "$WORK/sync.$i.result" ] && break; sleep 0.1; done
  done
}
wait_syncs
passed=0
slowest=0
for i in $(seq 1 20); do
  read -r code secs <"$WORK/sync.$i.result" || code=none
  if [ "$code" == 0 ]; then passed=$((passed + 1)); else echo "sync $i: exit $code: $(tail -2 "$WORK/sync.$i.out")" >&2; fi
  slowest=$(echo "if ($secs > $slowest) $secs else $slowest" | bc)
done
echo "honest syncs under attack: $passed of 20 exited 0; slowest ${slowest} s; unloaded ${unloaded} s"
[ "$passed" -ge 18 ] && ok || fail "only $passed of 20 honest syncs succeeded under attack"

wait "$IDLE_PID" "$CHURN_PID" "$IDLE2_PID" || true
cat "$WORK/idle.out" "$WORK/churn.out" "$WORK/idle2.out"
log="$WORK/a.serve.log"
grep -q "too many connections waiting for a handshake" "$log" && ok || fail "handshake evictions are logged"
grep -q "holds 4 sessions for club .*, the most one key may" "$log" && ok || fail "the per-key session cap is logged"
grep -q "idle, no sync progress" "$log" && ok || fail "idle sessions are closed: $(cat "$WORK/idle2.out")"
# n's two sessions were opened once, at the start, and the server closed both.
closed=$(sed -n 's/.* \([0-9]*\) closed by the server.*/\1/p' "$WORK/idle2.out")
[ "${closed:-0}" -ge 2 ] && ok || fail "the idle timeout closed n's sessions: $(cat "$WORK/idle2.out")"
expect_eq "a and h agree" "$(digest_of a)" "$(digest_of h)"
finish
