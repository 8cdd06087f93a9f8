// kernel tier (inside `vnet vm-run`: the host kernel has no bridge VLAN filtering): an
// nspawn container whose NIC is an access port of VLAN 40 on a VLAN-filtering bridge
// reaches a namespace on VLAN 40 and not one on VLAN 10 (same subnet, so only the VLANs
// keep them apart), pinging from inside the container.
#include "tests/nspawn/fixture.h"

namespace vnet::testing {
namespace {

class NspawnKernel : public NspawnFixture {
 protected:
  void SetUp() override {
    NspawnFixture::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    if (run({"ip", "-n", target(), "link", "add", "name", "vnprobe0", "type", "bridge",
             "vlan_filtering", "1"}).exit_code != 0)
      GTEST_SKIP() << "this kernel has no bridge VLAN filtering: run under `vnet vm-run` "
                      "(ctest -L kernel does)";
    run({"ip", "-n", target(), "link", "del", "vnprobe0"});
  }
};

TEST_F(NspawnKernel, ContainerOnVlan40ReachesVlan40AndNotVlan10) {
  std::string g = id_ + "g";
  auto veth = [&](const std::string& name, const std::string& ns, int vlan,
                  const std::string& addr) {
    return "[veths." + name + "]\npeer = \"eth0\"\nbridge = \"br0\"\npvid = " +
           std::to_string(vlan) + "\npeer_netns = \"" + ns + "\"\npeer_addresses = [\"" +
           addr + "\"]\n";
  };
  write_text(file(),
             "[host]\nname = \"" + id_ + "\"\n[bridges.br0]\nvlan_filtering = true\n" +
                 veth("v40" + id_, id_ + "v40", 40, "10.40.0.3/24") +
                 veth("v10" + id_, id_ + "v10", 10, "10.40.0.4/24") +
                 "[guests." + g + "]\nkind = \"nspawn\"\ndirectory = \"" + root() + "\"\n"
                 "command = [\"/bin/sh\", \"-c\", \"trap 'exit 0' TERM; "
                 "ping -c 2 -W 3 10.40.0.3 >/dev/null; echo R40=$?; "
                 "ping -c 2 -W 2 10.40.0.4 >/dev/null; echo R10=$?; "
                 "while :; do sleep 1 & wait $!; done\"]\n"
                 "[[guests." + g + ".nics]]\nbridge = \"br0\"\nvlan = 40\n"
                 "addresses = [\"10.40.0.2/24\"]\n");
  auto r = guest({"start", g});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  // The host side is an access port of VLAN 40 only.
  auto vl = run({"bridge", "-n", target(), "vlan", "show", "dev", "vb-" + g});
  EXPECT_NE(vl.out.find("40 PVID Egress Untagged"), std::string::npos) << vl.out;
  EXPECT_EQ(vl.out.find(" 1 PVID"), std::string::npos) << vl.out;
  ASSERT_TRUE(eventually([&] { return console(g).find("R10=") != std::string::npos; }, 60))
      << console(g);
  EXPECT_NE(console(g).find("R40=0"), std::string::npos) << console(g);
  EXPECT_NE(console(g).find("R10=1"), std::string::npos) << console(g);

  auto s = guest({"stop", g});
  ASSERT_EQ(s.exit_code, 0) << s.out << s.err;
  EXPECT_FALSE(link_exists(target(), "vb-" + g));
  EXPECT_FALSE(netns_exists("vnet-" + g));
  EXPECT_TRUE(link_exists(target(), "v40" + id_));
}

// issue 17 item 3: Debian's LXC starts a container from `vnet render lxc` output; its
// NIC is an access port of VLAN 40 (lxc.net.0.veth.vlan.id) and it reaches the VLAN-40
// namespace and not the VLAN-10 one on the same subnet.
TEST_F(NspawnKernel, LxcFromRenderedConfigOnVlan40ReachesVlan40Only) {
  if (run({"sh", "-c", "command -v lxc-start"}).exit_code != 0)
    GTEST_SKIP() << "lxc-start is not installed (Debian package lxc)";
  std::string g = id_ + "x";
  auto veth = [&](const std::string& name, const std::string& ns, int vlan,
                  const std::string& addr) {
    return "[veths." + name + "]\npeer = \"eth0\"\nbridge = \"br0\"\npvid = " +
           std::to_string(vlan) + "\npeer_netns = \"" + ns + "\"\npeer_addresses = [\"" +
           addr + "\"]\n";
  };
  // default_pvid stays 1: LXC's VLAN keys need it (lxc/lxc#4350).
  write_text(file(), "[host]\nname = \"" + id_ + "\"\n[bridges.br0]\nvlan_filtering = true\n" +
                         veth("v40" + id_, id_ + "v40", 40, "10.41.0.3/24") +
                         veth("v10" + id_, id_ + "v10", 10, "10.41.0.4/24") +
                         "[guests." + g + "]\nkind = \"nspawn\"\ndirectory = \"" + root() +
                         "\"\ncommand = [\"/bin/probe.sh\"]\n[[guests." + g + ".nics]]\n"
                         "bridge = \"br0\"\nvlan = 40\naddresses = [\"10.41.0.2/24\"]\n");
  write_text(root() + "/etc/probe-targets", "10.41.0.3 10.41.0.4\n");
  // The bridge and the namespaces from vnet; the container's veth from LXC.
  auto a = run({"env", "VNET_RUN_DIR=" + (dir_ / "run").string(), VNET_BINARY, "--netns",
                target(), "apply", file()});
  ASSERT_EQ(a.exit_code, 0) << a.out << a.err;
  run({"ip", "-n", target(), "link", "del", "vb-" + g});  // apply made it: LXC makes its own
  std::string console = lxc_run(g);
  EXPECT_NE(console.find("REACH 10.41.0.3"), std::string::npos) << console;
  EXPECT_EQ(console.find("NOREACH 10.41.0.3"), std::string::npos) << console;
  EXPECT_NE(console.find("NOREACH 10.41.0.4"), std::string::npos) << console;
}

// scenarios/villa-nspawn.toml with its directories in this test's folder: the runner
// starts the three containers after the links, every check passes (VLAN 40 services
// reach each other and the router, the stray box on VLAN 10 reaches nothing), and
// nothing of the run is left: no namespace, no systemd-nspawn.
TEST_F(NspawnKernel, VillaScenarioWithNspawnServicesPasses) {
  std::string text = slurp(std::string(VNET_SOURCE_DIR) + "/scenarios/villa-nspawn.toml");
  ASSERT_FALSE(text.empty());
  for (const char* svc : {"dns", "web", "db"}) {
    std::string dir = (dir_ / (std::string("villa-") + svc)).string();
    ASSERT_EQ(build_rootfs(dir), "");
    std::string from = std::string("/var/lib/machines/villa-") + svc;
    size_t at = text.find(from);
    ASSERT_NE(at, std::string::npos) << from;
    text.replace(at, from.size(), dir);
  }
  write_text(file(), text);
  auto r = run({VNET_BINARY, "scenario", "run", file()});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("8 passed, 0 failed"), std::string::npos) << r.out << r.err;
  EXPECT_EQ(run({"sh", "-c", "ls /run/netns | grep -q '^vsc-'"}).exit_code, 1)
      << run({"ls", "/run/netns"}).out;
  EXPECT_EQ(run({"sh", "-c", "ps -eo stat=,args= | grep -v '^Z' | grep -q '[s]ystemd-nspawn'"}).exit_code, 1)
      << run({"ps", "-ef"}).out;
}

}  // namespace
}  // namespace vnet::testing
