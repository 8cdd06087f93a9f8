// Lab tier: three QEMU guests (TCG, a Debian kernel + busybox initramfs from vmrun's
// cache) joined by `vnet switch` through the three socket backends people use —
// `-netdev vde` (unmodified libvdeplug), `-netdev stream` and `-netdev dgram` — ping
// each other. Each guest prints what it reached on its serial console and powers off.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "tests/switch/harness.h"
#include "vmrun/initramfs.h"
#include "vmrun/kernel.h"

namespace vnet::sw::test {
namespace {

using namespace std::chrono_literals;

std::string init_script(int id, const std::string& peers) {
  return R"(#!/bin/busybox sh
/bin/busybox mkdir -p /proc /sys /dev /sbin /usr/bin /usr/sbin /tmp
/bin/busybox --install -s
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev 2>/dev/null
for m in /modules/*.ko; do insmod $m 2>/dev/null; done
ip link set lo up
ip addr add 10.90.0.)" + std::to_string(id) + R"(/24 dev eth0
ip link set eth0 up
ok=""
i=0
while [ $i -lt 120 ]; do
  all=1
  for p in )" + peers + R"(; do
    case " $ok " in *" $p "*) continue;; esac
    if ping -c 1 -W 1 $p >/dev/null 2>&1; then ok="$ok $p"; else all=0; fi
  done
  [ $all = 1 ] && break
  i=$((i+1))
done
echo "VNETLAB id=)" + std::to_string(id) + R"( reached:$ok"
# stay up so that slower guests can still reach this one
sleep 25
poweroff -f
)";
}

std::string read_file(const std::string& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

pid_t spawn(const std::vector<std::string>& args, const std::string& log) {
  pid_t pid = ::fork();
  if (pid == 0) {
    int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
    }
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execvp(argv[0], argv.data());
    ::_exit(127);
  }
  return pid;
}

TEST(SwitchLab, QemuGuestsOnVdeStreamAndDgramReachEachOther) {
  if (sh("command -v qemu-system-x86_64 >/dev/null") != 0)
    GTEST_FAIL() << "qemu-system-x86_64 is not installed (Debian: qemu-system-x86)";
  auto kernel = vmrun::cached_kernel();
  if (!kernel) kernel = vmrun::ensure_kernel("");
  ASSERT_TRUE(kernel) << "no Debian kernel for the guests: " << kernel.error().str();

  char tmpl[] = "/tmp/vnet-switch-lab-XXXXXX";
  std::string work = ::mkdtemp(tmpl);
  std::string dir = work + "/sw";
  std::string toml = "[host]\nname = \"lab\"\n[switches.lab]\nsocket = \"" + dir +
                     "\"\n[switches.lab.ports.s]\nstream = \"" + work + "/s.sock\"\n"
                     "[switches.lab.ports.d]\ndgram = \"" + work + "/d.sock\"\n";
  SwitchProcess proc(toml, "lab", dir);
  ASSERT_TRUE(proc.running()) << proc.log();

  const std::vector<std::string> netdevs = {
      "vde,id=n0,sock=" + dir,
      "stream,id=n0,server=off,addr.type=unix,addr.path=" + work + "/s.sock",
      "dgram,id=n0,local.type=unix,local.path=" + work +
          "/g3.sock,remote.type=unix,remote.path=" + work + "/d.sock"};
  std::vector<pid_t> pids;
  for (int id = 1; id <= 3; ++id) {
    std::string peers;
    for (int p = 1; p <= 3; ++p)
      if (p != id) peers += (peers.empty() ? "" : " ") + std::string("10.90.0.") + std::to_string(p);
    vmrun::InitramfsSpec spec;
    spec.init = init_script(id, peers);
    spec.modules = {"virtio_pci", "virtio_net"};
    auto img = vmrun::build_initramfs(*kernel, spec);
    ASSERT_TRUE(img) << img.error().str();
    std::string initrd = work + "/initrd" + std::to_string(id);
    std::ofstream(initrd, std::ios::binary) << *img;
    std::string console = work + "/console" + std::to_string(id);
    pids.push_back(spawn(
        {"qemu-system-x86_64", "-nodefaults", "-no-user-config", "-display", "none",
         "-no-reboot", "-machine", "pc", "-accel", "tcg", "-m", "192", "-smp", "1",
         "-kernel", kernel->boot_image(true), "-initrd", initrd, "-append",
         "console=ttyS0 quiet panic=-1 i8042.noaux i8042.nokbd", "-chardev",
         "file,id=con,path=" + console, "-serial", "chardev:con", "-monitor", "none",
         "-netdev", netdevs[size_t(id - 1)], "-device",
         "virtio-net-pci,netdev=n0,mac=52:54:00:5a:00:0" + std::to_string(id)},
        work + "/qemu" + std::to_string(id) + ".log"));
  }
  // Bounded: boots under TCG take ~10 s each, the pings a few more; 4 minutes at most.
  auto deadline = std::chrono::steady_clock::now() + 240s;
  for (pid_t pid : pids) {
    int status;
    while (::waitpid(pid, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() > deadline) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, &status, 0);
        break;
      }
      std::this_thread::sleep_for(200ms);
    }
  }
  for (int id = 1; id <= 3; ++id) {
    std::string con = read_file(work + "/console" + std::to_string(id));
    std::string want = "VNETLAB id=" + std::to_string(id) + " reached:";
    auto at = con.find(want);
    ASSERT_NE(at, std::string::npos)
        << "guest " << id << " printed no result; console:\n" << con << "\nqemu:\n"
        << read_file(work + "/qemu" + std::to_string(id) + ".log") << "\nswitch:\n"
        << proc.log();
    std::string line = con.substr(at, con.find('\n', at) - at);
    for (int p = 1; p <= 3; ++p) {
      if (p != id) {
        EXPECT_NE(line.find("10.90.0." + std::to_string(p)), std::string::npos)
            << line << "\nswitch:\n" << proc.log();
      }
    }
  }
  auto ports = proc.call({{"cmd", "ports"}});
  std::cout << "switch ports at the end: " << ports.dump() << "\n";
  proc.stop();
  sh("rm -rf " + work);
}

}  // namespace
}  // namespace vnet::sw::test
