// What the nspawn tests share: a busybox root filesystem built by the test itself
// (systemd-nspawn wants a usr/ folder, facts.md), and a fixture that runs `vnet guest`
// against a target namespace the test created, with a private run dir and state root,
// and removes every namespace, process and file it made, also when the test failed.
#pragma once

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/common/process.h"

namespace vnet::testing {

inline std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline void write_text(const std::string& path, const std::string& text, mode_t mode = 0644) {
  std::ofstream(path) << text;
  ::chmod(path.c_str(), mode);
}

// DIR: bin/busybox (static) with the applets the tests use, usr/, the mount points nspawn
// fills, and sbin/init: a shell that halts on SIGRTMIN+3 (what nspawn sends a booted
// init on stop; 37 in glibc's numbering) and says so on the console.
inline std::string build_rootfs(const std::string& dir) {
  namespace fs = std::filesystem;
  std::string busybox;
  for (const char* p : {"/bin/busybox", "/usr/bin/busybox"})
    if (::access(p, X_OK) == 0) busybox = p;
  if (busybox.empty()) return "no busybox (install busybox-static)";
  if (run({"sh", "-c", "file -L " + busybox + " | grep -q 'statically linked'"}).exit_code != 0 &&
      run({"sh", "-c", "ldd " + busybox + " 2>&1 | grep -q 'not a dynamic'"}).exit_code != 0)
    return busybox + " is not statically linked (install busybox-static)";
  for (const char* d : {"bin", "sbin", "usr", "etc", "proc", "sys", "dev", "tmp", "run", "var"})
    fs::create_directories(dir + "/" + d);
  fs::copy_file(busybox, dir + "/bin/busybox", fs::copy_options::overwrite_existing);
  for (const char* a : {"sh", "ping", "sleep", "ip", "cat", "echo", "ls", "true", "touch"}) {
    std::error_code ec;
    fs::create_symlink("busybox", dir + "/bin/" + a, ec);
  }
  write_text(dir + "/etc/os-release", "ID=vnet-test\n");
  // For LXC, whose lxc.init.cmd cannot quote: the probes a test runs, as one word.
  write_text(dir + "/bin/probe.sh", "#!/bin/sh\n"
             "for a in $(cat /etc/probe-targets 2>/dev/null); do\n"
             "  if ping -c 2 -W 2 $a >/dev/null 2>&1; then echo \"REACH $a\"; else echo \"NOREACH $a\"; fi\n"
             "done\n", 0755);
  write_text(dir + "/sbin/init",
             "#!/bin/sh\n"
             "trap 'echo halting; exit 0' 37\n"
             "echo init up\n"
             "while :; do sleep 1 & wait $!; done\n",
             0755);
  return "";
}

inline bool pid_alive(pid_t pid) {
  std::string stat = slurp("/proc/" + std::to_string(pid) + "/stat");
  size_t close = stat.rfind(')');
  return close != std::string::npos && close + 2 < stat.size() && stat[close + 2] != 'Z' &&
         stat[close + 2] != 'X';
}

// Polls `ok` every 50 ms for at most `seconds`.
template <class F>
bool eventually(F ok, double seconds) {
  auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < end) {
    if (ok()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return ok();
}

class NspawnFixture : public ::testing::Test {
 protected:
  NspawnFixture() {
    static int counter = 0;
    // Short: guest names become vb-<name> and vnet-<name>.
    id_ = "ns" + std::to_string(getpid() % 100000) + char('a' + counter++ % 26);
    dir_ = std::filesystem::temp_directory_path() / ("vnet-nspawn-" + id_);
  }
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (network namespaces, systemd-nspawn)";
    if (run({"sh", "-c", "command -v systemd-nspawn"}).exit_code != 0)
      GTEST_SKIP() << "systemd-nspawn is not installed (Debian package systemd-container)";
    std::filesystem::create_directories(dir_);
    std::string why = build_rootfs(root());
    if (!why.empty()) GTEST_SKIP() << why;
    ASSERT_EQ(run({"ip", "netns", "add", target()}).exit_code, 0);
  }
  void TearDown() override {
    // Whatever a failed test left: the container (PID 1 first, then nspawn), then the
    // namespaces this test's names begin with.
    namespace fs = std::filesystem;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir_ / "state", ec)) {
      std::string pid_text = slurp((e.path() / "pid").string());
      pid_t pid = pid_text.empty() ? 0 : std::stoi(pid_text);
      if (pid > 0 && pid_alive(pid)) {
        run({"sh", "-c", "for c in $(cat /proc/" + std::to_string(pid) +
                             "/task/*/children); do kill -9 $c; done"});
        ::kill(pid, SIGKILL);
      }
    }
    for (const auto& e : fs::directory_iterator("/run/netns", ec)) {
      std::string n = e.path().filename();
      if (n.find(id_) != std::string::npos) run({"ip", "netns", "del", n});
    }
    fs::remove_all(dir_, ec);
  }

  std::string target() const { return id_ + "t"; }
  std::string root() const { return (dir_ / "root").string(); }
  std::string file() const { return (dir_ / "host.toml").string(); }
  std::string state(const std::string& guest) const {
    return (dir_ / "state" / guest).string();
  }

  // `vnet --netns TARGET guest ARGS... -c FILE` with a private run dir and state root.
  RunResult guest(std::vector<std::string> args) {
    std::vector<std::string> argv = {"env", "VNET_RUN_DIR=" + (dir_ / "run").string(),
                                     "VNET_GUEST_STATE=" + (dir_ / "state").string(),
                                     VNET_BINARY, "--netns", target(), "guest"};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.insert(argv.end(), {"-c", file()});
    return run(argv);
  }
  std::string console(const std::string& g) { return slurp(state(g) + "/console.log"); }
  bool link_exists(const std::string& ns, const std::string& name) {
    return run({"ip", "-n", ns, "link", "show", "dev", name}).exit_code == 0;
  }
  bool netns_exists(const std::string& ns) {
    return std::filesystem::exists("/run/netns/" + ns);
  }

  // `vnet render lxc` of file(), then lxc-start of guest `g` in the target namespace,
  // in the foreground until its command ends (90 s at most: LXC takes about 10 s to set up
  // under vm-run's TCG); returns its console. The
  // config gets a console log and no AppArmor profile (test environment only). Through
  // `ip netns exec` (LXC finds the bridge in /sys/class/net, which only that remounts
  // for the namespace) with cgroup2 mounted in its private mount namespace.
  std::string lxc_run(const std::string& g) {
    std::string out = (dir_ / "lxc").string();
    auto r = run({VNET_BINARY, "render", "lxc", file(), "-o", out});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    std::filesystem::create_directories(out + "/path/" + g);
    write_text(out + "/path/" + g + "/config",
               slurp(out + "/" + g + ".conf") + "lxc.console.logfile = " + out + "/console.log\n"
               // vm-run's Debian kernel has AppArmor without a loaded policy: LXC refuses
               // to start a confined container there ("Incomplete AppArmor support").
               "lxc.apparmor.profile = unconfined\n");
    auto s = run({"ip", "netns", "exec", target(), "sh", "-c",
                  "mount -t cgroup2 none /sys/fs/cgroup && timeout 90 lxc-start -n " + g +
                      " -P " + out + "/path -F -l INFO -o " + out + "/lxc.log </dev/null"});
    EXPECT_EQ(s.exit_code, 0) << s.out << s.err << slurp(out + "/lxc.log");
    return slurp(out + "/console.log");
  }

  std::string id_;
  std::filesystem::path dir_;
};

}  // namespace vnet::testing
