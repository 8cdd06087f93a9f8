// .netdev/.network files -> the state systemd-networkd builds from them -> host.toml.
// The kinds and keys are those `vnet render networkd` writes (networkd-gen/render.cc),
// read back through the same tables (KindDesc::networkd_kind, each attribute's
// `networkd` key, networkd_attach); anything else is a warning. Keys the renderer adds
// for networkd's sake only (RequiredForOnline, ConfigureWithoutCarrier, Broadcast=no,
// a vxlan's fixed UDPChecksum, Independent, Scope=link) carry nothing host.toml says.
#include <dirent.h>
#include <sys/socket.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "import/builder.h"
#include "topology/load.h"

namespace vnet::import {
namespace {

using topology::KindAttr;
using topology::KindDesc;

struct Entry {
  std::string key, value;
  SourceLoc loc;
};
struct Section {
  std::string name;
  SourceLoc loc;
  std::vector<Entry> entries;
};
struct Unit {
  std::string file;
  bool netdev = false;
  std::vector<Section> sections;
  const Entry* get(const std::string& section, const std::string& key) const {
    for (const Section& s : sections)
      if (s.name == section)
        for (const Entry& e : s.entries)
          if (e.key == key) return &e;
    return nullptr;
  }
};

std::string trim(const std::string& s) {
  size_t a = s.find_first_not_of(" \t\r"), b = s.find_last_not_of(" \t\r");
  return a == std::string::npos ? "" : s.substr(a, b - a + 1);
}

const KindDesc* kind_by_networkd(const std::string& kind) {
  for (const KindDesc* k : topology::kinds())
    if (kind == k->networkd_kind) return k;
  return nullptr;
}

class Importer {
 public:
  explicit Importer(const ImportOptions& o) : b_(o) {}

  Result<Imported> run(const std::vector<NamedText>& files, const std::string& source) {
    for (const NamedText& f : files) {
      bool netdev = f.name.ends_with(".netdev");
      if (!netdev && !f.name.ends_with(".network")) continue;
      units_.push_back(parse(f, netdev));
    }
    std::sort(units_.begin(), units_.end(), [](const Unit& a, const Unit& c) { return a.file < c.file; });
    if (!b_.failed()) {
      for (const Unit& u : units_)
        if (u.netdev) netdev(u);
      for (const Unit& u : units_)
        if (!u.netdev) network(u);
      finish_vlans();
    }
    return b_.finish(source);
  }

 private:
  Unit parse(const NamedText& f, bool netdev) {
    Unit u{f.name, netdev, {}};
    std::istringstream in(f.text);
    uint32_t n = 0;
    for (std::string line; std::getline(in, line);) {
      ++n;
      std::string t = trim(line);
      SourceLoc loc{f.name, n, 0};
      if (t.empty() || t[0] == '#' || t[0] == ';') continue;
      if (t[0] == '[') {
        if (t.back() != ']') b_.error(loc, "section header '" + t + "' lacks its ']'");
        u.sections.push_back({t.substr(1, t.size() - 2), loc, {}});
        continue;
      }
      size_t eq = t.find('=');
      if (eq == std::string::npos) {
        b_.error(loc, "'" + t + "' is neither [Section] nor Key=Value");
        continue;
      }
      if (u.sections.empty()) {
        b_.error(loc, "'" + t + "' comes before any [Section]");
        continue;
      }
      u.sections.back().entries.push_back({trim(t.substr(0, eq)), trim(t.substr(eq + 1)), loc});
    }
    return u;
  }

  void unknown(const Entry& e, const std::string& section, const std::string& link,
               const std::string& why = "host.toml has no such setting") {
    b_.warn(e.loc, "[" + section + "] " + e.key + "=" + e.value + ": " + why, link);
  }

  bool yes(const Entry& e) { return e.value == "yes" || e.value == "true" || e.value == "1" || e.value == "on"; }

  void netdev(const Unit& u) {
    const Entry* name = u.get("NetDev", "Name");
    const Entry* kind = u.get("NetDev", "Kind");
    if (!name || !kind) {
      b_.error(SourceLoc{u.file, 1, 0}, "a .netdev needs [NetDev] Name= and Kind=");
      return;
    }
    if (std::string why = topology::interface_name_problem(name->value); !why.empty()) {
      b_.error(name->loc, "interface " + why);
      return;
    }
    const std::string& n = name->value;
    const KindDesc* desc = kind_by_networkd(kind->value);
    std::string k = kind->value == "bridge" || kind->value == "veth" ? kind->value
                    : kind->value == "tap" ? "tun" : desc ? desc->info_kind : "";
    if (k.empty()) {
      b_.warn(kind->loc, n + ": Kind=" + kind->value + " has no table in host.toml; left out");
      skipped_.insert(n);
      return;
    }
    plan::LinkState& l = b_.link(n, k);
    for (const Section& s : u.sections)
      for (const Entry& e : s.entries) {
        if (s.name == "NetDev") {
          if (e.key == "Name" || e.key == "Kind") continue;
          if (e.key == "MTUBytes") mtu(l, e);
          else if (e.key == "MACAddress") mac(n, "mac", e);
          else unknown(e, s.name, n);
        } else if (k == "bridge" && s.name == "Bridge") {
          if (e.key == "VLANFiltering") l.set_number("vlan_filtering", yes(e));
          else if (e.key == "STP") l.set_number("stp", yes(e));
          else if (e.key == "DefaultPVID") default_pvid_[n] = e.value;
          else unknown(e, s.name, n);
        } else if (k == "veth" && s.name == "Peer") {
          if (e.key == "Name") {
            plan::LinkState& p = b_.link(e.value, "veth");
            p.link = l.ifindex;
            b_.find(n)->link = p.ifindex;
          } else if (e.key == "MACAddress") {
            mac(n, "peer_mac", e);
          } else {
            unknown(e, s.name, n);
          }
        } else if (k == "tun" && s.name == "Tap") {
          if (e.key == "User") b_.extra(n, "owner = \"" + e.value + "\"");
          else if (e.key == "Group") b_.extra(n, "group = \"" + e.value + "\"");
          else if (e.key == "MultiQueue") l.set_number("multi_queue", yes(e));
          else if (e.key == "VNetHeader") l.set_number("vnet_hdr", yes(e));
          else unknown(e, s.name, n);
        } else if (desc && s.name == desc->networkd_section) {
          described(l, *desc, e, s.name);
        } else {
          b_.warn(s.loc, n + ": [" + s.name + "] is not a section vnet reads; left out", n);
          break;
        }
      }
    if (k == "tun" && !u.get("Tap", "VNetHeader")) l.set_number("vnet_hdr", 0);  // networkd's default
  }

  void described(plan::LinkState& l, const KindDesc& d, const Entry& e, const std::string& section) {
    for (const auto& [key, value] : d.networkd_fixed)
      if (e.key == key && e.value == value) return;
    if (*d.networkd_unattached && e.key == d.networkd_unattached && yes(e)) return;
    for (const KindAttr& a : d.attrs) {
      if (!*a.networkd || e.key != a.networkd) continue;
      // Remote= and Group= share one kernel attribute: the value tells which key it is
      if (std::string why = b_.set_attr(l, a.key, e.value, true); !why.empty())
        b_.error(e.loc, e.key + " " + why);
      return;
    }
    unknown(e, section, l.name);
  }

  void mtu(plan::LinkState& l, const Entry& e) {
    size_t used = 0;
    unsigned long v = 0;
    try {
      v = std::stoul(e.value, &used);
    } catch (...) {
    }
    if (used != e.value.size() || v < 68 || v > 65535) b_.error(e.loc, "MTUBytes '" + e.value + "': a number 68..65535");
    else if (!mtu_set_.insert(l.name).second) return;
    else b_.set_mtu(l, v);
  }

  void mac(const std::string& link, const char* key, const Entry& e) {
    auto m = topology::parse_mac(e.value);
    if (!m) b_.error(e.loc, "MACAddress '" + e.value + "' is not a MAC address");
    else b_.extra(link, std::string(key) + " = \"" + m->str() + "\"");
  }

  void route(plan::LinkState& l, const Section& s) {
    topology::Route r;
    bool ok = true;
    for (const Entry& e : s.entries) {
      if (e.key == "Destination") {
        auto c = topology::parse_cidr(e.value);
        if (!c) ok = false, b_.error(e.loc, "Destination '" + e.value + "' is not ADDRESS/PREFIX");
        else r.to = c->network();
      } else if (e.key == "Gateway") {
        auto ip = topology::parse_ip(e.value);
        if (!ip) ok = false, b_.error(e.loc, "Gateway '" + e.value + "' is not an IP address");
        else r.via = *ip;
      } else if (e.key == "Metric") {
        try {
          r.metric = std::stoul(e.value);
        } catch (...) {
          ok = false, b_.error(e.loc, "Metric '" + e.value + "' is not a number");
        }
      } else if (!(e.key == "Scope" && e.value == "link")) {
        unknown(e, "Route", l.name);
      }
    }
    if (!r.to.addr.family && r.via) r.to.addr.family = r.via->family;
    if (ok && r.to.addr.family) b_.add_route(l, r);
  }

  void bridge_vlan(plan::LinkState& l, const Section& s) {
    std::vector<uint16_t> vids, untagged;
    std::optional<uint16_t> pvid;
    for (const Entry& e : s.entries) {
      std::string why;
      std::vector<uint16_t> v = parse_vids(e.value, why);
      if (!why.empty()) {
        b_.error(e.loc, e.key + ": " + why);
        return;
      }
      if (e.key == "VLAN") vids = v;
      else if (e.key == "PVID" && v.size() == 1) pvid = v[0];
      else if (e.key == "EgressUntagged") untagged = v;
      else unknown(e, "BridgeVLAN", l.name);
    }
    if (pvid && std::find(vids.begin(), vids.end(), *pvid) == vids.end()) vids.push_back(*pvid);
    for (uint16_t v : vids) {
      bool u = std::find(untagged.begin(), untagged.end(), v) != untagged.end();
      l.vlans.push_back({v, pvid == v, u});
    }
    stated_vlans_.insert(l.name);
  }

  void network(const Unit& u) {
    const Entry* name = u.get("Match", "Name");
    if (!name || name->value.find_first_of(" *?[") != std::string::npos) {
      b_.warn(name ? name->loc : SourceLoc{u.file, 0, 0},
              "a .network that does not match one interface by Name=: left out");
      return;
    }
    const std::string& n = name->value;
    if (skipped_.count(n)) return;
    bool existing = !b_.has(n) || b_.find(n)->kind.empty();
    plan::LinkState& l = b_.link(n);
    for (const Section& s : u.sections) {
      if (s.name == "Match") {
        for (const Entry& e : s.entries)
          if (e.key != "Name") unknown(e, s.name, n, "vnet matches by name only");
      } else if (s.name == "Link") {
        for (const Entry& e : s.entries) {
          if (e.key == "MTUBytes") mtu(l, e);
          else if (e.key == "MACAddress" && !existing) mac(n, "mac", e);
          else if (e.key == "MACAddress") unknown(e, s.name, n, "vnet does not change an existing link's MAC");
          else if (e.key != "RequiredForOnline") unknown(e, s.name, n);
        }
      } else if (s.name == "Network") {
        for (const Entry& e : s.entries) network_key(l, existing, e);
      } else if (s.name == "Address") {
        for (const Entry& e : s.entries) {
          if (e.key == "Address") address(l, existing, e);
          else if (!(e.key == "Broadcast" && e.value == "no")) unknown(e, s.name, n);
        }
      } else if (s.name == "Route") {
        route(l, s);
      } else if (s.name == "BridgeVLAN") {
        bridge_vlan(l, s);
      } else {
        b_.warn(s.loc, n + ": [" + s.name + "] is not a section vnet reads; left out", n);
      }
    }
  }

  void address(plan::LinkState& l, bool existing, const Entry& e) {
    auto c = topology::parse_cidr(e.value);
    if (!c) b_.error(e.loc, "Address '" + e.value + "' is not ADDRESS/PREFIX");
    else if (existing) unknown(e, "Address", l.name, "vnet does not address an existing link (no .netdev makes " + l.name + ")");
    else b_.add_address(l, *c);
  }

  void network_key(plan::LinkState& l, bool existing, const Entry& e) {
    const std::string& n = l.name;
    if (e.key == "LinkLocalAddressing") {
      // also on an existing link: render writes the mode apply leaves or sets there
      if (e.value == "no") l.addr_gen_mode = plan::kAddrGenNone;
      else if (e.value == "ipv6") l.addr_gen_mode = plan::kAddrGenEui64;
      else unknown(e, "Network", n, "vnet takes ipv6 or no");
    } else if (e.key == "ConfigureWithoutCarrier") {
    } else if (e.key == "Bridge") {
      b_.link(e.value, "bridge");
      l.master = b_.find(e.value)->ifindex;
    } else if (e.key == "Address") {
      address(l, existing, e);
    } else if (e.key == "Gateway") {
      b_.add_gateway(l, e.value, e.loc, "Gateway");
    } else {
      for (const KindDesc* k : topology::kinds()) {
        if (!*k->networkd_attach || e.key != k->networkd_attach) continue;
        if (k->members_key) {  // Bond=: this link is a member
          l.master = b_.link(e.value, k->info_kind).ifindex;
          return;
        }
        plan::LinkState* child = b_.find(e.value);
        const KindAttr* a = nullptr;
        for (const KindAttr& x : k->attrs)
          if (x.type == KindAttr::Type::kLink) a = &x;
        if (!child || child->kind != k->info_kind || !a) {
          unknown(e, "Network", n, std::string("no .netdev makes ") + k->word + " " + e.value);
          return;
        }
        b_.set_attr(*child, a->key, n);
        return;
      }
      unknown(e, "Network", n);
    }
  }

  // Bridge VLANs the .network files do not state: the kernel's default PVID membership.
  // DefaultPVID=none is how `vnet render` keeps systemd 252 from adding VLANs it cannot
  // remove (docs/networkd.md); the bridge's own PVID entry then says which default_pvid
  // the host.toml had.
  void finish_vlans() {
    std::map<int, uint16_t> kernel_pvid;  // per VLAN-filtering bridge: what the kernel has
    for (auto& [idx, br] : b_.links()) {
      if (!br.vlan_filtering()) continue;
      uint16_t kernel = 1;
      if (auto it = default_pvid_.find(br.name); it != default_pvid_.end()) {
        std::string why;
        auto v = parse_vids(it->second, why);
        kernel = it->second == "none" ? 0 : v.size() == 1 ? v[0] : 1;
      }
      kernel_pvid[idx] = kernel;
      br.set_number("default_pvid", kernel);
      if (kernel == 0)
        for (const topology::VlanEntry& e : br.vlans)
          if (e.pvid && e.untagged) br.set_number("default_pvid", e.vid);
    }
    for (auto& [idx, l] : b_.links()) {
      int br = l.kind == "bridge" ? idx : l.master;
      auto it = kernel_pvid.find(br);
      if (it == kernel_pvid.end() || stated_vlans_.count(l.name) || it->second == 0) continue;
      l.vlans = {{it->second, true, true}};
    }
  }

  Builder b_;
  std::vector<Unit> units_;
  std::set<std::string> skipped_, stated_vlans_, mtu_set_;
  std::map<std::string, std::string> default_pvid_;
};

}  // namespace

Result<Imported> networkd(const std::vector<NamedText>& files, const ImportOptions& options) {
  return Importer(options).run(files, "networkd files");
}

Result<Imported> networkd_dir(const std::string& dir, const ImportOptions& options) {
  DIR* d = ::opendir(dir.c_str());
  if (!d) return fail_errno("cannot read folder " + dir);
  std::vector<NamedText> files;
  while (dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (!name.ends_with(".netdev") && !name.ends_with(".network")) continue;
    std::ifstream in(dir + "/" + name);
    if (!in) {
      ::closedir(d);
      return fail_errno("cannot read " + dir + "/" + name);
    }
    std::ostringstream text;
    text << in.rdbuf();
    files.push_back({dir + "/" + name, text.str()});
  }
  ::closedir(d);
  return Importer(options).run(files, dir);
}

}  // namespace vnet::import
