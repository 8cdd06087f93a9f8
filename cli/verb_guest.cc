// `vnet guest start|stop|restart|status|list|console|ssh NAME -c FILE`: thin over the
// guest backends (guests/backend.h; QEMU: qemu/guest.h). Exit codes per design.md: 2 bad
// input or unknown guest, 3 missing program or permission, 1 the operation failed.
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <memory>
#include <thread>

#include <nlohmann/json.hpp>

#include "base/unique_fd.h"
#include "cli/guest_unit.h"
#include "cli/verbs.h"
#include "guests/boot_log.h"
#include "guests/state.h"
#include "nspawn/guest.h"
#include "qemu/guest.h"
#include "topology/load.h"
#include "vmrun/sys.h"

namespace po = boost::program_options;

namespace vnet::cli {
namespace {

struct Args {
  std::string action, name, file, state_dir, user;
  guests::Options opts;
  bool follow = false, log = false, unit = false, since_boot = false;
  std::vector<std::string> command;  // ssh: after "--"
};

const topology::Guest* find_guest(const topology::Topology& t, const std::string& name) {
  for (const auto& g : t.guests)
    if (g.name == name) return &g;
  return nullptr;
}

int bad_guest(const topology::Topology& t, const std::string& name, const std::string& file) {
  std::string known;
  for (const auto& g : t.guests) known += (known.empty() ? "" : ", ") + g.name;
  return report(2, "guest '" + name + "' is not declared in " + file +
                       (known.empty() ? " (it declares none)" : "; declared guests: " + known));
}

std::unique_ptr<guests::Backend> backend_for(const topology::Guest& g, const Args& a) {
  if (g.kind == topology::Guest::Kind::kQemu)
    return std::make_unique<qemu::QemuBackend>(a.opts);
  return std::make_unique<nspawn::NspawnBackend>(a.opts);
}

// Running, stopped or stale without asking the guest anything (list, console).
guests::Probe probe_guest(const topology::Guest& g, const Args& a) {
  if (g.kind == topology::Guest::Kind::kNspawn) {
    auto s = nspawn::NspawnBackend(a.opts).status(g);
    return guests::Probe{s->state, s->pid, s->why};
  }
  guests::StateDir d(a.opts.state_root, g.name);
  return guests::probe(d, d.qmp_socket());
}

int do_start(const topology::Topology& t, const topology::Guest& g, guests::Backend& b) {
  if (qemu::needs_links(g) && !may_change_interfaces("guest start")) return 3;
  auto r = b.start(t, g);
  if (!r) return report(int(r.error().exit), "guest " + g.name + ": " + r.error().str());
  if (!r->cleaned_stale.empty())
    std::cout << "guest " << g.name << ": removed stale state (" << r->cleaned_stale << ")\n";
  for (const std::string& n : r->notes) std::cerr << "vnet guest: " << g.name << ": " << n << "\n";
  if (r->already_running)
    std::cout << "guest " << g.name << ": already running (pid " << r->pid << ")\n";
  else
    std::cout << "guest " << g.name << ": started (pid " << r->pid
              << (r->accel.empty() ? "" : ", accel " + r->accel) << ")\n";
  return 0;
}

int do_stop(const topology::Topology& t, const topology::Guest& g, guests::Backend& b) {
  if (qemu::needs_links(g) && !may_change_interfaces("guest stop")) return 3;
  auto r = b.stop(t, g);
  if (!r) return report(int(r.error().exit), "guest " + g.name + ": " + r.error().str());
  std::cout << "guest " << g.name << ": " << r->how << "\n";
  return 0;
}

// The console log from its start (or, with --since-boot, from the start of the last
// boot in it), then what it gains while the guest runs (tail -f), until the guest
// stops or a signal arrives.
int do_console(const guests::StateDir& d, const topology::Guest& g, const Args& a) {
  const std::string& name = g.name;
  bool follow = a.follow;
  std::ifstream in(d.console_log(), std::ios::binary);
  if (!in && !follow) return report(1, "guest " + name + ": no console log at " + d.console_log());
  if (in && a.since_boot) {
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    in.clear();
    in.seekg(std::streamoff(guests::last_boot_offset(text)));
  }
  auto pump = [&] {
    if (!in.is_open()) in.open(d.console_log(), std::ios::binary);
    if (!in.is_open()) return;
    in.clear();
    std::cout << in.rdbuf();
    std::cout.flush();
    std::cout.clear();  // an empty read sets failbit on cout
  };
  pump();
  if (!follow) return 0;
  sigset_t set;
  sigemptyset(&set);
  for (int s : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&set, s);
  sigprocmask(SIG_BLOCK, &set, nullptr);
  while (true) {
    timespec wait{0, 200 * 1000 * 1000};
    if (sigtimedwait(&set, nullptr, &wait) > 0) break;
    pump();
    if (probe_guest(g, a).state != guests::RunState::kRunning) {
      pump();
      break;
    }
  }
  return 0;
}

// Interactive console (QEMU's serial port, nspawn's terminal relay): the guest's console
// socket <-> this terminal (raw mode when stdin is one) until Ctrl-] (0x1d), end of
// input, or the guest closing it.
int do_attach(const guests::StateDir& d, const std::string& name, guests::RunState state) {
  if (state != guests::RunState::kRunning)
    return report(1, "guest " + name + " is not running (its log: vnet guest console " + name +
                         " --log)");
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::string path = d.console_socket();
  if (path.size() >= sizeof a.sun_path) return report(1, "console socket path too long: " + path);
  std::memcpy(a.sun_path, path.c_str(), path.size() + 1);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0)
    return report(1, "guest " + name + ": cannot attach to " + path + ": " + std::strerror(errno));
  bool tty = ::isatty(0);
  termios saved{};
  if (tty) {
    ::tcgetattr(0, &saved);
    termios raw = saved;
    ::cfmakeraw(&raw);
    ::tcsetattr(0, TCSANOW, &raw);
  }
  std::cerr << "vnet: attached to the console of " << name << "; Ctrl-] detaches\r\n";
  char buf[4096];
  bool open = true;
  while (open) {
    pollfd p[2] = {{0, POLLIN, 0}, {fd.get(), POLLIN, 0}};
    if (::poll(p, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (p[0].revents & (POLLIN | POLLHUP)) {
      ssize_t n = ::read(0, buf, sizeof buf);
      if (n <= 0) break;
      ssize_t keep = n;
      for (ssize_t i = 0; i < n; ++i)
        if (buf[i] == 0x1d) {
          keep = i;
          open = false;
          break;
        }
      if (keep > 0 && ::write(fd.get(), buf, size_t(keep)) < 0) break;
    }
    if (open && (p[1].revents & (POLLIN | POLLHUP))) {
      ssize_t n = ::read(fd.get(), buf, sizeof buf);
      if (n <= 0) break;
      if (::write(1, buf, size_t(n)) < 0) break;
    }
  }
  if (tty) ::tcsetattr(0, TCSANOW, &saved);
  std::cerr << "\r\nvnet: detached from " << name << "\n";
  return 0;
}

int do_ssh(const guests::StateDir& d, const topology::Guest& g, const Args& a) {
  auto target = qemu::ssh_target(g);
  if (!target) return report(2, target.error().str());
  if (!qemu::wants_ephemeral_key(g))
    return report(2, "guest " + g.name + " declares its own ssh_authorized_keys; use ssh "
                     "with your key directly");
  if (::access(d.private_key().c_str(), R_OK) != 0)
    return report(1, "guest " + g.name + ": no ephemeral key at " + d.private_key() +
                         " (is it running? `vnet guest start " + g.name + "`)");
  std::string ssh = vmrun::find_program("ssh");
  if (ssh.empty()) return report(3, "ssh not found (install the Debian package openssh-client)");
  auto argv = qemu::ssh_argv(d, *target, a.user, a.command);
  argv[0] = ssh;
  std::vector<char*> c;
  for (auto& s : argv) c.push_back(s.data());
  c.push_back(nullptr);
  std::cout.flush();
  ::execv(ssh.c_str(), c.data());
  return report(3, std::string("cannot run ssh: ") + std::strerror(errno));
}

}  // namespace

po::options_description guest_options() {
  po::options_description o("guest options");
  o.add_options()("config,c", po::value<std::string>()->value_name("FILE"),
                  "host.toml declaring the guests")(
      "timeout", po::value<int>()->value_name("S")->default_value(30),
      "stop: seconds to wait for the guest to power down (QEMU) or halt (nspawn) before quit "
      "and SIGKILL (default 30); start: seconds to wait for it to run (QMP says running, the "
      "container's PID 1 is up; default 60)")(
      "accel", po::value<std::string>()->value_name("auto|kvm|tcg")->default_value("auto"),
      "start: KVM only after a probe boot passes (auto), or insist on one")(
      "state-dir", po::value<std::string>()->value_name("DIR"),
      "where guests keep their state (default: $VNET_GUEST_STATE, /var/lib/vnet/guests as "
      "root, else $XDG_STATE_HOME/vnet/guests)")(
      "log", "console: print the console log (this run's, or the last one's) instead of "
             "attaching")(
      "follow,f", "console: print the console log and keep printing it as it grows, until "
                  "the guest stops")(
      "since-boot", "console: print the log from the start of the guest's last boot (the "
                    "log holds every boot since QEMU started), with --follow then follow")(
      "user,l", po::value<std::string>()->value_name("USER"), "ssh: log in as USER")(
      "unit", "start: where systemd is PID 1, start the guest as the transient unit "
              "vnet-guest-NAME.service (the settings `render units` writes); elsewhere "
              "start QEMU directly and say so");
  return o;
}

int verb_guest(const Invocation& inv) {
  Args a;
  Invocation mine = inv;
  mine.args.clear();
  bool after = false;
  for (const auto& s : inv.args) {
    if (after) a.command.push_back(s);
    else if (s == "--") after = true;
    else mine.args.push_back(s);
  }
  auto vm = parse_args(mine, guest_options(), {"words"}, true);
  auto words = vm["words"].as<std::vector<std::string>>();
  a.action = words[0];
  static const std::vector<std::string> kActions = {"start", "stop", "restart", "status",
                                                    "list", "console", "ssh"};
  if (std::find(kActions.begin(), kActions.end(), a.action) == kActions.end())
    throw UsageError("unknown action '" + a.action + "'");
  bool list = a.action == "list";
  if (words.size() != (list ? 1u : 2u))
    throw UsageError(list ? "list takes no NAME" : a.action + " takes one NAME");
  if (!list) a.name = words[1];
  if (!vm.count("config")) throw UsageError("missing -c FILE");
  if (after && a.action != "ssh") throw UsageError("only ssh takes a command after --");
  a.file = vm["config"].as<std::string>();
  a.opts.stop_timeout = std::chrono::seconds(vm["timeout"].as<int>());
  // Start keeps its own default (guests::Options, 60 s) unless told; nested TCG (a VM
  // inside `vnet vm-run`) needs more.
  if (!vm["timeout"].defaulted()) a.opts.ready_timeout = a.opts.stop_timeout;
  std::string accel = vm["accel"].as<std::string>();
  if (accel == "auto") a.opts.accel = guests::AccelChoice::kAuto;
  else if (accel == "kvm") a.opts.accel = guests::AccelChoice::kKvm;
  else if (accel == "tcg") a.opts.accel = guests::AccelChoice::kTcg;
  else throw UsageError("--accel takes auto, kvm or tcg");
  if (vm.count("state-dir")) a.opts.state_root = vm["state-dir"].as<std::string>();
  if (a.opts.state_root.empty()) a.opts.state_root = guests::default_state_root();
  a.follow = vm.count("follow") > 0;
  a.log = vm.count("log") > 0;
  a.since_boot = vm.count("since-boot") > 0;
  if (a.since_boot && a.action != "console") throw UsageError("--since-boot is for console");
  if (vm.count("user")) a.user = vm["user"].as<std::string>();
  a.unit = vm.count("unit") > 0;
  if (a.unit && a.action != "start") throw UsageError("--unit is for start");
  a.opts.target_netns = inv.global.netns;
  a.opts.run_dir = run_dir();
  if (inv.global.verbose) a.opts.log = [](const std::string& s) { std::cerr << "vnet guest: " << s << "\n"; };

  auto topo = topology::load_file(a.file);
  if (!topo) {
    std::cerr << topology::format_file_diagnostics(topo.error(), a.file);
    return 2;
  }

  if (list) {
    std::vector<std::vector<std::string>> rows = {{"NAME", "KIND", "STATE", "PID"}};
    for (const auto& g : topo->guests) {
      auto p = probe_guest(g, a);
      rows.push_back({g.name, g.kind == topology::Guest::Kind::kQemu ? "qemu" : "nspawn",
                      guests::to_string(p.state),
                      p.state == guests::RunState::kRunning ? std::to_string(p.pid) : "-"});
    }
    std::vector<size_t> w(4, 0);
    for (const auto& r : rows)
      for (size_t i = 0; i < r.size(); ++i) w[i] = std::max(w[i], r[i].size());
    for (const auto& r : rows) {
      for (size_t i = 0; i < r.size(); ++i)
        std::cout << (i + 1 < r.size() ? std::string(r[i]) + std::string(w[i] - r[i].size() + 2, ' ')
                                      : r[i]);
      std::cout << "\n";
    }
    return 0;
  }

  const topology::Guest* g = find_guest(*topo, a.name);
  if (!g) return bad_guest(*topo, a.name, a.file);
  guests::StateDir d(a.opts.state_root, g->name);
  if (a.action == "console") {
    if (a.follow || a.log || a.since_boot) return do_console(d, *g, a);
    // nspawn: the relay of nspawn/console.h serves the same socket
    return do_attach(d, g->name, probe_guest(*g, a).state);
  }
  if (a.action == "ssh" && g->kind == topology::Guest::Kind::kNspawn)
    return report(2, "guest " + g->name + ": ssh is for QEMU guests");
  if (a.action == "ssh") return do_ssh(d, *g, a);

  auto b = backend_for(*g, a);
  if (a.action == "start" && a.unit && g->kind == topology::Guest::Kind::kQemu) {
    if (systemd_is_init()) return start_guest_unit(*topo, *g, a.file);
    std::cerr << "vnet guest: " << g->name << ": systemd is not PID 1 here, so no unit: "
              << "starting QEMU directly (--unit)\n";
  }
  if (a.action == "start") return do_start(*topo, *g, *b);
  if (a.action == "stop") return do_stop(*topo, *g, *b);
  if (a.action == "restart") {
    if (int rc = do_stop(*topo, *g, *b); rc != 0) return rc;
    return do_start(*topo, *g, *b);
  }
  // status
  auto s = b->status(*g);
  if (!s) return report(int(s.error().exit), "guest " + g->name + ": " + s.error().str());
  if (inv.global.json) {
    std::cout << nlohmann::json{{"name", g->name},
                                {"state", guests::to_string(s->state)},
                                {"pid", s->pid},
                                {"accel", s->accel},
                                {"accel_note", s->accel_note},
                                {"vm_status", s->vm_status},
                                {"leader", s->leader},
                                {"why", s->why}}
                     .dump(2)
              << "\n";
  } else {
    std::cout << "guest " << g->name << ": " << guests::to_string(s->state);
    if (s->state == guests::RunState::kRunning && g->kind == topology::Guest::Kind::kNspawn)
      std::cout << " (pid " << s->pid << ", container PID 1 is " << s->leader << ")";
    else if (s->state == guests::RunState::kRunning)
      std::cout << " (pid " << s->pid << ", accel " << (s->accel.empty() ? "?" : s->accel)
                << (s->accel_note.empty() ? "" : " (" + s->accel_note + ")")
                << ", qmp " << (s->vm_status.empty() ? "busy" : s->vm_status) << ")";
    if (!s->why.empty()) std::cout << " (" << s->why << ")";
    std::cout << "\n";
  }
  return 0;
}

}  // namespace vnet::cli
