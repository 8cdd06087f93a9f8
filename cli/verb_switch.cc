// `vnet switch NAME -c FILE`: run the userspace switch [switches.NAME] of FILE in the
// foreground (sd_notify, SIGHUP reloads VLAN policy, SIGTERM stops).
// `--show ports|fdb|stats` asks a running one instead, over DIR/control or, for those
// who may only read, DIR/query; a refusal exits 3 with the reason.
#include <fstream>
#include <iostream>
#include <sstream>

#include "cli/verbs.h"
#include "switch/config.h"
#include "switch/control.h"
#include "switch/daemon.h"
#include "topology/load.h"

namespace po = boost::program_options;

namespace vnet::cli {
namespace {

// Loads FILE and builds switch NAME's configuration; exit code and message on failure.
Result<sw::SwitchConfig> load_switch(const std::string& file, const std::string& name) {
  auto topo = topology::load_file(file);
  if (!topo) {
    std::cerr << topology::format_file_diagnostics(topo.error(), file);
    return fail(file + ": invalid", 0, ExitCode::kBadInput);
  }
  const topology::Switch* s = topo->find_switch(name);
  if (!s) {
    std::string known;
    for (const auto& x : topo->switches) known += (known.empty() ? "" : ", ") + x.name;
    return fail("switch '" + name + "' is not declared in " + file +
                    (known.empty() ? " (it declares none)" : "; declared switches: " + known),
                0, ExitCode::kBadInput);
  }
  return sw::make_config(*s);
}

}  // namespace

po::options_description switch_options() {
  po::options_description opts("switch options");
  opts.add_options()("config,c", po::value<std::string>()->value_name("FILE"),
                     "host.toml declaring the switch")(
      "show", po::value<std::string>()->value_name("ports|fdb|stats"),
      "ask the running switch instead of serving: its ports, learned MACs or counters");
  return opts;
}

int verb_switch(const Invocation& inv) {
  auto vm = parse_args(inv, switch_options(), {"name"});
  if (!vm.count("config")) throw UsageError("missing -c FILE");
  std::string name = vm["name"].as<std::string>();
  std::string file = vm["config"].as<std::string>();

  auto cfg = load_switch(file, name);
  if (!cfg) return report(int(cfg.error().exit), cfg.error().str());

  if (vm.count("show")) {
    std::string what = vm["show"].as<std::string>();
    if (what != "ports" && what != "fdb" && what != "stats")
      throw UsageError("--show takes ports, fdb or stats");
    // DIR/control first; who may not open it may still read through DIR/query.
    auto ans = sw::control_call(cfg->control_path(), {{"cmd", what}});
    if (!ans && ans.error().exit == ExitCode::kEnvironment)
      ans = sw::control_call(cfg->query_path(), {{"cmd", what}});
    if (!ans) return report(int(ans.error().exit), "switch " + name + ": " + ans.error().str());
    if (!sw::answer_ok(*ans)) return report(1, "switch " + name + ": " + sw::answer_error(*ans));
    if (inv.global.json)
      std::cout << (*ans)[what].dump(2, ' ', false, nlohmann::json::error_handler_t::replace)
                << "\n";
    else std::cout << sw::format_control_answer(what, *ans);
    return 0;
  }

  sw::DaemonOptions opts_d;
  opts_d.reload = [file, name]() { return load_switch(file, name); };
  auto daemon = sw::Daemon::create(std::move(*cfg), std::move(opts_d));
  if (!daemon) return report(int(daemon.error().exit), "switch " + name + ": " + daemon.error().str());
  if (auto s = (*daemon)->run(); !s) return report(1, "switch " + name + ": " + s.error().str());
  return 0;
}

}  // namespace vnet::cli
