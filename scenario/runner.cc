#include "scenario/runner.h"

#include <net/if.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <iostream>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "base/progress.h"
#include "netlink/engine.h"
#include "netlink/netns.h"
#include "nspawn/guest.h"
#include "qemu/guest.h"
#include "qemu/serial_shell.h"
#include "plan/format.h"
#include "scenario/switches.h"
#include "scenario/test_guest.h"
#include "topology/load.h"
#include "vmrun/sys.h"
#include "vmrun/vmrun.h"

namespace fs = std::filesystem;

namespace vnet::scenario {

namespace {

using Clock = std::chrono::steady_clock;
using topology::Check;
using topology::Cidr;
using topology::IpAddress;
using topology::Topology;

constexpr const char* kRecordDir = "/run/vnet/scenario";
constexpr const char* kInVmEnv = "VNET_SCENARIO_IN_VM";
// Where a run inside vm-run writes its reports as JSON for the outer --json run.
constexpr const char* kJsonPartEnv = "VNET_SCENARIO_JSON_PART";

double since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

std::string kernel_netns(const std::string& prefix, const std::string& logical) {
  return prefix + (logical.empty() || logical == topology::kHostNetns ? "host" : logical);
}

// Every interface of the topology that carries addresses: (logical namespace, name, cidrs).
struct Iface {
  std::string netns, name;
  const std::vector<Cidr>* addresses;
};

std::vector<Iface> interfaces(const Topology& t) {
  std::vector<Iface> out;
  auto add = [&](const topology::LinkCommon& l) { out.push_back({l.netns, l.name, &l.addresses}); };
  for (const auto& b : t.bridges) add(b);
  for (const auto& tp : t.taps) add(tp);
  for (const auto& l : t.kind_links) add(l);
  for (const auto& v : t.veths) {
    add(v);
    out.push_back({v.peer_netns, v.peer, &v.peer_addresses});
  }
  return out;
}

// Brings `lo` up: a fresh namespace has it down, and a ping to one's own address needs it.
Status loopback_up(const std::string& netns) {
  auto ns = netlink::open_netns(netns);
  if (!ns) return tl::unexpected(ns.error());
  UniqueFd fd;
  {
    auto guard = netlink::NetnsGuard::enter(ns->get());
    if (!guard) return tl::unexpected(guard.error());
    fd.reset(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  }
  if (!fd) return fail_errno("socket");
  ifreq ifr{};
  strcpy(ifr.ifr_name, "lo");
  if (ioctl(fd.get(), SIOCGIFFLAGS, &ifr) < 0) return fail_errno("lo in " + netns);
  ifr.ifr_flags |= IFF_UP;
  if (ioctl(fd.get(), SIOCSIFFLAGS, &ifr) < 0) return fail_errno("lo up in " + netns);
  return {};
}

// Waits (bounded) until every veth end of the lab is operationally up. A link's qdisc
// is attached from the kernel's linkwatch work when carrier comes on; until then the
// device drops every packet, and on a loaded machine that work can lag behind apply.
// Taps are left out: without a reader they never get carrier.
Status wait_until_running(const Topology& lab, const std::string& prefix) {
  std::map<std::string, std::vector<std::string>> by_netns;
  for (const auto& v : lab.veths) {
    by_netns[kernel_netns(prefix, v.netns)].push_back(v.name);
    by_netns[kernel_netns(prefix, v.peer_netns)].push_back(v.peer);
  }
  std::vector<std::pair<UniqueFd, std::string>> pending;  // socket in the namespace, link
  for (const auto& [netns, names] : by_netns) {
    auto ns = netlink::open_netns(netns);
    if (!ns) return tl::unexpected(ns.error());
    auto guard = netlink::NetnsGuard::enter(ns->get());
    if (!guard) return tl::unexpected(guard.error());
    for (const auto& name : names) {
      UniqueFd fd(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
      if (!fd) return fail_errno("socket in " + netns);
      pending.emplace_back(std::move(fd), name);
    }
  }
  auto deadline = Clock::now() + std::chrono::seconds(5);
  while (!pending.empty() && Clock::now() < deadline) {
    std::erase_if(pending, [](const auto& p) {
      ifreq ifr{};
      strncpy(ifr.ifr_name, p.second.c_str(), IFNAMSIZ - 1);
      return ioctl(p.first.get(), SIOCGIFFLAGS, &ifr) == 0 && (ifr.ifr_flags & IFF_RUNNING);
    });
    if (!pending.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return {};  // still not running after 5 s: the checks will say what does not pass
}

std::vector<std::string> namespaces_with_prefix(const std::string& prefix) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(netlink::kNetnsRunDir, ec)) {
    std::string name = e.path().filename();
    if (name.rfind(prefix, 0) == 0) out.push_back(name);
  }
  return out;
}

// Deletes every namespace of a run and its record. Deleting a namespace takes its links
// with it (a veth goes when either end's namespace goes), so this is all teardown needs.
Status teardown(const std::string& prefix) {
  SwitchProcesses::stop_recorded((fs::path(kRecordDir) / prefix).string());
  nspawn::kill_recorded((fs::path(kRecordDir) / prefix / "guests").string());
  qemu::kill_recorded((fs::path(kRecordDir) / prefix / "guests").string());
  Status result;
  for (const std::string& ns : namespaces_with_prefix(prefix)) {
    auto st = netlink::delete_netns(ns);
    if (!st && result) result = st;
  }
  std::error_code ec;
  fs::remove_all(fs::path(kRecordDir) / prefix, ec);
  return result;
}

bool process_alive(pid_t pid) {
  std::ifstream comm("/proc/" + std::to_string(pid) + "/comm");
  std::string name;
  return comm && std::getline(comm, name) && name == "vnet";
}

int signal_pending(int sigfd) {
  signalfd_siginfo si;
  if (read(sigfd, &si, sizeof si) == sizeof si) return static_cast<int>(si.ssi_signo);
  return 0;
}

std::string xml_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string check_kind(const Check& c) {
  switch (c.kind) {
    case Check::Kind::kPing: return c.mtu ? "ping/" + std::to_string(*c.mtu) : "ping";
    case Check::Kind::kTcp: return "tcp";
    case Check::Kind::kArping: return "arping";
  }
  return "?";
}

std::string check_from(const Check& c) { return c.from.empty() ? "host" : c.from; }

std::string ms(double seconds) {
  char buf[32];
  snprintf(buf, sizeof buf, seconds < 10 ? "%.0f ms" : "%.1f s", seconds < 10 ? seconds * 1000 : seconds);
  return buf;
}

class Run {
 public:
  Run(std::string file, int index, const RunOptions& options, int sigfd, Progress& progress)
      : file_(std::move(file)), index_(index), options_(options), sigfd_(sigfd),
        progress_(progress) {}

  ScenarioReport go(const Topology& topo) {
    auto start = Clock::now();
    report_.file = file_;
    report_.name = topo.scenario->name;
    build_and_check(topo);
    report_.total_seconds = since(start);
    return std::move(report_);
  }

 private:
  void set_error(int code, std::string message) {
    report_.exit_code = code;
    report_.error = std::move(message);
  }

  void build_and_check(const Topology& topo) {
    prefix_ = "vsc-" + std::to_string(getpid()) + "-" + std::to_string(index_) + "-";
    std::error_code ec;
    fs::path record = fs::path(kRecordDir) / prefix_;
    fs::create_directories(record, ec);
    std::ofstream(record / "pid") << getpid() << "\n" << file_ << "\n";
    if (options_.keep) std::ofstream(record / "keep") << "kept\n";

    Topology lab = with_upstream(topo);
    // Each switch's sockets (its control socket, the stream ports of VM NICs) in the
    // run's folder: parallel runs never share one, and QEMU finds them there.
    for (topology::Switch& sw : lab.switches) sw.socket = (record / ("switch-" + sw.name)).string();
    auto t0 = Clock::now();
    Status built = build(lab);
    report_.build_seconds = since(t0);
    SwitchProcesses switches;
    if (built && !topo.switches.empty()) {
      phase("switches");
      auto started = SwitchProcesses::start(lab, kernel_netns(prefix_, ""), record.string(),
                                              options_.verbose, options_.keep);
      if (started) switches = std::move(*started);
      else built = tl::unexpected(started.error());
    }
    std::vector<const topology::Guest*> guests;
    if (built) built = start_guests(lab, guests);
    if (built) built = wait_ready(guests);
    if (built) {
      auto t1 = Clock::now();
      check(lab);
      report_.check_seconds = since(t1);
    } else if (interrupted_) {
      set_error(130, built.error().str());
    } else {
      set_error(built.error().exit == ExitCode::kEnvironment ? 3 : 1, built.error().str());
    }
    if (options_.keep && built) {
      progress_.clear();
      switches.release();
      std::cerr << "vnet: lab kept: enter it with `ip netns exec " << prefix_
                << "host bash` (namespaces " << prefix_ << "*"
                << (topo.switches.empty() ? "" : "; its switches keep running, logs in " + record.string())
                << "); remove it with `vnet scenario clean`\n";
      return;
    }
    auto t2 = Clock::now();
    stop_guests(lab, guests);
    phase("teardown");
    switches.stop();
    Status down = teardown(prefix_);
    report_.teardown_seconds = since(t2);
    if (!down && report_.error.empty()) set_error(1, "teardown: " + down.error().str());
  }

  Status build(const Topology& lab) {
    phase("build");
    if (auto st = netlink::create_netns(kernel_netns(prefix_, "")); !st) return st;
    netlink::EngineOptions eo;
    eo.target_netns = kernel_netns(prefix_, "");
    eo.netns_prefix = prefix_;
    eo.run_dir = (fs::path(kRecordDir) / prefix_).string();
    auto applied = netlink::apply(lab, eo);
    if (!applied) return tl::unexpected(applied.error());
    // The engine brings lo up in the namespaces it creates; the target is ours.
    if (auto st = loopback_up(kernel_netns(prefix_, "")); !st) return st;
    if (auto st = wait_until_running(lab, prefix_); !st) return st;
    if (int sig = signal_pending(sigfd_)) return interrupted(sig);
    return {};
  }

  // Guests start once their links are up (the lab's apply made their veths, taps and
  // namespaces) and the switches serve their ports, with state under the run's record;
  // QEMU runs in the lab's host namespace. They stop before teardown on every path (a
  // killed run's guests are killed by teardown from that record). A lab is disposable:
  // a VM is not given time to power down.
  std::string guests_root() const { return (fs::path(kRecordDir) / prefix_ / "guests").string(); }
  guests::Options guest_options(const topology::Guest& g) const {
    guests::Options o;
    fs::path record = fs::path(kRecordDir) / prefix_;
    o.state_root = guests_root();
    o.target_netns = kernel_netns(prefix_, "");
    o.netns_prefix = prefix_;
    o.run_dir = record.string();
    o.stop_timeout = std::chrono::seconds(g.kind == topology::Guest::Kind::kQemu ? 0 : 5);
    o.ready_timeout = std::chrono::seconds(60);
    return o;
  }
  std::unique_ptr<guests::Backend> backend(const topology::Guest& g) const {
    if (g.kind == topology::Guest::Kind::kQemu)
      return std::make_unique<qemu::QemuBackend>(guest_options(g));
    return std::make_unique<nspawn::NspawnBackend>(guest_options(g));
  }
  Status start_guests(Topology& lab, std::vector<const topology::Guest*>& started) {
    if (lab.guests.empty()) return {};
    fs::path record = fs::path(kRecordDir) / prefix_;
    if (auto s = use_test_guest(lab, record.string()); !s) return s;
    // QEMU guests that need no links of their own start side by side: most of a start
    // is waiting for QEMU to say "running", which under TCG takes a while per VM. The
    // others (their links go through the engine) start one after another, first.
    std::vector<const topology::Guest*> side_by_side;
    for (const topology::Guest& g : lab.guests) {
      if (g.kind == topology::Guest::Kind::kQemu && !qemu::needs_links(g)) {
        side_by_side.push_back(&g);
        continue;
      }
      phase("start guest " + g.name);
      auto r = backend(g)->start(lab, g);
      if (!r) return tl::unexpected(r.error().context("guest " + g.name));
      started.push_back(&g);
      if (int sig = signal_pending(sigfd_)) return interrupted(sig);
    }
    if (side_by_side.empty()) return {};
    std::string names;
    for (const topology::Guest* g : side_by_side) names += (names.empty() ? "" : ", ") + g->name;
    phase("start guests " + names);
    std::vector<std::optional<Error>> errors(side_by_side.size());
    {
      std::vector<std::thread> threads;
      for (size_t i = 0; i < side_by_side.size(); ++i)
        threads.emplace_back([&, i] {
          auto r = backend(*side_by_side[i])->start(lab, *side_by_side[i]);
          if (!r) errors[i] = r.error();
        });
      for (std::thread& t : threads) t.join();
    }
    for (size_t i = 0; i < side_by_side.size(); ++i)
      if (!errors[i]) started.push_back(side_by_side[i]);
    for (size_t i = 0; i < side_by_side.size(); ++i)
      if (errors[i]) return tl::unexpected(errors[i]->context("guest " + side_by_side[i]->name));
    if (int sig = signal_pending(sigfd_)) return interrupted(sig);
    return {};
  }
  void stop_guests(const Topology& lab, const std::vector<const topology::Guest*>& started) {
    for (const topology::Guest* g : started) {
      auto r = backend(*g)->stop(lab, *g);
      if (!r && report_.error.empty()) set_error(1, "guest " + g->name + ": " + r.error().str());
    }
  }

  // Until every started guest with a `ready` condition meets it: its console log shows
  // the text, or its address answers a ping from the namespace named. Bounded by each
  // guest's timeout; Ctrl-C ends it.
  Status wait_ready(const std::vector<const topology::Guest*>& started) {
    struct Waiting {
      const topology::Guest* guest;
      Clock::time_point deadline;
    };
    std::vector<Waiting> waiting;
    auto t0 = Clock::now();
    for (const topology::Guest* g : started)
      if (g->ready) waiting.push_back({g, t0 + std::chrono::seconds(g->ready->timeout_s)});
    while (!waiting.empty()) {
      phase("wait for " + waiting.front().guest->name + " (" +
            std::to_string(int(since(t0))) + " s)");
      std::vector<CheckSpec> pings;
      for (const Waiting& w : waiting) {
        if (!w.guest->ready->ping) continue;
        CheckSpec s;
        s.check.from = w.guest->ready->from;
        s.check.address = *w.guest->ready->ping;
        s.check.target = s.check.address.str();
        // Short rounds: a VM is ready within a round of answering, not within a second
        // (a request sent before its NIC was up waits in the ARP queue and is answered
        // in a later round, which counts: the rounds share the ICMP identifier).
        s.check.count = 1;
        s.check.timeout_s = 1;
        s.timeout_ms = 250;
        s.from_netns = kernel_netns(prefix_, w.guest->ready->from);
        pings.push_back(std::move(s));
      }
      std::vector<CheckResult> answered;
      if (!pings.empty()) {
        auto r = run_checks(pings, sigfd_);
        if (!r) {
          if (int sig = signal_pending(sigfd_)) return interrupted(sig);
          return tl::unexpected(r.error());
        }
        answered = std::move(*r);
      }
      size_t ping_index = 0;
      std::erase_if(waiting, [&](const Waiting& w) {
        const topology::Guest::Ready& rd = *w.guest->ready;
        if (rd.ping) return answered[ping_index++].reached;
        guests::StateDir dir(guests_root(), w.guest->name);
        auto log = vmrun::read_file(dir.console_log());
        return log && log->find(rd.console) != std::string::npos;
      });
      if (int sig = signal_pending(sigfd_)) return interrupted(sig);
      for (const Waiting& w : waiting) {
        if (Clock::now() < w.deadline) continue;
        const topology::Guest::Ready& rd = *w.guest->ready;
        std::string what = rd.ping ? "no answer to ping " + rd.ping->str() + " from " +
                                         (rd.from.empty() ? "host" : rd.from)
                                   : "its console never printed '" + rd.console + "'";
        return fail("guest " + w.guest->name + " not ready within " +
                    std::to_string(rd.timeout_s) + " s: " + what);
      }
      if (!waiting.empty() && pings.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    return {};
  }

  tl::unexpected<Error> interrupted(int sig) {
    interrupted_ = sig;
    return fail(std::string("interrupted by ") + strsignal(sig));
  }

  void check(const Topology& lab) {
    auto specs = resolve_checks(lab, prefix_);
    if (!specs) return set_error(2, specs.error().str());
    // Checks from namespaces run together in one poll loop; those from VMs over their
    // consoles, one thread per VM, at the same time.
    std::vector<CheckSpec> in_netns;
    std::vector<size_t> netns_index;
    std::map<std::string, std::vector<size_t>> by_vm;
    for (size_t i = 0; i < specs->size(); ++i) {
      const CheckSpec& sp = (*specs)[i];
      if (sp.from_vm.empty()) in_netns.push_back(sp), netns_index.push_back(i);
      else by_vm[sp.from_vm].push_back(i);
    }
    std::vector<CheckResult> all(specs->size());
    std::vector<std::thread> vm_threads;
    for (auto& [vm, indices] : by_vm) {
      std::string socket = guests::StateDir(guests_root(), vm).console_socket();
      vm_threads.emplace_back([this, socket, &indices, &specs, &all] {
        run_vm_checks(socket, *specs, indices, all);
      });
    }
    auto results = run_checks(in_netns, sigfd_, [&](size_t done, size_t total) {
      phase("check", done, total);
    });
    for (std::thread& t : vm_threads) t.join();
    if (results)
      for (size_t i = 0; i < in_netns.size(); ++i) all[netns_index[i]] = (*results)[i];
    if (results && signal_pending(sigfd_))
      results = tl::unexpected(Error{EINTR, "interrupted", {}, {}, ExitCode::kFailed});
    if (!results) {
      if (int sig = signal_pending(sigfd_); sig || results.error().what == "interrupted") {
        interrupted_ = sig ? sig : SIGINT;
        return set_error(130, "interrupted");
      }
      return set_error(1, results.error().str());
    }
    for (size_t i = 0; i < specs->size(); ++i) {
      report_.checks.push_back({(*specs)[i].check, all[i]});
      if (!all[i].passed) report_.exit_code = 1;
    }
  }

  // The checks `indices` of one VM, in order, over its serial console (ping only:
  // validate.cc refuses the others). A console that does not answer fails them.
  void run_vm_checks(const std::string& socket, const std::vector<CheckSpec>& specs,
                     const std::vector<size_t>& indices, std::vector<CheckResult>& out) {
    auto shell = qemu::SerialShell::connect(socket, std::chrono::seconds(10));
    for (size_t i : indices) {
      const Check& c = specs[i].check;
      CheckResult& r = out[i];
      auto t0 = Clock::now();
      if (!shell) {
        r.detail = shell.error().str();
      } else {
        std::string cmd = "ping -c " + std::to_string(c.count) + " -W " +
                          std::to_string(c.timeout_s) + " " + c.address.str() +
                          " >/dev/null 2>&1";
        // A reply may take timeout_s after the last of `count` requests sent 1 s apart;
        // the console of a TCG guest under load adds seconds.
        auto rc = shell->run(cmd, std::chrono::seconds(30 + c.count * (1 + c.timeout_s)), sigfd_);
        if (!rc) r.detail = rc.error().str();
        else r.reached = *rc == 0, r.detail = *rc == 0 ? "replies" : "no reply (ping exited " +
                                                                       std::to_string(*rc) + ")";
      }
      r.passed = r.reached == (c.expect == Check::Expect::kReach);
      r.seconds = since(t0);
    }
  }

  // "lab3: check 2/6 (0.4 s)" on a terminal; a timestamped line per phase with -v.
  void phase(const std::string& what, size_t done = 0, size_t total = 0) {
    progress_.update(report_.name + ": " + what, done, total);
  }

  std::string file_;
  int index_;
  const RunOptions& options_;
  int sigfd_;
  Progress& progress_;
  std::string prefix_;
  int interrupted_ = 0;
  ScenarioReport report_;
};

}  // namespace

size_t ScenarioReport::passed() const {
  size_t n = 0;
  for (const auto& c : checks) n += c.result.passed;
  return n;
}
size_t ScenarioReport::failed() const { return checks.size() - passed(); }

Topology with_upstream(const Topology& topo) {
  Topology lab = topo;
  if (lab.links.empty()) return lab;
  bool have_upstream = false;
  for (const auto& n : lab.netns) have_upstream |= n.name == "upstream";
  if (!have_upstream) lab.netns.push_back({"upstream", false, {}});
  for (const topology::Link& l : topo.links) {
    topology::Veth v;
    static_cast<topology::LinkCommon&>(v) = l;
    v.peer = l.name;
    v.peer_netns = "upstream";
    v.peer_link_local = topology::LinkLocal::kNone;
    lab.veths.push_back(std::move(v));
  }
  lab.links.clear();
  return lab;
}

namespace {
tl::unexpected<Error> check_error(const Check& c, const std::string& what) {
  Error e;
  e.exit = ExitCode::kBadInput;
  e.loc = c.loc;
  e.what = c.loc.str() + ": " + what;
  return tl::unexpected(e);
}
}  // namespace

Result<std::vector<CheckSpec>> resolve_checks(const Topology& topo, const std::string& prefix) {
  std::vector<CheckSpec> out;
  if (!topo.scenario) return out;
  std::vector<Iface> ifaces = interfaces(topo);
  for (const Check& c : topo.scenario->checks) {
    CheckSpec s;
    s.check = c;
    for (const topology::Guest& g : topo.guests)
      if (g.name == c.from && g.kind == topology::Guest::Kind::kQemu) s.from_vm = g.name;
    if (s.from_vm.empty()) s.from_netns = kernel_netns(prefix, c.from);
    if (c.kind == Check::Kind::kTcp) {
      for (const Iface& i : ifaces)
        for (const Cidr& a : *i.addresses)
          if (a.addr == c.address) s.listen_netns = kernel_netns(prefix, i.netns);
      if (s.listen_netns.empty())
        return check_error(c, "tcp check: no namespace of the scenario has address " +
                                  c.address.str() + " to listen on");
    }
    if (c.kind == Check::Kind::kArping) {
      std::string from = c.from == topology::kHostNetns ? "" : c.from;
      for (const Iface& i : ifaces) {
        if (i.netns != from) continue;
        for (const Cidr& a : *i.addresses)
          if (a.addr.family == AF_INET && a.contains(c.address) && s.arp_ifname.empty())
            s.arp_ifname = i.name, s.arp_source = a.addr;
      }
      if (s.arp_ifname.empty())
        return check_error(c, "arping: namespace '" + check_from(c) +
                                  "' has no address in the subnet of " + c.address.str());
    }
    out.push_back(std::move(s));
  }
  return out;
}

Result<std::vector<std::string>> missing_features(const std::vector<std::string>& features) {
  std::vector<std::string> missing;
  if (features.empty()) return missing;
  std::string probe_ns = "vsc-" + std::to_string(getpid()) + "-probe";
  std::string run_dir = std::string(kRecordDir) + "/" + probe_ns + "-";
  std::error_code mkdir_ec;
  fs::create_directories(run_dir, mkdir_ec);
  for (const std::string& f : features) {
    if (f == "vxlan") {
      // Not a kind vnet creates; the module inventory answers for it.
      utsname u{};
      uname(&u);
      bool have = fs::exists("/sys/module/vxlan") ||
                  fs::exists(std::string("/lib/modules/") + u.release + "/kernel/drivers/net/vxlan");
      if (!have) missing.push_back(f);
      continue;
    }
    // A bridge (with VLAN filtering to probe that) and the kind being probed on it.
    std::string text = "[host]\nname = \"vnet-probe\"\n[bridges.probe-br]\nlink_local = \"none\"\n";
    if (f == "bridge_vlan_filtering") text += "vlan_filtering = true\n";
    if (f == "8021q") text += "[vlans.probe-vlan]\nlink = \"probe-br\"\nid = 42\n";
    if (f == "veth") text += "[veths.probe-veth]\npeer = \"probe-peer\"\n";
    if (f == "tun") text += "[taps.probe-tap]\n";
    if (f == "macvlan") text += "[macvlans.probe-mv]\nlink = \"probe-br\"\n";
    auto probe = topology::load_string(text, "probe");
    if (!probe) {
      Error e;
      e.what = "probing kernel feature " + f + ": " + probe.error()[0].message;
      return tl::unexpected(e);
    }
    const Topology& t = *probe;
    if (auto st = netlink::create_netns(probe_ns); !st) return tl::unexpected(st.error());
    netlink::EngineOptions eo;
    eo.target_netns = probe_ns;
    eo.run_dir = run_dir;
    auto r = netlink::apply(t, eo);
    netlink::delete_netns(probe_ns);
    if (!r) {
      if (r.error().exit != ExitCode::kEnvironment) {
        std::error_code ec;
        fs::remove_all(run_dir, ec);
        return tl::unexpected(r.error().context("probing kernel feature " + f));
      }
      missing.push_back(f);
    }
  }
  std::error_code ec;
  fs::remove_all(run_dir, ec);
  return missing;
}

Result<size_t> clean_stale_runs(bool include_kept) {
  size_t removed = 0;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(kRecordDir, ec)) {
    std::string prefix = e.path().filename();
    if (prefix.rfind("vsc-", 0) != 0) continue;
    pid_t pid = static_cast<pid_t>(atoi(prefix.c_str() + 4));
    if (pid > 0 && process_alive(pid)) continue;
    if (!include_kept && fs::exists(e.path() / "keep")) continue;
    if (auto st = teardown(prefix); !st) return tl::unexpected(st.error());
    ++removed;
  }
  return removed;
}

std::string format_table(const ScenarioReport& r) {
  std::ostringstream out;
  out << "scenario " << (r.name.empty() ? r.file : r.name) << " (" << r.file << ")";
  if (!r.error.empty()) {
    out << ": error: " << r.error << "\n";
    return out.str();
  }
  out << ": built in " << ms(r.build_seconds) << "\n";
  std::vector<std::vector<std::string>> rows = {{"CHECK", "FROM", "TO", "EXPECT", "GOT", "TIME", ""}};
  for (const auto& c : r.checks) {
    const Check& k = c.check;
    rows.push_back({check_kind(k), check_from(k), k.target,
                    k.expect == Check::Expect::kReach ? "reach" : "blocked",
                    c.result.reached ? "reach" : "blocked", ms(c.result.seconds),
                    c.result.passed ? "ok" : "FAIL (" + c.result.detail + ")"});
  }
  std::vector<size_t> width(rows[0].size(), 0);
  for (const auto& row : rows)
    for (size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
  for (const auto& row : rows) {
    std::string line = " ";
    for (size_t i = 0; i < row.size(); ++i) {
      std::string cell = row[i];
      if (i + 1 < row.size()) cell.resize(width[i], ' ');
      line += " " + cell;
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out << line << "\n";
  }
  char tail[160];
  snprintf(tail, sizeof tail, "%s: %zu passed, %zu failed (build %s, checks %s, teardown %s)\n",
           r.name.c_str(), r.passed(), r.failed(), ms(r.build_seconds).c_str(),
           ms(r.check_seconds).c_str(), ms(r.teardown_seconds).c_str());
  out << tail;
  return out.str();
}

std::string junit_xml(const std::vector<ScenarioReport>& reports) {
  std::ostringstream x;
  x << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n";
  for (const auto& r : reports) {
    size_t failures = r.failed() + (r.error.empty() ? 0 : 1);
    x << "<testsuite name=\"" << xml_escape(r.name.empty() ? r.file : r.name) << "\" tests=\""
      << r.checks.size() + (r.error.empty() ? 0 : 1) << "\" failures=\"" << failures
      << "\" time=\"" << r.total_seconds << "\">\n";
    if (!r.error.empty())
      x << "  <testcase name=\"build\" classname=\"scenario\"><failure message=\""
        << xml_escape(r.error) << "\"/></testcase>\n";
    for (const auto& c : r.checks) {
      std::string name = check_kind(c.check) + " " + c.check.target + " from " +
                         check_from(c.check) + " expect " +
                         (c.check.expect == Check::Expect::kReach ? "reach" : "blocked");
      x << "  <testcase name=\"" << xml_escape(name) << "\" classname=\"scenario."
        << xml_escape(r.name) << "\" time=\"" << c.result.seconds << "\"";
      if (c.result.passed) x << "/>\n";
      else
        x << "><failure message=\"" << xml_escape(c.result.detail) << "\"/></testcase>\n";
    }
    x << "</testsuite>\n";
  }
  x << "</testsuites>\n";
  return x.str();
}

namespace {

nlohmann::json report_json(const ScenarioReport& r) {
  nlohmann::json j = {{"file", r.file}, {"name", r.name}, {"exit_code", r.exit_code},
                      {"seconds", {{"build", r.build_seconds}, {"checks", r.check_seconds},
                                   {"teardown", r.teardown_seconds}, {"total", r.total_seconds}}}};
  if (!r.error.empty()) j["error"] = r.error;
  nlohmann::json checks = nlohmann::json::array();
  for (const auto& c : r.checks) {
    const Check& k = c.check;
    checks.push_back({{"check", check_kind(k)}, {"from", check_from(k)}, {"to", k.target},
                      {"expect", k.expect == Check::Expect::kReach ? "reach" : "blocked"},
                      {"got", c.result.reached ? "reach" : "blocked"}, {"passed", c.result.passed},
                      {"seconds", c.result.seconds}, {"detail", c.result.detail}});
  }
  j["checks"] = checks;
  return j;
}

}  // namespace

std::string reports_json(const std::vector<ScenarioReport>& reports, const std::string& vm_part) {
  nlohmann::json all = nlohmann::json::array();
  for (const auto& r : reports) all.push_back(report_json(r));
  // the scenarios a vm-run ran, as it wrote them
  auto part = nlohmann::json::parse(vm_part.empty() ? "null" : vm_part, nullptr, false);
  if (part.is_object() && part["scenarios"].is_array())
    for (auto& s : part["scenarios"]) all.push_back(s);
  size_t passed = 0, failed = 0;
  for (const auto& s : all)
    for (const auto& c : s["checks"]) (c["passed"].get<bool>() ? passed : failed)++;
  for (const auto& s : all) failed += s.contains("error") ? 1 : 0;
  nlohmann::json doc = {{"version", plan::kJsonVersion}, {"scenarios", all}, {"passed", passed},
                        {"failed", failed}};
  return doc.dump(2) + "\n";
}

namespace {

ScenarioReport error_report(const std::string& file, int code, std::string message) {
  ScenarioReport r;
  r.file = file;
  r.exit_code = code;
  r.error = std::move(message);
  return r;
}

// Files whose kernel needs lie beyond this one run together in one `vnet vm-run` boot;
// the inner run prints their tables and writes their JUnit part.
int run_in_vm(const std::vector<std::string>& files, const RunOptions& options,
              std::string& junit_fragment, std::string& json_fragment) {
  vmrun::Options vo;
  vo.argv = {options.self_exe, "scenario", "run"};
  // The guest runs in the same working directory, so paths as given still resolve; the
  // working directory is also the one place it can write back to (its /tmp is private).
  for (const auto& f : files) vo.argv.push_back(f);
  std::string part;
  if (!options.junit_path.empty()) {
    part = (fs::current_path() / (".vnet-junit-" + std::to_string(getpid()) + ".xml")).string();
    vo.argv.insert(vo.argv.end(), {"--junit", part});
  }
  std::vector<std::string> env;
  for (char** e = environ; *e; ++e) env.push_back(*e);
  env.push_back(std::string(kInVmEnv) + "=1");
  std::string json_part;
  if (options.json) {
    json_part = (fs::current_path() / (".vnet-json-" + std::to_string(getpid()) + ".json")).string();
    env.push_back(std::string(kJsonPartEnv) + "=" + json_part);
  }
  vo.env = env;
  if (options.verbose) vo.log = [](const std::string& line) { std::cerr << line << "\n"; };
  std::cerr << "vnet: running " << files.size() << " scenario" << (files.size() == 1 ? "" : "s")
            << " inside vm-run (stock kernel in QEMU)\n";
  auto rc = vmrun::run(vo);
  if (!rc) {
    std::cerr << "vnet: vm-run: " << rc.error().str() << "\n";
    return 3;
  }
  if (!part.empty()) {
    std::ifstream in(part);
    std::stringstream xml;
    xml << in.rdbuf();
    std::string s = xml.str();
    auto b = s.find("<testsuite "), e = s.rfind("</testsuites>");
    if (b != std::string::npos && e != std::string::npos) junit_fragment = s.substr(b, e - b);
    std::error_code ec;
    fs::remove(part, ec);
  }
  if (!json_part.empty()) {
    std::ifstream in(json_part);
    std::stringstream doc;
    doc << in.rdbuf();
    json_fragment = doc.str();
    std::error_code ec;
    fs::remove(json_part, ec);
  }
  return *rc;
}

}  // namespace

int run_files(const std::vector<std::string>& files, const RunOptions& options) {
  // SIGINT/SIGTERM become readable on a signalfd, looked at between steps and inside the
  // check loop, so a Ctrl-C always reaches teardown.
  sigset_t mask, old;
  sigemptyset(&mask);
  sigaddset(&mask, SIGINT);
  sigaddset(&mask, SIGTERM);
  sigprocmask(SIG_BLOCK, &mask, &old);
  UniqueFd sigfd(signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC));
  clean_stale_runs(false);
  bool in_vm = getenv(kInVmEnv) != nullptr;
  // --json: the document alone on stdout (inside vm-run, the outer run prints it)
  const char* json_part = in_vm ? getenv(kJsonPartEnv) : nullptr;
  bool tables = !options.json && !json_part;

  // On a terminal, one line on stderr redrawn in place and cleared before each table;
  // with -v timestamped phase lines; otherwise nothing.
  Progress progress("scenario run", options.verbose);
  std::vector<ScenarioReport> reports;
  std::vector<std::string> vm_files;
  int rc = 0;
  size_t passed = 0, failed = 0;
  for (size_t i = 0; i < files.size(); ++i) {
    const std::string& file = files[i];
    ScenarioReport r;
    auto loaded = topology::load_file(file);
    if (!loaded) {
      std::cerr << topology::format_file_diagnostics(loaded.error(), file);
      r = error_report(file, 2, "invalid scenario file");
    } else if (!loaded->scenario || loaded->scenario->name.empty()) {
      r = error_report(file, 2, "no [scenario] table: `vnet scenario run` needs one");
    } else {
      auto missing = in_vm ? std::vector<std::string>{}
                           : missing_features(loaded->scenario->requires_features);
      if (!missing) {
        r = error_report(file, 3, missing.error().str());
      } else if (!in_vm && (loaded->scenario->vm || (!missing->empty() && options.vm))) {
        vm_files.push_back(file);
        continue;
      } else if (!missing->empty()) {
        std::string list;
        for (const auto& f : *missing) list += (list.empty() ? "" : ", ") + f;
        r = error_report(file, 3, "this kernel lacks " + list +
                                      "; run with --vm to use a stock kernel in QEMU (vnet vm-run)");
      } else {
        r = Run(file, static_cast<int>(i), options, sigfd.get(), progress).go(*loaded);
      }
    }
    progress.clear();
    if (tables) std::cout << format_table(r) << std::flush;
    if (!r.error.empty()) std::cerr << "vnet: " << r.file << ": " << r.error << "\n";
    passed += r.passed();
    failed += r.failed() + (r.error.empty() ? 0 : 1);
    rc = std::max(rc, r.exit_code);
    bool stop = r.exit_code == 130;
    reports.push_back(std::move(r));
    if (stop) break;
  }
  if (reports.size() > 1 && tables)
    std::cout << reports.size() << " scenarios: " << passed << " checks passed, " << failed
              << " failed\n";
  std::string vm_junit, vm_json;
  if (!vm_files.empty() && rc != 130) rc = std::max(rc, run_in_vm(vm_files, options, vm_junit, vm_json));
  if (json_part) {
    std::ofstream(json_part) << reports_json(reports);
  } else if (options.json) {
    std::cout << reports_json(reports, vm_json) << std::flush;
  }
  if (!options.junit_path.empty()) {
    std::string xml = junit_xml(reports);
    xml.insert(xml.rfind("</testsuites>"), vm_junit);
    std::ofstream(options.junit_path) << xml;
  }
  sigprocmask(SIG_SETMASK, &old, nullptr);
  return rc;
}

}  // namespace vnet::scenario
