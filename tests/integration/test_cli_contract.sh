#!/usr/bin/env bash
# The command's contract (../shared/design/cli.md): exit codes, one-line
# errors, peers added and removed, JSON keys, owner-only key files, and a full
# store refused cleanly.
source "$(dirname "$0")/lib.sh"

# Usage errors: exit 2 with one line.
expect_code "no command" 2 cs --home "$WORK/x"
expect_code "unknown command" 2 cs --home "$WORK/x" frobnicate
expect_code "unknown option" 2 cs --home "$WORK/x" init --museum A --colour blue
expect_code "init without museum" 2 cs --home "$WORK/x" init
[ "$(wc -l <"$WORK/last.err")" == 1 ] && grep -q '^clubsync: error: ' "$WORK/last.err" && ok || fail "one-line error"

# A missing home: exit 1 and what to do.
expect_code "missing home" 1 cs --home "$WORK/nowhere" request list
grep -q "clubsync init" "$WORK/last.err" && ok || fail "missing home says to run init"

new_node a "Musée A"
new_node o "Musée Observateur"
expect_code "second init in one home" 1 cs --home "$WORK/a" init --museum B
expect_code "no club yet" 4 cs --home "$WORK/a" request list
club=$(cs --home "$WORK/a" club create "Club" --software Flora | tail -1)
[[ "$club" =~ ^[0-9a-f]{64}$ ]] && ok || fail "club id is 64 hex: $club"

# Peers: added, listed, removed; removing one the club does not have is
# "not found"; a bad --listen is a usage error of one line, before serve starts.
expect_code "peer add" 0 cs --home "$WORK/a" peer add 192.0.2.10:7450
expect_eq "peer list" "$(cs --home "$WORK/a" peer list)" "192.0.2.10:7450"
expect_code "peer remove" 0 cs --home "$WORK/a" peer remove 192.0.2.10:7450
expect_eq "no peer left" "$(cs --home "$WORK/a" peer list | grep -c 192.0.2.10 || true)" 0
expect_code "peer remove of no peer" 4 cs --home "$WORK/a" peer remove 192.0.2.10:7450
expect_code "peer remove without an address" 2 cs --home "$WORK/a" peer remove
grep -q "^peer .*remove HOST:PORT" <(cs --help) && ok || fail "--help lists peer remove"
for bad in nope 127.0.0.1:99999 127.0.0.1:port :7450; do
  expect_code "--listen $bad" 2 timeout 10 "$CLUBSYNC" --home "$WORK/a" serve --listen "$bad"
  [ "$(wc -l <"$WORK/last.err")" == 1 ] && grep -q '^clubsync: error: --listen' "$WORK/last.err" && ok ||
    fail "--listen $bad: one line: $(cat "$WORK/last.err")"
done

# Owner-only key files; the secret key is never printed.
expect_eq "identity mode" "$(stat -c %a "$WORK/a/identity")" 600
expect_eq "network key mode" "$(stat -c %a "$WORK/a/keys/$club.netkey")" 600

# JSON keys that scripts rely on.
json() { python3 -c "import json,sys; d=json.load(sys.stdin); $1"; }
expect_eq "whoami json" "$(cs --home "$WORK/a" whoami --json | json 'print(sorted(k for k in d if k in ("key","museum")))')" "['key', 'museum']"
cs --home "$WORK/a" member add "$(key_of o)" --museum "Musée Observateur" --role observer >/dev/null
expect_eq "member list json" "$(cs --home "$WORK/a" member list --json | json 'print(sorted(d[0].keys()))')" "['key', 'museum', 'role']"
req=$(cs --home "$WORK/a" request add --title "Inventaire réglementaire" --body "En tant que régisseur…" | tail -1)
[[ "$req" =~ ^[0-9a-f]{64}$ ]] && ok || fail "request id is 64 hex: $req"
expect_eq "request list json" "$(cs --home "$WORK/a" request list --json | json 'print(sorted(set(("id","title","status","module","points","supporters")) - set(d[0])))')" "[]"
expect_eq "request show json" "$(cs --home "$WORK/a" request show "${req:0:8}" --json | json 'print(type(d["conflicts"]).__name__, type(d["comments"]).__name__, d["title"])')" "dict list Inventaire réglementaire"

# Not found, ambiguous and invalid ids.
expect_code "unknown request" 4 cs --home "$WORK/a" request show ffffffffff
expect_code "short prefix" 2 cs --home "$WORK/a" request show abc
expect_code "bad status" 2 cs --home "$WORK/a" request status "${req:0:8}" teleported

# Not authorised: an observer comments but cannot file; a non-admin cannot add members.
cs --home "$WORK/a" export "$WORK/club.bundle" >/dev/null
cs --home "$WORK/o" import "$WORK/club.bundle" >/dev/null
expect_code "observer files a request" 3 cs --home "$WORK/o" request add --title "Non"
expect_code "observer comments" 0 cs --home "$WORK/o" request comment "${req:0:8}" "Bonne idée"
expect_code "observer adds a member" 3 cs --home "$WORK/o" member add "$(key_of a)" --museum X --role member

# Invalid data: a file that is not a bundle.
echo "hello" >"$WORK/not.bundle"
expect_code "not a bundle" 5 cs --home "$WORK/a" import "$WORK/not.bundle"

# A full store: the import stops with a clear error, and what was there stays.
for i in $(seq 1 80); do cs --home "$WORK/a" request add --title "Demande $i" --body "$(head -c 14000 /dev/zero | tr "\\0" x)" >/dev/null; done
cs --home "$WORK/a" export "$WORK/big.bundle" >/dev/null
new_node f "Musée plein"
cs --home "$WORK/f" import "$WORK/club.bundle" >/dev/null
before=$(digest_of f)
CLUBSYNC_STORE_MAP_MIB=1 expect_code "import into a full store" 1 env CLUBSYNC_STORE_MAP_MIB=1 "$CLUBSYNC" --home "$WORK/f" import "$WORK/big.bundle"
grep -q "full" "$WORK/last.err" && ok || fail "full store message: $(cat "$WORK/last.err")"
expect_code "audit after a full store" 0 cs --home "$WORK/f" audit
cs --home "$WORK/f" import "$WORK/big.bundle" >/dev/null
expect_eq "import completes once there is room" "$(digest_of f)" "$(digest_of a)"
[ "$before" != "$(digest_of f)" ] && ok || fail "digest moved after the import"
finish
