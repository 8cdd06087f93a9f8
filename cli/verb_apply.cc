// `vnet apply FILE`: converge the kernel to FILE (netlink/engine.h). Prints what it did,
// or "no changes". Exit 0 ok, 1 failed (rolled back) or refused, 2 bad input, 3 the
// kernel lacks a feature (named) or state is unreadable.
#include <cstdio>
#include <iostream>

#include "cli/verbs.h"
#include "netlink/engine.h"
#include "plan/format.h"
#include "topology/load.h"

namespace vnet::cli {

int verb_apply(const Invocation& inv) {
  netlink::EngineOptions eo;
  eo.target_netns = inv.global.netns;
  // the lock is taken and the kernel read while the file is parsed
  auto prefetch = has_net_admin() ? netlink::Prefetch::start(eo) : nullptr;
  auto topo = load_verb_file(inv, "apply");
  if (!topo) return 2;
  if (!may_change_interfaces("apply")) return 3;
  eo.prefetch = prefetch.get();
  eo.interrupted = hold_stop_signals();
  auto r = netlink::apply(*topo, eo);
  if (!r) {
    const Error& e = r.error();
    std::string where = e.loc && e.loc->known() ? e.loc->str() + ": " : "";
    return report(static_cast<int>(e.exit), where + e.str());
  }
  if (!r->changed()) {
    std::cout << "no changes\n";
  } else {
    std::cout << plan::plan_text(r->plan);
    char line[160];
    snprintf(line, sizeof line, "applied %zu changes in %.3f s (%llu requests in %llu sendmsg)\n",
             r->plan.ops.size(), r->seconds, static_cast<unsigned long long>(r->requests),
             static_cast<unsigned long long>(r->sendmsgs));
    std::cout << line;
  }
  if (inv.global.verbose) {
    char line[200];
    snprintf(line, sizeof line,
             "timing: lock wait %.3f s, read %.3f s, plan %.3f s, execute %.3f s, verify %.3f s, "
             "total %.3f s; %llu write requests\n",
             r->lock_seconds, r->read_seconds, r->plan_seconds, r->exec_seconds, r->verify_seconds, r->seconds,
             static_cast<unsigned long long>(r->requests));
    std::cerr << line;
  }
  return 0;
}

}  // namespace vnet::cli
