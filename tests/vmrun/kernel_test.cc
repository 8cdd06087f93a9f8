// Module metadata: .modinfo "depends=" read from an ELF (this test binary carries one);
// kernel specs that name nothing usable. (Load order and initramfs contents on the real
// Debian kernel: kernel_image_test.cc, kernel tier.)
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
