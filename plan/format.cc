#include "plan/format.h"

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

nlohmann::json op_json(const Op& op) {
  nlohmann::json j;
  j["op"] = to_string(op.kind);
  j["object"] = op.object;
  j["netns"] = op.ns;
  if (!op.ifname.empty()) j["ifname"] = op.ifname;
  if (op.kind == OpKind::kCreateLink) j["kind"] = op.spec.kind == "tun" ? "tap" : op.spec.kind;
  j["text"] = op.describe();
  if (!op.reason.empty()) j["reason"] = op.reason;
  if (op.loc.known()) j["source"] = op.loc.str();
  return j;
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

std::string plan_json(const Plan& plan, const std::string& host_name) {
  nlohmann::json j;
  j["version"] = 1;
  j["host"] = host_name;
  j["changes"] = plan.ops.size();
  j["ops"] = nlohmann::json::array();
  for (const Op& op : plan.ops) j["ops"].push_back(op_json(op));
  j["refusals"] = nlohmann::json::array();
  for (const Error& e : plan.refusals) {
    nlohmann::json r;
    r["message"] = e.what;
    if (e.loc && e.loc->known()) r["source"] = e.loc->str();
    j["refusals"].push_back(r);
  }
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

std::string status_json(const Plan& plan, const std::string& host_name) {
  std::map<std::string, nlohmann::json> by;
  for (const Op& op : plan.ops) {
    auto& o = by[op.object];
    o["object"] = op.object;
    o["netns"] = op.ns;
    o["state"] = "drift";
    o["pending"].push_back(op_json(op));
  }
  nlohmann::json j;
  j["version"] = 1;
  j["host"] = host_name;
  j["drift"] = !by.empty() || !plan.refusals.empty();
  j["objects"] = nlohmann::json::array();
  for (auto& [k, v] : by) j["objects"].push_back(v);
  j["refusals"] = nlohmann::json::array();
  for (const Error& e : plan.refusals) j["refusals"].push_back(e.what);
  return j.dump(2) + "\n";
}

}  // namespace vnet::plan
