// Test helper: builds Ethernet frames byte by byte.
#pragma once

#include <cstdint>
#include <vector>

#include "switch/frame.h"

namespace vnet::sw::test {

inline MacAddr mac(uint8_t last, uint8_t first = 0x02) { return {first, 0, 0, 0, 0, last}; }
inline const MacAddr kBroadcast{0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

// dst, src, optional tag (tci), ethertype 0x0800, then payload to `len` bytes in total.
inline std::vector<uint8_t> frame(const MacAddr& dst, const MacAddr& src, int tci = -1,
                                  size_t len = 64) {
  std::vector<uint8_t> f(dst.begin(), dst.end());
  f.insert(f.end(), src.begin(), src.end());
  if (tci >= 0) {
    f.push_back(0x81);
    f.push_back(0x00);
    f.push_back(uint8_t(tci >> 8));
    f.push_back(uint8_t(tci & 0xff));
  }
  f.push_back(0x08);
  f.push_back(0x00);
  if (f.size() < len) f.resize(len, 0xab);
  return f;
}

}  // namespace vnet::sw::test
