// Per-port VLAN policy, as on a hardware switch (design.md "VLAN semantics"):
// an access port has a native VLAN (PVID; ingress untagged -> PVID, egress untagged);
// a trunk carries a tagged set, with or without a native VLAN. Pure.
#pragma once

#include <bitset>
#include <cstdint>
#include <optional>
#include <vector>

namespace vnet::sw {

struct VlanPolicy {
  uint16_t pvid = 1;          // native VLAN; 0 = none (untagged frames are dropped)
  std::bitset<4096> tagged;   // VLANs carried tagged

  static VlanPolicy access(uint16_t vid) { return VlanPolicy{vid, {}}; }
  static VlanPolicy trunk(const std::vector<uint16_t>& vids, uint16_t native = 0);

  bool member(uint16_t vid) const {
    return vid != 0 && vid < 4095 && (vid == pvid || tagged.test(vid));
  }
  // Egress of `vid` leaves untagged only on the native VLAN (the PVID wins over a
  // tagged entry of the same id, as with `bridge vlan ... pvid untagged`).
  bool egress_untagged(uint16_t vid) const { return vid == pvid; }
  std::vector<uint16_t> tagged_list() const;
  bool operator==(const VlanPolicy& o) const { return pvid == o.pvid && tagged == o.tagged; }
};

// The VLAN a frame belongs to on ingress, or nullopt when the port is not in it.
// `tagged`/`vid` as parsed; a priority tag (vid 0) counts as untagged.
inline std::optional<uint16_t> ingress_vlan(const VlanPolicy& p, bool tagged, uint16_t vid) {
  if (!tagged || vid == 0) {
    if (p.pvid == 0) return std::nullopt;
    return p.pvid;
  }
  if (!p.member(vid)) return std::nullopt;
  return vid;
}

}  // namespace vnet::sw
