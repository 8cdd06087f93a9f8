#include "switch/vlan.h"

namespace vnet::sw {

VlanPolicy VlanPolicy::trunk(const std::vector<uint16_t>& vids, uint16_t native) {
  VlanPolicy p{native, {}};
  for (uint16_t v : vids)
    if (v > 0 && v < 4095) p.tagged.set(v);
  return p;
}

std::vector<uint16_t> VlanPolicy::tagged_list() const {
  std::vector<uint16_t> out;
  for (uint16_t v = 1; v < 4095; ++v)
    if (tagged.test(v) && v != pvid) out.push_back(v);
  return out;
}

}  // namespace vnet::sw
