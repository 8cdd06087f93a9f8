// `vnet watch FILE`: apply, then keep the kernel converged to FILE (netlink/watch.h).
#include "cli/verbs.h"
#include "netlink/watch.h"

namespace vnet::cli {

int verb_watch(const Invocation& inv) {
  auto vm = parse_args(inv, boost::program_options::options_description("watch"), {"file"});
  if (!may_change_interfaces("watch")) return 3;
  netlink::WatchOptions o;
  o.engine.target_netns = inv.global.netns;
  o.engine.run_dir = run_dir();
  return netlink::watch(vm["file"].as<std::string>(), o);
}

}  // namespace vnet::cli
