// Lab tier: QEMU itself accepts what build_argv makes. A guest with a user NIC (with a
// forward), a switch NIC (a stream to a socket this test listens on) and a seed CD-ROM,
// every path under a folder with a comma in its name, started paused (-S): QEMU must stay
// up, connect the stream, and greet on the QMP socket. No guest boots.
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "base/unique_fd.h"
#include "qemu/argv.h"
#include "qemu/seed.h"
#include "tests/common/process.h"

extern char** environ;

namespace vnet::qemu {
namespace {

using namespace std::chrono_literals;

std::string find_on_path(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::stringstream ss(path ? path : "/usr/bin:/bin");
  std::string dir;
  while (std::getline(ss, dir, ':'))
    if (!dir.empty() && ::access((dir + "/" + name).c_str(), X_OK) == 0) return dir + "/" + name;
  return "";
}

UniqueFd unix_listener(const std::string& path) {
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::snprintf(a.sun_path, sizeof a.sun_path, "%s", path.c_str());
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::listen(fd.get(), 1) != 0)
    return UniqueFd();
  return fd;
}

UniqueFd unix_connect(const std::string& path) {
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::snprintf(a.sun_path, sizeof a.sun_path, "%s", path.c_str());
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return UniqueFd();
  return fd;
}

// A TCP port free on 127.0.0.1 right now (the kernel picks it).
std::string slurp(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

TEST(QemuArgvLab, QemuAcceptsTheArgvOfAUserAndSwitchGuest) {
  std::string qemu = find_on_path("qemu-system-x86_64");
  if (qemu.empty()) GTEST_SKIP() << "qemu-system-x86_64 is not installed (package qemu-system-x86)";

  std::string tmpl = ::testing::TempDir() + "vnet-qemu,lab-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
  std::string dir = tmpl;
  struct Cleanup {
    std::string d;
    ~Cleanup() { std::filesystem::remove_all(d); }
  } cleanup{dir};

  topology::Guest g;
  g.name = "smoke";
  g.memory_bytes = 128ull << 20;
  topology::GuestNic user;
  user.kind = topology::GuestNic::Kind::kUser;
  int port = vnet::testing::free_loopback_port();
  ASSERT_NE(port, 0);
  user.hostfwd = {"tcp:127.0.0.1:" + std::to_string(port) + "-:22"};
  topology::GuestNic sw;
  sw.kind = topology::GuestNic::Kind::kSwitch;
  sw.switch_name = "lab";
  g.nics = {user, sw};

  LaunchContext ctx;
  ctx.qemu = qemu;
  ctx.qmp_socket = dir + "/qmp.sock";
  ctx.console_socket = dir + "/console.sock";
  ctx.console_log = dir + "/console.log";
  ctx.seed_iso = dir + "/seed.iso";
  ctx.nics.resize(2);
  ctx.nics[1].stream_socket = dir + "/switch.sock";
  UniqueFd sw_listen = unix_listener(ctx.nics[1].stream_socket);
  ASSERT_TRUE(sw_listen) << "cannot listen on " << ctx.nics[1].stream_socket;
  auto seed = write_seed_iso(ctx.seed_iso, render_seed(g, {}));
  ASSERT_TRUE(seed) << seed.error().str();

  auto argv = build_argv(g, ctx);
  ASSERT_TRUE(argv) << argv.error().str();
  argv->push_back("-S");  // paused: nothing to boot, only the command line is on trial
  std::vector<char*> cargv;
  for (auto& a : *argv) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  std::string log = dir + "/qemu.log";
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  pid_t pid = -1;
  int err = ::posix_spawn(&pid, qemu.c_str(), &fa, nullptr, cargv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  ASSERT_EQ(err, 0) << std::strerror(err);
  struct Reaper {
    pid_t pid;
    ~Reaper() {
      ::kill(pid, SIGKILL);
      int st = 0;
      while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
      }
    }
  } reaper{pid};

  // The switch NIC connects to us at start-up.
  pollfd p{sw_listen.get(), POLLIN, 0};
  ASSERT_EQ(::poll(&p, 1, 5000), 1) << "no stream connection from QEMU; its log:\n" << slurp(log);
  UniqueFd sw_conn(::accept4(sw_listen.get(), nullptr, nullptr, SOCK_CLOEXEC));
  EXPECT_TRUE(sw_conn);

  // Still running a second later: the argv was accepted whole.
  std::this_thread::sleep_for(1s);
  int st = 0;
  ASSERT_EQ(::waitpid(pid, &st, WNOHANG), 0) << "QEMU exited; its log:\n" << slurp(log);

  // QMP answers on its socket (the greeting comes unasked).
  UniqueFd qmp = unix_connect(ctx.qmp_socket);
  ASSERT_TRUE(qmp) << "cannot connect to " << ctx.qmp_socket;
  pollfd q{qmp.get(), POLLIN, 0};
  ASSERT_EQ(::poll(&q, 1, 5000), 1);
  char buf[256] = {};
  ASSERT_GT(::read(qmp.get(), buf, sizeof buf - 1), 0);
  EXPECT_EQ(std::string(buf).rfind("{\"QMP\"", 0), 0u) << buf;
  // The console socket exists too.
  EXPECT_TRUE(std::filesystem::exists(ctx.console_socket));
}

}  // namespace
}  // namespace vnet::qemu
