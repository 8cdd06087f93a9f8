// The systemd-nspawn backend of `vnet guest` (guests/backend.h). start: the guest's veths
// and its namespace vnet-<guest> through the engine (guests/links.h: the file applied as
// `vnet apply` would), then systemd-nspawn in a session of its own, handed that namespace
// (--network-namespace-path: its own --network-interface needs udev, facts.md); stop:
// SIGTERM to systemd-nspawn, which asks the container to halt (its --kill-signal:
// SIGRTMIN+3 to a booted init, SIGTERM to a command), SIGKILL to the container's PID 1
// and to nspawn after the timeout, then the file applied without the guest's links.
// docs/guests.md "nspawn".
#pragma once

#include <string>
#include <vector>

#include "guests/backend.h"

namespace vnet::nspawn {

struct LaunchContext {
  std::string nspawn;      // the systemd-nspawn binary
  std::string netns_path;  // /run/netns/<vnet-guest>; "" = no NICs: --private-network
  std::string identity;    // the state folder: passed in the environment, matched in argv
  bool systemd_pid1 = false;  // false: --register=no --keep-unit (no machined, no scope)
};

// systemd-nspawn's argv for `guest` (an argv, never a shell string).
std::vector<std::string> build_argv(const topology::Guest& guest, const LaunchContext& ctx);

// Whether the running system was booted by systemd (sd_booted(): /run/systemd/system).
bool systemd_is_pid1();

// Kills (SIGKILL: PID 1, then systemd-nspawn) every container whose state folder is under
// `state_root` and still runs: what a killed `vnet scenario run` left. Returns how many.
size_t kill_recorded(const std::string& state_root);

class NspawnBackend : public guests::Backend {
 public:
  explicit NspawnBackend(guests::Options opts);

  Result<guests::StartResult> start(const topology::Topology& topo,
                                    const topology::Guest& guest) override;
  Result<guests::StopResult> stop(const topology::Topology& topo,
                                  const topology::Guest& guest) override;
  Result<guests::GuestStatus> status(const topology::Guest& guest) override;

  guests::StateDir state_dir(const topology::Guest& guest) const;
  // Running, stopped or stale, from the pid file and the process it names.
  guests::Probe probe(const topology::Guest& guest) const;

 private:
  std::string netns_path(const topology::Guest& guest) const;
  guests::Options opts_;
};

}  // namespace vnet::nspawn
