#include "plan/state.h"

#include <sys/socket.h>

namespace vnet::plan {

const LinkState* NetnsState::by_name(const std::string& name) const {
  for (const auto& [idx, l] : links)
    if (l.name == name) return &l;
  return nullptr;
}

const LinkState* NetnsState::by_index(int ifindex) const {
  auto it = links.find(ifindex);
  return it == links.end() ? nullptr : &it->second;
}

std::optional<topology::InfoValue> LinkState::attr(const topology::KindAttr& a) const {
  auto it = info.find(a.nla);
  if (it != info.end()) return it->second;
  if (a.feature) return topology::InfoValue{};
  return std::nullopt;
}

std::optional<uint64_t> LinkState::number(const char* key) const {
  const topology::KindDesc* k = topology::kind_by_info(kind);
  int i = k ? k->index_of(key) : -1;
  if (i < 0) return std::nullopt;
  auto v = attr(k->attrs[i]);
  return v ? std::optional<uint64_t>(v->number) : std::nullopt;
}

void LinkState::set_number(const char* key, uint64_t n) {
  const topology::KindDesc* k = topology::kind_by_info(kind);
  int i = k ? k->index_of(key) : -1;
  if (i >= 0) info[k->attrs[i].nla].number = n;
}

std::string RouteState::to_str() const {
  if (dst_len == 0) return af() == AF_INET6 ? "::/0" : "0.0.0.0/0";
  return dst.str() + "/" + std::to_string(dst_len);
}

const NetnsState* Snapshot::find(const std::string& ns) const {
  auto it = netns.find(ns);
  return it == netns.end() ? nullptr : &it->second;
}

std::string owner_mark(const std::string& host_name) { return "vnet:" + host_name; }

}  // namespace vnet::plan
