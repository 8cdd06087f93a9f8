// Link kinds described as data. A kind is a table of its own attributes — the host.toml
// key, how the kernel carries it in IFLA_INFO_DATA, whether it changes in place — and
// every layer works from that table: the parser reads and range-checks the keys, the
// planner diffs them (recreating where the kernel cannot change one), the codec encodes
// and decodes them, the renderers name them. A new kind is one file in topology/kinds/
// and its line in kinds.cc and CMakeLists.txt (docs/architecture.md, "Adding a link kind").
//
// The bridge, the veth and the tap are described here too (topology/kinds/) but keep a
// struct of their own in model.h for what no table holds.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/error.h"

namespace vnet::topology {

struct KindLink;  // model.h

struct KindAttr {
  enum class Type {
    kU8,     // integer, one byte
    kU16,    // integer, host order
    kU32,    // integer, host order
    kPort,   // integer 1..65535, network order (be16)
    kBool,   // true/false as a number (u8 or u32: `bytes`)
    kEnum,   // a name from `names`, sent as its number (u8 or u32: `bytes`)
    kIp,     // an address: `nla` for IPv4, `nla6` for IPv6
    kLink,   // the name of another link (in the object's namespace or the target),
             // sent as its ifindex (u32); when that link goes, the kernel deletes this one
    kUser,   // a user name or uid, resolved on this machine when read; its id (u32, the
    kGroup,  // kernel's -1 = none), the name as written kept for people
  };
  const char* key;  // host.toml key
  Type type;
  // kLink: the lower device the link is created on, sent as the top-level IFLA_LINK (a
  // vlan's or macvlan's parent) rather than inside IFLA_INFO_DATA (a vxlan's `dev`)
  bool parent = false;
  uint16_t nla;       // attribute in IFLA_INFO_DATA
  uint16_t nla6 = 0;  // kIp: the IPv6 attribute
  int64_t lo = 0, hi = 0;             // integers: accepted range
  std::optional<uint64_t> fallback{};  // sent on create when unwritten ("default" in docs)
  std::vector<std::pair<const char*, uint32_t>> names{};  // kEnum
  uint8_t bytes = 1;  // kBool, kEnum: width on the wire
  bool in_place = false;  // the kernel changes it on an existing link (else: recreate)
  // A switch a kernel may be built without (a bridge's vlan_filtering), named for the
  // message when it is: such a kernel refuses even the value that turns it off and dumps
  // nothing. A create sends it only when on, and a dump without it reads off.
  const char* feature = nullptr;
  // The key of a kBool attribute of the same kind that must be on for this one to be
  // sent and compared (a bridge's default_pvid means something only with vlan_filtering).
  const char* only_with = nullptr;
  bool required = false;
  const char* networkd = "";  // the .netdev key that carries it, for render
  // Appended to the number in that key where networkd's unit differs from the kernel's
  // (a bond's miimon is milliseconds, networkd's MIIMonitorSec= a time span: "100ms").
  const char* networkd_unit = "";
  const char* what = nullptr;  // in messages ("vlan id"); the key when null
};

// Reports what the table alone cannot check: relations between a kind's own keys.
struct KindCheck {
  std::vector<std::pair<SourceLoc, std::string>> errors;
  void error(const SourceLoc& at, std::string what) { errors.emplace_back(at, std::move(what)); }
};

struct KindDesc {
  const char* table;      // "vxlans": [vxlans.NAME]
  const char* word;       // "vxlan": in messages and plans
  const char* info_kind;  // IFLA_INFO_KIND
  std::vector<KindAttr> attrs;
  bool port = true;       // may be a bridge port (bridge, pvid, tagged)
  void (*check)(const KindLink&, KindCheck&) = nullptr;
  const char* networkd_kind = "";  // .netdev [NetDev] Kind=
  const char* networkd_section = "";  // .netdev section of the attributes ("VXLAN")
  // networkd attaches the link to the one it sits on (a kLink attribute) or enslaves its
  // members from *their* .network: the [Network] key naming it there ("VLAN", "Bond").
  const char* networkd_attach = "";
  // The [section] key set to "yes" when no kLink attribute is written (a vxlan without
  // `dev`: Independent=yes, or networkd never creates it).
  const char* networkd_unattached = "";
  // Keys the section always carries: where networkd's default differs from the kernel's
  // and vnet leaves the kernel's (a vxlan: networkd sends UDPChecksum=no, the kernel's
  // default for a new vxlan is yes).
  std::vector<std::pair<const char*, const char*>> networkd_fixed{};
  // The key listing existing links it takes as members (slaves: IFLA_MASTER of each),
  // null when the kind has none. They are expanded into [links] entries (model.h Link).
  const char* members_key = nullptr;
  // The kernel feature that creates it, for the message when the kernel lacks it.
  const char* feature = "";
  // Where it sorts among links created in one namespace (bridges 0, veths 1, taps 4):
  // a kind that other kinds are stacked on comes first.
  int rank = 5;
  // An attribute whose value is unique among links of this kind on one parent (a vlan's
  // id): the kernel refuses a second with EEXIST.
  const char* unique_per_parent = nullptr;
  // An attribute naming a VLAN that a VLAN-filtering bridge parent must carry tagged on
  // itself ("self"), or the link receives nothing (a vlan's id).
  const char* bridge_self_vlan = nullptr;
  // False where the kernel refuses it on a bridge port (a macvlan: EBUSY, both want the
  // port's receive hook).
  bool on_bridge_port = true;
  // Made through /dev/net/tun (TUNSETIFF with its attributes as flags, TUNSETOWNER and
  // TUNSETGROUP for the in-place ones) rather than RTM_NEWLINK: the tun driver has no
  // rtnetlink create or change. Its dump is read like any other.
  bool tun_device = false;

  int index_of(const char* key) const;  // position in attrs, -1 if none
  const KindAttr* parent_attr() const;  // the kLink attribute sent as IFLA_LINK, if any
  // The optional kernel feature setting `a` needs (its own, or that of its only_with).
  const char* feature_of(const KindAttr& a) const;
};

// Every kind described by a table and kept as a KindLink, in dependency order (a kind may
// reference links of the kinds before it and of the older kinds).
const std::vector<const KindDesc*>& kinds();
// The kinds with a struct of their own in model.h (a KindLink) for what no table holds:
// [bridges.X] (its own VLANs, its ports), [veths.X] (its peer), [taps.X] (the names of
// its owner and group).
const KindDesc& bridge_kind();
const KindDesc& veth_kind();
const KindDesc& tap_kind();
// Any described kind by IFLA_INFO_KIND, the bridge included.
const KindDesc* kind_by_info(const std::string& info_kind);

}  // namespace vnet::topology
