#include "switch/daemon.h"

#include "base/fd_limit.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <iostream>

#include "base/text.h"
#include "switch/sockets.h"
#include "switch/vde_proto.h"

namespace vnet::sw {
namespace {


// An inherited socket (systemd socket activation) already bound at `path`, or -1.
int take_listen_fd(const std::string& path, int type) {
  int n = sd_listen_fds(0);
  for (int fd = SD_LISTEN_FDS_START; fd < SD_LISTEN_FDS_START + n; ++fd)
    if (sd_is_socket_unix(fd, type, type == SOCK_STREAM ? 1 : -1, path.c_str(), 0) > 0)
      return ::dup(fd);
  return -1;
}

Result<UniqueFd> listen_or_inherit(const std::string& path, int type, uint32_t mode, int gid) {
  if (int fd = take_listen_fd(path, type); fd >= 0) {
    UniqueFd u(fd);
    if (auto s = set_nonblock(fd); !s) return tl::unexpected(s.error());
    return u;
  }
  return listen_unix(path, type, mode, gid);
}

}  // namespace

Daemon::Daemon(SwitchConfig config, DaemonOptions options)
    : cfg_(std::move(config)), opts_(std::move(options)), fwd_(cfg_.limits),
      scratch_(kBatch) {}

Daemon::~Daemon() {
  // Sockets are removed so a restarted switch (or vde_switch) finds a clean folder.
  for (auto& p : ports_)
    if (p)
      for (const auto& path : p->paths()) ::unlink(path.c_str());
  for (const auto& [fd, l] : stream_listeners_) ::unlink(l.path.c_str());
  if (vde_ctl_) ::unlink(cfg_.ctl_path().c_str());
  if (control_) ::unlink(cfg_.control_path().c_str());
  if (query_) ::unlink(cfg_.query_path().c_str());
  if (created_dir_) ::rmdir(cfg_.dir.c_str());  // fails, harmlessly, if clients left files
}

// Lines carry what clients sent (descriptions, paths, commands): escaped, so no client
// can forge a log line or reach the terminal of whoever reads the log.
void Daemon::log(const std::string& line, Priority priority) const {
  std::string safe = printable(line);
  if (opts_.log) opts_.log(safe);
  else std::cerr << journal_line(priority, "vnet switch " + cfg_.name + ": " + safe) << "\n";
}

Result<std::unique_ptr<Daemon>> Daemon::create(SwitchConfig config, DaemonOptions options) {
  std::unique_ptr<Daemon> d(new Daemon(std::move(config), std::move(options)));
  if (auto s = d->setup(); !s) return tl::unexpected(s.error());
  return d;
}

Status Daemon::watch(int fd, uint32_t events, uint64_t tok) {
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = tok;
  if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev) < 0) return fail_errno("epoll_ctl");
  return {};
}

void Daemon::unwatch(int fd) {
  if (fd < 0) return;
  ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd, nullptr);
  std::erase_if(resting_, [fd](const auto& r) { return r.first == fd; });
}

Status Daemon::setup() {
  epoll_.reset(::epoll_create1(EPOLL_CLOEXEC));
  if (!epoll_) return fail_errno("epoll_create1");
  raise_descriptor_limit();
  reserve_.reset(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (!reserve_) return fail_errno("open /dev/null (reserve descriptor)");
  ports_.resize(cfg_.max_ports + 1);
  dirty_flag_.assign(cfg_.max_ports + 1, false);
  pending_flag_.assign(cfg_.max_ports + 1, false);

  auto dir = open_socket_dir(cfg_.dir, cfg_.dir_mode, cfg_.gid, created_dir_);
  if (!dir) return tl::unexpected(dir.error().context("socket folder"));

  auto ctl = listen_or_inherit(cfg_.ctl_path(), SOCK_STREAM, cfg_.socket_mode, cfg_.gid);
  if (!ctl) return tl::unexpected(ctl.error().context("VDE control socket"));
  vde_ctl_ = std::move(*ctl);
  // Changes only for the switch's user (and control_group); queries as wide as the data.
  auto control =
      listen_or_inherit(cfg_.control_path(), SOCK_STREAM, cfg_.control_mode, cfg_.control_gid);
  if (!control) return tl::unexpected(control.error().context("control socket"));
  control_ = std::move(*control);
  auto query = listen_or_inherit(cfg_.query_path(), SOCK_STREAM, cfg_.socket_mode, cfg_.gid);
  if (!query) return tl::unexpected(query.error().context("query socket"));
  query_ = std::move(*query);
  if (auto s = watch(vde_ctl_.get(), EPOLLIN, token(kVdeCtl)); !s) return s;
  for (const UniqueFd* l : {&control_, &query_})
    if (auto s = watch(l->get(), EPOLLIN, token(kControlListen, uint32_t(l->get()))); !s)
      return s;

  for (size_t i = 0; i < cfg_.ports.size(); ++i)
    if (auto s = open_declared(i); !s) return s;

  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGINT);
  sigaddset(&mask, SIGHUP);
  sigaddset(&mask, SIGPIPE);
  if (::pthread_sigmask(SIG_BLOCK, &mask, nullptr) != 0) return fail("pthread_sigmask");
  signal_.reset(::signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC));
  if (!signal_) return fail_errno("signalfd");
  if (auto s = watch(signal_.get(), EPOLLIN, token(kSignal)); !s) return s;

  timer_.reset(::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC));
  if (!timer_) return fail_errno("timerfd_create");
  itimerspec its{};
  its.it_interval.tv_sec = 1;
  its.it_value.tv_sec = 1;
  ::timerfd_settime(timer_.get(), 0, &its, nullptr);
  return watch(timer_.get(), EPOLLIN, token(kTimer));
}

// Opens declared port cfg_.ports[i]: a tap, packet or dgram port becomes a live port, a
// stream port a listener whose connections become ports; a VDE port waits for its client.
Status Daemon::open_declared(size_t i) {
  using Kind = topology::SwitchPort::Kind;
  const PortConfig& pc = cfg_.ports[i];
  std::string where = "port " + pc.name;
  if (pc.kind == Kind::kVdePort) return {};
  if (pc.kind == Kind::kStream) {
    auto fd = listen_or_inherit(pc.target, SOCK_STREAM, cfg_.socket_mode, cfg_.gid);
    if (!fd) return tl::unexpected(fd.error().context(where));
    int raw = fd->get();
    stream_listeners_.emplace(raw, StreamListener{std::move(*fd), pc.target, pc.name});
    return watch(raw, EPOLLIN, token(kStreamListen, uint32_t(raw)));
  }
  Result<std::unique_ptr<Port>> port = fail("unknown port kind");
  if (pc.kind == Kind::kTap) port = open_tap(pc.target);
  else if (pc.kind == Kind::kPacket) port = open_packet(pc.target);
  else if (pc.kind == Kind::kDgram) {
    if (int fd = take_listen_fd(pc.target, SOCK_DGRAM); fd >= 0) ::close(fd);
    port = open_dgram_listener(pc.target, cfg_.socket_mode, cfg_.gid);
  }
  if (!port) return tl::unexpected(port.error().context(where));
  auto id = alloc_port(0);
  if (!id) return tl::unexpected(id.error().context(where));
  return attach(std::move(*port), *id, &pc);
}

Result<PortId> Daemon::alloc_port(uint32_t requested) {
  if (requested != 0) {
    if (requested > cfg_.max_ports)
      return fail("port " + std::to_string(requested) + " above max_ports " +
                  std::to_string(cfg_.max_ports));
    if (ports_[requested]) return fail("port " + std::to_string(requested) + " is taken");
    return PortId(requested);
  }
  // Numbers named by `vde_port = N` stay free for the client that asks for them.
  for (PortId id = 1; id <= cfg_.max_ports; ++id) {
    if (ports_[id]) continue;
    bool reserved = false;
    for (const auto& pc : cfg_.ports)
      if (pc.kind == topology::SwitchPort::Kind::kVdePort && pc.vde_port == id) reserved = true;
    if (!reserved) return id;
  }
  return fail("all " + std::to_string(cfg_.max_ports) + " ports are in use (max_ports)");
}

Status Daemon::attach(std::unique_ptr<Port> port, PortId id, const PortConfig* pc) {
  port->id = id;
  if (pc) port->name = pc->name;
  if (auto s = watch(port->fd(), EPOLLIN, token(kPortData, id)); !s) return s;
  if (port->aux_fd() >= 0)
    if (auto s = watch(port->aux_fd(), EPOLLIN | EPOLLRDHUP, token(kPortAux, id)); !s) {
      unwatch(port->fd());
      return s;
    }
  fwd_.add_port(id, pc ? pc->policy : VlanPolicy::access(cfg_.default_vlan));
  log("port " + std::to_string(id) + " up: " + port->kind + " " + port->peer +
      (pc ? " (" + pc->name + ")" : ""));
  ports_[id] = std::move(port);
  update_offloads();
  return {};
}

void Daemon::detach(PortId id, const std::string& why) {
  auto& p = ports_[id];
  if (!p) return;
  log("port " + std::to_string(id) + " down: " + p->kind + " " + p->peer + ": " + why);
  unwatch(p->fd());
  unwatch(p->aux_fd());
  for (const auto& path : p->paths())
    if (p->kind == "vde") ::unlink(path.c_str());  // dgram listeners keep their path
  fwd_.remove_port(id);
  // A dgram listener is a declared port: it lives as long as the switch.
  p.reset();
  if (dirty_flag_[id]) {
    dirty_flag_[id] = false;
    std::erase(dirty_, id);
  }
  if (pending_flag_[id]) {
    pending_flag_[id] = false;
    std::erase(pending_, id);
  }
  update_offloads();
}

// TSO/checksum offload on taps only while every port can take a GSO frame whole;
// otherwise the kernel would hand us super-frames that a VDE client cannot receive.
void Daemon::update_offloads() {
  bool all = true;
  for (const auto& p : ports_)
    if (p && !p->vnet_hdr()) all = false;
  for (const auto& p : ports_)
    if (p && p->kind == "tap" && p->offload_on != all) {
      p->set_offload(all);
      p->offload_on = all;
    }
  if (all != offload_) {
    offload_ = all;
    log(std::string("offloads ") + (all ? "on: every port speaks vnet_hdr" : "off"));
  }
}

Status Daemon::run() {
  sd_notifyf(0, "READY=1\nSTATUS=serving %s", cfg_.dir.c_str());
  epoll_event events[64];
  while (!stop_) {
    int n = ::epoll_wait(epoll_.get(), events, 64, pending_.empty() ? -1 : 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail_errno("epoll_wait");
    }
    for (int i = 0; i < n && !stop_; ++i) {
      uint64_t tok = events[i].data.u64;
      uint32_t v = uint32_t(tok);
      switch (Daemon::Token(tok >> 32)) {
        case kSignal: on_signal(); break;
        case kTimer: on_timer(); break;
        case kVdeCtl: accept_vde(); break;
        case kVdePending: handle_vde_request(int(v)); break;
        case kStreamListen: accept_stream(int(v)); break;
        case kControlListen: accept_control(int(v)); break;
        case kControlConn: handle_control(int(v), events[i].events); break;
        case kPortData:
          if (!ports_[v]) break;
          if (events[i].events & EPOLLOUT) {
            if (ports_[v]->on_writable() == RecvStatus::kClosed) {
              detach(v, "write failed");
              break;
            }
            arm_write(v);
          }
          if (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) on_port_readable(v);
          break;
        case kPortAux:
          if (ports_[v] && ports_[v]->on_aux() == RecvStatus::kClosed)
            detach(v, "client closed its connection");
          break;
      }
    }
    // Ports that still hold received frames get their turn after everyone else's.
    std::vector<PortId> again;
    again.swap(pending_);
    for (PortId id : again) {
      pending_flag_[id] = false;
      on_port_readable(id);
    }
  }
  sd_notify(0, "STOPPING=1");
  return {};
}

void Daemon::on_port_readable(PortId id) {
  // A few batches per wakeup at most, so one busy port cannot starve the others.
  for (int round = 0; round < 4; ++round) {
    Port* p = ports_[id].get();
    if (!p) return;
    if (p->recv(arena_, rx_) == RecvStatus::kClosed) {
      flush_dirty();
      detach(id, "closed");
      return;
    }
    if (rx_.empty()) break;
    if (rx_.size() > scratch_.size()) scratch_.resize(rx_.size());  // ports cap at kBatch
    TimePoint now = Clock::now();
    for (size_t i = 0; i < rx_.size(); ++i) {
      const RxFrame& f = rx_[i];
      bool gso = f.vhdr && is_gso(*f.vhdr);
      fwd_.forward(id, std::span<const uint8_t>(f.data, f.len), now, decision_, gso);
      if (!decision_.dropped()) execute(f, i, decision_);
    }
    flush_dirty();
    if (rx_.size() < kBatch && !p->pending()) return;
  }
  if (ports_[id] && ports_[id]->pending() && !pending_flag_[id]) {
    pending_flag_[id] = true;
    pending_.push_back(id);
  }
}

void Daemon::execute(const RxFrame& f, size_t slot, const Decision& d) {
  Scratch& s = scratch_[slot];
  s.hdr_ready[0] = s.hdr_ready[1] = s.hdr_ready[2] = false;
  s.copy_ready = false;
  auto tag = make_tag(d.vid, d.frame.tci);
  std::memcpy(s.tag, tag.data(), 4);
  for (PortId p : d.out_untagged)
    if (ports_[p]) emit(*ports_[p], f, slot, d, false);
  for (PortId p : d.out_tagged)
    if (ports_[p]) emit(*ports_[p], f, slot, d, true);
}

void Daemon::emit(Port& out, const RxFrame& f, size_t slot, const Decision& d,
                  bool tagged_out) {
  Scratch& s = scratch_[slot];
  PortCounters& c = fwd_.counters(out.id);
  const bool has_tag = d.frame.tagged;
  // Same tag in and out (the common trunk-to-trunk case): the frame goes as it is.
  const bool keep = has_tag == tagged_out && (!has_tag || d.frame.vid == d.vid);
  const int delta = keep ? 0 : (tagged_out ? 4 : 0) - (has_tag ? 4 : 0);

  iovec iov[6];
  int n = 0;
  const uint8_t* data = f.data;
  if (out.vnet_hdr()) {
    int k = delta / 4 + 1;
    if (!s.hdr_ready[k]) {
      s.hdr[k] = f.vhdr ? shift_vnet_hdr(*f.vhdr, delta) : VnetHdr{};
      s.hdr_ready[k] = true;
    }
    iov[n++] = iovec{&s.hdr[k], kVnetHdrLen};
  } else if (f.vhdr && is_gso(*f.vhdr)) {
    // Cannot happen once offloads are off everywhere; frames already in flight when a
    // non-vnet port joined are dropped (TCP resends them, segmented).
    c.tx_drops++;
    gso_drops_++;
    return;
  } else if (f.vhdr && needs_csum(*f.vhdr)) {
    if (!s.copy_ready) {
      s.copy.assign(f.data, f.data + f.len);
      complete_checksum(s.copy, *f.vhdr);
      s.copy_ready = true;
    }
    data = s.copy.data();
  }
  size_t len = f.len;
  if (keep) {
    iov[n++] = iovec{const_cast<uint8_t*>(data), len};
  } else {
    const uint8_t* rest = data + (has_tag ? 16 : 12);
    size_t rest_len = len - (has_tag ? 16 : 12);
    iov[n++] = iovec{const_cast<uint8_t*>(data), 12};
    if (tagged_out) iov[n++] = iovec{s.tag, 4};
    iov[n++] = iovec{const_cast<uint8_t*>(rest), rest_len};
    len = 12 + (tagged_out ? 4 : 0) + rest_len;
  }
  size_t total = len + (out.vnet_hdr() ? kVnetHdrLen : 0);
  if (!out.send(iov, n, total)) {
    c.tx_drops++;
    return;
  }
  c.tx_frames++;
  c.tx_bytes += len;
  if (!dirty_flag_[out.id]) {
    dirty_flag_[out.id] = true;
    dirty_.push_back(out.id);
  }
}

// A port with a backlog (stream) wants EPOLLOUT until it has drained.
void Daemon::arm_write(PortId id) {
  Port* p = ports_[id].get();
  if (!p) return;
  bool want = p->wants_write();
  if (want == p->write_armed) return;
  p->write_armed = want;
  epoll_event ev{};
  ev.events = EPOLLIN | (want ? uint32_t(EPOLLOUT) : 0u);
  ev.data.u64 = token(kPortData, id);
  ::epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, p->fd(), &ev);
}

void Daemon::flush_dirty() {
  for (PortId id : dirty_) {
    dirty_flag_[id] = false;
    if (!ports_[id]) continue;
    size_t dropped = ports_[id]->flush();
    arm_write(id);
    if (dropped) {
      auto& c = fwd_.counters(id);
      c.tx_drops += dropped;
      c.tx_frames -= std::min<uint64_t>(c.tx_frames, dropped);
    }
  }
  dirty_.clear();
}

void Daemon::accept_vde() {
  while (UniqueFd conn = accept_client(vde_ctl_.get(), token(kVdeCtl))) {
    int fd = conn.get();
    if (vde_pending_.size() >= kMaxVdePending) {
      tally("VDE client refused: " + std::to_string(kMaxVdePending) + " handshakes in progress");
      continue;
    }
    if (!watch(fd, EPOLLIN, token(kVdePending, uint32_t(fd)))) continue;
    vde_pending_.emplace(fd, VdePending{std::move(conn), Clock::now()});
  }
}

void Daemon::handle_vde_request(int fd) {
  auto it = vde_pending_.find(fd);
  if (it == vde_pending_.end()) return;
  UniqueFd ctl = std::move(it->second.fd);
  vde_pending_.erase(it);
  unwatch(fd);
  uint8_t buf[kVdeMaxRequest];
  // The whole request arrives in one write from every client; a short read is refused.
  ssize_t n = ::read(fd, buf, sizeof buf);
  if (n <= 0) return;
  auto req = parse_vde_request(std::span<const uint8_t>(buf, size_t(n)));
  if (!req) return log("VDE client refused: " + req.error().str(), Priority::kWarning);
  if (req->management) return log("VDE client refused: management port 0 is not offered", Priority::kWarning);

  // The switch sends where the client says: only into a socket the client could write
  // to itself (as root, the switch could otherwise reach any socket on the system).
  ucred cred{};
  socklen_t cl = sizeof cred;
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) < 0 || cl != sizeof cred)
    return log("VDE client refused: its credentials cannot be read: " + std::string(strerror(errno)), Priority::kWarning);
  auto to = check_client_address(req->client, sizeof req->client, cred.uid);
  if (!to)
    return log("VDE client (uid " + std::to_string(cred.uid) + ", pid " +
               std::to_string(cred.pid) + ") refused: " + to.error().str(), Priority::kWarning);
  const PortConfig* pc = nullptr;
  if (req->port != 0)
    for (const auto& p : cfg_.ports)
      if (p.kind == topology::SwitchPort::Kind::kVdePort && p.vde_port == req->port) pc = &p;
  auto id = alloc_port(req->port);
  if (!id) return log("VDE client refused: " + id.error().str(), Priority::kWarning);

  char name[48];
  std::snprintf(name, sizeof name, "/%03u.%llu", *id, ++vde_seq_);
  std::string path = cfg_.dir + name;
  auto sa = unix_addr(path);
  if (!sa) return log("VDE client refused: " + sa.error().str(), Priority::kWarning);
  auto data = bind_unix(path, SOCK_DGRAM, cfg_.socket_mode, cfg_.gid);
  if (!data) return log("VDE client refused: " + data.error().str(), Priority::kWarning);
  if (::connect(data->get(), reinterpret_cast<const sockaddr*>(&to->addr), to->len) < 0) {
    ::unlink(path.c_str());
    return log("VDE client refused: connect " + req->client_path + ": " + strerror(errno), Priority::kWarning);
  }
  if (::write(fd, &*sa, sizeof *sa) != ssize_t(sizeof *sa)) {
    ::unlink(path.c_str());
    return log("VDE client refused: reply failed", Priority::kWarning);
  }
  auto port = make_vde_port(std::move(*data), std::move(ctl), path);
  port->peer = printable(req->description);  // shown in answers and tables
  port->vde_asked = req->port;
  if (auto s = attach(std::move(port), *id, pc); !s) {
    ::unlink(path.c_str());
    log("VDE client refused: " + s.error().str(), Priority::kWarning);
  }
}

void Daemon::accept_stream(int listener_fd) {
  auto it = stream_listeners_.find(listener_fd);
  if (it == stream_listeners_.end()) return;
  const StreamListener& l = it->second;
  while (UniqueFd conn = accept_client(l.fd.get(), token(kStreamListen, uint32_t(listener_fd)))) {
    auto id = alloc_port(0);
    if (!id) {
      tally("stream client on " + l.path + " refused: " + id.error().str());
      continue;
    }
    auto port = make_stream_port(std::move(conn));
    port->peer = l.path;
    if (auto s = attach(std::move(port), *id, cfg_.find_port(l.name)); !s)
      log("stream client refused: " + s.error().str(), Priority::kWarning);
  }
}

void Daemon::on_signal() {
  signalfd_siginfo si;
  while (::read(signal_.get(), &si, sizeof si) == ssize_t(sizeof si)) {
    if (si.ssi_signo == SIGHUP) reload();
    else if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) stop_ = true;
  }
}

// The declared port a live port belongs to: by name, or for a VDE client that asked for
// port N, the `vde_port = N` entry; null for VDE clients on default_vlan.
const PortConfig* Daemon::config_of(const Port& p) const {
  if (!p.name.empty()) return cfg_.find_port(p.name);
  if (p.kind == "vde" && p.vde_asked)
    for (const auto& pc : cfg_.ports)
      if (pc.kind == topology::SwitchPort::Kind::kVdePort && pc.vde_port == p.vde_asked)
        return &pc;
  return nullptr;
}

// Whether declared port `pc` is open: its listener listens or its port is live. (A VDE
// port waits for its client and counts as open.)
bool Daemon::is_open(const PortConfig& pc) const {
  using Kind = topology::SwitchPort::Kind;
  if (pc.kind == Kind::kVdePort) return true;
  if (pc.kind == Kind::kStream) {
    for (const auto& [fd, l] : stream_listeners_)
      if (l.name == pc.name) return true;
    return false;
  }
  for (const auto& p : ports_)
    if (p && p->name == pc.name) return true;
  return false;
}

// Closes what declared port `name` opened: its tap/packet/dgram port, its stream listener
// (socket removed) and that listener's connections. A VDE client stays connected and
// falls back to default_vlan: the guest behind it did nothing wrong.
void Daemon::close_declared(const std::string& name) {
  for (auto it = stream_listeners_.begin(); it != stream_listeners_.end();) {
    if (it->second.name != name) {
      ++it;
      continue;
    }
    unwatch(it->first);
    ::unlink(it->second.path.c_str());
    it = stream_listeners_.erase(it);
  }
  for (PortId id = 1; id < ports_.size(); ++id) {
    Port* p = ports_[id].get();
    if (!p || p->name != name) continue;
    if (p->kind == "vde") {
      p->name.clear();
      continue;
    }
    for (const auto& path : p->paths()) ::unlink(path.c_str());
    detach(id, "removed from the configuration");
  }
}

// SIGHUP: ports that left the file (or changed kind or target) are closed, declared
// ports not open are opened (new ones, and ones whose open failed or whose tap went
// away), and every live port takes the VLAN policy the file now gives it, in place:
// connected clients stay. Socket folder, permissions and max_ports need a restart.
void Daemon::reload() {
  if (!opts_.reload) return log("SIGHUP: no configuration file to reload", Priority::kWarning);
  sd_notify(0, "RELOADING=1");
  auto next = opts_.reload();
  if (!next) {
    log("reload failed, keeping the running configuration: " + next.error().str(), Priority::kErr);
    sd_notify(0, "READY=1");
    return;
  }
  if (next->dir != cfg_.dir || next->socket_mode != cfg_.socket_mode ||
      next->gid != cfg_.gid || next->control_gid != cfg_.control_gid ||
      next->max_ports != cfg_.max_ports)
    log("reload: socket folder, groups, modes and max_ports change only on restart");
  // Ports added over the control socket outlive a reload; one the file now declares is
  // the file's from here on.
  for (auto it = added_.begin(); it != added_.end();) {
    if (next->find_port(*it)) {
      it = added_.erase(it);
      continue;
    }
    if (const PortConfig* pc = cfg_.find_port(*it)) next->ports.push_back(*pc);
    ++it;
  }
  auto same = [](const PortConfig& a, const PortConfig& b) {
    return a.kind == b.kind && a.target == b.target && a.vde_port == b.vde_port;
  };
  size_t removed = 0;
  for (const auto& pc : cfg_.ports) {
    const PortConfig* np = next->find_port(pc.name);
    if (np && same(pc, *np)) continue;
    close_declared(pc.name);
    ++removed;
  }
  cfg_.ports = next->ports;
  cfg_.default_vlan = next->default_vlan;
  cfg_.limits = next->limits;
  fwd_.fdb().set_limits(cfg_.limits);
  size_t changed = 0;
  for (PortId id = 1; id < ports_.size(); ++id) {
    Port* p = ports_[id].get();
    if (!p) continue;
    const PortConfig* pc = config_of(*p);
    if (pc) p->name = pc->name;  // a VDE client on a new or renamed `vde_port` entry
    VlanPolicy want = pc ? pc->policy : VlanPolicy::access(cfg_.default_vlan);
    if (!(want == fwd_.policy(id))) {
      fwd_.set_policy(id, want);
      ++changed;
    }
  }
  size_t opened = 0;
  for (size_t i = 0; i < cfg_.ports.size(); ++i) {
    if (is_open(cfg_.ports[i])) continue;
    if (auto s = open_declared(i); !s) log("reload: " + s.error().str(), Priority::kWarning);
    else ++opened;
  }
  log("reloaded: " + std::to_string(opened) + " port(s) opened, " + std::to_string(removed) +
      " removed, " + std::to_string(changed) + " changed VLANs");
  sd_notify(0, "READY=1");
}

void Daemon::on_timer() {
  uint64_t ticks;
  while (::read(timer_.get(), &ticks, sizeof ticks) == ssize_t(sizeof ticks)) {
  }
  TimePoint now = Clock::now();
  fwd_.age(now);
  on_tick_limits(now);
  notify_status();
}

void Daemon::notify_status() {
  size_t n = 0;
  for (const auto& p : ports_)
    if (p) ++n;
  std::string status = std::to_string(n) + " ports, " + std::to_string(fwd_.fdb().size()) +
                       " MACs learned";
  if (status == last_status_) return;
  last_status_ = status;
  sd_notifyf(0, "STATUS=%s", status.c_str());
}

Status Daemon::set_port_vlan(const std::string& port, const VlanPolicy& policy) {
  size_t hits = 0;
  for (PortId id = 1; id < ports_.size(); ++id) {
    if (!ports_[id]) continue;
    if (ports_[id]->name == port || std::to_string(id) == port) {
      fwd_.set_policy(id, policy);
      ++hits;
    }
  }
  if (PortConfig* pc = const_cast<PortConfig*>(cfg_.find_port(port))) {
    pc->policy = policy;  // also for clients that connect later
    ++hits;
  }
  if (!hits) return fail("no port '" + port + "'", 0, ExitCode::kBadInput);
  return {};
}

Result<std::string> Daemon::add_stream_port(const std::string& name, const VlanPolicy& policy) {
  if (const PortConfig* pc = cfg_.find_port(name)) {
    if (pc->kind != topology::SwitchPort::Kind::kStream)
      return fail("port '" + name + "' exists and is not a stream port", 0, ExitCode::kBadInput);
    std::string path = pc->target;
    if (auto s = set_port_vlan(name, policy); !s) return tl::unexpected(s.error());
    if (!is_open(*pc))  // declared, but its open failed: retried now
      if (auto s = open_declared(size_t(pc - cfg_.ports.data())); !s)
        return tl::unexpected(s.error());
    return path;
  }
  // Each is a listener descriptor: no more than the switch has ports.
  if (added_.size() >= cfg_.max_ports)
    return fail(std::to_string(added_.size()) + " ports added already (max_ports)", 0,
                ExitCode::kBadInput);
  PortConfig pc;
  pc.name = name;
  pc.kind = topology::SwitchPort::Kind::kStream;
  pc.target = cfg_.dir + "/" + name + ".sock";
  pc.policy = policy;
  cfg_.ports.push_back(pc);
  if (auto s = open_declared(cfg_.ports.size() - 1); !s) {
    cfg_.ports.pop_back();
    return tl::unexpected(s.error());
  }
  added_.insert(name);
  log("port " + name + " added over the control socket: stream " + pc.target);
  return pc.target;
}

Status Daemon::remove_added_port(const std::string& name) {
  if (!added_.count(name))
    return fail(cfg_.find_port(name)
                    ? "port '" + name + "' comes from the switch's file: remove it there and reload"
                    : "no port '" + name + "' added over the control socket",
                0, ExitCode::kBadInput);
  close_declared(name);
  std::erase_if(cfg_.ports, [&](const PortConfig& pc) { return pc.name == name; });
  added_.erase(name);
  log("port " + name + " removed over the control socket");
  return {};
}

}  // namespace vnet::sw
