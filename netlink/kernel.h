// What the executor and the snapshot reader need from the machine, per logical namespace
// ("" = the target): a Transport, namespace fds (IFLA_NET_NS_FD), named namespaces, and
// the two things rtnetlink cannot do (creating a persistent tap, setting its owner).
// RealKernel maps logical names to /run/netns/<prefix><name>; tests use fakes.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/error.h"
#include "base/unique_fd.h"
#include "netlink/transport.h"
#include "plan/op.h"

namespace vnet::netlink {

class Kernel {
 public:
  virtual ~Kernel() = default;
  virtual bool netns_exists(const std::string& ns) = 0;
  virtual Result<Transport*> transport(const std::string& ns) = 0;
  virtual Result<int> netns_fd(const std::string& ns) = 0;
  virtual Status create_netns(const std::string& ns) = 0;
  virtual Status delete_netns(const std::string& ns) = 0;
  // Creates a persistent tap in `ns`; returns its ifindex.
  virtual Result<int> create_tap(const std::string& ns, const plan::LinkSpec& spec) = 0;
  virtual Status set_tap(const std::string& ns, const std::string& name,
                         std::optional<uint32_t> owner, std::optional<uint32_t> group) = 0;
  // write requests sent through every transport so far
  virtual uint64_t requests_sent() const = 0;
  virtual uint64_t sendmsg_calls() const = 0;
};

struct RealKernelOptions {
  std::string target_netns;  // "" = the caller's namespace
  std::string netns_prefix;  // kernel name of logical namespace X: prefix + X
  // The /run/vnet record of namespaces vnet made: told before a create (so a kill after
  // it cannot leave one unrecorded), after it (with its identity), and after a delete;
  // asked before a delete whether the namespace is still the one vnet made.
  enum class NetnsEvent { kCreating, kCreated, kGone };
  std::function<void(const std::string& ns, NetnsEvent ev)> on_netns;
  std::function<bool(const std::string& ns)> owns_netns;
};

class RealKernel : public Kernel {
 public:
  explicit RealKernel(RealKernelOptions o) : o_(std::move(o)) {}
  std::string kernel_name(const std::string& ns) const;
  bool netns_exists(const std::string& ns) override;
  Result<Transport*> transport(const std::string& ns) override;
  Result<int> netns_fd(const std::string& ns) override;
  Status create_netns(const std::string& ns) override;
  Status delete_netns(const std::string& ns) override;
  Result<int> create_tap(const std::string& ns, const plan::LinkSpec& spec) override;
  Status set_tap(const std::string& ns, const std::string& name, std::optional<uint32_t> owner,
                 std::optional<uint32_t> group) override;
  uint64_t requests_sent() const override;
  uint64_t sendmsg_calls() const override;

 private:
  // At most this many namespaces have open sockets at once (a transport holds up to five);
  // the least recently used is closed for the next. A namespace's descriptor stays open:
  // a batch may name hundreds of them (veth peers each in its own namespace).
  static constexpr size_t kMaxTransports = 16;
  RealKernelOptions o_;
  std::map<std::string, UniqueFd> fds_;
  std::map<std::string, std::unique_ptr<SocketTransport>> transports_;
  std::vector<std::string> recent_;  // namespaces with a transport, most recent last
  uint64_t retired_requests_ = 0, retired_calls_ = 0;
};

}  // namespace vnet::netlink
