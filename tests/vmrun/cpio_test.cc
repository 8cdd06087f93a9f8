// The cpio writer against the real cpio(1): what we write, cpio lists and extracts
// byte for byte.
#include "vmrun/cpio.h"

#include <sys/stat.h>

#include <gtest/gtest.h>

#include "tests/vmrun/test_util.h"
#include "vmrun/sys.h"

namespace vnet::vmrun {
namespace {

using testing::TempDir;

TEST(VmRunCpio, ArchiveListsAndExtractsWithRealCpio) {
  CpioWriter w;
  w.add_dir("bin");
  w.add_dir("/etc", 0700);
  w.add_file("bin/tool", testing::all_bytes(), 0755);
  w.add_file("etc/empty", "");
  w.add_file("etc/odd-size", "abc");  // data not a multiple of 4
  w.add_symlink("bin/sh", "tool");
  std::string archive = w.finish();
  ASSERT_EQ(archive.size() % 4, 0u);

  TempDir dir;
  ASSERT_TRUE(write_file(dir / "a.cpio", archive));
  auto list = run_capture({"sh", "-c", "cpio -t --quiet < a.cpio"}, dir.path());
  ASSERT_TRUE(list) << list.error().str();
  ASSERT_EQ(list->status, 0) << list->err;
  EXPECT_EQ(list->out, "bin\netc\nbin/tool\netc/empty\netc/odd-size\nbin/sh\n");

  ASSERT_TRUE(mkdir_p(dir / "x"));
  auto ex = run_capture({"sh", "-c", "cpio -id --quiet --no-absolute-filenames < ../a.cpio"},
                        dir / "x");
  ASSERT_TRUE(ex) << ex.error().str();
  ASSERT_EQ(ex->status, 0) << ex->err;
  EXPECT_EQ(read_file(dir / "x/bin/tool").value(), testing::all_bytes());
  EXPECT_EQ(read_file(dir / "x/etc/empty").value(), "");
  EXPECT_EQ(read_file(dir / "x/etc/odd-size").value(), "abc");
  char target[64] = {};
  ASSERT_GT(::readlink((dir / "x/bin/sh").c_str(), target, sizeof target - 1), 0);
  EXPECT_STREQ(target, "tool");
  struct stat st {};
  ASSERT_EQ(::stat((dir / "x/bin/tool").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0755u);
  ASSERT_EQ(::stat((dir / "x/etc").c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
}

TEST(VmRunCpio, HeaderIsNewcWithTrailer) {
  CpioWriter w;
  w.add_file("f", "xy");
  std::string a = w.finish();
  EXPECT_EQ(a.substr(0, 6), "070701");
  // namesize of "f" is 2 (with NUL): the 12th field, at 6 + 11 * 8.
  EXPECT_EQ(a.substr(6 + 11 * 8, 8), "00000002");
  EXPECT_NE(a.find("TRAILER!!!"), std::string::npos);
  // A device node carries its rdev numbers.
  CpioWriter d;
  d.add_char_device("dev/console", 5, 1);
  std::string b = d.finish();
  EXPECT_EQ(b.substr(6 + 9 * 8, 16), "0000000500000001");
}

TEST(VmRunCpio, FinishEmptiesTheWriter) {
  CpioWriter w;
  w.add_file("a", "1");
  std::string first = w.finish();
  EXPECT_EQ(w.size(), 0u);
  w.add_file("a", "1");
  EXPECT_EQ(w.finish(), first);
}

}  // namespace
}  // namespace vnet::vmrun
