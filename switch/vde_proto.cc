#include "switch/vde_proto.h"

#include <sys/socket.h>

#include <algorithm>
#include <cstring>

namespace vnet::sw {

Result<VdeRequest> parse_vde_request(std::span<const uint8_t> bytes) {
  if (bytes.size() < kVdeRequestHeader)
    return fail("vde request: " + std::to_string(bytes.size()) + " bytes, header needs " +
                std::to_string(kVdeRequestHeader));
  uint32_t magic, version, type;
  std::memcpy(&magic, bytes.data(), 4);
  std::memcpy(&version, bytes.data() + 4, 4);
  std::memcpy(&type, bytes.data() + 8, 4);
  if (magic != kVdeMagic) return fail("vde request: bad magic");
  if (version != kVdeVersion)
    return fail("vde request: protocol version " + std::to_string(version) +
                " (only 3 is spoken)");
  VdeRequest r;
  uint32_t kind = type & 0xff;
  if (kind > 1) return fail("vde request: unknown request type " + std::to_string(kind));
  r.management = kind == 1;
  r.port = type >> 8;
  std::memcpy(&r.client, bytes.data() + 12, sizeof(sockaddr_un));
  if (r.client.sun_family != AF_UNIX) return fail("vde request: client address is not AF_UNIX");
  // An abstract name starts with NUL; a path name must end with one, as libvdeplug
  // sends it: an unterminated path would be read past its end by whoever uses it.
  size_t n = strnlen(r.client.sun_path, sizeof r.client.sun_path);
  if (n == sizeof r.client.sun_path)
    return fail("vde request: client socket path is not NUL-terminated");
  r.client_path.assign(r.client.sun_path, n);
  auto desc = bytes.subspan(kVdeRequestHeader);
  size_t dn = 0;
  while (dn < desc.size() && dn < kVdeMaxDescription && desc[dn] != 0) ++dn;
  r.description.assign(reinterpret_cast<const char*>(desc.data()), dn);
  return r;
}

std::vector<uint8_t> build_vde_request(uint32_t port, const sockaddr_un& client,
                                       const std::string& description) {
  size_t dn = std::min<size_t>(description.size(), kVdeMaxDescription);
  std::vector<uint8_t> out(kVdeRequestHeader + dn + 1, 0);
  uint32_t magic = kVdeMagic, version = kVdeVersion, type = port << 8;
  std::memcpy(out.data(), &magic, 4);
  std::memcpy(out.data() + 4, &version, 4);
  std::memcpy(out.data() + 8, &type, 4);
  std::memcpy(out.data() + 12, &client, sizeof client);
  std::memcpy(out.data() + kVdeRequestHeader, description.data(), dn);
  return out;
}

}  // namespace vnet::sw
