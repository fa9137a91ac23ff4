#!/usr/bin/env bash
# Input limits at the command line: each is refused before anything is signed
# (exit 2) with the limit's value in the message, and a value at the limit
# passes: titles of 400 bytes, tags of 64 bytes and 32 tags a request, meeting
# actions of 254 bytes (a set element's text), bodies and comments of 16 KiB,
# given as an argument or with --body-file (a file, or - for standard input).
# A meeting action longer than 62 bytes used to fail with "data is truncated"
# (exit 5).
source "$(dirname "$0")/lib.sh"
str() { python3 -c "print('$1' * $2)"; }

new_node a "Musée a"
cs --home "$WORK/a" club create "Club" --software Flora >/dev/null
for exe in $(both_builds); do
  expect_code "a title of 400 bytes" 0 "$exe" --home "$WORK/a" request add --title "$(str é 200)"
  expect_code "a title of 401 bytes" 2 "$exe" --home "$WORK/a" request add --title "x$(str é 200)"
  expect_eq "its message" "$(cat "$WORK/last.err")" "clubsync: error: the title is 401 bytes; it holds at most 400 bytes: shorten it"
  expect_code "a module of 401 bytes" 2 "$exe" --home "$WORK/a" request add --title T --module "$(str m 401)"
  expect_eq "its message" "$(cat "$WORK/last.err")" "clubsync: error: the module (--module) is 401 bytes; it holds at most 400 bytes: shorten it"
  expect_code "a campaign name of 401 bytes" 2 "$exe" --home "$WORK/a" campaign open "$(str c 401)" --points 10
  expect_eq "its message" "$(cat "$WORK/last.err")" "clubsync: error: the campaign's name is 401 bytes; it holds at most 400 bytes: shorten it"
  tags=()
  for i in $(seq 1 32); do tags+=(--tag "tag$i"); done
  expect_code "32 tags" 0 "$exe" --home "$WORK/a" request add --title "Tags" "${tags[@]}"
  expect_code "33 tags" 2 "$exe" --home "$WORK/a" request add --title "Tags" "${tags[@]}" --tag one-more
  expect_eq "its message" "$(cat "$WORK/last.err")" "clubsync: error: at most 32 tags per request"
  expect_code "a tag of 64 bytes" 0 "$exe" --home "$WORK/a" request add --title T --tag "$(str t 64)"
  expect_code "a tag of 65 bytes" 2 "$exe" --home "$WORK/a" request add --title T --tag "$(str t 65)"
  expect_eq "its message" "$(cat "$WORK/last.err")" "clubsync: error: a tag (--tag) is 65 bytes; it holds at most 64 bytes: shorten it"
  M=$("$exe" --home "$WORK/a" meeting add --title "Réunion" --date 2027-03-14 | tail -1)
  expect_code "a meeting action of 254 bytes" 0 "$exe" --home "$WORK/a" meeting action "$M" "$(str a 254)"
  expect_code "a meeting action of 255 bytes" 2 "$exe" --home "$WORK/a" meeting action "$M" "$(str a 255)"
  expect_eq "its message" "$(cat "$WORK/last.err")" \
    "clubsync: error: the action is 255 bytes; it holds at most 254 bytes: shorten it"
  expect_code "a date of 65 bytes" 2 "$exe" --home "$WORK/a" meeting add --title T --date "$(str d 65)"
  expect_eq "its message" "$(cat "$WORK/last.err")" "clubsync: error: the date (--date) is 65 bytes; it holds at most 64 bytes: shorten it"
  # A body, a note or a comment holds 16 KiB, as docs/data-model.md says:
  # 16,383 bytes used to be refused with "a change holds at most 64 KiB".
  expect_code "a body of 16,383 bytes" 0 "$exe" --home "$WORK/a" request add --title B --body "$(str b 16383)"
  expect_code "a body of 16,384 bytes" 0 "$exe" --home "$WORK/a" request add --title B --body "$(str b 16384)"
  expect_code "a body of 16,385 bytes" 2 "$exe" --home "$WORK/a" request add --title B --body "$(str b 16385)"
  expect_eq "its message" "$(cat "$WORK/last.err")" \
    "clubsync: error: the body is 16385 bytes; a text holds at most 16 KiB (16384 bytes): shorten it, or put the rest in a comment"
  # Long text from a file or standard input, not one shell argument.
  str é 8192 >"$WORK/body.txt" # 16,384 bytes and a line feed
  truncate -s 16384 "$WORK/body.txt"
  R=$("$exe" --home "$WORK/a" request add --title "Du fichier" --body-file "$WORK/body.txt" | tail -1)
  expect_eq "--body-file keeps the body" "$("$exe" --home "$WORK/a" --json request show "$R" |
    python3 -c 'import json,sys; print(len(json.load(sys.stdin)["body"].encode()))')" 16384
  expect_code "a comment of 16,385 bytes" 2 "$exe" --home "$WORK/a" request comment "$R" "$(str c 16385)"
  expect_eq "its message" "$(cat "$WORK/last.err")" \
    "clubsync: error: the comment is 16385 bytes; a text holds at most 16 KiB (16384 bytes): shorten it, or put the rest in a comment"
  printf 'Ligne 1\nLigne 2\n' | "$exe" --home "$WORK/a" request edit "$R" --body-file - >/dev/null
  expect_eq "--body-file - reads standard input" "$("$exe" --home "$WORK/a" --json request show "$R" |
    python3 -c 'import json,sys; print(repr(json.load(sys.stdin)["body"]))')" "'Ligne 1\\nLigne 2\\n'"
  printf 'x' >>"$WORK/body.txt"
  expect_code "--body-file of 16,385 bytes" 2 "$exe" --home "$WORK/a" request add --title F --body-file "$WORK/body.txt"
  expect_eq "its message" "$(cat "$WORK/last.err")" \
    "clubsync: error: $WORK/body.txt is over 16 KiB; a text holds at most 16 KiB (16384 bytes): shorten it, or put the rest in a comment"
  expect_code "--body-file of a missing file" 1 "$exe" --home "$WORK/a" request add --title F --body-file "$WORK/none.txt"
  expect_eq "its message" "$(cat "$WORK/last.err")" \
    "clubsync: error: cannot read $WORK/none.txt: No such file or directory; check the file's name"
  expect_code "--body and --body-file" 2 "$exe" --home "$WORK/a" request add --title F --body B --body-file "$WORK/body.txt"
  echo "Un commentaire long, depuis un fichier." >"$WORK/comment.txt"
  expect_code "a comment from a file" 0 "$exe" --home "$WORK/a" request comment "$R" --body-file "$WORK/comment.txt"
done
expect_code "audit" 0 cs --home "$WORK/a" audit
finish
