// `vnet scenario run` on the host kernel (root): real namespaces, real traffic, and what
// is left afterwards (nothing), also after failures, SIGINT and SIGKILL.
#include <gtest/gtest.h>

#include <sstream>
#include <signal.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <regex>
#include <thread>

#include <nlohmann/json.hpp>

#include "scenario/runner.h"
#include "tests/common/process.h"

namespace fs = std::filesystem;
using vnet::testing::row_with;
using vnet::testing::run;

namespace {

const std::string kSrc = VNET_SOURCE_DIR;

std::vector<std::string> namespaces_of(pid_t pid) {
  std::vector<std::string> out;
  std::string prefix = "vsc-" + std::to_string(pid) + "-";
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/run/netns", ec))
    if (e.path().filename().string().rfind(prefix, 0) == 0) out.push_back(e.path().filename());
  return out;
}

pid_t spawn(const std::vector<std::string>& argv) {
  pid_t pid = fork();
  if (pid == 0) {
    int null = open("/dev/null", O_WRONLY);
    dup2(null, 1);
    dup2(null, 2);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  return pid;
}

// Waits until the run has built its namespaces (bounded).
bool wait_for_namespaces(pid_t pid, size_t at_least) {
  for (int i = 0; i < 200; ++i) {
    if (namespaces_of(pid).size() >= at_least) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

class ScenarioRun : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root: creates network namespaces";
  }
};

TEST_F(ScenarioRun, FlatPassesAndLeavesNothing) {
  auto r = run({VNET_BINARY, "scenario", "run", kSrc + "/scenarios/flat.toml"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("flat: 8 passed, 0 failed"), std::string::npos) << r.out;
  EXPECT_EQ(r.err, "");
  // No record of a finished flat run is left (other tests' runs may be alive in parallel,
  // and the SIGKILL test leaves a dead slow.toml run on purpose until it cleans it).
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/run/vnet/scenario", ec)) {
    std::ifstream pidfile(e.path() / "pid");
    std::string pid, file;
    std::getline(pidfile, pid);
    std::getline(pidfile, file);
    if (file.find("flat.toml") == std::string::npos) continue;
    EXPECT_EQ(kill(atoi(pid.c_str()), 0), 0) << "stale record " << e.path();
  }
}

// Progress (base/progress.h) on a terminal only: one line on stderr replaced in place
// (phase, count, elapsed) and cleared before the table; piped, stdout is the table alone
// and stderr empty; -v gives timestamped phase lines on stderr.
TEST_F(ScenarioRun, ProgressOnlyOnATerminalAndGoneBeforeTheTable) {
  if (run({"sh", "-c", "command -v script"}).exit_code != 0)
    GTEST_SKIP() << "script is not installed (Debian package bsdutils)";
  std::string cmd = std::string(VNET_BINARY) + " scenario run " + kSrc + "/scenarios/flat.toml";
  auto tty = run({"script", "-qec", cmd, "/dev/null"});
  EXPECT_EQ(tty.exit_code, 0) << tty.out;
  EXPECT_NE(tty.out.find("\r\033[Kvnet scenario run: flat: build ("), std::string::npos) << tty.out;
  EXPECT_NE(tty.out.find("\r\033[Kvnet scenario run: flat: check 0/8 ("), std::string::npos)
      << tty.out;
  EXPECT_NE(tty.out.find("\r\033[Kvnet scenario run: flat: check 8/8 ("), std::string::npos)
      << tty.out;
  // Cleared before the table: after the last progress line comes an erase, then the table.
  size_t last = tty.out.rfind("vnet scenario run: ");
  ASSERT_NE(last, std::string::npos);
  size_t erase = tty.out.find("\r\033[K", last);
  ASSERT_NE(erase, std::string::npos) << tty.out;
  // (script's terminal turns "\n" into "\r\n": look for erases, not carriage returns)
  EXPECT_EQ(tty.out.find("\033[K", erase + 4), std::string::npos) << tty.out;
  EXPECT_NE(tty.out.find("flat: 8 passed, 0 failed", erase), std::string::npos) << tty.out;

  auto piped = run({VNET_BINARY, "scenario", "run", kSrc + "/scenarios/flat.toml"});
  EXPECT_EQ(piped.exit_code, 0) << piped.err;
  EXPECT_EQ(piped.out.find('\r'), std::string::npos);
  EXPECT_EQ(piped.out.find("vnet scenario run"), std::string::npos);
  EXPECT_EQ(piped.err, "");

  auto verbose = run({VNET_BINARY, "-v", "scenario", "run", kSrc + "/scenarios/flat.toml"});
  EXPECT_EQ(verbose.exit_code, 0) << verbose.err;
  EXPECT_EQ(verbose.out.find("vnet scenario run"), std::string::npos);
  for (const char* phase : {"flat: build\n", "flat: check \\(8 steps\\)\n", "flat: teardown\n"})
    EXPECT_TRUE(std::regex_search(verbose.err,
                                  std::regex(std::string("vnet scenario run: \\[ *[0-9.]+ s\\] ") + phase)))
        << phase << " in:\n" << verbose.err;
  EXPECT_EQ(verbose.err.find('\r'), std::string::npos);
}

TEST_F(ScenarioRun, Lab3PassesThroughItsUserspaceSwitch) {
  auto r = run({VNET_BINARY, "scenario", "run", kSrc + "/scenarios/lab3.toml"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("lab3: 6 passed, 0 failed"), std::string::npos) << r.out;
  EXPECT_EQ(r.err, "");
}

TEST_F(ScenarioRun, FailingCheckExitsOneWithTheFailureAndCleansUp) {
  std::string file = "/run/vnet-test-unreachable-" + std::to_string(getpid()) + ".toml";
  std::ifstream in(kSrc + "/scenarios/flat.toml");
  std::stringstream text;
  text << in.rdbuf();
  std::ofstream(file) << text.str() << "\n[[checks]]\nfrom = \"a\"\nping = \"10.0.0.77\"\ntimeout = 1\n";
  auto r = run({VNET_BINARY, "scenario", "run", file, "--junit", file + ".xml"});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  std::string row = row_with(r.out, "10.0.0.77");
  EXPECT_EQ(row.substr(0, 31), "ping a 10.0.0.77 reach blocked ") << r.out;
  EXPECT_EQ(row.substr(row.size() - 15), "FAIL (no reply)") << r.out;
  EXPECT_NE(r.out.find("flat: 8 passed, 1 failed"), std::string::npos) << r.out;
  std::ifstream xml(file + ".xml");
  std::stringstream x;
  x << xml.rdbuf();
  EXPECT_NE(x.str().find("tests=\"9\" failures=\"1\""), std::string::npos) << x.str();
  fs::remove(file);
  fs::remove(file + ".xml");
}

TEST_F(ScenarioRun, JsonIsOneDocumentWithEveryCheck) {
  std::string file = "/run/vnet-test-json-" + std::to_string(getpid()) + ".toml";
  std::ifstream in(kSrc + "/scenarios/flat.toml");
  std::stringstream text;
  text << in.rdbuf();
  std::ofstream(file) << text.str() << "\n[[checks]]\nfrom = \"a\"\nping = \"10.0.0.77\"\ntimeout = 1\n";
  auto r = run({VNET_BINARY, "--json", "scenario", "run", file});
  fs::remove(file);
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  auto j = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << "stdout is not one JSON document: " << r.out;
  EXPECT_EQ(j["version"], 2);
  EXPECT_EQ(j["passed"], 8);
  EXPECT_EQ(j["failed"], 1);
  ASSERT_EQ(j["scenarios"].size(), 1u);
  const auto& s = j["scenarios"][0];
  EXPECT_EQ(s["name"], "flat");
  EXPECT_EQ(s["exit_code"], 1);
  ASSERT_EQ(s["checks"].size(), 9u);
  const auto& last = s["checks"][8];
  EXPECT_EQ(last["check"], "ping");
  EXPECT_EQ(last["from"], "a");
  EXPECT_EQ(last["to"], "10.0.0.77");
  EXPECT_EQ(last["expect"], "reach");
  EXPECT_EQ(last["got"], "blocked");
  EXPECT_EQ(last["passed"], false);
  EXPECT_EQ(last["detail"], "no reply");
}

TEST_F(ScenarioRun, SigintDuringChecksTearsDown) {
  pid_t pid = spawn({VNET_BINARY, "scenario", "run", kSrc + "/tests/scenario/data/slow.toml"});
  ASSERT_TRUE(wait_for_namespaces(pid, 2)) << "the run never built its namespaces";
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  kill(pid, SIGINT);
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 130);
  EXPECT_TRUE(namespaces_of(pid).empty());
  EXPECT_FALSE(fs::exists("/run/vnet/scenario/vsc-" + std::to_string(pid) + "-0-"));
}

TEST_F(ScenarioRun, SigkilledRunIsCleanedByScenarioClean) {
  pid_t pid = spawn({VNET_BINARY, "scenario", "run", kSrc + "/tests/scenario/data/slow.toml"});
  ASSERT_TRUE(wait_for_namespaces(pid, 2));
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  EXPECT_FALSE(namespaces_of(pid).empty()) << "a killed run cannot clean up by itself";
  auto r = run({VNET_BINARY, "scenario", "clean"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(namespaces_of(pid).empty());
}

bool running(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return false;
  return line.substr(line.rfind(')') + 2, 1) != "Z";
}

// A kept lab keeps what makes it a lab: its switch outlives the runner (frames still
// cross it) until `vnet scenario clean` stops it and removes the namespaces.
TEST_F(ScenarioRun, KeptLabKeepsItsSwitchUntilClean) {
  struct CleanAtExit {  // a failed assertion must not leave the kept lab behind
    ~CleanAtExit() { run({VNET_BINARY, "scenario", "clean"}); }
  } clean_at_exit;
  auto r = run({VNET_BINARY, "scenario", "run", kSrc + "/scenarios/lab3.toml", "--keep"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  size_t at = r.err.find("ip netns exec ");
  ASSERT_NE(at, std::string::npos) << r.err;
  at += 14;
  std::string prefix = r.err.substr(at, r.err.find("host bash", at) - at);
  pid_t sw = 0;
  std::ifstream("/run/vnet/scenario/" + prefix + "/switch-lab3.pid") >> sw;
  ASSERT_GT(sw, 0) << r.err;
  EXPECT_TRUE(running(sw)) << "the switch stopped with the runner";
  auto ping = vnet::testing::sh("ip netns exec " + prefix + "node-a ping -c 2 -W 2 10.33.0.3");
  EXPECT_EQ(ping.exit_code, 0) << ping.out << ping.err;
  auto c = run({VNET_BINARY, "scenario", "clean"});
  EXPECT_EQ(c.exit_code, 0) << c.err;
  EXPECT_FALSE(running(sw)) << "clean left the switch running";
  EXPECT_FALSE(fs::exists("/run/netns/" + prefix + "node-a"));
}

TEST_F(ScenarioRun, ParallelRunsOfOneFileDoNotCollide) {
  std::vector<vnet::testing::RunResult> results(3);
  std::vector<std::thread> threads;
  for (auto& res : results)
    threads.emplace_back([&res] {
      res = run({VNET_BINARY, "scenario", "run", kSrc + "/scenarios/flat.toml"});
    });
  for (auto& t : threads) t.join();
  for (const auto& res : results) {
    EXPECT_EQ(res.exit_code, 0) << res.out << res.err;
    EXPECT_NE(res.out.find("flat: 8 passed, 0 failed"), std::string::npos);
  }
}

TEST_F(ScenarioRun, MissingKernelFeatureExits3NamingItAndTheVmWayOut) {
  auto missing = vnet::scenario::missing_features({"bridge_vlan_filtering"});
  ASSERT_TRUE(missing) << missing.error().str();
  auto r = run({VNET_BINARY, "scenario", "run", kSrc + "/scenarios/quickstart.toml"});
  if (missing->empty()) {
    EXPECT_EQ(r.exit_code, 0) << "this kernel has VLAN filtering: quickstart must pass\n" << r.out << r.err;
  } else {
    EXPECT_EQ(r.exit_code, 3) << r.out << r.err;
    EXPECT_NE(r.err.find("this kernel lacks bridge_vlan_filtering; run with --vm"), std::string::npos)
        << r.err;
  }
}

TEST_F(ScenarioRun, ProbesFindWhatThisKernelHas) {
  // facts.md: the host kernel has veth, tun, macvlan; a stock kernel has them all.
  auto missing = vnet::scenario::missing_features({"veth", "tun", "macvlan"});
  ASSERT_TRUE(missing) << missing.error().str();
  EXPECT_TRUE(missing->empty());
}

TEST_F(ScenarioRun, InvalidFileExits2WithDiagnostics) {
  auto r = run({VNET_BINARY, "scenario", "run", kSrc + "/tests/topology/malformed/check_no_kind.toml"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("check_no_kind.toml:6:1: error: a check needs one of ping, tcp, arping"),
            std::string::npos)
      << r.err;
}

}  // namespace
