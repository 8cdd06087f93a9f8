// Plans for people (text) and programs (JSON, schema in docs/engine.md), and the drift
// view of `vnet status`: the same ops, grouped per object.
#pragma once

#include <string>
#include <vector>

#include "plan/planner.h"

namespace vnet::plan {

// One line per op ("  + create bridge br0"), refusals and notes after; "no changes" when
// the plan is empty.
std::string plan_text(const Plan& plan);
// The JSON schema's version (docs/engine.md), one for plan and status. `target` names the
// namespace vnet runs against ("host" when it is the caller's own): ops there carry it.
inline constexpr int kJsonVersion = 2;
std::string plan_json(const Plan& plan, const std::string& host_name,
                      const std::string& target = "host");

// Per declared or owned object: "in sync" or its pending changes.
std::string status_text(const Plan& plan);

// One row per link vnet owns or the file names, as the kernel has it, and its state.
struct StatusRow {
  std::string name, kind, netns, master, vlans, addresses;
  std::string state;  // "in sync", "drift", "absent" (the plan creates it)
};
std::vector<StatusRow> status_rows(const topology::Topology& topo, const Snapshot& snap,
                                   const Plan& plan, const std::string& target = "host");
// The rows as an aligned table with a header, then status_text's drift details (or the
// closing "in sync").
std::string status_table(const std::vector<StatusRow>& rows, const Plan& plan);
std::string status_json(const Plan& plan, const std::string& host_name,
                        const std::string& target = "host",
                        const std::vector<StatusRow>& rows = {});

}  // namespace vnet::plan
