// Unit tier (no root): the switch under clients that hold descriptors without moving
// frames — out of descriptors it must not spin, and silent clients are closed.
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "switch/daemon.h"
#include "switch/sockets.h"
#include "tests/switch/harness.h"

namespace vnet::sw::test {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;

// CPU seconds (user + system) the process has used.
double cpu_seconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string all((std::istreambuf_iterator<char>(in)), {});
  std::istringstream rest(all.substr(all.rfind(')') + 2));
  std::string f;
  unsigned long long utime = 0, stime = 0;
  for (int i = 3; rest >> f; ++i) {
    if (i == 14) utime = std::stoull(f);
    if (i == 15) {
      stime = std::stoull(f);
      break;
    }
  }
  return double(utime + stime) / double(::sysconf(_SC_CLK_TCK));
}

UniqueFd connect_to(const std::string& path) {
  auto sa = unix_addr(path);
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!sa || ::connect(fd.get(), reinterpret_cast<sockaddr*>(&*sa), sizeof *sa) < 0) return {};
  return fd;
}

// True once the peer has closed `fd` (EOF or reset), within `limit`.
bool closed_by_peer(int fd, std::chrono::milliseconds limit) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, int(limit.count())) != 1) return false;
  char c;
  return ::recv(fd, &c, 1, MSG_DONTWAIT) <= 0;
}

TEST(SwitchLimits, OutOfDescriptorsItShedsClientsRestsAndRecovers) {
  ScratchDir s;
  std::string dir = s.path + "/lab";
  SwitchProcess::Options o;
  o.max_files = 16;  // a few to spare after its own sockets
  SwitchProcess proc(switch_toml(dir), "lab", dir, o);
  ASSERT_TRUE(proc.running()) << proc.log();
  std::vector<UniqueFd> held;
  for (int i = 0; i < 24; ++i) {
    UniqueFd fd = connect_to(dir + "/control");
    ASSERT_TRUE(fd) << "connect " << i;
    held.push_back(std::move(fd));
  }
  std::this_thread::sleep_for(300ms);
  double before = cpu_seconds(proc.pid());
  std::this_thread::sleep_for(1500ms);
  double used = cpu_seconds(proc.pid()) - before;
  RecordProperty("cpu_seconds_in_1500ms", std::to_string(used));
  EXPECT_LT(used, 0.15) << "the switch spins while out of descriptors";
  size_t shed = 0;
  for (const auto& fd : held) shed += closed_by_peer(fd.get(), 10ms);
  EXPECT_GT(shed, 0u) << "clients beyond the table were left waiting";
  EXPECT_LT(shed, held.size());
  EXPECT_THAT(proc.log(), HasSubstr("accept failed (Too many open files)"));
  held.clear();
  bool answered = false;
  for (int i = 0; i < 40 && !answered; ++i, std::this_thread::sleep_for(100ms))
    answered = proc.call({{"cmd", "stats"}}).value("ok", false);
  EXPECT_TRUE(answered) << "the switch did not recover\n" << proc.log();
}

// Whoever may read fills DIR/query with silent connections: the owner still gets in.
TEST(SwitchLimits, ReadersFillingTheQuerySocketDoNotLockOutTheOwner) {
  ScratchDir s;
  std::string dir = s.path + "/lab";
  SwitchProcess proc(switch_toml(dir), "lab", dir);
  ASSERT_TRUE(proc.running()) << proc.log();
  std::vector<UniqueFd> readers;
  for (size_t i = 0; i < kMaxControlConns + 8; ++i) readers.push_back(connect_to(dir + "/query"));
  size_t refused = 0;
  for (const auto& fd : readers) refused += closed_by_peer(fd.get(), 50ms);
  EXPECT_EQ(refused, 8u);
  EXPECT_TRUE(proc.call({{"cmd", "stats"}}).value("ok", false)) << proc.log();
}

TEST(SwitchLimits, SilentClientsAreClosedAfterTheIdleLimit) {
  ScratchDir s;
  std::string dir = s.path + "/lab";
  SwitchProcess proc(switch_toml(dir), "lab", dir);
  ASSERT_TRUE(proc.running()) << proc.log();
  UniqueFd control = connect_to(dir + "/control"), query = connect_to(dir + "/query"),
           vde = connect_to(dir + "/ctl");
  ASSERT_TRUE(control && query && vde);
  auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(closed_by_peer(control.get(), kClientIdle + 3s));
  EXPECT_GE(std::chrono::steady_clock::now() - start, kClientIdle - 1s);
  EXPECT_TRUE(closed_by_peer(query.get(), 2s));
  EXPECT_TRUE(closed_by_peer(vde.get(), 2s));
  // The switch logs after it closes: a loaded machine may run the test in between.
  auto logged = [&](const char* line) {
    return eventually([&] { return proc.log().find(line) != std::string::npos; });
  };
  EXPECT_TRUE(logged("control connection closed: idle for 10 s (2 times)")) << proc.log();
  EXPECT_TRUE(logged("VDE client closed: no handshake within 10 s")) << proc.log();
}

}  // namespace
}  // namespace vnet::sw::test
