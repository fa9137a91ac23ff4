#!/usr/bin/env bash
# Builds the libFuzzer binaries of tests/fuzz/fuzz_*.c into OUT_DIR
# (default build/fuzz), with clang, AddressSanitizer and UBSan. The project's
# core/, store/ and tools/web/ sources are compiled here directly (CMake only
# runs its script that embeds the web assets), and llhttp from Debian's
# node-llhttp sources, instrumented but without our warnings.
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
deps="libsodium msgpack libuv"
pkg-config --exists lmdb && deps="$deps lmdb"
llhttp_src="${CS_LLHTTP_SOURCE_DIR:-/usr/share/llhttp}"
llhttp_inc="${CS_LLHTTP_INCLUDE_DIR:-/usr/share/include/llhttp}"
if [ ! -f "$llhttp_src/llhttp.c" ] || [ ! -f "$llhttp_inc/llhttp.h" ]; then
  echo "build_fuzzers.sh: llhttp's sources are missing ($llhttp_src): run make deps (Debian's node-llhttp)" >&2
  exit 1
fi
# shellcheck disable=SC2086
base="-std=c11 -g -O1 -fno-omit-frame-pointer -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -I$root \
  -isystem $llhttp_inc -fsanitize=address,undefined -fno-sanitize-recover=undefined $(pkg-config --cflags $deps)"
cflags="$base -Wall -Wextra -Wshadow -Wstrict-prototypes -Wvla -Wconversion -Wno-sign-conversion"
# shellcheck disable=SC2086
libs="$(pkg-config --libs $deps) -llmdb -lpthread"

# The web assets, as CMake embeds them.
cmake -DCS_EMBED_SYMBOL=cs_web_assets -DCS_EMBED_DIR="$root/tools/web/assets" \
  -DCS_EMBED_OUTPUT="$out/obj/cs_web_assets.c" -P "$root/tools/web/embed.cmake"

# The library: instrumented for coverage, without libFuzzer's main.
objs=()
for src in "$root"/core/*.c "$root"/store/*.c "$root"/tools/web/*.c "$out/obj/cs_web_assets.c" \
           "$llhttp_src"/api.c "$llhttp_src"/http.c "$llhttp_src"/llhttp.c; do
  case "$src" in
    "$llhttp_src"/*) obj="$out/obj/llhttp_$(basename "${src%.c}").o"; flags="$base -w" ;;
    *) obj="$out/obj/$(basename "$(dirname "$src")")_$(basename "${src%.c}").o"; flags="$cflags" ;;
  esac
  if [ ! -f "$obj" ] || [ "$src" -nt "$obj" ] || [ "$0" -nt "$obj" ] || \
     [ -n "$(find "$root/core" "$root/store" "$root/tools/web" -name '*.h' -newer "$obj" 2>/dev/null | head -1)" ]; then
    # shellcheck disable=SC2086
    "$cc" $flags -fsanitize=fuzzer-no-link -c "$src" -o "$obj"
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
