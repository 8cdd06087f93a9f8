// qemu/argv: the QEMU command line of a guest, option by option, against the exact text.
#include "qemu/argv.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>

namespace vnet::qemu {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using topology::Guest;
using topology::GuestNic;

Guest guest(std::string name = "dev") {
  Guest g;
  g.name = std::move(name);
  return g;
}

GuestNic user_nic(std::vector<std::string> hostfwd = {}) {
  GuestNic n;
  n.kind = GuestNic::Kind::kUser;
  n.hostfwd = std::move(hostfwd);
  return n;
}

LaunchContext context(size_t nics = 0) {
  LaunchContext c;
  c.qmp_socket = "/run/vnet/guests/dev/qmp.sock";
  c.console_socket = "/run/vnet/guests/dev/console.sock";
  c.console_log = "/var/lib/vnet/guests/dev/console.log";
  c.nics.resize(nics);
  return c;
}

std::vector<std::string> argv_of(const Guest& g, const LaunchContext& c) {
  auto a = build_argv(g, c);
  EXPECT_TRUE(a) << (a ? "" : a.error().str());
  return a ? *a : std::vector<std::string>{};
}

// Every value that follows `flag` in argv, in order.
std::vector<std::string> values(const std::vector<std::string>& argv, const std::string& flag) {
  std::vector<std::string> out;
  for (size_t i = 0; i + 1 < argv.size(); ++i)
    if (argv[i] == flag) out.push_back(argv[i + 1]);
  return out;
}

bool has_flag(const std::vector<std::string>& argv, const std::string& flag) {
  for (const auto& a : argv)
    if (a == flag) return true;
  return false;
}

TEST(QemuArgv, MinimalGuestIsExactlyThis) {
  EXPECT_THAT(argv_of(guest(), context()),
              ElementsAre("qemu-system-x86_64", "-nodefaults", "-no-user-config", "-name",
                          "guest=dev", "-machine", "pc", "-accel", "tcg", "-m", "1024", "-smp",
                          "1", "-display", "none", "-chardev",
                          "socket,id=con0,path=/run/vnet/guests/dev/console.sock,server=on,"
                          "wait=off,logfile=/var/lib/vnet/guests/dev/console.log,logappend=on",
                          "-serial", "chardev:con0", "-chardev",
                          "socket,id=qmp0,path=/run/vnet/guests/dev/qmp.sock,server=on,wait=off",
                          "-mon", "chardev=qmp0,mode=control"));
}

TEST(QemuArgv, MemoryIsPassedInMiB) {
  Guest g = guest();
  g.memory_bytes = 4ull << 30;
  EXPECT_THAT(values(argv_of(g, context()), "-m"), ElementsAre("4096"));
}

TEST(QemuArgv, VcpusGoToSmp) {
  Guest g = guest();
  g.vcpus = 4;
  EXPECT_THAT(values(argv_of(g, context()), "-smp"), ElementsAre("4"));
}

TEST(QemuArgv, KvmAddsHostCpuAndTcgDoesNot) {
  LaunchContext c = context();
  auto tcg = argv_of(guest(), c);
  EXPECT_THAT(values(tcg, "-accel"), ElementsAre("tcg"));
  EXPECT_FALSE(has_flag(tcg, "-cpu"));
  c.accel = Accel::kKvm;
  auto kvm = argv_of(guest(), c);
  EXPECT_THAT(values(kvm, "-accel"), ElementsAre("kvm"));
  EXPECT_THAT(values(kvm, "-cpu"), ElementsAre("host"));
}

TEST(QemuArgv, BridgeNicIsATapNamedByTheContext) {
  Guest g = guest();
  GuestNic n;
  n.kind = GuestNic::Kind::kBridge;
  n.bridge = "br0";
  n.host_name = "vm-dev-0";
  n.mac = topology::Mac{{0x52, 0x54, 0x00, 0x12, 0x34, 0x01}};
  g.nics.push_back(n);
  LaunchContext c = context(1);
  c.nics[0].tap = "vm-dev-0";
  auto a = argv_of(g, c);
  EXPECT_THAT(values(a, "-netdev"),
              ElementsAre("tap,id=net0,ifname=vm-dev-0,script=no,downscript=no"));
  EXPECT_THAT(values(a, "-device"),
              ElementsAre("virtio-net-pci,netdev=net0,mac=52:54:00:12:34:01"));
}

TEST(QemuArgv, BridgeNicFallsBackToTheDerivedTapName) {
  Guest g = guest();
  GuestNic n;
  n.bridge = "br0";
  n.host_name = "vm-dev-0";  // topology's expansion derives it
  g.nics.push_back(n);
  EXPECT_THAT(values(argv_of(g, context(1)), "-netdev"),
              ElementsAre("tap,id=net0,ifname=vm-dev-0,script=no,downscript=no"));
}

TEST(QemuArgv, DeclaredTapNicUsesItsTap) {
  Guest g = guest();
  GuestNic n;
  n.kind = GuestNic::Kind::kTap;
  n.tap = "tap-dev";
  g.nics.push_back(n);
  EXPECT_THAT(values(argv_of(g, context(1)), "-netdev"),
              ElementsAre("tap,id=net0,ifname=tap-dev,script=no,downscript=no"));
}

TEST(QemuArgv, SwitchNicConnectsAStreamToTheSwitchSocket) {
  Guest g = guest();
  GuestNic n;
  n.kind = GuestNic::Kind::kSwitch;
  n.switch_name = "lab";
  g.nics.push_back(n);
  LaunchContext c = context(1);
  c.nics[0].stream_socket = "/run/vnet/lab/port-dev-0.sock";
  EXPECT_THAT(values(argv_of(g, c), "-netdev"),
              ElementsAre("stream,id=net0,server=off,addr.type=unix,"
                          "addr.path=/run/vnet/lab/port-dev-0.sock"));
}

TEST(QemuArgv, SwitchNicWithoutSocketIsAnError) {
  Guest g = guest();
  GuestNic n;
  n.kind = GuestNic::Kind::kSwitch;
  n.switch_name = "lab";
  g.nics.push_back(n);
  auto a = build_argv(g, context(1));
  ASSERT_FALSE(a);
  EXPECT_THAT(a.error().what, HasSubstr("no socket resolved for switch 'lab'"));
}

TEST(QemuArgv, UserNicCarriesEveryHostfwdThenTheContextOnes) {
  Guest g = guest();
  g.nics.push_back(user_nic({"tcp:127.0.0.1:2222-:22", "udp::5353-10.0.2.15:53"}));
  LaunchContext c = context(1);
  c.nics[0].extra_hostfwd = {"tcp:127.0.0.1:40022-:22"};
  EXPECT_THAT(values(argv_of(g, c), "-netdev"),
              ElementsAre("user,id=net0,hostfwd=tcp:127.0.0.1:2222-:22,"
                          "hostfwd=udp::5353-10.0.2.15:53,hostfwd=tcp:127.0.0.1:40022-:22"));
}

TEST(QemuArgv, BadHostfwdIsRejected) {
  for (const char* rule : {"2222-:22", "sctp::1-:2", "tcp:127.0.0.1:2222:22",
                           "tcp::0-:22", "tcp::2222-:70000", "tcp:localhost:2222-:22",
                           "tcp::22,x=y-:22", "tcp::1-:2-:3", "tcp::2222-", ""}) {
    Guest g = guest();
    g.nics.push_back(user_nic({rule}));
    auto a = build_argv(g, context(1));
    ASSERT_FALSE(a) << rule;
    EXPECT_EQ(a.error().exit, ExitCode::kBadInput);
    EXPECT_THAT(a.error().what, HasSubstr("guest 'dev' NIC #0: hostfwd '" + std::string(rule) +
                                          "' is not tcp|udp:[HOSTADDR]:HOSTPORT-"));
  }
  EXPECT_TRUE(check_hostfwd("tcp:127.0.0.1:2222-:22"));
  EXPECT_TRUE(check_hostfwd("udp::5353-10.0.2.15:53"));
}

TEST(QemuArgv, BadContextHostfwdIsRejectedToo) {
  Guest g = guest();
  g.nics.push_back(user_nic());
  LaunchContext c = context(1);
  c.nics[0].extra_hostfwd = {"tcp:127.0.0.1:x-:22"};
  EXPECT_FALSE(build_argv(g, c));
}

TEST(QemuArgv, GeneratedMacIsStableLocalAndDistinctPerIndex) {
  Guest g = guest();
  for (int i = 0; i < 4; ++i) g.nics.push_back(user_nic());
  std::set<std::string> seen;
  for (size_t i = 0; i < 4; ++i) {
    topology::Mac m = nic_mac(g, i);
    EXPECT_EQ(m.bytes[0], 0x52);
    EXPECT_EQ(m.bytes[1], 0x54);
    EXPECT_EQ(m.bytes[2], 0x00);
    EXPECT_EQ(m, nic_mac(g, i));  // same input, same MAC
    seen.insert(m.str());
  }
  EXPECT_EQ(seen.size(), 4u);
  // Fixed by the FNV-1a definition: a change here breaks guests' network-config matches.
  EXPECT_EQ(nic_mac(g, 0).str(), nic_mac(guest("dev"), 0).str());
  EXPECT_NE(nic_mac(g, 0).str(), nic_mac(guest("web"), 0).str());
  auto a = argv_of(g, context(4));
  auto devices = values(a, "-device");
  ASSERT_EQ(devices.size(), 4u);
  EXPECT_EQ(devices[2], "virtio-net-pci,netdev=net2,mac=" + nic_mac(g, 2).str());
}

TEST(QemuArgv, GeneratedMacValueIsPinned) {
  // FNV-1a-64("dev/0") = 0x859e09760930635b (computed apart, in Python): its low three
  // bytes. Pinned so the hash can never change unnoticed under existing guests.
  EXPECT_EQ(nic_mac(guest("dev"), 0).str(), "52:54:00:30:63:5b");
}

TEST(QemuArgv, DeclaredMacWins) {
  Guest g = guest();
  GuestNic n = user_nic();
  n.mac = topology::Mac{{0x02, 0, 0, 0, 0x40, 0x53}};
  g.nics.push_back(n);
  EXPECT_EQ(nic_mac(g, 0).str(), "02:00:00:00:40:53");
  EXPECT_THAT(values(argv_of(g, context(1)), "-device"),
              ElementsAre("virtio-net-pci,netdev=net0,mac=02:00:00:00:40:53"));
}

TEST(QemuArgv, DiskIsTheOverlayAsFirstVirtioDrive) {
  Guest g = guest();
  g.disk = Guest::Disk{"/var/lib/images/base.qcow2", 100ull << 30};
  LaunchContext c = context();
  c.overlay_disk = "/var/lib/vnet/guests/dev/disk.qcow2";
  c.seed_iso = "/var/lib/vnet/guests/dev/seed.iso";
  auto drives = values(argv_of(g, c), "-drive");
  ASSERT_EQ(drives.size(), 2u);
  EXPECT_EQ(drives[0], "file=/var/lib/vnet/guests/dev/disk.qcow2,if=virtio,format=qcow2");
}

TEST(QemuArgv, DiskWithoutOverlayIsAnError) {
  Guest g = guest();
  g.disk = Guest::Disk{"/base.qcow2", {}};
  EXPECT_FALSE(build_argv(g, context()));
}

TEST(QemuArgv, KernelBootPassesKernelInitrdAppend) {
  Guest g = guest();
  g.kernel = "/boot/vmlinux";
  g.initrd = "/boot/initrd";
  g.append = "console=ttyS0 root=/dev/vda1,x";  // a plain string to QEMU: no escaping
  auto a = argv_of(g, context());
  EXPECT_THAT(values(a, "-kernel"), ElementsAre("/boot/vmlinux"));
  EXPECT_THAT(values(a, "-initrd"), ElementsAre("/boot/initrd"));
  EXPECT_THAT(values(a, "-append"), ElementsAre("console=ttyS0 root=/dev/vda1,x"));
}

TEST(QemuArgv, NoKernelNoKernelOptions) {
  auto a = argv_of(guest(), context());
  EXPECT_FALSE(has_flag(a, "-kernel"));
  EXPECT_FALSE(has_flag(a, "-initrd"));
  EXPECT_FALSE(has_flag(a, "-append"));
}

TEST(QemuArgv, SeedIsAnIdeCdrom) {
  LaunchContext c = context();
  c.seed_iso = "/var/lib/vnet/guests/dev/seed.iso";
  EXPECT_THAT(values(argv_of(guest(), c), "-drive"),
              ElementsAre("file=/var/lib/vnet/guests/dev/seed.iso,media=cdrom,if=ide,"
                          "format=raw,readonly=on"));
}

TEST(QemuArgv, ConsoleIsASocketWithAnAppendedLog) {
  LaunchContext c = context();
  auto a = argv_of(guest(), c);
  EXPECT_THAT(values(a, "-serial"), ElementsAre("chardev:con0"));
  EXPECT_EQ(values(a, "-chardev").at(0),
            "socket,id=con0,path=/run/vnet/guests/dev/console.sock,server=on,wait=off,"
            "logfile=/var/lib/vnet/guests/dev/console.log,logappend=on");
  c.console_log.clear();
  EXPECT_EQ(values(argv_of(guest(), c), "-chardev").at(0),
            "socket,id=con0,path=/run/vnet/guests/dev/console.sock,server=on,wait=off");
}

TEST(QemuArgv, QmpIsAControlMonitorOnASocket) {
  auto a = argv_of(guest(), context());
  EXPECT_EQ(values(a, "-chardev").at(1),
            "socket,id=qmp0,path=/run/vnet/guests/dev/qmp.sock,server=on,wait=off");
  EXPECT_THAT(values(a, "-mon"), ElementsAre("chardev=qmp0,mode=control"));
}

TEST(QemuArgv, CommasInPathsAreDoubled) {
  Guest g = guest();
  g.disk = Guest::Disk{"/base.qcow2", {}};
  GuestNic n;
  n.kind = GuestNic::Kind::kSwitch;
  g.nics.push_back(n);
  LaunchContext c = context(1);
  c.nics[0].stream_socket = "/run/a,b/sw.sock";
  c.overlay_disk = "/srv/vm,1/disk.qcow2";
  c.seed_iso = "/srv/vm,1/seed.iso";
  c.qmp_socket = "/srv/vm,1/qmp";
  c.console_socket = "/srv/vm,1/con";
  c.console_log = "/srv/vm,1/con.log";
  auto a = argv_of(g, c);
  EXPECT_THAT(values(a, "-netdev"),
              ElementsAre("stream,id=net0,server=off,addr.type=unix,addr.path=/run/a,,b/sw.sock"));
  EXPECT_THAT(values(a, "-drive"),
              ElementsAre("file=/srv/vm,,1/disk.qcow2,if=virtio,format=qcow2",
                          "file=/srv/vm,,1/seed.iso,media=cdrom,if=ide,format=raw,readonly=on"));
  EXPECT_THAT(values(a, "-chardev"),
              ElementsAre("socket,id=con0,path=/srv/vm,,1/con,server=on,wait=off,"
                          "logfile=/srv/vm,,1/con.log,logappend=on",
                          "socket,id=qmp0,path=/srv/vm,,1/qmp,server=on,wait=off"));
}

TEST(QemuArgv, ContextMustResolveEveryNic) {
  Guest g = guest();
  g.nics.push_back(user_nic());
  auto a = build_argv(g, context(0));
  ASSERT_FALSE(a);
  EXPECT_THAT(a.error().what, HasSubstr("has 1 NICs but the launch context resolves 0"));
}

}  // namespace
}  // namespace vnet::qemu
