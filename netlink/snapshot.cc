#include "netlink/snapshot.h"

#include <algorithm>

namespace vnet::netlink {

Result<plan::NetnsState> read_netns(Transport& t, bool vlans) {
  std::vector<std::vector<uint8_t>> reqs;
  std::vector<DumpKind> kinds;
  uint32_t seq = 1;
  for (DumpKind k : kAllDumps) {
    if (k == DumpKind::kBridgeVlans && !vlans) continue;
    kinds.push_back(k);
    reqs.push_back(dump_request(k, seq++));
  }
  auto replies = t.dump(reqs);
  if (!replies) return tl::unexpected(replies.error());
  plan::NetnsState st;
  size_t i = 0;
  for (DumpKind k : kinds) {
    for (const std::vector<uint8_t>& chunk : (*replies)[i]) {
      auto s = decode_dump(k, chunk, st);
      if (!s) return tl::unexpected(s.error());
    }
    ++i;
  }
  // A VLAN-filtering bridge the file does not declare (one being removed, say) still has
  // its VLANs and its ports' read: undoing the removal puts them back.
  bool filtering = std::any_of(st.links.begin(), st.links.end(), [](const auto& kv) {
    return kv.second.vlan_filtering();
  });
  if (!vlans && filtering) {
    auto more = t.dump({dump_request(DumpKind::kBridgeVlans, seq++)});
    if (!more) return tl::unexpected(more.error());
    for (const std::vector<uint8_t>& chunk : (*more)[0])
      if (auto s = decode_dump(DumpKind::kBridgeVlans, chunk, st); !s)
        return tl::unexpected(s.error());
  }
  return st;
}

Result<plan::Snapshot> read_snapshot(Kernel& kernel, const std::vector<std::string>& namespaces,
                                     const std::set<std::string>* vlan_netns,
                                     std::optional<plan::NetnsState> target) {
  plan::Snapshot snap;
  for (const std::string& ns : namespaces) {
    if (ns.empty() && target) {
      // read without the bridge VLAN dump, which read_netns adds by itself wherever a
      // VLAN-filtering bridge exists: the only bridges whose VLANs matter
      snap.netns[ns] = std::move(*target);
      continue;
    }
    if (!kernel.netns_exists(ns)) {
      snap.netns[ns].exists = false;
      continue;
    }
    auto t = kernel.transport(ns);
    if (!t) {
      Error e = t.error();
      e.exit = ExitCode::kEnvironment;
      return tl::unexpected(e.context("read netns " + (ns.empty() ? std::string("(target)") : ns)));
    }
    auto st = read_netns(**t, !vlan_netns || vlan_netns->count(ns));
    if (!st) {
      Error e = st.error();
      e.exit = ExitCode::kEnvironment;
      return tl::unexpected(e);
    }
    snap.netns[ns] = std::move(*st);
  }
  return snap;
}

}  // namespace vnet::netlink
