#include "switch/vnet_hdr.h"

namespace vnet::sw {

VnetHdr shift_vnet_hdr(const VnetHdr& h, int delta) {
  VnetHdr out = h;
  if (needs_csum(h)) out.csum_start = uint16_t(int(h.csum_start) + delta);
  if (is_gso(h) && h.hdr_len) out.hdr_len = uint16_t(int(h.hdr_len) + delta);
  return out;
}

bool complete_checksum(std::span<uint8_t> frame, const VnetHdr& h) {
  size_t start = h.csum_start, field = size_t(h.csum_start) + h.csum_offset;
  if (start > frame.size() || field + 2 > frame.size()) return false;
  // One's complement sum over [csum_start, end); the field holds the pseudo-header sum.
  uint64_t sum = 0;
  const uint8_t* p = frame.data() + start;
  size_t n = frame.size() - start;
  for (; n >= 2; p += 2, n -= 2) sum += uint32_t(p[0] << 8 | p[1]);
  if (n) sum += uint32_t(p[0] << 8);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  uint16_t c = uint16_t(~sum);
  // UDP sends 0 as "no checksum"; a computed 0 goes out as 0xffff (RFC 768).
  if (c == 0) c = 0xffff;
  frame[field] = uint8_t(c >> 8);
  frame[field + 1] = uint8_t(c & 0xff);
  return true;
}

}  // namespace vnet::sw
