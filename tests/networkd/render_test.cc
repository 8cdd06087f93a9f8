// Unit tier: the networkd and NixOS renderers (networkd-gen/) on strings. Golden files
// under tests/networkd/golden/<input>/<namespace>/ hold every file `vnet render networkd`
// writes, the NixOS module and the lines about what was left out, for every shipped
// example and scenario and for the cases written for this suite (tests/networkd/cases).
// VNET_UPDATE_GOLDEN=1 rewrites them; review the diff. The behaviour tests below state
// the rules the goldens follow, so a golden rewrite cannot quietly break one.
#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "networkd-gen/render.h"
#include "networkd-gen/netns_part.h"
#include "networkd-gen/nixos.h"
#include "tests/common/golden.h"
#include "tests/common/process.h"
#include "topology/load.h"

namespace vnet::networkd {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;

const fs::path kSource = VNET_SOURCE_DIR;
using testing::case_dir;
using testing::read_all;

std::vector<std::string> inputs() {
  return testing::toml_inputs(kSource, {"examples", "scenarios", "tests/networkd/cases"});
}

topology::Topology load(const std::string& rel) { return testing::load_valid(kSource / rel); }

topology::Topology load_text(const std::string& text) {
  auto t = topology::load_string(text, "test.toml");
  if (!t) {
    ADD_FAILURE() << topology::format_diagnostics(t.error(), text);
    return {};
  }
  return std::move(*t);
}

// Everything one namespace's rendering produces, by file name.
std::map<std::string, std::string> outputs(const topology::Topology& t, const std::string& rel,
                                           const std::string& ns) {
  Rendering r = render(t, rel, ns);
  std::map<std::string, std::string> out;
  for (const File& f : r.files) out[f.name] = file_text(f, rel, t.host_name);
  NixosContainers c;
  if (ns.empty()) c = nixos_containers(t);
  out["module.nix"] = nixos_module(r, rel, t.host_name, c);
  for (const NetnsPart& p : netns_parts(t, rel, read_all(kSource / rel), ns)) out[p.file] = p.text;
  std::string lines;
  for (const std::string& l : r.left_out) lines += "left out: " + l + "\n";
  for (const std::string& l : c.left_out) lines += "left out: " + l + "\n";
  for (const std::string& n : r.notes) lines += "note: " + n + "\n";
  out["stderr.txt"] = lines;
  return out;
}

std::vector<std::string> views(const topology::Topology& t) {
  std::vector<std::string> v = {""};
  for (const topology::Netns& n : t.netns) v.push_back(n.name);
  return v;
}

class Golden : public ::testing::TestWithParam<std::string> {};

TEST_P(Golden, MatchesReviewedFiles) {
  const std::string rel = GetParam();
  topology::Topology t = load(rel);
  ASSERT_FALSE(t.host_name.empty());
  bool update = std::getenv("VNET_UPDATE_GOLDEN") != nullptr;
  for (const std::string& ns : views(t)) {
    SCOPED_TRACE(ns.empty() ? "host" : ns);
    fs::path dir = kSource / "tests/networkd/golden" / case_dir(rel) / (ns.empty() ? "host" : ns);
    auto got = outputs(t, rel, ns);
    if (update) {
      fs::remove_all(dir);
      fs::create_directories(dir);
      for (const auto& [name, text] : got) std::ofstream(dir / name, std::ios::binary) << text;
      continue;
    }
    ASSERT_TRUE(fs::is_directory(dir)) << dir << " missing; run with VNET_UPDATE_GOLDEN=1";
    std::set<std::string> have;
    for (const auto& e : fs::directory_iterator(dir)) have.insert(e.path().filename().string());
    std::set<std::string> want;
    for (const auto& [name, text] : got) want.insert(name);
    EXPECT_EQ(have, want);
    for (const auto& [name, text] : got) EXPECT_EQ(read_all(dir / name), text) << dir / name;
  }
}

std::string test_name(const ::testing::TestParamInfo<std::string>& info) {
  std::string n = case_dir(info.param);
  for (char& c : n)
    if (!isalnum(static_cast<unsigned char>(c))) c = '_';
  return n;
}

INSTANTIATE_TEST_SUITE_P(Inputs, Golden, ::testing::ValuesIn(inputs()), test_name);

const File* find(const Rendering& r, const std::string& name) {
  for (const File& f : r.files)
    if (f.name == name) return &f;
  return nullptr;
}

std::string text_of(const Rendering& r, const std::string& name) {
  const File* f = find(r, name);
  EXPECT_NE(f, nullptr) << name;
  return f ? file_text(*f, "t", "h") : "";
}

TEST(Networkd, AccessPortStatesOnlyItsVlanAndBridgeDropsDefaultPvid) {
  // villa: default_pvid = 0 on the bridge, vb-dns an access port of VLAN 40.
  Rendering r = render(load("examples/villa.toml"), "examples/villa.toml");
  std::string port = text_of(r, "30-vnet-vb-dns.network");
  EXPECT_THAT(port, HasSubstr("[BridgeVLAN]\nVLAN=40\nPVID=40\nEgressUntagged=40\n"));
  EXPECT_EQ(std::count(port.begin(), port.end(), '['), 4) << port;  // Match Link Network BridgeVLAN
  EXPECT_THAT(text_of(r, "10-vnet-br0.netdev"), HasSubstr("DefaultPVID=none\n"));
  // the bridge's own tagged VLANs, and VLAN= on it for the sub-interface
  std::string br = text_of(r, "10-vnet-br0.network");
  EXPECT_THAT(br, HasSubstr("VLAN=br0.10\n"));
  EXPECT_THAT(br, HasSubstr("[BridgeVLAN]\nVLAN=10\n"));
  EXPECT_THAT(br, HasSubstr("[BridgeVLAN]\nVLAN=40\n"));
}

TEST(Networkd, DefaultPvidKeptOnlyWhereEveryMemberKeepsIt) {
  const char* base = "[host]\nname = \"h\"\n[bridges.br0]\nvlan_filtering = true\n"
                     "[taps.t0]\nbridge = \"br0\"\n";
  Rendering keep = render(load_text(base), "t");
  EXPECT_THAT(text_of(keep, "10-vnet-br0.netdev"), HasSubstr("DefaultPVID=1\n"));
  EXPECT_TRUE(keep.notes.empty());
  // the port's VLAN 1 is stated too: systemd 255+ removes what is not listed
  EXPECT_THAT(text_of(keep, "40-vnet-t0.network"), HasSubstr("VLAN=1\nPVID=1\nEgressUntagged=1\n"));

  Rendering none = render(load_text(std::string(base) + "[taps.t1]\nbridge = \"br0\"\npvid = 40\n"), "t");
  EXPECT_THAT(text_of(none, "10-vnet-br0.netdev"), HasSubstr("DefaultPVID=none\n"));
  ASSERT_EQ(none.notes.size(), 1u);
  EXPECT_THAT(none.notes[0], HasSubstr("systemd 252"));
  // with DefaultPVID=none the bridge and the ports in VLAN 1 get it stated explicitly
  EXPECT_THAT(text_of(none, "10-vnet-br0.network"), HasSubstr("VLAN=1\nPVID=1\nEgressUntagged=1\n"));
  EXPECT_THAT(text_of(none, "40-vnet-t0.network"), HasSubstr("VLAN=1\nPVID=1\nEgressUntagged=1\n"));
  EXPECT_THAT(text_of(none, "40-vnet-t1.network"), Not(HasSubstr("VLAN=1\n")));
}

TEST(Networkd, BridgeOfTapsDoesNotHoldUpWaitOnline) {
  Rendering r = render(load("tests/networkd/cases/every-kind.toml"), "t");
  for (const char* name : {"10-vnet-brtaps.network", "40-vnet-tap-mq.network",
                           "40-vnet-tap-alone.network", "10-vnet-brflat.network"}) {
    SCOPED_TRACE(name);
    std::string s = text_of(r, name);
    EXPECT_THAT(s, HasSubstr("RequiredForOnline=no\n"));
    EXPECT_THAT(s, HasSubstr("ConfigureWithoutCarrier=yes\n"));
  }
  // a bridge with a NIC among its ports, and links on it, wait as usual
  for (const char* name : {"10-vnet-br0.network", "22-vnet-br0.10.network", "50-vnet-eno1.network"}) {
    SCOPED_TRACE(name);
    std::string s = text_of(r, name);
    EXPECT_THAT(s, Not(HasSubstr("RequiredForOnline")));
    EXPECT_THAT(s, Not(HasSubstr("ConfigureWithoutCarrier")));
  }
}

TEST(Networkd, LinkLocalFollowsVnetsRule) {
  Rendering r = render(load("tests/networkd/cases/every-kind.toml"), "t");
  EXPECT_THAT(text_of(r, "10-vnet-br0.network"), HasSubstr("LinkLocalAddressing=ipv6\n"));
  EXPECT_THAT(text_of(r, "30-vnet-vb-pair.network"), HasSubstr("LinkLocalAddressing=no\n"));
  EXPECT_THAT(text_of(r, "30-vnet-vb-trunk.network"), HasSubstr("LinkLocalAddressing=ipv6\n"));
  EXPECT_THAT(text_of(r, "31-vnet-vp-pair.network"), HasSubstr("LinkLocalAddressing=no\n"));
  EXPECT_THAT(text_of(r, "22-vnet-br0.40.network"), HasSubstr("LinkLocalAddressing=no\n"));
  // vnet apply leaves an existing NIC's mode alone (the kernel's): so does the rendering
  EXPECT_THAT(text_of(r, "50-vnet-eno1.network"), HasSubstr("LinkLocalAddressing=ipv6\n"));
}

TEST(Networkd, TableKindsRenderFromTheirDescription) {
  Rendering r = render(load("tests/networkd/cases/every-kind.toml"), "t");
  EXPECT_THAT(text_of(r, "21-vnet-bond0.netdev"),
              HasSubstr("[Bond]\nMode=802.3ad\nMIIMonitorSec=100ms\nLACPTransmitRate=fast\n"
                        "TransmitHashPolicy=layer3+4\n"));
  EXPECT_THAT(text_of(r, "50-vnet-eno4.network"), HasSubstr("Bond=bond0\n"));
  EXPECT_THAT(text_of(r, "25-vnet-vx100.netdev"),
              HasSubstr("[VXLAN]\nVNI=100\nLocal=192.0.2.1\nRemote=192.0.2.2\n"
                        "DestinationPort=4790\nMacLearning=no\nUDPChecksum=yes\n"));
  EXPECT_THAT(text_of(r, "50-vnet-eno3.network"), HasSubstr("VXLAN=vx100\nVXLAN=vx200\n"));
  EXPECT_THAT(text_of(r, "25-vnet-vx300.netdev"), HasSubstr("Independent=yes\n"));
  EXPECT_THAT(text_of(r, "25-vnet-vx100.netdev"), Not(HasSubstr("Independent")));
  EXPECT_THAT(text_of(r, "23-vnet-mv0.netdev"), HasSubstr("[MACVLAN]\nMode=private\n"));
  EXPECT_THAT(text_of(r, "22-vnet-br0.40.network"), HasSubstr("MACVLAN=mv0\n"));
  EXPECT_THAT(text_of(r, "25-vnet-dummy0.netdev"), HasSubstr("Kind=dummy\n"));

  // A kind the renderer has never heard of renders from its table alone.
  static const topology::KindDesc fake = [] {
    topology::KindDesc k{};
    k.table = "widgets";
    k.word = "widget";
    k.info_kind = "widget";
    topology::KindAttr speed{};
    speed.key = "speed";
    speed.type = topology::KindAttr::Type::kU32;
    speed.networkd = "Speed";
    speed.networkd_unit = "M";
    topology::KindAttr fast{};
    fast.key = "fast";
    fast.type = topology::KindAttr::Type::kBool;
    fast.networkd = "Fast";
    k.attrs = {speed, fast};
    k.networkd_kind = "widget";
    k.networkd_section = "Widget";
    k.rank = 3;
    return k;
  }();
  topology::Topology t;
  t.host_name = "h";
  topology::KindLink w;
  w.name = "wd0";
  w.desc = &fake;
  w.attrs.resize(2);
  w.attrs[0].set = true;
  w.attrs[0].number = 5;
  w.attrs[1].set = true;
  w.attrs[1].number = 1;
  t.kind_links.push_back(w);
  Rendering fr = render(t, "t");
  EXPECT_THAT(text_of(fr, "23-vnet-wd0.netdev"),
              HasSubstr("[NetDev]\nName=wd0\nKind=widget\n\n[Widget]\nSpeed=5M\nFast=yes\n"));
  EXPECT_THAT(nixos_module(fr, "t", "h"), HasSubstr("widgetConfig = {\n"));
}

TEST(Networkd, ForeignNamespacesAreLeftOutWithOneLineEach) {
  topology::Topology t = load("examples/villa.toml");
  Rendering r = render(t, "examples/villa.toml");
  // vb-dns's peer sits in namespace dns: no .netdev (the pair cannot be made there)
  EXPECT_EQ(find(r, "30-vnet-vb-dns.netdev"), nullptr);
  EXPECT_NE(find(r, "30-vnet-vb-dns.network"), nullptr);
  int dns_lines = 0, ns_lines = 0;
  for (const std::string& l : r.left_out) {
    dns_lines += l.rfind("veth vb-dns:", 0) == 0;
    ns_lines += l.rfind("namespace ", 0) == 0;
  }
  EXPECT_EQ(dns_lines, 1);
  EXPECT_EQ(ns_lines, static_cast<int>(t.netns.size()));
  // the peer is rendered for a networkd inside that namespace
  Rendering in_dns = render(t, "examples/villa.toml", "dns");
  std::string peer = text_of(in_dns, "31-vnet-eth0.network");
  EXPECT_THAT(peer, HasSubstr("MACAddress=02:00:00:00:40:53\n"));
  EXPECT_THAT(peer, HasSubstr("Gateway=10.1.40.1\n"));
  EXPECT_THAT(peer, HasSubstr("[Address]\nAddress=10.1.40.53/24\nBroadcast=no\n"));
}

TEST(Networkd, NamesSortBeforeVendorFilesAndOutputIsDeterministic) {
  for (const std::string& rel : inputs()) {
    SCOPED_TRACE(rel);
    topology::Topology t = load(rel);
    for (const std::string& ns : views(t)) {
      Rendering a = render(t, rel, ns);
      for (const File& f : a.files) EXPECT_LT(f.name, "80-") << f.name;
      EXPECT_EQ(outputs(t, rel, ns), outputs(load(rel), rel, ns));
    }
  }
}

// --- NixOS: the module parses and evaluates, and evaluates to the same sections -----

bool have_nix() { return vnet::testing::sh("command -v nix-instantiate >/dev/null").exit_code == 0; }

// The sections of one unit as sorted "Section: k=v, k=v" lines, from the INI rendering.
std::multiset<std::string> sections_of(const File& f) {
  std::multiset<std::string> out;
  for (const Section& s : f.sections) {
    std::vector<std::string> kv;
    for (const Entry& e : s.entries) kv.push_back(e.key + "=" + e.value);
    std::sort(kv.begin(), kv.end());
    std::string line = s.name + ":";
    for (const std::string& x : kv) line += " " + x;
    out.insert(line);
  }
  return out;
}

std::string scalar(const nlohmann::json& v) {
  return v.is_string() ? v.get<std::string>() : v.dump();
}

// The same from the evaluated Nix, undoing NixOS's attribute names.
std::multiset<std::string> sections_of(const nlohmann::json& unit) {
  static const std::map<std::string, std::string> sec = {
      {"netdevConfig", "NetDev"}, {"bridgeConfig", "Bridge"}, {"vlanConfig", "VLAN"},
      {"macvlanConfig", "MACVLAN"}, {"vxlanConfig", "VXLAN"}, {"bondConfig", "Bond"},
      {"tapConfig", "Tap"}, {"peerConfig", "Peer"}, {"matchConfig", "Match"},
      {"networkConfig", "Network"}, {"linkConfig", "Link"}, {"routes", "Route"},
      {"bridgeVLANs", "BridgeVLAN"}, {"addresses", "Address"}};
  static const std::map<std::string, std::string> lists = {
      {"gateway", "Gateway"}, {"vlan", "VLAN"},
      {"macvlan", "MACVLAN"}, {"vxlan", "VXLAN"}};
  std::multiset<std::string> out;
  std::vector<std::string> network;
  auto section = [](const std::string& name, const nlohmann::json& obj) {
    std::vector<std::string> kv;
    for (const auto& [k, v] : obj.items()) kv.push_back(k + "=" + scalar(v));
    std::sort(kv.begin(), kv.end());
    std::string line = name + ":";
    for (const std::string& x : kv) line += " " + x;
    return line;
  };
  bool has_network = false;
  for (const auto& [k, v] : unit.items()) {
    if (lists.count(k)) {
      for (const auto& item : v) network.push_back(lists.at(k) + "=" + scalar(item));
      continue;
    }
    EXPECT_TRUE(sec.count(k)) << "unexpected attribute " << k;
    if (!sec.count(k)) continue;
    if (v.is_array()) {
      for (const auto& item : v) out.insert(section(sec.at(k), item));
    } else if (k == "networkConfig") {
      has_network = true;
      for (const auto& [nk, nv] : v.items()) network.push_back(nk + "=" + scalar(nv));
    } else {
      out.insert(section(sec.at(k), v));
    }
  }
  if (has_network || !network.empty()) {
    std::sort(network.begin(), network.end());
    std::string line = "Network:";
    for (const std::string& x : network) line += " " + x;
    out.insert(line);
  }
  return out;
}

TEST(NixOS, EveryModuleParsesAndEvaluatesToTheNetworkdFiles) {
  if (!have_nix()) GTEST_SKIP() << "nix-instantiate not installed (Debian nix-bin; scripts/setup)";
  fs::path tmp = fs::temp_directory_path() / ("vnet-nixos-" + std::to_string(::getpid()));
  fs::create_directories(tmp);
  for (const std::string& rel : inputs()) {
    SCOPED_TRACE(rel);
    topology::Topology t = load(rel);
    Rendering r = render(t, rel);
    fs::path mod = tmp / "module.nix";
    NixosContainers containers = nixos_containers(t);
    std::ofstream(mod) << nixos_module(r, rel, t.host_name, containers);
    auto parsed = vnet::testing::run({"nix-instantiate", "--parse", mod.string()});
    EXPECT_EQ(parsed.exit_code, 0) << parsed.err;
    // A module is a function of the module system's arguments; stubs are enough for
    // it to evaluate (no store is needed for --eval of plain data).
    auto eval = vnet::testing::run(
        {"nix-instantiate", "--eval", "--strict", "--json", "--store", "dummy://", "-E",
         "import " + mod.string() + " { config = {}; lib = {}; pkgs = {}; }"});
    ASSERT_EQ(eval.exit_code, 0) << eval.err;
    auto j = nlohmann::json::parse(eval.out);
    const auto& net = j["systemd"]["network"];
    size_t units = net["netdevs"].size() + net["networks"].size();
    EXPECT_EQ(units, r.files.size());
    for (const File& f : r.files) {
      SCOPED_TRACE(f.name);
      bool nd = f.name.ends_with(".netdev");
      std::string stem = f.name.substr(0, f.name.rfind('.'));
      const auto& group = net[nd ? "netdevs" : "networks"];
      ASSERT_TRUE(group.contains(stem));
      EXPECT_EQ(sections_of(group[stem]), sections_of(f));
    }
    // containers.<name>: one per nspawn guest that NixOS can name, each on its first
    // NIC's bridge with that NIC's first address (nixos_containers)
    size_t nspawn = 0;
    for (const topology::Guest& g : t.guests) {
      if (g.kind != topology::Guest::Kind::kNspawn) continue;
      ++nspawn;
      SCOPED_TRACE("containers." + g.name);
      ASSERT_TRUE(j.contains("containers") && j["containers"].contains(g.name));
      const auto& c = j["containers"][g.name];
      EXPECT_EQ(c.value("autoStart", !g.autostart), g.autostart);
      if (g.nics.empty() || g.nics[0].kind != topology::GuestNic::Kind::kBridge) continue;
      EXPECT_EQ(c.value("privateNetwork", false), true);
      EXPECT_EQ(c.value("hostBridge", ""), g.nics[0].bridge);
      if (!g.nics[0].addresses.empty())
        EXPECT_EQ(c.value("localAddress", c.value("localAddress6", "")), g.nics[0].addresses[0].str());
      if (g.nics[0].gateway)
        EXPECT_EQ(c["config"]["networking"].value("defaultGateway", nlohmann::json::object())
                      .value("address", c["config"]["networking"].value("defaultGateway6", nlohmann::json::object()).value("address", "")),
                  g.nics[0].gateway->str());
    }
    EXPECT_EQ(j.contains("containers") ? j["containers"].size() : 0, nspawn);
  }
  fs::remove_all(tmp);
}

// A NixOS container joins the bridge untagged; the VLAN of vb-<guest> must come from the
// systemd.network part of the same module, or the container lands in the wrong VLAN.
TEST(NixOS, ContainerHostSideVlanStaysInSystemdNetwork) {
  topology::Topology t = load("scenarios/villa-nspawn.toml");
  Rendering r = render(t, "scenarios/villa-nspawn.toml");
  NixosContainers c = nixos_containers(t);
  std::string m = nixos_module(r, "scenarios/villa-nspawn.toml", t.host_name, c);
  EXPECT_THAT(m, HasSubstr("  containers = {\n    # guest dns (nspawn)"));
  EXPECT_THAT(m, HasSubstr("hostBridge = \"br0\";\n      localAddress = \"10.1.40.53/24\";"));
  EXPECT_THAT(m, HasSubstr("Name = \"vb-dns\";"));
  EXPECT_THAT(m, HasSubstr("{\n          VLAN = 40;\n          PVID = 40;\n          EgressUntagged = 40;\n"));
  EXPECT_THAT(m, HasSubstr("# Not rendered: guest dns (containers.dns): command (boot = false)"));
}

// scenarios/macvlan.toml: the containers' macvlans sit on eno1.40, which networkd makes
// on the host; each namespace's part is a host.toml of its own that loads and declares
// the lower link as existing, and nothing of the host's.
TEST(NetnsPart, MacvlansInContainersBecomeOnePartPerNamespace) {
  const std::string rel = "scenarios/macvlan.toml";
  topology::Topology t = load(rel);
  std::vector<NetnsPart> parts = netns_parts(t, rel, read_all(kSource / rel));
  ASSERT_EQ(parts.size(), 4u);
  EXPECT_EQ(parts[0].netns, "db");
  EXPECT_EQ(parts[1].file, "vnet-netns-dns.toml");
  for (const NetnsPart& p : parts) {
    SCOPED_TRACE(p.file);
    auto pt = topology::load_string(p.text, p.file);
    ASSERT_TRUE(pt) << topology::format_diagnostics(pt.error(), p.text);
    EXPECT_EQ(pt->host_name, "macvlan-host/" + p.netns);
    ASSERT_EQ(pt->kind_links.size(), 1u);
    EXPECT_EQ(pt->kind_links[0].netns, p.netns);
    ASSERT_EQ(pt->links.size(), 1u);
    EXPECT_EQ(pt->links[0].name, p.netns == "stray" ? "eno1.10" : "eno1.40");
    EXPECT_TRUE(pt->bridges.empty() && pt->veths.empty());
  }
  // the namespace's own view has no part: its lower link is not there
  EXPECT_TRUE(netns_parts(t, rel, read_all(kSource / rel), "dns").empty());
  // a topology whose stacked links live beside their lower links has none
  topology::Topology villa = load("scenarios/villa.toml");
  EXPECT_TRUE(netns_parts(villa, "v", read_all(kSource / "scenarios/villa.toml")).empty());
}

TEST(NixOS, PvidIsAnInteger) {
  Rendering r = render(load("examples/villa.toml"), "examples/villa.toml");
  std::string m = nixos_module(r, "examples/villa.toml", "villa-pve-01");
  EXPECT_THAT(m, HasSubstr("{\n          VLAN = 40;\n          PVID = 40;\n          EgressUntagged = 40;\n"));
  EXPECT_THAT(m, HasSubstr("DefaultPVID = \"none\";"));
  EXPECT_THAT(m, Not(HasSubstr("bridgeVLANConfig")));
  EXPECT_THAT(m, Not(HasSubstr("routeConfig")));
}

}  // namespace
}  // namespace vnet::networkd
