#include "guests/process.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include "base/unique_fd.h"
#include "guests/state.h"

namespace vnet::guests {

Result<pid_t> spawn_daemon(const std::vector<std::string>& argv, const std::string& log,
                           const std::string& netns) {
  UniqueFd ns;
  if (!netns.empty()) {
    ns = UniqueFd(::open(netns.c_str(), O_RDONLY | O_CLOEXEC));
    if (!ns) return fail_errno("cannot open network namespace " + netns);
  }
  UniqueFd out(::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!out) return fail_errno("cannot create " + log);
  UniqueFd devnull(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (!devnull) return fail_errno("cannot open /dev/null");
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid < 0) return fail_errno("fork");
  if (pid == 0) {
    ::setsid();
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);  // the caller may hold SIGINT & co.
    ::dup2(devnull.get(), 0);
    ::dup2(out.get(), 1);
    ::dup2(out.get(), 2);
    if (ns && ::setns(ns.get(), CLONE_NEWNET) != 0) {
      dprintf(2, "vnet: cannot enter network namespace %s: %s\n", netns.c_str(), strerror(errno));
      ::_exit(126);
    }
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  return pid;
}

bool wait_gone(pid_t pid, std::chrono::steady_clock::duration limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (true) {
    int st = 0;
    pid_t r = ::waitpid(pid, &st, WNOHANG);
    if (r == pid) return true;
    if (!process_alive(pid)) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

void kill_and_reap(pid_t pid) {
  ::kill(pid, SIGKILL);
  wait_gone(pid, std::chrono::seconds(5));
}

std::string tail_of(const std::string& path, size_t max_bytes) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return "";
  std::stringstream ss;
  ss << in.rdbuf();
  std::string t = ss.str();
  if (t.size() > max_bytes) t = t.substr(t.size() - max_bytes);
  while (!t.empty() && (t.back() == '\n' || t.back() == '\r')) t.pop_back();
  return t;
}

}  // namespace vnet::guests
