// Test utility (kernel tier): one namespace's kernel state as comparable text, read with
// `ip -j -d link`, `ip -j addr`, `ip -j route` and `bridge -j vlan show`, normalized only
// where two builders of the same configuration must differ (ifindexes, undeclared MACs,
// link-local addresses, owner marks, running timers; see kernel_state.cc). The networkd
// proof (tests/networkd) and the ifupdown2 round trip (tests/import) compare with it.
#pragma once

#include <map>
#include <set>
#include <string>

#include "topology/model.h"

namespace vnet::testing {

// The MACs the topology declares: kept in the comparison; every other is the kernel's.
std::set<std::string> declared_macs(const topology::Topology& t);

// One line per fact, sorted. `zero_pvid`: bridges made with DefaultPVID=none (networkd's
// rendering says so in a note) whose default_pvid reads as given on the vnet side.
std::string state(const std::string& ns, const std::set<std::string>& macs,
                  const std::map<std::string, int>& zero_pvid = {});

// Per fact, only what differs ("A | B"), and facts on one side only, named by `a`/`b`.
std::string differences(const std::string& a, const std::string& b,
                        const std::string& a_name = "networkd", const std::string& b_name = "vnet apply");

}  // namespace vnet::testing
