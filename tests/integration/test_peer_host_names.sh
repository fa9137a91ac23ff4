#!/usr/bin/env bash
# Host names wherever a peer's address is taken: `serve --peer HOST:PORT`,
# `peer add HOST:PORT`, `sync HOST:PORT` and the addresses an invitation
# carries. The name is looked up when it is dialed (libuv's getaddrinfo),
# so a name that does not resolve yet is still saved; when it cannot be
# found, the message names the host and what to check.
source "$(dirname "$0")/lib.sh"

make_club a b c d
cs --home "$WORK/a" request add --title "Inventaire réglementaire" >/dev/null
serve_node a
PA=$(port_of a)

# 1. sync once with localhost:PORT.
expect_code "sync localhost" 0 cs --home "$WORK/b" sync "localhost:$PA"
grep -q "In sync with localhost:$PA" "$WORK/last.out" && ok || fail "sync names the host: $(cat "$WORK/last.out")"
expect_eq "b after sync localhost" "$(digest_of b)" "$(digest_of a)"

# 2. A peer saved by name, dialed by serve.
expect_code "peer add localhost" 0 cs --home "$WORK/b" peer add "localhost:$PA"
grep -qx "localhost:$PA" <(cs --home "$WORK/b" peer list) && ok || fail "peer list shows the name"
serve_node b
cs --home "$WORK/a" request add --title "Export Joconde/POP" >/dev/null
wait_equal_digests 60 a b && ok || fail "serve syncs with a peer saved as localhost:PORT"

# 3. serve --peer HOST:PORT.
serve_node c --peer "localhost:$PA"
wait_equal_digests 60 a c && ok || fail "serve --peer localhost:PORT syncs"
grep -q "is not an IP address" "$WORK/c.serve.log" "$WORK/b.serve.log" && fail "a host name is refused" || ok

# 4. An invitation carries a peer saved by name; the museum that joins dials it.
cs --home "$WORK/a" peer add "localhost:$(port_of b)" >/dev/null
code=$(cs --home "$WORK/a" club invite | tail -1)
rm -rf "$WORK/d/keys" "$WORK/d/clubs"
expect_code "join with a named peer" 0 cs --home "$WORK/d" club join "$code"
grep -qx "localhost:$(port_of b)" <(cs --home "$WORK/d" peer list) && ok || fail "join saves the named peer"
serve_node d
wait_equal_digests 60 a b c d && ok || fail "d syncs through the invitation's addresses"

# 5. A name that cannot be found: one line naming it and what to check.
expect_code "sync to an unknown host" 1 timeout 60 "$CLUBSYNC" --home "$WORK/b" sync nosuchhost.invalid:7450
expect_eq "one line" "$(wc -l <"$WORK/last.err")" 1
grep -q "cannot find the host nosuchhost.invalid" "$WORK/last.err" && grep -q "DNS" "$WORK/last.err" && ok ||
  fail "the message names the host and the DNS: $(cat "$WORK/last.err")"
expect_code "peer add of a name not resolved yet" 0 cs --home "$WORK/c" peer add nosuchhost.invalid:7450
stop_node c
serve_node c --peer "localhost:$PA"
for _ in $(seq 1 50); do grep -q "cannot find the host nosuchhost.invalid" "$WORK/c.serve.log" && break; sleep 0.2; done
grep -q "cannot find the host nosuchhost.invalid" "$WORK/c.serve.log" && ok || fail "serve logs the unknown host"
cs --home "$WORK/a" request add --title "Constats d'état" >/dev/null
wait_equal_digests 60 a c && ok || fail "serve goes on syncing with the other peers"
expect_code "a wildcard is still no peer" 2 cs --home "$WORK/c" peer add 0.0.0.0:7450
finish
