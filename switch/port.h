// A switch port as the event loop sees it: a file descriptor that yields frames and
// accepts them. One implementation per kind, each in its own file (port_tap.cc,
// port_packet.cc, port_dgram.cc for VDE clients and QEMU dgram, port_stream.cc).
//
// Receiving fills a batch of RxFrames that point into an arena the loop owns (or into
// the port's own buffer); they stay valid until the loop calls recv() again, and the
// loop flushes every port it queued frames to before that. Sending takes an iovec list
// (tag pushed or popped by splitting the frame, never by copying it) and may queue it
// until flush(), so datagram ports can send a whole batch with one sendmmsg().
#pragma once

#include <sys/uio.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/error.h"
#include "base/unique_fd.h"
#include "switch/fdb.h"
#include "switch/vnet_hdr.h"

namespace vnet::sw {

inline constexpr size_t kBatch = 32;
// One arena slot: a GSO super-frame, its vnet_hdr, and room to re-insert a VLAN tag.
inline constexpr size_t kSlotSize = 65536 + 256;

struct RxFrame {
  uint8_t* data = nullptr;     // the frame, from the destination MAC (writable: the
  size_t len = 0;              // loop may complete a checksum in a copy, never here)
  const VnetHdr* vhdr = nullptr;  // present when the port speaks vnet_hdr
};

struct RxArena {
  std::vector<uint8_t> mem = std::vector<uint8_t>(kBatch * kSlotSize);
  uint8_t* slot(size_t i) { return mem.data() + i * kSlotSize; }
};

enum class RecvStatus { kOk, kClosed };

class Port {
 public:
  virtual ~Port() = default;

  PortId id = 0;
  std::string name;  // the named port of the config it came from, or "" (VDE client)
  std::string kind;  // "tap", "packet", "vde", "stream", "dgram"
  std::string peer;  // what is on the other side: tap name, client description, path
  bool write_armed = false;  // the loop's bookkeeping: EPOLLOUT registered
  bool offload_on = false;   // taps: TSO/checksum offload currently enabled
  uint32_t vde_asked = 0;    // VDE clients: the port number the client asked for (0: any)

  virtual int fd() const = 0;
  virtual bool vnet_hdr() const { return false; }
  // How frames cross into the kernel: "io_uring" or "read/write" (taps: a batch per
  // system call, or one call per frame), "mmsg" (recvmmsg/sendmmsg), "stream" (many
  // length-prefixed frames per read/writev).
  virtual const char* io() const = 0;
  // Appends up to kBatch frames to `out` (cleared first). kClosed: remove the port.
  virtual RecvStatus recv(RxArena& arena, std::vector<RxFrame>& out) = 0;
  // `iov` covers one whole frame (with the vnet_hdr first when vnet_hdr()); false when
  // the frame was dropped (queue full, peer unknown, error).
  virtual bool send(const iovec* iov, int iovcnt, size_t len) = 0;
  // Frames already received into the port's own buffer and not yet handed out (a
  // stream read can bring many batches at once): the loop calls recv() again without
  // waiting for the fd.
  virtual bool pending() const { return false; }
  // Sends what send() queued. Returns the number of frames that could not be sent.
  virtual size_t flush() { return 0; }
  // Extra fds the loop must watch for this port (a VDE client's control connection),
  // and whether the port wants EPOLLOUT (a stream port with a backlog).
  virtual int aux_fd() const { return -1; }
  virtual bool wants_write() const { return false; }
  // Called when fd() is writable (wants_write()) or aux_fd() is readable/hung up.
  virtual RecvStatus on_writable() { return RecvStatus::kOk; }
  virtual RecvStatus on_aux() { return RecvStatus::kOk; }
  // Turns TSO/checksum offload on or off (taps only).
  virtual void set_offload(bool) {}
  // Paths to remove at shutdown.
  virtual std::vector<std::string> paths() const { return {}; }
};

// Opens (creating if absent) tap `ifname` with IFF_VNET_HDR.
Result<std::unique_ptr<Port>> open_tap(const std::string& ifname);
// AF_PACKET on link `ifname` (promiscuous, own sends ignored, PACKET_VNET_HDR).
Result<std::unique_ptr<Port>> open_packet(const std::string& ifname);
// A unix datagram socket bound at `path`; replies go to whoever sent last (QEMU dgram).
Result<std::unique_ptr<Port>> open_dgram_listener(const std::string& path, uint32_t mode,
                                                  int gid);
// A VDE client's data port: `data` is bound and connected to the client, `ctl` is its
// control connection (EOF = the client left).
std::unique_ptr<Port> make_vde_port(UniqueFd data, UniqueFd ctl, std::string data_path);
// One accepted connection on a stream listener (4-byte big-endian length per frame).
std::unique_ptr<Port> make_stream_port(UniqueFd conn);

}  // namespace vnet::sw
