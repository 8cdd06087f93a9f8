// Reading the kernel state of every namespace involved: four dumps per namespace (links,
// bridge VLANs, addresses, routes), sent at once on four sockets and then collected, so a
// namespace costs one round trip however many objects it holds.
#pragma once

#include <string>
#include <vector>

#include "netlink/kernel.h"
#include "plan/state.h"

namespace vnet::netlink {

Result<plan::Snapshot> read_snapshot(Kernel& kernel, const std::vector<std::string>& namespaces);
Result<plan::NetnsState> read_netns(Transport& t);

}  // namespace vnet::netlink
