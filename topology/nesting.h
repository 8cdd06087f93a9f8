// A bound on how deeply a TOML text nests, checked before tomlplusplus parses it: its
// parser recurses per level of dotted keys, table headers, arrays and inline tables, so
// `a.a.a...` 40 000 deep (a file of 80 KB) overflows the stack. host.toml needs about 6
// levels; anything past kMaxNesting is refused at the place it goes too deep.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace vnet::topology {

inline constexpr int kMaxNesting = 32;

struct NestingProblem {
  uint32_t line = 0, col = 0;
  std::string message;
};

std::optional<NestingProblem> nesting_problem(std::string_view text);

}  // namespace vnet::topology
