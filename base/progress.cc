#include "base/progress.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace vnet {

namespace {
using Clock = std::chrono::steady_clock;
constexpr auto kRedraw = std::chrono::milliseconds(100);  // at most ten redraws a second
}  // namespace

Progress::Progress(std::string verb, bool verbose, int fd)
    : verb_(std::move(verb)), fd_(fd), verbose_(verbose), start_(Clock::now()) {
  const char* term = getenv("TERM");
  tty_ = !verbose && isatty(fd) && !(term && std::strcmp(term, "dumb") == 0);
}

Progress::~Progress() { clear(); }

void Progress::write(const std::string& s) {
  for (size_t off = 0; off < s.size();) {
    ssize_t n = ::write(fd_, s.data() + off, s.size() - off);
    if (n <= 0) return;
    off += static_cast<size_t>(n);
  }
}

void Progress::update(const std::string& phase, size_t done, size_t total) {
  auto now = Clock::now();
  double elapsed = std::chrono::duration<double>(now - start_).count();
  bool fresh = phase != phase_;
  phase_ = phase;
  char line[200];
  if (verbose_) {
    if (!fresh) return;
    if (total) snprintf(line, sizeof line, "vnet %s: [%8.3f s] %s (%zu steps)\n", verb_.c_str(), elapsed, phase.c_str(), total);
    else snprintf(line, sizeof line, "vnet %s: [%8.3f s] %s\n", verb_.c_str(), elapsed, phase.c_str());
    write(line);
    return;
  }
  if (!tty_ || (!fresh && now - last_draw_ < kRedraw && done != total)) return;
  last_draw_ = now;
  if (total) snprintf(line, sizeof line, "\r\033[Kvnet %s: %s %zu/%zu (%.1f s)", verb_.c_str(), phase.c_str(), done, total, elapsed);
  else snprintf(line, sizeof line, "\r\033[Kvnet %s: %s (%.1f s)", verb_.c_str(), phase.c_str(), elapsed);
  write(line);
  drawn_ = true;
}

void Progress::clear() {
  if (drawn_) write("\r\033[K");
  drawn_ = false;
}

std::function<void(const char*, size_t, size_t)> Progress::callback() {
  return [this](const char* phase, size_t done, size_t total) { update(phase, done, total); };
}

}  // namespace vnet
