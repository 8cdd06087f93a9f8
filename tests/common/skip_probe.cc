// A binary whose one test skips: gtest_main_reports_skips checks it exits 77, so ctest
// shows a skipped kernel or lab suite as skipped, not as passed.
#include <gtest/gtest.h>

TEST(SkipProbe, Skips) { GTEST_SKIP() << "probe of the skip report"; }
