#!/bin/sh
# Builds one libFuzzer target of the switch core with clang-14 and runs it briefly.
# usage: run_fuzz.sh SOURCE_DIR BUILD_DIR TARGET SECONDS
# The core must build under clang-14 + libstdc++ 12 (tl::expected, no std::expected).
set -e
SRC=$1 OUT=$2 T=$3 SECS=${4:-15}
CXX=${CLANGXX:-clang++-14}
if ! command -v "$CXX" >/dev/null; then
  echo "SKIP: $CXX not installed (Debian: clang-14 libclang-rt-14-dev)"; exit 77
fi
mkdir -p "$OUT/corpus-$T"
"$CXX" -std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -I"$SRC" \
  "$SRC/tests/switch/fuzz/$T.cc" "$SRC/switch/frame.cc" "$SRC/switch/vlan.cc" \
  "$SRC/switch/fdb.cc" "$SRC/switch/forwarder.cc" "$SRC/switch/vde_proto.cc" \
  "$SRC/base/error.cc" -o "$OUT/$T"
# libFuzzer's own error exit code is 77, which ctest would read as "skipped".
exec "$OUT/$T" -max_total_time="$SECS" -max_len=9300 -error_exitcode=1 \
  -artifact_prefix="$OUT/" -print_final_stats=1 "$OUT/corpus-$T"
