// A QMP (QEMU Machine Protocol) client over a unix stream socket, for the `vnet guest`
// QEMU backend: connect while QEMU is still creating its socket, read the greeting,
// negotiate capabilities, run commands and collect asynchronous events.
//
// The wire format is newline-delimited JSON objects. Every command carries an id and
// only the reply with that id answers it, so a late reply to a command that timed out
// cannot be taken for the answer to the next one. Events that arrive while a reply is
// awaited are queued and handed out by wait_event(). Every wait has a deadline: QEMU
// that hangs, exits or writes garbage gives an Error, never a blocked caller.
//
// One owner, one thread: the client does no locking.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/error.h"
#include "base/unique_fd.h"

namespace vnet::qemu {

using Millis = std::chrono::milliseconds;

// Defaults sized for a loaded 2-core machine running TCG guests: QEMU's monitor answers
// in milliseconds, but its start-up (socket creation) can take seconds there.
inline constexpr Millis kQmpConnectTimeout{10000};  // socket appears + greeting + caps
inline constexpr Millis kQmpCommandTimeout{10000};  // one command's reply

// An asynchronous message: {"event": NAME, "data": {...}, "timestamp": {...}}.
struct QmpEvent {
  std::string name;  // "SHUTDOWN", "POWERDOWN", "STOP", "RESUME", ...
  nlohmann::json data = nlohmann::json::object();  // {} when QEMU sent none
  int64_t seconds = 0, microseconds = 0;            // QEMU's timestamp (host clock)
  // SHUTDOWN and RESET carry who asked and why: reason "host-qmp-quit",
  // "guest-shutdown", "host-signal", ...; guest is true when the guest asked.
  std::string reason;
  bool guest = false;
};

// The error object of a reply: {"error": {"class": ..., "desc": ...}}.
struct QmpError {
  std::string cls;   // "GenericError", "CommandNotFound", "DeviceNotFound", ...
  std::string desc;  // QEMU's human-readable text
};

// A command's outcome as QEMU sent it: either `ret` (the "return" value) or `error`.
struct QmpReply {
  nlohmann::json ret;  // null when QEMU answered with an error
  bool ok = true;
  QmpError error;      // when !ok
};

struct QmpGreeting {
  int major = 0, minor = 0, micro = 0;
  std::string package;                    // "Debian 1:7.2+dfsg-7..."
  std::vector<std::string> capabilities;  // offered by QEMU; we enable none of them
  std::string version() const;            // "7.2.22"
};

class QmpClient {
 public:
  // Connects to the socket at `path`, retrying while it is absent or refuses (QEMU has
  // not created or not yet listened on it), then reads the greeting and sends
  // qmp_capabilities. `timeout` bounds the wait for the socket, and then the greeting and
  // qmp_capabilities, each.
  static Result<QmpClient> connect(const std::string& path,
                                   Millis timeout = kQmpConnectTimeout);
  // The same handshake over a socket that is already connected: a socketpair whose
  // other end QEMU inherited as `-chardev socket,id=qmp,fd=N -mon chardev=qmp,mode=control`
  // (checked with QEMU 7.2; no socket path, no race with QEMU's start), or a test's
  // fake server.
  static Result<QmpClient> attach(UniqueFd fd, Millis timeout = kQmpConnectTimeout);

  QmpClient(QmpClient&&) = default;
  QmpClient& operator=(QmpClient&&) = default;

  // Runs `cmd` with `args` (an object, or null for none). The transport's failures
  // (timeout: err ETIMEDOUT; connection closed; malformed message: err EPROTO) are
  // Errors; an error QEMU answered with is a QmpReply with ok == false.
  Result<QmpReply> call(const std::string& cmd, const nlohmann::json& args = nullptr,
                        Millis timeout = kQmpCommandTimeout);
  // call(), with QEMU's error answer turned into an Error too:
  // "qmp CMD: CLASS: DESC". Returns the "return" value.
  Result<nlohmann::json> execute(const std::string& cmd,
                                 const nlohmann::json& args = nullptr,
                                 Millis timeout = kQmpCommandTimeout);

  // The first queued event named `name` (any event when empty), else the first such
  // event to arrive within `timeout`. Other events meanwhile stay queued in order.
  // Zero timeout: only what is queued or already readable.
  Result<QmpEvent> wait_event(const std::string& name, Millis timeout);
  // Reads what is already readable (no wait), then hands over every queued event.
  std::vector<QmpEvent> take_events();

  // query-status: "running", "paused", "shutdown", "inmigrate", "prelaunch", ...
  Result<std::string> query_status(Millis timeout = kQmpCommandTimeout);
  // Presses the ACPI power button; the guest decides. Watch for SHUTDOWN with
  // wait_event() and fall back to quit() when it does not come.
  Status system_powerdown(Millis timeout = kQmpCommandTimeout);
  // Asks QEMU to exit. Succeeds when QEMU acknowledges or the connection closes
  // first (QEMU may exit before its reply is flushed). QEMU's SHUTDOWN event
  // (reason "host-qmp-quit") is queued if it arrived.
  Status quit(Millis timeout = kQmpCommandTimeout);

  const QmpGreeting& greeting() const { return greeting_; }
  // True once the connection was seen closed (QEMU exited, or a protocol violation
  // made the stream unusable). Every later call fails at once.
  bool closed() const { return closed_; }
  // Events dropped because the queue was full (nobody took them).
  uint64_t dropped_events() const { return dropped_events_; }

  // Limits that keep a misbehaving peer from growing our memory without bound.
  static constexpr size_t kMaxLine = 16 << 20;  // query-qmp-schema is ~0.5 MiB
  static constexpr size_t kMaxQueuedEvents = 4096;

 private:
  using Clock = std::chrono::steady_clock;
  explicit QmpClient(UniqueFd fd) : fd_(std::move(fd)) {}

  Status handshake(Clock::time_point deadline, Millis budget);
  Result<QmpReply> call_until(const std::string& cmd, const nlohmann::json& args,
                              Clock::time_point deadline, Millis budget);
  Status write_line(const std::string& line, Clock::time_point deadline);
  // The next JSON object from the socket, waiting no later than `deadline`.
  Result<nlohmann::json> read_message(Clock::time_point deadline);
  // Files an event into the queue; false when `msg` is not an event.
  bool queue_if_event(const nlohmann::json& msg);
  bool has_line() const { return rbuf_.find('\n') != std::string::npos; }
  Error closed_error() const;

  UniqueFd fd_;
  std::string rbuf_;  // bytes read but not yet a complete line
  std::deque<QmpEvent> events_;
  uint64_t dropped_events_ = 0;
  int64_t next_id_ = 1;
  bool closed_ = false;
  int close_err_ = 0;  // errno when the close was an error (ECONNRESET), else 0
  QmpGreeting greeting_;
};

}  // namespace vnet::qemu
