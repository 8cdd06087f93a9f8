// Unix socket plumbing shared by the listeners and ports: bind with the configured mode
// and group, remove stale sockets left by a crashed switch, make the socket folder.
#pragma once

#include <sys/un.h>

#include <string>

#include "base/error.h"
#include "base/unique_fd.h"

namespace vnet::sw {

Result<sockaddr_un> unix_addr(const std::string& path);
// Applies mode and (gid >= 0) group to a path; group changes need root, so EPERM when
// not root is ignored when `gid` is our own group.
Status set_perms(const std::string& path, uint32_t mode, int gid);
// mkdir -p; the last component gets `mode` and `gid`.
Status make_dir(const std::string& path, uint32_t mode, int gid);
// A listening SOCK_STREAM (backlog 64) or a bound SOCK_DGRAM at `path`, non-blocking.
// An existing socket file is replaced only when nobody answers on it.
Result<UniqueFd> listen_unix(const std::string& path, int type, uint32_t mode, int gid);
Status set_nonblock(int fd);

}  // namespace vnet::sw
