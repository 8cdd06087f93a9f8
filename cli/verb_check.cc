// `vnet check FILE`: validate a host.toml or scenario file; 0 ok, 2 invalid. Prints every
// problem at once, each with its place in the file.
#include <iostream>

#include <nlohmann/json.hpp>

#include "base/text.h"
#include "cli/verbs.h"
#include "plan/format.h"
#include "topology/load.h"

namespace po = boost::program_options;

namespace vnet::cli {

namespace {

// A file's counts, for the "ok" line and the JSON alike.
nlohmann::json counts(const topology::Topology& t) {
  size_t links = t.bridges.size() + t.links.size() + t.veths.size() + t.taps.size() +
                 t.kind_links.size();
  nlohmann::json j = {{"host", t.host_name},           {"links", links},
                      {"namespaces", t.netns.size()},  {"switches", t.switches.size()},
                      {"guests", t.guests.size()}};
  if (t.scenario) j["checks"] = t.scenario->checks.size();
  return j;
}

}  // namespace

int verb_check(const Invocation& inv) {
  po::options_description opts("check options");
  auto vm = parse_args(inv, opts, {"file"}, true);
  int rc = 0;
  nlohmann::json files = nlohmann::json::array();
  for (const std::string& file : vm["file"].as<std::vector<std::string>>()) {
    auto topo = topology::load_file(file);
    nlohmann::json f = {{"file", file}, {"ok", bool(topo)}};
    if (!topo) {
      rc = 2;
      if (!inv.global.json) {
        std::cerr << topology::format_file_diagnostics(topo.error(), file);
        continue;
      }
      f["diagnostics"] = nlohmann::json::array();
      for (const topology::Diagnostic& d : topo.error()) {
        nlohmann::json dj = {{"file", d.loc.file}, {"line", d.loc.line}, {"col", d.loc.col},
                             {"severity", "error"}, {"message", d.message}};
        if (!d.hint.empty()) dj["hint"] = d.hint;
        f["diagnostics"].push_back(dj);
      }
      files.push_back(f);
      continue;
    }
    nlohmann::json c = counts(*topo);
    if (inv.global.json) {
      f.update(c);
      files.push_back(f);
      continue;
    }
    std::cout << printable(file) << ": ok (host " << topo->host_name << ": " << c["links"].get<size_t>()
              << " links, " << c["namespaces"].get<size_t>() << " namespaces, "
              << c["switches"].get<size_t>() << " switches, " << c["guests"].get<size_t>() << " guests";
    if (c.contains("checks")) std::cout << ", " << c["checks"].get<size_t>() << " checks";
    std::cout << ")\n";
  }
  if (inv.global.json) {
    nlohmann::json j = {{"version", plan::kJsonVersion}, {"files", files}};
    // names and messages quote the file: bytes that are not UTF-8 become U+FFFD
    std::cout << j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  }
  return rc;
}

}  // namespace vnet::cli
