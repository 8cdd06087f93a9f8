// `vnet destroy FILE`: remove what this host owns (links marked vnet:<host.name>, the
// namespaces vnet created for it); [links] are released from their bridge and left up;
// nothing else is touched.
#include <iostream>

#include "cli/verbs.h"
#include "netlink/engine.h"
#include "plan/format.h"
#include "topology/load.h"

namespace vnet::cli {

int verb_destroy(const Invocation& inv) {
  netlink::EngineOptions eo;
  eo.target_netns = inv.global.netns;
  // the lock is taken and the kernel read while the file is parsed
  auto prefetch = has_net_admin() ? netlink::Prefetch::start(eo) : nullptr;
  auto topo = load_verb_file(inv, "destroy");
  if (!topo) return 2;
  if (!may_change_interfaces("destroy")) return 3;
  eo.prefetch = prefetch.get();
  eo.interrupted = hold_stop_signals();
  auto r = netlink::destroy(*topo, eo);
  if (!r) {
    const Error& e = r.error();
    std::string where = e.loc && e.loc->known() ? e.loc->str() + ": " : "";
    return report(static_cast<int>(e.exit), where + e.str());
  }
  if (!r->changed()) std::cout << "nothing to destroy\n";
  else std::cout << plan::plan_text(r->plan);
  return 0;
}

}  // namespace vnet::cli
