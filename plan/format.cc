#include "plan/format.h"

#include <sys/socket.h>

#include <array>
#include <map>
#include <set>

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
  j["to"] = r.to_str();
  if (r.gateway.family) j["via"] = r.gateway.str();
  if (r.priority) j["metric"] = r.priority;
  return j;
}

// A described kind's attribute as JSON data: booleans and numbers typed, names as text.
nlohmann::json info_json(const topology::KindAttr& a, const topology::InfoValue& v) {
  using T = topology::KindAttr::Type;
  switch (a.type) {
    case T::kBool: return v.number != 0;
    case T::kU8:
    case T::kU16:
    case T::kU32:
    case T::kPort: return v.number;
    case T::kUser:
    case T::kGroup: return v.number == static_cast<uint32_t>(-1) ? nlohmann::json(nullptr) : nlohmann::json(v.number);
    default: return topology::info_text(a, v);
  }
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
  for (const auto& [attr, value] : op.info) {
    std::optional<nlohmann::json> from;
    if (undo)
      for (const auto& [a, v] : undo->info)
        if (a == attr) from = info_json(*a, v);
    change(attr->key, std::optional<nlohmann::json>(info_json(*attr, value)), from);
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
      for (const auto& [attr, value] : s.info) j[attr->key] = info_json(*attr, value);
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

std::vector<StatusRow> status_rows(const topology::Topology& topo, const Snapshot& snap,
                                   const Plan& plan, const std::string& target) {
  std::set<std::pair<std::string, std::string>> named;  // [links] and adopted names
  for (const topology::Link& l : topo.links) named.insert({"", l.name});
  // a veth's peer carries no mark (the kernel keeps one alias per link): it is named
  for (const topology::Veth& v : topo.veths) named.insert({v.peer_netns, v.peer});
  std::set<std::pair<std::string, std::string>> drifting;
  for (const Op& op : plan.ops)
    if (!op.ifname.empty()) drifting.insert({op.ns, op.ifname});
  std::string mark = owner_mark(topo.host_name);
  std::vector<StatusRow> rows;
  for (const auto& [ns, st] : snap.netns) {
    for (const auto& [idx, l] : st.links) {
      if (l.alias != mark && !named.count({ns, l.name})) continue;
      StatusRow r;
      r.name = l.name;
      r.kind = l.kind == "tun" ? "tap" : l.kind.empty() ? "link" : l.kind;
      r.netns = ns.empty() ? target : ns;
      const LinkState* m = st.by_index(l.master);
      r.master = m ? m->name : "-";
      for (const auto& run : topology::vlan_runs(l.vlans))
        r.vlans += (r.vlans.empty() ? "" : ",") + topology::run_text(run) + (run.first.pvid ? "P" : "") +
                   (run.first.untagged ? "U" : "");
      for (const AddrState& a : l.addrs)
        if (!a.kernel_made()) r.addresses += (r.addresses.empty() ? "" : ",") + a.str();
      if (r.vlans.empty()) r.vlans = "-";
      if (r.addresses.empty()) r.addresses = "-";
      r.state = drifting.count({ns, l.name}) ? "drift" : "in sync";
      rows.push_back(std::move(r));
    }
  }
  for (const Op& op : plan.ops) {
    if (op.kind != OpKind::kCreateLink) continue;
    const NetnsState* st = snap.find(op.ns);
    if (st && st->by_name(op.ifname)) continue;  // there, to be recreated: listed above
    rows.push_back({op.ifname, op.spec.kind == "tun" ? "tap" : op.spec.kind,
                    op.ns.empty() ? target : op.ns, "-", "-", "-", "absent"});
    if (op.spec.kind == "veth")
      rows.push_back({op.spec.peer, "veth", op.spec.peer_ns.empty() ? target : op.spec.peer_ns,
                      "-", "-", "-", "absent"});
  }
  return rows;
}

std::string status_table(const std::vector<StatusRow>& rows, const Plan& plan) {
  std::vector<std::array<std::string, 7>> cells = {
      {"NAME", "KIND", "NETNS", "MASTER", "VLANS", "ADDRESSES", "STATE"}};
  for (const StatusRow& r : rows)
    cells.push_back({r.name, r.kind, r.netns, r.master, r.vlans, r.addresses, r.state});
  std::array<size_t, 7> width{};
  for (const auto& c : cells)
    for (size_t i = 0; i < c.size(); ++i) width[i] = std::max(width[i], c[i].size());
  std::string out;
  for (const auto& c : cells) {
    std::string line;
    for (size_t i = 0; i < c.size(); ++i) {
      line += c[i];
      if (i + 1 < c.size()) line += std::string(width[i] - c[i].size() + 2, ' ');
    }
    out += line + "\n";
  }
  return out + status_text(plan);
}

std::string status_json(const Plan& plan, const std::string& host_name, const std::string& target,
                        const std::vector<StatusRow>& rows) {
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
  j["links"] = nlohmann::json::array();
  for (const StatusRow& r : rows)
    j["links"].push_back({{"name", r.name}, {"kind", r.kind}, {"netns", r.netns},
                          {"master", r.master == "-" ? nlohmann::json(nullptr) : nlohmann::json(r.master)},
                          {"vlans", r.vlans == "-" ? "" : r.vlans},
                          {"addresses", r.addresses == "-" ? "" : r.addresses},
                          {"state", r.state}});
  return j.dump(2) + "\n";
}

}  // namespace vnet::plan
