#include "netlink/netns.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

namespace vnet::netlink {

std::string netns_path(const std::string& name) { return std::string(kNetnsRunDir) + "/" + name; }

bool netns_exists(const std::string& name) {
  struct stat st;
  return !name.empty() && stat(netns_path(name).c_str(), &st) == 0;
}

std::optional<NetnsId> netns_id(const std::string& name) {
  struct stat st;
  if (name.empty() || stat(netns_path(name).c_str(), &st) != 0) return std::nullopt;
  return NetnsId{static_cast<uint64_t>(st.st_dev), static_cast<uint64_t>(st.st_ino)};
}

Result<UniqueFd> open_netns(const std::string& name) {
  std::string path = name.empty() ? "/proc/thread-self/ns/net" : netns_path(name);
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    auto e = fail_errno("open netns " + (name.empty() ? std::string("(current)") : name));
    if (e.value().err == ENOENT) e.value().exit = ExitCode::kEnvironment;
    return e;
  }
  return UniqueFd(fd);
}

Result<NetnsGuard> NetnsGuard::enter(int fd) {
  NetnsGuard g;
  if (fd < 0) return g;
  int saved = ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (saved < 0) return fail_errno("open current netns");
  g.saved_.reset(saved);
  if (setns(fd, CLONE_NEWNET) != 0) return fail_errno("setns");
  return g;
}

NetnsGuard::~NetnsGuard() {
  if (saved_) (void)setns(saved_.get(), CLONE_NEWNET);
}

namespace {
// /run/netns as a shared mount point, so namespaces mounted later propagate to other
// mount namespaces (iproute2's netns_add does the same).
void make_run_dir_shared() {
  mkdir("/run", 0755);
  mkdir(kNetnsRunDir, 0755);
  if (mount("", kNetnsRunDir, "none", MS_SHARED | MS_REC, nullptr) == 0) return;
  if (errno != EINVAL) return;
  if (mount(kNetnsRunDir, kNetnsRunDir, "none", MS_BIND | MS_REC, nullptr) == 0)
    (void)mount("", kNetnsRunDir, "none", MS_SHARED | MS_REC, nullptr);
}
}  // namespace

Status create_netns(const std::string& name) {
  make_run_dir_shared();
  std::string path = netns_path(name);
  int fd = ::open(path.c_str(), O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0);
  if (fd < 0) return fail_errno("create netns " + name);
  ::close(fd);
  auto saved = open_netns("");
  if (!saved) {
    unlink(path.c_str());
    return tl::unexpected(saved.error());
  }
  if (unshare(CLONE_NEWNET) != 0) {
    auto e = fail_errno("unshare netns " + name);
    unlink(path.c_str());
    return e;
  }
  Status st;
  if (mount("/proc/thread-self/ns/net", path.c_str(), "none", MS_BIND, nullptr) != 0) {
    st = fail_errno("bind-mount netns " + name);
    unlink(path.c_str());
  }
  if (setns(saved->get(), CLONE_NEWNET) != 0 && st) st = fail_errno("setns back");
  return st;
}

Status delete_netns(const std::string& name) {
  std::string path = netns_path(name);
  if (umount2(path.c_str(), MNT_DETACH) != 0 && errno != EINVAL && errno != ENOENT)
    return fail_errno("umount netns " + name);
  if (unlink(path.c_str()) != 0 && errno != ENOENT) return fail_errno("remove netns " + name);
  return {};
}

}  // namespace vnet::netlink
