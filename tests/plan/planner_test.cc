// Planner unit tests: desired topology + synthetic kernel state -> the exact ordered plan.
// No root, no kernel. Each test reads as want / have / plan.
#include <linux/if_link.h>
#include <sys/socket.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <map>

#include <nlohmann/json.hpp>

#include "plan/format.h"
#include "topology/load.h"
#include "tests/plan/builders.h"

namespace vnet::testing {
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

size_t index_of(const std::vector<std::string>& v, const std::string& s) {
  auto it = std::find(v.begin(), v.end(), s);
  EXPECT_NE(it, v.end()) << "missing: " << s;
  return static_cast<size_t>(it - v.begin());
}

// ---------------------------------------------------------------- creates

TEST(Plan, EmptyTopologyOnEmptyKernelHasNoChanges) {
  World w;
  Plan p = w.plan();
  EXPECT_TRUE(p.empty());
  EXPECT_EQ(plan_text(p), "no changes\n");
}

TEST(Plan, CreatesBridgeMarkedAndUp) {
  World w;
  w.bridge("br0");
  Plan p = w.plan();
  EXPECT_THAT(World::lines(p), ElementsAre("create bridge br0", "set bridge br0 up"));
  EXPECT_EQ(p.ops[0].spec.alias, "vnet:h");
  EXPECT_EQ(p.ops[0].ifindex, 2);  // chosen: above every index in use
  EXPECT_EQ(p.ops[1].ifindex, 2);
}

TEST(Plan, BridgeMtuIsSetAfterCreateSoPortsDoNotResetIt) {
  World w;
  w.bridge("br0").mtu = 1400;
  EXPECT_THAT(World::lines(w.plan()),
              ElementsAre("create bridge br0", "set bridge br0 mtu 1400", "set bridge br0 up"));
}

TEST(Plan, CreatesVlanFilteringBridgeWithSelfVlans) {
  World w;
  Bridge& b = w.bridge("br0");
  b.set_number("vlan_filtering", 1);
  b.vlans = {10, 40};
  EXPECT_THAT(World::lines(w.plan()),
              ElementsAre("create bridge br0 (vlan_filtering, default_pvid 1)",
                          "set self vlans of bridge br0: +10 tagged +40 tagged", "set bridge br0 up"));
}

TEST(Plan, CreatesVethWithPeerInNewNamespace) {
  World w;
  Veth& v = w.veth("vb-a", "eth0", "c1");
  v.peer_addresses = {cidr4(10, 0, 0, 2, 24)};
  v.peer_gateway = ip4(10, 0, 0, 1);
  EXPECT_THAT(World::lines(w.plan()),
              ElementsAre("create netns c1", "create veth vb-a (peer eth0 in netns c1)",
                          "add address 10.0.0.2/24 to veth peer eth0 in netns c1 (of vb-a)",
                          "set veth vb-a up", "set link lo in netns c1 up",
                          "set veth peer eth0 in netns c1 (of vb-a) up",
                          "add default route via 10.0.0.1 dev veth peer eth0 in netns c1 (of vb-a)"));
}

TEST(Plan, PeerNetnsIsTakenAsResolvedEmptyMeaningTheTarget) {
  // The loader resolves an unwritten peer_netns to the veth's own namespace, so "" here
  // is an explicit `peer_netns = "host"`: the peer lives in the target.
  World w;
  Veth& v = w.veth("vb-a", "eth0", "");
  v.netns = "c1";
  auto l = World::lines(w.plan());
  EXPECT_THAT(l[1], HasSubstr("peer eth0)")) << l[1];
  EXPECT_THAT(l[1], Not(HasSubstr("peer eth0 in netns"))) << l[1];
}

TEST(Plan, VethPeerGetsItsOwnChosenIndex) {
  World w;
  w.have("", 7, "eno1", "", false);
  w.veth("vb-a", "eth0", "c1");
  Plan p = w.plan();
  const Op& c = p.ops[1];
  ASSERT_EQ(c.kind, OpKind::kCreateLink);
  EXPECT_EQ(c.ifindex, 8);
  EXPECT_EQ(c.spec.peer_ifindex, 9);
  EXPECT_EQ(c.spec.peer_ns, "c1");
}

TEST(Plan, CreatesTapWithOwnerAndGroup) {
  World w;
  Tap& t = w.tap("tap0");
  t.set_number("owner", 1000);
  t.set_number("group", 107);
  EXPECT_THAT(World::lines(w.plan()),
              ElementsAre("create tap tap0 (owner 1000, group 107, vnet_hdr)", "set tap tap0 up"));
}

TEST(Plan, CreatesVlanOnBridgeAfterTheBridge) {
  World w;
  w.bridge("br0").set_number("vlan_filtering", 1);
  w.vlan("br0.40", "br0", 40).addresses = {cidr4(10, 1, 40, 2, 24)};
  Plan p = w.plan();
  auto l = World::lines(p);
  EXPECT_LT(index_of(l, "create bridge br0 (vlan_filtering, default_pvid 1)"),
            index_of(l, "create vlan br0.40 (id 40)"));
  // the parent is the bridge's planned index; the sub-interface implies self VLAN 40
  EXPECT_EQ(p.ops[1].spec.parent, p.ops[0].ifindex);
  index_of(l, "set self vlans of bridge br0: +40 tagged");
}

TEST(Plan, CreatesMacvlanInItsParentsNamespaceThenMovesIt) {
  World w;
  w.bridge("br0");
  KindLink& m = w.macvlan("mv", "br0");
  m.netns = "web";
  Plan p = w.plan();
  auto it = std::find_if(p.ops.begin(), p.ops.end(),
                         [](const Op& o) { return o.kind == OpKind::kCreateLink && o.spec.kind == "macvlan"; });
  ASSERT_NE(it, p.ops.end());
  EXPECT_EQ(it->ns, "");
  EXPECT_TRUE(it->spec.has_dest);
  EXPECT_EQ(it->spec.dest_ns, "web");
  // its undo deletes it wherever it ended up
  ASSERT_EQ(it->undo.size(), 2u);
  EXPECT_EQ(it->undo[0].ns, "web");
}

TEST(Plan, EnslavesPortsAfterCreatingEverything) {
  World w;
  w.bridge("br0");
  Veth& v = w.veth("vb-a", "eth0");
  World::port(v, "br0");
  v.link_local = LinkLocal::kNone;
  EXPECT_THAT(World::lines(w.plan()),
              ElementsAre("create bridge br0", "create veth vb-a (peer eth0)",
                          "set veth vb-a addrgenmode none", "enslave veth vb-a to br0",
                          "set bridge br0 up", "set veth vb-a up", "set veth peer eth0 (of vb-a) up"));
}

TEST(Plan, AccessPortReplacesDefaultPvid) {
  World w;
  w.bridge("br0").set_number("vlan_filtering", 1);
  World::port(w.veth("vb-a", "eth0"), "br0", 40);
  auto l = World::lines(w.plan());
  index_of(l, "set vlans of veth vb-a: +40 pvid untagged, -1");
}

TEST(Plan, TrunkPortWithoutNativeVlan) {
  World w;
  w.bridge("br0").set_number("vlan_filtering", 1);
  World::port(w.veth("vb-a", "eth0"), "br0", std::nullopt, {10, 40});
  index_of(World::lines(w.plan()), "set vlans of veth vb-a: +10 tagged +40 tagged, -1");
}

TEST(Plan, ARangeOfVlansIsShownAsARange) {
  World w;
  w.bridge("br0").set_number("vlan_filtering", 1);
  std::vector<uint16_t> all;
  for (uint16_t v = 2; v <= 4094; ++v) all.push_back(v);
  World::port(w.veth("vb-a", "eth0"), "br0", 1, all);
  index_of(World::lines(w.plan()), "set vlans of veth vb-a: +2-4094 tagged");
}

TEST(Plan, PortWithNeitherStaysInDefaultPvid) {
  World w;
  w.bridge("br0").set_number("vlan_filtering", 1);
  World::port(w.veth("vb-a", "eth0"), "br0");
  for (const Op& op : w.plan().ops)
    EXPECT_FALSE(op.kind == OpKind::kSetVlans && !op.self) << op.describe();
}

TEST(Plan, NoVlanOpsOnBridgeWithoutFiltering) {
  World w;
  w.bridge("br0");
  World::port(w.tap("t0"), "br0");
  for (const Op& op : w.plan().ops) EXPECT_NE(op.kind, OpKind::kSetVlans);
}

TEST(Plan, AddressBeforeUpBeforeRoute) {
  World w;
  Bridge& b = w.bridge("br0");
  b.addresses = {cidr4(10, 0, 0, 1, 24)};
  b.gateway = ip4(10, 0, 0, 254);
  EXPECT_THAT(World::lines(w.plan()),
              ElementsAre("create bridge br0", "add address 10.0.0.1/24 to bridge br0",
                          "set bridge br0 up", "add default route via 10.0.0.254 dev bridge br0"));
}

TEST(Plan, LinkLocalNoneIsSetBeforeUp) {
  World w;
  Tap& t = w.tap("t0");
  t.link_local = LinkLocal::kNone;
  auto l = World::lines(w.plan());
  EXPECT_LT(index_of(l, "set tap t0 addrgenmode none"), index_of(l, "set tap t0 up"));
}

// ---------------------------------------------------------------- in sync, modify

World synced_world() {
  World w;
  Bridge& b = w.bridge("br0");
  b.addresses = {cidr4(10, 0, 0, 1, 24)};
  Veth& v = w.veth("vb-a", "eth0", "c1");
  World::port(v, "br0");
  v.link_local = LinkLocal::kNone;
  v.peer_addresses = {cidr4(10, 0, 0, 2, 24)};
  v.peer_gateway = ip4(10, 0, 0, 1);
  w.snap.created_netns = {"c1"};
  LinkState& br = w.have("", 5, "br0", "bridge");
  br.addrs = {addr4(10, 0, 0, 1, 24), AddrState{IpAddress{10, {0xfe, 0x80}}, 64, 253}};
  w.have_veth("", 6, "vb-a", "c1", 7, "eth0");
  w.snap.netns[""].links[6].master = 5;
  w.snap.netns[""].links[6].addr_gen_mode = kAddrGenNone;
  w.snap.netns["c1"].links[1].up = true;
  w.snap.netns["c1"].links[7].addrs = {addr4(10, 0, 0, 2, 24)};
  w.snap.netns["c1"].routes = {RouteState{ip4(10, 0, 0, 1), 7, 0, {}, 0, kRouteProtoVnet}};
  return w;
}

TEST(Plan, NoChangesWhenKernelMatches) {
  World w = synced_world();
  Plan p = w.plan();
  EXPECT_THAT(World::lines(p), IsEmpty());
  EXPECT_THAT(p.refusals, IsEmpty());
}

TEST(Plan, ChangesMtuInPlaceWithUndo) {
  World w = synced_world();
  w.topo.veths[0].mtu = 9000;
  Plan p = w.plan();
  EXPECT_THAT(World::lines(p), ElementsAre("set veth vb-a mtu 9000",
                                           "set veth peer eth0 in netns c1 (of vb-a) mtu 9000"));
  ASSERT_EQ(p.ops[0].undo.size(), 1u);
  EXPECT_EQ(p.ops[0].undo[0].mtu, 1500u);
}

TEST(Plan, ChangesMacInPlace) {
  World w = synced_world();
  w.topo.bridges[0].mac = mac(9);
  EXPECT_THAT(World::lines(w.plan()), ElementsAre("set bridge br0 mac 02:00:00:00:00:09"));
}

TEST(Plan, TurnsStpOnInPlace) {
  World w = synced_world();
  w.topo.bridges[0].set_number("stp", 1);
  EXPECT_THAT(World::lines(w.plan()), ElementsAre("set bridge br0 stp on"));
}

TEST(Plan, TogglesVlanFilteringInPlace) {
  World w = synced_world();
  w.topo.bridges[0].set_number("vlan_filtering", 1);
  w.snap.netns[""].links[5].set_number("default_pvid", 1);
  w.snap.netns[""].links[5].vlans = {{1, true, true}};
  w.snap.netns[""].links[6].vlans = {{1, true, true}};
  EXPECT_THAT(World::lines(w.plan()), ElementsAre("set bridge br0 vlan_filtering on"));
}

TEST(Plan, ChangesDefaultPvidInPlace) {
  World w = synced_world();
  Bridge& b = w.topo.bridges[0];
  b.set_number("vlan_filtering", 1);
  b.set_number("default_pvid", 0);
  LinkState& br = w.snap.netns[""].links[5];
  br.set_number("vlan_filtering", 1);
  br.set_number("default_pvid", 1);
  br.vlans = {{1, true, true}};
  w.snap.netns[""].links[6].vlans = {{1, true, true}};
  // without a default PVID the port has no VLAN at all (it declared neither pvid nor tagged)
  EXPECT_THAT(World::lines(w.plan()),
              ElementsAre("set bridge br0 default_pvid 0", "set self vlans of bridge br0: -1",
                          "set vlans of veth vb-a: -1"));
}

TEST(Plan, MovesPvidWithoutRecreatingPort) {
  World w = synced_world();
  w.topo.bridges[0].set_number("vlan_filtering", 1);
  w.topo.veths[0].port->pvid = 10;
  LinkState& br = w.snap.netns[""].links[5];
  br.set_number("vlan_filtering", 1);
  br.set_number("default_pvid", 1);
  br.vlans = {{1, true, true}};
  w.snap.netns[""].links[6].vlans = {{40, true, true}};
  Plan p = w.plan();
  EXPECT_THAT(World::lines(p), ElementsAre("set vlans of veth vb-a: +10 pvid untagged, -40"));
  // undo: give 40 back (with its PVID), drop 10
  const Op& u = p.ops[0].undo[0];
  ASSERT_EQ(u.vlan_add.size(), 1u);
  EXPECT_EQ(u.vlan_add[0], (VlanEntry{40, true, true}));
  ASSERT_EQ(u.vlan_del.size(), 1u);
  EXPECT_EQ(u.vlan_del[0].vid, 10);
}

TEST(Plan, AddsAndRemovesAddresses) {
  World w = synced_world();
  w.topo.bridges[0].addresses = {cidr4(10, 0, 0, 3, 24)};
  EXPECT_THAT(World::lines(w.plan()), ElementsAre("delete address 10.0.0.1/24 from bridge br0",
                                                  "add address 10.0.0.3/24 to bridge br0"));
}

TEST(Plan, LeavesLinkScopeAddressesAlone) {
  World w = synced_world();
  w.topo.bridges[0].addresses.clear();
  EXPECT_THAT(World::lines(w.plan()), ElementsAre("delete address 10.0.0.1/24 from bridge br0"));
}

TEST(Plan, ADeclaredLinkScopeAddressConverges) {
  World w = synced_world();
  Cidr ll;
  ll.addr = IpAddress{10, {0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}};
  ll.prefix = 64;
  w.topo.bridges[0].addresses.push_back(ll);
  EXPECT_THAT(World::lines(w.plan()), ElementsAre("add address fe80::1/64 to bridge br0"));
  w.snap.netns[""].links[5].addrs.push_back(AddrState{ll.addr, 64, 253});
  EXPECT_THAT(World::lines(w.plan()), IsEmpty());
}

TEST(Plan, AddrGenModeIsLeftAloneBelowIpv6sMinimumMtu) {
  World w;
  Tap& t = w.tap("t0");
  t.link_local = LinkLocal::kNone;
  t.mtu = 1000;
  // the kernel has IPv6 off on it: there is nothing to autoconfigure, and it refuses
  // the mode (EAFNOSUPPORT)
  EXPECT_THAT(World::lines(w.plan()), ElementsAre("create tap t0 (vnet_hdr, mtu 1000)", "set tap t0 up"));
}

TEST(Plan, ReplacesGatewayDeleteFirst) {
  World w = synced_world();
  w.topo.veths[0].peer_gateway = ip4(10, 0, 0, 9);
  EXPECT_THAT(World::lines(w.plan()),
              ElementsAre("delete default route via 10.0.0.1 dev veth peer eth0 in netns c1 (of vb-a)",
                          "add default route via 10.0.0.9 dev veth peer eth0 in netns c1 (of vb-a)"));
}

Route route4(std::array<uint8_t, 4> to, uint8_t len, std::optional<IpAddress> via = {},
             std::optional<uint32_t> metric = {}) {
  Route r;
  r.to = cidr4(to[0], to[1], to[2], to[3], len);
  r.via = via;
  r.metric = metric;
  return r;
}

RouteState vnet_route(std::array<uint8_t, 4> to, uint8_t len, IpAddress via, int oif,
                      uint32_t metric = 0, uint8_t proto = kRouteProtoVnet) {
  RouteState r;
  r.family = AF_INET;
  r.dst = ip4(to[0], to[1], to[2], to[3]);
  r.dst_len = len;
  r.gateway = via;
  r.oif = oif;
  r.priority = metric;
  r.proto = proto;
  return r;
}

TEST(Plan, AddsDeclaredRoutesAfterTheDefaultRouteWithTheirMetric) {
  World w = synced_world();
  w.topo.veths[0].peer_routes = {route4({10, 2, 0, 0}, 16, ip4(10, 0, 0, 1), 100),
                                 route4({10, 3, 0, 0}, 16)};
  Plan p = w.plan();
  EXPECT_THAT(World::lines(p),
              ElementsAre("add route 10.2.0.0/16 via 10.0.0.1 metric 100 dev veth peer eth0 in netns c1 (of vb-a)",
                          "add route 10.3.0.0/16 dev veth peer eth0 in netns c1 (of vb-a)"));
  EXPECT_EQ(p.ops[0].route.proto, kRouteProtoVnet);
  EXPECT_EQ(p.ops[0].route.priority, 100u);
  ASSERT_EQ(p.ops[0].undo.size(), 1u);
  EXPECT_EQ(p.ops[0].undo[0].kind, OpKind::kDelRoute);
}

TEST(Plan, RoutesInSyncAreLeftAndOnlyVnetsUndeclaredRoutesGo) {
  World w = synced_world();
  w.topo.veths[0].peer_routes = {route4({10, 2, 0, 0}, 16, ip4(10, 0, 0, 1), 100)};
  auto& routes = w.snap.netns["c1"].routes;
  routes.push_back(vnet_route({10, 2, 0, 0}, 16, ip4(10, 0, 0, 1), 7, 100));
  routes.push_back(vnet_route({10, 4, 0, 0}, 16, ip4(10, 0, 0, 1), 7));  // vnet's, dropped
  routes.push_back(vnet_route({10, 5, 0, 0}, 16, ip4(10, 0, 0, 1), 7, 0, 4));  // someone's static
  Plan p = w.plan();
  EXPECT_THAT(World::lines(p),
              ElementsAre("delete route 10.4.0.0/16 via 10.0.0.1 dev veth peer eth0 in netns c1 (of vb-a)"));
  ASSERT_EQ(p.ops[0].undo.size(), 1u);
  EXPECT_EQ(p.ops[0].undo[0].kind, OpKind::kAddRoute);
  EXPECT_EQ(p.ops[0].undo[0].route.dst_len, 16);
}

TEST(Plan, RefusesARouteWhoseDestinationAndMetricSomeoneElseHolds) {
  World w = synced_world();
  w.topo.veths[0].peer_routes = {route4({10, 2, 0, 0}, 16, ip4(10, 0, 0, 9))};
  w.snap.netns["c1"].routes.push_back(vnet_route({10, 2, 0, 0}, 16, ip4(10, 0, 0, 1), 7, 0, 4));
  Plan p = w.plan();
  ASSERT_EQ(p.refusals.size(), 1u);
  EXPECT_THAT(p.refusals[0].what,
              HasSubstr("route to 10.2.0.0/16 metric 0: the kernel already has one via 10.0.0.1 "
                        "dev eth0 that vnet did not add"));
}

TEST(Plan, AVnetRouteThatGoesMakesRoomForItsReplacement) {
  World w = synced_world();
  w.topo.veths[0].peer_routes = {route4({10, 2, 0, 0}, 16, ip4(10, 0, 0, 9))};
  w.snap.netns["c1"].routes.push_back(vnet_route({10, 2, 0, 0}, 16, ip4(10, 0, 0, 1), 7));
  Plan p = w.plan();
  EXPECT_THAT(p.refusals, IsEmpty());
  EXPECT_THAT(World::lines(p),
              ElementsAre("delete route 10.2.0.0/16 via 10.0.0.1 dev veth peer eth0 in netns c1 (of vb-a)",
                          "add route 10.2.0.0/16 via 10.0.0.9 dev veth peer eth0 in netns c1 (of vb-a)"));
}

TEST(Plan, RoutesThroughADeletedLinkComeBackWithItsUndo) {
  World w = synced_world();
  w.topo.veths.clear();
  w.snap.netns["c1"].routes.push_back(vnet_route({10, 2, 0, 0}, 16, ip4(10, 0, 0, 1), 7, 100));
  Plan p = w.plan();
  const Op* del = nullptr;
  for (const Op& op : p.ops)
    if (op.kind == OpKind::kDeleteLink && op.ifname == "vb-a") del = &op;
  ASSERT_NE(del, nullptr);
  std::vector<std::string> undo;
  for (const Op& u : del->undo) undo.push_back(u.describe());
  EXPECT_THAT(undo, ::testing::Contains(HasSubstr("add route 10.2.0.0/16 via 10.0.0.1 metric 100")));
  EXPECT_THAT(undo, ::testing::Contains(HasSubstr("add default route via 10.0.0.1")));
}

// ---------------------------------------------------------------- described kinds

World world_from(const std::string& toml) {
  World w;
  auto t = topology::load_string("[host]\nname = \"h\"\n" + toml, "host.toml");
  EXPECT_TRUE(t) << (t ? "" : topology::format_diagnostics(t.error(), toml));
  if (t) w.topo = *t;
  return w;
}

const char* kVxlan = R"([links.u0]
[vxlans.vx0]
vni = 100
remote = "192.0.2.2"
dev = "u0"
learning = false
[dummies.d0]
addresses = ["192.0.2.10/32"]
)";

TEST(Plan, CreatesADescribedKindWithItsAttributesOnItsLowerLink) {
  World w = world_from(kVxlan);
  w.have("", 3, "u0", "veth", false);
  Plan p = w.plan();
  EXPECT_THAT(World::lines(p),
              ElementsAre("create vxlan vx0 (vni 100, remote 192.0.2.2, dstport 4789, learning off)",
                          "create dummy d0", "add address 192.0.2.10/32 to dummy d0",
                          "set vxlan vx0 up", "set dummy d0 up"));
  ASSERT_NE(p.ops[0].spec.desc, nullptr);
  EXPECT_EQ(p.ops[0].spec.parent, 3);
  EXPECT_EQ(p.ops[0].spec.info.size(), 4u);
}

// The kernel as the plan above leaves it: vx0 on u0 with its attributes, d0 addressed.
World vxlan_synced() {
  World w = world_from(kVxlan);
  w.have("", 3, "u0", "veth", false);
  LinkState& vx = w.have("", 4, "vx0", "vxlan");
  vx.link = 3;
  vx.info[IFLA_VXLAN_ID].number = 100;
  vx.info[IFLA_VXLAN_GROUP].ip = ip4(192, 0, 2, 2);
  vx.info[IFLA_VXLAN_PORT].number = 4789;
  vx.info[IFLA_VXLAN_LEARNING].number = 0;
  LinkState& d = w.have("", 5, "d0", "dummy");
  d.addrs = {addr4(192, 0, 2, 10, 32)};
  return w;
}

TEST(Plan, ADescribedKindInSyncNeedsNothing) {
  EXPECT_THAT(World::lines(vxlan_synced().plan()), IsEmpty());
}

TEST(Plan, ADescribedKindChangesInPlaceWhatTheKernelChangesAndRecreatesForTheRest) {
  World w = vxlan_synced();
  w.topo.kind_links[0].attrs[w.topo.kind_links[0].desc->index_of("learning")].number = 1;
  Plan p = w.plan();
  EXPECT_THAT(World::lines(p), ElementsAre("set vxlan vx0 learning on"));
  ASSERT_EQ(p.ops[0].undo.size(), 1u);
  EXPECT_EQ(p.ops[0].undo[0].describe(), "set vxlan vx0 learning off");

  w = vxlan_synced();
  w.topo.kind_links[0].attrs[w.topo.kind_links[0].desc->index_of("vni")].number = 200;
  EXPECT_THAT(World::lines(w.plan()),
              Contains(HasSubstr("delete vxlan vx0 (recreate: the kernel cannot change a vxlan's "
                                 "vni (100 -> 200))")));
  w = vxlan_synced();
  w.snap.netns[""].links[4].link = 7;  // on another lower link
  EXPECT_THAT(World::lines(w.plan()),
              Contains(HasSubstr("recreate: the kernel cannot change a vxlan's dev")));
}

TEST(Plan, ADeletedDescribedKindComesBackWithItsAttributesInTheUndo) {
  World w = vxlan_synced();
  w.topo.kind_links.clear();
  Plan p = w.plan();
  const Op* del = nullptr;
  for (const Op& op : p.ops)
    if (op.kind == OpKind::kDeleteLink && op.ifname == "vx0") del = &op;
  ASSERT_NE(del, nullptr);
  ASSERT_FALSE(del->undo.empty());
  EXPECT_THAT(del->undo[0].describe(),
              HasSubstr("create vxlan vx0 (vni 100, remote 192.0.2.2, dstport 4789, learning off, "));
  EXPECT_EQ(del->undo[0].spec.parent, 3);
}

TEST(Plan, ABondTakesItsMembersDownFirstAndDestroyBringsThemBackUp) {
  World w = world_from(R"([bonds.bond0]
mode = "active-backup"
members = ["m0", "m1"]
)");
  w.have("", 3, "m0", "veth", false).up = true;
  w.have("", 4, "m1", "veth", false).up = false;
  Plan p = w.plan();
  EXPECT_THAT(World::lines(p),
              ElementsAre("create bond bond0 (mode active-backup)",
                          "set link m0 addrgenmode none", "set link m1 addrgenmode none",
                          "set link m0 down", "enslave link m0 to bond0", "enslave link m1 to bond0",
                          "set bond bond0 up"));
  ASSERT_EQ(p.ops[3].undo.size(), 1u);
  EXPECT_TRUE(p.ops[3].undo[0].up);
  // enslaved: destroy deletes the bond and brings the member that was up back up
  LinkState& b = w.have("", 5, "bond0", "bond");
  b.info[IFLA_BOND_MODE].number = 1;
  b.up = true;
  for (int member : {3, 4}) {
    w.snap.netns[""].links[member].master = 5;
    w.snap.netns[""].links[member].addr_gen_mode = 1;  // none
  }
  EXPECT_THAT(World::lines(w.plan()), IsEmpty());
  p = w.plan(true);
  EXPECT_THAT(World::lines(p), ElementsAre("delete bond bond0 (destroy)", "set link m0 addrgenmode eui64",
                                           "set link m1 addrgenmode eui64", "set link m0 up"));
  // its undo puts the members back, down first as the driver wants
  std::vector<std::string> undo;
  for (const Op& u : p.ops[0].undo) undo.push_back(u.describe());
  EXPECT_THAT(undo, Contains("set veth m0 down"));
  EXPECT_THAT(undo, Contains("enslave veth m0 to #5"));
}

// networkd sets addrgenmode none on every link it enslaves to a bond, and the kernel
// autoconfigures no bond slave: a member gets none too, with its old mode as the undo.
// Another existing link keeps its mode unless link_local is written.
TEST(Plan, BondMembersAndWrittenLinkLocalSetTheModeOfExistingLinks) {
  World w = world_from(R"([bonds.bond0]
members = ["m0"]
[links.eno1]
link_local = "none"
[links.eno2]
)");
  for (auto [idx, name] : {std::pair{3, "m0"}, {4, "eno1"}, {5, "eno2"}})
    w.have("", idx, name, "veth", false).addr_gen_mode = 0;  // eui64
  Plan p = w.plan();
  auto lines = World::lines(p);
  EXPECT_THAT(lines, Contains("set link m0 addrgenmode none"));
  EXPECT_THAT(lines, Contains("set link eno1 addrgenmode none"));
  EXPECT_THAT(lines, Not(Contains(HasSubstr("eno2"))));
  for (const Op& op : p.ops)
    if (op.ifname == "m0" && op.addr_gen_mode) {
      ASSERT_EQ(op.undo.size(), 1u);
      EXPECT_EQ(op.undo[0].addr_gen_mode, 0);
    }
}

// design.md: [links.X] up = true brings an existing link up; without it, its state is
// left alone.
TEST(Plan, ALinksEntryIsBroughtUpOnlyWhenAsked) {
  World w = world_from("[links.eno1]\nup = true\n[links.eno2]\n");
  w.have("", 3, "eno1", "veth", false).up = false;
  w.have("", 4, "eno2", "veth", false).up = false;
  Plan p = w.plan();
  EXPECT_THAT(World::lines(p), ElementsAre("set link eno1 up"));
  ASSERT_EQ(p.ops[0].undo.size(), 1u);
  EXPECT_FALSE(p.ops[0].undo[0].up);
}

// A new bridge's MTU is set right after it is made, before the links stacked on it:
// they inherit it (as under networkd), and one declared with it is not refused.
TEST(Plan, ANewBridgesMtuIsSetBeforeLinksStackedOnItAreMade) {
  World w = world_from(R"([bridges.br0]
mtu = 9000
[macvlans.mv0]
link = "br0"
mtu = 9000
)");
  EXPECT_THAT(World::lines(w.plan()),
              ElementsAre("create bridge br0", "set bridge br0 mtu 9000",
                          "create macvlan mv0 (mode bridge, mtu 9000)", "set bridge br0 up",
                          "set macvlan mv0 up"));
}

// The same for an existing lower link whose MTU rises: before the create, with its undo.
TEST(Plan, AKeptLinksRisingMtuIsSetBeforeALinkStackedOnItIsMade) {
  World w = world_from(R"([links.eno1]
mtu = 9000
[macvlans.mv0]
link = "eno1"
mtu = 9000
)");
  w.have("", 3, "eno1", "veth", false);
  Plan p = w.plan();
  EXPECT_THAT(World::lines(p), ElementsAre("set link eno1 mtu 9000", "create macvlan mv0 (mode bridge, mtu 9000)",
                                           "set macvlan mv0 up"));
  ASSERT_EQ(p.ops[0].undo.size(), 1u);
  EXPECT_EQ(p.ops[0].undo[0].mtu, 1500u);
}

TEST(Plan, BringsDownLinkBackUp) {
  World w = synced_world();
  w.snap.netns[""].links[5].up = false;
  Plan p = w.plan();
  EXPECT_THAT(World::lines(p), ElementsAre("set bridge br0 up"));
  EXPECT_FALSE(p.ops[0].undo.at(0).up);
}

TEST(Plan, MovesPortToAnotherBridge) {
  World w = synced_world();
  w.bridge("br1");
  w.topo.veths[0].port->bridge = "br1";
  w.have("", 8, "br1", "bridge");
  Plan p = w.plan();
  EXPECT_THAT(World::lines(p), ElementsAre("enslave veth vb-a to br1"));
  EXPECT_EQ(p.ops[0].undo.at(0).master, 5);
}

TEST(Plan, ReleasesOwnedPortNoLongerEnslaved) {
  World w = synced_world();
  w.topo.veths[0].port.reset();
  w.topo.veths[0].link_local = LinkLocal::kNone;
  EXPECT_THAT(World::lines(w.plan()), ElementsAre("release veth vb-a from its bridge"));
}

TEST(Plan, ChangesMacvlanModeInPlace) {
  World w;
  w.bridge("br0");
  World::set(w.macvlan("mv", "br0"), "mode", MACVLAN_MODE_PRIVATE);
  w.have("", 5, "br0", "bridge");
  LinkState& m = w.have("", 6, "mv", "macvlan");
  m.link = 5;
  m.info[IFLA_MACVLAN_MODE].number = MACVLAN_MODE_BRIDGE;
  EXPECT_THAT(World::lines(w.plan()), ElementsAre("set macvlan mv mode private"));
}

TEST(Plan, ChangesTapOwnerInPlace) {
  World w;
  w.tap("t0").set_number("owner", 1000);
  w.have("", 5, "t0", "tun").set_number("owner", 0);
  Plan p = w.plan();
  EXPECT_THAT(World::lines(p), ElementsAre("set tap t0 owner 1000"));
  EXPECT_EQ(p.ops[0].kind, OpKind::kSetTap);
}

TEST(Plan, VlanSubinterfaceImpliesSelfVlan) {
  World w;
  w.bridge("br0").set_number("vlan_filtering", 1);
  w.vlan("br0.40", "br0", 40);
  LinkState& br = w.have("", 5, "br0", "bridge");
  br.set_number("vlan_filtering", 1);
  br.set_number("default_pvid", 1);
  br.vlans = {{1, true, true}};
  w.have("", 6, "br0.40", "vlan");
  w.snap.netns[""].links[6].info[IFLA_VLAN_ID].number = 40;
  w.snap.netns[""].links[6].link = 5;
  EXPECT_THAT(World::lines(w.plan()), ElementsAre("set self vlans of bridge br0: +40 tagged"));
}

// ---------------------------------------------------------------- recreate

TEST(Plan, RecreatesVlanWhenIdChanges) {
  World w;
  w.bridge("br0");
  w.vlan("v", "br0", 41);
  w.have("", 5, "br0", "bridge");
  LinkState& v = w.have("", 6, "v", "vlan");
  v.info[IFLA_VLAN_ID].number = 40;
  v.link = 5;
  auto l = World::lines(w.plan());
  EXPECT_THAT(l, ElementsAre("delete vlan v (recreate: the kernel cannot change a vlan's id (40 -> 41))",
                             "create vlan v (id 41) (recreate: the kernel cannot change a vlan's id (40 -> 41))",
                             "set vlan v up"));
}

TEST(Plan, RecreatesVethWhenPeerRenamed) {
  World w = synced_world();
  w.topo.veths[0].peer = "eth1";
  auto l = World::lines(w.plan());
  ASSERT_FALSE(l.empty());
  EXPECT_THAT(l[0], HasSubstr("delete veth vb-a (recreate: its peer is eth0 in netns c1, declared eth1"));
  index_of(l, "enslave veth vb-a to br0");
  index_of(l, "add address 10.0.0.2/24 to veth peer eth1 in netns c1 (of vb-a)");
}

TEST(Plan, RecreatesTapWhenMultiQueueChanges) {
  World w;
  w.tap("t0").set_number("multi_queue", 1);
  w.have("", 5, "t0", "tun");
  auto l = World::lines(w.plan());
  EXPECT_THAT(l[0], HasSubstr("delete tap t0 (recreate: the kernel cannot change a tap's multi_queue (off -> on))"));
  EXPECT_THAT(l[1], HasSubstr("create tap t0 (multi_queue, vnet_hdr)"));
}

TEST(Plan, RecreatesOwnedLinkOfAnotherKind) {
  World w;
  w.bridge("x");
  w.have("", 5, "x", "veth");
  auto l = World::lines(w.plan());
  EXPECT_THAT(l, ElementsAre("delete veth x (recreate: it is a veth, declared a bridge)",
                             "create bridge x (recreate: it is a veth, declared a bridge)",
                             "set bridge x up"));
}

TEST(Plan, RecreatesMacvlanWhenParentChanges) {
  World w;
  w.bridge("br0");
  w.bridge("br1");
  w.macvlan("mv", "br1");
  w.have("", 5, "br0", "bridge");
  w.have("", 6, "br1", "bridge");
  LinkState& m = w.have("", 7, "mv", "macvlan");
  m.link = 5;
  m.info[IFLA_MACVLAN_MODE].number = MACVLAN_MODE_BRIDGE;
  auto l = World::lines(w.plan());
  EXPECT_THAT(l[0], HasSubstr("recreate: the kernel cannot change a macvlan's parent link"));
}

TEST(Plan, RecreatesChildWhenParentIsRecreated) {
  World w;
  w.bridge("br0");
  w.vlan("br0.40", "br0", 40);
  w.have("", 5, "br0", "veth");  // wrong kind: recreated
  LinkState& v = w.have("", 6, "br0.40", "vlan");
  v.info[IFLA_VLAN_ID].number = 40;
  v.link = 5;
  auto l = World::lines(w.plan());
  EXPECT_LT(index_of(l, "delete vlan br0.40 (recreate: its parent br0 is (re)created)"),
            index_of(l, "delete veth br0 (recreate: it is a veth, declared a bridge)"));
  Plan p = w.plan();
  const Op* cv = nullptr;
  const Op* cb = nullptr;
  for (const Op& o : p.ops)
    if (o.kind == OpKind::kCreateLink) (o.spec.kind == "vlan" ? cv : cb) = &o;
  ASSERT_TRUE(cv && cb);
  EXPECT_EQ(cv->spec.parent, cb->ifindex);
}

// ---------------------------------------------------------------- delete

TEST(Plan, DeletesOwnedLinkNoLongerDeclared) {
  World w;
  w.have("", 5, "old", "bridge");
  Plan p = w.plan();
  EXPECT_THAT(World::lines(p), ElementsAre("delete bridge old (no longer declared)"));
  // undo brings it back under the same index, marked
  const Op& u = p.ops[0].undo.at(0);
  EXPECT_EQ(u.kind, OpKind::kCreateLink);
  EXPECT_EQ(u.ifindex, 5);
  EXPECT_EQ(u.spec.alias, "vnet:h");
}

TEST(Plan, LeavesForeignUndeclaredLinksAlone) {
  World w;
  w.have("", 5, "docker0", "bridge", false);
  w.have("", 6, "x", "bridge").alias = "vnet:other-host";
  EXPECT_TRUE(w.plan().empty());
}

TEST(Plan, DeletesChildrenBeforeParents) {
  World w;
  w.have("", 5, "br0", "bridge");
  LinkState& v = w.have("", 6, "br0.40", "vlan");
  v.link = 5;
  LinkState& m = w.have("", 7, "mv", "macvlan");
  m.link = 6;
  w.have("", 8, "t0", "tun");
  EXPECT_THAT(World::lines(w.plan()),
              ElementsAre("delete tap t0 (no longer declared)", "delete macvlan mv (no longer declared)",
                          "delete vlan br0.40 (no longer declared)",
                          "delete bridge br0 (no longer declared)"));
}

TEST(Plan, RefusesToDeleteALinkAForeignLinkDependsOn) {
  World w;
  w.have("", 5, "br0", "bridge");
  LinkState& v = w.have("", 6, "br0.40", "vlan");  // owned, goes along
  v.link = 5;
  LinkState& m = w.have("", 7, "mv-foreign", "macvlan", false);
  m.link = 6;
  Plan p = w.plan(true);
  ASSERT_EQ(p.refusals.size(), 1u);
  EXPECT_EQ(p.refusals[0].what,
            "vlan br0.40: deleting it would delete macvlan mv-foreign, which vnet does not own "
            "(no alias); remove or move mv-foreign first");
  EXPECT_EQ(p.refusals[0].exit, ExitCode::kFailed);
}

TEST(Plan, SeveralDeletesInANamespaceShareAGroupNoLinkThereIsIn) {
  World w;
  w.have("", 5, "a", "bridge");
  w.have("", 6, "b", "bridge").group = 7;
  w.have("", 7, "foreign", "bridge", false).group = 0x766e6574;  // vnet's first choice
  Plan p = w.plan();
  ASSERT_EQ(p.ops.size(), 2u);
  for (const Op& op : p.ops) {
    ASSERT_EQ(op.kind, OpKind::kDeleteLink) << op.describe();
    EXPECT_EQ(op.delete_group, 0x766e6575u) << op.describe();
  }
  EXPECT_EQ(p.ops[0].old_group + p.ops[1].old_group, 7u);
  // one delete alone needs no group
  World one;
  one.have("", 5, "a", "bridge");
  Plan q = one.plan();
  ASSERT_EQ(q.ops.size(), 1u);
  EXPECT_EQ(q.ops[0].delete_group, 0u);
}

TEST(Plan, DeletesVethButNotItsPeerSeparately) {
  World w;
  w.snap.created_netns = {"c1"};
  w.have_veth("", 5, "vb-a", "c1", 6, "eth0");
  Plan p = w.plan();
  EXPECT_THAT(World::lines(p), ElementsAre("delete veth vb-a (no longer declared)",
                                           "delete netns c1 (no longer referenced)"));
  // undo recreates the pair with both indexes
  const Op& u = p.ops[0].undo.at(0);
  EXPECT_EQ(u.spec.peer, "eth0");
  EXPECT_EQ(u.spec.peer_ns, "c1");
  EXPECT_EQ(u.spec.peer_ifindex, 6);
}

TEST(Plan, KeepsCreatedNamespaceWithForeignLinkInIt) {
  World w;
  w.snap.created_netns = {"c1"};
  w.have("c1", 9, "foreign0", "bridge", false);
  Plan p = w.plan();
  EXPECT_TRUE(p.empty());
  ASSERT_EQ(p.notes.size(), 1u);
  EXPECT_THAT(p.notes[0], HasSubstr("netns c1 kept: link foreign0"));
}

TEST(Plan, NeverDeletesNamespacesItDidNotCreate) {
  World w;
  w.netns("other");
  EXPECT_TRUE(w.plan(true).empty());
}

TEST(Plan, DestroyRemovesEverythingOwnedAndCreatedNamespaces) {
  World w = synced_world();
  w.tap("t0");
  w.have("", 9, "t0", "tun");
  w.have("", 10, "docker0", "bridge", false);
  EXPECT_THAT(World::lines(w.plan(true)),
              ElementsAre("delete tap t0 (destroy)", "delete veth vb-a (destroy)",
                          "delete bridge br0 (destroy)", "delete netns c1 (destroy)"));
}

TEST(Plan, DestroyReleasesLinksFromBridgeAndLeavesThemUp) {
  World w;
  w.bridge("br0");
  World::port(w.link("eno1"), "br0");
  w.have("", 5, "br0", "bridge", false).alias = "something else";
  w.have("", 4, "eno1", "", false).master = 5;
  // br0 is not ours: only the [links] entry is released
  EXPECT_THAT(World::lines(w.plan(true)), ElementsAre("release link eno1 from its bridge"));
}

TEST(Plan, DestroyLetsTheKernelReleaseLinksOfDeletedBridges) {
  World w;
  w.bridge("br0");
  World::port(w.link("eno1"), "br0");
  w.have("", 5, "br0", "bridge");
  w.have("", 4, "eno1", "", false).master = 5;
  EXPECT_THAT(World::lines(w.plan(true)), ElementsAre("delete bridge br0 (destroy)"));
}

TEST(Plan, DestroyLeavesLookalikeOfAnotherHost) {
  World w;
  w.bridge("br0");
  w.have("", 5, "br0", "bridge").alias = "vnet:h2";
  EXPECT_TRUE(w.plan(true).empty());
}

// ---------------------------------------------------------------- ownership

TEST(Plan, RefusesDeclaredNameHeldByForeignLink) {
  World w;
  w.bridge("br0");
  w.have("", 5, "br0", "bridge", false);
  Plan p = w.plan();
  ASSERT_EQ(p.refusals.size(), 1u);
  EXPECT_THAT(p.refusals[0].what, HasSubstr("bridge br0: exists but is not owned by vnet:h (no alias)"));
  EXPECT_THAT(p.refusals[0].what, HasSubstr("adopt = true"));
  ASSERT_TRUE(p.refusals[0].loc.has_value());
  EXPECT_EQ(p.refusals[0].loc->line, 2u);
  EXPECT_TRUE(p.ops.empty());
}

TEST(Plan, AdoptMarksExistingBridgeAndConverges) {
  World w;
  Bridge& b = w.bridge("vmbr0");
  b.adopt = true;
  b.mtu = 9000;
  w.have("", 5, "vmbr0", "bridge", false);
  Plan p = w.plan();
  EXPECT_THAT(World::lines(p), ElementsAre("mark bridge vmbr0 as owned (alias vnet:h) (adopt)",
                                           "set bridge vmbr0 mtu 9000"));
  EXPECT_EQ(p.ops[0].undo.at(0).alias, "");
}

TEST(Plan, AdoptRefusesLinkOfAnotherKind) {
  World w;
  w.bridge("x").adopt = true;
  w.have("", 5, "x", "veth", false);
  Plan p = w.plan();
  ASSERT_EQ(p.refusals.size(), 1u);
  EXPECT_THAT(p.refusals[0].what, HasSubstr("exists as a veth, not a bridge"));
}

TEST(Plan, AdoptRefusesAVethWhosePeerIsNotAsDeclared) {
  World w;
  Veth& v = w.veth("vb-a", "eth1", "c1");
  v.adopt = true;
  w.have_veth("", 5, "vb-a", "c1", 6, "eth0");
  w.snap.netns[""].links[5].alias = "";  // the whole pair is someone else's
  w.snap.netns["c1"].links[6].addrs = {addr4(10, 0, 0, 2, 24)};
  Plan p = w.plan();
  ASSERT_EQ(p.refusals.size(), 1u);
  EXPECT_THAT(p.refusals[0].what, HasSubstr("adopt cannot take it over: its peer is eth0 in netns c1, "
                                            "declared eth1"));
  for (const Op& op : p.ops) EXPECT_NE(op.kind, OpKind::kDeleteLink) << op.describe();
}

TEST(Plan, AdoptTakesAVethWhosePeerIsAsDeclared) {
  World w;
  Veth& v = w.veth("vb-a", "eth0", "c1");
  v.adopt = true;
  v.mtu = 9000;
  w.have_veth("", 5, "vb-a", "c1", 6, "eth0");
  w.snap.netns[""].links[5].alias = "";
  Plan p = w.plan();
  EXPECT_THAT(p.refusals, IsEmpty());
  EXPECT_THAT(World::lines(p), ElementsAre("mark veth vb-a as owned (alias vnet:h) (adopt)",
                                           "set veth vb-a mtu 9000",
                                           "set veth peer eth0 in netns c1 (of vb-a) mtu 9000"));
}

TEST(Plan, LinksEntryIsEnslavedWithoutOwnership) {
  World w;
  Bridge& b = w.bridge("br0");
  b.set_number("vlan_filtering", 1);
  Link& l = w.link("eno1");
  World::port(l, "br0", std::nullopt, {10, 40});
  l.mtu = 9000;
  w.have("", 2, "eno1", "", false);
  auto lines = World::lines(w.plan());
  EXPECT_THAT(lines, ElementsAre("create bridge br0 (vlan_filtering, default_pvid 1)",
                                 "set link eno1 mtu 9000", "enslave link eno1 to br0",
                                 "set vlans of link eno1: +10 tagged +40 tagged, -1", "set bridge br0 up"));
}

TEST(Plan, MissingLinksEntryIsRefused) {
  World w;
  w.link("eno9");
  Plan p = w.plan();
  ASSERT_EQ(p.refusals.size(), 1u);
  EXPECT_THAT(p.refusals[0].what, HasSubstr("link eno9: does not exist"));
}

TEST(Plan, RefusesPeerNameTakenByForeignLink) {
  World w;
  w.veth("vb-a", "eth0", "c1");
  w.have("c1", 3, "eth0", "dummy", false);
  Plan p = w.plan();
  ASSERT_EQ(p.refusals.size(), 1u);
  EXPECT_THAT(p.refusals[0].what, HasSubstr("eth0"));
  EXPECT_THAT(p.refusals[0].what, HasSubstr("name is taken in netns c1"));
}

TEST(Plan, PeerNameOfDeletedVethIsFree) {
  World w;
  w.snap.created_netns = {"c1"};
  w.have_veth("", 5, "vb-old", "c1", 6, "eth0");
  w.veth("vb-new", "eth0", "c1");
  Plan p = w.plan();
  EXPECT_THAT(p.refusals, IsEmpty());
  auto l = World::lines(p);
  EXPECT_LT(index_of(l, "delete veth vb-old (no longer declared)"),
            index_of(l, "create veth vb-new (peer eth0 in netns c1)"));
}

// ---------------------------------------------------------------- moves, order

TEST(Plan, MovesOwnedTapToItsDeclaredNamespace) {
  World w;
  w.snap.created_netns = {"a"};
  w.netns("a");
  w.netns("b");
  w.snap.created_netns.insert("b");
  w.tap("t0").netns = "b";
  w.have("a", 5, "t0", "tun");
  auto l = World::lines(w.plan());
  EXPECT_THAT(l, ElementsAre("move tap t0 in netns a to netns b (declared in netns b)",
                             "set link lo in netns b up", "set tap t0 in netns b up",
                             "delete netns a (no longer referenced)"));
}

TEST(Plan, NamespacesComeFirstAndGoLast) {
  World w;
  w.snap.created_netns = {"old"};
  w.netns("old");
  w.tap("t").netns = "new";
  auto l = World::lines(w.plan());
  EXPECT_EQ(l.front(), "create netns new");
  EXPECT_EQ(l.back(), "delete netns old (no longer referenced)");
}

TEST(Plan, OpsOfOnePhaseAreGroupedByNamespace) {
  World w;
  for (int i = 0; i < 3; ++i) {
    Veth& v = w.veth("v" + std::to_string(i), "p" + std::to_string(i), i % 2 ? "x" : "");
    v.addresses = {cidr4(10, 0, 0, static_cast<uint8_t>(i + 1), 24)};
    v.peer_addresses = {cidr4(10, 1, 0, static_cast<uint8_t>(i + 1), 24)};
  }
  Plan p = w.plan();
  // within the address phase, namespaces do not interleave
  std::vector<std::string> seq;
  for (const Op& o : p.ops)
    if (o.kind == OpKind::kAddAddress && (seq.empty() || seq.back() != o.ns)) seq.push_back(o.ns);
  EXPECT_THAT(seq, ElementsAre("", "x"));
}

TEST(Plan, ChosenIndexesAreFreeInEveryNamespace) {
  World w;
  w.have("", 40, "foreign", "bridge", false);
  w.netns("c1");
  w.have("c1", 77, "x", "bridge", false);
  w.snap.created_netns = {"c1"};
  w.veth("vb", "eth0", "c1");
  Plan p = w.plan();
  const Op& c = *std::find_if(p.ops.begin(), p.ops.end(),
                              [](const Op& o) { return o.kind == OpKind::kCreateLink; });
  EXPECT_EQ(c.ifindex, 78);
  EXPECT_EQ(c.spec.peer_ifindex, 79);
}

TEST(Plan, ChosenIndexesStayFarFromTheKernelsOwn) {
  World w;
  w.bridge("br0");
  Plan p = make_plan(w.topo, w.snap);  // default options
  EXPECT_EQ(p.ops[0].ifindex, 1 << 20);
  w.have("", (1 << 20) + 5, "x", "bridge", false);
  p = make_plan(w.topo, w.snap);
  EXPECT_EQ(p.ops[0].ifindex, (1 << 20) + 6);
}

TEST(Plan, JsonHasSchemaFields) {
  World w;
  w.bridge("br0");
  std::string j = plan_json(w.plan(), "h");
  EXPECT_THAT(j, HasSubstr("\"version\": 2"));
  EXPECT_THAT(j, HasSubstr("\"changes\": 2"));
  EXPECT_THAT(j, HasSubstr("\"op\": \"create\""));
  EXPECT_THAT(j, HasSubstr("\"kind\": \"bridge\""));
  EXPECT_THAT(j, HasSubstr("\"source\": \"host.toml:2:1\""));
}

TEST(Plan, JsonOpsCarryTheirValues) {
  World w = synced_world();
  w.topo.veths[0].mtu = 9000;
  w.topo.veths[0].peer_routes = {route4({10, 2, 0, 0}, 16, ip4(10, 0, 0, 1), 100)};
  w.topo.bridges[0].addresses.push_back(cidr4(10, 0, 1, 1, 24));
  auto j = nlohmann::json::parse(plan_json(w.plan(), "h", "lab"));
  EXPECT_EQ(j["version"], 2);
  EXPECT_EQ(j["target"], "lab");
  std::map<std::string, nlohmann::json> by_op;
  for (auto& op : j["ops"]) by_op[op["op"].get<std::string>() + " " + op["netns"].get<std::string>()] = op;
  EXPECT_EQ(by_op["set lab"]["set"]["mtu"], nlohmann::json::parse(R"({"to": 9000, "from": 1500})"));
  EXPECT_EQ(by_op["set c1"]["set"]["mtu"]["to"], 9000);
  EXPECT_EQ(by_op["add-address lab"]["address"], "10.0.1.1/24");
  EXPECT_EQ(by_op["add-route c1"]["route"],
            nlohmann::json::parse(R"({"to": "10.2.0.0/16", "via": "10.0.0.1", "metric": 100})"));
  // refusals are objects in status too
  w.snap.netns[""].links[5].alias = "";
  auto s = nlohmann::json::parse(status_json(w.plan(), "h"));
  ASSERT_EQ(s["refusals"].size(), 1u);
  EXPECT_EQ(s["refusals"][0]["source"], "host.toml:2:1");
  EXPECT_EQ(s["target"], "host");
}

TEST(Plan, StatusGroupsPendingChangesPerObject) {
  World w = synced_world();
  w.snap.netns[""].links[5].up = false;
  w.topo.bridges[0].mtu = 1400;
  std::string s = status_text(w.plan());
  EXPECT_EQ(s, "bridge br0: drift\n    would set bridge br0 mtu 1400\n    would set bridge br0 up\n");
  EXPECT_EQ(status_text(synced_world().plan()), "in sync\n");
}

}  // namespace
}  // namespace vnet::testing
