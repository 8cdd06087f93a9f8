// Frames queued for one datagram-like socket during a batch, sent with one sendmmsg().
// The iovecs point into the loop's arena, which outlives the batch; only the iovec
// arrays themselves are copied here.
#pragma once

#include <sys/socket.h>
#include <sys/uio.h>

#include <cstddef>
#include <vector>

namespace vnet::sw {

class MsgQueue {
 public:
  // Room for this many frames; more are sent early (a flush mid-batch).
  explicit MsgQueue(size_t capacity = 64);
  void push(int fd, const iovec* iov, int iovcnt, const sockaddr* to = nullptr,
            socklen_t tolen = 0);
  // Returns how many frames were not sent (socket buffer full: dropped).
  size_t flush(int fd, const sockaddr* to = nullptr, socklen_t tolen = 0);
  bool empty() const { return count_ == 0; }
  // errno of the send that stopped the last flush() short (0: none did).
  int last_error() const { return last_error_; }

 private:
  static constexpr int kMaxIov = 8;
  size_t cap_;
  size_t count_ = 0;
  std::vector<iovec> iov_;
  std::vector<mmsghdr> msgs_;
  size_t pending_drops_ = 0;
  int last_error_ = 0;
};

}  // namespace vnet::sw
