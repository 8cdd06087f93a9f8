// [macvlans.X]: a second MAC address on a link (linux/drivers/net/macvlan.c), for a
// container that should appear on the parent's segment as its own host.
#include <linux/if_link.h>

#include "topology/model.h"

namespace vnet::topology {

const KindDesc& macvlan_kind() {
  using T = KindAttr::Type;
  static const KindDesc k{
      .table = "macvlans",
      .word = "macvlan",
      .info_kind = "macvlan",
      .attrs =
          {
              {.key = "link", .type = T::kLink, .parent = true, .nla = 0, .required = true},
              {.key = "mode", .type = T::kEnum, .nla = IFLA_MACVLAN_MODE,
               .fallback = MACVLAN_MODE_BRIDGE,
               .names = {{"private", MACVLAN_MODE_PRIVATE}, {"vepa", MACVLAN_MODE_VEPA},
                         {"bridge", MACVLAN_MODE_BRIDGE}, {"passthru", MACVLAN_MODE_PASSTHRU}},
               .bytes = 4, .in_place = true, .networkd = "Mode"},
          },
      .port = false,
      .networkd_kind = "macvlan",
      .networkd_section = "MACVLAN",
      .networkd_attach = "MACVLAN",
      .feature = "macvlan (CONFIG_MACVLAN)",
      .rank = 3,
      .on_bridge_port = false,
  };
  return k;
}

}  // namespace vnet::topology
