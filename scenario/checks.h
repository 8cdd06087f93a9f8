// Reachability checks of a scenario, run concurrently: every check opens its sockets
// inside its namespace first (a socket keeps the namespace it was made in), then one
// poll loop drives them all. ping = ICMP echo over a raw socket (DF at `mtu` bytes when
// asked), tcp = a connect to a listener the runner opens in the namespace that owns the
// address, arping = an ARP request on the interface of the source namespace.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "base/error.h"
#include "topology/model.h"

namespace vnet::scenario {

struct CheckSpec {
  topology::Check check;
  std::string from_netns;    // kernel namespace name (/run/netns/NAME)
  std::string from_vm;       // or a VM of the scenario: runs over its serial console
  std::string listen_netns;  // tcp: namespace that owns the target address
  std::string arp_ifname;    // arping: interface in from_netns facing the target
  topology::IpAddress arp_source;
  int timeout_ms = 0;  // when not 0, instead of check.timeout_s (the runner's readiness pings)
};

struct CheckResult {
  bool reached = false;
  bool passed = false;  // reached == (expect == reach)
  double seconds = 0;
  std::string detail;  // "2/2 replies", "connection refused", ...
};

// `stop_fd` (optional, e.g. a signalfd) ends the loop early when readable. `progress`
// (optional) hears how many checks have finished, whenever that number grows.
Result<std::vector<CheckResult>> run_checks(
    const std::vector<CheckSpec>& specs, int stop_fd = -1,
    const std::function<void(size_t done, size_t total)>& progress = {});

}  // namespace vnet::scenario
