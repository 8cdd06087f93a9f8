// The forwarding core: given a frame that arrived on a port, decide where it goes and
// whether the tag is pushed or popped on the way out. Pure (no sockets, no clock reads):
// the event loop reads frames, calls forward(), and executes the Decision. The Decision
// never copies or rewrites the frame itself, so a GSO super-frame that arrived with a
// vnet_hdr on a tap can leave on another tap whole; only the tag operation (which moves
// the vnet_hdr's offsets by 4 bytes) is left to the writer.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "switch/fdb.h"
#include "switch/frame.h"
#include "switch/vlan.h"

namespace vnet::sw {

enum class DropReason : uint8_t {
  kNone,
  kRunt,
  kOversized,
  kMalformed,
  kVlan,      // ingress VLAN the port is not a member of
  kPortDown,  // no such port, or port not enabled
  kNoEgress,  // known destination is the ingress port (no hairpin), or nobody else in VLAN
};
const char* to_string(DropReason r);

struct PortCounters {
  uint64_t rx_frames = 0, rx_bytes = 0;
  uint64_t tx_frames = 0, tx_bytes = 0;  // kept by the event loop
  uint64_t drop_runt = 0, drop_oversized = 0, drop_malformed = 0, drop_vlan = 0;
  uint64_t tx_drops = 0;                  // kept by the event loop: peer's queue full
  uint64_t learn_refused = 0;             // new MAC not learned: a cap was reached
  uint64_t flooded = 0;                   // frames sent to more than one port by flooding
};

struct SwitchCounters {
  uint64_t fdb_switch_full = 0;  // learning refused: whole-switch cap
  uint64_t fdb_port_full = 0;    // learning refused: per-port cap
  uint64_t fdb_moves = 0;
  uint64_t fdb_aged = 0;
};

struct Decision {
  DropReason drop = DropReason::kNone;
  uint16_t vid = 0;            // VLAN the frame travels in
  bool in_tagged = false;      // arrived with an 802.1Q tag (vid != 0)
  uint16_t in_tci = 0;         // its TCI (priority bits are kept on egress)
  bool flood = false;
  std::vector<PortId> out_untagged;  // egress without a tag
  std::vector<PortId> out_tagged;    // egress tagged with `vid`
  FrameView frame;

  bool dropped() const { return drop != DropReason::kNone; }
  size_t fanout() const { return out_untagged.size() + out_tagged.size(); }
};

class Forwarder {
 public:
  explicit Forwarder(FdbLimits limits = {});

  // Ports are small integers chosen by the caller (VDE port numbers).
  void add_port(PortId port, const VlanPolicy& policy);
  void remove_port(PortId port);
  // Changes a port's VLANs; FDB entries of VLANs it left are flushed.
  void set_policy(PortId port, const VlanPolicy& policy);
  bool has_port(PortId port) const { return port < ports_.size() && ports_[port].active; }
  const VlanPolicy& policy(PortId port) const { return ports_[port].policy; }

  // Decides the fate of `bytes` arriving on `in`. `out` is reused between calls so the
  // hot path does not allocate. `gso`: the frame came with a GSO vnet_hdr.
  void forward(PortId in, std::span<const uint8_t> bytes, TimePoint now, Decision& out,
               bool gso = false);

  size_t age(TimePoint now);

  Fdb& fdb() { return fdb_; }
  const Fdb& fdb() const { return fdb_; }
  PortCounters& counters(PortId port) { return ports_[port].counters; }
  const PortCounters& counters(PortId port) const { return ports_[port].counters; }
  const SwitchCounters& switch_counters() const { return sc_; }
  std::vector<PortId> ports() const;

 private:
  struct PortState {
    bool active = false;
    VlanPolicy policy;
    PortCounters counters;
  };
  void add_members(PortId port);
  void remove_members(PortId port);
  void egress(PortId port, uint16_t vid, Decision& out) const;

  Fdb fdb_;
  std::vector<PortState> ports_;
  // Per VLAN, the ports in it: flooding walks only these.
  std::vector<std::vector<PortId>> members_;
  SwitchCounters sc_;
};

}  // namespace vnet::sw
