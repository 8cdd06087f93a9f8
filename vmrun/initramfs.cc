#include "vmrun/initramfs.h"

#include <elf.h>

#include <cstdio>
#include <cstring>

#include "vmrun/cpio.h"
#include "vmrun/sys.h"
#include "vmrun/vmlinux.h"

namespace vnet::vmrun {
namespace {

// True when the ELF file asks for a dynamic loader (PT_INTERP).
bool is_dynamic(std::string_view elf) {
  if (elf.size() < sizeof(Elf64_Ehdr) || std::memcmp(elf.data(), ELFMAG, SELFMAG) != 0)
    return true;
  Elf64_Ehdr eh;
  std::memcpy(&eh, elf.data(), sizeof eh);
  for (int i = 0; i < eh.e_phnum; ++i) {
    size_t off = eh.e_phoff + size_t(i) * eh.e_phentsize;
    if (off + sizeof(Elf64_Phdr) > elf.size()) return true;
    Elf64_Phdr ph;
    std::memcpy(&ph, elf.data() + off, sizeof ph);
    if (ph.p_type == PT_INTERP) return true;
  }
  return false;
}

// The kernel runs /sbin/modprobe (request_module) in the initramfs root; hand the
// request to the host's modprobe (kmod), pointed at the cached modules: the host may
// have no /lib/modules to mount them on.
constexpr const char* kModprobe = R"(#!/bin/busybox sh
exec /bin/busybox chroot /host /sbin/modprobe -d /run/vnet-modules "$@"
)";

}  // namespace

Result<std::string> find_static_busybox() {
  std::vector<std::string> cands = {"/bin/busybox", "/usr/bin/busybox"};
  if (std::string p = find_program("busybox"); !p.empty()) cands.insert(cands.begin(), p);
  for (const auto& c : cands) {
    if (!exists(c)) continue;
    auto bytes = read_file(c);
    if (bytes && !is_dynamic(*bytes)) return c;
  }
  return fail("no statically linked busybox found (install the Debian package busybox-static)",
              ENOENT, ExitCode::kEnvironment);
}

Result<std::string> build_initramfs(const KernelImage& k, const InitramfsSpec& spec) {
  std::string bb = spec.busybox;
  if (bb.empty()) {
    auto found = find_static_busybox();
    if (!found) return found;
    bb = *found;
  }
  auto bb_bytes = read_file(bb);
  if (!bb_bytes) return bb_bytes;
  auto order = module_load_order(k, spec.modules);
  if (!order) return tl::unexpected(order.error());

  CpioWriter w;
  for (const char* d : {"bin", "sbin", "dev", "proc", "sys", "tmp", "run", "etc", "host",
                        "ctl", "modules", "root", "mnt"})
    w.add_dir(d);
  w.add_char_device("dev/console", 5, 1);
  w.add_char_device("dev/null", 1, 3, 0666);
  w.add_file("bin/busybox", *bb_bytes, 0755);
  w.add_symlink("bin/sh", "busybox");
  w.add_file("init", spec.init, 0755);
  w.add_file("sbin/modprobe", kModprobe, 0755);
  int n = 0;
  for (const auto& path : *order) {
    auto bytes = read_file(path);
    if (!bytes) return bytes;
    if (path.size() > 3 && path.compare(path.size() - 3, 3, ".xz") == 0) {
      auto plain = xz_decompress(*bytes);
      if (!plain) return tl::unexpected(plain.error().context(path));
      bytes = std::move(plain);
    }
    std::string base = path.substr(path.rfind('/') + 1);
    base = base.substr(0, base.find(".ko")) + ".ko";
    char prefix[16];
    std::snprintf(prefix, sizeof prefix, "%03d-", n++);
    w.add_file("modules/" + std::string(prefix) + base, *bytes, 0644);
  }
  for (const auto& [path, data] : spec.files) {
    // Parent folders first (cpio does not imply them).
    for (size_t p = path.find('/', 1); p != std::string::npos; p = path.find('/', p + 1))
      w.add_dir(path.substr(0, p));
    w.add_file(path, data, 0755);
  }
  return w.finish();
}

std::string vm_run_init() {
  return R"(#!/bin/busybox sh
# /init of vnet vm-run (vmrun/initramfs.cc). Console output goes to a log on the host,
# never to CMD's stdout or stderr.
/bin/busybox --install -s /bin
export PATH=/bin:/sbin
stamp() { read up rest < /proc/uptime; echo "vnet-init: $up $*"; }
fail() {
  echo "vnet-init: $*"
  [ -w /ctl ] && echo "$*" > /ctl/error
  sync
  reboot -f
}
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
for m in /modules/*.ko; do
  [ -e "$m" ] && { insmod "$m" || echo "vnet-init: insmod $m failed"; }
  [ -n "$VNET_TRACE" ] && stamp "$m"
done
O=trans=virtio,version=9p2000.L,msize=262144
stamp modules loaded
mount -t 9p -o $O,rw vnetctl /ctl || fail "cannot mount the control share"
. /ctl/vars.sh || fail "cannot read /ctl/vars.sh"
mount -t 9p -o $O,ro host /host || fail "cannot mount the host root over 9p"
mount -t proc proc /host/proc || fail "cannot mount /proc"
mount -t sysfs sysfs /host/sys || fail "cannot mount /sys"
mount -t devtmpfs devtmpfs /host/dev || fail "cannot mount /dev"
mkdir -p /host/dev/pts /host/dev/shm /host/dev/net
# Static nodes (as systemd's kmod-static-nodes makes them): opening one loads its module.
[ -e /host/dev/net/tun ] || mknod /host/dev/net/tun c 10 200
mount -t devpts -o newinstance,ptmxmode=0666 devpts /host/dev/pts
mount -t tmpfs -o mode=1777 tmpfs /host/dev/shm
mount -t tmpfs -o mode=1777 tmpfs /host/tmp || fail "cannot mount /tmp"
mount -t tmpfs -o mode=755 tmpfs /host/run || fail "cannot mount /run"
[ -d /sys/kernel/debug ] && mount -t debugfs debugfs /host/sys/kernel/debug 2>/dev/null
# Under --systemd, systemd mounts cgroup2 itself (with its own options).
[ -n "$VNET_SYSTEMD" ] || mount -t cgroup2 cgroup2 /host/sys/fs/cgroup 2>/dev/null
mkdir -p /host/run/vnet-vm /host/run/netns
mount --bind /ctl /host/run/vnet-vm || fail "cannot bind the control share"
i=0
while [ "$i" -lt "${VNET_SHARES:-0}" ]; do
  eval "d=\$VNET_SHARE$i"
  mkdir -p "/host$d" 2>/dev/null
  mount -t 9p -o $O,rw "wd$i" "/host$d" || fail "cannot mount $d writable"
  i=$((i + 1))
done
if [ -n "$VNET_MODREL" ]; then
  # The kernel's modules (from the cache) at /run/vnet-modules/lib/modules/<release>,
  # where /sbin/modprobe below finds them; also at /lib/modules/<release> when the
  # host has a /lib/modules to mount a tmpfs on.
  M=/host/run/vnet-modules/lib/modules/$VNET_MODREL
  mkdir -p "$M" && mount -t 9p -o $O,ro vnetmod "$M" ||
    echo "vnet-init: kernel modules not mounted; modprobe will not find them"
  if [ -d /host/lib/modules ] && mount -t tmpfs -o mode=755 tmpfs /host/lib/modules; then
    mkdir -p "/host/lib/modules/$VNET_MODREL"
    mount --bind "$M" "/host/lib/modules/$VNET_MODREL"
  fi
fi
hostname vnet-vm
ip link set lo up
if [ -n "$VNET_SYSTEMD" ]; then
  # systemd as PID 1 (--systemd): the command becomes a unit that vm-run wrote into the
  # control share (/ctl/systemd), installed where systemd reads runtime units; systemd
  # keeps the /run, /dev, /proc and /sys mounted here. After switch_root this
  # initramfs is gone, so the kernel's module requests go to a helper in /run.
  mkdir -p /host/run/systemd/system
  cp /ctl/systemd/* /host/run/systemd/system/ || fail "cannot install the command's unit"
  # Debian's tmpfiles.d/tmp.conf ("D /tmp") empties /tmp when systemd-tmpfiles-setup
  # runs (anything the command starts can pull it in): keep the folder, not wipe it, as
  # /tmp holds the command's files and may hold writable shares of the host.
  mkdir -p /host/run/tmpfiles.d
  echo "d /tmp 1777 root root -" > /host/run/tmpfiles.d/tmp.conf
  if [ -n "$VNET_MODREL" ]; then
    printf '#!/bin/sh\nexec /sbin/modprobe -d /run/vnet-modules "$@"\n' > /host/run/vnet-modprobe
    chmod 755 /host/run/vnet-modprobe
    echo /run/vnet-modprobe > /proc/sys/kernel/modprobe
  fi
  stamp starting systemd
  # An empty $container tells systemd it is not in a container: it would otherwise
  # take the host root's /.dockerenv (or the like) as one.
  export container=
  exec switch_root /host /lib/systemd/systemd --unit=vnet-vm.target
  fail "cannot start systemd: switch_root failed"
fi
stamp running the command
chroot /host /bin/sh /run/vnet-vm/cmd.sh || echo "vnet-init: /bin/sh in the host root failed" > /ctl/error
stamp command done
sync
reboot -f
)";
}

}  // namespace vnet::vmrun
