// The engine: what `vnet plan/apply/destroy/status` and the scenario runner call.
//
//   apply:   lock /run/vnet/lock; dump every namespace involved; plan; execute (batched,
//            undone in reverse on the first failure); dump again and re-plan: a non-empty
//            plan after apply is a failure ("verify"). A second apply sends no write.
//   destroy: the same with a plan that removes what this host owns.
//   plan:    dump and plan only (no lock, no writes).
//
// Namespaces: logical "" (or "host") is the target: the caller's namespace, or
// /run/netns/<target_netns>. Any other namespace X is /run/netns/<netns_prefix>X, created
// on first reference and recorded in /run/vnet/netns/<record key> so destroy removes only
// namespaces vnet created.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "base/error.h"
#include "plan/planner.h"
#include "topology/model.h"

namespace vnet::netlink {

class Prefetch;

struct EngineOptions {
  std::string target_netns;  // "" = the caller's namespace; else it must exist
  std::string netns_prefix;  // kernel name of namespace X = prefix + X (scenario runs)
  std::string run_dir = "/run/vnet";  // lock file and namespace records
  bool verify = true;
  std::optional<size_t> fail_at_step;  // test seam: op k fails, the rest is undone
  // Test seam: runs between execute and verify, where another process could change
  // what apply just did.
  std::function<void()> before_verify;
  // Asked while waiting for the lock and between steps: a signal number means stop. The
  // step in flight finishes and everything done is rolled back; once only verify is
  // left, the apply finishes instead.
  std::function<int()> interrupted;
  // Started before the file was read (Prefetch::start): apply and destroy take its lock
  // and its read of the target namespace over instead of doing both again.
  Prefetch* prefetch = nullptr;
  // Told each phase ("wait for the lock", "read", "plan", "execute" with steps done of
  // total, "verify", "roll back"): the command line's progress line.
  std::function<void(const char* phase, size_t done, size_t total)> progress;
  // apply --confirm: after a verified apply, a keeper process in a session of its own
  // (so that the caller, its terminal, its SSH session or its process group dying does
  // not end it) holds the undo and runs it after this many seconds unless confirm()
  // arrives. While it waits, apply and destroy refuse to start.
  std::optional<unsigned> confirm_seconds;
};

// The change applied with --confirm that waits for confirmation (RUN_DIR/pending).
struct Pending {
  int pid = 0;               // the keeper
  std::string host;          // [host] name of the file applied
  double seconds_left = 0;   // until it rolls back
};
std::optional<Pending> pending(const std::string& run_dir = "/run/vnet");
// Keeps the pending change (or, `cancel`, rolls it back now) and returns what the keeper
// did: "kept", or "rolled back" (with what went wrong, if anything did). Fails when no
// change is pending.
Result<std::string> confirm(bool cancel, const std::string& run_dir = "/run/vnet");

// A no-op apply of 1000 ports spends about as long parsing host.toml as reading the
// kernel's links: started before the file is read, this takes the lock (only if it is
// free: waiting is left to apply, which can be interrupted) and reads the target
// namespace on a thread of its own, so the two overlap. Whatever fails here is simply
// done again by apply.
class Prefetch {
 public:
  static std::unique_ptr<Prefetch> start(const EngineOptions& options);
  virtual ~Prefetch() = default;  // waits for the thread
};

struct ApplyReport {
  plan::Plan plan;          // what was (or, for plan(), would be) done
  plan::Snapshot snapshot;  // plan(): the kernel's state it was made from
  uint64_t requests = 0;    // rtnetlink write requests sent (0 on a no-op apply)
  uint64_t sendmsgs = 0;    // sendmsg calls for them
  double seconds = 0;       // wall time of the whole call
  double lock_seconds = 0;  // waiting for /run/vnet/lock (another apply running)
  double read_seconds = 0, plan_seconds = 0, exec_seconds = 0, verify_seconds = 0;
  int confirm_pid = 0;      // apply --confirm: the keeper that rolls back unless confirmed
  bool changed() const { return !plan.ops.empty(); }
};

// Exit codes in Error::exit: kFailed (refused, failed and rolled back, verify diff),
// kEnvironment (kernel state unreadable, target namespace missing, kernel feature
// missing: EOPNOTSUPP or unknown link kind, with the feature named), kBadInput.
Result<ApplyReport> apply(const topology::Topology& topo, const EngineOptions& options);
Result<ApplyReport> destroy(const topology::Topology& topo, const EngineOptions& options);
// Read-only: the plan apply (or destroy) would run. Refusals are in plan.refusals.
Result<ApplyReport> plan(const topology::Topology& topo, const EngineOptions& options,
                         bool for_destroy = false);

// `vnet show`: the target namespace and every named one (/run/netns/*, where veth peers
// live), as they are. Reads only.
Result<plan::Snapshot> read_live(const EngineOptions& options);

// The kernel feature an EOPNOTSUPP for this op means ("" if none is known).
std::string missing_feature(const plan::Op& op);

}  // namespace vnet::netlink
