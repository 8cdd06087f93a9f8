// netns tier: the engine against the host kernel, in throwaway namespaces, checked with
// `ip -j` as an independent oracle. Everything this kernel supports: bridges without VLAN
// filtering, veths (peers in other namespaces), taps, macvlans, addresses, default
// routes, moves; idempotence, minimal edits, destroy, ownership, locking, rollback.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/ioctl.h>

#include <chrono>
#include <functional>
#include <filesystem>
#include <sstream>
#include <thread>

#include "netlink/executor.h"
#include "plan/format.h"
#include "plan/show.h"
#include "netlink/snapshot.h"
#include "netlink/transport.h"
#include "tests/netlink/netns_fixture.h"

namespace vnet::testing {
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::UnorderedElementsAre;

const char* kHost = R"(
[host]
name = "t1"

[bridges.br0]
mtu = 1400
addresses = ["10.9.0.1/24"]

[veths.vb-a]
peer = "eth0"
bridge = "br0"
peer_netns = "ca"
peer_addresses = ["10.9.0.2/24"]
peer_gateway = "10.9.0.1"
peer_mac = "02:00:00:00:09:02"

[veths.vb-b]
peer = "eth0"
bridge = "br0"
peer_netns = "cb"
peer_addresses = ["10.9.0.3/24"]

[taps.tap0]
bridge = "br0"
owner = "1000"

[macvlans.mv0]
link = "br0"
mode = "private"
addresses = ["10.9.1.5/24"]
)";

std::vector<std::string> op_lines(const plan::Plan& p) {
  std::vector<std::string> out;
  for (const auto& op : p.ops) out.push_back(op.describe());
  return out;
}

TEST_F(NetnsTest, AppliesEveryKindThisKernelSupports) {
  auto r = apply(kHost);
  ASSERT_TRUE(r) << r.error().str();
  EXPECT_TRUE(r->changed());
  auto br = link("", "br0");
  ASSERT_FALSE(br.is_null());
  EXPECT_EQ(br["linkinfo"]["info_kind"], "bridge");
  EXPECT_EQ(br["mtu"], 1400);
  EXPECT_EQ(br["ifalias"], "vnet:t1");
  EXPECT_THAT(addrs("", "br0"), ElementsAre("10.9.0.1/24"));
  for (const char* name : {"vb-a", "vb-b", "tap0"}) {
    auto l = link("", name);
    ASSERT_FALSE(l.is_null()) << name;
    EXPECT_EQ(l["master"], "br0") << name;
    EXPECT_NE(l["flags"].dump().find("\"UP\""), std::string::npos) << name;
    EXPECT_EQ(l["ifalias"], "vnet:t1") << name;
    // bridge ports default to link_local = "none"
    EXPECT_EQ(l["inet6_addr_gen_mode"], "none") << name;
  }
  auto tap = link("", "tap0");
  EXPECT_EQ(tap["linkinfo"]["info_data"]["type"], "tap");
  EXPECT_TRUE(tap["linkinfo"]["info_data"].contains("user"));  // uid 1000, by name if known
  auto mv = link("", "mv0");
  EXPECT_EQ(mv["linkinfo"]["info_kind"], "macvlan");
  EXPECT_EQ(mv["linkinfo"]["info_data"]["mode"], "private");
  EXPECT_EQ(mv["link"], "br0");
  auto peer = link("ca", "eth0");
  ASSERT_FALSE(peer.is_null());
  EXPECT_EQ(peer["address"], "02:00:00:00:09:02");
  EXPECT_THAT(addrs("ca", "eth0"), ElementsAre("10.9.0.2/24"));
  EXPECT_THAT(ip("ca", "route show default"), HasSubstr("default via 10.9.0.1 dev eth0"));
  EXPECT_THAT(addrs("cb", "eth0"), ElementsAre("10.9.0.3/24"));
  // and traffic flows across the bridge
  int rc = 0;
  std::string out = sh("ip netns exec " + kname("ca") + " ping -c1 -W2 10.9.0.3", &rc);
  EXPECT_EQ(rc, 0) << out;
}

TEST_F(NetnsTest, SecondApplySendsNoWriteRequest) {
  ASSERT_TRUE(apply(kHost));
  auto r = apply(kHost);
  ASSERT_TRUE(r) << r.error().str();
  EXPECT_FALSE(r->changed());
  EXPECT_EQ(r->requests, 0u);
  EXPECT_EQ(r->sendmsgs, 0u);
}

TEST_F(NetnsTest, CliSaysNoChangesOnSecondApply) {
  std::string ns = id_ + "-cli";
  std::string file = "/run/" + id_ + ".toml";
  std::ofstream(file) << "[host]\nname = \"cli\"\n[bridges.br0]\n[veths.v0]\npeer = \"p0\"\nbridge = \"br0\"\n"
                         "peer_netns = \"" << ns << "\"\npeer_addresses = [\"10.3.0.2/24\"]\n";
  std::string vnet = VNET_BINARY;
  int rc = 0;
  std::string out = sh(vnet + " --netns " + target_ + " apply " + file, &rc);
  EXPECT_EQ(rc, 0) << out;
  out = sh(vnet + " --netns " + target_ + " apply " + file, &rc);
  EXPECT_EQ(rc, 0);
  EXPECT_EQ(out, "no changes\n");
  out = sh(vnet + " --netns " + target_ + " plan " + file, &rc);
  EXPECT_EQ(rc, 0) << out;
  out = sh(vnet + " --netns " + target_ + " status " + file, &rc);
  EXPECT_EQ(rc, 0) << out;
  // a row per link it owns or names, as the kernel has it, then the verdict
  EXPECT_THAT(out, ::testing::StartsWith("NAME  KIND    NETNS"));
  EXPECT_THAT(out, ::testing::ContainsRegex("\nv0 +veth +" + target_ + " +br0 +- +- +in sync\n"));
  EXPECT_THAT(out, ::testing::ContainsRegex("\np0 +veth +" + ns + " +- +- +10.3.0.2/24 +in sync\n"));
  EXPECT_THAT(out, ::testing::EndsWith("\nin sync\n"));
  sh("ip -n " + target_ + " link set v0 down");
  out = sh(vnet + " --netns " + target_ + " status --json " + file, &rc);
  EXPECT_EQ(rc, 1) << out;
  auto j = nlohmann::json::parse(out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << out;
  EXPECT_TRUE(j["drift"].get<bool>());
  out = sh(vnet + " --netns " + target_ + " plan --json " + file, &rc);
  EXPECT_EQ(rc, 1);
  j = nlohmann::json::parse(out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << out;
  EXPECT_EQ(j["changes"], 1);
  EXPECT_EQ(j["ops"][0]["text"], "set veth v0 up");
  out = sh(vnet + " --netns " + target_ + " destroy " + file, &rc);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_FALSE(netlink::netns_exists(ns));
  unlink(file.c_str());
  unlink(("/run/vnet/netns/cli@" + target_).c_str());
}

TEST_F(NetnsTest, EditConvergesWithTheMinimalPlan) {
  ASSERT_TRUE(apply(kHost));
  std::string edited = kHost;
  edited.replace(edited.find("mtu = 1400"), 10, "mtu = 1450");
  edited.replace(edited.find("10.9.0.3/24"), 11, "10.9.0.4/24");
  edited.replace(edited.find("mode = \"private\""), 16, "mode = \"vepa\"");
  auto r = apply(edited);
  ASSERT_TRUE(r) << r.error().str();
  EXPECT_THAT(op_lines(r->plan),
              ElementsAre("set bridge br0 mtu 1450", "set macvlan mv0 mode vepa",
                          "delete address 10.9.0.3/24 from veth peer eth0 in netns cb (of vb-b)",
                          "add address 10.9.0.4/24 to veth peer eth0 in netns cb (of vb-b)"));
  EXPECT_EQ(link("", "br0")["mtu"], 1450);
  EXPECT_THAT(addrs("cb", "eth0"), ElementsAre("10.9.0.4/24"));
  EXPECT_FALSE(apply(edited)->changed());
}

TEST_F(NetnsTest, RemovingAnObjectDeletesOnlyIt) {
  ASSERT_TRUE(apply(kHost));
  std::string edited = kHost;
  edited.erase(edited.find("[macvlans.mv0]"));
  auto r = apply(edited);
  ASSERT_TRUE(r) << r.error().str();
  EXPECT_THAT(op_lines(r->plan), ElementsAre("delete macvlan mv0 (no longer declared)"));
  EXPECT_TRUE(link("", "mv0").is_null());
}

TEST_F(NetnsTest, DestroyLeavesTheNamespaceAsItWas) {
  std::string before = state();
  ASSERT_TRUE(apply(kHost));
  EXPECT_NE(state(), before);
  auto r = destroy(kHost);
  ASSERT_TRUE(r) << r.error().str();
  EXPECT_EQ(state(), before);
  EXPECT_THAT(namespaces(), ElementsAre(""));
  EXPECT_FALSE(destroy(kHost)->changed());
}

TEST_F(NetnsTest, ANamespaceMadeAgainBySomeoneElseIsNeverDeleted) {
  const char* file = "[host]\nname = \"t1\"\n[veths.v0]\npeer = \"eth0\"\npeer_netns = \"ca\"\n";
  ASSERT_TRUE(apply(file));
  ASSERT_TRUE(netlink::netns_exists(kname("ca")));
  // someone deletes vnet's namespace and makes their own under the name
  sh("ip netns del " + kname("ca") + " && ip netns add " + kname("ca"));
  // the kernel frees a deleted namespace (and v0 with its peer) on a work
  // queue; wait for that, or the plan races it
  for (int i = 0; i < 500 && !link("", "v0").is_null(); ++i) usleep(10 * 1000);
  ASSERT_TRUE(link("", "v0").is_null()) << "the kernel did not free the old namespace in 5 s";
  auto p = netlink::plan(load(file), opts(), true);
  ASSERT_TRUE(p) << p.error().str();
  EXPECT_THAT(p->plan.notes, Contains(HasSubstr("not the namespace vnet created")));
  for (const auto& op : p->plan.ops) EXPECT_NE(op.kind, plan::OpKind::kDeleteNetns) << op.describe();
  auto d = destroy(file);
  ASSERT_TRUE(d) << d.error().str();
  EXPECT_TRUE(netlink::netns_exists(kname("ca")));
  // and apply now treats it as a namespace it found, not one it made
  ASSERT_TRUE(apply(file));
  ASSERT_TRUE(destroy(file));
  EXPECT_TRUE(netlink::netns_exists(kname("ca")));
}

TEST_F(NetnsTest, ForeignLinksAndLookalikesSurviveDestroy) {
  ASSERT_TRUE(apply(kHost));
  // a foreign bridge, and a look-alike carrying another host's mark
  sh("ip -n " + target_ + " link add name fbr0 type bridge");
  sh("ip -n " + target_ + " link add name vb-z type bridge");
  sh("ip -n " + target_ + " link set vb-z alias vnet:t1x");
  sh("ip -n " + target_ + " link set fbr0 master br0");
  auto r = destroy(kHost);
  ASSERT_TRUE(r) << r.error().str();
  EXPECT_TRUE(link("", "br0").is_null());
  EXPECT_FALSE(link("", "fbr0").is_null());
  EXPECT_FALSE(link("", "vb-z").is_null());
}

TEST_F(NetnsTest, DestroyRefusesToTakeAForeignMacvlanWithVnetsBridge) {
  const char* file = "[host]\nname = \"t1\"\n[bridges.br0]\n";
  ASSERT_TRUE(apply(file));
  // the kernel deletes a link's macvlans with it: someone else's must stop the destroy
  sh("ip -n " + target_ + " link add link br0 name fmv0 type macvlan mode bridge");
  std::string before = state();
  auto d = destroy(file);
  ASSERT_FALSE(d);
  EXPECT_EQ(d.error().exit, ExitCode::kFailed);
  EXPECT_THAT(d.error().what, HasSubstr("bridge br0: deleting it would delete macvlan fmv0, which vnet "
                                        "does not own (no alias); remove or move fmv0 first"));
  EXPECT_EQ(state(), before);
  sh("ip -n " + target_ + " link del fmv0");
  ASSERT_TRUE(destroy(file));
  EXPECT_TRUE(link("", "br0").is_null());
}

TEST_F(NetnsTest, AdoptRefusesAVethWhosePeerDiffersAndLeavesThePair) {
  std::string ns = kname("ca");
  sh("ip netns add " + ns + " && ip -n " + target_ + " link add vb-a type veth peer name eth9 netns " + ns +
     " && ip -n " + ns + " addr add 10.4.0.2/24 dev eth9");
  std::string before = state();
  auto r = apply("[host]\nname = \"t1\"\n[veths.vb-a]\nadopt = true\npeer = \"eth0\"\n"
                 "peer_netns = \"ca\"\n");
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().what, HasSubstr("adopt cannot take it over: its peer is eth9 in netns"));
  EXPECT_EQ(state(), before);
  EXPECT_THAT(addrs("ca", "eth9"), ElementsAre("10.4.0.2/24"));
}

TEST_F(NetnsTest, ABridgePortBelowIpv6sMinimumMtuApplies) {
  const char* file = "[host]\nname = \"t1\"\n[bridges.br0]\nmtu = 1000\n[taps.t0]\nbridge = \"br0\"\n"
                     "mtu = 1000\nlink_local = \"none\"\n[veths.v0]\npeer = \"eth0\"\nbridge = \"br0\"\n"
                     "mtu = 1000\npeer_netns = \"ca\"\npeer_addresses = [\"10.4.0.2/24\"]\n";
  auto r = apply(file);
  ASSERT_TRUE(r) << r.error().str();
  EXPECT_EQ(link("", "t0")["mtu"], 1000);
  EXPECT_EQ(link("", "t0")["master"], "br0");
  auto again = apply(file);
  ASSERT_TRUE(again) << again.error().str();
  EXPECT_FALSE(again->changed());
  ASSERT_TRUE(destroy(file));
}

// every address of a link, whatever its scope ("fe80::1/64 link")
std::vector<std::string> scoped_addrs(const nlohmann::json& links) {
  std::vector<std::string> out;
  for (auto& l : links)
    for (auto& a : l["addr_info"])
      out.push_back(a.value("local", "") + "/" + std::to_string(a.value("prefixlen", 0)) + " " +
                    a.value("scope", ""));
  return out;
}

TEST_F(NetnsTest, ADeclaredLinkLocalAddressIsAppliedAndInSync) {
  const char* file = "[host]\nname = \"t1\"\n[bridges.br0]\naddresses = [\"fe80::1/64\", \"fd00:4::1/64\"]\n";
  auto r = apply(file);
  ASSERT_TRUE(r) << r.error().str();
  EXPECT_THAT(scoped_addrs(ipj("", "addr show dev br0")), Contains("fe80::1/64 link"));
  auto again = apply(file);
  ASSERT_TRUE(again) << again.error().str();
  EXPECT_FALSE(again->changed());
  // dropped from the file, it goes; the kernel's own link-local address stays
  auto dropped = apply("[host]\nname = \"t1\"\n[bridges.br0]\naddresses = [\"fd00:4::1/64\"]\n");
  ASSERT_TRUE(dropped) << dropped.error().str();
  EXPECT_THAT(scoped_addrs(ipj("", "addr show dev br0")), Not(Contains("fe80::1/64 link")));
  ASSERT_TRUE(destroy(file));
}

TEST_F(NetnsTest, GroupedDeletesLeaveAForeignLinkInVnetsGroupNumber) {
  ASSERT_TRUE(apply(kHost));
  // a foreign link already in the group vnet would pick first, and one in another group
  sh("ip -n " + target_ + " link add name fg0 group " + std::to_string(0x766e6574) + " type bridge");
  sh("ip -n " + target_ + " link add name fg1 group 5 type bridge");
  auto r = destroy(kHost);
  ASSERT_TRUE(r) << r.error().str();
  EXPECT_TRUE(link("", "br0").is_null());
  EXPECT_EQ(link("", "fg0")["group"], std::to_string(0x766e6574));
  EXPECT_EQ(link("", "fg1")["group"], "5");
}

TEST_F(NetnsTest, RefusesADeclaredNameItDoesNotOwn) {
  sh("ip -n " + target_ + " link add name br0 type bridge");
  std::string before = state();
  auto r = apply(kHost);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().exit, ExitCode::kFailed);
  EXPECT_THAT(r.error().what, HasSubstr("bridge br0: exists but is not owned by vnet:t1"));
  EXPECT_EQ(state(), before);
}

TEST_F(NetnsTest, AdoptTakesOverAnExistingBridge) {
  sh("ip -n " + target_ + " link add name vmbr0 type bridge");
  auto r = apply("[host]\nname = \"t1\"\n[bridges.vmbr0]\nadopt = true\nmtu = 1480\n");
  ASSERT_TRUE(r) << r.error().str();
  auto br = link("", "vmbr0");
  EXPECT_EQ(br["ifalias"], "vnet:t1");
  EXPECT_EQ(br["mtu"], 1480);
}

TEST_F(NetnsTest, LinksEntryIsEnslavedAndReleasedButNeverDeleted) {
  sh("ip -n " + target_ + " link add name up0 type veth peer name up1");
  sh("ip -n " + target_ + " link set up0 up");
  const char* f = "[host]\nname = \"t1\"\n[bridges.br0]\n[links.up0]\nbridge = \"br0\"\n";
  ASSERT_TRUE(apply(f));
  EXPECT_EQ(link("", "up0")["master"], "br0");
  auto r = destroy(f);
  ASSERT_TRUE(r) << r.error().str();
  auto up0 = link("", "up0");
  ASSERT_FALSE(up0.is_null());
  EXPECT_FALSE(up0.contains("master"));
  EXPECT_NE(up0["flags"].dump().find("\"UP\""), std::string::npos);
}

TEST_F(NetnsTest, MovesATapBetweenNamespaces) {
  const char* a = "[host]\nname = \"t1\"\n[taps.t0]\nnetns = \"na\"\n";
  const char* b = "[host]\nname = \"t1\"\n[taps.t0]\nnetns = \"nb\"\n";
  ASSERT_TRUE(apply(a));
  auto r = apply(b);
  ASSERT_TRUE(r) << r.error().str();
  EXPECT_THAT(op_lines(r->plan)[1], HasSubstr("move tap t0 in netns na to netns nb"));
  EXPECT_FALSE(link("nb", "t0").is_null());
  EXPECT_THAT(namespaces(), ElementsAre("", "nb"));
}

// Opens tap `name` in namespace `ns` as `uid`/`gid`: /dev/net/tun is opened as root (it is
// 0600 without udev, facts.md), then the child drops to the user before TUNSETIFF, which
// is where the kernel checks the tap's owner and group. Returns the child's errno (0 = ok).
int open_tap_as(const std::string& ns, const std::string& name, uid_t uid, gid_t gid) {
  pid_t pid = fork();
  if (pid == 0) {
    int nsfd = ::open(("/run/netns/" + ns).c_str(), O_RDONLY | O_CLOEXEC);
    if (nsfd < 0 || setns(nsfd, CLONE_NEWNET) != 0) _exit(100);
    int fd = ::open("/dev/net/tun", O_RDWR | O_CLOEXEC);
    if (fd < 0) _exit(101);
    if (setgroups(0, nullptr) != 0 || setresgid(gid, gid, gid) != 0 || setresuid(uid, uid, uid) != 0)
      _exit(102);
    ifreq ifr{};
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
    strncpy(ifr.ifr_name, name.c_str(), IFNAMSIZ - 1);
    _exit(ioctl(fd, TUNSETIFF, &ifr) == 0 ? 0 : errno);
  }
  int st = 0;
  waitpid(pid, &st, 0);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

TEST_F(NetnsTest, TapOwnerByNameLetsThatUserOpenItAndNoOtherOne) {
  // daemon is uid 1 and gid 1 on Debian; nobody is 65534
  const char* file = "[host]\nname = \"t1\"\n[taps.tap-own]\nowner = \"daemon\"\n"
                     "[taps.tap-grp]\ngroup = \"daemon\"\n";
  auto p = netlink::plan(load(file), opts());
  ASSERT_TRUE(p) << p.error().str();
  EXPECT_THAT(op_lines(p->plan), Contains(HasSubstr("tap tap-own (owner daemon (1)")));
  ASSERT_TRUE(apply(file));
  EXPECT_EQ(open_tap_as(target_, "tap-own", 1, 65534), 0);
  EXPECT_EQ(open_tap_as(target_, "tap-own", 65534, 65534), EPERM);
  EXPECT_EQ(open_tap_as(target_, "tap-grp", 65534, 1), 0);
  EXPECT_EQ(open_tap_as(target_, "tap-grp", 65534, 65534), EPERM);
  auto again = apply(file);
  ASSERT_TRUE(again) << again.error().str();
  EXPECT_FALSE(again->changed());
}

TEST_F(NetnsTest, KernelFeatureMissingIsRolledBackAndNamed) {
  if (sh("zcat /proc/config.gz 2>/dev/null | grep -c CONFIG_BRIDGE_VLAN_FILTERING=y") == "1\n")
    GTEST_SKIP() << "this kernel has bridge VLAN filtering; the refusal cannot be provoked";
  std::string before = state();
  auto r = apply("[host]\nname = \"t1\"\n[bridges.a0]\n[bridges.br0]\nvlan_filtering = true\n");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().exit, ExitCode::kEnvironment);
  EXPECT_THAT(r.error().what, HasSubstr("bridge VLAN filtering"));
  EXPECT_THAT(r.error().what, HasSubstr("vnet vm-run"));
  EXPECT_EQ(state(), before);
}

TEST_F(NetnsTest, CliExitsThreeForMissingFeature) {
  if (sh("zcat /proc/config.gz 2>/dev/null | grep -c CONFIG_VLAN_8021Q=") == "1\n")
    GTEST_SKIP() << "this kernel has 802.1Q";
  std::string file = "/run/" + id_ + "-vlan.toml";
  std::ofstream(file) << "[host]\nname = \"t1\"\n[bridges.br0]\n[vlans.\"br0.40\"]\nlink = \"br0\"\nid = 40\n";
  int rc = 0;
  std::string out = sh(std::string(VNET_BINARY) + " --netns " + target_ + " apply " + file, &rc);
  EXPECT_EQ(rc, 3) << out;
  EXPECT_THAT(out, HasSubstr("802.1Q"));
  EXPECT_THAT(out, HasSubstr("vnet vm-run"));
  EXPECT_TRUE(link("", "br0").is_null());
  unlink(file.c_str());
}

TEST_F(NetnsTest, RealKernelRefusalMidwayRollsBackEverything) {
  ASSERT_TRUE(apply(kHost));
  std::string before = state();
  std::string edited = kHost;
  // new objects and edits, and a macvlan on lo, which the kernel refuses mid-way (after
  // the bridges and veths are created, before the rest)
  edited += "\n[bridges.br9]\naddresses = [\"10.9.9.1/24\"]\n[veths.vb-c]\npeer = \"eth0\"\n"
            "peer_netns = \"cc\"\n[links.lo]\n[macvlans.mv-lo]\nlink = \"lo\"\n";
  edited.replace(edited.find("10.9.0.1/24"), 11, "10.9.0.7/24");
  auto r = apply(edited);
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().what, HasSubstr("macvlan mv-lo"));
  EXPECT_THAT(r.error().what, HasSubstr("rolled back"));
  EXPECT_EQ(r.error().err, EINVAL);
  EXPECT_EQ(state(), before);
}

TEST_F(NetnsTest, VerifyFailureIsRolledBackAndNamesWhatTheKernelDidNotTake) {
  // Another process changes a tap between apply's last request and its verify: only
  // verify sees it, and then everything the apply did must go, on a fresh namespace and
  // on top of an applied file alike.
  std::string bad = std::string(kHost) + "\n[taps.tap-rb]\nmtu = 1400\nnetns = \"cr\"\n";
  for (bool on_top : {false, true}) {
    if (on_top) {
      ASSERT_TRUE(apply(kHost));
    }
    std::string before = state();
    netlink::EngineOptions o = opts();
    o.before_verify = [&] { sh("ip -n " + kname("cr") + " link set tap-rb mtu 1300"); };
    auto r = netlink::apply(load(bad), o);
    ASSERT_FALSE(r) << "on_top=" << on_top;
    EXPECT_EQ(r.error().exit, ExitCode::kFailed);
    EXPECT_THAT(r.error().what, HasSubstr("verify"));
    EXPECT_THAT(r.error().what, HasSubstr("tap tap-rb"));
    EXPECT_THAT(r.error().what, HasSubstr("mtu"));
    EXPECT_THAT(r.error().what, HasSubstr("rolled back"));
    EXPECT_EQ(state(), before) << "on_top=" << on_top;
  }
}

const char* kRoutes = R"(
[host]
name = "t1"
[veths.v0]
peer = "eth0"
peer_netns = "ra"
addresses = ["10.20.0.1/24", "fd20::1/64"]
routes = [{ to = "10.40.0.0/16", via = "10.20.0.2" }]
peer_addresses = ["10.20.0.2/24", "fd20::2/64"]
peer_gateway = "10.20.0.1"
peer_routes = [{ to = "10.30.0.0/16", via = "10.20.0.1", metric = 100 },
               { to = "10.31.0.0/16" },
               { to = "fd30::/48", via = "fd20::1" }]
)";

TEST_F(NetnsTest, RoutesAreAppliedMarkedAndOnlyVnetsOwnGo) {
  auto r = apply(kRoutes);
  ASSERT_TRUE(r) << r.error().str();
  EXPECT_THAT(routes("ra", "-4"),
              UnorderedElementsAre("default via 10.20.0.1 dev eth0 proto 118 ",
                                   "10.30.0.0/16 via 10.20.0.1 dev eth0 proto 118 metric 100 ",
                                   "10.31.0.0/16 dev eth0 proto 118 scope link "));
  EXPECT_THAT(routes("ra", "-6"),
              ElementsAre("fd30::/48 via fd20::1 dev eth0 proto 118 metric 1024 pref medium"));
  EXPECT_THAT(routes("", "-4"),
              ElementsAre("10.40.0.0/16 via 10.20.0.2 dev v0 proto 118 "));
  EXPECT_FALSE(apply(kRoutes)->changed());
  // someone else's route through the same link stays; vnet's undeclared one goes
  sh("ip -n " + kname("ra") + " route add 10.50.0.0/16 via 10.20.0.1 proto static");
  std::string fewer = kRoutes;
  fewer.replace(fewer.find("               { to = \"10.31.0.0/16\" },\n"),
                std::string("               { to = \"10.31.0.0/16\" },\n").size(), "");
  r = apply(fewer);
  ASSERT_TRUE(r) << r.error().str();
  EXPECT_THAT(routes("ra", "-4"),
              UnorderedElementsAre("default via 10.20.0.1 dev eth0 proto 118 ",
                                   "10.30.0.0/16 via 10.20.0.1 dev eth0 proto 118 metric 100 ",
                                   "10.50.0.0/16 via 10.20.0.1 dev eth0 proto static "));
  EXPECT_FALSE(apply(fewer)->changed());
  ASSERT_TRUE(destroy(fewer));
  EXPECT_THAT(routes("", "-4"), Not(Contains(HasSubstr("10.40.0.0/16"))));
}

TEST_F(NetnsTest, ARouteSomeoneElseHoldsIsRefusedAndARolledBackApplyPutsRoutesBack) {
  std::string first = kRoutes;
  first.replace(first.find("metric = 100"), 12, "metric = 200");
  ASSERT_TRUE(apply(first));
  // the same destination and metric through another next hop, not vnet's
  sh("ip -n " + kname("ra") + " route add 10.30.0.0/16 via 10.20.0.3 metric 100 proto static");
  std::string before = state();
  auto r = apply(kRoutes);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().exit, ExitCode::kFailed);
  EXPECT_THAT(r.error().what, HasSubstr("route to 10.30.0.0/16 metric 100: the kernel already has "
                                        "one via 10.20.0.3 dev eth0 that vnet did not add"));
  EXPECT_EQ(state(), before);
  sh("ip -n " + kname("ra") + " route del 10.30.0.0/16 via 10.20.0.3 metric 100");
  // a route the kernel lost before verify: the whole change is undone, routes as they were
  before = state();
  netlink::EngineOptions o = opts();
  o.before_verify = [&] { sh("ip -n " + kname("ra") + " route del 10.30.0.0/16 metric 100"); };
  r = netlink::apply(load(kRoutes), o);
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().what, HasSubstr("verify"));
  EXPECT_THAT(r.error().what, HasSubstr("route 10.30.0.0/16"));
  EXPECT_THAT(r.error().what, HasSubstr("rolled back"));
  EXPECT_EQ(state(), before);
}

// One "host" of the two below: an uplink it does not own, a bridge, a vxlan port on the
// uplink and a container namespace on the bridge.
std::string vxlan_host(const std::string& name, const std::string& uplink, const std::string& local,
                       const std::string& remote, int vni, const std::string& container_addr) {
  return "[host]\nname = \"" + name + "\"\n[links." + uplink + "]\n[bridges.br0]\n" +
         "[vxlans.vx0]\nvni = " + std::to_string(vni) + "\nlocal = \"" + local +
         "\"\nremote = \"" + remote + "\"\ndev = \"" + uplink + "\"\nbridge = \"br0\"\n" +
         "[veths.vb-c]\npeer = \"eth0\"\nbridge = \"br0\"\npeer_netns = \"c\"\n" +
         "peer_addresses = [\"" + container_addr + "\"]\n";
}

TEST_F(NetnsTest, VxlanJoinsContainersOnTwoHostsAndAnotherVniDoesNot) {
  auto status = [](const std::string& cmd) {
    int rc = -1;
    sh(cmd, &rc);
    return rc;
  };
  // host A is this test's target; host B a second namespace; a veth is their underlay
  std::string b = id_ + "-hb";
  ASSERT_TRUE(netlink::create_netns(b));
  ASSERT_EQ(status("ip -n " + target_ + " link add ul1 type veth peer name ul2 netns " + b +
               " && ip -n " + target_ + " addr add 10.77.0.1/24 dev ul1 && ip -n " + target_ +
               " link set ul1 up && ip -n " + b + " addr add 10.77.0.2/24 dev ul2 && ip -n " + b +
               " link set ul2 up"),
            0);
  netlink::EngineOptions ob = opts();
  ob.target_netns = b;
  ob.netns_prefix = prefix() + "b-";
  auto host_b = [&](int vni) {
    return load(vxlan_host("vxb", "ul2", "10.77.0.2", "10.77.0.1", vni, "10.88.0.2/24"));
  };
  auto a = apply(vxlan_host("vxa", "ul1", "10.77.0.1", "10.77.0.2", 100, "10.88.0.1/24"));
  ASSERT_TRUE(a) << a.error().str();
  auto rb = netlink::apply(host_b(100), ob);
  ASSERT_TRUE(rb) << rb.error().str();
  auto vx = link("", "vx0");
  EXPECT_EQ(vx["linkinfo"]["info_data"]["id"], 100);
  EXPECT_EQ(vx["linkinfo"]["info_data"]["port"], 4789);
  EXPECT_EQ(vx["master"], "br0");
  std::string ping = "ip netns exec " + kname("c") + " ping -c 2 -i 0.2 -W 2 -q 10.88.0.2 >/dev/null";
  EXPECT_EQ(status(ping), 0) << "containers on one VNI across the underlay";
  EXPECT_FALSE(netlink::apply(host_b(100), ob)->changed());
  // host B moves to VNI 101: the kernel cannot change a VNI, so vnet recreates the vxlan
  rb = netlink::apply(host_b(101), ob);
  ASSERT_TRUE(rb) << rb.error().str();
  EXPECT_EQ(status("ip -n " + b + " -d link show vx0 | grep -q 'vxlan id 101'"), 0);
  EXPECT_NE(status(ping), 0) << "another VNI is another segment";
  ASSERT_TRUE(netlink::destroy(host_b(101), ob));
}

TEST_F(NetnsTest, TapMtuAndMacAreAppliedAndOneAboveTheMaximumIsACheckError) {
  const char* file = "[host]\nname = \"t1\"\n[taps.t0]\nmtu = 9000\nmac = \"02:00:00:00:00:42\"\n";
  auto r = apply(file);
  ASSERT_TRUE(r) << r.error().str();
  EXPECT_EQ(link("", "t0")["mtu"], 9000);
  EXPECT_EQ(link("", "t0")["address"], "02:00:00:00:00:42");
  EXPECT_FALSE(apply(file)->changed());
  ASSERT_TRUE(destroy(file));
  // a tap's maximum is 65521, and the kernel says so: check refuses more, at the value
  std::string text = std::string(kHost) + "\n[taps.tap-rb]\nmtu = 65530\n";
  auto bad = topology::load_string(text, "t.toml");
  ASSERT_FALSE(bad);
  ASSERT_EQ(bad.error().size(), 1u);
  EXPECT_EQ(bad.error()[0].message, "mtu 65530 is above a tap's maximum of 65521");
  auto ok = apply(std::string(kHost) + "\n[taps.tap-rb]\nmtu = 65521\n");
  ASSERT_TRUE(ok) << ok.error().str();
  EXPECT_EQ(link("", "tap-rb")["mtu"], 65521);
}

// A link stacked on a new bridge (or an existing link whose MTU rises) is made after the
// lower link's MTU is set: one declared with that MTU is accepted (the kernel refuses a
// macvlan or vlan above its lower link's MTU), one without inherits it, as under networkd.
TEST_F(NetnsTest, LinksStackedOnANewBridgeSeeItsDeclaredMtu) {
  const char* file = "[host]\nname = \"t1\"\n[bridges.br0]\nmtu = 9000\n"
                     "[macvlans.mv0]\nlink = \"br0\"\nmtu = 9000\n"
                     "[macvlans.mv1]\nlink = \"br0\"\n";
  auto r = apply(file);
  ASSERT_TRUE(r) << r.error().str();
  EXPECT_EQ(link("", "br0")["mtu"], 9000);
  EXPECT_EQ(link("", "mv0")["mtu"], 9000);
  EXPECT_EQ(link("", "mv1")["mtu"], 9000);
  auto again = apply(file);
  ASSERT_TRUE(again) << again.error().str();
  EXPECT_FALSE(again->changed());
  ASSERT_TRUE(destroy(file));
  // the same on an existing link whose MTU rises in the same apply
  sh("ip -n " + target_ + " link add eno1 type veth peer name eno1p");
  const char* on_nic = "[host]\nname = \"t1\"\n[links.eno1]\nmtu = 9000\n"
                       "[macvlans.mv0]\nlink = \"eno1\"\nmtu = 9000\n";
  auto nic = apply(on_nic);
  ASSERT_TRUE(nic) << nic.error().str();
  EXPECT_EQ(link("", "mv0")["mtu"], 9000);
}

// ifupdown2 adds its gateway routes with protocol "kernel": such a route is the declared
// one, found and left as it is (not added again, which the kernel refuses: EEXIST).
TEST_F(NetnsTest, AGatewayRouteMarkedKernelByAnotherToolIsTheDeclaredOne) {
  const char* file = "[host]\nname = \"t1\"\n[bridges.br0]\naddresses = [\"10.71.0.2/24\"]\n"
                     "gateway = \"10.71.0.1\"\n";
  sh("ip -n " + target_ + " link add br0 type bridge && ip -n " + target_ +
     " addr add 10.71.0.2/24 dev br0 && ip -n " + target_ + " link set br0 up && ip -n " +
     target_ + " route add default via 10.71.0.1 dev br0 proto kernel");
  std::string adopted = std::string(file) + "adopt = true\n";
  auto r = apply(adopted);
  ASSERT_TRUE(r) << r.error().str();
  for (const auto& op : r->plan.ops) EXPECT_EQ(op.describe().find("route"), std::string::npos) << op.describe();
  EXPECT_THAT(ip("", "route show default"), HasSubstr("via 10.71.0.1 dev br0 proto kernel"));
  EXPECT_FALSE(apply(adopted)->changed());
}

TEST_F(NetnsTest, NameTakenBetweenPlanAndExecuteIsRolledBack) {
  // plan against the empty namespace, then someone takes a name the plan creates late
  topology::Topology topo = load(kHost);
  netlink::RealKernelOptions ko;
  ko.target_netns = target_;
  ko.netns_prefix = prefix();
  netlink::RealKernel k(ko);
  auto snap = netlink::read_snapshot(k, plan::involved_netns(topo, nullptr));
  ASSERT_TRUE(snap);
  plan::Plan p = plan::make_plan(topo, *snap);
  ASSERT_TRUE(p.refusals.empty());
  sh("ip -n " + target_ + " link add name mv0 type bridge");
  std::string before = state();
  auto r = netlink::execute(p.ops, k);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().error.err, EEXIST);
  EXPECT_THAT(r.error().error.what, HasSubstr("macvlan mv0"));
  EXPECT_TRUE(r.error().stats.undo_errors.empty());
  // everything vnet did is gone (the namespaces it created stay: the record drives their
  // removal, and a second apply reuses them); the foreign mv0 is untouched
  for (const char* ns : {"ca", "cb"}) (void)netlink::delete_netns(kname(ns));
  EXPECT_EQ(state(), before);
  EXPECT_EQ(link("", "mv0")["linkinfo"]["info_kind"], "bridge");
}

TEST_F(NetnsTest, CreatedLinksGetIndexesFarFromTheKernelsOwn) {
  ASSERT_TRUE(apply(kHost));
  EXPECT_GE(link("", "br0")["ifindex"].get<int>(), 1 << 20);
  sh("ip -n " + target_ + " link add name fx0 type bridge");
  EXPECT_LT(link("", "fx0")["ifindex"].get<int>(), 1 << 20);
}

TEST_F(NetnsTest, FailingEveryStepLeavesTheStateAsBefore) {
  // a fresh apply, and an edit with deletes, recreations and modifications
  std::string edited = kHost;
  edited.replace(edited.find("mtu = 1400"), 10, "mtu = 1500");
  edited.erase(edited.find("[macvlans.mv0]"));
  edited.replace(edited.find("peer = \"eth0\"\nbridge = \"br0\"\npeer_netns = \"cb\""), 13, "peer = \"eth1\"");
  edited += "\n[taps.tap1]\nnetns = \"cb\"\naddresses = [\"10.9.2.1/24\"]\n";
  for (int round = 0; round < 2; ++round) {
    if (round == 1) {
      ASSERT_TRUE(apply(kHost));
    }
    const std::string& file = round == 0 ? std::string(kHost) : edited;
    auto pl = netlink::plan(load(file), opts());
    ASSERT_TRUE(pl);
    size_t n = pl->plan.ops.size();
    ASSERT_GT(n, 5u);
    std::string before = state();
    for (size_t k = 0; k < n; ++k) {
      auto o = opts();
      o.fail_at_step = k;
      auto r = netlink::apply(load(file), o);
      ASSERT_FALSE(r) << "k=" << k;
      EXPECT_THAT(r.error().kernel_msg, HasSubstr("injected")) << r.error().str();
      ASSERT_EQ(state(), before) << "round " << round << " step " << k << " of " << n << ": "
                                 << pl->plan.ops[k].describe() << "\n" << r.error().str();
    }
  }
}

TEST_F(NetnsTest, StopSignalsDuringApplyLeaveAWholeState) {
  // 50 veths and 150 taps on a bridge: each tap is a step of its own (/dev/net/tun), so
  // signals land between steps. Whatever the moment, the result is whole: rolled back
  // (exit 1, state as before), finished (exit 0, in sync), or killed before anything
  // changed (before the signals are held).
  std::string file = "/run/" + id_ + "-sig.toml";
  {
    std::ofstream out(file);
    out << "[host]\nname = \"sig\"\n[bridges.br0]\n";
    for (int i = 0; i < 50; ++i)
      out << "[veths.s" << i << "]\npeer = \"p" << i << "\"\nbridge = \"br0\"\npeer_link_local = \"none\"\n";
    for (int i = 0; i < 150; ++i) out << "[taps.t" << i << "]\nbridge = \"br0\"\n";
  }
  hosts_.insert("sig");
  // a lock of its own: suites running beside it apply in /run/vnet all the time
  char run[] = "/tmp/vnet-sig-XXXXXX";
  ASSERT_NE(mkdtemp(run), nullptr);
  std::string vnet = "VNET_RUN_DIR=" + std::string(run) + " " + VNET_BINARY + " --netns " + target_;
  std::string before = lib_state();
  int rolled_back = 0;
  for (const char* sig : {"TERM", "INT", "HUP"}) {
    for (const char* delay : {"0.03", "0.08"}) {
      int rc = 0;
      std::string out;
      // other suites' applies take /run/vnet/lock now and then: a signal that lands while
      // this one waits for it ends it with nothing changed; try again (bounded)
      for (int attempt = 0; attempt < 10; ++attempt) {
        out = sh(vnet + " apply " + file + " 2>&1 >/dev/null & pid=$!; sleep " + delay + "; kill -" + sig +
                     " $pid; wait $pid",
                 &rc);
        if (out.find("while waiting for another vnet") == std::string::npos) break;
        ASSERT_EQ(lib_state(), before) << out;
        usleep(200 * 1000);
      }
      std::string where = std::string("SIG") + sig + " at " + delay + " s, exit " + std::to_string(rc) + ": " + out;
      if (rc == 0) {
        EXPECT_EQ(sh(vnet + " status " + file + " | tail -n 1"), "in sync\n") << where;
        ASSERT_EQ(sh(vnet + " destroy " + file + " >/dev/null; echo $?"), "0\n") << where;
      } else if (rc == 1) {
        EXPECT_THAT(out, HasSubstr(std::string("interrupted by SIG") + sig)) << where;
        EXPECT_THAT(out, HasSubstr("rolled back")) << where;
        ++rolled_back;
      } else {
        EXPECT_EQ(rc, 128 + (sig[0] == 'T' ? SIGTERM : sig[0] == 'I' ? SIGINT : SIGHUP)) << where;
      }
      ASSERT_EQ(lib_state(), before) << where;
    }
  }
  EXPECT_GT(rolled_back, 0) << "no signal landed while the apply ran: make it longer";
  unlink(file.c_str());
  std::filesystem::remove_all(run);
}

TEST_F(NetnsTest, APeerInEachOfManyNamespacesFitsInFewDescriptors) {
  // 300 veths, each peer in a namespace of its own, at 512 descriptors (soft and hard):
  // apply, status and destroy each work. (Sockets were kept per namespace: it took six
  // descriptors each, and then not even destroy could run.)
  std::string file = "/run/" + id_ + "-fd.toml";
  {
    std::ofstream out(file);
    out << "[host]\nname = \"fd\"\n";
    for (int i = 0; i < 300; ++i)
      out << "[veths.f" << i << "]\npeer = \"eth0\"\npeer_netns = \"" << prefix() << "n" << i
          << "\"\nlink_local = \"none\"\npeer_link_local = \"none\"\n";
  }
  hosts_.insert("fd");
  std::string vnet = "prlimit --nofile=512:512 " + std::string(VNET_BINARY) + " --netns " + target_;
  int rc = 0;
  std::string out = sh(vnet + " apply " + file + " >/dev/null", &rc);
  ASSERT_EQ(rc, 0) << out;
  EXPECT_EQ(sh(vnet + " status " + file + " | tail -n 1"), "in sync\n");
  out = sh(vnet + " destroy " + file + " >/dev/null", &rc);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_EQ(namespaces(), std::vector<std::string>{""});
  unlink(file.c_str());
}

TEST_F(NetnsTest, ConcurrentAppliesSerialize) {
  std::string file = "/run/" + id_ + "-conc.toml";
  std::string body = "[host]\nname = \"conc\"\n[bridges.br0]\n";
  for (int i = 0; i < 60; ++i)
    body += "[veths.v" + std::to_string(i) + "]\npeer = \"p" + std::to_string(i) + "\"\nbridge = \"br0\"\n";
  std::ofstream(file) << body;
  std::string cmd = std::string(VNET_BINARY) + " --netns " + target_ + " apply " + file;
  int rc1 = -1, rc2 = -1;
  std::string o1, o2;
  std::thread t1([&] { o1 = sh(cmd, &rc1); });
  std::thread t2([&] { o2 = sh(cmd, &rc2); });
  t1.join();
  t2.join();
  EXPECT_EQ(rc1, 0) << o1;
  EXPECT_EQ(rc2, 0) << o2;
  // one did the work, the other found it done
  EXPECT_TRUE((o1 == "no changes\n") != (o2 == "no changes\n")) << o1 << "---\n" << o2;
  sh(std::string(VNET_BINARY) + " --netns " + target_ + " destroy " + file);
  unlink(file.c_str());
}

TEST_F(NetnsTest, SigkillDuringLargeApplyThenApplyConvergesAndDestroyCleans) {
  std::string file = "/run/" + id_ + "-big.toml";
  std::string body = "[host]\nname = \"big\"\n[bridges.br0]\n";
  for (int i = 0; i < 1000; ++i)
    body += "[veths.v" + std::to_string(i) + "]\npeer = \"p" + std::to_string(i) +
            "\"\nbridge = \"br0\"\npeer_link_local = \"none\"\n";
  std::ofstream(file) << body;
  std::string vnet = VNET_BINARY;
  std::string before = state();
  pid_t pid = fork();
  if (pid == 0) {
    execl(vnet.c_str(), vnet.c_str(), "--netns", target_.c_str(), "apply", file.c_str(), nullptr);
    _exit(127);
  }
  // kill once the first batch landed (a sendmsg runs whole: the kill falls between two)
  bool partial = false;
  for (int i = 0; i < 2000 && !partial; ++i) {
    partial = sh("ip -n " + target_ + " -o link show | grep -c ' v[0-9]*@'") != "0\n";
    if (!partial) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  kill(pid, SIGKILL);
  int st = 0;
  waitpid(pid, &st, 0);
  EXPECT_TRUE(WIFSIGNALED(st)) << "apply finished before the kill";
  int links_after_kill = std::stoi(sh("ip -n " + target_ + " -o link show | wc -l"));
  RecordProperty("links_after_kill", links_after_kill);
  int rc = 0;
  std::string out = sh(vnet + " --netns " + target_ + " apply " + file, &rc);
  EXPECT_EQ(rc, 0) << out;
  out = sh(vnet + " --netns " + target_ + " apply " + file, &rc);
  EXPECT_EQ(out, "no changes\n");
  out = sh(vnet + " --netns " + target_ + " destroy " + file, &rc);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_EQ(state(), before);
  unlink(file.c_str());
}

// Writes tests/netlink/testdata/*.hex (decoded by Codec.DecodesRecordedDumps) from a
// namespace built with `ip`, when VNET_UPDATE_GOLDEN=1.
TEST_F(NetnsTest, RecordDumps) {
  if (!getenv("VNET_UPDATE_GOLDEN")) GTEST_SKIP() << "records only with VNET_UPDATE_GOLDEN=1";
  std::string n = "ip -n " + target_ + " ";
  sh(n + "link add name br0 type bridge");
  sh(n + "link set br0 mtu 1400 alias vnet:rec up");
  sh(n + "addr add 10.7.0.1/24 dev br0");
  sh(n + "link add name vb-a type veth peer name eth0");
  sh(n + "link set vb-a addrgenmode none");
  sh(n + "link set vb-a master br0 up");
  sh(n + "link set eth0 up");
  sh(n + "addr add 10.7.0.2/24 dev eth0");
  sh(n + "route add default via 10.7.0.1 dev eth0");
  sh(n + "tuntap add dev t0 mode tap vnet_hdr user 1000");
  sh(n + "link add name mv0 link br0 type macvlan mode private");
  auto fd = netlink::open_netns(target_);
  ASSERT_TRUE(fd);
  auto t = netlink::SocketTransport::open(fd->get());
  ASSERT_TRUE(t);
  std::vector<std::vector<uint8_t>> reqs;
  uint32_t seq = 1;
  for (auto k : netlink::kAllDumps) reqs.push_back(netlink::dump_request(k, seq++));
  auto replies = (*t)->dump(reqs);
  ASSERT_TRUE(replies);
  const char* names[] = {"links.hex", "bridge_vlans.hex", "addrs.hex", "routes.hex"};
  for (size_t i = 0; i < 4; ++i) {
    std::ofstream out(std::string(VNET_SOURCE_DIR) + "/tests/netlink/testdata/" + names[i]);
    for (const auto& chunk : (*replies)[i]) out << netlink::to_hex(chunk);
    out << "\n";
  }
}

TEST_F(NetnsTest, SnapshotReadsWhatIpSees) {
  ASSERT_TRUE(apply(kHost));
  netlink::RealKernelOptions ko;
  ko.target_netns = target_;
  ko.netns_prefix = prefix();
  netlink::RealKernel k(ko);
  auto snap = netlink::read_snapshot(k, {"", "ca"});
  ASSERT_TRUE(snap);
  const auto& t = snap->netns.at("");
  std::set<std::string> mine, ips;
  for (const auto& [i, l] : t.links) mine.insert(l.name);
  for (auto& l : ipj("", "link show")) ips.insert(l.value("ifname", ""));
  EXPECT_EQ(mine, ips);
  EXPECT_EQ(t.by_name("br0")->mtu, 1400u);
  EXPECT_EQ(snap->netns.at("ca").routes.size(), 1u);
}

// `vnet show` of what apply built, applied again, changes nothing; and the verb prints it.
TEST_F(NetnsTest, ShowOfWhatApplyBuiltPlansAsNothing) {
  ASSERT_TRUE(apply(kHost));
  auto pl = netlink::plan(load(kHost), opts());
  ASSERT_TRUE(pl) << pl.error().str();
  auto shown = plan::show(pl->snapshot, {});
  ASSERT_TRUE(shown) << shown.error().what;
  EXPECT_THAT(shown->toml, HasSubstr("[veths.vb-a]\npeer = \"eth0\"\npeer_netns = \"ca\"\n"));
  EXPECT_THAT(shown->toml, HasSubstr("[taps.tap0]\nowner = 1000\n"));
  auto again = netlink::plan(load(shown->toml), opts());
  ASSERT_TRUE(again) << again.error().str();
  EXPECT_TRUE(again->plan.ops.empty()) << shown->toml << plan::plan_text(again->plan);
  int rc = -1;
  std::string out = sh(std::string(VNET_BINARY) + " --netns " + target_ + " show --host t1", &rc);
  EXPECT_EQ(rc, 0);
  EXPECT_THAT(out, HasSubstr("[bridges.br0]\nmtu = 1400\naddresses = [\"10.9.0.1/24\"]\n"));
}

// Progress: on a terminal one line redrawn in place and cleared; piped, nothing extra;
// -v, a timestamped line per phase on stderr. destroy ends with a summary like apply.
TEST_F(NetnsTest, ProgressOnlyOnATerminalAndPhasesWithVerbose) {
  std::string file = "/tmp/vnet-progress-" + id_ + ".toml";
  std::ofstream(file) << kHost;
  // a lock of its own: waiting for another suite's would add a phase
  char run[] = "/tmp/vnet-progress-run-XXXXXX";
  ASSERT_NE(mkdtemp(run), nullptr);
  std::string vnet = "VNET_RUN_DIR=" + std::string(run) + " " + VNET_BINARY + " --netns " + target_;
  int rc = -1;
  std::string tty = sh("script -qec '" + vnet + " apply " + file + "' /dev/null", &rc);
  EXPECT_EQ(rc, 0) << tty;
  EXPECT_THAT(tty, HasSubstr("\r\033[Kvnet apply: execute 0/"));
  EXPECT_THAT(tty, HasSubstr("\r\033[Kvnet apply: verify ("));
  // cleared before the plan is printed
  EXPECT_THAT(tty, HasSubstr(")\r\033[K  + create netns ca"));
  std::string piped = sh(vnet + " destroy " + file, &rc);
  EXPECT_EQ(rc, 0);
  EXPECT_THAT(piped, Not(HasSubstr("\r")));
  EXPECT_THAT(piped, ::testing::MatchesRegex("(.|\n)*\ndestroyed with [0-9]+ changes in [0-9.]+ s \\([0-9]+ requests in [0-9]+ sendmsg\\)\n"));
  std::string verbose = sh("{ " + vnet + " -v apply " + file + " 2>&1 >/dev/null; }", &rc);
  EXPECT_EQ(rc, 0);
  EXPECT_THAT(verbose, ::testing::MatchesRegex("vnet apply: \\[ *[0-9.]+ s\\] read\n(.|\n)*"));
  EXPECT_THAT(verbose, HasSubstr("] execute ("));
  EXPECT_THAT(verbose, Not(HasSubstr("\r")));
  sh(vnet + " destroy " + file);
  std::remove(file.c_str());
  std::filesystem::remove_all(run);
}

// apply --confirm: the keeper rolls back when nobody confirms, even after the applying
// session is SIGKILLed; `vnet confirm` keeps the change; --cancel rolls back at once;
// while a change waits, another apply refuses.
const char* kConfirmHost = R"(
[host]
name = "cf"
[bridges.br-cf]
addresses = ["10.61.0.1/24"]
routes = [{ to = "10.62.0.0/16", via = "10.61.0.9" }]
[veths.vcf-a]
peer = "vcf-b"
bridge = "br-cf"
[taps.tap-cf]
bridge = "br-cf"
)";

TEST_F(NetnsTest, ConfirmRollsBackUnlessConfirmedEvenWhenTheSessionDies) {
  char tmpl[] = "/tmp/vnet-confirm-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  std::string dir = tmpl, file = dir + "/host.toml";
  std::ofstream(file) << kConfirmHost;
  std::string vnet = "VNET_RUN_DIR=" + dir + " " + VNET_BINARY + " --netns " + target_;
  std::string before = state();
  auto wait_for = [&](const std::function<bool()>& done, int ms) {
    for (int i = 0; i < ms / 50 && !done(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    return done();
  };
  int rc = -1;

  // 1. the session that applied is SIGKILLed (its process group): rolled back in time
  std::string leader = sh("setsid sh -c '" + vnet + " apply --confirm 2 " + file + " > " + dir +
                          "/out 2>&1; sleep 60' > /dev/null 2>&1 & echo $!");
  ASSERT_TRUE(wait_for([&] { return sh("cat " + dir + "/out").find("unless confirmed") != std::string::npos; }, 10000))
      << sh("cat " + dir + "/out");
  auto t0 = std::chrono::steady_clock::now();
  leader.erase(leader.find_last_not_of(" \n") + 1);
  ASSERT_FALSE(leader.empty());
  std::string killed = sh("/bin/kill -9 -- -" + leader, &rc);
  ASSERT_EQ(rc, 0) << killed;
  std::string applied = state();
  EXPECT_NE(applied, before);
  EXPECT_THAT(applied, HasSubstr("tap-cf"));
  // while it waits, apply refuses and says how to go on
  std::string refused = sh(vnet + " apply " + file, &rc);
  EXPECT_EQ(rc, 1) << refused;
  EXPECT_THAT(refused, HasSubstr("waits for confirmation"));
  EXPECT_THAT(refused, HasSubstr("`vnet confirm --cancel`"));
  // the keeper removes its pending file once it has rolled back
  ASSERT_TRUE(wait_for([&] { return !std::filesystem::exists(dir + "/pending"); }, 4000));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(4));
  EXPECT_EQ(state(), before);
  std::string late = sh(vnet + " confirm", &rc);
  EXPECT_EQ(rc, 1);
  EXPECT_THAT(late, HasSubstr("no change applied with --confirm is waiting (the last one: rolled back (the time ran out))"));

  // 2. confirmed: nothing is rolled back after the time
  std::string out = sh(vnet + " apply --confirm 2 " + file, &rc);
  ASSERT_EQ(rc, 0) << out;
  applied = state();  // new links: new MACs
  std::string kept = sh(vnet + " confirm", &rc);
  EXPECT_EQ(rc, 0);
  EXPECT_EQ(kept, "kept\n");
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  EXPECT_EQ(state(), applied);
  EXPECT_EQ(sh(vnet + " apply " + file, &rc), "no changes\n");

  // 3. cancelled: back to before at once (here: the state the confirmed apply left)
  sh(vnet + " destroy " + file);
  ASSERT_EQ(state(), before);
  out = sh(vnet + " apply --confirm 60 " + file, &rc);
  ASSERT_EQ(rc, 0) << out;
  EXPECT_NE(state(), before);
  std::string cancelled = sh(vnet + " confirm --cancel", &rc);
  EXPECT_EQ(rc, 0) << cancelled;
  EXPECT_EQ(cancelled, "rolled back (cancelled)\n");
  EXPECT_EQ(state(), before);
  std::filesystem::remove_all(dir);
}

// vnet watch: each kind of drift of an owned object is repaired from the event alone; a
// foreign link is never touched; SIGHUP with a broken file keeps the last good one;
// SIGTERM stops it with 0.
TEST_F(NetnsTest, WatchRepairsDriftOfOwnedObjectsAndNothingElse) {
  char tmpl[] = "/tmp/vnet-watch-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  std::string dir = tmpl, file = dir + "/host.toml", log = dir + "/log";
  std::ofstream(file) << kConfirmHost;
  std::string n = "ip -n " + target_ + " ";
  std::string pid = sh("VNET_RUN_DIR=" + dir + " " + VNET_BINARY + " --netns " + target_ + " watch " + file +
                       " > " + log + " 2>&1 & echo $!");
  pid.erase(pid.find_last_not_of(" \n") + 1);
  auto log_has = [&](const std::string& what, int times = 1) {
    for (int i = 0; i < 100; ++i, std::this_thread::sleep_for(std::chrono::milliseconds(20))) {
      std::string text = sh("cat " + log);
      int count = 0;
      for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++count;
      if (count >= times) return true;
    }
    return false;
  };
  ASSERT_TRUE(log_has("watching 1 namespace(s)")) << sh("cat " + log);
  std::string synced = state();

  sh(n + "link del tap-cf");  // a deleted tap comes back, in its bridge, up
  ASSERT_TRUE(log_has("repaired drift", 1)) << sh("cat " + log);
  EXPECT_TRUE(log_has("create tap tap-cf"));
  sh(n + "addr add 10.61.0.77/24 dev br-cf");  // a foreign address on an owned link goes
  ASSERT_TRUE(log_has("repaired drift", 2)) << sh("cat " + log);
  EXPECT_TRUE(log_has("delete address 10.61.0.77/24 from bridge br-cf"));
  sh(n + "link set vcf-a nomaster");  // a released port is enslaved again
  ASSERT_TRUE(log_has("repaired drift", 3)) << sh("cat " + log);
  sh(n + "route del 10.62.0.0/16");  // a lost route comes back
  ASSERT_TRUE(log_has("repaired drift", 4)) << sh("cat " + log);
  EXPECT_THAT(ip("", "route show 10.62.0.0/16"), HasSubstr("via 10.61.0.9"));
  sh(n + "link add fx-a type veth peer name fx-b");  // not vnet's: left alone
  sh(n + "link set fx-a mtu 1400 && " + n + "addr add 10.63.0.1/24 dev fx-a");
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_FALSE(log_has("repaired drift", 5)) << sh("cat " + log);
  EXPECT_THAT(ip("", "addr show dev fx-a"), HasSubstr("10.63.0.1/24"));
  EXPECT_THAT(ip("", "link show dev fx-a"), HasSubstr("mtu 1400"));
  sh(n + "link del fx-a");
  // the tap came back with another MAC; the rest is as it was
  auto no_macs = [](std::string st) {
    for (size_t at = st.find("mac="); at != std::string::npos; at = st.find("mac=", at + 4))
      st.erase(at + 4, st.find_first_of(" \n", at) - at - 4);
    return st;
  };
  EXPECT_EQ(no_macs(state()), no_macs(synced));

  std::ofstream(file) << "[host]\nname = \"cf\"\n[bridges.br-cf]\nmtu = \"big\"\n";
  sh("kill -HUP " + pid);
  ASSERT_TRUE(log_has("does not validate; the last good file stays in force")) << sh("cat " + log);
  sh(n + "link del tap-cf");
  ASSERT_TRUE(log_has("repaired drift", 5)) << sh("cat " + log);
  // something that keeps undoing one repair is not fought forever
  for (int i = 0; i < 30 && sh("cat " + log).find("holding off") == std::string::npos; ++i) {
    sh(n + "link set vcf-a nomaster");
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
  }
  EXPECT_TRUE(log_has("something keeps undoing a repair (enslave veth vcf-a to br-cf: 10 times within"))
      << sh("cat " + log);
  int rc = -1;
  sh("kill -TERM " + pid + "; for i in $(seq 100); do kill -0 " + pid + " 2>/dev/null || exit 0; sleep 0.02; done; exit 1", &rc);
  EXPECT_EQ(rc, 0) << "vnet watch did not stop on SIGTERM";
  EXPECT_TRUE(log_has("stopped by SIGTERM"));
  std::ofstream(file) << kConfirmHost;
  sh("VNET_RUN_DIR=" + dir + " " + VNET_BINARY + " --netns " + target_ + " destroy " + file);
  std::filesystem::remove_all(dir);
}

// `vnet apply` starts reading the kernel before it parses the file (Prefetch): apply takes
// the lock and the read over and plans the same as without them; with the lock held by
// another vnet, the prefetch leaves waiting for it to apply.
TEST_F(NetnsTest, ApplyTakesOverAPrefetchedReadAndWaitsForABusyLock) {
  char dir[] = "/tmp/vnet-prefetch-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  netlink::EngineOptions o = opts();
  o.run_dir = dir;
  {
    auto pre = netlink::Prefetch::start(o);
    o.prefetch = pre.get();
    auto r = netlink::apply(load(kHost), o);
    ASSERT_TRUE(r) << r.error().str();
    EXPECT_TRUE(r->changed());
  }
  {
    auto pre = netlink::Prefetch::start(o);
    o.prefetch = pre.get();
    auto r = netlink::apply(load(kHost), o);
    ASSERT_TRUE(r) << r.error().str();
    EXPECT_FALSE(r->changed()) << plan::plan_text(r->plan);
  }
  // another vnet holds the lock for 300 ms: the prefetch gives up, apply waits
  int held = ::open((std::string(dir) + "/lock").c_str(), O_RDWR | O_CLOEXEC);
  ASSERT_GE(held, 0);
  ASSERT_EQ(flock(held, LOCK_EX), 0);
  auto pre = netlink::Prefetch::start(o);
  o.prefetch = pre.get();
  std::thread release([held] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    ::close(held);
  });
  auto r = netlink::apply(load(kHost), o);
  release.join();
  ASSERT_TRUE(r) << r.error().str();
  EXPECT_FALSE(r->changed()) << plan::plan_text(r->plan);
  EXPECT_GE(r->lock_seconds, 0.2);
  pre.reset();
  o.prefetch = nullptr;
  ASSERT_TRUE(netlink::destroy(load(kHost), o));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace vnet::testing
