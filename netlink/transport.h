// The test seam between the codec and the kernel. A Transport talks rtnetlink in one
// namespace: `transact` sends a batch of requests (many per sendmsg) and returns one ack
// per request, extended-ack text included; `dump` runs several dumps at once (one socket
// each: a netlink socket runs one dump at a time) and returns each one's reply bytes.
// SocketTransport is the real one; FakeTransport (tests) records and replays.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "base/error.h"
#include "netlink/codec.h"

namespace vnet::netlink {

// One dump's replies, as received: one chunk per recv (each holds whole messages), so
// large dumps are neither copied into one buffer nor reallocated as they grow.
using DumpReply = std::vector<std::vector<uint8_t>>;

class Transport {
 public:
  virtual ~Transport() = default;
  // `count` requests, each with NLM_F_ACK, concatenated. Acks in request order.
  virtual Result<std::vector<Ack>> transact(std::span<const uint8_t> batch, size_t count) = 0;
  virtual Result<std::vector<DumpReply>> dump(const std::vector<std::vector<uint8_t>>& requests) = 0;

  uint64_t requests_sent = 0;  // write requests (transact), for "no changes" checks
  uint64_t sendmsg_calls = 0;
};

// rtnetlink sockets opened inside a namespace (the fd, -1 = the caller's own).
class SocketTransport : public Transport {
 public:
  static Result<std::unique_ptr<SocketTransport>> open(int netns_fd);
  ~SocketTransport() override;
  Result<std::vector<Ack>> transact(std::span<const uint8_t> batch, size_t count) override;
  Result<std::vector<DumpReply>> dump(const std::vector<std::vector<uint8_t>>& requests) override;

 public:
  struct Sock;

 private:
  SocketTransport() = default;
  Result<Sock*> dump_socket(size_t i);
  int netns_fd_ = -1;
  std::unique_ptr<Sock> main_;
  std::vector<std::unique_ptr<Sock>> dumpers_;
  std::vector<uint8_t> rbuf_;
};

}  // namespace vnet::netlink
