// Guest start benchmark (issue 15): the wall time from "start the guest" to QMP saying
// "running", for
//   vnet:  `vnet guest start NAME -c FILE --accel tcg` (the process, until it exits: it
//          returns once QMP answers and query-status says running);
//   plain: a fork/exec of qemu-system-x86_64 with the SAME argv (read from the guest's
//          run.json after a vnet start), then connecting to its QMP socket every 10 ms
//          until qmp_capabilities + query-status say "running" — what a hand-written
//          launcher does.
// The guest: one user-mode NIC, the Debian kernel vm-run cached (PVH vmlinux when there
// is one) and a busybox initramfs that only sleeps. TCG, so no root and no KVM. Sides
// alternate (vnet first in odd runs, plain first in even ones); medians of RUNS, ratio
// vnet/plain. One vnet start + stop beforehand warms the caches and yields the argv.
//
//   build/bench/guests/guest_start build/vnet [RUNS]
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "vmrun/initramfs.h"
#include "vmrun/kernel.h"
#include "vmrun/sys.h"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

[[noreturn]] void die(const std::string& msg) {
  std::cerr << "guest_start: " << msg << "\n";
  std::exit(1);
}

double seconds(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[(v.size() - 1) / 2];
}

// Runs argv with extra environment, output to `log`; its exit status.
int run(const std::vector<std::string>& argv, const std::vector<std::string>& env,
        const std::string& log) {
  pid_t pid = ::fork();
  if (pid < 0) die("fork failed");
  if (pid == 0) {
    int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
    }
    for (const auto& e : env) ::putenv(const_cast<char*>(e.c_str()));
    std::vector<char*> a;
    for (const auto& s : argv) a.push_back(const_cast<char*>(s.c_str()));
    a.push_back(nullptr);
    ::execv(a[0], a.data());
    ::_exit(127);
  }
  int st = 0;
  while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

// A minimal QMP client on a blocking socket: one JSON object per line.
class Qmp {
 public:
  ~Qmp() {
    if (fd_ >= 0) ::close(fd_);
  }
  bool connect(const std::string& path) {
    fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::strncpy(a.sun_path, path.c_str(), sizeof a.sun_path - 1);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) return true;
    ::close(fd_);
    fd_ = -1;
    return false;
  }
  // The next line that is not an event.
  nlohmann::json reply() {
    while (true) {
      size_t nl;
      while ((nl = buf_.find('\n')) == std::string::npos) {
        char b[4096];
        ssize_t n = ::read(fd_, b, sizeof b);
        if (n <= 0) return nullptr;
        buf_.append(b, size_t(n));
      }
      auto j = nlohmann::json::parse(buf_.substr(0, nl), nullptr, false);
      buf_.erase(0, nl + 1);
      if (j.is_object() && !j.contains("event")) return j;
    }
  }
  nlohmann::json call(const std::string& cmd) {
    std::string m = R"({"execute":")" + cmd + "\"}\n";
    if (::write(fd_, m.data(), m.size()) != ssize_t(m.size())) return nullptr;
    return reply();
  }

 private:
  int fd_ = -1;
  std::string buf_;
};

struct Bench {
  std::string vnet, dir, file, state_root, guest = "bg";
  std::vector<std::string> env;
  std::vector<std::string> qemu_argv;

  std::string state(const char* f) const { return state_root + "/" + guest + "/" + f; }

  int vnet_guest(const std::string& action, std::vector<std::string> more = {}) {
    std::vector<std::string> argv = {vnet, "guest", action, guest, "-c", file};
    argv.insert(argv.end(), more.begin(), more.end());
    return run(argv, env, dir + "/vnet.log");
  }

  double vnet_once() {
    auto t0 = Clock::now();
    int rc = vnet_guest("start", {"--accel", "tcg"});
    auto t1 = Clock::now();
    if (rc != 0) die("vnet guest start failed (" + dir + "/vnet.log)");
    if (vnet_guest("stop", {"--timeout", "0"}) != 0) die("vnet guest stop failed");
    return seconds(t0, t1);
  }

  double plain_once() {
    std::string qmp_path = state("qmp.sock");
    auto t0 = Clock::now();
    pid_t pid = ::fork();
    if (pid < 0) die("fork failed");
    if (pid == 0) {
      ::setsid();
      int in = ::open("/dev/null", O_RDONLY);
      int out = ::open((dir + "/plain-qemu.log").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      ::dup2(in, 0);
      ::dup2(out, 1);
      ::dup2(out, 2);
      std::vector<char*> a;
      for (const auto& s : qemu_argv) a.push_back(const_cast<char*>(s.c_str()));
      a.push_back(nullptr);
      ::execv(a[0], a.data());
      ::_exit(127);
    }
    Qmp q;
    while (true) {
      int st = 0;
      if (::waitpid(pid, &st, WNOHANG) == pid) die("plain QEMU exited (" + dir + "/plain-qemu.log)");
      if (q.connect(qmp_path)) {
        q.reply();  // the greeting
        q.call("qmp_capabilities");
        auto st_reply = q.call("query-status");
        if (st_reply.is_object() && st_reply["return"].value("status", "") == "running") break;
        die("plain: query-status said " + st_reply.dump());
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    auto t1 = Clock::now();
    q.call("quit");
    int st = 0;
    ::waitpid(pid, &st, 0);
    // QEMU leaves its server sockets behind; vnet's next start would call them stale.
    for (const char* f : {"qmp.sock", "console.sock"}) ::unlink(state(f).c_str());
    return seconds(t0, t1);
  }
};

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) die("usage: guest_start VNET [RUNS]");
  Bench b;
  b.vnet = fs::absolute(argv[1]).string();
  int runs = argc > 2 ? std::atoi(argv[2]) : 9;
  if (runs < 1) die("RUNS must be at least 1");
  if (vnet::vmrun::find_program("qemu-system-x86_64").empty())
    die("qemu-system-x86_64 is not installed (package qemu-system-x86)");
  auto k = vnet::vmrun::cached_kernel();
  if (!k) die(k.error().str());

  char tmpl[] = "/tmp/vnet-bench-guests-XXXXXX";
  if (!::mkdtemp(tmpl)) die("mkdtemp failed");
  b.dir = tmpl;
  b.file = b.dir + "/host.toml";
  b.state_root = b.dir + "/state";
  b.env = {"VNET_GUEST_STATE=" + b.state_root};

  auto img = vnet::vmrun::build_initramfs(
      *k, {"#!/bin/busybox sh\nwhile :; do /bin/busybox sleep 1000; done\n", {}, {}, ""});
  if (!img) die(img.error().str());
  if (!vnet::vmrun::write_file(b.dir + "/initrd.cpio", *img)) die("cannot write the initrd");
  std::ofstream(b.file) << "[host]\nname = \"benchguests\"\n\n"
                        << "[guests.bg]\nkind = \"qemu\"\nmemory = \"256M\"\n"
                        << "kernel = \"" << k->boot_image() << "\"\n"
                        << "initrd = \"" << b.dir << "/initrd.cpio\"\n"
                        << "append = \"console=ttyS0 quiet panic=-1\"\n"
                        << "[[guests.bg.nics]]\nuser = true\n";

  // Warm-up (caches, page cache), and the argv vnet ran: run.json goes at stop.
  if (b.vnet_guest("start", {"--accel", "tcg"}) != 0)
    die("vnet guest start failed (" + b.dir + "/vnet.log)");
  auto text = vnet::vmrun::read_file(b.state("run.json"));
  if (!text) die("no run.json");
  auto j = nlohmann::json::parse(*text, nullptr, false);
  if (!j.is_object() || !j["argv"].is_array()) die("run.json has no argv");
  for (const auto& a : j["argv"]) b.qemu_argv.push_back(a.get<std::string>());
  if (b.vnet_guest("stop", {"--timeout", "0"}) != 0) die("vnet guest stop failed");
  b.plain_once();  // the plain side's warm-up

  std::vector<double> tv, tp;
  for (int i = 0; i < runs; ++i) {
    if (i % 2 == 0) {
      tv.push_back(b.vnet_once());
      tp.push_back(b.plain_once());
    } else {
      tp.push_back(b.plain_once());
      tv.push_back(b.vnet_once());
    }
  }
  double mv = median(tv), mp = median(tp);
  std::printf("guest start to QMP running: %d runs each, medians; %u cores, load %s\n", runs,
              std::thread::hardware_concurrency(),
              vnet::vmrun::read_file("/proc/loadavg").value_or("?").substr(0, 14).c_str());
  std::printf("vnet guest start %.3f s (min %.3f, max %.3f)   plain fork/exec + QMP poll %.3f s "
              "(min %.3f, max %.3f)   ratio %.2f (target <= 1.10)\n",
              mv, *std::min_element(tv.begin(), tv.end()), *std::max_element(tv.begin(), tv.end()),
              mp, *std::min_element(tp.begin(), tp.end()), *std::max_element(tp.begin(), tp.end()),
              mv / mp);
  vnet::vmrun::remove_tree(b.dir);
  return 0;
}
