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

say "The signed history, verifiable by anyone"
cs --home "$DEMO/fabre" audit
