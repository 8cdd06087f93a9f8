#include "switch/control.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

#include "switch/daemon.h"
#include "switch/sockets.h"

namespace vnet::sw {

using nlohmann::json;

json handle_control_request(Daemon& d, const std::string& line,
                            const std::string& refuse_changes) {
  auto req = parse_control_request(line);
  if (!req) return control_error(req.error().what);
  if (req->changes() && !refuse_changes.empty()) return control_error(refuse_changes, true);
  switch (req->cmd) {
    case ControlRequest::Cmd::kPorts: return {{"ok", true}, {"ports", d.ports_json()}};
    case ControlRequest::Cmd::kFdb: return {{"ok", true}, {"fdb", d.fdb_json()}};
    case ControlRequest::Cmd::kStats: return {{"ok", true}, {"stats", d.stats_json()}};
    case ControlRequest::Cmd::kSetPortVlan:
      if (auto s = d.set_port_vlan(req->port, VlanPolicy::trunk(req->tagged, req->pvid)); !s)
        return control_error(s.error().str());
      return {{"ok", true}};
    case ControlRequest::Cmd::kAddPort: {
      auto path = d.add_stream_port(req->port, VlanPolicy::trunk(req->tagged, req->pvid));
      if (!path) return control_error(path.error().str());
      return {{"ok", true}, {"socket", *path}};
    }
    case ControlRequest::Cmd::kRemovePort:
      if (auto s = d.remove_added_port(req->port); !s) return control_error(s.error().str());
      return {{"ok", true}};
  }
  return control_error("unhandled request");
}

Result<json> control_call(const std::string& path, const json& req) {
  // Far above any real answer (an FDB of 4096 entries is about 250 KB), yet bounded.
  constexpr size_t kMaxAnswer = size_t{256} << 20;
  auto sa = unix_addr(path);
  if (!sa) return tl::unexpected(sa.error());
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return fail_errno("socket");
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&*sa), sizeof *sa) < 0) {
    if (errno == EACCES || errno == EPERM)
      return fail("connect " + path + ": permission denied", errno, ExitCode::kEnvironment);
    return fail_errno("connect " + path + " (is the switch running?)");
  }
  std::string out = control_line(req);
  if (::write(fd.get(), out.data(), out.size()) != ssize_t(out.size()))
    return fail_errno("write " + path);
  std::string in;
  char buf[65536];
  while (in.find('\n') == std::string::npos) {
    if (in.size() > kMaxAnswer) return fail("the switch's answer exceeds 256 MiB");
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return fail("the switch closed the control connection without answering");
    in.append(buf, size_t(n));
  }
  in.resize(in.find('\n'));
  json ans = json_depth_within(in, 64) ? json::parse(in, nullptr, false) : json(json::value_t::discarded);
  if (ans.is_discarded() || !ans.is_object()) return fail("the switch's answer is not a JSON object");
  if (!answer_ok(ans) && answer_denied(ans))
    return fail(answer_error(ans), EACCES, ExitCode::kEnvironment);
  return ans;
}

}  // namespace vnet::sw
