#!/usr/bin/env bash
# Motions and their audit bundle: a motion with 5 voting museums is adopted by majority;
# its audit bundle verifies in an empty home; flipping any byte, dropping a
# counted ballot or adding a ballot by a non-member makes `verify` exit 5
# with the reason.
source "$(dirname "$0")/lib.sh"
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
EDIT="python3 $(dirname "$0")/bundle_edit.py"
share() { # share FROM TO...: full export of FROM imported by the others
  local from=$1
  shift
  cs --home "$WORK/$from" export "$WORK/share.bundle" >/dev/null
  for n in "$@"; do cs --home "$WORK/$n" import "$WORK/share.bundle" >/dev/null; done
}

make_club a b c d e
share a b c d e
M=$(cs --home "$WORK/a" motion propose "Adopter la charte 2027" --quorum majority --effect "charte v2" | tail -1)
share a b c d e
# A copy of the admin's home will admit an outsider on a branch the club
# never sees, so that a ballot signed by a non-member can be made.
cp -r "$WORK/a" "$WORK/a2"
expect_eq "the electorate" "$(cs --home "$WORK/b" motion show "$M" --json | json 'd["electorate"]')" \
  "['Musée a', 'Musée b', 'Musée c', 'Musée d', 'Musée e']"
cs --home "$WORK/a" motion vote "$M" yes >/dev/null
cs --home "$WORK/b" motion vote "$M" no >/dev/null
cs --home "$WORK/b" motion vote "$M" yes >/dev/null # changed until counted
cs --home "$WORK/c" motion vote "$M" yes >/dev/null
cs --home "$WORK/d" motion vote "$M" abstain >/dev/null
cs --home "$WORK/e" motion vote "$M" no >/dev/null
for n in b c d e; do share "$n" a; done
expect_code "a member cannot resolve" 3 cs --home "$WORK/b" motion resolve "$M"
expect_code "the admin resolves" 0 cs --home "$WORK/a" motion resolve "$M"
grep -q "Adopted: 3 yes, 1 no, 1 abstain of 5 museums" "$WORK/last.out" && ok || fail "the count: $(cat "$WORK/last.out")"
share a b
expect_eq "b sees the resolution" "$(cs --home "$WORK/b" motion show "$M" --json | json 'd["resolution"]["outcome"]')" adopted
expect_code "no vote after the count" 1 cs --home "$WORK/b" motion vote "$M" no

expect_code "audit-bundle" 0 cs --home "$WORK/a" audit-bundle "$M" "$WORK/audit.bundle"
mkdir -p "$WORK/empty"
expect_code "verify in an empty home" 0 cs --home "$WORK/empty" verify "$WORK/audit.bundle"
grep -q "proposed by Musée a: Adopter la charte 2027" "$WORK/last.out" && grep -q "outcome: adopted" "$WORK/last.out" &&
  grep -q "Musée e *no" "$WORK/last.out" && ok || fail "verify prints who proposed, who voted what, the outcome: $(cat "$WORK/last.out")"
cs --home "$WORK/empty" verify "$WORK/audit.bundle" --json >"$WORK/verify.json"
expect_eq "counted ballots" "$(json 'sorted((v["museum"], v["choice"]) for v in d["votes"] if v["counted"])' <"$WORK/verify.json")" \
  "[('Musée a', 'yes'), ('Musée b', 'yes'), ('Musée c', 'yes'), ('Musée d', 'abstain'), ('Musée e', 'no')]"

# Governed effects: approving the charter takes an adopted motion.
D=$(cs --home "$WORK/a" doc add --title "Charte du club" --body "Article 1 ..." | tail -1)
expect_code "no approval without a decision" 3 cs --home "$WORK/a" doc status "$D" approved
grep -q "approve $D" "$WORK/last.err" && ok || fail "says which motion is needed: $(cat "$WORK/last.err")"
expect_code "a motion that decides something else does not do" 3 cs --home "$WORK/a" doc status "$D" approved --motion "$M"
A=$(cs --home "$WORK/a" motion propose "Approuver la charte" --effect "approve $D" | tail -1)
share a b c
for n in a b c; do cs --home "$WORK/$n" motion vote "$A" yes >/dev/null; done
for n in b c; do share "$n" a; done
cs --home "$WORK/a" motion resolve "$A" >/dev/null
expect_code "approval with the adopted motion" 0 cs --home "$WORK/a" doc status "$D" approved --motion "$A"
share a d
expect_eq "the approval holds on another node" "$(cs --home "$WORK/d" doc show "$D" --json | json 'd["status"]')" approved

# A flipped byte anywhere is caught: the header and trailer byte by byte,
# and 300 positions spread over the records (CS_FLIP_ALL=1 tries every byte).
result=$(python3 - "$CLUBSYNC" "$WORK/audit.bundle" "$WORK/flipped.bundle" "$WORK/empty" <<'PY'
import os, subprocess, sys
cs, src, dst, home = sys.argv[1:5]
data = open(src, "rb").read()
n = len(data)
if os.environ.get("CS_FLIP_ALL"):
    positions = range(n)
else:
    step = max(1, (n - 88) // 300)
    positions = sorted(set(list(range(44)) + list(range(44, n - 44, step)) + list(range(n - 44, n))))
caught = 0
for at in positions:
    b = bytearray(data)
    b[at] ^= 0x20
    open(dst, "wb").write(b)
    code = subprocess.run([cs, "--home", home, "verify", dst], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
    caught += code == 5
print(caught, len(positions))
PY
)
set -- $result
expect_eq "flipped bytes caught" "$1" "$2"

# A counted ballot dropped, with a valid trailer: the count cannot be checked.
dropped=$(json '[v["change"] for v in d["votes"] if v["counted"] and v["museum"] == "Musée e"][0]' <"$WORK/verify.json")
$EDIT "$WORK/audit.bundle" "$WORK/dropped.bundle" drop "$dropped"
expect_code "a dropped ballot" 5 cs --home "$WORK/empty" verify "$WORK/dropped.bundle"
grep -q "in the causal past of the resolution.*is missing from the bundle" "$WORK/last.err" && ok || fail "says which: $(cat "$WORK/last.err")"

# A ballot by a key the club never admitted: an outsider added on a copy of
# the admin's home votes; its signed ballot is slipped into the bundle.
new_node f "Musée f"
cs --home "$WORK/a2" member add "$(key_of f)" --museum "Musée f" --role member >/dev/null
cs --home "$WORK/a2" export "$WORK/a2.bundle" >/dev/null
cs --home "$WORK/f" import "$WORK/a2.bundle" >/dev/null
expect_code "the outsider votes on its branch" 0 cs --home "$WORK/f" motion vote "$M" yes
cs --home "$WORK/f" export "$WORK/f-all.bundle" >/dev/null
# f's own changes only: its vote.
python3 - "$WORK/f-all.bundle" "$WORK/f-vote.bundle" "$(key_of f)" <<'PY'
import hashlib, struct, sys
data = open(sys.argv[1], "rb").read()
header, recs, at = data[:44], [], 44
while True:
    (n,) = struct.unpack(">I", data[at:at + 4]); at += 4
    if n == 0: break
    recs.append(data[at:at + n]); at += n
key = bytes.fromhex(sys.argv[3])
mine = [r for r in recs if key in r[:200]]
body = bytearray(header)
for r in mine: body += struct.pack(">I", len(r)) + r
body += struct.pack(">I", 0) + struct.pack(">Q", len(mine))
body += hashlib.blake2b(bytes(body), digest_size=32).digest()
open(sys.argv[2], "wb").write(bytes(body))
PY
$EDIT "$WORK/audit.bundle" "$WORK/stuffed.bundle" add "$WORK/f-vote.bundle"
expect_code "a ballot by a non-member" 5 cs --home "$WORK/empty" verify "$WORK/stuffed.bundle"
grep -q "Musée f\|unknown key\|not a voting member" "$WORK/last.err" && ok || fail "says why: $(cat "$WORK/last.err")"
finish
