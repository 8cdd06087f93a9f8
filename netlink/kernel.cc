#include "netlink/kernel.h"

#include <fcntl.h>
#include <net/if.h>
#include <linux/if_tun.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "netlink/netns.h"

namespace vnet::netlink {

std::string RealKernel::kernel_name(const std::string& ns) const {
  if (ns.empty()) return o_.target_netns;
  return o_.netns_prefix + ns;
}

bool RealKernel::netns_exists(const std::string& ns) {
  if (ns.empty()) return o_.target_netns.empty() || netlink::netns_exists(o_.target_netns);
  return netlink::netns_exists(kernel_name(ns));
}

Result<int> RealKernel::netns_fd(const std::string& ns) {
  auto it = fds_.find(ns);
  if (it != fds_.end()) return it->second.get();
  auto fd = open_netns(kernel_name(ns));
  if (!fd) return tl::unexpected(fd.error());
  int raw = fd->get();
  fds_[ns] = std::move(*fd);
  return raw;
}

Result<Transport*> RealKernel::transport(const std::string& ns) {
  auto it = transports_.find(ns);
  if (it != transports_.end()) {
    recent_.erase(std::find(recent_.begin(), recent_.end(), ns));
    recent_.push_back(ns);
    return it->second.get();
  }
  if (transports_.size() >= kMaxTransports) {
    auto old = transports_.find(recent_.front());
    retired_requests_ += old->second->requests_sent;
    retired_calls_ += old->second->sendmsg_calls;
    transports_.erase(old);
    recent_.erase(recent_.begin());
  }
  auto fd = netns_fd(ns);
  if (!fd) return tl::unexpected(fd.error());
  auto t = SocketTransport::open(ns.empty() && o_.target_netns.empty() ? -1 : *fd);
  if (!t) return tl::unexpected(t.error());
  Transport* raw = t->get();
  transports_[ns] = std::move(*t);
  recent_.push_back(ns);
  return raw;
}

Status RealKernel::create_netns(const std::string& ns) {
  if (ns.empty()) return fail("the target namespace is not created by vnet");
  using Ev = RealKernelOptions::NetnsEvent;
  // recorded first: a kill right after the create must not leak an unrecorded namespace
  if (o_.on_netns) o_.on_netns(ns, Ev::kCreating);
  auto st = netlink::create_netns(kernel_name(ns));
  if (o_.on_netns) o_.on_netns(ns, st ? Ev::kCreated : Ev::kGone);
  return st;
}

Status RealKernel::delete_netns(const std::string& ns) {
  // checked at the last moment: someone may have deleted vnet's namespace and made their
  // own under the name since the plan was made
  if (o_.owns_netns && !o_.owns_netns(ns))
    return fail("netns " + kernel_name(ns) + " is no longer the one vnet created; left alone");
  if (auto t = transports_.find(ns); t != transports_.end()) {
    retired_requests_ += t->second->requests_sent;
    retired_calls_ += t->second->sendmsg_calls;
    transports_.erase(t);
    recent_.erase(std::find(recent_.begin(), recent_.end(), ns));
  }
  fds_.erase(ns);
  auto st = netlink::delete_netns(kernel_name(ns));
  if (st && o_.on_netns) o_.on_netns(ns, RealKernelOptions::NetnsEvent::kGone);
  return st;
}

namespace {
Result<UniqueFd> tun_attach(int netns_fd, const std::string& name, short flags) {
  auto guard = NetnsGuard::enter(netns_fd);
  if (!guard) return tl::unexpected(guard.error());
  UniqueFd fd(::open("/dev/net/tun", O_RDWR | O_CLOEXEC));
  if (!fd) {
    auto e = fail_errno("open /dev/net/tun");
    e.value().exit = ExitCode::kEnvironment;
    return e;
  }
  ifreq ifr{};
  strncpy(ifr.ifr_name, name.c_str(), IFNAMSIZ - 1);
  ifr.ifr_flags = flags;
  if (ioctl(fd.get(), TUNSETIFF, &ifr) != 0) return fail_errno("TUNSETIFF " + name);
  return fd;
}
}  // namespace

Result<int> RealKernel::create_tap(const std::string& ns, const plan::LinkSpec& spec) {
  auto nsfd = netns_fd(ns);
  if (!nsfd) return tl::unexpected(nsfd.error());
  int use_fd = ns.empty() && o_.target_netns.empty() ? -1 : *nsfd;
  // TUNSETIFF attaches to an existing tap of that name rather than failing: refuse first
  {
    auto guard = NetnsGuard::enter(use_fd);
    if (!guard) return tl::unexpected(guard.error());
    if (if_nametoindex(spec.name.c_str()) != 0)
      return fail("create tap " + spec.name + ": name is taken", EEXIST);
  }
  // the tap kind's table (topology/kinds/tap.cc) as TUNSETIFF flags and ioctls
  short flags = IFF_TAP | IFF_NO_PI;
  if (spec.number("vnet_hdr").value_or(0)) flags |= IFF_VNET_HDR;
  if (spec.number("multi_queue").value_or(0)) flags |= IFF_MULTI_QUEUE;
  auto fd = tun_attach(use_fd, spec.name, flags);
  if (!fd) return tl::unexpected(fd.error());
  auto owner = spec.number("owner"), group = spec.number("group");
  if (owner && ioctl(fd->get(), TUNSETOWNER, static_cast<unsigned long>(*owner)) != 0)
    return fail_errno("TUNSETOWNER " + spec.name);
  if (group && ioctl(fd->get(), TUNSETGROUP, static_cast<unsigned long>(*group)) != 0)
    return fail_errno("TUNSETGROUP " + spec.name);
  if (ioctl(fd->get(), TUNSETPERSIST, 1UL) != 0) return fail_errno("TUNSETPERSIST " + spec.name);
  auto guard = NetnsGuard::enter(use_fd);
  if (!guard) return tl::unexpected(guard.error());
  unsigned idx = if_nametoindex(spec.name.c_str());
  if (idx == 0) return fail_errno("tap " + spec.name + " vanished");
  return static_cast<int>(idx);
}

Status RealKernel::set_tap(const std::string& ns, const std::string& name,
                           std::optional<uint32_t> owner, std::optional<uint32_t> group) {
  auto nsfd = netns_fd(ns);
  if (!nsfd) return tl::unexpected(nsfd.error());
  int use_fd = ns.empty() && o_.target_netns.empty() ? -1 : *nsfd;
  // attach with the device's own flags: TUNGETIFF is not available before attaching, so
  // try the combinations vnet creates
  Result<UniqueFd> fd = fail("attach");
  for (short f : {IFF_TAP | IFF_NO_PI | IFF_VNET_HDR, IFF_TAP | IFF_NO_PI,
                  IFF_TAP | IFF_NO_PI | IFF_VNET_HDR | IFF_MULTI_QUEUE,
                  IFF_TAP | IFF_NO_PI | IFF_MULTI_QUEUE}) {
    fd = tun_attach(use_fd, name, static_cast<short>(f));
    if (fd) break;
  }
  if (!fd) return tl::unexpected(fd.error());
  if (owner && ioctl(fd->get(), TUNSETOWNER, static_cast<unsigned long>(*owner)) != 0)
    return fail_errno("TUNSETOWNER " + name);
  if (group && ioctl(fd->get(), TUNSETGROUP, static_cast<unsigned long>(*group)) != 0)
    return fail_errno("TUNSETGROUP " + name);
  return {};
}

uint64_t RealKernel::requests_sent() const {
  uint64_t n = retired_requests_;
  for (const auto& [k, t] : transports_) n += t->requests_sent;
  return n;
}

uint64_t RealKernel::sendmsg_calls() const {
  uint64_t n = retired_calls_;
  for (const auto& [k, t] : transports_) n += t->sendmsg_calls;
  return n;
}

}  // namespace vnet::netlink
