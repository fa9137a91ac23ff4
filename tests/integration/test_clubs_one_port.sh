#!/usr/bin/env bash
# A node in several clubs serves them all on one port, and each club's data
# reaches only its members. The vendor V is in Club Un (with museum A) and
# in Club Deux (with museum B); A and B never share a club. All three run
# `serve`: A and B dial V's one port, each with its own club's network key.
# Writes on every side reach exactly their club's members, A and B each
# hold only their club, and the wire counts of every connection (changes
# sent, received, and refused as another club's) show that the connection
# opened with Club Un's key carried Club Un's changes only, each once, and
# the one opened with Club Deux's key Club Deux's only.
source "$(dirname "$0")/lib.sh"
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
club_ids() { cs --home "$WORK/$1" club list --json | json '" ".join(sorted(c["id"] for c in d))'; }
club_digest() { cs --home "$WORK/$1" --club "$2" digest 2>/dev/null || echo none; }
changes_of() { cs --home "$WORK/$1" --club "$2" status --json | json "[c['changes'] for c in d['clubs'] if c['id'] == '$2'][0]"; }
titles() { cs --home "$WORK/$1" --club "$2" request list --json | json '" | ".join(sorted(r["title"] for r in d))'; }
# wait_club SECONDS CLUB NODE NODE: until both nodes hold the same state of CLUB.
wait_club() {
  local deadline=$((SECONDS + $1))
  while [ $SECONDS -lt $deadline ]; do
    local x y
    x=$(club_digest "$3" "$2")
    y=$(club_digest "$4" "$2")
    [ "$x" != none ] && [ "$x" == "$y" ] && return 0
    sleep 0.2
  done
  return 1
}
# conn NODE CLUB FIELD: FIELD of NODE's only connection for CLUB, from status --json.
conn() {
  cs --home "$WORK/$1" status --json |
    json "' '.join(str(c['$3']) for c in d['peers'] if c['club'] == '$2') or 'none'"
}

new_node v "Éditeur V"
new_node a "Musée A"
new_node b "Musée B"
un=$(cs --home "$WORK/a" club create "Club Un" --software Flora | tail -1)
cs --home "$WORK/a" member add "$(key_of v)" --museum "Éditeur V" --role vendor >/dev/null
cs --home "$WORK/v" club join "$(cs --home "$WORK/a" club invite --role vendor | tail -1)" >/dev/null
deux=$(cs --home "$WORK/b" club create "Club Deux" --software Flora | tail -1)
cs --home "$WORK/b" member add "$(key_of v)" --museum "Éditeur V" --role vendor >/dev/null
cs --home "$WORK/v" club join "$(cs --home "$WORK/b" club invite --role vendor | tail -1)" >/dev/null
for k in 1 2 3; do cs --home "$WORK/a" request add --title "Un: demande $k" >/dev/null 2>&1; done
for k in 1 2; do cs --home "$WORK/b" request add --title "Deux: demande $k" >/dev/null 2>&1; done

# V listens on one port for both clubs; A and B dial it.
serve_node v
port=$(port_of v)
for club in "$un" "$deux"; do
  grep -q "listening on 127.0.0.1:$port for club ${club:0:8}" "$WORK/v.serve.log" && ok || fail "v listens for ${club:0:8}"
done
expect_eq "v listens once per club, on one port" "$(grep -c "listening on 127.0.0.1:$port for club" "$WORK/v.serve.log")" 2
serve_node a --peer "127.0.0.1:$port"
serve_node b --peer "127.0.0.1:$port"
wait_club 60 "$un" v a && ok || fail "v did not get Club Un from a"
wait_club 60 "$deux" v b && ok || fail "v did not get Club Deux from b"

# Writes on every side: V answers a request in each club; A and B file one more.
un_req=$(cs --home "$WORK/v" --club "$un" request list --json | json 'd[0]["id"]')
deux_req=$(cs --home "$WORK/v" --club "$deux" request list --json | json 'd[0]["id"]')
expect_code "v answers in Club Un" 0 cs --home "$WORK/v" --club "$un" request answer "$un_req" --answer "Prévu en 2027"
expect_code "v answers in Club Deux" 0 cs --home "$WORK/v" --club "Club Deux" request answer "$deux_req" --answer "Déjà livré"
cs --home "$WORK/a" request add --title "Un: écrite pendant serve" >/dev/null 2>&1
cs --home "$WORK/b" request add --title "Deux: écrite pendant serve" >/dev/null 2>&1
wait_club 60 "$un" v a && ok || fail "Club Un did not converge between v and a"
wait_club 60 "$deux" v b && ok || fail "Club Deux did not converge between v and b"
expect_eq "a got v's answer" "$(cs --home "$WORK/a" request show "$un_req" --json | json 'd["vendor_answer"]')" "Prévu en 2027"
expect_eq "b got v's answer" "$(cs --home "$WORK/b" request show "$deux_req" --json | json 'd["vendor_answer"]')" "Déjà livré"
expect_eq "v got a's new request" "$(titles v "$un")" "Un: demande 1 | Un: demande 2 | Un: demande 3 | Un: écrite pendant serve"
expect_eq "v got b's new request" "$(titles v "$deux")" "Deux: demande 1 | Deux: demande 2 | Deux: écrite pendant serve"

# Each museum holds only its club, and plain commands act on it.
expect_eq "a holds only Club Un" "$(club_ids a)" "$un"
expect_eq "b holds only Club Deux" "$(club_ids b)" "$deux"
expect_eq "a's requests are Club Un's" "$(cs --home "$WORK/a" request list --json | json '" | ".join(sorted(r["title"] for r in d))')" \
  "$(titles v "$un")"
expect_eq "b's requests are Club Deux's" "$(cs --home "$WORK/b" request list --json | json '" | ".join(sorted(r["title"] for r in d))')" \
  "$(titles v "$deux")"
expect_eq "v holds both clubs" "$(club_ids v)" "$(printf '%s\n' "$un" "$deux" | sort | paste -sd' ')"

# The wire counts. V has one connection per club, both incoming on its one
# port; what each carried, both ways, is exactly its club's changes: every
# change of Club Un went over the Club Un connection once (V wrote one of
# them, A all the others), and none of Club Deux; the same for Club Deux.
un_total=$(changes_of v "$un")
deux_total=$(changes_of v "$deux")
expect_eq "a holds as many Club Un changes as v" "$(changes_of a "$un")" "$un_total"
expect_eq "v's connections: one per club, incoming" \
  "$(conn v "$un" direction) $(conn v "$deux" direction)" "in in"
expect_eq "v sent on the Club Un connection its one Club Un change" "$(conn v "$un" changes_sent)" 1
expect_eq "v received on the Club Un connection every other Club Un change" "$(conn v "$un" changes_received)" \
  $((un_total - 1))
expect_eq "v sent on the Club Deux connection its one Club Deux change" "$(conn v "$deux" changes_sent)" 1
expect_eq "v received on the Club Deux connection every other Club Deux change" "$(conn v "$deux" changes_received)" \
  $((deux_total - 1))
expect_eq "a's one connection is for Club Un and carried the same" \
  "$(conn a "$un" direction) $(conn a "$un" changes_sent) $(conn a "$un" changes_received)" "out $((un_total - 1)) 1"
expect_eq "b's one connection is for Club Deux and carried the same" \
  "$(conn b "$deux" direction) $(conn b "$deux" changes_sent) $(conn b "$deux" changes_received)" \
  "out $((deux_total - 1)) 1"
expect_eq "a has no connection for Club Deux" "$(conn a "$deux" direction)" none
for n in v a b; do
  expect_eq "$n refused no change of another club" \
    "$(cs --home "$WORK/$n" status --json | json 'sum(c["other_club_refused"] for c in d["peers"])')" 0
  grep -q "another club" "$WORK/$n.serve.log" && fail "$n logged changes of another club" || ok
done
# status shows each club with its connection.
cs --home "$WORK/v" status >"$WORK/v.status"
grep -q "^club:   \"Club Un\" (${un:0:8})" "$WORK/v.status" && grep -q "^club:   \"Club Deux\" (${deux:0:8})" "$WORK/v.status" &&
  ok || fail "v's status lists both clubs: $(cat "$WORK/v.status")"
expect_eq "v's status shows one connection under each club" "$(grep -c "^        connected: " "$WORK/v.status")" 2

# A network key of no club V serves does not get past the hello.
new_node y "Musée Y"
mkdir -p "$WORK/y/keys" && head -c 32 /dev/urandom >"$WORK/y/keys/$un.netkey"
expect_code "a stranger's key is refused at the handshake" 1 cs --home "$WORK/y" sync "127.0.0.1:$port"
for _ in $(seq 1 50); do grep -q "network key of no club served here" "$WORK/v.serve.log" && break; sleep 0.1; done
grep -q "network key of no club served here" "$WORK/v.serve.log" && ok || fail "v says why it refused y"
expect_eq "y got nothing" "$(cs --home "$WORK/y" club list --json | json 'sum(c["changes"] for c in d)')" 0
finish
