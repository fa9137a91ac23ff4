#!/usr/bin/env bash
# Merges of the data model, with real processes and bundle files:
# 2. two museums edit one title offline: after the exchange both show the
#    same current title and both values as a conflict; a later edit resolves
#    it everywhere;
# 3. a campaign of 10 museums, ballots changed three times and delivered out
#    of order (last ballot first), ranks the same on two nodes fed in
#    different orders; a ballot over budget is refused with its reason;
# 4. `report --format csv` and `--format md` print that ranking.
source "$(dirname "$0")/lib.sh"

json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
bundle_to() { # bundle_to FROM TO: full export of FROM imported into TO
  cs --home "$WORK/$1" export "$WORK/x.bundle" >/dev/null
  cs --home "$WORK/$2" import "$WORK/x.bundle" >/dev/null
}

# --- 2. A conflict shown to people, then resolved ------------------------
make_club a b
R=$(cs --home "$WORK/a" request add --title "Export PDF" | tail -1)
bundle_to a b
cs --home "$WORK/a" request edit "$R" --title "Export PDF des constats" >/dev/null
cs --home "$WORK/b" request edit "$R" --title "Export des constats en PDF/A" >/dev/null
bundle_to a b
bundle_to b a
for n in a b; do
  cs --home "$WORK/$n" request show "$R" --json >"$WORK/$n.show"
done
expect_eq "same current title" "$(json 'd["title"]' <"$WORK/a.show")" "$(json 'd["title"]' <"$WORK/b.show")"
expect_eq "both values kept as a conflict at a" \
  "$(json 'sorted(d["conflicts"]["title"])' <"$WORK/a.show")" "['Export PDF des constats', 'Export des constats en PDF/A']"
expect_eq "the conflict at b" "$(json 'sorted(d["conflicts"]["title"])' <"$WORK/b.show")" \
  "$(json 'sorted(d["conflicts"]["title"])' <"$WORK/a.show")"
cs --home "$WORK/b" request show "$R" | grep "CONFLICT on title" >/dev/null && ok || fail "request show names the conflict"
cs --home "$WORK/b" request edit "$R" --title "Export des constats d'état en PDF" >/dev/null
bundle_to b a
for n in a b; do
  expect_eq "resolved title at $n" "$(cs --home "$WORK/$n" request show "$R" --json | json 'd["title"]')" \
    "Export des constats d'état en PDF"
  expect_eq "no conflict left at $n" "$(cs --home "$WORK/$n" request show "$R" --json | json 'd["conflicts"]')" "{}"
done
expect_eq "digests after the resolution" "$(digest_of a)" "$(digest_of b)"

# --- 3. Ten museums vote, ballots arrive out of order ----------------------
MUSEUMS="m1 m2 m3 m4 m5 m6 m7 m8 m9"
for n in $MUSEUMS; do
  new_node "$n" "Musée $n"
  cs --home "$WORK/a" member add "$(key_of "$n")" --museum "Musée $n" --role member >/dev/null
done
REQS=()
for t in "Récolement sur tablette" "Constat d'état illustré" "Export Joconde" "Bordereau de prêt" "Import CSV"; do
  REQS+=("$(cs --home "$WORK/a" request add --title "$t" 2>/dev/null | tail -1)")
done
C=$(cs --home "$WORK/a" campaign open "Campagne 2027" --points 100 | tail -1)
cs --home "$WORK/a" export "$WORK/base.bundle" >/dev/null
for n in $MUSEUMS x y; do
  [ -d "$WORK/$n" ] || new_node "$n" "Lecteur $n"
  cs --home "$WORK/$n" import "$WORK/base.bundle" >/dev/null
done
expect_code "a ballot over budget is refused" 2 cs --home "$WORK/m1" campaign vote "$C" "${REQS[0]}=60" "${REQS[1]}=41"
grep -q "exceeds the campaign budget" "$WORK/last.err" && ok || fail "the refusal says why: $(cat "$WORK/last.err")"
i=0
for n in a $MUSEUMS; do
  cs --home "$WORK/$n" vector "$WORK/$n.v0" >/dev/null
  for round in 1 2 3; do
    # Each round moves the museum's points; the third ballot is the one that counts.
    r1=${REQS[$(((i + round) % 5))]} r2=${REQS[$(((i * 3 + round) % 5))]}
    if [ "$r1" == "$r2" ]; then args=("$r1=$((40 + round * 10))"); else args=("$r1=$((30 + round * 10))" "$r2=$((10 * round))"); fi
    cs --home "$WORK/$n" campaign vote "$C" "${args[@]}" >/dev/null || fail "$n votes in round $round"
    cs --home "$WORK/$n" export "$WORK/$n.b$round" --since "$WORK/$n.v$((round - 1))" >/dev/null
    cs --home "$WORK/$n" vector "$WORK/$n.v$round" >/dev/null
  done
  i=$((i + 1))
done
# x gets every museum's last ballot first (it waits for the earlier ones);
# y gets the museums in reverse order, each in order.
for n in a $MUSEUMS; do
  for round in 3 2 1; do cs --home "$WORK/x" import "$WORK/$n.b$round" >/dev/null; done
done
for n in $(echo a $MUSEUMS | tr ' ' '\n' | tac); do
  for round in 1 2 3; do cs --home "$WORK/y" import "$WORK/$n.b$round" >/dev/null; done
done
cs --home "$WORK/x" campaign results "$C" --json >"$WORK/x.results"
cs --home "$WORK/y" campaign results "$C" --json >"$WORK/y.results"
expect_eq "same ranking on both nodes" "$(json '[(r["id"], r["points"], r["museums"]) for r in d]' <"$WORK/x.results")" \
  "$(json '[(r["id"], r["points"], r["museums"]) for r in d]' <"$WORK/y.results")"
expect_eq "ten museums, 100 points each at most" "$(json 'sum(r["points"] for r in d) <= 1000 and len(d) > 1' <"$WORK/x.results")" True
# The expected tally, from the third ballots alone.
want=$(python3 - "${REQS[@]}" <<'PY'
import sys
reqs = sys.argv[1:]
points = {}
museums = {}
for i in range(10):
    r1, r2 = reqs[(i + 3) % 5], reqs[(i * 3 + 3) % 5]
    alloc = {r1: 70} if r1 == r2 else {r1: 60, r2: 30}
    for r, p in alloc.items():
        points[r] = points.get(r, 0) + p
        museums[r] = museums.get(r, 0) + 1
rows = sorted(points, key=lambda r: (-points[r], -museums[r], r))
print([(r, points[r], museums[r]) for r in rows])
PY
)
expect_eq "the ranking counts each museum's last ballot" \
  "$(json '[(r["id"], r["points"], r["museums"]) for r in d]' <"$WORK/x.results")" "$want"
expect_eq "digests of x and y" "$(digest_of x)" "$(digest_of y)"

# --- 4. The vendor report prints the same ranking --------------------------
cs --home "$WORK/x" report --campaign "$C" --format csv >"$WORK/report.csv"
expect_eq "csv ranking" "$(python3 -c '
import csv, sys
print([(r["id"], int(r["points"]), int(r["museums"])) for r in csv.DictReader(open(sys.argv[1]))])' "$WORK/report.csv")" "$want"
cs --home "$WORK/x" report --campaign "$C" --format md >"$WORK/report.md"
expect_eq "markdown ranking" "$(python3 -c '
import sys
rows = [l.split(" | ") for l in open(sys.argv[1]) if l.startswith("| ") and l[2].isdigit()]
print([(r[1], int(r[3])) for r in rows])' "$WORK/report.md")" "$(json '[(r["title"], r["points"]) for r in d]' <"$WORK/x.results")"
cs --home "$WORK/x" report --campaign "$C" --format html >"$WORK/report.html"
grep -q "<svg" "$WORK/report.html" && grep -q "@page{size:A4" "$WORK/report.html" && ! grep -q "<script\|src=" "$WORK/report.html" &&
  ok || fail "the html report is self-contained, A4, with an svg chart"

# Closing freezes the results: later ballots no longer move them.
cs --home "$WORK/a" import "$WORK/m1.b3" >/dev/null
for n in $MUSEUMS; do cs --home "$WORK/a" import "$WORK/$n.b1" >/dev/null; cs --home "$WORK/a" import "$WORK/$n.b2" >/dev/null; cs --home "$WORK/a" import "$WORK/$n.b3" >/dev/null; done
cs --home "$WORK/a" campaign close "$C" >/dev/null
bundle_to a x
expect_eq "frozen results equal the live ones at close" \
  "$(cs --home "$WORK/x" campaign results "$C" --json | json '[(r["id"], r["points"], r["museums"]) for r in d]')" "$want"
bundle_to a m2
expect_code "a ballot after the close is refused" 1 cs --home "$WORK/m2" campaign vote "$C" "${REQS[0]}=10"
grep -q "closed" "$WORK/last.err" && ok || fail "the refusal says the campaign is closed"
finish
