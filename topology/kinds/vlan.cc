// [vlans.X]: an 802.1Q sub-interface of a link (linux/net/8021q): frames of VLAN `id` on
// the parent arrive untagged here. On a VLAN-filtering bridge the bridge itself must be a
// member of that VLAN ("self"), which the planner adds.
#include <linux/if_link.h>

#include "topology/model.h"

namespace vnet::topology {

const KindDesc& vlan_kind() {
  using T = KindAttr::Type;
  static const KindDesc k{
      .table = "vlans",
      .word = "vlan",
      .info_kind = "vlan",
      .attrs =
          {
              {.key = "link", .type = T::kLink, .parent = true, .nla = 0, .required = true},
              {.key = "id", .type = T::kU16, .nla = IFLA_VLAN_ID, .lo = 1, .hi = 4094,
               .required = true, .networkd = "Id", .what = "vlan id"},
          },
      .port = true,
      .networkd_kind = "vlan",
      .networkd_section = "VLAN",
      .networkd_attach = "VLAN",
      .feature = "802.1Q VLAN interfaces (link kind \"vlan\", CONFIG_VLAN_8021Q)",
      .rank = 2,
      .unique_per_parent = "id",
      .bridge_self_vlan = "id",
  };
  return k;
}

}  // namespace vnet::topology
