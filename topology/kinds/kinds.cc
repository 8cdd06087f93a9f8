// The table of table-described link kinds (kind.h). Adding a kind: its file here, and one
// line below.
#include <cstring>

#include "topology/model.h"

namespace vnet::topology {

const KindDesc& dummy_kind();
const KindDesc& bond_kind();
const KindDesc& vlan_kind();
const KindDesc& macvlan_kind();
const KindDesc& vxlan_kind();

// Lower kinds first: a vlan may sit on a bond, a vxlan on a vlan.
const std::vector<const KindDesc*>& kinds() {
  static const std::vector<const KindDesc*> all = {&dummy_kind(), &bond_kind(), &vlan_kind(),
                                                   &macvlan_kind(), &vxlan_kind()};
  return all;
}

const KindDesc* kind_by_info(const std::string& info_kind) {
  if (info_kind == bridge_kind().info_kind) return &bridge_kind();
  if (info_kind == tap_kind().info_kind) return &tap_kind();
  if (info_kind == veth_kind().info_kind) return &veth_kind();
  for (const KindDesc* k : kinds())
    if (info_kind == k->info_kind) return k;
  return nullptr;
}

int KindDesc::index_of(const char* key) const {
  for (size_t i = 0; i < attrs.size(); ++i)
    if (std::strcmp(attrs[i].key, key) == 0) return static_cast<int>(i);
  return -1;
}

const AttrValue* KindLink::attr(const char* key) const {
  int i = desc ? desc->index_of(key) : -1;
  return i < 0 || static_cast<size_t>(i) >= attrs.size() ? nullptr : &attrs[i];
}

uint64_t KindLink::number(const char* key) const {
  const AttrValue* v = attr(key);
  return v && v->set ? v->number : 0;
}

void KindLink::init(const KindDesc& kind) {
  desc = &kind;
  attrs.assign(kind.attrs.size(), AttrValue{});
  for (size_t i = 0; i < attrs.size(); ++i)
    if (kind.attrs[i].fallback) attrs[i].set = true, attrs[i].number = *kind.attrs[i].fallback;
}

void KindLink::set_number(const char* key, uint64_t n) {
  int i = desc ? desc->index_of(key) : -1;
  if (i < 0) return;
  attrs[i].set = attrs[i].written = true;
  attrs[i].number = n;
}

std::vector<std::pair<const KindAttr*, InfoValue>> KindLink::info() const {
  std::vector<std::pair<const KindAttr*, InfoValue>> out;
  for (size_t i = 0; desc && i < desc->attrs.size() && i < attrs.size(); ++i) {
    const KindAttr& a = desc->attrs[i];
    if (!attrs[i].set || a.type == KindAttr::Type::kLink) continue;
    if (a.only_with && !number(a.only_with)) continue;
    out.push_back({&a, InfoValue{attrs[i].number, attrs[i].ip}});
  }
  return out;
}

std::string info_text(const KindAttr& attr, const InfoValue& v) {
  switch (attr.type) {
    case KindAttr::Type::kBool: return v.number ? "on" : "off";
    case KindAttr::Type::kUser:
    case KindAttr::Type::kGroup:
      return v.number == static_cast<uint32_t>(-1) ? "none" : std::to_string(v.number);
    case KindAttr::Type::kIp: return v.ip.str();
    case KindAttr::Type::kEnum:
      for (const auto& [name, number] : attr.names)
        if (number == v.number) return name;
      return std::to_string(v.number);
    default: return std::to_string(v.number);
  }
}

std::string KindLink::lower() const {
  for (size_t i = 0; desc && i < desc->attrs.size() && i < attrs.size(); ++i)
    if (desc->attrs[i].type == KindAttr::Type::kLink && attrs[i].set) return attrs[i].text;
  return "";
}

const char* KindDesc::feature_of(const KindAttr& a) const {
  if (a.feature || !a.only_with) return a.feature;
  int i = index_of(a.only_with);
  return i < 0 ? nullptr : attrs[i].feature;
}

const KindAttr* KindDesc::parent_attr() const {
  for (const KindAttr& a : attrs)
    if (a.type == KindAttr::Type::kLink && a.parent) return &a;
  return nullptr;
}

}  // namespace vnet::topology
