#include "switch/forwarder.h"

#include <algorithm>

namespace vnet::sw {

const char* to_string(DropReason r) {
  switch (r) {
    case DropReason::kNone: return "none";
    case DropReason::kRunt: return "runt";
    case DropReason::kOversized: return "oversized";
    case DropReason::kMalformed: return "malformed";
    case DropReason::kVlan: return "vlan";
    case DropReason::kPortDown: return "port-down";
    case DropReason::kNoEgress: return "no-egress";
  }
  return "?";
}

Forwarder::Forwarder(FdbLimits limits) : fdb_(limits), members_(4096) {}

void Forwarder::add_members(PortId port) {
  const VlanPolicy& p = ports_[port].policy;
  for (uint16_t v = 1; v < 4095; ++v)
    if (p.member(v)) members_[v].push_back(port);
}

void Forwarder::remove_members(PortId port) {
  const VlanPolicy& p = ports_[port].policy;
  for (uint16_t v = 1; v < 4095; ++v) {
    if (!p.member(v)) continue;
    auto& m = members_[v];
    m.erase(std::remove(m.begin(), m.end(), port), m.end());
  }
}

void Forwarder::add_port(PortId port, const VlanPolicy& policy) {
  if (port >= ports_.size()) ports_.resize(port + 1);
  if (ports_[port].active) remove_members(port);
  ports_[port] = PortState{true, policy, {}};
  fdb_.flush_port(port);
  add_members(port);
}

void Forwarder::remove_port(PortId port) {
  if (!has_port(port)) return;
  remove_members(port);
  ports_[port].active = false;
  fdb_.flush_port(port);
}

void Forwarder::set_policy(PortId port, const VlanPolicy& policy) {
  if (!has_port(port)) return;
  const VlanPolicy old = ports_[port].policy;
  remove_members(port);
  ports_[port].policy = policy;
  add_members(port);
  for (uint16_t v = 1; v < 4095; ++v)
    if (old.member(v) && !policy.member(v)) fdb_.flush_port_vlan(port, v);
}

std::vector<PortId> Forwarder::ports() const {
  std::vector<PortId> out;
  for (PortId i = 0; i < ports_.size(); ++i)
    if (ports_[i].active) out.push_back(i);
  return out;
}

void Forwarder::egress(PortId port, uint16_t vid, Decision& out) const {
  if (ports_[port].policy.egress_untagged(vid))
    out.out_untagged.push_back(port);
  else
    out.out_tagged.push_back(port);
}

void Forwarder::forward(PortId in, std::span<const uint8_t> bytes, TimePoint now,
                        Decision& out, bool gso) {
  out.drop = DropReason::kNone;
  out.flood = false;
  out.out_untagged.clear();
  out.out_tagged.clear();
  if (!has_port(in)) {
    out.drop = DropReason::kPortDown;
    return;
  }
  PortState& ps = ports_[in];
  PortCounters& c = ps.counters;
  c.rx_frames++;
  c.rx_bytes += bytes.size();

  switch (parse_frame(bytes, out.frame, gso)) {
    case FrameError::kNone: break;
    case FrameError::kRunt: c.drop_runt++; out.drop = DropReason::kRunt; return;
    case FrameError::kOversized: c.drop_oversized++; out.drop = DropReason::kOversized; return;
    case FrameError::kMalformed: c.drop_malformed++; out.drop = DropReason::kMalformed; return;
  }
  const FrameView& f = out.frame;
  auto vid = ingress_vlan(ps.policy, f.tagged, f.vid);
  if (!vid) {
    c.drop_vlan++;
    out.drop = DropReason::kVlan;
    return;
  }
  out.vid = *vid;
  out.in_tagged = f.tagged && f.vid != 0;
  out.in_tci = f.tci;

  // An all-zero source is forwarded but never learned (it names no station).
  if (!is_zero(f.src)) {
    switch (fdb_.learn(*vid, f.src, in, now)) {
      case LearnResult::kSwitchFull: sc_.fdb_switch_full++; c.learn_refused++; break;
      case LearnResult::kPortFull: sc_.fdb_port_full++; c.learn_refused++; break;
      case LearnResult::kMoved: sc_.fdb_moves++; break;
      default: break;
    }
  }

  if (!f.dst_is_group()) {
    if (auto port = fdb_.lookup(*vid, f.dst, now)) {
      // No hairpin: a frame for a station behind the ingress port goes nowhere.
      if (*port == in || !has_port(*port) || !ports_[*port].policy.member(*vid)) {
        if (*port == in) {
          out.drop = DropReason::kNoEgress;
          return;
        }
      } else {
        egress(*port, *vid, out);
        return;
      }
    }
  }
  // Unknown unicast, broadcast, multicast: every other port of the VLAN.
  for (PortId p : members_[*vid])
    if (p != in) egress(p, *vid, out);
  if (out.fanout() == 0) {
    out.drop = DropReason::kNoEgress;
    return;
  }
  out.flood = true;
  if (out.fanout() > 1) c.flooded++;
}

size_t Forwarder::age(TimePoint now) {
  size_t n = fdb_.age(now);
  sc_.fdb_aged += n;
  return n;
}

}  // namespace vnet::sw
