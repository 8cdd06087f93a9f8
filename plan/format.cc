#include "plan/format.h"

#include <sys/socket.h>

#include <map>

#include <nlohmann/json.hpp>

namespace vnet::plan {
namespace {

char sigil(OpKind k) {
  switch (k) {
    case OpKind::kCreateNetns:
    case OpKind::kCreateLink:
    case OpKind::kAddAddress:
    case OpKind::kAddRoute: return '+';
    case OpKind::kDeleteNetns:
    case OpKind::kDeleteLink:
    case OpKind::kDelAddress:
    case OpKind::kDelRoute: return '-';
    default: return '~';
  }
}

nlohmann::json vlan_json(const std::vector<VlanEntry>& v) {
  nlohmann::json a = nlohmann::json::array();
  for (const VlanEntry& e : v) a.push_back({{"vlan", e.vid}, {"pvid", e.pvid}, {"untagged", e.untagged}});
  return a;
}

nlohmann::json route_json(const RouteState& r) {
  nlohmann::json j;
  int family = r.af();
  j["to"] = r.dst_len ? r.dst.str() + "/" + std::to_string(r.dst_len)
                      : std::string(family == AF_INET6 ? "::/0" : "0.0.0.0/0");
  if (r.gateway.family) j["via"] = r.gateway.str();
  if (r.priority) j["metric"] = r.priority;
  return j;
}

// The values a `set` changes, each as {"to": new, "from": old} (old from the op's undo,
// null for a link this plan creates).
nlohmann::json set_json(const Op& op) {
  const Op* undo = op.undo.empty() ? nullptr : &op.undo[0];
  nlohmann::json j = nlohmann::json::object();
  auto change = [&](const char* key, const auto& to, const auto& from) {
    if (!to) return;
    j[key] = {{"to", *to}, {"from", from ? nlohmann::json(*from) : nlohmann::json(nullptr)}};
  };
  auto mac = [](const std::optional<Mac>& m) { return m ? std::optional<std::string>(m->str()) : std::nullopt; };
  change("mtu", op.mtu, undo ? undo->mtu : std::nullopt);
  change("mac", mac(op.mac), undo ? mac(undo->mac) : std::nullopt);
  auto mode = [](const std::optional<uint8_t>& m) {
    return m ? std::optional<std::string>(*m == kAddrGenNone ? "none" : "eui64") : std::nullopt;
  };
  change("addrgenmode", mode(op.addr_gen_mode), undo ? mode(undo->addr_gen_mode) : std::nullopt);
  change("vlan_filtering", op.vlan_filtering, undo ? undo->vlan_filtering : std::nullopt);
  change("default_pvid", op.default_pvid, undo ? undo->default_pvid : std::nullopt);
  change("stp", op.stp, undo ? undo->stp : std::nullopt);
  change("macvlan_mode", op.macvlan_mode, undo ? undo->macvlan_mode : std::nullopt);
  for (const auto& [attr, value] : op.info) {
    std::optional<std::string> from;
    if (undo)
      for (const auto& [a, v] : undo->info)
        if (a == attr) from = topology::info_text(*a, v);
    change(attr->key, std::optional<std::string>(topology::info_text(*attr, value)), from);
  }
  return j;
}

nlohmann::json op_json(const Op& op, const std::string& target) {
  nlohmann::json j;
  j["op"] = to_string(op.kind);
  j["object"] = op.object;
  j["netns"] = op.ns.empty() ? target : op.ns;
  if (!op.ifname.empty()) j["ifname"] = op.ifname;
  if (op.kind == OpKind::kCreateLink) j["kind"] = op.spec.kind == "tun" ? "tap" : op.spec.kind;
  j["text"] = op.describe();
  if (!op.reason.empty()) j["reason"] = op.reason;
  if (op.loc.known()) j["source"] = op.loc.str();
  switch (op.kind) {
    case OpKind::kCreateLink: {
      const LinkSpec& s = op.spec;
      if (s.mtu) j["mtu"] = *s.mtu;
      if (s.mac) j["mac"] = s.mac->str();
      if (s.kind == "veth") {
        j["peer"] = s.peer;
        j["peer_netns"] = s.peer_ns.empty() ? target : s.peer_ns;
      }
      if (s.kind == "vlan") j["id"] = s.vlan_id;
      if (s.kind == "bridge") {
        j["vlan_filtering"] = s.vlan_filtering;
        if (s.default_pvid) j["default_pvid"] = *s.default_pvid;
        j["stp"] = s.stp;
      }
      for (const auto& [attr, value] : s.info) j[attr->key] = topology::info_text(*attr, value);
      break;
    }
    case OpKind::kSetLink: j["set"] = set_json(op); break;
    case OpKind::kSetMaster:
      j["master"] = op.master ? nlohmann::json(op.master_name) : nlohmann::json(nullptr);
      break;
    case OpKind::kSetVlans:
      j["self"] = op.self;
      j["vlans_added"] = vlan_json(op.vlan_add);
      j["vlans_removed"] = vlan_json(op.vlan_del);
      break;
    case OpKind::kAddAddress:
    case OpKind::kDelAddress: j["address"] = op.addr.str(); break;
    case OpKind::kAddRoute:
    case OpKind::kDelRoute: j["route"] = route_json(op.route); break;
    case OpKind::kSetUp: j["up"] = op.up; break;
    case OpKind::kMoveLink: j["to_netns"] = op.to_ns.empty() ? target : op.to_ns; break;
    default: break;
  }
  return j;
}

nlohmann::json refusals_json(const Plan& plan) {
  nlohmann::json a = nlohmann::json::array();
  for (const Error& e : plan.refusals) {
    nlohmann::json r;
    r["message"] = e.what;
    if (e.loc && e.loc->known()) r["source"] = e.loc->str();
    a.push_back(r);
  }
  return a;
}

}  // namespace

std::string plan_text(const Plan& plan) {
  std::string out;
  for (const Op& op : plan.ops) out += std::string("  ") + sigil(op.kind) + " " + op.describe() + "\n";
  for (const Error& e : plan.refusals)
    out += "error: " + (e.loc && e.loc->known() ? e.loc->str() + ": " : std::string()) + e.what + "\n";
  for (const std::string& n : plan.notes) out += "note: " + n + "\n";
  if (plan.ops.empty() && plan.refusals.empty()) out += "no changes\n";
  return out;
}

std::string plan_json(const Plan& plan, const std::string& host_name, const std::string& target) {
  nlohmann::json j;
  j["version"] = kJsonVersion;
  j["host"] = host_name;
  j["target"] = target;
  j["changes"] = plan.ops.size();
  j["ops"] = nlohmann::json::array();
  for (const Op& op : plan.ops) j["ops"].push_back(op_json(op, target));
  j["refusals"] = refusals_json(plan);
  j["notes"] = plan.notes;
  return j.dump(2) + "\n";
}

std::string status_text(const Plan& plan) {
  std::map<std::string, std::vector<const Op*>> by;
  for (const Op& op : plan.ops) by[op.object].push_back(&op);
  std::string out;
  for (const auto& [obj, ops] : by) {
    out += obj + ": drift\n";
    for (const Op* op : ops) out += "    would " + op->describe() + "\n";
  }
  for (const Error& e : plan.refusals) out += "error: " + e.what + "\n";
  if (by.empty() && plan.refusals.empty()) out += "in sync\n";
  return out;
}

std::string status_json(const Plan& plan, const std::string& host_name, const std::string& target) {
  std::map<std::string, nlohmann::json> by;
  for (const Op& op : plan.ops) {
    auto& o = by[op.object];
    o["object"] = op.object;
    o["netns"] = op.ns.empty() ? target : op.ns;
    o["state"] = "drift";
    o["pending"].push_back(op_json(op, target));
  }
  nlohmann::json j;
  j["version"] = kJsonVersion;
  j["host"] = host_name;
  j["target"] = target;
  j["drift"] = !by.empty() || !plan.refusals.empty();
  j["objects"] = nlohmann::json::array();
  for (auto& [k, v] : by) j["objects"].push_back(v);
  j["refusals"] = refusals_json(plan);
  return j.dump(2) + "\n";
}

}  // namespace vnet::plan
