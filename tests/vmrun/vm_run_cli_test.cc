// `vnet vm-run` end to end (DIRECT: ctest runs this on the host; every case boots
// QEMU through the real binary, VNET_BINARY). Exit codes pass through, stdout and
// stderr come back apart and byte-exact, a working directory under /tmp is shared
// writable, vm-run's own failures exit 125 with a message.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <iostream>
#include <thread>

#include "tests/vmrun/test_util.h"
#include "vmrun/sys.h"

namespace vnet::vmrun {
namespace {

using testing::TempDir;

struct Ran {
  int status = -1;
  std::string out, err;
  double seconds = 0;
};

// Runs `vnet vm-run ARGS` in `cwd` with extra environment entries; `kill_after` > 0
// sends SIGTERM after that many seconds.
Ran vm_run(const std::vector<std::string>& args, const std::string& cwd = "/",
           const std::vector<std::string>& env = {}, int kill_after = 0) {
  std::vector<std::string> argv = {VNET_BINARY, "vm-run"};
  argv.insert(argv.end(), args.begin(), args.end());
  int po[2], pe[2];
  EXPECT_EQ(::pipe2(po, O_CLOEXEC), 0);
  EXPECT_EQ(::pipe2(pe, O_CLOEXEC), 0);
  auto t0 = std::chrono::steady_clock::now();
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(po[1], 1);
    ::dup2(pe[1], 2);
    if (::chdir(cwd.c_str()) != 0) ::_exit(99);
    for (const auto& e : env) ::putenv(const_cast<char*>(e.c_str()));
    std::vector<char*> a;
    for (auto& s : argv) a.push_back(s.data());
    a.push_back(nullptr);
    ::execv(a[0], a.data());
    ::_exit(98);
  }
  ::close(po[1]);
  ::close(pe[1]);
  Ran r;
  pollfd fds[2] = {{po[0], POLLIN, 0}, {pe[0], POLLIN, 0}};
  int open = 2;
  bool killed = false;
  char buf[65536];
  while (open > 0) {
    int n = ::poll(fds, 2, 100);
    double el = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (kill_after > 0 && !killed && el >= kill_after) {
      ::kill(pid, SIGTERM);
      killed = true;
    }
    if (n <= 0) continue;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !fds[i].revents) continue;
      ssize_t k = ::read(fds[i].fd, buf, sizeof buf);
      if (k <= 0) {
        ::close(fds[i].fd);
        fds[i].fd = -1;
        --open;
      } else {
        (i == 0 ? r.out : r.err).append(buf, size_t(k));
      }
    }
  }
  int st = 0;
  ::waitpid(pid, &st, 0);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

std::string show(const Ran& r) {
  return "exit " + std::to_string(r.status) + "\n--- stdout:\n" + r.out + "\n--- stderr:\n" +
         r.err;
}

TEST(VmRun, ExitCodePassesThrough) {
  Ran f = vm_run({"--", "false"});
  EXPECT_EQ(f.status, 1) << show(f);
  EXPECT_EQ(f.out, "");
  EXPECT_EQ(f.err, "");
  Ran s = vm_run({"--", "sh", "-c", "exit 7"});
  EXPECT_EQ(s.status, 7) << show(s);
}

TEST(VmRun, OutputComesBackApartAndByteExact) {
  TempDir wd;
  ASSERT_TRUE(write_file(wd / "bytes", testing::all_bytes()));
  Ran r = vm_run({"--", "sh", "-c", "cat bytes; printf 'to stderr\\r\\nno newline' >&2; cat bytes"},
                 wd.path());
  ASSERT_EQ(r.status, 0) << show(r);
  EXPECT_EQ(r.out, testing::all_bytes() + testing::all_bytes());
  EXPECT_EQ(r.err, "to stderr\r\nno newline");
}

TEST(VmRun, WorkingDirectoryUnderTmpIsSharedWritable) {
  TempDir wd;
  ASSERT_TRUE(write_file(wd / "from-host", "host data\n"));
  Ran r = vm_run({"--", "sh", "-c",
                  "pwd; cat from-host; echo guest data > made-in-guest; mkdir -p sub/deeper; "
                  "echo nested > sub/deeper/file"},
                 wd.path());
  ASSERT_EQ(r.status, 0) << show(r);
  EXPECT_EQ(r.out, wd.path() + "\nhost data\n");
  EXPECT_EQ(read_file(wd / "made-in-guest").value_or("<missing>"), "guest data\n");
  EXPECT_EQ(read_file(wd / "sub/deeper/file").value_or("<missing>"), "nested\n");
}

// A checkout under /tmp with its build folder inside (ctest runs there): --share makes
// the source tree visible (and writable) too, nested shares mount in order.
TEST(VmRun, ShareMakesMoreFoldersVisible) {
  TempDir src, other;
  ASSERT_TRUE(mkdir_p(src / "build/tests"));
  ASSERT_TRUE(write_file(src / "golden.txt", "golden\n"));
  Ran r = vm_run({"--share", src.path(), "--share", other.path(), "--", "sh", "-c",
                  "cat ../../golden.txt; echo out > result; echo o > " + other.path() + "/w"},
                 src / "build/tests");
  ASSERT_EQ(r.status, 0) << show(r);
  EXPECT_EQ(r.out, "golden\n");
  EXPECT_EQ(read_file(src / "build/tests/result").value_or("<missing>"), "out\n");
  EXPECT_EQ(read_file(other / "w").value_or("<missing>"), "o\n");
}

// --systemd: systemd is PID 1 and CMD its unit; the status and output still come back,
// and systemd-tmpfiles-setup (which Debian's "D /tmp" would make empty /tmp) leaves the
// writable share under /tmp, and the host folder behind it, alone.
TEST(VmRun, SystemdAsPid1RunsTheCommandAndKeepsTmp) {
  TempDir wd;
  ASSERT_TRUE(write_file(wd / "from-host", "host data\n"));
  Ran r = vm_run({"--systemd", "--", "sh", "-c",
                  "cat /proc/1/comm; systemctl start systemd-tmpfiles-setup.service && "
                  "cat from-host && echo guest > made-in-guest; exit 7"},
                 wd.path());
  EXPECT_EQ(r.status, 7) << show(r);
  EXPECT_EQ(r.out, "systemd\nhost data\n") << show(r);
  EXPECT_EQ(read_file(wd / "from-host").value_or("<missing>"), "host data\n");
  EXPECT_EQ(read_file(wd / "made-in-guest").value_or("<missing>"), "guest\n");
  std::cout << "[vm-run --systemd with tmpfiles-setup: " << r.seconds << " s]\n";
}

TEST(VmRun, ArgvAndEnvironmentArriveIntact) {
  std::string odd = "it's \"odd\" $HOME `x` \\ \n\t\x01\xff";
  Ran r = vm_run({"--", "sh", "-c", "printf '%s|' \"$@\"; printf '%s' \"$VNET_TEST_ODD\" >&2",
                  "sh", odd, "", "-n", "*"},
                 "/", {"VNET_TEST_ODD=" + odd});
  ASSERT_EQ(r.status, 0) << show(r);
  EXPECT_EQ(r.out, odd + "||-n|*|");
  EXPECT_EQ(r.err, odd);
}

TEST(VmRun, MissingProgramGivesTheShellsStatusNot125) {
  Ran r = vm_run({"--", "no-such-program-vnet-test"});
  EXPECT_EQ(r.status, 127) << show(r);
  EXPECT_NE(r.err.find("no-such-program-vnet-test"), std::string::npos) << show(r);
}

TEST(VmRun, HostRootIsReadOnlyAndTmpIsPrivate) {
  TempDir host_tmp;  // exists on the host's /tmp, so not inside the guest
  ASSERT_TRUE(write_file(host_tmp / "secret", "x"));
  Ran r = vm_run({"--", "sh", "-c",
                  "touch /etc/vnet-vm-run-test 2>/dev/null && echo etc-writable; "
                  "test -e " + host_tmp.path() + "/secret && echo tmp-shared; "
                  "echo t > /tmp/t && cat /tmp/t; uname -r"});
  ASSERT_EQ(r.status, 0) << show(r);
  EXPECT_EQ(r.out.find("etc-writable"), std::string::npos) << show(r);
  EXPECT_EQ(r.out.find("tmp-shared"), std::string::npos) << show(r);
  EXPECT_EQ(r.out.substr(0, 2), "t\n") << show(r);
  EXPECT_FALSE(exists("/etc/vnet-vm-run-test"));
}

TEST(VmRun, TimeoutKillsQemuAndExits125) {
  Ran r = vm_run({"--timeout", "3", "--", "sleep", "600"});
  EXPECT_EQ(r.status, 125) << show(r);
  EXPECT_NE(r.err.find("vnet vm-run: timed out after 3 s"), std::string::npos) << show(r);
  EXPECT_LT(r.seconds, 30);
}

// A unique TMPDIR names vm-run's scratch folder, so the test can see that no QEMU of
// this run survives.
TEST(VmRun, SigtermStopsQemu) {
  TempDir tmp;
  Ran r = vm_run({"--", "sleep", "600"}, "/", {"TMPDIR=" + tmp.path()}, 4);
  EXPECT_EQ(r.status, 125) << show(r);
  EXPECT_NE(r.err.find("interrupted by TERM"), std::string::npos) << show(r);
  EXPECT_LT(r.seconds, 20);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  auto procs = list_dir("/proc");
  ASSERT_TRUE(procs);
  for (const auto& p : *procs) {
    if (p.find_first_not_of("0123456789") != std::string::npos) continue;
    auto cmdline = read_file("/proc/" + p + "/cmdline");
    if (cmdline) {
      EXPECT_EQ(cmdline->find(tmp.path() + "/vnet-vm-"), std::string::npos) << p;
    }
  }
}

TEST(VmRun, OwnFailuresExit125WithAMessage) {
  Ran r = vm_run({"--kernel", "/nonexistent/kernel.deb", "--", "true"});
  EXPECT_EQ(r.status, 125) << show(r);
  EXPECT_EQ(r.err.rfind("vnet vm-run: ", 0), 0u) << show(r);
  EXPECT_NE(r.err.find("/nonexistent/kernel.deb"), std::string::npos) << show(r);
  Ran u = vm_run({"--memory", "lots", "--", "true"});
  EXPECT_EQ(u.status, 2) << show(u);
  Ran n = vm_run({});
  EXPECT_EQ(n.status, 2) << show(n);
}

}  // namespace
}  // namespace vnet::vmrun
