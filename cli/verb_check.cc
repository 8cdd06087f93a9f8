// `vnet check FILE`: validate a host.toml or scenario file; 0 ok, 2 invalid. Prints every
// problem at once, each with its place in the file.
#include <iostream>

#include "cli/verbs.h"
#include "topology/load.h"

namespace po = boost::program_options;

namespace vnet::cli {

int verb_check(const Invocation& inv) {
  po::options_description opts("check options");
  auto vm = parse_args(inv, opts, {"file"}, true);
  int rc = 0;
  for (const std::string& file : vm["file"].as<std::vector<std::string>>()) {
    auto topo = topology::load_file(file);
    if (!topo) {
      std::cerr << topology::format_file_diagnostics(topo.error(), file);
      rc = 2;
      continue;
    }
    const auto& t = *topo;
    size_t links = t.bridges.size() + t.links.size() + t.vlans.size() + t.veths.size() +
                   t.taps.size() + t.macvlans.size() + t.kind_links.size();
    std::cout << file << ": ok (host " << t.host_name << ": " << links << " links, "
              << t.netns.size() << " namespaces, " << t.switches.size() << " switches, "
              << t.guests.size() << " guests";
    if (t.scenario) std::cout << ", " << t.scenario->checks.size() << " checks";
    std::cout << ")\n";
  }
  return rc;
}

}  // namespace vnet::cli
