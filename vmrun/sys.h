// Small system helpers vm-run needs: files, folders, running a helper program
// (apt-get, dpkg-deb, depmod) with its output captured, finding a program on PATH.
// Every call returns a Result that says which path or program failed.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "base/error.h"

namespace vnet::vmrun {

Result<std::string> read_file(const std::string& path);
Status write_file(const std::string& path, std::string_view data, int mode = 0644);
Status mkdir_p(const std::string& path, int mode = 0755);
// Removes a tree; missing is fine. Does not follow symlinks.
Status remove_tree(const std::string& path);
bool exists(const std::string& path);
bool is_dir(const std::string& path);
// Entries of a folder (names only, no "." and ".."), sorted.
Result<std::vector<std::string>> list_dir(const std::string& path);

// A program's path: `name` itself when it has a '/', else the first executable in
// $PATH, then /usr/sbin and /sbin (depmod lives there, and a user's PATH may lack it).
// Empty when not found.
std::string find_program(const std::string& name);

struct Captured {
  int status = 0;  // exit code, or 128+signal
  std::string out, err;
};
// Runs argv[0] (looked up with find_program) in `cwd` (empty: ours), stdin /dev/null,
// stdout and stderr captured; fails only when it cannot be started.
Result<Captured> run_capture(const std::vector<std::string>& argv, const std::string& cwd = "");

// "prog: exit 3: <last lines of its stderr>" for messages about a helper that failed.
std::string describe_failure(const std::string& what, const Captured& c);

// Wall time since `t0` for progress lines: "1.23 s".
std::string seconds_since(std::chrono::steady_clock::time_point t0);

}  // namespace vnet::vmrun
