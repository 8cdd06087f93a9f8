// One line of progress for long work (apply, destroy, status), on stderr: redrawn in
// place on a terminal and cleared at the end; with -v a timestamped line per phase
// instead; otherwise nothing, so that output piped or logged stays as it was.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <string>

namespace vnet {

class Progress {
 public:
  // `fd`: where to write (stderr); a terminal there (and TERM not "dumb") gets the line.
  Progress(std::string verb, bool verbose, int fd = 2);
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  // `phase` ("read", "execute"), and for counted work how far it is.
  void update(const std::string& phase, size_t done = 0, size_t total = 0);
  void clear();  // before anything else is printed
  // update() as a plain function, for layers that must not know this class.
  std::function<void(const char*, size_t, size_t)> callback();

 private:
  void write(const std::string& s);
  std::string verb_;
  int fd_;
  bool tty_ = false, verbose_ = false, drawn_ = false;
  std::string phase_;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

}  // namespace vnet
