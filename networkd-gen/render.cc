// model -> .netdev/.network sections (render.h). The table-described kinds render from
// their KindDesc alone (networkd_kind, networkd_section, each attribute's `networkd`
// key, networkd_attach): nothing here names vlan, macvlan, vxlan, bond or dummy.
#include "networkd-gen/render.h"

#include <sys/socket.h>

#include <algorithm>
#include <functional>
#include <map>
#include <set>

namespace vnet::networkd {
namespace {

using namespace vnet::topology;

// File prefixes: below 80, where Debian's and NixOS's vendor files 80-container-*.network
// match vb-*/ve-*/host0 by name (networkd takes the first match in lexical order).
// Lower links first only for the reader; networkd itself does not care.
constexpr int kBridgePrefix = 10;
constexpr int kKindPrefix = 20;  // + the kind's rank
constexpr int kVethPrefix = 30;
constexpr int kPeerPrefix = 31;
constexpr int kTapPrefix = 40;
constexpr int kLinkPrefix = 50;

const char* yes_no(bool b) { return b ? "yes" : "no"; }

std::string file_name(int prefix, const std::string& name, const char* ext) {
  return std::to_string(prefix) + "-vnet-" + name + "." + ext;
}

// "10", "100-199": VLAN ids as networkd ranges, contiguous runs merged.
std::vector<std::string> ranges(std::vector<uint16_t> ids) {
  std::sort(ids.begin(), ids.end());
  std::vector<std::string> out;
  for (size_t i = 0; i < ids.size();) {
    size_t j = i;
    while (j + 1 < ids.size() && ids[j + 1] == ids[j] + 1) ++j;
    out.push_back(i == j ? std::to_string(ids[i])
                         : std::to_string(ids[i]) + "-" + std::to_string(ids[j]));
    i = j + 1;
  }
  return out;
}

// [BridgeVLAN] sections stating `entries` whole: the native VLAN (PVID, egress untagged)
// in one section, then one per range of tagged VLANs. Listing every entry is what makes
// systemd 252 (adds only) and 255+ (removes what is not listed) agree.
void add_bridge_vlans(std::vector<Section>& out, const std::vector<VlanEntry>& entries) {
  std::vector<uint16_t> untagged, tagged;
  for (const VlanEntry& e : entries) {
    if (e.pvid) {
      std::string v = std::to_string(e.vid);
      Section s{"BridgeVLAN", {{"VLAN", v}, {"PVID", v}}};
      if (e.untagged) s.entries.push_back({"EgressUntagged", v});
      out.push_back(std::move(s));
    } else {
      (e.untagged ? untagged : tagged).push_back(e.vid);
    }
  }
  for (const std::string& r : ranges(untagged))
    out.push_back({"BridgeVLAN", {{"VLAN", r}, {"EgressUntagged", r}}});
  for (const std::string& r : ranges(tagged)) out.push_back({"BridgeVLAN", {{"VLAN", r}}});
}

bool has(const std::vector<VlanEntry>& v, const VlanEntry& e) {
  return std::find(v.begin(), v.end(), e) != v.end();
}

// One namespace's view of the topology, and the rendering of it.
class Renderer {
 public:
  Renderer(const Topology& topo, std::string netns) : t_(topo), ns_(std::move(netns)) {}

  Rendering run() {
    for (const Bridge& b : t_.bridges)
      if (here(b.netns)) bridge(b);
      else away("bridge", b);
    for (const KindLink& k : t_.kind_links)
      if (here(k.netns)) kind_link(k);
      else away(k.desc->word, k);
    for (const Veth& v : t_.veths) veth(v);
    for (const Tap& tp : t_.taps)
      if (here(tp.netns)) tap(tp);
      else away("tap", tp);
    for (const Link& l : t_.links)
      if (here(l.netns)) existing(l);
    if (ns_.empty()) {
      for (const Netns& n : t_.netns)
        out_.left_out.push_back("namespace " + n.name + ": networkd has no namespaces; render " +
                                "its links with --netns " + n.name + " for a networkd inside it");
    }
    std::sort(out_.files.begin(), out_.files.end(),
              [](const File& a, const File& b) { return a.name < b.name; });
    return std::move(out_);
  }

 private:
  bool here(const std::string& netns) const { return netns == ns_; }

  std::string where(const std::string& netns) const {
    return netns.empty() ? std::string("the target namespace") : "namespace " + netns;
  }

  void away(const char* word, const LinkCommon& l) {
    // Each object is printed once, from the view of the target.
    if (!ns_.empty()) return;
    out_.left_out.push_back(std::string(word) + " " + l.name + ": lives in " + where(l.netns) +
                            "; render it with --netns " + l.netns);
  }

  // Is `name` a link of this namespace (created or existing)?
  bool exists_here(const std::string& name) const {
    for (const Bridge& b : t_.bridges)
      if (here(b.netns) && b.name == name) return true;
    for (const KindLink& k : t_.kind_links)
      if (here(k.netns) && k.name == name) return true;
    for (const Veth& v : t_.veths)
      if ((here(v.netns) && v.name == name) || (here(v.peer_netns) && v.peer == name)) return true;
    for (const Tap& tp : t_.taps)
      if (here(tp.netns) && tp.name == name) return true;
    for (const Link& l : t_.links)
      if (here(l.netns) && l.name == name) return true;
    return false;
  }

  // Links that have no carrier by nature until something outside networkd acts: a tap
  // until its VM opens it, a veth until the container side exists, a bridge whose ports
  // all lack carrier, a link stacked on such a one. They get ConfigureWithoutCarrier=yes
  // and RequiredForOnline=no, so systemd-networkd-wait-online does not wait for a VM.
  bool carrierless(const std::string& name) {
    if (auto it = carrier_memo_.find(name); it != carrier_memo_.end()) return it->second;
    carrier_memo_[name] = false;  // cycles cannot occur in a valid model; be safe
    bool result = false;
    for (const Tap& tp : t_.taps)
      if (here(tp.netns) && tp.name == name) result = true;
    for (const Veth& v : t_.veths)
      if (here(v.netns) && v.name == name && v.peer_netns != v.netns) result = true;
    for (const Bridge& b : t_.bridges) {
      if (!here(b.netns) || b.name != name) continue;
      bool any_carrier = false;
      for_each_port(b, [&](const LinkCommon& p) { any_carrier |= !carrierless(p.name); });
      result = !any_carrier;
    }
    for (const KindLink& k : t_.kind_links)
      if (here(k.netns) && k.name == name && k.desc->parent_attr() && !k.lower().empty())
        result = carrierless(k.lower());
    carrier_memo_[name] = result;
    return result;
  }

  void for_each_port(const Bridge& b, const std::function<void(const LinkCommon&)>& f) const {
    auto visit = [&](const LinkCommon& l) {
      if (here(l.netns) && l.port && l.port->bridge == b.name) f(l);
    };
    for (const KindLink& k : t_.kind_links) visit(k);
    for (const Veth& v : t_.veths) visit(v);
    for (const Tap& tp : t_.taps) visit(tp);
    for (const Link& l : t_.links) visit(l);
  }

  // A VLAN-filtering bridge keeps its default_pvid only where the kernel's gift of it to
  // every new port (and to itself) is what vnet wants anyway: systemd 252 never removes
  // a bridge VLAN, so otherwise the bridge is made with DefaultPVID=none and every
  // membership is stated (docs/networkd.md, "systemd 252 and 255").
  bool keeps_default_pvid(const Bridge& b) const {
    if (!b.vlan_filtering() || b.default_pvid() == 0) return b.default_pvid() != 0;
    VlanEntry native{b.default_pvid(), true, true};
    bool fits = has(desired_self_vlans(t_, b), native);
    for_each_port(b, [&](const LinkCommon& p) { fits &= has(desired_port_vlans(b, *p.port), native); });
    return fits;
  }

  std::string describe(const char* word, const LinkCommon& l) const {
    std::string s = std::string(word) + " " + l.name;
    if (!l.derived_from.empty()) s += " (of guest " + l.derived_from + ")";
    return s;
  }

  void netdev(int prefix, const std::string& object, const LinkCommon& l, const char* kind,
              std::vector<Section> extra) {
    Section nd{"NetDev", {{"Name", l.name}, {"Kind", kind}}};
    // A bridge's MTU set at creation is not "set by the user" to the kernel, which then
    // lowers it to its smallest port's as ports join; [Link] MTUBytes= in its .network
    // (a later change) keeps it, as vnet apply's does.
    if (l.mtu && std::string(kind) != "bridge") nd.entries.push_back({"MTUBytes", std::to_string(*l.mtu)});
    if (l.mac) nd.entries.push_back({"MACAddress", l.mac->str()});
    File f{file_name(prefix, l.name, "netdev"), object, {std::move(nd)}};
    for (Section& s : extra)
      if (!s.entries.empty()) f.sections.push_back(std::move(s));
    out_.files.push_back(std::move(f));
  }

  struct NetworkSpec {
    std::string name;
    std::optional<uint32_t> mtu;
    std::optional<Mac> mac;  // only for links networkd does not create
    const std::vector<Cidr>* addresses = nullptr;
    std::optional<IpAddress> gateway;
    const std::vector<Route>* routes = nullptr;
    LinkLocal link_local = LinkLocal::kIpv6;
    const BridgePort* port = nullptr;
    std::string bond;                     // the bond it is a member of
    std::string bond_key;                 // that kind's networkd_attach
    std::vector<VlanEntry> self_vlans;    // a bridge's own
  };

  void network(int prefix, const std::string& object, const NetworkSpec& s) {
    File f{file_name(prefix, s.name, "network"), object, {}};
    f.sections.push_back({"Match", {{"Name", s.name}}});
    bool no_carrier = carrierless(s.name);
    Section link{"Link", {}};
    if (s.mac) link.entries.push_back({"MACAddress", s.mac->str()});
    if (s.mtu) link.entries.push_back({"MTUBytes", std::to_string(*s.mtu)});
    if (no_carrier) link.entries.push_back({"RequiredForOnline", "no"});
    if (!link.entries.empty()) f.sections.push_back(std::move(link));

    Section net{"Network", {}};
    net.entries.push_back({"LinkLocalAddressing", s.link_local == LinkLocal::kNone ? "no" : "ipv6"});
    if (no_carrier) net.entries.push_back({"ConfigureWithoutCarrier", "yes"});
    if (s.port) net.entries.push_back({"Bridge", s.port->bridge});
    if (!s.bond.empty() && !s.bond_key.empty()) net.entries.push_back({s.bond_key, s.bond});
    // Links that sit on this one (a vlan's or macvlan's parent, a vxlan's dev): networkd
    // creates them when this link is configured.
    for (const KindLink& k : t_.kind_links) {
      if (!here(k.netns) || !*k.desc->networkd_attach) continue;
      for (size_t i = 0; i < k.desc->attrs.size() && i < k.attrs.size(); ++i)
        if (k.desc->attrs[i].type == KindAttr::Type::kLink && k.attrs[i].set &&
            k.attrs[i].text == s.name)
          net.entries.push_back({k.desc->networkd_attach, k.name});
    }
    if (s.gateway) net.entries.push_back({"Gateway", s.gateway->str()});
    f.sections.push_back(std::move(net));

    // networkd gives an IPv4 address a broadcast address unless told not to; vnet apply
    // (like `ip addr add`) sets none, and the kernel state must be the same.
    if (s.addresses)
      for (const Cidr& c : *s.addresses) {
        Section a{"Address", {{"Address", c.str()}}};
        if (c.addr.family == AF_INET) a.entries.push_back({"Broadcast", "no"});
        f.sections.push_back(std::move(a));
      }

    if (s.routes)
      for (const Route& r : *s.routes) {
        Section rs{"Route", {{"Destination", r.to.str()}}};
        if (r.via) rs.entries.push_back({"Gateway", r.via->str()});
        // IPv4 routes without a gateway are on-link, as vnet makes them.
        else if (r.to.addr.family == AF_INET) rs.entries.push_back({"Scope", "link"});
        if (r.metric) rs.entries.push_back({"Metric", std::to_string(*r.metric)});
        f.sections.push_back(std::move(rs));
      }
    if (s.port) {
      if (const Bridge* b = t_.find_bridge(s.port->bridge, ns_))
        add_bridge_vlans(f.sections, desired_port_vlans(*b, *s.port));
    }
    add_bridge_vlans(f.sections, s.self_vlans);
    out_.files.push_back(std::move(f));
  }

  NetworkSpec spec_of(const LinkCommon& l) const {
    NetworkSpec s;
    s.name = l.name;
    s.mtu = l.mtu;
    s.addresses = &l.addresses;
    s.gateway = l.gateway;
    s.routes = &l.routes;
    s.link_local = l.link_local;
    s.port = l.port ? &*l.port : nullptr;
    return s;
  }

  void bridge(const Bridge& b) {
    std::string object = describe("bridge", b);
    bool keep = keeps_default_pvid(b);
    if (b.vlan_filtering() && b.default_pvid() != 0 && !keep)
      out_.notes.push_back("bridge " + b.name + ": DefaultPVID=none rather than " +
                           std::to_string(b.default_pvid()) + ": a port or the bridge leaves VLAN " +
                           std::to_string(b.default_pvid()) +
                           ", which systemd 252 cannot remove; memberships are stated instead "
                           "(the bridge's own default_pvid then reads 0)");
    Section br{"Bridge", {{"VLANFiltering", yes_no(b.vlan_filtering())}}};
    // vnet apply sets default_pvid only on a VLAN-filtering bridge (elsewhere VLANs are
    // an error and the kernel's 1 stays): so does the rendering.
    if (b.vlan_filtering())
      br.entries.push_back({"DefaultPVID", keep ? std::to_string(b.default_pvid()) : "none"});
    br.entries.push_back({"STP", yes_no(b.stp())});
    netdev(kBridgePrefix, object, b, "bridge", {br});
    NetworkSpec s = spec_of(b);
    s.self_vlans = desired_self_vlans(t_, b);
    network(kBridgePrefix, object, s);
  }

  static std::string attr_value(const KindAttr& a, const AttrValue& v) {
    switch (a.type) {
      case KindAttr::Type::kBool: return yes_no(v.number != 0);
      case KindAttr::Type::kIp: return v.ip.str();
      case KindAttr::Type::kEnum: return info_text(a, InfoValue{v.number, v.ip});
      case KindAttr::Type::kLink:
      case KindAttr::Type::kUser:  // the name as written (or the number)
      case KindAttr::Type::kGroup: return v.text;
      default: return std::to_string(v.number) + a.networkd_unit;
    }
  }

  // The kind's section of the .netdev: each attribute set, by its networkd key.
  static Section table_section(const KindLink& k) {
    Section sec{k.desc->networkd_section, {}};
    for (size_t i = 0; i < k.desc->attrs.size() && i < k.attrs.size(); ++i) {
      const KindAttr& a = k.desc->attrs[i];
      if (!k.attrs[i].set || !*a.networkd) continue;
      sec.entries.push_back({a.networkd, attr_value(a, k.attrs[i])});
    }
    for (const auto& [key, value] : k.desc->networkd_fixed) sec.entries.push_back({key, value});
    return sec;
  }

  void kind_link(const KindLink& k) {
    std::string object = describe(k.desc->word, k);
    bool attached = false;
    for (size_t i = 0; i < k.desc->attrs.size() && i < k.attrs.size(); ++i) {
      const KindAttr& a = k.desc->attrs[i];
      if (a.type != KindAttr::Type::kLink || !k.attrs[i].set) continue;
      if (!exists_here(k.attrs[i].text)) {
        out_.left_out.push_back(object + ": sits on " + k.attrs[i].text + ", which is not in " +
                                where(k.netns) + " where it lives; networkd creates a link "
                                "only beside its lower link and cannot move it (vnet apply does)");
        return;
      }
      attached = true;
    }
    Section sec = table_section(k);
    if (!attached && *k.desc->networkd_unattached)
      sec.entries.push_back({k.desc->networkd_unattached, "yes"});
    netdev(kKindPrefix + k.desc->rank, object, k, k.desc->networkd_kind, {sec});
    network(kKindPrefix + k.desc->rank, object, spec_of(k));
  }

  void veth(const Veth& v) {
    std::string object = describe("veth", v);
    bool mine = here(v.netns), peer_here = here(v.peer_netns);
    if (mine && peer_here) {
      Section peer{"Peer", {{"Name", v.peer}}};
      if (v.peer_mac) peer.entries.push_back({"MACAddress", v.peer_mac->str()});
      netdev(kVethPrefix, object, v, "veth", {peer});
    } else if (mine) {
      out_.left_out.push_back(object + ": no .netdev: its peer " + v.peer + " lives in " +
                              where(v.peer_netns) +
                              ", where networkd cannot put it; the .network configures " +
                              v.name + " once vnet apply (or the container manager) creates the pair");
    } else if (peer_here) {
      out_.left_out.push_back("veth peer " + v.peer + " (of " + v.name + " in " + where(v.netns) +
                              "): not created here; its .network configures it once it arrives");
    } else if (ns_.empty()) {
      away("veth", v);
    }
    if (mine) network(kVethPrefix, object, spec_of(v));
    if (peer_here) {
      NetworkSpec s;
      s.name = v.peer;
      s.mtu = v.mtu;  // vnet gives both ends the veth's MTU
      if (!mine) s.mac = v.peer_mac;
      s.addresses = &v.peer_addresses;
      s.gateway = v.peer_gateway;
      s.routes = &v.peer_routes;
      s.link_local = v.peer_link_local;
      network(kPeerPrefix, "veth peer " + v.peer + " of " + v.name, s);
    }
  }

  void tap(const Tap& tp) {
    std::string object = describe("tap", tp);
    netdev(kTapPrefix, object, tp, tp.desc->networkd_kind, {table_section(tp)});
    network(kTapPrefix, object, spec_of(tp));
  }

  void existing(const Link& l) {
    NetworkSpec s = spec_of(l);
    // vnet apply leaves an existing link's IPv6 link-local mode as it found it (the
    // kernel's, autoconfiguring) unless written or a bond member (model.h Link); networkd
    // always sets one, so ask for the one apply leaves.
    if (!l.link_local_written && l.member_of.empty()) s.link_local = LinkLocal::kIpv6;
    if (!l.member_of.empty()) {
      s.bond = l.member_of;
      for (const KindLink& k : t_.kind_links)
        if (k.name == l.member_of && here(k.netns)) s.bond_key = k.desc->networkd_attach;
    }
    network(kLinkPrefix, "link " + l.name + " (existing; not created)", s);
  }

  const Topology& t_;
  std::string ns_;
  Rendering out_;
  std::map<std::string, bool> carrier_memo_;
};

}  // namespace

Rendering render(const topology::Topology& topo, const std::string& /*source*/,
                 const std::string& netns) {
  return Renderer(topo, netns == topology::kHostNetns ? "" : netns).run();
}

std::string file_text(const File& f, const std::string& source, const std::string& host) {
  std::string s = "# Generated by vnet render networkd from " + source + " (host " + host +
                  "): " + f.object + ".\n# Edit the host.toml and render again; changes here "
                  "are overwritten.\n";
  for (const Section& sec : f.sections) {
    s += "\n[" + sec.name + "]\n";
    for (const Entry& e : sec.entries) s += e.key + "=" + e.value + "\n";
  }
  return s;
}

}  // namespace vnet::networkd
