// The networkd proof's harness (proof.h).
#include "tests/networkd/proof.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <functional>
#include <regex>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>
#include <toml++/toml.h>

namespace vnet::networkd::proof {

namespace fs = std::filesystem;
using json = nlohmann::json;
using vnet::testing::RunResult;
using vnet::testing::sh;


bool have_vlan_filtering() {
  return sh("ip link add name vnprobe0 type bridge vlan_filtering 1 && ip link del vnprobe0")
             .exit_code == 0;
}

static json ipj(const std::string& ns, const std::string& args) {
  RunResult r = sh("ip -n " + ns + " -j " + args);
  if (r.exit_code != 0 || r.out.empty()) return json::array();
  return json::parse(r.out, nullptr, false);
}

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

static void erase(json& j, std::initializer_list<const char*> keys) {
  if (!j.is_object()) return;
  for (const char* k : keys) j.erase(k);
}

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

std::string differences(const std::string& a, const std::string& b) {
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
      out += (ma.count(k) ? "only networkd: " : "only vnet apply: ") + k + " " +
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

Run::Run(std::string file, std::string vnet_binary, topology::Topology topology)
    : file_(std::move(file)), vnet_(std::move(vnet_binary)), t_(std::move(topology)) {
  views_ = {""};
  for (const auto& n : t_.netns) views_.push_back(n.name);
  macs_ = declared_macs(t_);
  dir_ = fs::temp_directory_path() / ("vnet-proof-" + std::to_string(getpid()));
  fs::create_directories(dir_);
}

Run::~Run() {
  for (pid_t p : networkds_) {
    kill(p, SIGTERM);
    waitpid(p, nullptr, 0);
  }
  // deleting the namespaces removes everything in them, much faster than a destroy
  for (const std::string& ns : made_) sh("ip netns del " + ns);
  for (const std::string& ns : b_named_) sh("ip netns del " + ns);
  fs::remove_all(dir_);
}

std::string Run::add_ns(const std::string& name) {
  sh("ip netns add " + name + " && ip -n " + name + " link set lo up");
  made_.push_back(name);
  return name;
}

std::string Run::a_of(const std::string& ns) const { return ns.empty() ? a_ : a_ + "-" + ns; }
std::string Run::b_of(const std::string& ns) const { return ns.empty() ? b_ : ns; }

std::string Run::prepare() {
  sh("chmod 0666 /dev/net/tun");
  add_ns(a_);
  add_ns(b_);
  // A scenario file's "upstream" stands for what lies beyond the uplink: as the scenario
  // runner does, each [links] NIC's far end sits there under the NIC's name, and what the
  // file puts there (the router's VLAN interfaces) the harness makes on A's side, since
  // networkd runs on the host, not on the router; on B's side vnet apply makes it.
  for (const auto& n : t_.netns) upstream_ |= n.name == "upstream" && !t_.links.empty();
  std::string up_a = upstream_ ? add_ns(a_of("upstream")) : add_ns("pup");
  std::string up_b = upstream_ ? add_ns("upstream") : up_a;
  int nic = 0;
  for (const auto& l : t_.links) {
    for (const std::string& side : {a_, b_}) {
      std::string far = upstream_ ? l.name : "u" + std::to_string(nic++);
      std::string far_ns = side == a_ ? up_a : up_b;
      RunResult r = sh("ip -n " + side + " link add name " + l.name + " type veth peer name " +
                       far + " netns " + far_ns + " && ip -n " + side + " link set " + l.name +
                       " up && ip -n " + far_ns + " link set " + far + " up");
      if (r.exit_code != 0) return "NIC " + l.name + ": " + r.err;
    }
  }
  for (const auto& n : t_.netns)
    if (!(upstream_ && n.name == "upstream")) add_ns(a_of(n.name));
  for (const auto& v : t_.veths) {
    if (v.netns == v.peer_netns) continue;
    RunResult r = sh("ip -n " + a_of(v.netns) + " link add name " + v.name + " type veth peer name " +
                     v.peer + " netns " + a_of(v.peer_netns));
    if (r.exit_code != 0) return "veth " + v.name + ": " + r.err;
  }
  if (upstream_) {
    if (std::string e = make_upstream(up_a); !e.empty()) return e;
  }
  for (const auto& n : t_.netns) b_named_.push_back(n.name);
  return "";
}

std::string Run::make_upstream(const std::string& ns) {
  auto there = [](const topology::LinkCommon& l) { return l.netns == "upstream"; };
  for (const auto& b : t_.bridges)
    if (there(b)) return "upstream: the harness makes only vlans there, not bridge " + b.name;
  for (const auto& v : t_.veths)
    if (there(v) || v.peer_netns == "upstream")
      return "upstream: the harness makes only vlans there, not veth " + v.name;
  for (const auto& tp : t_.taps)
    if (there(tp)) return "upstream: the harness makes only vlans there, not tap " + tp.name;
  for (const auto& k : t_.kind_links) {
    if (!there(k)) continue;
    const topology::AttrValue* id = k.attr("id");
    if (std::string(k.desc->info_kind) != "vlan" || !id)
      return std::string("upstream: the harness makes only vlans there, not ") + k.desc->word + " " + k.name;
    std::string cmd = "ip -n " + ns + " link add link " + k.lower() + " name " + k.name +
                      " type vlan id " + std::to_string(id->number);
    for (const auto& a : k.addresses) cmd += " && ip -n " + ns + " addr add " + a.str() + " dev " + k.name;
    cmd += " && ip -n " + ns + " link set " + k.name + " up";
    RunResult r = sh(cmd);
    if (r.exit_code != 0) return "upstream " + k.name + ": " + r.err;
  }
  return "";
}

// networkd in namespace `ns` on the files in `files`; its own /run/systemd (state)
// and /sys read-only so it does not wait for udev (facts.md).
static pid_t spawn_networkd(const std::string& ns, const fs::path& files, const fs::path& log) {
  pid_t pid = fork();
  if (pid == 0) {
    int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, 1);
    dup2(fd, 2);
    std::string script =
        "mkdir -p /run/systemd && mount -t tmpfs tmpfs /run/systemd && mkdir -p "
        "/run/systemd/netif && chown systemd-network:systemd-network /run/systemd/netif && "
        "mount --bind " + files.string() + " /etc/systemd/network && mount -o remount,ro /sys "
        "&& SYSTEMD_LOG_LEVEL=info exec /lib/systemd/systemd-networkd";
    execlp("ip", "ip", "netns", "exec", ns.c_str(), "sh", "-c", script.c_str(), nullptr);
    _exit(127);
  }
  return pid;
}

static std::string view_dir(const std::string& view) { return view.empty() ? "host" : view; }

std::string Run::start_networkd() {
  static const std::regex note("note: bridge (\\S+): DefaultPVID=none rather than ([0-9]+)");
  for (const std::string& view : views_) {
    if (upstream_ && view == "upstream") continue;  // the harness's (prepare)
    fs::path d = dir_ / view_dir(view);
    RunResult r = sh(vnet_ + " render networkd " + file_ + " -o " + d.string() +
                     (view.empty() ? "" : " --netns " + view) + " 2>&1");
    if (r.exit_code != 0) return "render: " + r.out;
    for (std::sregex_iterator m(r.out.begin(), r.out.end(), note), end; m != end; ++m)
      zero_pvid_[view][(*m)[1]] = std::stoi((*m)[2]);
    for (const auto& e : fs::directory_iterator(d)) {
      std::string name = e.path().filename().string();
      if (name.rfind("vnet-netns-", 0) != 0) continue;
      // the scenario's router: the harness makes what the file puts there (prepare)
      if (upstream_ && name == "vnet-netns-upstream.toml") continue;
      parts_.push_back({view, e.path()});
    }
  }
  std::sort(parts_.begin(), parts_.end());
  for (const std::string& view : views_)
    if (!(upstream_ && view == "upstream"))
      networkds_.push_back(spawn_networkd(a_of(view), dir_ / view_dir(view), dir_ / ("log-" + view_dir(view))));
  return "";
}

std::string Run::apply_parts(std::chrono::milliseconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  for (const auto& [view, path] : parts_) {
    toml::table part;
    try {
      part = toml::parse_file(path.string());
    } catch (const toml::parse_error& e) {
      return path.string() + ": " + std::string(e.description());
    }
    for (auto&& [table, objects] : part) {
      if (!objects.is_table() || table == "host" || table == "links") continue;
      for (auto&& [name, decl] : *objects.as_table())
        if (auto* ns = decl.as_table() ? decl.as_table()->get_as<std::string>("netns") : nullptr)
          *ns = a_of(ns->get());
    }
    fs::path mapped = dir_ / ("a-" + path.filename().string());
    std::ofstream(mapped) << part << "\n";
    for (;;) {
      RunResult r = sh(vnet_ + " apply " + mapped.string() + " --netns " + a_of(view));
      if (r.exit_code == 0) break;
      if (std::chrono::steady_clock::now() > deadline)
        return path.filename().string() + ": " + r.out + r.err;
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
  }
  return "";
}

RunResult Run::apply() { return sh(vnet_ + " apply " + file_ + " --netns " + b_); }

std::string Run::a_state(const std::string& view) const { return state(a_of(view), macs_); }

std::string Run::b_state(const std::string& view) const {
  auto zp = zero_pvid_.find(view);
  return state(b_of(view), macs_, zp == zero_pvid_.end() ? std::map<std::string, int>{} : zp->second);
}

std::vector<Run::View> Run::states() const {
  std::vector<View> out;
  for (const std::string& view : views_) out.push_back({view, a_state(view), b_state(view)});
  return out;
}

bool Run::wait_equal(std::chrono::milliseconds limit, std::chrono::milliseconds poll) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  std::map<std::string, std::string> b;
  for (const std::string& view : views_) b[view] = b_state(view);
  for (;;) {
    bool same = true;
    for (const std::string& view : views_) same = same && a_state(view) == b[view];
    if (same) return true;
    if (std::chrono::steady_clock::now() + poll > deadline) return false;
    std::this_thread::sleep_for(poll);
  }
}

std::vector<std::string> Run::log_problems() {
  for (pid_t p : networkds_) {
    kill(p, SIGTERM);
    waitpid(p, nullptr, 0);
  }
  networkds_.clear();
  static const std::regex bad("Unknown key|ignoring|Failed");
  std::vector<std::string> out;
  for (const std::string& view : views_) {
    std::ifstream in(dir_ / ("log-" + view_dir(view)));
    for (std::string line; std::getline(in, line);)
      if (std::regex_search(line, bad)) out.push_back(view_dir(view) + ": " + line);
  }
  return out;
}

}  // namespace vnet::networkd::proof
