#include "scenario/checks.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <netinet/icmp6.h>
#include <netinet/ip.h>
#include <netinet/ip_icmp.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>

#include "base/unique_fd.h"
#include "netlink/netns.h"

namespace vnet::scenario {

namespace {

using Clock = std::chrono::steady_clock;
using topology::Check;
using topology::IpAddress;

double since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

sockaddr_storage sockaddr_of(const IpAddress& a, uint16_t port, socklen_t& len) {
  sockaddr_storage ss{};
  if (a.family == AF_INET) {
    auto* s = reinterpret_cast<sockaddr_in*>(&ss);
    s->sin_family = AF_INET;
    s->sin_port = htons(port);
    memcpy(&s->sin_addr, a.bytes.data(), 4);
    len = sizeof(sockaddr_in);
  } else {
    auto* s = reinterpret_cast<sockaddr_in6*>(&ss);
    s->sin6_family = AF_INET6;
    s->sin6_port = htons(port);
    memcpy(&s->sin6_addr, a.bytes.data(), 16);
    len = sizeof(sockaddr_in6);
  }
  return ss;
}

uint16_t inet_checksum(const uint8_t* p, size_t n) {
  uint32_t sum = 0;
  for (size_t i = 0; i + 1 < n; i += 2) sum += (p[i] << 8) | p[i + 1];
  if (n & 1) sum += p[n - 1] << 8;
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return htons(static_cast<uint16_t>(~sum));
}

// Opens a socket inside `netns` (the thread returns to its own namespace afterwards).
Result<UniqueFd> socket_in(const std::string& netns, int domain, int type, int protocol) {
  auto ns = netlink::open_netns(netns);
  if (!ns) return tl::unexpected(ns.error());
  auto guard = netlink::NetnsGuard::enter(ns->get());
  if (!guard) return tl::unexpected(guard.error());
  UniqueFd fd(socket(domain, type | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol));
  if (!fd) return fail_errno("socket in namespace " + netns);
  return fd;
}

// One running check: owns its sockets; on_readable/on_writable advance it.
struct Probe {
  const CheckSpec* spec = nullptr;
  CheckResult result;
  Clock::time_point start, deadline;
  UniqueFd fd;
  bool done = false;
  uint16_t ident = 0;
  uint32_t replies = 0;
  std::vector<bool> seen;
  short events = POLLIN;

  void finish(bool reached, std::string detail) {
    if (done) return;
    done = true;
    result.reached = reached;
    result.passed = reached == (spec->check.expect == Check::Expect::kReach);
    result.seconds = since(start);
    result.detail = std::move(detail);
  }
};

Status start_ping(Probe& p) {
  const Check& c = p.spec->check;
  bool v4 = c.address.family == AF_INET;
  auto fd = socket_in(p.spec->from_netns, v4 ? AF_INET : AF_INET6, SOCK_RAW,
                      v4 ? int(IPPROTO_ICMP) : int(IPPROTO_ICMPV6));
  if (!fd) return tl::unexpected(fd.error());
  p.fd = std::move(*fd);
  if (c.mtu) {
    int df = v4 ? IP_PMTUDISC_DO : IPV6_PMTUDISC_DO;
    setsockopt(p.fd.get(), v4 ? IPPROTO_IP : IPPROTO_IPV6, v4 ? IP_MTU_DISCOVER : IPV6_MTU_DISCOVER,
               &df, sizeof df);
  }
  size_t header = v4 ? 20 + 8 : 40 + 8;
  size_t size = c.mtu ? (*c.mtu > header ? *c.mtu - header : 0) + 8 : 64;
  std::vector<uint8_t> pkt(size, 0xa5);
  socklen_t len;
  sockaddr_storage to = sockaddr_of(c.address, 0, len);
  p.seen.assign(c.count, false);
  for (uint32_t seq = 0; seq < c.count; ++seq) {
    pkt[0] = v4 ? ICMP_ECHO : ICMP6_ECHO_REQUEST;
    pkt[1] = 0;
    pkt[2] = pkt[3] = 0;
    uint16_t id = htons(p.ident), sq = htons(static_cast<uint16_t>(seq));
    memcpy(&pkt[4], &id, 2);
    memcpy(&pkt[6], &sq, 2);
    if (v4) {
      uint16_t sum = inet_checksum(pkt.data(), pkt.size());
      memcpy(&pkt[2], &sum, 2);
    }  // ICMPv6: the kernel fills the checksum on raw ICMPv6 sockets
    if (sendto(p.fd.get(), pkt.data(), pkt.size(), 0, reinterpret_cast<sockaddr*>(&to), len) < 0) {
      int e = errno;
      p.finish(false, std::string("send: ") + strerror(e));
      return {};
    }
  }
  return {};
}

void read_ping(Probe& p) {
  bool v4 = p.spec->check.address.family == AF_INET;
  uint8_t buf[65536];
  for (;;) {
    sockaddr_storage from{};
    socklen_t fl = sizeof from;
    ssize_t n = recvfrom(p.fd.get(), buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &fl);
    if (n < 0) return;
    const uint8_t* icmp = buf;
    size_t len = n;
    if (v4) {
      size_t ihl = (buf[0] & 0x0f) * 4;
      if (len < ihl + 8) continue;
      if (memcmp(buf + 12, p.spec->check.address.bytes.data(), 4) != 0) continue;
      icmp += ihl, len -= ihl;
      if (icmp[0] != ICMP_ECHOREPLY) continue;
    } else {
      auto* s6 = reinterpret_cast<sockaddr_in6*>(&from);
      if (len < 8 || memcmp(&s6->sin6_addr, p.spec->check.address.bytes.data(), 16) != 0) continue;
      if (icmp[0] != ICMP6_ECHO_REPLY) continue;
    }
    uint16_t id, seq;
    memcpy(&id, icmp + 4, 2);
    memcpy(&seq, icmp + 6, 2);
    if (ntohs(id) != p.ident || ntohs(seq) >= p.seen.size() || p.seen[ntohs(seq)]) continue;
    p.seen[ntohs(seq)] = true;
    if (++p.replies == p.seen.size())
      p.finish(true, std::to_string(p.replies) + "/" + std::to_string(p.seen.size()) + " replies");
  }
}

Status start_tcp(Probe& p) {
  const Check& c = p.spec->check;
  auto fd = socket_in(p.spec->from_netns, c.address.family, SOCK_STREAM, 0);
  if (!fd) return tl::unexpected(fd.error());
  p.fd = std::move(*fd);
  socklen_t len;
  sockaddr_storage to = sockaddr_of(c.address, c.port, len);
  if (connect(p.fd.get(), reinterpret_cast<sockaddr*>(&to), len) == 0) {
    p.finish(true, "connected");
  } else if (errno != EINPROGRESS) {
    int e = errno;
    p.finish(false, strerror(e));
  }
  p.events = POLLOUT;
  return {};
}

void read_tcp(Probe& p) {
  int err = 0;
  socklen_t l = sizeof err;
  getsockopt(p.fd.get(), SOL_SOCKET, SO_ERROR, &err, &l);
  if (err == 0) p.finish(true, "connected");
  else p.finish(false, strerror(err));
}

struct ArpPacket {
  arphdr hdr;
  uint8_t sha[6], spa[4], tha[6], tpa[4];
} __attribute__((packed));

Status start_arping(Probe& p) {
  const CheckSpec& s = *p.spec;
  auto fd = socket_in(s.from_netns, AF_PACKET, SOCK_DGRAM, htons(ETH_P_ARP));
  if (!fd) return tl::unexpected(fd.error());
  p.fd = std::move(*fd);
  // Name -> index and MAC must be asked inside the namespace: ioctls on this socket are.
  ifreq ifr{};
  strncpy(ifr.ifr_name, s.arp_ifname.c_str(), IFNAMSIZ - 1);
  if (ioctl(p.fd.get(), SIOCGIFINDEX, &ifr) < 0)
    return fail_errno("arping: interface " + s.arp_ifname + " in " + s.from_netns);
  int ifindex = ifr.ifr_ifindex;
  if (ioctl(p.fd.get(), SIOCGIFHWADDR, &ifr) < 0) return fail_errno("arping: SIOCGIFHWADDR");
  sockaddr_ll ll{};
  ll.sll_family = AF_PACKET;
  ll.sll_protocol = htons(ETH_P_ARP);
  ll.sll_ifindex = ifindex;
  if (bind(p.fd.get(), reinterpret_cast<sockaddr*>(&ll), sizeof ll) < 0)
    return fail_errno("arping: bind");
  ArpPacket req{};
  req.hdr.ar_hrd = htons(ARPHRD_ETHER);
  req.hdr.ar_pro = htons(ETH_P_IP);
  req.hdr.ar_hln = 6;
  req.hdr.ar_pln = 4;
  req.hdr.ar_op = htons(ARPOP_REQUEST);
  memcpy(req.sha, ifr.ifr_hwaddr.sa_data, 6);
  memcpy(req.spa, s.arp_source.bytes.data(), 4);
  memcpy(req.tpa, s.check.address.bytes.data(), 4);
  ll.sll_halen = 6;
  memset(ll.sll_addr, 0xff, 6);
  for (uint32_t i = 0; i < s.check.count; ++i)
    if (sendto(p.fd.get(), &req, sizeof req, 0, reinterpret_cast<sockaddr*>(&ll), sizeof ll) < 0)
      return fail_errno("arping: send");
  return {};
}

void read_arping(Probe& p) {
  ArpPacket r;
  for (;;) {
    ssize_t n = recv(p.fd.get(), &r, sizeof r, 0);
    if (n < 0) return;
    if (n < static_cast<ssize_t>(sizeof r) || ntohs(r.hdr.ar_op) != ARPOP_REPLY) continue;
    if (memcmp(r.spa, p.spec->check.address.bytes.data(), 4) != 0) continue;
    char mac[18];
    snprintf(mac, sizeof mac, "%02x:%02x:%02x:%02x:%02x:%02x", r.sha[0], r.sha[1], r.sha[2],
             r.sha[3], r.sha[4], r.sha[5]);
    p.finish(true, std::string("is-at ") + mac);
    return;
  }
}

// Listeners for tcp checks, one per (namespace, address, port), open for the whole run.
Result<std::vector<UniqueFd>> open_listeners(const std::vector<CheckSpec>& specs) {
  std::vector<UniqueFd> out;
  std::map<std::string, bool> opened;
  for (const CheckSpec& s : specs) {
    if (s.check.kind != Check::Kind::kTcp || s.listen_netns.empty()) continue;
    std::string key = s.listen_netns + " " + s.check.target;
    if (opened[key]) continue;
    opened[key] = true;
    auto fd = socket_in(s.listen_netns, s.check.address.family, SOCK_STREAM, 0);
    if (!fd) return tl::unexpected(fd.error());
    int one = 1;
    setsockopt(fd->get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    // Bind even while an IPv6 address is still tentative (DAD).
    setsockopt(fd->get(), IPPROTO_IP, IP_FREEBIND, &one, sizeof one);
    socklen_t len;
    sockaddr_storage at = sockaddr_of(s.check.address, s.check.port, len);
    if (bind(fd->get(), reinterpret_cast<sockaddr*>(&at), len) < 0 || listen(fd->get(), 64) < 0)
      return fail_errno("tcp listener on " + s.check.target + " in " + s.listen_netns);
    out.push_back(std::move(*fd));
  }
  return out;
}

}  // namespace

Result<std::vector<CheckResult>> run_checks(
    const std::vector<CheckSpec>& specs, int stop_fd,
    const std::function<void(size_t done, size_t total)>& progress) {
  auto listeners = open_listeners(specs);
  if (!listeners) return tl::unexpected(listeners.error());
  std::vector<Probe> probes(specs.size());
  uint16_t ident_base = static_cast<uint16_t>(getpid() * 131);
  for (size_t i = 0; i < specs.size(); ++i) {
    Probe& p = probes[i];
    p.spec = &specs[i];
    p.ident = static_cast<uint16_t>(ident_base + i);
    p.start = Clock::now();
    const Check& c = specs[i].check;
    p.deadline = p.start + (specs[i].timeout_ms ? std::chrono::milliseconds(specs[i].timeout_ms)
                                                : std::chrono::milliseconds(c.timeout_s * 1000));
    Status st;
    switch (c.kind) {
      case Check::Kind::kPing: st = start_ping(p); break;
      case Check::Kind::kTcp: st = start_tcp(p); break;
      case Check::Kind::kArping: st = start_arping(p); break;
    }
    if (!st) p.finish(false, st.error().str());
  }
  size_t reported = SIZE_MAX;
  for (;;) {
    if (progress) {
      size_t done = 0;
      for (const Probe& p : probes) done += p.done;
      if (done != reported) progress(done, probes.size());
      reported = done;
    }
    std::vector<pollfd> fds;
    std::vector<Probe*> owners;
    Clock::time_point next = Clock::time_point::max();
    for (Probe& p : probes) {
      if (p.done) continue;
      if (Clock::now() >= p.deadline) {
        if (p.spec->check.kind != Check::Kind::kPing) p.finish(false, "timed out");
        else if (p.replies == 0) p.finish(false, "no reply");
        else  // some replies are reach, as ping(8) counts it
          p.finish(true, std::to_string(p.replies) + "/" + std::to_string(p.seen.size()) + " replies");
        continue;
      }
      fds.push_back({p.fd.get(), p.events, 0});
      owners.push_back(&p);
      next = std::min(next, p.deadline);
    }
    if (owners.empty()) break;
    if (stop_fd >= 0) fds.push_back({stop_fd, POLLIN, 0});
    auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(next - Clock::now()).count();
    int n = poll(fds.data(), fds.size(), static_cast<int>(std::max<long>(wait + 1, 0)));
    if (n < 0 && errno != EINTR) return fail_errno("poll");
    if (stop_fd >= 0 && (fds.back().revents & POLLIN)) return fail("interrupted");
    for (size_t i = 0; i < owners.size(); ++i) {
      if (!fds[i].revents) continue;
      Probe& p = *owners[i];
      switch (p.spec->check.kind) {
        case Check::Kind::kPing: read_ping(p); break;
        case Check::Kind::kTcp: read_tcp(p); break;
        case Check::Kind::kArping: read_arping(p); break;
      }
    }
  }
  std::vector<CheckResult> out;
  for (Probe& p : probes) out.push_back(p.result);
  return out;
}

}  // namespace vnet::scenario
