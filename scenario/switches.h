// The userspace switches a scenario declares, each served by a child process inside the
// run's host namespace (so taps and AF_PACKET ports open there), with its socket folder
// in the run's private directory (parallel runs never share one). A child dies with the
// runner (PR_SET_PDEATHSIG) and is stopped with SIGTERM at teardown — unless the lab is
// kept (`--keep`): then the switches outlive the runner, their pids recorded in the run's
// folder, and the teardown of `vnet scenario clean` stops them.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "base/error.h"
#include "topology/model.h"

namespace vnet::scenario {

class SwitchProcesses {
 public:
  SwitchProcesses() = default;
  SwitchProcesses(SwitchProcesses&& o) noexcept : pids_(std::move(o.pids_)) { o.pids_.clear(); }
  SwitchProcesses& operator=(SwitchProcesses&& o) noexcept {
    stop();
    pids_ = std::move(o.pids_);
    o.pids_.clear();
    return *this;
  }
  ~SwitchProcesses() { stop(); }

  // Starts every switch of `topo` in kernel namespace `netns`; returns once each has
  // opened its ports (or says why it could not).
  // `keep`: the children outlive the runner (no PDEATHSIG, own session, log to
  // socket_base/switch-NAME.log) and their pids go to socket_base/switch-NAME.pid.
  static Result<SwitchProcesses> start(const topology::Topology& topo, const std::string& netns,
                                       const std::string& socket_base, bool verbose, bool keep);
  void stop();  // SIGTERM, then SIGKILL after a bounded wait
  void release() { pids_.clear(); }  // leave them running (a kept lab)
  // Stops the switches a kept lab recorded in `record_dir`.
  static void stop_recorded(const std::string& record_dir);

 private:
  std::vector<pid_t> pids_;
};

}  // namespace vnet::scenario
