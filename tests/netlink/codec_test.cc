// Codec tests without a kernel: request bytes against golden hex (VNET_UPDATE_GOLDEN=1
// rewrites tests/netlink/golden/encode.txt; review the diff), acks with extended-ack
// text, and dumps recorded from a real kernel (tests/netlink/testdata/, written by the
// netns suite's NetnsRecord test) decoded into the state model.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <linux/if_bridge.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "netlink/codec.h"
#include "tests/plan/builders.h"

namespace vnet::testing {
namespace {

using netlink::EncodeContext;
using netlink::from_hex;
using netlink::to_hex;

const std::string kGolden = std::string(VNET_SOURCE_DIR) + "/tests/netlink/golden/encode.txt";
const std::string kData = std::string(VNET_SOURCE_DIR) + "/tests/netlink/testdata/";

// A bridge's attributes as the planner sends them.
std::vector<std::pair<const topology::KindAttr*, topology::InfoValue>> bridge_info(
    std::initializer_list<std::pair<const char*, uint64_t>> values) {
  topology::KindLink b;
  b.init(topology::bridge_kind());
  for (const auto& [key, n] : values) b.set_number(key, n);
  return b.info();
}

std::map<std::string, Op> golden_ops() {
  std::map<std::string, Op> m;
  Op c;
  c.kind = OpKind::kCreateLink;
  c.ifindex = 100;
  c.spec.kind = "bridge";
  c.spec.name = "br0";
  c.spec.alias = "vnet:h";
  c.spec.desc = &topology::bridge_kind();
  c.spec.info = bridge_info({});
  m["create_bridge"] = c;
  c.spec.info = bridge_info({{"vlan_filtering", 1}, {"default_pvid", 1}, {"stp", 1}});
  m["create_bridge_vlan_filtering"] = c;
  Op v;
  v.kind = OpKind::kCreateLink;
  v.ns = "";
  v.ifindex = 101;
  v.spec.kind = "veth";
  v.spec.name = "vb-a";
  v.spec.peer = "eth0";
  v.spec.peer_ns = "c1";
  v.spec.peer_ifindex = 102;
  v.spec.mtu = 9000;
  v.spec.peer_mac = Mac{{2, 0, 0, 0, 0x40, 0x53}};
  v.spec.alias = "vnet:h";
  m["create_veth_peer_in_netns"] = v;
  Op vl;
  vl.kind = OpKind::kCreateLink;
  vl.ifindex = 103;
  vl.spec.kind = "vlan";
  vl.spec.name = "br0.40";
  vl.spec.parent = 100;
  vl.spec.desc = topology::kind_by_info("vlan");
  vl.spec.info = {{&vl.spec.desc->attrs[vl.spec.desc->index_of("id")], topology::InfoValue{40, {}}}};
  vl.spec.alias = "vnet:h";
  m["create_vlan"] = vl;
  Op mv;
  mv.kind = OpKind::kCreateLink;
  mv.ifindex = 104;
  mv.spec.kind = "macvlan";
  mv.spec.name = "mv";
  mv.spec.parent = 103;
  mv.spec.desc = topology::kind_by_info("macvlan");
  mv.spec.info = {{&mv.spec.desc->attrs[mv.spec.desc->index_of("mode")], topology::InfoValue{MACVLAN_MODE_BRIDGE, {}}}};
  mv.spec.alias = "vnet:h";
  mv.spec.has_dest = true;
  mv.spec.dest_ns = "web";
  m["create_macvlan_moved"] = mv;
  Op d;
  d.kind = OpKind::kDeleteLink;
  d.ifindex = 100;
  m["delete_link"] = d;
  Op s;
  s.kind = OpKind::kSetLink;
  s.ifindex = 101;
  s.mtu = 1400;
  s.addr_gen_mode = kAddrGenNone;
  m["set_mtu_addrgenmode"] = s;
  Op sb;
  sb.kind = OpKind::kSetLink;
  sb.ifindex = 100;
  sb.desc = &topology::bridge_kind();
  sb.info = bridge_info({{"vlan_filtering", 1}, {"default_pvid", 0}});
  sb.info.erase(sb.info.begin());  // stp unchanged
  m["set_bridge_options"] = sb;
  Op ms;
  ms.kind = OpKind::kSetMaster;
  ms.ifindex = 101;
  ms.master = 100;
  m["set_master"] = ms;
  Op pv;
  pv.kind = OpKind::kSetVlans;
  pv.ifindex = 101;
  pv.vlan_add = {{40, true, true}, {10, false, false}, {11, false, false}, {12, false, false}};
  pv.vlan_del = {{1, true, true}};
  m["set_port_vlans_range"] = pv;
  Op sv;
  sv.kind = OpKind::kSetVlans;
  sv.ifindex = 100;
  sv.self = true;
  sv.vlan_add = {{40, false, false}};
  m["set_self_vlans"] = sv;
  Op a;
  a.kind = OpKind::kAddAddress;
  a.ifindex = 101;
  a.addr = addr4(10, 1, 40, 2, 24);
  m["add_address"] = a;
  Op r;
  r.kind = OpKind::kAddRoute;
  r.ifindex = 101;
  r.route.gateway = ip4(10, 1, 40, 1);
  r.route.proto = kRouteProtoVnet;
  m["add_default_route"] = r;
  r.kind = OpKind::kDelRoute;
  m["del_default_route"] = r;
  Op up;
  up.kind = OpKind::kSetUp;
  up.ifindex = 101;
  m["set_up"] = up;
  Op mk;
  mk.kind = OpKind::kMark;
  mk.ifindex = 5;
  mk.alias = "vnet:h";
  m["mark"] = mk;
  Op dg;
  dg.kind = OpKind::kDeleteLink;
  dg.ifindex = 5;
  dg.delete_group = 0x766e6574;
  m["delete_link_grouped"] = dg;  // joins the group; one RTM_DELLINK of the group follows
  // a described kind: every attribute type on the wire (u32, IPv4, be16 port, bool, link)
  Op vx;
  vx.kind = OpKind::kCreateLink;
  vx.ifindex = 0x66;
  vx.spec.kind = "vxlan";
  vx.spec.name = "vx0";
  vx.spec.parent = 5;
  vx.spec.desc = topology::kind_by_info("vxlan");
  for (const topology::KindAttr& a : vx.spec.desc->attrs) {
    topology::InfoValue v;
    if (std::string(a.key) == "vni") v.number = 100;
    else if (std::string(a.key) == "local") v.ip = ip4(192, 0, 2, 1);
    else if (std::string(a.key) == "remote") v.ip = ip4(192, 0, 2, 2);
    else if (std::string(a.key) == "dstport") v.number = 4789;
    else if (std::string(a.key) == "learning") v.number = 0;
    else continue;
    vx.spec.info.push_back({&a, v});
  }
  m["create_vxlan"] = vx;
  Op vs;
  vs.kind = OpKind::kSetLink;
  vs.ifindex = 0x66;
  vs.desc = vx.spec.desc;
  vs.info = {{&vx.spec.desc->attrs[vx.spec.desc->index_of("learning")], topology::InfoValue{1, {}}}};
  m["set_vxlan_learning"] = vs;
  Op mo;
  mo.kind = OpKind::kMoveLink;
  mo.ifindex = 5;
  mo.to_ns = "b";
  m["move"] = mo;
  return m;
}

TEST(Codec, EncodesOpsAsGoldenBytes) {
  EncodeContext ctx;
  ctx.netns_fd = [](const std::string&) { return 7; };
  std::map<std::string, std::string> got;
  for (const auto& [name, op] : golden_ops()) {
    std::vector<uint8_t> buf;
    uint32_t seq = 1;
    netlink::encode(op, ctx, buf, seq);
    got[name] = to_hex(buf);
  }
  if (getenv("VNET_UPDATE_GOLDEN")) {
    std::ofstream out(kGolden);
    for (const auto& [k, v] : got) out << k << " " << v << "\n";
    GTEST_SKIP() << "golden rewritten: " << kGolden;
  }
  std::ifstream in(kGolden);
  ASSERT_TRUE(in) << kGolden << " missing (run with VNET_UPDATE_GOLDEN=1)";
  std::map<std::string, std::string> want;
  std::string k, v;
  while (in >> k >> v) want[k] = v;
  EXPECT_EQ(got.size(), want.size());
  for (const auto& [name, hex] : got) EXPECT_EQ(hex, want[name]) << name;
}

TEST(Codec, SetUpIsOneSetlinkWithIffUp) {
  // hand-checked against struct nlmsghdr + struct ifinfomsg (linux/rtnetlink.h)
  Op up;
  up.kind = OpKind::kSetUp;
  up.ifindex = 0x65;
  std::vector<uint8_t> buf;
  uint32_t seq = 9;
  ASSERT_EQ(netlink::encode(up, {}, buf, seq), 1u);
  EXPECT_EQ(to_hex(buf),
            "20000000" "1300" "0500" "09000000" "00000000"  // len 32, RTM_SETLINK, REQUEST|ACK, seq 9
            "00" "00" "0000" "65000000" "01000000" "01000000");  // AF_UNSPEC, idx, IFF_UP, change
  EXPECT_EQ(seq, 10u);
}

TEST(Codec, CreateCarriesTheOwnershipMarkInTheSameBatch) {
  std::vector<uint8_t> buf;
  uint32_t seq = 1;
  EXPECT_EQ(netlink::encode(golden_ops()["create_bridge"], {}, buf, seq), 2u);
  EXPECT_EQ(seq, 3u);
  EXPECT_NE(to_hex(buf).find(to_hex(std::vector<uint8_t>{'v', 'n', 'e', 't', ':', 'h', 0})),
            std::string::npos);
}

TEST(Codec, TapCreateEncodesOnlyTheMark) {
  Op t;
  t.kind = OpKind::kCreateLink;
  t.spec.kind = "tun";
  t.spec.name = "t0";
  t.spec.alias = "vnet:h";
  t.ifindex = 9;
  EncodeContext ctx;
  ctx.ifindex = [](int) { return 77; };  // the index /dev/net/tun gave
  std::vector<uint8_t> buf;
  uint32_t seq = 1;
  ASSERT_EQ(netlink::encode(t, ctx, buf, seq), 1u);
  const auto* ifi = reinterpret_cast<const ifinfomsg*>(buf.data() + 16);
  EXPECT_EQ(ifi->ifi_index, 77);
}

TEST(Codec, AScatteredTrunkIsSplitIntoBoundedMessagesCarryingEveryVlan) {
  // tagged = [2, 4, ..., 4094]: 2047 VLANs no range can merge (this overflowed a fixed
  // 16 KiB buffer before), plus a PVID to delete afterwards
  Op op;
  op.kind = OpKind::kSetVlans;
  op.ifindex = 5;
  for (uint16_t v = 2; v <= 4094; v += 2) op.vlan_add.push_back({v, false, false});
  op.vlan_del.push_back({1, true, true});
  std::vector<uint8_t> buf;
  uint32_t seq = 1;
  size_t n = netlink::encode(op, {}, buf, seq);
  EXPECT_EQ(n, 5u);  // four chunks of adds, then the delete
  std::set<uint16_t> added;
  size_t off = 0, msgs = 0;
  uint16_t last_type = 0;
  while (off < buf.size()) {
    const auto* h = reinterpret_cast<const nlmsghdr*>(buf.data() + off);
    ASSERT_LE(h->nlmsg_len, 8192u);
    ASSERT_LE(off + h->nlmsg_len, buf.size());
    last_type = h->nlmsg_type;
    const auto* spec = reinterpret_cast<const nlattr*>(buf.data() + off + NLMSG_HDRLEN +
                                                       NLMSG_ALIGN(sizeof(ifinfomsg)));
    ASSERT_EQ(spec->nla_type & NLA_TYPE_MASK, IFLA_AF_SPEC);
    for (size_t a = NLA_HDRLEN; a < spec->nla_len;) {
      const auto* attr = reinterpret_cast<const nlattr*>(reinterpret_cast<const uint8_t*>(spec) + a);
      if (attr->nla_type == IFLA_BRIDGE_VLAN_INFO && h->nlmsg_type == RTM_SETLINK) {
        const auto* info = reinterpret_cast<const bridge_vlan_info*>(
            reinterpret_cast<const uint8_t*>(attr) + NLA_HDRLEN);
        EXPECT_TRUE(added.insert(info->vid).second) << info->vid;
      }
      a += NLA_ALIGN(attr->nla_len);
    }
    off += NLMSG_ALIGN(h->nlmsg_len);
    ++msgs;
  }
  EXPECT_EQ(msgs, n);
  EXPECT_EQ(added.size(), 2047u);
  EXPECT_EQ(last_type, RTM_DELLINK);  // the delete comes after every add
}

TEST(Codec, DecodesAckWithExtendedAckMessage) {
  // NLMSG_ERROR, flags CAPPED|ACK_TLVS, seq 7, error -95, the request header, then
  // NLMSGERR_ATTR_MSG "Unknown device type"
  std::string hex =
      "3c000000" "0200" "0003" "07000000" "00000000"
      "a1ffffff" "20000000" "1000" "0506" "07000000" "00000000"
      "18000100" "556e6b6e6f776e206465766963652074797065" "00";
  std::vector<uint8_t> b = from_hex(hex);
  std::vector<netlink::Ack> acks;
  ASSERT_TRUE(netlink::decode_acks(b, acks));
  ASSERT_EQ(acks.size(), 1u);
  EXPECT_EQ(acks[0].seq, 7u);
  EXPECT_EQ(acks[0].error, 95);
  EXPECT_EQ(acks[0].msg, "Unknown device type");
}

TEST(Codec, DecodesPlainAck) {
  std::vector<uint8_t> b = from_hex("24000000" "0200" "0001" "05000000" "00000000" "00000000"
                                    "10000000" "1300" "0500" "05000000" "00000000");
  std::vector<netlink::Ack> acks;
  ASSERT_TRUE(netlink::decode_acks(b, acks));
  ASSERT_EQ(acks.size(), 1u);
  EXPECT_EQ(acks[0].error, 0);
  EXPECT_EQ(acks[0].seq, 5u);
}

std::vector<uint8_t> read_hex(const std::string& name) {
  std::ifstream in(kData + name);
  std::stringstream ss;
  ss << in.rdbuf();
  return from_hex(ss.str());
}

// Recorded from the host kernel: a namespace with bridge br0 (mtu 1400, alias vnet:rec,
// 10.7.0.1/24), veth vb-a (master br0, addrgenmode none) whose peer eth0 is in the same
// namespace with 10.7.0.2/24 and a default route via 10.7.0.1, a tap t0 (vnet_hdr,
// owner 1000) and macvlan mv0 on br0 (mode private).
TEST(Codec, DecodesRecordedDumps) {
  plan::NetnsState ns;
  for (auto [k, f] : {std::pair{netlink::DumpKind::kLinks, "links.hex"},
                      {netlink::DumpKind::kBridgeVlans, "bridge_vlans.hex"},
                      {netlink::DumpKind::kAddrs, "addrs.hex"},
                      {netlink::DumpKind::kRoutes, "routes.hex"}}) {
    auto bytes = read_hex(f);
    ASSERT_FALSE(bytes.empty()) << f;
    ASSERT_TRUE(netlink::decode_dump(k, bytes, ns)) << f;
  }
  const LinkState* br = ns.by_name("br0");
  const LinkState* vb = ns.by_name("vb-a");
  const LinkState* eth = ns.by_name("eth0");
  const LinkState* t0 = ns.by_name("t0");
  const LinkState* mv = ns.by_name("mv0");
  ASSERT_TRUE(br && vb && eth && t0 && mv);
  EXPECT_EQ(br->kind, "bridge");
  EXPECT_EQ(br->alias, "vnet:rec");
  EXPECT_EQ(br->mtu, 1400u);
  EXPECT_TRUE(br->up);
  EXPECT_FALSE(br->vlan_filtering());
  EXPECT_EQ(vb->kind, "veth");
  EXPECT_EQ(vb->master, br->ifindex);
  EXPECT_EQ(vb->link, eth->ifindex);
  EXPECT_EQ(eth->link, vb->ifindex);
  EXPECT_FALSE(vb->link_other_netns);
  EXPECT_EQ(vb->addr_gen_mode, std::optional<uint8_t>(kAddrGenNone));
  EXPECT_EQ(t0->kind, "tun");
  EXPECT_TRUE(t0->tun_tap);
  EXPECT_EQ(t0->number("vnet_hdr"), std::optional<uint64_t>(1));
  EXPECT_TRUE(t0->tun_persist);
  EXPECT_EQ(t0->number("owner"), std::optional<uint64_t>(1000));
  EXPECT_EQ(mv->kind, "macvlan");
  EXPECT_EQ(mv->link, br->ifindex);
  EXPECT_EQ(mv->info.at(IFLA_MACVLAN_MODE).number, uint64_t{MACVLAN_MODE_PRIVATE});
  bool has_addr = false;
  for (const AddrState& a : br->addrs) has_addr |= a == addr4(10, 7, 0, 1, 24);
  EXPECT_TRUE(has_addr);
  ASSERT_EQ(ns.routes.size(), 1u);
  EXPECT_EQ(ns.routes[0].gateway, ip4(10, 7, 0, 1));
  EXPECT_EQ(ns.routes[0].oif, eth->ifindex);
}

TEST(Codec, DumpRequestsAskForBridgeVlans) {
  auto req = netlink::dump_request(netlink::DumpKind::kBridgeVlans, 3);
  // RTM_GETLINK, NLM_F_REQUEST|NLM_F_DUMP, family AF_BRIDGE, IFLA_EXT_MASK = RTEXT_FILTER_BRVLAN
  EXPECT_EQ(to_hex(req), "28000000" "1200" "0103" "03000000" "00000000"
                         "07" "00" "0000" "00000000" "00000000" "00000000"
                         "0800" "1d00" "02000000");
}

}  // namespace
}  // namespace vnet::testing
