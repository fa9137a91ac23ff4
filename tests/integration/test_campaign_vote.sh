#!/usr/bin/env bash
# `campaign vote CAMPAIGN` with no allocation used to replace the museum's
# ballot with an empty one, silently. It is now a usage error (exit 2) that
# says how to give points, and the ballot stays; withdrawing a ballot is
# said on purpose, with --clear.
source "$(dirname "$0")/lib.sh"
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

new_node a "Musée a"
cs --home "$WORK/a" club create "Club" --software Flora >/dev/null
R1=$(cs --home "$WORK/a" request add --title "Export Joconde" | tail -1)
R2=$(cs --home "$WORK/a" request add --title "Récolement sur tablette" 2>/dev/null | tail -1)
C=$(cs --home "$WORK/a" campaign open "Campagne 2027" --points 100 | tail -1)
points() { cs --home "$WORK/a" --json campaign results "$C" | json 'sum(r["points"] for r in d)'; }
expect_code "a ballot" 0 cs --home "$WORK/a" campaign vote "$C" "${R1:0:8}=60" "${R2:0:8}=40"
expect_eq "100 points given" "$(points)" 100
expect_code "no allocation" 2 cs --home "$WORK/a" campaign vote "$C"
expect_eq "its message" "$(cat "$WORK/last.err")" "clubsync: error: campaign vote needs your points, e.g. 'clubsync campaign vote $C REQ1=60 REQ2=40' (a request id or prefix, '=', points); --clear withdraws your ballot"
expect_eq "the ballot stays" "$(points)" 100
expect_code "--clear with points" 2 cs --home "$WORK/a" campaign vote "$C" --clear "${R1:0:8}=10"
expect_eq "the ballot still stays" "$(points)" 100
expect_code "--clear" 0 cs --home "$WORK/a" campaign vote "$C" --clear
grep -q "ballot is withdrawn" "$WORK/last.out" && ok || fail "--clear says so: $(cat "$WORK/last.out")"
expect_eq "no points once withdrawn" "$(points)" 0
expect_code "--clear again" 0 cs --home "$WORK/a" campaign vote "$C" --clear
grep -q "no ballot" "$WORK/last.out" || grep -q "withdrawn" "$WORK/last.out" && ok || fail "--clear again: $(cat "$WORK/last.out")"
expect_code "--help names --clear" 0 cs --help
grep -q -- "vote CAMPAIGN --clear" "$WORK/last.out" && ok || fail "--help lists vote --clear"
finish
