#include "switch/control_proto.h"

#include <algorithm>
#include <cctype>
#include <sstream>

#include "base/text.h"

namespace vnet::sw {

using nlohmann::json;

namespace {

bool vid_ok(const json& v, bool zero_ok) {
  return v.is_number_unsigned() && v.get<uint64_t>() <= 4094 &&
         (zero_ok || v.get<uint64_t>() >= 1);
}

}  // namespace

bool json_depth_within(std::string_view text, size_t max) {
  size_t depth = 0;
  bool in_string = false, escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > max) return false;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return true;
}

Result<ControlRequest> parse_control_request(std::string_view line) {
  // A request is an object of scalars and one list: anything deeper is not one.
  json req = json_depth_within(line, 2) ? json::parse(line, nullptr, false) : json();
  if (req.is_discarded() || !req.is_object() || !req.contains("cmd") || !req["cmd"].is_string())
    return fail("expected a JSON object with \"cmd\"");
  const std::string& cmd = req["cmd"].get_ref<const std::string&>();
  ControlRequest r;
  if (cmd == "ports") r.cmd = ControlRequest::Cmd::kPorts;
  else if (cmd == "fdb") r.cmd = ControlRequest::Cmd::kFdb;
  else if (cmd == "stats") r.cmd = ControlRequest::Cmd::kStats;
  else if (cmd == "set-port-vlan") r.cmd = ControlRequest::Cmd::kSetPortVlan;
  else if (cmd == "add-port") r.cmd = ControlRequest::Cmd::kAddPort;
  else if (cmd == "remove-port") r.cmd = ControlRequest::Cmd::kRemovePort;
  else
    return fail("unknown cmd '" + printable(cmd) +
                "' (known: ports, fdb, stats, set-port-vlan, add-port, remove-port)");
  if (!r.changes()) return r;
  const bool by_name = r.cmd != ControlRequest::Cmd::kSetPortVlan;
  if (!req.contains("port") ||
      !(req["port"].is_string() || (!by_name && req["port"].is_number_unsigned())))
    return fail(cmd + (by_name ? " needs \"port\" (a name)" : " needs \"port\" (name or number)"));
  r.port = req["port"].is_string() ? req["port"].get<std::string>()
                                   : std::to_string(req["port"].get<uint64_t>());
  if (r.cmd == ControlRequest::Cmd::kAddPort && !valid_added_port_name(r.port))
    return fail("add-port: port name '" + printable(r.port) +
                "' is not 1-64 of A-Z a-z 0-9 _ . -, starting with a letter");
  if (r.cmd == ControlRequest::Cmd::kRemovePort) return r;
  if (req.contains("pvid")) {
    if (!vid_ok(req["pvid"], true)) return fail("pvid must be 0..4094 (0: no native VLAN)");
    r.pvid = req["pvid"].get<uint16_t>();
  }
  if (req.contains("tagged")) {
    if (!req["tagged"].is_array()) return fail("tagged must be a list");
    for (const auto& v : req["tagged"]) {
      if (!vid_ok(v, false)) return fail("tagged VLAN ids must be 1..4094");
      r.tagged.push_back(v.get<uint16_t>());
    }
  }
  if (!req.contains("pvid") && !req.contains("tagged"))
    return fail(cmd + " needs pvid and/or tagged");
  return r;
}

bool valid_added_port_name(std::string_view name) {
  if (name.empty() || name.size() > 64 || !std::isalpha(static_cast<unsigned char>(name[0])))
    return false;
  for (char c : name)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-'))
      return false;
  return true;
}

json control_error(const std::string& why, bool denied) {
  json a = {{"ok", false}, {"error", why}};
  if (denied) a["denied"] = true;
  return a;
}

std::string control_line(const json& answer) {
  return answer.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
}

bool ControlLines::append(std::string_view bytes) {
  buf_.append(bytes);
  return buf_.size() - start_ <= kMaxControlLine ||
         buf_.find('\n', start_) != std::string::npos;
}

std::optional<std::string> ControlLines::next() {
  size_t nl = buf_.find('\n', start_);
  if (nl == std::string::npos) {
    buf_.erase(0, start_);
    start_ = 0;
    return std::nullopt;
  }
  std::string line = buf_.substr(start_, nl - start_);
  start_ = nl + 1;
  return line;
}

namespace {

std::string pad(std::string s, size_t w) {
  if (s.size() < w) s.resize(w, ' ');
  return s;
}

std::string table(const std::vector<std::string>& head,
                  const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> w(head.size());
  for (size_t i = 0; i < head.size(); ++i) w[i] = head[i].size();
  for (const auto& r : rows)
    for (size_t i = 0; i < r.size() && i < w.size(); ++i) w[i] = std::max(w[i], r[i].size());
  std::ostringstream o;
  auto line = [&](const std::vector<std::string>& r) {
    std::string l;
    for (size_t i = 0; i < r.size(); ++i) l += (i ? "  " : "") + pad(r[i], i + 1 < r.size() ? w[i] : 0);
    o << l << "\n";
  };
  line(head);
  for (const auto& r : rows) line(r);
  return o.str();
}

// obj[key] when obj is an object that has it, else null: answers are another process's.
const json& field(const json& obj, const char* key) {
  static const json null;
  if (!obj.is_object()) return null;
  auto it = obj.find(key);
  return it == obj.end() ? null : *it;
}

const json& list(const json& obj, const char* key) {
  static const json empty = json::array();
  const json& v = field(obj, key);
  return v.is_array() ? v : empty;
}

// A cell: text escaped, scalars as JSON, nothing nested (its size is the sender's).
std::string str(const json& v) {
  if (v.is_string()) return printable(v.get_ref<const std::string&>());
  if (v.is_null() || v.is_structured()) return "-";
  return v.dump();
}

std::string vlans(const json& p) {
  const json& pvid = field(p, "pvid");
  std::string s = pvid.is_number() && pvid != 0 ? str(pvid) + "U" : "";
  for (const auto& v : list(p, "tagged")) s += (s.empty() ? "" : ",") + str(v) + "T";
  return s.empty() ? "-" : s;
}

}  // namespace

bool answer_ok(const json& a) { return field(a, "ok") == true; }

std::string answer_error(const json& a) {
  std::string e = str(field(a, "error"));
  return e == "-" || e.empty() ? "failed without saying why" : e;
}

bool answer_denied(const json& a) { return field(a, "denied") == true; }

std::string format_control_answer(const std::string& what, const json& a) {
  if (what == "ports") {
    std::vector<std::vector<std::string>> rows;
    for (const auto& p : list(a, "ports")) {
      std::string name = str(field(p, "name"));
      rows.push_back({str(field(p, "id")), name.empty() ? "-" : name, str(field(p, "kind")),
                      vlans(p), str(field(p, "rx_frames")), str(field(p, "tx_frames")),
                      str(field(p, "drops")), str(field(p, "macs")), str(field(p, "peer"))});
    }
    return table({"PORT", "NAME", "KIND", "VLANS", "RX", "TX", "DROPS", "MACS", "PEER"}, rows);
  }
  if (what == "fdb") {
    std::vector<std::vector<std::string>> rows;
    for (const auto& e : list(a, "fdb"))
      rows.push_back({str(field(e, "vlan")), str(field(e, "mac")), str(field(e, "port")),
                      str(field(e, "age_s"))});
    return table({"VLAN", "MAC", "PORT", "AGE(s)"}, rows);
  }
  std::ostringstream o;
  const json& stats = field(a, "stats");
  if (stats.is_object())
    for (const auto& [k, v] : stats.items())
      if (!v.is_array()) o << pad(printable(k), 18) << " " << str(v) << "\n";
  return o.str();
}

}  // namespace vnet::sw
