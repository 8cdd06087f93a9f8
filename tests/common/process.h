// Test utility: run a program, capture its stdout and stderr apart, and its exit code.
#pragma once

#include <string>
#include <vector>

namespace vnet::testing {

struct RunResult {
  int exit_code = -1;  // 128+N when killed by signal N
  std::string out, err;
};

// argv[0] is looked up in PATH. `cwd` empty = inherit. `input` is written to stdin.
RunResult run(const std::vector<std::string>& argv, const std::string& cwd = "",
              const std::string& input = "");

// Runs `sh -c script`.
RunResult sh(const std::string& script);

// The first line of `text` containing `needle`, with runs of spaces collapsed to one
// (table rows whose column widths depend on the other rows).
std::string row_with(const std::string& text, const std::string& needle);

// A folder under /tmp, removed with everything in it when the test ends.
struct TempDir {
  std::string path;
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
};

// A TCP port on 127.0.0.1 that nothing listens on right now (0 when none could be had):
// for user-mode forwards of lab guests.
int free_loopback_port();

// A test parameter (a path, "bond-vlan-aware") as a gtest name: its extension dropped,
// every character but letters and digits made '_'.
std::string param_name(const std::string& param);

}  // namespace vnet::testing
