#include "scenario/switches.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "netlink/netns.h"
#include "switch/config.h"
#include "switch/daemon.h"

namespace vnet::scenario {

namespace {

// The child: enter the namespace, build the switch, report "ready" (or the error text)
// on `ready_fd`, serve until SIGTERM.
[[noreturn]] void serve(const topology::Switch& sw, const std::string& netns,
                        const std::string& dir, bool verbose, int ready_fd,
                        const std::string& keep_log) {
  if (keep_log.empty()) {
    prctl(PR_SET_PDEATHSIG, SIGTERM);
  } else {
    // Outlives the runner: its own session (a later Ctrl-C in that terminal is not
    // ours), nothing of the runner's terminal or pipes, its log in the run's folder.
    setsid();
    int in = open("/dev/null", O_RDONLY | O_CLOEXEC);
    int log = open(keep_log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (log < 0) log = open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (in >= 0) dup2(in, 0);
    if (log >= 0) dup2(log, 1), dup2(log, 2);
  }
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
  if (!verbose && keep_log.empty()) options.log = [](const std::string&) {};
  auto daemon = sw::Daemon::create(std::move(*config), std::move(options));
  if (!daemon) say(daemon.error().str()), _exit(1);
  say("ready");
  _exit((*daemon)->run() ? 0 : 1);
}

// Fields of /proc/PID/stat after "(comm)": [0] is the state, [19] the start time.
std::vector<std::string> stat_fields(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line) || line.rfind(')') == std::string::npos) return {};
  std::istringstream rest(line.substr(line.rfind(')') + 1));
  std::vector<std::string> f;
  for (std::string w; rest >> w;) f.push_back(w);
  return f;
}

// Gone or a zombie (a kept switch's parent is whoever adopted it, maybe no reaper).
bool exited(pid_t pid) {
  auto f = stat_fields(pid);
  return f.empty() || f[0] == "Z";
}

std::string start_time(pid_t pid) {
  auto f = stat_fields(pid);
  return f.size() > 19 ? f[19] : "";
}

// SIGTERM, then SIGKILL after 2 s; reaps it when it is our child.
void stop_pid(pid_t pid) {
  kill(pid, SIGTERM);
  for (int i = 0; i < 200; ++i) {
    if (waitpid(pid, nullptr, WNOHANG) == pid || exited(pid)) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, WNOHANG);
}

}  // namespace

Result<SwitchProcesses> SwitchProcesses::start(const topology::Topology& topo,
                                               const std::string& netns,
                                               const std::string& socket_base,
                                               bool verbose, bool keep) {
  SwitchProcesses procs;
  for (const topology::Switch& sw : topo.switches) {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) < 0) return fail_errno("pipe");
    pid_t pid = fork();
    if (pid < 0) return fail_errno("fork");
    if (pid == 0) {
      close(fds[0]);
      serve(sw, netns, socket_base + "/switch-" + sw.name, verbose, fds[1],
            keep ? socket_base + "/switch-" + sw.name + ".log" : "");
    }
    // The start time tells this process from a later one that reuses its pid.
    if (keep)
      std::ofstream(socket_base + "/switch-" + sw.name + ".pid") << pid << " " << start_time(pid) << "\n";
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
  for (pid_t pid : pids_) stop_pid(pid);
  pids_.clear();
}

void SwitchProcesses::stop_recorded(const std::string& record_dir) {
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(record_dir, ec)) {
    std::string name = e.path().filename();
    if (name.rfind("switch-", 0) != 0 || e.path().extension() != ".pid") continue;
    pid_t pid = 0;
    std::string started;
    std::ifstream(e.path()) >> pid >> started;
    // Only that very process: the pid may have been reused since the lab was kept.
    if (pid > 0 && !started.empty() && start_time(pid) == started) stop_pid(pid);
  }
}

}  // namespace vnet::scenario
