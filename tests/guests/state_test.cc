// Unit tier: the state folder's paths, and running vs stale vs stopped decided from a
// pid file and /proc — with real processes of this test standing in for QEMU.
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "guests/state.h"

namespace vnet::guests {
namespace {

namespace fs = std::filesystem;

class StateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = ::testing::TempDir() + "vnet-guest-state-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    root_ = tmpl;
  }
  void TearDown() override {
    if (child_ > 0) {
      ::kill(-child_, SIGKILL);
      ::waitpid(child_, nullptr, 0);
    }
    fs::remove_all(root_);
  }
  // A child process whose argv carries `marker`, as QEMU's carries its QMP path.
  pid_t spawn_sleeper(const std::string& marker) {
    pid_t pid = ::fork();
    if (pid == 0) {
      // Its own group, killed whole: a `sleep` left behind would hold ctest's output
      // pipe open for its 30 s.
      ::setpgid(0, 0);
      // sh stays the process (a second command after sleep), with the marker as $0.
      ::execl("/bin/sh", "sh", "-c", "sleep 30; true", marker.c_str(),
              static_cast<char*>(nullptr));
      ::_exit(127);
    }
    child_ = pid;
    // exec replaces the cmdline; wait until it shows the marker.
    for (int i = 0; i < 200 && !process_matches(pid, marker); ++i) ::usleep(5000);
    return pid;
  }
  void touch(const std::string& p) { std::ofstream(p) << ""; }

  std::string root_;
  pid_t child_ = -1;
};

TEST_F(StateTest, PathsLiveInOnePrivateFolderPerGuest) {
  StateDir d(root_ + "/guests", "dev");
  ASSERT_TRUE(d.ensure());
  EXPECT_EQ(d.path(), root_ + "/guests/dev");
  EXPECT_EQ(d.pid_file(), d.path() + "/pid");
  EXPECT_EQ(d.qmp_socket(), d.path() + "/qmp.sock");
  EXPECT_EQ(d.private_key(), d.path() + "/id_ed25519");
  struct stat st{};
  ASSERT_EQ(::stat(d.path().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
}

TEST_F(StateTest, DefaultRootFollowsTheEnvironmentOverride) {
  ::setenv("VNET_GUEST_STATE", "/somewhere/else", 1);
  EXPECT_EQ(default_state_root(), "/somewhere/else");
  ::unsetenv("VNET_GUEST_STATE");
  if (::geteuid() == 0) {
    EXPECT_EQ(default_state_root(), "/var/lib/vnet/guests");
  } else {
    ::setenv("XDG_STATE_HOME", "/xdg", 1);
    EXPECT_EQ(default_state_root(), "/xdg/vnet/guests");
  }
}

TEST_F(StateTest, NoFilesIsStopped) {
  StateDir d(root_, "g");
  ASSERT_TRUE(d.ensure());
  EXPECT_EQ(probe(d, d.qmp_socket()).state, RunState::kStopped);
}

TEST_F(StateTest, LivePidWhoseArgvNamesOurSocketIsRunning) {
  StateDir d(root_, "g");
  ASSERT_TRUE(d.ensure());
  pid_t pid = spawn_sleeper("path=" + d.qmp_socket());
  ASSERT_TRUE(write_pid_file(d, pid));
  Probe p = probe(d, d.qmp_socket());
  EXPECT_EQ(p.state, RunState::kRunning) << p.why;
  EXPECT_EQ(p.pid, pid);
}

TEST_F(StateTest, DeadPidIsStale) {
  StateDir d(root_, "g");
  ASSERT_TRUE(d.ensure());
  pid_t pid = spawn_sleeper("path=" + d.qmp_socket());
  ::kill(-pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
  child_ = -1;
  ASSERT_TRUE(write_pid_file(d, pid));
  Probe p = probe(d, d.qmp_socket());
  EXPECT_EQ(p.state, RunState::kStale);
  EXPECT_NE(p.why.find("gone"), std::string::npos) << p.why;
}

TEST_F(StateTest, ZombieIsStaleNotRunning) {
  // Killed but not yet reaped by its parent: it has exited.
  StateDir d(root_, "g");
  ASSERT_TRUE(d.ensure());
  pid_t pid = spawn_sleeper("path=" + d.qmp_socket());
  ::kill(-pid, SIGKILL);
  for (int i = 0; i < 200 && process_alive(pid); ++i) ::usleep(5000);
  ASSERT_TRUE(write_pid_file(d, pid));
  EXPECT_EQ(probe(d, d.qmp_socket()).state, RunState::kStale);
}

TEST_F(StateTest, PidReusedByAnotherProgramIsStale) {
  StateDir d(root_, "g");
  ASSERT_TRUE(d.ensure());
  pid_t pid = spawn_sleeper("something-else");
  ASSERT_TRUE(write_pid_file(d, pid));
  Probe p = probe(d, d.qmp_socket());
  EXPECT_EQ(p.state, RunState::kStale);
  EXPECT_NE(p.why.find("another program"), std::string::npos) << p.why;
}

TEST_F(StateTest, SocketsWithoutPidFileAreStale) {
  StateDir d(root_, "g");
  ASSERT_TRUE(d.ensure());
  touch(d.qmp_socket());
  EXPECT_EQ(probe(d, d.qmp_socket()).state, RunState::kStale);
}

TEST_F(StateTest, CleaningRemovesRunFilesAndKeepsLogsAndDisk) {
  StateDir d(root_, "g");
  ASSERT_TRUE(d.ensure());
  for (const auto& f : {d.pid_file(), d.run_file(), d.qmp_socket(), d.console_socket(),
                        d.private_key(), d.public_key(), d.console_log(), d.overlay_disk(),
                        d.known_hosts()})
    touch(f);
  ASSERT_TRUE(clean_run_files(d));
  for (const auto& f : {d.pid_file(), d.run_file(), d.qmp_socket(), d.console_socket(),
                        d.private_key(), d.public_key()})
    EXPECT_FALSE(fs::exists(f)) << f;
  for (const auto& f : {d.console_log(), d.overlay_disk(), d.known_hosts()})
    EXPECT_TRUE(fs::exists(f)) << f;
  EXPECT_EQ(probe(d, d.qmp_socket()).state, RunState::kStopped);
}

TEST_F(StateTest, RotationKeepsOneEarlierConsoleLog) {
  StateDir d(root_, "g");
  ASSERT_TRUE(d.ensure());
  std::ofstream(d.console_log()) << "first boot\n";
  ASSERT_TRUE(rotate_console_log(d));
  EXPECT_FALSE(fs::exists(d.console_log()));
  std::ifstream in(d.console_log() + ".1");
  std::string line;
  std::getline(in, line);
  EXPECT_EQ(line, "first boot");
  EXPECT_TRUE(rotate_console_log(d));  // nothing to rotate is fine
}

}  // namespace
}  // namespace vnet::guests
