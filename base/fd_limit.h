// The soft limit on open descriptors raised to the hard one, once at start: the engine
// holds a namespace descriptor per namespace it touches (a veth peer in each of 600
// namespaces), the switch two per VDE client; 1024 is a default, not a budget.
#pragma once

namespace vnet {

void raise_descriptor_limit();

}  // namespace vnet
