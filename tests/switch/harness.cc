#include "tests/switch/harness.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <grp.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "switch/control.h"
#include "switch/sockets.h"
#include "switch/vde_proto.h"

namespace vnet::sw::test {

using namespace std::chrono_literals;

bool have_root() { return ::geteuid() == 0; }

const char* vnet_binary() {
  const char* other = std::getenv("VNET_TEST_BINARY");
  return other && *other ? other : VNET_BINARY;
}

std::string unique_name(const char* tag) {
  static std::atomic<int> n{0};
  return std::string(tag) + std::to_string(::getpid() % 100000) + "x" + std::to_string(n++);
}

int sh(const std::string& script) {
  int rc = std::system(script.c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : 128;
}

std::string switch_toml(const std::string& socket, const std::string& extra) {
  return "[host]\nname = \"t\"\n[switches.lab]\nsocket = \"" + socket + "\"\n" + extra;
}

ScratchDir::ScratchDir() {
  char tmpl[] = "/tmp/vnet-switch-test-XXXXXX";
  path = ::mkdtemp(tmpl);
}

ScratchDir::~ScratchDir() { std::filesystem::remove_all(path); }

Netns::Netns(const char* tag) : name_(unique_name(tag)) {
  sh("ip netns add " + name_);
  sh("ip -n " + name_ + " link set lo up");
}

Netns::~Netns() {
  // Processes left in it (vde_plug, iperf3) would keep it alive: end them first.
  sh("for p in $(ip netns pids " + name_ + " 2>/dev/null); do kill -9 $p; done");
  sh("ip netns del " + name_ + " 2>/dev/null");
}

bool Netns::ping(const std::string& addr, int count, int timeout_s) const {
  return sh(exec("ping -q -c " + std::to_string(count) + " -i 0.2 -W " +
                 std::to_string(timeout_s) + " " + addr + " >/dev/null 2>&1")) == 0;
}

SwitchProcess::SwitchProcess(const std::string& toml, const std::string& name,
                             const std::string& dir, const std::string& netns)
    : SwitchProcess(toml, name, dir, Options{netns, 0, {}}) {}

SwitchProcess::SwitchProcess(const std::string& toml, const std::string& name,
                             const std::string& dir, const Options& o)
    : dir_(dir) {
  char tmpl[] = "/tmp/vnet-switch-test-XXXXXX";
  scratch_ = ::mkdtemp(tmpl);
  config_ = scratch_ + "/switch.toml";
  std::ofstream(config_) << toml;
  if (o.uid) ::chmod(scratch_.c_str(), 0755);  // the config must be readable to that user
  pid_ = ::fork();
  if (pid_ == 0) {
    std::string log = scratch_ + "/switch.log";
    int lf = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (lf >= 0) {
      ::dup2(lf, 1);
      ::dup2(lf, 2);
    }
    struct stat st {};
    if (o.journal && ::fstat(2, &st) == 0)
      ::setenv("JOURNAL_STREAM", (std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino)).c_str(), 1);
    for (const auto& [k, v] : o.env)
      v.empty() ? ::unsetenv(k.c_str()) : ::setenv(k.c_str(), v.c_str(), 1);
    rlimit files{o.max_files, o.max_files};
    if (o.max_files && ::setrlimit(RLIMIT_NOFILE, &files) < 0) ::_exit(125);
    if (o.uid && (::setgroups(0, nullptr) < 0 || ::setgid(o.uid) < 0 || ::setuid(o.uid) < 0))
      ::_exit(126);
    std::vector<std::string> args;
    if (!o.netns.empty()) args = {"ip", "netns", "exec", o.netns};
    for (const char* a : {vnet_binary(), "switch", name.c_str(), "-c", config_.c_str()})
      args.push_back(a);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execvp(argv[0], argv.data());
    ::_exit(127);
  }
  for (int i = 0; i < 100 && running(); ++i) {
    if (call({{"cmd", "stats"}}).value("ok", false)) return;
    std::this_thread::sleep_for(50ms);
  }
}

SwitchProcess::~SwitchProcess() {
  stop();
  sh("rm -rf " + scratch_);
}

std::string SwitchProcess::log() const {
  std::ifstream in(scratch_ + "/switch.log");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool SwitchProcess::running() const {
  if (pid_ <= 0 || status_ != -1) return false;
  int st = 0;
  pid_t r = ::waitpid(pid_, &st, WNOHANG);
  if (r == 0) return true;
  status_ = r == pid_ ? st : W_EXITCODE(255, 0);  // not ours to wait for: call it gone
  return false;
}

int SwitchProcess::exit_code() const {
  if (running() || status_ == -1) return -1;
  return WIFEXITED(status_) ? WEXITSTATUS(status_) : 128 + WTERMSIG(status_);
}

void SwitchProcess::signal(int sig) const {
  if (pid_ > 0) ::kill(pid_, sig);
}

int SwitchProcess::stop() {
  if (pid_ <= 0) return -1;
  if (!running()) {
    pid_ = -1;
    return status_;
  }
  ::kill(pid_, SIGTERM);
  int status = -1;
  for (int i = 0; i < 100; ++i) {
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return status;
    }
    std::this_thread::sleep_for(20ms);
  }
  ::kill(pid_, SIGKILL);
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
  return -1;
}

nlohmann::json SwitchProcess::call(const nlohmann::json& req) const {
  auto r = control_call(dir_ + "/control", req);
  if (!r) return {{"ok", false}, {"error", r.error().str()}};
  return *r;
}

nlohmann::json SwitchProcess::port(const std::string& name) const {
  const nlohmann::json all = call({{"cmd", "ports"}});
  for (const auto& p : all.value("ports", nlohmann::json::array()))
    if (p["name"] == name || p["peer"] == name) return p;
  return {};
}

long SwitchProcess::rss_kb() const {
  // Through `ip netns exec` the switch is a child of ip... which execs it: same pid.
  std::ifstream in("/proc/" + std::to_string(pid_) + "/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
  return -1;
}

std::vector<std::vector<uint8_t>> FrameClient::recv_all(std::chrono::milliseconds timeout) {
  std::vector<std::vector<uint8_t>> out;
  auto end = std::chrono::steady_clock::now() + timeout;
  while (true) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        end - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    auto f = recv(left);
    if (!f) break;
    out.push_back(std::move(*f));
  }
  return out;
}

namespace {

bool wait_readable(int fd, std::chrono::milliseconds timeout) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, int(timeout.count())) == 1;
}

class StreamClient : public FrameClient {
 public:
  explicit StreamClient(UniqueFd fd) : fd_(std::move(fd)) {}
  bool send(const std::vector<uint8_t>& f) override {
    uint32_t be = __builtin_bswap32(uint32_t(f.size()));
    iovec iov[2] = {{&be, 4}, {const_cast<uint8_t*>(f.data()), f.size()}};
    return ::writev(fd_.get(), iov, 2) == ssize_t(4 + f.size());
  }
  std::optional<std::vector<uint8_t>> recv(std::chrono::milliseconds timeout) override {
    while (true) {
      if (buf_.size() >= 4) {
        uint32_t len = uint32_t(buf_[0]) << 24 | uint32_t(buf_[1]) << 16 |
                       uint32_t(buf_[2]) << 8 | buf_[3];
        if (buf_.size() >= 4 + len) {
          std::vector<uint8_t> f(buf_.begin() + 4, buf_.begin() + 4 + len);
          buf_.erase(buf_.begin(), buf_.begin() + 4 + len);
          return f;
        }
      }
      if (!wait_readable(fd_.get(), timeout)) return std::nullopt;
      uint8_t tmp[65536];
      ssize_t n = ::read(fd_.get(), tmp, sizeof tmp);
      if (n <= 0) return std::nullopt;
      buf_.insert(buf_.end(), tmp, tmp + n);
    }
  }

 private:
  UniqueFd fd_;
  std::vector<uint8_t> buf_;
};

class DgramClient : public FrameClient {
 public:
  DgramClient(UniqueFd fd, UniqueFd ctl, std::string local)
      : fd_(std::move(fd)), ctl_(std::move(ctl)), local_(std::move(local)) {}
  ~DgramClient() override {
    if (!local_.empty()) ::unlink(local_.c_str());
  }
  bool send(const std::vector<uint8_t>& f) override {
    return ::send(fd_.get(), f.data(), f.size(), 0) == ssize_t(f.size());
  }
  std::optional<std::vector<uint8_t>> recv(std::chrono::milliseconds timeout) override {
    if (!wait_readable(fd_.get(), timeout)) return std::nullopt;
    std::vector<uint8_t> f(65536);
    ssize_t n = ::recv(fd_.get(), f.data(), f.size(), 0);
    if (n < 0) return std::nullopt;
    f.resize(size_t(n));
    return f;
  }

 private:
  UniqueFd fd_, ctl_;
  std::string local_;
};

UniqueFd connect_unix(const std::string& path, int type) {
  auto sa = unix_addr(path);
  UniqueFd fd(::socket(AF_UNIX, type | SOCK_CLOEXEC, 0));
  if (!sa || ::connect(fd.get(), reinterpret_cast<const sockaddr*>(&*sa), sizeof *sa) < 0)
    return {};
  return fd;
}

UniqueFd bound_dgram(const std::string& local) {
  auto sa = unix_addr(local);
  ::unlink(local.c_str());
  UniqueFd fd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!sa || ::bind(fd.get(), reinterpret_cast<const sockaddr*>(&*sa), sizeof *sa) < 0)
    return {};
  return fd;
}

}  // namespace

std::unique_ptr<FrameClient> connect_stream(const std::string& path) {
  UniqueFd fd;
  for (int i = 0; i < 50 && !fd; ++i) {
    fd = connect_unix(path, SOCK_STREAM);
    if (!fd) std::this_thread::sleep_for(20ms);
  }
  if (!fd) return nullptr;
  return std::make_unique<StreamClient>(std::move(fd));
}

std::unique_ptr<FrameClient> connect_dgram(const std::string& local, const std::string& remote) {
  UniqueFd fd = bound_dgram(local);
  auto sa = unix_addr(remote);
  if (!fd || !sa ||
      ::connect(fd.get(), reinterpret_cast<const sockaddr*>(&*sa), sizeof *sa) < 0)
    return nullptr;
  return std::make_unique<DgramClient>(std::move(fd), UniqueFd(), local);
}

std::unique_ptr<FrameClient> connect_vde(const std::string& dir, uint32_t port,
                                         const std::string& description) {
  UniqueFd ctl = connect_unix(dir + "/ctl", SOCK_STREAM);
  if (!ctl) return nullptr;
  std::string local = dir + "/.test-" + unique_name("c");
  UniqueFd data = bound_dgram(local);
  auto sa = unix_addr(local);
  if (!data || !sa) return nullptr;
  auto req = build_vde_request(port, *sa, description);
  if (::write(ctl.get(), req.data(), req.size()) != ssize_t(req.size())) return nullptr;
  sockaddr_un reply{};
  if (!wait_readable(ctl.get(), 2000ms) ||
      ::read(ctl.get(), &reply, sizeof reply) != ssize_t(sizeof reply))
    return nullptr;
  if (::connect(data.get(), reinterpret_cast<const sockaddr*>(&reply), sizeof reply) < 0)
    return nullptr;
  return std::make_unique<DgramClient>(std::move(data), std::move(ctl), local);
}

}  // namespace vnet::sw::test
