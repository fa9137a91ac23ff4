#!/usr/bin/env bash
# Input limits at the command line: each is refused before anything is signed
# (exit 2) with the limit's value in the message, and a value at the limit
# passes: titles of 400 bytes, tags of 64 bytes and 32 tags a request, meeting
# actions of 254 bytes (a set element's text). A meeting action longer than
# 62 bytes used to fail with "data is truncated" (exit 5).
source "$(dirname "$0")/lib.sh"
str() { python3 -c "print('$1' * $2)"; }

new_node a "Musée a"
cs --home "$WORK/a" club create "Club" --software Flora >/dev/null
for exe in $(both_builds); do
  expect_code "a title of 400 bytes" 0 "$exe" --home "$WORK/a" request add --title "$(str é 200)"
  expect_code "a title of 401 bytes" 2 "$exe" --home "$WORK/a" request add --title "x$(str é 200)"
  expect_eq "its message" "$(cat "$WORK/last.err")" "clubsync: error: a title is 1 to 400 bytes"
  expect_code "a module of 401 bytes" 2 "$exe" --home "$WORK/a" request add --title T --module "$(str m 401)"
  expect_eq "its message" "$(cat "$WORK/last.err")" "clubsync: error: a module name is 1 to 400 bytes"
  expect_code "a campaign name of 401 bytes" 2 "$exe" --home "$WORK/a" campaign open "$(str c 401)" --points 10
  expect_eq "its message" "$(cat "$WORK/last.err")" "clubsync: error: a campaign name is limited to 400 bytes"
  tags=()
  for i in $(seq 1 32); do tags+=(--tag "tag$i"); done
  expect_code "32 tags" 0 "$exe" --home "$WORK/a" request add --title "Tags" "${tags[@]}"
  expect_code "33 tags" 2 "$exe" --home "$WORK/a" request add --title "Tags" "${tags[@]}" --tag one-more
  expect_eq "its message" "$(cat "$WORK/last.err")" "clubsync: error: at most 32 tags per request"
  expect_code "a tag of 64 bytes" 0 "$exe" --home "$WORK/a" request add --title T --tag "$(str t 64)"
  expect_code "a tag of 65 bytes" 2 "$exe" --home "$WORK/a" request add --title T --tag "$(str t 65)"
  expect_eq "its message" "$(cat "$WORK/last.err")" "clubsync: error: a tag is 1 to 64 bytes"
  M=$("$exe" --home "$WORK/a" meeting add --title "Réunion" --date 2027-03-14 | tail -1)
  expect_code "a meeting action of 254 bytes" 0 "$exe" --home "$WORK/a" meeting action "$M" "$(str a 254)"
  expect_code "a meeting action of 255 bytes" 2 "$exe" --home "$WORK/a" meeting action "$M" "$(str a 255)"
  expect_eq "its message" "$(cat "$WORK/last.err")" \
    "clubsync: error: meeting action needs ID and the action's TEXT (at most 254 bytes)"
  expect_code "a date of 65 bytes" 2 "$exe" --home "$WORK/a" meeting add --title T --date "$(str d 65)"
  expect_eq "its message" "$(cat "$WORK/last.err")" "clubsync: error: a title or place is 1 to 400 bytes, a date at most 64"
done
expect_code "audit" 0 cs --home "$WORK/a" audit
finish
