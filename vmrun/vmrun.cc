#include "vmrun/vmrun.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <functional>

#include "base/unique_fd.h"
#include "vmrun/command.h"
#include "vmrun/initramfs.h"
#include "vmrun/sys.h"

extern char** environ;

namespace vnet::vmrun {
namespace {

using Clock = std::chrono::steady_clock;


// A private scratch folder for one run (initramfs, console log, control share);
// removed with everything in it.
class RunDir {
 public:
  static Result<RunDir> make() {
    const char* t = std::getenv("TMPDIR");
    std::string tmpl = std::string(t && *t ? t : "/tmp") + "/vnet-vm-XXXXXX";
    if (!::mkdtemp(tmpl.data())) return fail_errno("cannot create a scratch folder " + tmpl);
    return RunDir(tmpl);
  }
  RunDir(RunDir&& o) noexcept : keep(o.keep), path_(std::exchange(o.path_, {})) {}
  RunDir& operator=(RunDir&&) = delete;
  ~RunDir() {
    if (!path_.empty() && !keep) (void)remove_tree(path_);
  }
  bool keep = false;

  const std::string& path() const { return path_; }

 private:
  explicit RunDir(std::string p) : path_(std::move(p)) {}
  std::string path_;
};

// Blocks SIGINT, SIGTERM and SIGHUP in this thread for its lifetime and delivers them
// through a signalfd instead; the previous mask is restored afterwards.
class SignalGuard {
 public:
  SignalGuard() {
    sigemptyset(&set_);
    sigaddset(&set_, SIGINT);
    sigaddset(&set_, SIGTERM);
    sigaddset(&set_, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set_, &old_);
    fd_.reset(::signalfd(-1, &set_, SFD_CLOEXEC | SFD_NONBLOCK));
  }
  ~SignalGuard() { pthread_sigmask(SIG_SETMASK, &old_, nullptr); }
  int fd() const { return fd_.get(); }
  const sigset_t& old_mask() const { return old_; }
  // The signal that arrived, or 0.
  int take() const {
    signalfd_siginfo si{};
    if (fd_ && ::read(fd_.get(), &si, sizeof si) == sizeof si) return int(si.ssi_signo);
    return 0;
  }

 private:
  sigset_t set_{}, old_{};
  UniqueFd fd_;
};

// A running QEMU, killed (SIGKILL) and reaped when dropped unless already waited for.
class Child {
 public:
  Child() = default;
  explicit Child(pid_t pid) : pid_(pid) {}
  Child(Child&& o) noexcept : pid_(std::exchange(o.pid_, -1)) {}
  Child& operator=(Child&&) = delete;
  ~Child() { kill(); }
  pid_t pid() const { return pid_; }
  // Status (exit code or 128+signal) once it has exited; nullopt while running.
  std::optional<int> poll() {
    if (pid_ < 0) return status_;
    int st = 0;
    pid_t r = ::waitpid(pid_, &st, WNOHANG);
    if (r != pid_) return std::nullopt;
    pid_ = -1;
    status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    return status_;
  }
  void kill() {
    if (pid_ < 0) return;
    ::kill(pid_, SIGKILL);
    int st = 0;
    while (::waitpid(pid_, &st, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
  }

 private:
  pid_t pid_ = -1;
  std::optional<int> status_;
};

Result<Child> spawn(const std::vector<std::string>& argv, const std::string& log_path,
                    const sigset_t& child_mask) {
  UniqueFd log(::open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!log) return fail_errno("cannot create " + log_path);
  UniqueFd devnull(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) return fail_errno("fork");
  if (pid == 0) {
    // Own process group: a terminal's Ctrl-C reaches vm-run, which stops QEMU itself.
    ::setpgid(0, 0);
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(125);
    ::dup2(devnull.get(), 0);
    ::dup2(log.get(), 1);
    ::dup2(log.get(), 2);
    pthread_sigmask(SIG_SETMASK, &child_mask, nullptr);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  return Child(pid);
}

// Copies what a growing file gains to an fd (CMD's stdout or stderr).
class Pump {
 public:
  Pump(std::string path, int out) : path_(std::move(path)), out_(out) {}
  void run() {
    if (!in_) in_.reset(::open(path_.c_str(), O_RDONLY | O_CLOEXEC));
    if (!in_) return;
    char buf[1 << 16];
    while (true) {
      ssize_t n = ::read(in_.get(), buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return;
      for (ssize_t done = 0; done < n;) {
        ssize_t w = ::write(out_, buf + done, size_t(n - done));
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) break;  // our own stdout is gone; keep draining
        done += w;
      }
    }
  }

 private:
  std::string path_;
  int out_;
  UniqueFd in_;
};

enum class End { kExited, kTimedOut, kSignalled };
struct Waited {
  End end = End::kExited;
  int status = 0;  // QEMU's, when exited
  int signo = 0;
};

Waited wait_for(Child& c, const SignalGuard& sig, std::optional<Clock::time_point> deadline,
                const std::function<void()>& tick) {
  while (true) {
    if (auto st = c.poll()) return {End::kExited, *st, 0};
    if (deadline && Clock::now() >= *deadline) {
      c.kill();
      return {End::kTimedOut, 0, 0};
    }
    pollfd p{sig.fd(), POLLIN, 0};
    if (::poll(&p, sig.fd() >= 0 ? 1 : 0, 50) > 0) {
      if (int s = sig.take()) {
        c.kill();
        return {End::kSignalled, 0, s};
      }
    }
    if (tick) tick();
  }
}

// --systemd: CMD as a oneshot unit that systemd (PID 1) starts as its whole boot
// target and that reboots the guest when it ends, however it ends (QEMU runs with
// -no-reboot, so it exits). No default dependencies: the command starts as soon as
// PID 1 is up; what it starts itself (a transient unit) still pulls in sysinit.target.
constexpr const char* kCommandService = R"([Unit]
Description=vnet vm-run command
DefaultDependencies=no
SuccessAction=reboot-force
FailureAction=reboot-force

[Service]
Type=oneshot
# cmd.sh writes CMD's output and exit status into the control share itself.
ExecStart=/bin/sh /run/vnet-vm/cmd.sh
StandardInput=null
StandardOutput=tty
StandardError=tty
TTYPath=/dev/console
# vm-run --timeout bounds the run, not systemd.
TimeoutStartSec=infinity
)";
constexpr const char* kCommandTarget = R"([Unit]
Description=vnet vm-run
DefaultDependencies=no
Requires=vnet-vm-command.service
After=vnet-vm-command.service
AllowIsolate=yes
)";

std::string tail(const std::string& path, size_t lines) {
  auto text = read_file(path);
  if (!text || text->empty()) return "";
  std::string t = *text;
  while (!t.empty() && (t.back() == '\n' || t.back() == '\r')) t.pop_back();
  size_t pos = t.size();
  for (size_t i = 0; i < lines && pos != std::string::npos && pos > 0; ++i)
    pos = t.rfind('\n', pos - 1);
  std::string out = pos == std::string::npos ? t : t.substr(pos + 1);
  std::string clean;
  for (char ch : out)
    if (ch != '\r') clean += ch;
  return clean;
}

struct Boot {
  std::string qemu, image, initrd, console_log;
  uint64_t memory_mib = 1024;
  int cpus = 2;
  bool kvm = false;
  std::vector<std::pair<std::string, std::string>> shares;  // tag -> "path,opts"
};

std::vector<std::string> qemu_argv(const Boot& b) {
  std::vector<std::string> a = {
      b.qemu, "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
      "-machine", "pc", "-accel", b.kvm ? "kvm" : "tcg", "-m",
      std::to_string(b.memory_mib), "-smp", std::to_string(b.cpus), "-kernel", b.image,
      "-initrd", b.initrd, "-append", "console=ttyS0 quiet panic=-1 i8042.noaux i8042.nokbd",
      "-chardev", "file,id=con,path=" + qemu_escape(b.console_log), "-serial", "chardev:con",
      "-monitor", "none"};
  if (b.kvm) {
    a.push_back("-cpu");
    a.push_back("host");
  }
  for (const auto& [tag, spec] : b.shares) {
    a.push_back("-virtfs");
    a.push_back("local,path=" + spec + ",mount_tag=" + tag +
                ",security_model=none,multidevs=remap");
  }
  return a;
}

// Boots the kernel under KVM with an /init that only reboots; KVM counts as usable
// when QEMU exits cleanly within a few seconds (facts.md: /dev/kvm can exist and answer
// and yet hang or abort QEMU).
bool kvm_works(const KernelImage& k, bool pvh, const std::string& qemu,
               const std::string& dir, const SignalGuard& sig, std::string& why,
               bool& settled) {
  settled = false;
  UniqueFd dev(::open("/dev/kvm", O_RDWR | O_CLOEXEC));
  if (!dev) {
    why = std::string("/dev/kvm: ") + std::strerror(errno);
    return false;
  }
  auto img = build_initramfs(k, {"#!/bin/busybox sh\n/bin/busybox reboot -f\n", {}, {}, ""});
  if (!img || !write_file(dir + "/probe.cpio", *img)) {
    why = "cannot build the probe initramfs";
    return false;
  }
  Boot b{qemu, k.boot_image(pvh), dir + "/probe.cpio", dir + "/probe-console.log", 256, 1,
         true, {}};
  auto child = spawn(qemu_argv(b), dir + "/probe-qemu.log", sig.old_mask());
  if (!child) {
    why = child.error().str();
    return false;
  }
  auto t0 = Clock::now();
  Waited w = wait_for(*child, sig, t0 + std::chrono::seconds(3), {});
  settled = w.end == End::kExited || w.end == End::kTimedOut;
  if (w.end == End::kExited && w.status == 0) return true;
  why = w.end == End::kTimedOut ? "a KVM probe boot did not finish in 3 s"
        : w.end == End::kExited
            ? "a KVM probe boot failed: " + tail(dir + "/probe-qemu.log", 2)
            : "interrupted";
  return false;
}

}  // namespace

KvmProbe probe_kvm(const KernelImage& k, const std::string& qemu, bool pvh) {
  KvmProbe p;
  auto dir = RunDir::make();
  if (!dir) {
    p.why = dir.error().str();
    return p;
  }
  SignalGuard sig;
  p.works = kvm_works(k, pvh, qemu, dir->path(), sig, p.why, p.settled);
  return p;
}

Result<uint64_t> parse_memory(const std::string& text) {
  if (text.empty()) return fail("empty memory size", 0, ExitCode::kBadInput);
  size_t used = 0;
  unsigned long long n = 0;
  try {
    n = std::stoull(text, &used);
  } catch (...) {
    return fail("bad memory size '" + text + "' (e.g. 512M, 1G)", 0, ExitCode::kBadInput);
  }
  std::string unit = text.substr(used);
  uint64_t mib = 0;
  if (unit.empty() || unit == "M" || unit == "m" || unit == "MiB" || unit == "MB")
    mib = n;
  else if (unit == "G" || unit == "g" || unit == "GiB" || unit == "GB")
    mib = n * 1024;
  else
    return fail("bad memory size '" + text + "' (e.g. 512M, 1G)", 0, ExitCode::kBadInput);
  if (mib < 128) return fail("memory " + text + " is too small (at least 128M)", 0,
                             ExitCode::kBadInput);
  return mib;
}

Result<int> run(const Options& o) {
  auto say = [&](const std::string& s) {
    if (o.log) o.log(s);
  };
  if (o.argv.empty()) return fail("no command given", 0, ExitCode::kBadInput);
  auto t_start = Clock::now();
  std::string qemu = find_program("qemu-system-x86_64");
  if (qemu.empty())
    return fail("qemu-system-x86_64 not found (install the Debian package qemu-system-x86)",
                ENOENT, ExitCode::kEnvironment);

  KernelOptions ko{o.cache_dir, o.log};
  auto kernel = ensure_kernel(o.kernel, ko);
  if (!kernel) return tl::unexpected(kernel.error().context("kernel"));
  say("kernel " + kernel->release + " from " + kernel->dir + " (" + seconds_since(t_start) + ")");

  std::string cwd = o.cwd;
  if (cwd.empty()) {
    char buf[4096];
    if (!::getcwd(buf, sizeof buf)) return fail_errno("cannot read the working directory");
    cwd = buf;
  }
  std::vector<std::string> env;
  if (o.env) {
    env = *o.env;
  } else {
    for (char** e = environ; e && *e; ++e) env.emplace_back(*e);
  }

  auto dir = RunDir::make();
  if (!dir) return tl::unexpected(dir.error());
  dir->keep = o.keep_scratch;
  if (o.keep_scratch) say("scratch folder (kept): " + dir->path());
  std::string ctl = dir->path() + "/ctl";
  if (auto s = mkdir_p(ctl, 0755); !s) return tl::unexpected(s.error());

  SignalGuard sig;
  bool kvm = false;
  if (o.accel != Accel::kTcg) {
    std::string why;
    bool settled = false;
    kvm = kvm_works(*kernel, o.pvh, qemu, dir->path(), sig, why, settled);
    if (!kvm && o.accel == Accel::kKvm)
      return fail("KVM requested but not usable: " + why, 0, ExitCode::kEnvironment);
    say(kvm ? "accelerator: KVM (a probe boot passed)" : "accelerator: TCG (" + why + ")");
  } else {
    say("accelerator: TCG (as asked)");
  }

  auto t0 = Clock::now();
  auto img = build_initramfs(*kernel, {vm_run_init(), boot_modules(), {}, ""});
  if (!img) return tl::unexpected(img.error().context("initramfs"));
  std::string initrd = dir->path() + "/initramfs.cpio";
  if (auto s = write_file(initrd, *img); !s) return tl::unexpected(s.error());
  say("initramfs: " + std::to_string(img->size() >> 10) + " KiB in " + seconds_since(t0));

  // Writable shares at their own paths: the working directory and --share folders,
  // shortest first so a nested one is mounted over its parent.
  std::vector<std::string> rw;
  if (cwd != "/") rw.push_back(cwd);
  for (const auto& sh : o.shares) {
    char* real = ::realpath(sh.c_str(), nullptr);
    if (!real || !is_dir(real)) {
      std::free(real);
      return fail("--share " + sh + ": not a folder", 0, ExitCode::kBadInput);
    }
    std::string r = real;
    std::free(real);
    if (r != "/" && std::find(rw.begin(), rw.end(), r) == rw.end()) rw.push_back(r);
  }
  std::stable_sort(rw.begin(), rw.end(),
                   [](const std::string& a, const std::string& b) { return a.size() < b.size(); });
  const std::string guest_ctl = "/run/vnet-vm";
  std::string vars = "VNET_SHARES=" + std::to_string(rw.size()) + "\n";
  for (size_t i = 0; i < rw.size(); ++i)
    vars += "VNET_SHARE" + std::to_string(i) + "=" + shell_quote(rw[i]) + "\n";
  bool have_mods = is_dir(kernel->modules_dir());
  vars += "VNET_MODREL=" + shell_quote(have_mods ? kernel->release : "") + "\n";
  if (o.systemd) {
    if (!exists("/lib/systemd/systemd"))
      return fail("--systemd: /lib/systemd/systemd not found (install the Debian package systemd)",
                  ENOENT, ExitCode::kEnvironment);
    vars += "VNET_SYSTEMD=1\n";
    if (auto s = mkdir_p(ctl + "/systemd", 0755); !s) return tl::unexpected(s.error());
    for (const auto& [name, data] :
         {std::pair<std::string, std::string>{"vnet-vm-command.service", kCommandService},
          {"vnet-vm.target", kCommandTarget}})
      if (auto s = write_file(ctl + "/systemd/" + name, data, 0644); !s)
        return tl::unexpected(s.error());
  }
  for (const auto& [name, data] :
       {std::pair<std::string, std::string>{"vars.sh", vars},
        {"cmd.sh", command_script({o.argv, env, cwd}, guest_ctl)},
        {"stdout", ""},
        {"stderr", ""}})
    if (auto s = write_file(ctl + "/" + name, data, 0644); !s) return tl::unexpected(s.error());

  Boot b{qemu, kernel->boot_image(o.pvh), initrd, dir->path() + "/console.log", o.memory_mib,
         o.cpus, kvm, {}};
  b.shares.emplace_back("host", "/,readonly=on");
  b.shares.emplace_back("vnetctl", qemu_escape(ctl));
  for (size_t i = 0; i < rw.size(); ++i)
    b.shares.emplace_back("wd" + std::to_string(i), qemu_escape(rw[i]));
  if (have_mods)
    b.shares.emplace_back("vnetmod", qemu_escape(kernel->modules_dir()) + ",readonly=on");
  say(std::string("booting ") + (b.image == kernel->vmlinux ? "the PVH vmlinux" : "the bzImage") +
      " with " + std::to_string(o.memory_mib) + " MiB, " + std::to_string(o.cpus) + " CPUs");
  if (o.log) {
    std::string line;
    for (const auto& a : qemu_argv(b)) line += (line.empty() ? "" : " ") + shell_quote(a);
    say("qemu: " + line);
  }

  t0 = Clock::now();
  auto child = spawn(qemu_argv(b), dir->path() + "/qemu.log", sig.old_mask());
  if (!child) return tl::unexpected(child.error());
  Pump out(ctl + "/stdout", o.stdout_fd), err(ctl + "/stderr", o.stderr_fd);
  std::optional<Clock::time_point> deadline;
  if (o.timeout_s > 0) deadline = t_start + std::chrono::seconds(o.timeout_s);
  Waited w = wait_for(*child, sig, deadline, [&] {
    out.run();
    err.run();
  });
  out.run();
  err.run();
  say("guest ran for " + seconds_since(t0) + "; whole run " + seconds_since(t_start));

  std::string console = tail(b.console_log, 15);
  auto with_console = [&](std::string what) {
    if (!console.empty()) what += "\nlast lines of the guest console:\n" + console;
    return fail(what);
  };
  if (w.end == End::kTimedOut)
    return with_console("timed out after " + std::to_string(o.timeout_s) + " s; QEMU killed");
  if (w.end == End::kSignalled)
    return fail(std::string("interrupted by ") + ::sigabbrev_np(w.signo) + "; QEMU stopped");
  if (auto e = read_file(ctl + "/error"); e && !e->empty()) {
    std::string msg = *e;
    while (!msg.empty() && msg.back() == '\n') msg.pop_back();
    return with_console("guest setup failed: " + msg);
  }
  auto status = read_file(ctl + "/status");
  if (!status || status->empty()) {
    std::string q = tail(dir->path() + "/qemu.log", 5);
    if (w.status != 0)
      return with_console("qemu-system-x86_64 exited " + std::to_string(w.status) +
                          (q.empty() ? "" : ": " + q));
    return with_console("the guest stopped without reporting the command's exit status");
  }
  try {
    return std::stoi(*status);
  } catch (...) {
    return fail("the guest reported a malformed exit status '" + *status + "'");
  }
}

}  // namespace vnet::vmrun
