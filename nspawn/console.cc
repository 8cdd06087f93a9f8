// nspawn's console relay (console.h).
#include "nspawn/console.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/unique_fd.h"

namespace vnet::nspawn {
namespace {

void write_all(int fd, const char* p, ssize_t n) {
  while (n > 0) {
    ssize_t w = ::write(fd, p, size_t(n));
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return;
    p += w, n -= w;
  }
}

// The relay: terminal -> log (+ client), client -> terminal, one client at a time (a
// second one is refused by closing it). Ends when nspawn has closed the terminal.
[[noreturn]] void relay(int master, int listener, int log) {
  int client = -1;
  char buf[4096];
  for (;;) {
    pollfd p[3] = {{master, POLLIN, 0}, {listener, POLLIN, 0}, {client, POLLIN, 0}};
    if (::poll(p, client >= 0 ? 3 : 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      ssize_t n = ::read(master, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;  // EIO: every slave descriptor is closed, nspawn has gone
      write_all(log, buf, n);
      if (client >= 0) write_all(client, buf, n);
    }
    if (p[1].revents & POLLIN) {
      int c = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
      if (c >= 0 && client >= 0) ::close(c);
      else if (c >= 0) client = c;
    }
    if (client >= 0 && (p[2].revents & (POLLIN | POLLHUP | POLLERR))) {
      ssize_t n = ::read(client, buf, sizeof buf);
      if (n <= 0) {
        ::close(client);
        client = -1;
      } else {
        write_all(master, buf, n);
      }
    }
  }
  ::_exit(0);
}

}  // namespace

Result<pid_t> spawn_with_console(const std::vector<std::string>& argv, const guests::StateDir& d) {
  UniqueFd master(::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC));
  if (!master || ::grantpt(master.get()) != 0 || ::unlockpt(master.get()) != 0)
    return fail_errno("cannot open a pseudo-terminal for the console");
  char name[128];
  if (::ptsname_r(master.get(), name, sizeof name) != 0) return fail_errno("ptsname");
  UniqueFd slave(::open(name, O_RDWR | O_NOCTTY | O_CLOEXEC));
  if (!slave) return fail_errno(std::string("cannot open ") + name);
  // nspawn sizes the container's terminal from this one
  winsize ws{};
  ws.ws_row = 24, ws.ws_col = 80;
  ::ioctl(slave.get(), TIOCSWINSZ, &ws);

  std::string path = d.console_socket();
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  if (path.size() >= sizeof a.sun_path) return fail_errno("console socket path too long: " + path);
  std::memcpy(a.sun_path, path.c_str(), path.size() + 1);
  ::unlink(path.c_str());
  UniqueFd listener(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!listener || ::bind(listener.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::chmod(path.c_str(), 0600) != 0 || ::listen(listener.get(), 1) != 0)
    return fail_errno("cannot listen on " + path);
  UniqueFd log(::open(d.console_log().c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644));
  if (!log) return fail_errno("cannot create " + d.console_log());

  std::vector<char*> args;
  for (const auto& s : argv) args.push_back(const_cast<char*>(s.c_str()));
  args.push_back(nullptr);

  // The relay is forked twice, so it is nobody's child here (no zombie in a long-lived
  // caller such as the scenario runner) and init reaps it.
  pid_t r = ::fork();
  if (r < 0) return fail_errno("fork");
  if (r == 0) {
    ::setsid();
    slave.reset();
    if (::fork() == 0) {
      // not the caller's stdout/stderr: whoever reads them (a test, a pipe) would never
      // see their end while the container runs
      int null = ::open("/dev/null", O_RDWR);
      for (int fd = 0; fd < 3 && null >= 0; ++fd) ::dup2(null, fd);
      relay(master.get(), listener.get(), log.get());
    }
    ::_exit(0);
  }
  while (::waitpid(r, nullptr, 0) < 0 && errno == EINTR) {
  }
  pid_t pid = ::fork();
  if (pid < 0) return fail_errno("fork");
  if (pid == 0) {
    ::setsid();
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);  // the caller may hold SIGINT & co.
    ::ioctl(slave.get(), TIOCSCTTY, 0);
    ::dup2(slave.get(), 0);
    ::dup2(slave.get(), 1);
    ::dup2(slave.get(), 2);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  return pid;
}

}  // namespace vnet::nspawn
