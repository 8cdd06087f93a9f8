// Scalar value parsing: MACs, addresses, sizes, interface names.
#include <gtest/gtest.h>

#include "topology/load.h"

using namespace vnet::topology;

TEST(Values, ParsesMacsCaseInsensitively) {
  EXPECT_EQ(parse_mac("02:AB:cd:00:00:01")->str(), "02:ab:cd:00:00:01");
  EXPECT_FALSE(parse_mac("02:ab:cd:00:00"));
  EXPECT_FALSE(parse_mac("02-ab-cd-00-00-01"));
  EXPECT_FALSE(parse_mac("02:ab:cd:00:00:0g"));
}

TEST(Values, ParsesCidrs) {
  EXPECT_EQ(parse_cidr("10.1.40.2/24")->str(), "10.1.40.2/24");
  EXPECT_EQ(parse_cidr("fd00::2/64")->str(), "fd00::2/64");
  EXPECT_FALSE(parse_cidr("10.1.40.2/33"));
  EXPECT_FALSE(parse_cidr("fd00::2/129"));
  EXPECT_FALSE(parse_cidr("10.1.40.2/"));
  EXPECT_FALSE(parse_cidr("10.1.40.2/2x"));
  EXPECT_FALSE(parse_cidr("10.1.40.2"));
}

TEST(Values, CidrContainsAddressesOfItsSubnet) {
  auto c = *parse_cidr("10.1.40.2/23");
  EXPECT_TRUE(c.contains(*parse_ip("10.1.41.255")));
  EXPECT_FALSE(c.contains(*parse_ip("10.1.42.1")));
  EXPECT_FALSE(c.contains(*parse_ip("fd00::1")));
  auto v6 = *parse_cidr("fd00:1::2/64");
  EXPECT_TRUE(v6.contains(*parse_ip("fd00:1::1")));
  EXPECT_FALSE(v6.contains(*parse_ip("fd00:2::1")));
  EXPECT_TRUE(parse_cidr("10.0.0.1/0")->contains(*parse_ip("192.0.2.1")));
}

TEST(Values, ParsesSizes) {
  EXPECT_EQ(parse_size("4G"), 4ull << 30);
  EXPECT_EQ(parse_size("512M"), 512ull << 20);
  EXPECT_EQ(parse_size("100GiB"), 100ull << 30);
  EXPECT_EQ(parse_size("1024"), 1024u);
  EXPECT_FALSE(parse_size("4 gigs"));
  EXPECT_FALSE(parse_size("G"));
}

TEST(Values, InterfaceNamesFollowTheKernel) {
  EXPECT_EQ(interface_name_problem("vb-web"), "");
  EXPECT_EQ(interface_name_problem("abcdefghijklmno"), "");
  EXPECT_EQ(interface_name_problem("abcdefghijklmnop"),
            "name 'abcdefghijklmnop' is 16 bytes, the kernel allows 15");
  EXPECT_NE(interface_name_problem("a/b"), "");
  EXPECT_NE(interface_name_problem("a:b"), "");
  EXPECT_NE(interface_name_problem("a b"), "");
  EXPECT_NE(interface_name_problem(".."), "");
  EXPECT_NE(interface_name_problem(""), "");
}
