// `vnet watch FILE`: apply, then keep the kernel converged. rtnetlink tells of every
// change to links, addresses, routes and bridge VLANs in the namespaces the file
// involves; a burst of them (debounced) costs one apply, which repairs what drifted among
// the objects vnet owns and touches nothing else (the engine's own rules). SIGHUP re-reads
// FILE (a file that no longer validates is reported and the last good one stays in
// force); SIGTERM and SIGINT stop it. systemd is told READY=1 after the first apply.
#pragma once

#include <chrono>
#include <functional>
#include <string>

#include "base/error.h"
#include "base/journal.h"
#include "netlink/engine.h"

namespace vnet::netlink {

struct WatchOptions {
  EngineOptions engine;  // target namespace, run dir
  // Quiet time after an event before converging: a burst of events costs one apply.
  std::chrono::milliseconds debounce{10};
  // A peer that keeps undoing vnet's repairs is not fought forever: once one change was
  // made this many times within `fight_window`, the watcher waits that long before the
  // next repair. (Many different drifts are no fight: each is repaired.)
  int fight_limit = 10;
  std::chrono::milliseconds fight_window{10000};
  std::function<void(Priority, const std::string&)> log;  // default: stderr
  // Test seam: a file descriptor whose readability stops the watcher (-1: none).
  int stop_fd = -1;
};

// Runs until stopped; returns the exit code (0 stopped by a signal, 1 the first apply
// failed, 3 the environment lacks something).
int watch(const std::string& file, const WatchOptions& options);

}  // namespace vnet::netlink
