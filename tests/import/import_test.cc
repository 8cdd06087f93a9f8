// `vnet import`: goldens for real-shaped Proxmox interfaces files (host.toml on stdout,
// warnings and errors on stderr, each output valid host.toml), and the networkd round
// trip: `import networkd` of `render networkd` of every shipped topology plans the same
// operations on an empty host as the topology itself. VNET_UPDATE_GOLDEN=1 rewrites the
// goldens; review the diff.
#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "import/import.h"
#include "networkd-gen/render.h"
#include "plan/planner.h"
#include "tests/common/process.h"
#include "topology/load.h"

namespace vnet::import {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

const fs::path kSource = VNET_SOURCE_DIR;

std::string read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void golden(const fs::path& p, const std::string& got) {
  if (std::getenv("VNET_UPDATE_GOLDEN")) std::ofstream(p, std::ios::binary) << got;
  ASSERT_TRUE(fs::exists(p)) << p << " missing; run with VNET_UPDATE_GOLDEN=1";
  EXPECT_EQ(read(p), got) << p;
}

class IfupdownGolden : public ::testing::TestWithParam<std::string> {};

TEST_P(IfupdownGolden, MatchesGoldenAndPassesCheck) {
  const std::string rel = "tests/import/cases/" + GetParam() + ".interfaces";
  ImportOptions o;
  o.host = "pve1";
  auto r = ifupdown(read(kSource / rel), rel, o);
  fs::path base = kSource / "tests/import/cases" / GetParam();
  if (!r) {
    golden(base.string() + ".stderr", r.error().what + "\n");
    EXPECT_EQ(r.error().exit, ExitCode::kBadInput);
    return;
  }
  std::string warnings;
  for (const Warning& w : r->warnings) warnings += w.str() + "\n";
  golden(base.string() + ".toml", r->toml);
  golden(base.string() + ".stderr", warnings);
  // every warning is also a comment in the output
  for (const Warning& w : r->warnings) EXPECT_THAT(r->toml, HasSubstr(w.what));
  auto t = topology::load_string(r->toml, "imported.toml");
  EXPECT_TRUE(t) << (t ? "" : topology::format_diagnostics(t.error(), r->toml));
}

INSTANTIATE_TEST_SUITE_P(Cases, IfupdownGolden,
                         ::testing::Values("single-nic", "bond-vlan-aware", "access-pvid",
                                           "unsupported", "malformed"),
                         [](const auto& info) { return vnet::testing::param_name(info.param); });

// The Proxmox pattern, stated as rules rather than text: the bond under the VLAN-aware
// bridge is a trunk of 2-4094 with native VLAN 1 (ranges stay ranges), the management
// VLAN is a [vlans] on the bridge whose own membership the planner adds.
TEST(Ifupdown, ProxmoxTrunkBecomesRangeWithNativeVlan) {
  ImportOptions o;
  o.host = "pve1";
  auto r = ifupdown_file((kSource / "tests/import/cases/bond-vlan-aware.interfaces").string(), o);
  ASSERT_TRUE(r) << r.error().what;
  auto t = topology::load_string(r->toml, "imported.toml");
  ASSERT_TRUE(t);
  ASSERT_EQ(t->kind_links.size(), 3u);
  const topology::KindLink* bond = nullptr;
  for (const auto& k : t->kind_links)
    if (k.name == "bond0") bond = &k;
  ASSERT_TRUE(bond && bond->port);
  EXPECT_EQ(bond->port->pvid, 1);
  EXPECT_EQ(bond->port->tagged.size(), 4093u);
  EXPECT_THAT(r->toml, HasSubstr("tagged = [\"2-4094\"]"));
  const topology::Bridge* br = t->find_bridge("vmbr0", "");
  ASSERT_TRUE(br);
  auto self = topology::desired_self_vlans(*t, *br);
  EXPECT_TRUE(std::find(self.begin(), self.end(), topology::VlanEntry{10, false, false}) != self.end());
}

TEST(Ifupdown, VlanWithoutMtuGetsItsParentsAsUnderIfupdown2) {
  auto r = ifupdown("auto vmbr0\niface vmbr0 inet manual\n\tbridge-ports none\n\tmtu 9000\n"
                    "auto vmbr0.10\niface vmbr0.10 inet manual\n"
                    "auto vmbr0.20\niface vmbr0.20 inet manual\n\tmtu 1400\n", "f");
  ASSERT_TRUE(r) << r.error().what;
  auto t = topology::load_string(r->toml, "imported.toml");
  ASSERT_TRUE(t);
  ASSERT_EQ(t->kind_links.size(), 2u);
  EXPECT_EQ(t->kind_links[0].mtu, 9000u);
  EXPECT_EQ(t->kind_links[1].mtu, 1400u);
}

TEST(Ifupdown, MalformedLinesAreErrorsWithFileAndLineAndNoOutput) {
  testing::RunResult r = testing::run({VNET_BINARY, "import", "ifupdown", "-", "--host", "h"}, "",
                                      "auto vmbr0\niface vmbr0 inet static\n\tbridge-vids 0-10\n");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "<stdin>:3: error: bridge-vids: '0-10' is not a VLAN id 1..4094 or a range A-B of them\n");
}

TEST(Ifupdown, WarningsGoToStderrAndOutputToStdout) {
  testing::RunResult r = testing::run({VNET_BINARY, "import", "ifupdown", "-", "--host", "h"}, "",
                                      "auto vmbr0\niface vmbr0 inet manual\n\tbridge-ports none\n"
                                      "\tpost-up true\n");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.err, "<stdin>:4: warning: vmbr0: post-up true: a command; vnet runs none (a "
                   "systemd unit after vnet-apply can)\n");
  EXPECT_THAT(r.out, HasSubstr("[bridges.vmbr0]\nadopt = true\n# not imported: <stdin>:4: vmbr0: post-up true"));
}

// --- networkd round trip ----------------------------------------------------------

// The plan of `t` on a host that has only its existing links (NICs, and the host ends of
// veths whose peer lives elsewhere): op descriptions of the target namespace, sorted,
// without the links in `skip`.
std::vector<std::string> plan_lines(const topology::Topology& t, const std::vector<std::string>& nics,
                                    const std::set<std::string>& skip) {
  plan::Snapshot snap;
  plan::NetnsState& ns = snap.netns[""];
  int idx = 1;
  for (const std::string& n : std::vector<std::string>{"lo"}) {
    plan::LinkState l;
    l.ifindex = idx++, l.name = n, l.up = true, l.mtu = 65536;
    ns.links[l.ifindex] = l;
  }
  for (const std::string& n : nics) {
    plan::LinkState l;
    l.ifindex = idx++, l.name = n, l.up = true, l.mtu = 1500;
    ns.links[l.ifindex] = l;
  }
  plan::PlanOptions o;
  o.first_ifindex = 0;
  plan::Plan p = plan::make_plan(t, snap, o);
  std::vector<std::string> out;
  for (const plan::Op& op : p.ops) {
    if (!op.ns.empty() || skip.count(op.ifname)) continue;
    if (op.kind == plan::OpKind::kCreateLink && skip.count(op.spec.name)) continue;
    out.push_back(op.describe());
  }
  for (const Error& e : p.refusals) {
    bool skipped = false;
    for (const std::string& n : skip) skipped |= e.what.find(" " + n + ":") != std::string::npos;
    if (!skipped) out.push_back("refused: " + e.what);
  }
  std::sort(out.begin(), out.end());
  return out;
}

class NetworkdRoundTrip : public ::testing::TestWithParam<std::string> {};

TEST_P(NetworkdRoundTrip, ImportOfRenderPlansTheSame) {
  const std::string rel = GetParam();
  auto t = topology::load_file((kSource / rel).string());
  ASSERT_TRUE(t) << rel;
  networkd::Rendering r = networkd::render(*t, rel, "");
  std::vector<NamedText> files;
  for (const networkd::File& f : r.files) files.push_back({f.name, networkd::file_text(f, rel, t->host_name)});
  ImportOptions o;
  o.host = t->host_name;
  auto imported = networkd(files, o);
  ASSERT_TRUE(imported) << imported.error().what;
  auto back = topology::load_string(imported->toml, "imported.toml");
  ASSERT_TRUE(back) << topology::format_diagnostics(back.error(), imported->toml);
  // What render leaves out of the target's files ("veth vb-ns: no .netdev ...") cannot
  // come back; its second word names the link.
  std::set<std::string> skip;
  for (const std::string& l : r.left_out) {
    std::istringstream in(l);
    std::string word, name;
    in >> word >> name;
    if (!name.empty() && name.back() == ':') name.pop_back();
    skip.insert(name);
  }
  std::vector<std::string> nics;
  for (const auto& l : back->links) nics.push_back(l.name);
  for (const auto& l : t->links)
    if (std::find(nics.begin(), nics.end(), l.name) == nics.end()) nics.push_back(l.name);
  EXPECT_EQ(plan_lines(*t, nics, skip), plan_lines(*back, nics, skip)) << imported->toml;
}

std::vector<std::string> shipped() {
  std::vector<std::string> out = {"tests/networkd/cases/every-kind.toml"};
  for (const char* dir : {"examples", "scenarios"})
    for (const auto& e : fs::directory_iterator(kSource / dir))
      if (e.path().extension() == ".toml") out.push_back(std::string(dir) + "/" + e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

INSTANTIATE_TEST_SUITE_P(Shipped, NetworkdRoundTrip, ::testing::ValuesIn(shipped()),
                         [](const auto& info) { return vnet::testing::param_name(info.param); });

}  // namespace
}  // namespace vnet::import
