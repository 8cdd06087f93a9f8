// `vnet show`: the kernel's state written back as host.toml. Pure: a Snapshot in, TOML
// text out, so that what `apply` built, shown and applied again, changes nothing (the
// round trip is tested against the real kernel).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "plan/state.h"

namespace vnet::plan {

struct ShowOptions {
  // "": the links of the one vnet host that owns links here (several: an error naming
  // them). Else that host's links.
  std::string host;
  // Every link the schema can express, owned or not ([host] name from `host`, else
  // the machine's own name is the caller's to give).
  bool all = false;
  // Lines written into a link's table right after its header, by link name (target
  // namespace): what a caller knows and the kernel state does not say (a declared MAC, a
  // tap owner by name, `vnet import`'s comments about what it left out).
  std::map<std::string, std::vector<std::string>> extra;
  // Comment lines (without "#") written after the [host] table.
  std::vector<std::string> header;
};

struct ShowResult {
  std::string toml;
  // What the kernel has that host.toml cannot say ("bond0: mode 7 has no name"), one per
  // object: printed as comments at the end, and by the caller on stderr.
  std::vector<std::string> left_out;
};

// The host names whose mark ("vnet:NAME") is on a link of the target namespace (else of
// any namespace read), sorted.
std::vector<std::string> owner_hosts(const Snapshot& snap);

Result<ShowResult> show(const Snapshot& snap, const ShowOptions& options);

}  // namespace vnet::plan
