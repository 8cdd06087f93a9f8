// The planner: desired topology + actual kernel state -> an ordered, minimal list of
// operations, each with its own undo. Pure: no I/O, no clock, no randomness; the unit
// tests drive it with hand-made Snapshots.
//
// Order (design.md "Apply semantics"): namespaces; deletes of owned links no longer
// declared (and the delete half of recreations), children before parents; creates
// (bridges, veths, vlans, macvlans, taps) and moves; link settings (bridges first,
// addrgenmode before up); enslaving; bridge VLANs (self, then ports; adds before deletes
// so the PVID is never deleted first); route and address deletes; address adds; up;
// default routes; namespace deletes. Within a phase, ops are grouped by namespace so the
// executor can batch them.
#pragma once

#include <string>
#include <vector>

#include "plan/op.h"
#include "plan/state.h"
#include "topology/model.h"

namespace vnet::plan {

struct PlanOptions {
  bool destroy = false;  // plan the removal of everything this host owns
  // Links vnet creates get indexes from here up (or above the highest in use), far from
  // where the kernel hands out indexes to everyone else: a link someone creates between
  // vnet's read and its batch cannot take an index the batch addresses.
  int first_ifindex = 1 << 20;
};

struct Plan {
  std::vector<Op> ops;
  // Declared objects that exist but are not owned (and are neither [links] nor adopt),
  // and other conflicts that make the plan impossible. Apply refuses when non-empty.
  std::vector<Error> refusals;
  // Remarks for people ("namespace web kept: foreign link x left in it").
  std::vector<std::string> notes;
  bool empty() const { return ops.empty(); }
};

Plan make_plan(const topology::Topology& want, const Snapshot& have,
               const PlanOptions& options = {});

// Every logical namespace the topology names, plus "" (the target).
std::vector<std::string> involved_netns(const topology::Topology& want, const Snapshot* have);

}  // namespace vnet::plan
