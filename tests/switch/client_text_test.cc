// Unit tier (no root): text a client sends (a VDE port's description) is shown escaped
// everywhere the switch shows it: its log, its answers, the CLI's tables.
#include <cstdio>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/switch/harness.h"

namespace vnet::sw::test {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::string run(const std::string& cmd) {
  std::string out;
  if (FILE* p = ::popen(cmd.c_str(), "r")) {
    char buf[4096];
    for (size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
    ::pclose(p);
  }
  return out;
}

TEST(SwitchClientText, DescriptionIsEscapedInLogAnswersAndTables) {
  ScratchDir s;
  std::string dir = s.path + "/lab";
  SwitchProcess proc(switch_toml(dir), "lab", dir);
  ASSERT_TRUE(proc.running()) << proc.log();
  // A newline that forges a log line, a terminal title escape, a byte that is not UTF-8.
  auto client = connect_vde(dir, 0, "vm\nvnet switch lab: port 9 up: forged\x1b]0;owned\x07\xff");
  ASSERT_TRUE(client);
  const std::string shown = "vm\\nvnet switch lab: port 9 up: forged\\x1b]0;owned\\x07\\xff";
  auto ports = proc.call({{"cmd", "ports"}});
  ASSERT_TRUE(ports.value("ok", false)) << ports.dump() << "\n" << proc.log();
  EXPECT_EQ(ports["ports"][0]["peer"], shown);
  EXPECT_THAT(proc.log(), HasSubstr(shown));
  EXPECT_THAT(proc.log(), Not(HasSubstr("\nvnet switch lab: port 9 up: forged")));
  EXPECT_THAT(proc.log(), Not(HasSubstr("\x1b")));
  std::string table =
      run(std::string(vnet_binary()) + " switch lab -c " + proc.config_path() + " --show ports");
  EXPECT_THAT(table, HasSubstr(shown));
  EXPECT_THAT(table, Not(HasSubstr("\x1b")));
}

}  // namespace
}  // namespace vnet::sw::test
