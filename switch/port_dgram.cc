// Datagram ports: one Ethernet frame per unix datagram, received with recvmmsg() and
// sent with sendmmsg(), a batch per system call. Two users:
//  - a VDE client (QEMU -netdev vde, vde_plug): the socket is connected to the client's
//    own socket, and the client's control connection (aux_fd) ends the port on EOF;
//  - QEMU -netdev dgram: the switch's socket is bound at a declared path and answers
//    whoever sent to it last (QEMU binds its `local` path, so it has an address).
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "switch/msg_queue.h"
#include "switch/port.h"
#include "switch/sockets.h"

namespace vnet::sw {
namespace {

class DgramPort : public Port {
 public:
  DgramPort(UniqueFd fd, UniqueFd ctl, std::vector<std::string> paths, bool connected)
      : fd_(std::move(fd)), ctl_(std::move(ctl)), paths_(std::move(paths)),
        connected_(connected) {
    int buf = 1 << 20;
    ::setsockopt(fd_.get(), SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
    ::setsockopt(fd_.get(), SOL_SOCKET, SO_SNDBUF, &buf, sizeof buf);
  }
  int fd() const override { return fd_.get(); }
  const char* io() const override { return "mmsg"; }
  int aux_fd() const override { return ctl_.get(); }
  std::vector<std::string> paths() const override { return paths_; }

  RecvStatus recv(RxArena& arena, std::vector<RxFrame>& out) override {
    out.clear();
    for (size_t i = 0; i < kBatch; ++i) {
      iov_[i] = iovec{arena.slot(i), kSlotSize};
      msgs_[i] = mmsghdr{};
      msgs_[i].msg_hdr.msg_iov = &iov_[i];
      msgs_[i].msg_hdr.msg_iovlen = 1;
      if (!connected_) {
        msgs_[i].msg_hdr.msg_name = &from_[i];
        msgs_[i].msg_hdr.msg_namelen = sizeof from_[i];
      }
    }
    int n = ::recvmmsg(fd_.get(), msgs_, kBatch, MSG_DONTWAIT, nullptr);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) return RecvStatus::kOk;
      // A connected VDE port whose client vanished; a listener keeps going.
      return connected_ ? RecvStatus::kClosed : RecvStatus::kOk;
    }
    for (int i = 0; i < n; ++i) {
      out.push_back(RxFrame{arena.slot(size_t(i)), msgs_[i].msg_len, nullptr});
      if (!connected_ && msgs_[i].msg_hdr.msg_namelen > sizeof(sa_family_t)) {
        peer_addr_ = from_[i];
        peer_len_ = msgs_[i].msg_hdr.msg_namelen;
      }
    }
    if (!connected_ && peer_len_) peer = peer_name();
    return RecvStatus::kOk;
  }

  bool send(const iovec* iov, int iovcnt, size_t) override {
    if (!connected_ && peer_len_ == 0) return false;  // nobody has spoken to us yet
    q_.push(fd_.get(), iov, iovcnt, to(), peer_len_);
    return true;
  }
  size_t flush() override { return q_.flush(fd_.get(), to(), peer_len_); }

  RecvStatus on_aux() override {
    // The control connection carries nothing after the handshake: readable means EOF
    // (or junk, which vde_switch also treats as the end).
    char buf[256];
    ssize_t n = ::read(ctl_.get(), buf, sizeof buf);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return RecvStatus::kOk;
    return RecvStatus::kClosed;
  }

 private:
  const sockaddr* to() const {
    return connected_ ? nullptr : reinterpret_cast<const sockaddr*>(&peer_addr_);
  }
  std::string peer_name() const {
    size_t n = peer_len_ - offsetof(sockaddr_un, sun_path);
    return std::string(peer_addr_.sun_path, strnlen(peer_addr_.sun_path, n));
  }

  UniqueFd fd_, ctl_;
  std::vector<std::string> paths_;
  bool connected_;
  mmsghdr msgs_[kBatch];
  iovec iov_[kBatch];
  sockaddr_un from_[kBatch];
  sockaddr_un peer_addr_{};
  socklen_t peer_len_ = 0;
  MsgQueue q_;
};

}  // namespace

Result<std::unique_ptr<Port>> open_dgram_listener(const std::string& path, uint32_t mode,
                                                  int gid) {
  auto fd = listen_unix(path, SOCK_DGRAM, mode, gid);
  if (!fd) return tl::unexpected(fd.error().context("dgram port"));
  auto p = std::make_unique<DgramPort>(std::move(*fd), UniqueFd(),
                                       std::vector<std::string>{path}, false);
  p->kind = "dgram";
  return std::unique_ptr<Port>(std::move(p));
}

std::unique_ptr<Port> make_vde_port(UniqueFd data, UniqueFd ctl, std::string data_path) {
  auto p = std::make_unique<DgramPort>(std::move(data), std::move(ctl),
                                       std::vector<std::string>{std::move(data_path)}, true);
  p->kind = "vde";
  return p;
}

}  // namespace vnet::sw
