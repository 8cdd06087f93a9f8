#include "switch/fdb.h"

#include <algorithm>

namespace vnet::sw {

Fdb::Fdb(FdbLimits limits) : limits_(limits) {
  // Reserved once: with the cap enforced, the table never rehashes under a MAC flood.
  map_.reserve(limits_.max_entries);
}

void Fdb::set_limits(const FdbLimits& limits) {
  limits_ = limits;
  map_.reserve(limits_.max_entries);
}

uint64_t Fdb::key(uint16_t vid, const MacAddr& mac) {
  uint64_t k = uint64_t(vid & 0x0fff) << 48;
  for (int i = 0; i < 6; ++i) k |= uint64_t(mac[i]) << (8 * (5 - i));
  return k;
}

void Fdb::count(PortId port, int delta) {
  if (port >= per_port_.size()) per_port_.resize(port + 1, 0);
  per_port_[port] = uint32_t(int64_t(per_port_[port]) + delta);
}

LearnResult Fdb::learn(uint16_t vid, const MacAddr& mac, PortId port, TimePoint now) {
  uint64_t k = key(vid, mac);
  auto it = map_.find(k);
  if (it != map_.end()) {
    if (it->second.port == port) {
      it->second.last_seen = now;
      return LearnResult::kKnown;
    }
    // A station moved. If the new port is full, forget the stale entry rather than keep
    // forwarding to where the station no longer is: traffic floods until it can be learned.
    if (port_count(port) >= limits_.max_per_port) {
      count(it->second.port, -1);
      map_.erase(it);
      return LearnResult::kPortFull;
    }
    count(it->second.port, -1);
    count(port, +1);
    it->second = Value{port, now};
    return LearnResult::kMoved;
  }
  if (map_.size() >= limits_.max_entries) return LearnResult::kSwitchFull;
  if (port_count(port) >= limits_.max_per_port) return LearnResult::kPortFull;
  map_.emplace(k, Value{port, now});
  count(port, +1);
  return LearnResult::kLearned;
}

std::optional<PortId> Fdb::lookup(uint16_t vid, const MacAddr& mac, TimePoint now) const {
  auto it = map_.find(key(vid, mac));
  if (it == map_.end()) return std::nullopt;
  if (now - it->second.last_seen >= limits_.max_age) return std::nullopt;
  return it->second.port;
}

size_t Fdb::age(TimePoint now) {
  size_t n = 0;
  for (auto it = map_.begin(); it != map_.end();) {
    if (now - it->second.last_seen >= limits_.max_age) {
      count(it->second.port, -1);
      it = map_.erase(it);
      ++n;
    } else {
      ++it;
    }
  }
  return n;
}

void Fdb::flush_port(PortId port) {
  for (auto it = map_.begin(); it != map_.end();) {
    if (it->second.port == port) {
      it = map_.erase(it);
    } else {
      ++it;
    }
  }
  if (port < per_port_.size()) per_port_[port] = 0;
}

void Fdb::flush_port_vlan(PortId port, uint16_t vid) {
  for (auto it = map_.begin(); it != map_.end();) {
    if (it->second.port == port && (it->first >> 48) == vid) {
      count(port, -1);
      it = map_.erase(it);
    } else {
      ++it;
    }
  }
}

std::vector<FdbEntry> Fdb::entries() const {
  std::vector<FdbEntry> out;
  out.reserve(map_.size());
  for (const auto& [k, v] : map_) {
    FdbEntry e;
    e.vid = uint16_t(k >> 48);
    for (int i = 0; i < 6; ++i) e.mac[i] = uint8_t(k >> (8 * (5 - i)));
    e.port = v.port;
    e.last_seen = v.last_seen;
    out.push_back(e);
  }
  std::sort(out.begin(), out.end(), [](const FdbEntry& a, const FdbEntry& b) {
    return a.vid != b.vid ? a.vid < b.vid : a.mac < b.mac;
  });
  return out;
}

}  // namespace vnet::sw
