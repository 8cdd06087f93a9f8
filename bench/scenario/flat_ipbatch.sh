#!/usr/bin/env bash
# The same lab as scenarios/flat.toml, built with `ip -batch`, the same eight checks done
# with ping/arping/a tcp listener the way a shell script would (one after another), then
# torn down. Prefix $1 keeps parallel runs apart.
set -eu
p=${1:-fb$$-}
ip netns add ${p}host
for n in a b c; do ip netns add ${p}$n; done
ip -n ${p}host -batch - <<EOB
link set lo up
link add name br0 type bridge
addr add 10.0.0.1/24 dev br0
link set br0 up
link add vb-a type veth peer name eth0 netns ${p}a
link add vb-b type veth peer name eth0 netns ${p}b
link add vb-c type veth peer name eth0 netns ${p}c
link set vb-a master br0 addrgenmode none
link set vb-b master br0 addrgenmode none
link set vb-c master br0 addrgenmode none
link set vb-a up
link set vb-b up
link set vb-c up
tuntap add dev tap-vm1 mode tap
link set tap-vm1 master br0 addrgenmode none
link set tap-vm1 up
EOB
i=11
for n in a b c; do
  ip -n ${p}$n -batch - <<EOB
link set lo up
addr add 10.0.0.$i/24 dev eth0
link set eth0 up
route add default via 10.0.0.1
EOB
  i=$((i+1))
done
pg() { ip netns exec ${p}$1 ping -q -c 2 -i 0.002 -W 2 "${@:2}" >/dev/null; }
pg a 10.0.0.12
pg b 10.0.0.13
pg c 10.0.0.11
pg a 10.0.0.1
ip netns exec ${p}host ping -q -c 2 -i 0.002 -W 2 10.0.0.13 >/dev/null
# tcp 10.0.0.12:80 from a: a listener in b, a connect from a
ip netns exec ${p}b busybox nc -l -p 80 </dev/null >/dev/null &
listener=$!
for _ in 1 2 3 4 5 6 7 8 9 10; do  # until it listens (bounded)
  ip netns exec ${p}a timeout 2 bash -c 'exec 3<>/dev/tcp/10.0.0.12/80' 2>/dev/null && break
  sleep 0.01
done
kill $listener 2>/dev/null || true
ip netns exec ${p}b arping -q -c 1 -w 2 -I eth0 10.0.0.11 >/dev/null
pg c 10.0.0.12 -M do -s 1472
for n in host a b c; do ip netns del ${p}$n; done
