// bench/watch: drift-to-repaired latency of `vnet watch`, against the peer an operator
// has without it (running `vnet apply` once the drift is noticed), in the same run.
//
// usage (as root): watch_drift VNET_BINARY [N] [--vlan]
// A namespace with a bridge, 20 veth ports and 10 taps is applied and watched; then N
// drifts are injected over netlink, rotating four kinds: an owned port set down, an
// owned tap deleted, a foreign address added to the owned bridge, one of the bridge's
// ten declared routes deleted. The time runs from sending the drift's request to the
// rtnetlink event of its repair (the port up again, the tap back and up, the address
// gone, the route back). Then the same N drifts, each repaired by `vnet apply` started
// right after the drift's ack (clock from the same send to its exit). Prints median, p99
// and max of both, their ratio, and both per kind.
// (The clock starts at the send, not at the ack: the kernel acks a link delete only
// once the link is unregistered, and by then vnet watch has often put the tap back.)
//
// --vlan (needs bridge VLAN filtering: run it under `vnet vm-run`): the bridge filters
// VLANs, the veths are access ports (PVID 40), the taps trunks (tagged 10, 20), and the
// drifts rotate a port's PVID changed (VLAN 10 made PVID untagged), a trunk VLAN removed
// (20) and a port released from the bridge. Their repair has several steps and no single
// event says it is done, so on every event about the port the port's bridge state (master
// and VLANs) is dumped, and the clock stops when that dump shows the declared state: each
// watch figure includes at least one dump (their cost is printed). After each `vnet apply` of the peer the same dump
// (outside the clock) checks that apply repaired it.
#include <fcntl.h>
#include <linux/if_bridge.h>
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
std::vector<double> g_dump_ms;  // each port_state() dump made while timing vnet watch

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
    rtmsg rtm;
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

// The route drift's target: name "rtJ" stands for the declared 10.72.J.0/24. Ten routes
// rotate, so that no one repair repeats often enough for the watcher to take the drifts
// for a fight (10 times in 10 s: it then holds off, by design).
int route_dst(const std::string& name) { return atoi(name.c_str() + 2); }

enum class Kind { kDown, kDeleteTap, kForeignAddress, kRouteLost, kPvid, kTrunkVlan, kRelease };
const char* const kKindName[] = {"port set down", "tap deleted", "foreign address", "owned route deleted",
                                 "PVID changed", "trunk VLAN removed", "port released"};

bool vlan_kind(Kind k) { return k >= Kind::kPvid; }

// What the --vlan topology declares for a port: its VLANs as "VID[P][U]," in the kernel's
// order (P: PVID, U: egress untagged).
std::string declared_vlans(const std::string& port) { return port[0] == 't' ? "10,20," : "40PU,"; }

// The bridge state of port `idx`: "master M: VLANS", from one AF_BRIDGE link dump with
// VLANs (a port released from its bridge is not in it: "").
std::string port_state(int fd, int idx) {
  Req r = link_req(RTM_GETLINK, 0);
  r.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  r.ifi.ifi_family = AF_BRIDGE;
  uint32_t mask = RTEXT_FILTER_BRVLAN;
  put_attr(r, IFLA_EXT_MASK, &mask, sizeof mask);
  if (send(fd, &r, r.h.nlmsg_len, 0) < 0) die("send dump");
  std::string out;
  static char buf[64 * 1024];
  for (;;) {
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n < 0) die("recv dump");
    for (auto* h = reinterpret_cast<nlmsghdr*>(buf); NLMSG_OK(h, n); h = NLMSG_NEXT(h, n)) {
      if (h->nlmsg_type == NLMSG_DONE) return out;
      if (h->nlmsg_type == NLMSG_ERROR) {
        errno = -reinterpret_cast<nlmsgerr*>(NLMSG_DATA(h))->error;
        die("bridge dump");
      }
      auto* ifi = static_cast<ifinfomsg*>(NLMSG_DATA(h));
      if (h->nlmsg_type != RTM_NEWLINK || ifi->ifi_index != idx) continue;
      int len = static_cast<int>(IFLA_PAYLOAD(h));
      std::string vlans;
      uint32_t master = 0;
      for (auto* a = IFLA_RTA(ifi); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
        if (a->rta_type == IFLA_MASTER) memcpy(&master, RTA_DATA(a), sizeof master);
        if ((a->rta_type & NLA_TYPE_MASK) != IFLA_AF_SPEC) continue;
        int vlen = static_cast<int>(RTA_PAYLOAD(a));
        for (auto* v = static_cast<rtattr*>(RTA_DATA(a)); RTA_OK(v, vlen); v = RTA_NEXT(v, vlen)) {
          if (v->rta_type != IFLA_BRIDGE_VLAN_INFO) continue;
          bridge_vlan_info info;
          memcpy(&info, RTA_DATA(v), sizeof info);
          vlans += std::to_string(info.vid) + (info.flags & BRIDGE_VLAN_INFO_PVID ? "P" : "") +
                   (info.flags & BRIDGE_VLAN_INFO_UNTAGGED ? "U" : "") + ",";
        }
      }
      out = "master " + std::to_string(master) + ": " + vlans;
    }
  }
}

// The ifindex of an event's link (RTM_*LINK, RTM_*VLAN), or 0.
int event_ifindex(const nlmsghdr* h) {
  if (h->nlmsg_type == RTM_NEWLINK || h->nlmsg_type == RTM_DELLINK)
    return static_cast<const ifinfomsg*>(NLMSG_DATA(h))->ifi_index;
  if (h->nlmsg_type == RTM_NEWVLAN || h->nlmsg_type == RTM_DELVLAN)
    return static_cast<int>(static_cast<const br_vlan_msg*>(NLMSG_DATA(h))->ifindex);
  return 0;
}

// Waits on the event socket for the repair of drift `k` on `name` (bounded: 30 s). For
// the VLAN kinds, `dump` is a socket for port_state() and `want` the repaired state.
bool repaired(int ev, Kind k, const std::string& name, int dump = -1, int idx = 0, const std::string& want = "") {
  char buf[64 * 1024];
  std::string last_state = "(no event about the port)";
  auto deadline = Clock::now() + std::chrono::seconds(30);
  while (Clock::now() < deadline) {
    pollfd p{ev, POLLIN, 0};
    if (poll(&p, 1, 100) <= 0) continue;
    ssize_t n = recv(ev, buf, sizeof buf, 0);
    if (n <= 0) continue;
    if (vlan_kind(k)) {
      bool about_port = false;
      for (auto* h = reinterpret_cast<nlmsghdr*>(buf); NLMSG_OK(h, n); h = NLMSG_NEXT(h, n))
        about_port |= event_ifindex(h) == idx;
      if (!about_port) continue;
      auto d0 = Clock::now();
      std::string now = port_state(dump, idx);
      g_dump_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - d0).count());
      if (now == want) return true;
      last_state = now;
      continue;
    }
    for (auto* h = reinterpret_cast<nlmsghdr*>(buf); NLMSG_OK(h, n); h = NLMSG_NEXT(h, n)) {
      if (k == Kind::kRouteLost) {
        auto* rtm = static_cast<rtmsg*>(NLMSG_DATA(h));
        if (h->nlmsg_type != RTM_NEWROUTE || rtm->rtm_family != AF_INET || rtm->rtm_dst_len != 24) continue;
        int len = static_cast<int>(RTM_PAYLOAD(h));
        for (auto* a = RTM_RTA(rtm); RTA_OK(a, len); a = RTA_NEXT(a, len))
          if (a->rta_type == RTA_DST && route_dst(name) == static_cast<const unsigned char*>(RTA_DATA(a))[2])
            return true;
        continue;
      }
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
  if (vlan_kind(k))
    fprintf(stderr, "%s: bridge state %s, declared %s\n", name.c_str(), last_state.empty() ? "(not a bridge port)" : last_state.c_str(),
            want.c_str());
  return false;
}

// IFLA_AF_SPEC { IFLA_BRIDGE_VLAN_INFO { flags, vid } }, as `bridge vlan add|del` sends it.
void put_vlan(Req& r, uint16_t flags, uint16_t vid) {
  struct {
    rtattr a;
    bridge_vlan_info info;
  } spec{{sizeof spec, IFLA_BRIDGE_VLAN_INFO}, {flags, vid}};
  put_attr(r, IFLA_AF_SPEC, &spec, sizeof spec);
}

void drift(int cmd, const std::string& ns, Kind k, const std::string& name) {
  if (k == Kind::kRouteLost) {
    Req r{};
    r.h.nlmsg_len = NLMSG_LENGTH(sizeof(rtmsg));
    r.h.nlmsg_type = RTM_DELROUTE;
    r.rtm.rtm_family = AF_INET;
    r.rtm.rtm_dst_len = 24;
    r.rtm.rtm_table = RT_TABLE_MAIN;
    r.rtm.rtm_scope = RT_SCOPE_NOWHERE;
    unsigned char dst[4] = {10, 72, static_cast<unsigned char>(route_dst(name)), 0};
    put_attr(r, RTA_DST, dst, 4);
    request(cmd, r);
    return;
  }
  int idx = ifindex_in(ns, k == Kind::kForeignAddress ? "br-w" : name);
  if (k == Kind::kPvid || k == Kind::kTrunkVlan) {
    Req r = link_req(k == Kind::kPvid ? RTM_SETLINK : RTM_DELLINK, idx);
    r.ifi.ifi_family = AF_BRIDGE;
    if (k == Kind::kPvid) put_vlan(r, BRIDGE_VLAN_INFO_PVID | BRIDGE_VLAN_INFO_UNTAGGED, 10);
    else put_vlan(r, 0, 20);
    request(cmd, r);
  } else if (k == Kind::kRelease) {
    Req r = link_req(RTM_SETLINK, idx);
    uint32_t none = 0;
    put_attr(r, IFLA_MASTER, &none, sizeof none);
    request(cmd, r);
  } else if (k == Kind::kDown) {
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
  std::vector<std::string> args(argv + 1, argv + argc);
  bool vlan = std::erase(args, "--vlan") > 0;
  if (args.empty()) {
    fprintf(stderr, "usage: %s VNET_BINARY [N] [--vlan]\n", argv[0]);
    return 2;
  }
  std::string vnet = args[0];
  int n = args.size() > 1 ? atoi(args[1].c_str()) : 100;
  if (n < 1) n = 100;
  std::string ns = "vbw" + std::to_string(getpid());
  std::string dir = "/tmp/" + ns;
  sh("mkdir -p " + dir + " && ip netns add " + ns);
  {
    std::ofstream f(dir + "/host.toml");
    f << "[host]\nname = \"bw\"\n[bridges.br-w]\naddresses = [\"10.71.0.1/24\"]\n"
      << (vlan ? "vlan_filtering = true\n" : "routes = [");
    for (int j = 0; j < 10 && !vlan; ++j)
      f << (j ? ", " : "") << "{ to = \"10.72." << j << ".0/24\", via = \"10.71.0.9\" }" << (j == 9 ? "]\n" : "");
    for (int i = 0; i < 20; ++i)
      f << "[veths.vw" << i << "]\npeer = \"pw" << i << "\"\nbridge = \"br-w\"\n" << (vlan ? "pvid = 40\n" : "");
    for (int i = 0; i < 10; ++i) f << "[taps.tw" << i << "]\nbridge = \"br-w\"\n" << (vlan ? "tagged = [10, 20]\n" : "");
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
  // bounded: 120 s (the first apply under TCG is slow)
  for (int i = 0; i < 6000 && sh("grep -q watching " + dir + "/log 2>/dev/null") != 0; ++i) usleep(20000);
  if (sh("grep -q watching " + dir + "/log") != 0) {
    sh("cat " + dir + "/log >&2");
    errno = 0;
    die("vnet watch did not start");
  }
  int cmd = nl_socket(ns, 0);
  int ev = nl_socket(ns, RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV4_ROUTE);
  unsigned brvlan = RTNLGRP_BRVLAN;
  if (vlan && setsockopt(ev, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &brvlan, sizeof brvlan) != 0)
    die("join RTNLGRP_BRVLAN");
  int dump = vlan ? nl_socket(ns, 0) : -1;
  auto pick = [&](int i, Kind& k) {
    k = static_cast<Kind>(vlan ? i % 3 + 4 : i % 4);
    bool tap = k == Kind::kDeleteTap || k == Kind::kTrunkVlan;
    if (k == Kind::kRouteLost) return "rt" + std::to_string(i / 4 % 10);
    return tap ? "tw" + std::to_string(i % 10) : "vw" + std::to_string(i % 20);
  };
  auto want = [&](const std::string& name) {
    return "master " + std::to_string(ifindex_in(ns, "br-w")) + ": " + declared_vlans(name);
  };
  auto drain = [&] {
    char buf[64 * 1024];
    while (recv(ev, buf, sizeof buf, MSG_DONTWAIT) > 0) {
    }
  };
  std::vector<double> watch_ms, apply_ms;
  std::vector<Kind> kinds;
  for (int i = 0; i < n; ++i) {
    Kind k;
    std::string name = pick(i, k);
    std::string target = vlan ? want(name) : "";
    int idx = vlan ? ifindex_in(ns, name) : 0;
    usleep(30000);  // the previous repair's own events settle
    drain();
    auto t0 = Clock::now();
    drift(cmd, ns, k, name);
    if (!repaired(ev, k, name, dump, idx, target)) {
      fprintf(stderr, "drift %d (%s of %s) not repaired within 30 s\n", i, kKindName[static_cast<int>(k)],
              name.c_str());
      break;
    }
    watch_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
    kinds.push_back(k);
  }
  kill(watcher, SIGTERM);
  waitpid(watcher, nullptr, 0);
  std::string apply_cmd = env + vnet + " --netns " + ns + " apply " + dir + "/host.toml > /dev/null";
  for (int i = 0; i < n && watch_ms.size() == static_cast<size_t>(n); ++i) {
    Kind k;
    std::string name = pick(i, k);
    auto t0 = Clock::now();
    drift(cmd, ns, k, name);
    if (sh(apply_cmd) != 0) break;
    apply_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
    if (vlan && port_state(dump, ifindex_in(ns, name)) != want(name)) {
      fprintf(stderr, "drift %d (%s of %s): vnet apply exited but did not repair it\n", i,
              kKindName[static_cast<int>(k)], name.c_str());
      break;
    }
  }
  sh(g_cleanup);
  if (watch_ms.size() != static_cast<size_t>(n) || apply_ms.size() != static_cast<size_t>(n)) return 1;
  Stats w = stats(watch_ms), a = stats(apply_ms);
  std::string head = "drift -> repaired, ms (N=" + std::to_string(n) + ")";
  printf("%-34s %10s %10s %10s\n", head.c_str(), "median", "p99", "max");
  printf("%-34s %10.1f %10.1f %10.1f\n", "vnet watch", w.median, w.p99, w.max);
  printf("%-34s %10.1f %10.1f %10.1f\n", "vnet apply run after the drift", a.median, a.p99, a.max);
  printf("%-34s %10.2f %10.2f\n", "ratio watch/apply", w.median / a.median, w.p99 / a.p99);
  if (!g_dump_ms.empty())
    printf("%-34s %10.1f %10.1f %10.1f  (%zu dumps; inside the watch figures)\n", "one port-state dump", stats(g_dump_ms).median,
           stats(g_dump_ms).p99, stats(g_dump_ms).max, g_dump_ms.size());
  // per kind, the same drifts on both sides
  for (int kind = vlan ? 4 : 0; kind < (vlan ? 7 : 4); ++kind) {
    std::vector<double> kw, ka;
    for (size_t i = 0; i < kinds.size(); ++i)
      if (static_cast<int>(kinds[i]) == kind) kw.push_back(watch_ms[i]), ka.push_back(apply_ms[i]);
    if (kw.empty()) continue;
    Stats sw = stats(kw), sa = stats(ka);
    printf("%-20s (N=%3zu) median  watch %8.1f  apply %8.1f  ratio %5.2f;  max  watch %8.1f  apply %8.1f\n",
           kKindName[kind], kw.size(), sw.median, sa.median, sw.median / sa.median, sw.max, sa.max);
  }
  return 0;
}
