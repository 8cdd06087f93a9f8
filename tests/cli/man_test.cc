// Unit tier: the man page source (docs/man/vnet.8.scd) against the binary. Each verb of
// the verb table has a "## VERB" section, and the options that section defines
// ("*--name*" lines followed by a tab-indented description) are exactly those that
// `vnet VERB --help` prints, so the two never drift.
#include <fstream>
#include <map>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/cli/cli.h"

namespace vnet::cli::test {
namespace {

using ::testing::ElementsAreArray;

// verb -> option names ("-c", "--config") defined in its section of the VERBS chapter.
std::map<std::string, std::set<std::string>> man_options(const std::string& path) {
  std::ifstream in(path);
  EXPECT_TRUE(in) << path;
  std::vector<std::string> lines;
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  std::map<std::string, std::set<std::string>> out;
  static const std::regex def(R"(^\*(-[a-zA-Z])\*, \*(--[a-z0-9-]+)\*|^\*(--[a-z0-9-]+)\*)");
  bool in_verbs = false;
  std::string verb;
  for (size_t i = 0; i < lines.size(); ++i) {
    const std::string& l = lines[i];
    if (l.rfind("# ", 0) == 0) {
      in_verbs = l == "# VERBS";
      verb.clear();
      continue;
    }
    if (!in_verbs) continue;
    if (l.rfind("## ", 0) == 0) {
      verb = l.substr(3);
      out[verb];
      continue;
    }
    std::smatch m;
    bool described = i + 1 < lines.size() && lines[i + 1].rfind("\t", 0) == 0;
    if (verb.empty() || !described || !std::regex_search(l, m, def)) continue;
    if (m[1].matched) out[verb].insert(m[1]), out[verb].insert(m[2]);
    else out[verb].insert(m[3]);
  }
  return out;
}

TEST(ManPage, HasASectionForEveryVerbAndNoOther) {
  auto man = man_options(VNET_MAN_SOURCE);
  std::vector<std::string> sections;
  for (const auto& [verb, opts] : man) sections.push_back(verb);
  auto verbs = verb_names();
  std::sort(verbs.begin(), verbs.end());
  EXPECT_THAT(sections, ElementsAreArray(verbs));
}

TEST(ManPage, EachVerbsOptionsAreThoseItsHelpPrints) {
  auto man = man_options(VNET_MAN_SOURCE);
  for (const std::string& verb : verb_names()) {
    SCOPED_TRACE(verb);
    std::set<std::string> help = help_options(vnet({verb, "--help"}).out);
    EXPECT_THAT(man[verb], ElementsAreArray(help));
  }
}

TEST(ManPage, ParserSeesTheOptionsItShould) {
  // Guard against the parser above finding nothing and passing vacuously.
  auto man = man_options(VNET_MAN_SOURCE);
  EXPECT_THAT(man["switch"], ElementsAreArray({"--config", "--show", "-c"}));
  EXPECT_THAT(man["scenario"], ElementsAreArray({"--junit", "--keep", "--vm"}));
  EXPECT_EQ(man["vm-run"].size(), 8u);
}

}  // namespace
}  // namespace vnet::cli::test
