// Reading the kernel state of every namespace involved: four dumps per namespace (links,
// bridge VLANs, addresses, routes), sent at once on four sockets and then collected, so a
// namespace costs one round trip however many objects it holds.
#pragma once

#include <optional>
#include <set>
#include <string>
#include <vector>

#include "netlink/kernel.h"
#include "plan/state.h"

namespace vnet::netlink {

// `vlan_netns`: the namespaces whose bridge VLANs matter (a VLAN-filtering bridge is
// declared there); others skip that dump. nullptr = all. `target`: the target namespace
// as already read (read_netns(t, false)), if it was.
Result<plan::Snapshot> read_snapshot(Kernel& kernel, const std::vector<std::string>& namespaces,
                                     const std::set<std::string>* vlan_netns = nullptr,
                                     std::optional<plan::NetnsState> target = std::nullopt);
Result<plan::NetnsState> read_netns(Transport& t, bool vlans = true);

}  // namespace vnet::netlink
