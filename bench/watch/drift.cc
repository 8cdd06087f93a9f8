// bench/watch: drift-to-repaired latency of `vnet watch`, against the peer an operator
// has without it (running `vnet apply` once the drift is noticed), in the same run.
//
// usage (as root): watch_drift VNET_BINARY [N]
// A namespace with a bridge, 20 veth ports and 10 taps is applied and watched; then N
// drifts are injected over netlink, rotating three kinds: an owned port set down, an
// owned tap deleted, a foreign address added to the owned bridge. The time runs from
// the kernel's ack of the drift to the rtnetlink event of its repair (the port up again,
// the tap back and up, the address gone). Then the same N drifts, each repaired by
// `vnet apply` started right after the ack (process start to exit). Prints median, p99
// and max of both, and their ratio.
#include <fcntl.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

std::string g_cleanup;  // run on the way out, also on failure

[[noreturn]] void die(const std::string& what) {
  perror(what.c_str());
  if (!g_cleanup.empty()) (void)!system(g_cleanup.c_str());
  exit(1);
}

int sh(const std::string& cmd) { return system(cmd.c_str()); }

// A netlink socket in namespace `ns`, joined to `groups` (a bit mask of RTMGRP_*).
int nl_socket(const std::string& ns, unsigned groups) {
  int self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
  int target = open(("/run/netns/" + ns).c_str(), O_RDONLY | O_CLOEXEC);
  if (target < 0 || setns(target, CLONE_NEWNET) != 0) die("setns " + ns);
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  sockaddr_nl sa{};
  sa.nl_family = AF_NETLINK;
  sa.nl_groups = groups;
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) die("netlink");
  setns(self, CLONE_NEWNET);
  close(self);
  close(target);
  return fd;
}

struct Req {
  nlmsghdr h;
  union {
    ifinfomsg ifi;
    ifaddrmsg ifa;
  };
  char attrs[64];
};

void put_attr(Req& r, uint16_t type, const void* data, size_t len) {
  auto* a = reinterpret_cast<rtattr*>(reinterpret_cast<char*>(&r) + NLMSG_ALIGN(r.h.nlmsg_len));
  a->rta_type = type;
  a->rta_len = RTA_LENGTH(len);
  memcpy(RTA_DATA(a), data, len);
  r.h.nlmsg_len = NLMSG_ALIGN(r.h.nlmsg_len) + RTA_ALIGN(a->rta_len);
}

// Sends one request and waits for its ack: the drift is in the kernel from here on.
void request(int fd, Req& r) {
  static uint32_t seq = 1;
  r.h.nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
  r.h.nlmsg_seq = seq++;
  if (send(fd, &r, r.h.nlmsg_len, 0) < 0) die("send");
  char buf[8192];
  for (;;) {
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n < 0) die("recv ack");
    for (auto* h = reinterpret_cast<nlmsghdr*>(buf); NLMSG_OK(h, n); h = NLMSG_NEXT(h, n))
      if (h->nlmsg_type == NLMSG_ERROR && h->nlmsg_seq == r.h.nlmsg_seq) {
        int err = reinterpret_cast<nlmsgerr*>(NLMSG_DATA(h))->error;
        if (err) {
          errno = -err;
          die("drift request (" + std::to_string(r.h.nlmsg_type) + " ifindex " + std::to_string(r.ifi.ifi_index) + ")");
        }
        return;
      }
  }
}

Req link_req(uint16_t type, int ifindex) {
  Req r{};
  r.h.nlmsg_len = NLMSG_LENGTH(sizeof(ifinfomsg));
  r.h.nlmsg_type = type;
  r.ifi.ifi_family = AF_UNSPEC;
  r.ifi.ifi_index = ifindex;
  return r;
}

int ifindex_in(const std::string& ns, const std::string& name) {
  int self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
  int target = open(("/run/netns/" + ns).c_str(), O_RDONLY | O_CLOEXEC);
  setns(target, CLONE_NEWNET);
  int idx = static_cast<int>(if_nametoindex(name.c_str()));
  setns(self, CLONE_NEWNET);
  close(self);
  close(target);
  return idx;
}

enum class Kind { kDown, kDeleteTap, kForeignAddress };

// Waits on the event socket for the repair of drift `k` on `name` (bounded: 10 s).
bool repaired(int ev, Kind k, const std::string& name) {
  char buf[64 * 1024];
  auto deadline = Clock::now() + std::chrono::seconds(10);
  while (Clock::now() < deadline) {
    pollfd p{ev, POLLIN, 0};
    if (poll(&p, 1, 100) <= 0) continue;
    ssize_t n = recv(ev, buf, sizeof buf, 0);
    if (n <= 0) continue;
    for (auto* h = reinterpret_cast<nlmsghdr*>(buf); NLMSG_OK(h, n); h = NLMSG_NEXT(h, n)) {
      if (k == Kind::kForeignAddress) {
        if (h->nlmsg_type == RTM_DELADDR) return true;
        continue;
      }
      if (h->nlmsg_type != RTM_NEWLINK) continue;
      auto* ifi = static_cast<ifinfomsg*>(NLMSG_DATA(h));
      if (!(ifi->ifi_flags & IFF_UP)) continue;
      int len = static_cast<int>(IFLA_PAYLOAD(h));
      for (auto* a = IFLA_RTA(ifi); RTA_OK(a, len); a = RTA_NEXT(a, len))
        if (a->rta_type == IFLA_IFNAME && name == static_cast<const char*>(RTA_DATA(a))) return true;
    }
  }
  return false;
}

void drift(int cmd, const std::string& ns, Kind k, const std::string& name) {
  int idx = ifindex_in(ns, k == Kind::kForeignAddress ? "br-w" : name);
  if (k == Kind::kDown) {
    Req r = link_req(RTM_NEWLINK, idx);
    r.ifi.ifi_change = IFF_UP;
    request(cmd, r);
  } else if (k == Kind::kDeleteTap) {
    Req r = link_req(RTM_DELLINK, idx);
    request(cmd, r);
  } else {
    static int host = 10;
    Req r{};
    r.h.nlmsg_len = NLMSG_LENGTH(sizeof(ifaddrmsg));
    r.h.nlmsg_type = RTM_NEWADDR;
    r.h.nlmsg_flags = NLM_F_CREATE | NLM_F_EXCL;
    r.ifa.ifa_family = AF_INET;
    r.ifa.ifa_prefixlen = 24;
    r.ifa.ifa_index = static_cast<unsigned>(idx);
    unsigned char a[4] = {10, 71, 0, static_cast<unsigned char>(host++ % 200 + 10)};
    put_attr(r, IFA_LOCAL, a, 4);
    put_attr(r, IFA_ADDRESS, a, 4);
    request(cmd, r);
  }
}

struct Stats {
  double median, p99, max;
};
Stats stats(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return {v[v.size() / 2], v[(v.size() * 99 + 99) / 100 - 1], v.back()};
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s VNET_BINARY [N]\n", argv[0]);
    return 2;
  }
  std::string vnet = argv[1];
  int n = argc > 2 ? atoi(argv[2]) : 100;
  std::string ns = "vbw" + std::to_string(getpid());
  std::string dir = "/tmp/" + ns;
  sh("mkdir -p " + dir + " && ip netns add " + ns);
  {
    std::ofstream f(dir + "/host.toml");
    f << "[host]\nname = \"bw\"\n[bridges.br-w]\naddresses = [\"10.71.0.1/24\"]\n";
    for (int i = 0; i < 20; ++i) f << "[veths.vw" << i << "]\npeer = \"pw" << i << "\"\nbridge = \"br-w\"\n";
    for (int i = 0; i < 10; ++i) f << "[taps.tw" << i << "]\nbridge = \"br-w\"\n";
  }
  std::string env = "VNET_RUN_DIR=" + dir + " ";
  g_cleanup = env + vnet + " --netns " + ns + " destroy " + dir + "/host.toml > /dev/null; ip netns del " + ns +
              "; rm -rf " + dir;
  std::string watch_cmd = env + "exec " + vnet + " --netns " + ns + " watch " + dir + "/host.toml 2>" + dir + "/log";
  pid_t watcher = fork();
  if (watcher == 0) {
    execl("/bin/sh", "sh", "-c", watch_cmd.c_str(), nullptr);
    _exit(127);
  }
  for (int i = 0; i < 500 && sh("grep -q watching " + dir + "/log 2>/dev/null") != 0; ++i) usleep(20000);
  if (sh("grep -q watching " + dir + "/log") != 0) {
    sh("cat " + dir + "/log >&2");
    errno = 0;
    die("vnet watch did not start");
  }
  int cmd = nl_socket(ns, 0);
  int ev = nl_socket(ns, RTMGRP_LINK | RTMGRP_IPV4_IFADDR);
  auto pick = [&](int i, Kind& k) {
    k = static_cast<Kind>(i % 3);
    return k == Kind::kDeleteTap ? "tw" + std::to_string(i % 10) : "vw" + std::to_string(i % 20);
  };
  auto drain = [&] {
    char buf[64 * 1024];
    while (recv(ev, buf, sizeof buf, MSG_DONTWAIT) > 0) {
    }
  };
  std::vector<double> watch_ms, apply_ms;
  for (int i = 0; i < n; ++i) {
    Kind k;
    std::string name = pick(i, k);
    usleep(30000);  // the previous repair's own events settle
    drain();
    drift(cmd, ns, k, name);
    auto t0 = Clock::now();
    if (!repaired(ev, k, name)) {
      fprintf(stderr, "drift %d (%s) not repaired within 10 s\n", i, name.c_str());
      break;
    }
    watch_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
  }
  kill(watcher, SIGTERM);
  waitpid(watcher, nullptr, 0);
  std::string apply_cmd = env + vnet + " --netns " + ns + " apply " + dir + "/host.toml > /dev/null";
  for (int i = 0; i < n && watch_ms.size() == static_cast<size_t>(n); ++i) {
    Kind k;
    std::string name = pick(i, k);
    drift(cmd, ns, k, name);
    auto t0 = Clock::now();
    if (sh(apply_cmd) != 0) break;
    apply_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
  }
  sh(g_cleanup);
  if (watch_ms.size() != static_cast<size_t>(n) || apply_ms.size() != static_cast<size_t>(n)) return 1;
  Stats w = stats(watch_ms), a = stats(apply_ms);
  std::string head = "drift -> repaired, ms (N=" + std::to_string(n) + ")";
  printf("%-34s %10s %10s %10s\n", head.c_str(), "median", "p99", "max");
  printf("%-34s %10.1f %10.1f %10.1f\n", "vnet watch", w.median, w.p99, w.max);
  printf("%-34s %10.1f %10.1f %10.1f\n", "vnet apply run after the drift", a.median, a.p99, a.max);
  printf("%-34s %10.2f %10.2f\n", "ratio watch/apply", w.median / a.median, w.p99 / a.p99);
  return 0;
}
