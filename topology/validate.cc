// Relations between objects, checked after guests are expanded: names unique per
// namespace (across kinds, derived ones included), references that resolve, VLAN settings
// that the bridge can carry, addresses unique per namespace, gateways inside a subnet.
#include <sys/socket.h>

#include <algorithm>
#include <map>
#include <tuple>

#include "topology/parse.h"

namespace vnet::topology::detail {

namespace {

struct Named {
  std::string kind;  // "bridge", "veth peer", ...
  const LinkCommon* link = nullptr;
  std::string derived_from;
  SourceLoc loc;
  std::string describe(const std::string& name) const {
    std::string s = kind + " '" + name + "'";
    if (!derived_from.empty()) s += " (derived from guest '" + derived_from + "')";
    return s;
  }
};

bool before(const SourceLoc& a, const SourceLoc& b) {
  return std::tie(a.line, a.col) < std::tie(b.line, b.col);
}

// Guest NIC addresses are checked per guest under the pseudo-namespace "guest:NAME".
std::string ns_phrase(const std::string& ns) {
  if (ns.empty()) return "";
  if (ns.rfind("guest:", 0) == 0) return " in guest '" + ns.substr(6) + "'";
  return " in namespace '" + ns + "'";
}

class Validator {
 public:
  Validator(Diagnostics& d, Topology& t) : d_(d), t_(t) {}

  void run() {
    collect_names();
    check_ports();
    check_parents();
    check_addresses();
    check_guests();
    check_switches();
    collect_netns();
    check_scenario();
  }

 private:
  void add_name(const std::string& ns, const std::string& name, Named n) {
    auto& slot = names_[{ns, name}];
    if (slot.kind.empty()) {
      slot = std::move(n);
      return;
    }
    // Report at the later of the two places.
    const Named& first = before(slot.loc, n.loc) ? slot : n;
    const Named& second = before(slot.loc, n.loc) ? n : slot;
    d_.error(second.loc, second.describe(name) + ns_phrase(ns) + " collides with " +
                             first.describe(name) + " declared at " + first.loc.str());
  }

  void collect_names() {
    for (const Bridge& b : t_.bridges) add_name(b.netns, b.name, {"bridge", &b, "", b.loc});
    for (const Link& l : t_.links) add_name("", l.name, {"link", &l, "", l.loc});
    for (const Veth& v : t_.veths) {
      add_name(v.netns, v.name, {"veth", &v, v.derived_from, v.loc});
      add_name(v.peer_netns, v.peer, {"veth peer", nullptr, v.derived_from, v.loc});
    }
    for (const Tap& tp : t_.taps) add_name(tp.netns, tp.name, {"tap", &tp, tp.derived_from, tp.loc});
    for (const KindLink& l : t_.kind_links) add_name(l.netns, l.name, {l.desc->word, &l, "", l.loc});
  }

  std::string declared_bridges(const std::string& ns) const {
    std::string out;
    for (const Bridge& b : t_.bridges)
      if (b.netns == ns) out += (out.empty() ? "" : ", ") + b.name;
    return out.empty() ? "no bridges are declared" + ns_phrase(ns)
                       : "declared bridges" + ns_phrase(ns) + ": " + out;
  }

  void check_port(const LinkCommon& l) {
    if (!l.port) return;
    const BridgePort& p = *l.port;
    // The bridge takes every frame a port receives: an address there is never reached.
    for (const Cidr& c : l.addresses)
      d_.error(c.loc, "address " + c.str() + " on '" + l.name + "', a port of bridge '" + p.bridge +
                          "', is never reached (the bridge takes what the port receives); put "
                          "it on the bridge, or on a vlan of it");
    const Bridge* b = t_.find_bridge(p.bridge, l.netns);
    if (!b) {
      d_.error(p.loc, "bridge '" + p.bridge + "' is not declared" + ns_phrase(l.netns) + "; " +
                          declared_bridges(l.netns));
      return;
    }
    bool derived = !l.derived_from.empty();
    if (!b->vlan_filtering() && p.pvid && *p.pvid != 0)
      d_.error(p.pvid_loc,
               std::string("'") + (derived ? "vlan" : "pvid") +
                   "' needs vlan_filtering = true on bridge '" + b->name + "'");
    if (!b->vlan_filtering() && !p.tagged.empty())
      d_.error(p.tagged_loc, "'tagged' needs vlan_filtering = true on bridge '" + b->name + "'");
  }

  void check_ports() {
    for (const Link& l : t_.links) check_port(l);
    for (const Veth& v : t_.veths) check_port(v);
    for (const Tap& tp : t_.taps) check_port(tp);
    for (const KindLink& l : t_.kind_links) check_port(l);
  }

  // A vlan's or macvlan's parent: declared in the object's namespace or in the target.
  void check_parent(const LinkCommon& l, const std::string& parent, const std::string& kind,
                    const SourceLoc& at = {}) {
    if (parent.empty()) return;
    for (const std::string& ns : {l.netns, std::string()}) {
      if (names_.count({ns, parent})) return;
    }
    std::string known;
    for (auto& [key, n] : names_)
      if ((key.first == l.netns || key.first.empty()) && key.second != l.name)
        known += (known.empty() ? "" : ", ") + key.second;
    d_.error(at.known() ? at : l.loc, kind + " '" + l.name + "': link '" + parent + "' is not declared" +
                        (known.empty() ? "" : "; declared links: " + known) +
                        " (an existing NIC goes under [links." + parent + "])");
  }

  // The bridge port called `name` where an object of `ns` would find it, if any.
  const BridgePort* port_named(const std::string& name, const std::string& ns) const {
    for (const std::string& where : {ns, std::string()}) {
      auto it = names_.find({where, name});
      if (it != names_.end()) return it->second.link && it->second.link->port ? &*it->second.link->port : nullptr;
    }
    return nullptr;
  }

  void check_parents() {
    // (kind, netns, parent, value) -> the link that has it, for unique_per_parent
    std::map<std::tuple<const KindDesc*, std::string, std::string, uint64_t>, const KindLink*> taken;
    for (const KindLink& l : t_.kind_links) {
      for (size_t i = 0; i < l.desc->attrs.size(); ++i)
        if (l.desc->attrs[i].type == KindAttr::Type::kLink && l.attrs[i].set)
          check_parent(l, l.attrs[i].text, l.desc->word, l.attrs[i].loc);
      const KindAttr* parent = l.desc->parent_attr();
      const AttrValue* lower = parent ? l.attr(parent->key) : nullptr;
      if (lower && lower->set && !l.desc->on_bridge_port)
        if (const BridgePort* port = port_named(lower->text, l.netns))
          d_.error(lower->loc, std::string(l.desc->word) + " '" + l.name + "': its link '" + lower->text +
                                   "' is a port of bridge '" + port->bridge + "', and the kernel refuses a " +
                                   l.desc->word + " on a bridge port (EBUSY); put it on the bridge, or on a vlan of it");
      if (lower && lower->set && l.desc->unique_per_parent) {
        const AttrValue* v = l.attr(l.desc->unique_per_parent);
        if (v && v->set) {
          auto [it, fresh] = taken.try_emplace({l.desc, l.netns, lower->text, v->number}, &l);
          if (!fresh)
            d_.error(v->loc, std::string(l.desc->word) + " " + std::to_string(v->number) + " on '" +
                                 lower->text + "' is already declared as '" + it->second->name + "' at " +
                                 it->second->loc.str());
        }
      }
      if (!l.desc->check) continue;
      KindCheck c;
      l.desc->check(l, c);
      for (auto& [at, what] : c.errors) d_.error(at, std::move(what));
    }
  }

  void check_address_list(const std::string& owner, const std::string& ns,
                          const std::vector<Cidr>& addrs, const std::optional<IpAddress>& gw,
                          const SourceLoc& gw_loc, std::optional<uint32_t> mtu = {}) {
    for (const Cidr& c : addrs) {
      // The kernel turns IPv6 off on a link below IPv6's minimum MTU: the address would
      // be refused at apply.
      if (mtu && *mtu < kIpv6MinMtu && c.addr.family == AF_INET6)
        d_.error(c.loc, "IPv6 address " + c.str() + " on '" + owner + "', whose mtu " +
                            std::to_string(*mtu) + " is below IPv6's minimum of " +
                            std::to_string(kIpv6MinMtu) +
                            " (the kernel turns IPv6 off there); raise mtu or drop the address");
      auto [it, fresh] = addresses_.try_emplace({ns, c.addr.str()}, std::make_pair(owner, c.loc));
      if (!fresh)
        d_.error(c.loc, "address " + c.addr.str() + ns_phrase(ns) + " is already assigned to '" +
                            it->second.first + "' at " + it->second.second.str());
    }
    if (!gw) return;
    bool inside = std::any_of(addrs.begin(), addrs.end(),
                              [&](const Cidr& c) { return c.contains(*gw); });
    if (!inside) {
      std::string list;
      for (const Cidr& c : addrs) list += (list.empty() ? "" : ", ") + c.str();
      d_.error(gw_loc, "gateway " + gw->str() + " is outside every address of '" + owner + "'" +
                           (list.empty() ? " (it has none)" : " (" + list + ")"));
      return;
    }
    auto [it, fresh] =
        gateways_.try_emplace({ns, gw->family}, std::make_pair(owner, gw_loc));
    if (!fresh)
      d_.error(gw_loc, std::string("a second ") + (gw->family == AF_INET ? "IPv4" : "IPv6") +
                           " default route" + ns_phrase(ns) +
                           ": '" + it->second.first + "' already has one at " +
                           it->second.second.str());
  }

  // A link's addresses and routes, whichever end of which kind carries them.
  struct Addressed {
    std::string owner, ns;
    const std::vector<Cidr>* addresses;
    const std::vector<Route>* routes;
    std::optional<IpAddress> gateway;
    SourceLoc gateway_loc;
    std::optional<uint32_t> mtu;
    LinkLocal link_local;
  };

  void check_addresses() {
    std::vector<Addressed> all;
    auto common = [&](const LinkCommon& l) {
      all.push_back({l.name, l.netns, &l.addresses, &l.routes, l.gateway, l.gateway_loc, l.mtu,
                     l.link_local});
    };
    for (const Bridge& b : t_.bridges) common(b);
    for (const Veth& v : t_.veths) {
      common(v);
      all.push_back({v.peer, v.peer_netns, &v.peer_addresses, &v.peer_routes, v.peer_gateway,
                     v.peer_gateway_loc, v.mtu, v.peer_link_local});
    }
    for (const Tap& tp : t_.taps) common(tp);
    for (const KindLink& l : t_.kind_links) common(l);
    for (const Addressed& a : all)
      check_address_list(a.owner, a.ns, *a.addresses, a.gateway, a.gateway_loc, a.mtu);
    // Routes once every address and gateway is known: they take route keys too.
    for (const Addressed& a : all) {
      for (const Cidr& c : *a.addresses) {
        bool v4 = c.addr.family == AF_INET;
        if (c.prefix == (v4 ? 32 : 128)) continue;  // a host address makes no prefix route
        route_keys_.try_emplace({a.ns, c.network().str(), v4 ? 0u : 256u},
                                "the route the kernel adds for address " + c.str() + " of '" +
                                    a.owner + "'",
                                c.loc);
      }
    }
    for (const auto& [key, g] : gateways_) {
      int family = key.second;
      route_keys_.try_emplace({key.first, family == AF_INET ? "0.0.0.0/0" : "::/0",
                               kernel_metric(family, std::nullopt)},
                              "the default route of '" + g.first + "' (its gateway)", g.second);
    }
    for (const Addressed& a : all) check_routes(a);
  }

  // The kernel keys a main-table route by (destination, metric): a second route with the
  // same key is refused (EEXIST), whichever link it goes through. Each address makes one
  // too: its prefix route (IPv4 metric 0, IPv6 metric 256).
  void check_routes(const Addressed& a) {
    for (const Route& r : *a.routes) {
      const Cidr& to = r.to;
      bool v4 = to.addr.family == AF_INET;
      if (!v4 && a.mtu && *a.mtu < kIpv6MinMtu)
        d_.error(to.loc, "IPv6 route to " + to.str() + " on '" + a.owner + "', whose mtu " +
                             std::to_string(*a.mtu) + " is below IPv6's minimum of " +
                             std::to_string(kIpv6MinMtu) + " (the kernel turns IPv6 off there)");
      if (r.via) {
        const IpAddress& via = *r.via;
        bool link_local_v6 = !v4 && via.bytes[0] == 0xfe && (via.bytes[1] & 0xc0) == 0x80;
        bool own = std::any_of(a.addresses->begin(), a.addresses->end(),
                               [&](const Cidr& c) { return c.addr == via; });
        bool inside = std::any_of(a.addresses->begin(), a.addresses->end(),
                                  [&](const Cidr& c) { return c.contains(via); });
        std::string list;
        for (const Cidr& c : *a.addresses) list += (list.empty() ? "" : ", ") + c.str();
        if (own) {
          d_.error(r.via_loc, "route to " + to.str() + " goes via " + via.str() + ", an address of '" +
                                  a.owner + "' itself; via names the next router");
          continue;
        }
        if (link_local_v6 && a.link_local == LinkLocal::kNone && !inside) {
          d_.error(r.via_loc, "route to " + to.str() + " goes via the link-local " + via.str() +
                                  ", but '" + a.owner +
                                  "' has link_local = \"none\"; set link_local = \"ipv6\"");
          continue;
        }
        if (!inside && !link_local_v6) {
          d_.error(r.via_loc, "route to " + to.str() + ": via " + via.str() +
                                  " is outside every address of '" + a.owner + "'" +
                                  (list.empty() ? " (it has none)" : " (" + list + ")") +
                                  "; the next router must be on the link");
          continue;
        }
      }
      uint32_t metric = kernel_metric(to.addr.family, r.metric);
      auto [it, fresh] = route_keys_.try_emplace({a.ns, to.str(), metric},
                                                 "a route of '" + a.owner + "'", r.loc);
      if (!fresh)
        d_.error(r.loc, "route to " + to.str() + " with metric " + std::to_string(metric) +
                            ns_phrase(a.ns) + " is already " + it->second.first + " at " +
                            it->second.second.str() +
                            "; the kernel keeps one route per destination and metric: give "
                            "one a different metric");
    }
  }

  void check_guests() {
    for (const Guest& g : t_.guests) {
      for (const GuestNic& nic : g.nics) {
        if (nic.kind == GuestNic::Kind::kSwitch && !t_.find_switch(nic.switch_name)) {
          std::string known;
          for (const Switch& s : t_.switches) known += (known.empty() ? "" : ", ") + s.name;
          d_.error(nic.ref_loc, "switch '" + nic.switch_name + "' is not declared; " +
                                (known.empty() ? "no switches are declared"
                                               : "declared switches: " + known));
        }
        if (nic.kind == GuestNic::Kind::kTap) {
          bool found = std::any_of(t_.taps.begin(), t_.taps.end(), [&](const Tap& tp) {
            return tp.name == nic.tap && tp.derived_from.empty();
          });
          if (!found) {
            std::string known;
            for (const Tap& tp : t_.taps)
              if (tp.derived_from.empty()) known += (known.empty() ? "" : ", ") + tp.name;
            d_.error(nic.ref_loc, "tap '" + nic.tap + "' is not declared; " +
                                  (known.empty() ? "no taps are declared" : "declared taps: " + known));
          }
        }
        if (nic.vlan && (nic.kind == GuestNic::Kind::kTap || nic.kind == GuestNic::Kind::kUser))
          d_.error(nic.vlan_loc, "'vlan' applies to NICs on a bridge or a switch");
        if (nic.kind != GuestNic::Kind::kUser && g.kind == Guest::Kind::kQemu) {
          // A VM configures its own addresses (cloud-init); check them like a link's.
          check_address_list("guest " + g.name, "guest:" + g.name, nic.addresses, nic.gateway,
                             nic.gateway_loc);
        }
      }
    }
  }

  void check_switches() {
    for (const Switch& sw : t_.switches) {
      std::map<uint32_t, const SwitchPort*> vde;
      std::map<std::string, const SwitchPort*> names;
      for (const SwitchPort& p : sw.ports) {
        auto [it, fresh] = names.try_emplace(p.name, &p);
        if (!fresh)
          d_.error(p.loc, "port '" + p.name + "' of switch '" + sw.name +
                              "' is already declared at " + it->second->loc.str());
        if (p.kind == SwitchPort::Kind::kVdePort) {
          auto [vit, vfresh] = vde.try_emplace(p.vde_port, &p);
          if (!vfresh && p.vde_port != 0)
            d_.error(p.loc, "vde_port " + std::to_string(p.vde_port) + " is already port '" +
                                vit->second->name + "' of switch '" + sw.name + "'");
          if (p.vde_port > sw.max_ports)
            d_.error(p.loc, "vde_port " + std::to_string(p.vde_port) + " is above max_ports " +
                                std::to_string(sw.max_ports));
        }
      }
      if (sw.ports.size() > sw.max_ports)
        d_.error(sw.loc, "switch '" + sw.name + "' declares " + std::to_string(sw.ports.size()) +
                             " ports, more than max_ports " + std::to_string(sw.max_ports));
    }
  }

  void note_netns(const std::string& ns, const SourceLoc& loc) {
    if (ns.empty()) return;
    for (const Netns& n : t_.netns)
      if (n.name == ns) return;
    t_.netns.push_back(Netns{ns, false, loc});
  }

  void collect_netns() {
    auto common = [&](const LinkCommon& l) { note_netns(l.netns, l.loc); };
    for (const Bridge& b : t_.bridges) common(b);
    for (const Veth& v : t_.veths) {
      common(v);
      note_netns(v.peer_netns, v.loc);
    }
    for (const Tap& tp : t_.taps) common(tp);
    for (const KindLink& l : t_.kind_links) common(l);
    for (const Guest& g : t_.guests) note_netns(g.netns, g.loc);
  }

  void check_scenario() {
    if (!t_.scenario) return;
    if (t_.scenario->name.empty() && !t_.scenario->loc.known() && !t_.scenario->checks.empty())
      d_.error(t_.scenario->checks.front().loc, "[[checks]] need a [scenario] table with a name");
    for (const Check& c : t_.scenario->checks) {
      if (c.kind == Check::Kind::kTcp && c.address.family != 0) {
        // The runner listens on the target inside the namespace that has its address.
        bool listened = std::any_of(addresses_.begin(), addresses_.end(), [&](const auto& a) {
          return a.first.second == c.address.str() && !a.first.first.starts_with("guest:");
        });
        if (!listened)
          d_.error(c.target_loc, "tcp check to " + c.target + ": no namespace of the scenario has "
                          "address " + c.address.str() + " to listen on; use an address "
                          "one of its links declares");
      }
      const Guest* vm = qemu_guest(c.from);
      if (vm && (c.kind != Check::Kind::kPing || c.mtu))
        d_.error(c.loc, "checks from VM '" + c.from + "' run ping (without mtu) over its serial "
                        "console; run tcp, arping and mtu checks from a namespace");
      if (!vm) check_source(c.from, c.loc, true);
    }
    for (const Guest& g : t_.guests)
      if (g.ready && g.ready->ping) check_source(g.ready->from, g.ready->from_loc, false);
  }

  const Guest* qemu_guest(const std::string& name) const {
    for (const Guest& g : t_.guests)
      if (g.name == name && g.kind == Guest::Kind::kQemu) return &g;
    return nullptr;
  }

  // Where a check or a ready ping starts: a namespace of the scenario, "host", "upstream"
  // (with [links]); a check may also start in a VM.
  void check_source(const std::string& from, const SourceLoc& loc, bool vm_allowed) {
    if (from.empty() || from == kHostNetns) return;
    if (from == "upstream") {
      if (t_.links.empty())
        d_.error(loc, "namespace 'upstream' exists only when [links] are declared (the "
                      "runner puts the far end of each link there)");
      return;
    }
    bool found = std::any_of(t_.netns.begin(), t_.netns.end(),
                             [&](const Netns& n) { return n.name == from; });
    if (!found) {
      std::string known = "host";
      if (!t_.links.empty()) known += ", upstream";
      for (const Netns& n : t_.netns) known += ", " + n.name;
      std::string vms;
      for (const Guest& g : t_.guests)
        if (vm_allowed && g.kind == Guest::Kind::kQemu) vms += (vms.empty() ? "" : ", ") + g.name;
      d_.error(loc, "namespace '" + from + "' is not part of this scenario; namespaces: " + known +
                        (vms.empty() ? "" : "; VMs: " + vms));
    }
  }

  Diagnostics& d_;
  Topology& t_;
  std::map<std::pair<std::string, std::string>, Named> names_;
  std::map<std::pair<std::string, std::string>, std::pair<std::string, SourceLoc>> addresses_;
  std::map<std::pair<std::string, int>, std::pair<std::string, SourceLoc>> gateways_;
  std::map<std::tuple<std::string, std::string, uint32_t>, std::pair<std::string, SourceLoc>>
      route_keys_;
};

}  // namespace

void validate(Diagnostics& d, Topology& t) { Validator(d, t).run(); }

}  // namespace vnet::topology::detail
