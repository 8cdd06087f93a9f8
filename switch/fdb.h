// The forwarding database: (VLAN, MAC) -> port, learned from source addresses, aged out
// after `max_age` without traffic. Bounded twice, as flood protection: `max_entries`
// for the whole switch and `max_per_port` for each port. When full, new addresses are
// not learned (counted), while known ones keep forwarding. Time is a parameter, never
// read from a clock here, so tests drive aging with plain numbers.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <unordered_map>
#include <vector>

#include "switch/frame.h"

namespace vnet::sw {

using Clock = std::chrono::steady_clock;
using TimePoint = Clock::time_point;
using PortId = uint32_t;

struct FdbLimits {
  uint32_t max_entries = 4096;
  uint32_t max_per_port = 256;
  std::chrono::seconds max_age{300};
};

enum class LearnResult : uint8_t {
  kKnown,       // refreshed an entry already on this port
  kLearned,     // new entry
  kMoved,       // station moved from another port
  kSwitchFull,  // not learned: whole-switch cap reached
  kPortFull,    // not learned: this port's cap reached
};

struct FdbEntry {
  uint16_t vid = 0;
  MacAddr mac{};
  PortId port = 0;
  TimePoint last_seen{};
};

class Fdb {
 public:
  explicit Fdb(FdbLimits limits = {});

  LearnResult learn(uint16_t vid, const MacAddr& mac, PortId port, TimePoint now);
  // The port of (vid, mac) if known and not aged out.
  std::optional<PortId> lookup(uint16_t vid, const MacAddr& mac, TimePoint now) const;
  // Drops entries older than max_age; returns how many.
  size_t age(TimePoint now);
  void flush_port(PortId port);
  void flush_port_vlan(PortId port, uint16_t vid);
  void set_limits(const FdbLimits& limits);

  size_t size() const { return map_.size(); }
  uint32_t port_count(PortId port) const {
    return port < per_port_.size() ? per_port_[port] : 0;
  }
  const FdbLimits& limits() const { return limits_; }
  std::vector<FdbEntry> entries() const;  // sorted by vid, mac

 private:
  struct Value {
    PortId port;
    TimePoint last_seen;
  };
  static uint64_t key(uint16_t vid, const MacAddr& mac);
  void count(PortId port, int delta);

  FdbLimits limits_;
  std::unordered_map<uint64_t, Value> map_;
  std::vector<uint32_t> per_port_;
};

}  // namespace vnet::sw
