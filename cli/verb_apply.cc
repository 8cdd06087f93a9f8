// `vnet apply FILE`: converge the kernel to FILE (netlink/engine.h). Prints what it did,
// or "no changes". `vnet destroy FILE`: remove what this host owns (links marked
// vnet:<host.name>, the namespaces vnet created for it); [links] are released from their
// bridge and left up; nothing else is touched. Exit 0 ok, 1 failed (rolled back) or
// refused, 2 bad input, 3 the kernel lacks a feature (named) or state is unreadable.
#include <cstdio>
#include <iostream>

#include "base/progress.h"
#include "cli/verbs.h"
#include "netlink/engine.h"
#include "plan/format.h"
#include "topology/load.h"

namespace vnet::cli {
namespace {

int converge(const Invocation& inv, const char* verb, bool destroy) {
  netlink::EngineOptions eo;
  eo.target_netns = inv.global.netns;
  eo.run_dir = run_dir();
  // the lock is taken and the kernel read while the file is parsed
  auto prefetch = has_net_admin() ? netlink::Prefetch::start(eo) : nullptr;
  boost::program_options::variables_map vm;
  auto topo = destroy ? load_verb_file(inv, verb) : load_verb_file(inv, verb, apply_options(), vm);
  if (!topo) return 2;
  if (vm.count("confirm")) {
    unsigned s = vm["confirm"].as<unsigned>();
    if (s == 0) throw UsageError("--confirm needs a number of seconds above 0");
    eo.confirm_seconds = s;
  }
  if (!may_change_interfaces(verb)) return 3;
  eo.prefetch = prefetch.get();
  eo.interrupted = hold_stop_signals();
  Progress progress(verb, inv.global.verbose);
  eo.progress = progress.callback();
  auto r = destroy ? netlink::destroy(*topo, eo) : netlink::apply(*topo, eo);
  progress.clear();
  if (!r) {
    const Error& e = r.error();
    std::string where = e.loc && e.loc->known() ? e.loc->str() + ": " : "";
    return report(static_cast<int>(e.exit), where + e.str());
  }
  if (!r->changed()) {
    std::cout << (destroy ? "nothing to destroy\n" : "no changes\n");
  } else {
    std::cout << plan::plan_text(r->plan);
    char line[160];
    snprintf(line, sizeof line, "%s %zu changes in %.3f s (%llu requests in %llu sendmsg)\n",
             destroy ? "destroyed with" : "applied", r->plan.ops.size(), r->seconds,
             static_cast<unsigned long long>(r->requests), static_cast<unsigned long long>(r->sendmsgs));
    std::cout << line;
  }
  if (r->confirm_pid) {
    std::cout << "this change is rolled back in " << *eo.confirm_seconds
              << " s unless confirmed: run `vnet confirm` (from any session on this host) to keep it, "
                 "`vnet confirm --cancel` to roll it back now\n";
  }
  if (inv.global.verbose) {
    char line[200];
    snprintf(line, sizeof line,
             "timing: lock wait %.3f s, read %.3f s, plan %.3f s, execute %.3f s, verify %.3f s, "
             "total %.3f s; %llu write requests\n",
             r->lock_seconds, r->read_seconds, r->plan_seconds, r->exec_seconds, r->verify_seconds, r->seconds,
             static_cast<unsigned long long>(r->requests));
    std::cerr << line;
  }
  return 0;
}

}  // namespace

boost::program_options::options_description apply_options() {
  boost::program_options::options_description o("apply options");
  o.add_options()("confirm", boost::program_options::value<unsigned>()->value_name("S"),
                  "roll the change back after S seconds unless `vnet confirm` keeps it, even "
                  "if this session dies");
  return o;
}

boost::program_options::options_description confirm_options() {
  boost::program_options::options_description o("confirm options");
  o.add_options()("cancel", "roll the pending change back now instead of keeping it");
  return o;
}

int verb_confirm(const Invocation& inv) {
  auto vm = parse_args(inv, confirm_options(), {});
  auto r = netlink::confirm(vm.count("cancel") != 0, run_dir());
  if (!r) return report(1, "confirm: " + r.error().str());
  std::cout << *r << "\n";
  bool wanted = vm.count("cancel") ? r->rfind("rolled back", 0) == 0 : *r == "kept";
  return wanted && r->find("undo failed") == std::string::npos ? 0 : 1;
}

int verb_apply(const Invocation& inv) { return converge(inv, "apply", false); }
int verb_destroy(const Invocation& inv) { return converge(inv, "destroy", true); }

}  // namespace vnet::cli
