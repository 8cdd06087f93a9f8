// The switch's control protocol without sockets or a switch: one JSON object per line
// each way (DIR/control, DIR/query). Requests:
//   {"cmd":"ports"}  {"cmd":"fdb"}  {"cmd":"stats"}                       (queries)
//   {"cmd":"set-port-vlan","port":"uplink","pvid":40,"tagged":[10,20]}  (changes)
//   {"cmd":"add-port","port":"vm-dev-0","pvid":40,"tagged":[10]}
//   {"cmd":"remove-port","port":"vm-dev-0"}
// add-port opens a stream port at DIR/PORT.sock (the switch picks the path: a client
// names no file) and answers its "socket"; remove-port closes only a port added so.
// Answers carry "ok": true and the data, or "ok": false and "error" (and "denied": true
// when the caller may not do that). Pure, so a fuzz target drives every byte of it:
// framing, request parsing, the answer line, and the tables the CLI prints.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/error.h"

namespace vnet::sw {

inline constexpr size_t kMaxControlLine = 64 * 1024;

struct ControlRequest {
  enum class Cmd { kPorts, kFdb, kStats, kSetPortVlan, kAddPort, kRemovePort };
  Cmd cmd = Cmd::kPorts;
  std::string port;  // set-port-vlan: a port name or number; add/remove-port: a name
  uint16_t pvid = 0;  // 0: no native VLAN
  std::vector<uint16_t> tagged;
  bool changes() const { return cmd >= Cmd::kSetPortVlan; }
};

Result<ControlRequest> parse_control_request(std::string_view line);

// A name add-port accepts: 1-64 of [A-Za-z0-9_.-] starting with a letter, so that
// DIR/NAME.sock stays a file directly in DIR and no name reads as a port number.
bool valid_added_port_name(std::string_view name);

// Whether `text` (JSON) nests arrays and objects at most `max` deep: checked before
// parsing, since the answer of a deep value is rendered recursively.
bool json_depth_within(std::string_view text, size_t max);

nlohmann::json control_error(const std::string& why, bool denied = false);
// `answer` as the line sent: compact JSON and "\n"; bytes that are not UTF-8 (a client's
// description) are replaced rather than thrown on.
std::string control_line(const nlohmann::json& answer);

// Splits what a connection sends into lines, holding at most kMaxControlLine bytes of
// a line not yet ended.
class ControlLines {
 public:
  // false: a line grew past kMaxControlLine (the connection is to be dropped).
  bool append(std::string_view bytes);
  std::optional<std::string> next();

 private:
  std::string buf_;
  size_t start_ = 0;
};

// Reading an answer (any JSON): whether it says "ok": true; its "error" text (escaped),
// and whether it was a refusal ("denied": true).
bool answer_ok(const nlohmann::json& answer);
std::string answer_error(const nlohmann::json& answer);
bool answer_denied(const nlohmann::json& answer);

// `what`: ports | fdb | stats, as a table for people. Takes any JSON (the answer comes
// from another process) and prints client-supplied text with control bytes escaped.
std::string format_control_answer(const std::string& what, const nlohmann::json& answer);

}  // namespace vnet::sw
