// Guests -> the links they imply (design.md "Derived names"): a qemu NIC on a bridge gets
// tap vm-<guest>-<index>; an nspawn NIC gets veth vb-<guest>[-<index>] with its peer
// (host0, host1, ...) in namespace vnet-<guest>; a NIC on a switch gets a switch port.
#include <algorithm>
#include <map>

#include "topology/parse.h"

namespace vnet::topology::detail {

namespace {

bool derived_name_ok(Diagnostics& d, const std::string& name, const GuestNic& nic,
                     const std::string& what) {
  if (name.size() <= 15) return true;
  d.error(nic.host_name_loc, "derived " + what + " name '" + name + "' is " +
                       std::to_string(name.size()) +
                       " bytes, the kernel allows 15; set host_name on this NIC");
  return false;
}

BridgePort port_for(const GuestNic& nic) {
  BridgePort p;
  p.bridge = nic.bridge;
  p.pvid = nic.vlan;
  p.loc = nic.ref_loc;
  p.pvid_loc = p.tagged_loc = nic.vlan_loc;
  return p;
}

void add_switch_port(Topology& t, const Guest& g, const GuestNic& nic, SwitchPort::Kind kind,
                     const std::string& name, const std::string& target) {
  for (Switch& sw : t.switches) {
    if (sw.name != nic.switch_name) continue;
    SwitchPort p;
    p.name = name;
    p.kind = kind;
    p.target = target;
    p.pvid = nic.vlan;
    p.derived_from = g.name;
    p.loc = nic.ref_loc;
    sw.ports.push_back(std::move(p));
  }
}

}  // namespace

void expand_guests(Diagnostics& d, Topology& t) {
  for (Guest& g : t.guests) {
    bool nspawn = g.kind == Guest::Kind::kNspawn;
    if (nspawn && !g.nics.empty()) g.netns = "vnet-" + g.name;
    for (size_t i = 0; i < g.nics.size(); ++i) {
      GuestNic& nic = g.nics[i];
      std::string index = std::to_string(i);
      if (!nspawn) {
        if (nic.kind == GuestNic::Kind::kBridge) {
          if (nic.host_name.empty()) nic.host_name = "vm-" + g.name + "-" + index;
          if (!derived_name_ok(d, nic.host_name, nic, "tap")) continue;
          Tap tap;
          tap.name = nic.host_name;
          tap.port = port_for(nic);
          tap.link_local = LinkLocal::kNone;
          tap.derived_from = g.name;
          tap.loc = nic.loc;
          t.taps.push_back(std::move(tap));
        } else if (nic.kind == GuestNic::Kind::kSwitch) {
          if (nic.host_name.empty()) nic.host_name = "vm-" + g.name + "-" + index;
          add_switch_port(t, g, nic, SwitchPort::Kind::kStream, nic.host_name, "");
        } else if (nic.kind == GuestNic::Kind::kTap) {
          nic.host_name = nic.tap;
        }
        continue;
      }
      if (nic.kind == GuestNic::Kind::kTap || nic.kind == GuestNic::Kind::kUser) {
        d.error(nic.ref_loc, "nspawn guests connect through veths: use 'bridge' or 'switch' on "
                         "this NIC");
        continue;
      }
      if (nic.name.empty()) nic.name = "host" + index;
      if (nic.host_name.empty())
        nic.host_name = "vb-" + g.name + (i == 0 ? "" : "-" + index);
      if (!derived_name_ok(d, nic.host_name, nic, "veth")) continue;
      Veth v;
      v.name = nic.host_name;
      v.peer = nic.name;
      v.peer_netns = g.netns;
      v.peer_addresses = nic.addresses;
      v.peer_gateway = nic.gateway;
      v.peer_gateway_loc = nic.gateway_loc;
      v.peer_mac = nic.mac;
      v.derived_from = g.name;
      v.loc = nic.loc;
      v.link_local = LinkLocal::kNone;
      if (nic.kind == GuestNic::Kind::kBridge) v.port = port_for(nic);
      else add_switch_port(t, g, nic, SwitchPort::Kind::kPacket, nic.host_name, nic.host_name);
      t.veths.push_back(std::move(v));
    }
  }
}

// A bond's members are existing links ([links]): each becomes a [links] entry (or
// marks the one declared) with `member_of`, so the planner enslaves it like any port.
void expand_members(Diagnostics& d, Topology& t) {
  std::map<std::string, std::string> taken;  // member -> its bond
  for (const KindLink& k : t.kind_links) {
    for (const auto& member : k.members) {
      const std::string& name = member.first;
      const SourceLoc& at = member.second;
      if (!k.netns.empty()) {
        d.error(at, std::string(k.desc->word) + " '" + k.name + "' takes members, existing links of the " +
                        "target namespace ([links]), so it lives there too; drop its netns");
        break;
      }
      auto [it, fresh] = taken.try_emplace(name, k.name);
      if (!fresh) {
        d.error(at, "'" + name + "' is already a member of " + k.desc->word + " '" + it->second + "'");
        continue;
      }
      auto declared = std::find_if(t.links.begin(), t.links.end(),
                                   [&](const Link& l) { return l.name == name; });
      if (declared != t.links.end()) {
        if (declared->port)
          d.error(declared->port->loc, "'" + name + "' is a member of " + k.desc->word + " '" +
                                           k.name + "' and cannot be a bridge port too; make '" +
                                           k.name + "' the port");
        declared->member_of = k.name;
        declared->member_loc = at;
        if (!declared->link_local_written) declared->link_local = LinkLocal::kNone;
        continue;
      }
      Link l;
      l.name = name;
      l.loc = at;
      l.member_of = k.name;
      l.member_loc = at;
      l.link_local = LinkLocal::kNone;
      t.links.push_back(std::move(l));
    }
  }
}

}  // namespace vnet::topology::detail
