#include "base/error.h"

#include <cerrno>
#include <cstring>

namespace vnet {

std::string SourceLoc::str() const {
  if (!known()) return file;
  return file + ":" + std::to_string(line) + ":" + std::to_string(col);
}

std::string Error::str() const {
  std::string s = what;
  if (err != 0) s += ": " + std::string(strerror(err));
  if (!kernel_msg.empty()) s += " (kernel: " + kernel_msg + ")";
  return s;
}

tl::unexpected<Error> fail_errno(std::string what) {
  int e = errno;
  return fail(std::move(what), e, e == EPERM || e == EACCES ? ExitCode::kEnvironment
                                                             : ExitCode::kFailed);
}

}  // namespace vnet
