// The main of every test binary. A binary in which tests were skipped and none failed
// exits 77, which vnet_test() registers as ctest's SKIP_RETURN_CODE: a kernel or lab
// suite (one ctest entry for the whole binary) that skipped shows as skipped in ctest's
// summary instead of "Passed", and each skipped test's reason is in its output.
#include <gtest/gtest.h>

#include <cstdio>

namespace {

constexpr int kSkipped = 77;

int skipped_or(int result) {
  const ::testing::UnitTest& u = *::testing::UnitTest::GetInstance();
  if (result != 0 || u.skipped_test_count() == 0) return result;
  std::fprintf(stderr, "vnet: %d of %d tests skipped:\n", u.skipped_test_count(),
               u.test_to_run_count());
  for (int i = 0; i < u.total_test_suite_count(); ++i) {
    const ::testing::TestSuite& s = *u.GetTestSuite(i);
    for (int j = 0; j < s.total_test_count(); ++j) {
      const ::testing::TestInfo& t = *s.GetTestInfo(j);
      if (!t.result()->Skipped()) continue;
      std::string why;
      for (int k = 0; k < t.result()->total_part_count(); ++k)
        if (t.result()->GetTestPartResult(k).skipped())
          why = t.result()->GetTestPartResult(k).message();
      std::fprintf(stderr, "  %s.%s: %s\n", s.name(), t.name(), why.c_str());
    }
  }
  return kSkipped;
}

}  // namespace

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  return skipped_or(RUN_ALL_TESTS());
}
