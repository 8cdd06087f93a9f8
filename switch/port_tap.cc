// Tap ports: /dev/net/tun opened by interface name (created when absent) with
// IFF_VNET_HDR, so frames carry a virtio_net_hdr. With offloads on (TUNSETOFFLOAD, only
// while every port of the switch speaks vnet_hdr) the kernel hands us TCP super-frames
// of up to 64 KiB and we write them to the other tap whole: the main reason tap-to-tap
// TCP through this switch is several times vde_switch's.
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "switch/port.h"

namespace vnet::sw {
namespace {

class TapPort : public Port {
 public:
  explicit TapPort(UniqueFd fd) : fd_(std::move(fd)) {}
  int fd() const override { return fd_.get(); }
  bool vnet_hdr() const override { return true; }

  RecvStatus recv(RxArena& arena, std::vector<RxFrame>& out) override {
    out.clear();
    // A tap hands out one frame per read(): read until empty, a batch at most.
    for (size_t i = 0; i < kBatch; ++i) {
      uint8_t* buf = arena.slot(i);
      ssize_t n = ::read(fd_.get(), buf, kSlotSize);
      if (n < 0) {
        if (errno == EAGAIN || errno == EINTR) break;
        return RecvStatus::kClosed;  // EBADFD: the interface was deleted
      }
      if (size_t(n) < kVnetHdrLen) continue;
      out.push_back(RxFrame{buf + kVnetHdrLen, size_t(n) - kVnetHdrLen,
                            reinterpret_cast<const VnetHdr*>(buf)});
    }
    return RecvStatus::kOk;
  }

  bool send(const iovec* iov, int iovcnt, size_t) override {
    // One writev is one frame on a tap. A full tap queue returns EAGAIN: drop, as a
    // switch does when an egress queue overflows.
    return ::writev(fd_.get(), iov, iovcnt) >= 0;
  }

  void set_offload(bool on) override {
    unsigned off = on ? (TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN) : 0;
    ::ioctl(fd_.get(), TUNSETOFFLOAD, off);
  }

 private:
  UniqueFd fd_;
};

}  // namespace

Result<std::unique_ptr<Port>> open_tap(const std::string& ifname) {
  if (ifname.empty() || ifname.size() >= IFNAMSIZ)
    return fail("tap name '" + ifname + "' is not a valid interface name", 0,
                ExitCode::kBadInput);
  UniqueFd fd(::open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC));
  if (!fd) return fail_errno("open /dev/net/tun");
  ifreq ifr{};
  std::memcpy(ifr.ifr_name, ifname.data(), ifname.size());
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
  if (::ioctl(fd.get(), TUNSETIFF, &ifr) < 0) {
    // A persistent multi-queue tap only attaches with IFF_MULTI_QUEUE.
    ifr.ifr_flags |= IFF_MULTI_QUEUE;
    if (::ioctl(fd.get(), TUNSETIFF, &ifr) < 0) return fail_errno("tap " + ifname + ": TUNSETIFF");
  }
  int hdr = int(kVnetHdrLen);
  if (::ioctl(fd.get(), TUNSETVNETHDRSZ, &hdr) < 0)
    return fail_errno("tap " + ifname + ": TUNSETVNETHDRSZ");
  if (::ioctl(fd.get(), TUNSETOFFLOAD, 0u) < 0)
    return fail_errno("tap " + ifname + ": TUNSETOFFLOAD");
  auto p = std::make_unique<TapPort>(std::move(fd));
  p->kind = "tap";
  p->peer = ifname;
  return std::unique_ptr<Port>(std::move(p));
}

}  // namespace vnet::sw
