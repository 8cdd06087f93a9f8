#!/bin/sh
# Runs the commands of docs/migrating.md and prints what each printed, to re-record that
# page's outputs (not a ctest: its outputs are read by a person against the prose).
# Needs a stock kernel (bonding, VLAN filtering) and ifupdown2:
#   build/vnet vm-run --timeout 900 -- sh tests/import/migrating-walkthrough.sh build/vnet
# A namespace "pve1" stands for the node (NICs eno1, eno2: veths to "upstream"), built by
# ifupdown2 from the file of section 1, as the node is at boot.
set -u
vnet=$(realpath "${1:-build/vnet}")
src=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d /tmp/vnet-migrating.XXXXXX)  # /tmp is the guest's own under vm-run
trap 'ip netns del pve1 2>/dev/null; ip netns del upstream 2>/dev/null; rm -rf "$work"' EXIT
cd "$work" || exit 1

# section 1's file, exactly as the page shows it
awk '/^## 1\. The file/{f=1; next} f && /^```$/{if (in_block) exit; in_block=1; next} in_block' \
  "$src/docs/migrating.md" > interfaces
ip netns add pve1 && ip netns add upstream || exit 1
for nic in eno1 eno2; do
  ip -n pve1 link add "$nic" type veth peer name "u-$nic" netns upstream &&
    ip -n upstream link set "u-$nic" up || exit 1
done
ip netns exec pve1 sh -c 'mount -t tmpfs tmpfs /var/tmp && mkdir -p /run/network && ifup -a -i interfaces' ||
  { echo "ifup failed" >&2; exit 1; }

run() {  # prints the command and what it printed (stderr, then stdout), and its exit code
  echo "\$ $*"
  sh -c "$*" > out 2> err
  rc=$?
  cat err out
  echo "[exit $rc]"
  echo
}
v="$vnet --netns pve1"

run "$vnet import ifupdown interfaces --host pve1 > host.toml"
run "cat host.toml"
run "printf 'auto vmbr0\\niface vmbr0 inet static\\n\\tbridge-vids 0-10\\n' | $vnet import ifupdown -"
# the edit section 2 shows: the post-up route, said in host.toml
sed -i 's|^routes = \[{ to = "0.0.0.0/0", via = "10.1.10.1" }\]$|routes = [{ to = "0.0.0.0/0", via = "10.1.10.1" },\n          { to = "10.99.0.0/16", via = "10.1.10.254" }]|' host.toml
run "grep -A2 '^routes' host.toml"
run "$vnet check host.toml"
run "$v plan host.toml"
run "ip -n pve1 route"
# the bridge's timers tick; everything else must be as before
state() { ip -n pve1 -d -j -p link show | grep -v '_timer"'; ip -n pve1 -j -p addr; ip -n pve1 route; bridge -n pve1 -j -p vlan; }
state > before
# first `vnet confirm --cancel`, which the page describes without output: the state
# before comes back, and the walk goes on from it
run "$v apply --confirm 120 host.toml"
run "$v confirm --cancel"
state > after
diff -u before after > state.diff && echo "state after --cancel: as before the apply" ||
  { echo "state after --cancel: DIFFERS from before the apply:"; cat state.diff; }
echo
run "$v apply --confirm 120 host.toml"
run "$v apply host.toml"
run "$v status host.toml"
run "$v confirm"
run "$v plan host.toml"
run "ip -n pve1 route"
run "$vnet render nixos host.toml"
# not on the page: what `vnet destroy` does once the links are adopted (owned)
run "$v destroy host.toml"
run "ip -n pve1 -br link; ip -n pve1 route"
