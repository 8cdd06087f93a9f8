#include "switch/msg_queue.h"

#include <cerrno>
#include <cstring>

namespace vnet::sw {

MsgQueue::MsgQueue(size_t capacity)
    : cap_(capacity), iov_(capacity * kMaxIov), msgs_(capacity) {}

void MsgQueue::push(int fd, const iovec* iov, int iovcnt, const sockaddr* to,
                    socklen_t tolen) {
  if (count_ == cap_) pending_drops_ += flush(fd, to, tolen);
  if (iovcnt > kMaxIov) iovcnt = kMaxIov;
  iovec* dst = &iov_[count_ * kMaxIov];
  std::memcpy(dst, iov, sizeof(iovec) * size_t(iovcnt));
  mmsghdr& m = msgs_[count_];
  m = mmsghdr{};
  m.msg_hdr.msg_iov = dst;
  m.msg_hdr.msg_iovlen = size_t(iovcnt);
  ++count_;
}

size_t MsgQueue::flush(int fd, const sockaddr* to, socklen_t tolen) {
  size_t sent = 0;
  last_error_ = 0;
  while (sent < count_) {
    for (size_t i = sent; i < count_; ++i) {
      msgs_[i].msg_hdr.msg_name = const_cast<sockaddr*>(to);
      msgs_[i].msg_hdr.msg_namelen = to ? tolen : 0;
    }
    int n = ::sendmmsg(fd, &msgs_[sent], unsigned(count_ - sent), MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) continue;
      // EAGAIN: the receiver is not keeping up. Others: the peer is gone (the loop
      // finds out on its next read). Either way the rest of the batch is dropped, and
      // the frame that failed is skipped so one bad frame cannot block the queue.
      last_error_ = errno;
      break;
    }
    sent += size_t(n);
    if (n == 0) break;
  }
  size_t dropped = count_ - sent + pending_drops_;
  count_ = 0;
  pending_drops_ = 0;
  return dropped;
}

}  // namespace vnet::sw
