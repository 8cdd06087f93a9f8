#include "guests/state.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace vnet::guests {
namespace {

std::string env_or(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::string(v) : fallback;
}

Status mkdir_one(const std::string& p, mode_t mode) {
  if (::mkdir(p.c_str(), mode) == 0 || errno == EEXIST) return {};
  return fail_errno("cannot create " + p);
}

Status mkdir_p(const std::string& path, mode_t mode) {
  for (size_t i = 1; i <= path.size(); ++i) {
    if (i == path.size() || path[i] == '/') {
      if (auto s = mkdir_one(path.substr(0, i), mode); !s) return s;
    }
  }
  return {};
}

Status remove_file(const std::string& p) {
  if (::unlink(p.c_str()) == 0 || errno == ENOENT) return {};
  return fail_errno("cannot remove " + p);
}

bool exists(const std::string& p) {
  struct stat st{};
  return ::lstat(p.c_str(), &st) == 0;
}

}  // namespace

std::string default_state_root() {
  std::string over = env_or("VNET_GUEST_STATE", "");
  if (!over.empty()) return over;
  if (::geteuid() == 0) return "/var/lib/vnet/guests";
  std::string home = env_or("HOME", "/");
  return env_or("XDG_STATE_HOME", home + "/.local/state") + "/vnet/guests";
}

Status StateDir::ensure() const {
  if (auto s = mkdir_p(root_, 0755); !s) return s;
  if (auto s = mkdir_one(path(), 0700); !s) return s;
  // Already there from an earlier run, perhaps with a wider mode: tighten it.
  if (::chmod(path().c_str(), 0700) != 0) return fail_errno("cannot chmod " + path());
  return {};
}

const char* to_string(RunState s) {
  switch (s) {
    case RunState::kStopped: return "stopped";
    case RunState::kRunning: return "running";
    case RunState::kStale: return "stale";
  }
  return "?";
}

bool process_alive(pid_t pid) {
  if (pid <= 0) return false;
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(in, line)) return false;
  // "PID (comm) S ...": comm may hold spaces and parentheses; the state follows the
  // last ')'.
  size_t close = line.rfind(')');
  if (close == std::string::npos || close + 2 >= line.size()) return false;
  char state = line[close + 2];
  return state != 'Z' && state != 'X';
}

bool process_matches(pid_t pid, const std::string& identity) {
  if (!process_alive(pid)) return false;
  std::ifstream in("/proc/" + std::to_string(pid) + "/cmdline", std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string cmdline = ss.str();
  if (cmdline.empty()) return false;
  // Arguments are NUL-separated; the identity (a path) never holds a NUL, so a plain
  // search finds it only inside one argument.
  return cmdline.find(identity) != std::string::npos;
}

Probe probe(const StateDir& dir, const std::string& identity) {
  Probe p;
  std::ifstream in(dir.pid_file());
  if (!in) {
    // No pid file, but sockets: a start that died before writing it, or files a
    // crashed run's cleanup missed.
    if (exists(dir.qmp_socket()) || exists(dir.console_socket())) {
      p.state = RunState::kStale;
      p.why = "sockets without a pid file";
    }
    return p;
  }
  long pid = 0;
  if (!(in >> pid) || pid <= 0) {
    p.state = RunState::kStale;
    p.why = "unreadable pid file";
    return p;
  }
  p.pid = pid_t(pid);
  if (!process_alive(p.pid)) {
    p.state = RunState::kStale;
    p.why = "process " + std::to_string(pid) + " is gone";
  } else if (!process_matches(p.pid, identity)) {
    p.state = RunState::kStale;
    p.why = "pid " + std::to_string(pid) + " now belongs to another program";
  } else {
    p.state = RunState::kRunning;
  }
  return p;
}

Status clean_run_files(const StateDir& dir) {
  for (const std::string& f : {dir.pid_file(), dir.run_file(), dir.qmp_socket(),
                               dir.console_socket(), dir.private_key(), dir.public_key()})
    if (auto s = remove_file(f); !s) return s;
  return {};
}

Status rotate_console_log(const StateDir& dir) {
  std::string log = dir.console_log();
  if (!exists(log)) return {};
  if (::rename(log.c_str(), (log + ".1").c_str()) != 0)
    return fail_errno("cannot rotate " + log);
  return {};
}

Status write_pid_file(const StateDir& dir, pid_t pid) {
  // Written whole to a temporary name and renamed, so a reader never sees half a pid.
  std::string tmp = dir.pid_file() + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return fail_errno("cannot create " + tmp);
  std::string text = std::to_string(pid) + "\n";
  bool ok = ::write(fd, text.data(), text.size()) == ssize_t(text.size());
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), dir.pid_file().c_str()) != 0)
    return fail_errno("cannot write " + dir.pid_file());
  return {};
}

Result<std::optional<std::string>> settle_not_running(const StateDir& dir, const Probe& p) {
  if (p.state == RunState::kStopped) return std::optional<std::string>("not running");
  if (p.state == RunState::kRunning) return std::optional<std::string>();
  if (auto s = clean_run_files(dir); !s) return tl::unexpected(s.error());
  return std::optional<std::string>("stale state removed (" + p.why + ")");
}

}  // namespace vnet::guests
