#include "vmrun/sys.h"

#include <cstdio>

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "base/unique_fd.h"

namespace vnet::vmrun {

Result<std::string> read_file(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return fail_errno("cannot open " + path);
  std::string data;
  struct stat st {};
  if (::fstat(fd.get(), &st) == 0 && st.st_size > 0) data.reserve(size_t(st.st_size));
  char buf[1 << 16];
  while (true) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail_errno("cannot read " + path);
    if (n == 0) break;
    data.append(buf, size_t(n));
  }
  return data;
}

Status write_file(const std::string& path, std::string_view data, int mode) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode));
  if (!fd) return fail_errno("cannot create " + path);
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd.get(), data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail_errno("cannot write " + path);
    done += size_t(n);
  }
  if (::fchmod(fd.get(), mode) != 0) return fail_errno("cannot chmod " + path);
  return {};
}

Status mkdir_p(const std::string& path, int mode) {
  if (path.empty()) return {};
  for (size_t i = 1; i <= path.size(); ++i) {
    if (i != path.size() && path[i] != '/') continue;
    std::string part = path.substr(0, i);
    if (::mkdir(part.c_str(), mode) != 0 && errno != EEXIST)
      return fail_errno("cannot create folder " + part);
  }
  if (!is_dir(path)) return fail("cannot create folder " + path + ": not a folder");
  return {};
}

bool exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

bool is_dir(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

Result<std::vector<std::string>> list_dir(const std::string& path) {
  DIR* d = ::opendir(path.c_str());
  if (!d) return fail_errno("cannot list " + path);
  std::vector<std::string> names;
  while (dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n != "." && n != "..") names.push_back(n);
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

Status remove_tree(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return {};
    return fail_errno("cannot remove " + path);
  }
  if (S_ISDIR(st.st_mode)) {
    auto names = list_dir(path);
    if (!names) return tl::unexpected(names.error());
    for (const auto& n : *names)
      if (auto s = remove_tree(path + "/" + n); !s) return s;
    if (::rmdir(path.c_str()) != 0) return fail_errno("cannot remove " + path);
  } else if (::unlink(path.c_str()) != 0) {
    return fail_errno("cannot remove " + path);
  }
  return {};
}

std::string find_program(const std::string& name) {
  if (name.find('/') != std::string::npos) return ::access(name.c_str(), X_OK) == 0 ? name : "";
  std::string path = std::getenv("PATH") ? std::getenv("PATH") : "/usr/bin:/bin";
  path += ":/usr/sbin:/sbin:/usr/bin:/bin";
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find(':', start);
    if (end == std::string::npos) end = path.size();
    std::string dir = path.substr(start, end - start);
    if (!dir.empty()) {
      std::string cand = dir + "/" + name;
      struct stat st {};
      if (::stat(cand.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
          ::access(cand.c_str(), X_OK) == 0)
        return cand;
    }
    start = end + 1;
  }
  return "";
}

Result<Captured> run_capture(const std::vector<std::string>& argv, const std::string& cwd) {
  if (argv.empty()) return fail("run_capture: empty command");
  std::string prog = find_program(argv[0]);
  if (prog.empty()) return fail(argv[0] + " not found", ENOENT, ExitCode::kEnvironment);
  int out_pipe[2], err_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) return fail_errno("pipe");
  UniqueFd out_r(out_pipe[0]), out_w(out_pipe[1]);
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) return fail_errno("pipe");
  UniqueFd err_r(err_pipe[0]), err_w(err_pipe[1]);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid < 0) return fail_errno("fork");
  if (pid == 0) {
    int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) ::dup2(devnull, 0);
    ::dup2(out_w.get(), 1);
    ::dup2(err_w.get(), 2);
    if (!cwd.empty() && ::chdir(cwd.c_str()) != 0) ::_exit(126);
    ::execv(prog.c_str(), args.data());
    ::_exit(127);
  }
  out_w.reset();
  err_w.reset();
  Captured c;
  pollfd fds[2] = {{out_r.get(), POLLIN, 0}, {err_r.get(), POLLIN, 0}};
  int open_fds = 2;
  char buf[1 << 15];
  while (open_fds > 0) {
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        fds[i].fd = -1;
        --open_fds;
        continue;
      }
      (i == 0 ? c.out : c.err).append(buf, size_t(n));
    }
  }
  int st = 0;
  while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  c.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  return c;
}

std::string describe_failure(const std::string& what, const Captured& c) {
  std::string err = c.err;
  while (!err.empty() && (err.back() == '\n' || err.back() == ' ')) err.pop_back();
  if (err.size() > 600) err = "..." + err.substr(err.size() - 600);
  std::string s = what + " exited " + std::to_string(c.status);
  if (!err.empty()) s += ": " + err;
  return s;
}

std::string seconds_since(std::chrono::steady_clock::time_point t0) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                std::chrono::steady_clock::now() - t0).count();
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f s", double(ms) / 1000.0);
  return buf;
}

}  // namespace vnet::vmrun
