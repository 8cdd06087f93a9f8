// `vnet scenario run`: build a scenario's topology in private namespaces, run its checks,
// tear everything down (also on failure, SIGINT/SIGTERM; `clean` removes what a killed
// run left). Namespaces of a run are named "<prefix><name>" with a prefix unique to the
// run ("vsc-<pid>-<n>-"), so parallel runs of one file never collide; reports use the
// names as written.
#pragma once

#include <string>
#include <vector>

#include "scenario/checks.h"
#include "topology/model.h"

namespace vnet::scenario {

struct RunOptions {
  bool vm = false;    // run inside `vnet vm-run` when the kernel lacks a required feature
  bool keep = false;  // leave the lab up
  std::string junit_path;
  std::string self_exe;  // this vnet binary (to re-run itself under vm-run)
  bool verbose = false;
  bool json = false;  // one JSON document on stdout at the end instead of the tables
};

struct CheckOutcome {
  topology::Check check;
  CheckResult result;
};

struct ScenarioReport {
  std::string file, name;
  std::vector<CheckOutcome> checks;
  std::string error;  // set when the topology could not be built
  int exit_code = 0;  // 0 all passed, 1 a check failed or build failed, 2, 3 as design.md
  double build_seconds = 0, check_seconds = 0, teardown_seconds = 0, total_seconds = 0;

  size_t passed() const;
  size_t failed() const;
};

// Runs every file; prints tables as it goes; returns the exit code of the whole run.
int run_files(const std::vector<std::string>& files, const RunOptions& options);

// Removes namespaces and records of runs whose process is gone (kept labs too when
// `include_kept`). Returns how many runs were removed.
Result<size_t> clean_stale_runs(bool include_kept = true);

// Kernel features of `requires` that this kernel lacks, found by probing in a throwaway
// namespace (not by version numbers).
Result<std::vector<std::string>> missing_features(const std::vector<std::string>& features);

// The topology the runner applies: every [links.X] becomes a veth X whose peer, also X,
// sits in namespace "upstream" (the physical switch or router beyond the uplink).
topology::Topology with_upstream(const topology::Topology& topo);

// Where checks run from/to, resolved against the topology; `prefix` maps names to kernel
// namespace names. Fails for a tcp check whose address no namespace of the scenario has.
Result<std::vector<CheckSpec>> resolve_checks(const topology::Topology& topo,
                                              const std::string& prefix);

std::string format_table(const ScenarioReport& report);
std::string junit_xml(const std::vector<ScenarioReport>& reports);
// `scenario run --json`: {"version", "scenarios": [{file, name, exit_code, error?,
// seconds {build, checks, teardown, total}, checks: [{check, from, to, expect, got,
// passed, seconds, detail}]}], "passed", "failed"} (docs/scenarios.md).
std::string reports_json(const std::vector<ScenarioReport>& reports, const std::string& vm_part = "");

}  // namespace vnet::scenario
