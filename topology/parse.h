// Internal to topology/: the three passes of load(): read (TOML -> model, per-value checks),
// expand (guests -> the links, ports and namespaces they imply), validate (relations).
#pragma once

#include "topology/reader.h"

namespace vnet::topology::detail {

void read_document(const toml::table& root, Diagnostics& d, const LoadOptions& options,
                   Topology& t);
void expand_guests(Diagnostics& d, Topology& t);
void expand_members(Diagnostics& d, Topology& t);
void validate(Diagnostics& d, Topology& t);

}  // namespace vnet::topology::detail
