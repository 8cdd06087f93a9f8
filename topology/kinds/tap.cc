// [taps.X]: a persistent tap (linux/drivers/net/tun.c) for a VM's NIC. The tun driver
// has no rtnetlink create: vnet opens /dev/net/tun, TUNSETIFF with the flags below,
// TUNSETOWNER/TUNSETGROUP, TUNSETPERSIST, and closes it. Its dump (IFLA_INFO_DATA of
// kind "tun") carries every attribute back, so plan, verify and show read it as usual.
#include <linux/if_link.h>

#include "topology/model.h"

namespace vnet::topology {

const KindDesc& tap_kind() {
  using T = KindAttr::Type;
  static const KindDesc k{
      .table = "taps",
      .word = "tap",
      .info_kind = "tun",
      .attrs =
          {
              // who may open it without CAP_NET_ADMIN (QEMU run as that user)
              {.key = "owner", .type = T::kUser, .nla = IFLA_TUN_OWNER, .in_place = true,
               .networkd = "User"},
              {.key = "group", .type = T::kGroup, .nla = IFLA_TUN_GROUP, .in_place = true,
               .networkd = "Group"},
              // IFF_MULTI_QUEUE and IFF_VNET_HDR are TUNSETIFF flags: fixed at creation
              {.key = "multi_queue", .type = T::kBool, .nla = IFLA_TUN_MULTI_QUEUE, .fallback = 0,
               .networkd = "MultiQueue"},
              {.key = "vnet_hdr", .type = T::kBool, .nla = IFLA_TUN_VNET_HDR, .fallback = 1,
               .networkd = "VNetHeader"},
          },
      .port = true,
      .networkd_kind = "tap",
      .networkd_section = "Tap",
      .feature = "tun/tap (CONFIG_TUN)",
      .rank = 4,
      .tun_device = true,
  };
  return k;
}

}  // namespace vnet::topology
