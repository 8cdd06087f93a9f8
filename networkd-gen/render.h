// The validated model (topology/model.h) as systemd-networkd files and as a NixOS module
// (issue 16). One rendering feeds both outputs: a list of files, each a list of
// [Section]s of Key=Value lines, so the .netdev/.network text and the Nix expression
// cannot disagree. Pure: no I/O, no kernel; the CLI writes what this returns.
//
// Only one namespace is rendered at a time (networkd runs per namespace): the target
// by default, or a namespace the file names. Objects networkd cannot express there are
// left out, each with one line in `left_out` (docs/networkd.md says why).
#pragma once

#include <string>
#include <vector>

#include "topology/model.h"

namespace vnet::networkd {

struct Entry {
  std::string key, value;
};

struct Section {
  std::string name;  // "NetDev", "Network", "BridgeVLAN", ...
  std::vector<Entry> entries;
};

struct File {
  std::string name;    // "10-vnet-br0.netdev"
  std::string object;  // "bridge br0", for the header comment
  std::vector<Section> sections;
};

struct Rendering {
  std::vector<File> files;            // sorted by name
  std::vector<std::string> left_out;  // one line per object not rendered
  std::vector<std::string> notes;     // renderings that differ from the obvious, and why
};

// `source` names the host.toml in headers (as the user wrote its path); `netns` is ""
// for the target, else a namespace the topology names.
Rendering render(const topology::Topology& topo, const std::string& source,
                 const std::string& netns = "");

// The text of one file: a header comment naming the source and object, then the sections.
std::string file_text(const File& f, const std::string& source, const std::string& host);

// `{ ... }: { systemd.network.netdevs = ...; systemd.network.networks = ...; }` in the
// option form of NixOS 24.11 and later (bridgeVLANs / routes lists, integers for PVID).
std::string nixos_module(const Rendering& r, const std::string& source, const std::string& host);

}  // namespace vnet::networkd
