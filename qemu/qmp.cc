#include "qemu/qmp.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <thread>

namespace vnet::qemu {

namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

// poll()'s timeout for the time left, rounded up so a wait never spins at 0 ms
// before the deadline; 0 once it has passed.
int remaining_ms(Clock::time_point deadline) {
  auto left = deadline - Clock::now();
  if (left <= Clock::duration::zero()) return 0;
  auto ms = std::chrono::ceil<std::chrono::milliseconds>(left).count();
  return static_cast<int>(std::min<int64_t>(ms, 1 << 30));
}

// Negative means no wait; a day caps "forever" (Millis::max() would overflow the clock).
Millis bounded(Millis t) { return std::clamp(t, Millis::zero(), Millis(86'400'000)); }

tl::unexpected<Error> timed_out(std::string what) {
  return fail(std::move(what), ETIMEDOUT);
}

tl::unexpected<Error> protocol_error(std::string what) {
  return fail(std::move(what), EPROTO);
}

// A message quoted in an error, cut so a huge line does not flood the log.
std::string clip(std::string_view s) {
  constexpr size_t kMax = 200;
  if (s.size() <= kMax) return std::string(s);
  return std::string(s.substr(0, kMax)) + "...";
}

std::string dump(const json& j) {
  // replace: a user's string that is not UTF-8 must not throw out of the client
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string string_at(const json& obj, const char* key) {
  auto it = obj.find(key);
  return it != obj.end() && it->is_string() ? it->get<std::string>() : std::string();
}

int64_t int_at(const json& obj, const char* key) {
  auto it = obj.find(key);
  return it != obj.end() && it->is_number_integer() ? it->get<int64_t>() : 0;
}

}  // namespace

std::string QmpGreeting::version() const {
  return std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(micro);
}

Result<QmpClient> QmpClient::connect(const std::string& path, Millis timeout) {
  timeout = bounded(timeout);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof addr.sun_path)
    return fail("qmp: socket path '" + path + "' is empty or longer than " +
                    std::to_string(sizeof addr.sun_path - 1) + " bytes",
                ENAMETOOLONG, ExitCode::kBadInput);
  std::memcpy(addr.sun_path, path.data(), path.size());

  const auto deadline = Clock::now() + timeout;
  for (;;) {
    // Non-blocking: a unix connect() otherwise blocks while the listen backlog is full.
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!fd) return fail_errno("qmp: socket");
    if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0) {
      // Connected: the handshake gets the whole `timeout` of its own. QEMU answers once
      // its main loop runs, which under load can take long after the socket appeared;
      // giving up then and reconnecting would only wait for a second greeting.
      QmpClient c(std::move(fd));
      if (auto s = c.handshake(Clock::now() + timeout, timeout); !s)
        return tl::unexpected(s.error().context("qmp " + path));
      return c;
    }
    const int e = errno;
    // Absent or not yet listening: QEMU is still starting. Anything else will not heal.
    if (e != ENOENT && e != ECONNREFUSED && e != EAGAIN && e != EINTR)
      return fail("qmp: connect to " + path, e);
    if (Clock::now() >= deadline)
      return timed_out("qmp: " + path + " did not accept a connection within " +
                       std::to_string(timeout.count()) + " ms (last: " + std::strerror(e) +
                       ")");
    // A guest start waits on this: a failed connect is a cheap system call, a late one
    // is start time.
    std::this_thread::sleep_for(std::min(Millis(5), Millis(remaining_ms(deadline))));
  }
}

Result<QmpClient> QmpClient::attach(UniqueFd fd, Millis timeout) {
  timeout = bounded(timeout);
  if (!fd) return fail("qmp: attach to an invalid descriptor", EBADF);
  int flags = ::fcntl(fd.get(), F_GETFL);
  if (flags < 0 || ::fcntl(fd.get(), F_SETFL, flags | O_NONBLOCK) < 0)
    return fail_errno("qmp: make the socket non-blocking");
  QmpClient c(std::move(fd));
  if (auto s = c.handshake(Clock::now() + timeout, timeout); !s)
    return tl::unexpected(s.error().context("qmp"));
  return c;
}

Status QmpClient::handshake(Clock::time_point deadline, Millis budget) {
  auto msg = read_message(deadline);
  if (!msg) {
    Error e = msg.error();
    // QEMU serves one monitor client at a time: a second one is accepted by the kernel
    // but never greeted.
    if (e.err == ETIMEDOUT)
      e.what = "no greeting within " + std::to_string(budget.count()) +
               " ms (is another client connected?)";
    else
      e.context("waiting for the greeting");
    return tl::unexpected(e);
  }
  auto it = msg->find("QMP");
  if (it == msg->end() || !it->is_object())
    return protocol_error("expected the QMP greeting, got: " + clip(dump(*msg)));
  const json& qmp = *it;
  if (auto v = qmp.find("version"); v != qmp.end() && v->is_object()) {
    if (auto q = v->find("qemu"); q != v->end() && q->is_object()) {
      greeting_.major = static_cast<int>(int_at(*q, "major"));
      greeting_.minor = static_cast<int>(int_at(*q, "minor"));
      greeting_.micro = static_cast<int>(int_at(*q, "micro"));
    }
    greeting_.package = string_at(*v, "package");
  }
  if (auto caps = qmp.find("capabilities"); caps != qmp.end() && caps->is_array())
    for (const auto& c : *caps)
      if (c.is_string()) greeting_.capabilities.push_back(c.get<std::string>());

  // Until qmp_capabilities, QEMU refuses every other command.
  auto r = call_until("qmp_capabilities", nullptr, deadline, budget);
  if (!r) return tl::unexpected(r.error());
  if (!r->ok)
    return fail("qmp qmp_capabilities: " + r->error.cls + ": " + r->error.desc);
  return {};
}

Result<QmpReply> QmpClient::call(const std::string& cmd, const json& args, Millis timeout) {
  timeout = bounded(timeout);
  return call_until(cmd, args, Clock::now() + timeout, timeout);
}

Result<QmpReply> QmpClient::call_until(const std::string& cmd, const json& args,
                                       Clock::time_point deadline, Millis budget) {
  const std::string ctx = "qmp " + cmd;
  if (!args.is_null() && !args.is_object())
    return fail(ctx + ": arguments must be a JSON object, not " + clip(dump(args)), EINVAL,
                ExitCode::kBadInput);
  if (closed_) return tl::unexpected(closed_error().context(ctx));

  const json id = next_id_++;
  json req = {{"execute", cmd}, {"id", id}};
  if (!args.is_null()) req["arguments"] = args;
  if (auto s = write_line(dump(req) + "\n", deadline); !s)
    return tl::unexpected(s.error().context(ctx));

  for (;;) {
    auto msg = read_message(deadline);
    if (!msg) {
      Error e = msg.error();
      if (e.err == ETIMEDOUT) e.what = "no reply within " + std::to_string(budget.count()) + " ms";
      return tl::unexpected(e.context(ctx));
    }
    if (!queue_if_event(*msg)) {
      const bool has_ret = msg->contains("return");
      const bool has_err = msg->contains("error");
      if (!has_ret && !has_err)
        return protocol_error(ctx + ": unexpected message from QEMU: " + clip(dump(*msg)));
      auto mid = msg->find("id");
      // QEMU echoes the id of every request it could parse; an error without an id is
      // its answer to a request it could not read at all, i.e. to ours (one at a time).
      const bool ours = mid != msg->end() ? *mid == id : has_err;
      if (ours) {
        QmpReply reply;
        if (has_err) {
          const json& err = (*msg)["error"];
          reply.ok = false;
          if (err.is_object()) {
            reply.error.cls = string_at(err, "class");
            reply.error.desc = string_at(err, "desc");
          }
          if (reply.error.cls.empty()) reply.error.cls = "GenericError";
        } else {
          reply.ret = (*msg)["return"];
        }
        return reply;
      }
      // A reply with another id answers a command that timed out earlier: drop it.
    }
    // Bounded even when QEMU floods us: past the deadline, only lines already read count.
    if (Clock::now() >= deadline && !has_line())
      return timed_out(ctx + ": no reply within " + std::to_string(budget.count()) + " ms");
  }
}

Result<json> QmpClient::execute(const std::string& cmd, const json& args, Millis timeout) {
  auto r = call(cmd, args, timeout);
  if (!r) return tl::unexpected(r.error());
  if (!r->ok) return fail("qmp " + cmd + ": " + r->error.cls + ": " + r->error.desc);
  return std::move(r->ret);
}

Result<QmpEvent> QmpClient::wait_event(const std::string& name, Millis timeout) {
  timeout = bounded(timeout);
  auto matches = [&](const QmpEvent& e) { return name.empty() || e.name == name; };
  if (auto it = std::find_if(events_.begin(), events_.end(), matches); it != events_.end()) {
    QmpEvent e = std::move(*it);
    events_.erase(it);
    return e;
  }
  const std::string what = name.empty() ? std::string("event") : name + " event";
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    auto msg = read_message(deadline);
    if (!msg) {
      Error e = msg.error();
      if (e.err == ETIMEDOUT) e.what = "no " + what + " within " + std::to_string(timeout.count()) + " ms";
      return tl::unexpected(e.context("qmp: waiting for " + what));
    }
    if (queue_if_event(*msg) && matches(events_.back())) {
      QmpEvent e = std::move(events_.back());
      events_.pop_back();
      return e;
    }
    // Not an event: a late reply to a command that timed out; nobody awaits it.
    if (Clock::now() >= deadline && !has_line())
      return timed_out("qmp: no " + what + " within " + std::to_string(timeout.count()) + " ms");
  }
}

std::vector<QmpEvent> QmpClient::take_events() {
  // One read of what is readable now, then only the complete lines it brought: a peer
  // that floods cannot keep us here. Errors (closed, malformed) end the drain;
  // closed() tells the caller about the former.
  const auto now = Clock::now();
  do {
    auto msg = read_message(now);
    if (!msg) break;
    queue_if_event(*msg);  // anything else is a late reply nobody awaits
  } while (has_line());
  std::vector<QmpEvent> out(std::make_move_iterator(events_.begin()),
                            std::make_move_iterator(events_.end()));
  events_.clear();
  return out;
}

Result<std::string> QmpClient::query_status(Millis timeout) {
  auto r = execute("query-status", nullptr, timeout);
  if (!r) return tl::unexpected(r.error());
  if (!r->is_object() || !(*r)["status"].is_string())
    return protocol_error("qmp query-status: no status in " + clip(dump(*r)));
  return (*r)["status"].get<std::string>();
}

Status QmpClient::system_powerdown(Millis timeout) {
  auto r = execute("system_powerdown", nullptr, timeout);
  if (!r) return tl::unexpected(r.error());
  return {};
}

Status QmpClient::quit(Millis timeout) {
  auto r = call("quit", nullptr, timeout);
  if (r && !r->ok) return fail("qmp quit: " + r->error.cls + ": " + r->error.desc);
  // QEMU may close the socket before its reply is flushed: gone is what quit asked for.
  if (!r && !closed_) return tl::unexpected(r.error());
  return {};
}

Status QmpClient::write_line(const std::string& line, Clock::time_point deadline) {
  size_t off = 0;
  while (off < line.size()) {
    // MSG_NOSIGNAL: QEMU gone must be an Error here, not SIGPIPE killing vnet.
    ssize_t n = ::send(fd_.get(), line.data() + off, line.size() - off, MSG_NOSIGNAL);
    if (n > 0) {
      off += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EPIPE || errno == ECONNRESET)) {
      closed_ = true;
      close_err_ = errno;
      return tl::unexpected(closed_error());
    }
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) return fail_errno("send");
    pollfd p{fd_.get(), POLLOUT, 0};
    int r = ::poll(&p, 1, remaining_ms(deadline));
    if (r < 0 && errno != EINTR) return fail_errno("poll");
    if (r == 0) return timed_out("QEMU does not read its socket");
  }
  return {};
}

Result<json> QmpClient::read_message(Clock::time_point deadline) {
  for (;;) {
    if (size_t nl = rbuf_.find('\n'); nl != std::string::npos) {
      std::string line = rbuf_.substr(0, nl);
      rbuf_.erase(0, nl + 1);
      // QEMU ends lines with "\r\n".
      while (!line.empty() && std::isspace(static_cast<unsigned char>(line.back())))
        line.pop_back();
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      json msg;
      try {
        msg = json::parse(line);
      } catch (const json::exception& e) {
        // The line is consumed: the stream stays in step at the next newline.
        return protocol_error("malformed message from QEMU (" + std::string(e.what()) +
                              "): " + clip(line));
      }
      if (!msg.is_object())
        return protocol_error("message from QEMU is not a JSON object: " + clip(line));
      return msg;
    }
    if (closed_) return tl::unexpected(closed_error());
    if (rbuf_.size() > kMaxLine) {
      // No newline in sight: the stream cannot be resynchronised, so give it up.
      rbuf_.clear();
      closed_ = true;
      fd_.reset();
      return protocol_error("QEMU sent a line longer than " + std::to_string(kMaxLine) +
                            " bytes; connection dropped");
    }
    pollfd p{fd_.get(), POLLIN, 0};
    int r = ::poll(&p, 1, remaining_ms(deadline));
    if (r < 0) {
      if (errno == EINTR) continue;
      return fail_errno("poll");
    }
    if (r == 0) return timed_out("timed out");
    char buf[65536];
    ssize_t n = ::recv(fd_.get(), buf, sizeof buf, 0);
    if (n > 0) {
      rbuf_.append(buf, static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)) continue;
    if (n < 0 && errno != ECONNRESET) return fail_errno("recv");
    closed_ = true;
    close_err_ = n < 0 ? errno : 0;
    // Complete lines still buffered are delivered first; the next call reports the close.
  }
}

bool QmpClient::queue_if_event(const json& msg) {
  auto it = msg.find("event");
  if (it == msg.end() || !it->is_string()) return false;
  QmpEvent ev;
  ev.name = it->get<std::string>();
  if (auto d = msg.find("data"); d != msg.end() && d->is_object()) {
    ev.data = *d;
    ev.reason = string_at(*d, "reason");
    if (auto g = d->find("guest"); g != d->end() && g->is_boolean()) ev.guest = g->get<bool>();
  }
  if (auto t = msg.find("timestamp"); t != msg.end() && t->is_object()) {
    ev.seconds = int_at(*t, "seconds");
    ev.microseconds = int_at(*t, "microseconds");
  }
  // Nobody may be taking events (a guest running for weeks): keep the newest.
  if (events_.size() >= kMaxQueuedEvents) {
    events_.pop_front();
    ++dropped_events_;
  }
  events_.push_back(std::move(ev));
  return true;
}

Error QmpClient::closed_error() const {
  return Error{close_err_, "connection to QEMU closed (QEMU exited?)", {}, {},
               ExitCode::kFailed};
}

}  // namespace vnet::qemu
