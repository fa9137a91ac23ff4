#!/usr/bin/env bash
# Builds the libFuzzer binaries of tests/fuzz/fuzz_*.c into OUT_DIR
# (default build/fuzz), with clang, AddressSanitizer and UBSan. The project's
# core/ and store/ sources are compiled here directly, no CMake needed.
#
#   tests/fuzz/build_fuzzers.sh [OUT_DIR]
#   build/fuzz/fuzz_change -max_total_time=300 build/fuzz/corpus/change tests/fuzz/corpus/change
#
# Run a fuzzer with a scratch corpus directory first (new inputs go there)
# and the committed corpus second (read only); docs/reliability.md has the
# commands and what each harness checks.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
out="${1:-$root/build/fuzz}"
mkdir -p "$out/obj"
out="$(cd "$out" && pwd)"
cc="${CLANG:-clang}"
if ! command -v "$cc" >/dev/null; then
  echo "build_fuzzers.sh: $cc not found (set CLANG=clang-14 or install clang)" >&2
  exit 1
fi
deps="libsodium msgpack"
pkg-config --exists lmdb && deps="$deps lmdb"
# shellcheck disable=SC2086
cflags="-std=c11 -g -O1 -fno-omit-frame-pointer -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -I$root \
  -Wall -Wextra -Wshadow -Wstrict-prototypes -Wvla -Wconversion -Wno-sign-conversion \
  -fsanitize=address,undefined -fno-sanitize-recover=undefined $(pkg-config --cflags $deps)"
# shellcheck disable=SC2086
libs="$(pkg-config --libs $deps) -llmdb -lpthread"

# The library: instrumented for coverage, without libFuzzer's main.
objs=()
for src in "$root"/core/*.c "$root"/store/*.c; do
  obj="$out/obj/$(basename "$(dirname "$src")")_$(basename "${src%.c}").o"
  if [ ! -f "$obj" ] || [ "$src" -nt "$obj" ] || [ "$0" -nt "$obj" ] || \
     [ -n "$(find "$root/core" "$root/store" -name '*.h' -newer "$obj" 2>/dev/null | head -1)" ]; then
    # shellcheck disable=SC2086
    "$cc" $cflags -fsanitize=fuzzer-no-link -c "$src" -o "$obj"
  fi
  objs+=("$obj")
done
rm -f "$out/libcs_fuzz.a"
ar rcs "$out/libcs_fuzz.a" "${objs[@]}"

built=0
for harness in "$root"/tests/fuzz/fuzz_*.c; do
  name="$(basename "${harness%.c}")"
  # shellcheck disable=SC2086
  "$cc" $cflags -fsanitize=fuzzer "$harness" "$out/libcs_fuzz.a" $libs -o "$out/$name"
  mkdir -p "$out/corpus/${name#fuzz_}"
  built=$((built + 1))
  echo "built $out/$name"
done
echo "$built fuzzers in $out; run e.g.:"
echo "  $out/fuzz_change -max_total_time=300 $out/corpus/change $root/tests/fuzz/corpus/change"
