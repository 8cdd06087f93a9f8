// kernel tier (inside `vnet vm-run`): the round trip of issue 19. For each real-shaped
// Proxmox interfaces file (one NIC; a bond under a VLAN-aware vmbr0 with a second bridge;
// per-port access and trunk VLANs with an IPv6 vlan-raw-device VLAN), ifupdown2 (Debian's package, `ifup -a -i FILE`, facts.md)
// builds namespace A; `vnet apply` of `vnet import ifupdown FILE` builds namespace B. The
// NICs are stand-ins: a veth per [links] entry in each namespace, its other end up in an
// upstream namespace. Both are then compared with the networkd proof's comparison
// (tests/networkd/proof.h) and must be equal, apart from what `vnet import` warns
// about and says here:
//   - bridge-fd 0: ifupdown2 sets forward_delay 0, vnet leaves the kernel's 1500
//     (warned: with STP off it has no effect), so forward_delay is not compared;
//   - a `gateway`: ifupdown2 adds the default route `proto kernel onlink`, vnet its own
//     (protocol 0x76, no onlink): the route's protocol and flags are not compared.
// The same imported file also goes through `render networkd` and `import networkd`, and
// `vnet apply` of that second import in namespace C must build what B has, exactly.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <regex>

#include <gtest/gtest.h>

#include "tests/networkd/proof.h"
#include "tests/common/process.h"
#include "topology/load.h"

namespace vnet::import {
namespace {

namespace fs = std::filesystem;
using vnet::testing::RunResult;
using vnet::testing::sh;

// What the header says is not compared, removed from `state` text.
std::string comparable(std::string s) {
  s = std::regex_replace(s, std::regex(R"("forward_delay":[0-9]+,?)"), "");
  s = std::regex_replace(s, std::regex(R"("protocol":"[a-z0-9]+",?)"), "");
  s = std::regex_replace(s, std::regex(R"("flags":\["onlink"\],?)"), "");
  s = std::regex_replace(s, std::regex(R"("flags":\[\],?)"), "");
  return s;
}

class Ifupdown2RoundTrip : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root: runs inside `vnet vm-run` (tier kernel)";
    if (sh("ip link add name vnprobe0 type bridge vlan_filtering 1 && ip link del vnprobe0").exit_code != 0)
      GTEST_SKIP() << "this kernel has no bridge VLAN filtering: run under `vnet vm-run`";
    if (sh("command -v ifup && test -d /usr/share/ifupdown2").exit_code != 0)
      GTEST_SKIP() << "ifupdown2 is not installed (Debian package ifupdown2)";
    dir_ = fs::temp_directory_path() / ("vnet-ifupdown2-" + std::to_string(getpid()));
    fs::create_directories(dir_ / "run");
  }
  void TearDown() override {
    for (const char* ns : {"ia", "ib", "ic", "iup"}) sh(std::string("ip netns del ") + ns + " 2>/dev/null");
    if (!dir_.empty()) fs::remove_all(dir_);
  }
  fs::path dir_;
};

TEST_P(Ifupdown2RoundTrip, IfupdownAndVnetApplyOfTheImportBuildTheSame) {
  const std::string file = std::string(VNET_SOURCE_DIR) + "/tests/import/cases/" + GetParam() + ".interfaces";
  const std::string vnet = VNET_BINARY;
  const std::string toml = (dir_ / "imported.toml").string();
  RunResult imp = sh(vnet + " import ifupdown " + file + " --host rt > " + toml);
  ASSERT_EQ(imp.exit_code, 0) << imp.err;
  auto t = topology::load_file(toml);
  ASSERT_TRUE(t);

  for (const char* ns : {"ia", "ib", "ic", "iup"}) ASSERT_EQ(sh(std::string("ip netns add ") + ns).exit_code, 0);
  // ifupdown2 brings lo up where the file says `auto lo`; vnet leaves lo alone
  std::ifstream in(file);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (std::regex_search(text, std::regex(R"((^|\n)auto lo[ \t]*(\n|$))")))
    sh("ip -n ib link set lo up && ip -n ic link set lo up");
  int n = 0;
  for (const auto& l : t->links)
    for (const char* side : {"ia", "ib", "ic"}) {
      std::string peer = "u" + std::to_string(n++);
      ASSERT_EQ(sh("ip -n " + std::string(side) + " link add name " + l.name + " type veth peer name " +
                   peer + " netns iup && ip -n iup link set " + peer + " up && ip -n " + side +
                   " link set " + l.name + " up").exit_code, 0);
    }
  // ifupdown2 keeps its state under /var/tmp/network: a tmpfs there, in this mount
  // namespace only (the root is read-only under vm-run)
  RunResult up = sh("ip netns exec ia sh -c 'mount -t tmpfs tmpfs /var/tmp && mkdir -p /run/network && "
                    "ifup -a -i " + file + "' 2>&1");
  ASSERT_EQ(up.exit_code, 0) << up.out;
  RunResult applied = sh("VNET_RUN_DIR=" + (dir_ / "run").string() + " " + vnet + " apply " + toml + " --netns ib");
  ASSERT_EQ(applied.exit_code, 0) << applied.out << applied.err;

  std::set<std::string> macs = networkd::proof::declared_macs(*t);
  std::string a = comparable(networkd::proof::state("ia", macs)), b = comparable(networkd::proof::state("ib", macs));
  EXPECT_TRUE(a == b) << "ifupdown2 output: " << up.out << "\ndifferences (ifupdown2 | vnet apply; \"only networkd\" = only ifupdown2):\n"
                  << networkd::proof::differences(a, b);

  // networkd round trip: render, import back, apply in C; equal to B with nothing left out
  const std::string back = (dir_ / "back.toml").string();
  RunResult rt = sh(vnet + " render networkd " + toml + " -o " + (dir_ / "nd").string() + " && " + vnet +
                    " import networkd " + (dir_ / "nd").string() + " --host rt > " + back);
  ASSERT_EQ(rt.exit_code, 0) << rt.err;
  RunResult applied_c = sh("VNET_RUN_DIR=" + (dir_ / "run").string() + " " + vnet + " apply " + back + " --netns ic");
  ASSERT_EQ(applied_c.exit_code, 0) << applied_c.out << applied_c.err;
  std::string full_b = networkd::proof::state("ib", macs), c = networkd::proof::state("ic", macs);
  EXPECT_TRUE(full_b == c) << "differences (vnet apply of the import | of its networkd round trip; \"only networkd\" = only the first):\n"
                           << networkd::proof::differences(full_b, c);
}

INSTANTIATE_TEST_SUITE_P(Proxmox, Ifupdown2RoundTrip,
                         // each costs 2-4 minutes under TCG (ifupdown2 is Python); all
                         // run in this binary's one vm-run boot
                         ::testing::Values("single-nic", "bond-vlan-aware", "access-pvid"),
                         [](const auto& info) { return vnet::testing::param_name(info.param); });

}  // namespace
}  // namespace vnet::import
