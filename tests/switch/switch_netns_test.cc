// Netns tier: the real `vnet switch` binary with taps, AF_PACKET, VDE (vde_plug and a raw
// client), stream and dgram ports, inside namespaces this test creates and removes.
#include <linux/io_uring.h>
#include <signal.h>
#include <grp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "switch/control.h"
#include "switch/sockets.h"
#include "switch/vde_proto.h"
#include "tests/switch/frames.h"
#include "tests/switch/harness.h"

namespace vnet::sw::test {
namespace {

using namespace std::chrono_literals;

#define REQUIRE_ROOT()                                                   \
  do {                                                                   \
    if (!have_root()) GTEST_SKIP() << "needs root (network namespaces)"; \
  } while (0)

std::string socket_dir() { return "/tmp/" + unique_name("vsd"); }

// Whether this process may create an io_uring (kernel.io_uring_disabled, seccomp).
bool io_uring_here() {
  io_uring_params params{};
  long fd = ::syscall(__NR_io_uring_setup, 1, &params);
  if (fd < 0) return false;
  ::close(int(fd));
  return true;
}

// A switch running in its own namespace, its taps moved into namespaces of their own:
// as a host does it, with no interface of the host touched.
struct TapLab {
  Netns sw{"vss"};
  std::vector<std::unique_ptr<Netns>> nodes;
  std::vector<std::string> taps;
  std::string dir = socket_dir();
  std::unique_ptr<SwitchProcess> proc;

  // vlans[i]: the port policy of node i as TOML (e.g. "pvid = 10").
  explicit TapLab(const std::vector<std::string>& policies, const std::string& extra = "") {
    std::string toml = "[host]\nname = \"t\"\n[switches.lab]\nsocket = \"" + dir + "\"\n" +
                       extra + "\n";
    for (size_t i = 0; i < policies.size(); ++i) {
      taps.push_back(unique_name("vst"));
      toml += "[switches.lab.ports.n" + std::to_string(i) + "]\ntap = \"" + taps[i] + "\"\n" +
              policies[i] + "\n";
    }
    proc = std::make_unique<SwitchProcess>(toml, "lab", dir, sw.name());
    for (size_t i = 0; i < policies.size(); ++i) {
      nodes.push_back(std::make_unique<Netns>("vsn"));
      const std::string& ns = nodes[i]->name();
      sh("ip -n " + sw.name() + " link set " + taps[i] + " netns " + ns);
      sh("ip -n " + ns + " addr add 10.77.0." + std::to_string(i + 1) + "/24 dev " + taps[i]);
      sh("ip -n " + ns + " link set " + taps[i] + " up");
    }
  }
  std::string addr(size_t i) const { return "10.77.0." + std::to_string(i + 1); }
};

TEST(SwitchNetns, TapsOnOneVlanReachEachOtherAndNotAcrossVlans) {
  REQUIRE_ROOT();
  TapLab lab({"pvid = 10", "pvid = 10", "pvid = 20"});
  ASSERT_TRUE(lab.proc->running()) << lab.proc->log();
  EXPECT_TRUE(lab.nodes[0]->ping(lab.addr(1)));
  EXPECT_TRUE(lab.nodes[1]->ping(lab.addr(0)));
  EXPECT_FALSE(lab.nodes[0]->ping(lab.addr(2), 2, 1));
  EXPECT_FALSE(lab.nodes[2]->ping(lab.addr(1), 2, 1));
  auto fdb = lab.proc->call({{"cmd", "fdb"}})["fdb"];
  for (const auto& e : fdb) EXPECT_THAT(e["vlan"].get<int>(), ::testing::AnyOf(10, 20));
}

// Taps move frames through io_uring (a batch per system call) or, where it is missing
// or VNET_SWITCH_IO_URING=0, one read()/writev() per frame: both carry pings and bulk
// TCP, and TCP crosses as GSO super-frames (more bytes per frame than any wire frame).
class SwitchTapIo : public ::testing::TestWithParam<const char*> {};

TEST_P(SwitchTapIo, CarriesPingsAndTcpAsSuperFrames) {
  REQUIRE_ROOT();
  const std::string io = GetParam();
  if (io == "read/write") ::setenv("VNET_SWITCH_IO_URING", "0", 1);
  if (io == "io_uring" && !io_uring_here())
    GTEST_SKIP() << "io_uring is disabled here (sysctl or seccomp); the switch falls back "
                    "to read/write, which the ReadWrite case covers";
  TapLab lab({"", ""});
  ::unsetenv("VNET_SWITCH_IO_URING");
  ASSERT_TRUE(lab.proc->running()) << lab.proc->log();
  EXPECT_EQ(lab.proc->port("n0")["io"], io);
  EXPECT_EQ(lab.proc->port("n1")["io"], io);
  EXPECT_TRUE(lab.nodes[0]->ping(lab.addr(1))) << lab.proc->log();
  sh(lab.nodes[1]->exec("iperf3 -s -1 -D >/dev/null 2>&1"));
  std::this_thread::sleep_for(300ms);
  ASSERT_EQ(sh(lab.nodes[0]->exec("timeout 20 iperf3 -c " + lab.addr(1) +
                                  " -n 32M >/dev/null 2>&1")),
            0);
  auto to_server = lab.proc->port("n1");
  ASSERT_GT(to_server["tx_frames"].get<uint64_t>(), 0u);
  EXPECT_GT(to_server["tx_bytes"].get<uint64_t>() / to_server["tx_frames"].get<uint64_t>(),
            1514u);
  EXPECT_EQ(lab.proc->stats()["gso_drops"], 0);
}

INSTANTIATE_TEST_SUITE_P(Io, SwitchTapIo, ::testing::Values("io_uring", "read/write"),
                         [](const auto& info) {
                           return std::string(info.index == 0 ? "IoUring" : "ReadWrite");
                         });

TEST(SwitchNetns, TrunkPortsCarryVlansAbove1023Tagged) {
  REQUIRE_ROOT();
  // Two access ports of VLAN 3000 joined through the switch, plus a raw trunk client
  // that must see their broadcasts tagged 3000 and not those of VLAN 20.
  std::string dir = socket_dir();
  std::string toml = "[host]\nname = \"t\"\n[switches.lab]\nsocket = \"" + dir +
                     "\"\n[switches.lab.ports.trunk]\nstream = \"" + dir +
                     "-trunk.sock\"\ntagged = [20, 3000]\n"
                     "[switches.lab.ports.a]\nstream = \"" + dir + "-a.sock\"\npvid = 3000\n"
                     "[switches.lab.ports.b]\nstream = \"" + dir + "-b.sock\"\npvid = 20\n";
  SwitchProcess proc(toml, "lab", dir);
  ASSERT_TRUE(proc.running()) << proc.log();
  auto trunk = connect_stream(dir + "-trunk.sock");
  auto a = connect_stream(dir + "-a.sock");
  auto b = connect_stream(dir + "-b.sock");
  ASSERT_TRUE(trunk && a && b);
  std::this_thread::sleep_for(100ms);
  ASSERT_TRUE(a->send(frame(kBroadcast, mac(0xa))));
  auto got = trunk->recv(2000ms);
  ASSERT_TRUE(got);
  FrameView v;
  ASSERT_EQ(parse_frame(*got, v), FrameError::kNone);
  EXPECT_TRUE(v.tagged);
  EXPECT_EQ(v.vid, 3000);
  EXPECT_EQ(v.src, mac(0xa));
  EXPECT_FALSE(b->recv(200ms)) << "VLAN 3000 leaked to an access port of VLAN 20";
  // Tagged 20 from the trunk reaches b untagged; its tag is popped.
  ASSERT_TRUE(trunk->send(frame(kBroadcast, mac(0x7), 20)));
  auto at_b = b->recv(2000ms);
  ASSERT_TRUE(at_b);
  ASSERT_EQ(parse_frame(*at_b, v), FrameError::kNone);
  EXPECT_FALSE(v.tagged);
  EXPECT_EQ(at_b->size(), 60u);
  EXPECT_FALSE(a->recv(200ms));
  // A frame of a VLAN the trunk does not carry is dropped and counted.
  ASSERT_TRUE(trunk->send(frame(kBroadcast, mac(0x7), 99)));
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(proc.port("trunk")["drop_vlan"], 1);
}

TEST(SwitchNetns, VdePlugClientsReachEachOther) {
  REQUIRE_ROOT();
  if (sh("command -v vde_plug >/dev/null") != 0) GTEST_SKIP() << "vde_plug not installed";
  std::string dir = socket_dir();
  SwitchProcess proc("[host]\nname = \"t\"\n[switches.lab]\nsocket = \"" + dir +
                         "\"\n[switches.lab.ports.nine]\nvde_port = 9\npvid = 5\n",
                     "lab", dir);
  ASSERT_TRUE(proc.running()) << proc.log();
  Netns a("vsa"), b("vsb"), c("vsc");
  // vde_plug, unmodified, joins the switch to a tap it creates in each namespace.
  for (auto* ns : {&a, &b})
    sh(ns->exec("vde_plug vde://" + dir + " tap://vde0 >/dev/null 2>&1 &"));
  sh(c.exec("vde_plug 'vde://" + dir + "[9]' tap://vde0 >/dev/null 2>&1 &"));
  int i = 1;
  for (auto* ns : {&a, &b, &c}) {
    for (int t = 0; t < 50 && sh("ip -n " + ns->name() + " link show vde0 >/dev/null 2>&1"); ++t)
      std::this_thread::sleep_for(50ms);
    sh("ip -n " + ns->name() + " addr add 10.78.0." + std::to_string(i++) + "/24 dev vde0");
    sh("ip -n " + ns->name() + " link set vde0 up");
  }
  EXPECT_TRUE(a.ping("10.78.0.2"));
  EXPECT_TRUE(b.ping("10.78.0.1"));
  // The client that asked for port 9 got it, with the VLAN declared for it.
  auto p9 = proc.port("nine");
  ASSERT_FALSE(p9.is_null()) << proc.call({{"cmd", "ports"}}).dump();
  EXPECT_EQ(p9["id"], 9);
  EXPECT_EQ(p9["pvid"], 5);
  EXPECT_FALSE(a.ping("10.78.0.3", 2, 1));
  // Moving port 9 into VLAN 1 over the control socket joins it to the others.
  auto r = proc.call({{"cmd", "set-port-vlan"}, {"port", "nine"}, {"pvid", 1}});
  EXPECT_TRUE(r.value("ok", false)) << r.dump();
  EXPECT_TRUE(a.ping("10.78.0.3"));
}

TEST(SwitchNetns, StreamDgramAndVdeClientsShareOneSegment) {
  std::string dir = socket_dir();
  std::string toml = "[host]\nname = \"t\"\n[switches.lab]\nsocket = \"" + dir +
                     "\"\n[switches.lab.ports.s]\nstream = \"" + dir + "-s.sock\"\n"
                     "[switches.lab.ports.d]\ndgram = \"" + dir + "-d.sock\"\n";
  SwitchProcess proc(toml, "lab", dir);
  ASSERT_TRUE(proc.running()) << proc.log();
  auto s = connect_stream(dir + "-s.sock");
  auto d = connect_dgram(dir + "-qemu.sock", dir + "-d.sock");
  auto v = connect_vde(dir);
  ASSERT_TRUE(s && d && v);
  // The dgram port learns its peer from the first datagram (QEMU's `local` address).
  ASSERT_TRUE(d->send(frame(kBroadcast, mac(0xd))));
  ASSERT_TRUE(s->recv(2000ms));
  ASSERT_TRUE(v->recv(2000ms));
  ASSERT_TRUE(s->send(frame(kBroadcast, mac(0x5), -1, 1514)));
  auto at_d = d->recv(2000ms);
  auto at_v = v->recv(2000ms);
  ASSERT_TRUE(at_d && at_v);
  EXPECT_EQ(at_d->size(), 1514u);
  EXPECT_EQ(*at_d, *at_v);
  // Now learned: unicast to 0xd goes to the dgram client only.
  ASSERT_TRUE(v->send(frame(mac(0xd), mac(0x77))));
  EXPECT_TRUE(d->recv(2000ms));
  EXPECT_FALSE(s->recv(200ms));
  auto stats = proc.stats();
  EXPECT_EQ(stats["ports"], 3);
  EXPECT_EQ(stats["fdb_entries"], 3);
}

TEST(SwitchNetns, StreamBurstOfThousandsOfFramesArrivesInOrder) {
  // One write carrying far more than a batch of frames (as QEMU sends when its queue
  // has filled): every frame must come out, whole and in order.
  std::string dir = socket_dir();
  std::string toml = "[host]\nname = \"t\"\n[switches.lab]\nsocket = \"" + dir +
                     "\"\n[switches.lab.ports.a]\nstream = \"" + dir + "-a.sock\"\n"
                     "[switches.lab.ports.b]\nstream = \"" + dir + "-b.sock\"\n";
  SwitchProcess proc(toml, "lab", dir);
  ASSERT_TRUE(proc.running()) << proc.log();
  auto a = connect_stream(dir + "-a.sock");
  auto b = connect_stream(dir + "-b.sock");
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(b->send(frame(kBroadcast, mac(0xb))));
  ASSERT_TRUE(a->recv(2000ms));
  constexpr int kFrames = 3000;
  for (int i = 0; i < kFrames; ++i) {
    auto f = frame(mac(0xb), mac(0xa));
    f[20] = uint8_t(i >> 8);
    f[21] = uint8_t(i);
    ASSERT_TRUE(a->send(f));
  }
  int next = 0;
  while (next < kFrames) {
    auto f = b->recv(2000ms);
    ASSERT_TRUE(f) << "got " << next << " of " << kFrames << "\n" << proc.log();
    ASSERT_EQ(f->size(), 64u);
    ASSERT_EQ((*f)[20] << 8 | (*f)[21], next & 0xffff);
    ++next;
  }
  EXPECT_TRUE(proc.running());
}

TEST(SwitchNetns, PacketPortJoinsAKernelLink) {
  REQUIRE_ROOT();
  Netns sw("vss"), a("vsa"), b("vsb");
  std::string veth = unique_name("vsp"), tap = unique_name("vst");
  sh("ip -n " + sw.name() + " link add name " + veth + " type veth peer name eth0 netns " +
     a.name());
  sh("ip -n " + sw.name() + " link set " + veth + " up");
  sh("ip -n " + a.name() + " addr add 10.79.0.1/24 dev eth0");
  sh("ip -n " + a.name() + " link set eth0 up");
  std::string dir = socket_dir();
  SwitchProcess proc("[host]\nname = \"t\"\n[switches.lab]\nsocket = \"" + dir +
                         "\"\n[switches.lab.ports.k]\npacket = \"" + veth +
                         "\"\n[switches.lab.ports.t]\ntap = \"" + tap + "\"\n",
                     "lab", dir, sw.name());
  ASSERT_TRUE(proc.running()) << proc.log();
  sh("ip -n " + sw.name() + " link set " + tap + " netns " + b.name());
  sh("ip -n " + b.name() + " addr add 10.79.0.2/24 dev " + tap);
  sh("ip -n " + b.name() + " link set " + tap + " up");
  EXPECT_TRUE(a.ping("10.79.0.2")) << proc.log();
  EXPECT_TRUE(b.ping("10.79.0.1"));
  // Bulk TCP across: the veth hands out checksum-offloaded and GSO frames, the tap
  // takes them whole (both ports speak vnet_hdr).
  sh(a.exec("iperf3 -s -1 -D >/dev/null 2>&1"));
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(sh(b.exec("timeout 20 iperf3 -c 10.79.0.1 -t 2 >/dev/null 2>&1")), 0);
}

TEST(SwitchNetns, MacFloodFillsFdbToItsCapAndKnownHostsKeepTalking) {
  REQUIRE_ROOT();
  TapLab lab({"", ""}, "fdb_max = 1024\nport_mac_max = 100000\n");
  ASSERT_TRUE(lab.proc->running()) << lab.proc->log();
  // The flooder is a VDE client (access VLAN 1, like the taps).
  ASSERT_TRUE(lab.nodes[0]->ping(lab.addr(1)));
  long rss_before = lab.proc->rss_kb();
  auto v = connect_vde(lab.dir);
  ASSERT_TRUE(v);
  std::mt19937_64 rng(42);
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 100000; ++i) {
    uint64_t r = rng();
    MacAddr src{uint8_t((r & 0xfc) | 0x02), uint8_t(r >> 8), uint8_t(r >> 16),
                uint8_t(r >> 24), uint8_t(r >> 32), uint8_t(r >> 40)};
    // Unknown unicast destinations: every frame floods, as a real attack would make it.
    MacAddr dst{0x02, 0xee, uint8_t(r >> 48), 0, 0, uint8_t(i)};
    while (!v->send(frame(dst, src))) std::this_thread::sleep_for(1ms);
    ASSERT_LT(std::chrono::steady_clock::now() - start, 60s);
  }
  std::this_thread::sleep_for(500ms);
  auto stats = lab.proc->stats();
  EXPECT_EQ(stats["fdb_entries"], 1024);
  EXPECT_GT(stats["fdb_switch_full"].get<uint64_t>(), 90000u);
  EXPECT_TRUE(lab.nodes[0]->ping(lab.addr(1)));
  EXPECT_TRUE(lab.nodes[1]->ping(lab.addr(0)));
  long rss_after = lab.proc->rss_kb();
  EXPECT_LT(rss_after - rss_before, 8 * 1024) << "RSS grew from " << rss_before << " kB";
  EXPECT_LT(rss_after, 64 * 1024);
}

TEST(SwitchNetns, PortMacCapStopsOnePortFromFillingTheFdb) {
  REQUIRE_ROOT();
  TapLab lab({"", ""}, "fdb_max = 4096\nport_mac_max = 100\n");
  ASSERT_TRUE(lab.proc->running()) << lab.proc->log();
  auto v = connect_vde(lab.dir);
  ASSERT_TRUE(v);
  for (int i = 0; i < 5000; ++i)
    while (!v->send(frame(kBroadcast, MacAddr{0x06, 0, 0, 0, uint8_t(i >> 8), uint8_t(i)})))
      std::this_thread::sleep_for(1ms);
  std::this_thread::sleep_for(300ms);
  auto stats = lab.proc->stats();
  EXPECT_EQ(stats["fdb_port_full"], 4900);
  EXPECT_TRUE(lab.nodes[0]->ping(lab.addr(1)));
  auto fdb = lab.proc->call({{"cmd", "fdb"}})["fdb"];
  EXPECT_EQ(fdb.size(), 102u);  // 100 from the flooder, one per tap
}

TEST(SwitchNetns, SighupReloadsVlansWithoutDroppingClients) {
  REQUIRE_ROOT();
  TapLab lab({"pvid = 10", "pvid = 20"});
  ASSERT_TRUE(lab.proc->running()) << lab.proc->log();
  EXPECT_FALSE(lab.nodes[0]->ping(lab.addr(1), 1, 1));
  auto v = connect_vde(lab.dir);
  ASSERT_TRUE(v);
  std::string cfg;
  {
    std::ifstream in(lab.proc->config_path());
    std::stringstream ss;
    ss << in.rdbuf();
    cfg = ss.str();
  }
  cfg.replace(cfg.find("pvid = 20"), 9, "pvid = 10");
  std::ofstream(lab.proc->config_path()) << cfg;
  lab.proc->signal(SIGHUP);
  std::this_thread::sleep_for(300ms);
  EXPECT_TRUE(lab.nodes[0]->ping(lab.addr(1))) << lab.proc->log();
  EXPECT_EQ(lab.proc->stats()["ports"], 3) << "a client was dropped by the reload";
  EXPECT_TRUE(v->send(frame(kBroadcast, mac(1))));
}

// A reload applies the file as it now is: a port taken out is closed (its socket gone,
// its clients cut), a port put in is opened, VLANs change in place, and a client of a
// port that stayed keeps its connection throughout.
TEST(SwitchNetns, SighupAddsAndRemovesDeclaredPorts) {
  std::string dir = socket_dir();
  auto port = [&](const std::string& n, const std::string& policy) {
    return "[switches.lab.ports." + n + "]\nstream = \"" + dir + "-" + n + ".sock\"\n" +
           policy + "\n";
  };
  std::string head = "[host]\nname = \"t\"\n[switches.lab]\nsocket = \"" + dir + "\"\n";
  SwitchProcess proc(head + port("a", "pvid = 10") + port("b", "pvid = 10"), "lab", dir);
  ASSERT_TRUE(proc.running()) << proc.log();
  auto a = connect_stream(dir + "-a.sock");
  auto b = connect_stream(dir + "-b.sock");
  ASSERT_TRUE(a && b);
  std::this_thread::sleep_for(100ms);
  ASSERT_TRUE(a->send(frame(kBroadcast, mac(0xa))));
  ASSERT_TRUE(b->recv(2000ms));

  std::ofstream(proc.config_path()) << head + port("a", "pvid = 20") + port("c", "pvid = 20");
  proc.signal(SIGHUP);
  ASSERT_TRUE(eventually([&] { return proc.log().find("reloaded:") != std::string::npos; }))
      << proc.log();
  EXPECT_THAT(proc.log(), ::testing::HasSubstr("reloaded: 1 port(s) opened, 1 removed"));
  struct stat st;
  EXPECT_NE(::stat((dir + "-b.sock").c_str(), &st), 0) << "the removed port's socket stayed";
  EXPECT_EQ(::stat((dir + "-c.sock").c_str(), &st), 0) << proc.log();
  EXPECT_EQ(proc.port("a")["pvid"], 20);
  auto c = connect_stream(dir + "-c.sock");
  ASSERT_TRUE(c);
  EXPECT_TRUE(eventually([&] { return proc.stats()["ports"] == 2; }))
      << "b's client must be cut, a's kept, c's new: " << proc.stats().dump();
  // a's connection from before the reload reaches the new port, in the new VLAN.
  ASSERT_TRUE(a->send(frame(kBroadcast, mac(0xa))));
  EXPECT_TRUE(c->recv(2000ms)) << proc.log();
  ASSERT_TRUE(c->send(frame(mac(0xa), mac(0xc))));
  EXPECT_TRUE(a->recv(2000ms));
}

TEST(SwitchNetns, SigtermRemovesItsSockets) {
  std::string dir = socket_dir();
  SwitchProcess proc("[host]\nname = \"t\"\n[switches.lab]\nsocket = \"" + dir +
                         "\"\n[switches.lab.ports.s]\nstream = \"" + dir + "-s.sock\"\n",
                     "lab", dir);
  ASSERT_TRUE(proc.running()) << proc.log();
  auto v = connect_vde(dir);
  ASSERT_TRUE(v);
  struct stat st;
  ASSERT_EQ(::stat((dir + "/ctl").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0660u);
  ASSERT_EQ(::stat(dir.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 01770u);  // sticky: group members cannot replace ctl
  int status = proc.stop();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  EXPECT_NE(::access((dir + "/ctl").c_str(), F_OK), 0);
  EXPECT_NE(::access((dir + "/control").c_str(), F_OK), 0);
  EXPECT_NE(::access((dir + "-s.sock").c_str(), F_OK), 0);
  v.reset();
  ::rmdir(dir.c_str());
}

// Runs `body` in a child process as `uid` (its group too, no others); its exit code,
// or -1 when it did not exit by itself.
template <class F>
int run_as(uid_t uid, F body, const std::vector<gid_t>& groups = {}) {
  pid_t pid = ::fork();
  if (pid == 0) {
    if (::setgroups(groups.size(), groups.data()) < 0 || ::setgid(uid) < 0 || ::setuid(uid) < 0)
      ::_exit(126);
    ::_exit(body());
  }
  int st = 0;
  if (pid < 0 || ::waitpid(pid, &st, 0) != pid) return -1;
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

sockaddr_un named(const std::string& path) {
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  std::memcpy(sa.sun_path, path.data(), std::min(path.size(), sizeof sa.sun_path - 1));
  return sa;
}

// The VDE handshake naming `client` as the data socket: 0 the switch answered, 1 it
// hung up without answering (refused), 2 no connection.
int vde_handshake(const std::string& dir, const sockaddr_un& client) {
  UniqueFd ctl(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  auto sa = unix_addr(dir + "/ctl");
  if (!ctl || !sa || ::connect(ctl.get(), reinterpret_cast<sockaddr*>(&*sa), sizeof *sa) < 0)
    return 2;
  auto req = build_vde_request(0, client, "uid " + std::to_string(::getuid()));
  if (::write(ctl.get(), req.data(), req.size()) != ssize_t(req.size())) return 2;
  pollfd p{ctl.get(), POLLIN, 0};
  sockaddr_un reply;
  if (::poll(&p, 1, 2000) != 1) return 2;
  return ::read(ctl.get(), &reply, sizeof reply) == ssize_t(sizeof reply) ? 0 : 1;
}

bool readable(int fd, int ms) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, ms) == 1;
}

// A client may give any address for the switch to send its frames to: root's own
// sockets (by path, through a symlink, or abstract, which has no owner at all) must be
// refused, its own socket taken.
TEST(SwitchNetns, VdeClientCannotAimTheSwitchAtASocketNotItsOwn) {
  REQUIRE_ROOT();
  std::string dir = socket_dir();
  SwitchProcess proc(switch_toml(dir, "socket_mode = \"0666\"\n[switches.lab.ports.s]\n"
                                      "stream = \"" + dir + "-s.sock\"\n"),
                     "lab", dir);
  ASSERT_TRUE(proc.running()) << proc.log();
  std::string victim_path = dir + "-victim.sock";
  auto victim = bind_unix(victim_path, SOCK_DGRAM, 0600, -1);
  ASSERT_TRUE(victim);
  UniqueFd abstract(::socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  sockaddr_un abs{};
  abs.sun_family = AF_UNIX;
  std::snprintf(abs.sun_path + 1, sizeof abs.sun_path - 1, "vnet-victim-%d", ::getpid());
  ASSERT_EQ(::bind(abstract.get(), reinterpret_cast<sockaddr*>(&abs), sizeof abs), 0);
  std::string own = dir + "-client";
  ASSERT_EQ(::mkdir(own.c_str(), 0755), 0);
  ASSERT_EQ(::chown(own.c_str(), 65534, 65534), 0);

  int rc = run_as(65534, [&] {
    if (::symlink(victim_path.c_str(), (own + "/link.sock").c_str()) < 0) return 9;
    if (vde_handshake(dir, named(victim_path)) != 1) return 10;
    if (vde_handshake(dir, abs) != 1) return 11;
    if (vde_handshake(dir, named(own + "/link.sock")) != 1) return 12;
    auto mine = bind_unix(own + "/mine.sock", SOCK_DGRAM, 0600, -1);
    if (!mine) return 13;
    return vde_handshake(dir, named(own + "/mine.sock")) == 0 ? 0 : 14;
  });
  EXPECT_EQ(rc, 0) << "10: root's socket, 11: abstract, 12: symlink accepted; 14: its own "
                      "refused\n"
                   << proc.log();
  EXPECT_THAT(proc.log(), ::testing::HasSubstr("abstract socket addresses are refused"));
  // Whatever the switch floods now must not reach root's sockets.
  auto s = connect_stream(dir + "-s.sock");
  ASSERT_TRUE(s && s->send(frame(kBroadcast, mac(0x5))));
  EXPECT_FALSE(readable(victim->get(), 500)) << "frames reached root's socket";
  EXPECT_FALSE(readable(abstract.get(), 100)) << "frames reached root's abstract socket";
  std::filesystem::remove_all(own);
  ::unlink(victim_path.c_str());
}

// A dgram port answers its last sender. Once the switch has taken a sender's socket,
// the sender swaps its path for a symlink to root's socket: the switch must keep
// sending to the socket it checked, not to whatever the path names now.
TEST(SwitchNetns, DgramPortAnswersOnlyTheSocketItChecked) {
  REQUIRE_ROOT();
  std::string dir = socket_dir();
  SwitchProcess proc(switch_toml(dir, "socket_mode = \"0666\"\n[switches.lab.ports.d]\n"
                                      "dgram = \"" + dir + "-d.sock\"\n[switches.lab.ports.s]\n"
                                      "stream = \"" + dir + "-s.sock\"\n"),
                     "lab", dir);
  ASSERT_TRUE(proc.running()) << proc.log();
  std::string victim_path = dir + "-victim.sock";
  auto victim = bind_unix(victim_path, SOCK_DGRAM, 0600, -1);
  ASSERT_TRUE(victim);
  std::string own = dir + "-client", mine = own + "/mine.sock";
  ASSERT_EQ(::mkdir(own.c_str(), 0755), 0);
  ASSERT_EQ(::chown(own.c_str(), 65534, 65534), 0);
  auto s = connect_stream(dir + "-s.sock");
  ASSERT_TRUE(s);
  int go[2];
  ASSERT_EQ(::pipe(go), 0);
  pid_t child = ::fork();
  if (child == 0) {
    ::close(go[1]);
    if (::setgroups(0, nullptr) < 0 || ::setgid(65534) < 0 || ::setuid(65534) < 0) ::_exit(126);
    auto fd = bind_unix(mine, SOCK_DGRAM, 0600, -1);
    auto to = unix_addr(dir + "-d.sock");
    auto f = frame(kBroadcast, mac(0x65));
    if (!fd || ::sendto(fd->get(), f.data(), f.size(), 0, reinterpret_cast<sockaddr*>(&*to),
                        sizeof *to) < 0)
      ::_exit(10);
    if (!readable(fd->get(), 3000)) ::_exit(11);  // its own socket is answered
    char c;
    if (::read(go[0], &c, 1) != 1) ::_exit(12);
    ::unlink(mine.c_str());
    ::_exit(::symlink(victim_path.c_str(), mine.c_str()) == 0 ? 0 : 13);
  }
  ::close(go[0]);
  EXPECT_TRUE(eventually([&] { return proc.port("d").value("peer", "") == mine; }))
      << proc.call({{"cmd", "ports"}}).dump();
  ASSERT_TRUE(s->send(frame(kBroadcast, mac(0x5))));
  ASSERT_EQ(::write(go[1], "x", 1), 1);
  ::close(go[1]);
  int st = 0;
  ::waitpid(child, &st, 0);
  EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << st << "\n" << proc.log();
  ASSERT_TRUE(s->send(frame(kBroadcast, mac(0x5))));
  EXPECT_FALSE(readable(victim->get(), 500)) << "the swapped path led the switch to root's socket";
  std::filesystem::remove_all(own);
  ::unlink(victim_path.c_str());
}

// A request over the socket at `path`, as the caller is: the answer, or {"connect": errno}.
nlohmann::json raw_call(const std::string& path, const nlohmann::json& req) {
  auto r = control_call(path, req);
  if (!r && r.error().exit == ExitCode::kEnvironment && r.error().err == EACCES &&
      r.error().what.find("connect") == 0)
    return {{"connect", EACCES}};
  if (!r) return {{"ok", false}, {"error", r.error().str()}, {"denied", r.error().err == EACCES}};
  return *r;
}

// `vnet switch lab -c FILE --show ports` as uid 65534 (with `groups`): its exit code.
int show_as(const std::string& file, const std::vector<gid_t>& groups = {}) {
  return run_as(65534, [&] {
    return sh(std::string(vnet_binary()) + " switch lab -c " + file + " --show ports >/dev/null");
  }, groups);
}

// A readable copy of a switch's configuration for other users' commands.
std::string public_config(const SwitchProcess& proc) {
  std::string copy = proc.config_path() + ".public";
  std::filesystem::copy_file(proc.config_path(), copy);
  ::chmod(proc.config_path().substr(0, proc.config_path().rfind('/')).c_str(), 0755);
  ::chmod(copy.c_str(), 0644);
  return copy;
}

// The data sockets are the group's (here: everyone's, 0666); changing the switch is its
// owner's: DIR/control is 0600, DIR/query answers queries to whoever may use the data
// sockets, and a change asked there is refused with the reason.
TEST(SwitchNetns, OnlyTheOwnerChangesTheSwitchOthersMayRead) {
  REQUIRE_ROOT();
  std::string dir = socket_dir();
  SwitchProcess proc(
      switch_toml(dir, "socket_mode = \"0666\"\n[switches.lab.ports.up]\nvde_port = 3\n"), "lab",
      dir);
  ASSERT_TRUE(proc.running()) << proc.log();
  struct stat st;
  ASSERT_EQ(::stat((dir + "/control").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat((dir + "/query").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0666u);
  const nlohmann::json change = {{"cmd", "set-port-vlan"}, {"port", "up"}, {"tagged", {10, 20}}};
  int rc = run_as(65534, [&] {
    if (raw_call(dir + "/control", change) != nlohmann::json{{"connect", EACCES}}) return 10;
    auto refused = raw_call(dir + "/query", change);
    if (refused.value("ok", true) || !refused.value("denied", false)) return 11;
    if (refused.value("error", "").find("queries only") == std::string::npos) return 12;
    return raw_call(dir + "/query", {{"cmd", "stats"}}).value("ok", false) ? 0 : 13;
  });
  EXPECT_EQ(rc, 0) << "10: DIR/control opened, 11/12: change not refused, 13: query refused";
  EXPECT_EQ(show_as(public_config(proc)), 0);
  EXPECT_TRUE(proc.call(change).value("ok", false)) << "the owner may change it";
}

TEST(SwitchNetns, ReadingAPrivateSwitchIsRefusedWithExitCode3) {
  REQUIRE_ROOT();
  std::string dir = socket_dir();
  SwitchProcess proc(switch_toml(dir, "socket_mode = \"0600\"\n"), "lab", dir);
  ASSERT_TRUE(proc.running()) << proc.log();
  EXPECT_EQ(show_as(public_config(proc)), 3);
}

// control_group: its members change the switch through DIR/control, even when the data
// sockets are not theirs (DIR becomes searchable for them; each socket keeps its mode).
TEST(SwitchNetns, ControlGroupMembersChangeTheSwitch) {
  REQUIRE_ROOT();
  std::string dir = socket_dir();
  const gid_t netadm = 4242;
  SwitchProcess proc(switch_toml(dir, "socket_mode = \"0600\"\ncontrol_group = \"4242\"\n"
                                      "[switches.lab.ports.up]\nvde_port = 3\n"),
                     "lab", dir);
  ASSERT_TRUE(proc.running()) << proc.log();
  struct stat st;
  ASSERT_EQ(::stat((dir + "/control").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0660u);
  EXPECT_EQ(st.st_gid, netadm);
  ASSERT_EQ(::stat((dir + "/ctl").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  const nlohmann::json change = {{"cmd", "set-port-vlan"}, {"port", "up"}, {"pvid", 7}};
  int member = run_as(65534, [&] {
    return raw_call(dir + "/control", change).value("ok", false) ? 0 : 1;
  }, {netadm});
  EXPECT_EQ(member, 0) << proc.log();
  auto client = connect_vde(dir, 3);  // the client of port 3 gets the changed policy
  ASSERT_TRUE(client);
  EXPECT_EQ(proc.port("up")["pvid"], 7);
  int outsider = run_as(65534, [&] {
    return raw_call(dir + "/control", change) == nlohmann::json{{"connect", EACCES}} ? 0 : 1;
  });
  EXPECT_EQ(outsider, 0);
  EXPECT_EQ(show_as(public_config(proc), {netadm}), 0);
}

// A user's switch without XDG_RUNTIME_DIR serves in /tmp/vnet-UID/NAME. Anyone may
// create /tmp/vnet-UID first and would then control the folder the user's VMs connect
// through: the switch refuses it, and takes it when the user made it.
TEST(SwitchNetns, RuntimeFolderPreCreatedByAnotherUserIsRefused) {
  REQUIRE_ROOT();
  uid_t user = 40000 + uid_t(::getpid() % 10000), other = user + 1;
  std::string runtime = "/tmp/vnet-" + std::to_string(user);
  if (::access(runtime.c_str(), F_OK) == 0) GTEST_SKIP() << runtime << " exists already";
  ASSERT_EQ(::mkdir(runtime.c_str(), 0777), 0);
  ASSERT_EQ(::chown(runtime.c_str(), other, other), 0);
  ASSERT_EQ(::chmod(runtime.c_str(), 0777), 0);
  SwitchProcess::Options as_user{"", user, {{"XDG_RUNTIME_DIR", ""}}};
  const std::string toml = "[host]\nname = \"t\"\n[switches.lab]\n";  // default folder
  {
    SwitchProcess proc(toml, "lab", runtime + "/lab", as_user);
    EXPECT_FALSE(proc.running());
    EXPECT_EQ(proc.exit_code(), 3) << proc.log();
    EXPECT_THAT(proc.log(), ::testing::HasSubstr(runtime + " belongs to uid " +
                                                 std::to_string(other)));
    EXPECT_NE(::access((runtime + "/lab").c_str(), F_OK), 0);
  }
  ASSERT_EQ(::chown(runtime.c_str(), user, user), 0);
  ASSERT_EQ(::chmod(runtime.c_str(), 0755), 0);
  {
    SwitchProcess proc(toml, "lab", runtime + "/lab", as_user);
    EXPECT_TRUE(proc.running()) << proc.log();
    struct stat st;
    ASSERT_EQ(::stat((runtime + "/lab/ctl").c_str(), &st), 0);
    EXPECT_EQ(st.st_uid, user);
  }
  std::filesystem::remove_all(runtime);
}

}  // namespace
}  // namespace vnet::sw::test
