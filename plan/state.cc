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
