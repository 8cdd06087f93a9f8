// vnet's test guest: in a scenario file, a qemu guest that declares neither `kernel` nor
// `disk` boots the Debian kernel `vnet vm-run` uses (fetched and cached like vm-run's)
// with a busybox initramfs built here. Its /init brings up each NIC with the addresses
// the file declares for it (found by MAC, from the kernel command line), adds the
// gateway, prints "vnet-guest: ready" and runs a root shell on the serial console, where
// checks `from` the VM run (qemu/serial_shell.h). Small enough to boot three or four
// under TCG in a CI job. docs/guests.md "VMs in scenarios".
#pragma once

#include <string>

#include "base/error.h"
#include "topology/model.h"

namespace vnet::scenario {

// What the test guest's console prints once its NICs are configured.
inline constexpr const char* kTestGuestReady = "vnet-guest: ready";

bool boots_test_guest(const topology::Guest& guest);

// The kernel command line of the test guest `guest`: console on ttyS0, one
// `vnet.nic=MAC,ADDR/PREFIX,...` per NIC with addresses, `vnet.gw=` for a gateway.
std::string test_guest_append(const topology::Guest& guest);

// Points every test guest of `lab` at the kernel and at an initramfs written once into
// `dir`; a guest without `ready` waits for the console line above.
Status use_test_guest(topology::Topology& lab, const std::string& dir);

}  // namespace vnet::scenario
