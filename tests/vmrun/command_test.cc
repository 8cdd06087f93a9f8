// How CMD, its environment and working directory travel into the guest: the quoting
// survives any byte but NUL, and the generated script, run by the host's own /bin/sh
// here, runs exactly that command with exactly that environment.
#include "vmrun/command.h"

#include <gtest/gtest.h>

#include "tests/vmrun/test_util.h"
#include "vmrun/sys.h"
#include "vmrun/vmrun.h"

namespace vnet::vmrun {
namespace {

using testing::TempDir;

std::vector<std::string> tricky() {
  std::string high;
  for (int i = 1; i < 256; ++i) high.push_back(char(i));  // every byte but NUL
  return {"", "plain", "it's", "'", "''", "a b\tc\nd", "$(touch /tmp/x) `id` $HOME",
          "\\", "\\'", "-n", "--", "*", "~", "!", "\"quoted\"", high};
}

TEST(VmRunShellQuote, SurvivesEveryByteButNul) {
  std::string cmd = "printf '%s\\0'";
  std::string want;
  for (const auto& s : tricky()) {
    cmd += " " + shell_quote(s);
    want += s + '\0';
  }
  auto r = run_capture({"/bin/sh", "-c", cmd});
  ASSERT_TRUE(r) << r.error().str();
  ASSERT_EQ(r->status, 0) << r->err;
  EXPECT_EQ(r->out, want);
}

TEST(VmRunShellQuote, Examples) {
  EXPECT_EQ(shell_quote(""), "''");
  EXPECT_EQ(shell_quote("it's"), "'it'\\''s'");
  EXPECT_EQ(shell_quote("$x"), "'$x'");
}

struct ScriptRun {
  std::string out, err, status, error;
};

ScriptRun run_script(const GuestCommand& c, const TempDir& ctl) {
  EXPECT_TRUE(write_file(ctl / "cmd.sh", command_script(c, ctl.path())));
  auto r = run_capture({"/bin/sh", ctl / "cmd.sh"});
  EXPECT_TRUE(r);
  ScriptRun s;
  s.out = read_file(ctl / "stdout").value_or("<none>");
  s.err = read_file(ctl / "stderr").value_or("<none>");
  s.status = read_file(ctl / "status").value_or("<none>");
  s.error = read_file(ctl / "error").value_or("");
  return s;
}

TEST(VmRunCommandScript, RunsArgvWithExactlyTheEnvironmentInTheDirectory) {
  TempDir ctl, wd;
  std::vector<std::string> env = {"PATH=/usr/bin:/bin", "WEIRD=a'b\nc d$HOME",
                                  "EMPTY=", "dotted.name=1"};
  auto s = run_script({{"env", "-0"}, env, wd.path()}, ctl);
  std::string want;
  for (const auto& e : env) want += e + '\0';
  EXPECT_EQ(s.out, want);
  EXPECT_EQ(s.err, "");
  EXPECT_EQ(s.status, "0\n");

  auto p = run_script({{"pwd"}, {"PATH=/usr/bin:/bin"}, wd.path()}, ctl);
  EXPECT_EQ(p.out, wd.path() + "\n");
}

TEST(VmRunCommandScript, ArgumentsArriveIntact) {
  TempDir ctl;
  std::vector<std::string> argv = {"printf", "%s\\0"};
  std::string want;
  for (const auto& t : tricky()) {
    argv.push_back(t);
    want += t + '\0';
  }
  auto s = run_script({argv, {"PATH=/usr/bin:/bin"}, "/"}, ctl);
  EXPECT_EQ(s.out, want);
  EXPECT_EQ(s.status, "0\n");
}

TEST(VmRunCommandScript, ExitStatusIsTheShells) {
  TempDir ctl;
  std::vector<std::string> path = {"PATH=/usr/bin:/bin"};
  EXPECT_EQ(run_script({{"sh", "-c", "exit 7"}, path, "/"}, ctl).status, "7\n");
  EXPECT_EQ(run_script({{"false"}, path, "/"}, ctl).status, "1\n");
  auto missing = run_script({{"no-such-program-vnet"}, path, "/"}, ctl);
  EXPECT_EQ(missing.status, "127\n");
  EXPECT_NE(missing.err.find("no-such-program-vnet"), std::string::npos) << missing.err;
  EXPECT_EQ(run_script({{"sh", "-c", "kill -TERM $$"}, path, "/"}, ctl).status, "143\n");
}

TEST(VmRunCommandScript, OddProgramNames) {
  TempDir ctl;
  std::vector<std::string> path = {"PATH=/usr/bin:/bin"};
  // A name with '=' is not taken for an assignment; one with a leading '-' not for an
  // option: both are simply not found.
  EXPECT_EQ(run_script({{"A=B"}, path, "/"}, ctl).status, "127\n");
  EXPECT_EQ(run_script({{"-x"}, path, "/"}, ctl).status, "127\n");
}

TEST(VmRunCommandScript, MissingDirectoryIsASetupError) {
  TempDir ctl;
  auto s = run_script({{"true"}, {}, "/nonexistent/vnet"}, ctl);
  EXPECT_EQ(s.status, "<none>");
  EXPECT_NE(s.error.find("/nonexistent/vnet"), std::string::npos);
}

TEST(VmRunOptions, ParseMemory) {
  EXPECT_EQ(parse_memory("1G").value(), 1024u);
  EXPECT_EQ(parse_memory("512M").value(), 512u);
  EXPECT_EQ(parse_memory("2048").value(), 2048u);
  EXPECT_FALSE(parse_memory("lots"));
  EXPECT_FALSE(parse_memory("1T"));
  EXPECT_FALSE(parse_memory("16M"));
}

TEST(VmRunOptions, QemuEscapeDoublesCommas) {
  EXPECT_EQ(qemu_escape("/a,b,,c"), "/a,,b,,,,c");
  EXPECT_EQ(qemu_escape("/plain"), "/plain");
}

}  // namespace
}  // namespace vnet::vmrun
