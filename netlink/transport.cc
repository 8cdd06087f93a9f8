// SocketTransport: libmnl sockets with extended acks on, capped acks (the kernel does not
// echo each request back), big buffers so a batch of thousands of requests fits, and
// batches cut into sendmsg-sized chunks at message boundaries.
#include "netlink/transport.h"

#include <libmnl/libmnl.h>
#include <linux/netlink.h>
#include <sys/socket.h>

#include <cerrno>
#include <thread>

#include "netlink/netns.h"

namespace vnet::netlink {

struct SocketTransport::Sock {
  mnl_socket* nl = nullptr;
  uint32_t portid = 0;
  ~Sock() {
    if (nl) mnl_socket_close(nl);
  }
};

namespace {

constexpr size_t kChunk = 256 * 1024;
constexpr int kSockBuf = 16 * 1024 * 1024;

Result<std::unique_ptr<SocketTransport::Sock>> open_sock(int netns_fd) {
  auto guard = NetnsGuard::enter(netns_fd);
  if (!guard) return tl::unexpected(guard.error());
  auto s = std::make_unique<SocketTransport::Sock>();
  s->nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
  if (!s->nl) return fail_errno("netlink socket");
  int on = 1;
  mnl_socket_setsockopt(s->nl, NETLINK_EXT_ACK, &on, sizeof on);
  mnl_socket_setsockopt(s->nl, NETLINK_CAP_ACK, &on, sizeof on);
  // strict checking: dump filters (the main routing table only) are honoured
  mnl_socket_setsockopt(s->nl, NETLINK_GET_STRICT_CHK, &on, sizeof on);
  int fd = mnl_socket_get_fd(s->nl);
  int sz = kSockBuf;
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof sz) != 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
  if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof sz) != 0)
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
  if (mnl_socket_bind(s->nl, 0, MNL_SOCKET_AUTOPID) < 0) return fail_errno("netlink bind");
  s->portid = mnl_socket_get_portid(s->nl);
  return s;
}

}  // namespace

SocketTransport::~SocketTransport() = default;

Result<std::unique_ptr<SocketTransport>> SocketTransport::open(int netns_fd) {
  std::unique_ptr<SocketTransport> t(new SocketTransport());
  t->netns_fd_ = netns_fd;
  auto s = open_sock(netns_fd);
  if (!s) return tl::unexpected(s.error());
  t->main_ = std::move(*s);
  t->rbuf_.resize(1 << 20);
  return t;
}

Result<SocketTransport::Sock*> SocketTransport::dump_socket(size_t i) {
  while (dumpers_.size() <= i) {
    auto s = open_sock(netns_fd_);
    if (!s) return tl::unexpected(s.error());
    dumpers_.push_back(std::move(*s));
  }
  return dumpers_[i].get();
}

Result<std::vector<Ack>> SocketTransport::transact(std::span<const uint8_t> batch, size_t count) {
  std::vector<Ack> acks;
  acks.reserve(count);
  size_t off = 0;
  while (off < batch.size()) {
    // a chunk of whole messages
    size_t end = off, n = 0;
    while (end < batch.size()) {
      const auto* nlh = reinterpret_cast<const nlmsghdr*>(batch.data() + end);
      size_t len = NLMSG_ALIGN(nlh->nlmsg_len);
      if (end > off && end + len - off > kChunk) break;
      end += len;
      ++n;
    }
    ssize_t sent = mnl_socket_sendto(main_->nl, batch.data() + off, end - off);
    if (sent < 0) return fail_errno("netlink sendmsg");
    ++sendmsg_calls;
    requests_sent += n;
    size_t want = acks.size() + n;
    while (acks.size() < want) {
      ssize_t r = mnl_socket_recvfrom(main_->nl, rbuf_.data(), rbuf_.size());
      if (r < 0) {
        if (errno == EINTR) continue;
        return fail_errno("netlink recv (acks)");
      }
      auto st = decode_acks({rbuf_.data(), static_cast<size_t>(r)}, acks);
      if (!st) return tl::unexpected(st.error());
    }
    off = end;
  }
  return acks;
}

Result<std::vector<DumpReply>> SocketTransport::dump(
    const std::vector<std::vector<uint8_t>>& requests) {
  std::vector<Sock*> socks;
  for (size_t i = 0; i < requests.size(); ++i) {
    auto s = dump_socket(i);
    if (!s) return tl::unexpected(s.error());
    socks.push_back(*s);
    if (mnl_socket_sendto((*s)->nl, requests[i].data(), requests[i].size()) < 0)
      return fail_errno("netlink dump request");
    ++sendmsg_calls;
  }
  // The kernel produces a dump's data as it is read, so reading them one after the other
  // would add their costs up: each dump is read on its own thread.
  std::vector<DumpReply> out(requests.size());
  std::vector<Error> errs(requests.size());
  std::vector<bool> ok(requests.size(), true);
  auto read_one = [&](size_t i) {
    std::vector<uint8_t> buf(256 * 1024);
    bool done = false;
    while (!done) {
      ssize_t r = mnl_socket_recvfrom(socks[i]->nl, buf.data(), buf.size());
      if (r < 0) {
        if (errno == EINTR) continue;
        errs[i] = fail_errno("netlink recv (dump)").value();
        ok[i] = false;
        return;
      }
      out[i].emplace_back(buf.data(), buf.data() + r);
      const auto* nlh = reinterpret_cast<const nlmsghdr*>(buf.data());
      int len = static_cast<int>(r);
      while (mnl_nlmsg_ok(nlh, len)) {
        if (nlh->nlmsg_type == NLMSG_DONE || nlh->nlmsg_type == NLMSG_ERROR) done = true;
        nlh = mnl_nlmsg_next(nlh, &len);
      }
    }
  };
  std::vector<std::thread> threads;
  for (size_t i = 1; i < requests.size(); ++i) threads.emplace_back(read_one, i);
  if (!requests.empty()) read_one(0);
  for (std::thread& t : threads) t.join();
  for (size_t i = 0; i < requests.size(); ++i)
    if (!ok[i]) return tl::unexpected(errs[i]);
  return out;
}

}  // namespace vnet::netlink
