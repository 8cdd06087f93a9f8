// What `vnet switch NAME` runs with: the [switches.NAME] table of host.toml turned into
// paths, permissions and VLAN policies (design.md). Reloaded on SIGHUP.
#pragma once

#include <string>
#include <vector>

#include "base/error.h"
#include "switch/fdb.h"
#include "switch/vlan.h"
#include "topology/model.h"

namespace vnet::sw {

struct PortConfig {
  std::string name;
  topology::SwitchPort::Kind kind = topology::SwitchPort::Kind::kVdePort;
  std::string target;  // tap/link name or socket path
  uint32_t vde_port = 0;
  VlanPolicy policy;
};

struct SwitchConfig {
  std::string name;
  std::string dir;        // VDE-compatible socket folder: DIR/ctl, DIR/control, DIR/query
  int gid = -1;           // group of the folder and data sockets; -1 = leave as created
  // Data sockets (DIR/ctl, clients' DIR/NNN.SEQ, stream and dgram ports) and DIR/query.
  uint32_t socket_mode = 0660;
  uint32_t dir_mode = 01770;
  // DIR/control changes the switch: its owner only (0600), or also `control_group` (0660).
  int control_gid = -1;
  uint32_t control_mode = 0600;
  uint32_t max_ports = 64;
  FdbLimits limits;
  uint16_t default_vlan = 1;
  std::vector<PortConfig> ports;

  std::string ctl_path() const { return dir + "/ctl"; }
  std::string control_path() const { return dir + "/control"; }
  std::string query_path() const { return dir + "/query"; }
  const PortConfig* find_port(const std::string& name) const;
};

// /run/vnet/NAME as root, else $XDG_RUNTIME_DIR/vnet/NAME (or /tmp/vnet-UID/NAME when
// XDG_RUNTIME_DIR is unset).
std::string default_socket_dir(const std::string& name);
// design.md: `pvid = N` -> access N (plus `tagged` as trunk VLANs); `tagged` without
// `pvid` (or pvid = 0) -> trunk without native VLAN; neither -> access default_vlan.
VlanPolicy port_policy(const std::optional<uint16_t>& pvid, const std::vector<uint16_t>& tagged,
                       uint16_t default_vlan);
// Folder mode for sockets of `socket_mode`: search (x) wherever they grant access, write
// where they do (VDE clients bind their own sockets in DIR), and the sticky bit whenever
// group or others may write, so nobody removes or replaces a socket that is not theirs
// (DIR/control in particular). `control_reach`: others may search it, so that
// control_group members outside `group` reach DIR/control (each socket keeps its mode).
uint32_t socket_dir_mode(uint32_t socket_mode, bool control_reach = false);
Result<SwitchConfig> make_config(const topology::Switch& sw);

}  // namespace vnet::sw
