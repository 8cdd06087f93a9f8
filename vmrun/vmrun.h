// `vnet vm-run`: run a command as root under a stock Debian kernel in QEMU, with the
// host's root filesystem read-only over 9p, the working directory writable at the same
// path, private /tmp and /run, the same environment; CMD's stdout and stderr come back
// apart and byte-exact (files on a writable 9p share, copied out as they grow) and its
// exit status is the result. The guest console goes to a log, shown on failure.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "base/error.h"
#include "base/text.h"
#include "vmrun/kernel.h"

namespace vnet::vmrun {

enum class Accel { kAuto, kKvm, kTcg };

struct Options {
  std::vector<std::string> argv;                // CMD; required
  std::optional<std::vector<std::string>> env;  // "NAME=VALUE"; default: ours
  std::string cwd;                              // default: ours; "/" shares nothing writable
  std::vector<std::string> shares;              // more folders writable at the same path
                                                // (e.g. a source tree under /tmp)
  std::string kernel;                           // ensure_kernel() spec; "" = Debian's
  std::string cache_dir;                        // "" = default_kernel_cache()
  uint64_t memory_mib = 1024;
  int cpus = 2;
  int timeout_s = 0;                            // 0 = none
  Accel accel = Accel::kAuto;                   // auto: KVM only if a bounded probe boots
  bool pvh = true;                              // boot the extracted vmlinux when there is one
  int stdout_fd = 1, stderr_fd = 2;             // where CMD's output goes
  LogFn log;                                    // progress lines (-v)
  bool keep_scratch = false;                    // keep the run's scratch folder (debug)
  bool systemd = false;                         // boot systemd as PID 1, CMD as its unit
};

// CMD's exit status (0..255, 128+N when killed by signal N, 127 when not found), or
// an Error saying what of vm-run itself failed (the kernel, QEMU, the guest's setup,
// the timeout, an interrupt). SIGINT, SIGTERM and SIGHUP arriving during the call stop
// QEMU and return an Error; they are blocked in the calling thread while it runs.
Result<int> run(const Options& opts);

// Whether QEMU runs under KVM on this machine: /dev/kvm opens and `k` boots under KVM
// with an /init that only reboots, exiting cleanly within 3 s (facts.md: /dev/kvm can
// exist and answer and QEMU still hang or abort). Used by vm-run and `vnet guest`.
// SIGINT/SIGTERM/SIGHUP are held during the probe and end it (as "interrupted").
struct KvmProbe {
  bool works = false;
  std::string why;       // when !works: what failed
  bool settled = false;  // a verdict about this machine (a probe boot ran to an end),
                         // not our own setup failing or an interrupt: worth caching
  bool cached = false;   // came from kvm_cache.h's file, not a probe run now
};
KvmProbe probe_kvm(const KernelImage& k, const std::string& qemu, bool pvh = true);

// Parses "512M", "1G", "2048" (MiB) into MiB.
Result<uint64_t> parse_memory(const std::string& text);

// QEMU's option syntax doubles commas inside values ("a,b" -> "a,,b"); lives in
// base/text.h since the guest backend (qemu/) needs it too.
using vnet::qemu_escape;

}  // namespace vnet::vmrun
