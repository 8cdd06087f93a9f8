#include "base/journal.h"

#include <sys/stat.h>

#include <cstdio>
#include <cstdlib>

namespace vnet {

bool stderr_is_journal() {
  static const bool journal = [] {
    const char* env = getenv("JOURNAL_STREAM");
    unsigned long long dev = 0, ino = 0;
    struct stat st {};
    if (!env || sscanf(env, "%llu:%llu", &dev, &ino) != 2 || fstat(2, &st) != 0) return false;
    return st.st_dev == dev && st.st_ino == ino;
  }();
  return journal;
}

std::string journal_line(Priority p, const std::string& line) {
  if (!stderr_is_journal()) return line;
  return "<" + std::to_string(static_cast<int>(p)) + ">" + line;
}

}  // namespace vnet
