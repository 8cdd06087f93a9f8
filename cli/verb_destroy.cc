// `vnet destroy FILE`: remove what this host owns (links marked vnet:<host.name>, the
// namespaces vnet created for it); [links] are released from their bridge and left up;
// nothing else is touched.
#include <fstream>
#include <iostream>
#include <sstream>

#include "cli/verbs.h"
#include "netlink/engine.h"
#include "plan/format.h"
#include "topology/load.h"

namespace vnet::cli {

int verb_destroy(const Invocation& inv) {
  boost::program_options::options_description opts("destroy");
  auto vm = parse_args(inv, opts, {"file"});
  std::string file = vm["file"].as<std::string>();
  auto topo = topology::load_file(file);
  if (!topo) {
    std::cerr << topology::format_file_diagnostics(topo.error(), file);
    return 2;
  }
  netlink::EngineOptions eo;
  eo.target_netns = inv.global.netns;
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
