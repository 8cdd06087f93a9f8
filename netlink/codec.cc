// rtnetlink encoding and decoding (codec.h). Wire formats follow iproute2
// (ip/iplink.c, ip/iplink_bridge.c, bridge/vlan.c, ip/ipaddress.c, ip/iproute.c).
#include "netlink/codec.h"

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <linux/if_addr.h>
#include <linux/if_bridge.h>
#include <linux/if_link.h>
#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cstring>

namespace vnet::netlink {
namespace {

using plan::Op;
using plan::OpKind;

// One message, built in a buffer that grows with it (a port's VLAN list or a long name
// list can take more than any fixed size), then appended to the batch. Nests are
// offsets, not pointers, because the buffer moves when it grows.
class Msg {
 public:
  struct Nest {
    size_t off;
  };
  Msg(uint16_t type, uint16_t flags, uint32_t seq) : buf_(kInitial) {
    nlmsghdr* h = mnl_nlmsg_put_header(buf_.data());
    h->nlmsg_type = type;
    h->nlmsg_flags = NLM_F_REQUEST | flags;
    h->nlmsg_seq = seq;
  }
  nlmsghdr* nlh() { return reinterpret_cast<nlmsghdr*>(buf_.data()); }
  template <class T>
  T* header() {
    reserve(MNL_ALIGN(sizeof(T)));
    return static_cast<T*>(mnl_nlmsg_put_extra_header(nlh(), sizeof(T)));
  }
  void str(uint16_t type, const std::string& s) { bytes(type, s.c_str(), s.size() + 1); }
  void u8(uint16_t type, uint8_t v) { bytes(type, &v, sizeof v); }
  void u16(uint16_t type, uint16_t v) { bytes(type, &v, sizeof v); }
  void u32(uint16_t type, uint32_t v) { bytes(type, &v, sizeof v); }
  void bytes(uint16_t type, const void* p, size_t n) {
    reserve(MNL_ATTR_HDRLEN + MNL_ALIGN(n));
    mnl_attr_put(nlh(), type, n, p);
  }
  Nest nest(uint16_t type) {
    reserve(MNL_ATTR_HDRLEN);
    auto* at = reinterpret_cast<uint8_t*>(mnl_attr_nest_start(nlh(), type));
    return {static_cast<size_t>(at - buf_.data())};
  }
  void end(Nest n) { mnl_attr_nest_end(nlh(), reinterpret_cast<nlattr*>(buf_.data() + n.off)); }
  void append_to(std::vector<uint8_t>& out) {
    out.insert(out.end(), buf_.begin(), buf_.begin() + nlh()->nlmsg_len);
  }

 private:
  static constexpr size_t kInitial = 1024;
  // Room for `more` bytes after the message's current end (libmnl writes unchecked).
  void reserve(size_t more) {
    size_t need = nlh()->nlmsg_len + more;
    if (need > buf_.size()) buf_.resize(std::max(need, 2 * buf_.size()));
  }
  std::vector<uint8_t> buf_;  // operator new's alignment suits nlmsghdr and nlattr
};

ifinfomsg* link_header(Msg& m, int ifindex, uint8_t family = AF_UNSPEC) {
  auto* ifi = m.header<ifinfomsg>();
  ifi->ifi_family = family;
  ifi->ifi_index = ifindex;
  return ifi;
}

void put_mac(Msg& m, uint16_t type, const plan::Mac& mac) {
  m.bytes(type, mac.bytes.data(), mac.bytes.size());
}

size_t addr_len(int family) { return family == AF_INET6 ? 16 : 4; }

// The VLAN entries as IFLA_BRIDGE_VLAN_INFO attributes; consecutive vids with the same
// flags (and no PVID) become RANGE_BEGIN/RANGE_END pairs, as `bridge vlan add vid A-B`.
// VLAN entries per RTM_SETLINK/RTM_DELLINK: a message stays a few KiB whatever a port
// holds, well inside the socket's send buffer with a whole batch around it.
constexpr size_t kVlansPerMsg = 512;

void put_vlans(Msg& m, const std::vector<plan::VlanEntry>& entries, bool self) {
  auto spec = m.nest(IFLA_AF_SPEC);
  if (self) m.u16(IFLA_BRIDGE_FLAGS, BRIDGE_FLAGS_SELF);
  std::vector<plan::VlanEntry> v = entries;
  std::sort(v.begin(), v.end());
  for (size_t i = 0; i < v.size();) {
    uint16_t flags = (v[i].pvid ? BRIDGE_VLAN_INFO_PVID : 0) |
                     (v[i].untagged ? BRIDGE_VLAN_INFO_UNTAGGED : 0);
    size_t j = i;
    if (!v[i].pvid)
      while (j + 1 < v.size() && v[j + 1].vid == v[j].vid + 1 && !v[j + 1].pvid &&
             v[j + 1].untagged == v[i].untagged)
        ++j;
    if (j == i) {
      bridge_vlan_info info{flags, v[i].vid};
      m.bytes(IFLA_BRIDGE_VLAN_INFO, &info, sizeof info);
    } else {
      bridge_vlan_info b{static_cast<uint16_t>(flags | BRIDGE_VLAN_INFO_RANGE_BEGIN), v[i].vid};
      bridge_vlan_info e{static_cast<uint16_t>(flags | BRIDGE_VLAN_INFO_RANGE_END), v[j].vid};
      m.bytes(IFLA_BRIDGE_VLAN_INFO, &b, sizeof b);
      m.bytes(IFLA_BRIDGE_VLAN_INFO, &e, sizeof e);
    }
    i = j + 1;
  }
  m.end(spec);
}

// One attribute of a described kind (topology/kind.h) into IFLA_INFO_DATA.
void put_info(Msg& m, const topology::KindAttr& a, const topology::InfoValue& v) {
  using T = topology::KindAttr::Type;
  switch (a.type) {
    case T::kU8: m.u8(a.nla, static_cast<uint8_t>(v.number)); break;
    case T::kBool:
    case T::kEnum:
      if (a.bytes == 4) m.u32(a.nla, static_cast<uint32_t>(v.number));
      else m.u8(a.nla, static_cast<uint8_t>(v.number));
      break;
    case T::kU16: m.u16(a.nla, static_cast<uint16_t>(v.number)); break;
    case T::kU32:
    case T::kUser:
    case T::kGroup: m.u32(a.nla, static_cast<uint32_t>(v.number)); break;
    case T::kPort: m.u16(a.nla, htons(static_cast<uint16_t>(v.number))); break;
    case T::kIp:
      m.bytes(v.ip.family == AF_INET6 ? a.nla6 : a.nla, v.ip.bytes.data(), addr_len(v.ip.family));
      break;
    case T::kLink: break;  // the link's ifindex: the caller's
  }
}

void encode_create(const Op& op, const EncodeContext& ctx, std::vector<uint8_t>& out,
                   uint32_t& seq, size_t& n) {
  const plan::LinkSpec& s = op.spec;
  int index = ctx.ifindex(op.ifindex);
  if (s.kind != "tun") {
    Msg m(RTM_NEWLINK, NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, seq++);
    link_header(m, index);
    m.str(IFLA_IFNAME, s.name);
    if (s.mtu) m.u32(IFLA_MTU, *s.mtu);
    if (s.mac) put_mac(m, IFLA_ADDRESS, *s.mac);
    if (s.desc && s.desc->parent_attr() && s.parent) m.u32(IFLA_LINK, ctx.ifindex(s.parent));
    auto info = m.nest(IFLA_LINKINFO);
    m.str(IFLA_INFO_KIND, s.kind);
    auto data = m.nest(IFLA_INFO_DATA);
    if (s.kind == "veth") {
      auto peer = m.nest(VETH_INFO_PEER);
      auto* pifi = m.header<ifinfomsg>();
      pifi->ifi_family = AF_UNSPEC;
      pifi->ifi_index = s.peer_ifindex ? ctx.ifindex(s.peer_ifindex) : 0;
      m.str(IFLA_IFNAME, s.peer);
      if (s.mtu) m.u32(IFLA_MTU, *s.mtu);
      if (s.peer_mac) put_mac(m, IFLA_ADDRESS, *s.peer_mac);
      if (s.peer_ns != op.ns) m.u32(IFLA_NET_NS_FD, static_cast<uint32_t>(ctx.netns_fd(s.peer_ns)));
      m.end(peer);
    } else if (s.desc) {
      for (const auto& [attr, value] : s.info)
        if (!(attr->feature && value.number == 0)) put_info(m, *attr, value);
      for (const topology::KindAttr& a : s.desc->attrs)
        if (a.type == topology::KindAttr::Type::kLink && !a.parent && s.parent)
          m.u32(a.nla, static_cast<uint32_t>(ctx.ifindex(s.parent)));
    }
    m.end(data);
    m.end(info);
    m.append_to(out);
    ++n;
  }
  // TUNSETIFF takes neither MTU nor MAC: a tap gets them in the SETLINK after it
  bool tap_settings = s.kind == "tun" && (s.mtu || s.mac);
  if (!s.alias.empty() || tap_settings) {
    // the mark: RTM_NEWLINK ignores IFLA_IFALIAS (facts.md), so a SETLINK right after
    Msg m(RTM_SETLINK, NLM_F_ACK, seq++);
    link_header(m, index);
    if (!s.alias.empty()) m.str(IFLA_IFALIAS, s.alias);
    if (tap_settings && s.mtu) m.u32(IFLA_MTU, *s.mtu);
    if (tap_settings && s.mac) put_mac(m, IFLA_ADDRESS, *s.mac);
    m.append_to(out);
    ++n;
  }
  if (s.has_dest) {
    Msg m(RTM_SETLINK, NLM_F_ACK, seq++);
    link_header(m, index);
    m.u32(IFLA_NET_NS_FD, static_cast<uint32_t>(ctx.netns_fd(s.dest_ns)));
    m.append_to(out);
    ++n;
  }
}

void encode_addr(const Op& op, int index, uint16_t type, uint16_t flags, std::vector<uint8_t>& out,
                 uint32_t seq) {
  Msg m(type, NLM_F_ACK | flags, seq);
  auto* ifa = m.header<ifaddrmsg>();
  ifa->ifa_family = static_cast<uint8_t>(op.addr.addr.family);
  ifa->ifa_prefixlen = op.addr.prefix;
  ifa->ifa_scope = RT_SCOPE_UNIVERSE;
  ifa->ifa_index = static_cast<uint32_t>(index);
  size_t len = addr_len(op.addr.addr.family);
  m.bytes(IFA_LOCAL, op.addr.addr.bytes.data(), len);
  m.bytes(IFA_ADDRESS, op.addr.addr.bytes.data(), len);
  // vnet's addresses carry its protocol number: a link-scope one it added is told apart
  // from the kernel's own link-local address when the file no longer declares it
  if (type == RTM_NEWADDR) m.u8(IFA_PROTO, plan::kAddrProtoVnet);
  m.append_to(out);
}

void encode_route(const Op& op, int index, bool add, std::vector<uint8_t>& out, uint32_t seq) {
  const plan::RouteState& r = op.route;
  Msg m(add ? RTM_NEWROUTE : RTM_DELROUTE, NLM_F_ACK | (add ? NLM_F_CREATE | NLM_F_EXCL : 0), seq);
  auto* rt = m.header<rtmsg>();
  int family = r.af();
  rt->rtm_family = static_cast<uint8_t>(family);
  rt->rtm_dst_len = r.dst_len;
  rt->rtm_table = RT_TABLE_MAIN;
  rt->rtm_protocol = add ? r.proto : 0;
  // as iproute2 does: IPv4 routes without a next hop are on-link (scope link)
  rt->rtm_scope = !add ? RT_SCOPE_NOWHERE
                  : family == AF_INET && !r.gateway.family ? RT_SCOPE_LINK
                                                           : RT_SCOPE_UNIVERSE;
  rt->rtm_type = add ? RTN_UNICAST : 0;
  if (r.dst_len) m.bytes(RTA_DST, r.dst.bytes.data(), addr_len(family));
  if (r.gateway.family) m.bytes(RTA_GATEWAY, r.gateway.bytes.data(), addr_len(family));
  m.u32(RTA_OIF, static_cast<uint32_t>(index));
  if (r.priority) m.u32(RTA_PRIORITY, r.priority);
  m.append_to(out);
}

}  // namespace

void encode_group_delete(uint32_t group, std::vector<uint8_t>& out, uint32_t& seq) {
  Msg m(RTM_DELLINK, NLM_F_ACK, seq++);
  link_header(m, 0);
  m.u32(IFLA_GROUP, group);
  m.append_to(out);
}

void encode_set_group(int ifindex, uint32_t group, std::vector<uint8_t>& out, uint32_t& seq) {
  Msg m(RTM_SETLINK, NLM_F_ACK, seq++);
  link_header(m, ifindex);
  m.u32(IFLA_GROUP, group);
  m.append_to(out);
}

size_t encode(const Op& op, const EncodeContext& ctx, std::vector<uint8_t>& out, uint32_t& seq) {
  size_t n = 0;
  int index = ctx.ifindex(op.ifindex);
  switch (op.kind) {
    case OpKind::kCreateNetns:
    case OpKind::kDeleteNetns:
    case OpKind::kSetTap:
      return 0;
    case OpKind::kCreateLink:
      encode_create(op, ctx, out, seq, n);
      return n;
    case OpKind::kDeleteLink: {
      // grouped: only the join here; encode_group_delete deletes the group
      Msg m(op.delete_group ? RTM_SETLINK : RTM_DELLINK, NLM_F_ACK, seq++);
      link_header(m, index);
      if (op.delete_group) m.u32(IFLA_GROUP, op.delete_group);
      m.append_to(out);
      return 1;
    }
    case OpKind::kMoveLink: {
      Msg m(RTM_SETLINK, NLM_F_ACK, seq++);
      link_header(m, index);
      m.u32(IFLA_NET_NS_FD, static_cast<uint32_t>(ctx.netns_fd(op.to_ns)));
      m.append_to(out);
      return 1;
    }
    case OpKind::kMark: {
      Msg m(RTM_SETLINK, NLM_F_ACK, seq++);
      link_header(m, index);
      m.str(IFLA_IFALIAS, op.alias);
      m.append_to(out);
      return 1;
    }
    case OpKind::kSetLink: {
      if (op.mtu || op.mac || op.addr_gen_mode) {
        Msg m(RTM_SETLINK, NLM_F_ACK, seq++);
        link_header(m, index);
        if (op.mtu) m.u32(IFLA_MTU, *op.mtu);
        if (op.mac) put_mac(m, IFLA_ADDRESS, *op.mac);
        if (op.addr_gen_mode) {
          auto spec = m.nest(IFLA_AF_SPEC);
          auto in6 = m.nest(AF_INET6);
          m.u8(IFLA_INET6_ADDR_GEN_MODE, *op.addr_gen_mode);
          m.end(in6);
          m.end(spec);
        }
        m.append_to(out);
        ++n;
      }
      if (op.desc && !op.info.empty()) {
        // kind options change through RTM_NEWLINK on the existing link (changelink)
        Msg m(RTM_NEWLINK, NLM_F_ACK, seq++);
        link_header(m, index);
        auto info = m.nest(IFLA_LINKINFO);
        m.str(IFLA_INFO_KIND, op.desc->info_kind);
        auto data = m.nest(IFLA_INFO_DATA);
        for (const auto& [attr, value] : op.info) put_info(m, *attr, value);
        m.end(data);
        m.end(info);
        m.append_to(out);
        ++n;
      }
      return n;
    }
    case OpKind::kSetMaster: {
      Msg m(RTM_SETLINK, NLM_F_ACK, seq++);
      link_header(m, index);
      m.u32(IFLA_MASTER, static_cast<uint32_t>(op.master ? ctx.ifindex(op.master) : 0));
      m.append_to(out);
      return 1;
    }
    case OpKind::kSetVlans: {
      // Adds (every chunk) before deletes, so the PVID moves before the old one goes; a
      // trunk of 2047 scattered VLANs is 16 KiB of attributes, sent as four messages.
      for (auto [list, type] : {std::pair{&op.vlan_add, RTM_SETLINK}, std::pair{&op.vlan_del, RTM_DELLINK}}) {
        for (size_t from = 0; from < list->size(); from += kVlansPerMsg) {
          Msg m(type, NLM_F_ACK, seq++);
          link_header(m, index, AF_BRIDGE);
          size_t to = std::min(list->size(), from + kVlansPerMsg);
          put_vlans(m, {list->begin() + from, list->begin() + to}, op.self);
          m.append_to(out);
          ++n;
        }
      }
      return n;
    }
    case OpKind::kAddAddress:
      encode_addr(op, index, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, out, seq++);
      return 1;
    case OpKind::kDelAddress:
      encode_addr(op, index, RTM_DELADDR, 0, out, seq++);
      return 1;
    case OpKind::kAddRoute:
      encode_route(op, index, true, out, seq++);
      return 1;
    case OpKind::kDelRoute:
      encode_route(op, index, false, out, seq++);
      return 1;
    case OpKind::kSetUp: {
      Msg m(RTM_SETLINK, NLM_F_ACK, seq++);
      auto* ifi = link_header(m, index);
      ifi->ifi_flags = op.up ? IFF_UP : 0;
      ifi->ifi_change = IFF_UP;
      m.append_to(out);
      return 1;
    }
  }
  return 0;
}

std::vector<uint8_t> dump_request(DumpKind kind, uint32_t seq) {
  std::vector<uint8_t> out;
  switch (kind) {
    case DumpKind::kLinks: {
      Msg m(RTM_GETLINK, NLM_F_DUMP, seq);
      link_header(m, 0);
      m.u32(IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
      m.append_to(out);
      break;
    }
    case DumpKind::kBridgeVlans: {
      Msg m(RTM_GETLINK, NLM_F_DUMP, seq);
      link_header(m, 0, AF_BRIDGE);
      m.u32(IFLA_EXT_MASK, RTEXT_FILTER_BRVLAN);
      m.append_to(out);
      break;
    }
    case DumpKind::kAddrs: {
      Msg m(RTM_GETADDR, NLM_F_DUMP, seq);
      m.header<ifaddrmsg>()->ifa_family = AF_UNSPEC;
      m.append_to(out);
      break;
    }
    case DumpKind::kRoutes: {
      // only the main table (strict checking filters on rtm_table); IPv6 keeps a
      // multicast and a link-local route per link in other tables otherwise
      Msg m(RTM_GETROUTE, NLM_F_DUMP, seq);
      auto* rt = m.header<rtmsg>();
      rt->rtm_family = AF_UNSPEC;
      rt->rtm_table = RT_TABLE_MAIN;
      m.append_to(out);
      break;
    }
  }
  return out;
}

namespace {

struct Attrs {
  std::array<const nlattr*, 128> a{};
  const nlattr* operator[](size_t i) const { return i < a.size() ? a[i] : nullptr; }
};

int collect_cb(const nlattr* attr, void* data) {
  auto* t = static_cast<Attrs*>(data);
  uint16_t type = mnl_attr_get_type(attr);
  if (type < t->a.size()) t->a[type] = attr;
  return MNL_CB_OK;
}

Attrs parse(const nlmsghdr* nlh, size_t header) {
  Attrs t;
  mnl_attr_parse(nlh, header, collect_cb, &t);
  return t;
}
Attrs parse_nested(const nlattr* nest) {
  Attrs t;
  if (nest) mnl_attr_parse_nested(nest, collect_cb, &t);
  return t;
}

std::string attr_str(const nlattr* a) {
  if (!a) return "";
  const char* p = static_cast<const char*>(mnl_attr_get_payload(a));
  size_t n = mnl_attr_get_payload_len(a);
  return std::string(p, strnlen(p, n));
}

plan::Mac attr_mac(const nlattr* a) {
  plan::Mac m;
  if (a && mnl_attr_get_payload_len(a) == 6) memcpy(m.bytes.data(), mnl_attr_get_payload(a), 6);
  return m;
}

bool attr_ip(const nlattr* a, int family, plan::IpAddress& out) {
  if (!a) return false;
  size_t len = addr_len(family);
  if (mnl_attr_get_payload_len(a) != len) return false;
  out.family = family;
  out.bytes.fill(0);
  memcpy(out.bytes.data(), mnl_attr_get_payload(a), len);
  return true;
}

// The attributes of a described kind (topology/kind.h) out of IFLA_INFO_DATA.
void decode_info(const topology::KindDesc& k, const Attrs& d, plan::LinkState& l) {
  using T = topology::KindAttr::Type;
  for (const topology::KindAttr& a : k.attrs) {
    const nlattr* at = d[a.nla];
    if (a.type == T::kIp && !at && a.nla6) at = d[a.nla6];
    if (!at) continue;
    topology::InfoValue v;
    size_t len = mnl_attr_get_payload_len(at);
    switch (a.type) {
      case T::kLink:
        // the kernel deletes this link with its lower one: it is a dependent, like a vlan
        // (whose parent, a top-level IFLA_LINK, is read with the link itself)
        if (!a.parent && len == 4) l.link = static_cast<int>(mnl_attr_get_u32(at));
        continue;
      case T::kIp:
        if (!attr_ip(at, at == d[a.nla] ? AF_INET : AF_INET6, v.ip)) continue;
        break;
      case T::kPort:
        if (len != 2) continue;
        v.number = ntohs(mnl_attr_get_u16(at));
        break;
      default:
        if (len == 1) v.number = mnl_attr_get_u8(at);
        else if (len == 2) v.number = mnl_attr_get_u16(at);
        else if (len == 4) v.number = mnl_attr_get_u32(at);
        else continue;
    }
    l.info[a.nla] = v;
  }
}

void decode_link(const nlmsghdr* nlh, plan::NetnsState& ns) {
  const auto* ifi = static_cast<const ifinfomsg*>(mnl_nlmsg_get_payload(nlh));
  Attrs t = parse(nlh, sizeof(ifinfomsg));
  plan::LinkState l;
  l.ifindex = ifi->ifi_index;
  l.up = (ifi->ifi_flags & IFF_UP) != 0;
  l.name = attr_str(t[IFLA_IFNAME]);
  l.alias = attr_str(t[IFLA_IFALIAS]);
  if (t[IFLA_MTU]) l.mtu = mnl_attr_get_u32(t[IFLA_MTU]);
  if (t[IFLA_GROUP]) l.group = mnl_attr_get_u32(t[IFLA_GROUP]);
  l.mac = attr_mac(t[IFLA_ADDRESS]);
  if (t[IFLA_MASTER]) l.master = static_cast<int>(mnl_attr_get_u32(t[IFLA_MASTER]));
  if (t[IFLA_LINK]) l.link = static_cast<int>(mnl_attr_get_u32(t[IFLA_LINK]));
  l.link_other_netns = t[IFLA_LINK_NETNSID] != nullptr;
  if (t[IFLA_AF_SPEC]) {
    Attrs spec = parse_nested(t[IFLA_AF_SPEC]);
    if (spec[AF_INET6]) {
      Attrs in6 = parse_nested(spec[AF_INET6]);
      if (in6[IFLA_INET6_ADDR_GEN_MODE]) l.addr_gen_mode = mnl_attr_get_u8(in6[IFLA_INET6_ADDR_GEN_MODE]);
    }
  }
  if (t[IFLA_LINKINFO]) {
    Attrs info = parse_nested(t[IFLA_LINKINFO]);
    l.kind = attr_str(info[IFLA_INFO_KIND]);
    Attrs d = parse_nested(info[IFLA_INFO_DATA]);
    if (const topology::KindDesc* k = topology::kind_by_info(l.kind)) {
      decode_info(*k, d, l);
    }
    // what a tun device is, beside its kind's attributes
    if (l.kind == "tun") {
      if (d[IFLA_TUN_TYPE]) l.tun_tap = mnl_attr_get_u8(d[IFLA_TUN_TYPE]) == IFF_TAP;
      if (d[IFLA_TUN_PERSIST]) l.tun_persist = mnl_attr_get_u8(d[IFLA_TUN_PERSIST]) != 0;
    }
  }
  auto it = ns.links.find(l.ifindex);
  if (it != ns.links.end()) {  // keep what other dumps attached
    l.vlans = std::move(it->second.vlans);
    l.addrs = std::move(it->second.addrs);
  }
  ns.links[l.ifindex] = std::move(l);
}

void decode_bridge_vlans(const nlmsghdr* nlh, plan::NetnsState& ns) {
  const auto* ifi = static_cast<const ifinfomsg*>(mnl_nlmsg_get_payload(nlh));
  auto it = ns.links.find(ifi->ifi_index);
  if (it == ns.links.end()) return;
  Attrs t = parse(nlh, sizeof(ifinfomsg));
  if (!t[IFLA_AF_SPEC]) return;
  std::vector<plan::VlanEntry> v;
  uint16_t range_start = 0;
  const nlattr* nest = t[IFLA_AF_SPEC];
  const auto* a = static_cast<const nlattr*>(mnl_attr_get_payload(nest));
  for (; mnl_attr_ok(a, static_cast<int>(reinterpret_cast<const char*>(mnl_attr_get_payload(nest)) +
                                          mnl_attr_get_payload_len(nest) -
                                          reinterpret_cast<const char*>(a)));
       a = mnl_attr_next(a)) {
    if (mnl_attr_get_type(a) != IFLA_BRIDGE_VLAN_INFO) continue;
    if (mnl_attr_get_payload_len(a) < sizeof(bridge_vlan_info)) continue;
    bridge_vlan_info info;
    memcpy(&info, mnl_attr_get_payload(a), sizeof info);
    bool pvid = info.flags & BRIDGE_VLAN_INFO_PVID;
    bool untagged = info.flags & BRIDGE_VLAN_INFO_UNTAGGED;
    if (info.flags & BRIDGE_VLAN_INFO_RANGE_BEGIN) {
      range_start = info.vid;
      continue;
    }
    if (info.flags & BRIDGE_VLAN_INFO_RANGE_END) {
      for (uint32_t vid = range_start; vid <= info.vid; ++vid)
        v.push_back({static_cast<uint16_t>(vid), false, untagged});
      continue;
    }
    v.push_back({info.vid, pvid, untagged});
  }
  std::sort(v.begin(), v.end());
  it->second.vlans = std::move(v);
}

void decode_addr(const nlmsghdr* nlh, plan::NetnsState& ns) {
  const auto* ifa = static_cast<const ifaddrmsg*>(mnl_nlmsg_get_payload(nlh));
  auto it = ns.links.find(static_cast<int>(ifa->ifa_index));
  if (it == ns.links.end()) return;
  Attrs t = parse(nlh, sizeof(ifaddrmsg));
  plan::AddrState a;
  a.prefix = ifa->ifa_prefixlen;
  a.scope = ifa->ifa_scope;
  if (t[IFA_PROTO]) a.proto = mnl_attr_get_u8(t[IFA_PROTO]);
  const nlattr* src = t[IFA_LOCAL] ? t[IFA_LOCAL] : t[IFA_ADDRESS];
  if (!attr_ip(src, ifa->ifa_family, a.addr)) return;
  it->second.addrs.push_back(a);
}

void decode_route(const nlmsghdr* nlh, plan::NetnsState& ns) {
  const auto* rt = static_cast<const rtmsg*>(mnl_nlmsg_get_payload(nlh));
  if (rt->rtm_type != RTN_UNICAST) return;
  if (rt->rtm_family != AF_INET && rt->rtm_family != AF_INET6) return;
  Attrs t = parse(nlh, sizeof(rtmsg));
  // The routes the kernel makes for addresses and links come and go with them; they have
  // no gateway. A gateway route marked "kernel" was added so by a tool (ifupdown2's
  // default route is) and is as real as any other: a declared twin must not be added.
  if (rt->rtm_protocol == RTPROT_KERNEL && !t[RTA_GATEWAY]) return;
  uint32_t table = t[RTA_TABLE] ? mnl_attr_get_u32(t[RTA_TABLE]) : rt->rtm_table;
  if (table != RT_TABLE_MAIN) return;
  plan::RouteState r;
  r.family = rt->rtm_family;
  r.dst.family = rt->rtm_family;
  r.dst_len = rt->rtm_dst_len;
  r.proto = rt->rtm_protocol;
  if (r.dst_len && !attr_ip(t[RTA_DST], rt->rtm_family, r.dst)) return;
  if (t[RTA_GATEWAY] && !attr_ip(t[RTA_GATEWAY], rt->rtm_family, r.gateway)) return;
  if (t[RTA_OIF]) r.oif = static_cast<int>(mnl_attr_get_u32(t[RTA_OIF]));
  if (t[RTA_PRIORITY]) r.priority = mnl_attr_get_u32(t[RTA_PRIORITY]);
  ns.routes.push_back(r);
}

}  // namespace

Status decode_dump(DumpKind kind, std::span<const uint8_t> bytes, plan::NetnsState& ns) {
  const auto* nlh = reinterpret_cast<const nlmsghdr*>(bytes.data());
  int len = static_cast<int>(bytes.size());
  while (mnl_nlmsg_ok(nlh, len)) {
    if (nlh->nlmsg_type == NLMSG_DONE) break;
    if (nlh->nlmsg_type == NLMSG_ERROR) {
      const auto* err = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(nlh));
      if (err->error != 0) return fail("netlink dump failed", -err->error, ExitCode::kEnvironment);
    } else {
      switch (kind) {
        case DumpKind::kLinks:
          if (nlh->nlmsg_type == RTM_NEWLINK) decode_link(nlh, ns);
          break;
        case DumpKind::kBridgeVlans:
          if (nlh->nlmsg_type == RTM_NEWLINK) decode_bridge_vlans(nlh, ns);
          break;
        case DumpKind::kAddrs:
          if (nlh->nlmsg_type == RTM_NEWADDR) decode_addr(nlh, ns);
          break;
        case DumpKind::kRoutes:
          if (nlh->nlmsg_type == RTM_NEWROUTE) decode_route(nlh, ns);
          break;
      }
    }
    nlh = mnl_nlmsg_next(nlh, &len);
  }
  return {};
}

Status decode_acks(std::span<const uint8_t> bytes, std::vector<Ack>& acks) {
  const auto* nlh = reinterpret_cast<const nlmsghdr*>(bytes.data());
  int len = static_cast<int>(bytes.size());
  while (mnl_nlmsg_ok(nlh, len)) {
    if (nlh->nlmsg_type == NLMSG_ERROR) {
      const auto* err = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(nlh));
      Ack ack;
      ack.seq = nlh->nlmsg_seq;
      ack.error = -err->error;
      if (nlh->nlmsg_flags & NLM_F_ACK_TLVS) {
        size_t off = sizeof(nlmsgerr);
        if (!(nlh->nlmsg_flags & NLM_F_CAPPED) && err->error != 0)
          off += err->msg.nlmsg_len - sizeof(nlmsghdr);
        const auto* base = static_cast<const uint8_t*>(mnl_nlmsg_get_payload(nlh));
        size_t total = nlh->nlmsg_len - MNL_NLMSG_HDRLEN;
        const auto* a = reinterpret_cast<const nlattr*>(base + MNL_ALIGN(off));
        int rest = static_cast<int>(total) - static_cast<int>(MNL_ALIGN(off));
        while (rest > 0 && mnl_attr_ok(a, rest)) {
          if (mnl_attr_get_type(a) == NLMSGERR_ATTR_MSG) ack.msg = attr_str(a);
          a = mnl_attr_next(a);
          rest = static_cast<int>(total) - static_cast<int>(reinterpret_cast<const uint8_t*>(a) - base);
        }
      }
      acks.push_back(std::move(ack));
    }
    nlh = mnl_nlmsg_next(nlh, &len);
  }
  if (len != 0) return fail("netlink: truncated reply");
  return {};
}

std::string to_hex(std::span<const uint8_t> bytes) {
  static const char* d = "0123456789abcdef";
  std::string s;
  for (uint8_t b : bytes) {
    s += d[b >> 4];
    s += d[b & 15];
  }
  return s;
}

std::vector<uint8_t> from_hex(const std::string& hex) {
  std::vector<uint8_t> out;
  auto val = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  int hi = -1;
  for (char c : hex) {
    int v = val(c);
    if (v < 0) continue;
    if (hi < 0) hi = v;
    else {
      out.push_back(static_cast<uint8_t>(hi << 4 | v));
      hi = -1;
    }
  }
  return out;
}

}  // namespace vnet::netlink
