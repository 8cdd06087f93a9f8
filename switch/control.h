// The switch's control socket, DIR/control: one JSON object per line each way.
//   {"cmd":"ports"}  {"cmd":"fdb"}  {"cmd":"stats"}
//   {"cmd":"set-port-vlan","port":"uplink","pvid":40,"tagged":[10,20]}
// Answers carry "ok": true and the data, or "ok": false and "error". The client side
// (`vnet switch NAME --show ...`) and the table rendering for people live here too.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "base/error.h"

namespace vnet::sw {

class Daemon;

nlohmann::json handle_control_request(Daemon& d, const std::string& line);
// One request, one answer, over DIR/control.
Result<nlohmann::json> control_call(const std::string& control_path, const nlohmann::json& req);
// `what`: ports | fdb | stats, as tables for people.
std::string format_control_answer(const std::string& what, const nlohmann::json& answer);

}  // namespace vnet::sw
