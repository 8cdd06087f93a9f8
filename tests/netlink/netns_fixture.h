// Root tests on the host kernel, inside throwaway namespaces only. Each test gets a target
// namespace with a unique name and a prefix for the namespaces its file names; the
// destructor removes every namespace with that prefix and the /run/vnet record, also when
// the test failed. `ip -j` is the independent oracle of what the kernel has.
#pragma once

#include <dirent.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cstdio>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "netlink/engine.h"
#include "netlink/netns.h"
#include "netlink/snapshot.h"
#include "topology/load.h"

namespace vnet::testing {

inline std::string sh(const std::string& cmd, int* rc = nullptr) {
  std::string out;
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  if (!p) return out;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
  int st = pclose(p);
  if (rc) *rc = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return out;
}

inline std::vector<std::string> run_netns_names() {
  std::vector<std::string> out;
  DIR* d = opendir(netlink::kNetnsRunDir);
  if (!d) return out;
  while (dirent* e = readdir(d))
    if (e->d_name[0] != '.') out.push_back(e->d_name);
  closedir(d);
  return out;
}

class NetnsTest : public ::testing::Test {
 protected:
  NetnsTest() {
    static std::atomic<int> counter{0};
    id_ = "vnt" + std::to_string(getpid()) + "n" + std::to_string(counter++);
    target_ = id_;
  }
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "netns tier needs root";
    auto st = netlink::create_netns(target_);
    ASSERT_TRUE(st) << st.error().str();
  }
  ~NetnsTest() override {
    for (const std::string& n : run_netns_names())
      if (n.rfind(id_, 0) == 0) (void)netlink::delete_netns(n);
    for (const std::string& host : hosts_)
      unlink(("/run/vnet/netns/" + host + "@" + target_ + "%" + prefix()).c_str());
  }

  std::string prefix() const { return id_ + "-"; }
  std::string kname(const std::string& logical) const {
    return logical.empty() ? target_ : prefix() + logical;
  }
  netlink::EngineOptions opts() const {
    netlink::EngineOptions o;
    o.target_netns = target_;
    o.netns_prefix = prefix();
    return o;
  }
  topology::Topology load(const std::string& toml) {
    auto t = topology::load_string(toml, "test.toml");
    if (!t) {
      ADD_FAILURE() << topology::format_diagnostics(t.error(), toml);
      return {};
    }
    hosts_.insert(t->host_name);
    return *t;
  }
  Result<netlink::ApplyReport> apply(const std::string& toml) { return netlink::apply(load(toml), opts()); }
  Result<netlink::ApplyReport> destroy(const std::string& toml) {
    return netlink::destroy(load(toml), opts());
  }
  std::string ip(const std::string& logical, const std::string& args) {
    return sh("ip -n " + kname(logical) + " " + args);
  }
  nlohmann::json ipj(const std::string& logical, const std::string& args) {
    std::string out = ip(logical, "-j " + args);
    auto j = nlohmann::json::parse(out, nullptr, false);
    if (j.is_discarded()) ADD_FAILURE() << "ip -j " << args << ": " << out;
    return j;
  }
  nlohmann::json link(const std::string& logical, const std::string& name) {
    for (auto& l : ipj(logical, "-d link show"))
      if (l.value("ifname", "") == name) return l;
    return nullptr;
  }
  std::vector<std::string> addrs(const std::string& logical, const std::string& name) {
    std::vector<std::string> out;
    for (auto& l : ipj(logical, "addr show dev " + name))
      for (auto& a : l["addr_info"])
        if (a.value("scope", "") == "global")
          out.push_back(a.value("local", "") + "/" + std::to_string(a.value("prefixlen", 0)));
    return out;
  }
  // `ip -4|-6 route show` lines of a namespace, without the kernel's own routes.
  std::vector<std::string> routes(const std::string& logical, const std::string& family) {
    std::vector<std::string> out;
    std::istringstream in(ip(logical, family + " route show"));
    for (std::string line; std::getline(in, line);)
      if (line.find("proto kernel") == std::string::npos) out.push_back(line);
    return out;
  }
  // The namespaces of this test that exist, by logical name ("" = target).
  std::vector<std::string> namespaces() const {
    std::vector<std::string> out;
    for (const std::string& n : run_netns_names()) {
      if (n == target_) out.push_back("");
      else if (n.rfind(prefix(), 0) == 0) out.push_back(n.substr(prefix().size()));
    }
    std::sort(out.begin(), out.end());
    return out;
  }
  // Object for object, as `ip` sees it: every namespace of the test, every link with its
  // kind, master, mtu, up, alias, mac and global addresses, and default routes.
  std::string state() {
    std::string s;
    for (const std::string& ns : namespaces()) {
      s += "netns " + (ns.empty() ? std::string("(target)") : ns) + "\n";
      std::map<int, std::string> names;
      auto links = ipj(ns, "-d link show");
      for (auto& l : links) names[l.value("ifindex", 0)] = l.value("ifname", "");
      std::vector<std::string> lines;
      for (auto& l : links) {
        std::string name = l.value("ifname", "");
        std::string kind = l.contains("linkinfo") ? l["linkinfo"].value("info_kind", "") : "";
        std::string line = "  " + name + " kind=" + kind + " master=" + l.value("master", "") +
                           " mtu=" + std::to_string(l.value("mtu", 0)) +
                           " up=" + (l["flags"].dump().find("\"UP\"") != std::string::npos ? "1" : "0") +
                           " alias=" + l.value("ifalias", "") + " mac=" + l.value("address", "");
        for (const std::string& a : addrs(ns, name)) line += " " + a;
        lines.push_back(line);
      }
      std::sort(lines.begin(), lines.end());
      for (auto& l : lines) s += l + "\n";
      // every IPv4 route of the main table, and the IPv6 ones the kernel did not make
      s += ip(ns, "route show");
      std::istringstream v6(ip(ns, "-6 route show"));
      for (std::string line; std::getline(v6, line);)
        if (line.find("proto kernel") == std::string::npos) s += line + "\n";
      if (with_vlans_) s += sh("bridge -n " + kname(ns) + " vlan show");
    }
    return s;
  }
  bool with_vlans_ = false;  // state() includes `bridge vlan show` (kernel tier)

  // The same comparison through vnet's own dump reader (not the executor): for loops
  // where running `ip` a dozen times per step is too slow (TCG in the kernel tier).
  std::string lib_state() {
    netlink::RealKernelOptions ko;
    ko.target_netns = target_;
    ko.netns_prefix = prefix();
    netlink::RealKernel k(ko);
    auto snap = netlink::read_snapshot(k, namespaces());
    if (!snap) return "unreadable: " + snap.error().str();
    std::string s;
    for (const auto& [ns, st] : snap->netns) {
      s += "netns " + ns + "\n";
      for (const auto& [idx, l] : st.links) {
        const plan::LinkState* m = st.by_index(l.master);
        s += "  " + l.name + " kind=" + l.kind + " master=" + (m ? m->name : "") +
             " mtu=" + std::to_string(l.mtu) + " up=" + std::to_string(l.up) + " alias=" + l.alias +
             " mac=" + l.mac.str() + " agm=" + std::to_string(l.addr_gen_mode.value_or(9)) + " vlans=";
        for (const auto& v : l.vlans)
          s += std::to_string(v.vid) + (v.pvid ? "P" : "") + (v.untagged ? "U" : "") + ",";
        for (const auto& a : l.addrs)
          if (a.scope != 253) s += " " + a.str();
        s += "\n";
      }
      for (const auto& r : st.routes)
        s += "  route " + (r.dst_len ? r.dst.str() + "/" + std::to_string(r.dst_len) : "default") +
             " via " + r.gateway.str() + " oif " + std::to_string(r.oif) + " metric " +
             std::to_string(r.priority) + " proto " + std::to_string(r.proto) + "\n";
    }
    return s;
  }

  std::string id_, target_;
  std::set<std::string> hosts_;
};

}  // namespace vnet::testing
