// `vnet` entry point: split global options from the verb's own, dispatch through the
// verb table, turn usage errors into exit 2.
#include <signal.h>

#include <cstring>
#include <iostream>

#include "base/error.h"
#include "base/fd_limit.h"
#include "cli/verbs.h"
#include "topology/load.h"

namespace po = boost::program_options;

namespace vnet::cli {
namespace {

void print_help(std::ostream& out) {
  out << "usage: vnet [--netns NAME] [-v] [--json] VERB [ARGS...]\n\nverbs:\n";
  for (const Verb& v : verbs()) {
    std::string line = std::string("  ") + v.synopsis;
    if (line.size() < 44) line.resize(44, ' ');
    else line += "\n" + std::string(44, ' ');
    out << line << v.summary << "\n";
  }
  out << "\nexit codes: 0 ok, 1 failed or changes/drift, 2 bad input, 3 environment lacks "
         "something\n";
}

// Global options may stand before or after the verb; everything after "--" belongs to
// the verb untouched (vm-run's command).
Invocation split(int argc, char** argv) {
  Invocation inv;
  bool passthrough = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (passthrough) {
      inv.args.push_back(a);
      continue;
    }
    if (a == "--") {
      passthrough = true;
      inv.args.push_back(a);
    } else if (a == "--netns" || a.rfind("--netns=", 0) == 0) {
      if (a == "--netns") {
        if (i + 1 >= argc) throw UsageError("--netns needs a namespace name");
        inv.global.netns = argv[++i];
      } else {
        inv.global.netns = a.substr(8);
      }
      if (inv.global.netns.empty()) throw UsageError("--netns needs a namespace name");
    } else if (a == "-v" || a == "--verbose") {
      inv.global.verbose = true;
    } else if (a == "--json") {
      inv.global.json = true;
    } else if (inv.verb.empty() && !a.empty() && a[0] != '-') {
      inv.verb = a;
    } else {
      inv.args.push_back(a);
    }
  }
  return inv;
}

}  // namespace

const std::vector<Verb>& verbs() {
  static const std::vector<Verb> table = {
      {"check", "check FILE", "validate a host.toml or scenario file", verb_check},
      {"plan", "plan FILE [--json]", "show what apply would change", verb_plan},
      {"apply", "apply FILE", "converge the kernel to FILE", verb_apply},
      {"destroy", "destroy FILE", "remove what vnet owns for this host", verb_destroy},
      {"status", "status FILE [--json]", "live state vs declared, per object", verb_status},
      {"render", "render networkd|nixos|units FILE [-o DIR]",
       "write the topology as networkd files, a NixOS module or units", verb_render},
      {"switch", "switch NAME -c FILE [--show ports|fdb|stats]",
       "run (or query) a userspace VLAN-aware switch", verb_switch},
      {"guest", "guest start|stop|status|console NAME -c FILE", "QEMU and nspawn guests",
       verb_guest},
      {"scenario", "scenario run FILE... [--junit F] [--vm] [--keep]",
       "build a topology in namespaces, run its checks, tear it down", verb_scenario},
      {"vm-run", "vm-run [--kernel K] [--memory M] [--timeout S] -- CMD...",
       "run CMD as root under a stock kernel in QEMU", verb_vm_run},
  };
  return table;
}

po::variables_map parse_args(const Invocation& inv, const po::options_description& options,
                             const std::vector<std::string>& positional, bool last_repeats) {
  po::options_description all(options);
  po::positional_options_description pos;
  for (size_t i = 0; i < positional.size(); ++i) {
    bool repeat = last_repeats && i + 1 == positional.size();
    if (repeat)
      all.add_options()(positional[i].c_str(),
                        po::value<std::vector<std::string>>()->composing());
    else
      all.add_options()(positional[i].c_str(), po::value<std::string>());
    pos.add(positional[i].c_str(), repeat ? -1 : 1);
  }
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(inv.args).options(all).positional(pos).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    throw UsageError(e.what());
  }
  for (const auto& p : positional)
    if (!vm.count(p)) throw UsageError("missing " + p);
  return vm;
}

std::optional<topology::Topology> load_verb_file(const Invocation& inv, const char* verb) {
  po::variables_map vm = parse_args(inv, po::options_description(verb), {"file"});
  std::string file = vm["file"].as<std::string>();
  auto topo = topology::load_file(file);
  if (!topo) {
    std::cerr << topology::format_file_diagnostics(topo.error(), file);
    return std::nullopt;
  }
  return std::move(*topo);
}

std::function<int()> hold_stop_signals() {
  sigset_t set;
  sigemptyset(&set);
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&set, sig);
  sigprocmask(SIG_BLOCK, &set, nullptr);
  return [set] {
    timespec now{0, 0};
    int sig = sigtimedwait(&set, nullptr, &now);
    return sig > 0 ? sig : 0;
  };
}

int report(int exit_code, const std::string& message) {
  std::cerr << "vnet: " << message << "\n";
  return exit_code;
}

}  // namespace vnet::cli

int main(int argc, char** argv) {
  using namespace vnet::cli;
  vnet::raise_descriptor_limit();
  Invocation inv;
  try {
    inv = split(argc, argv);
  } catch (const UsageError& e) {
    return report(2, e.what());
  }
  if (inv.verb.empty() || inv.verb == "help" ||
      (inv.verb.empty() && !inv.args.empty() && inv.args[0] == "--help")) {
    bool asked = inv.verb == "help" || (!inv.args.empty() && (inv.args[0] == "--help" ||
                                                              inv.args[0] == "-h"));
    print_help(asked ? std::cout : std::cerr);
    return asked ? 0 : 2;
  }
  for (const Verb& v : verbs()) {
    if (inv.verb != v.name) continue;
    try {
      return v.run(inv);
    } catch (const UsageError& e) {
      std::cerr << "vnet " << v.name << ": " << e.what() << "\nusage: vnet " << v.synopsis
                << "\n";
      return 2;
    }
  }
  std::cerr << "vnet: unknown verb '" << inv.verb << "'\n";
  print_help(std::cerr);
  return 2;
}
