// [bridges.X]: a software switch (linux/net/bridge). Its ports join it by `bridge = "X"`
// and, when `vlan_filtering` is on, keep per-port VLAN entries (model.h BridgePort,
// desired_port_vlans); the bridge's own ("self") VLANs are its `vlans`, which the Bridge
// struct carries beside these attributes.
#include <linux/if_link.h>

#include "topology/model.h"

namespace vnet::topology {

const KindDesc& bridge_kind() {
  using T = KindAttr::Type;
  static const KindDesc k{
      .table = "bridges",
      .word = "bridge",
      .info_kind = "bridge",
      // in the order a create sends them (the codec's golden bytes)
      .attrs =
          {
              {.key = "stp", .type = T::kBool, .nla = IFLA_BR_STP_STATE, .fallback = 0, .bytes = 4,
               .in_place = true, .networkd = "STP"},
              {.key = "vlan_filtering", .type = T::kBool, .nla = IFLA_BR_VLAN_FILTERING,
               .fallback = 0, .in_place = true, .feature = "bridge VLAN filtering (CONFIG_BRIDGE_VLAN_FILTERING)",
               .networkd = "VLANFiltering"},
              // 0 = no default VLAN: new ports join none
              {.key = "default_pvid", .type = T::kU16, .nla = IFLA_BR_VLAN_DEFAULT_PVID, .lo = 0,
               .hi = 4094, .fallback = 1, .in_place = true, .only_with = "vlan_filtering",
               .networkd = "DefaultPVID"},
          },
      .port = false,
      .networkd_kind = "bridge",
      .networkd_section = "Bridge",
      .feature = "bridges (CONFIG_BRIDGE)",
      .rank = 0,
  };
  return k;
}

}  // namespace vnet::topology
