#!/usr/bin/env bash
# The request list a museum reads: co-signers (with those of merged
# duplicates), the three sort orders, the filters (modules compared folded),
# columns aligned by display width, and the same answer on every node after
# an exchange.
source "$(dirname "$0")/lib.sh"
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
bundle_to() { # bundle_to FROM TO: full export of FROM imported into TO
  cs --home "$WORK/$1" export "$WORK/x.bundle" >/dev/null
  cs --home "$WORK/$2" import "$WORK/x.bundle" >/dev/null
}
list() { cs --home "$WORK/$1" request list --json "${@:2}"; }

make_club a b c
bundle_to a b
bundle_to a c
exchange() { for from in a b c; do for to in a b c; do [ $from = $to ] || bundle_to $from $to; done; done; }
# Filed one after the other, each having seen the one before.
R1=$(cs --home "$WORK/a" request add --title "Récolement sur tablette" --module inventaire | tail -1)
exchange
R2=$(cs --home "$WORK/b" request add --title "Bordereau de prêt" --module mouvements | tail -1)
exchange
R3=$(cs --home "$WORK/c" request add --title "Récolement avec une tablette" --module inventaire 2>/dev/null | tail -1)
exchange
cs --home "$WORK/b" request support "$R1" >/dev/null
cs --home "$WORK/c" request support "$R2" >/dev/null
cs --home "$WORK/a" request support "$R2" >/dev/null
exchange

expect_eq "newest first" "$(list a | json '[r["title"] for r in d]')" \
  "['Récolement avec une tablette', 'Bordereau de prêt', 'Récolement sur tablette']"
expect_eq "by title" "$(list a --sort title | json '[r["title"] for r in d]')" \
  "['Bordereau de prêt', 'Récolement avec une tablette', 'Récolement sur tablette']"
expect_eq "by support, without a campaign" "$(list a --sort votes | json '[r["title"] for r in d]')" \
  "['Bordereau de prêt', 'Récolement sur tablette', 'Récolement avec une tablette']"
expect_eq "co-signers of R2" "$(list a | json 'sorted([r["supporters"] for r in d if r["id"] == "'"$R2"'"][0])')" \
  "['Musée a', 'Musée b', 'Musée c']"

# C's duplicate is merged into A's request: C now co-signs A's request.
cs --home "$WORK/a" request merge "$R3" --into "$R1" >/dev/null
exchange
for n in a b c; do
  expect_eq "the duplicate points at the original at $n" \
    "$(list $n | json '[r.get("merged_into") for r in d if r["id"] == "'"$R3"'"][0]')" "$R1"
  expect_eq "the original's co-signers at $n" \
    "$(list $n | json 'sorted([r["supporters"] for r in d if r["id"] == "'"$R1"'"][0])')" \
    "['Musée a', 'Musée b', 'Musée c']"
  expect_eq "request show agrees at $n" \
    "$(cs --home "$WORK/$n" request show "$R1" --json | json '[sorted(d["supporters"]), [m["id"] for m in d["merged_from"]]]')" \
    "[['Musée a', 'Musée b', 'Musée c'], ['$R3']]"
done
expect_eq "the same list on every node" "$(list b | md5sum)" "$(list a | md5sum)"
expect_eq "and at c" "$(list c | md5sum)" "$(list a | md5sum)"

# A chain: Z merged into Y, then Y into X. Z's and Y's co-signers count for
# X, as their campaign points do.
X=$(cs --home "$WORK/a" request add --title "Photothèque : import par lots" --module images | tail -1)
exchange
Y=$(cs --home "$WORK/b" request add --title "Import de photos en masse" --module images 2>/dev/null | tail -1)
exchange
Z=$(cs --home "$WORK/c" request add --title "Importer beaucoup d'images" --module images 2>/dev/null | tail -1)
exchange
cs --home "$WORK/a" request merge "$Z" --into "$Y" >/dev/null
cs --home "$WORK/a" request merge "$Y" --into "$X" >/dev/null
exchange
for n in a c; do
  expect_eq "co-signers through the chain at $n" \
    "$(list $n | json 'sorted([r["supporters"] for r in d if r["id"] == "'"$X"'"][0])')" "['Musée a', 'Musée b', 'Musée c']"
  expect_eq "request show lists both duplicates at $n" \
    "$(cs --home "$WORK/$n" request show "$X" --json | json '[sorted(d["supporters"]), sorted(m["id"] for m in d["merged_from"])]')" \
    "[['Musée a', 'Musée b', 'Musée c'], $(python3 -c "import sys; print(sorted(sys.argv[1:]))" "$Y" "$Z")]"
done

expect_eq "filter by module" "$(list a --module inventaire | json 'sorted(r["title"] for r in d)')" \
  "['Récolement avec une tablette', 'Récolement sur tablette']"
expect_eq "filter by status" "$(list a --status merged | json 'sorted(r["id"] for r in d)')" \
  "$(python3 -c "import sys; print(sorted(sys.argv[1:]))" "$R3" "$Y" "$Z")"
expect_eq "a filter that matches nothing" "$(list a --module photothèque)" "[]"
expect_eq "the same, for people" "$(cs --home "$WORK/a" request list --module photothèque)" "No requests match."
expect_eq "the text list has a line per request" "$(cs --home "$WORK/a" request list | wc -l)" 6
# Modules compare folded (case, accents, spacing): "Récolement",
# "récolement" and "RECOLEMENT " are one module.
M1=$(cs --home "$WORK/a" request add --title "Constat d'état" --module "Récolement" 2>/dev/null | tail -1)
M2=$(cs --home "$WORK/a" request add --title "Pointage" --module "récolement" 2>/dev/null | tail -1)
M3=$(cs --home "$WORK/a" request add --title "Étiquettes" --module "RECOLEMENT " 2>/dev/null | tail -1)
for filter in recolement Récolement "RÉCOLEMENT" "  récolement"; do
  expect_eq "--module '$filter' finds all three spellings" "$(list a --module "$filter" | json 'sorted(r["id"] for r in d)')" \
    "$(python3 -c "import sys; print(sorted(sys.argv[1:]))" "$M1" "$M2" "$M3")"
done
# Columns are padded by display width, not bytes: the title starts in the
# same column after an accented module as after a plain one.
cs --home "$WORK/a" request add --title "Une demande" --module "Éditions" >/dev/null 2>&1
cs --home "$WORK/a" request add --title "Une autre" --module "Editions" >/dev/null 2>&1
expect_eq "titles align after accented modules" "$(cs --home "$WORK/a" request list | grep -E 'Une (demande|autre)' |
  python3 -c 'import sys; print(sorted(set(l.rstrip("\n").index("Une") for l in sys.stdin)))')" "[95]"
expect_code "an unknown sort" 2 cs --home "$WORK/a" request list --sort size
expect_code "an unknown status" 2 cs --home "$WORK/a" request list --status nouveau
finish
