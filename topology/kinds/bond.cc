// [bonds.X]: link aggregation (linux/drivers/net/bonding), the Proxmox pattern of a bond
// of NICs under the VLAN-aware bridge. Its `members` are existing links: vnet enslaves
// them (down first: the driver refuses an up slave, then brings it up itself) and,
// when the bond goes, brings them back up.
#include <linux/if_link.h>

#include "topology/model.h"

namespace vnet::topology {
namespace {

using T = KindAttr::Type;

constexpr uint32_t kMode8023ad = 4;

void check_bond(const KindLink& l, KindCheck& c) {
  const AttrValue* mode = l.attr("mode");
  const AttrValue* rate = l.attr("lacp_rate");
  if (rate->written && !(mode->set && mode->number == kMode8023ad))
    c.error(rate->loc, "lacp_rate applies to mode \"802.3ad\" only (bond '" + l.name + "' is " +
                           (mode->set ? "\"" + mode->text + "\"" : std::string("balance-rr")) + ")");
}

}  // namespace

const KindDesc& bond_kind() {
  static const KindDesc k{
      .table = "bonds",
      .word = "bond",
      .info_kind = "bond",
      .attrs =
          {
              // the driver takes a new mode only without slaves and down: recreate
              {.key = "mode", .type = T::kEnum, .nla = IFLA_BOND_MODE,
               .names = {{"balance-rr", 0}, {"active-backup", 1}, {"balance-xor", 2},
                         {"broadcast", 3}, {"802.3ad", kMode8023ad}, {"balance-tlb", 5},
                         {"balance-alb", 6}},
               .networkd = "Mode"},
              {.key = "miimon", .type = T::kU32, .nla = IFLA_BOND_MIIMON, .lo = 0,
               .hi = 0x7fffffff, .in_place = true, .networkd = "MIIMonitorSec",
               .networkd_unit = "ms"},
              // the driver takes a new rate only while the bond is down: recreate
              {.key = "lacp_rate", .type = T::kEnum, .nla = IFLA_BOND_AD_LACP_RATE,
               .names = {{"slow", 0}, {"fast", 1}}, .networkd = "LACPTransmitRate"},
              {.key = "xmit_hash_policy", .type = T::kEnum, .nla = IFLA_BOND_XMIT_HASH_POLICY,
               .names = {{"layer2", 0}, {"layer3+4", 1}, {"layer2+3", 2}, {"encap2+3", 3},
                         {"encap3+4", 4}, {"vlan+srcmac", 5}},
               .in_place = true, .networkd = "TransmitHashPolicy"},
          },
      .port = true,
      .check = check_bond,
      .networkd_kind = "bond",
      .networkd_section = "Bond",
      .networkd_attach = "Bond",
      .members_key = "members",
      .feature = "bonding (link kind \"bond\", CONFIG_BONDING)",
      .rank = 1,
  };
  return k;
}

}  // namespace vnet::topology
