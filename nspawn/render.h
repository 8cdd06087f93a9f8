// `vnet render nspawn`: the nspawn guests of a file as systemd-nspawn@.service and
// systemd-networkd would run them on a systemd host (NixOS included), with no vnet at
// run time. Pure: no I/O; the CLI writes what this returns.
//
// Per guest: NAME.nspawn (for /etc/systemd/nspawn/): [Exec] Boot= or Parameters=,
// [Files] Bind=/BindReadOnly=, [Network] VirtualEthernet=no plus one
// VirtualEthernetExtra=HOST:GUEST per NIC (nspawn makes the pair with vnet's names;
// --network-bridge cannot tag a VLAN, so the host side is left to networkd). The
// .network files come from the networkd renderer (networkd-gen/), not a second one:
// network/ holds the host side's (Bridge=, [BridgeVLAN]), NAME/network/ the container's
// (addresses, gateway, routes; for the container's own networkd).
#pragma once

#include <string>
#include <vector>

#include "topology/model.h"

namespace vnet::nspawn {

struct RenderedFile {
  std::string path;  // relative: "web.nspawn", "network/30-vnet-vb-web.network", ...
  std::string text;
};

struct NspawnRendering {
  std::vector<RenderedFile> files;
  std::vector<std::string> left_out;  // what a .nspawn or networkd cannot say, one line each
  // Combinations the target refuses at run time ("FILE:LINE:COL: error: ..."): nothing
  // is written when there is one.
  std::vector<std::string> errors;
};

NspawnRendering render(const topology::Topology& topo, const std::string& source);

// `vnet render lxc`: NAME.conf per container guest (kind nspawn), LXC 5 keys: rootfs,
// init command, bind mounts, and per NIC lxc.net.I.* (veth on the bridge, the host side's
// name, VLANs as veth.vlan.id / veth.vlan.tagged.id, addresses and gateway). Refuses VLAN
// keys on a bridge with default_pvid = 0 (LXC then fails to start: lxc/lxc#4350).
NspawnRendering render_lxc(const topology::Topology& topo, const std::string& source);
// `vnet render incus`: NAME.yaml per container guest, an instance's `devices` (nic
// bridged with parent, vlan, vlan.tagged, hwaddr, ipv4/ipv6.address; disk for binds) and
// config for `incus config edit` / `incus init ... < NAME.yaml`.
NspawnRendering render_incus(const topology::Topology& topo, const std::string& source);

// One word of Parameters= as nspawn splits the line (extract_first_word with quotes and
// backslash escapes): quoted when it holds a space, quote, backslash or is empty.
std::string quote_word(const std::string& word);

}  // namespace vnet::nspawn
