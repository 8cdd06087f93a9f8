// Netns-tier harness for the switch: throwaway namespaces (removed in the destructor,
// also when the test fails), a `vnet switch` process run from a generated config
// (stopped with SIGTERM in the destructor), and raw stream/dgram/VDE clients that move
// Ethernet frames without QEMU.
#pragma once

#include <sys/resource.h>
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/unique_fd.h"

namespace vnet::sw::test {

bool have_root();
// The vnet under test: VNET_TEST_BINARY when set (e.g. a build from before a fix), else
// this tree's.
const char* vnet_binary();
// "vsw<pid>x<n>": unique per process and call, at most 15 bytes.
std::string unique_name(const char* tag);
int sh(const std::string& script);  // exit code; output goes to the test log

// Polls `ok` every 20 ms for up to `limit`: for what the switch does in its own time.
template <class F>
bool eventually(F ok, std::chrono::milliseconds limit = std::chrono::milliseconds(5000)) {
  for (auto end = std::chrono::steady_clock::now() + limit;;
       std::this_thread::sleep_for(std::chrono::milliseconds(20))) {
    if (ok()) return true;
    if (std::chrono::steady_clock::now() > end) return false;
  }
}

// host.toml declaring switch "lab" serving at `socket`, then `extra` (keys, ports).
std::string switch_toml(const std::string& socket, const std::string& extra = "");

// A folder of its own under /tmp, removed with everything in it.
struct ScratchDir {
  std::string path;
  ScratchDir();
  ~ScratchDir();
  ScratchDir(const ScratchDir&) = delete;
};

class Netns {
 public:
  explicit Netns(const char* tag);
  ~Netns();
  Netns(const Netns&) = delete;
  const std::string& name() const { return name_; }
  std::string exec(const std::string& cmd) const { return "ip netns exec " + name_ + " " + cmd; }
  bool ping(const std::string& addr, int count = 2, int timeout_s = 2) const;

 private:
  std::string name_;
};

class SwitchProcess {
 public:
  struct Options {
    std::string netns;  // run inside this namespace
    uid_t uid = 0;      // run as this user (and group), when not 0
    std::vector<std::pair<std::string, std::string>> env;  // its environment ("": unset)
    rlim_t max_files = 0;  // RLIMIT_NOFILE for the switch, when not 0
    bool journal = false;  // its stderr (the log file) is named by JOURNAL_STREAM
  };
  // Writes `toml` to a scratch folder and runs `vnet switch NAME -c FILE` (inside
  // `netns` when given); waits until DIR/control answers or the switch exits.
  SwitchProcess(const std::string& toml, const std::string& name, const std::string& dir,
                const std::string& netns = "");
  SwitchProcess(const std::string& toml, const std::string& name, const std::string& dir,
                const Options& options);
  ~SwitchProcess();
  SwitchProcess(const SwitchProcess&) = delete;
  bool running() const;
  // The exit code once it has exited (-1 while running, 128+N when killed by signal N).
  int exit_code() const;
  pid_t pid() const { return pid_; }
  const std::string& config_path() const { return config_; }
  nlohmann::json call(const nlohmann::json& req) const;  // over DIR/control
  nlohmann::json port(const std::string& name) const;    // from "ports"
  nlohmann::json stats() const { return call({{"cmd", "stats"}})["stats"]; }
  long rss_kb() const;
  std::string log() const;  // the switch's stderr so far
  void signal(int sig) const;
  // Stops with SIGTERM; returns the exit status (as from waitpid) or -1.
  int stop();

 private:
  std::string dir_, config_, scratch_;
  pid_t pid_ = -1;
  mutable int status_ = -1;  // from waitpid, once reaped
};

// Raw clients. Each sends and receives whole Ethernet frames.
class FrameClient {
 public:
  virtual ~FrameClient() = default;
  virtual bool send(const std::vector<uint8_t>& frame) = 0;
  // Waits up to `timeout` for one frame.
  virtual std::optional<std::vector<uint8_t>> recv(std::chrono::milliseconds timeout) = 0;
  // Drains frames for `timeout`, returns them.
  std::vector<std::vector<uint8_t>> recv_all(std::chrono::milliseconds timeout);
};

std::unique_ptr<FrameClient> connect_stream(const std::string& path);
// Binds its own socket at `local` and sends to `remote` (as QEMU -netdev dgram does).
std::unique_ptr<FrameClient> connect_dgram(const std::string& local, const std::string& remote);
// The VDE handshake on DIR/ctl, asking for `port` (0 = any).
std::unique_ptr<FrameClient> connect_vde(const std::string& dir, uint32_t port = 0,
                                         const std::string& description = "switch test client");

}  // namespace vnet::sw::test
