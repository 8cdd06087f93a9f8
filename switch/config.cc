#include "switch/config.h"

#include <grp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>

namespace vnet::sw {

const PortConfig* SwitchConfig::find_port(const std::string& n) const {
  for (const auto& p : ports)
    if (p.name == n) return &p;
  return nullptr;
}

std::string default_socket_dir(const std::string& name) {
  if (::geteuid() == 0) return "/run/vnet/" + name;
  if (const char* x = std::getenv("XDG_RUNTIME_DIR"); x && *x)
    return std::string(x) + "/vnet/" + name;
  return "/tmp/vnet-" + std::to_string(::geteuid()) + "/" + name;
}

VlanPolicy port_policy(const std::optional<uint16_t>& pvid, const std::vector<uint16_t>& tagged,
                       uint16_t default_vlan) {
  uint16_t native = pvid ? *pvid : (tagged.empty() ? default_vlan : 0);
  return VlanPolicy::trunk(tagged, native);
}

uint32_t socket_dir_mode(uint32_t socket_mode, bool control_reach) {
  uint32_t mode = socket_mode & 0777;
  for (int shift : {0, 3, 6})
    if (mode & (06u << shift)) mode |= 01u << shift;
  if (control_reach) mode |= 01;
  if (mode & 022) mode |= S_ISVTX;
  return mode;
}

namespace {

// A group by name or number; -1 when `name` is empty or we are not root (only root may
// hand sockets to another group; others keep their own).
Result<int> resolve_group(const std::string& sw, const char* key, const std::string& name) {
  if (name.empty()) return -1;
  int gid = -1;
  if (const group* g = ::getgrnam(name.c_str())) {
    gid = int(g->gr_gid);
  } else {
    char* end = nullptr;
    long v = std::strtol(name.c_str(), &end, 10);
    if (!end || *end != 0 || v < 0)
      return fail("switch " + sw + ": " + key + " '" + name + "' does not exist", 0,
                  ExitCode::kBadInput);
    gid = int(v);
  }
  return ::geteuid() == 0 ? gid : -1;
}

}  // namespace

Result<SwitchConfig> make_config(const topology::Switch& sw) {
  SwitchConfig c;
  c.name = sw.name;
  c.dir = sw.socket.empty() ? default_socket_dir(sw.name) : sw.socket;
  while (c.dir.size() > 1 && c.dir.back() == '/') c.dir.pop_back();
  c.socket_mode = sw.socket_mode & 0777;
  c.max_ports = sw.max_ports;
  c.limits.max_entries = sw.fdb_max;
  c.limits.max_per_port = sw.port_mac_max;
  c.default_vlan = sw.default_vlan;
  auto gid = resolve_group(sw.name, "group", sw.group);
  if (!gid) return tl::unexpected(gid.error());
  c.gid = *gid;
  auto control_gid = resolve_group(sw.name, "control_group", sw.control_group);
  if (!control_gid) return tl::unexpected(control_gid.error());
  c.control_gid = *control_gid;
  c.control_mode = c.control_gid >= 0 ? 0660 : 0600;
  c.dir_mode = socket_dir_mode(c.socket_mode, c.control_gid >= 0 && c.control_gid != c.gid);
  for (const auto& p : sw.ports) {
    PortConfig pc;
    pc.name = p.name;
    pc.kind = p.kind;
    pc.target = p.target;
    // A stream port derived from a guest's switch NIC names no path: it listens in the
    // switch's folder under the port's name, where `vnet guest start` connects.
    if (pc.target.empty() && p.kind == topology::SwitchPort::Kind::kStream)
      pc.target = c.dir + "/" + p.name + ".sock";
    pc.vde_port = p.vde_port;
    pc.policy = port_policy(p.pvid, p.tagged, sw.default_vlan);
    c.ports.push_back(std::move(pc));
  }
  return c;
}

}  // namespace vnet::sw
