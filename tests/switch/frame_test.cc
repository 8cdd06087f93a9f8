#include "switch/frame.h"

#include <sys/socket.h>

#include <cstring>

#include <gtest/gtest.h>

#include "switch/vde_proto.h"
#include "tests/switch/frames.h"

namespace vnet::sw {
namespace {

using test::frame;
using test::mac;

TEST(SwitchFrame, ParsesUntaggedHeader) {
  auto f = frame(mac(2), mac(1));
  FrameView v;
  ASSERT_EQ(parse_frame(f, v), FrameError::kNone);
  EXPECT_EQ(v.dst, mac(2));
  EXPECT_EQ(v.src, mac(1));
  EXPECT_FALSE(v.tagged);
  EXPECT_EQ(v.ethertype, 0x0800);
}

TEST(SwitchFrame, ReadsTwelveBitVlanIdsAboveTenBits) {
  for (uint16_t vid : {1, 1023, 1024, 2049, 3000, 4094}) {
    // priority 7 and DEI set: the id must come from tci & 0x0fff alone
    auto f = frame(mac(2), mac(1), 0xf000 | vid);
    FrameView v;
    ASSERT_EQ(parse_frame(f, v), FrameError::kNone) << vid;
    EXPECT_TRUE(v.tagged);
    EXPECT_EQ(v.vid, vid);
    EXPECT_EQ(v.ethertype, 0x0800);
  }
}

TEST(SwitchFrame, RejectsRuntsAndOversized) {
  FrameView v;
  std::vector<uint8_t> tiny(13, 0);
  EXPECT_EQ(parse_frame(tiny, v), FrameError::kRunt);
  auto tagged_short = frame(mac(2), mac(1), 10);
  tagged_short.resize(16);
  EXPECT_EQ(parse_frame(tagged_short, v), FrameError::kRunt);
  auto big = frame(mac(2), mac(1), -1, kMaxFrame + 1);
  EXPECT_EQ(parse_frame(big, v), FrameError::kOversized);
  EXPECT_EQ(parse_frame(big, v, /*gso=*/true), FrameError::kNone);
}

TEST(SwitchFrame, RejectsGroupSourceAndReservedVid) {
  FrameView v;
  auto f = frame(mac(2), test::kBroadcast);
  EXPECT_EQ(parse_frame(f, v), FrameError::kMalformed);
  auto g = frame(mac(2), mac(1), 0x0fff);
  EXPECT_EQ(parse_frame(g, v), FrameError::kMalformed);
}

TEST(SwitchFrame, MakesTagKeepingPriority) {
  auto t = make_tag(3000, 0xa00a);
  EXPECT_EQ(t[0], 0x81);
  EXPECT_EQ(t[1], 0x00);
  EXPECT_EQ(((t[2] << 8) | t[3]), 0xa000 | 3000);
}

TEST(SwitchFrame, MacStringRoundTrip) {
  MacAddr m;
  ASSERT_TRUE(parse_mac("02:aa:00:00:00:0f", m));
  EXPECT_EQ(mac_str(m), "02:aa:00:00:00:0f");
  EXPECT_FALSE(parse_mac("02:aa:00:00:00", m));
  EXPECT_FALSE(parse_mac("02:aa:00:00:00:100", m));
}

TEST(SwitchVdeProto, RoundTripsRequest) {
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  strcpy(sa.sun_path, "/run/vnet/lab/.01234-00000");
  auto bytes = build_vde_request(5, sa, "qemu user=root PID=1");
  auto r = parse_vde_request(bytes);
  ASSERT_TRUE(r) << r.error().str();
  EXPECT_EQ(r->port, 5u);
  EXPECT_FALSE(r->management);
  EXPECT_EQ(r->client_path, "/run/vnet/lab/.01234-00000");
  EXPECT_EQ(r->description, "qemu user=root PID=1");
}

TEST(SwitchVdeProto, RejectsBadMagicVersionAndShortRequests) {
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  auto bytes = build_vde_request(0, sa, "");
  EXPECT_FALSE(parse_vde_request(std::span(bytes).first(20)));
  auto bad = bytes;
  bad[0] ^= 1;
  EXPECT_FALSE(parse_vde_request(bad));
  bad = bytes;
  bad[4] = 2;
  EXPECT_FALSE(parse_vde_request(bad));
  bad = bytes;
  bad[8] = 7;
  EXPECT_FALSE(parse_vde_request(bad));
  // A path that fills sun_path with no terminating NUL (found by the fuzzer).
  bad = bytes;
  for (size_t i = 14; i < 14 + sizeof(sockaddr_un::sun_path); ++i) bad[i] = 'x';
  EXPECT_FALSE(parse_vde_request(bad));
}

}  // namespace
}  // namespace vnet::sw
