// Helpers for tests of the `vnet` command line: run the built binary, read its verb list
// and the options section of a verb's --help.
#pragma once

#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "tests/common/process.h"

namespace vnet::cli::test {

inline testing::RunResult vnet(std::vector<std::string> args) {
  args.insert(args.begin(), VNET_BINARY);
  return testing::run(args);
}

// Verb names as `vnet help` lists them ("  NAME ..." lines after "verbs:").
inline std::vector<std::string> verb_names() {
  std::vector<std::string> names;
  std::istringstream in(vnet({"help"}).out);
  std::string line;
  bool in_verbs = false;
  while (std::getline(in, line)) {
    if (line == "verbs:") in_verbs = true;
    else if (line.empty()) in_verbs = false;
    else if (in_verbs && line.rfind("  ", 0) == 0 && line[2] != ' ')
      names.push_back(line.substr(2, line.find(' ', 2) - 2));
  }
  return names;
}

struct OptionName {
  std::string shorter;  // "-c" or ""
  std::string name;     // "--config"
};

// The options defined in the "options:" section of a verb's --help, in order.
inline std::vector<OptionName> help_option_names(const std::string& help) {
  std::vector<OptionName> out;
  size_t at = help.find("\noptions:\n");
  if (at == std::string::npos) return out;
  std::istringstream in(help.substr(at + 10, help.find("\n\n", at + 10) - at - 10));
  std::string line;
  static const std::regex name(R"(^  (?:(-[a-zA-Z]), )?(--[a-z0-9-]+))");
  while (std::getline(in, line)) {
    std::smatch m;
    if (!std::regex_search(line, m, name)) continue;
    out.push_back({m[1].matched ? m[1].str() : "", m[2]});
  }
  return out;
}

// The same as a set of every form ("-c", "--config").
inline std::set<std::string> help_options(const std::string& help) {
  std::set<std::string> out;
  for (const OptionName& o : help_option_names(help)) {
    if (!o.shorter.empty()) out.insert(o.shorter);
    out.insert(o.name);
  }
  return out;
}

// Whether `text` names option `opt` as a whole word ("--vm" is not in "--vmx").
inline bool names_option(const std::string& text, const std::string& opt) {
  return std::regex_search(text, std::regex("(^|[\\s\\[|])" + opt + "($|[\\s\\]=|])"));
}

}  // namespace vnet::cli::test
