// [dummies.X]: a link with no wire (linux/drivers/net/dummy.c), for addresses and routes
// that belong to the host rather than to a NIC: a service address, a router id.
#include "topology/model.h"

namespace vnet::topology {

const KindDesc& dummy_kind() {
  static const KindDesc k{
      .table = "dummies",
      .word = "dummy",
      .info_kind = "dummy",
      .attrs = {},
      .port = true,
      .networkd_kind = "dummy",
      .feature = "dummy links (link kind \"dummy\", CONFIG_DUMMY)",
  };
  return k;
}

}  // namespace vnet::topology
