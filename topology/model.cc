// Model helpers: printing of addresses, and the VLAN entries a declaration implies.
#include "topology/model.h"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstdio>

namespace vnet::topology {

std::string Mac::str() const {
  char buf[18];
  snprintf(buf, sizeof buf, "%02x:%02x:%02x:%02x:%02x:%02x", bytes[0], bytes[1], bytes[2],
           bytes[3], bytes[4], bytes[5]);
  return buf;
}

std::string IpAddress::str() const {
  char buf[INET6_ADDRSTRLEN] = "";
  inet_ntop(family, bytes.data(), buf, sizeof buf);
  return buf;
}

std::string Cidr::str() const { return addr.str() + "/" + std::to_string(prefix); }

bool Cidr::contains(const IpAddress& a) const {
  if (a.family != addr.family) return false;
  int full = prefix / 8, rest = prefix % 8;
  if (!std::equal(a.bytes.begin(), a.bytes.begin() + full, addr.bytes.begin())) return false;
  if (rest == 0) return true;
  uint8_t mask = static_cast<uint8_t>(0xff << (8 - rest));
  return (a.bytes[full] & mask) == (addr.bytes[full] & mask);
}

Cidr Cidr::network() const {
  Cidr n = *this;
  int full = prefix / 8, rest = prefix % 8;
  if (rest) n.addr.bytes[full] &= static_cast<uint8_t>(0xff << (8 - rest));
  for (size_t i = full + (rest ? 1 : 0); i < n.addr.bytes.size(); ++i) n.addr.bytes[i] = 0;
  return n;
}

std::string Route::str() const {
  std::string s = to.str();
  if (via) s += " via " + via->str();
  if (metric) s += " metric " + std::to_string(*metric);
  return s;
}

uint32_t kernel_metric(int family, std::optional<uint32_t> metric) {
  // IPv6 takes metric 0 as "the default" too (IP6_RT_PRIO_USER)
  if (family == AF_INET6 && metric.value_or(0) == 0) return 1024;
  return metric.value_or(0);
}

const Bridge* Topology::find_bridge(const std::string& name, const std::string& ns) const {
  for (const Bridge& b : bridges)
    if (b.name == name && b.netns == ns) return &b;
  return nullptr;
}

const Switch* Topology::find_switch(const std::string& name) const {
  for (const Switch& s : switches)
    if (s.name == name) return &s;
  return nullptr;
}

std::vector<VlanEntry> desired_port_vlans(const Bridge& bridge, const BridgePort& port) {
  std::vector<VlanEntry> out;
  if (!bridge.vlan_filtering()) return out;
  uint16_t native = 0;
  if (port.pvid) native = *port.pvid;
  else if (port.tagged.empty()) native = bridge.default_pvid();
  if (native != 0) out.push_back({native, true, true});
  for (uint16_t v : port.tagged)
    if (v != native) out.push_back({v, false, false});
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<VlanEntry> desired_self_vlans(const Topology& topo, const Bridge& bridge) {
  std::vector<VlanEntry> out;
  if (!bridge.vlan_filtering()) return out;
  if (bridge.default_pvid() != 0) out.push_back({bridge.default_pvid(), true, true});
  // Declared self VLANs are tagged, even the default PVID's: a sub-interface br0.N only
  // receives frames the bridge hands up tagged.
  auto add_tagged = [&](uint16_t v) {
    for (VlanEntry& e : out)
      if (e.vid == v) {
        e = {v, false, false};
        return;
      }
    out.push_back({v, false, false});
  };
  for (uint16_t v : bridge.vlans) add_tagged(v);
  for (const KindLink& l : topo.kind_links) {
    if (!l.desc->bridge_self_vlan || l.netns != bridge.netns || l.lower() != bridge.name) continue;
    if (const AttrValue* id = l.attr(l.desc->bridge_self_vlan); id && id->set)
      add_tagged(static_cast<uint16_t>(id->number));
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::pair<VlanEntry, uint16_t>> vlan_runs(const std::vector<VlanEntry>& entries) {
  std::vector<std::pair<VlanEntry, uint16_t>> out;
  for (const VlanEntry& e : entries) {
    if (!out.empty()) {
      auto& [first, last] = out.back();
      if (e.vid == last + 1 && e.pvid == first.pvid && e.untagged == first.untagged && !e.pvid) {
        last = e.vid;
        continue;
      }
    }
    out.push_back({e, e.vid});
  }
  return out;
}

std::string run_text(const std::pair<VlanEntry, uint16_t>& run) {
  return run.first.vid == run.second ? std::to_string(run.second)
                                     : std::to_string(run.first.vid) + "-" + std::to_string(run.second);
}

const char* to_string(SwitchPort::Kind kind) {
  switch (kind) {
    case SwitchPort::Kind::kTap: return "tap";
    case SwitchPort::Kind::kStream: return "stream";
    case SwitchPort::Kind::kDgram: return "dgram";
    case SwitchPort::Kind::kPacket: return "packet";
    case SwitchPort::Kind::kVdePort: return "vde_port";
  }
  return "?";
}

}  // namespace vnet::topology
