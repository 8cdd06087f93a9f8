// `vnet` entry point: split global options from the verb's own, dispatch through the
// verb table, turn usage errors into exit 2.
#include <signal.h>

#include <cstring>
#include <cstdlib>
#include <fstream>
#include <iostream>

#include "base/error.h"
#include "base/fd_limit.h"
#include "base/journal.h"
#include "cli/verbs.h"
#include "topology/load.h"

namespace po = boost::program_options;

namespace vnet::cli {
namespace {

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
  static const char* kFileExits =
      "0  done\n"
      "1  failed (everything done was rolled back), refused, or stopped by a signal\n"
      "2  bad input (every problem printed) or usage\n"
      "3  the environment lacks something (kernel feature, permission), named\n";
  static const std::vector<Verb> table = {
      {"check", "check FILE...", "validate a host.toml or scenario file", verb_check, nullptr,
       "0  every file is valid\n2  a file is invalid (every problem printed) or usage\n", ""},
      {"plan", "plan FILE [--json]", "show what apply would change", verb_plan, nullptr,
       "0  nothing to change\n1  changes (or refusals) to make\n"
       "2  bad input or usage\n3  kernel state unreadable\n",
       ""},
      {"apply", "apply FILE [--confirm S]", "converge the kernel to FILE", verb_apply, apply_options,
       kFileExits, ""},
      {"confirm", "confirm [--cancel]",
       "keep the change `apply --confirm` made (or roll it back now)", verb_confirm, confirm_options,
       "0  kept, or (--cancel) rolled back\n1  no change was waiting, or it was rolled back "
       "already (the time ran out)\n",
       ""},
      {"watch", "watch FILE",
       "apply, then repair drift of owned objects as rtnetlink reports it, until stopped "
       "(SIGHUP re-reads FILE)",
       verb_watch, nullptr,
       "0  stopped by SIGTERM or SIGINT\n1  the first apply failed (rolled back)\n"
       "2  bad input or usage\n3  the environment lacks something (permission, kernel "
       "feature), named\n",
       ""},
      {"destroy", "destroy FILE", "remove what vnet owns for this host", verb_destroy, nullptr,
       kFileExits, ""},
      {"status", "status FILE [--json]", "live state vs declared, per object", verb_status,
       nullptr, "0  in sync\n1  drift\n2  bad input or usage\n3  kernel state unreadable\n",
       ""},
      {"show", "show [--all] [--host NAME]",
       "the live state as host.toml: the links vnet owns, or --all every link it can express",
       verb_show, show_options,
       "0  shown (what host.toml cannot say is listed on stderr)\n"
       "2  several vnet hosts own links here (pick one with --host), none does, or usage\n"
       "3  kernel state unreadable\n",
       ""},
      {"render", "render networkd FILE -o DIR [--netns X]\nrender nixos FILE [-o PATH] [--netns X]\nrender nspawn|lxc|incus FILE [-o DIR]\nrender units FILE -o DIR [--vnet-binary PATH]",
       "write the topology as systemd-networkd files, a NixOS module or systemd units, its "
       "container guests as .nspawn files, LXC configs or Incus YAML",
       verb_render, render_options,
       "0  written (objects left out are named on stderr)\n"
       "1  a file could not be written\n"
       "2  bad input (every problem printed; lxc: VLANs on a bridge with default_pvid 0) or "
       "usage\n",
       "networkd nixos nspawn lxc incus units"},
      {"import", "import ifupdown FILE [--host NAME]\nimport networkd DIR [--host NAME]",
       "another tool's configuration as host.toml on stdout: /etc/network/interfaces "
       "(ifupdown2, Proxmox; FILE - is stdin) or .netdev/.network files",
       verb_import, import_options,
       "0  imported (what host.toml cannot carry: warnings on stderr, comments in the output)\n"
       "1  FILE or DIR could not be read\n"
       "2  a malformed line (every one printed as FILE:LINE: error: ...), or usage\n",
       "ifupdown networkd"},
      {"switch", "switch NAME -c FILE [--show ports|fdb|stats]",
       "run (or query) a userspace VLAN-aware switch", verb_switch, switch_options,
       "0  stopped by SIGTERM/SIGINT, or --show answered\n"
       "1  the switch failed while serving, or refused the query\n"
       "2  bad input (FILE invalid, NAME not declared) or usage\n"
       "3  the environment lacks something (socket folder, permission, switch not "
       "running)\n",
       ""},
      {"guest",
       "guest start|stop|restart|status|console|ssh NAME -c FILE [--timeout S] "
       "[--accel auto|kvm|tcg] [--state-dir DIR] [--log] [--follow] [--since-boot] [--user U] [--unit] [-- CMD...]\n"
       "guest list -c FILE",
       "start, stop and reach QEMU guests and systemd-nspawn containers", verb_guest, guest_options,
       "0  done (start: also when already running; stop: also when not running)\n"
       "1  the operation failed (QEMU did not come up, ...)\n"
       "2  bad input: FILE invalid, NAME not declared, or usage\n"
       "3  the environment lacks something (qemu, systemd-nspawn, ssh, root for links, KVM)\n",
       "start stop restart status list console ssh"},
      {"scenario", "scenario run FILE... [--junit F] [--vm] [--keep]\nscenario clean",
       "build a topology in namespaces, run its checks, tear it down; clean removes what "
       "killed runs left",
       verb_scenario, scenario_run_options,
       "0  every check passed (clean: leftovers removed)\n"
       "1  a check failed or the topology could not be built\n"
       "2  bad input or usage\n"
       "3  not root, or the kernel lacks a required feature (see --vm)\n",
       "run clean"},
      {"vm-run",
       "vm-run [--kernel K] [--memory M] [--cpus N] [--timeout S] [--accel auto|kvm|tcg] "
       "[--share DIR]... [--no-pvh] [--systemd] -- CMD...",
       "run CMD as root under a stock kernel in QEMU", verb_vm_run, vm_run_options,
       "N    CMD's own exit status\n2    usage (nothing started)\n"
       "125  vm-run itself failed (message on stderr)\n",
       ""},
      {"help", "help [VERB]", "this list, or one verb's usage, options and exit codes",
       verb_help, nullptr, "0  help printed\n2  unknown verb\n", ""},
      {"completion", "completion bash|zsh", "print a shell completion script",
       verb_completion, nullptr, "0  script printed\n2  unknown shell\n", "bash zsh"},
  };
  return table;
}

const Verb* find_verb(const std::string& name) {
  for (const Verb& v : verbs())
    if (name == v.name) return &v;
  return nullptr;
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
  po::variables_map vm;
  return load_verb_file(inv, verb, po::options_description(verb), vm);
}

std::optional<topology::Topology> load_verb_file(const Invocation& inv, const char*,
                                                 const po::options_description& options,
                                                 po::variables_map& vm) {
  vm = parse_args(inv, options, {"file"});
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
  std::cerr << journal_line(exit_code == 0 ? Priority::kInfo : Priority::kErr, "vnet: " + message) << "\n";
  return exit_code;
}

std::string run_dir() {
  const char* dir = getenv("VNET_RUN_DIR");
  return dir && *dir ? dir : "/run/vnet";
}

bool has_net_admin() {
  // CapEff in /proc/self/status: root without CAP_NET_ADMIN (a container) fails too, and
  // a non-root process given the capability passes
  constexpr int kCapNetAdmin = 12;
  std::ifstream in("/proc/self/status");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("CapEff:", 0) != 0) continue;
    unsigned long long caps = std::strtoull(line.c_str() + 7, nullptr, 16);
    return (caps & (1ULL << kCapNetAdmin)) != 0;
  }
  return false;
}

bool may_change_interfaces(const char* verb) {
  if (has_net_admin()) return true;
  std::cerr << "vnet " << verb << ": needs root (CAP_NET_ADMIN) to change network interfaces\n";
  return false;
}

}  // namespace vnet::cli

namespace {

// `VERB --help` or `-h` anywhere before "--" (after it, the words are vm-run's command).
bool asks_help(const std::vector<std::string>& args) {
  for (const std::string& a : args) {
    if (a == "--") return false;
    if (a == "--help" || a == "-h") return true;
  }
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace vnet::cli;
  vnet::raise_descriptor_limit();
  Invocation inv;
  try {
    inv = split(argc, argv);
  } catch (const UsageError& e) {
    return report(2, e.what());
  }
  if (inv.verb.empty()) {
    if (inv.args.size() == 1 && inv.args[0] == "--version") {
      std::cout << version_text();
      return 0;
    }
    bool asked = inv.args.size() == 1 && (inv.args[0] == "--help" || inv.args[0] == "-h");
    (asked ? std::cout : std::cerr) << general_help();
    return asked ? 0 : 2;
  }
  const Verb* v = find_verb(inv.verb);
  if (!v) {
    std::string near = nearest_verb(inv.verb);
    if (!near.empty())
      return report(2, "unknown verb '" + inv.verb + "'; did you mean '" + near + "'?");
    std::cerr << "vnet: unknown verb '" << inv.verb << "'\n" << general_help();
    return 2;
  }
  if (asks_help(inv.args)) {
    std::cout << help_text(*v);
    return 0;
  }
  try {
    return v->run(inv);
  } catch (const UsageError& e) {
    std::cerr << "vnet " << v->name << ": " << e.what() << "\n" << usage_lines(*v);
    return 2;
  }
}
