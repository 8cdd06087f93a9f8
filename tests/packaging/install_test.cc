// Unit tier: what `cmake --install` and the Debian package carry. The install into a
// temp prefix must be exactly the expected tree, its units must pass systemd-analyze
// verify and say what docs/install.md promises, the .deb from cpack must list the same
// files and its extracted vnet must run, and the Nix files must parse.
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/common/process.h"

namespace vnet::packaging::test {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;
using vnet::testing::run;
using vnet::testing::RunResult;

using vnet::testing::TempDir;

bool have(const std::string& program) {
  return vnet::testing::sh("command -v " + program + " >/dev/null 2>&1").exit_code == 0;
}

std::string read(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string show(const RunResult& r) { return "stdout:\n" + r.out + "stderr:\n" + r.err; }

// Every file and symlink under `root`, relative to it.
std::set<std::string> tree(const std::string& root) {
  std::set<std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(root))
    if (!e.is_directory() || e.is_symlink()) out.insert(fs::relative(e.path(), root).string());
  return out;
}

// What an install holds, relative to its prefix: the list docs/install.md gives.
std::set<std::string> expected_tree() {
  std::string unit = VNET_UNIT_DIR, doc = VNET_DOC_DIR, man = VNET_MAN_DIR;
  std::set<std::string> want = {
      "bin/vnet",
      unit + "/vnet-apply@.service",
      unit + "/vnet-watch@.service",
      unit + "/vnet-switch@.service",
      unit + "/vnet-netns@.service",
      std::string(VNET_BASH_DIR) + "/vnet",
      std::string(VNET_ZSH_DIR) + "/_vnet",
      doc + "/README.md",
      doc + "/copyright",
      doc + "/changelog.gz",
  };
  if (VNET_HAVE_MAN) {
    want.insert(man + "/man8/vnet.8.gz");
    want.insert(man + "/man5/host.toml.5.gz");
  }
  for (const auto& e : fs::directory_iterator(std::string(VNET_SOURCE_DIR) + "/docs"))
    if (e.path().extension() == ".md") want.insert(doc + "/" + e.path().filename().string());
  for (const auto& e : fs::directory_iterator(std::string(VNET_SOURCE_DIR) + "/examples"))
    if (e.path().extension() == ".toml")
      want.insert(doc + "/examples/" + e.path().filename().string());
  return want;
}

bool relative_layout() {
  for (const char* d : {VNET_UNIT_DIR, VNET_BASH_DIR, VNET_ZSH_DIR, VNET_DOC_DIR, VNET_MAN_DIR})
    if (fs::path(d).is_absolute()) return false;
  return true;
}

RunResult install(const std::string& prefix) {
  return run({VNET_CMAKE, "--install", VNET_BUILD_DIR, "--prefix", prefix});
}

// "Key=value" lines of a unit file, as written (no section awareness needed here).
std::multiset<std::string> unit_lines(const std::string& path) {
  std::multiset<std::string> out;
  std::istringstream in(read(path));
  for (std::string l; std::getline(in, l);)
    if (!l.empty() && l[0] != '#') out.insert(l);
  return out;
}

TEST(Install, PutsExactlyTheExpectedTreeUnderThePrefix) {
  if (!relative_layout()) GTEST_SKIP() << "an install directory is absolute in this build";
  TempDir t;
  auto r = install(t.path);
  ASSERT_EQ(r.exit_code, 0) << show(r);
  EXPECT_EQ(tree(t.path), expected_tree());
  if (!VNET_HAVE_MAN) std::cout << "note: scdoc was not found at configure time, no man pages\n";
  auto v = run({t.path + "/bin/vnet", "--version"});
  EXPECT_EQ(v.exit_code, 0);
  EXPECT_THAT(v.out, StartsWith(std::string("vnet ") + VNET_VERSION));
  // The installed completions are the ones the installed binary prints.
  EXPECT_EQ(read(t.path + "/" + VNET_BASH_DIR + "/vnet"),
            run({t.path + "/bin/vnet", "completion", "bash"}).out);
  EXPECT_EQ(read(t.path + "/" + VNET_ZSH_DIR + "/_vnet"),
            run({t.path + "/bin/vnet", "completion", "zsh"}).out);
}

TEST(Install, UnitsRunTheInstalledBinaryAndOrderApplyBeforeTheNetwork) {
  if (!relative_layout()) GTEST_SKIP() << "an install directory is absolute in this build";
  TempDir t;
  ASSERT_EQ(install(t.path).exit_code, 0);
  std::string units = t.path + "/" + VNET_UNIT_DIR;
  auto apply = unit_lines(units + "/vnet-apply@.service");
  for (const char* line :
       {"Type=oneshot", "RemainAfterExit=yes", "DefaultDependencies=no",
        "Wants=network-pre.target", "Before=network-pre.target shutdown.target",
        "Conflicts=shutdown.target",
        "After=local-fs.target systemd-modules-load.service systemd-sysctl.service "
        "systemd-udev-trigger.service",
        "WantedBy=multi-user.target"})
    EXPECT_EQ(apply.count(line), 1u) << line;
  EXPECT_EQ(apply.count("ExecStart=" + t.path + "/bin/vnet apply /etc/vnet/%i.toml"), 1u);
  // Nothing that would take the machine down with a failed apply.
  for (const std::string& l : apply) {
    EXPECT_THAT(l, Not(StartsWith("FailureAction")));
    EXPECT_THAT(l, Not(StartsWith("OnFailure")));
    EXPECT_THAT(l, Not(StartsWith("RequiredBy")));
  }
  auto sw = unit_lines(units + "/vnet-switch@.service");
  EXPECT_EQ(sw.count("Type=notify"), 1u);
  EXPECT_EQ(sw.count("ExecStart=" + t.path + "/bin/vnet switch %i -c /etc/vnet/host.toml"), 1u);
}

TEST(Install, UnitsPassSystemdAnalyzeVerify) {
  if (!have("systemd-analyze"))
    GTEST_SKIP() << "systemd-analyze is not installed (Debian package systemd)";
  if (!relative_layout()) GTEST_SKIP() << "an install directory is absolute in this build";
  TempDir t;
  ASSERT_EQ(install(t.path).exit_code, 0);
  // Templates are verified through an instance named after them, as systemd loads them.
  std::string units = t.path + "/" + VNET_UNIT_DIR, inst = t.path + "/instances";
  fs::create_directories(inst);
  fs::create_symlink(units + "/vnet-apply@.service", inst + "/vnet-apply@host.service");
  fs::create_symlink(units + "/vnet-switch@.service", inst + "/vnet-switch@lab.service");
  fs::create_symlink(units + "/vnet-watch@.service", inst + "/vnet-watch@host.service");
  // MANPATH: Documentation=man:vnet(8) must resolve to the man pages just installed.
  std::string man = VNET_HAVE_MAN ? "MANPATH=" + t.path + "/" + VNET_MAN_DIR + " " : "";
  std::string flags = VNET_HAVE_MAN ? "" : " --man=no";
  auto r = vnet::testing::sh(man + "systemd-analyze verify" + flags + " " + inst +
                             "/vnet-apply@host.service " + inst + "/vnet-watch@host.service " + inst +
                             "/vnet-switch@lab.service 2>&1");
  EXPECT_EQ(r.exit_code, 0) << r.out;
  // verify only warns about an unknown key or a bad value: any output is a failure here.
  EXPECT_EQ(r.out, "");
}

TEST(Package, DebCarriesEverythingAndItsVnetRuns) {
  for (const char* tool : {"dpkg-deb", "dpkg-shlibdeps"})
    if (!have(tool)) GTEST_SKIP() << tool << " is not installed (Debian package dpkg-dev)";
  if (!fs::exists(VNET_CPACK)) GTEST_SKIP() << "cpack is not installed at " << VNET_CPACK;
  TempDir t;
  auto r = run({VNET_CPACK, "-G", "DEB", "--config", std::string(VNET_BUILD_DIR) +
                "/CPackConfig.cmake", "-B", t.path});
  ASSERT_EQ(r.exit_code, 0) << show(r);
  std::string deb = t.path + "/vnet_" + VNET_VERSION + "_amd64.deb";
  for (const auto& e : fs::directory_iterator(t.path))
    if (e.path().extension() == ".deb") deb = e.path().string();
  ASSERT_TRUE(fs::exists(deb)) << show(r);

  auto listing = run({"dpkg-deb", "-c", deb});
  ASSERT_EQ(listing.exit_code, 0) << show(listing);
  std::set<std::string> files;
  std::istringstream in(listing.out);
  for (std::string l; std::getline(in, l);) {
    size_t at = l.find(" ./");
    if (at != std::string::npos && l.back() != '/') files.insert(l.substr(at + 3));
  }
  std::set<std::string> want;
  for (const std::string& f : expected_tree()) want.insert("usr/" + f);
  EXPECT_EQ(files, want);

  auto field = [&](const char* name) { return run({"dpkg-deb", "-f", deb, name}).out; };
  EXPECT_EQ(field("Package"), "vnet\n");
  EXPECT_EQ(field("Section"), "net\n");
  EXPECT_THAT(field("Maintainer"), HasSubstr("<"));
  EXPECT_THAT(field("Description"), StartsWith("declarative Linux network links"));
  // Computed by dpkg-shlibdeps from what the binary links.
  EXPECT_THAT(field("Depends"), HasSubstr("libmnl0"));
  EXPECT_THAT(field("Depends"), HasSubstr("libsystemd0"));

  std::string root = t.path + "/root";
  auto x = run({"dpkg-deb", "-x", deb, root});
  ASSERT_EQ(x.exit_code, 0) << show(x);
  auto v = run({root + "/usr/bin/vnet", "--version"});
  EXPECT_EQ(v.exit_code, 0) << show(v);
  EXPECT_THAT(v.out, StartsWith(std::string("vnet ") + VNET_VERSION));
  // The units name where the package puts the binary, not the build's prefix.
  EXPECT_THAT(read(root + "/usr/" + VNET_UNIT_DIR + "/vnet-apply@.service"),
              HasSubstr("\nExecStart=/usr/bin/vnet apply /etc/vnet/%i.toml\n"));

  // Debian's own checks: no error and no warning (information tags aside).
  if (!have("lintian")) {
    std::cout << "note: lintian is not installed (Debian package lintian): not run\n";
    return;
  }
  auto lint = vnet::testing::sh("lintian --tag-display-limit 0 " + deb + " 2>&1 | grep -E '^[EW]: '");
  EXPECT_EQ(lint.out, "") << "lintian found problems";
}

TEST(Nix, PackageAndModuleParse) {
  if (!have("nix-instantiate"))
    GTEST_SKIP() << "nix-instantiate is not installed (Debian package nix-bin): nix/ not checked";
  TempDir t;
  // A private state folder: nix-instantiate wants to write one, even only to parse.
  std::string env = "HOME=" + t.path + " NIX_STATE_DIR=" + t.path + "/state NIX_LOG_DIR=" +
                    t.path + "/log NIX_CONF_DIR=" + t.path + " ";
  for (const char* file : {"package.nix", "module.nix"}) {
    auto r = vnet::testing::sh(env + "nix-instantiate --parse " + VNET_SOURCE_DIR + "/nix/" +
                               file + " 2>&1 >/dev/null");
    EXPECT_EQ(r.exit_code, 0) << file << ":\n" << r.out;
  }
  // The module's interface, as docs/install.md shows it.
  std::string module = read(std::string(VNET_SOURCE_DIR) + "/nix/module.nix");
  for (const char* s : {"options.services.vnet", "enable = lib.mkEnableOption", "package = ",
                        "hostFile = ", "switches = ", "before = [ \"network-pre.target\"",
                        "Type = \"oneshot\"", "\"vnet-switch@${name}\""})
    EXPECT_THAT(module, HasSubstr(s));
}

}  // namespace
}  // namespace vnet::packaging::test
