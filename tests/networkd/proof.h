// The networkd proof's harness (issue 16), shared by its kernel-tier test and the
// boot-path benchmark. For a topology, namespace set A gets the real systemd-networkd
// (one per namespace, facts.md) on the files `vnet render networkd` writes; namespace
// set B gets `vnet apply`. Then both are dumped with `ip -j -d link`, `ip -j addr`,
// `ip -j route`, `bridge -j vlan show` and compared after normalizing only what must
// differ:
//   - ifindexes, and what is made of them: peer indexes, bridge port numbers/ids
//   - MACs nobody declared (and the bridge ids made of them)
//   - link-local (fe80::/10) addresses and their routes
//   - vnet's ownership marks: the link alias "vnet:HOST" and the route protocol 0x76,
//     networkd's counterpart being proto static (docs/networkd.md says why render does
//     not copy vnet's mark)
//   - bridge timers, which run; a bond member's LACP run-time state; offload limits
//     a stacked link copies from its lower link when created
//
// What networkd does not do, the harness does, as the host would: a NIC for each [links]
// entry (a veth whose other end sits in an upstream namespace, up; where the file names
// "upstream", there under the NIC's name, with the file's vlans on it, as the scenario
// runner makes them); the namespaces
// with lo up and, for a veth between namespaces, the pair (vnet apply or the container
// manager makes it; docs/networkd.md); /dev/net/tun mode 0666 (udev's, which does not
// run in the test kernel). Root only, inside `vnet vm-run` (bridge VLAN filtering).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "tests/common/process.h"
#include "topology/model.h"

namespace vnet::networkd::proof {

bool have_vlan_filtering();

// The declared MACs: kept in the comparison; every other MAC is the kernel's random one.
std::set<std::string> declared_macs(const topology::Topology& t);

// One namespace's state as comparable text, one line per fact.
// `zero_pvid`: bridges the renderer made with DefaultPVID=none (it says so in a note):
// the one documented difference under systemd 252, checked where it is and nowhere else.
std::string state(const std::string& ns, const std::set<std::string>& macs,
                  const std::map<std::string, int>& zero_pvid = {});

// Per fact, only what differs: the keys of a link that differ, facts on one side only.
std::string differences(const std::string& a, const std::string& b);

// One topology built twice, A by networkd and B by vnet apply. B's namespaces other than
// its target have the file's own names, so one Run at a time.
class Run {
 public:
  Run(std::string file, std::string vnet_binary, topology::Topology topology);
  ~Run();  // stops the networkds, deletes every namespace it made
  Run(const Run&) = delete;
  Run& operator=(const Run&) = delete;

  // A and B, their NICs and A's copies of the file's namespaces; "" or what failed.
  std::string prepare();
  // Renders the files for each of A's namespaces and starts a networkd in each.
  std::string start_networkd();
  // What vnet-netns@.service does on a host (docs/networkd.md): `vnet apply` of each
  // namespace part render wrote into A, retried like the unit's Restart=on-failure until
  // networkd has made the lower links, at most `limit`. "" or what failed. A's copies of
  // the file's namespaces have other names (pa-NS), so the part's netns keys are mapped
  // to them first, as prepare() maps the namespaces themselves.
  std::string apply_parts(std::chrono::milliseconds limit);
  int parts() const { return static_cast<int>(parts_.size()); }
  testing::RunResult apply();  // vnet apply of the file into B
  // Polls A until it equals B (read once: nothing changes B after apply), at most
  // `limit`: whether they became equal.
  bool wait_equal(std::chrono::milliseconds limit,
                  std::chrono::milliseconds poll = std::chrono::milliseconds(500));
  struct View {
    std::string name;  // "" = the target namespace
    std::string a, b;  // states
  };
  std::vector<View> states() const;
  std::string a_state(const std::string& view) const;
  std::string b_state(const std::string& view) const;
  // Stops the networkds; the lines of their logs that say something went wrong
  // ("Unknown key", "ignoring", "Failed").
  std::vector<std::string> log_problems();

 private:
  std::string a_of(const std::string& ns) const;
  std::string b_of(const std::string& ns) const;
  std::string add_ns(const std::string& name);
  std::string make_upstream(const std::string& ns);

  std::string file_, vnet_;
  topology::Topology t_;
  std::filesystem::path dir_;
  std::string a_ = "pa", b_ = "pb";
  std::vector<std::string> views_;
  std::set<std::string> macs_;
  std::map<std::string, std::map<std::string, int>> zero_pvid_;  // per view
  std::vector<std::string> made_, b_named_;
  std::vector<pid_t> networkds_;
  std::vector<std::pair<std::string, std::filesystem::path>> parts_;  // view, part file
  bool upstream_ = false;  // the file's "upstream" is the scenario runner's (prepare)
};

}  // namespace vnet::networkd::proof
