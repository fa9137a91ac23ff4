#!/usr/bin/env bash
# One museum, one vote: a museum name that differs from a member museum's
# only by case, accents, spacing or punctuation is a typo that would make a
# second museum, with a second vote. `member add` refuses it (exit 2) and
# gives the existing spelling; `--new-museum` adds a museum that really is
# another. The same museum's second device key, spelled alike, is welcome.
source "$(dirname "$0")/lib.sh"

new_node a "Musée Fabre"
new_node b "Musée Fabre"
new_node c "Musée Fabre (Montpellier)"
new_node d "Musee Fabre"
cs --home "$WORK/a" club create "Club" --software Flora >/dev/null
for spelling in "Musee Fabre" "musée fabre" "MUSÉE  FABRE" "Musée-Fabre" "  Musée Fabre"; do
  expect_code "'$spelling' beside 'Musée Fabre'" 2 cs --home "$WORK/a" member add "$(key_of d)" --museum "$spelling" \
    --role member
  expect_eq "its message" "$(cat "$WORK/last.err")" "clubsync: error: the club has a museum \"Musée Fabre\", spelled like \"$spelling\" but for case, accents or spacing: give --museum \"Musée Fabre\" for a key of the same museum, or add --new-museum if it is another museum"
done
expect_eq "nothing was signed" "$(cs --home "$WORK/a" member list | wc -l)" 1
expect_code "the same museum's second key, spelled alike" 0 cs --home "$WORK/a" member add "$(key_of b)" \
  --museum "Musée Fabre" --role member
expect_code "another museum whose name holds the first" 0 cs --home "$WORK/a" member add "$(key_of c)" \
  --museum "Musée Fabre (Montpellier)" --role member
expect_code "--new-museum insists" 0 cs --home "$WORK/a" member add "$(key_of d)" --museum "Musee Fabre" \
  --role observer --new-museum
expect_eq "three museums" "$(cs --home "$WORK/a" member list --json |
  python3 -c 'import json,sys; print(sorted(set(m["museum"] for m in json.load(sys.stdin))))')" \
  "['Musee Fabre', 'Musée Fabre', 'Musée Fabre (Montpellier)']"
expect_code "--help names --new-museum" 0 cs --help
grep -q -- "--new-museum" "$WORK/last.out" && ok || fail "--help lists --new-museum"
finish
