// Unit tier: the QEMU backend's decisions that need no QEMU — which guests need root,
// when a key is made, the qemu-img and ssh argv, where ssh and switch NICs connect —
// from host.toml text; and `vnet guest` usage and unknown-guest errors (exit 2).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "qemu/guest.h"
#include "tests/common/process.h"
#include "topology/load.h"

namespace vnet::qemu {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

topology::Topology load(const std::string& text) {
  auto t = topology::load_string(text, "host.toml");
  EXPECT_TRUE(t) << (t ? "" : topology::format_diagnostics(t.error(), text));
  return t ? std::move(*t) : topology::Topology{};
}

const std::string kFile = R"(
[host]
name = "h"

[bridges.br0]

[switches.lab]
socket = "/run/vnet-test/lab"

[guests.user]
kind = "qemu"
[[guests.user.nics]]
user = true
hostfwd = ["udp:127.0.0.1:5353-:53", "tcp::2222-:22"]

[guests.sw]
kind = "qemu"
disk = { image = "/img/base.qcow2", size = "10G" }
cloud_init = { ssh_authorized_keys = ["ssh-ed25519 AAAA me"] }
[[guests.sw.nics]]
switch = "lab"
vlan = 40
addresses = ["10.1.40.16/24"]

[guests.br]
kind = "qemu"
disk = { image = "/img/base.raw" }
[[guests.br.nics]]
user = true
[[guests.br.nics]]
bridge = "br0"
)";

const topology::Guest& guest(const topology::Topology& t, const std::string& name) {
  for (const auto& g : t.guests)
    if (g.name == name) return g;
  throw std::runtime_error("no guest " + name);
}

TEST(QemuGuest, OnlyBridgeOrTapNicsNeedRoot) {
  auto t = load(kFile);
  EXPECT_FALSE(needs_links(guest(t, "user")));
  EXPECT_FALSE(needs_links(guest(t, "sw")));
  EXPECT_TRUE(needs_links(guest(t, "br")));
}

TEST(QemuGuest, StopDropsOnlyTheTapsDerivedFromThatGuest) {
  auto t = load(kFile + "[taps.tap-own]\nbridge = \"br0\"\n");
  auto names = [](const topology::Topology& x) {
    std::vector<std::string> n;
    for (const auto& tap : x.taps) n.push_back(tap.name);
    return n;
  };
  ASSERT_THAT(names(t), ::testing::UnorderedElementsAre("vm-br-1", "tap-own"));
  EXPECT_THAT(names(without_guest_taps(t, guest(t, "br"))), ElementsAre("tap-own"));
  EXPECT_THAT(names(without_guest_taps(t, guest(t, "user"))),
              ::testing::UnorderedElementsAre("vm-br-1", "tap-own"));
}

TEST(QemuGuest, EphemeralKeyUnlessTheGuestDeclaresKeys) {
  auto t = load(kFile);
  EXPECT_TRUE(wants_ephemeral_key(guest(t, "user")));
  EXPECT_FALSE(wants_ephemeral_key(guest(t, "sw")));
}

TEST(QemuGuest, OverlayArgvNamesBaseFormatAndSize) {
  auto t = load(kFile);
  EXPECT_THAT(overlay_argv("qemu-img", guest(t, "sw"), "/s/disk.qcow2"),
              ElementsAre("qemu-img", "create", "-q", "-f", "qcow2", "-b", "/img/base.qcow2",
                          "-F", "qcow2", "/s/disk.qcow2", std::to_string(10ull << 30)));
  EXPECT_THAT(overlay_argv("qemu-img", guest(t, "br"), "/s/disk.qcow2"),
              ElementsAre("qemu-img", "create", "-q", "-f", "qcow2", "-b", "/img/base.raw",
                          "-F", "raw", "/s/disk.qcow2"));
}

TEST(QemuGuest, SshGoesThroughTheForwardToPort22ElseTheDeclaredAddress) {
  auto t = load(kFile);
  auto u = ssh_target(guest(t, "user"));
  ASSERT_TRUE(u) << u.error().str();
  EXPECT_EQ(u->host, "127.0.0.1");  // empty host address in the rule
  EXPECT_EQ(u->port, 2222);
  auto s = ssh_target(guest(t, "sw"));
  ASSERT_TRUE(s);
  EXPECT_EQ(s->host, "10.1.40.16");
  EXPECT_EQ(s->port, 22);
  auto b = ssh_target(guest(t, "br"));
  ASSERT_FALSE(b);
  EXPECT_EQ(b.error().exit, ExitCode::kBadInput);
}

TEST(QemuGuest, SshArgvUsesTheStateFoldersKeyAndKnownHosts) {
  guests::StateDir d("/st", "g");
  EXPECT_THAT(ssh_argv(d, {"127.0.0.1", 2222}, "root", {"uname", "-a"}),
              ElementsAre("ssh", "-i", "/st/g/id_ed25519", "-o", "IdentitiesOnly=yes", "-o",
                          "UserKnownHostsFile=/st/g/known_hosts", "-o",
                          "StrictHostKeyChecking=accept-new", "-p", "2222", "-l", "root",
                          "127.0.0.1", "--", "uname", "-a"));
}

TEST(QemuGuest, SwitchNicConnectsToTheDerivedStreamPortInTheSwitchFolder) {
  auto t = load(kFile);
  auto s = switch_nic_port(t, guest(t, "sw"), 0);
  ASSERT_TRUE(s) << s.error().str();
  EXPECT_EQ(s->socket, "/run/vnet-test/lab/vm-sw-0.sock");
  EXPECT_EQ(s->control, "/run/vnet-test/lab/control");
  EXPECT_EQ(s->port, "vm-sw-0");
}

class GuestCli : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string t = ::testing::TempDir() + "vnet-guest-cli-XXXXXX";
    ASSERT_NE(::mkdtemp(t.data()), nullptr);
    dir_ = t;
    std::ofstream(dir_ + "/host.toml") << kFile;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  testing::RunResult vnet(std::vector<std::string> args) {
    args.insert(args.begin(), {VNET_BINARY, "guest"});
    args.insert(args.end(), {"-c", dir_ + "/host.toml", "--state-dir", dir_ + "/state"});
    return testing::run(args);
  }
  std::string dir_;
};

TEST_F(GuestCli, UnknownGuestExits2AndListsTheDeclaredOnes) {
  auto r = vnet({"start", "nope"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("guest 'nope' is not declared in"));
  EXPECT_THAT(r.err, HasSubstr("declared guests: user, sw, br"));
}

TEST_F(GuestCli, UnknownActionAndMissingNameAreUsageErrors) {
  EXPECT_EQ(vnet({"frobnicate", "user"}).exit_code, 2);
  EXPECT_EQ(vnet({"start"}).exit_code, 2);
  EXPECT_EQ(vnet({"list", "user"}).exit_code, 2);
  EXPECT_EQ(vnet({"stop", "user", "--", "ls"}).exit_code, 2);
}

TEST_F(GuestCli, ListAndStatusOfGuestsNeverStarted) {
  auto r = vnet({"list"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(testing::row_with(r.out, "user"), "user qemu stopped -");
  r = vnet({"status", "sw"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "guest sw: stopped\n");
  r = vnet({"stop", "sw"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, "guest sw: not running\n");
}

}  // namespace
}  // namespace vnet::qemu
