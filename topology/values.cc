// Parsing of the scalar values host.toml carries: MACs, addresses, sizes, link names.
#include <arpa/inet.h>
#include <sys/socket.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>

#include "topology/load.h"

namespace vnet::topology {

std::optional<Mac> parse_mac(const std::string& text) {
  if (text.size() != 17) return std::nullopt;
  Mac mac;
  for (int i = 0; i < 6; ++i) {
    const char* p = text.c_str() + i * 3;
    if (!isxdigit(static_cast<unsigned char>(p[0])) ||
        !isxdigit(static_cast<unsigned char>(p[1])))
      return std::nullopt;
    if (i < 5 && p[2] != ':') return std::nullopt;
    mac.bytes[i] = static_cast<uint8_t>(strtoul(std::string(p, 2).c_str(), nullptr, 16));
  }
  return mac;
}

std::optional<IpAddress> parse_ip(const std::string& text) {
  IpAddress a;
  if (inet_pton(AF_INET, text.c_str(), a.bytes.data()) == 1) {
    a.family = AF_INET;
    return a;
  }
  if (inet_pton(AF_INET6, text.c_str(), a.bytes.data()) == 1) {
    a.family = AF_INET6;
    return a;
  }
  return std::nullopt;
}

std::optional<Cidr> parse_cidr(const std::string& text) {
  auto slash = text.find('/');
  if (slash == std::string::npos || slash + 1 == text.size()) return std::nullopt;
  auto addr = parse_ip(text.substr(0, slash));
  if (!addr) return std::nullopt;
  std::string len = text.substr(slash + 1);
  if (len.size() > 3 || len.find_first_not_of("0123456789") != std::string::npos)
    return std::nullopt;
  int prefix = std::stoi(len);
  if (prefix > (addr->family == AF_INET ? 32 : 128)) return std::nullopt;
  Cidr c;
  c.addr = *addr;
  c.prefix = static_cast<uint8_t>(prefix);
  return c;
}

std::optional<uint64_t> parse_size(const std::string& text) {
  if (text.empty()) return std::nullopt;
  size_t digits = 0;
  while (digits < text.size() && isdigit(static_cast<unsigned char>(text[digits]))) ++digits;
  if (digits == 0 || digits > 15) return std::nullopt;
  uint64_t n = std::stoull(text.substr(0, digits));
  std::string unit = text.substr(digits);
  if (unit.size() == 2 && (unit[1] == 'B' || unit[1] == 'b')) unit.resize(1);
  if (unit.size() == 3 && unit.substr(1) == "iB") unit.resize(1);
  if (unit.empty()) return n;
  if (unit.size() != 1) return std::nullopt;
  switch (toupper(static_cast<unsigned char>(unit[0]))) {
    case 'K': return n << 10;
    case 'M': return n << 20;
    case 'G': return n << 30;
    case 'T': return n << 40;
  }
  return std::nullopt;
}

std::string interface_name_problem(const std::string& name) {
  if (name.empty()) return "an interface name must not be empty";
  if (name == "." || name == "..") return "'" + name + "' is not a valid interface name";
  // The kernel keeps /proc/sys/net/ipv{4,6}/conf/{all,default}: links cannot take them.
  if (name == "all" || name == "default")
    return "'" + name + "' is reserved by the kernel (net.ipv4.conf." + name + "); pick another name";
  if (name.size() > 15)
    return "name '" + name + "' is " + std::to_string(name.size()) +
           " bytes, the kernel allows 15";
  // "br%d" is a template to the kernel: the link would come back as br0, and every apply
  // would delete and recreate it.
  if (name.find('%') != std::string::npos)
    return "name '" + name + "' contains '%', which the kernel expands to a number";
  for (char c : name) {
    if (c == '/' || c == ':' || isspace(static_cast<unsigned char>(c)) ||
        !isprint(static_cast<unsigned char>(c))) {
      std::string shown = isprint(static_cast<unsigned char>(c)) && c != ' '
                              ? std::string(1, c)
                              : (c == ' ' ? std::string("a space") : std::string("a control character"));
      return "name '" + name + "' contains " + (shown.size() == 1 ? "'" + shown + "'" : shown) +
             ", which interface names cannot contain";
    }
  }
  return "";
}

std::string control_char_problem(const std::string& what, const std::string& text) {
  for (char c : text)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
      return what + " '" + text + "' contains a control character";
  return "";
}


std::string socket_path_problem(const std::string& path) {
  if (path.size() <= kMaxSocketPath) return "";
  return "socket path '" + path + "' is " + std::to_string(path.size()) +
         " bytes; a unix socket address holds at most " + std::to_string(kMaxSocketPath);
}

std::string address_problem(const Cidr& c) {
  const auto& b = c.addr.bytes;
  std::string text = c.str();
  if (c.addr.family == AF_INET) {
    uint32_t a = (uint32_t{b[0]} << 24) | (uint32_t{b[1]} << 16) | (uint32_t{b[2]} << 8) | b[3];
    if (a == 0) return "'" + text + "' is the unspecified address, not a host's own; a default route is 'gateway = \"...\"'";
    if (b[0] == 127) return "'" + text + "' is a loopback address: those belong to lo, which vnet does not manage";
    if ((b[0] & 0xf0) == 0xe0) return "'" + text + "' is a multicast group, not an interface address";
    if (a == 0xffffffffu) return "'" + text + "' is the broadcast address, not an interface address";
  } else {
    bool zero = std::all_of(b.begin(), b.end(), [](uint8_t x) { return x == 0; });
    bool loop = std::all_of(b.begin(), b.begin() + 15, [](uint8_t x) { return x == 0; }) && b[15] == 1;
    if (zero) return "'" + text + "' is the unspecified address, not a host's own; a default route is 'gateway = \"...\"'";
    if (loop) return "'" + text + "' is the loopback address: it belongs to lo, which vnet does not manage";
    if (b[0] == 0xff) return "'" + text + "' is a multicast group, not an interface address";
  }
  if (c.prefix == 0)
    return "'" + text + "' has prefix length 0, which puts every address on this link; "
           "give the subnet's length (like /24 or /64) and a 'gateway' for the rest";
  return "";
}

}  // namespace vnet::topology
