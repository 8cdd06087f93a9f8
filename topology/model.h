// The host.toml model (design.md, schema v1): plain structs, no TOML types. What the user
// wrote, with where they wrote it. `std::optional` means "not written": such a field is
// left alone in the kernel and compared only where declared.
//
// load() (load.h) parses and validates a file into a Topology and expands guests into
// the links they imply, so every later layer (planner, renderers, scenario runner) sees
// one flat list of links per kind, derived ones marked with the guest they came from.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/error.h"
#include "topology/kind.h"

namespace vnet::topology {

// The namespace an object lives in. Empty means the target ("host": the namespace vnet
// runs against, the current one or `--netns X`).
inline constexpr const char* kHostNetns = "host";

struct Mac {
  std::array<uint8_t, 6> bytes{};
  std::string str() const;  // "02:00:00:00:00:01"
  bool operator==(const Mac&) const = default;
};

struct IpAddress {
  int family = 0;  // AF_INET or AF_INET6
  std::array<uint8_t, 16> bytes{};
  std::string str() const;
  bool operator==(const IpAddress&) const = default;
};

// An interface address with its prefix length: "10.1.40.2/24".
struct Cidr {
  IpAddress addr;
  uint8_t prefix = 0;
  SourceLoc loc;
  std::string str() const;
  bool contains(const IpAddress& a) const;  // same family and same network
  Cidr network() const;                     // host bits cleared: "10.1.40.0/24"
  bool operator==(const Cidr& o) const { return addr == o.addr && prefix == o.prefix; }
};

// IPv6's minimum link MTU (RFC 8200): below it the kernel turns IPv6 off on the link,
// and IPv6 addresses and IFLA_INET6_ADDR_GEN_MODE are refused there.
constexpr uint32_t kIpv6MinMtu = 1280;
// The largest MTU the tun driver takes (the kernel publishes it as the tap's max_mtu).
constexpr uint32_t kMaxTapMtu = 65521;

// networkd's LinkLocalAddressing=: kIpv6 is the kernel's default (autoconfigure), kNone
// sets IFLA_INET6_ADDR_GEN_MODE=none before the link goes up.
enum class LinkLocal { kIpv6, kNone };

// Membership of a link in a bridge (design.md "VLAN semantics").
struct BridgePort {
  std::string bridge;
  std::optional<uint16_t> pvid;  // written; 0 = no native VLAN
  std::vector<uint16_t> tagged;  // sorted, unique
  SourceLoc loc;                 // of `bridge`
  SourceLoc pvid_loc, tagged_loc;
};

// One VLAN entry of a bridge port or of the bridge itself ("self"), as the kernel keeps it.
struct VlanEntry {
  uint16_t vid = 0;
  bool pvid = false;
  bool untagged = false;
  auto operator<=>(const VlanEntry&) const = default;
};

// A static route through a link, in its namespace's main table: `routes = [{ to, via,
// metric }]`. The `gateway` short form is a route to the default network with no metric.
struct Route {
  Cidr to;                         // a network address (host bits zero); /0 = default
  std::optional<IpAddress> via;    // absent: on-link (scope link)
  std::optional<uint32_t> metric;  // absent: the kernel's default (IPv4 0, IPv6 1024)
  SourceLoc loc;                   // the route's table
  SourceLoc via_loc, metric_loc;
  std::string str() const;         // "10.2.0.0/16 via 10.1.10.1 metric 100"
};

// The metric the kernel gives a route when none is asked for.
uint32_t kernel_metric(int family, std::optional<uint32_t> metric);

// Attributes every link vnet manages can carry.
struct LinkCommon {
  std::string name;
  std::string netns;  // "" = the target namespace
  std::optional<uint32_t> mtu;
  std::optional<Mac> mac;
  std::vector<Cidr> addresses;
  std::optional<IpAddress> gateway;  // default route via this address
  SourceLoc gateway_loc;
  std::vector<Route> routes;
  LinkLocal link_local = LinkLocal::kIpv6;  // resolved default (none for bridge ports)
  bool adopt = false;
  std::optional<BridgePort> port;  // enslaved to a bridge
  std::string derived_from;        // guest name when expanded from [guests], else ""
  SourceLoc loc;
};


// An existing link vnet does not create ([links]): only master, VLANs and MTU are set.
// A bond's member is one too, declared by the bond's `members` (or also under [links]).
struct Link : LinkCommon {
  std::string member_of;  // the bond it is a member (slave) of, "" when none
  SourceLoc member_loc;   // its name in the bond's `members`
  // `link_local` applies to an existing link only where written, or on a bond member
  // (default none there: the kernel autoconfigures no slave, and networkd sets none)
  bool link_local_written = false;
  bool up = false;  // `up = true`: brought up if down (ifupdown2 does so for ports)
};




// An attribute of a table-described kind as the kernel carries it (kLink aside).
struct InfoValue {
  uint64_t number = 0;
  IpAddress ip;
  bool operator==(const InfoValue&) const = default;
};
// "100", "192.0.2.1", "on", "802.3ad": for plans and messages.
std::string info_text(const KindAttr& attr, const InfoValue& v);

// One attribute of a table-described kind (kind.h), in the kind's attribute order.
struct AttrValue {
  bool set = false;     // written, or the attribute's fallback applies
  bool written = false;
  uint64_t number = 0;  // integers, booleans, enums
  IpAddress ip;         // kIp
  std::string text;     // kLink: the link's name; kEnum: the name
  SourceLoc loc;        // of the value
};

// A link of a kind described by a table ([vxlans.X], [dummies.X], ...).
struct KindLink : LinkCommon {
  const KindDesc* desc = nullptr;
  std::vector<AttrValue> attrs;  // one per desc->attrs
  std::vector<std::pair<std::string, SourceLoc>> members;  // desc->members_key, as written
  const AttrValue* attr(const char* key) const;  // nullptr when the kind has no such key
  uint64_t number(const char* key) const;        // an integer or boolean attribute; 0 unset
  // As the parser leaves a link where nothing is written: the kind, fallbacks applied.
  void init(const KindDesc& kind);
  void set_number(const char* key, uint64_t n);  // as if written (builders, importers)
  // The attributes the kernel is told (set, kLink aside), as it carries them.
  std::vector<std::pair<const KindAttr*, InfoValue>> info() const;
  // The link it is attached to (a kLink attribute), "" when none.
  std::string lower() const;
};

// [bridges.X]: its attributes are its kind's table (kinds/bridge.cc); what no table holds
// is here.
struct Bridge : KindLink {
  Bridge() { init(bridge_kind()); }
  std::vector<uint16_t> vlans;  // "self" VLANs as written, tagged
  bool vlan_filtering() const { return number("vlan_filtering") != 0; }
  uint16_t default_pvid() const { return static_cast<uint16_t>(number("default_pvid")); }  // 0: none
  bool stp() const { return number("stp") != 0; }
};

// [veths.X] (kinds/veth.cc): the pair has no table attributes; its peer is here.
struct Veth : KindLink {
  Veth() { init(veth_kind()); }
  std::string peer;
  std::string peer_netns;  // resolved: "" = the target (unwritten = the veth's own netns)
  std::vector<Cidr> peer_addresses;
  std::optional<IpAddress> peer_gateway;
  SourceLoc peer_gateway_loc;
  std::vector<Route> peer_routes;
  std::optional<Mac> peer_mac;
  LinkLocal peer_link_local = LinkLocal::kIpv6;
};

// [taps.X]: its attributes are its kind's table (kinds/tap.cc).
struct Tap : KindLink {
  Tap() { init(tap_kind()); }
  std::optional<uint32_t> owner() const { return id("owner"); }  // resolved uid
  std::optional<uint32_t> group() const { return id("group"); }  // resolved gid
  // as written ("qemu", or the number), for messages and renderers; "" unwritten
  const std::string& owner_name() const { return attr("owner")->text; }
  const std::string& group_name() const { return attr("group")->text; }
  bool multi_queue() const { return number("multi_queue") != 0; }
  bool vnet_hdr() const { return number("vnet_hdr") != 0; }

 private:
  std::optional<uint32_t> id(const char* key) const {
    const AttrValue* v = attr(key);
    return v->set ? std::optional<uint32_t>(static_cast<uint32_t>(v->number)) : std::nullopt;
  }
};

// [switches.NAME.ports.PORT]
struct SwitchPort {
  enum class Kind { kTap, kStream, kDgram, kPacket, kVdePort };
  std::string name;
  Kind kind = Kind::kVdePort;
  std::string target;  // tap/link name or socket path
  uint32_t vde_port = 0;
  std::optional<uint16_t> pvid;  // 0: no native VLAN; absent: the switch's default_vlan
                                 // when `tagged` is empty, else no native VLAN
  std::vector<uint16_t> tagged;
  std::string derived_from;
  SourceLoc loc;
};

struct Switch {
  std::string name;
  std::string socket;  // "" = default (/run/vnet/NAME or $XDG_RUNTIME_DIR/vnet/NAME)
  std::string group;
  uint32_t socket_mode = 0660;
  std::string control_group;  // who may change it over DIR/control; "" = its owner only
  uint32_t max_ports = 64;
  uint32_t fdb_max = 4096;
  uint32_t port_mac_max = 256;
  uint16_t default_vlan = 1;
  std::vector<SwitchPort> ports;
  SourceLoc loc;
};

struct GuestNic {
  enum class Kind { kBridge, kSwitch, kTap, kUser };
  Kind kind = Kind::kBridge;
  std::string bridge, switch_name, tap;
  std::optional<uint16_t> vlan;
  std::vector<uint16_t> tagged;  // trunk VLANs of the host side (sorted, unique)
  std::optional<Mac> mac;
  std::vector<Cidr> addresses;
  std::optional<IpAddress> gateway;
  std::vector<Route> routes;  // nspawn: inside the guest, through this NIC
  std::vector<std::string> hostfwd;
  std::string name;       // inside the guest (nspawn: host0, host1, ...)
  std::string host_name;  // host side link (derived unless written)
  SourceLoc loc;          // the [[guests.X.nics]] table
  // Where the NIC names what it refers to: errors about a reference point at its key.
  SourceLoc ref_loc;      // bridge, switch or tap
  SourceLoc vlan_loc, tagged_loc, gateway_loc, host_name_loc;
};

struct Guest {
  enum class Kind { kQemu, kNspawn };
  std::string name;
  Kind kind = Kind::kQemu;
  std::optional<uint64_t> memory_bytes;
  std::optional<uint32_t> vcpus;
  std::optional<uint32_t> cpu_weight;
  bool autostart = false;
  std::string kernel, initrd, append;
  struct Disk {
    std::string image;
    std::optional<uint64_t> size_bytes;
  };
  std::optional<Disk> disk;
  struct CloudInit {
    std::string hostname;
    std::vector<std::string> ssh_authorized_keys;
    std::string user_data;
  };
  std::optional<CloudInit> cloud_init;
  std::vector<std::string> debug_ssh_keys;  // qemu: the operator's own, beside the ephemeral
  std::string directory;  // nspawn
  bool boot = false;
  std::vector<std::string> command;
  // nspawn: `binds = ["/srv/data:/data"]`, `binds_ro = [...]` (systemd-nspawn's --bind
  // and --bind-ro, .nspawn's Bind= and BindReadOnly=). SOURCE alone binds the same path.
  struct Bind {
    std::string source, target;
    bool read_only = false;
    SourceLoc loc;
  };
  std::vector<Bind> binds;
  std::vector<GuestNic> nics;
  std::string netns;  // nspawn: the namespace vnet prepares ("vnet-<guest>")
  // When a scenario run counts the started guest as up (`ready = { ping = ADDR, from =
  // NS }` or `ready = { console = "TEXT" }`), within timeout_s.
  struct Ready {
    std::optional<IpAddress> ping;
    std::string from;     // a namespace of the scenario or "host" (default)
    std::string console;  // qemu: a text its serial console prints
    uint32_t timeout_s = 120;
    SourceLoc loc, from_loc;
  };
  std::optional<Ready> ready;
  SourceLoc loc;
};

// [[checks]] of a scenario file.
struct Check {
  enum class Kind { kPing, kTcp, kArping };
  enum class Expect { kReach, kBlocked };
  std::string from;  // a namespace of the scenario, "host" or "upstream"
  Kind kind = Kind::kPing;
  std::string target;  // address, or "address:port" for tcp
  IpAddress address;
  uint16_t port = 0;
  Expect expect = Expect::kReach;
  uint32_t count = 2;
  uint32_t timeout_s = 2;
  std::optional<uint32_t> mtu;
  SourceLoc loc;
  SourceLoc target_loc;  // the ping/tcp/arping value
};

struct Scenario {
  std::string name;
  std::string description;
  std::vector<std::string> requires_features;
  bool vm = false;
  std::vector<Check> checks;
  SourceLoc loc;
};

struct Netns {
  std::string name;
  bool declared = false;  // [netns.X] written, else created on first reference
  SourceLoc loc;
};

// A whole, validated host.toml. Lists keep the order of declaration (source position);
// guests are already expanded: their taps, veths and namespaces appear in the lists with
// `derived_from` set.
struct Topology {
  std::string file;
  std::string host_name;
  SourceLoc host_loc;
  std::vector<Netns> netns;  // every namespace named anywhere, except the target
  std::vector<Bridge> bridges;
  std::vector<Link> links;
  std::vector<Veth> veths;
  std::vector<Tap> taps;
  std::vector<KindLink> kind_links;  // every table-described kind, in declaration order
  std::vector<Switch> switches;
  std::vector<Guest> guests;
  std::optional<Scenario> scenario;

  const Bridge* find_bridge(const std::string& name, const std::string& netns) const;
  const Switch* find_switch(const std::string& name) const;
};

// The VLAN entries a bridge port must have, per design.md: pvid = N -> {N pvid untagged};
// tagged -> {v tagged}; neither -> {default_pvid pvid untagged} (as the kernel does); a
// bridge without vlan_filtering -> none (the kernel keeps none worth comparing).
std::vector<VlanEntry> desired_port_vlans(const Bridge& bridge, const BridgePort& port);
// The bridge's own ("self") entries: default_pvid as pvid untagged, declared `vlans` and
// every [vlans] sub-interface's id on it as tagged (tagged wins over the default PVID).
std::vector<VlanEntry> desired_self_vlans(const Topology& topo, const Bridge& bridge);

// Runs of consecutive VLAN ids with the same flags, in order, as (first entry, last id):
// how people write them ("2-4094") and how the kernel's ranges come back.
std::vector<std::pair<VlanEntry, uint16_t>> vlan_runs(const std::vector<VlanEntry>& entries);
// "10", "2-4094": one run as text.
std::string run_text(const std::pair<VlanEntry, uint16_t>& run);

const char* to_string(SwitchPort::Kind kind);

}  // namespace vnet::topology
