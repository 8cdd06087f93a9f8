// Unit tier: what `vnet` says when the process may not do what the verb needs. Root runs
// it with CAP_NET_ADMIN dropped (setpriv), anyone else as they are.
#include <unistd.h>

#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/cli/cli.h"

namespace vnet::cli::test {
namespace {

TEST(Messages, ChangingInterfacesWithoutNetAdminSaysSoAndExits3) {
  std::string file = ::testing::TempDir() + "vnet-messages-" + std::to_string(getpid()) + ".toml";
  std::ofstream(file) << "[host]\nname = \"m\"\n[bridges.br-msg]\n";
  for (const std::string verb : {"apply", "destroy"}) {
    SCOPED_TRACE(verb);
    std::vector<std::string> args = {VNET_BINARY, verb, file};
    if (geteuid() == 0)
      args.insert(args.begin(), {"setpriv", "--bounding-set=-net_admin", "--inh-caps=-net_admin", "--"});
    auto r = testing::run(args);
    EXPECT_EQ(r.exit_code, 3) << r.out << r.err;
    EXPECT_EQ(r.err, "vnet " + verb + ": needs root (CAP_NET_ADMIN) to change network interfaces\n");
    EXPECT_EQ(r.out, "");
  }
  // bad input is still bad input first
  auto bad = testing::run({VNET_BINARY, "apply", file + ".missing"});
  EXPECT_EQ(bad.exit_code, 2);
  unlink(file.c_str());
}

TEST(Messages, CheckJsonGivesEveryDiagnosticAsAnObject) {
  std::string dir = VNET_SOURCE_DIR;
  auto r = vnet({"check", "--json", dir + "/examples/villa.toml",
                 dir + "/tests/topology/malformed/kernel_refuses.toml"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err, "");
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["version"], 2);
  ASSERT_EQ(j["files"].size(), 2u);
  EXPECT_EQ(j["files"][0]["ok"], true);
  EXPECT_EQ(j["files"][0]["host"], "villa-pve-01");
  EXPECT_EQ(j["files"][1]["ok"], false);
  ASSERT_EQ(j["files"][1]["diagnostics"].size(), 3u);
  auto d = j["files"][1]["diagnostics"][2];
  EXPECT_EQ(d["line"], 13);
  EXPECT_EQ(d["col"], 7);
  EXPECT_EQ(d["severity"], "error");
  EXPECT_EQ(d["message"], "mtu 65522 is above a tap's maximum of 65521");
}

// Under systemd, stderr is the journal's stream: an error line says so with "<3>".
TEST(Messages, ErrorsCarryTheirPriorityWhenStderrIsTheJournal) {
  std::string log = ::testing::TempDir() + "vnet-journal-" + std::to_string(getpid()) + ".log";
  std::string file = std::string(VNET_SOURCE_DIR) + "/examples/villa.toml";
  auto r = testing::sh(": > " + log + "; JOURNAL_STREAM=$(stat -c %d:%i " + log + ") " + VNET_BINARY +
                       " --netns vnet-no-such-namespace status " + file + " 2>>" + log + "; echo $?; cat " + log);
  EXPECT_EQ(r.out.substr(0, 2), "3\n") << r.out;
  EXPECT_NE(r.out.find("\n<3>vnet: "), std::string::npos) << r.out;
  auto plain = vnet({"--netns", "vnet-no-such-namespace", "status", file});
  EXPECT_EQ(plain.exit_code, 3);
  EXPECT_EQ(plain.err.rfind("vnet: ", 0), 0u) << plain.err;
  unlink(log.c_str());
}

}  // namespace
}  // namespace vnet::cli::test
