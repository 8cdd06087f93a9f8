// Help text, all of it generated from the verb table and each verb's options description
// (so usage, options and exit codes printed here are the ones the parser enforces), the
// did-you-mean for a mistyped verb, and `vnet help [VERB]`.
#include <algorithm>
#include <iostream>
#include <sstream>

#include "base/text.h"
#include "cli/verbs.h"
#include "cli/version.h"

namespace po = boost::program_options;

namespace vnet::cli {
namespace {


std::string pad(std::string s, size_t width) {
  if (s.size() < width) s.resize(width, ' ');
  else s += "\n" + std::string(width, ' ');
  return s;
}

// "  -c, --config FILE" for one option; flags take no parameter.
std::string option_head(const po::option_description& o) {
  std::string head = "  ";
  std::string shorter = o.canonical_display_name(po::command_line_style::allow_dash_for_short);
  if (shorter.size() == 2 && shorter[0] == '-') head += shorter + ", ";
  head += "--" + o.long_name();
  if (o.semantic()->max_tokens() > 0) head += " " + o.semantic()->name();
  return head;
}

const char* kGlobalOptions =
    "global options (before or after the verb):\n"
    "  --netns NAME                run kernel-facing work inside namespace NAME\n"
    "  -v, --verbose               say more on stderr\n"
    "  --json                      print data as JSON where output is data\n";

}  // namespace

std::string version_text() {
  std::string s = std::string("vnet ") + kVersion;
  if (*kGitDescribe) s += std::string(" (git ") + kGitDescribe + ")";
  return s + "\n";
}

std::string usage_lines(const Verb& v) {
  std::string out;
  std::istringstream forms(v.synopsis);
  std::string form;
  bool first = true;
  while (std::getline(forms, form)) {
    out += (first ? "usage: vnet " : "       vnet ") + form + "\n";
    first = false;
  }
  return out;
}

std::string general_help() {
  std::string out = "usage: vnet [--netns NAME] [-v] [--json] VERB [ARGS...]\n"
                    "       vnet VERB --help | vnet help VERB | vnet --version\n\nverbs:\n";
  for (const Verb& v : verbs()) {
    std::string first_form = v.synopsis;
    first_form = first_form.substr(0, first_form.find('\n'));
    out += pad("  " + first_form, 44) + v.summary + "\n";
  }
  out += "\nexit codes: 0 ok, 1 failed or changes/drift, 2 bad input, 3 environment lacks "
         "something\n";
  return out;
}

std::string help_text(const Verb& v) {
  std::string out = usage_lines(v) + "\n" + v.summary + "\n";
  if (v.options) {
    out += "\noptions:\n";
    const po::options_description opts = v.options();
    for (const auto& o : opts.options())
      out += pad(option_head(*o), 30) + o->description() + "\n";
  }
  out += std::string("\n") + kGlobalOptions + "\nexit codes:\n";
  std::istringstream exits(v.exits);
  std::string line;
  while (std::getline(exits, line)) out += "  " + line + "\n";
  return out;
}

std::string nearest_verb(const std::string& typo) {
  std::string best;
  size_t best_d = SIZE_MAX;
  for (const Verb& v : verbs()) {
    size_t d = edit_distance(typo, v.name);
    if (d < best_d) best_d = d, best = v.name;
  }
  if (best_d <= 2 && best_d * 2 <= typo.size()) return best;
  // A unique prefix ("scen") is only suggested, never run: style.md forbids prefix matching.
  std::string only;
  for (const Verb& v : verbs()) {
    if (typo.empty() || std::string(v.name).rfind(typo, 0) != 0) continue;
    if (!only.empty()) return "";
    only = v.name;
  }
  return only;
}

int verb_help(const Invocation& inv) {
  if (inv.args.empty()) {
    std::cout << general_help();
    return 0;
  }
  if (inv.args.size() > 1) throw UsageError("help takes at most one verb");
  const Verb* v = find_verb(inv.args[0]);
  if (v) {
    std::cout << help_text(*v);
    return 0;
  }
  std::string near = nearest_verb(inv.args[0]);
  return report(2, "unknown verb '" + inv.args[0] + "'" +
                       (near.empty() ? "; 'vnet help' lists them" : "; did you mean '" + near + "'?"));
}

}  // namespace vnet::cli
