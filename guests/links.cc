#include "guests/links.h"

#include <algorithm>

namespace vnet::guests {

bool needs_links(const topology::Guest& g) {
  for (const topology::GuestNic& n : g.nics) {
    if (n.kind == topology::GuestNic::Kind::kBridge || n.kind == topology::GuestNic::Kind::kTap)
      return true;
    if (g.kind == topology::Guest::Kind::kNspawn) return true;
  }
  return false;
}

topology::Topology without_guest_links(const topology::Topology& topo, const topology::Guest& g) {
  topology::Topology t = topo;
  std::erase_if(t.taps, [&](const topology::Tap& l) { return l.derived_from == g.name; });
  std::erase_if(t.veths, [&](const topology::Veth& l) { return l.derived_from == g.name; });
  if (!g.netns.empty())
    std::erase_if(t.netns, [&](const topology::Netns& n) { return n.name == g.netns && !n.declared; });
  return t;
}

}  // namespace vnet::guests
