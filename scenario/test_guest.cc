#include "scenario/test_guest.h"

#include "qemu/argv.h"
#include "vmrun/initramfs.h"
#include "vmrun/kernel.h"
#include "vmrun/sys.h"

namespace vnet::scenario {
namespace {

// PID 1 of the test guest. A NIC is found by the MAC vnet gave it, so the order in
// which the kernel names them does not matter.
const std::string kInit = std::string(vmrun::kInitPreamble) + R"INIT(ip link set lo up
gw=
for arg in $(cat /proc/cmdline); do
  case "$arg" in
    vnet.nic=*)
      set -- $(echo "${arg#vnet.nic=}" | tr , ' ')
      mac=$1; shift
      dev=
      for d in /sys/class/net/*; do [ "$(cat $d/address)" = "$mac" ] && dev=${d##*/}; done
      if [ -z "$dev" ]; then echo "vnet-guest: no NIC has MAC $mac"; continue; fi
      ip link set "$dev" up
      for a in "$@"; do ip addr add "$a" dev "$dev"; done ;;
    vnet.gw=*) gw=${arg#vnet.gw=} ;;
  esac
done
[ -n "$gw" ] && ip route add default via "$gw"
echo "vnet-guest: ready"
while :; do setsid cttyhack sh; done
)INIT";

}  // namespace

bool boots_test_guest(const topology::Guest& g) {
  return g.kind == topology::Guest::Kind::kQemu && g.kernel.empty() && !g.disk;
}

std::string test_guest_append(const topology::Guest& g) {
  // quiet: kernel messages would interleave with the shell's output on the console.
  std::string a = "console=ttyS0 panic=-1 quiet i8042.noaux i8042.nokbd";
  for (size_t i = 0; i < g.nics.size(); ++i) {
    const topology::GuestNic& nic = g.nics[i];
    if (nic.addresses.empty()) continue;
    a += " vnet.nic=" + qemu::nic_mac(g, i).str();
    for (const topology::Cidr& c : nic.addresses) a += "," + c.str();
  }
  for (const topology::GuestNic& nic : g.nics)
    if (nic.gateway) {
      a += " vnet.gw=" + nic.gateway->str();
      break;
    }
  return a;
}

Status use_test_guest(topology::Topology& lab, const std::string& dir) {
  bool any = false;
  for (const topology::Guest& g : lab.guests) any |= boots_test_guest(g);
  if (!any) return {};
  auto k = vmrun::ensure_kernel("");
  if (!k) return tl::unexpected(k.error().context("the test guest's kernel"));
  if (k->vmlinux.empty())
    return fail("the cached kernel has no PVH vmlinux for the test guest", 0, ExitCode::kEnvironment);
  std::string initrd = dir + "/test-guest.cpio";
  auto img = vmrun::build_initramfs(*k, {kInit, {"virtio_pci", "virtio_net"}, {}, ""});
  if (!img) return tl::unexpected(img.error().context("the test guest's initramfs"));
  if (auto s = vmrun::write_file(initrd, *img); !s) return s;
  for (topology::Guest& g : lab.guests) {
    if (!boots_test_guest(g)) continue;
    g.kernel = k->vmlinux;
    g.initrd = initrd;
    g.append = test_guest_append(g);
    if (!g.ready) {
      g.ready.emplace();
      g.ready->console = kTestGuestReady;
    }
  }
  return {};
}

}  // namespace vnet::scenario
