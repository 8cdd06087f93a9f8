#!/bin/bash
# bench/apply: vnet apply against `ip -batch` doing the same operations with the same end
# state, in fresh namespaces, N veth pairs each enslaved to one bridge and up, IPv6
# link-local off on ports and peers (facts.md: otherwise O(N^2) DAD/MLD floods dominate).
# A Linux bridge takes at most 1024 ports (BR_MAX_PORTS; beyond, enslaving fails with
# EXFULL), so above 1000 pairs both sides use one bridge per 1000 ports.
# Run by hand as root:  bench/apply/run.sh [VNET_BINARY] [N...]
# Prints per N: vnet time, ip-batch time, ratio, no-op re-apply time, time per object;
# then `vnet destroy` against `ip -batch` deleting the same links (bridges and host ends
# of the veths; each peer goes with its veth), from the states the two applies built.
set -euo pipefail
VNET=${1:-$(dirname "$0")/../../build/vnet}
shift || true
SIZES=${*:-100 1000 4000}
TMP=$(mktemp -d /run/vnet-bench.XXXXXX)
PFX=vbench$$
cleanup() {
  for ns in $(ip netns list | awk '{print $1}' | grep "^$PFX" || true); do ip netns del "$ns"; done
  rm -rf "$TMP" /run/vnet/netns/bench@$PFX-* 2>/dev/null || true
}
trap cleanup EXIT

now() { date +%s.%N; }
elapsed() { echo "$2 - $1" | bc -l; }

printf "%6s %10s %10s %8s %12s %12s %12s %10s %10s %8s\n" N vnet_s ipbatch_s ratio noop_ms vnet_us/obj ip_us/obj \
  destroy_s ipdel_s ratio
for N in $SIZES; do
  # host.toml
  {
    echo '[host]'; echo 'name = "bench"'
    for ((b = 0; b * 1000 < N; b++)); do echo "[bridges.br$b]"; done
    for ((i = 0; i < N; i++)); do
      printf '[veths.v%d]\npeer = "p%d"\nbridge = "br%d"\npeer_link_local = "none"\n' $i $i $((i / 1000))
    done
  } > "$TMP/host-$N.toml"
  # the same end state with ip -batch (the mark included: vnet sets it too)
  {
    for ((b = 0; b * 1000 < N; b++)); do
      echo "link add name br$b type bridge"
      echo "link set br$b alias vnet:bench"
      echo "link set br$b up"
    done
    for ((i = 0; i < N; i++)); do
      echo "link add name v$i type veth peer name p$i"
      echo "link set v$i alias vnet:bench"
      echo "link set v$i addrgenmode none"
      echo "link set p$i addrgenmode none"
      echo "link set v$i master br$((i / 1000))"
      echo "link set v$i up"
      echo "link set p$i up"
    done
  } > "$TMP/batch-$N"

  ip netns add "$PFX-v$N"
  t0=$(now); "$VNET" --netns "$PFX-v$N" apply "$TMP/host-$N.toml" > /dev/null; t1=$(now)
  vnet_s=$(elapsed "$t0" "$t1")
  best=999
  for r in 1 2 3 4 5; do
    t0=$(now); out=$("$VNET" --netns "$PFX-v$N" apply "$TMP/host-$N.toml"); t1=$(now)
    [ "$out" = "no changes" ] || { echo "re-apply at N=$N did not say 'no changes': $out" >&2; exit 1; }
    e=$(elapsed "$t0" "$t1"); if (( $(echo "$e < $best" | bc -l) )); then best=$e; fi
  done
  noop_ms=$(echo "$best * 1000" | bc -l)

  ip netns add "$PFX-i$N"
  t0=$(now); ip -n "$PFX-i$N" -batch "$TMP/batch-$N"; t1=$(now)
  ip_s=$(elapsed "$t0" "$t1")

  # same end state: links, masters, up, addrgenmode
  a=$(ip -n "$PFX-v$N" -o -d link show | wc -l); b=$(ip -n "$PFX-i$N" -o -d link show | wc -l)
  [ "$a" = "$b" ] || echo "warning: link counts differ ($a vs $b)" >&2

  {
    for ((i = 0; i < N; i++)); do echo "link del v$i"; done
    for ((b = 0; b * 1000 < N; b++)); do echo "link del br$b"; done
  } > "$TMP/del-$N"
  t0=$(now); "$VNET" --netns "$PFX-v$N" destroy "$TMP/host-$N.toml" > /dev/null; t1=$(now)
  destroy_s=$(elapsed "$t0" "$t1")
  t0=$(now); ip -n "$PFX-i$N" -batch "$TMP/del-$N"; t1=$(now)
  ipdel_s=$(elapsed "$t0" "$t1")
  left=$(ip -n "$PFX-v$N" -o link show | wc -l)
  [ "$left" = 1 ] || echo "warning: $left links left after vnet destroy (lo only expected)" >&2

  printf "%6d %10.3f %10.3f %8.2f %12.1f %12.1f %12.1f %10.3f %10.3f %8.3f\n" "$N" "$vnet_s" "$ip_s" \
    "$(echo "$vnet_s / $ip_s" | bc -l)" "$noop_ms" \
    "$(echo "$vnet_s * 1000000 / ($N * 2 + 1)" | bc -l)" "$(echo "$ip_s * 1000000 / ($N * 2 + 1)" | bc -l)" \
    "$destroy_s" "$ipdel_s" "$(echo "$destroy_s / $ipdel_s" | bc -l)"
  ip netns del "$PFX-v$N"; ip netns del "$PFX-i$N"
done
