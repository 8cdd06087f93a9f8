// Inside `vnet vm-run` (a stock kernel with 802.1Q and bridge VLAN filtering): every
// shipped VLAN scenario passes, and a port deliberately on the wrong VLAN makes the
// isolation check fail.
#include <gtest/gtest.h>

#include <sstream>

#include "tests/common/process.h"

using vnet::testing::row_with;
using vnet::testing::run;

namespace {

const std::string kSrc = VNET_SOURCE_DIR;

TEST(ScenarioKernel, ShippedVlanScenariosPass) {
  for (const char* name : {"quickstart", "villa", "macvlan", "flat", "lab3"}) {
    auto r = run({VNET_BINARY, "scenario", "run", kSrc + "/scenarios/" + name + ".toml"});
    EXPECT_EQ(r.exit_code, 0) << name << "\n" << r.out << r.err;
    EXPECT_NE(r.out.find(std::string(name) + ": "), std::string::npos) << r.out;
    EXPECT_NE(r.out.find(" 0 failed"), std::string::npos) << r.out;
    std::cout << r.out;
  }
}

TEST(ScenarioKernel, PortOnTheWrongVlanFailsTheIsolationCheck) {
  auto r = run({VNET_BINARY, "scenario", "run", kSrc + "/tests/scenario/data/wrong_vlan.toml"});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_EQ(row_with(r.out, "10.1.40.10").substr(0, 35), "ping mgmt 10.1.40.10 blocked reach ")
      << r.out;
  EXPECT_NE(r.out.find("wrong-vlan: 0 passed, 1 failed"), std::string::npos) << r.out;
}

}  // namespace
