// /etc/network/interfaces (ifupdown, ifupdown2, Proxmox) -> the state ifupdown2 builds
// from it -> host.toml. What ifupdown2 does, checked under vm-run (facts.md): a
// VLAN-aware bridge's ports get `bridge-pvid` (default 1) as PVID untagged and
// `bridge-vids` tagged, per port or inherited from the bridge stanza; `bridge-access N`
// makes an access port of N; the bridge itself keeps default_pvid 1 and gets the VLAN of
// each `vmbr0.N` on it, which vnet's bridge_self_vlan rule adds by itself (so it is not
// written out); links it creates keep IPv6 link-local on (the kernel's), so a bond under
// a bridge says link_local = "ipv6", which vnet's default for ports is not.
#include <arpa/inet.h>
#include <sys/socket.h>

#include <algorithm>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <sstream>

#include "import/builder.h"
#include "topology/load.h"

namespace vnet::import {
namespace {

struct Opt {
  std::string key, value;
  SourceLoc loc;
};

struct Iface {
  std::string name;
  SourceLoc loc;                    // first stanza
  std::vector<std::string> methods;  // "inet static", "inet6 manual", ...
  std::vector<SourceLoc> method_locs;
  std::vector<Opt> opts;
  const Opt* get(const std::string& key) const {
    for (const Opt& o : opts)
      if (o.key == key) return &o;
    return nullptr;
  }
};

std::vector<std::string> words(const std::string& s) {
  std::istringstream in(s);
  std::vector<std::string> out;
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

bool truthy(const std::string& v) { return v == "yes" || v == "on" || v == "1" || v == "true"; }
bool falsy(const std::string& v) { return v == "no" || v == "off" || v == "0" || v == "false"; }

// "255.255.255.0" or "24" -> 24; -1 when neither.
int netmask_prefix(const std::string& v, int family) {
  if (!v.empty() && std::all_of(v.begin(), v.end(), ::isdigit) && v.size() <= 3) {
    int p = std::stoi(v);
    return p <= (family == AF_INET6 ? 128 : 32) ? p : -1;
  }
  in_addr a{};
  if (family != AF_INET || inet_pton(AF_INET, v.c_str(), &a) != 1) return -1;
  uint32_t m = ntohl(a.s_addr);
  int p = __builtin_popcount(m);
  return (p == 0 ? m == 0 : (m >> (32 - p)) == (1u << p) - 1 && (m << p) == 0) ? p : -1;
}

class Parser {
 public:
  Parser(std::string file, const ImportOptions& o) : file_(std::move(file)), b_(o) {}

  Result<Imported> run(const std::string& text) {
    read(text);
    build();  // also after errors: every malformed line is reported at once
    return b_.finish(file_);
  }

 private:
  SourceLoc at(uint32_t line) const { return SourceLoc{file_, line, 0}; }

  Iface& iface(const std::string& name, const SourceLoc& loc) {
    auto it = index_.find(name);
    if (it != index_.end()) return ifaces_[it->second];
    index_[name] = ifaces_.size();
    ifaces_.push_back(Iface{name, loc, {}, {}, {}});
    return ifaces_.back();
  }
  Iface* find(const std::string& name) {
    auto it = index_.find(name);
    return it == index_.end() ? nullptr : &ifaces_[it->second];
  }

  // Stanzas and their option lines; continuation lines ("\" at the end) joined.
  void read(const std::string& text) {
    std::istringstream in(text);
    std::string line, joined;
    uint32_t n = 0, start = 0;
    Iface* cur = nullptr;
    bool skipping = false;  // inside a stanza vnet does not read (mapping)
    while (std::getline(in, line)) {
      ++n;
      if (joined.empty()) start = n;
      if (!line.empty() && line.back() == '\\') {
        joined += line.substr(0, line.size() - 1) + " ";
        continue;
      }
      joined += line;
      std::vector<std::string> w = words(joined);
      joined.clear();
      if (w.empty() || w[0][0] == '#') continue;
      SourceLoc loc = at(start);
      const std::string& k = w[0];
      if (k == "auto" || k.rfind("allow-", 0) == 0) {
        if (w.size() < 2) b_.error(loc, "'" + k + "' names no interface");
        for (size_t i = 1; i < w.size(); ++i) auto_.insert(w[i]);
        cur = nullptr, skipping = false;
      } else if (k == "iface") {
        skipping = false;
        if (w.size() != 2 && w.size() != 4) {
          b_.error(loc, "'iface' takes a name, then a family and a method ('iface vmbr0 inet "
                        "static') or nothing more; this line has " + std::to_string(w.size() - 1) +
                        " words");
          cur = nullptr;
          continue;
        }
        if (std::string why = topology::interface_name_problem(w[1]); !why.empty()) {
          b_.error(loc, "interface " + why);
          cur = nullptr;
          continue;
        }
        cur = &iface(w[1], loc);
        if (w.size() == 4) {
          static const std::set<std::string> inet = {"static", "manual", "dhcp", "loopback"};
          static const std::set<std::string> inet6 = {"static", "manual", "dhcp", "auto", "loopback"};
          if (w[2] != "inet" && w[2] != "inet6")
            b_.error(loc, "address family '" + w[2] + "': inet or inet6");
          else if (!(w[2] == "inet" ? inet : inet6).count(w[3]))
            b_.error(loc, "method '" + w[3] + "' of " + w[2] + ": one of static, manual, dhcp" +
                          (w[2] == "inet6" ? ", auto" : "") + ", loopback");
          cur->methods.push_back(w[2] + " " + w[3]);
          cur->method_locs.push_back(loc);
        }
      } else if (k == "mapping") {
        b_.warn(loc, "mapping stanza: vnet has no mapping scripts; left out with its lines");
        cur = nullptr, skipping = true;
      } else if (k == "source" || k == "source-directory" || k == "source-dir") {
        b_.warn(loc, k + " " + (w.size() > 1 ? w[1] : "") +
                         ": not followed; import those files too (vnet import ifupdown FILE) "
                         "and merge the tables");
        cur = nullptr, skipping = false;
      } else if (k == "rename") {
        b_.warn(loc, "rename: vnet does not rename interfaces (udev's .link files do)");
        cur = nullptr, skipping = false;
      } else if (skipping) {
        continue;
      } else if (!cur) {
        b_.error(loc, "option '" + k + "' outside any iface stanza (an 'iface NAME ...' line "
                      "must come first)");
      } else {
        std::string key = k;
        std::replace(key.begin(), key.end(), '_', '-');  // bridge_ports, the old spelling
        std::string value;
        for (size_t i = 1; i < w.size(); ++i) value += (i > 1 ? " " : "") + w[i];
        cur->opts.push_back({key, value, loc});
      }
    }
  }

  enum class Kind { kLoopback, kBridge, kBond, kVlan, kExisting };

  Kind kind_of(const Iface& f) {
    if (f.name == "lo") return Kind::kLoopback;
    if (f.get("bridge-ports")) return Kind::kBridge;
    if (const Opt* s = f.get("bond-slaves"); (s && s->value != "none") || bond_members_.count(f.name))
      return Kind::kBond;
    if (f.get("vlan-raw-device") || f.get("vlan-id")) return Kind::kVlan;
    if (size_t dot = f.name.rfind('.'); dot != std::string::npos && dot + 1 < f.name.size() &&
        std::all_of(f.name.begin() + dot + 1, f.name.end(), ::isdigit))
      return Kind::kVlan;
    return Kind::kExisting;
  }

  // The options each kind reads; everything else is left out with a warning.
  static bool reads(Kind k, const std::string& key) {
    static const std::set<std::string> any = {"address", "netmask", "gateway", "mtu", "hwaddress",
                                              "bridge-vids", "bridge-pvid", "bridge-access",
                                              "bond-master"};
    static const std::set<std::string> bridge = {"bridge-ports", "bridge-stp", "bridge-vlan-aware"};
    static const std::set<std::string> bond = {"bond-slaves", "bond-mode", "bond-miimon",
                                               "bond-xmit-hash-policy", "bond-lacp-rate"};
    static const std::set<std::string> vlan = {"vlan-raw-device", "vlan-id"};
    return any.count(key) || (k == Kind::kBridge && bridge.count(key)) ||
           (k == Kind::kBond && bond.count(key)) || (k == Kind::kVlan && vlan.count(key));
  }

  static std::string why_not(const std::string& key) {
    static const std::set<std::string> hooks = {"up", "down", "pre-up", "post-up", "pre-down",
                                                "post-down"};
    if (hooks.count(key)) return "a command; vnet runs none (a systemd unit after vnet-apply can)";
    if (key.rfind("dns-", 0) == 0) return "DNS is not vnet's (resolv.conf or systemd-resolved)";
    if (key == "bridge-fd") return "vnet leaves the kernel's forward delay (15 s); with STP off it has no effect";
    if (key.rfind("bridge-", 0) == 0 || key.rfind("bond-", 0) == 0)
      return "host.toml has no such setting";
    return "not an option vnet knows";
  }

  void build() {
    // bond members named from the member's side (bond-master)
    for (const Iface& f : ifaces_)
      if (const Opt* m = f.get("bond-master")) bond_members_[m->value].push_back(f.name);
    for (const Iface& f : ifaces_) {
      Kind k = kind_of(f);
      if (k == Kind::kLoopback) {
        for (const Opt& o : f.opts) b_.warn(o.loc, "lo: " + o.key + ": the loopback link is the kernel's; left out");
        continue;
      }
      static const char* kinds[] = {"", "bridge", "bond", "vlan", ""};
      plan::LinkState& l = b_.link(f.name, kinds[static_cast<int>(k)]);
      if (k != Kind::kExisting) {
        l.addr_gen_mode = plan::kAddrGenEui64;
        // on the node being moved ifupdown made them: vnet takes them over, not refuses
        b_.extra(f.name, "adopt = true");
        if (!auto_.count(f.name))
          b_.warn(f.loc, f.name + ": not marked auto: ifupdown leaves it down at boot, vnet apply "
                         "creates it and brings it up", f.name);
      }
      for (size_t i = 0; i < f.methods.size(); ++i) {
        const std::string& m = f.methods[i];
        if (m.ends_with(" dhcp") || m == "inet6 auto")
          b_.warn(f.method_locs[i], f.name + ": " + m + ": vnet sets static addresses only; run a "
                  "DHCP client or SLAAC on it (networkd: DHCP=yes)", f.name);
        else if (m.ends_with(" loopback"))
          b_.warn(f.method_locs[i], f.name + ": " + m + ": only lo is a loopback link", f.name);
      }
      if (k == Kind::kBridge) {
        if (const Opt* o = f.get("bridge-vlan-aware")) {
          if (!truthy(o->value) && !falsy(o->value))
            b_.error(o->loc, "bridge-vlan-aware '" + o->value + "': yes or no");
          l.set_number("vlan_filtering", truthy(o->value));
        }
        if (l.vlan_filtering()) {
          l.set_number("default_pvid", 1);
          l.vlans = {{1, true, true}};
        }
      }
      addresses(f, k, l);
      for (const Opt& o : f.opts) option(f, k, l, o);
    }
    // a port named LINK.ID without a stanza: ifupdown2 makes it a VLAN of LINK
    std::vector<std::pair<std::string, SourceLoc>> implied;
    for (const Iface& f : ifaces_)
      if (kind_of(f) == Kind::kBridge)
        for (const std::string& p : words(f.get("bridge-ports")->value))
          if (!find(p) && p.find('.') != std::string::npos) implied.emplace_back(p, f.get("bridge-ports")->loc);
    for (const auto& [p, loc] : implied) {
      if (find(p) || topology::interface_name_problem(p) != "") continue;
      iface(p, loc);
      auto_.insert(p);
      if (kind_of(*find(p)) == Kind::kVlan) {
        b_.link(p, "vlan").addr_gen_mode = plan::kAddrGenEui64;
        b_.extra(p, "adopt = true");
      }
    }
    for (const Iface& f : ifaces_) {
      Kind k = kind_of(f);
      if (k == Kind::kBond) members(f);
      if (k == Kind::kVlan) vlan(f);
    }
    for (const Iface& f : ifaces_)
      if (kind_of(f) == Kind::kBridge) ports(f);
    for (const Iface& f : ifaces_) {
      if (kind_of(f) == Kind::kBond) lacp_check(f);
    }
  }

  void addresses(const Iface& f, Kind k, plan::LinkState& l) {
    const Opt* mask = f.get("netmask");
    for (const Opt& o : f.opts) {
      if (o.key != "address" && o.key != "gateway") continue;
      if (k == Kind::kExisting) {
        b_.warn(o.loc, f.name + ": " + o.key + " " + o.value + ": vnet does not address an "
                       "existing link ([links]); put the address on a bridge or VLAN it "
                       "declares", f.name);
        continue;
      }
      if (o.key == "gateway") {
        b_.add_gateway(l, o.value, o.loc, "gateway");
        continue;
      }
      for (const std::string& a : words(o.value)) {
        std::string text = a;
        if (a.find('/') == std::string::npos) {
          auto ip = topology::parse_ip(a);
          int p = ip && mask ? netmask_prefix(mask->value, ip->family) : -1;
          if (ip && mask && p < 0) {
            b_.error(mask->loc, "netmask '" + mask->value + "' is not a netmask or prefix length");
            continue;
          }
          if (ip && !mask) {
            p = ip->family == AF_INET6 ? 128 : 32;
            b_.warn(o.loc, f.name + ": address " + a + " has no prefix and the stanza no netmask: "
                           "taken as /" + std::to_string(p), f.name);
          }
          text += "/" + std::to_string(p);
        }
        auto c = topology::parse_cidr(text);
        if (!c) {
          b_.error(o.loc, "address '" + a + "' is not ADDRESS/PREFIX (or ADDRESS with a netmask line)");
          continue;
        }
        if (std::string why = topology::address_problem(*c); !why.empty()) {
          b_.error(o.loc, "address '" + a + "': " + why);
          continue;
        }
        b_.add_address(l, *c);
      }
    }
  }

  void option(const Iface& f, Kind k, plan::LinkState& l, const Opt& o) {
    if (!reads(k, o.key)) {
      b_.warn(o.loc, f.name + ": " + o.key + (o.value.empty() ? "" : " " + o.value) + ": " +
                         why_not(o.key), f.name);
      return;
    }
    if (o.value.empty() && o.key != "bridge-ports") {
      b_.error(o.loc, "'" + o.key + "' needs a value");
      return;
    }
    if (o.key == "mtu") {
      auto n = o.value.find_first_not_of("0123456789") == std::string::npos && o.value.size() < 7
                   ? std::stoul(o.value) : 0;
      if (n < 68 || n > 65535) b_.error(o.loc, "mtu '" + o.value + "': a number 68..65535");
      else b_.set_mtu(l, n);
    } else if (o.key == "hwaddress") {
      std::vector<std::string> w = words(o.value);
      std::string m = w.size() == 2 && w[0] == "ether" ? w[1] : w[0];
      auto mac = topology::parse_mac(m);
      if (!mac) b_.error(o.loc, "hwaddress '" + o.value + "' is not a MAC address (02:00:00:00:00:01)");
      else if (k == Kind::kExisting)
        b_.warn(o.loc, f.name + ": hwaddress: vnet does not change an existing link's MAC", f.name);
      else b_.extra(f.name, "mac = \"" + mac->str() + "\"");
    } else if (o.key == "bridge-stp") {
      if (!truthy(o.value) && !falsy(o.value)) b_.error(o.loc, "bridge-stp '" + o.value + "': on or off");
      l.set_number("stp", truthy(o.value));
    } else if (o.key == "bridge-vids" || o.key == "bridge-pvid" || o.key == "bridge-access") {
      std::string why;
      std::vector<uint16_t> v = parse_vids(o.value, why);
      if (!why.empty()) b_.error(o.loc, o.key + ": " + why);
      else if (o.key != "bridge-vids" && v.size() != 1)
        b_.error(o.loc, o.key + " takes one VLAN id, not '" + o.value + "'");
    } else if (o.key == "bond-mode" || o.key == "bond-miimon" || o.key == "bond-xmit-hash-policy" ||
               o.key == "bond-lacp-rate") {
      std::string key = o.key.substr(5);
      std::replace(key.begin(), key.end(), '-', '_');
      if (std::string why = b_.set_attr(l, key.c_str(), o.value); !why.empty())
        b_.error(o.loc, o.key + " " + why);
    }
    // address, netmask, gateway: addresses(); bridge-ports, bond-*, vlan-*: later passes
  }

  // `up = true` on an existing link ([links]): show has no such key, it is the caller's
  void up(const std::string& name) {
    if (upped_.insert(name).second) b_.extra(name, "up = true");
  }

  void members(const Iface& f) {
    plan::LinkState& bond = *b_.find(f.name);
    std::vector<std::string> names = bond_members_[f.name];
    if (const Opt* s = f.get("bond-slaves"); s && s->value != "none")
      for (const std::string& m : words(s->value)) names.push_back(m);
    for (const std::string& m : names) {
      if (std::string why = topology::interface_name_problem(m); !why.empty()) {
        b_.error(f.get("bond-slaves") ? f.get("bond-slaves")->loc : f.loc, "bond member " + why);
        continue;
      }
      plan::LinkState& member = b_.link(m);
      member.master = bond.ifindex;
      // ifupdown2 leaves a member's IPv6 link-local on (vnet's default for members: off)
      // and brings it up
      member.addr_gen_mode = plan::kAddrGenEui64;
      up(m);
    }
  }

  void lacp_check(const Iface& f) {
    const Opt* rate = f.get("bond-lacp-rate");
    const Opt* mode = f.get("bond-mode");
    plan::LinkState& bond = *b_.find(f.name);
    const auto* k = topology::kind_by_info("bond");
    uint16_t mode_nla = k->attrs[k->index_of("mode")].nla;
    uint16_t rate_nla = k->attrs[k->index_of("lacp_rate")].nla;
    if (rate && !(mode && bond.info.count(mode_nla) && bond.info[mode_nla].number == 4)) {
      bond.info.erase(rate_nla);
      b_.warn(rate->loc, f.name + ": bond-lacp-rate applies to bond-mode 802.3ad only; left out", f.name);
    }
  }

  void vlan(const Iface& f) {
    plan::LinkState& v = *b_.find(f.name);
    size_t dot = f.name.rfind('.');
    std::string parent = f.get("vlan-raw-device") ? f.get("vlan-raw-device")->value
                         : dot != std::string::npos ? f.name.substr(0, dot) : "";
    std::string id = f.get("vlan-id") ? f.get("vlan-id")->value
                     : dot != std::string::npos ? f.name.substr(dot + 1) : "";
    SourceLoc loc = f.get("vlan-id") ? f.get("vlan-id")->loc : f.loc;
    if (parent.empty() || id.empty()) {
      b_.error(f.loc, f.name + ": a VLAN needs vlan-raw-device and vlan-id (or a name LINK.ID)");
      return;
    }
    if (std::string why = b_.set_attr(v, "id", id); !why.empty()) b_.error(loc, "vlan id " + why);
    b_.set_attr(v, "link", parent);
    // the kernel gives a new VLAN its parent's MTU, and ifupdown2 creates it after setting
    // the parent's: say so, as vnet may create it before
    const Iface* p = find(parent);
    if (!f.get("mtu") && p && p->get("mtu")) {
      const std::string& m = p->get("mtu")->value;
      if (!m.empty() && m.find_first_not_of("0123456789") == std::string::npos && m.size() < 7)
        b_.set_mtu(v, std::stoul(m));
    }
  }

  // A port's VLANs, as ifupdown2 sets them: its own bridge-access/pvid/vids, else the
  // bridge stanza's.
  void ports(const Iface& br) {
    plan::LinkState& b = *b_.find(br.name);
    const Opt* list = br.get("bridge-ports");
    if (!b.vlan_filtering())
      for (const char* key : {"bridge-access", "bridge-pvid", "bridge-vids"})
        if (const Opt* o = br.get(key); o && warned_.insert(o).second)
          b_.warn(o->loc, br.name + ": " + o->key + " on a bridge without bridge-vlan-aware: "
                          "ignored, as ifupdown2 does", br.name);
    for (const std::string& p : words(list->value)) {
      if (p == "none") continue;
      if (std::string why = topology::interface_name_problem(p); !why.empty()) {
        b_.error(list->loc, "bridge port " + why);
        continue;
      }
      if (p == br.name) {
        b_.error(list->loc, "bridge " + br.name + " cannot be its own port");
        continue;
      }
      const Iface* own = find(p);
      plan::LinkState& l = b_.link(p);
      l.master = b.ifindex;
      if (l.kind.empty()) up(p);  // ifupdown2 brings a NIC port up
      auto pick = [&](const char* key) -> const Opt* {
        if (own && own->get(key)) return own->get(key);
        return br.get(key);
      };
      const Opt* access = pick("bridge-access");
      const Opt* pvid = pick("bridge-pvid");
      const Opt* vids = pick("bridge-vids");
      if (!b.vlan_filtering()) {
        for (const Opt* o : {access, pvid, vids})
          if (o && warned_.insert(o).second)
            b_.warn(o->loc, o->key + " on a port of " + br.name + ", which is not "
                            "bridge-vlan-aware: ignored, as ifupdown2 does", own && own->get(o->key) ? p : br.name);
        continue;
      }
      std::string why;
      l.vlans.clear();
      if (access) {
        auto v = parse_vids(access->value, why);
        if (v.size() == 1) l.vlans = {{v[0], true, true}};
        continue;
      }
      uint16_t native = 1;
      if (pvid) {
        auto v = parse_vids(pvid->value, why);
        if (v.size() == 1) native = v[0];
      }
      l.vlans.push_back({native, true, true});
      if (vids)
        for (uint16_t v : parse_vids(vids->value, why))
          if (v != native) l.vlans.push_back({v, false, false});
      std::sort(l.vlans.begin(), l.vlans.end());
    }
  }

  std::string file_;
  Builder b_;
  std::vector<Iface> ifaces_;
  std::map<std::string, size_t> index_;
  std::set<std::string> auto_;
  std::map<std::string, std::vector<std::string>> bond_members_;
  std::set<const Opt*> warned_;
  std::set<std::string> upped_;
};

}  // namespace

Result<Imported> ifupdown(const std::string& text, const std::string& file, const ImportOptions& options) {
  return Parser(file, options).run(text);
}

Result<Imported> ifupdown_file(const std::string& path, const ImportOptions& options) {
  std::ostringstream text;
  if (path == "-") {
    text << std::cin.rdbuf();
    return ifupdown(text.str(), "<stdin>", options);
  }
  std::ifstream in(path);
  if (!in) return fail_errno("cannot read " + path);
  text << in.rdbuf();
  return ifupdown(text.str(), path, options);
}

}  // namespace vnet::import
