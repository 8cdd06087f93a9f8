// AF_PACKET ports: the switch joins a kernel link (a veth end, a NIC) by name. The
// socket is promiscuous, ignores its own transmissions (PACKET_IGNORE_OUTGOING, else
// every frame we send would come back as received), and uses PACKET_VNET_HDR so GSO
// and checksum-offloaded frames from the kernel arrive described rather than mangled.
// The kernel strips a VLAN tag into metadata (PACKET_AUXDATA); we put it back.
#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "switch/msg_queue.h"
#include "switch/port.h"

namespace vnet::sw {
namespace {

constexpr size_t kHeadroom = 4;  // for re-inserting a stripped tag

class PacketPort : public Port {
 public:
  explicit PacketPort(UniqueFd fd) : fd_(std::move(fd)) {
    for (auto& m : msgs_) m = mmsghdr{};
  }
  int fd() const override { return fd_.get(); }
  const char* io() const override { return "mmsg"; }
  bool vnet_hdr() const override { return true; }

  RecvStatus recv(RxArena& arena, std::vector<RxFrame>& out) override {
    out.clear();
    for (size_t i = 0; i < kBatch; ++i) {
      iov_[i] = iovec{arena.slot(i) + kHeadroom, kSlotSize - kHeadroom};
      msgs_[i].msg_hdr = msghdr{};
      msgs_[i].msg_hdr.msg_iov = &iov_[i];
      msgs_[i].msg_hdr.msg_iovlen = 1;
      msgs_[i].msg_hdr.msg_control = cmsg_[i];
      msgs_[i].msg_hdr.msg_controllen = sizeof cmsg_[i];
    }
    int n = ::recvmmsg(fd_.get(), msgs_, kBatch, MSG_DONTWAIT, nullptr);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) return RecvStatus::kOk;
      return errno == ENETDOWN ? RecvStatus::kOk : RecvStatus::kClosed;
    }
    for (int i = 0; i < n; ++i) {
      size_t len = msgs_[i].msg_len;
      if (len < kVnetHdrLen || (msgs_[i].msg_hdr.msg_flags & MSG_TRUNC)) continue;
      uint8_t* base = arena.slot(size_t(i)) + kHeadroom;
      const tpacket_auxdata* aux = nullptr;
      for (cmsghdr* c = CMSG_FIRSTHDR(&msgs_[i].msg_hdr); c;
           c = CMSG_NXTHDR(&msgs_[i].msg_hdr, c))
        if (c->cmsg_level == SOL_PACKET && c->cmsg_type == PACKET_AUXDATA)
          aux = reinterpret_cast<const tpacket_auxdata*>(CMSG_DATA(c));
      if (aux && (aux->tp_status & TP_STATUS_VLAN_VALID) && len >= kVnetHdrLen + 12) {
        // Move vnet_hdr + both MACs 4 bytes down and put the tag in the gap.
        uint16_t tpid = (aux->tp_status & TP_STATUS_VLAN_TPID_VALID) ? aux->tp_vlan_tpid
                                                                      : ETH_P_8021Q;
        std::memmove(base - kHeadroom, base, kVnetHdrLen + 12);
        base -= kHeadroom;
        uint8_t* tag = base + kVnetHdrLen + 12;
        tag[0] = uint8_t(tpid >> 8);
        tag[1] = uint8_t(tpid);
        tag[2] = uint8_t(aux->tp_vlan_tci >> 8);
        tag[3] = uint8_t(aux->tp_vlan_tci);
        auto* h = reinterpret_cast<VnetHdr*>(base);
        *h = shift_vnet_hdr(*h, +4);
        len += kHeadroom;
      }
      out.push_back(RxFrame{base + kVnetHdrLen, len - kVnetHdrLen,
                            reinterpret_cast<const VnetHdr*>(base)});
    }
    return RecvStatus::kOk;
  }

  bool send(const iovec* iov, int iovcnt, size_t) override {
    q_.push(fd_.get(), iov, iovcnt);
    return true;
  }
  size_t flush() override { return q_.flush(fd_.get()); }

 private:
  UniqueFd fd_;
  mmsghdr msgs_[kBatch];
  iovec iov_[kBatch];
  alignas(cmsghdr) uint8_t cmsg_[kBatch][CMSG_SPACE(sizeof(tpacket_auxdata))];
  MsgQueue q_;
};

}  // namespace

Result<std::unique_ptr<Port>> open_packet(const std::string& ifname) {
  unsigned idx = ::if_nametoindex(ifname.c_str());
  if (idx == 0) return fail_errno("packet port: link " + ifname);
  UniqueFd fd(::socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, htons(ETH_P_ALL)));
  if (!fd) return fail_errno("packet port " + ifname + ": socket");
  int one = 1;
  if (::setsockopt(fd.get(), SOL_PACKET, PACKET_VNET_HDR, &one, sizeof one) < 0)
    return fail_errno("packet port " + ifname + ": PACKET_VNET_HDR");
  if (::setsockopt(fd.get(), SOL_PACKET, PACKET_AUXDATA, &one, sizeof one) < 0)
    return fail_errno("packet port " + ifname + ": PACKET_AUXDATA");
  if (::setsockopt(fd.get(), SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof one) < 0)
    return fail_errno("packet port " + ifname + ": PACKET_IGNORE_OUTGOING");
  sockaddr_ll sll{};
  sll.sll_family = AF_PACKET;
  sll.sll_protocol = htons(ETH_P_ALL);
  sll.sll_ifindex = int(idx);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&sll), sizeof sll) < 0)
    return fail_errno("packet port " + ifname + ": bind");
  packet_mreq mr{};
  mr.mr_ifindex = int(idx);
  mr.mr_type = PACKET_MR_PROMISC;
  if (::setsockopt(fd.get(), SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof mr) < 0)
    return fail_errno("packet port " + ifname + ": promiscuous mode");
  int buf = 4 << 20;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
  auto p = std::make_unique<PacketPort>(std::move(fd));
  p->kind = "packet";
  p->peer = ifname;
  return std::unique_ptr<Port>(std::move(p));
}

}  // namespace vnet::sw
