#!/usr/bin/env bash
# Object types are named in people's words wherever the CLI names them: a
# motion id that matches nothing says "no motion", an id of another type says
# "is not a motion", and `log` tells what each change created, motions and
# votes included. Never "(null)", never "an object" for a known type.
source "$(dirname "$0")/lib.sh"

make_club a b
M=$(cs --home "$WORK/a" motion propose "Adopter la charte 2027" --quorum majority | tail -1)
R=$(cs --home "$WORK/a" request add --title "Export Joconde" --module export | tail -1)
cs --home "$WORK/a" motion vote "$M" yes >/dev/null

for exe in $(both_builds); do
  expect_code "motion show of an unknown id" 4 "$exe" --home "$WORK/a" motion show abcdef123456
  expect_eq "the unknown motion's message" "$(cat "$WORK/last.err")" \
    "clubsync: error: no motion with id abcdef123456 in this club"
  expect_code "motion show of a request" 4 "$exe" --home "$WORK/a" motion show "$R"
  expect_eq "a request is not a motion" "$(cat "$WORK/last.err")" "clubsync: error: $R is not a motion"
  expect_code "request show of a motion" 4 "$exe" --home "$WORK/a" request show "$M"
  expect_eq "a motion is not a request" "$(cat "$WORK/last.err")" "clubsync: error: $M is not a request"
  # No message of any object command says (null).
  for cmd in "motion show" "motion vote" "request show" "campaign results" "meeting show" "doc show"; do
    # shellcheck disable=SC2086
    "$exe" --home "$WORK/a" $cmd abcdef123456 yes >/dev/null 2>"$WORK/null.err" || true
    if grep -q "(null)" "$WORK/null.err"; then fail "$cmd: $(cat "$WORK/null.err")"; else ok; fi
  done
  LOG=$("$exe" --home "$WORK/a" log)
  grep -q "proposed a motion" <<<"$LOG" && ok || fail "log names the motion: $LOG"
  grep -q "voted on a motion" <<<"$LOG" && ok || fail "log names the vote: $LOG"
  grep -q "filed a request" <<<"$LOG" && ok || fail "log names the request: $LOG"
  if grep -q "created an object" <<<"$LOG"; then fail "log says 'created an object': $LOG"; else ok; fi
done
finish
