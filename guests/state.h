// The state folder of one guest and what it says about the guest's process. Shared by
// the backends (qemu/, later nspawn/): where a start keeps its sockets, pid file, keys
// and logs, and whether a pid file belongs to a live guest or was left by a crash.
//
// Layout (docs/guests.md "Lifecycle"): ROOT/NAME/ with
//   pid          the hypervisor's pid, written right after it was spawned
//   run.json     facts about this run (accel, argv) for `status`
//   qmp.sock     QMP          console.sock  serial console
//   console.log  serial output (kept after stop; the previous run's is console.log.1)
//   qemu.log     the hypervisor's own stdout/stderr
//   seed.iso, disk.qcow2, id_ed25519(.pub), known_hosts
//   switch-ports.json  stream ports this run asked running switches to open (stop
//                      closes them)
// ROOT: $VNET_GUEST_STATE, else /var/lib/vnet/guests as root, else
// $XDG_STATE_HOME/vnet/guests (default ~/.local/state/vnet/guests).
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "base/error.h"

namespace vnet::guests {

std::string default_state_root();

class StateDir {
 public:
  StateDir(std::string root, std::string guest)
      : root_(std::move(root)), guest_(std::move(guest)) {}
  const std::string& guest() const { return guest_; }
  std::string path() const { return root_ + "/" + guest_; }
  std::string file(const char* name) const { return path() + "/" + name; }
  std::string pid_file() const { return file("pid"); }
  std::string run_file() const { return file("run.json"); }
  std::string qmp_socket() const { return file("qmp.sock"); }
  std::string console_socket() const { return file("console.sock"); }
  std::string console_log() const { return file("console.log"); }
  std::string hypervisor_log() const { return file("qemu.log"); }
  std::string seed_iso() const { return file("seed.iso"); }
  std::string overlay_disk() const { return file("disk.qcow2"); }
  std::string private_key() const { return file("id_ed25519"); }
  std::string public_key() const { return file("id_ed25519.pub"); }
  std::string known_hosts() const { return file("known_hosts"); }
  std::string added_switch_ports() const { return file("switch-ports.json"); }

  // Creates ROOT/NAME (mode 0700: it holds a private key and control sockets).
  Status ensure() const;

 private:
  std::string root_, guest_;
};

enum class RunState {
  kStopped,  // no pid file and no leftover sockets
  kRunning,  // the pid file names a live process that is this guest's hypervisor
  kStale,    // a pid file or sockets left behind by a process that is gone (or was
             // replaced by an unrelated one reusing the pid)
};
const char* to_string(RunState s);

struct Probe {
  RunState state = RunState::kStopped;
  pid_t pid = 0;    // from the pid file, 0 when none could be read
  std::string why;  // for kStale: what made it stale
};

// Reads the pid file and decides. "Ours" means: /proc/PID exists, is not a zombie, and
// its command line contains `identity` (the QEMU backend passes its QMP socket path,
// which no other process has in its argv).
Probe probe(const StateDir& dir, const std::string& identity);

// Whether pid is alive and its /proc/PID/cmdline holds `identity` as one argument or
// inside one (QEMU gets it as "socket,id=qmp0,path=...").
bool process_matches(pid_t pid, const std::string& identity);
// Alive: /proc/PID exists and is not a zombie (a zombie has exited; only its parent
// has not reaped it yet).
bool process_alive(pid_t pid);

// Removes what a run leaves that must not outlive it: pid file, run.json, sockets and
// the ephemeral private key. Keeps the logs, the disk overlay and known_hosts.
Status clean_run_files(const StateDir& dir);

// Moves console.log to console.log.1 (one generation), so a start begins a fresh log
// and the last run's stays for post-mortem.
Status rotate_console_log(const StateDir& dir);

Status write_pid_file(const StateDir& dir, pid_t pid);

// The first step of every backend's stop: a guest that is not running has nothing to
// stop, only (stale) its run files to remove. Returns what was done ("not running",
// "stale state removed (WHY)"), or nullopt when `p` says the guest runs.
Result<std::optional<std::string>> settle_not_running(const StateDir& dir, const Probe& p);

}  // namespace vnet::guests
