#include "switch/config.h"

#include <grp.h>
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

Result<SwitchConfig> make_config(const topology::Switch& sw) {
  SwitchConfig c;
  c.name = sw.name;
  c.dir = sw.socket.empty() ? default_socket_dir(sw.name) : sw.socket;
  while (c.dir.size() > 1 && c.dir.back() == '/') c.dir.pop_back();
  c.socket_mode = sw.socket_mode & 0777;
  // The folder needs search (x) wherever the sockets grant access, and VDE clients
  // create their own sockets inside it, so it gets write where sockets have it.
  c.dir_mode = c.socket_mode;
  for (int shift : {0, 3, 6})
    if (c.socket_mode & (06u << shift)) c.dir_mode |= 01u << shift;
  c.max_ports = sw.max_ports;
  c.limits.max_entries = sw.fdb_max;
  c.limits.max_per_port = sw.port_mac_max;
  c.default_vlan = sw.default_vlan;
  if (!sw.group.empty()) {
    if (const group* g = ::getgrnam(sw.group.c_str())) {
      c.gid = int(g->gr_gid);
    } else {
      char* end = nullptr;
      long v = std::strtol(sw.group.c_str(), &end, 10);
      if (end && *end == 0 && v >= 0) c.gid = int(v);
      else
        return fail("switch " + sw.name + ": group '" + sw.group + "' does not exist", 0,
                    ExitCode::kBadInput);
    }
    // Only root may give a folder to another group; others keep their own.
    if (::geteuid() != 0) c.gid = -1;
  }
  for (const auto& p : sw.ports) {
    PortConfig pc;
    pc.name = p.name;
    pc.kind = p.kind;
    pc.target = p.target;
    pc.vde_port = p.vde_port;
    pc.policy = port_policy(p.pvid, p.tagged, sw.default_vlan);
    c.ports.push_back(std::move(pc));
  }
  return c;
}

}  // namespace vnet::sw
