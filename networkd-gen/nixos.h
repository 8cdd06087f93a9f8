// NixOS's `containers.<name>` for vnet's nspawn guests (issue 17), beside the
// systemd.network part of the module (render.h nixos_module). A NixOS container is
// systemd-nspawn run by nixos-container's unit: `privateNetwork` + `hostBridge` makes the
// same veth as vnet's first NIC (host side vb-<guest>, nspawn's own name for it), and
// the host side's VLANs stay in systemd.network (its .network is in the same module),
// since `hostBridge` only enslaves. What NixOS containers cannot express is listed, one
// line each (docs/networkd.md).
#pragma once

#include <string>
#include <vector>

#include "networkd-gen/render.h"
#include "topology/model.h"

namespace vnet::networkd {

struct NixosContainers {
  std::string text;                   // "  containers = { ... };\n", or "" without guests
  std::vector<std::string> left_out;  // one line per guest setting not expressed
};

NixosContainers nixos_containers(const topology::Topology& topo);

// The module of render.h's nixos_module, with `containers` added (and their left-out
// lines among the comments).
std::string nixos_module(const Rendering& r, const std::string& source, const std::string& host,
                         const NixosContainers& containers);

}  // namespace vnet::networkd
