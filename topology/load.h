// Reading host.toml (and scenario files, which are host.toml plus [scenario]/[[checks]]):
// parse with tomlplusplus, build the model, validate it whole, expand guests.
// Every problem is collected; nothing stops at the first one.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "topology/model.h"

namespace vnet::topology {

struct Diagnostic {
  SourceLoc loc;
  std::string message;  // "vlan id 5000 out of range 1..4094"
  std::string hint;     // optional second line: "did you mean 'tagged'?"
};

struct LoadOptions {
  bool allow_scenario = true;  // accept [scenario] and [[checks]]
};

using LoadResult = tl::expected<Topology, std::vector<Diagnostic>>;

// load_file() refuses larger files (and says so) rather than reading without limit.
inline constexpr size_t kMaxFileBytes = size_t{16} << 20;

LoadResult load_file(const std::string& path, const LoadOptions& options = {});
// `file` is the name used in diagnostics.
LoadResult load_string(const std::string& text, const std::string& file,
                       const LoadOptions& options = {});

// "FILE:LINE:COL: error: WHAT", the source line with a caret under the spot, and the hint;
// one block per diagnostic, in source order. `source` is the file's text (may be empty).
std::string format_diagnostics(const std::vector<Diagnostic>& diags, const std::string& source);
// The same for diagnostics of `path`, re-reading the file for the source lines, followed
// by a summary line ("FILE: N errors"): what every command prints for bad input.
std::string format_file_diagnostics(const std::vector<Diagnostic>& diags, const std::string& path);

// Helpers shared with the CLI and tests.
std::optional<Mac> parse_mac(const std::string& text);
std::optional<IpAddress> parse_ip(const std::string& text);
std::optional<Cidr> parse_cidr(const std::string& text);
std::optional<uint64_t> parse_size(const std::string& text);  // "4G", "512M", "100G"
// Why a kernel interface name is not acceptable, or "" when it is.
std::string interface_name_problem(const std::string& name);
// "WHAT 'TEXT' contains a control character", or "" (names that end up in records, marks
// and messages: a newline would split a record line or forge a log line).
std::string control_char_problem(const std::string& what, const std::string& text);

// Why `c` cannot be an interface address (unspecified, loopback, multicast, broadcast,
// a /0 prefix), or "": the kernel refuses some of these and would misroute with others.
std::string address_problem(const Cidr& c);

// A unix socket address holds 107 bytes of path (sun_path with its NUL).
constexpr size_t kMaxSocketPath = 107;
// The longest name a switch binds inside its socket folder: a VDE data socket
// "/PORT.SEQ" at the largest port and a 32-bit sequence.
constexpr std::string_view kLongestSwitchSocketName = "/65535.4294967295";
// Why `path` cannot be bound as a unix socket (too long), or "".
std::string socket_path_problem(const std::string& path);

}  // namespace vnet::topology
