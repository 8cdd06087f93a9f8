#!/bin/bash
# Switch benchmark (by hand, as root; not a ctest). Same run, same path, ratios:
# two namespaces, each with a tap (veth for the kernel bridge), joined by
#   (a) vde_switch -t tapA -t tapB   (b) vnet switch with two tap ports   (c) a kernel bridge
# and measured with iperf3 TCP, UDP 64-byte frames (received frames/s) twice — from
# iperf3, and from switch_blaster's lean udp-send/udp-recv (sendmmsg/recvmmsg), whose
# endpoints cost little enough that the switch, not the receiver, sets the rate — and
# ping RTT (median); then frames/s between two clients of the switch itself
# (switch_blaster): VDE clients on vde_switch and on vnet, and stream clients on vnet.
#
# usage: bench/switch/run.sh [BUILD_DIR]   (default: build-switch next to this checkout)
#        SECS=10 to measure longer (default 5)
#        RTT_ROUNDS=8: only ping RTT, interleaved rounds of vde_switch and vnet (io_uring
#        and read/write taps), median of 500 pings per round
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
BUILD=${1:-$HERE/../../build-switch}
VNET=$BUILD/vnet
BLASTER=$BUILD/bench/switch/switch_blaster
SECS=${SECS:-5}
TAG=vb$$
RESULTS=()
for p in "$VNET" "$BLASTER"; do [ -x "$p" ] || { echo "missing $p (build first)"; exit 3; }; done
for p in vde_switch iperf3 ping python3; do
  command -v $p >/dev/null || { echo "missing $p"; exit 3; }
done

cleanup() {
  for pid in ${PIDS:-}; do kill "$pid" 2>/dev/null || true; done
  sleep 0.3
  for ns in ${TAG}s ${TAG}a ${TAG}b; do
    for p in $(ip netns pids $ns 2>/dev/null); do kill -9 $p 2>/dev/null || true; done
    ip netns del $ns 2>/dev/null || true
  done
  rm -rf /tmp/$TAG-*
}
trap cleanup EXIT

mk_ns() {
  for ns in ${TAG}s ${TAG}a ${TAG}b; do ip netns add $ns; ip -n $ns link set lo up; done
}
# move tap $1 into namespace $2 with address $3
place() {
  ip -n ${TAG}s link set "$1" netns "$2"
  ip -n "$2" addr add "$3/24" dev "$1"
  ip -n "$2" link set "$1" up
}

rtt_median() {  # $1 pings at interval $2 from a to b after a warm-up; prints the median ms
  ip netns exec ${TAG}a ping -c 200 -i 0.005 -q 10.88.0.2 >/dev/null 2>&1
  ip netns exec ${TAG}a ping -c "$1" -i "$2" 10.88.0.2 |
    python3 -c 'import sys,re,statistics; t=[float(m.group(1)) for m in re.finditer(r"time=([0-9.]+)", sys.stdin.read())]; print(statistics.median(t))'
}

up_vde() {
  mk_ns
  ip netns exec ${TAG}s vde_switch -s /tmp/$TAG-vde -t ${TAG}ta -t ${TAG}tb -d -p /tmp/$TAG-vde.pid
  sleep 0.5
  place ${TAG}ta ${TAG}a 10.88.0.1; place ${TAG}tb ${TAG}b 10.88.0.2
}
down_vde() { kill "$(cat /tmp/$TAG-vde.pid)"; cleanup; }

switch_toml() {  # FILE SOCKET_DIR PORT_A PORT_B (each port: `tap = "x"` or `stream = "/p"`)
  cat > "$1" <<TOML
[host]
name = "bench"
[switches.bench]
socket = "$2"
[switches.bench.ports.a]
$3
[switches.bench.ports.b]
$4
TOML
}

up_vnet() {
  mk_ns
  switch_toml /tmp/$TAG-sw.toml /tmp/$TAG-vnet "tap = \"${TAG}ta\"" "tap = \"${TAG}tb\""
  ip netns exec ${TAG}s "$VNET" switch bench -c /tmp/$TAG-sw.toml 2>/tmp/$TAG-vnet.log &
  PIDS=$!; sleep 0.5
  place ${TAG}ta ${TAG}a 10.88.0.1; place ${TAG}tb ${TAG}b 10.88.0.2
}
down_vnet() { kill $PIDS; wait $PIDS 2>/dev/null || true; PIDS=; cleanup; }

if [ -n "${RTT_ROUNDS:-}" ]; then
  # RTT alone, interleaved: single medians swing by 2x between runs on a small VM.
  echo "== RTT: $RTT_ROUNDS rounds, median of 500 pings each (vde_switch, vnet, vnet read/write)"
  V=(); N=(); R=()
  for i in $(seq "$RTT_ROUNDS"); do
    up_vde; V+=("$(rtt_median 500 0.004)"); down_vde
    up_vnet; N+=("$(rtt_median 500 0.004)"); down_vnet
    VNET_SWITCH_IO_URING=0 up_vnet; R+=("$(rtt_median 500 0.004)"); down_vnet
    echo "round $i: vde_switch ${V[-1]}  vnet ${N[-1]}  vnet read/write ${R[-1]} ms"
  done
  python3 - "${V[*]}" "${N[*]}" "${R[*]}" <<'PY'
import sys, statistics as st
v, n, r = ([float(x) for x in a.split()] for a in sys.argv[1:4])
print(f"median of medians: vde_switch {st.median(v):.3f}  vnet {st.median(n):.3f}  "
      f"vnet read/write {st.median(r):.3f} ms;  vnet/vde_switch {st.median(n)/st.median(v):.2f}x (target <= 1)")
PY
  exit 0
fi

measure() {  # $1 = label
  local a=${TAG}a b=${TAG}b
  ip netns exec $a ping -c 3 -W 2 10.88.0.2 >/dev/null || { echo "$1: no connectivity"; return 1; }
  ip netns exec $b iperf3 -s -D -1 -p 5201 >/dev/null 2>&1; sleep 0.3
  local tcp
  tcp=$(ip netns exec $a timeout $((SECS + 20)) iperf3 -c 10.88.0.2 -p 5201 -t $SECS -J |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"]/1e9)')
  ip netns exec $b iperf3 -s -D -1 -p 5202 >/dev/null 2>&1; sleep 0.3
  # 18-byte payload: 14 + 20 + 8 + 18 = 60 bytes on the wire (64 with the FCS).
  local udp
  udp=$(ip netns exec $a timeout $((SECS + 20)) iperf3 -c 10.88.0.2 -p 5202 -u -l 18 -b 0 -t $SECS -J |
        python3 -c 'import json,sys; d=json.load(sys.stdin)["end"]["sum"]; print((d["packets"]-d["lost_packets"])/d["seconds"])')
  # The lean pair: 18-byte datagrams again, counted by the receiver over its busy time.
  ip netns exec $b "$BLASTER" udp-recv 5300 $SECS > /tmp/$TAG-lean.txt &
  local lean_pid=$!; sleep 0.3
  ip netns exec $a "$BLASTER" udp-send 10.88.0.2 5300 $SECS >/dev/null
  wait $lean_pid
  local lean
  lean=$(sed 's/.*rx_fps //' /tmp/$TAG-lean.txt)
  local rtt
  rtt=$(rtt_median 100 0.01)
  printf '%-12s TCP %6.2f Gbit/s   UDP64 iperf3 %9.0f  lean %9.0f frames/s   RTT median %.3f ms\n' \
    "$1" "$tcp" "$udp" "$lean" "$rtt"
  RESULTS+=("$1 $tcp $udp $lean $rtt")
}

echo "== (a) vde_switch"
up_vde
measure vde_switch
down_vde

echo "== (b) vnet switch"
up_vnet
measure "vnet switch"
down_vnet

echo "== (c) kernel bridge"
mk_ns
ip -n ${TAG}s link add name br0 type bridge
ip -n ${TAG}s link set br0 up
for x in a b; do
  ip -n ${TAG}s link add name v$x type veth peer name ${TAG}t$x netns ${TAG}$x
  ip -n ${TAG}s link set v$x master br0
  ip -n ${TAG}s link set v$x up
done
ip -n ${TAG}a addr add 10.88.0.1/24 dev ${TAG}ta; ip -n ${TAG}a link set ${TAG}ta up
ip -n ${TAG}b addr add 10.88.0.2/24 dev ${TAG}tb; ip -n ${TAG}b link set ${TAG}tb up
sleep 1  # bridge port forwarding state
measure "bridge"
cleanup

echo "== switch_blaster: 64-byte frames/s between two clients of the switch"
vde_switch -s /tmp/$TAG-vde2 -d -p /tmp/$TAG-vde2.pid; sleep 0.3
BV=$("$BLASTER" vde /tmp/$TAG-vde2 $SECS | sed 's/.*rx_fps //')
kill "$(cat /tmp/$TAG-vde2.pid)"
switch_toml /tmp/$TAG-sw2.toml /tmp/$TAG-vnet2 "stream = \"/tmp/$TAG-a.sock\"" \
  "stream = \"/tmp/$TAG-b.sock\""
"$VNET" switch bench -c /tmp/$TAG-sw2.toml 2>/tmp/$TAG-vnet2.log &
PIDS=$!; sleep 0.5
NV=$("$BLASTER" vde /tmp/$TAG-vnet2 $SECS | sed 's/.*rx_fps //')
NS=$("$BLASTER" stream /tmp/$TAG-a.sock /tmp/$TAG-b.sock $SECS | sed 's/.*rx_fps //')
kill $PIDS; wait $PIDS 2>/dev/null || true; PIDS=
printf 'vde_switch, VDE clients:   %9.0f frames/s\n' "$BV"
printf 'vnet,       VDE clients:   %9.0f frames/s\n' "$NV"
printf 'vnet,       stream clients:%9.0f frames/s\n' "$NS"

echo "== ratios"
python3 - "$BV" "$NV" "$NS" "${RESULTS[@]}" <<'PY'
import sys
bv, nv, ns = map(float, sys.argv[1:4])
r = {}
for line in sys.argv[4:]:
    name, tcp, udp, lean, rtt = line.rsplit(" ", 4)
    r[name] = (float(tcp), float(udp), float(rtt), float(lean))
v, n, b = r["vde_switch"], r["vnet switch"], r["bridge"]
print(f"TCP      vnet/vde_switch {n[0]/v[0]:5.2f}x (target >= 3)   vnet/bridge {n[0]/b[0]:5.2f}x (target >= 0.5)")
print(f"UDP64    vnet/vde_switch {n[1]/v[1]:5.2f}x (target >= 2)   vnet/bridge {n[1]/b[1]:5.2f}x   (iperf3)")
print(f"UDP64    vnet/vde_switch {n[3]/v[3]:5.2f}x (target >= 2)   vnet/bridge {n[3]/b[3]:5.2f}x   (lean endpoints)")
print(f"RTT      vnet/vde_switch {n[2]/v[2]:5.2f}x (target <= 1)   vnet/bridge {n[2]/b[2]:5.2f}x")
print(f"blaster  vnet/vde_switch {nv/bv:5.2f}x (VDE clients)   vnet stream/vde_switch VDE {ns/bv:5.2f}x")
PY
