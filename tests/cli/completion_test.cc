// Unit tier: `vnet completion bash|zsh`. The bash script is loaded into a real bash and
// asked to complete; every verb and every option of every verb must come back. The zsh
// script is checked for syntax (zsh -n) and for naming every verb and option.
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/cli/cli.h"

namespace vnet::cli::test {
namespace {

using ::testing::HasSubstr;
using ::testing::UnorderedElementsAreArray;

bool have(const std::string& program) {
  return testing::sh("command -v " + program + " >/dev/null").exit_code == 0;
}

// What the bash completion offers for the words typed so far (the last one is completed).
std::vector<std::string> complete_bash(const std::vector<std::string>& words) {
  std::string array;
  for (const std::string& w : words) array += " '" + w + "'";
  auto r = testing::run({"bash", "-c",
                         "eval \"$(\"$0\" completion bash)\" || exit 9\n"
                         "COMP_WORDS=(" + array + ")\n"
                         "COMP_CWORD=$((${#COMP_WORDS[@]} - 1))\n"
                         "_vnet\n"
                         "printf '%s\\n' \"${COMPREPLY[@]}\"",
                         VNET_BINARY},
                        "/");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  std::vector<std::string> out;
  std::istringstream in(r.out);
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) out.push_back(line);
  return out;
}

TEST(CompletionBash, OffersEveryVerb) {
  if (!have("bash")) GTEST_SKIP() << "bash is not installed";
  auto verbs = verb_names();
  std::vector<std::string> want = verbs;
  for (const char* g : {"--netns", "-v", "--verbose", "--json", "--help", "--version"})
    want.push_back(g);
  EXPECT_THAT(complete_bash({"vnet", ""}), UnorderedElementsAreArray(want));
  EXPECT_THAT(complete_bash({"vnet", "vm-"}), UnorderedElementsAreArray({"vm-run"}));
  EXPECT_THAT(complete_bash({"vnet", "--netns", "x", "sc"}),
              UnorderedElementsAreArray({"scenario"}));
}

TEST(CompletionBash, OffersEveryOptionOfEachVerbAsHelpPrintsThem) {
  if (!have("bash")) GTEST_SKIP() << "bash is not installed";
  for (const std::string& verb : verb_names()) {
    SCOPED_TRACE(verb);
    std::set<std::string> want = help_options(vnet({verb, "--help"}).out);
    for (const char* g : {"--netns", "-v", "--verbose", "--json", "--help"}) want.insert(g);
    EXPECT_THAT(complete_bash({"vnet", verb, "-"}), UnorderedElementsAreArray(want));
  }
}

TEST(CompletionBash, OffersActionsAndChoices) {
  if (!have("bash")) GTEST_SKIP() << "bash is not installed";
  EXPECT_THAT(complete_bash({"vnet", "scenario", ""}), UnorderedElementsAreArray({"run", "clean"}));
  EXPECT_THAT(complete_bash({"vnet", "switch", "lab", "--show", ""}),
              UnorderedElementsAreArray({"ports", "fdb", "stats"}));
  EXPECT_THAT(complete_bash({"vnet", "vm-run", "--accel", "k"}),
              UnorderedElementsAreArray({"kvm"}));
  EXPECT_THAT(complete_bash({"vnet", "help", "sw"}), UnorderedElementsAreArray({"switch"}));
  EXPECT_THAT(complete_bash({"vnet", "completion", ""}), UnorderedElementsAreArray({"bash", "zsh"}));
  // Past the action, files: "/" has "etc" in it.
  EXPECT_THAT(complete_bash({"vnet", "check", "/et"}), UnorderedElementsAreArray({"/etc"}));
}

TEST(CompletionZsh, ParsesAndNamesEveryVerbAndOption) {
  auto script = vnet({"completion", "zsh"});
  ASSERT_EQ(script.exit_code, 0);
  EXPECT_THAT(script.out, ::testing::StartsWith("#compdef vnet\n"));
  for (const std::string& verb : verb_names()) {
    EXPECT_THAT(script.out, HasSubstr("\n    '" + verb + ":"));
    EXPECT_THAT(script.out, HasSubstr("\n    " + verb + ") _arguments"));
    for (const OptionName& o : help_option_names(vnet({verb, "--help"}).out)) {
      std::string spec = o.shorter.empty() ? "'" + o.name + "["
                                           : "{" + o.shorter + "," + o.name + "}'[";
      EXPECT_THAT(script.out, HasSubstr(spec)) << verb;
    }
  }
  if (!have("zsh")) GTEST_SKIP() << "zsh is not installed: syntax not checked (scripts/setup installs it)";
  auto r = testing::run({"zsh", "-n", "-c", script.out});
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

TEST(Completion, UnknownShellIsUsageError) {
  auto r = vnet({"completion", "fish"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err, "vnet completion: unknown shell 'fish': bash or zsh\nusage: vnet completion bash|zsh\n");
}

}  // namespace
}  // namespace vnet::cli::test
