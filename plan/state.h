// What the kernel has: the actual-state model the planner diffs against. Plain data,
// filled by netlink/ (dump decoding) and by unit tests by hand. Namespaces are keyed by
// their logical name as written in host.toml ("" = the target namespace).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "topology/model.h"

namespace vnet::plan {

using topology::IpAddress;
using topology::Mac;
using topology::VlanEntry;

// IFLA_INET6_ADDR_GEN_MODE values (linux/if_link.h).
inline constexpr uint8_t kAddrGenEui64 = 0;
inline constexpr uint8_t kAddrGenNone = 1;

// The IFA_PROTO vnet puts on addresses it adds (0-3 are the kernel's: unspec, loopback,
// router advertisement, link-local; iproute2 names no others).
constexpr uint8_t kAddrProtoVnet = 0x76;  // 'v'
constexpr uint8_t kScopeLink = 253;        // RT_SCOPE_LINK

struct AddrState {
  IpAddress addr;
  uint8_t prefix = 0;
  uint8_t scope = 0;  // RT_SCOPE_UNIVERSE = 0, RT_SCOPE_LINK = 253, host = 254
  uint8_t proto = 0;  // IFA_PROTO: kAddrProtoVnet on addresses vnet added
  bool operator==(const AddrState& o) const { return addr == o.addr && prefix == o.prefix; }
  // The kernel's own (IPv6 autoconfiguration): link scope and not added by vnet.
  bool kernel_made() const { return scope == kScopeLink && proto != kAddrProtoVnet; }
  std::string str() const { return addr.str() + "/" + std::to_string(prefix); }
};

// The RTM_NEWROUTE protocol vnet puts on routes it adds (iproute2's rt_protos names 0-4
// and a dozen daemons' numbers; none is 0x76): only routes carrying it are vnet's to remove.
constexpr uint8_t kRouteProtoVnet = 0x76;  // 'v'

// A unicast route of the main table, other than those the kernel makes for addresses.
struct RouteState {
  IpAddress gateway;     // family 0: none (on-link)
  int oif = 0;
  uint32_t priority = 0;  // as the kernel keeps it (IPv6: 1024 when none was asked for)
  IpAddress dst;          // meaningful when dst_len > 0
  uint8_t dst_len = 0;    // 0: the default route
  uint8_t proto = 0;      // RTPROT_*, or kRouteProtoVnet
  int family = 0;         // AF_INET or AF_INET6

  int af() const { return family ? family : gateway.family ? gateway.family : dst.family; }
  // "10.2.0.0/16"; the default route as "0.0.0.0/0" or "::/0".
  std::string to_str() const;
  // Same destination (the kernel's key with the metric).
  bool same_dst(const RouteState& o) const {
    return af() == o.af() && dst_len == o.dst_len && (dst_len == 0 || dst == o.dst);
  }
};

struct LinkState {
  int ifindex = 0;
  std::string name;
  std::string kind;  // IFLA_INFO_KIND: "bridge", "veth", "tun", "vlan", ...; "" none
  std::string alias;
  uint32_t mtu = 0;
  Mac mac;
  bool up = false;  // IFF_UP
  int master = 0;
  int link = 0;            // IFLA_LINK: veth peer, a vlan's or macvlan's parent
  bool link_other_netns = false;  // IFLA_LINK_NETNSID present
  std::optional<uint8_t> addr_gen_mode;
  uint32_t group = 0;  // IFLA_GROUP
  // tun/tap (its owner, group, multi_queue and vnet_hdr are its kind's `info`)
  bool tun_tap = false;  // IFF_TAP (not IFF_TUN)
  bool tun_persist = false;
  // a described kind's attributes (topology/kind.h), the bridge's included, by their
  // IPv4/only attribute id; its kLink attribute is `link`
  std::map<uint16_t, topology::InfoValue> info;
  // One of them by its host.toml key: the kernel's value, none when it holds none (a
  // `feature` one it lacks reads 0).
  std::optional<topology::InfoValue> attr(const topology::KindAttr& a) const;
  std::optional<uint64_t> number(const char* key) const;
  void set_number(const char* key, uint64_t n);  // for importers and tests
  bool vlan_filtering() const { return number("vlan_filtering").value_or(0) != 0; }
  std::optional<uint16_t> default_pvid() const {  // none where vlan_filtering is off
    auto n = vlan_filtering() ? number("default_pvid") : std::nullopt;
    return n ? std::optional<uint16_t>(static_cast<uint16_t>(*n)) : std::nullopt;
  }
  bool stp() const { return number("stp").value_or(0) != 0; }
  // bridge VLAN entries (port or bridge itself); empty where the kernel has none
  std::vector<VlanEntry> vlans;
  std::vector<AddrState> addrs;
};

struct NetnsState {
  bool exists = true;
  std::map<int, LinkState> links;  // by ifindex
  std::vector<RouteState> routes;  // main table, without the kernel's prefix routes

  const LinkState* by_name(const std::string& name) const;
  const LinkState* by_index(int ifindex) const;
  int max_ifindex() const { return links.empty() ? 1 : links.rbegin()->first; }
};

struct Snapshot {
  std::map<std::string, NetnsState> netns;  // "" = target
  // Namespaces (logical names) that vnet created for this host earlier (/run/vnet record).
  std::set<std::string> created_netns;

  const NetnsState* find(const std::string& ns) const;
};

// "vnet:<host>": the IFLA_IFALIAS mark of owned links.
std::string owner_mark(const std::string& host_name);

}  // namespace vnet::plan
