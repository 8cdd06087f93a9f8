// libFuzzer target: host.toml text -> load (parse, expand, validate) -> plan against an
// empty kernel and against a recorded one (apply and destroy) -> encode every op. Bad
// input must come back as diagnostics and every plan must encode; nothing may crash,
// hang or touch memory it does not own (built with ASan/UBSan).
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "netlink/codec.h"
#include "plan/format.h"
#include "plan/planner.h"
#include "topology/load.h"

namespace {

using namespace vnet;

plan::Snapshot g_recorded;

std::vector<uint8_t> hex_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string hex;
  for (char c : ss.str())
    if (isxdigit(static_cast<unsigned char>(c))) hex += c;
  return netlink::from_hex(hex);
}

void exercise(const topology::Topology& topo, const plan::Snapshot& snap, bool destroy) {
  plan::PlanOptions po;
  po.destroy = destroy;
  plan::Plan p = plan::make_plan(topo, snap, po);
  (void)plan::plan_text(p);
  (void)plan::plan_json(p, topo.host_name);
  netlink::EncodeContext ctx;
  ctx.netns_fd = [](const std::string&) { return 3; };
  std::vector<uint8_t> out;
  uint32_t seq = 1;
  for (const plan::Op& op : p.ops) {
    netlink::encode(op, ctx, out, seq);
    for (const plan::Op& u : op.undo) netlink::encode(u, ctx, out, seq);
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // A target namespace as recorded from a real kernel (tests/netlink/testdata).
  const char* src = getenv("VNET_SOURCE_DIR");
  std::string dir = std::string(src ? src : ".") + "/tests/netlink/testdata/";
  plan::NetnsState& ns = g_recorded.netns[""];
  for (auto [file, kind] : {std::pair{"links.hex", netlink::DumpKind::kLinks},
                            std::pair{"bridge_vlans.hex", netlink::DumpKind::kBridgeVlans},
                            std::pair{"addrs.hex", netlink::DumpKind::kAddrs},
                            std::pair{"routes.hex", netlink::DumpKind::kRoutes}}) {
    auto bytes = hex_file(dir + file);
    if (bytes.empty() || !netlink::decode_dump(kind, bytes, ns)) {
      fprintf(stderr, "host_toml_fuzz: cannot read %s%s (set VNET_SOURCE_DIR)\n", dir.c_str(), file);
      abort();
    }
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  auto topo = topology::load_string(text, "fuzz.toml");
  if (!topo) {
    (void)topology::format_diagnostics(topo.error(), text);
    return 0;
  }
  for (bool destroy : {false, true}) {
    exercise(*topo, plan::Snapshot{}, destroy);
    exercise(*topo, g_recorded, destroy);
  }
  return 0;
}
