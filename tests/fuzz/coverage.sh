#!/usr/bin/env bash
# Line coverage of the fuzz harnesses over their corpora, with clang's
# source-based coverage: each harness is built with the replay main (no
# libFuzzer), run over the committed corpus and over what libFuzzer found
# (build/fuzz/corpus/<target>, when present), and llvm-cov reports per file.
#
#   tests/fuzz/coverage.sh [OUT_DIR]      (default build/fuzz-cov)
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
out="${1:-$root/build/fuzz-cov}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
cc="${CLANG:-clang}"
profdata="$(command -v llvm-profdata || command -v llvm-profdata-14)"
llvmcov="$(command -v llvm-cov || command -v llvm-cov-14)"
deps="libsodium msgpack libuv"
llhttp_src="${CS_LLHTTP_SOURCE_DIR:-/usr/share/llhttp}"
llhttp_inc="${CS_LLHTTP_INCLUDE_DIR:-/usr/share/include/llhttp}"
# shellcheck disable=SC2086
cflags="-std=c11 -g -O0 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -I$root -isystem $llhttp_inc \
  -fprofile-instr-generate -fcoverage-mapping $(pkg-config --cflags $deps)"
# shellcheck disable=SC2086
libs="$(pkg-config --libs $deps) -llmdb -lpthread"
cmake -DCS_EMBED_SYMBOL=cs_web_assets -DCS_EMBED_DIR="$root/tools/web/assets" \
  -DCS_EMBED_OUTPUT="$out/cs_web_assets.c" -P "$root/tools/web/embed.cmake"
web=("$root"/tools/web/*.c "$out/cs_web_assets.c" "$llhttp_src"/api.c "$llhttp_src"/http.c "$llhttp_src"/llhttp.c)
rm -f "$out"/*.profraw
bins=()
for harness in "$root"/tests/fuzz/fuzz_*.c; do
  name="$(basename "${harness%.c}")"
  target="${name#fuzz_}"
  # shellcheck disable=SC2086
  "$cc" $cflags -w "$harness" "$root/tests/fuzz/replay_main.c" "$root"/core/*.c "$root"/store/*.c "${web[@]}" \
    $libs -o "$out/$name"
  dirs=("$root/tests/fuzz/corpus/$target")
  [ -d "$root/build/fuzz/corpus/$target" ] && dirs+=("$root/build/fuzz/corpus/$target")
  LLVM_PROFILE_FILE="$out/$name.profraw" "$out/$name" "${dirs[@]}" >/dev/null
  bins+=("-object" "$out/$name")
done
"$profdata" merge -sparse "$out"/*.profraw -o "$out/all.profdata"
# shellcheck disable=SC2068
"$llvmcov" report -instr-profile="$out/all.profdata" ${bins[@]:1} "$root"/core/*.c "$root"/store/*.c "$root"/tools/web/*.c
