// kernel tier (inside `vnet vm-run`): the proof of issue 16. For a topology, namespace
// set A gets the real systemd-networkd (one per namespace, facts.md) on the files
// `vnet render networkd` writes; namespace set B gets `vnet apply`. Then both are dumped
// with `ip -j -d link`, `ip -j addr`, `ip -j route`, `bridge -j vlan show` and must be
// equal after normalizing only what must differ:
//   - ifindexes, and what is made of them: peer indexes, bridge port numbers/ids
//   - MACs nobody declared (and the bridge ids made of them)
//   - link-local (fe80::/10) addresses and their routes
//   - vnet's ownership marks: the link alias "vnet:HOST" and the route protocol 0x76,
//     networkd's counterpart being proto static (docs/networkd.md says why render does
//     not copy vnet's mark)
//   - bridge timers, which run; a bond member's LACP run-time state; offload limits
//     a stacked link copies from its lower link when created
// Also networkd's log at info level must have no "Unknown key", "ignoring" or "Failed".
//
// What networkd does not do, the test does, as the host would: a NIC for each [links]
// entry (a veth whose other end sits in an upstream namespace, up); the namespaces
// with lo up and, for a veth between namespaces, the pair (vnet apply or the container
// manager makes it; docs/networkd.md); /dev/net/tun mode 0666 (udev's, which does not
// run in the test kernel).
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/common/kernel_state.h"
#include "tests/common/process.h"
#include "topology/load.h"

namespace vnet::networkd {
namespace {

namespace fs = std::filesystem;
using vnet::testing::declared_macs;
using vnet::testing::differences;
using vnet::testing::state;
using json = nlohmann::json;
using vnet::testing::RunResult;

RunResult sh(const std::string& script) { return vnet::testing::sh(script); }

bool have_vlan_filtering() {
  return sh("ip link add name vnprobe0 type bridge vlan_filtering 1 && ip link del vnprobe0")
             .exit_code == 0;
}

class NetworkdProof : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root: runs inside `vnet vm-run` (tier kernel)";
    if (!have_vlan_filtering())
      GTEST_SKIP() << "this kernel has no bridge VLAN filtering: run under `vnet vm-run`";
    if (!fs::exists("/lib/systemd/systemd-networkd"))
      GTEST_SKIP() << "/lib/systemd/systemd-networkd missing (Debian package systemd)";
    sh("chmod 0666 /dev/net/tun");
    dir_ = fs::temp_directory_path() / ("vnet-proof-" + std::to_string(getpid()));
    fs::create_directories(dir_);
  }

  void TearDown() override {
    for (pid_t p : networkds_) {
      kill(p, SIGTERM);
      waitpid(p, nullptr, 0);
    }
    // deleting the namespaces removes everything in them, much faster than a destroy
    for (const std::string& ns : made_) sh("ip netns del " + ns);
    for (const std::string& ns : b_named_) sh("ip netns del " + ns);
    if (!dir_.empty()) fs::remove_all(dir_);
  }

  std::string add_ns(const std::string& name) {
    sh("ip netns add " + name + " && ip -n " + name + " link set lo up");
    made_.push_back(name);
    return name;
  }

  std::string a_of(const std::string& ns) const { return ns.empty() ? a_ : a_ + "-" + ns; }

  // networkd in namespace `ns` on the files in `files`; its own /run/systemd (state)
  // and /sys read-only so it does not wait for udev (facts.md).
  void start_networkd(const std::string& ns, const fs::path& files, const fs::path& log) {
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
    networkds_.push_back(pid);
  }

  fs::path dir_;
  std::string a_ = "pa", b_ = "pb";
  std::vector<std::string> made_, b_named_;
  std::vector<pid_t> networkds_;
};

TEST_P(NetworkdProof, NetworkdOnRenderedFilesBuildsWhatApplyBuilds) {
  const std::string rel = GetParam();
  const std::string file = std::string(VNET_SOURCE_DIR) + "/" + rel;
  auto loaded = topology::load_file(file);
  ASSERT_TRUE(loaded) << rel;
  const topology::Topology& t = *loaded;
  const std::string vnet = VNET_BINARY;

  std::vector<std::string> views = {""};
  for (const auto& n : t.netns) views.push_back(n.name);

  // A and B, their uplinks, and A's copies of the file's namespaces
  add_ns(a_);
  add_ns(b_);
  std::string up = add_ns("pup");
  int nic = 0;
  for (const auto& l : t.links) {
    for (const std::string& side : {a_, b_}) {
      std::string peer = "u" + std::to_string(nic++);
      sh("ip -n " + side + " link add name " + l.name + " type veth peer name " + peer +
         " netns " + up + " && ip -n " + side + " link set " + l.name + " up && ip -n " + up +
         " link set " + peer + " up");
    }
  }
  for (const auto& n : t.netns) add_ns(a_of(n.name));
  for (const auto& v : t.veths) {
    if (v.netns == v.peer_netns) continue;
    ASSERT_EQ(sh("ip -n " + a_of(v.netns) + " link add name " + v.name + " type veth peer name " +
                 v.peer + " netns " + a_of(v.peer_netns)).exit_code, 0);
  }

  // per namespace: bridge -> the default_pvid vnet gives it where networkd's is none
  std::map<std::string, std::map<std::string, int>> zero_pvid;
  static const std::regex note("note: bridge (\\S+): DefaultPVID=none rather than ([0-9]+)");
  for (const std::string& view : views) {
    fs::path d = dir_ / (view.empty() ? "host" : view);
    RunResult r = sh(vnet + " render networkd " + file + " -o " + d.string() +
                     (view.empty() ? "" : " --netns " + view) + " 2>&1");
    ASSERT_EQ(r.exit_code, 0) << r.out;
    for (std::sregex_iterator m(r.out.begin(), r.out.end(), note), end; m != end; ++m)
      zero_pvid[view][(*m)[1]] = std::stoi((*m)[2]);
    start_networkd(a_of(view), d, dir_ / ("log-" + (view.empty() ? "host" : view)));
  }

  using clock = std::chrono::steady_clock;
  auto secs = [](clock::time_point a) {
    return std::to_string(std::chrono::duration<double>(clock::now() - a).count()).substr(0, 5) + " s";
  };
  auto started = clock::now();
  for (const auto& n : t.netns) b_named_.push_back(n.name);
  RunResult applied = sh(vnet + " apply " + file + " --netns " + b_);
  ASSERT_EQ(applied.exit_code, 0) << applied.out << applied.err;

  std::cerr << rel << ": vnet apply done after " << secs(started) << "\n";
  std::set<std::string> macs = declared_macs(t);
  auto b_of = [&](const std::string& ns) { return ns.empty() ? b_ : ns; };
  // networkd works asynchronously: wait until A matches B, or give up after 45 s (under
  // TCG on a loaded machine it has taken 30)
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(45);
  bool same = false;
  while (!same && std::chrono::steady_clock::now() < deadline) {
    same = true;
    for (const std::string& view : views)
      same &= state(a_of(view), macs) == state(b_of(view), macs, zero_pvid[view]);
    if (!same) std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  std::cerr << rel << ": " << (same ? "equal" : "still different") << " after "
            << secs(started) << "\n";
  for (const std::string& view : views) {
    SCOPED_TRACE(view.empty() ? "target namespace" : "namespace " + view);
    std::string a = state(a_of(view), macs), b = state(b_of(view), macs, zero_pvid[view]);
    EXPECT_EQ(a, b) << "differences (networkd | vnet apply):\n" << differences(a, b);
  }

  for (pid_t p : networkds_) {
    kill(p, SIGTERM);
    waitpid(p, nullptr, 0);
  }
  networkds_.clear();
  static const std::regex bad("Unknown key|ignoring|Failed");
  for (const std::string& view : views) {
    std::ifstream in(dir_ / ("log-" + (view.empty() ? "host" : view)));
    for (std::string line; std::getline(in, line);)
      EXPECT_FALSE(std::regex_search(line, bad)) << "networkd (" << view << "): " << line;
  }
}

// Each topology costs 30-100 s here under TCG (more on a loaded machine): by default the
// shipped example; VNET_PROOF_ALL=1 adds the case covering every kind and the scenarios.
// The every-kind case still shows one known difference (docs/networkd.md, "Known
// differences"): bond members' addr_gen_mode (networkd forces none, vnet apply leaves it).
// scenarios/macvlan.toml and villa.toml are not among them: their [vlans] in "upstream"
// sit on the uplink's far end, which only the scenario runner makes; a plain `vnet apply`
// creates them on the host's eno1 and moves them (macvlan: the kernel refuses a second
// VLAN 10 on eno1), which networkd cannot express (docs/networkd.md).
std::vector<std::string> topologies() {
  std::vector<std::string> v = {"examples/villa.toml"};
  if (std::getenv("VNET_PROOF_ALL"))
    for (const char* s : {"tests/networkd/cases/every-kind.toml", "scenarios/flat.toml", "scenarios/lab3.toml", "scenarios/quickstart.toml"})
      v.push_back(s);
  return v;
}

INSTANTIATE_TEST_SUITE_P(Topologies, NetworkdProof,
                         ::testing::ValuesIn(topologies()),
                         [](const auto& info) { return vnet::testing::param_name(info.param); });

}  // namespace
}  // namespace vnet::networkd
