// What networkd cannot do and vnet's engine can, for one rendered namespace: links that
// sit on a link of this namespace but live in another one (a macvlan on the host's
// eno1.40 inside a service's namespace, scenarios/macvlan.toml). networkd creates a
// stacked link only beside its lower link and never moves one, so these become a
// "namespace part": a small host.toml holding just those objects, with their lower links
// as [links] (existing: networkd makes them), that the template unit vnet-netns@.service
// (units/) applies once networkd has made the lower links. docs/networkd.md says more.
// Pure: the caller reads the source and writes the parts.
#pragma once

#include <set>
#include <string>
#include <vector>

#include "topology/model.h"

namespace vnet::networkd {

struct NetnsPart {
  std::string netns;               // where the objects live
  std::string file;                // "vnet-netns-dns.toml"
  std::string host;                // the part's [host] name: "HOST/NETNS" (own ownership mark)
  std::vector<std::string> objects;  // "macvlan mv-dns", for messages
  std::set<std::string> lowers;    // links of the rendered namespace they sit on
  std::string text;                // the host.toml
};

// `source_text` is the text of the host.toml `topo` was loaded from (its tables are
// copied as written); `netns` as for render(). Sorted by namespace.
std::vector<NetnsPart> netns_parts(const topology::Topology& topo, const std::string& source,
                                   const std::string& source_text, const std::string& netns = "");

}  // namespace vnet::networkd
