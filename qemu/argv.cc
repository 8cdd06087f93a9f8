#include "qemu/argv.h"

#include <arpa/inet.h>

#include <charconv>

#include "base/text.h"

namespace vnet::qemu {
namespace {

using topology::Guest;
using topology::GuestNic;

tl::unexpected<Error> bad(std::string what, const SourceLoc& loc) {
  Error e{0, std::move(what), {}, {}, ExitCode::kBadInput};
  if (loc.known()) e.loc = loc;
  return tl::unexpected(e);
}

bool parse_port(std::string_view s) {
  unsigned v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  return ec == std::errc() && end == s.data() + s.size() && v >= 1 && v <= 65535;
}

// "[ADDR]:PORT" with ADDR IPv4 or empty (QEMU 7.2's slirp takes IPv4 here only).
bool parse_endpoint(std::string_view s) {
  size_t colon = s.rfind(':');
  if (colon == std::string_view::npos) return false;
  std::string addr(s.substr(0, colon));
  in_addr a{};
  if (!addr.empty() && inet_pton(AF_INET, addr.c_str(), &a) != 1) return false;
  return parse_port(s.substr(colon + 1));
}

std::string nic_what(const Guest& g, size_t i) {
  return "guest '" + g.name + "' NIC #" + std::to_string(i);
}

}  // namespace

topology::Mac nic_mac(const Guest& guest, size_t index) {
  if (index < guest.nics.size() && guest.nics[index].mac) return *guest.nics[index].mac;
  // FNV-1a 64: tiny, and its value is fixed by definition (std::hash is not).
  uint64_t h = 0xcbf29ce484222325ull;
  for (char c : guest.name + "/" + std::to_string(index)) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ull;
  }
  topology::Mac m;
  m.bytes = {0x52, 0x54, 0x00, uint8_t(h >> 16), uint8_t(h >> 8), uint8_t(h)};
  return m;
}

Status check_hostfwd(const std::string& rule) {
  auto wrong = [&] {
    return fail("hostfwd '" + rule +
                    "' is not tcp|udp:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT "
                    "(e.g. \"tcp:127.0.0.1:2222-:22\"; addresses IPv4 or empty, ports 1..65535)",
                0, ExitCode::kBadInput);
  };
  std::string_view r = rule;
  if (r.starts_with("tcp:")) r.remove_prefix(4);
  else if (r.starts_with("udp:")) r.remove_prefix(4);
  else return wrong();
  size_t dash = r.find('-');
  if (dash == std::string_view::npos || r.find('-', dash + 1) != std::string_view::npos)
    return wrong();
  if (!parse_endpoint(r.substr(0, dash)) || !parse_endpoint(r.substr(dash + 1))) return wrong();
  return {};
}

Result<std::vector<std::string>> build_argv(const Guest& g, const LaunchContext& ctx) {
  if (ctx.nics.size() != g.nics.size())
    return bad("guest '" + g.name + "' has " + std::to_string(g.nics.size()) +
                   " NICs but the launch context resolves " + std::to_string(ctx.nics.size()),
               g.loc);
  if (ctx.qmp_socket.empty() || ctx.console_socket.empty())
    return bad("guest '" + g.name + "': the launch context lacks the QMP or console socket",
               g.loc);

  uint64_t mib = g.memory_bytes ? *g.memory_bytes >> 20 : kDefaultMemoryMib;
  std::vector<std::string> a = {
      ctx.qemu,
      // Only what is listed here: no default NIC, VGA, floppy or /etc/qemu config.
      "-nodefaults", "-no-user-config",
      "-name", "guest=" + qemu_escape(g.name),
      "-machine", qemu_escape(ctx.machine),
      "-accel", ctx.accel == Accel::kKvm ? "kvm" : "tcg",
      "-m", std::to_string(mib),
      "-smp", std::to_string(g.vcpus.value_or(kDefaultVcpus)),
      "-display", "none"};
  // facts.md: with KVM, QEMU's default CPU model is what hangs on some hosts; the probe
  // that chose KVM ran with `-cpu host` (vmrun), so the guest runs what was probed.
  if (ctx.accel == Accel::kKvm) a.insert(a.end(), {"-cpu", "host"});

  for (size_t i = 0; i < g.nics.size(); ++i) {
    const GuestNic& nic = g.nics[i];
    const NicContext& nc = ctx.nics[i];
    std::string id = "net" + std::to_string(i);
    std::string netdev;
    switch (nic.kind) {
      case GuestNic::Kind::kBridge:
      case GuestNic::Kind::kTap: {
        std::string tap = !nc.tap.empty()                       ? nc.tap
                          : nic.kind == GuestNic::Kind::kTap   ? nic.tap
                                                               : nic.host_name;
        if (tap.empty()) return bad(nic_what(g, i) + ": no tap name resolved", nic.loc);
        // vnet creates and configures the tap; QEMU must not run /etc/qemu-ifup.
        netdev = "tap,id=" + id + ",ifname=" + qemu_escape(tap) + ",script=no,downscript=no";
        break;
      }
      case GuestNic::Kind::kSwitch:
        if (nc.stream_socket.empty())
          return bad(nic_what(g, i) + ": no socket resolved for switch '" + nic.switch_name + "'",
                     nic.loc);
        netdev = "stream,id=" + id + ",server=off,addr.type=unix,addr.path=" +
                 qemu_escape(nc.stream_socket);
        break;
      case GuestNic::Kind::kUser: {
        netdev = "user,id=" + id;
        std::vector<std::string> rules = nic.hostfwd;
        rules.insert(rules.end(), nc.extra_hostfwd.begin(), nc.extra_hostfwd.end());
        for (const std::string& rule : rules) {
          if (auto s = check_hostfwd(rule); !s)
            return bad(nic_what(g, i) + ": " + s.error().what, nic.loc);
          netdev += ",hostfwd=" + rule;  // checked: no comma can be in it
        }
        break;
      }
    }
    a.insert(a.end(), {"-netdev", netdev, "-device",
                       "virtio-net-pci,netdev=" + id + ",mac=" + nic_mac(g, i).str()});
  }

  if (g.disk) {
    if (ctx.overlay_disk.empty())
      return bad("guest '" + g.name + "' has a disk but no overlay path was given", g.loc);
    // The root disk is the first virtio disk (vda), whatever else is attached.
    a.insert(a.end(), {"-drive", "file=" + qemu_escape(ctx.overlay_disk) +
                                     ",if=virtio,format=qcow2"});
  }
  // -kernel, -initrd and -append are plain strings to QEMU (not option lists): no escaping.
  if (!g.kernel.empty()) {
    a.insert(a.end(), {"-kernel", g.kernel});
    if (!g.initrd.empty()) a.insert(a.end(), {"-initrd", g.initrd});
    if (!g.append.empty()) a.insert(a.end(), {"-append", g.append});
  }
  if (!ctx.seed_iso.empty())
    // IDE, not virtio: the seed must not take vda from the root disk (design.md).
    a.insert(a.end(), {"-drive", "file=" + qemu_escape(ctx.seed_iso) +
                                     ",media=cdrom,if=ide,format=raw,readonly=on"});

  // The serial console: a socket `vnet guest console` attaches to while QEMU keeps
  // running (wait=off: no client needed to boot), logged to a file across restarts.
  std::string con = "socket,id=con0,path=" + qemu_escape(ctx.console_socket) +
                    ",server=on,wait=off";
  if (!ctx.console_log.empty())
    con += ",logfile=" + qemu_escape(ctx.console_log) + ",logappend=on";
  a.insert(a.end(), {"-chardev", con, "-serial", "chardev:con0"});
  // QMP through -chardev + -mon rather than `-qmp unix:PATH,...`: the path then goes
  // through the same option parser (and escaping) as every other path here.
  a.insert(a.end(), {"-chardev",
                     "socket,id=qmp0,path=" + qemu_escape(ctx.qmp_socket) + ",server=on,wait=off",
                     "-mon", "chardev=qmp0,mode=control"});
  return a;
}

}  // namespace vnet::qemu
