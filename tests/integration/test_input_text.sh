#!/usr/bin/env bash
# Text typed at the command line is checked with the rule every node applies
# (core/text.h, tests/unit/test_text_rules.c), before anything is signed: a
# title that is empty or only spaces, that holds a line break (it broke
# `request list`) or a control character, and invalid UTF-8 in any text
# field (then `--json` printed "title": null) are refused with exit 2 and one
# line that names the field and says what to do.
source "$(dirname "$0")/lib.sh"
one_line_error() { # one_line_error WHAT WANT-TEXT
  [ "$(wc -l <"$WORK/last.err")" == 1 ] && ok || fail "$1: not one line: $(cat "$WORK/last.err")"
  grep -qF "$2" "$WORK/last.err" && ok || fail "$1: says '$2'? $(cat "$WORK/last.err")"
}

new_node a "Musée a"
cs --home "$WORK/a" club create "Club" --software Flora >/dev/null
for exe in $(both_builds); do
  expect_code "a title of spaces" 2 "$exe" --home "$WORK/a" request add --title "   "
  one_line_error "a title of spaces" "the title is empty or only spaces; write a few words in it"
  expect_code "an empty title" 2 "$exe" --home "$WORK/a" request add --title ""
  one_line_error "an empty title" "the title is empty or only spaces"
  expect_code "a title with a line break" 2 "$exe" --home "$WORK/a" request add --title $'Export\nPDF'
  one_line_error "a title with a line break" "the title holds a line break; write it on one line"
  expect_code "a title with an escape" 2 "$exe" --home "$WORK/a" request add --title $'\e[31mRouge'
  one_line_error "a title with an escape" "the title holds a control character (U+001B), which cannot be shown; remove it"
  expect_code "a title with a tab" 2 "$exe" --home "$WORK/a" request add --title $'Export\tPDF'
  one_line_error "a title with a tab" "(U+0009)"
  expect_code "a Latin-1 title" 2 "$exe" --home "$WORK/a" request add --title $'R\xe9colement'
  one_line_error "a Latin-1 title" "the title is not valid UTF-8 text; save it as UTF-8"
  expect_code "a Latin-1 body" 2 "$exe" --home "$WORK/a" request add --title "Corps" --body $'caf\xe9'
  one_line_error "a Latin-1 body" "the body is not valid UTF-8 text"
  printf 'caf\xe9\n' >"$WORK/latin1.txt"
  expect_code "a Latin-1 body file" 2 "$exe" --home "$WORK/a" request add --title "Corps" --body-file "$WORK/latin1.txt"
  one_line_error "a Latin-1 body file" "the body is not valid UTF-8 text"
  expect_code "a body with an escape" 2 "$exe" --home "$WORK/a" request add --title "Corps" --body $'\e]0;titre\a'
  one_line_error "a body with an escape" "the body holds a control character (U+001B)"
  expect_code "a module of spaces" 2 "$exe" --home "$WORK/a" request add --title "Module" --module " "
  one_line_error "a module of spaces" "the module (--module) is empty or only spaces"
  expect_code "a tag with a line break" 2 "$exe" --home "$WORK/a" request add --title "Tag" --tag $'a\nb'
  one_line_error "a tag with a line break" "a tag (--tag) holds a line break"
  expect_code "a museum of spaces" 2 "$exe" --home "$WORK/n" init --museum "  "
  one_line_error "a museum of spaces" "the museum's name (--museum) is empty or only spaces"
  expect_code "a club name with a line break" 2 "$exe" --home "$WORK/a" club create $'Club\nDeux'
  one_line_error "a club name with a line break" "the club's name holds a line break"
  expect_code "a meeting title of spaces" 2 "$exe" --home "$WORK/a" meeting add --title " " --date 2027-03-14
  one_line_error "a meeting title of spaces" "the meeting's title is empty or only spaces"
  expect_code "a document title in Latin-1" 2 "$exe" --home "$WORK/a" doc add --title $'Proc\xe9dure'
  one_line_error "a document title in Latin-1" "the document's title is not valid UTF-8 text"
  expect_code "a comment with a bell" 2 "$exe" --home "$WORK/a" request comment 000000 $'Bonjour\a'
  one_line_error "a comment with a bell" "the comment holds a control character (U+0007)"
done

# What passes: accents, several lines in a body, a tab in a body.
R=$(cs --home "$WORK/a" request add --title "Récolement sur tablette" --body $'Ligne 1\n\tLigne 2' | tail -1)
expect_eq "the body keeps its lines" "$(cs --home "$WORK/a" --json request show "$R" |
  python3 -c 'import json,sys; print(repr(json.load(sys.stdin)["body"]))')" "'Ligne 1\\n\\tLigne 2'"
# Nothing refused above was signed: one request, and every title is a string.
expect_eq "one request, titled" "$(cs --home "$WORK/a" --json request list |
  python3 -c 'import json,sys; print([r["title"] for r in json.load(sys.stdin)])')" "['Récolement sur tablette']"
expect_code "audit" 0 cs --home "$WORK/a" audit
finish
