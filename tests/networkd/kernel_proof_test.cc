// kernel tier (inside `vnet vm-run`): the proof of issue 16 (proof.h says what is
// compared and what is normalized). networkd's log at info level must also have no
// "Unknown key", "ignoring" or "Failed" line.
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <iostream>

#include <gtest/gtest.h>

#include "tests/networkd/proof.h"
#include "topology/load.h"

namespace vnet::networkd {
namespace {

class NetworkdProof : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root: runs inside `vnet vm-run` (tier kernel)";
    if (!proof::have_vlan_filtering())
      GTEST_SKIP() << "this kernel has no bridge VLAN filtering: run under `vnet vm-run`";
    if (!std::filesystem::exists("/lib/systemd/systemd-networkd"))
      GTEST_SKIP() << "/lib/systemd/systemd-networkd missing (Debian package systemd)";
  }
};

TEST_P(NetworkdProof, NetworkdOnRenderedFilesBuildsWhatApplyBuilds) {
  const std::string rel = GetParam();
  const std::string file = std::string(VNET_SOURCE_DIR) + "/" + rel;
  auto loaded = topology::load_file(file);
  ASSERT_TRUE(loaded) << rel;
  proof::Run run(file, VNET_BINARY, std::move(*loaded));
  std::string failed = run.prepare();
  ASSERT_EQ(failed, "");
  failed = run.start_networkd();
  ASSERT_EQ(failed, "");
  if (run.parts() > 0) {
    // vnet-netns@.service's part: links networkd cannot make (docs/networkd.md)
    auto t0 = std::chrono::steady_clock::now();
    failed = run.apply_parts(std::chrono::seconds(45));
    ASSERT_EQ(failed, "");
    std::cerr << rel << ": " << run.parts() << " namespace parts applied after "
              << std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() << " s\n";
  }

  using clock = std::chrono::steady_clock;
  auto secs = [](clock::time_point a) {
    return std::to_string(std::chrono::duration<double>(clock::now() - a).count()).substr(0, 5) + " s";
  };
  auto started = clock::now();
  testing::RunResult applied = run.apply();
  ASSERT_EQ(applied.exit_code, 0) << applied.out << applied.err;
  std::cerr << rel << ": vnet apply done after " << secs(started) << "\n";
  // networkd works asynchronously: wait until A matches B, or give up after 90 s (under
  // TCG on a loaded machine it has taken 30-50; macvlan was still converging at 47 s)
  bool same = run.wait_equal(std::chrono::seconds(90));
  std::cerr << rel << ": " << (same ? "equal" : "still different") << " after " << secs(started) << "\n";
  for (const proof::Run::View& v : run.states()) {
    SCOPED_TRACE(v.name.empty() ? "target namespace" : "namespace " + v.name);
    EXPECT_EQ(v.a, v.b) << "differences (networkd | vnet apply):\n" << proof::differences(v.a, v.b);
  }
  for (const std::string& line : run.log_problems()) ADD_FAILURE() << "networkd " << line;
}

// Each topology costs 30-100 s here under TCG (more on a loaded machine), so ctest runs
// one boot per topology (CMakeLists.txt: every file under examples/ and scenarios/, and
// the every-kind case), naming it in VNET_PROOF_TOPOLOGY; run by hand,
// the binary proves the shipped example.
std::vector<std::string> topologies() {
  if (const char* one = std::getenv("VNET_PROOF_TOPOLOGY")) return {one};
  return {"examples/villa.toml"};
}

INSTANTIATE_TEST_SUITE_P(Topologies, NetworkdProof,
                         ::testing::ValuesIn(topologies()),
                         [](const auto& info) {
                           std::string n = info.param.substr(0, info.param.rfind('.'));
                           for (char& c : n)
                             if (!isalnum(static_cast<unsigned char>(c))) c = '_';
                           return n;
                         });

}  // namespace
}  // namespace vnet::networkd
