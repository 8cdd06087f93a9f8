// Op descriptions for people (plan output, errors, status).
#include "plan/op.h"

#include <string_view>

namespace vnet::plan {
namespace {

std::string vlan_list(const std::vector<VlanEntry>& v, char sign) {
  std::string s;
  for (const auto& run : topology::vlan_runs(v)) {
    if (!s.empty()) s += " ";
    s += sign + topology::run_text(run);
    if (sign == '+') {
      if (run.first.pvid) s += " pvid";
      s += run.first.untagged ? " untagged" : " tagged";
    }
  }
  return s;
}

// "qemu (107)" where a name was written, else the id ("-1" = nobody, as the kernel keeps it)
std::string principal(const std::string& name, uint32_t id) {
  std::string num = std::to_string(static_cast<int32_t>(id));
  return name.empty() || name == num ? num : name + " (" + num + ")";
}

}  // namespace

const char* to_string(OpKind kind) {
  switch (kind) {
    case OpKind::kCreateNetns: return "create-netns";
    case OpKind::kDeleteNetns: return "delete-netns";
    case OpKind::kCreateLink: return "create";
    case OpKind::kDeleteLink: return "delete";
    case OpKind::kMoveLink: return "move";
    case OpKind::kMark: return "mark";
    case OpKind::kSetLink: return "set";
    case OpKind::kSetTap: return "set-tap";
    case OpKind::kSetMaster: return "set-master";
    case OpKind::kSetVlans: return "set-vlans";
    case OpKind::kAddAddress: return "add-address";
    case OpKind::kDelAddress: return "delete-address";
    case OpKind::kAddRoute: return "add-route";
    case OpKind::kDelRoute: return "delete-route";
    case OpKind::kSetUp: return "set-up";
  }
  return "?";
}

std::optional<uint64_t> LinkSpec::number(const char* key) const {
  for (const auto& [attr, value] : info)
    if (std::string_view(attr->key) == key) {
      bool id = attr->type == topology::KindAttr::Type::kUser || attr->type == topology::KindAttr::Type::kGroup;
      if (id && value.number == static_cast<uint32_t>(-1)) return std::nullopt;
      return value.number;
    }
  return std::nullopt;
}

std::string Op::describe() const {
  std::string s;
  switch (kind) {
    case OpKind::kCreateNetns: s = "create netns " + ns; break;
    case OpKind::kDeleteNetns: s = "delete netns " + ns; break;
    case OpKind::kCreateLink: {
      s = "create " + object;
      std::string d;
      auto add = [&](const std::string& x) { d += (d.empty() ? "" : ", ") + x; };
      if (spec.kind == "veth")
        add("peer " + spec.peer + (spec.peer_ns.empty() || spec.peer_ns == ns ? ""
                                                                              : " in netns " + spec.peer_ns));
      // a switch is named when on, and when off only against an "on" default
      for (const auto& [attr, value] : spec.info) {
        using T = topology::KindAttr::Type;
        if (attr->type == T::kUser || attr->type == T::kGroup) {
          if (auto id = spec.number(attr->key))
            add(std::string(attr->key) + " " +
                principal(attr->type == T::kUser ? spec.owner_name : spec.group_name, static_cast<uint32_t>(*id)));
        } else if (attr->type == topology::KindAttr::Type::kBool && value.number)
          add(attr->key);
        else if (attr->type != topology::KindAttr::Type::kBool || attr->fallback.value_or(0))
          add(std::string(attr->key) + " " + topology::info_text(*attr, value));
      }
      if (spec.mtu) add("mtu " + std::to_string(*spec.mtu));
      if (spec.mac) add("mac " + spec.mac->str());
      if (!d.empty()) s += " (" + d + ")";
      break;
    }
    case OpKind::kDeleteLink: s = "delete " + object; break;
    case OpKind::kMoveLink:
      s = "move " + object + " to " + (to_ns.empty() ? std::string("the target namespace") : "netns " + to_ns);
      break;
    case OpKind::kMark: s = "mark " + object + " as owned (alias " + alias + ")"; break;
    case OpKind::kSetLink: {
      std::string d;
      auto add = [&](const std::string& x) { d += (d.empty() ? "" : ", ") + x; };
      if (mtu) add("mtu " + std::to_string(*mtu));
      if (mac) add("mac " + mac->str());
      if (addr_gen_mode) add(std::string("addrgenmode ") + (*addr_gen_mode == kAddrGenNone ? "none" : "eui64"));
      for (const auto& [attr, value] : info)
        add(std::string(attr->key) + " " + topology::info_text(*attr, value));
      s = "set " + object + " " + d;
      break;
    }
    case OpKind::kSetTap: {
      s = "set " + object;
      if (owner) s += " owner " + principal(owner_name, *owner);
      if (group) s += " group " + principal(group_name, *group);
      break;
    }
    case OpKind::kSetMaster:
      s = master ? "enslave " + object + " to " + (master_name.empty() ? "#" + std::to_string(master) : master_name)
                 : "release " + object + " from its bridge";
      break;
    case OpKind::kSetVlans: {
      std::string d = vlan_list(vlan_add, '+');
      std::string del = vlan_list(vlan_del, '-');
      if (!del.empty()) d += (d.empty() ? "" : ", ") + del;
      s = "set " + std::string(self ? "self " : "") + "vlans of " + object + ": " + d;
      break;
    }
    case OpKind::kAddAddress: s = "add address " + addr.str() + " to " + object; break;
    case OpKind::kDelAddress: s = "delete address " + addr.str() + " from " + object; break;
    case OpKind::kAddRoute:
    case OpKind::kDelRoute: {
      s = kind == OpKind::kAddRoute ? "add " : "delete ";
      s += route.dst_len == 0 ? std::string("default route")
                              : "route " + route.to_str();
      if (route.gateway.family) s += " via " + route.gateway.str();
      if (route.priority) s += " metric " + std::to_string(route.priority);
      s += " dev " + object;
      break;
    }
    case OpKind::kSetUp: s = "set " + object + (up ? " up" : " down"); break;
  }
  if (!reason.empty()) s += " (" + reason + ")";
  return s;
}

}  // namespace vnet::plan
