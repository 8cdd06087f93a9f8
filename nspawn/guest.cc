#include "nspawn/guest.h"

#include <dirent.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "guests/links.h"
#include "guests/process.h"
#include "netlink/netns.h"
#include "nspawn/console.h"
#include "vmrun/sys.h"

namespace vnet::nspawn {
namespace {

using Clock = std::chrono::steady_clock;
using guests::RunState;
using guests::StateDir;
using topology::Guest;

// systemd's machine names are host names: keep the guest's name where it is one.
bool hostname_ok(const std::string& s) {
  if (s.empty() || s.front() == '-' || s.back() == '-') return false;
  for (char c : s)
    if (!(isalnum(static_cast<unsigned char>(c)) || c == '-')) return false;
  return true;
}

// The parent pid and whether `pid` lives in another pid namespace than ours.
bool child_in_container(pid_t pid, pid_t parent) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(in, line)) return false;
  size_t close = line.rfind(')');
  if (close == std::string::npos) return false;
  char state = 0;
  long ppid = 0;
  if (sscanf(line.c_str() + close + 1, " %c %ld", &state, &ppid) != 2) return false;
  if (ppid != parent || state == 'Z') return false;
  struct stat mine{}, theirs{};
  return ::stat("/proc/self/ns/pid", &mine) == 0 &&
         ::stat(("/proc/" + std::to_string(pid) + "/ns/pid").c_str(), &theirs) == 0 &&
         mine.st_ino != theirs.st_ino;
}

// The container's PID 1 as the host sees it: the child of systemd-nspawn that lives in a
// pid namespace of its own. 0 while there is none (starting, or gone).
pid_t find_leader(pid_t nspawn) {
  DIR* dir = ::opendir("/proc");
  if (!dir) return 0;
  pid_t found = 0;
  while (dirent* e = ::readdir(dir)) {
    char* end = nullptr;
    long pid = strtol(e->d_name, &end, 10);
    if (*end || pid <= 0) continue;
    if (child_in_container(pid_t(pid), nspawn)) {
      found = pid_t(pid);
      break;
    }
  }
  ::closedir(dir);
  return found;
}

bool in_netns(pid_t pid, const std::string& netns_path) {
  struct stat want{}, have{};
  return ::stat(netns_path.c_str(), &want) == 0 &&
         ::stat(("/proc/" + std::to_string(pid) + "/ns/net").c_str(), &have) == 0 &&
         want.st_dev == have.st_dev && want.st_ino == have.st_ino;
}

// Matched against /proc/PID/cmdline with the NUL that ends the argument, so the state
// folder /x/web never matches a guest whose folder is /x/web2.
std::string identity_of(const StateDir& d) {
  return std::string("VNET_GUEST_STATE=") + d.path() + '\0';
}

}  // namespace

bool systemd_is_pid1() { return ::access("/run/systemd/system", F_OK) == 0; }

std::vector<std::string> build_argv(const Guest& g, const LaunchContext& c) {
  std::vector<std::string> a = {c.nspawn, "--quiet", "--directory=" + g.directory};
  if (hostname_ok(g.name)) a.push_back("--machine=" + g.name);
  if (!c.systemd_pid1) {
    // No systemd to register with or to make a scope unit under (facts.md).
    a.push_back("--register=no");
    a.push_back("--keep-unit");
  }
  if (c.netns_path.empty()) a.push_back("--private-network");
  else a.push_back("--network-namespace-path=" + c.netns_path);
  for (const Guest::Bind& b : g.binds)
    a.push_back(std::string(b.read_only ? "--bind-ro=" : "--bind=") + b.source + ":" + b.target);
  a.push_back("--setenv=VNET_GUEST_STATE=" + c.identity);
  // A terminal of the container's own, relayed to console.log and console.sock
  // (console.h): `vnet guest console NAME` attaches to it.
  a.push_back("--console=interactive");
  if (g.boot) {
    // nspawn's own halt on SIGTERM: SIGRTMIN+3 to the init (its default with --boot).
    a.push_back("--boot");
  } else {
    // Without --kill-signal nspawn answers SIGTERM with SIGKILL to the command.
    a.push_back("--kill-signal=SIGTERM");
    a.push_back("--");
    a.insert(a.end(), g.command.begin(), g.command.end());
  }
  return a;
}

size_t kill_recorded(const std::string& state_root) {
  size_t n = 0;
  DIR* dir = ::opendir(state_root.c_str());
  if (!dir) return 0;
  while (dirent* e = ::readdir(dir)) {
    if (e->d_name[0] == '.') continue;
    StateDir d(state_root, e->d_name);
    guests::Probe pr = guests::probe(d, identity_of(d));
    if (pr.state != RunState::kRunning) continue;
    if (pid_t leader = find_leader(pr.pid)) ::kill(leader, SIGKILL);
    guests::kill_and_reap(pr.pid);
    ++n;
  }
  ::closedir(dir);
  return n;
}

NspawnBackend::NspawnBackend(guests::Options opts) : opts_(std::move(opts)) {
  if (opts_.state_root.empty()) opts_.state_root = guests::default_state_root();
}

StateDir NspawnBackend::state_dir(const Guest& g) const { return StateDir(opts_.state_root, g.name); }

guests::Probe NspawnBackend::probe(const Guest& g) const {
  StateDir d = state_dir(g);
  return guests::probe(d, identity_of(d));
}

std::string NspawnBackend::netns_path(const Guest& g) const {
  return g.netns.empty() ? "" : netlink::netns_path(opts_.netns_prefix + g.netns);
}

Result<guests::StartResult> NspawnBackend::start(const topology::Topology& topo, const Guest& g) {
  guests::StartResult res;
  StateDir d = state_dir(g);
  if (auto s = d.ensure(); !s) return tl::unexpected(s.error().context("state folder"));
  bool links = guests::needs_links(g);
  std::string drop_what = "removing the links of guest '" + g.name + "'";

  guests::Probe pr = probe(g);
  if (pr.state == RunState::kRunning) {
    res.already_running = true;
    res.pid = pr.pid;
    return res;
  }
  if (pr.state == RunState::kStale) {
    // The container exited (or a start died): its links go too, and come back fresh
    // below, whatever the container did to its side meanwhile.
    if (auto s = guests::clean_run_files(d); !s) return tl::unexpected(s.error());
    if (links)
      if (auto s = guests::apply_links(guests::without_guest_links(topo, g), opts_, drop_what); !s)
        return tl::unexpected(s.error());
    res.cleaned_stale = pr.why + "; its links were removed";
  }

  LaunchContext ctx;
  ctx.nspawn = vmrun::find_program("systemd-nspawn");
  if (ctx.nspawn.empty())
    return fail("systemd-nspawn not found (install the Debian package systemd-container)",
                ENOENT, ExitCode::kEnvironment);
  struct stat st{};
  if (::stat(g.directory.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    return fail("directory '" + g.directory + "' of guest '" + g.name + "' is not a folder",
                errno, ExitCode::kEnvironment);
  if (::stat((g.directory + "/usr").c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    return fail("directory '" + g.directory + "' has no usr/ folder, and systemd-nspawn "
                "refuses a tree without one (an empty usr/ will do)",
                0, ExitCode::kEnvironment);
  ctx.netns_path = netns_path(g);
  ctx.identity = d.path();
  ctx.systemd_pid1 = systemd_is_pid1();

  if (links)
    if (auto s = guests::apply_links(topo, opts_, "links of guest '" + g.name + "'"); !s)
      return tl::unexpected(s.error());
  auto drop_links = [&] {
    if (links) (void)guests::apply_links(guests::without_guest_links(topo, g), opts_, drop_what);
  };

  std::vector<std::string> argv = build_argv(g, ctx);
  if (auto s = guests::rotate_console_log(d); !s) {
    drop_links();
    return tl::unexpected(s.error());
  }
  auto pid = spawn_with_console(argv, d);
  if (!pid) {
    drop_links();
    return tl::unexpected(pid.error());
  }
  auto abandon = [&](Error e) -> Result<guests::StartResult> {
    if (pid_t leader = find_leader(*pid)) ::kill(leader, SIGKILL);
    guests::kill_and_reap(*pid);
    (void)guests::clean_run_files(d);
    drop_links();
    std::string log = guests::tail_of(d.console_log());
    if (!log.empty()) e.what += "\nconsole.log:\n" + log;
    return tl::unexpected(e);
  };
  // The pid file first: if we die from here on, the next start finds and cleans it.
  if (auto s = guests::write_pid_file(d, *pid); !s) return abandon(s.error());
  nlohmann::json run = {{"pid", *pid}, {"netns", ctx.netns_path}, {"argv", argv}};
  if (auto s = vmrun::write_file(d.run_file(), run.dump(2) + "\n"); !s) return abandon(s.error());

  // Ready when the container's PID 1 exists inside the guest's namespace.
  auto deadline = Clock::now() + opts_.ready_timeout;
  while (true) {
    int wst = 0;
    if (::waitpid(*pid, &wst, WNOHANG) == *pid) {
      (void)guests::clean_run_files(d);
      drop_links();
      std::string log = guests::tail_of(d.console_log());
      return fail("systemd-nspawn exited at start (status " +
                  std::to_string(WIFEXITED(wst) ? WEXITSTATUS(wst) : 128 + WTERMSIG(wst)) + ")" +
                  (log.empty() ? "" : "; console.log:\n" + log));
    }
    pid_t leader = find_leader(*pid);
    if (leader && (ctx.netns_path.empty() || in_netns(leader, ctx.netns_path))) break;
    if (Clock::now() >= deadline)
      return abandon(Error{ETIMEDOUT, "the container did not start in time", {}, {},
                           ExitCode::kFailed});
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  res.pid = *pid;
  return res;
}

Result<guests::StopResult> NspawnBackend::stop(const topology::Topology& topo, const Guest& g) {
  guests::StopResult res;
  StateDir d = state_dir(g);
  auto drop_links = [&]() -> Result<guests::StopResult> {
    if (guests::needs_links(g))
      if (auto s = guests::apply_links(guests::without_guest_links(topo, g), opts_,
                               "removing the links of guest '" + g.name + "'");
          !s)
        return tl::unexpected(s.error());
    return res;
  };
  guests::Probe pr = probe(g);
  auto settled = guests::settle_not_running(d, pr);
  if (!settled) return tl::unexpected(settled.error());
  if (*settled) {
    res.how = **settled;
    return drop_links();
  }
  res.was_running = true;
  pid_t pid = pr.pid;
  ::kill(pid, SIGTERM);
  if (guests::wait_gone(pid, opts_.stop_timeout)) {
    res.shutdown_event = true;
    res.how = g.boot ? "halted (SIGTERM: nspawn sent SIGRTMIN+3 to the container's init)"
                     : "stopped (SIGTERM: nspawn passed it to the container's command)";
  } else {
    // PID 1 first: its death ends the container's pid namespace; nspawn's death alone
    // would leave the container running (checked: no parent-death signal).
    if (pid_t leader = find_leader(pid)) ::kill(leader, SIGKILL);
    ::kill(pid, SIGKILL);
    if (!guests::wait_gone(pid, std::chrono::seconds(5)))
      return fail("systemd-nspawn pid " + std::to_string(pid) + " survives SIGKILL");
    res.how = "killed (SIGKILL: no halt within " + std::to_string(opts_.stop_timeout.count()) +
              " s)";
  }
  if (auto s = guests::clean_run_files(d); !s) return tl::unexpected(s.error());
  return drop_links();
}

Result<guests::GuestStatus> NspawnBackend::status(const Guest& g) {
  guests::GuestStatus out;
  guests::Probe pr = probe(g);
  out.state = pr.state;
  out.pid = pr.pid;
  out.why = pr.why;
  if (pr.state == RunState::kStale && pr.pid > 0 && !guests::process_alive(pr.pid)) {
    // A container ends by itself (its command exits, its init halts): that is stopped.
    out.state = RunState::kStopped;
    out.why = "exited by itself; its links go at the next stop or start";
  }
  if (pr.state == RunState::kRunning) out.leader = find_leader(pr.pid);
  return out;
}

}  // namespace vnet::nspawn
