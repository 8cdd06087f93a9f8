#include "netlink/watch.h"

#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <deque>
#include <iostream>
#include <map>
#include <optional>

#include "netlink/kernel.h"
#include "netlink/netns.h"
#include "plan/format.h"
#include "topology/load.h"

namespace vnet::netlink {
namespace {

using Clock = std::chrono::steady_clock;

// Everything a drift of an owned object shows up in. RTNLGRP_BRVLAN (bridge VLAN
// changes, Linux 5.10+) may be missing: RTNLGRP_LINK carries them as well there.
constexpr unsigned kGroups[] = {RTNLGRP_LINK, RTNLGRP_IPV4_IFADDR, RTNLGRP_IPV6_IFADDR,
                                RTNLGRP_IPV4_ROUTE, RTNLGRP_IPV6_ROUTE, RTNLGRP_BRVLAN};

struct Listener {
  std::optional<NetnsId> id;  // of the namespace it listens in
  UniqueFd fd;
};

Result<UniqueFd> open_listener(int netns_fd) {
  auto guard = NetnsGuard::enter(netns_fd);
  if (!guard) return tl::unexpected(guard.error());
  UniqueFd fd(socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_ROUTE));
  if (fd.get() < 0) return fail_errno("netlink socket for events");
  sockaddr_nl sa{};
  sa.nl_family = AF_NETLINK;
  if (bind(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) return fail_errno("bind netlink events");
  for (unsigned g : kGroups)
    if (setsockopt(fd.get(), SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &g, sizeof g) != 0 && g != RTNLGRP_BRVLAN)
      return fail_errno("join rtnetlink group " + std::to_string(g));
  // a burst (a namespace deleted with 1000 links) must not overflow it: an overflow is
  // read as "something changed" anyway (ENOBUFS)
  int size = 4 << 20;
  if (setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) != 0)
    (void)setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  return fd;
}

// Reads everything queued; true when anything was (or the queue overflowed).
bool drain(int fd) {
  static char buf[64 * 1024];
  bool any = false;
  for (;;) {
    ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n > 0) {
      any = true;
      continue;
    }
    if (n < 0 && errno == ENOBUFS) {
      any = true;
      continue;
    }
    return any;
  }
}

class Watcher {
 public:
  Watcher(std::string file, const WatchOptions& o) : file_(std::move(file)), o_(o) {}

  int run() {
    auto t = topology::load_file(file_);
    if (!t) {
      log(Priority::kErr, topology::format_file_diagnostics(t.error(), file_));
      return 2;
    }
    topo_ = std::move(*t);
    sigset_t set;
    sigemptyset(&set);
    for (int sig : {SIGTERM, SIGINT, SIGHUP}) sigaddset(&set, sig);
    sigprocmask(SIG_BLOCK, &set, nullptr);
    sigfd_.reset(signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK));
    // listen first: what changes while the first apply runs is not missed
    if (auto s = refresh(); !s) {
      log(Priority::kErr, s.error().str());
      return 3;
    }
    auto first = apply(topo_, o_.engine);
    if (!first) {
      log(Priority::kErr, "apply: " + first.error().str());
      return static_cast<int>(first.error().exit);
    }
    report(*first, "applied");
    (void)refresh();
    sd_notifyf(0, "READY=1\nSTATUS=watching %zu namespace(s)", listeners_.size());
    log(Priority::kInfo, "watching " + std::to_string(listeners_.size()) + " namespace(s) for drift of " +
                             topo_.host_name + "'s objects");
    return loop();
  }

 private:
  void log(Priority p, const std::string& line) {
    if (o_.log) o_.log(p, line);
    else std::cerr << journal_line(p, "vnet watch: " + line) << std::endl;
  }

  // Listeners for every namespace the file involves, (re)opened where a namespace is
  // new or was made again (its identity changed).
  Status refresh() {
    RealKernelOptions ko;
    ko.target_netns = o_.engine.target_netns;
    ko.netns_prefix = o_.engine.netns_prefix;
    RealKernel kernel(ko);
    std::map<std::string, Listener> next;
    for (const std::string& ns : plan::involved_netns(topo_, nullptr)) {
      std::string name = ns.empty() ? o_.engine.target_netns : kernel.kernel_name(ns);
      std::optional<NetnsId> id = name.empty() ? std::nullopt : netns_id(name);
      if (!name.empty() && !id) continue;  // not there (yet): the next apply makes it
      auto it = listeners_.find(ns);
      if (it != listeners_.end() && it->second.id == id) {
        next[ns] = std::move(it->second);
        continue;
      }
      auto fd = kernel.netns_fd(ns);
      if (!fd) return tl::unexpected(fd.error());
      auto l = open_listener(*fd);
      if (!l) return tl::unexpected(l.error());
      next[ns] = Listener{id, std::move(*l)};
    }
    listeners_ = std::move(next);
    return {};
  }

  void report(const ApplyReport& r, const char* what) {
    if (!r.changed()) return;
    log(Priority::kNotice, std::string(what) + ": " + std::to_string(r.plan.ops.size()) + " change(s) in " +
                               std::to_string(static_cast<int>(r.seconds * 1000)) + " ms");
    for (const plan::Op& op : r.plan.ops) log(Priority::kNotice, "  " + op.describe());
  }

  // The change made most often within the fight window, and how often.
  std::pair<std::string, int> most_repeated(Clock::time_point now) {
    std::pair<std::string, int> top{"", 0};
    for (auto it = repairs_.begin(); it != repairs_.end();) {
      while (!it->second.empty() && now - it->second.front() > o_.fight_window) it->second.pop_front();
      if (it->second.empty()) {
        it = repairs_.erase(it);
        continue;
      }
      if (static_cast<int>(it->second.size()) > top.second) top = {it->first, static_cast<int>(it->second.size())};
      ++it;
    }
    return top;
  }

  void converge() {
    auto now = Clock::now();
    auto [change, times] = most_repeated(now);
    if (times >= o_.fight_limit) {
      if (!holding_)
        log(Priority::kWarning, "something keeps undoing a repair (" + change + ": " + std::to_string(times) +
                                    " times within " + std::to_string(o_.fight_window.count()) +
                                    " ms): holding off until it stops");
      holding_ = true;
      return;
    }
    holding_ = false;
    auto r = apply(topo_, o_.engine);
    if (!r) {
      log(Priority::kErr, "repair failed (rolled back; retried at the next change): " + r.error().str());
      return;
    }
    if (r->changed()) {
      for (const plan::Op& op : r->plan.ops) repairs_[op.describe()].push_back(now);
      ++total_repairs_;
      report(*r, "repaired drift");
      sd_notifyf(0, "STATUS=watching %zu namespace(s); %llu repair(s)", listeners_.size(),
                 static_cast<unsigned long long>(total_repairs_));
      // a namespace made again by the repair needs a listener of its own
      if (auto s = refresh(); !s) log(Priority::kWarning, "listening: " + s.error().str());
    }
  }

  void reload() {
    sd_notify(0, "RELOADING=1");
    auto t = topology::load_file(file_);
    if (!t) {
      log(Priority::kErr, "reload: " + file_ + " does not validate; the last good file stays in force:\n" +
                              topology::format_file_diagnostics(t.error(), file_));
    } else {
      topo_ = std::move(*t);
      log(Priority::kInfo, "reloaded " + file_);
      converge();
      if (auto s = refresh(); !s) log(Priority::kWarning, "listening: " + s.error().str());
    }
    sd_notify(0, "READY=1");
  }

  int loop() {
    bool pending = false;  // an event waits for its quiet time
    Clock::time_point due{}, first_event{};
    for (;;) {
      std::vector<pollfd> fds;
      fds.push_back({sigfd_.get(), POLLIN, 0});
      if (o_.stop_fd >= 0) fds.push_back({o_.stop_fd, POLLIN, 0});
      for (auto& [ns, l] : listeners_) fds.push_back({l.fd.get(), POLLIN, 0});
      int timeout = -1;
      if (pending) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(due - Clock::now()).count();
        timeout = static_cast<int>(std::max<long long>(0, left));
      } else if (holding_) {
        timeout = static_cast<int>(o_.fight_window.count());
      }
      int n = poll(fds.data(), fds.size(), timeout);
      if (n < 0 && errno != EINTR) {
        log(Priority::kErr, std::string("poll: ") + strerror(errno));
        return 1;
      }
      if (fds[0].revents & POLLIN) {
        signalfd_siginfo si{};
        while (::read(sigfd_.get(), &si, sizeof si) == sizeof si) {
          if (si.ssi_signo == SIGHUP) {
            reload();
          } else {
            sd_notify(0, "STOPPING=1");
            log(Priority::kInfo, std::string("stopped by SIG") + sigabbrev_np(static_cast<int>(si.ssi_signo)));
            return 0;
          }
        }
      }
      if (o_.stop_fd >= 0 && (fds[1].revents & POLLIN)) return 0;
      bool event = false;
      for (size_t i = o_.stop_fd >= 0 ? 2 : 1; i < fds.size(); ++i)
        if (fds[i].revents & (POLLIN | POLLERR)) event |= drain(fds[i].fd);
      auto now = Clock::now();
      if (event) {
        // quiet time after the last event, but never more than ten of it after the first
        if (!pending) first_event = now;
        pending = true;
        due = std::min(now + o_.debounce, first_event + 10 * o_.debounce);
      }
      if ((pending && now >= due) || (!pending && holding_ && n == 0)) {
        pending = false;
        converge();
      }
    }
  }

  std::string file_;
  const WatchOptions& o_;
  topology::Topology topo_;
  UniqueFd sigfd_;
  std::map<std::string, Listener> listeners_;
  std::map<std::string, std::deque<Clock::time_point>> repairs_;  // by change made
  bool holding_ = false;
  uint64_t total_repairs_ = 0;
};

}  // namespace

int watch(const std::string& file, const WatchOptions& options) { return Watcher(file, options).run(); }

}  // namespace vnet::netlink
