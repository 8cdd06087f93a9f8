// `vnet guest start --unit` (guest_unit.cc): the guest as a transient systemd unit.
#pragma once

#include <string>

#include "topology/model.h"
#include "units/units.h"

namespace vnet::cli {

// Whether systemd is the init system here (sd_booted): only then is there a manager to
// start a transient unit.
bool systemd_is_init();

// Starts vnet-guest-NAME.service through sd-bus with units::guest_properties and waits
// until it is active (bounded). Returns the exit code, having printed the outcome.
int start_guest_unit(const topology::Topology& topo, const topology::Guest& g,
                     const std::string& file);

}  // namespace vnet::cli
