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

}  // namespace
}  // namespace vnet::testing
