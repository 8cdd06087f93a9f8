#include "qemu/serial_shell.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

namespace vnet::qemu {
namespace {

using Clock = std::chrono::steady_clock;

int remaining_ms(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return left.count() < 0 ? 0 : static_cast<int>(left.count());
}

}  // namespace

int marked_status(const std::string& output, const std::string& marker) {
  for (size_t at = output.find(marker); at != std::string::npos;
       at = output.find(marker, at + 1)) {
    size_t p = at + marker.size(), q = p;
    while (q < output.size() && q - p < 4 && output[q] >= '0' && output[q] <= '9') ++q;
    // Digits then the end of the line: a status. "$?" is the terminal echoing the command.
    if (q > p && q < output.size() && (output[q] == '\r' || output[q] == '\n'))
      return std::stoi(output.substr(p, q - p));
  }
  return -1;
}

SerialShell::SerialShell(UniqueFd fd) : fd_(std::move(fd)) {
  tag_ = std::to_string(::getpid()) + "x" +
         std::to_string(Clock::now().time_since_epoch().count() % 1000000007);
}

Result<SerialShell> SerialShell::connect(const std::string& path,
                                         std::chrono::milliseconds timeout) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path)
    return fail("console socket path '" + path + "' is too long", ENAMETOOLONG);
  std::memcpy(addr.sun_path, path.data(), path.size());
  auto deadline = Clock::now() + timeout;
  for (;;) {
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!fd) return fail_errno("console: socket");
    if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0)
      return SerialShell(std::move(fd));
    int e = errno;
    if ((e != ENOENT && e != ECONNREFUSED && e != EAGAIN) || Clock::now() >= deadline)
      return fail("console: connect to " + path, e);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

Result<int> SerialShell::run(const std::string& command, std::chrono::milliseconds timeout,
                             int stop_fd) {
  std::string marker = "@vnet-" + tag_ + "-" + std::to_string(++seq_) + "=";
  // A leading newline ends whatever half line an earlier client left at the prompt.
  std::string line = "\n" + command + "; echo " + marker + "$?\n";
  auto deadline = Clock::now() + timeout;
  size_t sent = 0;
  std::string out;
  while (true) {
    pollfd fds[2] = {{fd_.get(), short(POLLIN | (sent < line.size() ? POLLOUT : 0)), 0},
                     {stop_fd, POLLIN, 0}};
    int n = ::poll(fds, stop_fd >= 0 ? 2 : 1, remaining_ms(deadline));
    if (n < 0 && errno != EINTR) return fail_errno("console: poll");
    if (stop_fd >= 0 && (fds[1].revents & POLLIN)) return fail("interrupted", EINTR);
    if (n == 0 || Clock::now() >= deadline)
      return fail("no answer on the serial console within " +
                      std::to_string(timeout.count() / 1000) + " s to: " + command,
                  ETIMEDOUT);
    if (fds[0].revents & POLLOUT) {
      ssize_t w = ::send(fd_.get(), line.data() + sent, line.size() - sent, MSG_NOSIGNAL);
      if (w < 0 && errno != EAGAIN) return fail_errno("console: write");
      if (w > 0) sent += static_cast<size_t>(w);
    }
    if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      char buf[4096];
      ssize_t r = ::recv(fd_.get(), buf, sizeof buf, 0);
      if (r == 0) return fail("console: QEMU closed the serial console", EPIPE);
      if (r < 0 && errno != EAGAIN) return fail_errno("console: read");
      if (r > 0) {
        out.append(buf, static_cast<size_t>(r));
        if (int st = marked_status(out, marker); st >= 0) return st;
        // Only the tail can still hold a marker being written.
        if (out.size() > 65536) out.erase(0, out.size() - 4096);
      }
    }
  }
}

}  // namespace vnet::qemu
