// The Snapshot an importer builds, and host.toml from it through `vnet show`'s writer.
#include "import/builder.h"

#include <sys/socket.h>

#include <algorithm>
#include <charconv>
#include <cstring>

#include "topology/load.h"

namespace vnet::import {

using topology::KindAttr;

std::string Warning::str() const {
  return loc.file + (loc.line ? ":" + std::to_string(loc.line) : "") + ": warning: " + what;
}

plan::LinkState& Builder::link(const std::string& name, const std::string& kind) {
  plan::NetnsState& ns = snap_.netns[""];
  auto it = index_.find(name);
  if (it != index_.end()) {
    plan::LinkState& l = ns.links[it->second];
    if (l.kind.empty()) l.kind = kind;
    return l;
  }
  int idx = next_++;
  index_[name] = idx;
  plan::LinkState& l = ns.links[idx];
  l.ifindex = idx;
  l.name = name;
  l.kind = kind;
  l.up = true;
  if (kind == "tun") l.tun_tap = l.tun_persist = true;
  return l;
}

plan::LinkState* Builder::find(const std::string& name) {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &snap_.netns[""].links[it->second];
}

void Builder::remove(const std::string& name) {
  auto it = index_.find(name);
  if (it == index_.end()) return;
  plan::NetnsState& ns = snap_.netns[""];
  for (auto& [idx, l] : ns.links) {
    if (l.master == it->second) l.master = 0;
    if (l.link == it->second) l.link = 0;
  }
  std::erase_if(ns.routes, [&](const plan::RouteState& r) { return r.oif == it->second; });
  ns.links.erase(it->second);
  index_.erase(it);
}

namespace {

std::optional<uint64_t> number(std::string_view s) {
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

}  // namespace

std::string Builder::set_attr(plan::LinkState& l, const char* key, const std::string& text,
                              bool networkd_form) {
  const topology::KindDesc* k = topology::kind_by_info(l.kind);
  int i = k ? k->index_of(key) : -1;
  if (i < 0) return "no such attribute";
  const KindAttr& a = k->attrs[i];
  topology::InfoValue v;
  std::string t = text;
  switch (a.type) {
    case KindAttr::Type::kLink:
      l.link = link(text).ifindex;
      return "";
    case KindAttr::Type::kIp: {
      auto ip = topology::parse_ip(text);
      if (!ip) return "'" + text + "' is not an IP address";
      v.ip = *ip;
      break;
    }
    case KindAttr::Type::kBool:
      if (t == "yes" || t == "true" || t == "on" || t == "1") v.number = 1;
      else if (t == "no" || t == "false" || t == "off" || t == "0") v.number = 0;
      else return "'" + text + "' is not yes or no";
      break;
    case KindAttr::Type::kEnum: {
      auto n = std::find_if(a.names.begin(), a.names.end(), [&](const auto& p) { return t == p.first; });
      auto num = number(t);
      if (n == a.names.end() && num)
        n = std::find_if(a.names.begin(), a.names.end(), [&](const auto& p) { return *num == p.second; });
      if (n == a.names.end()) {
        std::string names;
        for (const auto& p : a.names) names += (names.empty() ? "" : ", ") + std::string(p.first);
        return "'" + text + "' is none of " + names;
      }
      v.number = n->second;
      break;
    }
    default: {
      if (networkd_form && *a.networkd_unit && t.size() > strlen(a.networkd_unit) &&
          t.ends_with(a.networkd_unit))
        t.resize(t.size() - strlen(a.networkd_unit));
      auto num = number(t);
      if (!num) return "'" + text + "' is not a number";
      if (a.hi > a.lo && (static_cast<int64_t>(*num) < a.lo || static_cast<int64_t>(*num) > a.hi))
        return "'" + text + "' is out of range " + std::to_string(a.lo) + ".." + std::to_string(a.hi);
      v.number = *num;
    }
  }
  l.info[a.nla] = v;
  return "";
}

void Builder::add_address(plan::LinkState& l, const topology::Cidr& c) {
  plan::AddrState a{c.addr, c.prefix, 0, plan::kAddrProtoVnet};
  if (std::find(l.addrs.begin(), l.addrs.end(), a) == l.addrs.end()) l.addrs.push_back(a);
}

void Builder::add_route(plan::LinkState& l, const topology::Route& r) {
  plan::RouteState s;
  s.oif = l.ifindex;
  if (r.via) s.gateway = *r.via;
  s.dst = r.to.addr;
  s.dst_len = r.to.prefix;
  s.family = r.to.addr.family;
  s.priority = topology::kernel_metric(s.family, r.metric);
  s.proto = plan::kRouteProtoVnet;
  snap_.netns[""].routes.push_back(s);
}

void Builder::add_gateway(plan::LinkState& l, const std::string& text, const SourceLoc& at,
                          const std::string& key) {
  auto gw = topology::parse_ip(text);
  if (!gw) {
    error(at, key + " '" + text + "' is not an IP address");
    return;
  }
  topology::Route r;
  r.to.addr.family = gw->family;
  r.via = *gw;
  add_route(l, r);
}

void Builder::warn(const SourceLoc& at, std::string what, const std::string& link) {
  Warning w{at, std::move(what)};
  std::string where = at.file + (at.line ? ":" + std::to_string(at.line) : "");
  if (!link.empty()) extra_[link].push_back("# not imported: " + where + ": " + w.what);
  else unplaced_.push_back(where + ": " + w.what);
  warnings_.push_back(std::move(w));
}

Result<Imported> Builder::finish(const std::string& source) {
  if (failed()) {
    std::stable_sort(errors_.begin(), errors_.end(), [](const auto& a, const auto& b) {
      return std::tie(a.first.file, a.first.line) < std::tie(b.first.file, b.first.line);
    });
    Error e;
    for (const auto& [at, what] : errors_)
      e.what += (e.what.empty() ? "" : "\n") + at.file + ":" + std::to_string(at.line) + ": error: " + what;
    e.exit = ExitCode::kBadInput;
    return tl::unexpected(e);
  }
  plan::ShowOptions so;
  so.host = o_.host;
  so.all = true;
  // a warning about a link that is not in the output goes with the others at the end
  for (auto& [name, lines] : extra_) {
    if (has(name)) {
      so.extra[name] = lines;
      continue;
    }
    for (const std::string& line : lines)
      if (line.rfind("# not imported: ", 0) == 0) unplaced_.push_back(line.substr(16));
  }
  so.header = {"Imported by `vnet import` from " + source + ". Review it, then `vnet plan`.",
               "Each \"not imported\" comment names a line of the source this file does not carry."};
  auto shown = plan::show(snap_, so);
  if (!shown) return tl::unexpected(shown.error());
  Imported out;
  out.toml = shown->toml;
  out.warnings = warnings_;
  for (const std::string& s : shown->left_out) out.warnings.push_back({SourceLoc{source, 0, 0}, s});
  if (!unplaced_.empty()) {
    out.toml += "\n# not imported:\n";
    for (const std::string& s : unplaced_) out.toml += "#   " + s + "\n";
  }
  return out;
}

std::vector<uint16_t> parse_vids(const std::string& text, std::string& why) {
  std::vector<uint16_t> out;
  std::string t = text;
  std::replace(t.begin(), t.end(), ',', ' ');
  size_t i = 0;
  while (i < t.size()) {
    while (i < t.size() && t[i] == ' ') ++i;
    size_t j = t.find(' ', i);
    if (j == std::string::npos) j = t.size();
    if (j == i) break;
    std::string item = t.substr(i, j - i);
    i = j;
    size_t dash = item.find('-');
    auto lo = number(item.substr(0, dash));
    auto hi = dash == std::string::npos ? lo : number(item.substr(dash + 1));
    if (!lo || !hi || *lo < 1 || *hi > 4094 || *lo > *hi) {
      why = "'" + item + "' is not a VLAN id 1..4094 or a range A-B of them";
      return {};
    }
    for (uint64_t v = *lo; v <= *hi; ++v) out.push_back(static_cast<uint16_t>(v));
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  if (out.empty()) why = "no VLAN ids";
  return out;
}

}  // namespace vnet::import
