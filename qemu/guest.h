// The QEMU backend of `vnet guest` (guests/backend.h): start prepares the guest's state
// folder (ephemeral key, seed ISO, disk overlay), its host-side links (taps through the
// engine, a stream port of a vnet switch), picks the accelerator, spawns QEMU in its own
// session and waits until QMP reports "running"; stop powers it down over QMP and
// escalates to quit and SIGKILL. docs/guests.md "Lifecycle".
#pragma once

#include <string>
#include <vector>

#include "guests/backend.h"
#include "guests/links.h"
#include "qemu/argv.h"

namespace vnet::qemu {

class QemuBackend : public guests::Backend {
 public:
  explicit QemuBackend(guests::Options opts);

  Result<guests::StartResult> start(const topology::Topology& topo,
                                    const topology::Guest& guest) override;
  Result<guests::StopResult> stop(const topology::Topology& topo,
                                  const topology::Guest& guest) override;
  Result<guests::GuestStatus> status(const topology::Guest& guest) override;

  guests::StateDir state_dir(const topology::Guest& guest) const;

 private:
  guests::Options opts_;
};

// Kills every QEMU whose state folder is under `state_root` (a scenario run's, at its
// teardown: a run killed before it could stop its VMs); returns how many.
size_t kill_recorded(const std::string& state_root);

// Shared with the nspawn backend (guests/links.h).
using guests::needs_links;
inline topology::Topology without_guest_taps(const topology::Topology& topo,
                                             const topology::Guest& guest) {
  return guests::without_guest_links(topo, guest);
}

// Whether a start makes an ephemeral SSH key pair: unless the guest declares its own
// ssh_authorized_keys (design.md).
bool wants_ephemeral_key(const topology::Guest& guest);

// The stream port a switch NIC connects to: topology/expand.cc derives a port named
// after the NIC's host_name on that switch, listening on DIR/<port>.sock unless the
// port names a path. A switch that started from the same file serves it already; a
// running switch that does not is asked over `control` to open it (add-port).
struct SwitchNicPort {
  std::string socket;   // where QEMU connects
  std::string control;  // the switch's DIR/control
  std::string port;     // the port's name
  uint16_t pvid = 0;
  std::vector<uint16_t> tagged;
};
Result<SwitchNicPort> switch_nic_port(const topology::Topology& topo,
                                      const topology::Guest& guest, size_t nic);

// `qemu-img create -f qcow2 -b BASE -F FMT OVERLAY [SIZE]` as an argv; FMT from the
// base's extension (qcow2, else raw).
std::vector<std::string> overlay_argv(const std::string& qemu_img, const topology::Guest& g,
                                      const std::string& overlay);

// Where `vnet guest ssh` connects: the first user NIC's forward whose guest port is 22
// (host address defaulting to 127.0.0.1), else the first declared address of any NIC.
struct SshTarget {
  std::string host;
  int port = 22;
};
Result<SshTarget> ssh_target(const topology::Guest& guest);

// The ssh argv for `vnet guest ssh` (the system's ssh with this start's key and a
// known_hosts file in the state folder). `user` "" = ssh's own default.
std::vector<std::string> ssh_argv(const guests::StateDir& dir, const SshTarget& t,
                                  const std::string& user,
                                  const std::vector<std::string>& command);

}  // namespace vnet::qemu
