// The parts of vm-run that work on Debian's real kernel package: module load order,
// initramfs contents, the PVH vmlinux inside the bzImage. Kernel tier (run directly, no
// boot): the package is fetched here when no earlier run cached it, so these tests run
// the same whatever ran before them.
#include <gtest/gtest.h>

#include "tests/vmrun/test_util.h"
#include "vmrun/initramfs.h"
#include "vmrun/kernel.h"
#include "vmrun/sys.h"
#include "vmrun/vmlinux.h"

namespace vnet::vmrun {
namespace {

using testing::TempDir;

Result<KernelImage> debian_kernel() {
  auto k = cached_kernel();
  return k ? k : ensure_kernel("");
}

size_t pos_of(const std::vector<std::string>& v, const std::string& name) {
  for (size_t i = 0; i < v.size(); ++i)
    if (v[i].find("/" + name + ".ko") != std::string::npos) return i;
  return v.size();
}

TEST(VmRunModules, LoadOrderPutsDependenciesFirst) {
  auto k = debian_kernel();
  ASSERT_TRUE(k) << k.error().str();
  auto order = module_load_order(*k, boot_modules());
  ASSERT_TRUE(order) << order.error().str();
  for (auto [before, after] : std::vector<std::pair<const char*, const char*>>{
           {"virtio_ring", "virtio"}, {"virtio", "virtio_pci"}, {"9pnet", "9pnet_virtio"},
           {"netfs", "fscache"}, {"fscache", "9p"}, {"llc", "stp"}, {"stp", "bridge"},
           {"garp", "8021q"}, {"mrp", "8021q"}}) {
    size_t b = pos_of(*order, before), a = pos_of(*order, after);
    ASSERT_LT(b, order->size()) << before;
    ASSERT_LT(a, order->size()) << after;
    EXPECT_LT(b, a) << before << " must load before " << after;
  }
  EXPECT_FALSE(module_load_order(*k, {"no_such_module_vnet"}));
}

TEST(VmRunInitramfs, HoldsBusyboxInitAndOrderedModules) {
  auto k = debian_kernel();
  ASSERT_TRUE(k) << k.error().str();
  auto img = build_initramfs(*k, {vm_run_init(), {"bridge"}, {{"etc/extra", "x"}}, ""});
  ASSERT_TRUE(img) << img.error().str();
  TempDir d;
  ASSERT_TRUE(write_file(d / "i.cpio", *img));
  auto list = run_capture({"sh", "-c", "cpio -t --quiet < i.cpio"}, d.path());
  ASSERT_TRUE(list && list->status == 0);
  for (const char* want : {"\ninit\n", "\nbin/busybox\n", "\ndev/console\n",
                           "\nmodules/000-llc.ko\n", "\nmodules/001-stp.ko\n",
                           "\nmodules/002-bridge.ko\n", "\netc/extra\n"})
    EXPECT_NE(("\n" + list->out).find(want), std::string::npos) << want << " in\n" << list->out;
}

TEST(VmRunVmlinux, CachedDebianKernelYieldsAPvhVmlinux) {
  auto k = debian_kernel();
  ASSERT_TRUE(k) << k.error().str();
  auto bz = read_file(k->bzimage);
  ASSERT_TRUE(bz) << bz.error().str();
  EXPECT_FALSE(has_pvh_note(*bz));
  auto elf = extract_vmlinux(*bz);
  ASSERT_TRUE(elf) << elf.error().str();
  EXPECT_TRUE(has_pvh_note(*elf));
  EXPECT_GT(elf->size(), 4 * bz->size());
}

}  // namespace
}  // namespace vnet::vmrun
