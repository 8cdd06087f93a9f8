// The QMP client against a fake QEMU: a thread on the other end of a socketpair (or of
// a unix socket in a temp folder, for connect()) that plays a script of raw bytes, so
// the tests control framing, ordering, silence and hang-ups exactly.
#include "qemu/qmp.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace vnet::qemu {
namespace {

using json = nlohmann::json;
using ::testing::HasSubstr;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr const char* kGreeting =
    R"({"QMP": {"version": {"qemu": {"micro": 22, "minor": 2, "major": 7}, )"
    R"("package": "Debian 1:7.2+dfsg-7"}, "capabilities": ["oob"]}})"
    "\r\n";

int64_t ms_since(Clock::time_point t0) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count();
}

// QEMU's side of the connection. Every read has a deadline, so a script waiting for a
// request the client never sends ends instead of hanging the suite.
class Peer {
 public:
  explicit Peer(UniqueFd fd) : fd_(std::move(fd)) {}

  void send(std::string_view bytes) {
    while (!bytes.empty()) {
      ssize_t n = ::send(fd_.get(), bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n <= 0) return;  // the client hung up; the test body checks what it saw
      bytes.remove_prefix(static_cast<size_t>(n));
    }
  }
  void send_json(const json& j) { send(j.dump() + "\r\n"); }

  // The next request line, or nullopt on timeout or EOF.
  std::optional<json> read_request(std::chrono::milliseconds timeout = 5000ms) {
    const auto deadline = Clock::now() + timeout;
    for (;;) {
      if (size_t nl = buf_.find('\n'); nl != std::string::npos) {
        std::string line = buf_.substr(0, nl);
        buf_.erase(0, nl + 1);
        return json::parse(line);
      }
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left <= 0ms) return std::nullopt;
      pollfd p{fd_.get(), POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return std::nullopt;
      char b[4096];
      ssize_t n = ::recv(fd_.get(), b, sizeof b, 0);
      if (n <= 0) return std::nullopt;
      buf_.append(b, static_cast<size_t>(n));
    }
  }

  // Reads a request for `cmd` and returns its id (null when none came).
  json expect(const std::string& cmd) {
    auto req = read_request();
    EXPECT_TRUE(req.has_value()) << "no '" << cmd << "' request";
    if (!req) return nullptr;
    EXPECT_EQ((*req)["execute"], cmd);
    EXPECT_TRUE(req->contains("id")) << req->dump();
    last_request = *req;
    return req->value("id", json(nullptr));
  }

  // Greeting and the qmp_capabilities exchange, as QEMU does.
  void handshake() {
    send(kGreeting);
    json id = expect("qmp_capabilities");
    send_json({{"return", json::object()}, {"id", id}});
  }

  // Waits (bounded) until the client closes its end, so the script's end does not
  // close the socket under a test that is still reading.
  void wait_for_client_close(std::chrono::milliseconds timeout = 5000ms) {
    while (read_request(timeout)) {
    }
  }

  void close() { fd_.reset(); }
  int fd() const { return fd_.get(); }

  json last_request;

 private:
  UniqueFd fd_;
  std::string buf_;
};

// A fake QEMU on a socketpair running `script` in a thread, joined on destruction.
class FakeQemu {
 public:
  explicit FakeQemu(std::function<void(Peer&)> script) {
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) std::abort();
    client_.reset(sv[0]);
    thread_ = std::thread([script = std::move(script), fd = sv[1]] {
      Peer peer{UniqueFd(fd)};
      script(peer);
    });
  }
  ~FakeQemu() { join(); }
  // Waits for the script to end; what it recorded may be read after this.
  void join() {
    if (thread_.joinable()) thread_.join();
  }

  UniqueFd take_client() { return std::move(client_); }

 private:
  UniqueFd client_;
  std::thread thread_;
};

// Attaches with the handshake done; fails the test when it cannot.
std::optional<QmpClient> attached(FakeQemu& fake) {
  auto c = QmpClient::attach(fake.take_client(), 5000ms);
  EXPECT_TRUE(c.has_value()) << c.error().str();
  if (!c) return std::nullopt;
  return std::move(*c);
}

TEST(Qmp, HandshakeReadsGreetingAndSendsCapabilitiesFirst) {
  json first_request;
  FakeQemu fake([&](Peer& p) {
    p.send(kGreeting);
    json id = p.expect("qmp_capabilities");
    first_request = p.last_request;
    p.send_json({{"return", json::object()}, {"id", id}});
    id = p.expect("query-status");
    p.send_json({{"return", {{"status", "running"}, {"singlestep", false}, {"running", true}}},
                 {"id", id}});
    p.wait_for_client_close();
  });
  {
    auto c = attached(fake);
    ASSERT_TRUE(c);
    EXPECT_EQ(c->greeting().version(), "7.2.22");
    EXPECT_EQ(c->greeting().package, "Debian 1:7.2+dfsg-7");
    EXPECT_THAT(c->greeting().capabilities, ::testing::ElementsAre("oob"));
    auto st = c->query_status();
    ASSERT_TRUE(st) << st.error().str();
    EXPECT_EQ(*st, "running");
  }
  fake.join();
  EXPECT_FALSE(first_request.contains("arguments")) << first_request.dump();
}

TEST(Qmp, ArgumentsAreSentAndReturnValueHandedBack) {
  json seen;
  FakeQemu fake([&](Peer& p) {
    p.handshake();
    json id = p.expect("device_del");
    seen = p.last_request;
    p.send_json({{"id", id}, {"return", {{"answer", 42}}}});
    p.wait_for_client_close();
  });
  {
    auto c = attached(fake);
    ASSERT_TRUE(c);
    auto r = c->execute("device_del", {{"id", "nic0"}});
    ASSERT_TRUE(r) << r.error().str();
    EXPECT_EQ((*r)["answer"], 42);
    // Not an object: refused before anything is sent.
    auto bad = c->execute("device_del", json::array({1, 2}));
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().exit, ExitCode::kBadInput);
  }
  fake.join();
  EXPECT_EQ(seen["arguments"], json({{"id", "nic0"}}));
}

TEST(Qmp, EventsBeforeTheReplyAreQueuedAndStaleRepliesDropped) {
  FakeQemu fake([&](Peer& p) {
    p.handshake();
    json id = p.expect("query-status");
    p.send_json({{"event", "STOP"}, {"timestamp", {{"seconds", 5}, {"microseconds", 7}}}});
    // An answer to some other command (one that timed out earlier): not ours.
    p.send_json({{"return", {{"status", "WRONG"}}}, {"id", 999}});
    p.send_json({{"event", "SHUTDOWN"},
                 {"data", {{"guest", true}, {"reason", "guest-shutdown"}}},
                 {"timestamp", {{"seconds", 6}, {"microseconds", 0}}}});
    p.send_json({{"event", "RESUME"}});
    p.send_json({{"return", {{"status", "paused"}, {"running", false}}}, {"id", id}});
    p.wait_for_client_close();
  });
  auto c = attached(fake);
  ASSERT_TRUE(c);
  auto st = c->query_status();
  ASSERT_TRUE(st) << st.error().str();
  EXPECT_EQ(*st, "paused");

  // Out of order by name, from the queue, with no wait.
  auto down = c->wait_event("SHUTDOWN", 0ms);
  ASSERT_TRUE(down) << down.error().str();
  EXPECT_EQ(down->reason, "guest-shutdown");
  EXPECT_TRUE(down->guest);
  EXPECT_EQ(down->seconds, 6);
  auto rest = c->take_events();
  ASSERT_EQ(rest.size(), 2u);
  EXPECT_EQ(rest[0].name, "STOP");
  EXPECT_EQ(rest[0].seconds, 5);
  EXPECT_EQ(rest[0].microseconds, 7);
  EXPECT_TRUE(rest[0].data.is_object() && rest[0].data.empty());
  EXPECT_EQ(rest[1].name, "RESUME");
  EXPECT_TRUE(c->take_events().empty());
}

TEST(Qmp, ErrorReplyIsAnErrorWithClassAndDesc) {
  FakeQemu fake([&](Peer& p) {
    p.handshake();
    json id = p.expect("nosuch");
    p.send_json({{"id", id},
                 {"error", {{"class", "CommandNotFound"},
                            {"desc", "The command nosuch has not been found"}}}});
    id = p.expect("nosuch");
    p.send_json({{"id", id},
                 {"error", {{"class", "CommandNotFound"},
                            {"desc", "The command nosuch has not been found"}}}});
    id = p.expect("query-status");
    p.send_json({{"id", id}, {"return", {{"status", "running"}}}});
    p.wait_for_client_close();
  });
  auto c = attached(fake);
  ASSERT_TRUE(c);
  auto r = c->execute("nosuch");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().str(), "qmp nosuch: CommandNotFound: The command nosuch has not been found");
  auto raw = c->call("nosuch");
  ASSERT_TRUE(raw) << raw.error().str();
  EXPECT_FALSE(raw->ok);
  EXPECT_EQ(raw->error.cls, "CommandNotFound");
  EXPECT_EQ(raw->error.desc, "The command nosuch has not been found");
  // An error answer leaves the connection usable.
  auto st = c->query_status();
  ASSERT_TRUE(st) << st.error().str();
  EXPECT_EQ(*st, "running");
}

TEST(Qmp, ErrorWithoutIdAnswersTheCommandInFlight) {
  // QEMU answers a request it cannot parse with an error that has no id.
  FakeQemu fake([&](Peer& p) {
    p.handshake();
    p.expect("query-status");
    p.send(R"({"error": {"class": "GenericError", "desc": "JSON parse error"}})" "\r\n");
    p.wait_for_client_close();
  });
  auto c = attached(fake);
  ASSERT_TRUE(c);
  auto r = c->query_status();
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().what, HasSubstr("GenericError: JSON parse error"));
}

TEST(Qmp, NoReplyTimesOutWithinTheBound) {
  FakeQemu fake([&](Peer& p) {
    p.handshake();
    p.expect("query-status");
    p.wait_for_client_close();  // silence
  });
  auto c = attached(fake);
  ASSERT_TRUE(c);
  auto t0 = Clock::now();
  auto r = c->query_status(300ms);
  auto took = ms_since(t0);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().err, ETIMEDOUT);
  EXPECT_THAT(r.error().what, HasSubstr("qmp query-status: no reply within 300 ms"));
  EXPECT_GE(took, 290);
  EXPECT_LT(took, 3000);
  EXPECT_FALSE(c->closed());
}

TEST(Qmp, AFloodOfEventsDoesNotStretchTheTimeout) {
  FakeQemu fake([&](Peer& p) {
    p.handshake();
    p.expect("query-status");
    // Events without pause and never the reply, until the client hangs up (or 5 s).
    // Long events: the kernel copies them faster than the client parses them, so the
    // socket stays readable past the client's deadline.
    const std::string ev =
        json({{"event", "BLOB"}, {"data", {{"blob", std::string(16000, 'x')}}}}).dump() + "\n";
    std::string burst;
    for (int i = 0; i < 8; ++i) burst += ev;
    const auto stop = Clock::now() + 5s;
    while (Clock::now() < stop) {
      if (::send(p.fd(), burst.data(), burst.size(), MSG_NOSIGNAL) < 0) break;
    }
  });
  {
    auto c = attached(fake);
    ASSERT_TRUE(c);
    auto t0 = Clock::now();
    auto r = c->query_status(300ms);
    EXPECT_LT(ms_since(t0), 2000);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().err, ETIMEDOUT);
    t0 = Clock::now();
    auto ev = c->wait_event("SHUTDOWN", 300ms);
    EXPECT_LT(ms_since(t0), 2000);
    ASSERT_FALSE(ev);
    EXPECT_EQ(ev.error().err, ETIMEDOUT);
  }
}

TEST(Qmp, LateReplyToATimedOutCommandDoesNotAnswerTheNext) {
  FakeQemu fake([&](Peer& p) {
    p.handshake();
    json first = p.expect("query-status");
    json second = p.expect("query-status");  // sent after the first timed out
    p.send_json({{"return", {{"status", "late"}}}, {"id", first}});
    p.send_json({{"return", {{"status", "prelaunch"}}}, {"id", second}});
    EXPECT_NE(first, second);
    p.wait_for_client_close();
  });
  auto c = attached(fake);
  ASSERT_TRUE(c);
  auto r1 = c->query_status(200ms);
  ASSERT_FALSE(r1);
  EXPECT_EQ(r1.error().err, ETIMEDOUT);
  auto r2 = c->query_status(5000ms);
  ASSERT_TRUE(r2) << r2.error().str();
  EXPECT_EQ(*r2, "prelaunch");
}

TEST(Qmp, ServerClosingMidCommandIsAnErrorAtOnce) {
  FakeQemu fake([&](Peer& p) {
    p.handshake();
    p.expect("query-status");
    p.send(R"({"return": {"sta)");  // half a reply, then QEMU is gone
    p.close();
  });
  auto c = attached(fake);
  ASSERT_TRUE(c);
  auto t0 = Clock::now();
  auto r = c->query_status(10000ms);
  ASSERT_FALSE(r);
  EXPECT_LT(ms_since(t0), 3000) << "must not wait for the timeout";
  EXPECT_THAT(r.error().what, HasSubstr("qmp query-status: connection to QEMU closed"));
  EXPECT_TRUE(c->closed());
  // Later calls fail at once, without writing to a dead socket.
  t0 = Clock::now();
  auto again = c->execute("query-status", nullptr, 10000ms);
  ASSERT_FALSE(again);
  EXPECT_THAT(again.error().what, HasSubstr("closed"));
  auto ev = c->wait_event("SHUTDOWN", 10000ms);
  ASSERT_FALSE(ev);
  EXPECT_THAT(ev.error().what, HasSubstr("closed"));
  EXPECT_LT(ms_since(t0), 3000);
}

TEST(Qmp, ServerClosingBeforeTheGreetingFailsAttach) {
  FakeQemu fake([&](Peer& p) { p.close(); });
  auto c = QmpClient::attach(fake.take_client(), 10000ms);
  ASSERT_FALSE(c);
  EXPECT_THAT(c.error().what, HasSubstr("closed"));
}

TEST(Qmp, MissingGreetingTimesOut) {
  FakeQemu fake([&](Peer& p) { p.wait_for_client_close(); });
  auto t0 = Clock::now();
  auto c = QmpClient::attach(fake.take_client(), 300ms);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().err, ETIMEDOUT);
  EXPECT_THAT(c.error().what, HasSubstr("no greeting within 300 ms"));
  EXPECT_LT(ms_since(t0), 3000);
}

TEST(Qmp, SeveralMessagesInOneWrite) {
  FakeQemu fake([&](Peer& p) {
    p.send(kGreeting);
    json id = p.expect("qmp_capabilities");
    // The capabilities reply, two events and nothing else in one segment.
    p.send(json({{"return", json::object()}, {"id", id}}).dump() + "\r\n" +
           R"({"event": "POWERDOWN", "timestamp": {"seconds": 1, "microseconds": 2}})" "\r\n" +
           R"({"event": "SHUTDOWN", "data": {"guest": false, "reason": "host-signal"}})" "\r\n");
    id = p.expect("query-status");
    p.send(json({{"event", "STOP"}}).dump() + "\n" +
           json({{"return", {{"status", "paused"}}}, {"id", id}}).dump() + "\n" +
           json({{"event", "RESUME"}}).dump() + "\n");
    p.wait_for_client_close();
  });
  auto c = attached(fake);
  ASSERT_TRUE(c);
  auto st = c->query_status();
  ASSERT_TRUE(st) << st.error().str();
  EXPECT_EQ(*st, "paused");
  auto ev = c->take_events();
  std::vector<std::string> names;
  for (const auto& e : ev) names.push_back(e.name);
  EXPECT_THAT(names, ::testing::ElementsAre("POWERDOWN", "SHUTDOWN", "STOP", "RESUME"));
  ASSERT_EQ(ev.size(), 4u);
  EXPECT_EQ(ev[1].reason, "host-signal");
  EXPECT_FALSE(ev[1].guest);
}

TEST(Qmp, OneMessageSplitOverSeveralWrites) {
  FakeQemu fake([&](Peer& p) {
    // The greeting in pieces, split inside a string and between "\r" and "\n".
    std::string g = kGreeting;
    p.send(g.substr(0, 7));
    std::this_thread::sleep_for(30ms);
    p.send(g.substr(7, 40));
    std::this_thread::sleep_for(30ms);
    p.send(g.substr(47, g.size() - 48));
    std::this_thread::sleep_for(30ms);
    p.send("\n");
    json id = p.expect("qmp_capabilities");
    p.send_json({{"return", json::object()}, {"id", id}});
    id = p.expect("query-status");
    std::string reply = json({{"id", id}, {"return", {{"status", "running"}}}}).dump() + "\r\n";
    for (char ch : reply) {
      p.send(std::string_view(&ch, 1));  // a byte per write
      std::this_thread::sleep_for(1ms);
    }
    p.wait_for_client_close();
  });
  auto c = attached(fake);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->greeting().version(), "7.2.22");
  auto st = c->query_status();
  ASSERT_TRUE(st) << st.error().str();
  EXPECT_EQ(*st, "running");
}

TEST(Qmp, MalformedJsonIsAnErrorAndTheStreamStaysInStep) {
  FakeQemu fake([&](Peer& p) {
    p.handshake();
    p.expect("query-status");
    p.send("{\"return\": {\"status\": \r\n");  // cut short, but a complete line
    json id = p.expect("query-status");
    p.send("[1, 2]\r\n");  // valid JSON, not a QMP message
    id = p.expect("query-status");
    p.send_json({{"id", id}, {"return", {{"status", "running"}}}});
    p.wait_for_client_close();
  });
  auto c = attached(fake);
  ASSERT_TRUE(c);
  auto r = c->query_status(5000ms);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().err, EPROTO);
  EXPECT_THAT(r.error().what, HasSubstr("qmp query-status: malformed message from QEMU"));
  EXPECT_THAT(r.error().what, HasSubstr("{\"return\": {\"status\":"));
  r = c->query_status(5000ms);
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().what, HasSubstr("not a JSON object: [1, 2]"));
  r = c->query_status(5000ms);
  ASSERT_TRUE(r) << r.error().str();
  EXPECT_EQ(*r, "running");
}

TEST(Qmp, MalformedGreetingFailsAttach) {
  FakeQemu fake([&](Peer& p) {
    p.send("{\"QMP\": \r\n");
    p.wait_for_client_close();
  });
  auto c = QmpClient::attach(fake.take_client(), 2000ms);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().err, EPROTO);
  EXPECT_THAT(c.error().what, HasSubstr("malformed"));
}

TEST(Qmp, WaitEventWaitsForALaterEventAndTimesOutWithoutOne) {
  FakeQemu fake([&](Peer& p) {
    p.handshake();
    std::this_thread::sleep_for(100ms);
    p.send_json({{"event", "RTC_CHANGE"}, {"data", {{"offset", 1}}}});
    p.send_json({{"event", "POWERDOWN"}});
    p.wait_for_client_close();
  });
  auto c = attached(fake);
  ASSERT_TRUE(c);
  auto down = c->wait_event("POWERDOWN", 5000ms);
  ASSERT_TRUE(down) << down.error().str();
  EXPECT_EQ(down->name, "POWERDOWN");
  // The other event stays queued; any name matches it.
  auto any = c->wait_event("", 0ms);
  ASSERT_TRUE(any) << any.error().str();
  EXPECT_EQ(any->name, "RTC_CHANGE");
  EXPECT_EQ(any->data["offset"], 1);

  auto t0 = Clock::now();
  auto none = c->wait_event("SHUTDOWN", 250ms);
  auto took = ms_since(t0);
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().err, ETIMEDOUT);
  EXPECT_THAT(none.error().what, HasSubstr("no SHUTDOWN event within 250 ms"));
  EXPECT_GE(took, 240);
  EXPECT_LT(took, 3000);

  // A negative timeout is no wait at all.
  t0 = Clock::now();
  none = c->wait_event("SHUTDOWN", -5ms);
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().err, ETIMEDOUT);
  EXPECT_LT(ms_since(t0), 1000);
}

TEST(Qmp, QuitSucceedsWhenQemuClosesBeforeReplying) {
  FakeQemu fake([&](Peer& p) {
    p.handshake();
    p.expect("quit");
    p.send_json({{"event", "SHUTDOWN"}, {"data", {{"guest", false}, {"reason", "host-qmp-quit"}}}});
    p.close();
  });
  auto c = attached(fake);
  ASSERT_TRUE(c);
  auto q = c->quit(5000ms);
  ASSERT_TRUE(q) << q.error().str();
  EXPECT_TRUE(c->closed());
  auto ev = c->wait_event("SHUTDOWN", 0ms);
  ASSERT_TRUE(ev) << ev.error().str();
  EXPECT_EQ(ev->reason, "host-qmp-quit");
  EXPECT_FALSE(ev->guest);
}

TEST(Qmp, SystemPowerdownSendsTheCommand) {
  FakeQemu fake([&](Peer& p) {
    p.handshake();
    json id = p.expect("system_powerdown");
    p.send_json({{"return", json::object()}, {"id", id}});
    p.send_json({{"event", "POWERDOWN"}});
    p.wait_for_client_close();
  });
  auto c = attached(fake);
  ASSERT_TRUE(c);
  auto s = c->system_powerdown();
  ASSERT_TRUE(s) << s.error().str();
  auto ev = c->wait_event("POWERDOWN", 5000ms);
  ASSERT_TRUE(ev) << ev.error().str();
}

TEST(Qmp, EventQueueIsBoundedKeepingTheNewest) {
  const size_t extra = 5;
  const size_t total = QmpClient::kMaxQueuedEvents + extra;
  FakeQemu fake([&](Peer& p) {
    p.handshake();
    json id = p.expect("query-status");
    std::string burst;
    for (size_t i = 0; i < total; ++i)
      burst += json({{"event", "E"}, {"data", {{"n", i}}}}).dump() + "\n";
    burst += json({{"return", {{"status", "running"}}}, {"id", id}}).dump() + "\n";
    p.send(burst);
    p.wait_for_client_close();
  });
  auto c = attached(fake);
  ASSERT_TRUE(c);
  auto st = c->query_status();
  ASSERT_TRUE(st) << st.error().str();
  EXPECT_EQ(c->dropped_events(), extra);
  auto ev = c->take_events();
  ASSERT_EQ(ev.size(), QmpClient::kMaxQueuedEvents);
  EXPECT_EQ(ev.front().data["n"], extra);
  EXPECT_EQ(ev.back().data["n"], total - 1);
}

// connect(): a unix socket in a temp folder that appears only after a while, as QEMU's
// does while it starts.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "vnet-qmp-XXXXXX").string();
    if (!::mkdtemp(tmpl.data())) std::abort();
    path_ = tmpl;
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

TEST(Qmp, ConnectRetriesUntilTheSocketAppears) {
  TempDir dir;
  const std::string sock = dir.path() + "/qmp.sock";
  std::thread server([&] {
    std::this_thread::sleep_for(300ms);
    UniqueFd l(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::strncpy(a.sun_path, sock.c_str(), sizeof a.sun_path - 1);
    ASSERT_EQ(::bind(l.get(), reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    ASSERT_EQ(::listen(l.get(), 1), 0);
    pollfd p{l.get(), POLLIN, 0};
    ASSERT_EQ(::poll(&p, 1, 5000), 1);
    Peer peer{UniqueFd(::accept4(l.get(), nullptr, nullptr, SOCK_CLOEXEC))};
    peer.handshake();
    json id = peer.expect("query-status");
    peer.send_json({{"return", {{"status", "prelaunch"}}}, {"id", id}});
    peer.wait_for_client_close();
  });
  auto t0 = Clock::now();
  {
    auto c = QmpClient::connect(sock, 5000ms);
    EXPECT_GE(ms_since(t0), 250);
    ASSERT_TRUE(c) << c.error().str();
    auto st = c->query_status();
    ASSERT_TRUE(st) << st.error().str();
    EXPECT_EQ(*st, "prelaunch");
  }
  server.join();
}

TEST(Qmp, ConnectGivesUpAtTheTimeout) {
  TempDir dir;
  auto t0 = Clock::now();
  auto c = QmpClient::connect(dir.path() + "/never.sock", 300ms);
  auto took = ms_since(t0);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().err, ETIMEDOUT);
  EXPECT_THAT(c.error().what, HasSubstr("did not accept a connection within 300 ms"));
  EXPECT_GE(took, 290);
  EXPECT_LT(took, 3000);
}

TEST(Qmp, ConnectRejectsAPathTooLongForAUnixSocket) {
  auto c = QmpClient::connect("/tmp/" + std::string(200, 'x'), 1000ms);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().exit, ExitCode::kBadInput);
}

}  // namespace
}  // namespace vnet::qemu
