// TOML -> model: one reader function per table kind. Checks what can be checked on one
// value (types, ranges, formats, unknown keys); relations between objects are validate.cc's.
#include "topology/parse.h"

#include <grp.h>
#include <pwd.h>

#include <sys/socket.h>

#include <algorithm>

namespace vnet::topology::detail {

namespace {

constexpr int64_t kMaxVid = 4094;

std::string ns_name(const std::string& written) {
  return written == kHostNetns ? "" : written;
}

// Reads the name of an object from its key; reports a bad interface name at the key.
bool check_ifname(Diagnostics& d, const std::string& name, const SourceLoc& at) {
  std::string problem = interface_name_problem(name);
  if (problem.empty()) return true;
  d.error(at, problem);
  return false;
}

std::string netns_problem(const std::string& name) {
  if (name.empty()) return "a namespace name must not be empty";
  if (name == "." || name == ".." || name.find('/') != std::string::npos)
    return "'" + name + "' is not a valid namespace name (no '/', not '.' or '..')";
  if (name.size() > 255) return "namespace name is longer than 255 bytes";
  return control_char_problem("namespace name", name);
}

std::optional<std::string> read_netns(TableReader& r, const std::string& key) {
  auto v = r.string(key);
  if (!v) return std::nullopt;
  std::string problem = netns_problem(*v);
  if (!problem.empty()) {
    r.error(r.loc_of(key), problem);
    return std::nullopt;
  }
  return ns_name(*v);
}

std::optional<Mac> read_mac(TableReader& r, const std::string& key) {
  auto v = r.string(key);
  if (!v) return std::nullopt;
  auto mac = parse_mac(*v);
  if (!mac) {
    r.error(r.loc_of(key),
            "'" + *v + "' is not a MAC address; write six hex pairs like 02:00:00:00:00:01");
    return std::nullopt;
  }
  if (mac->bytes[0] & 1) {
    r.error(r.loc_of(key), "MAC " + mac->str() +
                               " is a multicast address (its first byte is odd); a link needs "
                               "a unicast MAC such as 02:00:00:00:00:01");
    return std::nullopt;
  }
  if (*mac == Mac{}) {
    r.error(r.loc_of(key), "MAC 00:00:00:00:00:00 is not a usable address");
    return std::nullopt;
  }
  return mac;
}

std::vector<Cidr> read_addresses(TableReader& r, const std::string& key) {
  std::vector<Cidr> out;
  const toml::node* n = r.get(key);
  if (!n) return out;
  if (!n->is_array()) {
    r.error(r.diags().loc(*n), "'" + key + "' must be an array of addresses like [\"10.1.40.2/24\"], not " +
                                   type_name(*n));
    return out;
  }
  for (const toml::node& e : *n->as_array()) {
    SourceLoc at = r.diags().loc(e);
    if (!e.is_string()) {
      r.error(at, std::string("elements of '") + key + "' must be strings, not " + type_name(e));
      continue;
    }
    std::string text = *e.value<std::string>();
    auto c = parse_cidr(text);
    if (!c) {
      if (text.find('/') == std::string::npos && parse_ip(text))
        r.error(at, "address '" + text + "' needs a prefix length, like " + text +
                        (parse_ip(text)->family == AF_INET ? "/24" : "/64"));
      else
        r.error(at, "'" + text +
                        "' is not an address with a prefix length (like 10.1.40.2/24 or "
                        "fd00::2/64)");
      continue;
    }
    if (std::string why = address_problem(*c); !why.empty()) {
      r.error(at, why);
      continue;
    }
    c->loc = at;
    out.push_back(*c);
  }
  return out;
}

std::optional<IpAddress> read_ip(TableReader& r, const std::string& key) {
  auto v = r.string(key);
  if (!v) return std::nullopt;
  auto ip = parse_ip(*v);
  if (!ip) r.error(r.loc_of(key), "'" + *v + "' is not an IP address");
  return ip;
}

std::optional<LinkLocal> read_link_local(TableReader& r, const std::string& key) {
  auto v = r.string(key);
  if (!v) return std::nullopt;
  if (*v == "ipv6") return LinkLocal::kIpv6;
  if (*v == "none") return LinkLocal::kNone;
  r.error(r.loc_of(key), "'" + key + "' must be \"ipv6\" or \"none\", not \"" + *v + "\"");
  return std::nullopt;
}

std::vector<uint16_t> sorted_vids(const std::vector<int64_t>& in) {
  std::vector<uint16_t> out(in.begin(), in.end());
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

// A list of VLAN ids: integers, or ranges as strings ("2-4094", Proxmox's bridge-vids
// default), sorted and without repeats.
std::optional<std::vector<uint16_t>> read_vids(TableReader& r, const std::string& key) {
  const toml::node* n = r.get(key);
  if (!n) return std::nullopt;
  Diagnostics& d = r.diags();
  const toml::array* arr = n->as_array();
  if (!arr) {
    r.error(d.loc(*n), "'" + key + "' must be an array of VLAN ids or ranges like [10, \"100-199\"], not " + type_name(*n));
    return std::nullopt;
  }
  std::vector<int64_t> out;
  bool ok = true;
  auto add = [&](int64_t v, const toml::node& at) {
    if (v < 1 || v > kMaxVid) {
      r.error(d.loc(at), range_message("vlan id", key, v, 1, kMaxVid));
      ok = false;
      return false;
    }
    return true;
  };
  for (const toml::node& e : *arr) {
    if (auto v = e.value<int64_t>(); v && e.is_integer()) {
      if (add(*v, e)) out.push_back(*v);
      continue;
    }
    const std::string* s = e.is_string() ? &e.as_string()->get() : nullptr;
    unsigned a = 0, b = 0;
    int used = 0;
    if (!s || sscanf(s->c_str(), "%u-%u%n", &a, &b, &used) != 2 || used != static_cast<int>(s->size())) {
      bool number = s && !s->empty() && s->find_first_not_of("0123456789") == std::string::npos;
      r.error(d.loc(e), !s ? "elements of '" + key + "' must be VLAN ids or ranges like \"100-199\", not " + type_name(e)
                        : number ? "VLAN id \"" + *s + "\" in '" + key + "' is a string; write " + *s + " without quotes"
                                 : "'" + *s + "' in '" + key + "' is not a VLAN range; write it like \"100-199\"");
      ok = false;
      continue;
    }
    if (!add(a, e) || !add(b, e)) continue;
    if (a > b) {
      r.error(d.loc(e), "VLAN range '" + *s + "' runs backwards; write \"" + std::to_string(b) + "-" +
                            std::to_string(a) + "\"");
      ok = false;
      continue;
    }
    for (unsigned v = a; v <= b; ++v) out.push_back(v);
  }
  if (!ok) return std::nullopt;
  return sorted_vids(out);
}

std::optional<BridgePort> read_port(TableReader& r) {
  auto bridge = r.string("bridge");
  auto pvid = r.integer("pvid", 0, kMaxVid, "pvid");
  auto tagged = read_vids(r, "tagged");
  if (!bridge) {
    if (r.has("pvid") || r.has("tagged"))
      r.error(r.loc_of(r.has("pvid") ? "pvid" : "tagged"),
              "'" + std::string(r.has("pvid") ? "pvid" : "tagged") +
                  "' needs 'bridge': VLANs are set on a bridge port");
    return std::nullopt;
  }
  BridgePort p;
  p.bridge = *bridge;
  p.loc = r.loc_of("bridge");
  p.pvid_loc = r.loc_of("pvid");
  p.tagged_loc = r.loc_of("tagged");
  if (pvid) p.pvid = static_cast<uint16_t>(*pvid);
  if (tagged) p.tagged = std::move(*tagged);
  return p;
}

// `routes = [{ to = "10.2.0.0/16", via = "10.1.10.1", metric = 100 }, ...]` (inline
// tables or [[X.routes]]): per-value checks here, relations in validate.
std::vector<Route> read_routes(TableReader& r, const std::string& key) {
  std::vector<Route> out;
  const toml::node* n = r.get(key);
  if (!n) return out;
  Diagnostics& d = r.diags();
  const char* shape = " like [{ to = \"10.2.0.0/16\", via = \"10.1.10.1\" }]";
  const toml::array* arr = n->as_array();
  if (!arr) {
    r.error(d.loc(*n), "'" + key + "' must be an array of routes" + shape + ", not " + type_name(*n));
    return out;
  }
  size_t i = 0;
  for (const toml::node& e : *arr) {
    const toml::table* t = e.as_table();
    if (!t) {
      r.error(d.loc(e), "elements of '" + key + "' must be tables" + shape + ", not " + type_name(e));
      continue;
    }
    TableReader rr(*t, r.where() + " " + key + "[" + std::to_string(i++) + "]", d);
    Route route;
    route.loc = rr.loc();
    rr.required("to");
    if (auto to = rr.string("to")) {
      SourceLoc at = rr.loc_of("to");
      auto c = parse_cidr(*to);
      if (!c) {
        r.error(at, "route destination '" + *to + "' is not a network like 10.2.0.0/16 or " +
                        "fd00:2::/48 (0.0.0.0/0 or ::/0 for the default route)");
      } else if (!(c->network() == *c)) {
        r.error(at, "route destination '" + *to + "' has host bits set; the network is " +
                        c->network().str());
      } else {
        route.to = *c;
        route.to.loc = at;
      }
    }
    route.via = read_ip(rr, "via");
    route.via_loc = rr.loc_of("via");
    if (auto m = rr.integer("metric", 0, UINT32_MAX, "metric")) route.metric = static_cast<uint32_t>(*m);
    route.metric_loc = rr.loc_of("metric");
    rr.finish();
    if (route.to.addr.family == 0) continue;  // reported above
    if (route.via && route.via->family != route.to.addr.family) {
      r.error(route.via_loc, "route to " + route.to.str() + " goes via " + route.via->str() +
                                 ", an address of the other family");
      continue;
    }
    out.push_back(std::move(route));
  }
  return out;
}

// Keys every created link kind shares; `ports` says whether bridge/pvid/tagged apply.
void read_common(TableReader& r, LinkCommon& c, bool ports) {
  if (auto ns = read_netns(r, "netns")) c.netns = *ns;
  if (auto mtu = r.integer("mtu", 68, 65535, "mtu")) c.mtu = static_cast<uint32_t>(*mtu);
  c.mac = read_mac(r, "mac");
  c.addresses = read_addresses(r, "addresses");
  c.gateway = read_ip(r, "gateway");
  c.gateway_loc = r.loc_of("gateway");
  c.routes = read_routes(r, "routes");
  if (auto a = r.boolean("adopt")) c.adopt = *a;
  if (ports) c.port = read_port(r);
  auto ll = read_link_local(r, "link_local");
  c.link_local = ll ? *ll : (c.port ? LinkLocal::kNone : LinkLocal::kIpv6);
}

void read_kind_attrs(const KindDesc& k, TableReader& r, Diagnostics& d, KindLink& l);

// Iterates the sub-tables of a kind table ([bridges.X], ...): calls fn(name, reader).
template <class Fn>
void each_object(const toml::node& kind_node, const std::string& kind, Diagnostics& d,
                 bool ifname, Fn fn) {
  const toml::table* kind_table = kind_node.as_table();
  if (!kind_table) {
    d.error(d.loc(kind_node), "'" + kind + "' must be a table of objects keyed by name, like [" +
                                  kind + ".NAME]");
    return;
  }
  for (auto&& [k, v] : *kind_table) {
    std::string name(k.str());
    SourceLoc at = d.loc(k.source());
    const toml::table* t = v.as_table();
    if (!t) {
      d.error(d.loc(v), "'" + kind + "." + name + "' must be a table ([" + kind + "." + name +
                            "]), not " + type_name(v));
      continue;
    }
    if (ifname) check_ifname(d, name, at);
    TableReader r(*t, "[" + kind + "." + (name.find('.') != std::string::npos ? "\"" + name + "\"" : name) + "]", d);
    fn(name, at, r);
    r.finish();
  }
}

void read_bridges(const toml::node& n, Diagnostics& d, Topology& t) {
  each_object(n, "bridges", d, true, [&](const std::string& name, SourceLoc at, TableReader& r) {
    Bridge b;
    b.name = name;
    b.loc = at;
    read_common(r, b, bridge_kind().port);
    read_kind_attrs(bridge_kind(), r, d, b);
    if (auto v = read_vids(r, "vlans")) b.vlans = std::move(*v);
    if (!b.vlan_filtering() && r.has("vlans") && !b.vlans.empty())
      r.error(r.loc_of("vlans"), "'vlans' needs vlan_filtering = true on bridge '" + name + "'");
    t.bridges.push_back(std::move(b));
  });
}

void read_links(const toml::node& n, Diagnostics& d, Topology& t) {
  each_object(n, "links", d, true, [&](const std::string& name, SourceLoc at, TableReader& r) {
    Link l;
    l.name = name;
    l.loc = at;
    for (const char* key : {"netns", "adopt", "addresses", "gateway", "routes", "mac"}) {
      if (const toml::node* v = r.get(key))
        r.error(d.loc(*v), std::string("'") + key +
                               "' is not accepted in [links]: vnet does not create, move or "
                               "address existing links; it sets only bridge, VLANs and MTU");
    }
    if (auto mtu = r.integer("mtu", 68, 65535, "mtu")) l.mtu = static_cast<uint32_t>(*mtu);
    l.port = read_port(r);
    auto ll = read_link_local(r, "link_local");
    l.link_local = ll ? *ll : (l.port ? LinkLocal::kNone : LinkLocal::kIpv6);
    l.link_local_written = ll.has_value();
    if (auto up = r.boolean("up")) l.up = *up;
    t.links.push_back(std::move(l));
  });
}

void read_veths(const toml::node& n, Diagnostics& d, Topology& t) {
  each_object(n, "veths", d, true, [&](const std::string& name, SourceLoc at, TableReader& r) {
    Veth v;
    v.name = name;
    v.loc = at;
    r.required("peer");
    if (auto p = r.string("peer")) {
      v.peer = *p;
      check_ifname(d, *p, r.loc_of("peer"));
    }
    read_common(r, v, true);
    if (auto ns = read_netns(r, "peer_netns")) v.peer_netns = *ns;
    else v.peer_netns = v.netns;
    v.peer_addresses = read_addresses(r, "peer_addresses");
    v.peer_gateway = read_ip(r, "peer_gateway");
    v.peer_gateway_loc = r.loc_of("peer_gateway");
    v.peer_routes = read_routes(r, "peer_routes");
    v.peer_mac = read_mac(r, "peer_mac");
    if (auto ll = read_link_local(r, "peer_link_local")) v.peer_link_local = *ll;
    t.veths.push_back(std::move(v));
  });
}

std::optional<uint32_t> numeric_id(const std::string& s) {
  if (s.empty() || s.size() > 9 || s.find_first_not_of("0123456789") != std::string::npos)
    return std::nullopt;
  return static_cast<uint32_t>(std::stoul(s));
}

// The uid or gid of a user or group name on this machine (what TUNSETOWNER takes).
std::optional<uint32_t> lookup_principal(const std::string& key, const std::string& name) {
  std::vector<char> buf(16384);
  if (key == "owner") {
    passwd pw{}, *found = nullptr;
    if (getpwnam_r(name.c_str(), &pw, buf.data(), buf.size(), &found) == 0 && found) return pw.pw_uid;
  } else {
    group gr{}, *found = nullptr;
    if (getgrnam_r(name.c_str(), &gr, buf.data(), buf.size(), &found) == 0 && found) return gr.gr_gid;
  }
  return std::nullopt;
}

// owner/group: a name or a number, as a string or an integer; names resolved here, so an
// unknown one is an error at the line that names it.
void read_principal(TableReader& r, const std::string& key, std::string& name,
                    std::optional<uint32_t>& id) {
  const toml::node* n = r.get(key);
  if (!n) return;
  if (n->is_integer()) {
    int64_t v = *n->value<int64_t>();
    if (v < 0 || v > 0x7fffffff) {
      r.error(r.diags().loc(*n), "'" + key + "' " + std::to_string(v) + " is not a valid id");
      return;
    }
    id = static_cast<uint32_t>(v);
    name = std::to_string(v);
  } else if (n->is_string() && !n->value<std::string>()->empty()) {
    name = *n->value<std::string>();
    id = numeric_id(name);
    if (!id) id = lookup_principal(key, name);
    if (!id)
      r.error(r.diags().loc(*n), std::string(key == "owner" ? "user" : "group") + " '" + name +
                                     "' does not exist on this machine; create it, or give a numeric " +
                                     (key == "owner" ? "uid" : "gid"));
  } else {
    r.error(r.diags().loc(*n), "'" + key + "' must be a user or group name or a numeric id");
  }
}

void read_taps(const toml::node& n, Diagnostics& d, Topology& t) {
  each_object(n, "taps", d, true, [&](const std::string& name, SourceLoc at, TableReader& r) {
    Tap tap;
    tap.name = name;
    tap.loc = at;
    read_common(r, tap, true);
    // the tun driver's own limit (drivers/net/tun.c: MAX_MTU 65535 less its headers)
    if (tap.mtu && *tap.mtu > kMaxTapMtu)
      r.error(r.loc_of("mtu"), "mtu " + std::to_string(*tap.mtu) + " is above a tap's maximum of " +
                                   std::to_string(kMaxTapMtu));
    read_kind_attrs(tap_kind(), r, d, tap);
    t.taps.push_back(std::move(tap));
  });
}

// The attributes of a described kind's table, each by its type, then its members.
void read_kind_attrs(const KindDesc& k, TableReader& r, Diagnostics& d, KindLink& l) {
  l.desc = &k;
  l.attrs.clear();
  for (const KindAttr& a : k.attrs) {
    AttrValue v;
    v.loc = r.loc_of(a.key);
    using T = KindAttr::Type;
    switch (a.type) {
      case T::kU8:
      case T::kU16:
      case T::kU32:
      case T::kPort:
        if (auto x = r.integer(a.key, a.lo, a.hi, a.what ? a.what : a.key)) v.number = static_cast<uint64_t>(*x), v.written = true;
        break;
      case T::kBool:
        if (auto x = r.boolean(a.key)) v.number = *x ? 1 : 0, v.written = true;
        break;
      case T::kEnum:
        if (auto x = r.string(a.key)) {
          std::string list;
          for (const auto& [text, number] : a.names) {
            list += (list.empty() ? "" : ", ") + std::string(text);
            if (*x == text) v.number = number, v.text = *x, v.written = true;
          }
          if (!v.written)
            r.error(v.loc, std::string(k.word) + " " + a.key + " '" + *x + "' is not one of " + list);
        }
        break;
      case T::kIp:
        if (auto ip = read_ip(r, a.key)) v.ip = *ip, v.written = true;
        break;
      case T::kLink:
        if (auto x = r.string(a.key)) v.text = *x, v.written = true;
        break;
      case T::kUser:
      case T::kGroup: {
        std::optional<uint32_t> id;
        read_principal(r, a.key, v.text, id);
        if (id) v.number = *id, v.written = true;
        break;
      }
    }
    if (v.written) {
      v.set = true;
    } else if (a.fallback && !r.has(a.key)) {
      v.set = true;
      v.number = *a.fallback;
    }
    l.attrs.push_back(std::move(v));
  }
  for (const KindAttr& a : k.attrs)
    if (a.required) r.required(a.key);
  if (k.members_key) {
    if (auto names = r.strings(k.members_key)) {
      const toml::array* arr = r.get(k.members_key)->as_array();
      for (size_t i = 0; i < names->size(); ++i) {
        SourceLoc at = d.loc((*arr)[i]);
        if (std::string problem = interface_name_problem((*names)[i]); !problem.empty())
          r.error(at, problem);
        else
          l.members.emplace_back((*names)[i], at);
      }
    }
  }
}

// [TABLE.NAME] of a table-described kind: the shared link keys, then the kind's own.
void read_kind_links(const KindDesc& k, const toml::node& n, Diagnostics& d, Topology& t) {
  each_object(n, k.table, d, true, [&](const std::string& name, SourceLoc at, TableReader& r) {
    KindLink l;
    l.name = name;
    l.loc = at;
    read_common(r, l, k.port);
    read_kind_attrs(k, r, d, l);
    t.kind_links.push_back(std::move(l));
  });
}

void read_switch_ports(const toml::node& n, Diagnostics& d, Switch& sw) {
  each_object(n, "switches." + sw.name + ".ports", d, false,
              [&](const std::string& name, SourceLoc at, TableReader& r) {
                SwitchPort p;
                p.name = name;
                p.loc = at;
                static const std::pair<const char*, SwitchPort::Kind> kinds[] = {
                    {"tap", SwitchPort::Kind::kTap},
                    {"stream", SwitchPort::Kind::kStream},
                    {"dgram", SwitchPort::Kind::kDgram},
                    {"packet", SwitchPort::Kind::kPacket},
                    {"vde_port", SwitchPort::Kind::kVdePort}};
                std::vector<std::string> given;
                for (auto& [key, kind] : kinds) {
                  if (!r.has(key)) continue;
                  given.push_back(key);
                  p.kind = kind;
                  if (kind == SwitchPort::Kind::kVdePort) {
                    if (auto v = r.integer(key, 1, 65535, "vde_port"))
                      p.vde_port = static_cast<uint32_t>(*v);
                  } else if (auto v = r.string(key)) {
                    p.target = *v;
                    if (kind == SwitchPort::Kind::kTap || kind == SwitchPort::Kind::kPacket)
                      check_ifname(d, *v, r.loc_of(key));
                    else if (v->empty() || (*v)[0] != '/')
                      r.error(r.loc_of(key), "'" + std::string(key) +
                                                 "' must be an absolute socket path");
                    else if (std::string why = socket_path_problem(*v); !why.empty())
                      r.error(r.loc_of(key), why);
                  }
                }
                if (given.empty())
                  r.error(at, "port '" + name +
                                  "' needs one of tap, stream, dgram, packet, vde_port");
                else if (given.size() > 1)
                  r.error(r.loc_of(given[1]), "port '" + name + "' has both '" + given[0] +
                                                  "' and '" + given[1] + "'; give one");
                if (auto v = r.integer("pvid", 0, kMaxVid, "pvid"))
                  p.pvid = static_cast<uint16_t>(*v);
                if (auto v = read_vids(r, "tagged")) p.tagged = std::move(*v);
                sw.ports.push_back(std::move(p));
              });
}

void read_switches(const toml::node& n, Diagnostics& d, Topology& t) {
  each_object(n, "switches", d, false, [&](const std::string& name, SourceLoc at,
                                          TableReader& r) {
    Switch sw;
    sw.name = name;
    sw.loc = at;
    if (name.empty() || name.find('/') != std::string::npos || name == "." || name == "..")
      r.error(at, "switch name '" + name + "' cannot be used as a folder name");
    if (auto v = r.string("socket")) {
      sw.socket = *v;
      if (v->empty() || (*v)[0] != '/')
        r.error(r.loc_of("socket"), "'socket' must be an absolute path");
      else if (size_t room = kMaxSocketPath - kLongestSwitchSocketName.size(); v->size() > room)
        r.error(r.loc_of("socket"),
                "socket folder '" + *v + "' is " + std::to_string(v->size()) +
                    " bytes; with the switch's socket names in it (up to '" +
                    std::string(kLongestSwitchSocketName) + "') paths would exceed the " +
                    std::to_string(kMaxSocketPath) +
                    " bytes a unix socket address holds: use a folder of at most " +
                    std::to_string(room) + " bytes");
    }
    // Without `socket` the folder is /run/vnet/NAME (or under $XDG_RUNTIME_DIR): a long
    // name would make its socket paths too long to bind.
    constexpr size_t kMaxDefaultFolderName = 48;
    if (!r.has("socket") && name.size() > kMaxDefaultFolderName)
      r.error(at, "switch name '" + name + "' is " + std::to_string(name.size()) +
                      " bytes; its socket folder, named after it, must stay short enough "
                      "for unix socket paths: use at most " +
                      std::to_string(kMaxDefaultFolderName) + " bytes or declare 'socket'");
    if (auto v = r.string("group")) sw.group = *v;
    if (auto v = r.string("control_group")) sw.control_group = *v;
    if (auto v = r.string("socket_mode")) {
      bool ok = !v->empty() && v->size() <= 4 &&
                v->find_first_not_of("01234567") == std::string::npos;
      if (ok) sw.socket_mode = static_cast<uint32_t>(std::stoul(*v, nullptr, 8));
      else
        r.error(r.loc_of("socket_mode"),
                "socket_mode '" + *v + "' is not an octal mode like \"0660\"");
    }
    if (auto v = r.integer("max_ports", 1, 65535, "max_ports")) sw.max_ports = *v;
    if (auto v = r.integer("fdb_max", 1, 1 << 24, "fdb_max")) sw.fdb_max = *v;
    if (auto v = r.integer("port_mac_max", 1, 1 << 24, "port_mac_max")) sw.port_mac_max = *v;
    if (auto v = r.integer("default_vlan", 1, kMaxVid, "default_vlan"))
      sw.default_vlan = static_cast<uint16_t>(*v);
    if (const toml::node* ports = r.get("ports")) read_switch_ports(*ports, d, sw);
    t.switches.push_back(std::move(sw));
  });
}

GuestNic read_nic(const toml::table& tbl, const std::string& where, Diagnostics& d,
                  Guest::Kind kind) {
  TableReader r(tbl, where, d);
  GuestNic nic;
  nic.loc = r.loc();
  std::vector<std::string> given;
  for (const char* key : {"bridge", "switch", "tap", "user"}) {
    if (!r.has(key)) continue;
    given.push_back(key);
  }
  if (auto v = r.string("bridge")) nic.kind = GuestNic::Kind::kBridge, nic.bridge = *v;
  if (auto v = r.string("switch")) nic.kind = GuestNic::Kind::kSwitch, nic.switch_name = *v;
  if (auto v = r.string("tap")) nic.kind = GuestNic::Kind::kTap, nic.tap = *v;
  if (auto v = r.boolean("user")) {
    nic.kind = GuestNic::Kind::kUser;
    if (!*v) r.error(r.loc_of("user"), "'user = false' means nothing; leave it out or pick "
                                       "bridge, switch or tap");
  }
  nic.ref_loc = given.empty() ? nic.loc : r.loc_of(given[0]);
  nic.vlan_loc = r.has("vlan") ? r.loc_of("vlan") : nic.ref_loc;
  nic.gateway_loc = r.has("gateway") ? r.loc_of("gateway") : nic.loc;
  nic.host_name_loc = r.has("host_name") ? r.loc_of("host_name") : nic.loc;
  if (given.empty()) r.error(nic.loc, "a NIC needs one of bridge, switch, tap, user");
  else if (given.size() > 1)
    r.error(r.loc_of(given[1]),
            "a NIC has both '" + given[0] + "' and '" + given[1] + "'; give one");
  if (auto v = r.integer("vlan", 1, kMaxVid, "vlan id")) nic.vlan = static_cast<uint16_t>(*v);
  nic.tagged_loc = r.has("tagged") ? r.loc_of("tagged") : nic.vlan_loc;
  if (auto v = read_vids(r, "tagged")) nic.tagged = std::move(*v);
  if (r.has("tagged") && nic.kind != GuestNic::Kind::kBridge && !given.empty())
    r.error(nic.tagged_loc, "'tagged' (trunk VLANs of the host side) applies to a NIC on a "
                            "bridge");
  nic.mac = read_mac(r, "mac");
  nic.addresses = read_addresses(r, "addresses");
  nic.gateway = read_ip(r, "gateway");
  nic.routes = read_routes(r, "routes");
  if (r.has("routes") && kind == Guest::Kind::kQemu)
    r.error(r.loc_of("routes"), "'routes' on a NIC applies to nspawn guests only; a VM "
                                "configures its own routes");
  if (auto v = r.strings("hostfwd")) {
    nic.hostfwd = *v;
    if (nic.kind != GuestNic::Kind::kUser)
      r.error(r.loc_of("hostfwd"), "'hostfwd' needs 'user = true' on this NIC");
  }
  if (auto v = r.string("name")) {
    nic.name = *v;
    check_ifname(d, *v, r.loc_of("name"));
    if (kind == Guest::Kind::kQemu)
      r.error(r.loc_of("name"), "'name' (the link name inside the guest) applies to nspawn "
                                "guests only; a VM names its own NICs");
  }
  if (auto v = r.string("host_name")) {
    nic.host_name = *v;
    check_ifname(d, *v, r.loc_of("host_name"));
  }
  r.finish();
  if (given.empty()) {  // already reported: keep the NIC inert so nothing cascades from it
    nic.kind = GuestNic::Kind::kUser;
    nic.vlan.reset();
  }
  return nic;
}

// `binds = ["/srv/data:/data", "/srv/cache"]`: SOURCE[:TARGET], both absolute (what
// systemd-nspawn's --bind takes, without its mount options).
void read_binds(TableReader& r, const char* key, bool read_only, std::vector<Guest::Bind>& out) {
  auto v = r.strings(key);
  if (!v) return;
  SourceLoc at = r.loc_of(key);
  for (const std::string& spec : *v) {
    Guest::Bind b;
    size_t colon = spec.find(':');
    b.source = spec.substr(0, colon);
    b.target = colon == std::string::npos ? b.source : spec.substr(colon + 1);
    b.read_only = read_only;
    b.loc = at;
    bool abs = !b.source.empty() && b.source[0] == '/' && !b.target.empty() &&
               b.target[0] == '/' && b.target.find(':') == std::string::npos;
    if (!abs) {
      r.error(at, std::string("'") + key + "' entry '" + spec +
                      "' is not SOURCE or SOURCE:TARGET with absolute paths, like "
                      "\"/srv/data:/data\"");
      continue;
    }
    out.push_back(std::move(b));
  }
}

void read_guests(const toml::node& n, Diagnostics& d, Topology& t) {
  each_object(n, "guests", d, false, [&](const std::string& name, SourceLoc at,
                                        TableReader& r) {
    Guest g;
    g.name = name;
    g.loc = at;
    // The name becomes part of link and namespace names (vm-NAME-0, vb-NAME, vnet-NAME).
    if (std::string problem = interface_name_problem(name); !problem.empty() && name.size() <= 15)
      r.error(at, "guest " + problem.substr(problem.find(' ') + 1));
    r.required("kind");
    if (auto k = r.string("kind")) {
      if (*k == "qemu") g.kind = Guest::Kind::kQemu;
      else if (*k == "nspawn") g.kind = Guest::Kind::kNspawn;
      else r.error(r.loc_of("kind"), "guest kind '" + *k + "' is not one of qemu, nspawn");
    }
    bool qemu = g.kind == Guest::Kind::kQemu;
    static const std::vector<const char*> qemu_only = {"kernel", "initrd", "append", "disk",
                                                       "cloud_init", "vcpus", "debug_ssh_keys"};
    static const std::vector<const char*> nspawn_only = {"directory", "boot", "command",
                                                         "binds", "binds_ro"};
    for (const char* key : qemu ? nspawn_only : qemu_only) {
      if (r.has(key))
        r.error(r.loc_of(key), std::string("'") + key + "' applies to " +
                                   (qemu ? "nspawn" : "qemu") + " guests only");
    }
    if (auto v = r.string("memory")) {
      g.memory_bytes = parse_size(*v);
      if (!g.memory_bytes)
        r.error(r.loc_of("memory"), "memory '" + *v + "' is not a size like \"4G\" or \"512M\"");
    }
    if (auto v = r.integer("vcpus", 1, 1024, "vcpus")) g.vcpus = *v;
    if (auto v = r.integer("cpu_weight", 1, 10000, "cpu_weight")) g.cpu_weight = *v;
    if (auto v = r.boolean("autostart")) g.autostart = *v;
    if (auto v = r.string("kernel")) g.kernel = *v;
    if (auto v = r.string("initrd")) g.initrd = *v;
    if (auto v = r.string("append")) g.append = *v;
    if (const toml::table* disk = r.table("disk")) {
      TableReader dr(*disk, "disk of [guests." + name + "]", d);
      Guest::Disk gd;
      dr.required("image");
      if (auto v = dr.string("image")) gd.image = *v;
      if (auto v = dr.string("size")) {
        gd.size_bytes = parse_size(*v);
        if (!gd.size_bytes)
          dr.error(dr.loc_of("size"), "size '" + *v + "' is not a size like \"100G\"");
      }
      dr.finish();
      g.disk = gd;
    }
    if (const toml::table* ci = r.table("cloud_init")) {
      TableReader cr(*ci, "cloud_init of [guests." + name + "]", d);
      Guest::CloudInit c;
      if (auto v = cr.string("hostname")) c.hostname = *v;
      if (auto v = cr.strings("ssh_authorized_keys")) c.ssh_authorized_keys = *v;
      if (auto v = cr.string("user_data")) c.user_data = *v;
      cr.finish();
      g.cloud_init = c;
    }
    // The operator's own keys, added beside the ephemeral one on purpose (a guest to log
    // into by hand): each one line of authorized_keys, which the seed quotes as data.
    if (auto keys = r.strings("debug_ssh_keys")) {
      const toml::array* arr = r.get("debug_ssh_keys")->as_array();
      for (size_t i = 0; i < keys->size(); ++i) {
        const std::string& k = (*keys)[i];
        size_t eol = k.find_first_of("\r\n");
        if (eol != std::string::npos)
          r.error(d.loc((*arr)[i]), "debug_ssh_keys: a key is one line; this one breaks after '" +
                                        k.substr(0, eol) + "'");
        else if (!(k.starts_with("ssh-") || k.starts_with("ecdsa-") || k.starts_with("sk-")))
          r.error(d.loc((*arr)[i]), "debug_ssh_keys: '" + k +
                                        "' is not a public key line like \"ssh-ed25519 AAAA... me@desk\"");
        else
          g.debug_ssh_keys.push_back(k);
      }
    }
    if (auto v = r.string("directory")) g.directory = *v;
    if (auto v = r.boolean("boot")) g.boot = *v;
    if (auto v = r.strings("command")) g.command = *v;
    if (!qemu && g.boot && !g.command.empty())
      r.error(r.loc_of("command"), "'command' and boot = true exclude each other: the "
                                   "container's init runs when it boots");
    read_binds(r, "binds", false, g.binds);
    read_binds(r, "binds_ro", true, g.binds);
    if (!qemu && !g.boot && g.command.empty())
      r.error(at, "nspawn guest '" + name + "' needs 'command' when boot = false");
    if (!qemu && g.directory.empty() && !r.has("directory"))
      r.error(at, "'directory' is required in [guests." + name + "]");
    if (const toml::table* rt = r.table("ready")) {
      TableReader rr(*rt, "ready of [guests." + name + "]", d);
      Guest::Ready rd;
      rd.loc = r.loc_of("ready");
      rd.ping = read_ip(rr, "ping");
      if (auto v = rr.string("from")) rd.from = *v, rd.from_loc = rr.loc_of("from");
      if (auto v = rr.string("console")) rd.console = *v;
      if (auto v = rr.integer("timeout", 1, 3600, "timeout")) rd.timeout_s = static_cast<uint32_t>(*v);
      if (rr.has("ping") == rr.has("console"))
        rr.error(rd.loc, "'ready' needs one of ping (an address that answers once the guest is "
                         "up) or console (a text its serial console prints)");
      if (rr.has("from") && !rr.has("ping"))
        rr.error(rd.from_loc, "'from' (where the ready ping starts) goes with 'ping'");
      if (rr.has("console") && !qemu)
        rr.error(rr.loc_of("console"), "ready 'console' applies to qemu guests; wait for an "
                                       "nspawn guest with ping");
      rr.finish();
      g.ready = rd;
    }
    if (const toml::node* nics = r.get("nics")) {
      if (const toml::array* arr = nics->as_array()) {
        size_t i = 0;
        for (const toml::node& e : *arr) {
          std::string where = "[[guests." + name + ".nics]] #" + std::to_string(i++);
          if (const toml::table* nt = e.as_table()) g.nics.push_back(read_nic(*nt, where, d, g.kind));
          else d.error(d.loc(e), "'nics' must hold tables ([[guests." + name + ".nics]])");
        }
      } else {
        d.error(d.loc(*nics), "'nics' must be an array of tables ([[guests." + name + ".nics]])");
      }
    }
    t.guests.push_back(std::move(g));
  });
}

const std::vector<std::string>& known_features() {
  static const std::vector<std::string> f = {"bridge_vlan_filtering", "8021q", "veth",
                                             "tun",   "macvlan", "vxlan"};
  return f;
}

void read_scenario(const toml::node& n, Diagnostics& d, Topology& t) {
  const toml::table* tbl = n.as_table();
  if (!tbl) {
    d.error(d.loc(n), "'scenario' must be a table ([scenario])");
    return;
  }
  TableReader r(*tbl, "[scenario]", d);
  Scenario s;
  s.loc = r.loc();
  r.required("name");
  if (auto v = r.string("name")) s.name = *v;
  if (auto v = r.string("description")) s.description = *v;
  if (auto v = r.strings("requires")) {
    const toml::array* arr = r.get("requires")->as_array();
    for (size_t i = 0; i < v->size(); ++i) {
      const auto& f = (*v)[i];
      if (std::find(known_features().begin(), known_features().end(), f) ==
          known_features().end()) {
        std::string near = did_you_mean(f, known_features());
        d.error(d.loc(*arr->get(i)),
                "unknown kernel feature '" + f + "'" +
                    (near.empty() ? "" : "; did you mean '" + near + "'?") +
                    " (known: bridge_vlan_filtering, 8021q, veth, tun, macvlan, vxlan)");
      } else {
        s.requires_features.push_back(f);
      }
    }
  }
  if (auto v = r.boolean("vm")) s.vm = *v;
  r.finish();
  t.scenario = std::move(s);
}

void read_checks(const toml::node& n, Diagnostics& d, Topology& t) {
  const toml::array* arr = n.as_array();
  if (!arr) {
    d.error(d.loc(n), "'checks' must be an array of tables ([[checks]])");
    return;
  }
  if (!t.scenario) t.scenario = Scenario{};
  for (const toml::node& e : *arr) {
    const toml::table* tbl = e.as_table();
    if (!tbl) {
      d.error(d.loc(e), "'checks' must hold tables ([[checks]])");
      continue;
    }
    TableReader r(*tbl, "[[checks]]", d);
    Check c;
    c.loc = r.loc();
    r.required("from");
    if (auto v = r.string("from")) c.from = *v;
    std::vector<std::string> given;
    for (const char* key : {"ping", "tcp", "arping"})
      if (r.has(key)) given.push_back(key);
    if (given.empty()) r.error(c.loc, "a check needs one of ping, tcp, arping");
    else if (given.size() > 1)
      r.error(r.loc_of(given[1]),
              "a check has both '" + given[0] + "' and '" + given[1] + "'; give one");
    if (auto v = r.string("ping")) {
      c.kind = Check::Kind::kPing;
      c.target = *v;
      c.target_loc = r.loc_of("ping");
      if (auto ip = parse_ip(*v)) c.address = *ip;
      else r.error(r.loc_of("ping"), "'" + *v + "' is not an IP address");
    }
    if (auto v = r.string("arping")) {
      c.kind = Check::Kind::kArping;
      c.target = *v;
      c.target_loc = r.loc_of("arping");
      auto ip = parse_ip(*v);
      if (ip && ip->family == AF_INET) c.address = *ip;
      else r.error(r.loc_of("arping"), "'" + *v + "' is not an IPv4 address (arping is IPv4 only)");
    }
    if (auto v = r.string("tcp")) {
      c.kind = Check::Kind::kTcp;
      c.target = *v;
      c.target_loc = r.loc_of("tcp");
      std::string host, port;
      if (!v->empty() && (*v)[0] == '[') {
        auto close = v->find("]:");
        if (close != std::string::npos) host = v->substr(1, close - 1), port = v->substr(close + 2);
      } else if (auto colon = v->rfind(':'); colon != std::string::npos) {
        host = v->substr(0, colon), port = v->substr(colon + 1);
      }
      auto ip = parse_ip(host);
      auto p = numeric_id(port);
      if (!ip || !p || *p == 0 || *p > 65535)
        r.error(r.loc_of("tcp"), "'" + *v + "' is not ADDRESS:PORT (like 10.1.40.21:22 or "
                                             "[fd00::21]:22)");
      else c.address = *ip, c.port = static_cast<uint16_t>(*p);
    }
    if (auto v = r.string("expect")) {
      if (*v == "reach") c.expect = Check::Expect::kReach;
      else if (*v == "blocked") c.expect = Check::Expect::kBlocked;
      else r.error(r.loc_of("expect"), "expect must be \"reach\" or \"blocked\", not \"" + *v + "\"");
    }
    if (auto v = r.integer("count", 1, 100, "count")) c.count = *v;
    if (auto v = r.integer("timeout", 1, 60, "timeout")) c.timeout_s = *v;
    if (auto v = r.integer("mtu", 68, 65535, "mtu")) {
      c.mtu = *v;
      if (c.kind != Check::Kind::kPing) r.error(r.loc_of("mtu"), "'mtu' applies to ping checks only");
    }
    r.finish();
    t.scenario->checks.push_back(std::move(c));
  }
}

}  // namespace

void read_document(const toml::table& root, Diagnostics& d, const LoadOptions& options,
                   Topology& t) {
  TableReader top(root, "the top level", d);
  if (const toml::table* host = top.table("host")) {
    TableReader r(*host, "[host]", d);
    t.host_loc = r.loc();
    r.required("name");
    if (auto v = r.string("name")) {
      t.host_name = *v;
      if (v->empty()) r.error(r.loc_of("name"), "host name must not be empty");
      // it becomes the ownership mark "vnet:<name>" (IFLA_IFALIAS holds 255 bytes)
      if (v->size() > 200) r.error(r.loc_of("name"), "host name is " + std::to_string(v->size()) +
                                                         " bytes; at most 200 fit the ownership mark");
      if (auto p = control_char_problem("host name", *v); !p.empty()) r.error(r.loc_of("name"), p);
    }
    r.finish();
  } else if (!root.contains("host")) {
    d.error(SourceLoc{d.file(), 1, 1}, "[host] with 'name' is required: it marks what vnet owns");
  }
  if (const toml::node* n = top.get("netns")) {
    each_object(*n, "netns", d, false, [&](const std::string& name, SourceLoc at, TableReader&) {
      if (name == kHostNetns) {
        d.error(at, "'host' is reserved for the target namespace; pick another name");
        return;
      }
      std::string problem = netns_problem(name);
      if (!problem.empty()) d.error(at, problem);
      t.netns.push_back(Netns{name, true, at});
    });
  }
  using Reader = void (*)(const toml::node&, Diagnostics&, Topology&);
  static const std::pair<const char*, Reader> kinds[] = {
      {"bridges", read_bridges}, {"links", read_links},         {"veths", read_veths},
      {"taps", read_taps},       {"switches", read_switches}, {"guests", read_guests}};
  for (auto& [key, reader] : kinds)
    if (const toml::node* n = top.get(key)) reader(*n, d, t);
  for (const KindDesc* k : topology::kinds())
    if (const toml::node* n = top.get(k->table)) read_kind_links(*k, *n, d, t);
  if (options.allow_scenario) {
    if (const toml::node* n = top.get("scenario")) read_scenario(*n, d, t);
    if (const toml::node* n = top.get("checks")) read_checks(*n, d, t);
  }
  // Unknown top-level names are tables the user meant as a kind: say which kinds exist.
  std::vector<std::string> names = {"host", "netns", "bridges", "links", "veths", "taps"};
  for (const KindDesc* k : topology::kinds()) names.push_back(k->table);
  names.insert(names.end(), {"switches", "guests"});
  if (options.allow_scenario) names.insert(names.end(), {"scenario", "checks"});
  for (auto&& [k, v] : root) {
    std::string key(k.str());
    if (top.has(key) && std::find(names.begin(), names.end(), key) != names.end()) continue;
    std::string msg = "unknown table '" + key + "'";
    std::string near = did_you_mean(key, names);
    if (!near.empty()) {
      msg += "; did you mean '" + near + "'?";
    } else {
      std::string list;
      for (const std::string& n : names) list += (list.empty() ? "" : ", ") + n;
      msg += " (known: " + list + ")";
    }
    d.error(d.loc(k.source()), msg);
  }
}

}  // namespace vnet::topology::detail
