// Stream ports (QEMU -netdev stream, and any program that frames Ethernet the same way):
// each frame is a 4-byte big-endian length followed by the frame. Reads take as many
// frames as fit in one buffer; frames wholly inside it are handed out in place. Writes
// queue iovecs for the batch and go out in one writev(); what the peer cannot take yet
// is kept in a bounded backlog (then frames are dropped, as an egress queue would).
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "switch/frame.h"
#include "switch/port.h"

namespace vnet::sw {
namespace {

constexpr size_t kRxBuf = 256 * 1024;
constexpr size_t kMaxBacklog = 4 << 20;
constexpr size_t kMaxIov = 512;  // below IOV_MAX (1024)

class StreamPort : public Port {
 public:
  explicit StreamPort(UniqueFd fd) : fd_(std::move(fd)), rx_(kRxBuf) {
    int buf = 1 << 20;
    ::setsockopt(fd_.get(), SOL_SOCKET, SO_SNDBUF, &buf, sizeof buf);
    ::setsockopt(fd_.get(), SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
  }
  int fd() const override { return fd_.get(); }
  const char* io() const override { return "stream"; }
  bool wants_write() const override { return backlog_size() > 0; }

  RecvStatus recv(RxArena&, std::vector<RxFrame>& out) override {
    out.clear();
    // Frames handed out last time have been forwarded: drop them, keep a partial tail.
    if (consumed_) {
      std::memmove(rx_.data(), rx_.data() + consumed_, fill_ - consumed_);
      fill_ -= consumed_;
      consumed_ = 0;
    }
    // Whole frames still in the buffer go first; read only when fewer than a batch.
    if (!parse(out)) return RecvStatus::kClosed;
    if (out.size() == kBatch || fill_ == rx_.size()) return RecvStatus::kOk;
    ssize_t n = ::read(fd_.get(), rx_.data() + fill_, rx_.size() - fill_);
    if (n == 0) return RecvStatus::kClosed;
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) return RecvStatus::kOk;
      return RecvStatus::kClosed;
    }
    fill_ += size_t(n);
    return parse(out) ? RecvStatus::kOk : RecvStatus::kClosed;
  }

  bool pending() const override { return has_whole_frame(); }

  bool send(const iovec* iov, int iovcnt, size_t len) override {
    uint32_t be = __builtin_bswap32(uint32_t(len));
    if (backlog_size() > 0 || iovs_.size() + size_t(iovcnt) + 1 > kMaxIov) {
      // Behind a backlog, order demands the frame joins it (or is dropped whole).
      queue_to_backlog();
      if (backlog_size() + len + 4 > kMaxBacklog) return false;
      append(&be, 4);
      for (int i = 0; i < iovcnt; ++i) append(iov[i].iov_base, iov[i].iov_len);
      return true;
    }
    lens_.push_back(be);
    len_index_.push_back(iovs_.size());
    iovs_.push_back(iovec{nullptr, 4});
    for (int i = 0; i < iovcnt; ++i) iovs_.push_back(iov[i]);
    return true;
  }

  size_t flush() override {
    if (iovs_.empty()) return 0;
    fix_len_pointers();
    size_t total = 0;
    for (const auto& v : iovs_) total += v.iov_len;
    ssize_t n = ::writev(fd_.get(), iovs_.data(), int(iovs_.size()));
    size_t done = n < 0 ? 0 : size_t(n);  // EAGAIN, or the peer is gone (read tells us)
    if (done < total) {
      // The unsent tail is kept whole, even past the cap: a frame cut in the middle
      // would put the stream out of step for good.
      for (const auto& v : iovs_) {
        if (done >= v.iov_len) {
          done -= v.iov_len;
          continue;
        }
        append(static_cast<const uint8_t*>(v.iov_base) + done, v.iov_len - done);
        done = 0;
      }
    }
    clear_queue();
    return 0;
  }

  RecvStatus on_writable() override {
    while (backlog_size() > 0) {
      ssize_t n = ::write(fd_.get(), backlog_.data() + head_, backlog_size());
      if (n < 0) {
        if (errno == EAGAIN || errno == EINTR) return RecvStatus::kOk;
        return RecvStatus::kClosed;
      }
      head_ += size_t(n);
    }
    backlog_.clear();
    head_ = 0;
    return RecvStatus::kOk;
  }

 private:
  // Appends whole frames after consumed_ to `out`, at most a batch in all. False when a
  // length no frame can have puts the stream out of step: the port is ended rather
  // than left guessing where the next frame starts.
  bool parse(std::vector<RxFrame>& out) {
    while (out.size() < kBatch && fill_ - consumed_ >= 4) {
      uint32_t len = frame_len(consumed_);
      if (len > kMaxGsoFrame || len + 4 > rx_.size()) return false;
      if (fill_ - consumed_ < 4 + len) break;
      out.push_back(RxFrame{rx_.data() + consumed_ + 4, len, nullptr});
      consumed_ += 4 + len;
    }
    return true;
  }
  uint32_t frame_len(size_t at) const {
    const uint8_t* p = rx_.data() + at;
    return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3];
  }
  bool has_whole_frame() const {
    return fill_ - consumed_ >= 4 && fill_ - consumed_ >= 4 + size_t(frame_len(consumed_));
  }
  size_t backlog_size() const { return backlog_.size() - head_; }
  void append(const void* p, size_t n) {
    auto* b = static_cast<const uint8_t*>(p);
    backlog_.insert(backlog_.end(), b, b + n);
  }
  // lens_ may have grown (and moved) since an iovec was queued: point at it now.
  void fix_len_pointers() {
    for (size_t i = 0; i < len_index_.size(); ++i) iovs_[len_index_[i]].iov_base = &lens_[i];
  }
  void queue_to_backlog() {
    if (iovs_.empty()) return;
    fix_len_pointers();
    for (const auto& v : iovs_) append(v.iov_base, v.iov_len);
    clear_queue();
  }
  void clear_queue() {
    iovs_.clear();
    len_index_.clear();
    lens_.clear();
  }

  UniqueFd fd_;
  std::vector<uint8_t> rx_;
  size_t fill_ = 0, consumed_ = 0;
  std::vector<iovec> iovs_;
  std::vector<size_t> len_index_;
  std::vector<uint32_t> lens_;
  std::vector<uint8_t> backlog_;
  size_t head_ = 0;
};

}  // namespace

std::unique_ptr<Port> make_stream_port(UniqueFd conn) {
  auto p = std::make_unique<StreamPort>(std::move(conn));
  p->kind = "stream";
  return p;
}

}  // namespace vnet::sw
