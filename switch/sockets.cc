#include "switch/sockets.h"

#include <fcntl.h>
#include <sys/fsuid.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <algorithm>
#include <cstring>
#include <vector>

namespace vnet::sw {
namespace {

bool trusted_owner(uid_t uid) { return uid == 0 || uid == ::geteuid(); }

std::string uid_str(uid_t uid) { return "uid " + std::to_string(uid); }

// "" when nobody but root and the switch's user can rename, remove or replace what is
// in folder `st`: the path through it then means what it meant when checked.
std::string unsafe_folder(const struct stat& st) {
  if (!trusted_owner(st.st_uid))
    return "belongs to " + uid_str(st.st_uid) + ", not root or the switch's user (" +
           uid_str(::geteuid()) + ")";
  if ((st.st_mode & (S_IWGRP | S_IWOTH)) && !(st.st_mode & S_ISVTX))
    return "is writable by group or others and not sticky";
  return "";
}

// Why `name` in folder `at` could not be opened as a folder (after ELOOP or ENOTDIR).
std::string not_a_folder(int at, const std::string& name) {
  struct stat st;
  if (::fstatat(at, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode))
    return "is a symbolic link (give the path it points to)";
  return "is not a folder";
}

// The components of absolute `path`; "." and ".." are refused, so the path checked is
// the path used.
Result<std::vector<std::string>> components(const std::string& path) {
  if (path.empty() || path[0] != '/') return fail("'" + path + "' is not an absolute path");
  std::vector<std::string> out;
  for (size_t i = 0; i < path.size();) {
    size_t j = path.find('/', i);
    if (j == std::string::npos) j = path.size();
    std::string c = path.substr(i, j - i);
    if (c == "." || c == "..") return fail("'" + path + "' has a '" + c + "' component");
    if (!c.empty()) out.push_back(std::move(c));
    i = j + 1;
  }
  return out;
}

std::string join(const std::vector<std::string>& parts, size_t n) {
  std::string p;
  for (size_t i = 0; i < n; ++i) p += "/" + parts[i];
  return p.empty() ? "/" : p;
}

// Opens the first `n` folders of `parts` from "/" (O_PATH), never through a symlink,
// each checked with unsafe_folder(); missing ones are made 0755 when `create`.
Result<UniqueFd> open_safe_folders(const std::vector<std::string>& parts, size_t n,
                                   bool create) {
  UniqueFd cur(::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!cur) return fail_errno("open /");
  for (size_t i = 0;; ++i) {
    struct stat st;
    if (::fstat(cur.get(), &st) < 0) return fail_errno("stat " + join(parts, i));
    if (std::string why = unsafe_folder(st); !why.empty())
      return fail(join(parts, i) + " " + why, EPERM, ExitCode::kEnvironment);
    if (i == n) return cur;
    const std::string& c = parts[i];
    constexpr int kFlags = O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
    bool made = false;
    UniqueFd next(::openat(cur.get(), c.c_str(), kFlags));
    if (!next && errno == ENOENT && create) {
      if (::mkdirat(cur.get(), c.c_str(), 0755) == 0) made = true;
      else if (errno != EEXIST) return fail_errno("mkdir " + join(parts, i + 1));
      next.reset(::openat(cur.get(), c.c_str(), kFlags));
    }
    if (!next && (errno == ELOOP || errno == ENOTDIR))
      return fail(join(parts, i + 1) + " " + not_a_folder(cur.get(), c), 0, ExitCode::kBadInput);
    if (!next) return fail_errno("open " + join(parts, i + 1));
    // Made in a folder only trusted users can change, so `c` is still ours: the umask
    // must not decide whether others can reach the sockets below.
    if (made && ::fchmodat(cur.get(), c.c_str(), 0755, 0) < 0)
      return fail_errno("chmod " + join(parts, i + 1));
    cur = std::move(next);
  }
}

// Sockets are created with their final mode and group: the umask and the fsgid are
// what bind() gives the new inode (single-threaded; restored on scope exit).
class BornWith {
 public:
  BornWith(uint32_t mode, int gid) : umask_(::umask(~mode & 0777)), gid_(gid) {
    if (gid_ >= 0) ::setfsgid(gid_t(gid_));
  }
  ~BornWith() {
    ::umask(umask_);
    if (gid_ >= 0) ::setfsgid(::getegid());
  }
  BornWith(const BornWith&) = delete;
  BornWith& operator=(const BornWith&) = delete;

 private:
  mode_t umask_;
  int gid_;
};

// True when something accepts connections at `sa` (a live switch): never steal its path.
bool in_use(const sockaddr_un& sa, int type) {
  UniqueFd probe(::socket(AF_UNIX, type | SOCK_CLOEXEC, 0));
  if (!probe) return false;
  return ::connect(probe.get(), reinterpret_cast<const sockaddr*>(&sa), sizeof sa) == 0;
}

}  // namespace

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

Result<UniqueFd> open_socket_dir(const std::string& path, uint32_t mode, int gid,
                                 bool& created) {
  created = false;
  auto parts = components(path);
  if (!parts) return tl::unexpected(parts.error().context("socket folder"));
  if (parts->empty()) return fail("socket folder: '/' cannot be one", 0, ExitCode::kBadInput);
  auto parent = open_safe_folders(*parts, parts->size() - 1, true);
  if (!parent) return tl::unexpected(parent.error());
  const char* name = parts->back().c_str();
  constexpr int kFlags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
  UniqueFd dir(::openat(parent->get(), name, kFlags));
  if (!dir && errno == ENOENT) {
    if (::mkdirat(parent->get(), name, 0700) == 0) created = true;
    else if (errno != EEXIST) return fail_errno("mkdir " + path);
    dir.reset(::openat(parent->get(), name, kFlags));
  }
  if (!dir && (errno == ELOOP || errno == ENOTDIR))
    return fail(path + " " + not_a_folder(parent->get(), name), 0, ExitCode::kBadInput);
  if (!dir) return fail_errno("open " + path);
  struct stat st;
  if (::fstat(dir.get(), &st) < 0) return fail_errno("stat " + path);
  if (st.st_uid != ::geteuid())
    return fail(path + " belongs to " + uid_str(st.st_uid) + ", not the switch's user (" +
                    uid_str(::geteuid()) + "): someone else made it",
                EPERM, ExitCode::kEnvironment);
  if (gid >= 0 && ::fchown(dir.get(), uid_t(-1), gid_t(gid)) < 0)
    return fail_errno("chown " + path);
  if (::fchmod(dir.get(), mode & 07777) < 0) return fail_errno("chmod " + path);
  return dir;
}

Status set_nonblock(int fd) {
  int fl = ::fcntl(fd, F_GETFL);
  if (fl < 0 || ::fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) return fail_errno("fcntl O_NONBLOCK");
  return {};
}

Result<UniqueFd> bind_unix(const std::string& path, int type, uint32_t mode, int gid) {
  auto sa = unix_addr(path);
  if (!sa) return tl::unexpected(sa.error());
  auto parts = components(path);
  if (!parts) return tl::unexpected(parts.error());
  if (parts->empty()) return fail("'/' is not a socket path", 0, ExitCode::kBadInput);
  if (auto folder = open_safe_folders(*parts, parts->size() - 1, false); !folder)
    return tl::unexpected(folder.error().context("folder of " + path));
  struct stat st;
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode))
      return fail(path + " exists and is not a socket", EEXIST, ExitCode::kBadInput);
    if (in_use(*sa, type)) return fail(path + " is in use by another process", EADDRINUSE);
    ::unlink(path.c_str());
  }
  UniqueFd fd(::socket(AF_UNIX, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) return fail_errno("socket");
  BornWith born(mode, gid);
  if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&*sa), sizeof *sa) < 0)
    return fail_errno("bind " + path);
  return fd;
}

Result<UniqueFd> listen_unix(const std::string& path, int type, uint32_t mode, int gid) {
  auto fd = bind_unix(path, type, mode, gid);
  if (!fd) return fd;
  if (type == SOCK_STREAM && ::listen(fd->get(), 64) < 0) return fail_errno("listen " + path);
  return fd;
}

Result<ClientAddress> check_client_address(const sockaddr_un& named, socklen_t len,
                                           uid_t peer_uid) {
  constexpr size_t off = offsetof(sockaddr_un, sun_path);
  if (named.sun_family != AF_UNIX || len <= off) return fail("its socket has no name");
  if (named.sun_path[0] == 0) return fail("abstract socket addresses are refused");
  size_t n = strnlen(named.sun_path, std::min(size_t(len) - off, sizeof named.sun_path));
  if (n == sizeof named.sun_path) return fail("its socket path is not NUL-terminated");
  std::string path(named.sun_path, n);
  if (path[0] != '/') return fail("'" + path + "' is not an absolute path");
  ClientAddress out;
  if (peer_uid == 0 || peer_uid == ::geteuid()) {
    out.addr = *unix_addr(path);  // n < sizeof sun_path: fits
    out.len = socklen_t(off + n + 1);
    return out;
  }
  out.pin.reset(::open(path.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
  if (!out.pin) return fail_errno(path);
  struct stat st;
  if (::fstat(out.pin.get(), &st) < 0) return fail_errno("stat " + path);
  if (!S_ISSOCK(st.st_mode)) return fail(path + " is not a socket");
  if (st.st_uid != peer_uid)
    return fail(path + " belongs to " + uid_str(st.st_uid) + ", not the client's " +
                uid_str(peer_uid));
  auto via = unix_addr("/proc/self/fd/" + std::to_string(out.pin.get()));
  out.addr = *via;
  out.len = sizeof out.addr;
  return out;
}

}  // namespace vnet::sw
