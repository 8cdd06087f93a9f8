// netns tier: `vnet guest` with nspawn containers on the host kernel, inside namespaces
// the test creates. A container on a plain bridge reaches a namespace on the same bridge
// (ping from inside the container); stop leaves no link, namespace or process; a
// container that exits by itself is reported stopped and its links go at the next
// stop or start; a booted init is halted the nspawn way; a command that ignores SIGTERM
// is killed after --timeout; `guest console` talks to the container's terminal.
#include "tests/nspawn/fixture.h"

namespace vnet::testing {
namespace {

class NspawnNetns : public NspawnFixture {
 protected:
  // A bridge in the target namespace, a namespace <id>p on it at 10.77.0.3, and guest
  // GUEST at 10.77.0.2 with `body` (command = ... or boot = true).
  void write_file(const std::string& g, const std::string& body) {
    write_text(file(), "[host]\nname = \"" + id_ + "\"\n"
               "[bridges.br0]\n"
               "[veths.vb-" + id_ + "]\npeer = \"eth0\"\nbridge = \"br0\"\n"
               "peer_netns = \"" + peer() + "\"\npeer_addresses = [\"10.77.0.3/24\"]\n"
               "[guests." + g + "]\nkind = \"nspawn\"\ndirectory = \"" + root() + "\"\n" +
               body + "\n[[guests." + g + ".nics]]\nbridge = \"br0\"\n"
               "addresses = [\"10.77.0.2/24\"]\n");
  }
  std::string peer() const { return id_ + "p"; }
  std::string g1() const { return id_ + "g"; }

  // Nothing of guest g is left: no veth in the target, no namespace, no process.
  void expect_gone(const std::string& g, pid_t nspawn_pid, pid_t leader) {
    EXPECT_FALSE(link_exists(target(), "vb-" + g));
    EXPECT_FALSE(netns_exists("vnet-" + g));
    if (nspawn_pid) EXPECT_FALSE(pid_alive(nspawn_pid)) << "systemd-nspawn " << nspawn_pid;
    if (leader) EXPECT_FALSE(pid_alive(leader)) << "container PID 1 " << leader;
    EXPECT_FALSE(std::filesystem::exists(state(g) + "/pid"));
    EXPECT_TRUE(link_exists(target(), "br0")) << "stop removed more than the guest's links";
    EXPECT_TRUE(netns_exists(peer()));
  }
  pid_t pid_of(const std::string& g) {
    std::string t = slurp(state(g) + "/pid");
    return t.empty() ? 0 : std::stoi(t);
  }
  pid_t leader_of(pid_t nspawn) {
    std::string kids = slurp("/proc/" + std::to_string(nspawn) + "/task/" +
                             std::to_string(nspawn) + "/children");
    return kids.empty() ? 0 : std::stoi(kids);
  }
};

TEST_F(NspawnNetns, ContainerOnPlainBridgeReachesNamespaceAndStopLeavesNothing) {
  write_file(g1(), "command = [\"/bin/sh\", \"-c\", \"trap 'exit 0' TERM; "
                   "ping -c 1 -W 5 10.77.0.3 && echo REACHED; "
                   "while :; do sleep 1 & wait $!; done\"]\n"
                   "binds_ro = [\"" + dir_.string() + ":/mnt\"]");
  auto r = guest({"start", g1()});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("started"), std::string::npos) << r.out;
  pid_t pid = pid_of(g1());
  ASSERT_GT(pid, 0);
  pid_t leader = leader_of(pid);
  EXPECT_GT(leader, 0);
  EXPECT_TRUE(link_exists(target(), "vb-" + g1()));
  EXPECT_TRUE(link_exists("vnet-" + g1(), "host0"));
  EXPECT_TRUE(eventually([&] { return console(g1()).find("REACHED") != std::string::npos; }, 15))
      << console(g1());
  // And the other way: the namespace reaches the container's address.
  EXPECT_EQ(run({"ip", "netns", "exec", peer(), "ping", "-c", "1", "-W", "5", "10.77.0.2"}).exit_code, 0);

  auto st = guest({"status", g1()});
  EXPECT_EQ(st.exit_code, 0);
  EXPECT_NE(st.out.find("running (pid " + std::to_string(pid)), std::string::npos) << st.out;
  auto ls = guest({"list"});
  EXPECT_EQ(row_with(ls.out, g1()), g1() + " nspawn running " + std::to_string(pid)) << ls.out;
  auto again = guest({"start", g1()});
  EXPECT_EQ(again.exit_code, 0);
  EXPECT_NE(again.out.find("already running"), std::string::npos) << again.out;

  auto s = guest({"stop", g1()});
  ASSERT_EQ(s.exit_code, 0) << s.out << s.err;
  EXPECT_NE(s.out.find("stopped (SIGTERM"), std::string::npos) << s.out;
  expect_gone(g1(), pid, leader);
  auto after = guest({"status", g1()});
  EXPECT_NE(after.out.find(": stopped"), std::string::npos) << after.out;
}

TEST_F(NspawnNetns, ExitedContainerIsStoppedAndItsLinksGoAtTheNextStartOrStop) {
  write_file(g1(), "command = [\"/bin/sleep\", \"1\"]");
  auto r = guest({"start", g1()});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  pid_t pid = pid_of(g1());
  ASSERT_TRUE(eventually([&] { return !pid_alive(pid); }, 10));
  auto st = guest({"status", g1()});
  EXPECT_NE(st.out.find(": stopped (exited by itself"), std::string::npos) << st.out;
  EXPECT_EQ(row_with(guest({"list"}).out, g1()), g1() + " nspawn stopped -");
  EXPECT_TRUE(link_exists(target(), "vb-" + g1())) << "the links stay until the next stop or start";
  // The veth's random MAC tells a remade link from the old one (vnet chooses ifindexes,
  // and a namespace's inode number may be reused).
  auto ino = [&] {
    std::string o = run({"ip", "-n", target(), "-o", "link", "show", "dev", "vb-" + g1()}).out;
    size_t at = o.find("link/ether ");
    return at == std::string::npos ? std::string() : o.substr(at + 11, 17);
  };
  std::string before = ino();
  EXPECT_FALSE(before.empty());

  // Next start: the old links are removed and made again.
  auto r2 = guest({"start", g1()});
  ASSERT_EQ(r2.exit_code, 0) << r2.out << r2.err;
  EXPECT_NE(r2.out.find("its links were removed"), std::string::npos) << r2.out;
  EXPECT_TRUE(link_exists(target(), "vb-" + g1()));
  EXPECT_NE(ino(), before);
  pid_t pid2 = pid_of(g1());
  ASSERT_TRUE(eventually([&] { return !pid_alive(pid2); }, 10));

  // Next stop: the links go.
  auto s = guest({"stop", g1()});
  ASSERT_EQ(s.exit_code, 0) << s.out << s.err;
  EXPECT_NE(s.out.find("stale state removed"), std::string::npos) << s.out;
  expect_gone(g1(), pid2, 0);
}

TEST_F(NspawnNetns, BootedInitIsHaltedBySigrtmin3) {
  write_file(g1(), "boot = true");
  auto r = guest({"start", g1()});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  pid_t pid = pid_of(g1());
  pid_t leader = leader_of(pid);
  // An init ignores signals it has no handler for yet: stop once it is up.
  ASSERT_TRUE(eventually([&] { return console(g1()).find("init up") != std::string::npos; }, 15))
      << console(g1());
  auto s = guest({"stop", g1(), "--timeout", "20"});
  ASSERT_EQ(s.exit_code, 0) << s.out << s.err;
  EXPECT_NE(s.out.find("halted"), std::string::npos) << s.out;
  EXPECT_NE(console(g1()).find("halting"), std::string::npos) << console(g1());
  expect_gone(g1(), pid, leader);
}

TEST_F(NspawnNetns, CommandIgnoringSigtermIsKilledAfterTheTimeout) {
  write_file(g1(), "command = [\"/bin/sh\", \"-c\", \"trap '' TERM; echo ready; "
                   "while :; do sleep 1 & wait $!; done\"]");
  auto r = guest({"start", g1()});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  pid_t pid = pid_of(g1());
  pid_t leader = leader_of(pid);
  ASSERT_TRUE(eventually([&] { return console(g1()).find("ready") != std::string::npos; }, 15));
  auto s = guest({"stop", g1(), "--timeout", "1"});
  ASSERT_EQ(s.exit_code, 0) << s.out << s.err;
  EXPECT_NE(s.out.find("killed (SIGKILL"), std::string::npos) << s.out;
  expect_gone(g1(), pid, leader);
}

// `vnet guest console NAME` of an nspawn guest: what is typed reaches the container's
// terminal and its answer comes back; Ctrl-] detaches and leaves the container running;
// the relay (nspawn/console.h) goes with the container.
TEST_F(NspawnNetns, ConsoleAttachesToTheContainersTerminalAndCtrlBracketDetaches) {
  write_file(g1(), "command = [\"/bin/sh\"]");  // an interactive shell on its terminal
  auto r = guest({"start", g1()});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  pid_t pid = pid_of(g1());
  pid_t leader = leader_of(pid);
  // Typed: a line whose answer differs from its echo ("vnet-42" only if the shell ran
  // it), then Ctrl-] once the answer has had 3 s to come back.
  std::string attach = "(printf 'echo vnet-$((6*7))\\n'; sleep 3; printf '\\035') | timeout 30 env VNET_RUN_DIR=" +
                       (dir_ / "run").string() + " VNET_GUEST_STATE=" + (dir_ / "state").string() +
                       " " VNET_BINARY " --netns " + target() + " guest console " + g1() +
                       " -c " + file();
  auto c = sh(attach);
  EXPECT_EQ(c.exit_code, 0) << c.out << c.err;
  EXPECT_NE(c.out.find("vnet-42"), std::string::npos) << c.out;
  EXPECT_NE(c.err.find("Ctrl-] detaches"), std::string::npos) << c.err;
  EXPECT_NE(c.err.find("detached from " + g1()), std::string::npos) << c.err;
  // still running, and the same output is in console.log
  auto st = guest({"status", g1()});
  EXPECT_NE(st.out.find("running (pid " + std::to_string(pid)), std::string::npos) << st.out;
  EXPECT_NE(console(g1()).find("vnet-42"), std::string::npos) << console(g1());
  // the relay is a fork of `vnet guest start` ("[s]" keeps pgrep's shell out of the match)
  std::string relay = "pgrep -f 'guest [s]tart " + g1() + " -c'";
  EXPECT_EQ(sh(relay).exit_code, 0) << "no console relay running";
  // an interactive shell ignores SIGTERM: stopped by the timeout's SIGKILL
  auto s = guest({"stop", g1(), "--timeout", "1"});
  ASSERT_EQ(s.exit_code, 0) << s.out << s.err;
  expect_gone(g1(), pid, leader);
  // and it leaves once nspawn has closed the terminal
  EXPECT_TRUE(eventually([&] { return sh(relay).exit_code != 0; }, 5)) << sh(relay).out;
}

TEST_F(NspawnNetns, MissingTreeIsRefusedWithNothingMade) {
  write_file(g1(), "command = [\"/bin/true\"]");
  std::filesystem::remove_all(root() + "/usr");
  auto r = guest({"start", g1()});
  EXPECT_EQ(r.exit_code, 3) << r.out << r.err;
  EXPECT_NE(r.err.find("has no usr/ folder"), std::string::npos) << r.err;
  EXPECT_FALSE(link_exists(target(), "vb-" + g1()));
  EXPECT_FALSE(netns_exists("vnet-" + g1()));
}

// `vnet render nspawn` output is what systemd-nspawn takes: the rendered .nspawn (as
// /run/systemd/nspawn/NAME.nspawn, trusted, as systemd-nspawn@.service reads it) makes
// the container run the command with the read-only bind and one veth pair per NIC with
// vnet's names on both sides.
TEST_F(NspawnNetns, RenderedNspawnFileIsWhatSystemdNspawnRuns) {
  std::string g = g1();
  write_text(file(), "[host]\nname = \"" + id_ + "\"\n[bridges.br0]\n"
             "[guests." + g + "]\nkind = \"nspawn\"\ndirectory = \"" + root() + "\"\n"
             "command = [\"/bin/sh\", \"-c\", \"ip -o link; test -f /mnt/os-release && "
             "echo BOUND; sleep 3\"]\nbinds_ro = [\"" + root() + "/etc:/mnt\"]\n"
             "[[guests." + g + ".nics]]\nbridge = \"br0\"\n"
             "[[guests." + g + ".nics]]\nbridge = \"br0\"\nname = \"lan1\"\n");
  std::string out = (dir_ / "render").string();
  auto r = run({VNET_BINARY, "render", "nspawn", file(), "-o", out});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string settings = "/run/systemd/nspawn/" + g + ".nspawn";
  std::filesystem::create_directories("/run/systemd/nspawn");
  std::filesystem::copy_file(out + "/" + g + ".nspawn", settings,
                             std::filesystem::copy_options::overwrite_existing);
  // nsenter, not `ip netns exec`: the latter mounts a /sys without cgroups, which
  // systemd-nspawn needs.
  std::string log = (dir_ / "render.log").string();
  int rc = -1;
  std::thread t([&] {
    rc = run({"sh", "-c", "nsenter --net=/run/netns/" + target() + " timeout 20 systemd-nspawn -q -D " +
                              root() + " --machine=" + g + " --register=no --keep-unit "
                              "--settings=trusted </dev/null >" + log + " 2>&1"}).exit_code;
  });
  bool host_sides = eventually([&] {
    return link_exists(target(), "vb-" + g) && link_exists(target(), "vb-" + g + "-1");
  }, 10);
  t.join();
  std::filesystem::remove(settings);
  EXPECT_TRUE(host_sides) << slurp(log);
  EXPECT_EQ(rc, 0) << slurp(log);
  std::string text = slurp(log);
  EXPECT_NE(text.find(": host0@"), std::string::npos) << text;
  EXPECT_NE(text.find(": lan1@"), std::string::npos) << text;
  EXPECT_NE(text.find("BOUND"), std::string::npos) << text;
}

// A scenario declaring an nspawn guest: the runner starts it after the links, a check
// from its namespace (vnet-<guest>) passes, and nothing of the run is left, neither the
// container nor its namespaces; a guest that cannot start fails the run (exit 3 for a
// tree without usr/) and is torn down the same way.
TEST_F(NspawnNetns, ScenarioStartsGuestsChecksFromThemAndTearsThemDown) {
  std::string g = g1();
  auto scenario = [&](const std::string& dir) {
    return "[host]\nname = \"" + id_ + "\"\n[scenario]\nname = \"" + id_ + "\"\n"
           "[bridges.br0]\n[veths.vb-" + id_ + "]\npeer = \"eth0\"\nbridge = \"br0\"\n"
           "peer_netns = \"peer\"\npeer_addresses = [\"10.77.0.3/24\"]\n"
           "[guests." + g + "]\nkind = \"nspawn\"\ndirectory = \"" + dir + "\"\n"
           "command = [\"/bin/sh\", \"-c\", \"trap 'exit 0' TERM; echo up >/tmp/up; "
           "while :; do sleep 1 & wait $!; done\"]\n"
           "[[guests." + g + ".nics]]\nbridge = \"br0\"\naddresses = [\"10.77.0.2/24\"]\n"
           "[[checks]]\nfrom = \"vnet-" + g + "\"\nping = \"10.77.0.3\"\n"
           "[[checks]]\nfrom = \"peer\"\nping = \"10.77.0.2\"\n";
  };
  auto leftovers = [&] {
    return run({"sh", "-c", "ls /run/netns | grep -- '-vnet-" + g + "$'; "
                            "ps -eo stat=,args= | grep -v '^Z' | grep '[s]ystemd-nspawn.*" +
                            root() + "'"}).out;
  };
  write_text(file(), scenario(root()));
  auto r = run({VNET_BINARY, "scenario", "run", file()});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("2 passed, 0 failed"), std::string::npos) << r.out << r.err;
  EXPECT_EQ(leftovers(), "");

  write_text(file(), scenario(root() + "-missing"));
  auto bad = run({VNET_BINARY, "scenario", "run", file()});
  EXPECT_EQ(bad.exit_code, 3) << bad.out << bad.err;
  EXPECT_NE((bad.out + bad.err).find("is not a folder"), std::string::npos) << bad.out << bad.err;
  EXPECT_EQ(leftovers(), "");
}

// `vnet render lxc` output is what Debian's LXC 5 starts: a container on a plain bridge
// (no VLAN keys on this kernel; the VLAN case runs in the kernel tier) with its address
// from lxc.net.0.ipv4.address reaches the namespace on the bridge.
TEST_F(NspawnNetns, LxcStartsTheRenderedConfigAndReachesTheBridge) {
  if (run({"sh", "-c", "command -v lxc-start"}).exit_code != 0)
    GTEST_SKIP() << "lxc-start is not installed (Debian package lxc)";
  std::string g = id_ + "x";
  write_file(g, "command = [\"/bin/probe.sh\"]");
  write_text(root() + "/etc/probe-targets", "10.77.0.3\n");
  auto a = run({"env", "VNET_RUN_DIR=" + (dir_ / "run").string(), VNET_BINARY, "--netns",
                target(), "apply", file()});
  ASSERT_EQ(a.exit_code, 0) << a.out << a.err;
  run({"ip", "-n", target(), "link", "del", "vb-" + g});  // LXC makes its own pair
  std::string console = lxc_run(g);
  EXPECT_NE(console.find("REACH 10.77.0.3"), std::string::npos) << console;
  EXPECT_EQ(console.find("NOREACH"), std::string::npos) << console;
}

}  // namespace
}  // namespace vnet::testing
