// The kernels vm-run boots: a Debian kernel package (or a folder holding a kernel and
// its modules) turned into a small cache entry — the bzImage, the uncompressed PVH
// vmlinux when it can be extracted, and only the modules a network test needs
// (with depmod's indexes, so modprobe inside the guest finds them).
//
// Cache: /var/cache/vnet/kernels as root, else $XDG_CACHE_HOME/vnet/kernels or
// ~/.cache/vnet/kernels; $VNET_KERNEL_CACHE overrides. Entries are built into a
// temporary folder under an flock and renamed into place, so concurrent vm-runs
// never see half an entry.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "base/error.h"

namespace vnet::vmrun {

struct KernelImage {
  std::string dir;           // the cache entry
  std::string release;       // `uname -r` of the kernel, e.g. "6.1.0-56-amd64"
  std::string bzimage;       // the kernel as packaged (always present)
  std::string vmlinux;       // uncompressed ELF with a PVH entry; empty if not extracted
  std::string modules_root;  // folder holding lib/modules/<release>/
  std::string modules_dir() const { return modules_root + "/lib/modules/" + release; }
  // The image to pass to QEMU's -kernel: vmlinux when there is one and `pvh`.
  const std::string& boot_image(bool pvh = true) const {
    return pvh && !vmlinux.empty() ? vmlinux : bzimage;
  }
};

using LogFn = std::function<void(const std::string&)>;

struct KernelOptions {
  std::string cache_dir;  // empty: default_kernel_cache()
  LogFn log;              // progress lines (-v); may be empty
};

std::string default_kernel_cache();

// spec: "" (Debian's current linux-image-*-amd64, fetched with apt-get download),
// a path to a kernel .deb, or a folder with a kernel (boot/vmlinuz-*, vmlinuz, bzImage)
// and modules (lib/modules/<release>/). Downloads and unpacks only when the cache
// lacks it; errors say which step failed.
Result<KernelImage> ensure_kernel(const std::string& spec, const KernelOptions& opts = {});

// The Debian kernel a previous ensure_kernel("") cached, without asking apt or the
// network (for tests that must not download); an error when there is none.
Result<KernelImage> cached_kernel(const std::string& cache_dir = "");

// The module files (absolute paths) for `names` and everything they depend on, in an
// order insmod can load them. Names use '_' or '-' alike; a name the kernel has built
// in (no .ko) is skipped; an unknown name is an error.
Result<std::vector<std::string>> module_load_order(const KernelImage& k,
                                                   const std::vector<std::string>& names);

// Modules vm-run loads at boot: virtio PCI + 9p (to mount the host) and the link kinds
// network tests need (802.1Q, bridge, veth, tun, macvlan...).
const std::vector<std::string>& boot_modules();

// Reads the "depends=" field of a module's .modinfo section ("" when none).
Result<std::vector<std::string>> module_depends(std::string_view ko_bytes);

}  // namespace vnet::vmrun
