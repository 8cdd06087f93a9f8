// Unit tier (no root): SIGHUP with a file that does not load — deeply nested, broken,
// not a file, endless, or no longer declaring the switch — leaves the running switch
// as it was: same ports, same VLANs, clients connected, frames flowing; a good file
// afterwards still applies.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/switch/frames.h"
#include "tests/switch/harness.h"

namespace vnet::sw::test {
namespace {

using namespace std::chrono_literals;

// Waits (bounded) until the switch's log has `n` lines containing `what`.
bool log_count_reaches(const SwitchProcess& proc, const std::string& what, size_t n) {
  for (int i = 0; i < 150; ++i, std::this_thread::sleep_for(20ms)) {
    std::string log = proc.log();
    size_t count = 0;
    for (size_t at = log.find(what); at != std::string::npos; at = log.find(what, at + 1))
      ++count;
    if (count >= n) return true;
  }
  return false;
}

TEST(SwitchReload, AFileThatFailsToLoadKeepsTheRunningConfiguration) {
  ScratchDir s;
  std::string dir = s.path + "/lab";
  auto port = [&](const std::string& n, int pvid) {
    return "[switches.lab.ports." + n + "]\nstream = \"" + s.path + "/" + n + ".sock\"\npvid = " +
           std::to_string(pvid) + "\n";
  };
  std::string head = switch_toml(dir);
  SwitchProcess proc(head + port("a", 10) + port("b", 10), "lab", dir);
  ASSERT_TRUE(proc.running()) << proc.log();
  auto a = connect_stream(s.path + "/a.sock");
  auto b = connect_stream(s.path + "/b.sock");
  ASSERT_TRUE(a && b);
  const std::string file = proc.config_path();

  std::string dotted;  // a.a.a... 40 000 deep: overflowed the TOML parser's stack
  for (int i = 0; i < 40000; ++i) dotted += i ? ".a" : "a";
  std::string headers = "[" + dotted + "]\n";
  const std::vector<std::pair<std::string, std::function<void()>>> hostile = {
      {"dotted keys 40000 deep", [&] { std::ofstream(file) << dotted << " = 1\n"; }},
      {"table header 40000 deep", [&] { std::ofstream(file) << headers; }},
      {"broken TOML", [&] { std::ofstream(file) << head << "max_ports = [\n"; }},
      {"switch no longer declared", [&] { std::ofstream(file) << "[host]\nname = \"t\"\n"; }},
      {"a folder", [&] { std::filesystem::remove(file), std::filesystem::create_directory(file); }},
      {"endless (/dev/zero)",
       [&] { std::filesystem::remove(file), std::filesystem::create_symlink("/dev/zero", file); }},
  };
  size_t failures = 0;
  for (const auto& [what, write] : hostile) {
    SCOPED_TRACE(what);
    std::filesystem::remove_all(file);
    write();
    proc.signal(SIGHUP);
    ASSERT_TRUE(log_count_reaches(proc, "reload failed, keeping the running configuration", ++failures))
        << proc.log();
    ASSERT_TRUE(proc.running()) << proc.log();
    EXPECT_EQ(proc.stats()["ports"], 2);
    EXPECT_EQ(proc.port("a")["pvid"], 10);
    ASSERT_TRUE(a->send(frame(kBroadcast, mac(0xa))));
    EXPECT_TRUE(b->recv(2000ms));
  }
  std::filesystem::remove_all(file);
  std::ofstream(file) << head + port("a", 20) + port("b", 20);
  proc.signal(SIGHUP);
  ASSERT_TRUE(log_count_reaches(proc, "reloaded:", 1)) << proc.log();
  EXPECT_EQ(proc.port("a")["pvid"], 20);
}

// Under systemd, stderr is the journal's stream: each line carries its syslog priority.
TEST(SwitchReload, LinesCarryTheirPriorityWhenStderrIsTheJournal) {
  ScratchDir s;
  std::string dir = s.path + "/lab";
  SwitchProcess::Options o;
  o.journal = true;
  SwitchProcess proc(switch_toml(dir), "lab", dir, o);
  ASSERT_TRUE(proc.running()) << proc.log();
  std::ofstream(proc.config_path()) << "[host]\nname = \"t\"\n";
  proc.signal(SIGHUP);
  ASSERT_TRUE(log_count_reaches(proc, "reload failed", 1)) << proc.log();
  EXPECT_THAT(proc.log(), ::testing::HasSubstr("<3>vnet switch lab: reload failed, keeping the running configuration"));
  SwitchProcess plain(switch_toml(s.path + "/lab2"), "lab", s.path + "/lab2");
  ASSERT_TRUE(plain.running()) << plain.log();
  std::ofstream(plain.config_path()) << "[host]\nname = \"t\"\n";
  plain.signal(SIGHUP);
  ASSERT_TRUE(log_count_reaches(plain, "reload failed", 1)) << plain.log();
  EXPECT_EQ(plain.log().find("<3>"), std::string::npos) << plain.log();
}

}  // namespace
}  // namespace vnet::sw::test
