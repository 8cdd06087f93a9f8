#include "switch/forwarder.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/switch/frames.h"

namespace vnet::sw {
namespace {

using test::frame;
using test::kBroadcast;
using test::mac;
using namespace std::chrono_literals;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

// A fake clock: time is whatever the test says.
struct Fixture : ::testing::Test {
  TimePoint t0{};
  TimePoint now = t0;
  Decision d;

  void send(Forwarder& fw, PortId in, const std::vector<uint8_t>& f) {
    fw.forward(in, f, now, d);
  }
};

using SwitchForwarder = Fixture;

TEST_F(SwitchForwarder, FloodsUnknownUnicastOnlyWithinTheVlan) {
  Forwarder fw;
  fw.add_port(1, VlanPolicy::access(10));
  fw.add_port(2, VlanPolicy::access(10));
  fw.add_port(3, VlanPolicy::access(20));
  fw.add_port(4, VlanPolicy::access(10));
  send(fw, 1, frame(mac(9), mac(1)));
  ASSERT_FALSE(d.dropped());
  EXPECT_TRUE(d.flood);
  EXPECT_EQ(d.vid, 10);
  EXPECT_THAT(d.out_untagged, ElementsAre(2, 4));
  EXPECT_THAT(d.out_tagged, IsEmpty());
}

TEST_F(SwitchForwarder, LearnsSourceAndForwardsUnicastToOnePort) {
  Forwarder fw;
  for (PortId p : {1, 2, 3}) fw.add_port(p, VlanPolicy::access(1));
  send(fw, 2, frame(kBroadcast, mac(2)));
  EXPECT_THAT(d.out_untagged, ElementsAre(1, 3));
  send(fw, 1, frame(mac(2), mac(1)));
  EXPECT_FALSE(d.flood);
  EXPECT_THAT(d.out_untagged, ElementsAre(2));
  EXPECT_EQ(fw.fdb().size(), 2u);
}

TEST_F(SwitchForwarder, NeverSendsBackOutOfTheIngressPort) {
  Forwarder fw;
  fw.add_port(1, VlanPolicy::access(1));
  fw.add_port(2, VlanPolicy::access(1));
  send(fw, 1, frame(kBroadcast, mac(1)));
  send(fw, 1, frame(kBroadcast, mac(5)));
  // mac(5) lives behind port 1: a frame from port 1 to it goes nowhere
  send(fw, 1, frame(mac(5), mac(1)));
  EXPECT_TRUE(d.dropped());
  EXPECT_EQ(d.drop, DropReason::kNoEgress);
  send(fw, 1, frame(kBroadcast, mac(1)));
  EXPECT_THAT(d.out_untagged, ElementsAre(2));
}

TEST_F(SwitchForwarder, TrunkEgressIsTaggedAndAccessEgressUntagged) {
  Forwarder fw;
  fw.add_port(1, VlanPolicy::access(3000));
  fw.add_port(2, VlanPolicy::trunk({10, 3000}));
  fw.add_port(3, VlanPolicy::access(10));
  send(fw, 1, frame(kBroadcast, mac(1)));
  EXPECT_EQ(d.vid, 3000);
  EXPECT_FALSE(d.in_tagged);
  EXPECT_THAT(d.out_tagged, ElementsAre(2));
  EXPECT_THAT(d.out_untagged, IsEmpty());
  // tagged 10 from the trunk reaches the access port of 10, untagged (tag popped)
  send(fw, 2, frame(kBroadcast, mac(2), 10));
  EXPECT_TRUE(d.in_tagged);
  EXPECT_EQ(d.vid, 10);
  EXPECT_THAT(d.out_untagged, ElementsAre(3));
  EXPECT_THAT(d.out_tagged, IsEmpty());
}

TEST_F(SwitchForwarder, TrunkNativeVlanCarriesUntaggedFrames) {
  Forwarder fw;
  fw.add_port(1, VlanPolicy::trunk({20, 2000}, /*native=*/5));
  fw.add_port(2, VlanPolicy::access(5));
  fw.add_port(3, VlanPolicy::trunk({5, 2000}));
  send(fw, 1, frame(kBroadcast, mac(1)));
  EXPECT_EQ(d.vid, 5);
  EXPECT_THAT(d.out_untagged, ElementsAre(2));
  EXPECT_THAT(d.out_tagged, ElementsAre(3));
  send(fw, 3, frame(kBroadcast, mac(3), 5));
  EXPECT_THAT(d.out_untagged, ElementsAre(1, 2));  // native on 1: leaves untagged
  send(fw, 3, frame(kBroadcast, mac(3), 2000));
  EXPECT_THAT(d.out_tagged, ElementsAre(1));
}

TEST_F(SwitchForwarder, DropsAndCountsFramesOfVlansThePortIsNotIn) {
  Forwarder fw;
  fw.add_port(1, VlanPolicy::trunk({10}));  // no native VLAN
  fw.add_port(2, VlanPolicy::access(10));
  send(fw, 1, frame(kBroadcast, mac(1)));  // untagged on a trunk without native
  EXPECT_EQ(d.drop, DropReason::kVlan);
  send(fw, 1, frame(kBroadcast, mac(1), 11));
  EXPECT_EQ(d.drop, DropReason::kVlan);
  send(fw, 2, frame(kBroadcast, mac(2), 4000));  // access port, foreign tag
  EXPECT_EQ(d.drop, DropReason::kVlan);
  EXPECT_EQ(fw.counters(1).drop_vlan, 2u);
  EXPECT_EQ(fw.counters(2).drop_vlan, 1u);
  EXPECT_EQ(fw.fdb().size(), 0u);  // nothing learned from dropped frames
}

TEST_F(SwitchForwarder, PriorityTaggedFrameBelongsToThePvid) {
  Forwarder fw;
  fw.add_port(1, VlanPolicy::access(7));
  fw.add_port(2, VlanPolicy::access(7));
  send(fw, 1, frame(kBroadcast, mac(1), 0xe000));  // priority 7, vid 0
  ASSERT_FALSE(d.dropped());
  EXPECT_EQ(d.vid, 7);
  EXPECT_FALSE(d.in_tagged);
}

TEST_F(SwitchForwarder, LearningIsPerVlan) {
  Forwarder fw;
  fw.add_port(1, VlanPolicy::trunk({10, 20}));
  fw.add_port(2, VlanPolicy::trunk({10, 20}));
  fw.add_port(3, VlanPolicy::trunk({10, 20}));
  send(fw, 2, frame(kBroadcast, mac(2), 10));
  send(fw, 1, frame(mac(2), mac(1), 10));
  EXPECT_THAT(d.out_tagged, ElementsAre(2));
  send(fw, 1, frame(mac(2), mac(1), 20));  // same MAC, other VLAN: unknown there
  EXPECT_TRUE(d.flood);
  EXPECT_THAT(d.out_tagged, ElementsAre(2, 3));
}

TEST_F(SwitchForwarder, AgesEntriesOutAfterMaxAge) {
  Forwarder fw;  // default 300 s
  for (PortId p : {1, 2, 3}) fw.add_port(p, VlanPolicy::access(1));
  send(fw, 2, frame(kBroadcast, mac(2)));
  now = t0 + 299s;
  send(fw, 1, frame(mac(2), mac(1)));
  EXPECT_FALSE(d.flood);
  now = t0 + 300s;  // mac(2) not heard from for 300 s
  send(fw, 1, frame(mac(2), mac(1)));
  EXPECT_TRUE(d.flood);
  EXPECT_EQ(fw.age(now), 1u);  // mac(1) was refreshed at 300 s and stays
  EXPECT_EQ(fw.fdb().size(), 1u);
  EXPECT_EQ(fw.switch_counters().fdb_aged, 1u);
}

TEST_F(SwitchForwarder, RefreshKeepsAnEntryAlive) {
  Forwarder fw(FdbLimits{4096, 256, 10s});
  fw.add_port(1, VlanPolicy::access(1));
  fw.add_port(2, VlanPolicy::access(1));
  for (int i = 0; i < 5; ++i) {
    now = t0 + std::chrono::seconds(i * 8);
    send(fw, 2, frame(kBroadcast, mac(2)));
  }
  now += 9s;
  fw.age(now);
  send(fw, 1, frame(mac(2), mac(1)));
  EXPECT_FALSE(d.flood);
}

TEST_F(SwitchForwarder, SwitchCapStopsLearningButKnownTrafficForwards) {
  Forwarder fw(FdbLimits{4, 100, 300s});
  fw.add_port(1, VlanPolicy::access(1));
  fw.add_port(2, VlanPolicy::access(1));
  fw.add_port(3, VlanPolicy::access(1));
  send(fw, 2, frame(kBroadcast, mac(2)));
  for (uint8_t i = 0; i < 50; ++i) send(fw, 1, frame(kBroadcast, mac(i, 0x06)));
  EXPECT_EQ(fw.fdb().size(), 4u);
  EXPECT_EQ(fw.switch_counters().fdb_switch_full, 47u);
  EXPECT_EQ(fw.counters(1).learn_refused, 47u);
  send(fw, 3, frame(mac(2), mac(3)));  // mac(3) not learned, mac(2) still known
  EXPECT_FALSE(d.flood);
  EXPECT_THAT(d.out_untagged, ElementsAre(2));
}

TEST_F(SwitchForwarder, PortCapLimitsOnePortOnly) {
  Forwarder fw(FdbLimits{4096, 3, 300s});
  fw.add_port(1, VlanPolicy::access(1));
  fw.add_port(2, VlanPolicy::access(1));
  for (uint8_t i = 0; i < 10; ++i) send(fw, 1, frame(kBroadcast, mac(i, 0x06)));
  EXPECT_EQ(fw.fdb().port_count(1), 3u);
  EXPECT_EQ(fw.switch_counters().fdb_port_full, 7u);
  send(fw, 2, frame(kBroadcast, mac(2)));
  EXPECT_EQ(fw.fdb().port_count(2), 1u);
  EXPECT_EQ(fw.fdb().size(), 4u);
}

TEST_F(SwitchForwarder, StationMoveUpdatesThePort) {
  Forwarder fw;
  for (PortId p : {1, 2, 3}) fw.add_port(p, VlanPolicy::access(1));
  send(fw, 1, frame(kBroadcast, mac(7)));
  send(fw, 2, frame(kBroadcast, mac(7)));
  send(fw, 3, frame(mac(7), mac(3)));
  EXPECT_THAT(d.out_untagged, ElementsAre(2));
  EXPECT_EQ(fw.switch_counters().fdb_moves, 1u);
  EXPECT_EQ(fw.fdb().port_count(1), 0u);
}

TEST_F(SwitchForwarder, CountsRuntOversizedMalformed) {
  Forwarder fw;
  fw.add_port(1, VlanPolicy::access(1));
  fw.add_port(2, VlanPolicy::access(1));
  send(fw, 1, std::vector<uint8_t>(10, 0));
  EXPECT_EQ(d.drop, DropReason::kRunt);
  send(fw, 1, frame(kBroadcast, mac(1), -1, kMaxFrame + 100));
  EXPECT_EQ(d.drop, DropReason::kOversized);
  send(fw, 1, frame(mac(2), kBroadcast));
  EXPECT_EQ(d.drop, DropReason::kMalformed);
  const auto& c = fw.counters(1);
  EXPECT_EQ(c.drop_runt, 1u);
  EXPECT_EQ(c.drop_oversized, 1u);
  EXPECT_EQ(c.drop_malformed, 1u);
  EXPECT_EQ(c.rx_frames, 3u);
}

TEST_F(SwitchForwarder, GsoSuperFrameIsForwardedWhole) {
  Forwarder fw;
  fw.add_port(1, VlanPolicy::access(1));
  fw.add_port(2, VlanPolicy::access(1));
  fw.forward(1, frame(kBroadcast, mac(1), -1, 65000), now, d, /*gso=*/true);
  EXPECT_FALSE(d.dropped());
  EXPECT_EQ(d.frame.bytes.size(), 65000u);
  EXPECT_THAT(d.out_untagged, ElementsAre(2));
}

TEST_F(SwitchForwarder, PolicyChangeMovesPortAndFlushesItsOldVlan) {
  Forwarder fw;
  fw.add_port(1, VlanPolicy::access(10));
  fw.add_port(2, VlanPolicy::access(10));
  fw.add_port(3, VlanPolicy::access(20));
  send(fw, 2, frame(kBroadcast, mac(2)));
  EXPECT_EQ(fw.fdb().size(), 1u);
  fw.set_policy(2, VlanPolicy::access(20));
  EXPECT_EQ(fw.fdb().size(), 0u);
  send(fw, 1, frame(kBroadcast, mac(1)));
  EXPECT_EQ(d.drop, DropReason::kNoEgress);  // alone in VLAN 10 now
  send(fw, 3, frame(kBroadcast, mac(3)));
  EXPECT_THAT(d.out_untagged, ElementsAre(2));
}

TEST_F(SwitchForwarder, RemovedPortIsForgottenAndNotFlooded) {
  Forwarder fw;
  for (PortId p : {1, 2, 3}) fw.add_port(p, VlanPolicy::access(1));
  send(fw, 2, frame(kBroadcast, mac(2)));
  fw.remove_port(2);
  send(fw, 1, frame(mac(2), mac(1)));
  EXPECT_THAT(d.out_untagged, ElementsAre(3));
  send(fw, 2, frame(kBroadcast, mac(2)));
  EXPECT_EQ(d.drop, DropReason::kPortDown);
}

}  // namespace
}  // namespace vnet::sw
