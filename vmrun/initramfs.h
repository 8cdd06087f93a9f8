// Busybox initramfs images for a KernelImage: a static busybox, the modules to load
// (in dependency order, as /modules/NN-name.ko), an /init script and any extra files,
// written as an uncompressed cpio archive (vmrun/cpio.h). vm-run uses it with its own
// /init (vm_run_init()); lab tests use it to boot tiny guests with theirs.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "base/error.h"
#include "vmrun/kernel.h"

namespace vnet::vmrun {

struct InitramfsSpec {
  std::string init;                          // the /init script (#!/bin/busybox sh ...)
  std::vector<std::string> modules;          // names; dependencies are added
  std::map<std::string, std::string> files;  // archive path -> contents (mode 0755)
  std::string busybox;                       // empty: find_static_busybox()
};

// The archive. /bin/busybox and /bin/sh are there; call `/bin/busybox --install -s`
// in /init for the other applets. Modules: `for m in /modules/*.ko; do insmod $m; done`
// loads them in order.
Result<std::string> build_initramfs(const KernelImage& k, const InitramfsSpec& spec);

// How a small guest's /init starts (the test guests'): busybox's applets, /proc, /sys
// and /dev mounted, the spec's modules loaded in order. The caller appends the rest.
inline constexpr const char* kInitPreamble = R"INIT(#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in /modules/*.ko; do insmod $m; done
)INIT";

// A statically linked busybox (Debian busybox-static's /bin/busybox), or an error that
// names the package.
Result<std::string> find_static_busybox();

// vm-run's /init: loads the modules, mounts the host root read-only over 9p with private
// /tmp and /run, the control share at /run/vnet-vm, the working directory writable,
// the kernel's modules at /lib/modules/<release>, then runs /run/vnet-vm/cmd.sh
// chrooted into the host root and reboots (QEMU runs with -no-reboot, so it exits).
// With VNET_SYSTEMD set in /ctl/vars.sh it switch_roots into the host root and execs
// systemd as PID 1 with the units from /ctl/systemd installed in /run/systemd/system;
// vnet-vm.target runs cmd.sh and reboots.
std::string vm_run_init();

}  // namespace vnet::vmrun
