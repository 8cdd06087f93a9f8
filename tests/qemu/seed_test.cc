// qemu/seed: the NoCloud files as exact text, YAML quoting, the user-data merge rules,
// the ISO read back through libisofs (Rock Ridge and Joliet), ephemeral SSH keys.
#include "qemu/seed.h"

#include <arpa/inet.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "qemu/argv.h"

namespace vnet::qemu {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;
using topology::Guest;
using topology::GuestNic;

topology::Cidr cidr4(const char* addr, uint8_t prefix) {
  topology::Cidr c;
  c.addr.family = AF_INET;
  inet_pton(AF_INET, addr, c.addr.bytes.data());
  c.prefix = prefix;
  return c;
}

topology::IpAddress ip4(const char* addr) { return cidr4(addr, 32).addr; }

// Two NICs: a static one with a gateway on a bridge, one without addresses (user).
Guest two_nic_guest() {
  Guest g;
  g.name = "dev";
  GuestNic a;
  a.kind = GuestNic::Kind::kBridge;
  a.bridge = "br0";
  a.mac = topology::Mac{{0x52, 0x54, 0x00, 0x12, 0x34, 0x01}};
  a.addresses = {cidr4("10.1.40.16", 24)};
  a.gateway = ip4("10.1.40.1");
  GuestNic b;
  b.kind = GuestNic::Kind::kUser;
  g.nics = {a, b};
  g.cloud_init = Guest::CloudInit{"dev-host", {"ssh-ed25519 AAAAdeclared user@laptop"}, ""};
  return g;
}

class TempDir {
 public:
  TempDir() {
    std::string t = ::testing::TempDir() + "vnet-seed-XXXXXX";
    path_ = ::mkdtemp(t.data()) ? t : "";
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

TEST(SeedYaml, QuotesAndEscapesSpecialCharacters) {
  EXPECT_EQ(yaml_quote("plain"), "\"plain\"");
  EXPECT_EQ(yaml_quote("a: b # c"), "\"a: b # c\"");
  EXPECT_EQ(yaml_quote("say \"hi\" \\o/"), "\"say \\\"hi\\\" \\\\o/\"");
  EXPECT_EQ(yaml_quote("line1\nline2\ttab\r"), "\"line1\\nline2\\ttab\\r\"");
  EXPECT_EQ(yaml_quote(std::string("nul\0esc\x1b", 8)), "\"nul\\x00esc\\x1b\"");
  EXPECT_EQ(yaml_quote("J\xc3\xbcrgen"), "\"J\xc3\xbcrgen\"");  // UTF-8 kept
  EXPECT_EQ(yaml_quote(""), "\"\"");
}

TEST(SeedMetaData, HasInstanceIdAndHostname) {
  Guest g = two_nic_guest();
  EXPECT_EQ(render_meta_data(g, "vnet-dev-1"),
            "instance-id: \"vnet-dev-1\"\nlocal-hostname: \"dev-host\"\n");
  g.cloud_init.reset();
  EXPECT_EQ(render_meta_data(g, "i"), "instance-id: \"i\"\nlocal-hostname: \"dev\"\n");
}

TEST(SeedMetaData, HostnameWithSpecialCharactersIsQuoted) {
  Guest g = two_nic_guest();
  g.cloud_init->hostname = "x: \"y\"\n#z";
  EXPECT_EQ(render_meta_data(g, "i"),
            "instance-id: \"i\"\nlocal-hostname: \"x: \\\"y\\\"\\n#z\"\n");
}

TEST(SeedNetworkConfig, StaticNicWithGatewayAndDhcpNic) {
  Guest g = two_nic_guest();
  EXPECT_EQ(render_network_config(g),
            "version: 2\n"
            "ethernets:\n"
            "  nic0:\n"
            "    match:\n"
            "      macaddress: \"52:54:00:12:34:01\"\n"
            "    addresses:\n"
            "      - \"10.1.40.16/24\"\n"
            "    routes:\n"
            "      - to: default\n"
            "        via: \"10.1.40.1\"\n"
            "  nic1:\n"
            "    match:\n"
            "      macaddress: \"" + nic_mac(g, 1).str() + "\"\n"
            "    dhcp4: true\n");
}

TEST(SeedNetworkConfig, SetNameWhenTheNicNamesItsLink) {
  Guest g = two_nic_guest();
  g.nics.resize(1);
  g.nics[0].name = "lan0";
  EXPECT_THAT(render_network_config(g), HasSubstr("    set-name: \"lan0\"\n"));
}

TEST(SeedNetworkConfig, NoNicsIsJustTheVersion) {
  Guest g;
  g.name = "x";
  EXPECT_EQ(render_network_config(g), "version: 2\n");
}

TEST(SeedUserData, KeysEphemeralDeclaredDebugWithoutRepeats) {
  Guest g = two_nic_guest();
  SeedOptions o;
  o.ephemeral_public_key = "ssh-ed25519 AAAAeph vnet-ephemeral\n";
  o.debug_ssh_keys = {"ssh-ed25519 AAAAdebug me@desk", "ssh-ed25519 AAAAdeclared user@laptop"};
  EXPECT_EQ(render_user_data(g, o),
            "#cloud-config\n"
            "ssh_authorized_keys:\n"
            "  - \"ssh-ed25519 AAAAeph vnet-ephemeral\"\n"
            "  - \"ssh-ed25519 AAAAdeclared user@laptop\"\n"
            "  - \"ssh-ed25519 AAAAdebug me@desk\"\n");
}

TEST(SeedUserData, NoKeysNoFileIsAnEmptyCloudConfig) {
  Guest g;
  g.name = "x";
  EXPECT_EQ(render_user_data(g, {}), "#cloud-config\n");
}

TEST(SeedUserData, CloudConfigWithoutKeysGetsTheKeyAppended) {
  Guest g = two_nic_guest();
  SeedOptions o;
  o.user_data = "#cloud-config\npackages:\n  - htop\nruncmd:\n  - [echo, hi]";
  EXPECT_EQ(render_user_data(g, o),
            "#cloud-config\npackages:\n  - htop\nruncmd:\n  - [echo, hi]\n"
            "ssh_authorized_keys:\n"
            "  - \"ssh-ed25519 AAAAdeclared user@laptop\"\n");
}

TEST(SeedUserData, CloudConfigKeyListGetsOurKeysFirstAtItsIndent) {
  Guest g = two_nic_guest();
  SeedOptions o;
  o.user_data =
      "#cloud-config\n"
      "ssh_authorized_keys:   # theirs\n"
      "    - ssh-rsa AAAAtheirs\n"
      "packages: [htop]\n";
  EXPECT_EQ(render_user_data(g, o),
            "#cloud-config\n"
            "ssh_authorized_keys:   # theirs\n"
            "    - \"ssh-ed25519 AAAAdeclared user@laptop\"\n"
            "    - ssh-rsa AAAAtheirs\n"
            "packages: [htop]\n");
  // A sequence at the key's own indentation (valid YAML) keeps that indentation.
  o.user_data = "#cloud-config\nssh_authorized_keys:\n- ssh-rsa AAAAtheirs\n";
  EXPECT_EQ(render_user_data(g, o),
            "#cloud-config\nssh_authorized_keys:\n"
            "- \"ssh-ed25519 AAAAdeclared user@laptop\"\n- ssh-rsa AAAAtheirs\n");
}

TEST(SeedUserData, CloudConfigThatCannotBeMergedAsTextBecomesMultipart) {
  Guest g = two_nic_guest();
  SeedOptions o;
  o.user_data = "#cloud-config\nssh_authorized_keys: [\"ssh-rsa AAAAtheirs\"]\n";
  std::string u = render_user_data(g, o);
  EXPECT_EQ(u,
            "Content-Type: multipart/mixed; boundary=\"==vnet-seed==\"\n"
            "MIME-Version: 1.0\n"
            "\n"
            "--==vnet-seed==\n"
            "Content-Type: text/cloud-config; charset=\"utf-8\"\n"
            "MIME-Version: 1.0\n"
            "\n"
            "#cloud-config\n"
            "ssh_authorized_keys: [\"ssh-rsa AAAAtheirs\"]\n"
            "--==vnet-seed==\n"
            "Content-Type: text/cloud-config; charset=\"utf-8\"\n"
            "MIME-Version: 1.0\n"
            "\n"
            "#cloud-config\n"
            "merge_how:\n"
            "  - name: list\n"
            "    settings: [append]\n"
            "  - name: dict\n"
            "    settings: [no_replace, recurse_list]\n"
            "ssh_authorized_keys:\n"
            "  - \"ssh-ed25519 AAAAdeclared user@laptop\"\n"
            "--==vnet-seed==--\n");
  o.user_data = "#cloud-config\na: 1\n---\nb: 2\n";  // two documents
  EXPECT_THAT(render_user_data(g, o), StartsWith("Content-Type: multipart/mixed"));
}

TEST(SeedUserData, ScriptBecomesTheFirstPartOfAMultipart) {
  Guest g = two_nic_guest();
  SeedOptions o;
  o.user_data = "#!/bin/sh\necho ==vnet-seed== >/tmp/x\n";  // holds the first boundary
  std::string u = render_user_data(g, o);
  EXPECT_THAT(u, StartsWith("Content-Type: multipart/mixed; boundary=\"==vnet-seed-1==\"\n"));
  EXPECT_THAT(u, HasSubstr("--==vnet-seed-1==\nContent-Type: text/x-shellscript; "
                           "charset=\"utf-8\"\nMIME-Version: 1.0\n\n#!/bin/sh\n"
                           "echo ==vnet-seed== >/tmp/x\n--==vnet-seed-1==\n"));
  EXPECT_THAT(u, HasSubstr("  - \"ssh-ed25519 AAAAdeclared user@laptop\"\n--==vnet-seed-1==--\n"));
}

TEST(SeedUserData, MimeMessageIsEmbeddedWithItsOwnHeaders) {
  Guest g = two_nic_guest();
  SeedOptions o;
  o.user_data = "Content-Type: multipart/mixed; boundary=\"b\"\n\n--b\n"
                "Content-Type: text/x-shellscript\n\n#!/bin/sh\n--b--\n";
  EXPECT_THAT(render_user_data(g, o),
              HasSubstr("--==vnet-seed==\nContent-Type: multipart/mixed; boundary=\"b\"\n\n--b\n"));
}

TEST(SeedUserData, UserFileWithoutAnyKeysIsUnchanged) {
  Guest g;
  g.name = "x";
  SeedOptions o;
  o.user_data = "#!/bin/sh\ntrue\n";
  EXPECT_EQ(render_user_data(g, o), o.user_data);
}

TEST(SeedUserData, KeyWithQuotesAndNewlineStaysOneQuotedItem) {
  Guest g;
  g.name = "x";
  SeedOptions o;
  o.debug_ssh_keys = {"ssh-ed25519 AAAA \"me\"\nruncmd: [reboot]"};
  EXPECT_EQ(render_user_data(g, o),
            "#cloud-config\nssh_authorized_keys:\n"
            "  - \"ssh-ed25519 AAAA \\\"me\\\"\\nruncmd: [reboot]\"\n");
}

TEST(SeedFiles, InstanceIdFollowsTheContent) {
  Guest g = two_nic_guest();
  SeedOptions o;
  auto a = render_seed(g, o);
  ASSERT_EQ(a.size(), 3u);
  EXPECT_EQ(a[0].name, "meta-data");
  EXPECT_EQ(a[1].name, "user-data");
  EXPECT_EQ(a[2].name, "network-config");
  EXPECT_THAT(a[0].content, StartsWith("instance-id: \"vnet-dev-"));
  EXPECT_EQ(render_seed(g, o), a);  // stable
  o.ephemeral_public_key = "ssh-ed25519 AAAAnew";
  EXPECT_NE(render_seed(g, o)[0].content, a[0].content);
  o.instance_id = "fixed";
  EXPECT_THAT(render_seed(g, o)[0].content, StartsWith("instance-id: \"fixed\"\n"));
}

TEST(SeedIso, ReadsBackEveryFileAndTheVolumeId) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  SeedOptions o;
  o.user_data = "#!/bin/sh\necho Hello\n";
  auto files = render_seed(two_nic_guest(), o);
  std::string iso = dir.path() + "/seed.iso";
  auto st = write_seed_iso(iso, files);
  ASSERT_TRUE(st) << st.error().str();
  for (bool joliet : {false, true}) {
    auto back = read_iso(iso, joliet);
    ASSERT_TRUE(back) << back.error().str();
    EXPECT_EQ(back->volume_id, "cidata");
    ASSERT_EQ(back->files.size(), 3u) << (joliet ? "joliet" : "rock ridge");
    // Sorted by name; names keep their case and dashes in both trees.
    EXPECT_EQ(back->files[0], files[0]);  // meta-data
    EXPECT_EQ(back->files[1], files[2]);  // network-config
    EXPECT_EQ(back->files[2], files[1]);  // user-data
  }
  // Nothing but the image is left in the folder (the temporary file was renamed).
  size_t n = 0;
  for (auto& e : std::filesystem::directory_iterator(dir.path())) n += bool(e.path().c_str());
  EXPECT_EQ(n, 1u);
}

TEST(SeedIso, ReplacesAnOlderImage) {
  TempDir dir;
  std::string iso = dir.path() + "/seed.iso";
  ASSERT_TRUE(write_seed_iso(iso, {{"user-data", "old"}}));
  ASSERT_TRUE(write_seed_iso(iso, {{"user-data", "new"}, {"meta-data", ""}}));
  auto back = read_iso(iso);
  ASSERT_TRUE(back);
  ASSERT_EQ(back->files.size(), 2u);
  EXPECT_EQ(back->files[0], (SeedFile{"meta-data", ""}));
  EXPECT_EQ(back->files[1], (SeedFile{"user-data", "new"}));
}

TEST(SeedIso, UnwritableFolderIsAnError) {
  auto st = write_seed_iso("/nonexistent-vnet-dir/seed.iso", {{"meta-data", "x"}});
  ASSERT_FALSE(st);
  EXPECT_THAT(st.error().str(), HasSubstr("/nonexistent-vnet-dir/seed.iso"));
}

TEST(SshKeys, GeneratesAnEd25519PairWithAPrivateKey) {
  TempDir dir;
  std::string keys = dir.path() + "/keys";
  auto pub = generate_ssh_keypair(keys);
  ASSERT_TRUE(pub) << pub.error().str();
  EXPECT_THAT(*pub, StartsWith("ssh-ed25519 "));
  EXPECT_THAT(*pub, ::testing::EndsWith(" vnet-ephemeral"));
  struct stat st{};
  ASSERT_EQ(::stat((keys + "/id_ed25519").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat((keys + "/id_ed25519.pub").c_str(), &st), 0);
  std::ifstream f(keys + "/id_ed25519.pub");
  std::string line;
  std::getline(f, line);
  EXPECT_EQ(line, *pub);
  // OpenSSH reads the private key and derives the same public key from it.
  if (std::system("command -v ssh-keygen >/dev/null") == 0) {
    std::string derived = keys + "/derived.pub";
    ASSERT_EQ(std::system(("ssh-keygen -y -f " + keys + "/id_ed25519 > " + derived).c_str()), 0);
    std::ifstream d(derived);
    std::string again_line;
    std::getline(d, again_line);
    EXPECT_EQ(again_line, *pub) << "the private key carries the comment too";
  }
  // A second start makes a new pair in place of the old one.
  auto again = generate_ssh_keypair(keys);
  ASSERT_TRUE(again) << again.error().str();
  EXPECT_NE(*again, *pub);
}

}  // namespace
}  // namespace vnet::qemu
