#!/usr/bin/env bash
# A bundle is for one club, the one its header names. A crafted bundle whose
# header says Club Un but which also carries Club Deux's changes (genesis
# included, after Club Un's changes or before them) imports only Club Un's:
# the others are refused, counted in the summary line and in --json, and
# the import exits 5; no second club appears as a side effect. An honest
# bundle of a club the node lacks imports from its genesis, into a node
# that holds another club only with --new-club.
source "$(dirname "$0")/lib.sh"
EDIT="$(dirname "$0")/bundle_edit.py"
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
club_ids() { "$1" --home "$2" club list --json | json '" ".join(sorted(c["id"] for c in d))'; }

new_node a "Musée A"
un=$(cs --home "$WORK/a" club create "Club Un" --software Flora | tail -1)
cs --home "$WORK/a" request add --title "Demande du club Un" >/dev/null
cs --home "$WORK/a" export "$WORK/un.bundle" >/dev/null
new_node c "Musée C"
deux=$(cs --home "$WORK/c" club create "Club Deux" --software Flora | tail -1)
for title in Inventaire Prêts Photographies; do
  cs --home "$WORK/c" request add --title "$title (club Deux)" >/dev/null 2>&1
done
cs --home "$WORK/c" export "$WORK/deux.bundle" >/dev/null
un_changes=$(python3 "$EDIT" "$WORK/un.bundle" ids | wc -l)
deux_changes=$(python3 "$EDIT" "$WORK/deux.bundle" ids | wc -l)
python3 "$EDIT" "$WORK/un.bundle" "$WORK/un-then-deux.bundle" add "$WORK/deux.bundle"
python3 "$EDIT" "$WORK/un.bundle" "$WORK/deux-then-un.bundle" prepend "$WORK/deux.bundle"

# Header of Club Un, records of Club Deux only.
cp "$WORK/deux-then-un.bundle" "$WORK/deux-only.bundle"
for id in $(python3 "$EDIT" "$WORK/un.bundle" ids); do
  python3 "$EDIT" "$WORK/deux-only.bundle" "$WORK/edit.bundle" drop "$id"
  mv "$WORK/edit.bundle" "$WORK/deux-only.bundle"
done

for bin in $(both_builds); do
  build=$(basename "$(dirname "$(dirname "$bin")")")
  # Into a node with no club (Club Un arrives from its genesis, wherever
  # Club Deux's changes stood) and into a node that holds Club Un already.
  for crafted in un-then-deux deux-then-un; do
    for start in empty member; do
      what="$crafted into a node $([ $start == empty ] && echo "with no club" || echo "of Club Un") ($build)"
      home="$WORK/$build-$crafted-$start"
      "$bin" --home "$home" init --museum "Musée D" >/dev/null
      [ $start == member ] && "$bin" --home "$home" import "$WORK/un.bundle" >/dev/null
      code=0
      "$bin" --home "$home" import "$WORK/$crafted.bundle" --json >"$WORK/import.json" 2>"$WORK/import.err" || code=$?
      expect_eq "$what: exit" "$code" 5
      expect_eq "$what: other_club in --json" \
        "$(json 'd["other_club"]' <"$WORK/import.json" 2>/dev/null || echo none)" "$deux_changes"
      want_new=$([ $start == empty ] && echo "$un_changes" || echo 0)
      expect_eq "$what: new in --json" "$(json 'd["new"]' <"$WORK/import.json" 2>/dev/null || echo none)" "$want_new"
      grep -q "another club" "$WORK/import.err" && ok || fail "$what: the error says why: $(cat "$WORK/import.err")"
      expect_eq "$what: only Club Un" "$(club_ids "$bin" "$home")" "$un"
      expect_code "$what: plain commands work" 0 "$bin" --home "$home" request list
      expect_eq "$what: Club Un's state" "$("$bin" --home "$home" digest 2>/dev/null)" "$(digest_of a)"
    done
  done
  # Nothing but Club Deux under Club Un's header: nothing is imported.
  home="$WORK/$build-deux-only"
  "$bin" --home "$home" init --museum "Musée F" >/dev/null
  expect_code "deux-only into a node with no club ($build)" 5 "$bin" --home "$home" import "$WORK/deux-only.bundle"
  expect_eq "deux-only: nothing imported ($build)" "$(club_ids "$bin" "$home")" ""
done

# The summary line says it too.
cs --home "$WORK/text" init --museum "Musée E" >/dev/null
code=0
cs --home "$WORK/text" import "$WORK/un-then-deux.bundle" >"$WORK/import.out" 2>"$WORK/import.err" || code=$?
expect_eq "summary: exit" "$code" 5
grep -q "^  $un_changes new, .*, $deux_changes of another club" "$WORK/import.out" && ok ||
  fail "the summary line counts the other club's changes: $(cat "$WORK/import.out")"
cat "$WORK/import.out" "$WORK/import.err"

# An honest bundle of a club the node lacks: a node of Club Un holds Club
# Deux only when asked with --new-club, and then holds both clubs.
expect_code "another club needs --new-club" 2 cs --home "$WORK/a" import "$WORK/deux.bundle" --json
expect_eq "nothing imported without --new-club" "$(club_ids "$CLUBSYNC" "$WORK/a")" "$un"
expect_code "an honest bundle of another club" 0 cs --home "$WORK/a" import "$WORK/deux.bundle" --new-club --json
expect_eq "nothing refused in an honest bundle" "$(json 'd["other_club"]' <"$WORK/last.out")" 0
expect_eq "a holds both clubs" "$(club_ids "$CLUBSYNC" "$WORK/a")" "$(printf '%s\n' "$un" "$deux" | sort | paste -sd' ')"
finish
