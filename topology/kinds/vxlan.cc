// [vxlans.X]: Ethernet over UDP (RFC 7348, linux/drivers/net/vxlan), the way an L2
// segment outgrows one host. Attributes as linux/if_link.h IFLA_VXLAN_*; the kernel
// takes a unicast `remote` and a multicast `group` in the same attribute.
#include <linux/if_link.h>
#include <sys/socket.h>

#include "topology/model.h"

namespace vnet::topology {
namespace {

using T = KindAttr::Type;

bool multicast(const IpAddress& a) {
  return a.family == AF_INET ? (a.bytes[0] & 0xf0) == 0xe0 : a.bytes[0] == 0xff;
}

void check_vxlan(const KindLink& l, KindCheck& c) {
  const AttrValue* local = l.attr("local");
  const AttrValue* remote = l.attr("remote");
  const AttrValue* group = l.attr("group");
  const AttrValue* dev = l.attr("dev");
  if (remote->set && group->set)
    c.error(group->loc, "vxlan '" + l.name + "' has both 'remote' and 'group'; a vxlan floods to "
                        "one unicast peer or one multicast group");
  if (remote->set && multicast(remote->ip))
    c.error(remote->loc, "remote " + remote->ip.str() + " is a multicast address; write it as 'group'");
  if (group->set && !multicast(group->ip))
    c.error(group->loc, "group " + group->ip.str() + " is not a multicast address; a unicast peer is 'remote'");
  if (group->set && multicast(group->ip) && !dev->set)
    c.error(group->loc, "vxlan '" + l.name + "' joins group " + group->ip.str() +
                            " and needs 'dev', the link to join it on (the kernel refuses "
                            "a multicast group without one)");
  if (local->set && local->ip.family && multicast(local->ip))
    c.error(local->loc, "local " + local->ip.str() + " is a multicast address; local is this host's own");
  const AttrValue* peer = remote->set ? remote : group->set ? group : nullptr;
  if (local->set && peer && local->ip.family != peer->ip.family)
    c.error(peer->loc, "vxlan '" + l.name + "': local " + local->ip.str() + " and " +
                           (peer == remote ? "remote " : "group ") + peer->ip.str() +
                           " are of different families");
}

}  // namespace

const KindDesc& vxlan_kind() {
  static const KindDesc k{
      .table = "vxlans",
      .word = "vxlan",
      .info_kind = "vxlan",
      .attrs =
          {
              {.key = "vni", .type = T::kU32, .nla = IFLA_VXLAN_ID, .lo = 0, .hi = 0xffffff,
               .required = true, .networkd = "VNI"},
              {.key = "local", .type = T::kIp, .nla = IFLA_VXLAN_LOCAL, .nla6 = IFLA_VXLAN_LOCAL6,
               .networkd = "Local"},
              {.key = "remote", .type = T::kIp, .nla = IFLA_VXLAN_GROUP, .nla6 = IFLA_VXLAN_GROUP6,
               .networkd = "Remote"},
              {.key = "group", .type = T::kIp, .nla = IFLA_VXLAN_GROUP, .nla6 = IFLA_VXLAN_GROUP6,
               .networkd = "Group"},
              {.key = "dev", .type = T::kLink, .nla = IFLA_VXLAN_LINK},
              // the kernel's own default is 8472 (from before IANA's): always send ours
              {.key = "dstport", .type = T::kPort, .nla = IFLA_VXLAN_PORT, .lo = 1, .hi = 65535,
               .fallback = 4789, .networkd = "DestinationPort"},
              {.key = "learning", .type = T::kBool, .nla = IFLA_VXLAN_LEARNING, .fallback = 1,
               .in_place = true, .networkd = "MacLearning"},
          },
      .port = true,
      .check = check_vxlan,
      .networkd_kind = "vxlan",
      .networkd_section = "VXLAN",
      .networkd_attach = "VXLAN",
      .networkd_unattached = "Independent",
      .networkd_fixed = {{"UDPChecksum", "yes"}},
      .feature = "VXLAN (link kind \"vxlan\", CONFIG_VXLAN)",
  };
  return k;
}

}  // namespace vnet::topology
