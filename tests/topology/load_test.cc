// The loader on valid input: what the model holds after parse + expansion.
#include <sys/socket.h>

#include <gtest/gtest.h>

#include "topology/load.h"

using namespace vnet::topology;

namespace {

Topology load_ok(const std::string& text) {
  auto t = load_string(text, "t.toml");
  if (!t) {
    ADD_FAILURE() << format_diagnostics(t.error(), text);
    return {};
  }
  return *t;
}

const std::string kHost = "[host]\nname = \"h1\"\n";

BridgePort port(std::optional<uint16_t> pvid, std::vector<uint16_t> tagged = {}) {
  BridgePort p;
  p.bridge = "br0";
  p.pvid = pvid;
  p.tagged = std::move(tagged);
  return p;
}

TEST(Load, ExpandsQemuNicOnBridgeIntoTap) {
  auto t = load_ok(kHost + R"(
[bridges.br0]
vlan_filtering = true
[guests.dev]
kind = "qemu"
[[guests.dev.nics]]
bridge = "br0"
vlan = 40
[[guests.dev.nics]]
user = true
hostfwd = ["tcp:127.0.0.1:2222-:22"]
)");
  ASSERT_EQ(t.taps.size(), 1u);
  EXPECT_EQ(t.taps[0].name, "vm-dev-0");
  EXPECT_EQ(t.taps[0].derived_from, "dev");
  ASSERT_TRUE(t.taps[0].port);
  EXPECT_EQ(t.taps[0].port->bridge, "br0");
  EXPECT_EQ(t.taps[0].port->pvid, 40);
  EXPECT_EQ(t.taps[0].link_local, LinkLocal::kNone);
  EXPECT_EQ(t.guests[0].nics[0].host_name, "vm-dev-0");
}

TEST(Load, QemuGuestKeepsTheOperatorsDebugKeys) {
  auto t = load_ok(kHost + R"(
[guests.dev]
kind = "qemu"
debug_ssh_keys = ["ssh-ed25519 AAAAC3Nza me@desk", "ecdsa-sha2-nistp256 AAAAE2Vj me@laptop"]
)");
  EXPECT_EQ(t.guests[0].debug_ssh_keys,
            (std::vector<std::string>{"ssh-ed25519 AAAAC3Nza me@desk", "ecdsa-sha2-nistp256 AAAAE2Vj me@laptop"}));
}

TEST(Load, ExpandsNspawnNicsIntoVethsAndNamespace) {
  auto t = load_ok(kHost + R"(
[bridges.br0]
[guests.web]
kind = "nspawn"
directory = "/srv/web"
boot = true
[[guests.web.nics]]
bridge = "br0"
addresses = ["10.1.40.20/24"]
gateway = "10.1.40.1"
[[guests.web.nics]]
bridge = "br0"
name = "lan1"
)");
  ASSERT_EQ(t.veths.size(), 2u);
  EXPECT_EQ(t.veths[0].name, "vb-web");
  EXPECT_EQ(t.veths[0].peer, "host0");
  EXPECT_EQ(t.veths[0].peer_netns, "vnet-web");
  ASSERT_EQ(t.veths[0].peer_addresses.size(), 1u);
  EXPECT_EQ(t.veths[0].peer_addresses[0].str(), "10.1.40.20/24");
  EXPECT_EQ(t.veths[0].peer_gateway->str(), "10.1.40.1");
  EXPECT_EQ(t.veths[1].name, "vb-web-1");
  EXPECT_EQ(t.veths[1].peer, "lan1");
  ASSERT_EQ(t.netns.size(), 1u);
  EXPECT_EQ(t.netns[0].name, "vnet-web");
  EXPECT_FALSE(t.netns[0].declared);
  EXPECT_EQ(t.guests[0].netns, "vnet-web");
}

TEST(Load, ExpandsSwitchNicsIntoSwitchPorts) {
  auto t = load_ok(kHost + R"(
[switches.lab]
[guests.vm1]
kind = "qemu"
[[guests.vm1.nics]]
switch = "lab"
vlan = 40
[guests.ct1]
kind = "nspawn"
directory = "/srv/ct1"
boot = true
[[guests.ct1.nics]]
switch = "lab"
)");
  ASSERT_EQ(t.switches.size(), 1u);
  const auto& ports = t.switches[0].ports;
  ASSERT_EQ(ports.size(), 2u);
  EXPECT_EQ(ports[0].name, "vm-vm1-0");
  EXPECT_EQ(ports[0].kind, SwitchPort::Kind::kStream);
  EXPECT_EQ(ports[0].pvid, 40);
  EXPECT_EQ(ports[1].name, "vb-ct1");
  EXPECT_EQ(ports[1].kind, SwitchPort::Kind::kPacket);
  EXPECT_EQ(ports[1].target, "vb-ct1");
  ASSERT_EQ(t.veths.size(), 1u);
  EXPECT_FALSE(t.veths[0].port);
}

TEST(Load, HostNamespaceMeansTheTarget) {
  auto t = load_ok(kHost + R"(
[bridges.br0]
netns = "host"
[veths.v0]
peer = "eth0"
peer_netns = "host"
)");
  EXPECT_EQ(t.bridges[0].netns, "");
  EXPECT_EQ(t.veths[0].peer_netns, "");
  EXPECT_TRUE(t.netns.empty());
}

TEST(Load, VethPeerDefaultsToTheVethsNamespace) {
  auto t = load_ok(kHost + "[veths.v0]\npeer = \"p0\"\nnetns = \"a\"\n");
  EXPECT_EQ(t.veths[0].peer_netns, "a");
}

TEST(Load, NamespacesAreCreatedOnFirstReference) {
  auto t = load_ok(kHost + R"(
[netns.declared]
[bridges.br0]
netns = "b"
[veths.v0]
peer = "eth0"
peer_netns = "c"
)");
  ASSERT_EQ(t.netns.size(), 3u);
  EXPECT_EQ(t.netns[0].name, "declared");
  EXPECT_TRUE(t.netns[0].declared);
  EXPECT_EQ(t.netns[1].name, "b");
  EXPECT_EQ(t.netns[2].name, "c");
}

TEST(Load, LinkLocalIsOffOnBridgePortsOnlyByDefault) {
  auto t = load_ok(kHost + R"(
[bridges.br0]
[veths.port]
peer = "p0"
bridge = "br0"
[veths.routed]
peer = "p1"
[veths.explicit]
peer = "p2"
bridge = "br0"
link_local = "ipv6"
peer_link_local = "none"
)");
  EXPECT_EQ(t.bridges[0].link_local, LinkLocal::kIpv6);
  EXPECT_EQ(t.veths[0].link_local, LinkLocal::kNone);
  EXPECT_EQ(t.veths[0].peer_link_local, LinkLocal::kIpv6);
  EXPECT_EQ(t.veths[1].link_local, LinkLocal::kIpv6);
  EXPECT_EQ(t.veths[2].link_local, LinkLocal::kIpv6);
  EXPECT_EQ(t.veths[2].peer_link_local, LinkLocal::kNone);
}

TEST(Load, ListsKeepDeclarationOrder) {
  auto t = load_ok(kHost + "[bridges.zz]\n[bridges.aa]\n[bridges.mm]\n");
  ASSERT_EQ(t.bridges.size(), 3u);
  EXPECT_EQ(t.bridges[0].name, "zz");
  EXPECT_EQ(t.bridges[1].name, "aa");
  EXPECT_EQ(t.bridges[2].name, "mm");
}

TEST(Load, KeepsSourcePositionsOfObjects) {
  auto t = load_ok(kHost + "\n[bridges.br0]\nmtu = 9000\n");
  EXPECT_EQ(t.bridges[0].loc.file, "t.toml");
  EXPECT_EQ(t.bridges[0].loc.line, 4u);
  EXPECT_EQ(t.bridges[0].mtu, 9000u);
}

TEST(Load, TapOwnerAcceptsNamesAndIds) {
  // names are resolved on this machine (daemon is uid 1 and gid 1 on Debian)
  auto t = load_ok(kHost + "[taps.t0]\nowner = \"daemon\"\ngroup = 104\n[taps.t1]\nowner = \"1000\"\n"
                           "group = \"daemon\"\n");
  EXPECT_EQ(t.taps[0].owner_name(), "daemon");
  EXPECT_EQ(t.taps[0].owner(), 1u);
  EXPECT_EQ(t.taps[0].group(), 104u);
  EXPECT_EQ(t.taps[1].owner(), 1000u);
  EXPECT_EQ(t.taps[1].group(), 1u);
}

TEST(Load, ReadsRoutesOfLinksAndVethPeers) {
  auto t = load_ok(kHost + R"([bridges.br0]
addresses = ["10.1.10.2/24", "fd00::2/64"]
routes = [{ to = "10.2.0.0/16", via = "10.1.10.1", metric = 100 },
          { to = "fd00:2::/48", via = "fe80::1" }, { to = "10.3.0.0/16" }]
[veths.v0]
peer = "eth0"
peer_netns = "a"
peer_addresses = ["10.8.0.2/24"]
[[veths.v0.peer_routes]]
to = "0.0.0.0/0"
via = "10.8.0.1"
metric = 7
)");
  ASSERT_EQ(t.bridges[0].routes.size(), 3u);
  const Route& r = t.bridges[0].routes[0];
  EXPECT_EQ(r.str(), "10.2.0.0/16 via 10.1.10.1 metric 100");
  EXPECT_EQ(r.loc.str(), "t.toml:5:11");
  EXPECT_EQ(t.bridges[0].routes[1].str(), "fd00:2::/48 via fe80::1");
  EXPECT_EQ(kernel_metric(AF_INET6, t.bridges[0].routes[1].metric), 1024u);
  EXPECT_EQ(t.bridges[0].routes[2].str(), "10.3.0.0/16");
  EXPECT_FALSE(t.bridges[0].routes[2].via);
  ASSERT_EQ(t.veths[0].peer_routes.size(), 1u);
  EXPECT_EQ(t.veths[0].peer_routes[0].str(), "0.0.0.0/0 via 10.8.0.1 metric 7");
}

TEST(Load, UnknownTapOwnerOrGroupIsAnErrorAtItsValue) {
  auto t = load_string(kHost + "[taps.t0]\nowner = \"no-such-user-vnet\"\ngroup = \"no-such-group-vnet\"\n", "t.toml");
  ASSERT_FALSE(t);
  ASSERT_EQ(t.error().size(), 2u);
  EXPECT_EQ(t.error()[0].loc.str(), "t.toml:4:9");
  EXPECT_EQ(t.error()[0].message,
            "user 'no-such-user-vnet' does not exist on this machine; create it, or give a numeric uid");
  EXPECT_EQ(t.error()[1].loc.str(), "t.toml:5:9");
}

TEST(Load, SwitchDefaultsFollowTheDesign) {
  auto t = load_ok(kHost + "[switches.lab]\n[switches.lab.ports.up]\ntap = \"tap-lab\"\npvid = 40\ntagged = [10]\n");
  const Switch& s = t.switches[0];
  EXPECT_EQ(s.socket_mode, 0660u);
  EXPECT_EQ(s.max_ports, 64u);
  EXPECT_EQ(s.fdb_max, 4096u);
  EXPECT_EQ(s.port_mac_max, 256u);
  EXPECT_EQ(s.default_vlan, 1);
  ASSERT_EQ(s.ports.size(), 1u);
  EXPECT_EQ(s.ports[0].kind, SwitchPort::Kind::kTap);
  EXPECT_EQ(s.ports[0].target, "tap-lab");
  EXPECT_EQ(s.ports[0].tagged, std::vector<uint16_t>{10});
}

TEST(Load, ReadsScenarioAndChecks) {
  auto t = load_ok(kHost + R"(
[links.eno1]
[veths.v0]
peer = "eth0"
peer_netns = "web"
peer_addresses = ["fd00::21/64"]
[scenario]
name = "s1"
requires = ["veth"]
[[checks]]
from = "web"
ping = "10.1.40.21"
[[checks]]
from = "upstream"
tcp = "[fd00::21]:22"
expect = "blocked"
count = 1
timeout = 1
)");
  ASSERT_TRUE(t.scenario);
  EXPECT_EQ(t.scenario->name, "s1");
  ASSERT_EQ(t.scenario->checks.size(), 2u);
  EXPECT_EQ(t.scenario->checks[0].kind, Check::Kind::kPing);
  EXPECT_EQ(t.scenario->checks[0].count, 2u);
  EXPECT_EQ(t.scenario->checks[1].kind, Check::Kind::kTcp);
  EXPECT_EQ(t.scenario->checks[1].address.str(), "fd00::21");
  EXPECT_EQ(t.scenario->checks[1].port, 22);
  EXPECT_EQ(t.scenario->checks[1].expect, Check::Expect::kBlocked);
}

TEST(Load, RejectsScenarioKeysWhenNotAllowed) {
  LoadOptions no_scenario;
  no_scenario.allow_scenario = false;
  auto t = load_string(kHost + "[scenario]\nname = \"s\"\n", "t.toml", no_scenario);
  ASSERT_FALSE(t);
  EXPECT_EQ(t.error()[0].message, "unknown table 'scenario' (known: host, netns, bridges, links, "
                                  "veths, taps, dummies, bonds, vlans, macvlans, vxlans, switches, guests)");
}

TEST(Load, ReportsEveryErrorAtOnceInSourceOrder) {
  auto t = load_string(kHost + "[bridges.br0]\nmtu = 1\n[links.e]\nbridge = \"x\"\n[taps.t]\nmac = \"zz\"\n",
                       "t.toml");
  ASSERT_FALSE(t);
  ASSERT_EQ(t.error().size(), 3u);
  EXPECT_LT(t.error()[0].loc.line, t.error()[1].loc.line);
  EXPECT_LT(t.error()[1].loc.line, t.error()[2].loc.line);
}

// Proxmox writes `bridge-vids 2-4094`: ranges are strings, ids integers, in any mix.
TEST(Load, VlanRangesExpandToEveryIdOnce) {
  auto t = load_ok(kHost + "[bridges.br0]\nvlan_filtering = true\nvlans = [\"20-22\"]\n"
                   "[links.eno1]\nbridge = \"br0\"\ntagged = [10, \"100-102\", \"2-4\", 3, \"7-7\"]\n");
  ASSERT_EQ(t.links.size(), 1u);
  EXPECT_EQ(t.links[0].port->tagged, (std::vector<uint16_t>{2, 3, 4, 7, 10, 100, 101, 102}));
  EXPECT_EQ(t.bridges[0].vlans, (std::vector<uint16_t>{20, 21, 22}));
  auto all = load_ok(kHost + "[bridges.br0]\nvlan_filtering = true\n[links.eno1]\nbridge = \"br0\"\n"
                     "tagged = [\"2-4094\"]\n");
  EXPECT_EQ(all.links[0].port->tagged.size(), 4093u);
}

TEST(DesiredVlans, AccessPortIsPvidUntaggedOnly) {
  Bridge b;
  b.set_number("vlan_filtering", 1);
  BridgePort p = port(40);
  EXPECT_EQ(desired_port_vlans(b, p), (std::vector<VlanEntry>{{40, true, true}}));
}

TEST(DesiredVlans, TrunkWithoutPvidHasNoNativeVlan) {
  Bridge b;
  b.set_number("vlan_filtering", 1);
  BridgePort p = port(std::nullopt, {10, 40});
  EXPECT_EQ(desired_port_vlans(b, p),
            (std::vector<VlanEntry>{{10, false, false}, {40, false, false}}));
}

TEST(DesiredVlans, TrunkWithNativeVlan) {
  Bridge b;
  b.set_number("vlan_filtering", 1);
  BridgePort p = port(1, {10, 1040});
  EXPECT_EQ(desired_port_vlans(b, p),
            (std::vector<VlanEntry>{{1, true, true}, {10, false, false}, {1040, false, false}}));
}

TEST(DesiredVlans, PlainPortGetsTheDefaultPvid) {
  Bridge b;
  b.set_number("vlan_filtering", 1);
  b.set_number("default_pvid", 7);
  EXPECT_EQ(desired_port_vlans(b, port(std::nullopt)),
            (std::vector<VlanEntry>{{7, true, true}}));
  b.set_number("default_pvid", 0);
  EXPECT_TRUE(desired_port_vlans(b, port(std::nullopt)).empty());
}

TEST(DesiredVlans, NoneWithoutVlanFiltering) {
  Bridge b;
  EXPECT_TRUE(desired_port_vlans(b, port(40)).empty());
}

TEST(DesiredVlans, SelfVlansIncludeSubInterfaces) {
  auto t = load_ok(kHost + R"(
[bridges.br0]
vlan_filtering = true
vlans = [10]
[vlans."br0.40"]
link = "br0"
id = 40
)");
  EXPECT_EQ(desired_self_vlans(t, t.bridges[0]),
            (std::vector<VlanEntry>{{1, true, true}, {10, false, false}, {40, false, false}}));
}

TEST(DesiredVlans, SubInterfaceOnTheDefaultPvidMakesItTagged) {
  auto t = load_ok(kHost + R"(
[bridges.br0]
vlan_filtering = true
[vlans."br0.1"]
link = "br0"
id = 1
)");
  EXPECT_EQ(desired_self_vlans(t, t.bridges[0]), (std::vector<VlanEntry>{{1, false, false}}));
}

TEST(Diagnostics, CaretStandsUnderTheColumn) {
  std::string text = kHost + "[links.eno1]\n\ttagged = [10, 5000]\n";
  auto t = load_string(text, "f.toml");
  ASSERT_FALSE(t);
  EXPECT_EQ(format_diagnostics(t.error(), text),
            "f.toml:4:11: error: 'tagged' needs 'bridge': VLANs are set on a bridge port\n"
            " 4 | \ttagged = [10, 5000]\n"
            "   | \t         ^\n"
            "f.toml:4:16: error: vlan id 5000 out of range 1..4094\n"
            " 4 | \ttagged = [10, 5000]\n"
            "   | \t              ^\n");
}

}  // namespace

TEST(LoadFile, ADirectoryIsNamedAsSuch) {
  auto t = load_file("/");
  ASSERT_FALSE(t);
  EXPECT_EQ(t.error()[0].message, "cannot read file: is a directory, not a host.toml file");
}

TEST(LoadFile, ReadsAtMostTheBoundFromAnEndlessFile) {
  auto t = load_file("/dev/zero");
  ASSERT_FALSE(t);
  EXPECT_NE(t.error()[0].message.find("larger than 16 MiB"), std::string::npos)
      << t.error()[0].message;
}

TEST(Nesting, StringsAndCommentsDoNotCount) {
  std::string dots;
  for (int i = 0; i < 100; ++i) dots += "a.";
  load_ok(kHost + "# " + dots + "\n[scenario]\nname = \"" + dots + "\"\ndescription = '''\n" + dots +
          "\n[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\n'''\n");
}

TEST(Nesting, CountsEveryWayTomlNestsTogether) {
  // 8 header segments + a 12-segment key + 13 inline tables = 33 levels
  std::string text = kHost + "[a.b.c.d.e.f.g.h]\nk.k.k.k.k.k.k.k.k.k.k.k = ";
  for (int i = 0; i < 13; ++i) text += "{x = ";
  text += "1" + std::string(13, '}') + "\n";
  auto t = load_string(text, "t.toml");
  ASSERT_FALSE(t);
  EXPECT_NE(t.error()[0].message.find("nested more than 32 levels"), std::string::npos);
  EXPECT_EQ(t.error()[0].loc.line, 4u);
}
