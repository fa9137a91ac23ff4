#!/usr/bin/env bash
# Help as a museum's registrar meets it: `X --help` and `help X` print that
# command's own page (usage, options, an example); `--help` lists only
# commands that exist; a typo is one line with "did you mean", exit 2; the
# hint under a conflict names the command that resolves that field.
source "$(dirname "$0")/lib.sh"

# 1. Every command of the global page has its own page, the same both ways.
cs --help >"$WORK/global.txt"
cmds=$(grep -oE '^[a-z][a-z-]+( {2,}| [A-Z[-])' "$WORK/global.txt" | awk '{print $1}' | sort -u)
[ "$(wc -w <<<"$cmds")" -ge 20 ] && ok || fail "the global page lists the commands: $cmds"
for cmd in $cmds; do
  expect_code "$cmd --help" 0 cs "$cmd" --help
  cp "$WORK/last.out" "$WORK/page.txt"
  grep -q "^usage: clubsync .* $cmd " "$WORK/page.txt" && ok || fail "$cmd --help is its own page: $(head -1 "$WORK/page.txt")"
  grep -q "^example:" "$WORK/page.txt" && grep -qE "^  clubsync( --home [^ ]+)? $cmd( |$)" "$WORK/page.txt" && ok ||
    fail "$cmd --help shows an example of $cmd"
  cmp -s "$WORK/page.txt" "$WORK/global.txt" && fail "$cmd --help prints the global page" || ok
  expect_code "help $cmd" 0 cs help "$cmd"
  cmp -s "$WORK/last.out" "$WORK/page.txt" && ok || fail "help $cmd and $cmd --help differ"
  # Each listed command really is one: it does not answer "unknown command".
  cs --home "$WORK/none" "$cmd" >/dev/null 2>"$WORK/run.err" || true
  grep -q "unknown command" "$WORK/run.err" && fail "--help lists '$cmd', which is no command" || ok
done
# The page of a family names its options, and the global options stay reachable.
cs request --help >"$WORK/request.txt"
grep -q -- "--body-file FILE" "$WORK/request.txt" && grep -q "^options:" "$WORK/request.txt" && ok ||
  fail "request --help names its options"
expect_code "--help after global options" 0 cs --home "$WORK/none" --club Flora peer --help
grep -q "peer add HOST:PORT" "$WORK/last.out" && ok || fail "--home DIR --club C peer --help is peer's page"
expect_code "help alone" 0 cs help
cmp -s "$WORK/last.out" "$WORK/global.txt" && ok || fail "help alone prints the global page"

# 2. No "node" family: init, whoami and status are commands of their own.
grep -q "^node " "$WORK/global.txt" && fail "--help lists a 'node' family" || ok
for cmd in init whoami status backup restore; do
  grep -q "^$cmd " "$WORK/global.txt" && ok || fail "--help lists $cmd"
done

# 3. Typos: one line, exit 2, the nearest command suggested.
for typo in "reqest list:request" "campain list:campaign" "motoin list:motion" "staus:status"; do
  words=${typo%%:*} want=${typo##*:}
  # shellcheck disable=SC2086
  expect_code "typo $words" 2 cs --home "$WORK/none" $words
  expect_eq "typo $words: one line" "$(wc -l <"$WORK/last.err")" 1
  grep -q "did you mean '$want'?" "$WORK/last.err" && ok || fail "typo $words suggests $want: $(cat "$WORK/last.err")"
  [ "$(wc -c <"$WORK/last.err")" -lt 160 ] && ok || fail "typo $words: a short line: $(cat "$WORK/last.err")"
done
expect_code "subcommand typo" 2 cs --home "$WORK/none" request lsit
grep -q "unknown request command 'lsit'; did you mean 'list'?" "$WORK/last.err" && ok ||
  fail "request lsit suggests list: $(cat "$WORK/last.err")"
expect_code "family without its command" 2 cs --home "$WORK/none" campaign
expect_eq "family without its command: one line" "$(wc -l <"$WORK/last.err")" 1
expect_code "far from every command" 2 cs --home "$WORK/none" frobnicate
grep -q "did you mean" "$WORK/last.err" && fail "frobnicate gets a suggestion" || ok
expect_code "typo --help" 2 cs reqest --help
grep -q "did you mean 'request'?" "$WORK/last.err" && ok || fail "reqest --help suggests request"
expect_code "extra argument" 2 cs --home "$WORK/none" request list extra
[ "$(wc -c <"$WORK/last.err")" -lt 160 ] && ok || fail "an extra argument is a short line: $(cat "$WORK/last.err")"

# 4. A status conflict: the hint says `request status`, which resolves it.
make_club a b
R=$(cs --home "$WORK/a" request add --title "Export PDF" | tail -1)
cs --home "$WORK/a" export "$WORK/x.bundle" >/dev/null
cs --home "$WORK/b" import "$WORK/x.bundle" >/dev/null
cs --home "$WORK/a" request status "$R" review >/dev/null
cs --home "$WORK/b" request status "$R" postponed >/dev/null
cs --home "$WORK/b" export "$WORK/x.bundle" >/dev/null
cs --home "$WORK/a" import "$WORK/x.bundle" >/dev/null
cs --home "$WORK/a" request show "$R" >"$WORK/show.txt"
grep -q "CONFLICT on status" "$WORK/show.txt" && ok || fail "request show names the status conflict"
grep -A4 "CONFLICT on status" "$WORK/show.txt" | grep -q "'clubsync request status ID STATUS'" && ok ||
  fail "the status conflict's hint says request status: $(grep -A4 'CONFLICT on status' "$WORK/show.txt")"
grep -q "request edit" "$WORK/show.txt" && fail "the hint of a status conflict says request edit" || ok
cs --home "$WORK/a" request status "$R" review >/dev/null
expect_eq "request status resolves it" "$(cs --home "$WORK/a" request show "$R" --json |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["conflicts"])')" "{}"
finish
