// unit: systemd-nspawn's argv for a guest (nspawn/guest.h build_argv) and the guest
// schema's nspawn keys as the loader expands them.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "nspawn/guest.h"
#include "topology/load.h"

namespace vnet::nspawn {
namespace {

using ::testing::ElementsAre;

topology::Topology load(const std::string& body) {
  auto t = topology::load_string("[host]\nname = \"t\"\n" + body, "t.toml");
  EXPECT_TRUE(t) << (t ? "" : topology::format_diagnostics(t.error(), body));
  return t ? *t : topology::Topology{};
}

LaunchContext ctx(bool pid1, std::string netns = "/run/netns/vnet-web") {
  return LaunchContext{"/usr/bin/systemd-nspawn", std::move(netns), "/state/web", pid1};
}

TEST(NspawnArgv, CommandWithoutSystemdAsPid1) {
  auto t = load(R"([guests.web]
kind = "nspawn"
directory = "/var/lib/machines/web"
command = ["/usr/bin/myservice", "--port", "80"]
binds = ["/srv/data:/data", "/srv/same"]
binds_ro = ["/etc/ssl:/etc/ssl"]
)");
  ASSERT_EQ(t.guests.size(), 1u);
  EXPECT_THAT(build_argv(t.guests[0], ctx(false, "")),  // no NICs: no namespace
              ElementsAre("/usr/bin/systemd-nspawn", "--quiet",
                          "--directory=/var/lib/machines/web", "--machine=web",
                          "--register=no", "--keep-unit", "--private-network",
                          "--bind=/srv/data:/data", "--bind=/srv/same:/srv/same",
                          "--bind-ro=/etc/ssl:/etc/ssl", "--setenv=VNET_GUEST_STATE=/state/web",
                          "--console=interactive", "--kill-signal=SIGTERM", "--",
                          "/usr/bin/myservice", "--port", "80"));
}

TEST(NspawnArgv, BootWithNicsUnderSystemd) {
  auto t = load(R"([bridges.br0]
[guests.web]
kind = "nspawn"
directory = "/m/web"
boot = true
[[guests.web.nics]]
bridge = "br0"
)");
  ASSERT_EQ(t.guests.size(), 1u);
  EXPECT_THAT(build_argv(t.guests[0], ctx(true)),
              ElementsAre("/usr/bin/systemd-nspawn", "--quiet", "--directory=/m/web",
                          "--machine=web", "--network-namespace-path=/run/netns/vnet-web",
                          "--setenv=VNET_GUEST_STATE=/state/web", "--console=interactive",
                          "--boot"));
}

TEST(NspawnArgv, MachineNameOnlyWhenTheGuestNameIsAHostName) {
  auto t = load("[guests.web_1]\nkind = \"nspawn\"\ndirectory = \"/m\"\nboot = true\n");
  ASSERT_EQ(t.guests.size(), 1u);
  auto a = build_argv(t.guests[0], ctx(false));
  EXPECT_EQ(std::count_if(a.begin(), a.end(),
                          [](const std::string& s) { return s.rfind("--machine", 0) == 0; }),
            0);
}

TEST(NspawnSchema, NicTaggedRoutesAndGatewayReachTheVeth) {
  auto t = load(R"([bridges.br0]
vlan_filtering = true
[guests.web]
kind = "nspawn"
directory = "/m/web"
boot = true
[[guests.web.nics]]
bridge = "br0"
vlan = 40
tagged = [10, "20-21"]
addresses = ["10.1.40.20/24"]
gateway = "10.1.40.1"
routes = [{ to = "10.2.0.0/16", via = "10.1.40.254" }]
)");
  ASSERT_EQ(t.veths.size(), 1u);
  const auto& v = t.veths[0];
  EXPECT_EQ(v.name, "vb-web");
  ASSERT_TRUE(v.port);
  EXPECT_EQ(v.port->pvid, 40);
  EXPECT_THAT(v.port->tagged, ElementsAre(10, 20, 21));
  ASSERT_EQ(v.peer_routes.size(), 1u);
  EXPECT_EQ(v.peer_routes[0].str(), "10.2.0.0/16 via 10.1.40.254");
  EXPECT_EQ(v.peer_gateway->str(), "10.1.40.1");
}

}  // namespace
}  // namespace vnet::nspawn
