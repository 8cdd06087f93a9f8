// A read-only view of one Ethernet frame as the switch sees it: addresses, an optional
// 802.1Q tag, and why a frame is refused (runt, oversized, malformed). Pure: no sockets,
// no allocation; the fuzz target and the forwarding core both start here.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

namespace vnet::sw {

using MacAddr = std::array<uint8_t, 6>;

inline constexpr size_t kEthHeader = 14;
inline constexpr size_t kVlanTagLen = 4;
inline constexpr uint16_t kTpid8021Q = 0x8100;
// Largest non-GSO frame accepted: a 9000-byte jumbo payload plus header, tag and slack,
// the size hardware switches call "jumbo". GSO frames from vnet_hdr ports may be larger.
inline constexpr size_t kMaxFrame = 9216;
// A GSO super-frame: the kernel never hands out more than 64 KiB plus headers.
inline constexpr size_t kMaxGsoFrame = 65536 + kEthHeader + kVlanTagLen;

enum class FrameError : uint8_t {
  kNone,
  kRunt,       // shorter than an Ethernet header (or a tagged header)
  kOversized,  // longer than kMaxFrame (kMaxGsoFrame for GSO frames)
  kMalformed,  // multicast source address, or VLAN id 4095
};
const char* to_string(FrameError e);

struct FrameView {
  std::span<const uint8_t> bytes;  // the whole frame, from the destination address
  MacAddr dst{};
  MacAddr src{};
  bool tagged = false;
  uint16_t tci = 0;  // whole tag control field when tagged
  uint16_t vid = 0;  // tci & 0x0fff; 0 when untagged or priority-tagged
  uint16_t ethertype = 0;  // the inner type (after the tag)

  bool dst_is_group() const { return (dst[0] & 1) != 0; }  // broadcast or multicast
};

// Parses `bytes` into `out`; `gso` allows the larger GSO limit.
FrameError parse_frame(std::span<const uint8_t> bytes, FrameView& out, bool gso = false);

bool is_zero(const MacAddr& m);
std::string mac_str(const MacAddr& m);
bool parse_mac(const std::string& s, MacAddr& out);

// The 4 bytes of an 802.1Q tag for `vid` (priority 0), in wire order.
std::array<uint8_t, 4> make_tag(uint16_t vid, uint16_t keep_pcp_from_tci = 0);

}  // namespace vnet::sw
