// The wire format of a VDE client's handshake (vde_switch's "ctl" socket, protocol
// version 3, as spoken by libvdeplug, QEMU's -netdev vde and vde_plug): the client
// connects a unix stream socket to DIR/ctl and sends one request, in host byte order:
//
//   uint32 magic = 0xfeedface
//   uint32 version = 3
//   uint32 type      low 8 bits: 0 = new port, 1 = management port 0;
//                    upper bits: the port number asked for (0 = any)
//   sockaddr_un      (110 bytes) the client's own datagram socket, already bound
//   char description[]  free text, NUL-terminated, at most 128 bytes
//
// The switch connects a datagram socket of its own to that address, binds it inside DIR,
// and answers with its sockaddr_un (110 bytes). From then on frames flow as datagrams,
// one Ethernet frame each; closing the stream socket ends the port. Pure parsing here
// (a fuzz target drives it); the sockets are in vde_port.cc.
#pragma once

#include <sys/un.h>

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "base/error.h"

namespace vnet::sw {

inline constexpr uint32_t kVdeMagic = 0xfeedface;
inline constexpr uint32_t kVdeVersion = 3;
inline constexpr size_t kVdeRequestHeader = 4 + 4 + 4 + sizeof(sockaddr_un);
inline constexpr size_t kVdeMaxRequest = 256;  // header + description, as vde_switch reads
inline constexpr size_t kVdeMaxDescription = 127;  // MAXDESCR (128) with its NUL

struct VdeRequest {
  bool management = false;  // REQ_NEW_PORT0: not supported, refused by the caller
  uint32_t port = 0;        // asked-for port, 0 = any
  std::string client_path;  // the client's datagram socket (may be "" when abstract)
  sockaddr_un client{};     // as sent, for connect()
  std::string description;
};

Result<VdeRequest> parse_vde_request(std::span<const uint8_t> bytes);
// What a client sends; used by tests and the blaster.
std::vector<uint8_t> build_vde_request(uint32_t port, const sockaddr_un& client,
                                       const std::string& description);

}  // namespace vnet::sw
