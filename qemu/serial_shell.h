// Commands run in a VM over its serial console, where a shell reads ttyS0 (vnet's test
// guest has one; docs/guests.md "VMs in scenarios"): how a scenario check runs `from` a VM without a
// network path into it. One command at a time; its exit status comes back on a marker
// line the terminal's echo of the command cannot match (the echo shows "$?", the answer
// a number), tagged per connection so output left over from an earlier user cannot.
//
// QEMU's console socket takes one client at a time: while a SerialShell is connected,
// `vnet guest console` waits.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "base/error.h"
#include "base/unique_fd.h"

namespace vnet::qemu {

class SerialShell {
 public:
  // Connects to QEMU's console socket, retrying until `timeout` while QEMU starts.
  static Result<SerialShell> connect(const std::string& socket, std::chrono::milliseconds timeout);

  // Runs `command` (one line) in the guest's shell and returns its exit status; an error
  // after `timeout`, or as soon as `stop_fd` (optional, e.g. a signalfd) is readable.
  Result<int> run(const std::string& command, std::chrono::milliseconds timeout,
                  int stop_fd = -1);

 private:
  explicit SerialShell(UniqueFd fd);
  UniqueFd fd_;
  std::string tag_;
  uint64_t seq_ = 0;
};

// The exit status in `output` for marker `marker` ("@vnet-TAG-N=" followed by digits),
// or -1 while it has not arrived. Pure: unit-tested.
int marked_status(const std::string& output, const std::string& marker);

}  // namespace vnet::qemu
