// The executor: runs a plan against a Kernel, batching consecutive rtnetlink requests of
// one namespace into as few sendmsg calls as the socket takes, collecting every ack. The
// kernel does not stop a batch at an error (facts.md), so after a failure every op that
// had any request succeed - before or after the failing one - is undone, in reverse,
// with the undo ops the planner attached. The error names the op that failed first, with
// the kernel's extended-ack text and the host.toml location of the object.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <vector>

#include "netlink/kernel.h"
#include "plan/op.h"

namespace vnet::netlink {

struct ExecOptions {
  // Test seam: op number k (0-based) fails without being sent, after ops 0..k-1 ran.
  std::optional<size_t> fail_at;
  // Asked before each step (a batch of one namespace, or one non-netlink op): a signal
  // number stops the run there, as a failure, and what ran is undone.
  std::function<int()> interrupted;
  // Told before each step how many ops ran of how many (progress on a terminal).
  std::function<void(size_t done, size_t total)> on_step;
};

struct ExecStats {
  size_t ops = 0;
  uint64_t requests = 0;  // write requests sent
  uint64_t sendmsgs = 0;
  std::vector<Error> undo_errors;  // only on failure: undo steps that failed too
  std::map<int, int> remap;        // planned ifindex -> the kernel's (taps choose their own)
};

struct ExecFailure {
  Error error;
  size_t failed_op = 0;
  ExecStats stats;
};

// Undoes every op of a plan that ran to the end, newest first (apply's verify found the
// kernel did not take part of it). Returns the undo steps that failed.
std::vector<Error> roll_back(const std::vector<plan::Op>& ops, const ExecStats& done,
                             Kernel& kernel);

tl::expected<ExecStats, ExecFailure> execute(const std::vector<plan::Op>& ops, Kernel& kernel,
                                             const ExecOptions& options = {});

}  // namespace vnet::netlink
