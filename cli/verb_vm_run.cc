// `vnet vm-run [options] -- CMD...`: runs CMD under a stock kernel in QEMU (vmrun/vmrun.h).
// CMD's exit status is ours; vm-run's own failures exit 125 ("vnet vm-run: WHAT"), as env(1) and
// timeout(1) do, so they cannot be mistaken for CMD's.
#include <cstdlib>
#include <iostream>

#include "base/progress.h"
#include "cli/verbs.h"
#include "vmrun/vmrun.h"

namespace po = boost::program_options;

namespace vnet::cli {

po::options_description vm_run_options() {
  po::options_description opts("vm-run options");
  opts.add_options()
      ("kernel", po::value<std::string>()->value_name("K"),
       "a Debian kernel .deb or a folder with a kernel and modules (default: Debian's, "
       "fetched and cached)")
      ("memory", po::value<std::string>()->value_name("M")->default_value("1G"),
       "guest memory, e.g. 512M, 2G")
      ("cpus", po::value<int>()->value_name("N")->default_value(2), "guest CPUs")
      ("timeout", po::value<int>()->value_name("S")->default_value(0),
       "kill QEMU after S seconds (0: never)")
      ("accel", po::value<std::string>()->value_name("auto|kvm|tcg")->default_value("auto"),
       "auto (KVM if a probe boot works, else TCG), kvm or tcg")
      ("share", po::value<std::vector<std::string>>()->value_name("DIR")->composing(),
       "also share this folder writable at its path (repeatable; e.g. a source tree "
       "under /tmp)")
      ("no-pvh", "boot the bzImage instead of the extracted PVH vmlinux")
      ("systemd", "boot the host's systemd as PID 1 and run CMD as its unit (slower)");
  return opts;
}

int verb_vm_run(const Invocation& inv) {
  Invocation own = inv;
  std::vector<std::string> cmd;
  for (size_t i = 0; i < inv.args.size(); ++i) {
    if (inv.args[i] != "--") continue;
    own.args.assign(inv.args.begin(), inv.args.begin() + long(i));
    cmd.assign(inv.args.begin() + long(i) + 1, inv.args.end());
    break;
  }
  auto vm = parse_args(own, vm_run_options(), {});
  if (cmd.empty()) throw UsageError("no command: put it after --");

  vmrun::Options o;
  o.argv = cmd;
  if (vm.count("kernel")) o.kernel = vm["kernel"].as<std::string>();
  o.cpus = vm["cpus"].as<int>();
  o.timeout_s = vm["timeout"].as<int>();
  o.pvh = !vm.count("no-pvh");
  o.systemd = vm.count("systemd") > 0;
  if (vm.count("share")) o.shares = vm["share"].as<std::vector<std::string>>();
  if (o.cpus < 1) throw UsageError("--cpus must be at least 1");
  if (o.timeout_s < 0) throw UsageError("--timeout must not be negative");
  std::string accel = vm["accel"].as<std::string>();
  if (accel == "kvm") o.accel = vmrun::Accel::kKvm;
  else if (accel == "tcg") o.accel = vmrun::Accel::kTcg;
  else if (accel != "auto") throw UsageError("--accel must be auto, kvm or tcg");
  auto mem = vmrun::parse_memory(vm["memory"].as<std::string>());
  if (!mem) throw UsageError(mem.error().what);
  o.memory_mib = *mem;
  if (const char* k = std::getenv("VNET_VM_KEEP"); k && *k == '1') o.keep_scratch = true;
  // on a terminal, the set-up (a first run downloads and unpacks a kernel) as one line
  // of progress, gone before CMD's own output starts
  Progress progress("vm-run", false);
  if (inv.global.verbose) {
    o.log = [](const std::string& line) { std::cerr << "vnet vm-run: " << line << "\n"; };
  } else {
    o.log = [&progress](const std::string& line) {
      if (line.rfind("booting", 0) == 0 || line.rfind("qemu:", 0) == 0) progress.clear();
      else progress.update(line.size() > 70 ? line.substr(0, 67) + "..." : line);
    };
  }

  auto result = vmrun::run(o);
  progress.clear();
  if (!result) {
    std::cerr << "vnet vm-run: " << result.error().str() << "\n";
    return 125;
  }
  return *result;
}

}  // namespace vnet::cli
