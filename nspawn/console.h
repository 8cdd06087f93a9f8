// The interactive console of an nspawn guest, without machinectl: systemd-nspawn runs with
// a pseudo-terminal as its stdin/stdout (so it gives the container an interactive console
// of its own, its --console=interactive), and a small relay process holds the terminal's
// other end: everything the container writes goes to console.log, as before, and to the
// one client attached to console.sock (`vnet guest console NAME`, which detaches on
// Ctrl-] like the QEMU console). The relay exits when nspawn closes the terminal.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "base/error.h"
#include "guests/state.h"

namespace vnet::nspawn {

// Starts the relay (serving `d.console_socket()`, writing `d.console_log()`), then
// `argv` in a session of its own on the terminal. Returns nspawn's pid (a child of the
// caller); the relay is not the caller's to wait for.
Result<pid_t> spawn_with_console(const std::vector<std::string>& argv, const guests::StateDir& d);

}  // namespace vnet::nspawn
