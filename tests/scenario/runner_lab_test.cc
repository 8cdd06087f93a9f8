// Lab tier: `vnet scenario run scenarios/lab3-vms.toml` with four real TCG guests (vnet's
// test guest: the cached Debian kernel + a busybox initramfs) on a vnet switch. Checks
// run from the VMs over their serial consoles; afterwards no QEMU, namespace or record
// of the run is left, also after Ctrl-C while the VMs boot and after kill -9 of the
// runner followed by `vnet scenario clean`.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "tests/common/process.h"
#include "vmrun/kernel.h"
#include "vmrun/sys.h"

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

const std::string kFile = std::string(VNET_SOURCE_DIR) + "/scenarios/lab3-vms.toml";

// QEMUs (not zombies) whose command line names a run of `runner`.
int qemus_of(pid_t runner) {
  int n = 0;
  std::string tag = "/run/vnet/scenario/vsc-" + std::to_string(runner) + "-";
  for (const auto& e : fs::directory_iterator("/proc")) {
    std::string pid = e.path().filename();
    if (pid.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream cmd(e.path() / "cmdline");
    std::string args((std::istreambuf_iterator<char>(cmd)), {});
    std::ifstream st(e.path() / "stat");
    std::string stat((std::istreambuf_iterator<char>(st)), {});
    bool zombie = stat.find(") Z ") != std::string::npos;
    if (!zombie && args.find("qemu-system") != std::string::npos && args.find(tag) != std::string::npos)
      ++n;
  }
  return n;
}

bool record_left(pid_t runner) {
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/run/vnet/scenario", ec))
    if (e.path().filename().string().rfind("vsc-" + std::to_string(runner) + "-", 0) == 0) return true;
  for (const auto& e : fs::directory_iterator("/run/netns", ec))
    if (e.path().filename().string().rfind("vsc-" + std::to_string(runner) + "-", 0) == 0) return true;
  return false;
}

pid_t spawn_run() {
  pid_t pid = fork();
  if (pid == 0) {
    FILE* null = freopen("/dev/null", "w", stdout);
    (void)null;
    execl(VNET_BINARY, VNET_BINARY, "scenario", "run", kFile.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  return pid;
}

class VmScenario : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root: creates network namespaces";
    if (vnet::vmrun::find_program("qemu-system-x86_64").empty())
      GTEST_SKIP() << "qemu-system-x86_64 is not installed (package qemu-system-x86)";
    auto k = vnet::vmrun::cached_kernel();
    if (!k)
      GTEST_SKIP() << "no cached Debian kernel (" << k.error().str()
                   << "); `vnet vm-run -- true` fetches and caches one";
  }
};

TEST_F(VmScenario, Lab3VmsPassesFullMeshAndVlanSeparationAndLeavesNothing) {
  auto r = vnet::testing::run({VNET_BINARY, "scenario", "run", kFile});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("lab3-vms: 11 passed, 0 failed"), std::string::npos) << r.out << r.err;
  // Each VM's checks ran in the VM: a ping from n1 to the VLAN 10 VM got no reply.
  EXPECT_NE(vnet::testing::row_with(r.out, "n1    10.34.0.4"), "") << r.out;
}

TEST_F(VmScenario, CtrlCWhileTheVmsBootStopsThemAndLeavesNothing) {
  pid_t pid = spawn_run();
  // Until its VMs run (bounded), then Ctrl-C.
  for (int i = 0; i < 600 && qemus_of(pid) < 4; ++i) std::this_thread::sleep_for(100ms);
  ASSERT_EQ(qemus_of(pid), 4) << "the run did not start its four VMs within 60 s";
  kill(pid, SIGINT);
  int status = 0;
  for (int i = 0; i < 600 && waitpid(pid, &status, WNOHANG) == 0; ++i) std::this_thread::sleep_for(100ms);
  if (waitpid(pid, &status, WNOHANG) == 0) {
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    FAIL() << "the run did not end within 60 s of SIGINT";
  }
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 130) << status;
  EXPECT_EQ(qemus_of(pid), 0);
  EXPECT_FALSE(record_left(pid));
}

TEST_F(VmScenario, KillNineLeavesVmsThatScenarioCleanStops) {
  pid_t pid = spawn_run();
  for (int i = 0; i < 600 && qemus_of(pid) < 4; ++i) std::this_thread::sleep_for(100ms);
  ASSERT_EQ(qemus_of(pid), 4) << "the run did not start its four VMs within 60 s";
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  EXPECT_EQ(qemus_of(pid), 4) << "QEMU runs in its own session: the runner's death leaves it";
  auto r = vnet::testing::run({VNET_BINARY, "scenario", "clean"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  for (int i = 0; i < 50 && qemus_of(pid) > 0; ++i) std::this_thread::sleep_for(100ms);
  EXPECT_EQ(qemus_of(pid), 0);
  EXPECT_FALSE(record_left(pid));
}

}  // namespace
