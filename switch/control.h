// The switch's control sockets: DIR/control (queries and changes; the switch's user,
// root and control_group) and DIR/query (queries only; whoever may use the data
// sockets). The protocol itself is control_proto.h; here are the switch's side of a
// request and the client's side of a call (`vnet switch NAME --show ...`).
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "base/error.h"
#include "switch/control_proto.h"

namespace vnet::sw {

class Daemon;

// `refuse_changes`: why this connection may not change the switch ("" when it may).
nlohmann::json handle_control_request(Daemon& d, const std::string& line,
                                      const std::string& refuse_changes);
// One request, one answer, over the socket at `path`. A socket this user may not open
// fails with ExitCode::kEnvironment (permission), saying so.
Result<nlohmann::json> control_call(const std::string& path, const nlohmann::json& req);

}  // namespace vnet::sw
