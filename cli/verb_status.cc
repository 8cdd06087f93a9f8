// `vnet status FILE [--json]`: live state against the declaration, per object. Exit 0 in
// sync, 1 drift, 2 bad input, 3 kernel state unreadable.
#include <iostream>

#include "base/progress.h"
#include "cli/verbs.h"
#include "netlink/engine.h"
#include "plan/format.h"
#include "topology/load.h"

namespace vnet::cli {

int verb_status(const Invocation& inv) {
  auto topo = load_verb_file(inv, "status");
  if (!topo) return 2;
  netlink::EngineOptions eo;
  eo.run_dir = run_dir();
  eo.target_netns = inv.global.netns;
  Progress progress("status", inv.global.verbose);
  eo.progress = progress.callback();
  auto r = netlink::plan(*topo, eo);
  progress.clear();
  if (!r) return report(3, r.error().str());
  std::string target = inv.global.netns.empty() ? "host" : inv.global.netns;
  auto rows = plan::status_rows(*topo, r->snapshot, r->plan, target);
  std::cout << (inv.global.json ? plan::status_json(r->plan, topo->host_name, target, rows)
                                : plan::status_table(rows, r->plan));
  return r->plan.ops.empty() && r->plan.refusals.empty() ? 0 : 1;
}

}  // namespace vnet::cli
