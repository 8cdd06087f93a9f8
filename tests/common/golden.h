// Helpers shared by the golden-file suites (networkd-gen, units): the shipped inputs,
// their golden folder names, and whole-file reads. Header-only: the suites that include
// it link vnet_topology themselves.
#pragma once

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "topology/load.h"

namespace vnet::testing {

// The .toml files directly under `dirs` of `root`, relative to it, sorted.
inline std::vector<std::string> toml_inputs(const std::filesystem::path& root,
                                            const std::vector<std::string>& dirs) {
  std::vector<std::string> out;
  for (const std::string& dir : dirs)
    for (const auto& e : std::filesystem::directory_iterator(root / dir))
      if (e.path().extension() == ".toml")
        out.push_back(std::filesystem::relative(e.path(), root).string());
  std::sort(out.begin(), out.end());
  return out;
}

// A file that must validate; a failure is reported and yields an empty topology.
inline topology::Topology load_valid(const std::filesystem::path& path) {
  auto t = topology::load_file(path.string());
  if (!t) {
    ADD_FAILURE() << topology::format_diagnostics(t.error(), "");
    return {};
  }
  return std::move(*t);
}

// "scenarios/flat.toml" -> "scenarios-flat": the golden folder of an input.
inline std::string case_dir(const std::string& rel) {
  std::string d = rel.substr(0, rel.size() - 5);  // without ".toml"
  std::replace(d.begin(), d.end(), '/', '-');
  return d;
}

inline std::string read_all(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace vnet::testing
