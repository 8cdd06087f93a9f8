// Tap ports: /dev/net/tun opened by interface name (created when absent) with
// IFF_VNET_HDR, so frames carry a virtio_net_hdr. With offloads on (TUNSETOFFLOAD, only
// while every port of the switch speaks vnet_hdr) the kernel hands us TCP super-frames
// of up to 64 KiB and we write them to the other tap whole: the main reason tap-to-tap
// TCP through this switch is several times vde_switch's.
//
// A tap moves one frame per read() or write(), and a system call is the switch's largest
// cost per small frame (about 1 µs each on the virtual machines we measure on, more than
// the forwarding itself). So a batch of reads, and every frame queued for this tap
// until flush(), goes to the kernel through an io_uring in ONE io_uring_enter(); one
// frame alone (a quiet tap, a ping) takes the plain call, which is cheaper. The
// file is O_NONBLOCK, so each read finishes inline, with a frame or -EAGAIN, before the
// call returns; nothing is left in flight between calls. Where io_uring is unavailable
// (kernel.io_uring_disabled, a seccomp filter) or VNET_SWITCH_IO_URING=0 is set, the
// port falls back to one read()/writev() per frame.
#include <fcntl.h>
#include <liburing.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <optional>

#include "switch/port.h"

namespace vnet::sw {
namespace {

// Reads posted per call follow what the last call found: doubled while every read finds
// a frame (up to kBatch), else as many as were found; a tap not read for kQuiet starts
// again from one plain read().
constexpr auto kQuiet = std::chrono::microseconds(200);
// A call posts at most kBatch requests and waits for all of them, so the ring is empty
// between calls and io_uring_get_sqe() cannot run out.
constexpr unsigned kRingEntries = 2 * kBatch;
constexpr size_t kMaxIovPerFrame = 6;  // what Daemon::emit builds at most
constexpr uint64_t kWriteTag = uint64_t(1) << 32;

bool io_uring_wanted() {
  const char* v = std::getenv("VNET_SWITCH_IO_URING");
  return !v || std::strcmp(v, "0") != 0;
}

class TapPort : public Port {
 public:
  explicit TapPort(UniqueFd fd) : fd_(std::move(fd)) {
    if (!io_uring_wanted()) return;
    ring_.emplace();
    if (io_uring_queue_init(kRingEntries, &*ring_, 0) < 0) ring_.reset();
  }
  ~TapPort() override {
    if (ring_) io_uring_queue_exit(&*ring_);
  }
  int fd() const override { return fd_.get(); }
  bool vnet_hdr() const override { return true; }
  const char* io() const override { return ring_ ? "io_uring" : "read/write"; }

  RecvStatus recv(RxArena& arena, std::vector<RxFrame>& out) override {
    out.clear();
    return ring_ ? recv_batched(arena, out) : recv_each(arena, out);
  }

  bool send(const iovec* iov, int iovcnt, size_t) override {
    if (!ring_) return write_one(iov, iovcnt);
    if (iovcnt > int(kMaxIovPerFrame)) return false;
    if (queued_ == kBatch) {
      failed_ += submit_writes();
      if (!ring_) return write_one(iov, iovcnt);  // the ring failed: no more queueing
    }
    // The bytes the iovecs point to stay put until flush(): the loop still holds them.
    std::copy(iov, iov + iovcnt, iov_[queued_].data());
    iovcnt_[queued_++] = iovcnt;
    return true;
  }

  size_t flush() override {
    size_t failed = failed_ + (queued_ ? submit_writes() : 0);
    failed_ = 0;
    return failed;
  }

  void set_offload(bool on) override {
    unsigned off = on ? (TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN) : 0;
    ::ioctl(fd_.get(), TUNSETOFFLOAD, off);
  }

 private:
  RecvStatus recv_each(RxArena& arena, std::vector<RxFrame>& out) {
    for (size_t i = 0; i < kBatch; ++i) {
      uint8_t* buf = arena.slot(i);
      ssize_t n = ::read(fd_.get(), buf, kSlotSize);
      if (n < 0) {
        if (errno == EAGAIN || errno == EINTR) break;
        return RecvStatus::kClosed;  // EBADFD: the interface was deleted
      }
      take(buf, size_t(n), out);
    }
    return RecvStatus::kOk;
  }

  // One writev is one frame on a tap. A full tap queue fails it: the frame is dropped,
  // as a switch does when an egress queue overflows.
  bool write_one(const iovec* iov, int iovcnt) { return ::writev(fd_.get(), iov, iovcnt) >= 0; }

  RecvStatus recv_batched(RxArena& arena, std::vector<RxFrame>& out) {
    // A tap read again soon after its last read is busy; one that was not gets a plain
    // read(): a frame alone (a ping, a keystroke) is quicker through it than a batch.
    if (std::chrono::steady_clock::now() - last_recv_ > kQuiet) reads_ = 1;
    RecvStatus st = reads_ == 1 ? recv_one(arena, out) : recv_many(arena, out);
    last_recv_ = std::chrono::steady_clock::now();
    return st;
  }

  RecvStatus recv_one(RxArena& arena, std::vector<RxFrame>& out) {
    ssize_t n = ::read(fd_.get(), arena.slot(0), kSlotSize);
    if (n < 0 && errno != EAGAIN && errno != EINTR) return RecvStatus::kClosed;
    if (n >= 0) take(arena.slot(0), size_t(n), out);
    reads_ = n >= 0 ? 2 : 1;
    return RecvStatus::kOk;
  }

  RecvStatus recv_many(RxArena& arena, std::vector<RxFrame>& out) {
    const unsigned posted = reads_;
    for (unsigned i = 0; i < posted; ++i) {
      io_uring_sqe* sqe = io_uring_get_sqe(&*ring_);
      io_uring_prep_read(sqe, fd_.get(), arena.slot(i), unsigned(kSlotSize), 0);
      sqe->rw_flags = RWF_NOWAIT;  // io_uring would otherwise wait for a frame
      io_uring_sqe_set_data64(sqe, i);
    }
    std::array<int, kBatch> res;
    res.fill(-EAGAIN);
    unsigned reaped = 0;
    bool ok = io_uring_submit_and_wait(&*ring_, posted) == int(posted);
    reap([&](uint64_t tag, int result) {
      if (tag < kBatch) res[tag] = result;
      ++reaped;
    });
    if (!ok || reaped != posted) {
      // Nothing may stay in flight into the arena: give up the ring, read plainly.
      drop_ring();
      return recv_each(arena, out);
    }
    // Reads on one file run in the order they were posted, so slot order is frame
    // order; a read may find nothing while a later one finds a frame that just came.
    bool closed = false;
    unsigned got = 0;
    for (unsigned i = 0; i < posted; ++i) {
      if (res[i] >= 0) {
        take(arena.slot(i), size_t(res[i]), out);
        ++got;
      } else if (res[i] != -EAGAIN && res[i] != -EINTR) {
        closed = true;  // -EBADFD: the interface was deleted
      }
    }
    reads_ = std::clamp(got == posted ? 2 * posted : got, 1u, unsigned(kBatch));
    return closed && got == 0 ? RecvStatus::kClosed : RecvStatus::kOk;
  }

  // Writes the queued frames — one with a plain writev, more in one io_uring submission —
  // and waits until the kernel has run them all (inline: RWF_NOWAIT); returns how many
  // failed. A call that did not run every request gives up the ring.
  size_t submit_writes() {
    unsigned n = queued_;
    queued_ = 0;
    if (n == 1 || !ring_) {
      size_t failed = 0;
      for (unsigned i = 0; i < n; ++i)
        if (!write_one(iov_[i].data(), iovcnt_[i])) ++failed;
      return failed;
    }
    for (unsigned i = 0; i < n; ++i) {
      io_uring_sqe* sqe = io_uring_get_sqe(&*ring_);
      io_uring_prep_writev(sqe, fd_.get(), iov_[i].data(), unsigned(iovcnt_[i]), 0);
      sqe->rw_flags = RWF_NOWAIT;  // a full tap fails the write (a drop), never parks it
      io_uring_sqe_set_data64(sqe, kWriteTag | i);
    }
    bool ok = io_uring_submit_and_wait(&*ring_, n) == int(n);
    size_t failed = 0, reaped = 0;
    std::array<bool, kBatch> done{};
    reap([&](uint64_t tag, int result) {
      ++reaped;
      if (!(tag & kWriteTag)) return;
      done[tag & 0xffff] = true;
      if (result < 0) ++failed;
    });
    if (!ok || reaped != n) {
      drop_ring();
      for (unsigned i = 0; i < n; ++i)
        if (!done[i] && !write_one(iov_[i].data(), iovcnt_[i])) ++failed;
    }
    return failed;
  }

  // The ring failed (io_uring_enter refused or ran short: out of memory, a limit): this
  // port goes on with one system call per frame; `io` in its status says so.
  void drop_ring() {
    io_uring_queue_exit(&*ring_);
    ring_.reset();
  }

  template <class F>
  void reap(F&& each) {
    io_uring_cqe* cqe;
    unsigned head, seen = 0;
    io_uring_for_each_cqe(&*ring_, head, cqe) {
      each(io_uring_cqe_get_data64(cqe), cqe->res);
      ++seen;
    }
    io_uring_cq_advance(&*ring_, seen);
  }

  static void take(uint8_t* buf, size_t n, std::vector<RxFrame>& out) {
    if (n < kVnetHdrLen) return;
    out.push_back(RxFrame{buf + kVnetHdrLen, n - kVnetHdrLen,
                          reinterpret_cast<const VnetHdr*>(buf)});
  }

  UniqueFd fd_;
  std::optional<io_uring> ring_;
  unsigned reads_ = 1;
  std::chrono::steady_clock::time_point last_recv_{};
  unsigned queued_ = 0;
  size_t failed_ = 0;
  std::array<std::array<iovec, kMaxIovPerFrame>, kBatch> iov_{};
  std::array<int, kBatch> iovcnt_{};
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
