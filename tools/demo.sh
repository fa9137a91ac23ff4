#!/usr/bin/env bash
# `make demo`: three museums in temporary homes write feature requests on
# their own, exchange bundle files, and end with the same club state.
set -euo pipefail
CLUBSYNC=${1:-build/bin/clubsync}
DEMO=$(mktemp -d /tmp/clubsync-demo-XXXXXX)
trap 'rm -rf "$DEMO"' EXIT
cs() { "$CLUBSYNC" "$@"; }
say() { printf '\n== %s\n' "$*"; }

say "Three museums create their nodes"
for m in augustins fabre orsay; do
  cs --home "$DEMO/$m" init --museum "Musée $m" --region Occitanie | tail -1 >"$DEMO/$m.key"
  echo "Musée $m: $(cat "$DEMO/$m.key")"
done

say "The Augustins create the club and add the two others"
cs --home "$DEMO/augustins" club create "Club des utilisateurs de Flora" --software Flora | head -1
cs --home "$DEMO/augustins" member add "$(cat "$DEMO/fabre.key")" --museum "Musée fabre" --role member | head -1
cs --home "$DEMO/augustins" member add "$(cat "$DEMO/orsay.key")" --museum "Musée orsay" --role member | head -1
cs --home "$DEMO/augustins" export "$DEMO/club.bundle"
for m in fabre orsay; do cs --home "$DEMO/$m" import "$DEMO/club.bundle" | tail -1; done

say "Each museum files requests on its own, offline"
cs --home "$DEMO/augustins" request add --title "Export Joconde/POP des notices" --module export --tag pop | head -1
cs --home "$DEMO/fabre" request add --title "Campagne de récolement sur tablette" --module récolement | head -1
cs --home "$DEMO/fabre" request add --title "Constat d'état avec photos annotées" --module "constat d'état" | head -1
cs --home "$DEMO/orsay" request add --title "Mouvements: bordereau de prêt PDF" --module prêts | head -1

say "They exchange bundle files (a USB stick, an e-mail)"
for m in augustins fabre orsay; do cs --home "$DEMO/$m" export "$DEMO/$m.bundle"; done
for m in augustins fabre orsay; do
  for other in augustins fabre orsay; do
    [ "$m" = "$other" ] || cs --home "$DEMO/$m" import "$DEMO/$other.bundle" >/dev/null
  done
done

say "The merged list of requests, as every museum now sees it"
cs --home "$DEMO/orsay" request list

say "Equal digests: byte-identical club state on the three nodes"
for m in augustins fabre orsay; do printf '%-10s %s\n' "$m" "$(cs --home "$DEMO/$m" digest)"; done

say "Now over the network: the Augustins serve on 127.0.0.1, the others connect to them"
KEYCODE=$(cs --home "$DEMO/augustins" club invite | tail -1)
for m in fabre orsay; do cs --home "$DEMO/$m" club join "$KEYCODE" >/dev/null; done
cs --home "$DEMO/augustins" serve --listen 127.0.0.1:0 --log-level warn >"$DEMO/augustins.log" 2>&1 &
PIDS="$!"
trap 'kill $PIDS 2>/dev/null; wait 2>/dev/null; rm -rf "$DEMO"' EXIT
for _ in $(seq 1 50); do [ -s "$DEMO/augustins/serve.port" ] && break; sleep 0.1; done
PORT=$(cat "$DEMO/augustins/serve.port")
for m in fabre orsay; do
  cs --home "$DEMO/$m" serve --peer "127.0.0.1:$PORT" --listen 127.0.0.1:0 --log-level warn >"$DEMO/$m.log" 2>&1 &
  PIDS="$PIDS $!"
done
sleep 1
cs --home "$DEMO/orsay" request add --title "Export des constats d'état en PDF" --module "constat d'état" | head -1
echo "(written at Orsay; Fabre never talks to Orsay directly: the Augustins relay it)"
for _ in $(seq 1 50); do
  [ "$(cs --home "$DEMO/fabre" digest)" = "$(cs --home "$DEMO/orsay" digest)" ] && break
  sleep 0.2
done
cs --home "$DEMO/fabre" request list
for m in augustins fabre orsay; do printf '%-10s %s\n' "$m" "$(cs --home "$DEMO/$m" digest)"; done

say "The signed history, verifiable by anyone"
cs --home "$DEMO/fabre" audit
