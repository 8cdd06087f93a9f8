// QEMU's command line for one guest, built as an argv vector (never a shell string):
// what `vnet guest start` executes. Pure: the validated model (topology::Guest) says what
// the VM is, a LaunchContext says where this start keeps its state and what the host side
// of each NIC resolved to (tap names, switch sockets, forwarded ports); nothing here
// touches the system. docs/guests.md "QEMU command line" lists the options and why.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "base/error.h"
#include "topology/model.h"

namespace vnet::qemu {

enum class Accel { kKvm, kTcg };

// Used when the guest does not write `memory` / `vcpus`.
constexpr uint64_t kDefaultMemoryMib = 1024;
constexpr uint32_t kDefaultVcpus = 1;

// The host side of one NIC, resolved by the caller (by position: nics[i] <-> guest.nics[i]).
struct NicContext {
  std::string tap;                        // bridge/tap NIC: the tap's name (e.g. vm-dev-0)
  std::string stream_socket;              // switch NIC: the switch's unix stream socket
  std::vector<std::string> extra_hostfwd; // user NIC: forwards vnet adds (e.g. the SSH
                                          // port it chose), after the declared ones
};

// One start of one guest: paths in its state folder and the accelerator already chosen
// (a KVM probe's job, not this file's: vmrun::probe_kvm, called by qemu/guest.cc).
struct LaunchContext {
  std::string qemu = "qemu-system-x86_64";  // argv[0]
  std::string machine = "pc";
  Accel accel = Accel::kTcg;
  std::string qmp_socket;      // required
  std::string console_socket;  // required
  std::string console_log;     // "" = no log file
  std::string seed_iso;        // "" = no cloud-init seed
  std::string overlay_disk;    // required when the guest has a disk: the qcow2 overlay
  std::vector<NicContext> nics;  // one per guest NIC
};

// The full argv (argv[0] = ctx.qemu). Errors (ExitCode::kBadInput) name the NIC: a
// hostfwd rule of the wrong shape, a NIC the context does not resolve, a disk without an
// overlay path.
Result<std::vector<std::string>> build_argv(const topology::Guest& guest,
                                            const LaunchContext& ctx);

// The MAC of guest NIC `index`: the declared one, else 52:54:00 (QEMU's own prefix; its
// first octet has the locally-administered bit set and the multicast bit clear) followed
// by three bytes of FNV-1a-64 over "<guest name>/<index>". Stable across runs, hosts and
// builds (no std::hash), so the guest's network-config keeps matching its NICs;
// distinct per index of one guest (a collision between guests is 1 in 2^24 per pair).
topology::Mac nic_mac(const topology::Guest& guest, size_t index);

// Checks a user-networking forward: "tcp|udp:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT",
// addresses IPv4 or empty, ports 1..65535 (e.g. "tcp:127.0.0.1:2222-:22").
Status check_hostfwd(const std::string& rule);

}  // namespace vnet::qemu
