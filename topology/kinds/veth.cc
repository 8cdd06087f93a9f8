// [veths.X]: a pair of linked Ethernet devices (linux/drivers/net/veth.c), one end
// here, its `peer` in a container's namespace or beside it. The kernel creates both in
// one RTM_NEWLINK (VETH_INFO_PEER) and deletes both with either; the pair has no
// attributes of its own in IFLA_INFO_DATA, so what the peer is (name, namespace,
// addresses) stays in model.h Veth.
#include "topology/model.h"

namespace vnet::topology {

const KindDesc& veth_kind() {
  static const KindDesc k{
      .table = "veths",
      .word = "veth",
      .info_kind = "veth",
      .attrs = {},
      .port = true,
      .networkd_kind = "veth",
      .networkd_section = "Peer",
      .feature = "veth (CONFIG_VETH)",
      .rank = 1,
  };
  return k;
}

}  // namespace vnet::topology
