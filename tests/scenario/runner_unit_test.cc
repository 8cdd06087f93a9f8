// The runner's pure parts: the topology it applies, where checks run, what it prints.
#include <gtest/gtest.h>

#include "qemu/argv.h"
#include "scenario/runner.h"
#include "scenario/test_guest.h"
#include "topology/load.h"

using namespace vnet;
using namespace vnet::scenario;

namespace {

topology::Topology load(const std::string& text) {
  auto t = topology::load_string(text, "s.toml");
  if (!t) {
    ADD_FAILURE() << topology::format_diagnostics(t.error(), text);
    return {};
  }
  return *t;
}

const char* kVilla = R"(
[host]
name = "h"
[scenario]
name = "s"
[bridges.br0]
vlan_filtering = true
[links.eno1]
bridge = "br0"
tagged = [10, 40]
mtu = 9000
[vlans."eno1.40"]
link = "eno1"
id = 40
netns = "upstream"
addresses = ["10.1.40.1/24"]
[veths.vb-web]
peer = "eth0"
bridge = "br0"
pvid = 40
peer_netns = "web"
peer_addresses = ["10.1.40.80/24"]
[[checks]]
from = "web"
tcp = "10.1.40.1:53"
[[checks]]
from = "upstream"
arping = "10.1.40.80"
[[checks]]
from = "host"
ping = "10.1.40.80"
)";

TEST(WithUpstream, TurnsEachLinkIntoAVethIntoUpstream) {
  auto lab = with_upstream(load(kVilla));
  EXPECT_TRUE(lab.links.empty());
  const topology::Veth* eno1 = nullptr;
  for (const auto& v : lab.veths)
    if (v.name == "eno1") eno1 = &v;
  ASSERT_NE(eno1, nullptr);
  EXPECT_EQ(eno1->peer, "eno1");
  EXPECT_EQ(eno1->peer_netns, "upstream");
  EXPECT_EQ(eno1->netns, "");
  ASSERT_TRUE(eno1->port);
  EXPECT_EQ(eno1->port->tagged, (std::vector<uint16_t>{10, 40}));
  EXPECT_EQ(eno1->mtu, 9000u);
  bool upstream = false;
  for (const auto& n : lab.netns) upstream |= n.name == "upstream";
  EXPECT_TRUE(upstream);
}

TEST(WithUpstream, LeavesTopologiesWithoutLinksAlone) {
  auto t = load("[host]\nname = \"h\"\n[bridges.br0]\n");
  auto lab = with_upstream(t);
  EXPECT_TRUE(lab.netns.empty());
  EXPECT_TRUE(lab.veths.empty());
}

TEST(ResolveChecks, MapsNamespacesThroughThePrefix) {
  auto specs = resolve_checks(with_upstream(load(kVilla)), "vsc-1-0-");
  ASSERT_TRUE(specs) << specs.error().str();
  ASSERT_EQ(specs->size(), 3u);
  EXPECT_EQ((*specs)[0].from_netns, "vsc-1-0-web");
  EXPECT_EQ((*specs)[0].listen_netns, "vsc-1-0-upstream");
  EXPECT_EQ((*specs)[1].from_netns, "vsc-1-0-upstream");
  EXPECT_EQ((*specs)[1].arp_ifname, "eno1.40");
  EXPECT_EQ((*specs)[1].arp_source.str(), "10.1.40.1");
  EXPECT_EQ((*specs)[2].from_netns, "vsc-1-0-host");
}

const char* kVms = R"(
[host]
name = "h"
[scenario]
name = "s"
[switches.lab]
[guests.n1]
kind = "qemu"
[[guests.n1.nics]]
switch = "lab"
vlan = 40
addresses = ["10.34.0.1/24", "fd34::1/64"]
gateway = "10.34.0.254"
[[guests.n1.nics]]
user = true
[[guests.n1.nics]]
switch = "lab"
addresses = ["10.35.0.1/24"]
[guests.own]
kind = "qemu"
kernel = "/boot/vmlinuz"
[[checks]]
from = "n1"
ping = "10.34.0.2"
)";

TEST(ResolveChecks, AChecksFromAVmRunsOverItsConsoleNotInANamespace) {
  auto specs = resolve_checks(with_upstream(load(kVms)), "vsc-1-0-");
  ASSERT_TRUE(specs) << specs.error().str();
  ASSERT_EQ(specs->size(), 1u);
  EXPECT_EQ((*specs)[0].from_vm, "n1");
  EXPECT_EQ((*specs)[0].from_netns, "");
}

TEST(TestGuest, OnlyAVmWithoutKernelOrDiskBootsIt) {
  auto t = load(kVms);
  ASSERT_EQ(t.guests.size(), 2u);
  EXPECT_TRUE(boots_test_guest(t.guests[0]));
  EXPECT_FALSE(boots_test_guest(t.guests[1]));
}

TEST(TestGuest, KernelCommandLineCarriesEachAddressedNicByMacAndTheGateway) {
  auto t = load(kVms);
  const topology::Guest& g = t.guests.at(0);
  std::string a = test_guest_append(g);
  EXPECT_NE(a.find("console=ttyS0"), std::string::npos) << a;
  EXPECT_NE(a.find(" vnet.nic=" + qemu::nic_mac(g, 0).str() + ",10.34.0.1/24,fd34::1/64"),
            std::string::npos) << a;
  EXPECT_NE(a.find(" vnet.nic=" + qemu::nic_mac(g, 2).str() + ",10.35.0.1/24"), std::string::npos)
      << a;
  EXPECT_EQ(a.find(qemu::nic_mac(g, 1).str()), std::string::npos) << "the user NIC has no addresses";
  EXPECT_NE(a.find(" vnet.gw=10.34.0.254"), std::string::npos) << a;
}

TEST(ResolveChecks, RefusesArpingWithoutAnAddressInTheSubnet) {
  auto t = load(R"(
[host]
name = "h"
[veths.v]
peer = "eth0"
peer_netns = "a"
peer_addresses = ["10.0.0.1/24"]
[scenario]
name = "s"
[[checks]]
from = "a"
arping = "10.0.1.9"
)");
  auto specs = resolve_checks(t, "p-");
  ASSERT_FALSE(specs);
  EXPECT_EQ(specs.error().what,
            "s.toml:10:1: arping: namespace 'a' has no address in the subnet of 10.0.1.9");
}

ScenarioReport sample_report() {
  ScenarioReport r;
  r.file = "f.toml";
  r.name = "demo";
  topology::Check ok, bad;
  ok.from = "web";
  ok.target = "10.0.0.2";
  bad.from = "mgmt";
  bad.target = "10.0.0.2";
  bad.expect = topology::Check::Expect::kBlocked;
  r.checks.push_back({ok, {true, true, 0.002, "2/2 replies"}});
  r.checks.push_back({bad, {true, false, 0.001, "2/2 replies"}});
  return r;
}

TEST(Report, TableShowsEachCheckAndASummary) {
  std::string table = format_table(sample_report());
  EXPECT_NE(table.find("  ping  web  10.0.0.2 reach   reach 2 ms ok\n"), std::string::npos) << table;
  EXPECT_NE(table.find("  ping  mgmt 10.0.0.2 blocked reach 1 ms FAIL (2/2 replies)\n"),
            std::string::npos)
      << table;
  EXPECT_NE(table.find("demo: 1 passed, 1 failed"), std::string::npos) << table;
}

TEST(Report, JunitCountsFailuresAndEscapes) {
  auto r = sample_report();
  r.checks[1].result.detail = "a <b> & \"c\"";
  std::string xml = junit_xml({r});
  EXPECT_NE(xml.find("<testsuite name=\"demo\" tests=\"2\" failures=\"1\""), std::string::npos) << xml;
  EXPECT_NE(xml.find("<failure message=\"a &lt;b&gt; &amp; &quot;c&quot;\"/>"), std::string::npos)
      << xml;
  EXPECT_EQ(xml.rfind("</testsuites>\n"), xml.size() - 14);
}

}  // namespace
