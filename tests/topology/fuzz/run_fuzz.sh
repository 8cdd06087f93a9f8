#!/bin/sh
# Builds the host.toml fuzz target (topology -> plan -> codec) with clang-14 and
# ASan/UBSan, then runs it for a bounded time, seeded with the malformed corpus and the
# shipped files. usage: run_fuzz.sh SOURCE_DIR BUILD_DIR SECONDS
set -e
SRC=$1 OUT=$2 SECS=${3:-30}
CXX=${CLANGXX:-clang++-14}
if ! command -v "$CXX" >/dev/null; then
  echo "SKIP: $CXX not installed (Debian: clang-14 libclang-rt-14-dev)"; exit 77
fi
mkdir -p "$OUT/corpus-host_toml" "$OUT/seeds"
# seeds: every .toml the project has, good and bad (libFuzzer reads folders, not globs)
for d in tests/topology/malformed examples scenarios; do
  for f in "$SRC/$d"/*.toml; do cp "$f" "$OUT/seeds/$(echo "$d" | tr / _)-$(basename "$f")"; done
done
# One object per source, two compilers at a time (CI has 2 cores), then one link.
rm -rf "$OUT/obj" && mkdir -p "$OUT/obj"  # no object of a source since removed
CXXFLAGS="-std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -I$SRC $(pkg-config --cflags tomlplusplus libmnl)"
export CXX CXXFLAGS OUT
ls "$SRC/tests/topology/fuzz/host_toml_fuzz.cc" "$SRC"/base/*.cc "$SRC"/topology/*.cc \
   "$SRC"/topology/kinds/*.cc "$SRC"/plan/*.cc "$SRC/netlink/codec.cc" |
  xargs -P 2 -I{} sh -c '"$CXX" $CXXFLAGS -c "$1" -o "$OUT/obj/$(echo "$1" | tr / _).o"' _ {}
# shellcheck disable=SC2046
"$CXX" -fsanitize=fuzzer,address,undefined "$OUT"/obj/*.o \
  $(pkg-config --libs tomlplusplus libmnl) -o "$OUT/host_toml_fuzz"
# libFuzzer's own error exit code is 77, which ctest would read as "skipped".
VNET_SOURCE_DIR="$SRC" exec "$OUT/host_toml_fuzz" -max_total_time="$SECS" -max_len=8192 \
  -timeout=10 -rss_limit_mb=2048 -error_exitcode=1 -artifact_prefix="$OUT/" \
  -print_final_stats=1 "$OUT/corpus-host_toml" "$OUT/seeds"
