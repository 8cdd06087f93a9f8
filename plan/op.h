// The operations a plan is made of. One flat struct with a kind tag rather than a variant
// of twenty types: every op needs the same handful of things (namespace, object, source
// location, undo) and the codec, printer and executor switch on the kind once each.
//
// Links are addressed by ifindex. For links the plan creates, the planner chooses the
// ifindex (free in every namespace involved), so one batch can create a link and then
// configure it without a round trip (facts.md). Taps are the exception: /dev/net/tun picks
// their index, and the executor remaps the planned one to the real one.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "plan/state.h"

namespace vnet::plan {

enum class OpKind {
  kCreateNetns,
  kDeleteNetns,
  kCreateLink,  // bridge, veth, vlan, macvlan (RTM_NEWLINK) or tap (/dev/net/tun)
  kDeleteLink,
  kMoveLink,    // IFLA_NET_NS_FD to `to_ns`
  kMark,        // IFLA_IFALIAS (ownership mark; adopt)
  kSetLink,     // mtu, mac, addrgenmode, a described kind's attributes (bridge, vxlan...)
  kSetTap,      // tap owner/group (TUNSETOWNER/TUNSETGROUP)
  kSetMaster,   // 0 = release
  kSetVlans,    // bridge VLAN entries of a port, or of the bridge itself (self)
  kAddAddress,
  kDelAddress,
  kAddRoute,    // a route through the link (`route`)
  kDelRoute,
  kSetUp,       // up or down
};

// Everything needed to create a link (also to re-create one when undoing a delete).
struct LinkSpec {
  std::string kind;  // "bridge", "veth", "tun", or a described kind's info_kind
  std::string name;
  std::optional<uint32_t> mtu;
  std::optional<Mac> mac;
  std::string alias;  // mark, set right after the create in the same batch
  // veth
  std::string peer;
  std::string peer_ns;  // logical namespace of the peer; == op.ns when local
  int peer_ifindex = 0;
  std::optional<Mac> peer_mac;
  // a kind on a parent link (kLink): that link (ifindex in op.ns) and, when the link lives
  // elsewhere, the namespace it is moved to right after the create and mark (same batch).
  int parent = 0;
  std::string dest_ns;  // "" when it stays in op.ns... see has_dest
  bool has_dest = false;
  // tap: its owner and group as written, when names (for people; the ids are in `info`)
  std::string owner_name, group_name;
  // described kinds (topology/kind.h), the bridge's included: their attributes; a kLink
  // one is `parent`
  const topology::KindDesc* desc = nullptr;
  std::vector<std::pair<const topology::KindAttr*, topology::InfoValue>> info;
  // One of `info` by its key: its number, none when not sent. A tap's owner or group of
  // -1 (copied from a dump) is none too.
  std::optional<uint64_t> number(const char* key) const;
};

struct Op {
  OpKind kind = OpKind::kSetLink;
  std::string ns;      // logical namespace the op runs in ("" = target)
  std::string object;  // "bridge br0", "veth vb-dns (peer eth0)", for people
  std::string ifname;
  int ifindex = 0;

  LinkSpec spec;  // kCreateLink

  // kSetLink: only the fields that change
  std::optional<uint32_t> mtu;
  std::optional<Mac> mac;
  std::optional<uint8_t> addr_gen_mode;
  const topology::KindDesc* desc = nullptr;  // with `info`: attributes of a described kind
  std::vector<std::pair<const topology::KindAttr*, topology::InfoValue>> info;
  // kMark
  std::string alias;
  // kSetTap
  std::optional<uint32_t> owner, group;
  std::string owner_name, group_name;
  // kSetMaster
  int master = 0;
  std::string master_name;
  // kSetVlans: adds go first (moving the PVID), then deletes
  bool self = false;
  std::vector<VlanEntry> vlan_add, vlan_del;
  // addresses and routes (route.oif is the op's link; priority 0 = the kernel's default,
  // sent only when set)
  AddrState addr;
  RouteState route;
  // kMoveLink
  std::string to_ns;
  // kSetUp
  bool up = true;

  // kDeleteLink: the link joins IFLA_GROUP `delete_group` (a group no other link of the
  // namespace is in) and is deleted with the others by one RTM_DELLINK of that group: the
  // kernel then unregisters them in one batch instead of one wait per link. 0 = alone.
  uint32_t delete_group = 0;
  uint32_t old_group = 0;  // its group before, put back if the group delete fails

  std::string reason;  // why: recreation cause, "no longer declared", ...
  SourceLoc loc;
  bool undo_ignore_missing = false;  // in an undo list: ENODEV/ENOENT is success
  std::vector<Op> undo;  // run in order to revert this op (planner-computed)

  bool writes_netlink() const { return kind != OpKind::kCreateNetns && kind != OpKind::kDeleteNetns &&
                                       kind != OpKind::kSetTap &&
                                       !(kind == OpKind::kCreateLink && spec.kind == "tun"); }
  // One line for people: "create bridge br0", "set veth vb-dns mtu 1500 -> 9000".
  std::string describe() const;
};

const char* to_string(OpKind kind);

}  // namespace vnet::plan
