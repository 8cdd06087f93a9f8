// Building desired topologies and actual snapshots in code, for planner and engine tests.
#pragma once

#include <string>
#include <vector>

#include "plan/planner.h"
#include "topology/model.h"

namespace vnet::testing {

using namespace vnet::topology;
using namespace vnet::plan;

inline Mac mac(uint8_t last) { return Mac{{0x02, 0, 0, 0, 0, last}}; }
inline IpAddress ip4(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
  IpAddress x;
  x.family = 2;  // AF_INET
  x.bytes = {a, b, c, d};
  return x;
}
inline Cidr cidr4(uint8_t a, uint8_t b, uint8_t c, uint8_t d, uint8_t prefix) {
  Cidr c_;
  c_.addr = ip4(a, b, c, d);
  c_.prefix = prefix;
  return c_;
}
inline AddrState addr4(uint8_t a, uint8_t b, uint8_t c, uint8_t d, uint8_t prefix) {
  return AddrState{ip4(a, b, c, d), prefix, 0};
}

struct World {
  Topology topo;
  Snapshot snap;
  std::string mark = "vnet:h";

  World() {
    topo.host_name = "h";
    topo.file = "host.toml";
    netns("");
  }
  NetnsState& netns(const std::string& ns) {
    NetnsState& n = snap.netns[ns];
    n.exists = true;
    if (!n.links.count(1)) {
      LinkState lo;
      lo.ifindex = 1;
      lo.name = "lo";
      lo.up = ns.empty();
      n.links[1] = lo;
    }
    return n;
  }
  LinkState& have(const std::string& ns, int idx, const std::string& name, const std::string& kind,
                  bool owned = true) {
    LinkState l;
    l.ifindex = idx;
    l.name = name;
    l.kind = kind;
    l.alias = owned ? mark : "";
    l.mtu = 1500;
    l.up = true;
    if (kind == "bridge") l.set_number("stp", 0);  // the kernel always reports it
    if (kind == "tun") {
      l.tun_tap = true;
      l.set_number("vnet_hdr", 1);
      l.set_number("multi_queue", 0);
      l.set_number("owner", static_cast<uint32_t>(-1));
      l.set_number("group", static_cast<uint32_t>(-1));
      l.tun_persist = true;
    }
    NetnsState& n = netns(ns);
    n.links[idx] = l;
    return n.links[idx];
  }
  // a veth pair in the snapshot (owned host side)
  void have_veth(const std::string& ns, int idx, const std::string& name, const std::string& pns,
                 int pidx, const std::string& peer) {
    LinkState& a = have(ns, idx, name, "veth");
    a.link = pidx;
    a.link_other_netns = pns != ns;
    LinkState& b = have(pns, pidx, peer, "veth", false);
    b.link = idx;
    b.link_other_netns = pns != ns;
  }
  template <class T>
  T& add(std::vector<T>& v, const std::string& name) {
    v.emplace_back();
    v.back().name = name;
    v.back().loc = SourceLoc{"host.toml", static_cast<uint32_t>(v.size() + 1), 1};
    return v.back();
  }
  Bridge& bridge(const std::string& name) { return add(topo.bridges, name); }
  Veth& veth(const std::string& name, const std::string& peer, const std::string& peer_ns = "") {
    Veth& v = add(topo.veths, name);
    v.peer = peer;
    v.peer_netns = peer_ns;
    return v;
  }
  Tap& tap(const std::string& name) { return add(topo.taps, name); }
  // A table-described kind as the parser leaves it: every attribute, fallbacks applied.
  KindLink& described(const std::string& info_kind, const std::string& name) {
    KindLink& l = add(topo.kind_links, name);
    l.init(*kind_by_info(info_kind));
    return l;
  }

  static void set(KindLink& l, const char* key, uint64_t number, const std::string& text = "") {
    AttrValue& v = l.attrs[l.desc->index_of(key)];
    v.set = v.written = true;
    v.number = number;
    v.text = text;
  }
  KindLink& vlan(const std::string& name, const std::string& link, uint16_t id) {
    KindLink& v = described("vlan", name);
    set(v, "link", 0, link);
    set(v, "id", id);
    return v;
  }
  KindLink& macvlan(const std::string& name, const std::string& link) {
    KindLink& m = described("macvlan", name);
    set(m, "link", 0, link);
    return m;
  }
  Link& link(const std::string& name) { return add(topo.links, name); }
  static void port(LinkCommon& c, const std::string& bridge, std::optional<uint16_t> pvid = {},
                   std::vector<uint16_t> tagged = {}) {
    BridgePort p;
    p.bridge = bridge;
    p.pvid = pvid;
    p.tagged = std::move(tagged);
    c.port = p;
  }

  Plan plan(bool destroy = false) const {
    PlanOptions o;
    o.destroy = destroy;
    o.first_ifindex = 0;  // readable indexes: just above the highest in use
    return make_plan(topo, snap, o);
  }
  static std::vector<std::string> lines(const Plan& p) {
    std::vector<std::string> out;
    for (const Op& op : p.ops) out.push_back(op.describe());
    return out;
  }
};

}  // namespace vnet::testing
