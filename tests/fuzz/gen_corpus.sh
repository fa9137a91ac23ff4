#!/usr/bin/env bash
# Builds tests/fuzz/gen_corpus.c and rewrites the seed-* files of every
# corpus under tests/fuzz/corpus/ (regress-* files are left alone).
#   tests/fuzz/gen_corpus.sh [OUT_DIR]
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
out="${1:-$root/tests/fuzz/corpus}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
cc="${CC:-cc}"
# shellcheck disable=SC2046
"$cc" -std=c11 -O1 -g -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -I"$root" \
  -Wall -Wextra -Wshadow -Wstrict-prototypes -Wvla -Wconversion -Wno-sign-conversion \
  "$root/tests/fuzz/gen_corpus.c" "$root"/core/*.c \
  $(pkg-config --cflags --libs libsodium msgpack) -o "$tmp/gen_corpus"
find "$out" -name 'seed-*' -delete 2>/dev/null || true
"$tmp/gen_corpus" "$out"
