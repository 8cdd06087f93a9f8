// `vnet show`: the inverse of the model's rules (desired_port_vlans, desired_self_vlans,
// the link_local defaults, a kind's fallbacks), so that applying the output changes
// nothing. What the schema cannot say is listed, never guessed.
#include "plan/show.h"

#include <sys/socket.h>

#include <algorithm>
#include <map>
#include <set>
#include <sstream>

namespace vnet::plan {
namespace {

using topology::KindAttr;
using topology::KindDesc;
using topology::LinkLocal;

constexpr uint8_t kRouteProtoBoot = 3, kRouteProtoStatic = 4;  // RTPROT_BOOT, RTPROT_STATIC
constexpr uint32_t kDefaultMtu = 1500;

std::string quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      char buf[8];
      snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned char>(c));
      out += buf;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

// A table key: bare where TOML allows it ("br0"), quoted otherwise ("br0.40").
std::string key(const std::string& k) {
  bool bare = !k.empty() && std::all_of(k.begin(), k.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
  return bare ? k : quote(k);
}

// VLAN ids as host.toml takes them: runs of three or more as "A-B" ranges.
std::string vid_list(const std::vector<VlanEntry>& entries) {
  std::vector<std::string> items;
  for (const auto& run : topology::vlan_runs(entries)) {
    if (run.second - run.first.vid >= 2) {
      items.push_back("\"" + topology::run_text(run) + "\"");
    } else {
      for (unsigned v = run.first.vid; v <= run.second; ++v) items.push_back(std::to_string(v));
    }
  }
  std::string out = "[";
  for (size_t i = 0; i < items.size(); ++i) out += (i ? ", " : "") + items[i];
  return out + "]";
}

std::string list(const std::vector<std::string>& items) {
  std::string out = "[";
  for (size_t i = 0; i < items.size(); ++i) out += (i ? ", " : "") + items[i];
  return out + "]";
}

struct Ref {
  std::string ns;
  int ifindex = 0;
  auto operator<=>(const Ref&) const = default;
};

class Shower {
 public:
  Shower(const Snapshot& snap, const ShowOptions& o, std::string mark)
      : snap_(snap), o_(o), mark_(std::move(mark)) {}

  ShowResult run() {
    select();
    ShowResult r;
    std::ostringstream out;
    out << "[host]\nname = " << quote(o_.host) << "\n";
    for (const std::string& c : o_.header) out << "#" << (c.empty() ? "" : " ") << c << "\n";
    for (const char* kind : {"bridge", "", "veth", "tun"}) emit_table(out, kind);
    for (const KindDesc* k : topology::kinds()) emit_table(out, k->info_kind);
    if (!left_out_.empty()) {
      out << "\n# not expressible in host.toml, left out:\n";
      for (const std::string& s : left_out_) out << "#   " << s << "\n";
    }
    r.toml = out.str();
    r.left_out = left_out_;
    return r;
  }

 private:
  const LinkState* at(const Ref& r) const {
    const NetnsState* st = snap_.find(r.ns);
    return st ? st->by_index(r.ifindex) : nullptr;
  }
  bool owned(const LinkState& l) const { return l.alias == mark_; }

  // The other end of a veth: in its own namespace, or the one that points back at it.
  std::optional<Ref> peer_of(const std::string& ns, const LinkState& l) const {
    if (l.kind != "veth" || l.link == 0) return std::nullopt;
    if (!l.link_other_netns) {
      const LinkState* p = snap_.find(ns)->by_index(l.link);
      if (p) return Ref{ns, p->ifindex};
      return std::nullopt;
    }
    for (const auto& [ns2, st2] : snap_.netns) {
      if (ns2 == ns) continue;
      const LinkState* p = st2.by_index(l.link);
      if (p && p->kind == "veth" && p->link == l.ifindex && p->link_other_netns) return Ref{ns2, p->ifindex};
    }
    return std::nullopt;
  }

  // Which links become tables: owned ones (or every one with --all), the unowned links
  // they stand on as [links], and veth peers only through their veth.
  void select() {
    for (const auto& [ns, st] : snap_.netns) {
      if (!st.exists) continue;
      for (const auto& [idx, l] : st.links) {
        if (l.name == "lo") continue;
        if (!o_.all && !owned(l)) continue;
        Ref r{ns, idx};
        if (peers_.count(r)) continue;
        if (auto p = peer_of(ns, l)) {
          // --all: one end per pair; the target's (then the lower index) is the veth
          if (o_.all && declared_.count(*p)) continue;
          peers_.insert(*p);
          declared_.erase(*p);
          peer_[r] = *p;
        }
        declared_.insert(r);
      }
    }
    // Unowned links an owned one stands on, so that the parents resolve and ports stay.
    std::set<Ref> extra;
    for (const Ref& r : declared_) {
      const LinkState& l = *at(r);
      const NetnsState& st = *snap_.find(r.ns);
      auto need = [&](int idx) {
        if (idx == 0) return;
        Ref p{r.ns, idx};
        if (!declared_.count(p) && !peers_.count(p) && st.by_index(idx)) extra.insert(p);
      };
      if (l.kind != "veth") need(l.link);
      for (const auto& [idx, port] : st.links)
        if (port.master == l.ifindex && !is_bond(l)) need(idx);
    }
    for (const Ref& r : extra) as_link_.insert(r), declared_.insert(r);
  }

  bool is_bond(const LinkState& l) const {
    const KindDesc* k = topology::kind_by_info(l.kind);
    return k && k->members_key;
  }

  // The kind whose table declares it: "" for [links] (and kinds with no table, which
  // emit() reports as left out).
  std::string table_kind(const Ref& r) const {
    const LinkState& l = *at(r);
    if (as_link_.count(r)) return "";
    if (topology::kind_by_info(l.kind))
      return l.kind;
    return "";
  }

  std::string name_in(const std::string& ns, int ifindex) const {
    const NetnsState* st = snap_.find(ns);
    const LinkState* l = st ? st->by_index(ifindex) : nullptr;
    return l ? l->name : "";
  }

  void emit_table(std::ostringstream& out, const std::string& kind) {
    std::vector<Ref> refs;
    for (const Ref& r : declared_)
      if (table_kind(r) == kind) refs.push_back(r);
    std::sort(refs.begin(), refs.end(), [&](const Ref& a, const Ref& b) {
      return std::tie(a.ns, at(a)->name) < std::tie(b.ns, at(b)->name);
    });
    for (const Ref& r : refs) emit(out, r, kind);
  }

  void emit(std::ostringstream& out, const Ref& r, const std::string& kind) {
    const LinkState& l = *at(r);
    std::string what = l.name + (r.ns.empty() ? "" : " in netns " + r.ns);
    std::ostringstream t;
    bool port = false;
    if (kind.empty()) {
      if (!l.kind.empty() && !as_link_.count(r)) {
        left_out_.push_back(what + ": link kind '" + l.kind + "' has no table in host.toml");
        return;
      }
      if (!r.ns.empty()) {
        left_out_.push_back(what + ": [links] are in the target namespace only");
        return;
      }
      out << "\n[links." << key(l.name) << "]\n";
      emit_extra(out, r);
      if (l.mtu && l.mtu != kDefaultMtu) t << "mtu = " << l.mtu << "\n";
      port = emit_port(t, r, l, what);
      // a bond's member defaults to none like a port (model.h Link)
      const LinkState* master = l.master ? snap_.find(r.ns)->by_index(l.master) : nullptr;
      emit_link_local(t, "link_local", l, port || (master && master->kind == "bond"));
      for (const AddrState& a : l.addrs)
        if (!a.kernel_made()) {
          left_out_.push_back(what + ": its addresses ([links] are not addressed by vnet)");
          break;
        }
      out << t.str();
      return;
    }
    const KindDesc& k = *topology::kind_by_info(kind);
    out << "\n[" << k.table << "." << key(l.name) << "]\n";
    emit_extra(out, r);
    if (!r.ns.empty()) out << "netns = " << quote(r.ns) << "\n";
    if (l.mtu && l.mtu != kDefaultMtu) out << "mtu = " << l.mtu << "\n";
    if (&k == &topology::veth_kind()) emit_peer(out, r, what);
    if (k.tun_device) {
      if (!l.tun_tap) left_out_.push_back(what + ": a tun device (vnet makes taps)");
      if (!l.tun_persist) left_out_.push_back(what + ": not persistent (it belongs to the process that holds it)");
    }
    emit_described(out, r, l, k, what);
    if (l.vlan_filtering()) emit_self_vlans(out, l, what);
    if (k.port) port = emit_port(out, r, l, what);
    emit_link_local(out, "link_local", l, port);
    emit_addresses(out, "addresses", "routes", r.ns, l);
  }

  void emit_extra(std::ostringstream& out, const Ref& r) {
    if (!r.ns.empty()) return;
    auto it = o_.extra.find(at(r)->name);
    if (it != o_.extra.end())
      for (const std::string& line : it->second) out << line << "\n";
  }

  // bridge = "br0" with pvid/tagged: the inverse of desired_port_vlans.
  bool emit_port(std::ostringstream& out, const Ref& r, const LinkState& l, const std::string& what) {
    if (l.master == 0) return false;
    const LinkState* br = snap_.find(r.ns)->by_index(l.master);
    if (!br || br->kind != "bridge") return false;  // a bond's member: in its `members`
    out << "bridge = " << quote(br->name) << "\n";
    if (!br->vlan_filtering()) return true;
    uint16_t dp = br->default_pvid().value_or(1);
    std::optional<uint16_t> pvid;
    std::vector<VlanEntry> tagged;
    for (const VlanEntry& e : l.vlans) {
      if (e.pvid && e.untagged) pvid = e.vid;
      else if (!e.pvid && !e.untagged) tagged.push_back(e);
      else left_out_.push_back(what + ": VLAN " + std::to_string(e.vid) + " is " +
                               (e.pvid ? "a tagged PVID" : "untagged without being the PVID"));
    }
    if (!pvid && tagged.empty()) {
      if (dp != 0) out << "pvid = 0\n";
      return true;
    }
    if (pvid && (*pvid != dp || !tagged.empty())) out << "pvid = " << *pvid << "\n";
    if (!tagged.empty()) out << "tagged = " << vid_list(tagged) << "\n";
    return true;
  }

  // The bridge's own VLANs beyond its default PVID: `vlans` (tagged).
  void emit_self_vlans(std::ostringstream& out, const LinkState& br, const std::string& what) {
    uint16_t dp = br.default_pvid().value_or(1);
    std::vector<VlanEntry> tagged;
    for (const VlanEntry& e : br.vlans) {
      if (e.vid == dp && e.pvid && e.untagged) continue;
      if (!e.pvid && !e.untagged) tagged.push_back(e);
      else left_out_.push_back(what + ": its own VLAN " + std::to_string(e.vid) + " has flags vnet does not set");
    }
    if (!tagged.empty()) out << "vlans = " << vid_list(tagged) << "\n";
  }

  void emit_link_local(std::ostringstream& out, const char* k, const LinkState& l, bool port) {
    if (!l.addr_gen_mode) return;  // IPv6 off on the link: nothing to say
    bool none = *l.addr_gen_mode == kAddrGenNone;
    if (none != port) out << k << " = " << quote(none ? "none" : "ipv6") << "\n";
  }

  void emit_addresses(std::ostringstream& out, const std::string& addr_key, const std::string& route_key,
                      const std::string& ns, const LinkState& l) {
    std::vector<std::string> addrs;
    for (const AddrState& a : l.addrs)
      if (!a.kernel_made()) addrs.push_back(quote(a.str()));
    if (!addrs.empty()) out << addr_key << " = " << list(addrs) << "\n";
    std::vector<std::string> routes;
    for (const RouteState& rt : snap_.find(ns)->routes) {
      if (rt.oif != l.ifindex) continue;
      bool ours = rt.proto == kRouteProtoVnet;
      if (!ours && !(o_.all && (rt.proto == kRouteProtoBoot || rt.proto == kRouteProtoStatic))) continue;
      std::string e = "{ to = " + quote(rt.to_str());
      if (rt.gateway.family) e += ", via = " + quote(rt.gateway.str());
      if (rt.priority != topology::kernel_metric(rt.af(), std::nullopt)) e += ", metric = " + std::to_string(rt.priority);
      routes.push_back(e + " }");
    }
    if (!routes.empty()) out << route_key << " = " << list(routes) << "\n";
  }

  void emit_peer(std::ostringstream& out, const Ref& r, const std::string& what) {
    auto it = peer_.find(r);
    const LinkState* p = it == peer_.end() ? nullptr : at(it->second);
    if (!p) {
      left_out_.push_back(what + ": its peer is in a namespace vnet does not read");
      out << "# peer: not found\n";
      return;
    }
    out << "peer = " << quote(p->name) << "\n";
    const std::string& pns = it->second.ns;
    if (pns != r.ns) out << "peer_netns = " << quote(pns.empty() ? topology::kHostNetns : pns) << "\n";
    if (p->addr_gen_mode && *p->addr_gen_mode == kAddrGenNone) out << "peer_link_local = \"none\"\n";
    emit_addresses(out, "peer_addresses", "peer_routes", pns, *p);
  }

  void emit_described(std::ostringstream& out, const Ref& r, const LinkState& l, const KindDesc& k,
                      const std::string& what) {
    std::set<uint16_t> done;  // keys that share an attribute (vxlan remote/group) go once
    for (const KindAttr& a : k.attrs) {
      if (a.type == KindAttr::Type::kLink) {
        // the parent is IFLA_LINK; a lower link inside IFLA_INFO_DATA was decoded there too
        if (l.link == 0) continue;
        std::string lower = l.link_other_netns ? "" : name_in(r.ns, l.link);
        if (lower.empty()) left_out_.push_back(what + ": its " + a.key + " is in another namespace");
        else out << a.key << " = " << quote(lower) << "\n";
        continue;
      }
      auto it = l.info.find(a.nla);
      if (it == l.info.end() || done.count(a.nla)) continue;
      const topology::InfoValue& v = it->second;
      if (a.type == KindAttr::Type::kIp) {
        // one kernel attribute, two keys: a multicast address is a `group`, else `remote`
        bool multicast = v.ip.family == AF_INET ? (v.ip.bytes[0] & 0xf0) == 0xe0 : v.ip.bytes[0] == 0xff;
        bool shared = std::count_if(k.attrs.begin(), k.attrs.end(), [&](const KindAttr& b) { return b.nla == a.nla; }) > 1;
        if (shared && multicast != (std::string(a.key) == "group")) continue;
        done.insert(a.nla);
        out << a.key << " = " << quote(v.ip.str()) << "\n";
        continue;
      }
      done.insert(a.nla);
      if (a.only_with && !l.number(a.only_with).value_or(0)) continue;
      bool id = a.type == KindAttr::Type::kUser || a.type == KindAttr::Type::kGroup;
      if (id && v.number == static_cast<uint32_t>(-1)) continue;  // none
      // unwritten: the fallback is sent, or nothing and the kernel keeps its zero default
      if (!a.required && v.number == a.fallback.value_or(0)) continue;
      switch (a.type) {
        case KindAttr::Type::kBool: out << a.key << " = " << (v.number ? "true" : "false") << "\n"; break;
        case KindAttr::Type::kEnum: {
          auto n = std::find_if(a.names.begin(), a.names.end(), [&](const auto& p) { return p.second == v.number; });
          if (n == a.names.end()) left_out_.push_back(what + ": " + a.key + " " + std::to_string(v.number) + " has no name");
          else out << a.key << " = " << quote(n->first) << "\n";
          break;
        }
        default:
          if (a.hi > a.lo && (static_cast<int64_t>(v.number) < a.lo || static_cast<int64_t>(v.number) > a.hi))
            left_out_.push_back(what + ": " + a.key + " " + std::to_string(v.number) + " is out of range");
          else
            out << a.key << " = " << v.number << "\n";
      }
    }
    if (k.members_key) {
      std::vector<std::string> members;
      for (const auto& [idx, m] : snap_.find(r.ns)->links)
        if (m.master == l.ifindex) members.push_back(quote(m.name));
      if (!members.empty()) out << k.members_key << " = " << list(members) << "\n";
    }
  }

  const Snapshot& snap_;
  const ShowOptions& o_;
  std::string mark_;
  std::set<Ref> declared_, peers_, as_link_;
  std::map<Ref, Ref> peer_;
  std::vector<std::string> left_out_;
};

}  // namespace

std::vector<std::string> owner_hosts(const Snapshot& snap) {
  // the target's own marks first: other namespaces may hold other hosts' links
  for (bool target_only : {true, false}) {
    std::set<std::string> hosts;
    const std::string prefix = owner_mark("");
    for (const auto& [ns, st] : snap.netns) {
      if (target_only && !ns.empty()) continue;
      for (const auto& [idx, l] : st.links)
        if (l.alias.rfind(prefix, 0) == 0 && l.alias.size() > prefix.size())
          hosts.insert(l.alias.substr(prefix.size()));
    }
    if (!hosts.empty()) return {hosts.begin(), hosts.end()};
  }
  return {};
}

Result<ShowResult> show(const Snapshot& snap, const ShowOptions& options) {
  ShowOptions o = options;
  if (o.host.empty() && !o.all) {
    std::vector<std::string> hosts = owner_hosts(snap);
    Error e;
    e.exit = ExitCode::kBadInput;
    if (hosts.empty()) {
      e.what = "no link here carries a vnet mark (alias vnet:HOST); --all shows every link";
      return tl::unexpected(e);
    }
    if (hosts.size() > 1) {
      std::string names;
      for (const std::string& h : hosts) names += (names.empty() ? "" : ", ") + h;
      e.what = "links of several vnet hosts are here (" + names + "); pick one with --host";
      return tl::unexpected(e);
    }
    o.host = hosts[0];
  }
  return Shower(snap, o, owner_mark(o.host)).run();
}

}  // namespace vnet::plan
