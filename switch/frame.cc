#include "switch/frame.h"

#include <cstdio>

namespace vnet::sw {

const char* to_string(FrameError e) {
  switch (e) {
    case FrameError::kNone: return "ok";
    case FrameError::kRunt: return "runt";
    case FrameError::kOversized: return "oversized";
    case FrameError::kMalformed: return "malformed";
  }
  return "?";
}

static uint16_t be16(const uint8_t* p) { return uint16_t(p[0] << 8 | p[1]); }

FrameError parse_frame(std::span<const uint8_t> bytes, FrameView& out, bool gso) {
  out = FrameView{};
  if (bytes.size() < kEthHeader) return FrameError::kRunt;
  if (bytes.size() > (gso ? kMaxGsoFrame : kMaxFrame)) return FrameError::kOversized;
  out.bytes = bytes;
  const uint8_t* p = bytes.data();
  for (size_t i = 0; i < 6; ++i) {
    out.dst[i] = p[i];
    out.src[i] = p[6 + i];
  }
  // A group source address never belongs to a station: learning it would poison the FDB.
  if (out.src[0] & 1) return FrameError::kMalformed;
  uint16_t type = be16(p + 12);
  if (type == kTpid8021Q) {
    if (bytes.size() < kEthHeader + kVlanTagLen) return FrameError::kRunt;
    out.tagged = true;
    out.tci = be16(p + 14);
    // 12 bits, not 10: ids above 1023 are common on real trunks.
    out.vid = out.tci & 0x0fff;
    if (out.vid == 0x0fff) return FrameError::kMalformed;  // reserved by 802.1Q
    out.ethertype = be16(p + 16);
  } else {
    out.ethertype = type;
  }
  return FrameError::kNone;
}

bool is_zero(const MacAddr& m) {
  for (uint8_t b : m)
    if (b) return false;
  return true;
}

std::string mac_str(const MacAddr& m) {
  char buf[18];
  std::snprintf(buf, sizeof buf, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3],
                m[4], m[5]);
  return buf;
}

bool parse_mac(const std::string& s, MacAddr& out) {
  unsigned v[6];
  char tail;
  if (std::sscanf(s.c_str(), "%x:%x:%x:%x:%x:%x%c", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
                  &tail) != 6)
    return false;
  for (int i = 0; i < 6; ++i) {
    if (v[i] > 255) return false;
    out[i] = uint8_t(v[i]);
  }
  return true;
}

std::array<uint8_t, 4> make_tag(uint16_t vid, uint16_t keep_pcp_from_tci) {
  uint16_t tci = uint16_t((keep_pcp_from_tci & 0xf000) | (vid & 0x0fff));
  return {uint8_t(kTpid8021Q >> 8), uint8_t(kTpid8021Q & 0xff), uint8_t(tci >> 8),
          uint8_t(tci & 0xff)};
}

}  // namespace vnet::sw
