// Guest start benchmark (issue 15): the wall time from "start the guest" to QMP saying
// "running", for
//   vnet:   `vnet guest start NAME -c FILE --accel tcg` (the process, until it exits: it
//           returns once QMP answers and query-status says running);
//   script: the issue's peer, a plain bash script (written here into the temp folder)
//           with the SAME QEMU argv written into it: QEMU in the background (setsid,
//           as vnet and the plain peer start it), then
//           `socat` (Debian package socat) asked every 10 ms, once the QMP socket exists,
//           for qmp_capabilities + query-status until it says "running" — timed from
//           the script's exec to its exit, as vnet's is;
//   plain:  a stricter peer than the issue names: a fork/exec of qemu-system-x86_64 with
//           the same argv from this (already running) process, connecting to its QMP
//           socket every 10 ms from C until qmp_capabilities + query-status say
//           "running" — a launcher with no process start and no QMP client to spawn.
// The argv is read from the guest's run.json after a vnet start. The guest: one
// user-mode NIC, the Debian kernel vm-run cached (PVH vmlinux when there is one) and a
// busybox initramfs that only sleeps. TCG, so no root and no KVM. The order of the three
// sides rotates from run to run; medians of RUNS; ratios vnet/script and vnet/plain.
// One start of each side beforehand warms the caches (and yields the argv).
//
//   build/bench/guests/guest_start build/vnet [RUNS] [--keep-files]
#include <sys/socket.h>
#include <sys/un.h>

#include <cstring>
#include <filesystem>
#include <thread>

#include <nlohmann/json.hpp>

#include "bench/guests/common.h"
#include "vmrun/initramfs.h"
#include "vmrun/kernel.h"
#include "vmrun/sys.h"

namespace {

namespace fs = std::filesystem;
using bench::Clock;
using bench::seconds;

[[noreturn]] void die(const std::string& msg) { bench::die("guest_start", msg); }

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

// The issue's peer, as a script writer would write it: the flags inline, QEMU in the
// background, socat as the QMP client (what Debian offers for a unix socket from a
// shell; bash's /dev/tcp does not do unix sockets). Bounded: about 30 s of polls.
std::string start_script(const std::vector<std::string>& qemu_argv, const std::string& qmp,
                         const std::string& log, const std::string& pidfile) {
  // setsid, as vnet's spawn and the plain peer do: the same scheduling (autogroup)
  // for every side.
  std::string q = "setsid";
  for (const auto& a : qemu_argv) q += " \\\n  " + bench::sh_quote(a);
  return "#!/bin/bash\n"
         "# Start the guest and wait until QMP says it is running.\n"
         "qmp=" + bench::sh_quote(qmp) + "\n" +
         q + " \\\n  </dev/null >" + bench::sh_quote(log) + " 2>&1 &\n"
         "qemu=$!\n"
         "echo $qemu >" + bench::sh_quote(pidfile) + "\n"
         "for i in $(seq 3000); do\n"
         "  if [ -S \"$qmp\" ]; then\n"
         "    out=$(printf '%s\\n' '{\"execute\":\"qmp_capabilities\"}' '{\"execute\":\"query-status\"}' |\n"
         "          socat - UNIX-CONNECT:\"$qmp\" 2>/dev/null)\n"
         "    case $out in *'\"status\": \"running\"'*) exit 0 ;; esac\n"
         "  fi\n"
         "  kill -0 $qemu 2>/dev/null || { echo \"qemu exited\" >&2; exit 1; }\n"
         "  sleep 0.01\n"
         "done\n"
         "echo 'not running after 3000 polls' >&2\n"
         "exit 1\n";
}

struct Bench {
  std::string vnet, dir, file, state_root, guest = "bg";
  std::vector<std::string> env;
  std::vector<std::string> qemu_argv;

  std::string state(const char* f) const { return state_root + "/" + guest + "/" + f; }

  int vnet_guest(const std::string& action, std::vector<std::string> more = {}) {
    std::vector<std::string> argv = {vnet, "guest", action, guest, "-c", file};
    argv.insert(argv.end(), more.begin(), more.end());
    return bench::run(argv, env, dir + "/vnet.log");
  }

  // QEMU leaves its server sockets behind; vnet's next start would call them stale.
  void unlink_sockets() {
    for (const char* f : {"qmp.sock", "console.sock"}) ::unlink(state(f).c_str());
  }

  double vnet_once() {
    auto t0 = Clock::now();
    int rc = vnet_guest("start", {"--accel", "tcg"});
    auto t1 = Clock::now();
    if (rc != 0) die("vnet guest start failed (" + dir + "/vnet.log)");
    if (vnet_guest("stop", {"--timeout", "0"}) != 0) die("vnet guest stop failed");
    return seconds(t0, t1);
  }

  double script_once() {
    std::string pidfile = dir + "/script-qemu.pid";
    ::unlink(pidfile.c_str());
    auto t0 = Clock::now();
    int rc = bench::run({"/bin/bash", dir + "/start.sh"}, {}, dir + "/script.log");
    auto t1 = Clock::now();
    pid_t pid = 0;
    std::ifstream(pidfile) >> pid;
    // QEMU is not our child (bash started it): quit over QMP, then by pid, bounded.
    {
      Qmp q;
      if (q.connect(state("qmp.sock"))) {
        q.reply();
        q.call("qmp_capabilities");
        q.call("quit");
      }
    }
    for (int i = 0; i < 300 && pid > 0 && !bench::gone(pid); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    bench::stop_pid(pid);
    unlink_sockets();
    if (rc != 0) die("the start script failed (" + dir + "/script.log)");
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
        bench::stop_pid(pid);
        die("plain: query-status said " + st_reply.dump());
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    auto t1 = Clock::now();
    q.call("quit");
    bench::stop_pid(pid);
    unlink_sockets();
    return seconds(t0, t1);
  }
};

void print_side(const char* label, const std::vector<double>& t) {
  std::printf("  %-44s %.3f s (min %.3f, max %.3f)\n", label, bench::median(t), bench::min_of(t),
              bench::max_of(t));
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  bool keep_files = std::erase(args, "--keep-files") > 0;  // to read the script afterwards
  if (args.empty()) die("usage: guest_start VNET [RUNS] [--keep-files]");
  Bench b;
  b.vnet = fs::absolute(args[0]).string();
  int runs = args.size() > 1 ? std::atoi(args[1].c_str()) : 9;
  if (runs < 1 || runs > 50) die("RUNS must be 1..50");
  if (vnet::vmrun::find_program("qemu-system-x86_64").empty())
    die("qemu-system-x86_64 is not installed (package qemu-system-x86)");
  if (vnet::vmrun::find_program("socat").empty())
    die("socat is not installed (the script peer's QMP client: apt-get install socat)");
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
  std::ofstream(b.dir + "/start.sh")
      << start_script(b.qemu_argv, b.state("qmp.sock"), b.dir + "/script-qemu.log",
                      b.dir + "/script-qemu.pid");
  b.plain_once();  // the peers' warm-up
  b.script_once();

  std::string load_before = bench::loadavg();
  std::vector<double> tv, ts, tp;
  for (int i = 0; i < runs; ++i) {
    // Rotate who goes first, so drift in the machine's load hits every side alike.
    for (int side = 0; side < 3; ++side) {
      switch ((i + side) % 3) {
        case 0: tv.push_back(b.vnet_once()); break;
        case 1: ts.push_back(b.script_once()); break;
        case 2: tp.push_back(b.plain_once()); break;
      }
    }
  }
  double mv = bench::median(tv), ms = bench::median(ts), mp = bench::median(tp);
  std::printf("guest start to QMP running: %d runs each, medians; %u cores, load %s before, "
              "%s after\n",
              runs, std::thread::hardware_concurrency(), load_before.c_str(),
              bench::loadavg().c_str());
  print_side("vnet guest start", tv);
  print_side("script: bash, QEMU &, socat QMP poll / 10 ms", ts);
  print_side("plain: fork/exec + C QMP poll / 10 ms", tp);
  std::printf("ratio vnet/script %.2f (the issue's peer; target <= 1.10)\n", mv / ms);
  std::printf("ratio vnet/plain  %.2f (stricter peer: no process start, no QMP client to "
              "spawn)\n",
              mv / mp);
  if (keep_files) std::printf("files kept in %s\n", b.dir.c_str());
  else vnet::vmrun::remove_tree(b.dir);
  return 0;
}
