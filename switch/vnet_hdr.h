// The virtio-net header that taps (IFF_VNET_HDR) and AF_PACKET (PACKET_VNET_HDR) put in
// front of each frame. It lets a GSO super-frame (up to 64 KiB of TCP) and a frame whose
// checksum is still to be filled in pass through the switch untouched between two ports
// that both speak it; for ports that do not, the checksum is completed here, and GSO
// frames are refused (offloads are only switched on while every port speaks it).
#pragma once

#include <cstdint>
#include <span>

namespace vnet::sw {

// struct virtio_net_hdr of <linux/virtio_net.h>, which C++ cannot include (a member is
// named `class`). 10 bytes: the size we set with TUNSETVNETHDRSZ.
struct VnetHdr {
  uint8_t flags = 0;
  uint8_t gso_type = 0;
  uint16_t hdr_len = 0;     // Ethernet + IP + TCP/UDP headers
  uint16_t gso_size = 0;    // payload bytes per segment
  uint16_t csum_start = 0;  // where checksumming starts, from the frame's first byte
  uint16_t csum_offset = 0; // where the checksum goes, from csum_start
};
static_assert(sizeof(VnetHdr) == 10);
inline constexpr size_t kVnetHdrLen = sizeof(VnetHdr);
inline constexpr uint8_t kVnetFlagNeedsCsum = 1;
inline constexpr uint8_t kVnetGsoNone = 0;
inline constexpr uint8_t kVnetGsoEcn = 0x80;

inline bool needs_csum(const VnetHdr& h) { return h.flags & kVnetFlagNeedsCsum; }
inline bool is_gso(const VnetHdr& h) { return (h.gso_type & ~kVnetGsoEcn) != kVnetGsoNone; }

// The header after a 4-byte tag is pushed (delta = +4) or popped (delta = -4): offsets in
// it count from the start of the frame. (Byte order: native, as without VNETLE/VNETBE.)
VnetHdr shift_vnet_hdr(const VnetHdr& h, int delta);

// Fills in a pending checksum (NEEDS_CSUM) in `frame` in place, as the kernel's
// skb_checksum_help does. False when the offsets do not fit the frame.
bool complete_checksum(std::span<uint8_t> frame, const VnetHdr& h);

}  // namespace vnet::sw
