// Unit tier: `vnet VERB --help`, `vnet help VERB`, `vnet --version`, the did-you-mean for a
// mistyped verb, and that every verb's usage line names every option its parser accepts.
#include <regex>
#include <set>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/cli/cli.h"

namespace vnet::cli::test {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

TEST(Help, VerbHelpAndHelpVerbPrintTheSameUsageOptionsAndExitCodes) {
  for (const std::string& verb : verb_names()) {
    SCOPED_TRACE(verb);
    auto a = vnet({verb, "--help"});
    auto b = vnet({"help", verb});
    EXPECT_EQ(a.exit_code, 0) << a.err;
    EXPECT_EQ(b.exit_code, 0) << b.err;
    EXPECT_EQ(a.out, b.out);
    EXPECT_THAT(a.out, StartsWith("usage: vnet " + verb));
    EXPECT_THAT(a.out, HasSubstr("\nexit codes:\n  "));
    EXPECT_THAT(a.out, HasSubstr("\nglobal options (before or after the verb):\n"));
  }
}

TEST(Help, VmRunHelpIsExact) {
  auto r = vnet({"vm-run", "-h"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out,
            "usage: vnet vm-run [--kernel K] [--memory M] [--cpus N] [--timeout S] [--accel "
            "auto|kvm|tcg] [--share DIR]... [--no-pvh] [--systemd] -- CMD...\n"
            "\n"
            "run CMD as root under a stock kernel in QEMU\n"
            "\n"
            "options:\n"
            "  --kernel K                  a Debian kernel .deb or a folder with a kernel and "
            "modules (default: Debian's, fetched and cached)\n"
            "  --memory M (=1G)            guest memory, e.g. 512M, 2G\n"
            "  --cpus N (=2)               guest CPUs\n"
            "  --timeout S (=0)            kill QEMU after S seconds (0: never)\n"
            "  --accel auto|kvm|tcg (=auto)\n"
            "                              auto (KVM if a probe boot works, else TCG), kvm or "
            "tcg\n"
            "  --share DIR                 also share this folder writable at its path "
            "(repeatable; e.g. a source tree under /tmp)\n"
            "  --no-pvh                    boot the bzImage instead of the extracted PVH "
            "vmlinux\n"
            "  --systemd                   boot the host's systemd as PID 1 and run CMD as "
            "its unit (slower)\n"
            "\n"
            "global options (before or after the verb):\n"
            "  --netns NAME                run kernel-facing work inside namespace NAME\n"
            "  -v, --verbose               say more on stderr\n"
            "  --json                      print data as JSON where output is data\n"
            "\n"
            "exit codes:\n"
            "  N    CMD's own exit status\n"
            "  2    usage (nothing started)\n"
            "  125  vm-run itself failed (message on stderr)\n");
}

TEST(Help, HelpAfterDoubleDashBelongsToTheCommand) {
  // `vnet vm-run -- ls --help` is vm-run running `ls --help`, not vm-run's help; with a
  // bad --cpus it fails on usage before anything starts, which proves --help was not taken.
  auto r = vnet({"vm-run", "--cpus", "0", "--", "ls", "--help"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err, "vnet vm-run: --cpus must be at least 1\nusage: vnet vm-run [--kernel K] "
                   "[--memory M] [--cpus N] [--timeout S] [--accel auto|kvm|tcg] [--share "
                   "DIR]... [--no-pvh] [--systemd] -- CMD...\n");
}

TEST(Help, ScenarioUsageShowsBothActions) {
  auto r = vnet({"help", "scenario"});
  EXPECT_THAT(r.out, StartsWith("usage: vnet scenario run FILE... [--junit F] [--vm] [--keep]\n"
                                "       vnet scenario clean\n"));
  auto bad = vnet({"scenario", "sweep"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_EQ(bad.err, "vnet scenario: unknown action 'sweep': run or clean\n"
                     "usage: vnet scenario run FILE... [--junit F] [--vm] [--keep]\n"
                     "       vnet scenario clean\n");
}

TEST(Help, PlainHelpListsEveryVerbOnStdout) {
  auto r = vnet({"help"});
  EXPECT_EQ(r.exit_code, 0);
  for (const std::string& verb : verb_names()) EXPECT_THAT(r.out, HasSubstr("\n  " + verb));
  auto dash = vnet({"--help"});
  EXPECT_EQ(dash.exit_code, 0);
  EXPECT_EQ(dash.out, r.out);
  auto none = vnet({});
  EXPECT_EQ(none.exit_code, 2);
  EXPECT_EQ(none.err, r.out);
}

TEST(Version, PrintsProjectVersionAndGitDescribe) {
  auto r = vnet({"--version"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_TRUE(std::regex_match(r.out, std::regex(std::string("vnet ") + VNET_VERSION +
                                                 "( \\(git [^()\\s]+\\))?\n")))
      << r.out;
}

TEST(UnknownVerb, SuggestsTheNearestVerb) {
  auto r = vnet({"chek", "x.toml"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "vnet: unknown verb 'chek'; did you mean 'check'?\n");
  EXPECT_EQ(vnet({"aply"}).err, "vnet: unknown verb 'aply'; did you mean 'apply'?\n");
  EXPECT_EQ(vnet({"vmrun"}).err, "vnet: unknown verb 'vmrun'; did you mean 'vm-run'?\n");
  EXPECT_EQ(vnet({"scen"}).err, "vnet: unknown verb 'scen'; did you mean 'scenario'?\n");
  EXPECT_EQ(vnet({"help", "stauts"}).err,
            "vnet: unknown verb 'stauts'; did you mean 'status'?\n");
  EXPECT_EQ(vnet({"help", "stauts"}).exit_code, 2);
}

TEST(UnknownVerb, WithNothingCloseListsTheVerbs) {
  auto r = vnet({"frobnicate"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, StartsWith("vnet: unknown verb 'frobnicate'\nusage: vnet "));
  EXPECT_THAT(r.err, HasSubstr("\n  check FILE..."));
}

// The drift the issue found (vm-run hid --accel, --cpus, --no-pvh): every option in a
// verb's options section must be named in its usage lines.
TEST(Usage, NamesEveryOptionTheVerbAccepts) {
  for (const std::string& verb : verb_names()) {
    SCOPED_TRACE(verb);
    auto help = vnet({verb, "--help"}).out;
    std::string usage = help.substr(0, help.find("\n\n"));
    for (const OptionName& o : help_option_names(help))
      EXPECT_TRUE(names_option(usage, o.name) ||
                  (!o.shorter.empty() && names_option(usage, o.shorter)))
          << o.name << " missing from\n" << usage;
  }
}

TEST(Usage, EveryAdvertisedOptionIsAccepted) {
  // Each option vm-run advertises parses (the run then stops on a missing command).
  for (std::vector<std::string> args : {std::vector<std::string>{"--accel", "tcg"},
                                        {"--cpus", "1"}, {"--no-pvh"}, {"--share", "/tmp"},
                                        {"--kernel", "/k"}, {"--memory", "2G"},
                                        {"--timeout", "5"}, {"--systemd"}}) {
    args.insert(args.begin(), "vm-run");
    auto r = vnet(args);
    EXPECT_EQ(r.err, "vnet vm-run: no command: put it after --\n" +
                         vnet({"vm-run", "--help"}).out.substr(
                             0, vnet({"vm-run", "--help"}).out.find('\n') + 1))
        << args[1];
  }
}

}  // namespace
}  // namespace vnet::cli::test
