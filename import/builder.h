// What both importers share: a Snapshot of the one namespace the imported configuration
// describes, built link by link, and the step to host.toml through plan::show().
#pragma once

#include <map>
#include <string>
#include <vector>

#include "import/import.h"
#include "plan/show.h"
#include "plan/state.h"

namespace vnet::import {

class Builder {
 public:
  explicit Builder(ImportOptions o) : o_(std::move(o)) { snap_.netns[""]; }

  // The link of that name, created (ifindex in order of first mention) with `kind` when
  // new; an existing one keeps its kind unless it had none.
  plan::LinkState& link(const std::string& name, const std::string& kind = "");
  plan::LinkState* find(const std::string& name);
  std::map<int, plan::LinkState>& links() { return snap_.netns[""].links; }
  bool has(const std::string& name) const { return index_.count(name) != 0; }
  void remove(const std::string& name);  // a link that turned out not to be expressible

  // A described kind's attribute (kind.h) from text as host.toml or networkd write it
  // ("802.3ad", "yes", "100ms"): "" when set, else why not.
  std::string set_attr(plan::LinkState& l, const char* key, const std::string& text,
                       bool networkd_form = false);

  // An MTU as written: stated even where it is the kernel's default (show leaves 1500
  // out, but a link stacked on a 9000 bridge would otherwise inherit 9000).
  void set_mtu(plan::LinkState& l, uint32_t mtu) { extra(l.name, "mtu = " + std::to_string(mtu)); }
  void add_address(plan::LinkState& l, const topology::Cidr& c);
  void add_route(plan::LinkState& l, const topology::Route& r);
  // A default route via `text` (ifupdown's gateway, networkd's Gateway=); an error
  // naming `key` when it is not an address.
  void add_gateway(plan::LinkState& l, const std::string& text, const SourceLoc& at, const std::string& key);

  // A line in the link's table (a key show cannot derive from kernel state, or a comment).
  void extra(const std::string& link, std::string line) { extra_[link].push_back(std::move(line)); }
  void warn(const SourceLoc& at, std::string what, const std::string& link = "");
  void error(const SourceLoc& at, std::string what) { errors_.emplace_back(at, std::move(what)); }
  bool failed() const { return !errors_.empty(); }

  Result<Imported> finish(const std::string& source);

 private:
  ImportOptions o_;
  plan::Snapshot snap_;
  std::map<std::string, int> index_;
  int next_ = 2;  // 1 is lo's
  std::map<std::string, std::vector<std::string>> extra_;
  std::vector<Warning> warnings_;
  std::vector<std::string> unplaced_;  // warnings about no table of the output
  std::vector<std::pair<SourceLoc, std::string>> errors_;
};

// "10", "2-4094", "10,20 30-40": VLAN ids as ifupdown and networkd write lists; empty
// with `why` set when malformed.
std::vector<uint16_t> parse_vids(const std::string& text, std::string& why);

}  // namespace vnet::import
