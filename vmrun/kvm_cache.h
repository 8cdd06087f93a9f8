// The KVM probe's verdict, kept for the rest of the host's boot. probe_kvm boots a
// kernel (seconds); what it finds does not change until the host reboots, QEMU is
// replaced or /dev/kvm comes and goes, so one small file keyed by exactly those
// (docs/guests.md "Accelerator") saves the boot on every later `vnet guest start`.
// The key and the file's text are pure functions, tested without KVM.
#pragma once

#include <optional>
#include <string>

#include "base/error.h"
#include "vmrun/vmrun.h"

namespace vnet::vmrun {

// What the verdict depends on. Equal keys: the cached verdict holds.
struct KvmProbeKey {
  std::string boot_id;     // /proc/sys/kernel/random/boot_id
  std::string qemu;        // the binary's path
  std::string qemu_mtime;  // "SEC.NSEC" of the binary
  std::string kvm_dev;     // "absent", or /dev/kvm's ctime "SEC.NSEC" (a module reload
                           // or a chmod changes it)
  bool operator==(const KvmProbeKey&) const = default;
};

// The key on this machine now, for `qemu`; an error only if boot_id cannot be read
// (then nothing is cached).
Result<KvmProbeKey> kvm_probe_key(const std::string& qemu,
                                  const std::string& boot_id_file =
                                      "/proc/sys/kernel/random/boot_id",
                                  const std::string& kvm_dev = "/dev/kvm");

// The cache file's text for a verdict, and the verdict back from such text when its key
// equals `key` (nullopt for another key, or text that is not a cache file).
std::string format_kvm_probe_cache(const KvmProbeKey& key, const KvmProbe& p);
std::optional<KvmProbe> parse_kvm_probe_cache(const std::string& text, const KvmProbeKey& key);

// Reading (nullopt when absent, unreadable or for another key) and writing (atomically:
// a temporary file renamed over it, the folder made if needed) of the file at `path`.
std::optional<KvmProbe> read_kvm_probe_cache(const std::string& path, const KvmProbeKey& key);
Status write_kvm_probe_cache(const std::string& path, const KvmProbeKey& key,
                             const KvmProbe& p);

// Where the verdict is kept: $VNET_KVM_PROBE_CACHE, else /run/vnet/kvm-probe as root,
// else $XDG_RUNTIME_DIR/vnet/kvm-probe, else kvm-probe beside the kernel cache
// (~/.cache/vnet/kvm-probe). Keyed by boot_id, so a file that outlives a reboot is
// only ignored.
std::string default_kvm_probe_cache();

// probe_kvm through the cache at `path` ("" = default_kvm_probe_cache()): a verdict for
// the current key is returned with `cached` set; otherwise the probe runs and a settled
// verdict is stored. `fresh` skips the lookup (the probe runs and its verdict replaces
// the stored one).
KvmProbe probe_kvm_cached(const KernelImage& k, const std::string& qemu,
                          const std::string& path = "", bool fresh = false);

}  // namespace vnet::vmrun
