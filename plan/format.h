// Plans for people (text) and programs (JSON, schema in docs/engine.md), and the drift
// view of `vnet status`: the same ops, grouped per object.
#pragma once

#include <string>

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
std::string status_json(const Plan& plan, const std::string& host_name,
                        const std::string& target = "host");

}  // namespace vnet::plan
