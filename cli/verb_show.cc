// `vnet show [--all] [--host NAME]`: the live state of the target namespace (or --netns
// X) as host.toml: the links one vnet host owns, or every link the schema can express.
// What it cannot express is listed as comments and on stderr.
#include <iostream>

#include "cli/verbs.h"
#include "netlink/engine.h"
#include "plan/show.h"

namespace vnet::cli {

boost::program_options::options_description show_options() {
  boost::program_options::options_description o("show options");
  o.add_options()("all", "every link the schema can express, not only those vnet owns")(
      "host", boost::program_options::value<std::string>()->value_name("NAME"),
      "the vnet host whose links to show (default: the only one here)");
  return o;
}

int verb_show(const Invocation& inv) {
  auto vm = parse_args(inv, show_options(), {});
  netlink::EngineOptions eo;
  eo.target_netns = inv.global.netns;
  auto snap = netlink::read_live(eo);
  if (!snap) return report(static_cast<int>(snap.error().exit), "show: " + snap.error().str());
  plan::ShowOptions so;
  so.all = vm.count("all") != 0;
  if (vm.count("host")) so.host = vm["host"].as<std::string>();
  if (so.all && so.host.empty()) so.host = "show";
  auto r = plan::show(*snap, so);
  if (!r) return report(static_cast<int>(r.error().exit), "show: " + r.error().what);
  std::cout << r->toml;
  for (const std::string& s : r->left_out) std::cerr << "vnet show: left out: " << s << "\n";
  return 0;
}

}  // namespace vnet::cli
