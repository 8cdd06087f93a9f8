// bzImage -> vmlinux: the xz stream is found by its magic (also after a false start)
// and decoded up to its end, trailing bytes ignored. Checked on a synthetic image
// (xz(1) compresses a fake ELF); the real Debian kernel: kernel_image_test.cc.
#include "vmrun/vmlinux.h"

#include <gtest/gtest.h>

#include "tests/vmrun/test_util.h"
#include "vmrun/kernel.h"
#include "vmrun/sys.h"

namespace vnet::vmrun {
namespace {

using testing::TempDir;

std::string xz(const std::string& data) {
  TempDir d;
  EXPECT_TRUE(write_file(d / "in", data));
  auto r = run_capture({"xz", "-c", "--check=crc32", d / "in"});
  EXPECT_TRUE(r && r->status == 0) << (r ? r->err : r.error().str());
  return r ? r->out : "";
}

std::string fake_elf() {
  std::string e = "\x7f" "ELF";
  for (int i = 0; i < 100000; ++i) e.push_back(char((i * 7919) >> 3));
  return e;
}

TEST(VmRunVmlinux, ExtractsTheXzPayloadPastAFalseMagicAndTrailingBytes) {
  std::string elf = fake_elf();
  std::string image = std::string(600, 'S') + std::string("\xFD" "7zXZ\0junk", 10) +
                      std::string(100, 'x') + xz(elf) + std::string(5000, '\x55');
  auto out = extract_vmlinux(image);
  ASSERT_TRUE(out) << out.error().str();
  EXPECT_EQ(*out, elf);
}

TEST(VmRunVmlinux, NoXzStreamIsAnError) {
  auto out = extract_vmlinux(std::string(4096, 'z'));
  ASSERT_FALSE(out);
  EXPECT_NE(out.error().what.find("no xz stream"), std::string::npos);
}

TEST(VmRunVmlinux, XzOfSomethingElseIsAnError) {
  auto out = extract_vmlinux("hdr" + xz("not an elf at all"));
  ASSERT_FALSE(out);
  EXPECT_NE(out.error().what.find("ELF"), std::string::npos);
}

TEST(VmRunVmlinux, FakeElfHasNoPvhNote) { EXPECT_FALSE(has_pvh_note(fake_elf())); }

}  // namespace
}  // namespace vnet::vmrun
