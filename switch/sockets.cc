#include "switch/sockets.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace vnet::sw {

Result<sockaddr_un> unix_addr(const std::string& path) {
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  if (path.size() >= sizeof sa.sun_path)
    return fail("socket path '" + path + "' is " + std::to_string(path.size()) +
                    " bytes, unix sockets allow " + std::to_string(sizeof sa.sun_path - 1),
                0, ExitCode::kBadInput);
  std::memcpy(sa.sun_path, path.data(), path.size());
  return sa;
}

Status set_perms(const std::string& path, uint32_t mode, int gid) {
  if (::chmod(path.c_str(), mode) < 0) return fail_errno("chmod " + path);
  if (gid >= 0 && ::chown(path.c_str(), uid_t(-1), gid_t(gid)) < 0)
    return fail_errno("chown " + path);
  return {};
}

Status make_dir(const std::string& path, uint32_t mode, int gid) {
  for (size_t i = 1; i <= path.size(); ++i) {
    if (i != path.size() && path[i] != '/') continue;
    std::string part = path.substr(0, i);
    if (::mkdir(part.c_str(), i == path.size() ? mode : 0755) < 0 && errno != EEXIST)
      return fail_errno("mkdir " + part);
  }
  return set_perms(path, mode, gid);
}

Status set_nonblock(int fd) {
  int fl = ::fcntl(fd, F_GETFL);
  if (fl < 0 || ::fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) return fail_errno("fcntl O_NONBLOCK");
  return {};
}

// True when something accepts connections at `sa` (a live switch): never steal its path.
static bool in_use(const sockaddr_un& sa, int type) {
  UniqueFd probe(::socket(AF_UNIX, type | SOCK_CLOEXEC, 0));
  if (!probe) return false;
  return ::connect(probe.get(), reinterpret_cast<const sockaddr*>(&sa), sizeof sa) == 0;
}

Result<UniqueFd> listen_unix(const std::string& path, int type, uint32_t mode, int gid) {
  auto sa = unix_addr(path);
  if (!sa) return tl::unexpected(sa.error());
  struct stat st;
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode))
      return fail(path + " exists and is not a socket", EEXIST, ExitCode::kBadInput);
    if (in_use(*sa, type)) return fail(path + " is in use by another process", EADDRINUSE);
    ::unlink(path.c_str());
  }
  UniqueFd fd(::socket(AF_UNIX, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) return fail_errno("socket");
  if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&*sa), sizeof *sa) < 0)
    return fail_errno("bind " + path);
  if (auto s = set_perms(path, mode, gid); !s) return tl::unexpected(s.error());
  if (type == SOCK_STREAM && ::listen(fd.get(), 64) < 0) return fail_errno("listen " + path);
  return fd;
}

}  // namespace vnet::sw
