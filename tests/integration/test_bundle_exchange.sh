#!/usr/bin/env bash
# Independent writes converge through bundles in any
# order, and a damaged bundle is refused without losing anything.
source "$(dirname "$0")/lib.sh"

new_node a "Musée des Augustins"
new_node b "Musée Fabre"
club=$(cs --home "$WORK/a" club create "Club Flora" --software Flora | tail -1)
cs --home "$WORK/a" member add "$(key_of b)" --museum "Musée Fabre" --role member >/dev/null
cs --home "$WORK/a" export "$WORK/base.bundle" >/dev/null
cs --home "$WORK/b" import "$WORK/base.bundle" >/dev/null

# Each museum writes on its own, offline.
for i in 1 2 3; do
  cs --home "$WORK/a" request add --title "Demande A$i" --module inventaire --tag "a$i" >/dev/null
  cs --home "$WORK/b" request add --title "Demande B$i" --module récolement >/dev/null
done
req=$(cs --home "$WORK/a" request list --json | python3 -c "import json,sys;print(json.load(sys.stdin)[0]['id'])")
cs --home "$WORK/a" request comment "${req:0:10}" "Commentaire de A" >/dev/null
cs --home "$WORK/a" export "$WORK/a.bundle" >/dev/null
cs --home "$WORK/b" export "$WORK/b.bundle" >/dev/null
cp -r "$WORK/a" "$WORK/a-before"

# Exchange both ways: equal digests.
cs --home "$WORK/a" import "$WORK/b.bundle" >/dev/null
cs --home "$WORK/b" import "$WORK/a.bundle" >/dev/null
expect_eq "digests after exchange" "$(digest_of a)" "$(digest_of b)"
expect_eq "requests at b" "$(cs --home "$WORK/b" request list --json | python3 -c 'import json,sys;print(len(json.load(sys.stdin)))')" 6
want=$(digest_of a)

# Every order, and twice: the same digest.
for order in "a b" "b a" "a a b b" "b b a a" "b a b a"; do
  rm -rf "$WORK/c"
  new_node c "Musée témoin"
  for bundle in $order; do cs --home "$WORK/c" import "$WORK/$bundle.bundle" >/dev/null; done
  expect_eq "digest for order '$order'" "$(digest_of c)" "$want"
done
# An incremental export holds only what the other node lacks, and a node
# without the club refuses it with "not found".
cs --home "$WORK/a-before" vector "$WORK/a.vector" >/dev/null
cs --home "$WORK/b" export "$WORK/b-since.bundle" --since "$WORK/a.vector" >/dev/null
rm -rf "$WORK/t" && cp -r "$WORK/a-before" "$WORK/t"
cs --home "$WORK/t" import "$WORK/b-since.bundle" >/dev/null
expect_eq "incremental bundle converges" "$(digest_of t)" "$want"
expect_eq "incremental bundle holds only b's new changes" \
  "$(cs --home "$WORK/b" export "$WORK/x.bundle" --since "$WORK/a.vector" --json | python3 -c 'import json,sys;print(json.load(sys.stdin)["changes"])')" 3
rm -rf "$WORK/c"
new_node c "Musée témoin"
expect_code "incremental bundle on a node without the club" 4 cs --home "$WORK/c" import "$WORK/b-since.bundle"

# One flipped byte anywhere: exit 5 for the damage, nothing else lost, the
# store still passes audit.
size=$(stat -c %s "$WORK/b.bundle")
before_digest=$(digest_of a-before)
step=$((size / 60 + 1))
for ((pos = 0; pos < size; pos += step)); do
  rm -rf "$WORK/t"
  cp -r "$WORK/a-before" "$WORK/t"
  python3 - "$WORK/b.bundle" "$WORK/flipped.bundle" "$pos" <<'PY'
import sys
data = bytearray(open(sys.argv[1], 'rb').read())
data[int(sys.argv[3])] ^= 0x20
open(sys.argv[2], 'wb').write(data)
PY
  code=0
  cs --home "$WORK/t" import "$WORK/flipped.bundle" >/dev/null 2>"$WORK/err" || code=$?
  expect_eq "exit for byte $pos flipped" "$code" 5
  expect_code "audit after byte $pos flipped" 0 cs --home "$WORK/t" audit
  # What was there is still there: re-importing the intact bundle converges.
  cs --home "$WORK/t" import "$WORK/b.bundle" >/dev/null
  expect_eq "digest after repair ($pos)" "$(digest_of t)" "$want"
  [ "$(wc -l <"$WORK/err")" -ge 1 ] && grep -q "^clubsync: error: " "$WORK/err" && ok || fail "error line for byte $pos"
done
expect_eq "a's own state untouched by failed imports" "$(digest_of a-before)" "$before_digest"
finish
