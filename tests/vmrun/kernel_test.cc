// Module metadata and the initramfs: .modinfo "depends=" read from an ELF (this test
// binary carries one), load order and initramfs contents on the cached Debian kernel.
#include "vmrun/kernel.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "tests/vmrun/test_util.h"
#include "vmrun/cpio.h"
#include "vmrun/initramfs.h"
#include "vmrun/sys.h"

// A .modinfo section like a kernel module's, in this very binary.
__attribute__((section(".modinfo"), used)) static const char kModinfo[] =
    "license=GPL\0depends=llc,stp,garp\0vermagic=test";

namespace vnet::vmrun {
namespace {

using testing::TempDir;

TEST(VmRunModules, ReadsDependsFromModinfo) {
  auto self = read_file("/proc/self/exe");
  ASSERT_TRUE(self);
  auto deps = module_depends(*self);
  ASSERT_TRUE(deps) << deps.error().str();
  EXPECT_EQ(*deps, (std::vector<std::string>{"llc", "stp", "garp"}));
  EXPECT_FALSE(module_depends("not an elf"));
}

size_t pos_of(const std::vector<std::string>& v, const std::string& name) {
  for (size_t i = 0; i < v.size(); ++i)
    if (v[i].find("/" + name + ".ko") != std::string::npos) return i;
  return v.size();
}

TEST(VmRunModules, LoadOrderPutsDependenciesFirst) {
  auto k = cached_kernel();
  if (!k) GTEST_SKIP() << k.error().str();
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
  auto k = cached_kernel();
  if (!k) GTEST_SKIP() << k.error().str();
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

TEST(VmRunKernel, BadSpecsSayWhatIsWrong) {
  TempDir cache, empty;
  KernelOptions o;
  o.cache_dir = cache.path();
  auto missing = ensure_kernel("/nonexistent/linux.deb", o);
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().str().find("/nonexistent/linux.deb"), std::string::npos);
  auto nokernel = ensure_kernel(empty.path(), o);
  ASSERT_FALSE(nokernel);
  EXPECT_NE(nokernel.error().str().find("no kernel in"), std::string::npos);
}

}  // namespace
}  // namespace vnet::vmrun
