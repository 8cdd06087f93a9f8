// The serial-console command runner against a fake guest shell: a thread behind a unix
// socket that echoes what it reads (as a terminal does), then answers each line the way
// `CMD; echo MARKER$?` would in a shell, with CMD one of true, false or hang.
#include "qemu/serial_shell.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <thread>

#include "base/unique_fd.h"

namespace vnet::qemu {
namespace {

using namespace std::chrono_literals;

TEST(MarkedStatus, DigitsAtTheEndOfALineAreTheStatus) {
  EXPECT_EQ(marked_status("~ # ping x; echo @vnet-a-1=$?\r\n@vnet-a-1=0\r\n", "@vnet-a-1="), 0);
  EXPECT_EQ(marked_status("@vnet-a-1=127\n", "@vnet-a-1="), 127);
}

TEST(MarkedStatus, TheEchoedCommandAndPartialOutputAreNotAnAnswer) {
  EXPECT_EQ(marked_status("~ # ping x; echo @vnet-a-1=$?\r\n", "@vnet-a-1="), -1);
  EXPECT_EQ(marked_status("@vnet-a-1=1", "@vnet-a-1="), -1);  // the line is not complete
  EXPECT_EQ(marked_status("@vnet-a-2=0\r\n", "@vnet-a-1="), -1);  // another command's
  EXPECT_EQ(marked_status("@vnet-a-11=0\r\n", "@vnet-a-1="), -1);
}

class FakeShell {
 public:
  FakeShell() {
    dir_ = std::filesystem::temp_directory_path() / ("vnet-serial-" + std::to_string(getpid()));
    std::filesystem::create_directories(dir_);
    path_ = (dir_ / "console.sock").string();
    listener_ = UniqueFd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::strncpy(a.sun_path, path_.c_str(), sizeof a.sun_path - 1);
    if (::bind(listener_.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        ::listen(listener_.get(), 1) != 0)
      std::abort();
    thread_ = std::thread([this] { serve(); });
  }
  ~FakeShell() {
    ::shutdown(listener_.get(), SHUT_RDWR);
    if (conn_ >= 0) ::shutdown(conn_, SHUT_RDWR);
    thread_.join();
    std::filesystem::remove_all(dir_);
  }
  const std::string& path() const { return path_; }

 private:
  void serve() {
    UniqueFd c(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!c) return;
    conn_ = c.get();
    std::string pending;
    char buf[512];
    ssize_t n;
    while ((n = ::read(c.get(), buf, sizeof buf)) > 0) {
      (void)!::write(c.get(), buf, static_cast<size_t>(n));  // the terminal's echo
      pending.append(buf, static_cast<size_t>(n));
      for (size_t eol; (eol = pending.find('\n')) != std::string::npos;) {
        std::string line = pending.substr(0, eol);
        pending.erase(0, eol + 1);
        size_t echo = line.find("; echo ");
        if (echo == std::string::npos) continue;  // the empty line before each command
        std::string cmd = line.substr(0, echo);
        std::string marker = line.substr(echo + 7, line.size() - echo - 7 - 2);  // minus "$?"
        if (cmd == "hang") continue;
        std::string answer = "noise\r\n" + marker + (cmd == "true" ? "0" : "1") + "\r\n~ # ";
        (void)!::write(c.get(), answer.data(), answer.size());
      }
    }
  }
  std::filesystem::path dir_;
  std::string path_;
  UniqueFd listener_;
  int conn_ = -1;
  std::thread thread_;
};

TEST(SerialShell, RunsCommandsInTurnAndReturnsTheirStatus) {
  FakeShell fake;
  auto sh = SerialShell::connect(fake.path(), 2s);
  ASSERT_TRUE(sh) << sh.error().str();
  auto a = sh->run("true", 5s);
  ASSERT_TRUE(a) << a.error().str();
  EXPECT_EQ(*a, 0);
  auto b = sh->run("false", 5s);
  ASSERT_TRUE(b) << b.error().str();
  EXPECT_EQ(*b, 1);
}

TEST(SerialShell, NoAnswerIsAnErrorWithinTheBound) {
  FakeShell fake;
  auto sh = SerialShell::connect(fake.path(), 2s);
  ASSERT_TRUE(sh) << sh.error().str();
  auto t0 = std::chrono::steady_clock::now();
  auto r = sh->run("hang", 300ms);
  ASSERT_FALSE(r);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
  EXPECT_NE(r.error().what.find("no answer on the serial console"), std::string::npos);
}

TEST(SerialShell, ConnectToNothingFailsAfterItsTimeout) {
  auto r = SerialShell::connect("/nonexistent/vnet/console.sock", 100ms);
  EXPECT_FALSE(r);
}

}  // namespace
}  // namespace vnet::qemu
