// `vnet show` on snapshots built by hand: the inverse of the model's VLAN and
// link-local rules, and the round trip that matters (show, load, plan: nothing to do).
#include <linux/if_link.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "plan/show.h"
#include "topology/load.h"
#include "tests/plan/builders.h"

namespace vnet::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

std::vector<std::string> replan(const World& w, const std::string& text) {
  auto t = topology::load_string(text, "shown.toml");
  if (!t) {
    ADD_FAILURE() << topology::format_diagnostics(t.error(), text);
    return {"(invalid)"};
  }
  PlanOptions o;
  o.first_ifindex = 0;
  return World::lines(make_plan(*t, w.snap, o));
}

// What `apply` leaves for a VLAN-aware bridge with an access port, a trunk, a port in
// the default VLAN, a trunk with a native VLAN and a VLAN sub-interface with an address.
World vlan_host() {
  World w;
  LinkState& br = w.have("", 2, "br0", "bridge");
  br.set_number("vlan_filtering", 1);
  br.set_number("default_pvid", 1);
  br.vlans = {{1, true, true}, {40, false, false}};
  br.addr_gen_mode = kAddrGenEui64;
  auto port = [&](int idx, const std::string& name, std::vector<VlanEntry> vlans) {
    LinkState& p = w.have("", idx, name, "tun");
    p.master = 2;
    p.vlans = std::move(vlans);
    p.addr_gen_mode = kAddrGenNone;
  };
  port(3, "tap-access", {{40, true, true}});
  port(4, "tap-trunk", {{10, false, false}, {20, false, false}});
  port(5, "tap-default", {{1, true, true}});
  port(6, "tap-native", {{1, true, true}, {30, false, false}});
  port(7, "tap-none", {});
  std::vector<VlanEntry> proxmox;  // bridge-vids 2-4094 with a native VLAN 1
  proxmox.push_back({1, true, true});
  for (uint16_t v = 2; v <= 4094; ++v) proxmox.push_back({v, false, false});
  port(9, "tap-trunk-all", proxmox);
  LinkState& v = w.have("", 8, "br0.40", "vlan");
  v.link = 2;
  v.info[IFLA_VLAN_ID].number = 40;
  v.addr_gen_mode = kAddrGenEui64;
  v.addrs = {addr4(10, 1, 40, 1, 24)};
  return w;
}

TEST(Show, WritesVlanMembershipAsTheFileThatBuildsIt) {
  World w = vlan_host();
  auto r = show(w.snap, {});
  ASSERT_TRUE(r) << r.error().what;
  EXPECT_EQ(r->toml,
            "[host]\nname = \"h\"\n"
            "\n[bridges.br0]\nvlan_filtering = true\nvlans = [40]\n"
            "\n[taps.tap-access]\nbridge = \"br0\"\npvid = 40\n"
            "\n[taps.tap-default]\nbridge = \"br0\"\n"
            "\n[taps.tap-native]\nbridge = \"br0\"\npvid = 1\ntagged = [30]\n"
            "\n[taps.tap-none]\nbridge = \"br0\"\npvid = 0\n"
            "\n[taps.tap-trunk]\nbridge = \"br0\"\ntagged = [10, 20]\n"
            "\n[taps.tap-trunk-all]\nbridge = \"br0\"\npvid = 1\ntagged = [\"2-4094\"]\n"
            "\n[vlans.\"br0.40\"]\nlink = \"br0\"\nid = 40\naddresses = [\"10.1.40.1/24\"]\n");
  EXPECT_THAT(r->left_out, IsEmpty());
  EXPECT_THAT(replan(w, r->toml), IsEmpty());
}

TEST(Show, TakesTheOneOwnerHereAndAsksWhenThereAreSeveral) {
  World w = vlan_host();
  LinkState& other = w.have("", 9, "x0", "bridge");
  other.alias = "vnet:other";
  auto r = show(w.snap, {});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().exit, ExitCode::kBadInput);
  EXPECT_THAT(r.error().what, HasSubstr("several vnet hosts are here (h, other); pick one with --host"));
  ShowOptions o;
  o.host = "other";
  r = show(w.snap, o);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->toml, "[host]\nname = \"other\"\n\n[bridges.x0]\n");

  World none;
  r = show(none.snap, {});
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().what, HasSubstr("--all shows every link"));
}

// Existing NICs an owned link stands on become [links], so that apply finds them.
TEST(Show, DeclaresTheForeignLinksOwnedOnesStandOn) {
  World w;
  LinkState& br = w.have("", 2, "br0", "bridge");
  br.addr_gen_mode = kAddrGenEui64;
  LinkState& nic = w.have("", 3, "eno1", "", false);
  nic.master = 2;
  nic.addr_gen_mode = kAddrGenNone;
  LinkState& nic2 = w.have("", 4, "eno2", "", false);
  nic2.addr_gen_mode = kAddrGenEui64;
  LinkState& mv = w.have("", 5, "mv0", "macvlan");
  mv.link = 4;
  mv.info[IFLA_MACVLAN_MODE].number = MACVLAN_MODE_VEPA;
  mv.addr_gen_mode = kAddrGenEui64;
  auto r = show(w.snap, {});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->toml,
            "[host]\nname = \"h\"\n\n[bridges.br0]\n"
            "\n[links.eno1]\nbridge = \"br0\"\n\n[links.eno2]\n"
            "\n[macvlans.mv0]\nlink = \"eno2\"\nmode = \"vepa\"\n");
  EXPECT_THAT(replan(w, r->toml), IsEmpty());
}

TEST(Show, AllListsWhatTheSchemaCannotSay) {
  World w;
  LinkState& nic = w.have("", 2, "eth0", "", false);
  nic.addr_gen_mode = kAddrGenEui64;
  nic.addrs = {addr4(192, 0, 2, 5, 24)};
  w.have("", 3, "wg0", "wireguard", false);
  LinkState& t = w.have("", 4, "tap9", "tun", false);
  t.tun_persist = false;
  ShowOptions o;
  o.all = true;
  o.host = "box";
  auto r = show(w.snap, o);
  ASSERT_TRUE(r);
  EXPECT_THAT(r->toml, HasSubstr("[links.eth0]\n"));
  EXPECT_THAT(r->toml, HasSubstr("[taps.tap9]\n"));
  EXPECT_THAT(r->left_out,
              ElementsAre("eth0: its addresses ([links] are not addressed by vnet)",
                          "wg0: link kind 'wireguard' has no table in host.toml",
                          "tap9: not persistent (it belongs to the process that holds it)"));
  EXPECT_THAT(r->toml, HasSubstr("# not expressible in host.toml, left out:\n#   eth0: its addresses"));
}

}  // namespace
}  // namespace vnet::testing
