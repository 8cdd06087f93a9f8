#!/usr/bin/env bash
# nspawn guest benchmark (issue 17; run by hand, as root; ratios within one run).
# Time from an empty namespace to the container's first successful ping of a namespace
# on the same bridge:
#   vnet:   `vnet --netns T guest start` of a file declaring the bridge, the peer
#           namespace's veth and the guest (the engine builds all of it, then nspawn);
#   script: the same with ip(8) and `systemd-nspawn --network-veth` (peer veth, bridge,
#           then nspawn, then its ve-<machine> enslaved once it appears; with VLAN=40 on
#           a kernel with bridge VLAN filtering, also the `bridge vlan` tagging).
# The clock stops when the container's own loop (`until ping -c1 ...`) prints PINGED in
# its log. Sides alternate (A B A B ...); medians of RUNS. VLAN=40 needs 802.1Q and
# bridge VLAN filtering (run it under `vnet vm-run`).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
vnet=${VNET:-$top/build/vnet}
runs=${RUNS:-7}
vlan=${VLAN:-}
tmp=$(mktemp -d /run/vnet-bench-nspawn.XXXXXX)
id=bn$$
cleanup() {
  for p in $(cat "$tmp"/*.pid 2>/dev/null); do kill -9 "$p" 2>/dev/null || true; done
  for n in $(ls /run/netns | grep "$id" || true); do ip netns del "$n" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT

now() { date +%s.%N; }
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
wait_for() {  # wait_for FILE WORD: poll every 5 ms, at most 30 s
  for _ in $(seq 6000); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.005; done
  echo "bench: no $2 in $1" >&2; cat "$1" >&2; exit 1
}

# A busybox tree (nspawn wants usr/).
root=$tmp/root
mkdir -p "$root"/{bin,usr,etc,proc,sys,dev,tmp,run}
cp /bin/busybox "$root/bin/"
for a in sh ping sleep ip; do ln -s busybox "$root/bin/$a"; done
touch "$root/etc/os-release"
loop="until ping -c 1 -W 1 10.78.0.3 >/dev/null 2>&1; do :; done; echo PINGED; trap 'exit 0' TERM; while :; do sleep 1 & wait \$!; done"

pvid=${vlan:+pvid = $vlan}
filtering=${vlan:+vlan_filtering = true}
cat >"$tmp/host.toml" <<TOML
[host]
name = "$id"
[bridges.br0]
$filtering
[veths.vb-$id]
peer = "eth0"
bridge = "br0"
$pvid
peer_netns = "${id}p"
peer_addresses = ["10.78.0.3/24"]
[guests.${id}g]
kind = "nspawn"
directory = "$root"
command = ["/bin/sh", "-c", "$loop"]
[[guests.${id}g.nics]]
bridge = "br0"
$( [ -n "$vlan" ] && echo "vlan = $vlan" )
addresses = ["10.78.0.2/24"]
TOML

vnet_run() {  # $1: run index
  local t=${id}t$1 g=${id}g
  ip netns add "$t"
  local t0; t0=$(now)
  VNET_RUN_DIR=$tmp/run VNET_GUEST_STATE=$tmp/state "$vnet" --netns "$t" guest start "$g" -c "$tmp/host.toml" >/dev/null
  wait_for "$tmp/state/$g/console.log" PINGED
  echo "$(now) - $t0" | bc >>"$tmp/vnet.times"
  VNET_RUN_DIR=$tmp/run VNET_GUEST_STATE=$tmp/state "$vnet" --netns "$t" guest stop "$g" -c "$tmp/host.toml" --timeout 5 >/dev/null
  ip netns del "$t"; ip netns del "${id}p"
}

script_run() {  # $1: run index. What an operator's script does for the same result.
  local t=${id}t$1 p=${id}p m=${id}s log=$tmp/script.log
  ip netns add "$t"
  local t0; t0=$(now)
  ip netns add "$p"
  ip -n "$t" link add name br0 type bridge ${vlan:+vlan_filtering 1}
  ip -n "$t" link set br0 up
  ip -n "$t" link add name vb-$id type veth peer name eth0 netns "$p"
  ip -n "$t" link set vb-$id master br0 up
  [ -n "$vlan" ] && bridge -n "$t" vlan add dev vb-$id vid "$vlan" pvid untagged && bridge -n "$t" vlan del dev vb-$id vid 1
  ip -n "$p" addr add 10.78.0.3/24 dev eth0
  ip -n "$p" link set eth0 up
  ip -n "$p" link set lo up
  : >"$log"
  nsenter --net=/run/netns/"$t" systemd-nspawn -q -D "$root" --machine="$m" --register=no \
    --keep-unit --network-veth --kill-signal=SIGTERM --console=pipe /bin/sh -c \
    "ip link set lo up; ip addr add 10.78.0.2/24 dev host0; ip link set host0 up; $loop" \
    </dev/null >"$log" 2>&1 &
  echo $! >"$tmp/script.pid"
  for _ in $(seq 6000); do ip -n "$t" link show "ve-$m" >/dev/null 2>&1 && break; sleep 0.005; done
  ip -n "$t" link set "ve-$m" master br0 up
  [ -n "$vlan" ] && bridge -n "$t" vlan add dev "ve-$m" vid "$vlan" pvid untagged && bridge -n "$t" vlan del dev "ve-$m" vid 1
  wait_for "$log" PINGED
  echo "$(now) - $t0" | bc >>"$tmp/script.times"
  kill -TERM "$(cat "$tmp/script.pid")"; wait "$(cat "$tmp/script.pid")" 2>/dev/null || true
  ip netns del "$p"; ip netns del "$t"
}

echo "nspawn start-to-first-ping: $runs runs each, medians; $(nproc) cores, kernel $(uname -r)${vlan:+, VLAN $vlan}"
for i in $(seq "$runs"); do
  vnet_run "$i"
  script_run "$i"
done
a=$(median <"$tmp/vnet.times"); b=$(median <"$tmp/script.times")
printf 'vnet guest start %.3f s   nspawn --network-veth + ip script %.3f s   ratio %.2f (target <= 1.10)\n' \
  "$a" "$b" "$(echo "$a / $b" | bc -l)"
