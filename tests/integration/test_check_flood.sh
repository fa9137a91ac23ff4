#!/usr/bin/env bash
# Backpressure: a member that sends millions of CHECK requests without reading
# the answers stops being read (its requests are over CS_NODE_REQUESTS_PER_S,
# and behind that its answers would fill CS_NODE_QUEUE_MAX), so serve's
# anonymous memory stays under 64 MiB, and honest members keep syncing
# meanwhile; a member that reads its answers gets them at the rate limit. Memory is read from /proc on the
# non-sanitized build when `make test` names it (CLUBSYNC_RELEASE), since
# AddressSanitizer's shadow and quarantine count as anonymous memory.
#   CS_CHECKS (default 3000000): how many CHECKs the member sends.
source "$(dirname "$0")/lib.sh"
ADV=${CS_ADVERSARY:-$(dirname "$CLUBSYNC")/../tests/cs_adversary}
CHECKS=${CS_CHECKS:-3000000}
SERVE=$CLUBSYNC
if [ -n "${CLUBSYNC_RELEASE:-}" ] && [ -x "$CLUBSYNC_RELEASE" ]; then SERVE=$CLUBSYNC_RELEASE; fi
bound_kib=$((64 * 1024))
if ldd "$SERVE" 2>/dev/null | grep libasan >/dev/null; then bound_kib=$((bound_kib + 512 * 1024)); fi

make_club a m h
cs --home "$WORK/a" export "$WORK/club.bundle" >/dev/null
for x in m h; do cs --home "$WORK/$x" import "$WORK/club.bundle" >/dev/null; done
CLUBSYNC=$SERVE serve_node a
PORT=$(port_of a)
rss() { sed -n 's/^RssAnon:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$PID_a/status"; }
before=$(rss)

"$ADV" checks 127.0.0.1 "$PORT" "$WORK/m" "$CHECKS" >"$WORK/checks.out" 2>&1 &
ADV_PID=$!
peak=0
passed=0
for i in $(seq 1 5); do
  for _ in $(seq 1 10); do
    r=$(rss)
    [ "$r" -gt "$peak" ] && peak=$r
    sleep 0.1
  done
  cs --home "$WORK/h" request add --title "Honnête $i" >/dev/null 2>&1
  if timeout 10 "$CLUBSYNC" --home "$WORK/h" sync "127.0.0.1:$PORT" >/dev/null 2>"$WORK/sync.err"; then
    passed=$((passed + 1))
  else echo "sync $i: $(tail -1 "$WORK/sync.err")" >&2; fi
done
while kill -0 "$ADV_PID" 2>/dev/null; do
  r=$(rss)
  [ "$r" -gt "$peak" ] && peak=$r
  sleep 0.2
done
wait "$ADV_PID" || true
cat "$WORK/checks.out"
echo "serve RssAnon: ${before} KiB before, peak ${peak} KiB during the CHECK flood (bound ${bound_kib} KiB, $SERVE)"
[ "$peak" -lt "$bound_kib" ] && ok || fail "serve's anonymous memory reached ${peak} KiB under a CHECK flood"
expect_eq "honest syncs during the flood" "$passed" 5
grep -q "stopped reading" "$WORK/checks.out" && ok || fail "the server stopped reading the flood: $(cat "$WORK/checks.out")"

# A member that reads its answers is rate-limited instead: 2,000 CHECKs sent
# at once get about CS_NODE_REQUESTS_BURST (40) answers, then
# CS_NODE_REQUESTS_PER_S (20) a second, give or take one read's worth
# (about 200): at most 340 answers of 75 bytes in 5 s, not 2,000.
"$ADV" checks-read 127.0.0.1 "$PORT" "$WORK/m" 2000 >"$WORK/checks-read.out" 2>&1 || true
cat "$WORK/checks-read.out"
bytes=$(sed -n 's/.*, \([0-9]*\) bytes came back.*/\1/p' "$WORK/checks-read.out")
answers=$(( ${bytes:-0} / 75 ))
echo "CHECK answers in 5 s: about $answers"
[ "$answers" -ge 40 ] && [ "$answers" -le 340 ] && ok || fail "CHECKs are rate-limited: about $answers answers in 5 s"
expect_eq "a and h agree" "$(digest_of a)" "$(digest_of h)"
finish
