// Errors as values: every fallible call in vnet returns Result<T>. The callee says what
// failed (with errno and the kernel's own text where there is one); callers add context.
// tl::expected rather than std::expected: the fuzz targets build with clang, whose
// libstdc++ here lacks std::expected (facts.md).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <tl/expected.hpp>

namespace vnet {

// Where in a file the user wrote something; kept in every model object so errors found
// at plan or apply time can still point at the line of host.toml that caused them.
struct SourceLoc {
  std::string file;
  uint32_t line = 0;
  uint32_t col = 0;
  bool known() const { return line != 0; }
  std::string str() const;  // "file:line:col", or the file alone
};

// Exit codes of design.md.
enum class ExitCode : int {
  kOk = 0,
  kFailed = 1,      // operation failed (after rollback), drift, changes pending
  kBadInput = 2,    // bad input or usage
  kEnvironment = 3, // kernel feature, permission or program missing
};

struct Error {
  int err = 0;             // errno, 0 when not a system error
  std::string what;        // what failed, in our words
  std::string kernel_msg;  // netlink extended-ack text, when the kernel gave one
  std::optional<SourceLoc> loc;
  ExitCode exit = ExitCode::kFailed;

  std::string str() const;  // "what: strerror(err) (kernel: msg)"
  Error& context(const std::string& prefix) {
    what = prefix + ": " + what;
    return *this;
  }
};

template <class T>
using Result = tl::expected<T, Error>;
using Status = Result<void>;

inline tl::unexpected<Error> fail(std::string what, int err = 0,
                                  ExitCode exit = ExitCode::kFailed) {
  return tl::unexpected(Error{err, std::move(what), {}, {}, exit});
}
// errno captured at the call, before anything else can overwrite it.
tl::unexpected<Error> fail_errno(std::string what);

}  // namespace vnet
