// The Daemon's side of the control sockets: accepting connections (with who may change
// the switch), reading JSON lines, queuing answers for clients that read slowly, and the
// views of ports, FDB and counters that the answers are made of.
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "switch/control.h"
#include "switch/daemon.h"

namespace vnet::sw {

using nlohmann::json;

namespace {

// Answers queued beyond this wait until the client has read: no more of its requests
// are served meanwhile, so a client that only writes cannot grow the queue.
constexpr size_t kOutHigh = 1 << 20;

}  // namespace

void Daemon::accept_control(int listen_fd) {
  const bool query = listen_fd == query_.get();
  while (UniqueFd conn = accept_client(listen_fd, token(kControlListen, uint32_t(listen_fd)))) {
    int fd = conn.get();
    // Counted per socket: readers filling DIR/query do not lock the owner out of DIR/control.
    size_t open = 0;
    for (const auto& [cfd, c] : control_conns_) open += c.query == query;
    if (open >= kMaxControlConns) {
      tally("control client refused: " + std::to_string(kMaxControlConns) + " connections open on " +
            (query ? cfg_.query_path() : cfg_.control_path()));
      continue;
    }
    std::string refusal = query ? cfg_.query_path() + " answers queries only; changes go through " +
                                      cfg_.control_path()
                                : change_refusal(fd);
    if (!watch(fd, EPOLLIN, token(kControlConn, uint32_t(fd)))) continue;
    control_conns_.emplace(fd, ControlConn{std::move(conn), Clock::now(), query, {}, {},
                                           std::move(refusal)});
  }
}

// DIR/control's mode already keeps others out; this holds also where systemd made the
// socket (socket activation) and says why.
std::string Daemon::change_refusal(int conn_fd) const {
  ucred cred{};
  socklen_t len = sizeof cred;
  if (::getsockopt(conn_fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || len != sizeof cred)
    return "the client's credentials cannot be read";
  if (cred.uid == 0 || cred.uid == ::geteuid()) return "";
  if (cfg_.control_gid >= 0) {
    if (cred.gid == gid_t(cfg_.control_gid)) return "";
    gid_t groups[256];
    socklen_t glen = sizeof groups;
    if (::getsockopt(conn_fd, SOL_SOCKET, SO_PEERGROUPS, groups, &glen) == 0)
      for (size_t i = 0; i < glen / sizeof(gid_t); ++i)
        if (groups[i] == gid_t(cfg_.control_gid)) return "";
  }
  return "uid " + std::to_string(cred.uid) + " may not change switch " + cfg_.name +
         ": only its user (uid " + std::to_string(::geteuid()) + "), root" +
         (cfg_.control_gid >= 0 ? " and members of control_group (gid " +
                                      std::to_string(cfg_.control_gid) + ")"
                                : "") +
         " may";
}

void Daemon::handle_control(int fd, uint32_t events) {
  auto it = control_conns_.find(fd);
  if (it == control_conns_.end()) return;
  ControlConn& c = it->second;
  c.last = Clock::now();
  auto drop = [&] {
    unwatch(fd);
    control_conns_.erase(it);
  };
  if (c.out.empty() && (events & (EPOLLIN | EPOLLHUP | EPOLLERR))) {
    char buf[4096];
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    if (n <= 0 || !c.in.append(std::string_view(buf, size_t(n)))) return drop();
  }
  // Serve what has arrived, send what we can; EPOLLOUT while answers wait, EPOLLIN after.
  while (true) {
    while (c.out.size() < kOutHigh)
      if (auto line = c.in.next())
        c.out += control_line(handle_control_request(*this, *line, c.refuse_changes));
      else
        break;
    if (c.out.empty()) break;
    ssize_t w = ::send(fd, c.out.data(), c.out.size(), MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && errno == EAGAIN) break;
    if (w <= 0) return drop();
    c.out.erase(0, size_t(w));
  }
  epoll_event ev{};
  ev.events = c.out.empty() ? uint32_t(EPOLLIN) : uint32_t(EPOLLOUT);
  ev.data.u64 = token(kControlConn, uint32_t(fd));
  ::epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, fd, &ev);
}

json Daemon::ports_json() const {
  json out = json::array();
  for (PortId id = 1; id < ports_.size(); ++id) {
    const Port* p = ports_[id].get();
    if (!p) continue;
    const VlanPolicy& pol = fwd_.policy(id);
    const PortCounters& c = fwd_.counters(id);
    out.push_back({{"id", id},
                   {"name", p->name},
                   {"kind", p->kind},
                   {"peer", p->peer},
                   {"pvid", pol.pvid},
                   {"tagged", pol.tagged_list()},
                   {"vnet_hdr", p->vnet_hdr()},
                   {"io", p->io()},
                   {"rx_frames", c.rx_frames},
                   {"rx_bytes", c.rx_bytes},
                   {"tx_frames", c.tx_frames},
                   {"tx_bytes", c.tx_bytes},
                   {"drops", c.drop_runt + c.drop_oversized + c.drop_malformed + c.drop_vlan +
                                 c.tx_drops},
                   {"drop_runt", c.drop_runt},
                   {"drop_oversized", c.drop_oversized},
                   {"drop_malformed", c.drop_malformed},
                   {"drop_vlan", c.drop_vlan},
                   {"tx_drops", c.tx_drops},
                   {"learn_refused", c.learn_refused},
                   {"macs", fwd_.fdb().port_count(id)}});
  }
  return out;
}

json Daemon::fdb_json() const {
  json out = json::array();
  TimePoint now = Clock::now();
  for (const auto& e : fwd_.fdb().entries())
    out.push_back({{"vlan", e.vid},
                   {"mac", mac_str(e.mac)},
                   {"port", e.port},
                   {"age_s", std::chrono::duration_cast<std::chrono::seconds>(now - e.last_seen)
                                 .count()}});
  return out;
}

json Daemon::stats_json() const {
  PortCounters sum;
  size_t nports = 0;
  for (PortId id = 1; id < ports_.size(); ++id) {
    if (!ports_[id]) continue;
    ++nports;
    const PortCounters& c = fwd_.counters(id);
    sum.rx_frames += c.rx_frames;
    sum.tx_frames += c.tx_frames;
    sum.drop_runt += c.drop_runt;
    sum.drop_oversized += c.drop_oversized;
    sum.drop_malformed += c.drop_malformed;
    sum.drop_vlan += c.drop_vlan;
    sum.tx_drops += c.tx_drops;
    sum.learn_refused += c.learn_refused;
    sum.flooded += c.flooded;
  }
  const SwitchCounters& sc = fwd_.switch_counters();
  return {{"name", cfg_.name},
          {"socket", cfg_.dir},
          {"ports", nports},
          {"max_ports", cfg_.max_ports},
          {"fdb_entries", fwd_.fdb().size()},
          {"fdb_max", cfg_.limits.max_entries},
          {"port_mac_max", cfg_.limits.max_per_port},
          {"fdb_switch_full", sc.fdb_switch_full},
          {"fdb_port_full", sc.fdb_port_full},
          {"fdb_moves", sc.fdb_moves},
          {"fdb_aged", sc.fdb_aged},
          {"rx_frames", sum.rx_frames},
          {"tx_frames", sum.tx_frames},
          {"flooded", sum.flooded},
          {"drop_runt", sum.drop_runt},
          {"drop_oversized", sum.drop_oversized},
          {"drop_malformed", sum.drop_malformed},
          {"drop_vlan", sum.drop_vlan},
          {"tx_drops", sum.tx_drops},
          {"gso_drops", gso_drops_},
          {"learn_refused", sum.learn_refused},
          {"offload", offload_}};
}

}  // namespace vnet::sw
