// The table of `vnet` verbs. Each verb lives in its own file (cli/verb_NAME.cc), parses
// its own options and calls the library; main.cc only splits off the global options and
// dispatches. Verbs are matched exactly, never by prefix.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <boost/program_options.hpp>

#include "topology/model.h"

namespace vnet::cli {

// Options accepted before or after the verb (design.md "Global").
struct GlobalOptions {
  std::string netns;  // --netns NAME: run kernel-facing work inside this namespace
  bool verbose = false;
  bool json = false;
};

struct Invocation {
  GlobalOptions global;
  std::string verb;
  std::vector<std::string> args;  // after the verb, global options removed
};

using VerbFn = int (*)(const Invocation&);
// A verb's own options: the parser, `VERB --help`, the completions and the man page test
// all read this one description, so they cannot drift apart.
using OptionsFn = boost::program_options::options_description (*)();

struct Verb {
  const char* name;
  const char* synopsis;  // one form per line, without "vnet "; names every option
  const char* summary;
  VerbFn run;
  OptionsFn options;     // nullptr: the verb has no options of its own
  const char* exits;     // "N  meaning" per line
  const char* actions;   // words the first argument may be ("run clean"), for completion
};

const std::vector<Verb>& verbs();
const Verb* find_verb(const std::string& name);

// cli/help.cc: text of `vnet help`, `vnet VERB --help`, and the nearest verb to a typo.
std::string general_help();
std::string help_text(const Verb& v);
std::string usage_lines(const Verb& v);  // "usage: vnet FORM" per form
std::string nearest_verb(const std::string& typo);  // "" when nothing is close
std::string version_text();

// Parses a verb's own options; positional names in order (the last may repeat when
// `last_repeats`). Throws UsageError, which main turns into exit 2 with the verb's usage.
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};
boost::program_options::variables_map parse_args(
    const Invocation& inv, const boost::program_options::options_description& options,
    const std::vector<std::string>& positional, bool last_repeats = false);

// For verbs that take one host.toml: parses `VERB FILE` (no other options), loads and
// validates FILE; on bad input prints every diagnostic and returns nullopt (exit 2).
std::optional<topology::Topology> load_verb_file(const Invocation& inv, const char* verb);
// The same for verbs with options of their own: `vm` receives them.
std::optional<topology::Topology> load_verb_file(const Invocation& inv, const char* verb,
                                                 const boost::program_options::options_description& options,
                                                 boost::program_options::variables_map& vm);

// For verbs that change the kernel (apply, destroy): SIGINT, SIGTERM and SIGHUP are held
// pending from here on, and the returned function takes one (its number; 0 when none).
// The engine asks it between steps: a signal finishes the step in flight and rolls back.
std::function<int()> hold_stop_signals();

// "vnet: WHAT" on stderr, returns the exit code given.
int report(int exit_code, const std::string& message);

// For verbs that change network interfaces: false (after saying so on stderr, as
// "vnet VERB: needs root (CAP_NET_ADMIN) ...") when this process lacks CAP_NET_ADMIN.
bool may_change_interfaces(const char* verb);
bool has_net_admin();  // the same test, silent
// Where the lock, namespace records and a pending --confirm live: /run/vnet, or
// $VNET_RUN_DIR (tests run beside a real one).
std::string run_dir();

boost::program_options::options_description switch_options();
boost::program_options::options_description show_options();
boost::program_options::options_description apply_options();
boost::program_options::options_description confirm_options();
boost::program_options::options_description scenario_run_options();
boost::program_options::options_description vm_run_options();
boost::program_options::options_description guest_options();
boost::program_options::options_description render_options();
boost::program_options::options_description import_options();

int verb_help(const Invocation&);
int verb_completion(const Invocation&);
int verb_check(const Invocation&);
int verb_plan(const Invocation&);
int verb_apply(const Invocation&);
int verb_destroy(const Invocation&);
int verb_status(const Invocation&);
int verb_show(const Invocation&);
int verb_confirm(const Invocation&);
int verb_watch(const Invocation&);
int verb_render(const Invocation&);
int verb_import(const Invocation&);
int verb_switch(const Invocation&);
int verb_guest(const Invocation&);
int verb_scenario(const Invocation&);
int verb_vm_run(const Invocation&);

}  // namespace vnet::cli
