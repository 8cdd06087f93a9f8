// The process a guest backend supervises (QEMU, systemd-nspawn): started in a session of
// its own so the caller's terminal and shell do not reach it, waited for with a bound,
// killed as a last resort. Shared by qemu/ and nspawn/.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

#include "base/error.h"

namespace vnet::guests {

// Forks argv[0] (an absolute path) into its own session (setsid: no controlling terminal,
// its own process group, so neither a Ctrl-C in the shell that ran `vnet guest start` nor
// that shell's exit reaches it), stdin /dev/null, stdout and stderr to `log` (truncated).
// Returns its pid; the caller reaps it if the start fails, else it outlives the caller
// and init reaps it. `netns` (a path like /run/netns/X, "" = ours): the network
// namespace it runs in (QEMU opens its taps and user-mode sockets there).
Result<pid_t> spawn_daemon(const std::vector<std::string>& argv, const std::string& log,
                           const std::string& netns = "");

// Our own child (a failed start): reaped. Otherwise (a process an earlier `vnet`
// started, reparented to init): polled through /proc until gone or the deadline.
bool wait_gone(pid_t pid, std::chrono::steady_clock::duration limit);

// SIGKILL, then waits (5 s) for it to go.
void kill_and_reap(pid_t pid);

// The last `max_bytes` of a log file without trailing newlines ("" when unreadable): what
// an error shows of why a process died.
std::string tail_of(const std::string& path, size_t max_bytes = 2000);

}  // namespace vnet::guests
