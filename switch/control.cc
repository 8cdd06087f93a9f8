#include "switch/control.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <sstream>

#include "switch/daemon.h"
#include "switch/sockets.h"

namespace vnet::sw {

using nlohmann::json;

json handle_control_request(Daemon& d, const std::string& line) {
  json req = json::parse(line, nullptr, false);
  if (req.is_discarded() || !req.is_object() || !req.contains("cmd") || !req["cmd"].is_string())
    return {{"ok", false}, {"error", "expected a JSON object with \"cmd\""}};
  std::string cmd = req["cmd"];
  if (cmd == "ports") return {{"ok", true}, {"ports", d.ports_json()}};
  if (cmd == "fdb") return {{"ok", true}, {"fdb", d.fdb_json()}};
  if (cmd == "stats") return {{"ok", true}, {"stats", d.stats_json()}};
  if (cmd == "set-port-vlan") {
    if (!req.contains("port") || !(req["port"].is_string() || req["port"].is_number_unsigned()))
      return {{"ok", false}, {"error", "set-port-vlan needs \"port\" (name or number)"}};
    std::string port = req["port"].is_string() ? req["port"].get<std::string>()
                                               : std::to_string(req["port"].get<unsigned>());
    uint16_t pvid = 0;
    std::vector<uint16_t> tagged;
    auto vid_ok = [](const json& v, bool zero_ok) {
      return v.is_number_unsigned() && v.get<unsigned>() <= 4094 &&
             (zero_ok || v.get<unsigned>() >= 1);
    };
    if (req.contains("pvid")) {
      if (!vid_ok(req["pvid"], true))
        return {{"ok", false}, {"error", "pvid must be 0..4094 (0: no native VLAN)"}};
      pvid = req["pvid"].get<uint16_t>();
    }
    if (req.contains("tagged")) {
      if (!req["tagged"].is_array()) return {{"ok", false}, {"error", "tagged must be a list"}};
      for (const auto& v : req["tagged"]) {
        if (!vid_ok(v, false))
          return {{"ok", false}, {"error", "tagged VLAN ids must be 1..4094"}};
        tagged.push_back(v.get<uint16_t>());
      }
    }
    if (!req.contains("pvid") && !req.contains("tagged"))
      return {{"ok", false}, {"error", "set-port-vlan needs pvid and/or tagged"}};
    if (auto s = d.set_port_vlan(port, VlanPolicy::trunk(tagged, pvid)); !s)
      return {{"ok", false}, {"error", s.error().str()}};
    return {{"ok", true}};
  }
  return {{"ok", false},
          {"error", "unknown cmd '" + cmd + "' (known: ports, fdb, stats, set-port-vlan)"}};
}

Result<json> control_call(const std::string& control_path, const json& req) {
  auto sa = unix_addr(control_path);
  if (!sa) return tl::unexpected(sa.error());
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return fail_errno("socket");
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&*sa), sizeof *sa) < 0)
    return fail_errno("connect " + control_path + " (is the switch running?)");
  std::string out = req.dump() + "\n";
  if (::write(fd.get(), out.data(), out.size()) != ssize_t(out.size()))
    return fail_errno("write " + control_path);
  std::string in;
  char buf[65536];
  while (in.find('\n') == std::string::npos) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return fail("the switch closed the control connection without answering");
    in.append(buf, size_t(n));
  }
  json ans = json::parse(in.substr(0, in.find('\n')), nullptr, false);
  if (ans.is_discarded()) return fail("the switch's answer is not JSON");
  return ans;
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

std::string str(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_null()) return "-";
  return v.dump();
}

std::string vlans(const json& p) {
  std::string s = p.value("pvid", 0) ? std::to_string(p.value("pvid", 0)) + "U" : "";
  const json tagged = p.contains("tagged") ? p["tagged"] : json::array();
  for (const auto& v : tagged)
    s += (s.empty() ? "" : ",") + std::to_string(v.get<int>()) + "T";
  return s.empty() ? "-" : s;
}

}  // namespace

std::string format_control_answer(const std::string& what, const json& a) {
  if (what == "ports") {
    std::vector<std::vector<std::string>> rows;
    const json ports = a.contains("ports") ? a["ports"] : json::array();
    for (const auto& p : ports)
      rows.push_back({str(p["id"]), p.value("name", "").empty() ? "-" : str(p["name"]),
                      str(p["kind"]), vlans(p), str(p["rx_frames"]), str(p["tx_frames"]),
                      str(p["drops"]), str(p["macs"]), str(p["peer"])});
    return table({"PORT", "NAME", "KIND", "VLANS", "RX", "TX", "DROPS", "MACS", "PEER"}, rows);
  }
  if (what == "fdb") {
    std::vector<std::vector<std::string>> rows;
    const json fdb = a.contains("fdb") ? a["fdb"] : json::array();
    for (const auto& e : fdb)
      rows.push_back({str(e["vlan"]), str(e["mac"]), str(e["port"]), str(e["age_s"])});
    return table({"VLAN", "MAC", "PORT", "AGE(s)"}, rows);
  }
  std::ostringstream o;
  const json stats = a.contains("stats") ? a["stats"] : json::object();
  for (const auto& [k, v] : stats.items())
    if (!v.is_array()) o << pad(k, 18) << " " << str(v) << "\n";
  return o.str();
}

}  // namespace vnet::sw
