// The KVM probe cache's keying, without KVM: a verdict written for one key is read back
// for that key only; another boot, QEMU binary or /dev/kvm node asks for a new probe.
#include "vmrun/kvm_cache.h"

#include <gtest/gtest.h>

#include "tests/vmrun/test_util.h"
#include "vmrun/sys.h"

namespace vnet::vmrun {
namespace {

using testing::TempDir;

KvmProbeKey key_a() { return {"0b5e4c3a-1111", "/usr/bin/qemu-system-x86_64", "1700.5", "12.7"}; }

KvmProbe verdict(bool works, std::string why) {
  KvmProbe p;
  p.works = works;
  p.why = std::move(why);
  p.settled = true;
  return p;
}

TEST(KvmProbeCache, KeyComesFromBootIdQemuAndKvmNode) {
  TempDir d;
  ASSERT_TRUE(write_file(d / "boot_id", "abc-123\n"));
  ASSERT_TRUE(write_file(d / "qemu", "#!"));
  ASSERT_TRUE(write_file(d / "kvm", ""));
  auto k = kvm_probe_key(d / "qemu", d / "boot_id", d / "kvm");
  ASSERT_TRUE(k) << k.error().str();
  EXPECT_EQ(k->boot_id, "abc-123");
  EXPECT_EQ(k->qemu, d / "qemu");
  EXPECT_NE(k->qemu_mtime, "missing");
  EXPECT_NE(k->kvm_dev, "absent");
  auto nodev = kvm_probe_key(d / "qemu", d / "boot_id", d / "no-such-kvm");
  ASSERT_TRUE(nodev);
  EXPECT_EQ(nodev->kvm_dev, "absent");
  EXPECT_FALSE(*nodev == *k);
  EXPECT_FALSE(kvm_probe_key(d / "qemu", d / "no-boot-id", d / "kvm"));
}

TEST(KvmProbeCache, WrittenVerdictIsReusedForTheSameKey) {
  TempDir d;
  std::string file = d / "sub/kvm-probe";  // the folder is made on write
  ASSERT_TRUE(write_kvm_probe_cache(file, key_a(), verdict(false, "a KVM probe boot did "
                                                                  "not finish in 3 s")));
  auto got = read_kvm_probe_cache(file, key_a());
  ASSERT_TRUE(got);
  EXPECT_FALSE(got->works);
  EXPECT_TRUE(got->cached);
  EXPECT_EQ(got->why, "a KVM probe boot did not finish in 3 s");

  ASSERT_TRUE(write_kvm_probe_cache(file, key_a(), verdict(true, "")));
  got = read_kvm_probe_cache(file, key_a());
  ASSERT_TRUE(got);
  EXPECT_TRUE(got->works);
  EXPECT_EQ(got->why, "");
}

TEST(KvmProbeCache, AnotherBootQemuOrKvmNodeInvalidates) {
  TempDir d;
  std::string file = d / "kvm-probe";
  ASSERT_TRUE(write_kvm_probe_cache(file, key_a(), verdict(true, "")));
  auto other_boot = key_a();
  other_boot.boot_id = "0b5e4c3a-2222";
  EXPECT_FALSE(read_kvm_probe_cache(file, other_boot));
  auto other_qemu = key_a();
  other_qemu.qemu = "/opt/qemu/bin/qemu-system-x86_64";
  EXPECT_FALSE(read_kvm_probe_cache(file, other_qemu));
  auto upgraded = key_a();
  upgraded.qemu_mtime = "1800.0";
  EXPECT_FALSE(read_kvm_probe_cache(file, upgraded));
  auto reloaded = key_a();
  reloaded.kvm_dev = "absent";
  EXPECT_FALSE(read_kvm_probe_cache(file, reloaded));
  EXPECT_FALSE(read_kvm_probe_cache(d / "missing", key_a()));
}

TEST(KvmProbeCache, MultiLineWhyIsKeptOnOneLine) {
  auto text = format_kvm_probe_cache(key_a(), verdict(false, "qemu: failed\nto set MSR"));
  auto got = parse_kvm_probe_cache(text, key_a());
  ASSERT_TRUE(got);
  EXPECT_EQ(got->why, "qemu: failed to set MSR");
}

TEST(KvmProbeCache, TextThatIsNotACacheFileIsNoVerdict) {
  EXPECT_FALSE(parse_kvm_probe_cache("", key_a()));
  EXPECT_FALSE(parse_kvm_probe_cache("works=yes\n", key_a()));
  auto text = format_kvm_probe_cache(key_a(), verdict(true, ""));
  EXPECT_TRUE(parse_kvm_probe_cache(text, key_a()));
  auto bad = text;
  bad.replace(bad.find("works=yes"), 9, "works=maybe");
  EXPECT_FALSE(parse_kvm_probe_cache(bad, key_a()));
  EXPECT_FALSE(parse_kvm_probe_cache(text + "junk\n", key_a()));
}

}  // namespace
}  // namespace vnet::vmrun
