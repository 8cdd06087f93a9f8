// kernel tier (runs inside `vnet vm-run`, a stock Debian kernel with 802.1Q and bridge
// VLAN filtering): a VLAN-aware bridge with an uplink trunk (tagged 10, 40), veths into
// VLAN 40 and 10 as access ports (PVID, egress untagged), the bridge's own VLANs and
// 802.1Q sub-interfaces with addresses. Checked with `bridge -j vlan` and by traffic:
// two namespaces on VLAN 40 reach each other and the upstream router through the trunk,
// a namespace on VLAN 10 reaches neither.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "plan/format.h"
#include "plan/show.h"
#include "tests/netlink/netns_fixture.h"

namespace vnet::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

const char* kVilla = R"(
[host]
name = "villa"

[bridges.br0]
vlan_filtering = true
default_pvid = 1
vlans = [10]

[links.up0]
bridge = "br0"
tagged = [10, 40]

[vlans."br0.40"]
link = "br0"
id = 40
addresses = ["10.1.40.2/24"]

[veths.vb-a]
peer = "eth0"
bridge = "br0"
pvid = 40
peer_netns = "a"
peer_addresses = ["10.1.40.11/24"]

[veths.vb-b]
peer = "eth0"
bridge = "br0"
pvid = 40
peer_netns = "b"
peer_addresses = ["10.1.40.12/24"]

[veths.vb-c]
peer = "eth0"
bridge = "br0"
pvid = 10
peer_netns = "c"
peer_addresses = ["10.1.40.13/24"]
)";

class KernelVlan : public NetnsTest {
 protected:
  void SetUp() override {
    NetnsTest::SetUp();
    if (sh("ip link add name vnprobe0 type bridge vlan_filtering 1 && ip link del vnprobe0 && echo ok") !=
        "ok\n")
      GTEST_SKIP() << "this kernel has no bridge VLAN filtering: run under `vnet vm-run`";
    with_vlans_ = true;
    // the uplink: up0 in the target, up1 in "upstream" with a router on VLAN 40
    std::string up = kname("upstream");
    ASSERT_TRUE(netlink::create_netns(up));
    sh("ip -n " + target_ + " link add name up0 type veth peer name up1 netns " + up);
    sh("ip -n " + target_ + " link set up0 up");
    sh("ip -n " + up + " link set up1 up");
    sh("ip -n " + up + " link add link up1 name up1.40 type vlan id 40");
    sh("ip -n " + up + " addr add 10.1.40.254/24 dev up1.40");
    sh("ip -n " + up + " link set up1.40 up");
  }
  // Applies `toml` once per op of its plan (at least `min_ops`), with that op made to
  // fail; each time the apply must fail and leave the kernel as `before`.
  // `no_undo_errors`: the error must not report an undo that went wrong either.
  void fail_every_step(const std::string& toml, const std::string& before, size_t min_ops,
                       bool no_undo_errors = false) {
    auto pl = netlink::plan(load(toml), opts());
    ASSERT_TRUE(pl);
    size_t n = pl->plan.ops.size();
    ASSERT_GE(n, min_ops);
    for (size_t k = 0; k < n; ++k) {
      auto o = opts();
      o.fail_at_step = k;
      auto r = netlink::apply(load(toml), o);
      ASSERT_FALSE(r);
      if (no_undo_errors) {
        EXPECT_THAT(r.error().str(), ::testing::Not(HasSubstr("undo"))) << "step " << k;
      }
      ASSERT_EQ(lib_state(), before) << "step " << k << ": " << pl->plan.ops[k].describe();
    }
  }
  bool ping(const std::string& from, const std::string& to) {
    int rc = 0;
    sh("ip netns exec " + kname(from) + " ping -c2 -i0.3 -W2 " + to, &rc);
    return rc == 0;
  }
  nlohmann::json vlans_of(const std::string& dev) {
    for (auto& p : ipj_bridge("vlan show"))
      if (p.value("ifname", "") == dev) return p["vlans"];
    return nullptr;
  }
  nlohmann::json ipj_bridge(const std::string& args) {
    auto j = nlohmann::json::parse(sh("bridge -n " + target_ + " -j " + args), nullptr, false);
    return j.is_discarded() ? nlohmann::json::array() : j;
  }
};

std::string vlan_str(const nlohmann::json& vlans) {
  std::string s;
  for (auto& v : vlans) {
    s += std::to_string(v.value("vlan", 0));
    for (auto& f : v.value("flags", nlohmann::json::array())) s += " " + f.get<std::string>();
    s += ";";
  }
  return s;
}

TEST_F(KernelVlan, BuildsVlanAwareBridgeAndTrafficFollowsVlans) {
  auto r = apply(kVilla);
  ASSERT_TRUE(r) << r.error().str();
  EXPECT_EQ(link("", "br0")["linkinfo"]["info_data"]["vlan_filtering"], 1);
  EXPECT_EQ(vlan_str(vlans_of("vb-a")), "40 PVID Egress Untagged;");
  EXPECT_EQ(vlan_str(vlans_of("vb-c")), "10 PVID Egress Untagged;");
  EXPECT_EQ(vlan_str(vlans_of("up0")), "10;40;");
  // self: default PVID 1, declared 10, and 40 implied by the br0.40 sub-interface
  EXPECT_EQ(vlan_str(vlans_of("br0")), "1 PVID Egress Untagged;10;40;");
  auto v40 = link("", "br0.40");
  ASSERT_FALSE(v40.is_null());
  EXPECT_EQ(v40["linkinfo"]["info_data"]["id"], 40);
  EXPECT_THAT(addrs("", "br0.40"), ElementsAre("10.1.40.2/24"));

  EXPECT_TRUE(ping("a", "10.1.40.12")) << "VLAN 40 to VLAN 40";
  EXPECT_TRUE(ping("a", "10.1.40.2")) << "VLAN 40 to the bridge's own br0.40";
  EXPECT_TRUE(ping("b", "10.1.40.254")) << "VLAN 40 through the trunk to upstream";
  EXPECT_FALSE(ping("c", "10.1.40.11")) << "VLAN 10 must not reach VLAN 40";
  EXPECT_FALSE(ping("c", "10.1.40.254"));

  auto again = apply(kVilla);
  ASSERT_TRUE(again) << again.error().str();
  EXPECT_FALSE(again->changed());
  EXPECT_EQ(again->requests, 0u);
}

// `vnet show` of a VLAN-aware bridge, its trunk, access ports and sub-interface, applied
// again, changes nothing: show is the inverse of the VLAN rules.
TEST_F(KernelVlan, ShowOfTheVillaPlansAsNothing) {
  ASSERT_TRUE(apply(kVilla));
  auto pl = netlink::plan(load(kVilla), opts());
  ASSERT_TRUE(pl) << pl.error().str();
  auto shown = plan::show(pl->snapshot, {});
  ASSERT_TRUE(shown) << shown.error().what;
  EXPECT_THAT(shown->toml, HasSubstr("[links.up0]\nbridge = \"br0\"\ntagged = [10, 40]\n"));
  EXPECT_THAT(shown->toml, HasSubstr("[veths.vb-c]\npeer = \"eth0\"\npeer_netns = \"c\"\n"));
  auto again = netlink::plan(load(shown->toml), opts());
  ASSERT_TRUE(again) << again.error().str();
  EXPECT_TRUE(again->plan.ops.empty()) << shown->toml << plan::plan_text(again->plan);
}

TEST_F(KernelVlan, ATrunkOfEveryEvenVlanAppliesAndReappliesAsNothing) {
  // 2047 VLANs no range merges: crashed apply (a fixed 16 KiB message buffer) before.
  std::string tagged;
  for (int v = 2; v <= 4094; v += 2) tagged += (tagged.empty() ? "" : ", ") + std::to_string(v);
  std::string file = "[host]\nname = \"t1\"\n[bridges.br0]\nvlan_filtering = true\n"
                     "[veths.vb-t]\npeer = \"eth0\"\nbridge = \"br0\"\npeer_netns = \"t\"\n"
                     "tagged = [" + tagged + "]\n";
  auto r = apply(file);
  ASSERT_TRUE(r) << r.error().str();
  auto v = vlans_of("vb-t");
  ASSERT_EQ(v.size(), 2047u);
  EXPECT_EQ(v.front()["vlan"], 2);
  EXPECT_EQ(v.back()["vlan"], 4094);
  auto again = apply(file);
  ASSERT_TRUE(again) << again.error().str();
  EXPECT_FALSE(again->changed());
}

TEST_F(KernelVlan, MovingAPortToAnotherVlanIsOneVlanChange) {
  ASSERT_TRUE(apply(kVilla));
  std::string edited = kVilla;
  size_t at = edited.find("pvid = 40\npeer_netns = \"b\"");
  edited.replace(at, 9, "pvid = 10");
  auto r = apply(edited);
  ASSERT_TRUE(r) << r.error().str();
  ASSERT_EQ(r->plan.ops.size(), 1u);
  EXPECT_EQ(r->plan.ops[0].describe(), "set vlans of veth vb-b: +10 pvid untagged, -40");
  EXPECT_EQ(vlan_str(vlans_of("vb-b")), "10 PVID Egress Untagged;");
  EXPECT_FALSE(ping("a", "10.1.40.12"));
}

// vnet watch (issue 19): a changed PVID and a trunk VLAN someone removed are put back
// from the rtnetlink bridge-VLAN events, and only the owned ports are touched.
TEST_F(KernelVlan, WatchRestoresAChangedPvidAndARemovedTrunkVlan) {
  char tmpl[] = "/tmp/vnet-watch-vlan-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  std::string dir = tmpl, file = dir + "/host.toml", log = dir + "/log";
  std::ofstream(file) << "[host]\nname = \"wv\"\n[bridges.br0]\nvlan_filtering = true\n"
                         "[taps.tw0]\nbridge = \"br0\"\npvid = 40\n"
                         "[taps.tw1]\nbridge = \"br0\"\ntagged = [10, 20]\n";
  std::string pid = sh("VNET_RUN_DIR=" + dir + " " + VNET_BINARY + " --netns " + target_ +
                       " watch " + file + " > " + log + " 2>&1 & echo $!");
  pid.erase(pid.find_last_not_of(" \n") + 1);
  auto log_has = [&](const std::string& what, int times) {
    for (int i = 0; i < 500; ++i, std::this_thread::sleep_for(std::chrono::milliseconds(20))) {
      std::string text = sh("cat " + log);
      int count = 0;
      for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++count;
      if (count >= times) return true;
    }
    return false;
  };
  ASSERT_TRUE(log_has("watching 1 namespace(s)", 1)) << sh("cat " + log);
  EXPECT_EQ(vlan_str(vlans_of("tw0")), "40 PVID Egress Untagged;");
  std::string b = "bridge -n " + target_ + " vlan ";
  sh(b + "add dev tw0 vid 10 pvid untagged");
  ASSERT_TRUE(log_has("repaired drift", 1)) << sh("cat " + log);
  EXPECT_EQ(vlan_str(vlans_of("tw0")), "40 PVID Egress Untagged;");
  sh(b + "del dev tw1 vid 20");
  ASSERT_TRUE(log_has("repaired drift", 2)) << sh("cat " + log);
  EXPECT_EQ(vlan_str(vlans_of("tw1")), "10;20;");
  int rc = -1;
  sh("kill -TERM " + pid + "; for i in $(seq 250); do kill -0 " + pid +
         " 2>/dev/null || exit 0; sleep 0.02; done; exit 1", &rc);
  EXPECT_EQ(rc, 0) << "vnet watch did not stop on SIGTERM";
  sh("VNET_RUN_DIR=" + dir + " " + VNET_BINARY + " --netns " + target_ + " destroy " + file);
  std::filesystem::remove_all(dir);
}

TEST_F(KernelVlan, DestroyReleasesTheUplinkAndRemovesTheRest) {
  std::string before = state();
  ASSERT_TRUE(apply(kVilla));
  auto r = destroy(kVilla);
  ASSERT_TRUE(r) << r.error().str();
  auto up0 = link("", "up0");
  ASSERT_FALSE(up0.is_null());
  EXPECT_NE(up0["flags"].dump().find("\"UP\""), std::string::npos);
  EXPECT_EQ(state(), before);
}

// The kinds this host kernel lacks (dummy; vxlan it has) as VLAN-aware bridge ports, with
// an address and a route; every failed step of adding them leaves the bridge as it was.
TEST_F(KernelVlan, DummiesAndAVxlanTrunkArePortsAndEveryFailedStepRestoresTheBridge) {
  std::string file = std::string(kVilla) + R"(
[dummies.svc0]
addresses = ["192.0.2.10/32"]
routes = [{ to = "198.51.100.0/24" }]

[dummies.d-port]
bridge = "br0"
pvid = 40

[vxlans.vx40]
vni = 40
local = "10.1.40.2"
remote = "10.1.40.254"
bridge = "br0"
tagged = [10, 40]
)";
  ASSERT_TRUE(apply(kVilla));
  fail_every_step(file, lib_state(), 8);
  auto r = apply(file);
  ASSERT_TRUE(r) << r.error().str();
  auto svc = link("", "svc0");
  ASSERT_FALSE(svc.is_null());
  EXPECT_EQ(svc["linkinfo"]["info_kind"], "dummy");
  EXPECT_THAT(addrs("", "svc0"), ElementsAre("192.0.2.10/32"));
  EXPECT_THAT(routes("", "-4"), ::testing::Contains("198.51.100.0/24 dev svc0 proto 118 scope link "));
  EXPECT_EQ(vlans_of("d-port"), nlohmann::json::parse(R"([{"vlan":40,"flags":["PVID","Egress Untagged"]}])"));
  EXPECT_EQ(vlans_of("vx40"), nlohmann::json::parse(R"([{"vlan":10},{"vlan":40}])"));
  EXPECT_FALSE(apply(file)->changed());
  ASSERT_TRUE(destroy(file));
  EXPECT_TRUE(link("", "svc0").is_null());
  EXPECT_TRUE(link("", "vx40").is_null());
}

// The Proxmox pattern: two NICs bonded, the bond a trunk port of the VLAN-aware bridge.
// Members are enslaved down (the driver refuses up ones), and destroy gives them back up.
TEST_F(KernelVlan, ABondOfTwoNicsIsATrunkPortAndDestroyGivesTheNicsBack) {
  std::string up = kname("upstream");
  for (const char* m : {"m0", "m1"}) {
    sh("ip -n " + target_ + " link add " + m + " type veth peer name " + m + "p netns " + up);
    sh("ip -n " + target_ + " link set " + m + " up");
  }
  std::string file = R"([host]
name = "bondt"
[bridges.br0]
vlan_filtering = true
[bonds.bond0]
mode = "active-backup"
miimon = 100
members = ["m0", "m1"]
bridge = "br0"
tagged = [40]
)";
  std::string before = lib_state();
  fail_every_step(file, before, 6);
  auto r = apply(file);
  ASSERT_TRUE(r) << r.error().str();
  auto bond = link("", "bond0");
  ASSERT_FALSE(bond.is_null());
  EXPECT_EQ(bond["linkinfo"]["info_kind"], "bond");
  EXPECT_EQ(bond["linkinfo"]["info_data"]["mode"], "active-backup");
  EXPECT_EQ(bond["linkinfo"]["info_data"]["miimon"], 100);
  for (const char* m : {"m0", "m1"}) {
    EXPECT_EQ(link("", m)["master"], "bond0") << m;
    EXPECT_NE(link("", m)["flags"].dump().find("\"UP\""), std::string::npos) << m;
  }
  EXPECT_EQ(vlans_of("bond0"), nlohmann::json::parse(R"([{"vlan":40}])"));
  EXPECT_FALSE(apply(file)->changed());
  std::string slower = file;
  slower.replace(slower.find("miimon = 100"), 12, "miimon = 200");
  auto pl = netlink::plan(load(slower), opts());
  ASSERT_TRUE(pl);
  ASSERT_EQ(pl->plan.ops.size(), 1u);
  EXPECT_EQ(pl->plan.ops[0].describe(), "set bond bond0 miimon 200");
  ASSERT_TRUE(apply(slower));
  EXPECT_EQ(link("", "bond0")["linkinfo"]["info_data"]["miimon"], 200);
  ASSERT_TRUE(destroy(slower));
  EXPECT_EQ(lib_state(), before);
}

TEST_F(KernelVlan, FailingEveryStepRestoresTheVlanState) {
  fail_every_step(kVilla, lib_state(), 0);
}

// Undo of a delete: a removal that fails half-way brings back the removed VLAN-10 access
// port (its VLANs exactly, not the default PVID the kernel gives a new port) and the
// sub-interface that carried the default route (its address and the route).
TEST_F(KernelVlan, FailingEveryStepOfARemovalRestoresVlansAndRoutes) {
  std::string full = kVilla;
  full.replace(full.find("addresses = [\"10.1.40.2/24\"]"), 0,
               "gateway = \"10.1.40.254\"\n");
  ASSERT_TRUE(apply(full));
  std::string before = lib_state();
  ASSERT_THAT(before, HasSubstr("default via 10.1.40.254"));
  ASSERT_THAT(before, HasSubstr("vlans=10PU,"));
  // The same file without vb-c and br0.40.
  std::string smaller = full;
  size_t a = smaller.find("[vlans.\"br0.40\"]");
  smaller.erase(a, smaller.find("[veths.vb-a]") - a);
  smaller.erase(smaller.find("[veths.vb-c]"));
  ASSERT_NO_FATAL_FAILURE(fail_every_step(smaller, before, 2));
  ASSERT_TRUE(apply(smaller));
  EXPECT_THAT(lib_state(), ::testing::Not(HasSubstr("default via")));
}

// Undo of a release: a port taken off the bridge (and given an address, a step after the
// release that can fail) goes back with the VLANs it had, not with the default PVID the
// kernel gives a port that joins.
TEST_F(KernelVlan, FailingEveryStepOfAReleaseRestoresThePortsVlans) {
  ASSERT_TRUE(apply(kVilla));
  std::string before = lib_state();
  std::string released = kVilla;
  const std::string port = "bridge = \"br0\"\npvid = 10\n";
  released.replace(released.find(port, released.find("[veths.vb-c]")), port.size(),
                   "addresses = [\"10.9.9.1/24\"]\n");
  fail_every_step(released, before, 1);
}

// Undo of a bridge's removal: the bridge comes back with its own VLANs, its 802.1Q
// child, and its ports (the kernel released them when it went) enslaved again with the
// VLANs they had.
TEST_F(KernelVlan, FailingEveryStepOfABridgeRemovalRestoresItsPorts) {
  ASSERT_TRUE(apply(kVilla));
  std::string before = lib_state();
  std::string plain = "[host]\nname = \"villa\"\n[links.up0]\n";
  for (const char* x : {"a", "b", "c"})
    plain += std::string("[veths.vb-") + x + "]\npeer = \"eth0\"\npeer_netns = \"" + x +
             "\"\n";
  fail_every_step(plain, before, 2, /*no_undo_errors=*/true);
}

}  // namespace
}  // namespace vnet::testing
