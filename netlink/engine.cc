#include "netlink/engine.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "netlink/executor.h"
#include "netlink/kernel.h"
#include "netlink/netns.h"
#include "netlink/snapshot.h"
#include "plan/format.h"

namespace vnet::netlink {
namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

std::string sanitize(std::string s) {
  for (char& c : s)
    if (c == '/' || c == '\0') c = '_';
  return s;
}

// /run/vnet/netns/<host>[@target][%prefix]: the namespaces vnet created, one per line as
// "NAME<TAB>DEV<TAB>INO" (their identity, netns.h), or "NAME" while one is being created.
// A namespace is vnet's only while its identity matches: one deleted and made again by
// someone else under the same name is not (and never deleted by destroy).
class Record {
 public:
  Record(const EngineOptions& o, const std::string& host) {
    std::string key = sanitize(host);
    if (!o.target_netns.empty()) key += "@" + sanitize(o.target_netns);
    if (!o.netns_prefix.empty()) key += "%" + sanitize(o.netns_prefix);
    dir_ = o.run_dir + "/netns";
    path_ = dir_ + "/" + key;
    std::ifstream in(path_);
    std::string line;
    while (std::getline(in, line)) {
      if (line.empty()) continue;
      size_t t1 = line.find('\t'), t2 = line.find('\t', t1 == std::string::npos ? t1 : t1 + 1);
      std::optional<NetnsId> id;
      if (t2 != std::string::npos) {
        try {
          id = NetnsId{std::stoull(line.substr(t1 + 1, t2 - t1 - 1)), std::stoull(line.substr(t2 + 1))};
        } catch (const std::exception&) {
        }
      }
      entries_[line.substr(0, t1)] = id;
    }
  }
  // The recorded namespaces that still are the ones vnet created; the others leave the
  // record, with a note for each that exists under its name but is not vnet's any more.
  const RealKernel* kernel = nullptr;  // maps logical names to kernel names

  std::set<std::string> owned(std::vector<std::string>* notes) {
    std::set<std::string> out;
    bool changed = false;
    for (auto it = entries_.begin(); it != entries_.end();) {
      std::optional<NetnsId> now = netns_id(kernel->kernel_name(it->first));
      if (now && it->second && *now == *it->second) {
        out.insert(it->first);
        ++it;
        continue;
      }
      if (now && notes)
        notes->push_back("netns " + it->first + " is not the namespace vnet created under that name " +
                         (it->second ? "(it was deleted and made again)" : "(its creation was cut short)") +
                         ": no longer treated as vnet's");
      it = entries_.erase(it);
      changed = true;
    }
    if (changed) save();
    return out;
  }
  bool owns(const std::string& ns) const {
    auto it = entries_.find(ns);
    return it != entries_.end() && it->second && netns_id(kernel->kernel_name(ns)) == it->second;
  }
  void update(const std::string& ns, RealKernelOptions::NetnsEvent ev) {
    using Ev = RealKernelOptions::NetnsEvent;
    if (ev == Ev::kGone) entries_.erase(ns);
    else entries_[ns] = ev == Ev::kCreated ? netns_id(kernel->kernel_name(ns)) : std::nullopt;
    save();
  }

 private:
  void save() {
    mkdir(dir_.c_str(), 0755);
    if (entries_.empty()) {
      unlink(path_.c_str());
      return;
    }
    std::string tmp = path_ + ".tmp";
    {
      std::ofstream out(tmp, std::ios::trunc);
      for (const auto& [name, id] : entries_) {
        out << name;
        if (id) out << '\t' << id->dev << '\t' << id->ino;
        out << "\n";
      }
    }
    rename(tmp.c_str(), path_.c_str());
  }
  std::string dir_, path_;
  std::map<std::string, std::optional<NetnsId>> entries_;
};

class Lock {
 public:
  // Only if no other vnet holds it: nothing to wait for, nothing to interrupt.
  static std::optional<Lock> try_take(const std::string& run_dir) {
    mkdir(run_dir.c_str(), 0755);
    std::string path = run_dir + "/lock";
    Lock l;
    l.fd_.reset(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
    if (l.fd_.get() < 0 || flock(l.fd_.get(), LOCK_EX | LOCK_NB) != 0) return std::nullopt;
    return l;
  }

  static Result<Lock> take(const std::string& run_dir, const std::function<int()>& interrupted) {
    mkdir(run_dir.c_str(), 0755);
    std::string path = run_dir + "/lock";
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return fail_errno("open lock " + path);
    Lock l;
    l.fd_.reset(fd);
    // polled, so that a stop signal (held pending by the caller) ends the wait
    while (flock(fd, LOCK_EX | LOCK_NB) != 0) {
      if (errno != EWOULDBLOCK && errno != EINTR) return fail_errno("lock " + path);
      if (int sig = interrupted ? interrupted() : 0)
        return fail(std::string("interrupted by SIG") + sigabbrev_np(sig) +
                    " while waiting for another vnet (" + path + "); nothing was changed");
      usleep(20 * 1000);
    }
    return l;
  }

 private:
  UniqueFd fd_;  // closing releases the lock
};

struct Session {
  std::unique_ptr<Record> record;
  std::unique_ptr<RealKernel> kernel;
  std::vector<std::string> namespaces;
  std::vector<std::string> notes;    // about the record, for the plan
};

Result<Session> open_session(const topology::Topology& topo, const EngineOptions& o) {
  if (!o.target_netns.empty() && !netlink::netns_exists(o.target_netns)) {
    Error e;
    e.what = "target namespace '" + o.target_netns + "' does not exist (" +
             netns_path(o.target_netns) + ")";
    e.err = ENOENT;
    e.exit = ExitCode::kEnvironment;
    return tl::unexpected(e);
  }
  Session s;
  s.record = std::make_unique<Record>(o, topo.host_name);
  RealKernelOptions ko;
  ko.target_netns = o.target_netns;
  ko.netns_prefix = o.netns_prefix;
  Record* rec = s.record.get();
  ko.on_netns = [rec](const std::string& ns, RealKernelOptions::NetnsEvent ev) { rec->update(ns, ev); };
  ko.owns_netns = [rec](const std::string& ns) { return rec->owns(ns); };
  s.kernel = std::make_unique<RealKernel>(ko);
  rec->kernel = s.kernel.get();
  return s;
}

class PrefetchImpl : public Prefetch {
 public:
  explicit PrefetchImpl(const EngineOptions& o) {
    RealKernelOptions ko;
    ko.target_netns = o.target_netns;
    // the thread only reads: stop signals stay with the caller (hold_stop_signals)
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    thread_ = std::thread([this, o, ko] {
      if (!o.target_netns.empty() && !netns_exists(o.target_netns)) return;
      auto l = Lock::try_take(o.run_dir);
      if (!l) return;
      lock = std::move(*l);
      RealKernel kernel(ko);
      if (auto t = kernel.transport("")) {
        if (auto st = read_netns(**t, false)) target = std::move(*st);
      }
    });
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
  }
  ~PrefetchImpl() override { join(); }
  void join() {
    if (thread_.joinable()) thread_.join();
  }
  std::optional<Lock> lock;
  std::optional<plan::NetnsState> target;  // read under `lock`

 private:
  std::thread thread_;
};

Result<plan::Snapshot> snapshot(Session& s, const topology::Topology& topo,
                                std::optional<plan::NetnsState> target = std::nullopt) {
  plan::Snapshot tmp;
  tmp.created_netns = s.record->owned(&s.notes);
  s.namespaces = plan::involved_netns(topo, &tmp);
  std::set<std::string> vlan_netns;
  for (const topology::Bridge& b : topo.bridges)
    if (b.vlan_filtering()) vlan_netns.insert(b.netns == topology::kHostNetns ? "" : b.netns);
  auto snap = read_snapshot(*s.kernel, s.namespaces, &vlan_netns, std::move(target));
  if (!snap) return snap;
  snap->created_netns = tmp.created_netns;
  return snap;
}

Error refusal_error(const plan::Plan& p) {
  Error e;
  e.exit = ExitCode::kFailed;
  for (const Error& r : p.refusals) {
    if (!e.what.empty()) e.what += "\n";
    e.what += (r.loc && r.loc->known() ? r.loc->str() + ": " : std::string()) + r.what;
  }
  if (!p.refusals.empty() && p.refusals[0].loc) e.loc = p.refusals[0].loc;
  return e;
}

// RUN_DIR/pending: "PID<TAB>DEADLINE<TAB>HOST" (deadline in seconds since the epoch) while
// a keeper waits; RUN_DIR/pending.result: what the last keeper did.
std::string pending_path(const std::string& run_dir) { return run_dir + "/pending"; }
std::string result_path(const std::string& run_dir) { return run_dir + "/pending.result"; }

double epoch_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

void write_result(const std::string& run_dir, const std::string& text) {
  std::string tmp = result_path(run_dir) + ".tmp";
  std::ofstream(tmp, std::ios::trunc) << text << "\n";
  rename(tmp.c_str(), result_path(run_dir).c_str());
}

// The keeper of an apply --confirm: waits for SIGUSR1 (keep) or SIGUSR2 (roll back now)
// until the deadline, then rolls back what `ops` did (under the lock) unless kept.
[[noreturn]] void keep_pending(const EngineOptions& o, const std::vector<plan::Op>& ops,
                               const ExecStats& done, Kernel& kernel, double deadline) {
  sigset_t set;
  sigemptyset(&set);
  for (int sig : {SIGUSR1, SIGUSR2, SIGTERM, SIGINT, SIGHUP}) sigaddset(&set, sig);
  sigprocmask(SIG_BLOCK, &set, nullptr);
  bool kept = false;
  std::string why = "the time ran out";
  for (;;) {
    double left = deadline - epoch_now();
    if (left <= 0) break;
    timespec ts{static_cast<time_t>(left), static_cast<long>((left - static_cast<time_t>(left)) * 1e9)};
    int sig = sigtimedwait(&set, nullptr, &ts);
    if (sig == SIGUSR1) {
      kept = true;
      break;
    }
    // a shutdown (SIGTERM) leaves the host as it was before the unconfirmed change
    if (sig == SIGUSR2 || sig == SIGTERM) {
      why = sig == SIGUSR2 ? "cancelled" : "stopped by SIGTERM";
      break;
    }
  }
  if (kept) {
    write_result(o.run_dir, "kept");
  } else {
    auto lock = Lock::take(o.run_dir, nullptr);
    std::vector<Error> errors = roll_back(ops, done, kernel);
    std::string text = "rolled back (" + why + ")";
    for (const Error& e : errors) text += "\n  undo failed: " + e.str();
    write_result(o.run_dir, text);
  }
  unlink(pending_path(o.run_dir).c_str());
  _exit(0);
}

// Forks the keeper, detached: a session of its own, no terminal, stdio on /dev/null.
// `held`: the apply's lock, which the keeper must not keep (a copy of its descriptor
// would hold the lock for as long as the keeper waits).
Result<int> start_keeper(const EngineOptions& o, const std::string& host, const std::vector<plan::Op>& ops,
                         const ExecStats& done, Kernel& kernel, std::optional<Lock>& held) {
  double deadline = epoch_now() + *o.confirm_seconds;
  unlink(result_path(o.run_dir).c_str());
  int pipefd[2];
  if (pipe2(pipefd, O_CLOEXEC) != 0) return fail_errno("pipe");
  pid_t mid = fork();
  if (mid < 0) return fail_errno("fork the keeper of the pending change");
  if (mid == 0) {
    setsid();
    pid_t keeper = fork();
    if (keeper != 0) _exit(keeper > 0 ? 0 : 1);
    close(pipefd[0]);
    held.reset();
    int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
    for (int fd : {0, 1, 2}) dup2(null, fd);
    if (chdir("/") != 0) _exit(1);
    {
      std::ofstream out(pending_path(o.run_dir) + ".tmp", std::ios::trunc);
      char line[64];
      snprintf(line, sizeof line, "%d\t%.3f\t", static_cast<int>(getpid()), deadline);
      out << line << host << "\n";
    }
    rename((pending_path(o.run_dir) + ".tmp").c_str(), pending_path(o.run_dir).c_str());
    int pid = getpid();
    (void)!::write(pipefd[1], &pid, sizeof pid);  // the pending file is in place
    close(pipefd[1]);
    keep_pending(o, ops, done, kernel, deadline);
  }
  close(pipefd[1]);
  int status = 0;
  waitpid(mid, &status, 0);
  int pid = 0;
  ssize_t n = ::read(pipefd[0], &pid, sizeof pid);
  close(pipefd[0]);
  if (n != sizeof pid) return fail("the keeper of the pending change did not start");
  return pid;
}

bool alive(int pid) { return pid > 0 && (kill(pid, 0) == 0 || errno == EPERM); }

Result<ApplyReport> run(const topology::Topology& topo, const EngineOptions& o, bool destroy) {
  auto t0 = Clock::now();
  std::optional<Lock> held;
  std::optional<plan::NetnsState> target;
  if (auto* pre = static_cast<PrefetchImpl*>(o.prefetch)) {
    pre->join();
    held = std::move(pre->lock);
    if (held) target = std::move(pre->target);
  }
  auto progress = [&](const char* phase, size_t done = 0, size_t total = 0) {
    if (o.progress) o.progress(phase, done, total);
  };
  if (!held) {
    progress("wait for the lock");
    auto lock = Lock::take(o.run_dir, o.interrupted);
    if (!lock) return tl::unexpected(lock.error());
    held = std::move(*lock);
  }
  ApplyReport rep;
  rep.lock_seconds = since(t0);
  if (auto p = pending(o.run_dir)) {
    char left[32];
    snprintf(left, sizeof left, "%.0f", p->seconds_left);
    return fail("a change to host " + p->host + " applied with --confirm waits for confirmation (rolled back in " +
                left + " s): `vnet confirm` keeps it, `vnet confirm --cancel` rolls it back now; then try again");
  }
  auto s = open_session(topo, o);
  if (!s) return tl::unexpected(s.error());
  auto t = Clock::now();
  progress("read");
  auto snap = snapshot(*s, topo, std::move(target));
  if (!snap) return tl::unexpected(snap.error());
  rep.read_seconds = since(t);
  t = Clock::now();
  progress("plan");
  plan::PlanOptions po;
  po.destroy = destroy;
  rep.plan = plan::make_plan(topo, *snap, po);
  for (const std::string& n : s->notes) rep.plan.notes.push_back(n);
  rep.plan_seconds = since(t);
  if (!rep.plan.refusals.empty()) return tl::unexpected(refusal_error(rep.plan));
  if (rep.plan.ops.empty()) {
    rep.seconds = since(t0);
    return rep;
  }
  t = Clock::now();
  ExecOptions eo;
  eo.fail_at = o.fail_at_step;
  eo.interrupted = o.interrupted;
  eo.on_step = [&](size_t done, size_t total) { progress("execute", done, total); };
  auto ex = execute(rep.plan.ops, *s->kernel, eo);
  rep.exec_seconds = since(t);
  if (!ex) {
    Error e = ex.error().error;
    const plan::Op& bad = rep.plan.ops[ex.error().failed_op];
    if (e.err == EINTR) {
      e.what = ex.error().error.kernel_msg + " after " + std::to_string(ex.error().failed_op) + " of " +
               std::to_string(rep.plan.ops.size()) + " steps; everything done was rolled back";
      e.kernel_msg.clear();
      e.err = 0;
      e.loc.reset();
    } else if (e.err == EOPNOTSUPP) {
      std::string feat = missing_feature(bad);
      e.exit = ExitCode::kEnvironment;
      e.what += "; this kernel lacks " + (feat.empty() ? std::string("a feature it needs") : feat) +
                " (rolled back; run it under a kernel that has it, e.g. `vnet vm-run -- vnet apply FILE`)";
    } else {
      e.what += " (rolled back)";
    }
    for (const Error& u : ex.error().stats.undo_errors) e.what += "\n  " + u.str();
    return tl::unexpected(e);
  }
  rep.requests = ex->requests;
  rep.sendmsgs = ex->sendmsgs;
  if (o.verify) {
    if (o.before_verify) o.before_verify();
    t = Clock::now();
    progress("verify");
    auto again = snapshot(*s, topo);
    if (!again) {
      (void)roll_back(rep.plan.ops, *ex, *s->kernel);  // unverifiable is not done
      return tl::unexpected(again.error().context("verify (rolled back)"));
    }
    plan::Plan left = plan::make_plan(topo, *again, po);
    rep.verify_seconds = since(t);
    if (!left.ops.empty() || !left.refusals.empty()) {
      progress("roll back");
      // All-or-nothing includes verify: the kernel took the requests but not all they
      // asked for, or another process changed the links in between.
      std::vector<Error> undo_errors = roll_back(rep.plan.ops, *ex, *s->kernel);
      Error e;
      e.exit = ExitCode::kFailed;
      std::string objects;
      for (const plan::Op& op : left.ops)
        if (objects.find(op.object) == std::string::npos)
          objects += (objects.empty() ? "" : ", ") + op.object;
      e.what = "verify: " + (objects.empty() ? std::string("the kernel") : objects) +
               " not as declared after apply (the kernel accepted the requests without doing"
               " all they asked, or another process changed them); rolled back. What differed:\n" + plan::plan_text(left);
      if (!left.ops.empty() && left.ops[0].loc.known()) e.loc = left.ops[0].loc;
      for (const Error& u : undo_errors) e.what += "  " + u.str() + "\n";
      if (!e.what.empty() && e.what.back() == '\n') e.what.pop_back();
      return tl::unexpected(e);
    }
  }
  if (o.confirm_seconds && !destroy) {
    auto keeper = start_keeper(o, topo.host_name, rep.plan.ops, *ex, *s->kernel, held);
    if (!keeper) {
      (void)roll_back(rep.plan.ops, *ex, *s->kernel);  // unconfirmable is not applied
      return tl::unexpected(keeper.error().context("apply --confirm (rolled back)"));
    }
    rep.confirm_pid = *keeper;
  }
  rep.seconds = since(t0);
  return rep;
}

}  // namespace

std::string missing_feature(const plan::Op& op) {
  using plan::OpKind;
  if (op.kind == OpKind::kCreateLink) {
    for (const auto& [attr, value] : op.spec.info)
      if (attr->feature && value.number) return attr->feature;
    if (op.spec.desc && *op.spec.desc->feature) return op.spec.desc->feature;
    return "link kind \"" + op.spec.kind + "\"";
  }
  if (op.kind == OpKind::kSetVlans) return "bridge VLAN filtering (CONFIG_BRIDGE_VLAN_FILTERING)";
  if (op.kind == OpKind::kSetLink)
    for (const auto& [attr, value] : op.info)
      if (const char* f = op.desc->feature_of(*attr)) return f;
  return "";
}

Result<plan::Snapshot> read_live(const EngineOptions& o) {
  if (!o.target_netns.empty() && !netns_exists(o.target_netns)) {
    Error e;
    e.what = "namespace '" + o.target_netns + "' does not exist (" + netns_path(o.target_netns) + ")";
    e.exit = ExitCode::kEnvironment;
    return tl::unexpected(e);
  }
  std::vector<std::string> namespaces = {""};
  std::error_code ec;
  std::vector<std::string> named;
  for (const auto& entry : std::filesystem::directory_iterator("/run/netns", ec)) {
    std::string name = entry.path().filename();
    if (name != o.target_netns && name != topology::kHostNetns) named.push_back(name);
  }
  std::sort(named.begin(), named.end());
  namespaces.insert(namespaces.end(), named.begin(), named.end());
  RealKernelOptions ko;
  ko.target_netns = o.target_netns;
  RealKernel kernel(ko);
  return read_snapshot(kernel, namespaces);
}

std::optional<Pending> pending(const std::string& run_dir) {
  std::ifstream in(pending_path(run_dir));
  Pending p;
  double deadline = 0;
  if (!(in >> p.pid >> deadline)) return std::nullopt;
  in.get();
  std::getline(in, p.host);
  if (!alive(p.pid)) return std::nullopt;  // a keeper killed with SIGKILL: nothing waits
  p.seconds_left = std::max(0.0, deadline - epoch_now());
  return p;
}

Result<std::string> confirm(bool cancel, const std::string& run_dir) {
  auto p = pending(run_dir);
  if (!p) {
    Error e;
    e.what = "no change applied with --confirm is waiting";
    std::ifstream last(result_path(run_dir));
    std::string line;
    if (std::getline(last, line)) e.what += " (the last one: " + line + ")";
    return tl::unexpected(e);
  }
  if (kill(p->pid, cancel ? SIGUSR2 : SIGUSR1) != 0) return fail_errno("signal the keeper (pid " + std::to_string(p->pid) + ")");
  // The keeper writes its result, then removes the pending file (and exits; where init
  // does not reap orphans it may stay a zombie, so its pid is no sign). Bounded: a
  // rollback is a few batches of requests.
  for (int i = 0; i < 3000 && alive(p->pid) && access(pending_path(run_dir).c_str(), F_OK) == 0; ++i)
    usleep(10 * 1000);
  std::ifstream in(result_path(run_dir));
  std::stringstream text;
  text << in.rdbuf();
  std::string r = text.str();
  while (!r.empty() && r.back() == '\n') r.pop_back();
  if (r.empty()) return fail("the keeper (pid " + std::to_string(p->pid) + ") did not say what it did");
  return r;
}

std::unique_ptr<Prefetch> Prefetch::start(const EngineOptions& o) {
  return std::make_unique<PrefetchImpl>(o);
}

Result<ApplyReport> apply(const topology::Topology& topo, const EngineOptions& o) {
  return run(topo, o, false);
}

Result<ApplyReport> destroy(const topology::Topology& topo, const EngineOptions& o) {
  return run(topo, o, true);
}

Result<ApplyReport> plan(const topology::Topology& topo, const EngineOptions& o, bool for_destroy) {
  auto t0 = Clock::now();
  auto s = open_session(topo, o);
  if (!s) return tl::unexpected(s.error());
  if (o.progress) o.progress("read", 0, 0);
  auto snap = snapshot(*s, topo);
  if (!snap) return tl::unexpected(snap.error());
  ApplyReport rep;
  rep.read_seconds = since(t0);
  if (o.progress) o.progress("plan", 0, 0);
  plan::PlanOptions po;
  po.destroy = for_destroy;
  rep.plan = plan::make_plan(topo, *snap, po);
  for (const std::string& n : s->notes) rep.plan.notes.push_back(n);
  rep.snapshot = std::move(*snap);
  rep.seconds = since(t0);
  return rep;
}

}  // namespace vnet::netlink
