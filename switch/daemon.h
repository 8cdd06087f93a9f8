// `vnet switch NAME`: the event loop. It owns the ports and listeners, reads a batch of
// frames from a ready port, asks the Forwarder where each goes, writes them (pushing or
// popping the VLAN tag by splitting iovecs), and flushes every port it queued to before
// reading again. It also serves the VDE handshake on DIR/ctl, stream listeners, the
// JSON control sockets DIR/control and DIR/query, SIGHUP (reload: ports added, removed, VLANs changed), SIGTERM/SIGINT (stop,
// remove sockets) and a 1 s timer (FDB aging, sd_notify STATUS=).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/error.h"
#include "base/journal.h"
#include "base/unique_fd.h"
#include "switch/config.h"
#include "switch/control_proto.h"
#include "switch/forwarder.h"
#include "switch/port.h"

namespace vnet::sw {

// Bounds on clients that hold descriptors without moving frames (daemon_limits.cc).
inline constexpr std::chrono::seconds kClientIdle{10};  // VDE handshake, control connection
inline constexpr size_t kMaxVdePending = 64;            // handshakes in progress
inline constexpr size_t kMaxControlConns = 32;          // on DIR/control, and on DIR/query


struct DaemonOptions {
  // Re-reads the configuration on SIGHUP; unset: SIGHUP is ignored.
  std::function<Result<SwitchConfig>()> reload;
  // Diagnostics (one line each, no newline); default: stderr.
  std::function<void(const std::string&)> log;
};

class Daemon {
 public:
  ~Daemon();
  // Creates the socket folder and every declared port and listener; nothing runs yet.
  static Result<std::unique_ptr<Daemon>> create(SwitchConfig config, DaemonOptions options);
  // Serves until SIGTERM or SIGINT; sd_notify READY=1 once listening.
  Status run();

  // The control protocol's view (control.cc).
  nlohmann::json ports_json() const;
  nlohmann::json fdb_json() const;
  nlohmann::json stats_json() const;
  // `port`: a named port, or a port number. Applies to every live port of that name.
  Status set_port_vlan(const std::string& port, const VlanPolicy& policy);
  // A stream port at DIR/NAME.sock with `policy`, for a guest started after the switch
  // (`vnet guest start`); its path. A stream port of that name already there takes the
  // policy and is answered as is, so a second start of the guest changes nothing else.
  Result<std::string> add_stream_port(const std::string& name, const VlanPolicy& policy);
  // Closes a port add_stream_port opened (its socket and connections); ports from the
  // file are the file's: removed by editing it and SIGHUP.
  Status remove_added_port(const std::string& name);

 private:
  // What an epoll event is about: the kind in the upper 32 bits, an fd or port id below.
  enum Token : uint32_t {
    kSignal = 1,
    kTimer,
    kVdeCtl,
    kVdePending,
    kStreamListen,
    kControlListen,
    kControlConn,
    kPortData,
    kPortAux,
  };
  static uint64_t token(Token t, uint32_t v = 0) { return uint64_t(t) << 32 | v; }

  explicit Daemon(SwitchConfig config, DaemonOptions options);
  Status setup();
  Status watch(int fd, uint32_t events, uint64_t token);
  void unwatch(int fd);
  Result<PortId> alloc_port(uint32_t requested);
  Status attach(std::unique_ptr<Port> port, PortId id, const PortConfig* cfg);
  void detach(PortId id, const std::string& why);
  void update_offloads();
  void on_port_readable(PortId id);
  void execute(const RxFrame& f, size_t slot, const Decision& d);
  void emit(Port& out, const RxFrame& f, size_t slot, const Decision& d, bool tagged_out);
  void flush_dirty();
  void arm_write(PortId id);
  // daemon_limits.cc: what bounds the descriptors clients can make the switch hold.
  UniqueFd accept_client(int listen_fd, uint64_t listen_token);
  void rest(int listen_fd, uint64_t listen_token);
  void tally(const std::string& what, uint64_t n = 1);  // logged on the next tick, counted
  void on_tick_limits(TimePoint now);
  void accept_vde();
  void handle_vde_request(int fd);
  void accept_stream(int listener_fd);
  void accept_control(int listen_fd);
  std::string change_refusal(int conn_fd) const;
  void handle_control(int fd, uint32_t events);
  void on_signal();
  void on_timer();
  Status open_declared(size_t index);
  void close_declared(const std::string& name);
  const PortConfig* config_of(const Port& p) const;
  bool is_open(const PortConfig& pc) const;
  void reload();
  void notify_status();
  void log(const std::string& line, Priority priority = Priority::kInfo) const;

  struct StreamListener {
    UniqueFd fd;
    std::string path;
    std::string name;  // of the declared port

  };
  struct VdePending {
    UniqueFd fd;
    TimePoint since;  // a handshake not sent within kClientIdle is dropped
  };
  struct ControlConn {
    UniqueFd fd;
    TimePoint last;  // last request or progress sending; idle past kClientIdle: closed
    bool query;      // on DIR/query (else DIR/control)
    ControlLines in;
    std::string out;             // answers not yet sent: nothing more is read meanwhile
    std::string refuse_changes;  // why this client may not change the switch ("": it may)
  };
  // Per frame of a batch: bytes the iovecs may point at until the batch is flushed.
  struct Scratch {
    uint8_t tag[4];
    VnetHdr hdr[3];        // for tag delta -4, 0, +4
    bool hdr_ready[3];
    std::vector<uint8_t> copy;  // frame with its checksum completed (non-vnet ports)
    bool copy_ready;
  };

  SwitchConfig cfg_;
  DaemonOptions opts_;
  Forwarder fwd_;
  UniqueFd epoll_, signal_, timer_, vde_ctl_, control_, query_;
  std::map<int, StreamListener> stream_listeners_;  // by fd
  std::map<int, VdePending> vde_pending_;
  std::map<int, ControlConn> control_conns_;
  std::set<std::string> added_;  // ports add_stream_port opened that the file does not declare
  std::vector<std::unique_ptr<Port>> ports_;     // by PortId; null = free
  std::vector<bool> dirty_flag_;
  std::vector<PortId> dirty_;
  std::vector<bool> pending_flag_;
  std::vector<PortId> pending_;  // ports with frames already read, not yet forwarded
  UniqueFd reserve_;  // given up to accept-and-close a client when out of descriptors
  std::vector<std::pair<int, uint64_t>> resting_;  // listeners (fd, token) off until the tick
  std::map<std::string, uint64_t> tally_;          // refusals and closes since the tick
  bool offload_ = false;
  bool stop_ = false;
  bool created_dir_ = false;
  unsigned long long vde_seq_ = 0;  // names clients' data sockets DIR/PORT.SEQ
  RxArena arena_;
  std::vector<RxFrame> rx_;
  Decision decision_;
  std::vector<Scratch> scratch_;
  std::string last_status_;
  uint64_t gso_drops_ = 0;
};

}  // namespace vnet::sw
