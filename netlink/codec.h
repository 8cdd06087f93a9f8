// The pure rtnetlink codec: plan ops -> request bytes, dump bytes -> actual state, ack
// bytes -> per-request results. No sockets and no namespaces here; the executor and the
// snapshot reader feed it, and the unit tests compare its bytes with golden files.
// libmnl is used to build and walk messages; its types stay inside codec.cc.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "base/error.h"
#include "plan/op.h"
#include "plan/state.h"

namespace vnet::netlink {

// What encoding needs from the outside world: a namespace fd for IFLA_NET_NS_FD, and the
// real ifindex of a planned one (taps get theirs from /dev/net/tun).
struct EncodeContext {
  std::function<int(const std::string& ns)> netns_fd;
  std::function<int(int planned)> ifindex = [](int i) { return i; };
};

// Appends the request(s) of `op` to `out`, numbered from `seq` (advanced). Every request
// asks for an ack. A tap's create is not netlink: for it only the mark is encoded.
// Returns how many messages were appended.
size_t encode(const plan::Op& op, const EncodeContext& ctx, std::vector<uint8_t>& out,
              uint32_t& seq);
// One RTM_DELLINK for every link of IFLA_GROUP `group` (grouped kDeleteLink ops joined it):
// the kernel deletes all or none of them, in one unregister batch.
void encode_group_delete(uint32_t group, std::vector<uint8_t>& out, uint32_t& seq);
// RTM_SETLINK of IFLA_GROUP alone: puts a link back in its group when a group delete failed.
void encode_set_group(int ifindex, uint32_t group, std::vector<uint8_t>& out, uint32_t& seq);

enum class DumpKind { kLinks, kBridgeVlans, kAddrs, kRoutes };
inline constexpr DumpKind kAllDumps[] = {DumpKind::kLinks, DumpKind::kBridgeVlans,
                                         DumpKind::kAddrs, DumpKind::kRoutes};

std::vector<uint8_t> dump_request(DumpKind kind, uint32_t seq);

// Decodes one dump's replies (any number of concatenated messages up to NLMSG_DONE) into
// `ns`. Links must be decoded before the other kinds (they attach to links by ifindex).
Status decode_dump(DumpKind kind, std::span<const uint8_t> bytes, plan::NetnsState& ns);

struct Ack {
  uint32_t seq = 0;
  int error = 0;     // positive errno, 0 = success
  std::string msg;   // NLMSGERR_ATTR_MSG
};
// Walks a receive buffer: acks appended to `acks`; `done` set when NLMSG_DONE was seen.
Status decode_acks(std::span<const uint8_t> bytes, std::vector<Ack>& acks);

// Helpers for tests and tools: "0a0b..." and back.
std::string to_hex(std::span<const uint8_t> bytes);
std::vector<uint8_t> from_hex(const std::string& hex);

}  // namespace vnet::netlink
