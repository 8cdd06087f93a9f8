// Datagram ports: one Ethernet frame per unix datagram, received with recvmmsg() and
// sent with sendmmsg(), a batch per system call. Two users:
//  - a VDE client (QEMU -netdev vde, vde_plug): the socket is connected to the client's
//    own socket, and the client's control connection (aux_fd) ends the port on EOF;
//  - QEMU -netdev dgram: the switch's socket is bound at a declared path and answers
//    whoever sent to it last (QEMU binds its `local` path, so it has an address), once
//    that address checks out against the sender's credentials (SCM_CREDENTIALS): the
//    sender's own socket, or the sender could write to it anyway (sockets.h).
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/text.h"
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
        msgs_[i].msg_hdr.msg_control = cred_[i];
        msgs_[i].msg_hdr.msg_controllen = sizeof cred_[i];
      }
    }
    int n = ::recvmmsg(fd_.get(), msgs_, kBatch, MSG_DONTWAIT, nullptr);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) return RecvStatus::kOk;
      // A connected VDE port whose client vanished; a listener keeps going.
      return connected_ ? RecvStatus::kClosed : RecvStatus::kOk;
    }
    int last = -1;  // the last sender with an address is the one answered
    for (int i = 0; i < n; ++i) {
      out.push_back(RxFrame{arena.slot(size_t(i)), msgs_[i].msg_len, nullptr});
      if (!connected_ && msgs_[i].msg_hdr.msg_namelen > sizeof(sa_family_t)) last = i;
    }
    if (last >= 0) take_peer(msgs_[last].msg_hdr);
    return RecvStatus::kOk;
  }

  bool send(const iovec* iov, int iovcnt, size_t) override {
    if (!connected_ && dest_.len == 0) return false;  // nobody (acceptable) has spoken yet
    q_.push(fd_.get(), iov, iovcnt, to(), dest_.len);
    return true;
  }
  size_t flush() override {
    size_t dropped = q_.flush(fd_.get(), to(), dest_.len);
    // The checked socket is gone (its owner closed or re-bound it): check again when
    // the sender next speaks, even from the same address.
    if (dropped && !connected_ && (q_.last_error() == ECONNREFUSED || q_.last_error() == ENOENT))
      heard_len_ = 0;
    return dropped;
  }

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
    return connected_ ? nullptr : reinterpret_cast<const sockaddr*>(&dest_.addr);
  }

  // A sender whose address or credentials differ from the last one checked becomes the
  // port's peer if check_client_address() accepts it; otherwise the port answers nobody.
  void take_peer(const msghdr& h) {
    const auto& from = *static_cast<const sockaddr_un*>(h.msg_name);
    uid_t uid = uid_t(-1);  // no credentials: fails every check but "owned by -1"
    for (cmsghdr* c = CMSG_FIRSTHDR(&h); c; c = CMSG_NXTHDR(const_cast<msghdr*>(&h), c))
      if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS &&
          c->cmsg_len >= CMSG_LEN(sizeof(ucred))) {
        ucred cred;
        std::memcpy(&cred, CMSG_DATA(c), sizeof cred);
        uid = cred.uid;
      }
    if (h.msg_namelen == heard_len_ && uid == heard_uid_ &&
        std::memcmp(&from, &heard_, h.msg_namelen) == 0)
      return;
    heard_ = from;
    heard_len_ = h.msg_namelen;
    heard_uid_ = uid;
    size_t n = h.msg_namelen - offsetof(sockaddr_un, sun_path);
    std::string name = printable(std::string(from.sun_path, strnlen(from.sun_path, n)));
    auto checked = check_client_address(from, h.msg_namelen, uid);
    if (checked) {
      dest_ = std::move(*checked);
      peer = name;
    } else {
      dest_ = ClientAddress{};
      peer = "refused: " + printable(checked.error().str());
    }
  }

  UniqueFd fd_, ctl_;
  std::vector<std::string> paths_;
  bool connected_;
  mmsghdr msgs_[kBatch];
  iovec iov_[kBatch];
  sockaddr_un from_[kBatch];
  alignas(cmsghdr) char cred_[kBatch][CMSG_SPACE(sizeof(ucred))];
  sockaddr_un heard_{};  // the last sender checked, with its uid
  socklen_t heard_len_ = 0;
  uid_t heard_uid_ = 0;
  ClientAddress dest_;  // where replies go (len 0: nowhere)
  MsgQueue q_;
};

}  // namespace

Result<std::unique_ptr<Port>> open_dgram_listener(const std::string& path, uint32_t mode,
                                                  int gid) {
  auto fd = listen_unix(path, SOCK_DGRAM, mode, gid);
  if (!fd) return tl::unexpected(fd.error().context("dgram port"));
  int on = 1;
  if (::setsockopt(fd->get(), SOL_SOCKET, SO_PASSCRED, &on, sizeof on) < 0)
    return fail_errno("dgram port " + path + ": SO_PASSCRED");
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
