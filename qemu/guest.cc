#include "qemu/guest.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <filesystem>
#include <functional>
#include <fstream>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "base/unique_fd.h"
#include "guests/process.h"
#include "netlink/netns.h"
#include "qemu/qmp.h"
#include "qemu/seed.h"
#include "switch/config.h"
#include "switch/control.h"
#include "vmrun/kernel.h"
#include "vmrun/kvm_cache.h"
#include "vmrun/sys.h"
#include "vmrun/vmrun.h"

namespace vnet::qemu {
namespace {

using Clock = std::chrono::steady_clock;
using guests::kill_and_reap;
using guests::RunState;
using guests::spawn_daemon;
using guests::tail_of;
using guests::wait_gone;
using guests::StateDir;
using topology::Guest;
using topology::GuestNic;

Status write_text(const std::string& path, const std::string& text, mode_t mode = 0644) {
  return vmrun::write_file(path, text, int(mode));
}

std::string accel_name(Accel a) { return a == Accel::kKvm ? "kvm" : "tcg"; }

// The ports a start added to running switches, as [{"control": PATH, "port": NAME}].
nlohmann::json read_added_ports(const StateDir& d) {
  auto text = vmrun::read_file(d.added_switch_ports());
  auto j = text ? nlohmann::json::parse(*text, nullptr, false) : nlohmann::json();
  return j.is_array() ? j : nlohmann::json::array();
}

// Closes the ports a start added to running switches (best effort: a switch that has
// stopped has closed them already), then forgets them.
void release_added_ports(const StateDir& d, const std::function<void(const std::string&)>& say) {
  for (const auto& e : read_added_ports(d)) {
    if (!e.is_object() || !e.value("control", nlohmann::json()).is_string() ||
        !e.value("port", nlohmann::json()).is_string())
      continue;
    std::string control = e["control"], port = e["port"];
    auto a = sw::control_call(control, {{"cmd", "remove-port"}, {"port", port}});
    if (!a) say("switch port " + port + " not removed: " + a.error().str());
    else if (!sw::answer_ok(*a)) say("switch port " + port + " not removed: " + sw::answer_error(*a));
  }
  ::unlink(d.added_switch_ports().c_str());
}

// The socket switch NIC `i` connects to: the port the switch serves from its own file,
// or else one the running switch opens for this guest over its control socket (needs
// the right to change the switch), recorded so that stop closes it again.
Result<std::string> attach_switch_port(const topology::Topology& topo, const Guest& g, size_t i,
                                       const StateDir& d) {
  auto p = switch_nic_port(topo, g, i);
  if (!p) return tl::unexpected(p.error());
  if (vmrun::exists(p->socket)) return p->socket;
  const std::string& sw_name = g.nics[i].switch_name;
  std::string where = "guest '" + g.name + "' NIC #" + std::to_string(i) + ": switch '" + sw_name + "'";
  if (!vmrun::exists(p->control))
    return fail(where + " is not running (no " + p->control + "; start it with `vnet switch " +
                    sw_name + " -c FILE`)",
                0, ExitCode::kEnvironment);
  nlohmann::json req = {{"cmd", "add-port"}, {"port", p->port}, {"pvid", p->pvid},
                        {"tagged", p->tagged}};
  auto a = sw::control_call(p->control, req);
  if (!a) {
    Error e = a.error();
    e.exit = ExitCode::kEnvironment;
    return tl::unexpected(e.context(where + " does not serve " + p->socket +
                                    " and could not be asked to open it"));
  }
  if (!sw::answer_ok(*a))
    return fail(where + " refused to open port " + p->port + ": " + sw::answer_error(*a), 0,
                ExitCode::kEnvironment);
  // Recorded first: whatever follows, a failed start or stop closes it again.
  nlohmann::json added = read_added_ports(d);
  nlohmann::json entry = {{"control", p->control}, {"port", p->port}};
  if (std::find(added.begin(), added.end(), entry) == added.end()) added.push_back(entry);
  if (auto s = write_text(d.added_switch_ports(), added.dump() + "\n", 0600); !s)
    return tl::unexpected(s.error());
  // QEMU connects where the file says the port is, not wherever an answer points.
  auto sock = a->value("socket", nlohmann::json());
  if (sock != p->socket || !vmrun::exists(p->socket))
    return fail(where + " answered add-port with " + sock.dump() + ", not the socket " +
                    p->socket + " the file gives the port",
                0, ExitCode::kEnvironment);
  return p->socket;
}

}  // namespace

bool wants_ephemeral_key(const Guest& g) {
  return !(g.cloud_init && !g.cloud_init->ssh_authorized_keys.empty());
}

Result<SwitchNicPort> switch_nic_port(const topology::Topology& topo, const Guest& g,
                                      size_t i) {
  const GuestNic& nic = g.nics.at(i);
  const topology::Switch* sw = topo.find_switch(nic.switch_name);
  if (!sw)
    return fail("guest '" + g.name + "' NIC #" + std::to_string(i) + ": switch '" +
                    nic.switch_name + "' is not declared",
                0, ExitCode::kBadInput);
  auto cfg = sw::make_config(*sw);
  if (!cfg) return tl::unexpected(cfg.error());
  for (const auto& p : cfg->ports)
    if (p.name == nic.host_name && p.kind == topology::SwitchPort::Kind::kStream)
      return SwitchNicPort{p.target, cfg->control_path(), p.name, p.policy.pvid,
                           p.policy.tagged_list()};
  return fail("switch '" + sw->name + "' has no stream port '" + nic.host_name +
                  "' for guest '" + g.name + "'",
              0, ExitCode::kBadInput);
}

std::vector<std::string> overlay_argv(const std::string& qemu_img, const Guest& g,
                                      const std::string& overlay) {
  const std::string& base = g.disk->image;
  bool qcow2 = base.size() >= 6 && base.compare(base.size() - 6, 6, ".qcow2") == 0;
  std::vector<std::string> a = {qemu_img, "create", "-q", "-f", "qcow2", "-b", base,
                                "-F", qcow2 ? "qcow2" : "raw", overlay};
  if (g.disk->size_bytes) a.push_back(std::to_string(*g.disk->size_bytes));
  return a;
}

Result<SshTarget> ssh_target(const Guest& g) {
  for (const GuestNic& n : g.nics) {
    if (n.kind != GuestNic::Kind::kUser) continue;
    for (const std::string& rule : n.hostfwd) {
      // tcp:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT (checked by check_hostfwd)
      if (rule.rfind("tcp:", 0) != 0) continue;
      size_t dash = rule.find('-');
      if (dash == std::string::npos) continue;
      std::string host = rule.substr(4, dash - 4), guest = rule.substr(dash + 1);
      if (guest.substr(guest.rfind(':') + 1) != "22") continue;
      size_t c = host.rfind(':');
      SshTarget t;
      t.host = host.substr(0, c).empty() ? "127.0.0.1" : host.substr(0, c);
      t.port = std::stoi(host.substr(c + 1));
      return t;
    }
  }
  for (const GuestNic& n : g.nics)
    if (!n.addresses.empty()) return SshTarget{n.addresses.front().addr.str(), 22};
  return fail("guest '" + g.name +
                  "' has no way in for ssh: no user NIC forwarding to port 22 and no "
                  "declared address",
              0, ExitCode::kBadInput);
}

std::vector<std::string> ssh_argv(const StateDir& d, const SshTarget& t,
                                  const std::string& user,
                                  const std::vector<std::string>& command) {
  std::vector<std::string> a = {"ssh", "-i", d.private_key(), "-o", "IdentitiesOnly=yes",
                                "-o", "UserKnownHostsFile=" + d.known_hosts(),
                                // Every start is a new instance with new host keys
                                // (docs/guests.md): trust on first use, per state folder.
                                "-o", "StrictHostKeyChecking=accept-new",
                                "-p", std::to_string(t.port)};
  if (!user.empty()) a.insert(a.end(), {"-l", user});
  a.push_back(t.host);
  if (!command.empty()) {
    a.push_back("--");
    a.insert(a.end(), command.begin(), command.end());
  }
  return a;
}

size_t kill_recorded(const std::string& state_root) {
  size_t n = 0;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(state_root, ec)) {
    StateDir d(state_root, e.path().filename());
    guests::Probe pr = guests::probe(d, d.qmp_socket());
    if (pr.state != RunState::kRunning) continue;
    kill_and_reap(pr.pid);
    ++n;
  }
  return n;
}

QemuBackend::QemuBackend(guests::Options opts) : opts_(std::move(opts)) {
  if (opts_.state_root.empty()) opts_.state_root = guests::default_state_root();
}

StateDir QemuBackend::state_dir(const Guest& g) const { return StateDir(opts_.state_root, g.name); }

Result<guests::StartResult> QemuBackend::start(const topology::Topology& topo, const Guest& g) {
  auto say = [&](const std::string& s) {
    if (opts_.log) opts_.log(s);
  };
  guests::StartResult res;
  StateDir d = state_dir(g);
  if (auto s = d.ensure(); !s) return tl::unexpected(s.error().context("state folder"));

  guests::Probe pr = guests::probe(d, d.qmp_socket());
  if (pr.state == RunState::kRunning) {
    res.already_running = true;
    res.pid = pr.pid;
    return res;
  }
  if (pr.state == RunState::kStale) {
    if (auto s = guests::clean_run_files(d); !s) return tl::unexpected(s.error());
    res.cleaned_stale = pr.why;
    say("removed stale state (" + pr.why + ")");
  }

  std::string qemu = vmrun::find_program("qemu-system-x86_64");
  if (qemu.empty())
    return fail("qemu-system-x86_64 not found (install the Debian package qemu-system-x86)",
                ENOENT, ExitCode::kEnvironment);

  LaunchContext ctx;
  ctx.qemu = qemu;
  ctx.qmp_socket = d.qmp_socket();
  ctx.console_socket = d.console_socket();
  ctx.console_log = d.console_log();
  ctx.nics.resize(g.nics.size());

  // Links first: a guest with bridge/tap NICs needs its taps (the engine's apply of the
  // whole file, as `vnet apply` would do). Without such NICs nothing here needs root.
  if (needs_links(g)) {
    if (auto s = guests::apply_links(topo, opts_, "links of guest '" + g.name + "'"); !s)
      return tl::unexpected(s.error());
  }
  // Ports added to running switches go again unless this start succeeds.
  struct ReleaseUnlessStarted {
    const StateDir& d;
    std::function<void(const std::string&)> say;
    bool started = false;
    ~ReleaseUnlessStarted() {
      if (!started) release_added_ports(d, say);
    }
  } release{d, say};
  for (size_t i = 0; i < g.nics.size(); ++i) {
    if (g.nics[i].kind != GuestNic::Kind::kSwitch) continue;
    auto sock = attach_switch_port(topo, g, i, d);
    if (!sock) return tl::unexpected(sock.error());
    ctx.nics[i].stream_socket = *sock;
  }

  // Ephemeral key and seed.
  SeedOptions seed;
  if (wants_ephemeral_key(g)) {
    auto pub = generate_ssh_keypair(d.path());
    if (!pub) {
      Error e = pub.error();
      e.exit = ExitCode::kEnvironment;
      return tl::unexpected(e.context("ephemeral ssh key"));
    }
    seed.ephemeral_public_key = *pub;
  }
  seed.debug_ssh_keys = g.debug_ssh_keys;
  if (g.cloud_init || !seed.ephemeral_public_key.empty() || !seed.debug_ssh_keys.empty()) {
    if (g.cloud_init && !g.cloud_init->user_data.empty()) {
      auto ud = vmrun::read_file(g.cloud_init->user_data);
      if (!ud) return tl::unexpected(ud.error().context("cloud_init.user_data"));
      seed.user_data = *ud;
    }
    if (auto s = write_seed_iso(d.seed_iso(), render_seed(g, seed)); !s)
      return tl::unexpected(s.error().context("seed"));
    ctx.seed_iso = d.seed_iso();
  }

  // The overlay is the guest's disk: made once, kept across stops.
  if (g.disk) {
    ctx.overlay_disk = d.overlay_disk();
    if (!vmrun::exists(ctx.overlay_disk)) {
      std::string img = vmrun::find_program("qemu-img");
      if (img.empty())
        return fail("qemu-img not found (install the Debian package qemu-utils)", ENOENT,
                    ExitCode::kEnvironment);
      auto r = vmrun::run_capture(overlay_argv(img, g, ctx.overlay_disk));
      if (!r) return tl::unexpected(r.error());
      if (r->status != 0) return fail(vmrun::describe_failure("qemu-img create", *r));
    }
  }

  // Accelerator: KVM only after a bounded probe boot (facts.md), which needs a kernel
  // to boot: the one vm-run cached.
  std::string accel_note;
  ctx.accel = Accel::kTcg;
  if (opts_.accel == guests::AccelChoice::kTcg) {
    accel_note = "as asked";
  } else {
    std::string why;
    auto k = vmrun::cached_kernel();
    if (!k) {
      why = "no cached kernel to probe KVM with";
    } else {
      // The verdict holds until the host reboots or QEMU or /dev/kvm change
      // (vmrun/kvm_cache.h); asking for KVM outright retries a cached failure.
      auto p = vmrun::probe_kvm_cached(*k, qemu);
      if (!p.works && p.cached && opts_.accel == guests::AccelChoice::kKvm)
        p = vmrun::probe_kvm_cached(*k, qemu, "", true);
      if (p.works) ctx.accel = Accel::kKvm;
      else why = p.cached ? "KVM probe cached: " + p.why : p.why;
      if (p.works) accel_note = p.cached ? "KVM probe cached: passed" : "a probe boot passed";
    }
    if (ctx.accel == Accel::kTcg && opts_.accel == guests::AccelChoice::kKvm)
      return fail("KVM requested but not usable: " + why, 0, ExitCode::kEnvironment);
    if (ctx.accel == Accel::kTcg) accel_note = why;
  }
  res.accel = accel_name(ctx.accel) + " (" + accel_note + ")";
  say("accelerator: " + res.accel);
  // Allowed (a network boot is a real use), but rarely meant outside a scenario, where
  // such a guest boots vnet's test guest instead.
  if (g.kernel.empty() && !g.disk)
    res.notes.push_back("declares neither kernel nor disk: it boots from its NICs (PXE) or "
                        "not at all");

  auto argv = build_argv(g, ctx);
  if (!argv) return tl::unexpected(argv.error());
  if (auto s = guests::rotate_console_log(d); !s) return tl::unexpected(s.error());

  // In the namespace the links went to (`--netns`, a scenario's host): QEMU opens its
  // taps and user-mode sockets there.
  std::string netns = opts_.target_netns.empty() ? "" : netlink::netns_path(opts_.target_netns);
  auto pid = spawn_daemon(*argv, d.hypervisor_log(), netns);
  if (!pid) return tl::unexpected(pid.error());
  // The pid file first: if we die from here on, the next start finds and cleans it.
  auto abandon = [&](Error e) -> Result<guests::StartResult> {
    kill_and_reap(*pid);
    (void)guests::clean_run_files(d);
    std::string log = tail_of(d.hypervisor_log());
    if (!log.empty()) e.what += "\nqemu.log:\n" + log;
    return tl::unexpected(e);
  };
  if (auto s = guests::write_pid_file(d, *pid); !s) return abandon(s.error());
  nlohmann::json run = {{"pid", *pid},
                        {"accel", accel_name(ctx.accel)},
                        {"accel_note", accel_note},
                        {"argv", *argv}};
  if (auto s = write_text(d.run_file(), run.dump(2) + "\n"); !s) return abandon(s.error());

  // Ready when QMP answers and says "running"; QEMU exiting meanwhile is a failure.
  auto deadline = Clock::now() + opts_.ready_timeout;
  std::optional<QmpClient> qmp;
  while (!qmp) {
    int st = 0;
    if (::waitpid(*pid, &st, WNOHANG) == *pid) {
      (void)guests::clean_run_files(d);
      std::string log = tail_of(d.hypervisor_log());
      return fail("QEMU exited at start (status " +
                  std::to_string(WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st)) +
                  ")" + (log.empty() ? "" : "; qemu.log:\n" + log));
    }
    if (Clock::now() >= deadline)
      return abandon(Error{ETIMEDOUT, "QMP did not answer in time", {}, {}, ExitCode::kFailed});
    auto c = QmpClient::connect(d.qmp_socket(), Millis(500));
    if (c) qmp.emplace(std::move(*c));
  }
  auto st = qmp->query_status();
  if (!st) return abandon(st.error().context("query-status"));
  if (*st != "running")
    return abandon(Error{0, "QEMU reports '" + *st + "', not running", {}, {}, ExitCode::kFailed});
  res.pid = *pid;
  release.started = true;
  return res;
}

Result<guests::StopResult> QemuBackend::stop(const topology::Topology& topo, const Guest& g) {
  auto say = [&](const std::string& s) {
    if (opts_.log) opts_.log(s);
  };
  guests::StopResult res;
  StateDir d = state_dir(g);
  // The taps its start derived go with it, however it ended (declared [taps] a NIC
  // names stay): the engine's apply of the file without them deletes just those.
  auto drop_taps = [&]() -> Result<guests::StopResult> {
    release_added_ports(d, say);
    if (needs_links(g)) {
      if (auto s = guests::apply_links(without_guest_taps(topo, g), opts_,
                                       "removing the taps of guest '" + g.name + "'");
          !s)
        return tl::unexpected(s.error());
    }
    return res;
  };
  guests::Probe pr = guests::probe(d, d.qmp_socket());
  auto settled = guests::settle_not_running(d, pr);
  if (!settled) return tl::unexpected(settled.error());
  if (*settled) {
    res.how = **settled;
    return drop_taps();
  }
  res.was_running = true;
  pid_t pid = pr.pid;
  auto qmp = QmpClient::connect(d.qmp_socket(), Millis(5000));
  if (qmp) {
    // The ACPI power button; the guest decides to shut down, and QEMU (no
    // -no-shutdown) reports SHUTDOWN and exits.
    if (auto s = qmp->system_powerdown(); s) {
      say("powerdown sent; waiting up to " + std::to_string(opts_.stop_timeout.count()) +
          " s for SHUTDOWN");
      auto ev = qmp->wait_event("SHUTDOWN", opts_.stop_timeout);
      if (ev) {
        res.shutdown_event = true;
        res.shutdown_reason = ev->reason;
        res.how = "powered down (SHUTDOWN, reason " + ev->reason + ")";
      }
    }
    if (!res.shutdown_event) {
      (void)qmp->quit();
      res.how = "quit over QMP (no SHUTDOWN from the guest within " +
                std::to_string(opts_.stop_timeout.count()) + " s)";
    }
  } else {
    say("QMP unreachable: " + qmp.error().str());
  }
  if (!wait_gone(pid, std::chrono::seconds(10))) {
    ::kill(pid, SIGKILL);
    if (!wait_gone(pid, std::chrono::seconds(5)))
      return fail("QEMU pid " + std::to_string(pid) + " survives SIGKILL");
    res.how = "killed (SIGKILL)";
  }
  if (auto s = guests::clean_run_files(d); !s) return tl::unexpected(s.error());
  return drop_taps();
}

Result<guests::GuestStatus> QemuBackend::status(const Guest& g) {
  guests::GuestStatus out;
  StateDir d = state_dir(g);
  guests::Probe pr = guests::probe(d, d.qmp_socket());
  out.state = pr.state;
  out.pid = pr.pid;
  out.why = pr.why;
  if (pr.state != RunState::kRunning) return out;
  if (auto text = vmrun::read_file(d.run_file())) {
    auto j = nlohmann::json::parse(*text, nullptr, false);
    if (j.is_object()) {
      out.accel = j.value("accel", "");
      out.accel_note = j.value("accel_note", "");
    }
  }
  // QMP takes one client at a time: a busy monitor is reported, not waited for.
  if (auto c = QmpClient::connect(d.qmp_socket(), Millis(2000))) {
    if (auto st = c->query_status()) out.vm_status = *st;
  }
  return out;
}

}  // namespace vnet::qemu
