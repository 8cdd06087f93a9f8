// Runs inside `vnet vm-run` (ctest wraps it): proves the guest kernel is VLAN-capable.
// In a namespace of its own it builds a vlan_filtering bridge with a veth port at
// PVID 40 egress-untagged and an 802.1Q sub-interface br0.40, and reads them back with
// `ip -j -d link show` and `bridge -j vlan show` (iproute2 as the oracle).
#include <unistd.h>

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "vmrun/command.h"
#include "vmrun/sys.h"

namespace vnet::vmrun {
namespace {

using json = nlohmann::json;

// A namespace this test made, removed in the destructor even when the test fails.
class Netns {
 public:
  Netns() {
    static int n = 0;
    name_ = "vnet-vmrun-" + std::to_string(::getpid()) + "-" + std::to_string(n++);
    auto r = run_capture({"ip", "netns", "add", name_});
    ok_ = r && r->status == 0;
    if (!ok_) error_ = r ? r->err : r.error().str();
  }
  ~Netns() {
    if (ok_) (void)run_capture({"ip", "netns", "del", name_});
  }
  const std::string& name() const { return name_; }
  bool ok() const { return ok_; }
  const std::string& error() const { return error_; }

  // Runs a shell line inside the namespace; returns stdout, fails the test otherwise.
  std::string sh(const std::string& line) const {
    auto r = run_capture({"ip", "netns", "exec", name_, "sh", "-c", line});
    EXPECT_TRUE(r) << (r ? "" : r.error().str());
    if (!r) return "";
    EXPECT_EQ(r->status, 0) << line << "\n" << r->err;
    return r->out;
  }

 private:
  std::string name_, error_;
  bool ok_ = false;
};

json parse(const std::string& text) {
  auto j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  EXPECT_FALSE(j.is_discarded()) << text;
  return j;
}

TEST(VlanKernel, VlanFilteringBridgeWithPvidPortAndSubInterface) {
  Netns ns;
  ASSERT_TRUE(ns.ok()) << "ip netns add failed: " << ns.error();
  // `name` before every new link: iproute2 prefix-matches keywords (facts.md).
  ns.sh("ip link add name br0 type bridge vlan_filtering 1 && "
        "ip link add name vp0 type veth peer name vp1 && "
        "ip link set vp0 master br0 && "
        "bridge vlan del dev vp0 vid 1 && "
        "bridge vlan add dev vp0 vid 40 pvid untagged && "
        "bridge vlan add dev br0 vid 40 self && "
        "ip link add link br0 name br0.40 type vlan id 40 && "
        "ip link set br0 up && ip link set vp0 up && ip link set vp1 up && "
        "ip link set br0.40 up");

  json br = parse(ns.sh("ip -j -d link show dev br0"));
  ASSERT_TRUE(br.is_array() && br.size() == 1) << br.dump();
  EXPECT_EQ(br[0]["linkinfo"]["info_kind"], "bridge");
  EXPECT_EQ(br[0]["linkinfo"]["info_data"]["vlan_filtering"], 1) << br.dump();

  json vl = parse(ns.sh("ip -j -d link show dev br0.40"));
  ASSERT_TRUE(vl.is_array() && vl.size() == 1) << vl.dump();
  EXPECT_EQ(vl[0]["linkinfo"]["info_kind"], "vlan");
  EXPECT_EQ(vl[0]["linkinfo"]["info_data"]["id"], 40) << vl.dump();
  EXPECT_EQ(vl[0]["linkinfo"]["info_data"]["protocol"], "802.1Q") << vl.dump();
  EXPECT_EQ(vl[0]["link"], "br0") << vl.dump();

  json port = parse(ns.sh("ip -j -d link show dev vp0"));
  EXPECT_EQ(port[0]["master"], "br0") << port.dump();

  json vlans = parse(ns.sh("bridge -j vlan show"));
  ASSERT_TRUE(vlans.is_array()) << vlans.dump();
  bool port_seen = false, self_seen = false;
  for (const auto& dev : vlans) {
    std::string name = dev.value("ifname", "");
    if (name == "vp0") {
      port_seen = true;
      ASSERT_EQ(dev["vlans"].size(), 1u) << "only VLAN 40 (1 removed): " << dev.dump();
      const auto& v = dev["vlans"][0];
      EXPECT_EQ(v["vlan"], 40);
      auto flags = v.value("flags", json::array());
      EXPECT_NE(std::find(flags.begin(), flags.end(), "PVID"), flags.end()) << v.dump();
      EXPECT_NE(std::find(flags.begin(), flags.end(), "Egress Untagged"), flags.end())
          << v.dump();
    } else if (name == "br0") {
      for (const auto& v : dev["vlans"])
        if (v["vlan"] == 40) self_seen = true;
    }
  }
  EXPECT_TRUE(port_seen) << vlans.dump();
  EXPECT_TRUE(self_seen) << "br0 itself in VLAN 40: " << vlans.dump();
}

TEST(VlanKernel, KernelModulesLoadOnDemand) {
  // Not loaded at boot: must come through the kernel's modprobe from the cache.
  Netns ns;
  ASSERT_TRUE(ns.ok()) << ns.error();
  ns.sh("ip link add name vx0 type vxlan id 42 dstport 4789 local 127.0.0.1");
  json vx = parse(ns.sh("ip -j -d link show dev vx0"));
  EXPECT_EQ(vx[0]["linkinfo"]["info_kind"], "vxlan") << vx.dump();
}

}  // namespace
}  // namespace vnet::vmrun
