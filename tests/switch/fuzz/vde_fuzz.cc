// libFuzzer target: arbitrary bytes as a VDE client's handshake request.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "switch/vde_proto.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto r = vnet::sw::parse_vde_request(std::span<const uint8_t>(data, size));
  if (r) {
    if (r->description.size() > vnet::sw::kVdeMaxDescription) std::abort();
    if (r->client_path.size() >= sizeof r->client.sun_path) std::abort();
    // What we parse, we can build again, and it parses the same.
    auto again = vnet::sw::build_vde_request(r->port, r->client, r->description);
    auto r2 = vnet::sw::parse_vde_request(again);
    if (!r->management && (!r2 || r2->port != r->port || r2->description != r->description))
      std::abort();
  }
  return 0;
}
