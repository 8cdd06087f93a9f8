// The Daemon's bounds on what clients can make it hold: descriptors. A full descriptor
// table must not turn level-triggered epoll into a busy loop (accept4 failing with
// EMFILE again and again), and clients that connect and say nothing must not pile up:
//  - out of descriptors, waiting clients are accepted on a reserve descriptor and closed
//    at once, and the listener rests until the next tick (1 s);
//  - a VDE handshake or a control connection idle for kClientIdle is closed;
//  - at most kMaxVdePending handshakes and kMaxControlConns connections on each control
//    socket are open at once; beyond, clients are accepted and closed;
//  - the soft limit on descriptors is raised to the hard one at start (a VDE client
//    holds two; max_ports may be thousands).
//  - these are logged once per tick with a count, so a flood cannot flood the log.
#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "switch/daemon.h"

namespace vnet::sw {

UniqueFd Daemon::accept_client(int listen_fd, uint64_t listen_token) {
  while (true) {
    UniqueFd fd(::accept4(listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
    if (fd) return fd;
    if (errno == EINTR || errno == ECONNABORTED) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return {};
    int err = errno;
    if (err == EMFILE || err == ENFILE) {
      // The slot of the reserve takes the waiting clients one by one (as many as a
      // backlog holds), each closed at once: they learn now, not after a timeout.
      reserve_.reset();
      for (int i = 0; i < 64; ++i) {
        UniqueFd shed(::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC));
        if (!shed) break;
      }
      reserve_.reset(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    }
    tally(std::string("client refused: accept failed (") + std::strerror(err) + ")");
    rest(listen_fd, listen_token);
    return {};
  }
}

void Daemon::rest(int listen_fd, uint64_t listen_token) {
  epoll_event ev{};
  ev.data.u64 = listen_token;  // no events: off until on_tick_limits() turns it back on
  if (::epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, listen_fd, &ev) == 0)
    resting_.emplace_back(listen_fd, listen_token);
}

void Daemon::tally(const std::string& what, uint64_t n) { tally_[what] += n; }

namespace {

// Closes (by `close`, then erasing) the connections of `conns` whose `last` activity is
// kClientIdle old; how many.
template <class Map, class Last, class Close>
size_t close_idle(Map& conns, TimePoint now, Last last, Close close) {
  size_t n = 0;
  for (auto it = conns.begin(); it != conns.end();) {
    if (now - last(it->second) < kClientIdle) {
      ++it;
      continue;
    }
    close(it->first);
    it = conns.erase(it);
    ++n;
  }
  return n;
}

}  // namespace

void Daemon::on_tick_limits(TimePoint now) {
  static const std::string idle_s = std::to_string(kClientIdle.count()) + " s";
  for (const auto& [fd, tok] : resting_) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = tok;
    ::epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, fd, &ev);
  }
  resting_.clear();
  if (!reserve_) reserve_.reset(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  auto unwatch_fd = [this](int fd) { unwatch(fd); };
  size_t n = close_idle(vde_pending_, now, [](const VdePending& p) { return p.since; }, unwatch_fd);
  if (n) tally("VDE client closed: no handshake within " + idle_s, n);
  n = close_idle(control_conns_, now, [](const ControlConn& c) { return c.last; }, unwatch_fd);
  if (n) tally("control connection closed: idle for " + idle_s, n);
  for (const auto& [what, n] : tally_)
    log(what + (n > 1 ? " (" + std::to_string(n) + " times)" : ""));
  tally_.clear();
}

}  // namespace vnet::sw
