#!/usr/bin/env bash
# `backup FILE` and `restore FILE`: a node copied while `serve` runs and
# receives changes, brought back into an empty home, is whole (audit and
# verify pass), equals its source where nothing moved (digest and status),
# and syncs on as before. The file is a tar archive a person can read.
source "$(dirname "$0")/lib.sh"
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
# The club's counts of `status --json`, without what belongs to the process.
counts() {
  cs --home "$WORK/$1" status --json | json '[(c["name"], c["changes"], c["invalid"], c["pending"], c["objects"], c["members"], c["forks_count"], c["role"], c["peers"]) for c in d["clubs"]]'
}

make_club a b
M=$(cs --home "$WORK/a" motion propose "Adopter la charte 2027" --quorum majority | tail -1)
cs --home "$WORK/a" motion vote "$M" yes >/dev/null
serve_node a
serve_node b --peer "127.0.0.1:$(port_of a)"
wait_equal_digests 60 a b && ok || fail "a and b in sync before the backups"

# 1. Backups of b while a writes and b's serve receives: each one whole.
( for i in $(seq 1 40); do cs --home "$WORK/a" request add --title "Demande $i" --module Récolement >/dev/null 2>&1; done ) &
writer=$!
for i in 1 2 3; do
  expect_code "backup $i while serve syncs" 0 cs --home "$WORK/b" backup "$WORK/live$i.backup"
  sleep 0.3
done
wait "$writer"
[ -e "$WORK/live1.backup.tmp" ] || [ -e "$WORK/live1.backup.store.tmp" ] && fail "backup leaves a temporary file" || ok
for i in 1 2 3; do
  expect_code "restore $i into a new home" 0 cs --home "$WORK/r$i" restore "$WORK/live$i.backup"
  expect_code "audit of restore $i" 0 cs --home "$WORK/r$i" audit
  expect_eq "restore $i: same key" "$(cs --home "$WORK/r$i" whoami --json | json 'd["key"]')" "$(key_of b)"
done
# The restored node's motion, verified offline from its own audit bundle.
expect_code "audit-bundle from a restored node" 0 cs --home "$WORK/r1" audit-bundle "$M" "$WORK/motion.bundle"
expect_code "verify it" 0 cs --home "$WORK/empty" verify "$WORK/motion.bundle"

# 2. Once nothing moves, a backup equals its source: digest and status.
wait_equal_digests 60 a b && ok || fail "a and b in sync after the writes"
expect_code "backup at rest" 0 cs --home "$WORK/b" backup "$WORK/rest.backup"
expect_code "restore at rest" 0 cs --home "$WORK/rest" restore "$WORK/rest.backup"
expect_eq "digest of the restored node" "$(digest_of rest)" "$(digest_of b)"
expect_eq "status of the restored node" "$(counts rest)" "$(counts b)"
expect_eq "the default club" "$(cat "$WORK/rest/default-club" 2>/dev/null)" "$(cat "$WORK/b/default-club" 2>/dev/null)"

# 3. A node restored from a backup taken under load signs nothing before it
#    has synced (it would sign again the seqs it used since), then syncs on
#    to the club's state and writes without a fork.
stop_node b
expect_code "a restored node refuses to sign before a sync" 3 cs --home "$WORK/r1" request add --title "Trop tôt"
grep -q "restored from a backup" "$WORK/last.err" && ok || fail "the refusal says why: $(cat "$WORK/last.err")"
expect_code "member add is refused too" 3 cs --home "$WORK/r1" member add "$(key_of a)" --museum "Musée a" --role member
expect_code "the restored node syncs" 0 cs --home "$WORK/r1" sync "127.0.0.1:$(port_of a)"
expect_eq "digest after the sync" "$(digest_of r1)" "$(digest_of a)"
expect_code "then it writes" 0 cs --home "$WORK/r1" request add --title "Après la restauration"
expect_code "and a takes it" 0 cs --home "$WORK/r1" sync "127.0.0.1:$(port_of a)"
expect_eq "no fork at a" "$(cs --home "$WORK/a" status --json | json 'd["clubs"][0]["forks_count"]')" 0
expect_eq "digest after the write" "$(digest_of r1)" "$(digest_of a)"

# 4. The layout (docs/backup.md): a tar archive, owner-only files, that
#    `tar -xf` also restores by hand.
expect_eq "mode of the backup" "$(stat -c %a "$WORK/rest.backup")" 600
tar -tf "$WORK/rest.backup" >"$WORK/list.txt" && ok || fail "the backup is a tar archive"
for want in clubsync-backup identity store/data.mdb "keys/$(ls "$WORK/b/keys")"; do
  grep -qxF "$want" "$WORK/list.txt" && ok || fail "the backup holds $want"
done
mkdir -m 700 "$WORK/byhand" && tar -xf "$WORK/rest.backup" -C "$WORK/byhand"
expect_eq "restored by hand" "$(digest_of byhand)" "$(digest_of b)"

# 5. Refusals: a home that is not empty, a file that is no backup, no FILE.
expect_code "restore over a node" 1 cs --home "$WORK/b" restore "$WORK/rest.backup"
grep -q "not empty" "$WORK/last.err" && ok || fail "restore over a node says the home is not empty"
expect_eq "the node is untouched" "$(digest_of b)" "$(digest_of rest)"
head -c 3000 /dev/urandom >"$WORK/noise"
expect_code "restore of noise" 5 cs --home "$WORK/n" restore "$WORK/noise"
expect_eq "restore of noise: one line" "$(wc -l <"$WORK/last.err")" 1
printf 'x' >"$WORK/evil-name"
tar -cf "$WORK/evil.backup" -C "$WORK" evil-name 2>/dev/null
expect_code "restore of another archive" 5 cs --home "$WORK/e" restore "$WORK/evil.backup"
[ -e "$WORK/e/evil-name" ] && fail "restore wrote a file of another archive" || ok
expect_code "backup without FILE" 2 cs --home "$WORK/a" backup
expect_code "backup without a node" 1 cs --home "$WORK/nowhere" backup "$WORK/x.backup"
expect_code "backup into a missing folder" 1 cs --home "$WORK/a" backup "$WORK/no/such/dir/x.backup"
expect_eq "one line" "$(wc -l <"$WORK/last.err")" 1
finish
