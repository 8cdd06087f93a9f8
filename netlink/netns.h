// Network namespaces by name, the way iproute2 keeps them (/run/netns/NAME, a bind mount
// of the namespace), and a scoped guard that moves the calling thread into one and back.
// setns() affects only the calling thread: callers enter, open what they need (a netlink
// socket, /dev/net/tun), and leave; sockets keep their namespace after the thread leaves.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "base/error.h"
#include "base/unique_fd.h"

namespace vnet::netlink {

inline constexpr const char* kNetnsRunDir = "/run/netns";

std::string netns_path(const std::string& name);
bool netns_exists(const std::string& name);

// What a named namespace is, not what it is called: the device and inode of its nsfs
// file. A namespace deleted and made again under the same name has another inode.
struct NetnsId {
  uint64_t dev = 0, ino = 0;
  bool operator==(const NetnsId&) const = default;
};
std::optional<NetnsId> netns_id(const std::string& name);
// "" = the calling thread's current namespace.
Result<UniqueFd> open_netns(const std::string& name);
// Creates /run/netns/NAME (fails with EEXIST if it is there) / unmounts and removes it.
Status create_netns(const std::string& name);
Status delete_netns(const std::string& name);

class NetnsGuard {
 public:
  // Enters the namespace behind `fd` (the thread's own when fd < 0: a no-op guard).
  static Result<NetnsGuard> enter(int fd);
  NetnsGuard(NetnsGuard&&) = default;
  NetnsGuard& operator=(NetnsGuard&&) = default;
  ~NetnsGuard();

 private:
  NetnsGuard() = default;
  UniqueFd saved_;
};

}  // namespace vnet::netlink
