#!/usr/bin/env bash
# Removing a member from a point of its history: B is removed by an admin while B is offline and writing.
# After sync, B's writes after the cutoff are gone from every node's state,
# still stored, and listed by `audit` as invalidated with the reason; B's
# writes before the cutoff remain.
source "$(dirname "$0")/lib.sh"
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
titles() { cs --home "$WORK/$1" request list --json | json 'sorted(r["title"] for r in d)'; }

make_club a b c
cs --home "$WORK/a" export "$WORK/club.bundle" >/dev/null
for n in b c; do cs --home "$WORK/$n" import "$WORK/club.bundle" >/dev/null; done
cs --home "$WORK/b" request add --title "Avant le retrait" >/dev/null
cs --home "$WORK/b" export "$WORK/b1.bundle" >/dev/null
cs --home "$WORK/a" import "$WORK/b1.bundle" >/dev/null
# B goes offline and keeps writing; meanwhile A removes B.
cs --home "$WORK/b" request add --title "Hors ligne 1" >/dev/null
cs --home "$WORK/b" request add --title "Hors ligne 2" >/dev/null
expect_code "a removes b" 0 cs --home "$WORK/a" member remove "$(key_of b)"
expect_code "c cannot remove anyone" 3 cs --home "$WORK/c" member remove "$(key_of b)"
expect_code "removing a stranger" 4 cs --home "$WORK/a" member remove "$(key_of c | tr 0-9a-f 1-9a-f0)"
# B comes back and syncs with C, who has not heard of the removal yet; then
# A and C sync, so B's offline writes and the removal meet everywhere.
serve_node c
expect_code "b syncs with c" 0 cs --home "$WORK/b" sync "127.0.0.1:$(port_of c)"
expect_code "a syncs with c" 0 cs --home "$WORK/a" sync "127.0.0.1:$(port_of c)"
wait_equal_digests 10 a c && ok || fail "a and c converge"
for n in a c; do
  expect_eq "titles at $n" "$(titles "$n")" "['Avant le retrait']"
  expect_eq "b's writes are stored at $n" "$(cs --home "$WORK/$n" audit --json | json 'len(d["invalidated"])')" 2
  cs --home "$WORK/$n" audit | grep "invalidated: its key was removed from the club after its change 1" >/dev/null && ok ||
    fail "audit at $n says why: $(cs --home "$WORK/$n" audit | tail -3)"
  expect_eq "b is listed as removed at $n" \
    "$(cs --home "$WORK/$n" member list --json | json '[m["role"] for m in d if m["museum"] == "Musée b"]')" "['removed']"
done
expect_code "the removed key is now refused by c" 1 cs --home "$WORK/b" sync "127.0.0.1:$(port_of c)"
finish
