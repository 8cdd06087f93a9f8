#include "scenario/switches.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "netlink/netns.h"
#include "switch/config.h"
#include "switch/daemon.h"

namespace vnet::scenario {

namespace {

// The child: enter the namespace, build the switch, report "ready" (or the error text)
// on `ready_fd`, serve until SIGTERM.
[[noreturn]] void serve(const topology::Switch& sw, const std::string& netns,
                        const std::string& dir, bool verbose, int ready_fd) {
  prctl(PR_SET_PDEATHSIG, SIGTERM);
  auto say = [&](const std::string& msg) {
    if (write(ready_fd, msg.data(), msg.size()) < 0) _exit(1);
    close(ready_fd);
  };
  auto ns = netlink::open_netns(netns);
  if (!ns) say(ns.error().str()), _exit(1);
  auto guard = netlink::NetnsGuard::enter(ns->get());
  if (!guard) say(guard.error().str()), _exit(1);
  auto config = sw::make_config(sw);
  if (!config) say(config.error().str()), _exit(1);
  config->dir = dir;
  sw::DaemonOptions options;
  if (!verbose) options.log = [](const std::string&) {};
  auto daemon = sw::Daemon::create(std::move(*config), std::move(options));
  if (!daemon) say(daemon.error().str()), _exit(1);
  say("ready");
  _exit((*daemon)->run() ? 0 : 1);
}

}  // namespace

Result<SwitchProcesses> SwitchProcesses::start(const topology::Topology& topo,
                                               const std::string& netns,
                                               const std::string& socket_base,
                                               bool verbose) {
  SwitchProcesses procs;
  for (const topology::Switch& sw : topo.switches) {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) < 0) return fail_errno("pipe");
    pid_t pid = fork();
    if (pid < 0) return fail_errno("fork");
    if (pid == 0) {
      close(fds[0]);
      serve(sw, netns, socket_base + "/switch-" + sw.name, verbose, fds[1]);
    }
    close(fds[1]);
    procs.pids_.push_back(pid);
    std::string answer;
    char buf[512];
    ssize_t n;
    while ((n = read(fds[0], buf, sizeof buf)) > 0) answer.append(buf, n);
    close(fds[0]);
    if (answer != "ready")
      return fail("switch " + sw.name + ": " + (answer.empty() ? "exited before it was ready" : answer));
  }
  return procs;
}

void SwitchProcesses::stop() {
  for (pid_t pid : pids_) kill(pid, SIGTERM);
  for (pid_t pid : pids_) {
    for (int i = 0; i < 200; ++i) {  // 2 s at most, then it is killed
      if (waitpid(pid, nullptr, WNOHANG) == pid) {
        pid = 0;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (pid != 0) {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
    }
  }
  pids_.clear();
}

}  // namespace vnet::scenario
