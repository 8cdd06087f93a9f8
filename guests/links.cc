#include "guests/links.h"

#include <algorithm>

#include "netlink/engine.h"

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

Status apply_links(const topology::Topology& topo, const Options& opts, const std::string& what) {
  netlink::EngineOptions eo;
  eo.target_netns = opts.target_netns;
  eo.netns_prefix = opts.netns_prefix;
  if (!opts.run_dir.empty()) eo.run_dir = opts.run_dir;
  auto rep = netlink::apply(topo, eo);
  if (!rep) return tl::unexpected(rep.error().context(what));
  if (rep->changed() && opts.log)
    opts.log(what + ": applied " + std::to_string(rep->plan.ops.size()) + " changes");
  return {};
}

}  // namespace vnet::guests
