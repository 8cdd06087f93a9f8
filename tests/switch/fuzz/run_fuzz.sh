#!/bin/sh
# Builds one libFuzzer target of the switch (core, VDE handshake, control protocol) with
# clang-14 and runs it briefly.
# usage: run_fuzz.sh SOURCE_DIR BUILD_DIR TARGET SECONDS
# The core must build under clang-14 + libstdc++ 12 (tl::expected, no std::expected).
set -e
SRC=$1 OUT=$2 T=$3 SECS=${4:-15}
CXX=${CLANGXX:-clang++-14}
if ! command -v "$CXX" >/dev/null; then
  echo "SKIP: $CXX not installed (Debian: clang-14 libclang-rt-14-dev)"; exit 77
fi
mkdir -p "$OUT/corpus-$T"
# The control protocol (nlohmann-json, slow to compile) only where it is fuzzed.
EXTRA=
[ "$T" = control_fuzz ] && EXTRA="$SRC/switch/control_proto.cc $SRC/base/text.cc"
# shellcheck disable=SC2086
"$CXX" -std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -I"$SRC" \
  "$SRC/tests/switch/fuzz/$T.cc" "$SRC/switch/frame.cc" "$SRC/switch/vlan.cc" \
  "$SRC/switch/fdb.cc" "$SRC/switch/forwarder.cc" "$SRC/switch/vde_proto.cc" \
  "$SRC/base/error.cc" $EXTRA -o "$OUT/$T"
# Seeds, where a target has them (tests/switch/fuzz/seeds-TARGET: read, never written).
SEEDS="$SRC/tests/switch/fuzz/seeds-$T"
[ -d "$SEEDS" ] || SEEDS=
# libFuzzer's own error exit code is 77, which ctest would read as "skipped".
# -timeout: one input taking seconds is a hang in the switch's event loop.
exec "$OUT/$T" -max_total_time="$SECS" -max_len=9300 -timeout=10 -error_exitcode=1 \
  -artifact_prefix="$OUT/" -print_final_stats=1 "$OUT/corpus-$T" $SEEDS
