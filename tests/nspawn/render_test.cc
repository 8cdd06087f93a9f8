// unit: `vnet render nspawn` (nspawn/render.h) on strings. Goldens under
// tests/nspawn/golden/<input>/ hold every file it writes plus left_out.txt, for
// scenarios/villa-nspawn.toml and tests/nspawn/cases/*.toml; VNET_UPDATE_GOLDEN=1
// rewrites them (review the diff). The behaviour tests state what the goldens must show.
#include <filesystem>
#include <fstream>
#include <sstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "nspawn/render.h"
#include "topology/load.h"

namespace vnet::nspawn {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

const fs::path kSource = VNET_SOURCE_DIR;

std::vector<std::string> inputs() {
  std::vector<std::string> out = {"scenarios/villa-nspawn.toml"};
  for (const auto& e : fs::directory_iterator(kSource / "tests/nspawn/cases"))
    if (e.path().extension() == ".toml") out.push_back(fs::relative(e.path(), kSource).string());
  std::sort(out.begin(), out.end());
  return out;
}

NspawnRendering render_file(const std::string& rel) {
  auto t = topology::load_file((kSource / rel).string());
  if (!t) {
    ADD_FAILURE() << topology::format_diagnostics(t.error(), "");
    return {};
  }
  return render(*t, rel);
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string text_of(const NspawnRendering& r, const std::string& path) {
  for (const RenderedFile& f : r.files)
    if (f.path == path) return f.text;
  ADD_FAILURE() << "no " << path;
  return "";
}

class Golden : public ::testing::TestWithParam<std::string> {};

// Loaded under its relative name, so messages in the goldens do not name the checkout.
NspawnRendering render_file(const std::string& rel, const std::string& what) {
  std::ifstream in(kSource / rel);
  std::stringstream ss;
  ss << in.rdbuf();
  auto t = topology::load_string(ss.str(), rel);
  if (!t) return {};
  return what == "lxc" ? render_lxc(*t, rel) : what == "incus" ? render_incus(*t, rel) : render(*t, rel);
}

TEST_P(Golden, MatchesReviewedFiles) {
  std::string rel = GetParam();
  std::map<std::string, std::string> want;
  for (const char* what : {"nspawn", "lxc", "incus"}) {
    NspawnRendering r = render_file(rel, what);
    std::string dir = std::string(what) + "/";
    std::string left, errors;
    for (const std::string& l : r.left_out) left += l + "\n";
    for (const std::string& e : r.errors) errors += e + "\n";
    want[dir + "left_out.txt"] = left;
    if (!errors.empty()) {  // the CLI writes nothing then
      want[dir + "errors.txt"] = errors;
      continue;
    }
    for (const RenderedFile& f : r.files) want[dir + f.path] = f.text;
  }
  std::string name = rel;
  std::replace(name.begin(), name.end(), '/', '-');
  name = name.substr(0, name.size() - 5);
  fs::path dir = kSource / "tests/nspawn/golden" / name;
  if (getenv("VNET_UPDATE_GOLDEN")) {
    fs::remove_all(dir);
    for (const auto& [path, text] : want) {
      fs::create_directories((dir / path).parent_path());
      std::ofstream(dir / path) << text;
    }
  }
  std::map<std::string, std::string> have;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file()) have[fs::relative(e.path(), dir).string()] = slurp(e.path());
  EXPECT_EQ(have, want);
}

INSTANTIATE_TEST_SUITE_P(Inputs, Golden, ::testing::ValuesIn(inputs()), [](const auto& info) {
  std::string n = info.param;
  for (char& c : n)
    if (!isalnum(static_cast<unsigned char>(c))) c = '_';
  return n;
});

TEST(RenderNspawn, OneVethPairPerNicWithVnetsNamesAndNoDefaultVeth) {
  auto r = render_file("tests/nspawn/cases/two-guests.toml");
  std::string web = text_of(r, "web.nspawn");
  EXPECT_THAT(web, HasSubstr("VirtualEthernet=no\nVirtualEthernetExtra=vb-web:host0\n"
                             "VirtualEthernetExtra=vb-web-1:trunk0\n"));
  EXPECT_THAT(web, HasSubstr("Boot=no\nParameters=\"/usr/bin/my service\" --name "
                             "\"say \\\"hi\\\"\" \"\"\nKillSignal=SIGTERM\n"));
  EXPECT_THAT(web, HasSubstr("[Files]\nBind=/srv/data:/data\nBindReadOnly=/etc/ssl:/etc/ssl\n"));
  EXPECT_THAT(text_of(r, "pet.nspawn"), HasSubstr("Boot=yes\n"));
  EXPECT_THAT(text_of(r, "pet.nspawn"), HasSubstr("[Network]\nPrivate=yes\nVirtualEthernet=no\n"));
}

TEST(RenderNspawn, HostSideNetworkCarriesTheVlansAndGuestSideTheAddresses) {
  auto r = render_file("tests/nspawn/cases/two-guests.toml");
  EXPECT_THAT(text_of(r, "network/30-vnet-vb-web.network"),
              HasSubstr("Bridge=br0\n\n[BridgeVLAN]\nVLAN=40\nPVID=40\nEgressUntagged=40\n"));
  std::string trunk = text_of(r, "network/30-vnet-vb-web-1.network");
  EXPECT_THAT(trunk, HasSubstr("VLAN=10\n"));
  EXPECT_THAT(trunk, HasSubstr("VLAN=20\n"));
  EXPECT_EQ(trunk.find("PVID"), std::string::npos) << trunk;
  std::string inside = text_of(r, "web/network/31-vnet-host0.network");
  EXPECT_THAT(inside, HasSubstr("Address=10.1.40.20/24"));
  EXPECT_THAT(inside, HasSubstr("Gateway=10.1.40.1"));
  EXPECT_THAT(inside, HasSubstr("Destination=10.2.0.0/16"));
}

TEST(RenderNspawn, SwitchNicIsNamedAsLeftOut) {
  auto r = render_file("tests/nspawn/cases/two-guests.toml");
  ASSERT_EQ(r.left_out.size(), 1u);
  EXPECT_THAT(r.left_out[0], HasSubstr("guest lab1 NIC #0: a vnet switch port"));
}

TEST(RenderNspawn, QuoteWordOnlyWhereNspawnWouldSplit) {
  EXPECT_EQ(quote_word("/bin/sh"), "/bin/sh");
  EXPECT_EQ(quote_word("a b"), "\"a b\"");
  EXPECT_EQ(quote_word("a\\b"), "\"a\\\\b\"");
  EXPECT_EQ(quote_word(""), "\"\"");
}

TEST(RenderLxc, RefusesVlansOnABridgeWithoutDefaultPvid) {
  auto r = render_file("tests/nspawn/cases/two-guests.toml", "lxc");
  ASSERT_EQ(r.errors.size(), 2u);
  EXPECT_THAT(r.errors[0], HasSubstr("tests/nspawn/cases/two-guests.toml:21:10: error: guest 'web' "
                                     "NIC #0 has VLANs on bridge 'br0', whose default_pvid is 0"));
}

TEST(RenderLxc, TrunkWithoutNativeVlanLeavesTheDefaultPvid) {
  auto r = render_file("tests/nspawn/cases/lxc-pets.toml", "lxc");
  ASSERT_TRUE(r.errors.empty());
  EXPECT_THAT(text_of(r, "pet1.conf"),
              HasSubstr("lxc.net.1.veth.vlan.id = none\nlxc.net.1.veth.vlan.tagged.id = 10\n"
                        "lxc.net.1.veth.vlan.tagged.id = 40\n"));
  EXPECT_THAT(text_of(r, "pet1.conf"), HasSubstr("lxc.net.0.veth.vlan.id = 40\n"));
  auto i = render_file("tests/nspawn/cases/lxc-pets.toml", "incus");
  EXPECT_THAT(text_of(i, "pet1.yaml"), HasSubstr("    vlan: \"none\"\n    vlan.tagged: \"10,40\"\n"));
}

}  // namespace
}  // namespace vnet::nspawn
