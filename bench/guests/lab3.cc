// lab3-vms benchmark (issue 15): the wall time of `vnet scenario run FILE` (default
// scenarios/lab3-vms.toml: four TCG VMs on one vnet switch, a probe namespace on a
// packet port, 11 ping checks, 9 of them from inside the VMs over their serial
// consoles), exec to exit, against a plain bash script that does the same by hand with
// the same QEMU flags, exec to exit. Needs root (namespaces), `ip`, `ping` and `socat`.
//
// The peer script (written here into the temp folder; read it there with --keep-files):
//   * `ip netns add` the lab's namespaces, `ip link add ... type veth` each veth of the
//     file into them with its addresses, up;
//   * runs `vnet switch NAME -c FILE` (in the lab's host namespace, for its packet ports)
//     from a copy of the file whose switch sockets live in the script's folder: there is
//     no other VLAN-aware userspace switch here (vde_switch's VLANs are not vnet's ports);
//   * starts each VM (`setsid`, as vnet does) with exactly the argv vnet ran (from a warm-up
//     `vnet scenario run --keep`: the guests' run.json, with the run's folder replaced by
//     the script's), the same kernel, the same initramfs and seed ISO (copied from that
//     run, not built again);
//   * waits until every VM's console log says "vnet-guest: ready" (polled every 100 ms);
//   * runs the file's checks the way the runner does: those from a VM over its console
//     socket (a socat coprocess per VM, the VMs at the same time, each VM's checks in
//     order, the same `ping -c COUNT -W TIMEOUT`), those from a namespace with
//     `ip netns exec NS ping`, alongside; counts passes;
//   * kills the QEMUs and the switch, deletes the namespaces.
// What it does not do that vnet does: parse and validate the file, probe the kernel for
// `requires` features, build the test guest's initramfs, write the guests' seed ISOs and
// ephemeral keys, wait for each VM's QMP to say running (the VMs side by side; the
// script only forks them), wait for `ready = { ping }` by pinging from the probe
// namespace (it reads the console instead), clean stale runs, keep run records, print
// the table.
//
// Runs alternate (vnet first in odd runs, the script first in even ones), each bounded
// (a run over 300 s is killed with its process group); medians of RUNS; ratio
// vnet/script. Everything the bench or the script started is stopped by pid, and the
// namespaces it made are deleted, after every run.
//
//   build/bench/guests/lab3_vms build/vnet [RUNS] [FILE] [--keep-files]
#include <sys/stat.h>

#include <filesystem>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "bench/guests/common.h"
#include "topology/load.h"
#include "vmrun/sys.h"

namespace {

namespace fs = std::filesystem;
using bench::Clock;
using bench::sh_quote;
using vnet::topology::Check;
using vnet::topology::Topology;

constexpr const char* kRecordDir = "/run/vnet/scenario";  // scenario/runner.cc
constexpr int kRunLimitS = 300;

[[noreturn]] void die(const std::string& msg) { bench::die("lab3_vms", msg); }

void replace_all(std::string& s, const std::string& from, const std::string& to) {
  for (size_t p = 0; (p = s.find(from, p)) != std::string::npos; p += to.size())
    s.replace(p, from.size(), to);
}

// Runs argv in its own process group with output to `log`; exit status, or 124 after
// `limit` (the whole group killed). The wall time from exec to exit in `secs`.
int run_timed(const std::vector<std::string>& argv, const std::string& log, double& secs,
              pid_t* started = nullptr, int limit_s = kRunLimitS) {
  auto t0 = Clock::now();
  pid_t pid = ::fork();
  if (pid < 0) die("fork failed");
  if (pid == 0) {
    ::setpgid(0, 0);
    int in = ::open("/dev/null", O_RDONLY);
    int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (in >= 0) ::dup2(in, 0);
    if (fd >= 0) ::dup2(fd, 1), ::dup2(fd, 2);
    std::vector<char*> a;
    for (const auto& s : argv) a.push_back(const_cast<char*>(s.c_str()));
    a.push_back(nullptr);
    ::execv(a[0], a.data());
    ::_exit(127);
  }
  if (started) *started = pid;
  auto deadline = t0 + std::chrono::seconds(limit_s);
  int st = 0;
  while (true) {
    pid_t r = ::waitpid(pid, &st, WNOHANG);
    if (r == pid) break;
    if (Clock::now() >= deadline) {
      ::kill(-pid, SIGKILL);
      ::waitpid(pid, &st, 0);
      secs = bench::seconds(t0, Clock::now());
      return 124;
    }
    // 1 ms: the resolution the figures need, at negligible cost to the measured side.
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  secs = bench::seconds(t0, Clock::now());
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

int sh(const std::string& cmd) { return bench::run({"/bin/sh", "-c", cmd}, {}, "/dev/null"); }

// The namespaces under /run/netns whose names start with `prefix`.
std::vector<std::string> netns_with_prefix(const std::string& prefix) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/run/netns", ec)) {
    std::string n = e.path().filename();
    if (n.rfind(prefix, 0) == 0) out.push_back(n);
  }
  return out;
}

void delete_netns(const std::string& prefix) {
  for (const auto& n : netns_with_prefix(prefix)) sh("ip netns del " + sh_quote(n));
}

// What the warm-up run left: each guest's argv, and the record folder they point into.
struct Lab {
  std::string record;  // /run/vnet/scenario/vsc-PID-0-
  std::map<std::string, std::vector<std::string>> argv;  // by guest name
};

// Stops what a kept vnet run left (its QEMUs, its switch processes, its namespaces) and
// removes its record, by pid and by its own prefix only: `vnet scenario clean` would
// also take other people's kept labs on this shared machine.
void teardown_kept(const std::string& record) {
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(record + "/guests", ec)) {
    auto text = vnet::vmrun::read_file(e.path().string() + "/run.json");
    auto j = nlohmann::json::parse(text.value_or("null"), nullptr, false);
    if (j.is_object() && j["pid"].is_number()) bench::stop_pid(j["pid"].get<pid_t>());
  }
  for (const auto& e : fs::directory_iterator(record, ec)) {
    std::string n = e.path().filename();
    if (n.rfind("switch-", 0) == 0 && e.path().extension() == ".pid") {
      pid_t pid = 0;
      std::ifstream(e.path()) >> pid;
      bench::stop_pid(pid);
    }
  }
  delete_netns(fs::path(record).filename().string());
  vnet::vmrun::remove_tree(record);
}

// One `vnet scenario run --keep`: it warms the caches and leaves the argv of each VM.
Lab warm_up(const std::string& vnet, const std::string& file, const std::string& dir) {
  double secs = 0;
  // The record's name carries the runner's pid (scenario/runner.cc: vsc-PID-INDEX-).
  pid_t pid = ::fork();
  if (pid < 0) die("fork failed");
  if (pid == 0) {
    ::setpgid(0, 0);
    int fd = ::open((dir + "/warmup.log").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int in = ::open("/dev/null", O_RDONLY);
    ::dup2(in, 0), ::dup2(fd, 1), ::dup2(fd, 2);
    ::execl(vnet.c_str(), vnet.c_str(), "scenario", "run", "--keep", file.c_str(), nullptr);
    ::_exit(127);
  }
  Lab lab;
  lab.record = std::string(kRecordDir) + "/vsc-" + std::to_string(pid) + "-0-";
  auto t0 = Clock::now();
  int st = 0;
  while (::waitpid(pid, &st, WNOHANG) != pid) {
    if (Clock::now() - t0 > std::chrono::seconds(kRunLimitS)) {
      ::kill(-pid, SIGKILL);
      ::waitpid(pid, &st, 0);
      teardown_kept(lab.record);
      die("the warm-up vnet run took over " + std::to_string(kRunLimitS) + " s");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  secs = bench::seconds(t0, Clock::now());
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
    teardown_kept(lab.record);
    die("the warm-up `vnet scenario run --keep` failed (" + dir + "/warmup.log)");
  }
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(lab.record + "/guests", ec)) {
    auto text = vnet::vmrun::read_file(e.path().string() + "/run.json");
    auto j = nlohmann::json::parse(text.value_or("null"), nullptr, false);
    if (!j.is_object() || !j["argv"].is_array()) continue;
    auto& a = lab.argv[e.path().filename().string()];
    for (const auto& x : j["argv"]) a.push_back(x.get<std::string>());
  }
  std::printf("warm-up vnet run (with --keep): %.1f s, %zu VMs\n", secs, lab.argv.size());
  return lab;
}

// Copies the regular files the kept run's argv names (initramfs, seed ISOs) into the
// script's folder, where the rewritten argv finds them.
void copy_inputs(const Lab& lab, const std::string& peer) {
  std::set<std::string> done;
  for (const auto& [name, argv] : lab.argv) {
    vnet::vmrun::mkdir_p(peer + "/guests/" + name);
    for (const std::string& arg : argv) {
      for (size_t p = 0; (p = arg.find(lab.record, p)) != std::string::npos; ++p) {
        size_t end = arg.find_first_of(",", p);
        std::string path = arg.substr(p, end == std::string::npos ? std::string::npos : end - p);
        struct stat sb{};
        if (done.count(path) || ::stat(path.c_str(), &sb) != 0 || !S_ISREG(sb.st_mode)) continue;
        std::string to = path;
        replace_all(to, lab.record, peer);
        vnet::vmrun::mkdir_p(fs::path(to).parent_path().string());
        std::error_code ec;
        fs::copy_file(path, to, fs::copy_options::overwrite_existing, ec);
        if (ec) die("cannot copy " + path + ": " + ec.message());
        done.insert(path);
      }
    }
  }
}

std::string ns_name(const std::string& prefix, const std::string& logical) {
  return prefix + (logical.empty() || logical == "host" ? "host" : logical);
}

// The peer. Everything is spelled out in the script, as its writer would have it.
std::string lab_script(const Topology& topo, const Lab& lab, const std::string& vnet,
                       const std::string& peer, const std::string& switch_file,
                       const std::string& prefix) {
  std::ostringstream s;
  s << "#!/bin/bash\n"
    << "# " << topo.scenario->name << " by hand: namespaces and veths with ip, the switch,\n"
    << "# the VMs, wait for their consoles, the checks, then stop everything.\n"
    << "set -u\n"
    << "t0=${EPOCHREALTIME/./}  # (the timeline, for the bench's reader; builtins only)\n"
    << "mark() { local now=${EPOCHREALTIME/./}; echo \"at $(((now - t0) / 1000)) ms: $*\"; }\n"
    << "D=" << sh_quote(peer) << "\n"
    << "pids=() jobs_=()\n"
    << "cleanup() {\n"
    << "  kill \"${pids[@]}\" 2>/dev/null\n"
    << "  wait\n";
  std::set<std::string> namespaces = {ns_name(prefix, "")};
  for (const auto& v : topo.veths) {
    namespaces.insert(ns_name(prefix, v.netns));
    namespaces.insert(ns_name(prefix, v.peer_netns.empty() ? v.netns : v.peer_netns));
  }
  for (const auto& n : namespaces) s << "  ip netns del " << n << "\n";
  s << "}\n"
    << "trap cleanup EXIT\n"
    << "rm -f \"$D\"/guests/*/console.log \"$D\"/guests/*/*.sock\n\n"
    << "# The lab's namespaces and veths.\n";
  for (const auto& n : namespaces)
    s << "ip netns add " << n << " || exit 1\n"
      << "ip -n " << n << " link set lo up\n";
  for (const auto& v : topo.veths) {
    std::string a = ns_name(prefix, v.netns);
    std::string b = ns_name(prefix, v.peer_netns.empty() ? v.netns : v.peer_netns);
    s << "ip -n " << a << " link add " << v.name << " type veth peer name " << v.peer
      << " netns " << b << " || exit 1\n";
    for (const auto& c : v.addresses) s << "ip -n " << a << " addr add " << c.str() << " dev " << v.name << "\n";
    for (const auto& c : v.peer_addresses)
      s << "ip -n " << b << " addr add " << c.str() << " dev " << v.peer << "\n";
    s << "ip -n " << a << " link set " << v.name << " up\n"
      << "ip -n " << b << " link set " << v.peer << " up\n";
  }
  s << "\n# The switch, in the lab's host namespace (its packet ports are there).\n";
  for (const auto& sw : topo.switches) {
    s << "ip netns exec " << ns_name(prefix, "") << " " << sh_quote(vnet) << " switch "
      << sw.name << " -c " << sh_quote(switch_file) << " >\"$D/switch-" << sw.name
      << ".log\" 2>&1 &\n"
      << "pids+=($!)\n";
  }
  // QEMU connects to the switch's stream sockets at once: wait until they are there.
  std::vector<std::string> stream_sockets;
  for (const auto& [name, argv] : lab.argv)
    for (const std::string& arg : argv) {
      auto p = arg.find("addr.path=");
      if (arg.rfind("stream,", 0) == 0 && p != std::string::npos) {
        std::string path = arg.substr(p + 10, arg.find(',', p) - (p + 10));
        replace_all(path, lab.record, peer);
        stream_sockets.push_back(path);
      }
    }
  s << "for sock in";
  for (const auto& p : stream_sockets) s << " " << sh_quote(p);
  s << "; do\n"
    << "  for i in $(seq 500); do [ -S \"$sock\" ] && break; sleep 0.01; done\n"
    << "  [ -S \"$sock\" ] || { echo \"switch: no $sock\" >&2; exit 1; }\n"
    << "done\n\n# The VMs, with the flags vnet used, each in its own session like vnet's.\n";
  // In the file's order, as the runner starts them.
  for (const auto& g : topo.guests) {
    const std::string& name = g.name;
    const std::vector<std::string>& argv = lab.argv.at(name);
    // setsid, as vnet's spawn does: with the kernel's autogroup scheduling a session
    // is one scheduling entity, and four QEMUs in the script's one session would share
    // one slice of the CPU against the other sessions on a shared machine.
    std::string q = "setsid";
    for (std::string a : argv) {
      replace_all(a, lab.record, peer);
      q += (q.empty() ? "" : " \\\n  ") + sh_quote(a);
    }
    s << q << " \\\n  </dev/null >\"$D/guests/" << name << "/qemu.log\" 2>&1 &\n"
      << "pids+=($!)\n";
  }
  s << "mark VMs started\n"
    << "\n# Up when the console says so; at most 300 s each.\n"
    << "for vm in";
  for (const auto& g : topo.guests) s << " " << g.name;
  s << "; do\n"
    << "  for i in $(seq 3000); do\n"
    << "    grep -q 'vnet-guest: ready' \"$D/guests/$vm/console.log\" 2>/dev/null && break\n"
    << "    sleep 0.1\n"
    << "  done\n"
    << "  grep -q 'vnet-guest: ready' \"$D/guests/$vm/console.log\" || { echo \"$vm not ready\" >&2; exit 1; }\n"
    << "done\n"
    << "mark all ready\n\n"
    << "# A VM's checks, in order, over its console: a socat coprocess, each command's\n"
    << "# exit status on a marker line (the echo of the command shows \\$?, not digits).\n"
    << "# Arguments: VM, then EXPECT ADDRESS COUNT TIMEOUT for each check.\n"
    << "vm_checks() {\n"
    << "  local vm=$1 n=0 line rc; shift\n"
    << "  coproc CON { socat - UNIX-CONNECT:\"$D/guests/$vm/console.sock\" 2>/dev/null; }\n"
    << "  while [ $# -gt 0 ]; do\n"
    << "    n=$((n + 1)); rc=\n"
    << "    echo \"ping -c $3 -W $4 $2 >/dev/null 2>&1; echo @$vm$n=\\$?\" >&\"${CON[1]}\"\n"
    << "    while IFS= read -r -t $((30 + $3 * (1 + $4))) line <&\"${CON[0]}\"; do\n"
    << "      case $line in *@$vm$n=[0-9]*) rc=${line##*=}; rc=${rc%%[!0-9]*}; break ;; esac\n"
    << "    done\n"
    << "    got=blocked; [ \"$rc\" = 0 ] && got=reach\n"
    << "    [ \"$got\" = \"$1\" ] && r=pass || r=fail\n"
    << "    echo \"$r $vm $2 expect $1 got $got\"\n"
    << "    shift 4\n"
    << "  done\n"
    << "  kill $CON_PID 2>/dev/null\n"
    << "}\n\n"
    << "# The checks: each VM's and the namespaces' at the same time.\n";
  std::map<std::string, std::vector<const Check*>> by_vm;
  std::vector<const Check*> in_netns;
  for (const Check& c : topo.scenario->checks) {
    if (c.kind != Check::Kind::kPing) die("the peer does ping checks only");
    if (lab.argv.count(c.from)) by_vm[c.from].push_back(&c);
    else in_netns.push_back(&c);
  }
  auto expect = [](const Check& c) { return c.expect == Check::Expect::kReach ? "reach" : "blocked"; };
  for (const auto& [vm, checks] : by_vm) {
    s << "vm_checks " << vm;
    for (const Check* c : checks)
      s << " " << expect(*c) << " " << c->address.str() << " " << c->count << " " << c->timeout_s;
    s << " >\"$D/result-" << vm << "\" &\n"
      << "jobs_+=($!)\n";
  }
  int i = 0;
  for (const Check* c : in_netns) {
    std::string ns = ns_name(prefix, c->from);
    s << "{ ip netns exec " << ns << " ping -c " << c->count << " -W " << c->timeout_s << " "
      << c->address.str() << " >/dev/null 2>&1 && got=reach || got=blocked\n"
      << "  [ $got = " << expect(*c) << " ] && r=pass || r=fail\n"
      << "  echo \"$r " << c->from << " " << c->address.str() << " expect " << expect(*c)
      << " got $got\"; } >\"$D/result-ns" << ++i << "\" &\n"
      << "jobs_+=($!)\n";
  }
  s << "wait \"${jobs_[@]}\"\n"
    << "mark checks done\n"
    << "cat \"$D\"/result-*\n"
    << "passed=$(cat \"$D\"/result-* | grep -c '^pass')\n"
    << "failed=$(cat \"$D\"/result-* | grep -vc '^pass')\n"
    << "rm -f \"$D\"/result-*\n"
    << "echo \"$passed passed, $failed failed\"\n"
    << "[ \"$passed\" = " << topo.scenario->checks.size() << " ]\n";
  return s.str();
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  bool keep_files = std::erase(args, "--keep-files") > 0;
  if (args.empty()) die("usage: lab3_vms VNET [RUNS] [FILE] [--keep-files]");
  std::string vnet = fs::absolute(args[0]).string();
  int runs = args.size() > 1 ? std::atoi(args[1].c_str()) : 5;
  if (runs < 1 || runs > 20) die("RUNS must be 1..20");
  std::string file = fs::absolute(args.size() > 2 ? args[2] : "scenarios/lab3-vms.toml").string();
  if (::geteuid() != 0) die("needs root (the lab's namespaces)");
  for (const char* p : {"ip", "ping", "socat", "qemu-system-x86_64"})
    if (vnet::vmrun::find_program(p).empty())
      die(std::string(p) + " is not installed (Debian: iproute2, iputils-ping, socat, qemu-system-x86)");
  auto topo = vnet::topology::load_file(file);
  if (!topo || !topo->scenario) die(file + ": not a valid scenario file");
  if (!topo->bridges.empty() || !topo->taps.empty() || !topo->kind_links.empty() ||
      !topo->links.empty() || topo->switches.size() != 1)
    die(file + ": the peer builds veths and one switch only");

  char tmpl[] = "/tmp/vnet-bench-lab3-XXXXXX";
  if (!::mkdtemp(tmpl)) die("mkdtemp failed");
  std::string dir = tmpl, peer = dir + "/peer";
  vnet::vmrun::mkdir_p(peer);

  Lab lab = warm_up(vnet, file, dir);
  for (const auto& g : topo->guests)
    if (!lab.argv.count(g.name)) {
      teardown_kept(lab.record);
      die("the warm-up run left no QEMU argv for guest " + g.name + " under " + lab.record);
    }
  copy_inputs(lab, peer);
  teardown_kept(lab.record);

  // The switch's file: the scenario's, with its sockets in the script's folder (the
  // stream ports keep their names, so the rewritten argv finds them).
  auto text = vnet::vmrun::read_file(file);
  if (!text) die("cannot read " + file);
  std::string sw_text = *text, header = "[switches." + topo->switches[0].name + "]\n";
  auto at = sw_text.find(header);
  if (at == std::string::npos) die(file + ": no line " + header);
  sw_text.insert(at + header.size(),
                 "socket = \"" + peer + "/switch-" + topo->switches[0].name + "\"\n");
  std::string switch_file = dir + "/switch.toml";
  std::ofstream(switch_file) << sw_text;
  std::string prefix = "vbl3-" + std::to_string(::getpid()) + "-";
  std::string script = dir + "/lab.sh";
  std::ofstream(script) << lab_script(*topo, lab, vnet, peer, switch_file, prefix);

  // After a peer run, should the script have left anything (it kills its own on exit):
  // every process whose command line names this bench's folder (its QEMUs, switch,
  // socats; found by pid in /proc), and its namespaces.
  auto peer_leftovers = [&] {
    std::error_code ec;
    for (const auto& e : fs::directory_iterator("/proc", ec)) {
      std::string n = e.path().filename();
      if (n.find_first_not_of("0123456789") != std::string::npos) continue;
      auto cmd = vnet::vmrun::read_file(e.path().string() + "/cmdline");
      if (cmd && cmd->find(dir) != std::string::npos && std::stoi(n) != ::getpid())
        bench::stop_pid(std::stoi(n));
    }
    delete_netns(prefix);
  };

  std::string load_before = bench::loadavg();
  std::vector<double> tv, ts;
  auto vnet_once = [&](int i) {
    double secs = 0;
    std::string log = dir + "/vnet-" + std::to_string(i) + ".log";
    pid_t pid = 0;
    int rc = run_timed({vnet, "scenario", "run", file}, log, secs, &pid);
    // Killed at the limit: its QEMUs (own sessions), switch and namespaces are left.
    if (rc == 124) teardown_kept(std::string(kRecordDir) + "/vsc-" + std::to_string(pid) + "-0-");
    if (rc != 0) std::printf("  run %d: vnet exited %d (%s)\n", i, rc, log.c_str());
    else tv.push_back(secs);
  };
  auto script_once = [&](int i) {
    double secs = 0;
    std::string log = dir + "/script-" + std::to_string(i) + ".log";
    int rc = run_timed({"/bin/bash", script}, log, secs);
    peer_leftovers();
    if (rc != 0) std::printf("  run %d: the script exited %d (%s)\n", i, rc, log.c_str());
    else ts.push_back(secs);
  };
  script_once(0);  // the script's warm-up (its first switch and QEMU execs)
  if (ts.empty()) die("the script's warm-up failed: " + dir + "/script-0.log");
  ts.clear();
  for (int i = 1; i <= runs; ++i) {
    if (i % 2) vnet_once(i), script_once(i);
    else script_once(i), vnet_once(i);
    std::printf("  run %d: vnet %s s, script %s s, load %s\n", i,
                tv.size() == size_t(i) ? std::to_string(tv.back()).substr(0, 6).c_str() : "-",
                ts.size() == size_t(i) ? std::to_string(ts.back()).substr(0, 6).c_str() : "-",
                bench::loadavg().c_str());
    std::fflush(stdout);
  }
  if (tv.empty() || ts.empty()) die("no successful run on one side; logs in " + dir);
  double mv = bench::median(tv), ms = bench::median(ts);
  std::printf("%s to all checks answered, exec to exit: %zu/%d vnet runs and %zu/%d script runs "
              "passed, medians; %u cores, load %s before, %s after\n",
              topo->scenario->name.c_str(), tv.size(), runs, ts.size(), runs,
              std::thread::hardware_concurrency(), load_before.c_str(), bench::loadavg().c_str());
  std::printf("  vnet scenario run   %.2f s (min %.2f, max %.2f)\n", mv, bench::min_of(tv),
              bench::max_of(tv));
  std::printf("  bash script peer    %.2f s (min %.2f, max %.2f)\n", ms, bench::min_of(ts),
              bench::max_of(ts));
  std::printf("ratio vnet/script %.2f (target <= 1.10)\n", mv / ms);
  std::printf("the script: ip netns/veths, `vnet switch`, the same QEMU argv, initramfs and seed "
              "ISOs (copied, not built), ready from the console log, the same pings over the "
              "consoles (socat) and from the namespaces; it does not parse the file, probe "
              "kernel features, build the initramfs, write seed ISOs or keys, wait for each VM's "
              "QMP, ping for readiness, or keep records\n");
  if (keep_files) std::printf("files kept in %s\n", dir.c_str());
  else vnet::vmrun::remove_tree(dir);
  return 0;
}
