#!/usr/bin/env bash
# Scenario runner benchmark (run by hand, as root; numbers are ratios within one run).
#  1. scenarios/flat.toml end to end (setup, 8 checks, teardown): `vnet scenario run`
#     vs flat_ipbatch.sh (the same lab through `ip -batch`, the same checks with
#     ping/arping/a tcp connect, one after another as a script does them).
#  2. mininet 2.3 on a Linux bridge (`mn --switch lxbr --controller none --topo single,N
#     --test pingall`) vs vnet on the same topology and pings (gen_single.py N), whole
#     process each. Needs the Debian packages mininet and bridge-utils.
# Runs alternate between the two sides (A B A B ...) so machine noise hits both; the
# median of RUNS is reported.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
vnet=${VNET:-$top/build/vnet}
runs=${RUNS:-7}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"; mn -c >/dev/null 2>&1 || true' EXIT

now() { date +%s.%N; }
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
timeit() {  # timeit FILE CMD... : appends the wall time of CMD to FILE
  local out=$1; shift
  local t0; t0=$(now)
  "$@" >/dev/null 2>&1 || { echo "bench: failed: $*" >&2; exit 1; }
  echo "$(now) - $t0" | bc >>"$out"
}
compare() {  # compare LABEL A-FILE B-FILE A-NAME B-NAME
  local a b; a=$(median <"$2"); b=$(median <"$3")
  printf '%-28s %-10s %8.3f s   %-12s %8.3f s   ratio %.2f\n' "$1" "$4" "$a" "$5" "$b" \
    "$(echo "$a / $b" | bc -l)"
}

echo "vnet scenario benchmark: $runs runs each, medians; $(nproc) cores, kernel $(uname -r)"
for i in $(seq "$runs"); do
  timeit "$tmp/flat.vnet" "$vnet" scenario run "$top/scenarios/flat.toml"
  timeit "$tmp/flat.ip" bash "$here/flat_ipbatch.sh" "fb$$-$i-"
done
compare "flat.toml (8 checks)" "$tmp/flat.vnet" "$tmp/flat.ip" vnet ip-batch

if command -v mn >/dev/null && command -v brctl >/dev/null; then
  for n in 2 3 20; do
    python3 "$here/gen_single.py" "$n" >"$tmp/single$n.toml"
    for i in $(seq "$runs"); do
      timeit "$tmp/s$n.vnet" "$vnet" scenario run "$tmp/single$n.toml"
      timeit "$tmp/s$n.mn" mn --switch lxbr --controller none --topo "single,$n" --test pingall
    done
    compare "single,$n pingall ($((n * (n - 1))) pings)" "$tmp/s$n.vnet" "$tmp/s$n.mn" vnet mininet
  done
else
  echo "mininet comparison skipped: install the Debian packages mininet and bridge-utils"
fi
