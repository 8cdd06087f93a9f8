// switch_blaster: frames/s between two clients of a userspace switch, the same program
// against vnet switch and vde_switch. One thread sends 64-byte frames as fast as the
// socket takes them from client A to client B's MAC; the other counts what B receives.
//
//   switch_blaster vde DIR SECONDS        two VDE clients of the switch at DIR
//   switch_blaster stream PATH_A PATH_B SECONDS   two stream clients (vnet only)
//   switch_blaster udp-recv PORT SECONDS          count 18-byte UDP datagrams (recvmmsg)
//   switch_blaster udp-send ADDR PORT SECONDS     send them as fast as the socket takes
//                                                 them (sendmmsg, 64 per call)
//
// The udp modes are lean endpoints for the tap benchmark: iperf3 spends several
// microseconds per datagram on each side, so on a small machine its receiver, not the
// switch between the namespaces, sets the rate.
//
// Prints: "sent N received M seconds S rx_fps F".
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "switch/vde_proto.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Client {
  int fd = -1;
  bool stream = false;
};

sockaddr_un addr(const std::string& p) {
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  std::snprintf(sa.sun_path, sizeof sa.sun_path, "%s", p.c_str());
  return sa;
}

Client vde_client(const std::string& dir, const std::string& tag) {
  int ctl = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un c = addr(dir + "/ctl");
  if (::connect(ctl, reinterpret_cast<sockaddr*>(&c), sizeof c) < 0) {
    std::perror("connect ctl");
    std::exit(1);
  }
  std::string local = "/tmp/blaster-" + std::to_string(::getpid()) + "-" + tag;
  ::unlink(local.c_str());
  int data = ::socket(AF_UNIX, SOCK_DGRAM, 0);
  sockaddr_un l = addr(local);
  ::bind(data, reinterpret_cast<sockaddr*>(&l), sizeof l);
  int buf = 4 << 20;
  ::setsockopt(data, SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
  auto req = vnet::sw::build_vde_request(0, l, "blaster " + tag);
  if (::write(ctl, req.data(), req.size()) < 0) std::exit(1);
  sockaddr_un reply{};
  if (::read(ctl, &reply, sizeof reply) != sizeof reply) {
    std::fprintf(stderr, "no VDE reply\n");
    std::exit(1);
  }
  ::connect(data, reinterpret_cast<sockaddr*>(&reply), sizeof reply);
  ::unlink(local.c_str());  // connected both ways: the name is no longer needed
  return Client{data, false};  // ctl stays open (leaked on purpose until exit)
}

Client stream_client(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un sa = addr(path);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) < 0) {
    std::perror("connect stream");
    std::exit(1);
  }
  return Client{fd, true};
}

std::vector<uint8_t> frame(uint8_t dst, uint8_t src) {
  std::vector<uint8_t> f(60, 0);
  uint8_t d[6] = {0x02, 0xb1, 0, 0, 0, dst}, s[6] = {0x02, 0xb1, 0, 0, 0, src};
  std::memcpy(f.data(), d, 6);
  std::memcpy(f.data() + 6, s, 6);
  f[12] = 0x08;
  f[13] = 0x00;
  return f;
}

void send_frame(const Client& c, const std::vector<uint8_t>& f) {
  if (c.stream) {
    uint32_t be = __builtin_bswap32(uint32_t(f.size()));
    iovec iov[2] = {{&be, 4}, {const_cast<uint8_t*>(f.data()), f.size()}};
    (void)::writev(c.fd, iov, 2);
  } else {
    (void)::send(c.fd, f.data(), f.size(), 0);
  }
}

sockaddr_in inet(const char* ip, const char* port) {
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(uint16_t(std::atoi(port)));
  if (ip) ::inet_pton(AF_INET, ip, &sa.sin_addr);
  return sa;
}

int udp_send(const char* ip, const char* port, double secs) {
  int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in sa = inet(ip, port);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) < 0) return std::perror("connect"), 1;
  uint8_t payload[18] = {};
  std::vector<iovec> iov(64, iovec{payload, sizeof payload});
  std::vector<mmsghdr> msgs(64);
  for (size_t i = 0; i < msgs.size(); ++i) {
    msgs[i].msg_hdr = msghdr{};
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
  }
  uint64_t sent = 0;
  auto end = Clock::now() + std::chrono::duration<double>(secs);
  while (Clock::now() < end) {
    int n = ::sendmmsg(fd, msgs.data(), unsigned(msgs.size()), 0);
    if (n > 0) sent += unsigned(n);
  }
  std::printf("sent %llu seconds %.2f tx_fps %.0f\n", (unsigned long long)sent, secs,
              double(sent) / secs);
  return 0;
}

int udp_recv(const char* port, double secs) {
  int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  int buf = 4 << 20;
  ::setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof buf);
  sockaddr_in sa = inet(nullptr, port);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) < 0) return std::perror("bind"), 1;
  std::vector<std::array<uint8_t, 64>> bufs(64);
  std::vector<iovec> iov(64);
  std::vector<mmsghdr> msgs(64);
  for (size_t i = 0; i < msgs.size(); ++i) {
    iov[i] = iovec{bufs[i].data(), bufs[i].size()};
    msgs[i].msg_hdr = msghdr{};
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
  }
  // The clock starts at the first datagram and stops at the last one before the
  // sender's time is up (it stops sending; 300 ms of silence ends the count).
  uint64_t received = 0;
  Clock::time_point first, last;
  while (true) {
    pollfd p{fd, POLLIN, 0};
    int wait_ms = received ? 300 : int(secs * 1000) + 5000;
    if (::poll(&p, 1, wait_ms) != 1) break;
    int n = ::recvmmsg(fd, msgs.data(), unsigned(msgs.size()), MSG_DONTWAIT, nullptr);
    if (n <= 0) continue;
    if (!received) first = Clock::now();
    received += unsigned(n);
    last = Clock::now();
  }
  double elapsed = std::chrono::duration<double>(last - first).count();
  std::printf("received %llu seconds %.2f rx_fps %.0f\n", (unsigned long long)received,
              elapsed, elapsed > 0 ? double(received) / elapsed : 0.0);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 4 && std::string(argv[1]) == "udp-recv") return udp_recv(argv[2], std::atof(argv[3]));
  if (argc == 5 && std::string(argv[1]) == "udp-send")
    return udp_send(argv[2], argv[3], std::atof(argv[4]));
  if (argc < 4) {
    std::fprintf(stderr, "usage: switch_blaster vde DIR SECONDS | stream A B SECONDS\n");
    return 2;
  }
  std::string mode = argv[1];
  Client a, b;
  double secs;
  if (mode == "vde") {
    a = vde_client(argv[2], "a");
    b = vde_client(argv[2], "b");
    secs = std::atof(argv[3]);
  } else {
    a = stream_client(argv[2]);
    b = stream_client(argv[3]);
    secs = std::atof(argv[4]);
  }
  // B announces itself so the switch learns where its MAC is; A's frames are then
  // unicast to one port, not flooded.
  send_frame(b, frame(0xff, 2));
  send_frame(a, frame(0xff, 1));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  // drain the announcements
  {
    uint8_t tmp[65536];
    while (::recv(a.fd, tmp, sizeof tmp, MSG_DONTWAIT) > 0) {
    }
    while (::recv(b.fd, tmp, sizeof tmp, MSG_DONTWAIT) > 0) {
    }
  }
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> sent{0};
  auto f = frame(2, 1);
  std::thread sender([&] {
    // A batch of frames per write for streams (as QEMU does when its queue fills).
    std::vector<uint8_t> batch;
    for (int i = 0; i < 64; ++i) {
      uint32_t be = __builtin_bswap32(uint32_t(f.size()));
      batch.insert(batch.end(), reinterpret_cast<uint8_t*>(&be), reinterpret_cast<uint8_t*>(&be) + 4);
      batch.insert(batch.end(), f.begin(), f.end());
    }
    uint64_t n = 0;
    while (!stop.load(std::memory_order_relaxed)) {
      if (a.stream) {
        ssize_t w = ::write(a.fd, batch.data(), batch.size());
        if (w == ssize_t(batch.size())) n += 64;
      } else {
        if (::send(a.fd, f.data(), f.size(), 0) > 0) ++n;
      }
    }
    sent = n;
  });
  uint64_t received = 0;
  auto start = Clock::now();
  auto end = start + std::chrono::duration<double>(secs);
  std::vector<uint8_t> buf(1 << 20);
  size_t fill = 0;
  while (Clock::now() < end) {
    pollfd p{b.fd, POLLIN, 0};
    if (::poll(&p, 1, 100) != 1) continue;
    if (b.stream) {
      ssize_t n = ::read(b.fd, buf.data() + fill, buf.size() - fill);
      if (n <= 0) break;
      fill += size_t(n);
      size_t off = 0;
      while (fill - off >= 4) {
        uint32_t len = __builtin_bswap32(*reinterpret_cast<uint32_t*>(buf.data() + off));
        if (fill - off < 4 + len) break;
        off += 4 + len;
        ++received;
      }
      std::memmove(buf.data(), buf.data() + off, fill - off);
      fill -= off;
    } else {
      while (::recv(b.fd, buf.data(), buf.size(), MSG_DONTWAIT) > 0) ++received;
    }
  }
  double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  stop = true;
  sender.join();
  std::printf("sent %llu received %llu seconds %.2f rx_fps %.0f\n",
              (unsigned long long)sent.load(), (unsigned long long)received, elapsed,
              double(received) / elapsed);
  return 0;
}
