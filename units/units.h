// The systemd units of a host (issue 18, 15 item 8, 19 item 2): the one place that
// writes unit text. `vnet render units FILE -o DIR` writes one host's units
// (vnet-apply, vnet-watch, vnet-switch-NAME, vnet-guest-NAME); the build writes the
// installed templates (vnet-apply@, vnet-watch@, vnet-switch@) through templates(), so
// both come from the same builders. `vnet guest start --unit` sends the guest's
// [Service] properties (guest_properties) as a transient unit. Pure: no I/O.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "topology/model.h"

namespace vnet::units {

// One Key=Value line, with the comment lines ("why") written above it.
struct Line {
  std::string key, value;
  std::vector<std::string> why;
};

struct Section {
  std::string name;  // "Unit", "Service", "Install"
  std::vector<Line> lines;
};

struct Unit {
  std::string name;                 // "vnet-guest-dev.service"
  std::vector<std::string> header;  // comment lines at the top, without "# "
  std::vector<Section> sections;
};

struct Rendering {
  std::vector<Unit> units;            // sorted by name
  std::vector<std::string> left_out;  // one line per object not rendered, and why
};

// Where the units point. `vnet`: the absolute path of the binary they run; `source`:
// the absolute path of the host.toml.
struct Paths {
  std::string vnet, source;
};

// The guests' state folder the units use: root's default (guests/state.h), written out
// so the pid file systemd reads does not depend on who renders.
inline constexpr const char* kGuestStateRoot = "/var/lib/vnet/guests";
// `vnet guest stop --timeout`: the power-down grace the guest units give.
inline constexpr int kGuestStopTimeout = 30;

Rendering render(const topology::Topology& topo, const Paths& paths);

// The installed templates, naming the binary as `vnet_bin` (the build passes
// "@VNET_BINDIR@/vnet", filled in at install time).
std::vector<Unit> templates(const std::string& vnet_bin);

std::string unit_text(const Unit& u);

// A unit name for `name`, as systemd-escape does for the characters unit names cannot
// hold ("/" -> "-", others -> \xNN).
std::string escape_name(const std::string& name);

// A word of an Exec line (or any value holding a path): "%" doubled, quoted when it
// holds whitespace, quotes or backslashes.
std::string exec_word(const std::string& word);

// The guest unit's [Unit] and [Service] settings, in unit-file terms (Exec lines keep
// their argv in `argv`): what render writes, and what `guest start --unit` sends.
struct Property {
  std::string key, value;
  std::vector<std::string> argv;  // Exec lines: the command, unquoted
};
std::vector<Property> guest_properties(const topology::Topology& topo,
                                       const topology::Guest& g, const Paths& paths);

// A property as sd-bus StartTransientUnit takes it: D-Bus name, signature and value
// ("s"/"t"/"b" carry text; "as" `list`; "a(sasb)" `list` is the argv).
struct BusProperty {
  std::string name, signature, text;
  uint64_t number = 0;
  std::vector<std::string> list;
};
std::vector<BusProperty> bus_properties(const std::vector<Property>& props);

}  // namespace vnet::units
