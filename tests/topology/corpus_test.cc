// The malformed-file corpus: every tests/topology/malformed/NAME.toml must make
// `vnet check NAME.toml` exit 2 and print exactly NAME.expected on stderr, nothing on
// stdout. VNET_UPDATE_GOLDEN=1 rewrites the expected files (review the diff).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "tests/common/process.h"

namespace fs = std::filesystem;

namespace {

const fs::path kDir = fs::path(VNET_SOURCE_DIR) / "tests/topology/malformed";

std::vector<std::string> corpus() {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(kDir))
    if (e.path().extension() == ".toml") names.push_back(e.path().stem());
  std::sort(names.begin(), names.end());
  return names;
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class Malformed : public ::testing::TestWithParam<std::string> {};

TEST_P(Malformed, CheckPrintsExpectedErrorsAndExits2) {
  std::string name = GetParam();
  auto r = vnet::testing::run({VNET_BINARY, "check", name + ".toml"}, kDir);
  fs::path expected = kDir / (name + ".expected");
  if (getenv("VNET_UPDATE_GOLDEN")) {
    std::ofstream(expected) << r.err;
  }
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_EQ(r.out, "");
  ASSERT_TRUE(fs::exists(expected)) << "missing " << expected;
  EXPECT_EQ(r.err, slurp(expected));
}

INSTANTIATE_TEST_SUITE_P(Corpus, Malformed, ::testing::ValuesIn(corpus()),
                         [](const auto& info) { return info.param; });

TEST(Corpus, HasAtLeastSixtyCases) { EXPECT_GE(corpus().size(), 60u); }

TEST(Corpus, ShippedFilesAreValid) {
  for (const char* dir : {"examples", "scenarios"}) {
    fs::path folder = fs::path(VNET_SOURCE_DIR) / dir;
    if (!fs::exists(folder)) continue;
    for (const auto& e : fs::directory_iterator(folder)) {
      if (e.path().extension() != ".toml") continue;
      auto r = vnet::testing::run({VNET_BINARY, "check", e.path()});
      EXPECT_EQ(r.exit_code, 0) << e.path() << "\n" << r.err;
    }
  }
}

}  // namespace
