// What the guest lab tests share: a folder with a HOME for the unprivileged user `vnet
// guest` runs as (uid 65534 when the test runs as root, the caller otherwise), a
// host.toml with one guest `tiny` on a user-mode NIC forwarding a free loopback port to
// its port 22, and a TearDown that leaves no QEMU behind.
#pragma once

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <tl/expected.hpp>

#include "tests/common/process.h"
#include "vmrun/kernel.h"
#include "vmrun/sys.h"

namespace vnet::guests {

inline constexpr uid_t kNobody = 65534;

// A file's text ("" when it cannot be read): console logs and /proc files in messages.
inline std::string slurp(const std::string& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// What a guest test boots: QEMU and the cached Debian kernel with its PVH vmlinux; else
// why the test skips.
inline tl::expected<vmrun::KernelImage, std::string> guest_kernel() {
  if (vmrun::find_program("qemu-system-x86_64").empty())
    return tl::unexpected(std::string("qemu-system-x86_64 is not installed (package qemu-system-x86)"));
  auto k = vmrun::cached_kernel();
  if (!k)
    return tl::unexpected("no cached Debian kernel (" + k.error().str() +
                          "); `vnet vm-run -- true` fetches and caches one");
  if (k->vmlinux.empty()) return tl::unexpected(std::string("the cached kernel has no PVH vmlinux"));
  return *k;
}

class GuestLabBase : public ::testing::Test {
 protected:
  // The folder (from a mkdtemp template) and the HOME in it; wrap in
  // ASSERT_NO_FATAL_FAILURE.
  void make_folders(std::string tmpl) {
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    if (::geteuid() == 0) {
      // The unprivileged user must reach its HOME, the file and the initramfs.
      ASSERT_EQ(::chmod(dir_.c_str(), 0755), 0);
      drop_ = true;
    }
    home_ = dir_ + "/home";
    std::filesystem::create_directories(home_);
    if (drop_) {
      ASSERT_EQ(::chown(home_.c_str(), kNobody, kNobody), 0);
    }
    state_ = home_ + "/.local/state/vnet/guests/tiny";
  }
  // DIR/host.toml: host `host`, guest tiny booting `kernel` with DIR/initrd.cpio.
  void write_user_nic_guest(const std::string& host, const std::string& kernel) {
    port_ = vnet::testing::free_loopback_port();
    ASSERT_NE(port_, 0);
    std::ofstream(dir_ + "/host.toml")
        << "[host]\nname = \"" << host << "\"\n\n"
        << "[guests.tiny]\nkind = \"qemu\"\nmemory = \"192M\"\n"
        << "kernel = \"" << kernel << "\"\n"
        << "initrd = \"" << dir_ << "/initrd.cpio\"\n"
        << "append = \"console=ttyS0 panic=-1 i8042.noaux i8042.nokbd\"\n"
        << "[[guests.tiny.nics]]\nuser = true\n"
        << "hostfwd = [\"tcp:127.0.0.1:" << port_ << "-:22\"]\n";
  }
  void TearDown() override {
    // Whatever happened, no QEMU outlives the test.
    std::ifstream in(state_ + "/pid");
    pid_t pid = 0;
    if (in >> pid && pid > 0) ::kill(pid, SIGKILL);
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }
  // `vnet guest` as that user, with HOME in the folder (so the state lands in
  // $HOME/.local/state/vnet/guests); the caller appends the verb and options.
  std::vector<std::string> vnet_guest_argv() const {
    std::vector<std::string> argv;
    if (drop_) argv = {"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"};
    argv.insert(argv.end(), {"env", "-u", "XDG_STATE_HOME", "-u", "VNET_GUEST_STATE",
                             "HOME=" + home_, VNET_BINARY, "guest"});
    return argv;
  }

  std::string dir_, home_, state_;
  int port_ = 0;
  bool drop_ = false;
};

}  // namespace vnet::guests
