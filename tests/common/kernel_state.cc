// See kernel_state.h. Moved here from the networkd proof, unchanged in what it compares.
#include "tests/common/kernel_state.h"

#include <functional>
#include <sstream>

#include <nlohmann/json.hpp>

#include "tests/common/process.h"

namespace vnet::testing {
namespace {

using json = nlohmann::json;

json ipj(const std::string& ns, const std::string& args) {
  RunResult r = sh("ip -n " + ns + " -j " + args);
  if (r.exit_code != 0 || r.out.empty()) return json::array();
  return json::parse(r.out, nullptr, false);
}

void erase(json& j, std::initializer_list<const char*> keys) {
  if (!j.is_object()) return;
  for (const char* k : keys) j.erase(k);
}

}  // namespace

// The declared MACs: kept in the comparison; every other MAC is the kernel's random one.
std::set<std::string> declared_macs(const topology::Topology& t) {
  std::set<std::string> out;
  auto add = [&](const std::optional<topology::Mac>& m) {
    if (m) out.insert(m->str());
  };
  for (const auto& b : t.bridges) add(b.mac);
  for (const auto& v : t.veths) add(v.mac), add(v.peer_mac);
  for (const auto& tp : t.taps) add(tp.mac);
  for (const auto& k : t.kind_links) add(k.mac);
  return out;
}

// One namespace's state as comparable text, one line per fact.
// `zero_pvid`: bridges the renderer made with DefaultPVID=none (it says so in a note):
// the one documented difference under systemd 252, checked where it is and nowhere else.
std::string state(const std::string& ns, const std::set<std::string>& macs,
                  const std::map<std::string, int>& zero_pvid) {
  std::map<std::string, std::string> lines;  // sorted by key
  for (json l : ipj(ns, "-d link show")) {
    std::string name = l.value("ifname", "?");
    if (l.contains("address") && !macs.count(l["address"].get<std::string>())) l.erase("address");
    if (l.contains("ifalias") && l["ifalias"].get<std::string>().rfind("vnet:", 0) == 0)
      l.erase("ifalias");
    erase(l, {"ifindex", "link_index", "link_netnsid", "broadcast", "perm_address",
              "inet6_addr_gen_mode_pending"});
    // Offload limits a stacked link copies from its lower link when created: they follow
    // whether the bridge's ports had joined by then (524280 vs 65536), not configuration
    // (issue 16's list: kinds, masters, MTUs, up/down, bridge options, VLANs, addresses,
    // routes).
    erase(l, {"tso_max_size", "tso_max_segs", "gso_max_size", "gso_max_segs", "gro_max_size"});
    if (l.contains("link") && l["link"].is_null()) l.erase("link");
    if (l.contains("linkinfo")) {
      json& li = l["linkinfo"];
      erase(li["info_data"], {"hello_timer", "tcn_timer", "topology_change_timer", "gc_timer",
                              "root_id", "bridge_id", "root_port"});
      // port numbers and ids follow the order of enslaving, designated ids hold MACs
      // a bond member's permanent MAC (undeclared) and its LACP run-time state: which
      // member is active and aggregated follows timing when no partner answers
      erase(li["info_slave_data"], {"perm_hwaddr", "state", "ad_aggregator_id",
                                    "ad_actor_oper_port_state", "ad_actor_oper_port_state_str",
                                    "ad_partner_oper_port_state", "ad_partner_oper_port_state_str"});
      if (li.contains("info_data") && li["info_data"].is_object()) li["info_data"].erase("ad_info");
      erase(li["info_slave_data"], {"no", "id", "bridge_id", "root_id", "designated_root",
                                    "designated_bridge",
                                    "designated_port", "message_age_timer",
                                    "forward_delay_timer", "hold_timer"});
      if (li.contains("info_slave_data") && li["info_slave_data"].empty()) li.erase("info_slave_data");
    }
    if (auto it = zero_pvid.find(name); it != zero_pvid.end()) {
      json& d = l["linkinfo"]["info_data"];
      if (d.value("vlan_default_pvid", -1) == it->second) d["vlan_default_pvid"] = 0;
    }
    lines["link " + name] = l.dump();
  }
  for (const json& l : ipj(ns, "addr show")) {
    std::set<std::string> addrs;
    for (json a : l.value("addr_info", json::array())) {
      std::string local = a.value("local", "");
      if (local.rfind("fe80:", 0) == 0) continue;
      erase(a, {"valid_life_time", "preferred_life_time", "label"});
      addrs.insert(a.dump());
    }
    if (addrs.empty()) continue;
    std::string s;
    for (const std::string& a : addrs) s += a + " ";
    lines["addr " + l.value("ifname", "?")] = s;
  }
  for (const char* fam : {"-4", "-6"}) {
    std::set<std::string> routes;
    for (json r : ipj(ns, std::string(fam) + " route show table main")) {
      std::string dst = r.value("dst", "");
      if (dst.rfind("fe80:", 0) == 0 || dst.rfind("ff00:", 0) == 0) continue;
      // the owner's mark: vnet's 0x76 ("118" to ip), networkd's "static"
      std::string proto = r.contains("protocol") ? r["protocol"].dump() : "";
      if (proto == "118" || proto == "\"118\"" || proto == "\"static\"") r["protocol"] = "owner";
      routes.insert(r.dump());
    }
    for (const std::string& r : routes) lines["route " + r] = "";
  }
  RunResult vl = sh("bridge -n " + ns + " -j vlan show");
  json vj = json::parse(vl.out.empty() ? "[]" : vl.out, nullptr, false);
  for (const json& port : vj.is_array() ? vj : json::array()) {
    std::string s;
    for (const json& v : port.value("vlans", json::array())) {
      int lo = v.value("vlan", 0), hi = v.value("vlanEnd", lo);
      std::string flags = v.contains("flags") ? v["flags"].dump() : "[]";
      for (int id = lo; id <= hi; ++id) s += std::to_string(id) + flags + " ";
    }
    lines["vlan " + port.value("ifname", "?")] = s;
  }
  std::string out;
  for (const auto& [k, v] : lines) out += k + " " + v + "\n";
  return out;
}

// Per fact, only what differs: the keys of a link that differ, facts on one side only.
std::string differences(const std::string& a, const std::string& b, const std::string& a_name,
                        const std::string& b_name) {
  auto split = [](const std::string& s) {
    std::map<std::string, std::string> m;
    std::istringstream in(s);
    for (std::string line; std::getline(in, line);) {
      size_t sp = line.find(' ', line.find(' ') + 1);
      m[line.substr(0, sp)] = sp == std::string::npos ? "" : line.substr(sp + 1);
    }
    return m;
  };
  auto ma = split(a), mb = split(b);
  std::string out;
  std::function<void(const std::string&, const json&, const json&)> walk =
      [&](const std::string& path, const json& x, const json& y) {
        if (x.is_object() && y.is_object()) {
          std::set<std::string> keys;
          for (const auto& [k, v] : x.items()) keys.insert(k);
          for (const auto& [k, v] : y.items()) keys.insert(k);
          for (const std::string& k : keys)
            walk(path + "." + k, x.contains(k) ? x[k] : json(), y.contains(k) ? y[k] : json());
        } else if (x != y) {
          out += "  " + path + ": " + x.dump() + " | " + y.dump() + "\n";
        }
      };
  std::set<std::string> keys;
  for (const auto& [k, v] : ma) keys.insert(k);
  for (const auto& [k, v] : mb) keys.insert(k);
  for (const std::string& k : keys) {
    if (!ma.count(k) || !mb.count(k)) {
      out += "only " + (ma.count(k) ? a_name : b_name) + ": " + k + " " +
             (ma.count(k) ? ma[k] : mb[k]) + "\n";
      continue;
    }
    if (ma[k] == mb[k]) continue;
    json x = json::parse(ma[k], nullptr, false), y = json::parse(mb[k], nullptr, false);
    if (x.is_discarded() || y.is_discarded()) out += k + ": " + ma[k] + " | " + mb[k] + "\n";
    else walk(k, x, y);
  }
  return out;
}

}  // namespace vnet::testing
