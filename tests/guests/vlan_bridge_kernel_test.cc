// Kernel tier (inside `vnet vm-run`: the host kernel has no bridge VLAN filtering): a QEMU
// VM whose NIC is `bridge = "br0", vlan = 40` on a VLAN-filtering bridge. `vnet guest
// start` makes its tap vm-<guest>-0 an access port of VLAN 40, the VM boots (nested TCG:
// QEMU inside vm-run's QEMU), reaches a namespace on VLAN 40 and not one on VLAN 10 in the
// same subnet (only the VLANs keep them apart), and `vnet guest stop` removes the tap.
//
// One test, one small guest: nested emulation is slow (facts.md "Inside the test
// kernel"), so every wait is generous and every retry bounded. The guest is the cached
// Debian kernel (PVH vmlinux) with a busybox initramfs whose /init does the pings itself
// and prints the results on the serial console (the console log in the state folder).
#include <signal.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "tests/common/process.h"
#include "tests/guests/guest_lab.h"
#include "vmrun/initramfs.h"
#include "vmrun/kernel.h"
#include "vmrun/sys.h"

namespace vnet::guests {
namespace {

namespace fs = std::filesystem;
using testing::run;
using Clock = std::chrono::steady_clock;

// The VM, the VLAN 40 namespace that must answer, the VLAN 10 one that must not.
constexpr const char* kVm = "10.40.0.1";
constexpr const char* kOn40 = "10.40.0.2";
constexpr const char* kOn10 = "10.40.0.3";

// PID 1 of the guest. Pings from inside the VM; the first ARP under nested TCG can take
// seconds, hence up to 10 tries for VLAN 40 (bounded: about 30 s). VLAN 10 gets the same
// patience (3 requests, 3 s each) so that "no answer" is not just "too early".
std::string init_script() {
  return std::string(vmrun::kInitPreamble) + R"INIT(ip link set lo up
ip link set eth0 up
ip addr add )INIT" + kVm + R"INIT(/24 dev eth0
echo "vlantap: eth0 up"
r=1; i=0
while [ $i -lt 10 ]; do
  i=$((i+1))
  if ping -c 1 -W 3 )INIT" + kOn40 + R"INIT( >/dev/null 2>&1; then r=0; break; fi
done
echo "vlantap: R40=$r after $i tries"
ping -c 3 -W 3 )INIT" + kOn10 + R"INIT( >/dev/null 2>&1
echo "vlantap: R10=$?"
while :; do sleep 60; done
)INIT";
}

// Polls `ok` every 200 ms for at most `seconds`.
template <class F>
bool eventually(F ok, double seconds) {
  auto end = Clock::now() + std::chrono::duration<double>(seconds);
  while (Clock::now() < end) {
    if (ok()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return ok();
}

double since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

class VlanBridgeVm : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (network namespaces, taps)";
    auto k = guest_kernel();
    if (!k) GTEST_SKIP() << k.error();
    // /tmp is vm-run's private tmpfs; the host root is read-only.
    dir_ = fs::temp_directory_path() / ("vnet-vlantap-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    ASSERT_EQ(run({"ip", "netns", "add", target()}).exit_code, 0);
    if (run({"ip", "-n", target(), "link", "add", "name", "vltprobe", "type", "bridge",
             "vlan_filtering", "1"}).exit_code != 0)
      GTEST_SKIP() << "this kernel has no bridge VLAN filtering: run under `vnet vm-run` "
                      "(ctest -L kernel does)";
    run({"ip", "-n", target(), "link", "del", "vltprobe"});

    auto img = vmrun::build_initramfs(*k, {init_script(), {"virtio_pci", "virtio_net"}, {}, ""});
    ASSERT_TRUE(img) << img.error().str();
    ASSERT_TRUE(vmrun::write_file(initrd(), *img));
    kernel_ = k->vmlinux;
  }
  void TearDown() override {
    // Whatever a failed test left: QEMU, then the namespaces (their links go with them).
    std::string pid = slurp(state() + "/pid");
    if (!pid.empty() && std::stoi(pid) > 0) ::kill(std::stoi(pid), SIGKILL);
    for (const std::string& ns : {target(), ns40(), ns10()}) run({"ip", "netns", "del", ns});
    std::error_code ec;
    if (!dir_.empty()) fs::remove_all(dir_, ec);
  }

  std::string id() const { return "vlt" + std::to_string(::getpid() % 100000); }
  std::string target() const { return id() + "t"; }
  std::string ns40() const { return id() + "v40"; }
  std::string ns10() const { return id() + "v10"; }
  std::string file() const { return (dir_ / "host.toml").string(); }
  std::string initrd() const { return (dir_ / "initrd.cpio").string(); }
  std::string state() const { return (dir_ / "state" / "tiny").string(); }
  std::string console() const { return slurp(state() + "/console.log"); }

  // `vnet --netns TARGET guest ARGS... -c FILE` with a private run dir and state root
  // (the defaults under /var are on the read-only root inside vm-run).
  testing::RunResult guest(std::vector<std::string> args) {
    std::vector<std::string> argv = {"env", "VNET_RUN_DIR=" + (dir_ / "run").string(),
                                     "VNET_GUEST_STATE=" + (dir_ / "state").string(),
                                     VNET_BINARY, "--netns", target(), "guest"};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.insert(argv.end(), {"-c", file()});
    return run(argv);
  }
  testing::RunResult ping_from(const std::string& ns, const std::string& addr, int count) {
    return run({"ip", "netns", "exec", ns, "ping", "-c", std::to_string(count), "-W", "3", addr});
  }

  fs::path dir_;
  std::string kernel_;
};

TEST_F(VlanBridgeVm, TapInVlan40ReachesVlan40NotVlan10AndStopRemovesIt) {
  auto veth = [](const std::string& name, const std::string& ns, int vlan, const char* addr) {
    return "[veths." + name + "]\npeer = \"eth0\"\nbridge = \"br0\"\npvid = " +
           std::to_string(vlan) + "\npeer_netns = \"" + ns + "\"\npeer_addresses = [\"" +
           addr + "/24\"]\n";
  };
  std::ofstream(file()) << "[host]\nname = \"" << id() << "\"\n"
                        << "[bridges.br0]\nvlan_filtering = true\n"
                        << veth("vb-" + id() + "a", ns40(), 40, kOn40)
                        << veth("vb-" + id() + "b", ns10(), 10, kOn10)
                        << "[guests.tiny]\nkind = \"qemu\"\nmemory = \"160M\"\n"
                        << "kernel = \"" << kernel_ << "\"\ninitrd = \"" << initrd() << "\"\n"
                        // quiet: the kernel's messages stay out of the results' way.
                        << "append = \"console=ttyS0 panic=-1 quiet i8042.noaux i8042.nokbd\"\n"
                        << "[[guests.tiny.nics]]\nbridge = \"br0\"\nvlan = 40\n"
                        << "addresses = [\"" << kVm << "/24\"]\n";

  auto t0 = Clock::now();
  // --timeout: QEMU itself starts slowly under vm-run's emulation (over 30 s seen).
  auto r = guest({"start", "tiny", "--accel", "tcg", "--timeout", "240"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  double started = since(t0);

  // The kernel's view of the derived tap: a port of br0, an access port of VLAN 40 only.
  auto link = run({"ip", "-n", target(), "-o", "link", "show", "dev", "vm-tiny-0"});
  EXPECT_NE(link.out.find(" master br0 "), std::string::npos) << link.out << link.err;
  auto vl = run({"bridge", "-n", target(), "vlan", "show", "dev", "vm-tiny-0"});
  EXPECT_NE(vl.out.find("40 PVID Egress Untagged"), std::string::npos) << vl.out << vl.err;
  EXPECT_EQ(vl.out.find(" 1 PVID"), std::string::npos) << vl.out;

  // Boot and the guest's own pings (its /init bounds them to about 40 s).
  bool up = eventually([&] { return console().find("vlantap: eth0 up") != std::string::npos; }, 300);
  double booted = since(t0);
  ASSERT_TRUE(up) << "the guest did not come up within 300 s:\n" << console();
  ASSERT_TRUE(eventually([&] { return console().find("vlantap: R10=") != std::string::npos; }, 120))
      << console();
  std::string log = console();
  EXPECT_NE(log.find("vlantap: R40=0 "), std::string::npos) << "VLAN 40 did not answer:\n" << log;
  EXPECT_NE(log.find("vlantap: R10=1"), std::string::npos) << "VLAN 10 answered:\n" << log;

  // And the other way: VLAN 40 reaches the VM (a few tries), VLAN 10 does not.
  bool back = false;
  for (int i = 0; i < 3 && !back; ++i) back = ping_from(ns40(), kVm, 1).exit_code == 0;
  EXPECT_TRUE(back) << "no answer from the VM to " << ns40();
  EXPECT_NE(ping_from(ns10(), kVm, 2).exit_code, 0) << "the VM answered VLAN 10";

  // stop: the guest has no ACPI handler, so a short power-down wait, then quit.
  auto s = guest({"stop", "tiny", "--timeout", "2"});
  ASSERT_EQ(s.exit_code, 0) << s.out << s.err;
  EXPECT_NE(run({"ip", "-n", target(), "link", "show", "dev", "vm-tiny-0"}).exit_code, 0)
      << "the tap outlived the guest";
  EXPECT_EQ(run({"ip", "-n", target(), "link", "show", "dev", "vb-" + id() + "a"}).exit_code, 0)
      << "stop removed more than the guest's tap";
  EXPECT_EQ(run({"ip", "-n", target(), "link", "show", "dev", "br0"}).exit_code, 0);
  std::cout << "vlantap: guest start " << started << " s, console up " << booted
            << " s, whole test " << since(t0) << " s\n";
}

}  // namespace
}  // namespace vnet::guests
