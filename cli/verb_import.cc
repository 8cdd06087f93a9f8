// `vnet import ifupdown FILE` and `vnet import networkd DIR`: another tool's network
// configuration as host.toml on stdout (import/). Every stanza, option or key it cannot
// carry is a warning on stderr (FILE:LINE: warning: ...) and a comment in the output;
// malformed input is an error (FILE:LINE: error: ...), exit 2, and no output.
#include <unistd.h>

#include <iostream>

#include "cli/verbs.h"
#include "import/import.h"

namespace po = boost::program_options;

namespace vnet::cli {

po::options_description import_options() {
  po::options_description o("import options");
  o.add_options()("host", po::value<std::string>()->value_name("NAME"),
                  "the [host] name of the output (default: this machine's hostname)");
  return o;
}

int verb_import(const Invocation& inv) {
  auto vm = parse_args(inv, import_options(), {"format", "path"});
  std::string format = vm["format"].as<std::string>();
  std::string path = vm["path"].as<std::string>();
  import::ImportOptions o;
  if (vm.count("host")) {
    o.host = vm["host"].as<std::string>();
  } else {
    char name[256] = {};
    if (gethostname(name, sizeof name - 1) == 0 && name[0]) o.host = name;
  }
  Result<import::Imported> r;
  if (format == "ifupdown") r = import::ifupdown_file(path, o);
  else if (format == "networkd") r = import::networkd_dir(path, o);
  else throw UsageError("import takes ifupdown or networkd, not '" + format + "'");
  if (!r) {
    if (r.error().exit == ExitCode::kBadInput) {
      std::cerr << r.error().what << "\n";
      return 2;
    }
    return report(1, "import: " + r.error().str());
  }
  for (const import::Warning& w : r->warnings) std::cerr << w.str() << "\n";
  std::cout << r->toml << std::flush;
  return std::cout ? 0 : 1;
}

}  // namespace vnet::cli
