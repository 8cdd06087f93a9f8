// The lifecycle a guest backend offers `vnet guest`: start, stop, status. The QEMU backend
// (qemu/guest.h) implements it; an nspawn backend is one more implementation in its own
// folder. The cli picks the backend by Guest::kind and only talks to this interface.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "base/error.h"
#include "guests/state.h"
#include "topology/model.h"

namespace vnet::guests {

enum class AccelChoice { kAuto, kKvm, kTcg };

struct Options {
  std::string state_root;  // "" = default_state_root()
  AccelChoice accel = AccelChoice::kAuto;
  std::chrono::seconds stop_timeout{30};  // power-down grace before quit/SIGKILL
  // start: until QMP says "running" (seconds normally; nested TCG on a loaded host took
  // about 30 s, tests/guests/unit_kernel_test.cc); within the unit's TimeoutStartSec=120.
  std::chrono::seconds ready_timeout{60};
  std::function<void(const std::string&)> log;  // progress lines (-v); may be empty
  // Where a guest's links go (netlink::EngineOptions): `--netns X` (target_netns, where
  // QEMU runs too), a scenario run's namespace prefix, the lock and namespace records
  // (run_dir, "" = /run/vnet).
  std::string target_netns, netns_prefix, run_dir;
};

struct StartResult {
  bool already_running = false;
  pid_t pid = 0;
  std::string accel;           // "kvm" | "tcg" (and why, for tcg after a failed probe)
  std::string cleaned_stale;   // non-empty: stale state was found and removed (what)
  std::vector<std::string> notes;  // what the operator should know (stderr, without -v)
};

struct StopResult {
  bool was_running = false;
  bool shutdown_event = false;  // the guest powered down and SHUTDOWN was seen
  std::string shutdown_reason;  // QEMU's reason ("guest-shutdown", ...)
  std::string how;              // "powered down" | "quit" | "killed" | "stale state removed"
};

struct GuestStatus {
  RunState state = RunState::kStopped;
  pid_t pid = 0;
  std::string accel;       // from run.json
  std::string accel_note;  // from run.json: why that one ("as asked", a probe's verdict,
                           // "KVM probe cached: ...")
  std::string vm_status;   // QMP query-status when running ("running", "paused", ...)
  pid_t leader = 0;        // nspawn: the container's PID 1, seen from the host
  std::string why;         // stale: why
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual Result<StartResult> start(const topology::Topology& topo,
                                    const topology::Guest& guest) = 0;
  virtual Result<StopResult> stop(const topology::Topology& topo,
                                  const topology::Guest& guest) = 0;
  virtual Result<GuestStatus> status(const topology::Guest& guest) = 0;
};

}  // namespace vnet::guests
