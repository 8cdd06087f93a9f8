// bench/networkd: what each boot path costs. For a topology, the time from starting
// systemd-networkd on the files `vnet render networkd` writes until every namespace is
// in the state `vnet apply` builds (the proof's comparison, tests/networkd/proof.h),
// against the time of `vnet apply` of the same file (process start to exit), in the same
// VM run. No target: it tells operators what each path costs.
//
// usage (as root, under a kernel with bridge VLAN filtering: `vnet vm-run`):
//   networkd_boot_path VNET_BINARY [FILE...]
// Without files: examples/villa.toml and a bridge of 200 VM taps on VLAN 40. networkd's
// side is polled every 100 ms, and each poll dumps every namespace with `ip` (about
// 0.1-0.3 s under TCG), so its figures are upper bounds by that much.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "tests/networkd/proof.h"
#include "topology/load.h"

namespace {

using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

std::string many_taps(const fs::path& dir, int n) {
  fs::path f = dir / ("taps" + std::to_string(n) + ".toml");
  std::ofstream out(f);
  out << "[host]\nname = \"taps" << n << "\"\n\n[bridges.br0]\nvlan_filtering = true\n"
         "vlans = [40]\naddresses = [\"10.1.40.1/24\"]\n";
  for (int i = 0; i < n; ++i) out << "\n[taps.vm" << i << "]\nbridge = \"br0\"\npvid = 40\n";
  return f;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: networkd_boot_path VNET_BINARY [FILE...]\n");
    return 2;
  }
  if (geteuid() != 0 || !vnet::networkd::proof::have_vlan_filtering()) {
    fprintf(stderr, "needs root and bridge VLAN filtering: run under `vnet vm-run`\n");
    return 77;
  }
  fs::path tmp = fs::temp_directory_path() / ("vnet-boot-path-" + std::to_string(getpid()));
  fs::create_directories(tmp);
  std::vector<std::string> files(argv + 2, argv + argc);
  if (files.empty()) files = {std::string(VNET_SOURCE_DIR) + "/examples/villa.toml", many_taps(tmp, 200)};

  printf("%-14s %12s %12s %8s\n", "topology", "networkd s", "vnet apply s", "ratio");
  int rc = 0;
  for (const std::string& file : files) {
    auto loaded = vnet::topology::load_file(file);
    if (!loaded) {
      fprintf(stderr, "%s: does not load\n", file.c_str());
      return 2;
    }
    vnet::networkd::proof::Run run(file, argv[1], std::move(*loaded));
    if (std::string e = run.prepare(); !e.empty()) {
      fprintf(stderr, "%s: %s\n", file.c_str(), e.c_str());
      return 1;
    }
    auto t0 = Clock::now();
    vnet::testing::RunResult applied = run.apply();
    double vnet_s = since(t0);
    if (applied.exit_code != 0) {
      fprintf(stderr, "%s: vnet apply failed: %s\n", file.c_str(), applied.err.c_str());
      return 1;
    }
    t0 = Clock::now();
    if (std::string e = run.start_networkd(); !e.empty()) {
      fprintf(stderr, "%s: %s\n", file.c_str(), e.c_str());
      return 1;
    }
    bool same = run.wait_equal(std::chrono::seconds(900), std::chrono::milliseconds(100));
    double networkd_s = since(t0);
    std::string name = fs::path(file).stem();
    if (!same) {
      printf("%-14s %12s %12.3f %8s\n", name.c_str(), "not equal", vnet_s, "-");
      // What still differs, and what networkd logged: why the row has no figure.
      for (const auto& v : run.states())
        if (v.a != v.b)
          fprintf(stderr, "%s: namespace '%s' differs (networkd vs apply):\n%s\n", name.c_str(),
                  v.name.c_str(), vnet::networkd::proof::differences(v.a, v.b).substr(0, 4000).c_str());
      for (const std::string& line : run.log_problems())
        fprintf(stderr, "%s: networkd: %s\n", name.c_str(), line.c_str());
      rc = 1;
      continue;
    }
    printf("%-14s %12.3f %12.3f %7.2fx\n", name.c_str(), networkd_s, vnet_s, networkd_s / vnet_s);
    fflush(stdout);
  }
  fs::remove_all(tmp);
  return rc;
}
