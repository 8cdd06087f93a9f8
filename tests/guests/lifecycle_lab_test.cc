// Lab tier: `vnet guest` end to end with a real TCG guest (Debian kernel booted through
// PVH + a busybox initramfs built here), started WITHOUT root (as uid 65534 when the test
// runs as root; as the caller otherwise) with a user-mode NIC forwarding a loopback port
// to a busybox listener in the guest. Then: status, a second start, a stop through the
// ACPI power button (SHUTDOWN seen), and kill -9 of QEMU cleaned up by the next start.
//
// The guest's kernel is the one vm-run cached (never downloaded here: skip otherwise).
// Debian's ACPI button driver is a module the kernel cache does not keep, and busybox's
// acpid needs it (and evdev). So the guest's /init runs a small static helper
// (pwrbtn.cc) that enables the power-button fixed event in PM1a_EN and waits for the
// press: the button QMP's system_powerdown presses is a real ACPI event, and the guest
// answers it with `poweroff -f`, which QEMU reports as SHUTDOWN (guest-shutdown).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "base/unique_fd.h"
#include "tests/common/process.h"
#include "tests/guests/guest_lab.h"
#include "vmrun/initramfs.h"
#include "vmrun/kernel.h"
#include "vmrun/sys.h"

namespace vnet::guests {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

const std::string kInit = std::string(vmrun::kInitPreamble) + R"INIT(ip link set lo up
ip link set eth0 up
ip addr add 10.0.2.15/24 dev eth0
ip route add default via 10.0.2.2
echo "vnet-test: eth0 up"
# The listener: one greeting per connection.
(while :; do nc -l -p 22 -e echo hello-from-guest; done) &
# The ACPI power button (see the file comment); the FADT gives PM1a_EVT_BLK at 56.
PM=$(hexdump -s 56 -n 4 -e '1/4 "%u"' /sys/firmware/acpi/tables/FACP)
/bin/pwrbtn $PM && echo "vnet-test: power button" && poweroff -f
echo "vnet-test: pwrbtn failed"
)INIT";

// What a connection to 127.0.0.1:port reads within `wait` ("" when nothing). Slirp
// accepts every connection on the forwarded port and closes it when the guest refuses,
// so an early try reads nothing.
std::string read_greeting(int port, std::chrono::milliseconds wait) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(uint16_t(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return "";
  std::string got;
  auto deadline = Clock::now() + wait;
  while (Clock::now() < deadline) {
    pollfd p{fd.get(), POLLIN, 0};
    if (::poll(&p, 1, 200) <= 0) continue;
    char buf[256];
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n <= 0) break;
    got.append(buf, size_t(n));
    if (got.find('\n') != std::string::npos) break;
  }
  return got;
}

// `vnet switch lab -c FILE` (as root, or the caller) for as long as it is in scope.
struct SwitchRun {
  explicit SwitchRun(const std::string& file) {
    pid = ::fork();
    if (pid == 0) {
      ::execl(VNET_BINARY, VNET_BINARY, "switch", "lab", "-c", file.c_str(),
              static_cast<char*>(nullptr));
      ::_exit(127);
    }
  }
  ~SwitchRun() {
    ::kill(pid, SIGTERM);
    ::waitpid(pid, nullptr, 0);
  }
  SwitchRun(const SwitchRun&) = delete;
  pid_t pid;
};

// SIGKILL for the QEMU a pid file names, when in scope: no guest outlives its test.
struct KillGuest {
  std::string pid_file;
  ~KillGuest() {
    pid_t pid = 0;
    if (std::ifstream(pid_file) >> pid && pid > 0) ::kill(pid, SIGKILL);
  }
};

bool appears(const std::string& path) {
  for (int i = 0; i < 100 && !fs::exists(path); ++i) std::this_thread::sleep_for(50ms);
  return fs::exists(path);
}

class GuestLab : public GuestLabBase {
 protected:
  void SetUp() override {
    auto k = guest_kernel();
    if (!k) GTEST_SKIP() << k.error();
    kernel_ = *k;
    ASSERT_NO_FATAL_FAILURE(make_folders("/tmp/vnet-guest-lab-XXXXXX"));

    auto helper = vmrun::read_file(VNET_PWRBTN);
    ASSERT_TRUE(helper) << helper.error().str();
    auto img = vmrun::build_initramfs(
        *k, {kInit, {"virtio_pci", "virtio_net"}, {{"bin/pwrbtn", *helper}}, ""});
    ASSERT_TRUE(img) << img.error().str();
    ASSERT_TRUE(vmrun::write_file(dir_ + "/initrd.cpio", *img));
    ASSERT_NO_FATAL_FAILURE(write_user_nic_guest("guestlab", k->vmlinux));
  }
  // `vnet guest ARGS -c FILE --accel tcg` as the unprivileged user with HOME in the
  // test's folder (so the state lands in $HOME/.local/state/vnet/guests).
  testing::RunResult vnet(std::vector<std::string> args) { return vnet_input(args, ""); }
  testing::RunResult vnet_input(std::vector<std::string> args, const std::string& input) {
    std::vector<std::string> argv = vnet_guest_argv();
    argv.insert(argv.end(), args.begin(), args.end());
    argv.insert(argv.end(), {"-c", dir_ + "/host.toml", "--accel", "tcg"});
    return testing::run(argv, "", input);
  }
  pid_t pid_from_file() {
    std::ifstream in(state_ + "/pid");
    pid_t pid = 0;
    in >> pid;
    return pid;
  }
  std::string wait_greeting(std::chrono::seconds limit) {
    auto deadline = Clock::now() + limit;
    while (Clock::now() < deadline) {
      std::string g = read_greeting(port_, 1500ms);
      if (!g.empty()) return g;
      std::this_thread::sleep_for(500ms);
    }
    return "";
  }

  vmrun::KernelImage kernel_;
};

TEST_F(GuestLab, StartsWithoutRootAnswersOnForwardedPortAndPowersDown) {
  auto t0 = Clock::now();
  auto r = vnet({"start", "tiny"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("guest tiny: started (pid"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("accel tcg"), std::string::npos) << r.out;
  pid_t pid = pid_from_file();
  ASSERT_GT(pid, 0);
  // Started by the unprivileged user: QEMU runs as that user.
  if (drop_) {
    struct stat st{};
    ASSERT_EQ(::stat(("/proc/" + std::to_string(pid)).c_str(), &st), 0);
    EXPECT_EQ(st.st_uid, kNobody);
  }
  EXPECT_TRUE(fs::exists(state_ + "/id_ed25519")) << "the ephemeral key";
  EXPECT_TRUE(fs::exists(state_ + "/seed.iso"));

  std::string greeting = wait_greeting(60s);
  EXPECT_EQ(greeting, "hello-from-guest\n")
      << "console:\n" << slurp(state_ + "/console.log") << "\nqemu.log:\n"
      << slurp(state_ + "/qemu.log");
  std::cout << "[guest answered " << std::chrono::duration<double>(Clock::now() - t0).count()
            << " s after start]\n";

  r = vnet({"status", "tiny"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("running (pid " + std::to_string(pid) +
                       ", accel tcg (as asked), qmp running)"),
            std::string::npos)
      << r.out;
  r = vnet({"list"});
  EXPECT_NE(testing::row_with(r.out, "tiny").find("tiny qemu running " + std::to_string(pid)),
            std::string::npos)
      << r.out;

  r = vnet({"console", "tiny", "--log"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("vnet-test: eth0 up"), std::string::npos) << r.out;
  // Attached (no terminal here: stdin is a pipe), Ctrl-] detaches.
  r = vnet_input({"console", "tiny"}, "\x1d");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("attached to the console of tiny"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("detached from tiny"), std::string::npos) << r.err;

  r = vnet({"start", "tiny"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("already running (pid " + std::to_string(pid) + ")"), std::string::npos)
      << r.out;

  // Wait until /init has armed the power button before pressing it.
  auto deadline = Clock::now() + 20s;
  while (Clock::now() < deadline &&
         slurp(state_ + "/console.log").find("pwrbtn: armed") == std::string::npos)
    std::this_thread::sleep_for(200ms);
  r = vnet({"stop", "tiny", "--timeout", "20"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("powered down (SHUTDOWN, reason guest-shutdown)"), std::string::npos)
      << r.out << r.err << "\nconsole:\n" << slurp(state_ + "/console.log");
  EXPECT_FALSE(fs::exists("/proc/" + std::to_string(pid) + "/cmdline") &&
               slurp("/proc/" + std::to_string(pid) + "/cmdline").find("qemu") !=
                   std::string::npos)
      << "QEMU still running";
  EXPECT_FALSE(fs::exists(state_ + "/pid"));
  EXPECT_FALSE(fs::exists(state_ + "/id_ed25519")) << "the private key outlived the stop";
  EXPECT_FALSE(fs::exists(state_ + "/qmp.sock"));
  EXPECT_NE(slurp(state_ + "/console.log").find("vnet-test: power button"), std::string::npos)
      << "the console log is kept after stop";

  r = vnet({"status", "tiny"});
  EXPECT_NE(r.out.find("guest tiny: stopped"), std::string::npos) << r.out;
  // The console log outlives the guest; --follow of a stopped guest prints it and ends.
  r = vnet({"console", "tiny", "--follow"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("vnet-test: eth0 up"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("vnet-test: power button"), std::string::npos) << r.out;
  r = vnet({"stop", "tiny"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("not running"), std::string::npos) << r.out;
}

TEST_F(GuestLab, KillNineIsDetectedAndCleanedAtNextStart) {
  auto r = vnet({"start", "tiny"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  pid_t pid = pid_from_file();
  ASSERT_GT(pid, 0);
  ASSERT_EQ(::kill(pid, SIGKILL), 0);
  for (int i = 0; i < 100 && fs::exists("/proc/" + std::to_string(pid) + "/cmdline") &&
                  !slurp("/proc/" + std::to_string(pid) + "/cmdline").empty();
       ++i)
    std::this_thread::sleep_for(50ms);

  r = vnet({"status", "tiny"});
  EXPECT_NE(r.out.find("guest tiny: stale (process " + std::to_string(pid) + " is gone)"),
            std::string::npos)
      << r.out;
  r = vnet({"start", "tiny"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("removed stale state (process " + std::to_string(pid) + " is gone)"),
            std::string::npos)
      << r.out;
  pid_t again = pid_from_file();
  EXPECT_GT(again, 0);
  EXPECT_NE(again, pid);
  // restart = stop + start: a new QEMU again (its power-down grace cut to 1 s).
  r = vnet({"restart", "tiny", "--timeout", "1"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("guest tiny: started (pid"), std::string::npos) << r.out;
  pid_t third = pid_from_file();
  EXPECT_GT(third, 0);
  EXPECT_NE(third, again);
  // The new QEMU is up (QMP answered at start); stop it without waiting for a boot.
  r = vnet({"stop", "tiny", "--timeout", "1"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_FALSE(fs::exists(state_ + "/pid"));
}

// A switch NIC: the switch, run from the same file, serves the stream port the guest's
// NIC derives (DIR/vm-swg-0.sock); QEMU's `-netdev stream,server=off` refuses to start
// unless it connects, so a start that reports "started" has joined the switch.
TEST_F(GuestLab, SwitchNicJoinsTheRunningSwitchWithoutRoot) {
  std::string sw_dir = dir_ + "/sw";
  {
    std::ofstream f(dir_ + "/host.toml", std::ios::app);
    f << "\n[switches.lab]\nsocket = \"" << sw_dir << "\"\nsocket_mode = \"0666\"\n"
      << "[guests.swg]\nkind = \"qemu\"\nmemory = \"128M\"\n"
      << "kernel = \"" << kernel_.vmlinux << "\"\n"
      << "initrd = \"" << dir_ << "/initrd.cpio\"\n"
      << "append = \"console=ttyS0 panic=-1\"\n"
      << "[[guests.swg.nics]]\nswitch = \"lab\"\nvlan = 40\n";
  }
  auto r = vnet({"start", "swg"});
  EXPECT_EQ(r.exit_code, 3) << "no switch running yet: " << r.out << r.err;
  EXPECT_NE(r.err.find("switch 'lab' is not running (no " + sw_dir + "/control"), std::string::npos)
      << r.err;

  SwitchRun sw(dir_ + "/host.toml");
  ASSERT_TRUE(appears(sw_dir + "/vm-swg-0.sock"));

  r = vnet({"start", "swg"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("guest swg: started"), std::string::npos) << r.out;
  std::string state = home_ + "/.local/state/vnet/guests/swg";
  pid_t pid = 0;
  std::ifstream(state + "/pid") >> pid;
  r = vnet({"stop", "swg", "--timeout", "1"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  if (pid > 0) ::kill(pid, SIGKILL);  // belt and braces: never leave a QEMU behind
}

// A switch that did not start from the guest's file (one started before the guest was
// added, or from another file) does not serve the guest's port: start asks it over
// DIR/control to open one, which takes the right to change the switch, and stop closes
// it again.
TEST_F(GuestLab, SwitchNicAsksARunningSwitchToOpenItsPort) {
  const std::string sw_dir = dir_ + "/sw", sock = sw_dir + "/vm-swg-0.sock";
  const std::string sw_file = dir_ + "/switch.toml";
  auto write_switch = [&](bool control_group) {
    std::ofstream(sw_file) << "[host]\nname = \"guestlab\"\n[switches.lab]\nsocket = \"" << sw_dir
                           << "\"\nsocket_mode = \"0666\"\n"
                           << (control_group ? "control_group = \"" +
                                                   std::to_string(drop_ ? kNobody : ::getegid()) +
                                                   "\"\n"
                                             : "");
  };
  {
    std::ofstream f(dir_ + "/host.toml", std::ios::app);
    f << "\n[switches.lab]\nsocket = \"" << sw_dir << "\"\n"
      << "[guests.swg]\nkind = \"qemu\"\nmemory = \"128M\"\n"
      << "kernel = \"" << kernel_.vmlinux << "\"\n"
      << "initrd = \"" << dir_ << "/initrd.cpio\"\n"
      << "append = \"console=ttyS0 panic=-1\"\n"
      << "[[guests.swg.nics]]\nswitch = \"lab\"\nvlan = 40\n";
  }
  const std::string state = home_ + "/.local/state/vnet/guests/swg";
  KillGuest kill_guest{state + "/pid"};
  auto ports = [&] {
    auto r = testing::run({VNET_BINARY, "--json", "switch", "lab", "-c", sw_file, "--show", "ports"});
    auto j = nlohmann::json::parse(r.out, nullptr, false);  // the "ports" list itself
    return j.is_array() ? j : nlohmann::json::array();
  };
  auto port_named = [&](const std::string& name) {
    for (const auto& p : ports())
      if (p.value("name", "") == name) return p;
    return nlohmann::json();
  };

  if (drop_) {  // root's switch without control_group: the guest's user may not change it
    write_switch(false);
    SwitchRun sw(sw_file);
    ASSERT_TRUE(appears(sw_dir + "/control"));
    auto r = vnet({"start", "swg"});
    EXPECT_EQ(r.exit_code, 3) << r.out << r.err;
    EXPECT_NE(r.err.find("does not serve " + sock + " and could not be asked to open it"),
              std::string::npos) << r.err;
    EXPECT_FALSE(fs::exists(state + "/pid")) << "a QEMU started without its NIC";
    EXPECT_FALSE(fs::exists(sock));
  }
  write_switch(true);
  SwitchRun sw(sw_file);
  ASSERT_TRUE(appears(sw_dir + "/control"));
  ASSERT_FALSE(fs::exists(sock));

  auto r = vnet({"start", "swg"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_TRUE(fs::exists(sock));
  // QEMU connected (the connection is a port of that name) in the NIC's VLAN.
  auto p = port_named("vm-swg-0");
  ASSERT_FALSE(p.is_null()) << ports().dump();
  EXPECT_EQ(p["kind"], "stream");
  EXPECT_EQ(p["pvid"], 40);
  EXPECT_TRUE(fs::exists(state + "/switch-ports.json"));

  r = vnet({"stop", "swg", "--timeout", "1"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_FALSE(fs::exists(sock)) << "stop left the port it asked for";
  EXPECT_TRUE(port_named("vm-swg-0").is_null()) << ports().dump();
  EXPECT_FALSE(fs::exists(state + "/switch-ports.json"));
}

// Neither kernel nor disk is allowed (a network boot is real), but said without -v.
TEST_F(GuestLab, AGuestWithNothingToBootSaysSo) {
  std::ofstream(dir_ + "/host.toml", std::ios::app)
      << "\n[guests.pxe]\nkind = \"qemu\"\nmemory = \"64M\"\n[[guests.pxe.nics]]\nuser = true\n";
  KillGuest kill_guest{home_ + "/.local/state/vnet/guests/pxe/pid"};
  auto r = vnet({"start", "pxe"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.err.find("pxe: declares neither kernel nor disk"), std::string::npos) << r.err;
  EXPECT_EQ(vnet({"stop", "pxe", "--timeout", "1"}).exit_code, 0);
}

}  // namespace
}  // namespace vnet::guests
