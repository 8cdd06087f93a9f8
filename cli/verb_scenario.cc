// `vnet scenario run FILE... [--junit F] [--vm] [--keep]` and `vnet scenario clean`.
#include <unistd.h>

#include <climits>
#include <iostream>

#include "cli/verbs.h"
#include "scenario/runner.h"

namespace po = boost::program_options;

namespace vnet::cli {

namespace {
std::string self_exe() {
  char buf[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, n) : "vnet";
}
}  // namespace

// `scenario clean` takes no options; these are `scenario run`'s.
po::options_description scenario_run_options() {
  po::options_description opts("scenario run options");
  opts.add_options()("junit", po::value<std::string>()->value_name("F"),
                     "write JUnit XML to this file")(
      "vm", po::bool_switch(), "run inside vnet vm-run when the kernel lacks a feature")(
      "keep", po::bool_switch(), "leave the lab up and say how to enter it");
  return opts;
}

int verb_scenario(const Invocation& inv) {
  if (inv.args.empty()) throw UsageError("missing action: run or clean");
  Invocation rest = inv;
  std::string action = rest.args.front();
  rest.args.erase(rest.args.begin());
  if (action == "clean") {
    parse_args(rest, po::options_description("scenario clean options"), {});
    auto n = scenario::clean_stale_runs(true);
    if (!n) return report(1, "scenario clean: " + n.error().str());
    std::cout << "removed " << *n << " leftover scenario run" << (*n == 1 ? "" : "s") << "\n";
    return 0;
  }
  if (action != "run") throw UsageError("unknown action '" + action + "': run or clean");
  auto vm = parse_args(rest, scenario_run_options(), {"file"}, true);
  if (geteuid() != 0)
    return report(3, "scenario run needs root (network namespaces); run it as root");
  scenario::RunOptions o;
  o.vm = vm["vm"].as<bool>();
  o.keep = vm["keep"].as<bool>();
  if (vm.count("junit")) o.junit_path = vm["junit"].as<std::string>();
  o.self_exe = self_exe();
  o.verbose = inv.global.verbose;
  o.json = inv.global.json;
  return scenario::run_files(vm["file"].as<std::vector<std::string>>(), o);
}

}  // namespace vnet::cli
