// Kernel tier, under `vnet vm-run --systemd` (tests/guests/CMakeLists.txt): systemd is
// PID 1 in the guest, so `vnet guest start --unit` really goes through sd-bus
// (cli/guest_unit.cc). A tiny QEMU guest (the cached Debian kernel + a busybox
// initramfs with the ACPI power-button helper of lifecycle_lab_test.cc, a user-mode
// NIC) is started as the transient unit vnet-guest-tiny.service; the test checks with
// `systemctl show` that systemd holds the settings `vnet render units` writes for that
// guest, that QEMU is the unit's main process and answers QMP, and that `systemctl
// stop` powers the guest down over ACPI (the unit's ExecStop) and leaves no unit.
//
// QEMU runs nested (TCG inside the TCG test kernel): slow, so the waits are long.
#include <signal.h>
#include <sys/mount.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include "tests/common/process.h"
#include "tests/guests/guest_lab.h"
#include "units/units.h"
#include "vmrun/initramfs.h"
#include "vmrun/kernel.h"
#include "vmrun/sys.h"

namespace vnet::guests {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

const char* kUnit = "vnet-guest-tiny.service";

// The guest's /init: as lifecycle_lab_test.cc's, without the listener.
const std::string kInit = std::string(vmrun::kInitPreamble) + R"INIT(echo "vnet-test: booted"
PM=$(hexdump -s 56 -n 4 -e '1/4 "%u"' /sys/firmware/acpi/tables/FACP)
/bin/pwrbtn $PM && echo "vnet-test: power button" && poweroff -f
echo "vnet-test: pwrbtn failed"
)INIT";

// `systemctl show UNIT` as a map (systemctl as root talks to PID 1 over its private
// socket, so no D-Bus daemon is needed).
std::map<std::string, std::string> show(const std::string& unit) {
  auto r = testing::run({"systemctl", "show", unit});
  std::map<std::string, std::string> m;
  std::istringstream in(r.out);
  for (std::string line; std::getline(in, line);)
    if (size_t eq = line.find('='); eq != std::string::npos)
      m[line.substr(0, eq)] = line.substr(eq + 1);
  return m;
}

// The [Service] and [Unit] lines of a rendered unit file, comments dropped.
std::map<std::string, std::string> unit_file(const std::string& text) {
  std::map<std::string, std::string> m;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#' || line[0] == '[') continue;
    if (size_t eq = line.find('='); eq != std::string::npos)
      m[line.substr(0, eq)] = line.substr(eq + 1);
  }
  return m;
}

// How `systemctl show` prints a whole number of seconds below an hour ("2min", "45s",
// "1min 30s").
std::string timespan(const std::string& seconds) {
  int s = std::stoi(seconds);
  std::string out;
  if (s >= 60) out = std::to_string(s / 60) + "min";
  if (s % 60 || s == 0) out += (out.empty() ? "" : " ") + std::to_string(s % 60) + "s";
  return out;
}

// The argv[] of an Exec property as `systemctl show` prints it:
// "{ path=P ; argv[]=A B C ; ignore_errors=no ; ... }".
std::string exec_argv(const std::string& shown) {
  size_t a = shown.find("argv[]=");
  if (a == std::string::npos) return "";
  a += 7;
  return shown.substr(a, shown.find(" ; ", a) - a);
}

class GuestUnit : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::is_directory("/run/systemd/system") || slurp("/proc/1/comm") != "systemd\n")
      GTEST_SKIP() << "systemd is not PID 1 here (run this test through `vnet vm-run "
                      "--systemd`, as ctest does)";
    auto k = guest_kernel();
    if (!k) GTEST_SKIP() << k.error();
    // The unit keeps its state under /var/lib/vnet/guests (units::kGuestStateRoot); the
    // guest's root is the host's, read-only, and the host may have no /var/lib/vnet.
    if (::access(units::kGuestStateRoot, W_OK) != 0) {
      ASSERT_EQ(::mount("tmpfs", "/var/lib", "tmpfs", 0, "mode=755"), 0)
          << "cannot mount a tmpfs on /var/lib: " << std::strerror(errno);
    }
    state_ = std::string(units::kGuestStateRoot) + "/tiny";

    std::string tmpl = "/tmp/vnet-guest-unit-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    // `vnet guest start` gives QMP 30 s to answer; nested under TCG, QEMU loading its
    // libraries and the 66 MB vmlinux over 9p took about that long. So QEMU has run once
    // (its libraries are in the page cache) and the kernel is a copy in tmpfs.
    auto warm = testing::run({"qemu-system-x86_64", "--version"});
    ASSERT_EQ(warm.exit_code, 0) << warm.err;
    fs::copy_file(k->vmlinux, dir_ + "/vmlinux");
    auto helper = vmrun::read_file(VNET_PWRBTN);
    ASSERT_TRUE(helper) << helper.error().str();
    auto img = vmrun::build_initramfs(*k, {kInit, {}, {{"bin/pwrbtn", *helper}}, ""});
    ASSERT_TRUE(img) << img.error().str();
    ASSERT_TRUE(vmrun::write_file(dir_ + "/initrd.cpio", *img));
    int port = testing::free_loopback_port();
    ASSERT_NE(port, 0);
    file_ = dir_ + "/host.toml";
    std::ofstream(file_) << "[host]\nname = \"unitlab\"\n\n"
                         << "[guests.tiny]\nkind = \"qemu\"\nmemory = \"192M\"\n"
                         << "cpu_weight = 150\n"
                         << "kernel = \"" << dir_ << "/vmlinux\"\n"
                         << "initrd = \"" << dir_ << "/initrd.cpio\"\n"
                         << "append = \"console=ttyS0 quiet panic=-1 i8042.noaux i8042.nokbd\"\n"
                         << "[[guests.tiny.nics]]\nuser = true\n"
                         << "hostfwd = [\"tcp:127.0.0.1:" << port << "-:22\"]\n";
  }
  void TearDown() override {
    // Whatever happened, no unit and no QEMU outlive the test.
    if (!file_.empty()) {
      testing::run({"systemctl", "kill", "--signal=SIGKILL", kUnit});
      testing::run({"systemctl", "stop", kUnit});
      testing::run({"systemctl", "reset-failed", kUnit});
    }
    std::ifstream in(state_ + "/pid");
    pid_t pid = 0;
    if (in >> pid && pid > 0) ::kill(pid, SIGKILL);
    if (!dir_.empty()) fs::remove_all(dir_);
  }
  std::string diagnostics() {
    return "\nconsole.log:\n" + slurp(state_ + "/console.log") + "\nqemu.log:\n" +
           slurp(state_ + "/qemu.log") + "\nsystemctl status:\n" +
           testing::run({"systemctl", "status", "--no-pager", kUnit}).out;
  }

  std::string dir_, file_, state_;
};

TEST_F(GuestUnit, StartsAsTransientUnitWithTheRenderedSettingsAndStopsOverAcpi) {
  auto t0 = Clock::now();
  auto r = testing::run({VNET_BINARY, "guest", "start", "tiny", "-c", file_, "--unit"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err << diagnostics();
  EXPECT_EQ(r.out, "guest tiny: started as vnet-guest-tiny.service\n") << r.err;
  EXPECT_EQ(r.err.find("systemd is not PID 1"), std::string::npos) << r.err;
  std::cout << "[unit active " << std::chrono::duration<double>(Clock::now() - t0).count()
            << " s after start]\n";

  // What the renderer writes for this guest is what systemd holds.
  r = testing::run({VNET_BINARY, "render", "units", file_, "-o", dir_ + "/units"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto want = unit_file(slurp(dir_ + "/units/" + kUnit));
  auto have = show(kUnit);
  ASSERT_FALSE(want.empty()) << "no rendered " << kUnit;
  EXPECT_EQ(have["Transient"], "yes");
  EXPECT_EQ(have["ActiveState"], "active");
  EXPECT_EQ(have["SubState"], "running");
  for (const char* key : {"Description", "Type", "PIDFile", "KillMode", "CPUWeight"}) {
    ASSERT_TRUE(want.count(key)) << key << " not rendered";
    EXPECT_EQ(have[key], want[key]) << key;
  }
  EXPECT_EQ(want["CPUWeight"], "150");
  EXPECT_EQ(have["TimeoutStartUSec"], timespan(want["TimeoutStartSec"]));
  EXPECT_EQ(have["TimeoutStopUSec"], timespan(want["TimeoutStopSec"]));
  EXPECT_EQ(exec_argv(have["ExecStart"]), want["ExecStart"]) << have["ExecStart"];
  EXPECT_EQ(exec_argv(have["ExecStop"]), want["ExecStop"]) << have["ExecStop"];
  std::istringstream after(want["After"]);
  for (std::string u; after >> u;)
    EXPECT_NE((" " + have["After"] + " ").find(" " + u + " "), std::string::npos)
        << u << " not in After=" << have["After"];

  // QEMU is the main process (Type=forking + PIDFile), in the unit's cgroup.
  pid_t pid = 0;
  std::ifstream(state_ + "/pid") >> pid;
  ASSERT_GT(pid, 0);
  EXPECT_EQ(have["MainPID"], std::to_string(pid));
  std::error_code ec;
  EXPECT_EQ(fs::read_symlink("/proc/" + std::to_string(pid) + "/exe", ec).filename(),
            "qemu-system-x86_64");
  EXPECT_NE(slurp("/proc/" + std::to_string(pid) + "/cgroup").find(std::string("/") + kUnit),
            std::string::npos);

  r = testing::run({VNET_BINARY, "guest", "status", "tiny", "-c", file_});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("running (pid " + std::to_string(pid)), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("qmp running)"), std::string::npos) << r.out;

  // Stop through systemd (ExecStop: ACPI power-down over QMP) once the guest's /init has
  // armed the power button: nested TCG boots slowly.
  auto deadline = Clock::now() + 420s;
  while (Clock::now() < deadline &&
         slurp(state_ + "/console.log").find("pwrbtn: armed") == std::string::npos)
    std::this_thread::sleep_for(500ms);
  ASSERT_NE(slurp(state_ + "/console.log").find("pwrbtn: armed"), std::string::npos)
      << "the guest did not arm its power button within 420 s" << diagnostics();
  std::cout << "[guest booted " << std::chrono::duration<double>(Clock::now() - t0).count()
            << " s after start]\n";
  auto t1 = Clock::now();
  r = testing::run({"systemctl", "stop", kUnit});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  std::cout << "[systemctl stop took "
            << std::chrono::duration<double>(Clock::now() - t1).count() << " s]\n";
  EXPECT_NE(slurp(state_ + "/console.log").find("vnet-test: power button"), std::string::npos)
      << "not powered down over ACPI" << diagnostics();
  EXPECT_NE(::kill(pid, 0), 0) << "QEMU still runs";
  // A stopped transient unit is unloaded (or at least inactive, not failed).
  have = show(kUnit);
  EXPECT_EQ(have["ActiveState"], "inactive") << diagnostics();
  EXPECT_NE(have["LoadState"], "loaded") << "the transient unit is still loaded";
}

}  // namespace
}  // namespace vnet::guests
