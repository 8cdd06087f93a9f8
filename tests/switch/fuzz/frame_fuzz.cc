// libFuzzer target: arbitrary bytes as frames into the forwarding core. The first byte
// picks the ingress port and the GSO flag; ports mix access, trunk with and without a
// native VLAN, and VLAN ids above 1023. Checks the invariants the event loop relies on.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "switch/forwarder.h"

using namespace vnet::sw;

static Forwarder& forwarder() {
  static Forwarder* fw = [] {
    auto* f = new Forwarder(FdbLimits{64, 16, std::chrono::seconds(300)});
    f->add_port(1, VlanPolicy::access(1));
    f->add_port(2, VlanPolicy::access(3000));
    f->add_port(3, VlanPolicy::trunk({1, 3000, 4094}));
    f->add_port(4, VlanPolicy::trunk({1024, 2048}, 1));
    return f;
  }();
  return *fw;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  FrameView v;
  FrameError e = parse_frame(std::span<const uint8_t>(data + 1, size - 1), v, data[0] & 0x80);
  if (e == FrameError::kNone && v.tagged && v.vid != (v.tci & 0x0fff)) std::abort();

  static Decision d;
  static uint64_t tick = 0;
  PortId in = PortId(data[0] % 5);  // 0 is not a port: must be refused, not crash
  Forwarder& fw = forwarder();
  fw.forward(in, std::span<const uint8_t>(data + 1, size - 1),
             TimePoint(std::chrono::seconds(++tick)), d, data[0] & 0x80);
  if (!d.dropped()) {
    for (PortId p : d.out_untagged)
      if (p == in || !fw.policy(p).member(d.vid) || !fw.policy(p).egress_untagged(d.vid))
        std::abort();
    for (PortId p : d.out_tagged)
      if (p == in || !fw.policy(p).member(d.vid) || fw.policy(p).egress_untagged(d.vid))
        std::abort();
    if (d.vid == 0 || d.vid >= 4095) std::abort();
  }
  if (fw.fdb().size() > 64) std::abort();
  if (tick % 1000 == 0) fw.age(TimePoint(std::chrono::seconds(tick)));
  return 0;
}
