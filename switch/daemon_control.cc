// The Daemon's side of the control socket: accepting connections, reading JSON lines,
// and the views of ports, FDB and counters that the answers are made of.
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "switch/control.h"
#include "switch/daemon.h"

namespace vnet::sw {

using nlohmann::json;

namespace {
constexpr size_t kMaxLine = 64 * 1024;
}  // namespace

void Daemon::accept_control() {
  while (true) {
    int fd = ::accept4(control_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return;
    if (!watch(fd, EPOLLIN, token(kControlConn, uint32_t(fd)))) {
      ::close(fd);
      continue;
    }
    control_conns_[fd] = ControlConn{UniqueFd(fd), {}};
  }
}

void Daemon::handle_control(int fd) {
  auto it = control_conns_.find(fd);
  if (it == control_conns_.end()) return;
  ControlConn& c = it->second;
  char buf[4096];
  ssize_t n = ::read(fd, buf, sizeof buf);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
  if (n <= 0 || c.in.size() + size_t(n) > kMaxLine) {
    unwatch(fd);
    control_conns_.erase(it);
    return;
  }
  c.in.append(buf, size_t(n));
  size_t nl;
  while ((nl = c.in.find('\n')) != std::string::npos) {
    std::string line = c.in.substr(0, nl);
    c.in.erase(0, nl + 1);
    std::string out = handle_control_request(*this, line).dump() + "\n";
    // Answers are small next to the socket buffer; a client that does not read them is
    // cut off rather than allowed to stall the switch.
    size_t off = 0;
    while (off < out.size()) {
      ssize_t w = ::send(fd, out.data() + off, out.size() - off, MSG_NOSIGNAL);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) {
        unwatch(fd);
        control_conns_.erase(it);
        return;
      }
      off += size_t(w);
    }
  }
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
