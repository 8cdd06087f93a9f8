// Unit tier (no root): stream ports a client adds over DIR/control (add-port), as
// `vnet guest start` does for a guest the switch's file does not name: the switch picks
// the path, the port carries its VLAN, a second add changes nothing else, remove-port
// closes only ports added so, and a reload of the file keeps them.
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/switch/frames.h"
#include "tests/switch/harness.h"

namespace vnet::sw::test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using ::testing::HasSubstr;

json add(const std::string& port, int pvid) {
  return {{"cmd", "add-port"}, {"port", port}, {"pvid", pvid}};
}

class AddedPorts : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = s_.path + "/lab";
    // One port from the file, in VLAN 40: what an added port must reach, or not.
    proc_.emplace(switch_toml(dir_, "[switches.lab.ports.up]\nstream = \"" + s_.path +
                                        "/up.sock\"\npvid = 40\n"),
                  "lab", dir_);
    ASSERT_TRUE(proc_->running()) << proc_->log();
    up_ = connect_stream(s_.path + "/up.sock");
    ASSERT_TRUE(up_);
  }

  ScratchDir s_;
  std::string dir_;
  std::optional<SwitchProcess> proc_;
  std::unique_ptr<FrameClient> up_;
};

TEST_F(AddedPorts, AnAddedPortListensInTheSwitchFolderWithItsVlan) {
  auto a = proc_->call(add("vm-dev-0", 40));
  ASSERT_TRUE(a.value("ok", false)) << a.dump();
  EXPECT_EQ(a["socket"], dir_ + "/vm-dev-0.sock");
  auto vm = connect_stream(dir_ + "/vm-dev-0.sock");
  ASSERT_TRUE(vm);
  ASSERT_TRUE(vm->send(frame(kBroadcast, mac(0x11))));
  EXPECT_TRUE(up_->recv(2000ms)) << "VLAN 40 to VLAN 40";
  EXPECT_EQ(proc_->port("vm-dev-0")["pvid"], 40);

  // Again, in VLAN 10: the same socket, the connection kept, the VLAN changed.
  auto again = proc_->call(add("vm-dev-0", 10));
  ASSERT_TRUE(again.value("ok", false)) << again.dump();
  EXPECT_EQ(again["socket"], dir_ + "/vm-dev-0.sock");
  EXPECT_EQ(proc_->port("vm-dev-0")["pvid"], 10);
  ASSERT_TRUE(vm->send(frame(kBroadcast, mac(0x12))));
  EXPECT_FALSE(up_->recv(300ms)) << "VLAN 10 leaked into VLAN 40";
}

TEST_F(AddedPorts, RemoveClosesOnlyAddedPorts) {
  ASSERT_TRUE(proc_->call(add("vm-dev-0", 40)).value("ok", false));
  auto vm = connect_stream(dir_ + "/vm-dev-0.sock");
  ASSERT_TRUE(vm);
  auto file_port = proc_->call({{"cmd", "remove-port"}, {"port", "up"}});
  EXPECT_FALSE(file_port.value("ok", true));
  EXPECT_THAT(file_port.value("error", ""), HasSubstr("comes from the switch's file"));
  auto r = proc_->call({{"cmd", "remove-port"}, {"port", "vm-dev-0"}});
  ASSERT_TRUE(r.value("ok", false)) << r.dump();
  EXPECT_NE(::access((dir_ + "/vm-dev-0.sock").c_str(), F_OK), 0) << "socket left behind";
  EXPECT_TRUE(proc_->port("vm-dev-0").is_null()) << "its connection is still a port";
  EXPECT_FALSE(proc_->call({{"cmd", "remove-port"}, {"port", "vm-dev-0"}}).value("ok", true));
  EXPECT_EQ(proc_->stats()["ports"], 1);
}

TEST_F(AddedPorts, NamesThatAreNotPlainFileNamesOrClashAreRefused) {
  for (const char* bad : {"../x", "a/b", ".hidden", "-x", "3", "x y", ""})
    EXPECT_FALSE(proc_->call(add(bad, 40)).value("ok", true)) << bad;
  // No more added ports than max_ports (here 64, one used by "ctl" below).
  for (int i = 0; i < 64; ++i)
    ASSERT_TRUE(proc_->call(add("p" + std::to_string(i), 1)).value("ok", false)) << i;
  auto full = proc_->call(add("one-more", 1));
  EXPECT_THAT(full.value("error", ""), HasSubstr("max_ports")) << full.dump();
  ASSERT_TRUE(proc_->call({{"cmd", "remove-port"}, {"port", "p0"}}).value("ok", false));
  auto clash = proc_->call(add("ctl", 40));  // DIR/ctl.sock is fine; "ctl" is a name
  EXPECT_TRUE(clash.value("ok", false)) << clash.dump();
  EXPECT_EQ(::access((dir_ + "/ctl").c_str(), F_OK), 0) << "the VDE control socket went";
}

TEST_F(AddedPorts, AReloadKeepsAddedPortsUnlessTheFileNowDeclaresThem) {
  ASSERT_TRUE(proc_->call(add("vm-a-0", 40)).value("ok", false));
  ASSERT_TRUE(proc_->call(add("vm-b-0", 40)).value("ok", false));
  auto vm = connect_stream(dir_ + "/vm-a-0.sock");
  ASSERT_TRUE(vm);
  // The file now declares vm-b-0 (as a guest added to it would): it is the file's then.
  std::ofstream(proc_->config_path(), std::ios::app)
      << "[switches.lab.ports.vm-b-0]\nstream = \"" << dir_ << "/vm-b-0.sock\"\npvid = 40\n";
  proc_->signal(SIGHUP);
  bool reloaded = false;
  for (int i = 0; i < 150 && !reloaded; ++i, std::this_thread::sleep_for(20ms))
    reloaded = proc_->log().find("reloaded:") != std::string::npos;
  ASSERT_TRUE(reloaded) << proc_->log();
  ASSERT_TRUE(vm->send(frame(kBroadcast, mac(0x21))));
  EXPECT_TRUE(up_->recv(2000ms)) << "the added port's connection did not survive the reload";
  EXPECT_EQ(::access((dir_ + "/vm-b-0.sock").c_str(), F_OK), 0);
  EXPECT_TRUE(proc_->call({{"cmd", "remove-port"}, {"port", "vm-a-0"}}).value("ok", false));
  EXPECT_THAT(proc_->call({{"cmd", "remove-port"}, {"port", "vm-b-0"}}).value("error", ""),
              HasSubstr("comes from the switch's file"));
}

}  // namespace
}  // namespace vnet::sw::test
