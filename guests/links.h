// The links a guest's NICs derive (topology/expand.cc: taps vm-<guest>-<index>, veths
// vb-<guest>[-<index>] with their peers in namespace vnet-<guest>), as every backend
// makes and removes them: start applies the whole file with the engine (as `vnet apply`
// would, so nothing else in the file changes), stop applies the file without them, so
// the engine deletes exactly those (owned, no longer declared) and the namespace it
// created for them once it is empty.
#pragma once

#include <string>

#include "base/error.h"
#include "guests/backend.h"
#include "topology/model.h"

namespace vnet::guests {

// Whether starting `guest` changes network interfaces (bridge or tap NICs, and every NIC
// of an nspawn guest: a veth), which needs CAP_NET_ADMIN. A VM's user and switch NICs do
// not.
bool needs_links(const topology::Guest& guest);

// `topo` without the taps and veths derived from `guest` and without its own namespace
// (vnet-<guest>, unless the file declares it).
topology::Topology without_guest_links(const topology::Topology& topo,
                                       const topology::Guest& guest);

// The engine's apply of `topo` where the options say (`--netns`, a scenario run's
// namespace prefix and run folder); `what` prefixes an error and the -v line.
Status apply_links(const topology::Topology& topo, const Options& opts, const std::string& what);

}  // namespace vnet::guests
