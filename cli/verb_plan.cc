// `vnet plan FILE [--json]`: what apply would change. Exit 0 nothing to do, 1 changes (or
// refusals), 2 bad input, 3 kernel state unreadable. JSON schema: docs/engine.md.
#include <iostream>

#include "cli/verbs.h"
#include "netlink/engine.h"
#include "plan/format.h"
#include "topology/load.h"

namespace vnet::cli {

int verb_plan(const Invocation& inv) {
  auto topo = load_verb_file(inv, "plan");
  if (!topo) return 2;
  netlink::EngineOptions eo;
  eo.run_dir = run_dir();
  eo.target_netns = inv.global.netns;
  auto r = netlink::plan(*topo, eo);
  if (!r) return report(static_cast<int>(r.error().exit == ExitCode::kFailed ? ExitCode::kEnvironment
                                                                               : r.error().exit),
                        r.error().str());
  std::cout << (inv.global.json ? plan::plan_json(r->plan, topo->host_name,
                                                 inv.global.netns.empty() ? "host" : inv.global.netns)
                                : plan::plan_text(r->plan));
  return r->plan.ops.empty() && r->plan.refusals.empty() ? 0 : 1;
}

}  // namespace vnet::cli
