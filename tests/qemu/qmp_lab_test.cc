// The QMP client against a real QEMU with no machine at all (`-machine none`): no
// kernel, no disk, no network, so it starts in well under a second even under TCG on a
// loaded machine, and its monitor speaks exactly what the `vnet guest` backend will meet.
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "qemu/qmp.h"

namespace vnet::qemu {
namespace {

using ::testing::HasSubstr;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

std::string find_in_path(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path ? path : "/usr/bin:/bin");
  for (std::string dir; std::getline(dirs, dir, ':');) {
    std::string p = (dir.empty() ? "." : dir) + "/" + name;
    if (::access(p.c_str(), X_OK) == 0) return p;
  }
  return "";
}

// A QEMU process with its QMP socket in a temp folder; killed and reaped on destruction
// if the test did not see it exit.
class Qemu {
 public:
  // The monitor on a unix socket QEMU creates (`monitor_fd` < 0), or on the inherited,
  // already connected socket `monitor_fd`.
  explicit Qemu(const std::string& binary, int monitor_fd = -1) {
    std::string tmpl = (std::filesystem::temp_directory_path() / "vnet-qmp-lab-XXXXXX").string();
    if (!::mkdtemp(tmpl.data())) std::abort();
    dir_ = tmpl;
    socket_ = dir_ + "/qmp.sock";
    log_ = dir_ + "/qemu.log";
    std::vector<std::string> argv = {binary, "-machine", "none", "-nodefaults", "-display", "none"};
    if (monitor_fd < 0) {
      argv.insert(argv.end(), {"-qmp", "unix:" + socket_ + ",server=on,wait=off"});
    } else {
      argv.insert(argv.end(), {"-chardev", "socket,id=qmp,fd=" + std::to_string(monitor_fd),
                               "-mon", "chardev=qmp,mode=control"});
    }
    pid_ = ::fork();
    if (pid_ == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // a crashed test leaves no QEMU behind
      if (monitor_fd >= 0 && ::fcntl(monitor_fd, F_SETFD, 0) < 0) _exit(126);
      FILE* log = std::freopen(log_.c_str(), "w", stderr);
      if (!log || !std::freopen("/dev/null", "r", stdin) || ::dup2(2, 1) < 0) _exit(126);
      std::vector<char*> args;
      for (auto& a : argv) args.push_back(a.data());
      args.push_back(nullptr);
      ::execv(args[0], args.data());
      _exit(127);
    }
  }
  ~Qemu() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    std::filesystem::remove_all(dir_);
  }

  // QEMU's exit status once it has exited within `timeout` (polled, never a blocking
  // wait), else nullopt.
  std::optional<int> reap(std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    while (pid_ > 0) {
      int st = 0;
      pid_t r = ::waitpid(pid_, &st, WNOHANG);
      if (r == pid_) {
        pid_ = -1;
        return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
      }
      if (Clock::now() >= deadline) return std::nullopt;
      std::this_thread::sleep_for(20ms);
    }
    return std::nullopt;
  }

  std::string log() const {
    std::ifstream f(log_);
    return std::string(std::istreambuf_iterator<char>(f), {});
  }
  const std::string& socket() const { return socket_; }
  bool started() const { return pid_ > 0; }

 private:
  std::string dir_, socket_, log_;
  pid_t pid_ = -1;
};

TEST(QmpLab, RealQemuAnswersStatusStopsResumesAndQuits) {
  const std::string qemu = find_in_path("qemu-system-x86_64");
  if (qemu.empty())
    GTEST_SKIP() << "qemu-system-x86_64 not found in PATH (Debian package qemu-system-x86)";

  Qemu vm(qemu);
  ASSERT_TRUE(vm.started());
  // Generous: QEMU shares 2 cores with other builds here.
  auto c = QmpClient::connect(vm.socket(), 20000ms);
  ASSERT_TRUE(c) << c.error().str() << "\nQEMU's log:\n" << vm.log();
  EXPECT_GE(c->greeting().major, 7) << c->greeting().version();

  auto st = c->query_status();
  ASSERT_TRUE(st) << st.error().str();
  EXPECT_EQ(*st, "running");

  // stop/cont: QEMU's own STOP and RESUME events, around a paused status.
  ASSERT_TRUE(c->execute("stop"));
  auto stop = c->wait_event("STOP", 5000ms);
  ASSERT_TRUE(stop) << stop.error().str();
  EXPECT_GT(stop->seconds, 0);
  st = c->query_status();
  ASSERT_TRUE(st) << st.error().str();
  EXPECT_EQ(*st, "paused");
  ASSERT_TRUE(c->execute("cont"));
  ASSERT_TRUE(c->wait_event("RESUME", 5000ms));

  // A real error reply: class and text are QEMU's.
  auto bad = c->call("vnet-no-such-command");
  ASSERT_TRUE(bad) << bad.error().str();
  EXPECT_FALSE(bad->ok);
  EXPECT_EQ(bad->error.cls, "CommandNotFound");
  EXPECT_THAT(bad->error.desc, HasSubstr("vnet-no-such-command"));

  auto q = c->quit(10000ms);
  ASSERT_TRUE(q) << q.error().str();
  // QEMU 7.2 sends SHUTDOWN before the quit reply; a QEMU that exits before flushing
  // it shows as the connection closing instead.
  auto down = c->wait_event("SHUTDOWN", 5000ms);
  ::testing::Test::RecordProperty("quit_seen_as", down ? "SHUTDOWN event" : "socket closed");
  if (down) {
    EXPECT_EQ(down->reason, "host-qmp-quit");
    EXPECT_FALSE(down->guest);
  } else {
    EXPECT_TRUE(c->closed()) << down.error().str();
  }
  auto code = vm.reap(10000ms);
  ASSERT_TRUE(code.has_value()) << "QEMU did not exit within 10 s of quit";
  EXPECT_EQ(*code, 0) << vm.log();

  // QEMU is gone: a command is a prompt error, not a hang.
  auto t0 = Clock::now();
  auto after = c->query_status(10000ms);
  ASSERT_FALSE(after);
  EXPECT_THAT(after.error().what, HasSubstr("closed"));
  EXPECT_LT(Clock::now() - t0, 3s);
  EXPECT_TRUE(c->closed());
}

TEST(QmpLab, AttachesToASocketpairQemuInherited) {
  const std::string qemu = find_in_path("qemu-system-x86_64");
  if (qemu.empty())
    GTEST_SKIP() << "qemu-system-x86_64 not found in PATH (Debian package qemu-system-x86)";

  // The backend's race-free way: the monitor socket exists before QEMU starts.
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  UniqueFd ours(sv[0]), theirs(sv[1]);
  Qemu vm(qemu, theirs.get());
  ASSERT_TRUE(vm.started());
  theirs.reset();  // QEMU holds the only other end: its exit closes the connection

  auto c = QmpClient::attach(std::move(ours), 20000ms);
  ASSERT_TRUE(c) << c.error().str() << "\nQEMU's log:\n" << vm.log();
  auto st = c->query_status();
  ASSERT_TRUE(st) << st.error().str();
  EXPECT_EQ(*st, "running");
  ASSERT_TRUE(c->quit(10000ms));
  auto code = vm.reap(10000ms);
  ASSERT_TRUE(code.has_value()) << "QEMU did not exit within 10 s of quit";
  EXPECT_EQ(*code, 0) << vm.log();
  // Everything QEMU wrote before exiting is still delivered, then the close.
  auto down = c->wait_event("SHUTDOWN", 5000ms);
  ASSERT_TRUE(down) << down.error().str();
  EXPECT_EQ(down->reason, "host-qmp-quit");
  auto gone = c->wait_event("", 5000ms);
  ASSERT_FALSE(gone);
  EXPECT_THAT(gone.error().what, HasSubstr("closed"));
  EXPECT_TRUE(c->closed());
}

}  // namespace
}  // namespace vnet::qemu
