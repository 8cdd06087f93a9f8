// The planner (planner.h). Three passes:
//   1. resolve: every declared link (and every veth peer) is matched with what the kernel
//      has in its namespace and gets an action: keep, create, recreate (with the reason),
//      move, or a refusal (exists, not owned);
//   2. deletes: owned links nobody declares any more, children before parents;
//   3. diff: for each link, the state it will have after the creates (predicted for new
//      links) against the declared attributes -> settings, master, VLANs, addresses, up,
//      routes. Each op carries its undo, computed from the state it replaces.
#include "plan/planner.h"

#include <linux/rtnetlink.h>
#include <netinet/in.h>

#include <algorithm>
#include <map>
#include <set>
#include <string_view>
#include <tuple>
#include <unordered_map>

namespace vnet::plan {
namespace {

using namespace vnet::topology;

enum Phase {
  kPhNetns,
  kPhDelete,
  kPhCreate,
  kPhSetLink,
  kPhMaster,
  kPhVlans,
  kPhDelRoute,
  kPhDelAddr,
  kPhAddAddr,
  kPhUp,
  kPhAddRoute,
  kPhDelNetns,
  kPhCount
};

// Where vnet's delete groups start ("vnet"): far from the small numbers people give groups.
constexpr uint32_t kDeleteGroupBase = 0x766e6574;

int kind_rank(const std::string& kind) {
  if (const KindDesc* k = kind_by_info(kind)) return k->rank;
  return 5;
}

std::string kind_word(const std::string& kind) {
  if (const KindDesc* k = kind_by_info(kind)) return k->word;  // "tun" is a tap
  if (kind.empty()) return "link";
  return kind;
}

std::string norm_ns(const std::string& ns) { return ns == kHostNetns ? "" : ns; }

std::string ns_suffix(const std::string& ns) {
  return ns.empty() ? "" : " in netns " + ns;
}

// The metric the kernel keeps for `r` (IPv6 turns 0 into its user default, 1024).
uint32_t effective_metric(const RouteState& r) {
  return r.priority == 0 ? kernel_metric(r.af(), std::nullopt) : r.priority;
}

// Whether the kernel's route `have` is the route `want` (destination, next hop, link,
// metric); the protocol aside, so a route someone added by hand is not added twice.
bool same_route(const RouteState& want, const RouteState& have) {
  return want.same_dst(have) && want.oif == have.oif && want.gateway == have.gateway &&
         effective_metric(want) == effective_metric(have);
}

std::string route_phrase(const RouteState& r) {
  return r.to_str() + " metric " + std::to_string(effective_metric(r));
}

// Why `have` cannot become `want` in place: an attribute the kernel fixes at creation
// differs (or the link it hangs on, `parent`); "" when none does.
std::string fixed_attr_change(const KindLink& want, const LinkState& have, int parent) {
  const KindDesc& k = *want.desc;
  for (const KindAttr& a : k.attrs) {
    if (a.type == KindAttr::Type::kLink && have.link != parent)
      return std::string("the kernel cannot change a ") + k.word + "'s " + (a.parent ? "parent link" : a.key);
  }
  for (const auto& [attr, value] : want.info()) {
    if (attr->in_place) continue;
    auto it = have.info.find(attr->nla);
    if (it != have.info.end() && it->second == value) continue;
    return std::string("the kernel cannot change a ") + k.word + "'s " + attr->key + " (" +
           (it == have.info.end() ? std::string("none") : info_text(*attr, it->second)) + " -> " +
           info_text(*attr, value) + ")";
  }
  return "";
}

enum class Action { kKeep, kCreate, kRecreate, kMove, kRefused };

// One declared link, flattened: the attributes every kind shares, plus pointers to the
// kind's own declaration.
struct Want {
  std::string kind;      // "bridge", "veth", "tun", a described kind's info_kind, "" ([links])
  bool existing = false;  // [links]: never created, marked or deleted
  bool is_peer = false;   // the far end of a veth
  std::string ns, name, object;
  std::optional<uint32_t> mtu;
  std::optional<Mac> mac;
  const std::vector<Cidr>* addresses = nullptr;
  std::optional<IpAddress> gateway;
  const std::vector<Route>* routes = nullptr;
  LinkLocal link_local = LinkLocal::kIpv6;
  const BridgePort* port = nullptr;
  std::string member_of;  // [links]: the bond it is a member of
  bool existing_link_local = false;  // [links]: link_local applies (model.h Link)
  bool existing_up = false;           // [links]: up = true
  bool adopt = false;
  SourceLoc loc;
  const Bridge* bridge = nullptr;
  const Veth* veth = nullptr;
  const Tap* tap = nullptr;
  const KindLink* kl = nullptr;  // a table-described kind
  size_t owner_want = 0;  // peers: index of their veth's Want

  // resolution
  Action action = Action::kCreate;
  std::string reason;
  const LinkState* cur = nullptr;  // what the kernel has under this name (or the move source)
  std::string from_ns;             // kMove: where it is now
  bool adopt_mark = false;
  int ifindex = 0;     // final ifindex (existing or planned)
  std::string parent_ns;  // kLink: namespace of the link it sits on
  int parent = 0;         // kLink: that link's ifindex (final)
  LinkState predicted;    // the state the diff starts from
};

struct Key {
  std::string ns;
  int ifindex;
  auto operator<=>(const Key&) const = default;
};

class Planner {
 public:
  Planner(const Topology& topo, const Snapshot& snap, const PlanOptions& opt)
      : topo_(topo), snap_(snap), opt_(opt), mark_(owner_mark(topo.host_name)) {}

  Plan run();

 private:
  // lookups
  const NetnsState& ns_state(const std::string& ns) const {
    static const NetnsState kEmpty{false, {}, {}};
    const NetnsState* s = snap_.find(ns);
    return s ? *s : kEmpty;
  }
  const LinkState* find(const std::string& ns, const std::string& name) const {
    auto n = by_name_.find(ns);
    if (n == by_name_.end()) return nullptr;
    auto it = n->second.find(name);
    return it == n->second.end() ? nullptr : it->second;
  }
  bool marked(const LinkState& l) const { return l.alias == mark_; }
  void index_snapshot();
  void collect_wants();
  void add_want(Want w) { wants_.push_back(std::move(w)); }
  void resolve();
  void resolve_one(size_t i);
  void resolve_peer(size_t i);
  void plan_netns();
  void plan_deletes();
  void plan_creates();
  void plan_diffs();
  void plan_netns_deletes();
  void refuse(const Want& w, std::string what) {
    Error e;
    e.what = w.object + ": " + std::move(what);
    e.loc = w.loc;
    e.exit = ExitCode::kFailed;
    refusals_.push_back(std::move(e));
  }
  int next_index() { return next_ifindex_++; }
  void emit(Phase ph, Op op) { phases_[ph].push_back(std::move(op)); }
  std::vector<Op> recreate_ops(const std::string& ns, const LinkState& l) const;
  static std::optional<Op> vlans_back(const LinkState& s, const LinkState* br, bool self);
  // The undo of a master change: back to `cur`'s master, with the VLANs it had there.
  void undo_master(Op& op, const std::string& ns, const LinkState& cur) const;
  Want* find_want(const std::string& ns, const std::string& name) {
    auto n = want_index_.find(ns);
    if (n == want_index_.end()) return nullptr;
    auto it = n->second.find(name);
    return it == n->second.end() ? nullptr : &wants_[it->second];
  }
  Want* find_parent(const Want& w, const std::string& link);
  struct WantRoute {
    RouteState route;
    SourceLoc loc;
  };
  // The routes `w` declares (its gateway first), through its final ifindex.
  static std::vector<WantRoute> declared_routes(const Want& w);
  // A route to add whose destination and metric the kernel already has for another next
  // hop or link is refused, unless that route goes in this plan.
  void refuse_route_conflicts();

  const Topology& topo_;
  const Snapshot& snap_;
  PlanOptions opt_;
  std::string mark_;
  std::vector<std::string> involved_;
  // name lookups per namespace; the views point into the snapshot and into wants_
  // (reserved up front, never reallocated after indexing)
  std::map<std::string, std::unordered_map<std::string_view, const LinkState*>> by_name_;
  std::map<Key, Key> peer_of_;    // owned veth <-> its peer, both directions
  std::set<Key> owned_peers_;     // unmarked peers of marked veths
  std::vector<Want> wants_;
  std::map<std::string, std::unordered_map<std::string_view, size_t>> want_index_;
  std::set<Key> kept_;     // existing links the plan keeps (or moves)
  std::set<Key> deleted_;  // existing links that go (explicitly or with their veth/parent)
  std::set<std::string> new_netns_;
  int next_ifindex_ = 2;
  std::vector<Op> phases_[kPhCount];
  std::vector<Error> refusals_;
  std::vector<std::string> notes_;
  struct PlannedRoute {
    std::string ns;
    RouteState route;
    const Want* want = nullptr;
    SourceLoc loc;
  };
  std::vector<PlannedRoute> going_routes_, added_routes_;
};

std::vector<Planner::WantRoute> Planner::declared_routes(const Want& w) {
  std::vector<WantRoute> out;
  auto base = [&](int family) {
    RouteState r;
    r.family = family;
    r.dst.family = family;
    r.oif = w.ifindex;
    r.proto = kRouteProtoVnet;
    return r;
  };
  if (w.gateway) {
    RouteState r = base(w.gateway->family);
    r.gateway = *w.gateway;
    out.push_back({r, w.loc});
  }
  if (w.routes) {
    for (const Route& d : *w.routes) {
      RouteState r = base(d.to.addr.family);
      r.dst = d.to.addr;
      r.dst_len = d.to.prefix;
      if (d.via) r.gateway = *d.via;
      r.priority = d.metric.value_or(0);
      out.push_back({r, d.loc});
    }
  }
  return out;
}

void Planner::refuse_route_conflicts() {
  for (const PlannedRoute& a : added_routes_) {
    for (const RouteState& h : ns_state(a.ns).routes) {
      if (!a.route.same_dst(h) || effective_metric(a.route) != effective_metric(h) ||
          same_route(a.route, h))
        continue;
      bool going = deleted_.count({a.ns, h.oif}) ||
                   std::any_of(going_routes_.begin(), going_routes_.end(), [&](const PlannedRoute& g) {
                     return g.ns == a.ns && same_route(g.route, h);
                   });
      if (going) continue;
      const LinkState* dev = ns_state(a.ns).by_index(h.oif);
      Error e;
      e.what = a.want->object + ": route to " + route_phrase(a.route) +
               ": the kernel already has one" +
               (h.gateway.family ? " via " + h.gateway.str() : std::string()) + " dev " +
               (dev ? dev->name : "#" + std::to_string(h.oif)) +
               " that vnet did not add (one route per destination and metric); remove it or "
               "give this route another metric";
      e.loc = a.loc;
      e.exit = ExitCode::kFailed;
      refusals_.push_back(std::move(e));
    }
  }
}

void Planner::index_snapshot() {
  int max_index = 1;
  for (const auto& [ns, st] : snap_.netns) {
    for (const auto& [idx, l] : st.links) {
      by_name_[ns][l.name] = &l;
      max_index = std::max(max_index, idx);
    }
  }
  next_ifindex_ = std::max(max_index + 1, opt_.first_ifindex);
  // Pair veths with their peers: same namespace by index, else a veth elsewhere whose
  // IFLA_LINK points back. Owned veths for their peers; the others so that adopt can
  // tell whether a pair is as declared.
  for (const auto& [ns, st] : snap_.netns) {
    for (const auto& [idx, l] : st.links) {
      if (l.kind != "veth" || peer_of_.count({ns, idx})) continue;
      std::optional<Key> peer;
      if (!l.link_other_netns) {
        const LinkState* p = st.by_index(l.link);
        if (p && p->kind == "veth") peer = Key{ns, p->ifindex};
      } else {
        for (const auto& [ns2, st2] : snap_.netns) {
          if (ns2 == ns) continue;
          const LinkState* p = st2.by_index(l.link);
          if (p && p->kind == "veth" && p->link == idx && p->link_other_netns) {
            peer = Key{ns2, p->ifindex};
            break;
          }
        }
      }
      if (!peer) continue;
      peer_of_[{ns, idx}] = *peer;
      peer_of_[*peer] = {ns, idx};
      const LinkState* p = ns_state(peer->ns).by_index(peer->ifindex);
      if (p && marked(l) && !marked(*p)) owned_peers_.insert(*peer);
      if (p && marked(*p) && !marked(l)) owned_peers_.insert({ns, idx});
    }
  }
}

void Planner::collect_wants() {
  wants_.reserve(topo_.bridges.size() + 2 * topo_.veths.size() + topo_.links.size() +
                 topo_.taps.size() + topo_.kind_links.size());
  if (opt_.destroy) {
    for (const Link& l : topo_.links) {
      Want w;
      w.kind = "";
      w.existing = true;
      w.ns = norm_ns(l.netns);
      w.name = l.name;
      w.object = "link " + l.name + ns_suffix(w.ns);
      w.port = l.port ? &*l.port : nullptr;
      w.member_of = l.member_of;
      w.link_local = l.link_local;
      w.existing_link_local = l.link_local_written;
      w.loc = l.loc;
      add_want(std::move(w));
    }
    return;
  }
  auto common = [](Want& w, const LinkCommon& c) {
    w.ns = norm_ns(c.netns);
    w.name = c.name;
    w.mtu = c.mtu;
    w.mac = c.mac;
    w.addresses = &c.addresses;
    w.gateway = c.gateway;
    w.routes = &c.routes;
    w.link_local = c.link_local;
    w.port = c.port ? &*c.port : nullptr;
    w.adopt = c.adopt;
    w.loc = c.loc;
  };
  for (const Bridge& b : topo_.bridges) {
    Want w;
    common(w, b);
    w.kind = b.desc->info_kind;
    w.bridge = &b;
    w.kl = &b;
    w.object = "bridge " + b.name + ns_suffix(w.ns);
    add_want(std::move(w));
  }
  for (const Veth& v : topo_.veths) {
    Want w;
    common(w, v);
    w.kind = v.desc->info_kind;
    w.veth = &v;
    w.kl = &v;
    w.object = "veth " + v.name + ns_suffix(w.ns);
    size_t owner = wants_.size();
    add_want(std::move(w));
    Want p;
    p.kind = v.desc->info_kind;
    p.is_peer = true;
    p.veth = &v;
    p.owner_want = owner;
    p.ns = norm_ns(v.peer_netns);  // resolved by the loader: "" is the target
    p.name = v.peer;
    p.object = "veth peer " + v.peer + ns_suffix(p.ns) + " (of " + v.name + ")";
    p.mtu = v.mtu;
    p.mac = v.peer_mac;
    p.addresses = &v.peer_addresses;
    p.gateway = v.peer_gateway;
    p.routes = &v.peer_routes;
    p.link_local = v.peer_link_local;
    p.loc = v.loc;
    add_want(std::move(p));
  }
  for (const Link& l : topo_.links) {
    Want w;
    common(w, l);
    w.kind = "";
    w.existing = true;
    w.member_of = l.member_of;
    w.existing_link_local = l.link_local_written || !l.member_of.empty();
    w.existing_up = l.up;
    w.object = "link " + l.name + ns_suffix(w.ns);
    add_want(std::move(w));
  }
  for (const KindLink& l : topo_.kind_links) {
    Want w;
    common(w, l);
    w.kind = l.desc->info_kind;
    w.kl = &l;
    w.object = std::string(l.desc->word) + " " + l.name + ns_suffix(w.ns);
    add_want(std::move(w));
  }
  for (const Tap& t : topo_.taps) {
    Want w;
    common(w, t);
    w.kind = t.desc->info_kind;
    w.tap = &t;
    w.kl = &t;
    w.object = "tap " + t.name + ns_suffix(w.ns);
    add_want(std::move(w));
  }
}

// A name resolves in the link's own namespace first, declared or existing (the scenario
// runner's upstream end of a [links] NIC), then among the target's declared links.
Want* Planner::find_parent(const Want& w, const std::string& link) {
  if (Want* p = find_want(w.ns, link)) return p;
  if (!w.ns.empty() && find(w.ns, link)) return nullptr;
  if (Want* p = find_want("", link)) return p;
  for (Want& p : wants_)
    if (p.name == link && !p.is_peer) return &p;
  return nullptr;
}

// The state a freshly created link will have before any setting: the diff starts here.
LinkState fresh_state(const Want& w, int ifindex) {
  LinkState s;
  s.ifindex = ifindex;
  s.name = w.name;
  s.kind = w.kind;
  if (w.mtu) s.mtu = *w.mtu;  // a bridge's by a SETLINK right after it (plan_creates)
  if (w.mac) s.mac = *w.mac;
  // a new VLAN-filtering bridge is a member of its default PVID
  if (w.bridge && w.bridge->vlan_filtering() && w.bridge->default_pvid() != 0)
    s.vlans.push_back({w.bridge->default_pvid(), true, true});
  if (w.kl)
    for (const auto& [attr, value] : w.kl->info()) s.info[attr->nla] = value;
  if (w.tap) s.tun_tap = s.tun_persist = true;
  return s;
}

void Planner::resolve_one(size_t i) {
  Want& w = wants_[i];
  const LinkState* cur = find(w.ns, w.name);
  if (w.existing) {
    if (!cur) {
      if (!opt_.destroy)
        refuse(w, "does not exist" + std::string(w.ns.empty() ? "" : " in netns " + w.ns) +
                      " ([links] names an existing link; vnet does not create it)");
      w.action = Action::kRefused;
      return;
    }
    w.action = Action::kKeep;
    w.cur = cur;
    w.ifindex = cur->ifindex;
    w.predicted = *cur;
    kept_.insert({w.ns, cur->ifindex});
    return;
  }
  // The link it sits on (a vlan's parent, a vxlan's dev): resolved first (kinds come in
  // dependency order, kinds.cc).
  std::string lower = w.kl ? w.kl->lower() : "";
  if (!lower.empty()) {
    const std::string& link = lower;
    if (Want* p = find_parent(w, link)) {
      w.parent_ns = p->ns;
      w.parent = p->ifindex;
      if (p->action == Action::kRefused) {
        w.action = Action::kRefused;
        return;
      }
      if (cur && marked(*cur) && (p->action == Action::kCreate || p->action == Action::kRecreate)) {
        w.action = Action::kRecreate;
        w.reason = "its parent " + link + " is (re)created";
      }
    } else {
      const LinkState* pl = find(w.ns, link);
      w.parent_ns = w.ns;
      if (!pl) {
        pl = find("", link);
        w.parent_ns = "";
      }
      if (!pl) {
        refuse(w, "parent link '" + link + "' does not exist");
        w.action = Action::kRefused;
        return;
      }
      w.parent = pl->ifindex;
    }
  }
  bool owned_peer_blocker =
      cur && !marked(*cur) && owned_peers_.count({w.ns, cur->ifindex}) != 0;
  if (cur && !owned_peer_blocker) {
    if (marked(*cur) || w.adopt) {
      if (cur->kind != w.kind) {
        if (!marked(*cur)) {
          refuse(w, "exists as a " + kind_word(cur->kind) + ", not a " + kind_word(w.kind) +
                        "; adopt takes over a link of the declared kind only");
          w.action = Action::kRefused;
          return;
        }
        w.action = Action::kRecreate;
        w.reason = "it is a " + kind_word(cur->kind) + ", declared a " + kind_word(w.kind);
      } else if (w.action != Action::kRecreate) {
        w.action = Action::kKeep;
        if (w.veth) {
          auto it = peer_of_.find({w.ns, cur->ifindex});
          std::string want_peer_ns = norm_ns(w.veth->peer_netns);
          if (it == peer_of_.end()) {
            w.action = Action::kRecreate;
            w.reason = "its peer is not in any namespace vnet manages";
          } else {
            const LinkState* p = ns_state(it->second.ns).by_index(it->second.ifindex);
            if (it->second.ns != want_peer_ns || !p || p->name != w.veth->peer) {
              w.action = Action::kRecreate;
              w.reason = "its peer is " + (p ? p->name : std::string("?")) +
                         (it->second.ns.empty() ? "" : " in netns " + it->second.ns) +
                         ", declared " + w.veth->peer +
                         (want_peer_ns.empty() ? "" : " in netns " + want_peer_ns);
            }
          }
        } else if (w.tap) {
          if (!cur->tun_tap) {
            w.action = Action::kRecreate;
            w.reason = "it is a tun device, declared a tap";
          }
        }
        if (w.kl && w.action != Action::kRecreate) {
          w.reason = fixed_attr_change(*w.kl, *cur, w.parent);
          if (!w.reason.empty()) w.action = Action::kRecreate;
        }
        if (w.action == Action::kRecreate && !marked(*cur)) {
          // Adopting converges attributes in place; recreating would delete a link (and
          // a veth's foreign peer with its addresses) that vnet does not own yet.
          refuse(w, "adopt cannot take it over: " + w.reason +
                        ", and only recreating it would change that; declare it as it is, "
                        "or remove it first");
          w.action = Action::kRefused;
          return;
        }
        if (w.action == Action::kKeep && !marked(*cur)) w.adopt_mark = true;
      }
    } else {
      refuse(w, "exists" + std::string(w.ns.empty() ? "" : " in netns " + w.ns) +
                    " but is not owned by " + mark_ +
                    (cur->alias.empty() ? std::string(" (no alias)")
                                        : " (alias '" + cur->alias + "')") +
                    "; set adopt = true to take it over, or remove it");
      w.action = Action::kRefused;
      return;
    }
  } else if (!cur) {
    // Not here: an owned link of this name and kind elsewhere, declared nowhere there,
    // is moved rather than recreated (not veths: their peer would have to follow).
    if (w.kind != "veth") {
      for (const std::string& ns : involved_) {
        if (ns == w.ns) continue;
        const LinkState* other = find(ns, w.name);
        if (!other || !marked(*other) || other->kind != w.kind) continue;
        if (find_want(ns, w.name)) continue;
        if (ns_state(w.ns).by_index(other->ifindex)) continue;  // index taken there
        // the attributes fixed at creation, the link it sits on included, stay the same
        if (w.kl && !fixed_attr_change(*w.kl, *other, w.parent).empty()) continue;
        w.action = Action::kMove;
        w.cur = other;
        w.from_ns = ns;
        w.ifindex = other->ifindex;
        w.predicted = *other;
        w.predicted.master = 0;
        w.predicted.up = false;
        w.predicted.addrs.clear();
        w.predicted.vlans.clear();
        w.predicted.addr_gen_mode.reset();
        kept_.insert({ns, other->ifindex});
        return;
      }
    }
  }
  if (w.action == Action::kKeep) {
    w.cur = cur;
    w.ifindex = cur->ifindex;
    w.predicted = *cur;
    kept_.insert({w.ns, cur->ifindex});
    return;
  }
  if (w.action == Action::kRecreate) w.cur = cur;
  // kCreate, or kRecreate (cur is deleted first), or blocked by an owned peer whose veth
  // goes (checked in resolve()).
  w.ifindex = next_index();
  w.predicted = fresh_state(w, w.ifindex);
}

void Planner::resolve_peer(size_t i) {
  Want& p = wants_[i];
  Want& v = wants_[p.owner_want];
  if (v.action == Action::kRefused) {
    p.action = Action::kRefused;
    return;
  }
  if (v.action == Action::kKeep) {
    auto it = peer_of_.find({v.ns, v.ifindex});
    const LinkState* cur = it == peer_of_.end()
                               ? nullptr
                               : ns_state(it->second.ns).by_index(it->second.ifindex);
    p.action = Action::kKeep;
    p.cur = cur;
    p.ifindex = cur->ifindex;
    p.predicted = *cur;
    kept_.insert({p.ns, cur->ifindex});
    return;
  }
  p.action = Action::kCreate;
  p.ifindex = next_index();
  p.predicted = fresh_state(p, p.ifindex);
  const LinkState* cur = find(p.ns, p.name);
  if (cur) {
    bool goes = marked(*cur) || owned_peers_.count({p.ns, cur->ifindex});
    if (!goes) {
      refuse(p, "name is taken" + std::string(p.ns.empty() ? "" : " in netns " + p.ns) +
                    " by a link vnet does not own" +
                    (cur->alias.empty() ? std::string("") : " (alias '" + cur->alias + "')"));
      p.action = Action::kRefused;
      v.action = Action::kRefused;
    }
  }
}

void Planner::resolve() {
  for (size_t i = 0; i < wants_.size(); ++i) want_index_[wants_[i].ns][wants_[i].name] = i;
  // Kinds in dependency order: bridges, veths (+peers), links, vlans, macvlans, the
  // described kinds (kind.h), taps. A vlan may sit on a macvlan or the other way round
  // only in declaration order.
  for (size_t i = 0; i < wants_.size(); ++i) {
    if (wants_[i].is_peer) resolve_peer(i);
    else resolve_one(i);
  }
  // A name held by the unmarked peer of an owned veth is free only if that veth goes.
  for (Want& w : wants_) {
    if (w.is_peer || w.existing || w.action == Action::kRefused || w.action == Action::kKeep ||
        w.action == Action::kMove)
      continue;
    const LinkState* cur = find(w.ns, w.name);
    if (!cur || marked(*cur)) continue;
    if (!owned_peers_.count({w.ns, cur->ifindex})) continue;
    Key veth = peer_of_[{w.ns, cur->ifindex}];
    if (kept_.count(veth)) {
      refuse(w, "name is taken by the peer of a veth that stays declared");
      w.action = Action::kRefused;
    }
  }
}

void Planner::plan_netns() {
  for (const std::string& ns : involved_) {
    if (ns.empty()) continue;
    const NetnsState* st = snap_.find(ns);
    if (opt_.destroy) continue;
    if (st && st->exists) continue;
    new_netns_.insert(ns);
    Op op;
    op.kind = OpKind::kCreateNetns;
    op.ns = ns;
    op.object = "netns " + ns;
    Op undo;
    undo.kind = OpKind::kDeleteNetns;
    undo.ns = ns;
    undo.object = op.object;
    undo.undo_ignore_missing = true;
    op.undo.push_back(undo);
    for (const Netns& n : topo_.netns)
      if (n.name == ns) op.loc = n.loc;
    emit(kPhNetns, std::move(op));
    // lo comes up in namespaces vnet makes (networkd does the same)
    Op up;
    up.kind = OpKind::kSetUp;
    up.ns = ns;
    up.ifindex = 1;
    up.ifname = "lo";
    up.object = "link lo in netns " + ns;
    up.up = true;
    emit(kPhUp, std::move(up));
  }
  // lo of namespaces vnet made earlier and the file still names
  if (!opt_.destroy) {
    for (const std::string& ns : involved_netns(topo_, nullptr)) {
      if (ns.empty() || new_netns_.count(ns) || !snap_.created_netns.count(ns)) continue;
      const NetnsState& st = ns_state(ns);
      const LinkState* lo = st.by_index(1);
      if (lo && !lo->up) {
        Op up;
        up.kind = OpKind::kSetUp;
        up.ns = ns;
        up.ifindex = 1;
        up.ifname = "lo";
        up.object = "link lo in netns " + ns;
        up.up = true;
        Op down = up;
        down.up = false;
        up.undo.push_back(down);
        emit(kPhUp, std::move(up));
      }
    }
  }
}

// What it takes to bring a deleted link back (undo of a delete): create with the same
// index and mark, then addrgenmode, master, bridge VLANs, addresses, up, default routes.
std::vector<Op> Planner::recreate_ops(const std::string& ns, const LinkState& l) const {
  std::vector<Op> ops;
  Op c;
  c.kind = OpKind::kCreateLink;
  c.ns = ns;
  c.ifname = l.name;
  c.ifindex = l.ifindex;
  c.object = kind_word(l.kind) + " " + l.name + ns_suffix(ns);
  c.spec.kind = l.kind;
  c.spec.name = l.name;
  c.spec.mtu = l.mtu ? std::optional<uint32_t>(l.mtu) : std::nullopt;
  c.spec.mac = l.mac;
  c.spec.alias = l.alias;
  c.spec.parent = l.link;
  if ((c.spec.desc = kind_by_info(l.kind))) {
    std::set<uint16_t> sent;  // keys that share an attribute (remote, group) go once
    for (const KindAttr& a : c.spec.desc->attrs) {
      auto it = l.info.find(a.nla);
      if (it == l.info.end() || a.type == KindAttr::Type::kLink || !sent.insert(a.nla).second) continue;
      if (a.only_with && !l.number(a.only_with).value_or(0)) continue;
      c.spec.info.push_back({&a, it->second});
    }
  }
  const LinkState* peer = nullptr;
  std::string peer_ns = ns;
  if (l.kind == "veth") {
    auto it = peer_of_.find({ns, l.ifindex});
    if (it != peer_of_.end()) {
      peer_ns = it->second.ns;
      peer = ns_state(peer_ns).by_index(it->second.ifindex);
    }
    c.spec.peer = peer ? peer->name : l.name + "p";
    c.spec.peer_ns = peer_ns;
    c.spec.peer_ifindex = peer ? peer->ifindex : 0;
    if (peer) c.spec.peer_mac = peer->mac;
  }
  ops.push_back(c);
  auto restore = [&](const std::string& ons, const LinkState& s) {
    Op base;
    base.ns = ons;
    base.ifindex = s.ifindex;
    base.ifname = s.name;
    base.object = kind_word(s.kind) + " " + s.name + ns_suffix(ons);
    if (s.addr_gen_mode) {
      Op o = base;
      o.kind = OpKind::kSetLink;
      o.addr_gen_mode = s.addr_gen_mode;
      ops.push_back(o);
    }
    if (s.master) {
      Op o = base;
      o.kind = OpKind::kSetMaster;
      o.master = s.master;
      ops.push_back(o);
    }
    bool self = s.kind == "bridge";
    const LinkState* br = self ? &s : s.master ? ns_state(ons).by_index(s.master) : nullptr;
    if (auto o = vlans_back(s, br, self)) {
      o->ns = base.ns;
      o->ifindex = base.ifindex;
      o->ifname = base.ifname;
      o->object = base.object;
      ops.push_back(*o);
    }
    for (const AddrState& a : s.addrs) {
      if (a.kernel_made()) continue;
      Op o = base;
      o.kind = OpKind::kAddAddress;
      o.addr = a;
      ops.push_back(o);
    }
    if (s.up) {
      Op o = base;
      o.kind = OpKind::kSetUp;
      o.up = true;
      ops.push_back(o);
    }
    // Routes through it went with it (they need the link up and its address). Those a
    // router advertisement or a redirect made expire: bringing them back would pin them.
    for (const RouteState& r : ns_state(ons).routes) {
      if (r.oif != s.ifindex || r.proto == RTPROT_RA || r.proto == RTPROT_REDIRECT) continue;
      Op o = base;
      o.kind = OpKind::kAddRoute;
      o.route = r;
      ops.push_back(o);
    }
  };
  restore(ns, l);
  if (peer) restore(peer_ns, *peer);
  // A bridge's ports that outlive it (the kernel released them) join it again, with the
  // VLANs they had.
  if (l.kind == "bridge" || l.kind == "bond")
    for (const auto& [idx, p] : ns_state(ns).links) {
      if (p.master != l.ifindex || deleted_.count({ns, idx})) continue;
      Op port;  // the port's identity, for each op below
      port.ns = ns;
      port.ifindex = idx;
      port.ifname = p.name;
      port.object = kind_word(p.kind) + " " + p.name + ns_suffix(ns);
      if (l.kind == "bond") {
        // released slaves are down (the driver closes them): enslave as the driver wants
        Op o = port;
        o.kind = OpKind::kSetUp;
        o.up = false;
        ops.push_back(o);
      }
      Op o = port;
      o.kind = OpKind::kSetMaster;
      o.master = l.ifindex;
      ops.push_back(o);
      if (auto v = vlans_back(p, &l, false)) {
        v->ns = port.ns;
        v->ifindex = port.ifindex;
        v->ifname = port.ifname;
        v->object = port.object;
        ops.push_back(*v);
      }
    }
  return ops;
}

// Enslaving a port (or creating a VLAN-filtering bridge) gives it the bridge's default
// PVID entry; putting back the VLANs `s` had on `br` means adding them and removing that
// entry if `s` did not have it.
std::optional<Op> Planner::vlans_back(const LinkState& s, const LinkState* br, bool self) {
  if (!br || !br->vlan_filtering()) return std::nullopt;
  Op o;
  o.kind = OpKind::kSetVlans;
  o.self = self;
  o.vlan_add = s.vlans;
  uint16_t dflt = br->default_pvid().value_or(1);
  bool kept = std::any_of(s.vlans.begin(), s.vlans.end(),
                          [&](const VlanEntry& v) { return v.vid == dflt; });
  if (dflt && !kept) o.vlan_del.push_back(VlanEntry{dflt, true, true});
  if (o.vlan_add.empty() && o.vlan_del.empty()) return std::nullopt;
  return o;
}

void Planner::undo_master(Op& op, const std::string& ns, const LinkState& cur) const {
  // A port of a bridge this plan deletes goes back with the bridge: the bridge's undo
  // re-creates it and re-enslaves its ports (before that, there is nothing to join).
  if (cur.master && deleted_.count({ns, cur.master})) return;
  Op back;
  back.kind = OpKind::kSetMaster;
  back.master = cur.master;
  op.undo.push_back(back);
  if (cur.master == 0) return;
  if (auto v = vlans_back(cur, ns_state(ns).by_index(cur.master), false)) op.undo.push_back(*v);
}

void Planner::plan_deletes() {
  struct Del {
    std::string ns;
    const LinkState* l;
    std::string reason;
    SourceLoc loc;
  };
  std::vector<Del> dels;
  std::set<Key> recreated;
  for (const Want& w : wants_) {
    if (w.action == Action::kRecreate && w.cur) {
      dels.push_back({w.ns, w.cur, "recreate: " + w.reason, w.loc});
      recreated.insert({w.ns, w.cur->ifindex});
    }
  }
  for (const std::string& ns : involved_) {
    for (const auto& [idx, l] : ns_state(ns).links) {
      if (!marked(l) || kept_.count({ns, idx}) || recreated.count({ns, idx})) continue;
      dels.push_back({ns, &l, opt_.destroy ? "destroy" : "no longer declared", {}});
    }
  }
  // children (vlans, macvlans on a deleted parent) and veth peers go with them
  std::set<Key> gone;
  for (const Del& d : dels) {
    gone.insert({d.ns, d.l->ifindex});
    auto it = peer_of_.find({d.ns, d.l->ifindex});
    if (it != peer_of_.end()) gone.insert(it->second);
  }
  // The kernel deletes a link's dependents with it (vlans, macvlans, vxlans: anything
  // whose IFLA_LINK is the link; veths aside, whose IFLA_LINK is their peer). Owned ones
  // that go anyway go with it; a foreign one, or one the file keeps, stops the plan.
  for (bool grew = true; grew;) {
    grew = false;
    for (const std::string& ns : involved_)
      for (const auto& [idx, l] : ns_state(ns).links) {
        if (l.kind == "veth" || l.link == 0 || l.link == idx || l.link_other_netns ||
            !gone.count({ns, l.link}) || gone.count({ns, idx}))
          continue;
        gone.insert({ns, idx});
        grew = true;
        if (marked(l) && !kept_.count({ns, idx})) continue;
        const LinkState* parent = ns_state(ns).by_index(l.link);
        Error e;
        e.what = kind_word(parent ? parent->kind : "") + " " +
                 (parent ? parent->name : std::to_string(l.link)) + ns_suffix(ns) +
                 ": deleting it would delete " + kind_word(l.kind) + " " + l.name +
                 (marked(l) ? ", which the file still declares on it"
                            : ", which vnet does not own (" +
                                  (l.alias.empty() ? std::string("no alias")
                                                   : "alias '" + l.alias + "'") +
                                  "); remove or move " + l.name + " first");
        e.exit = ExitCode::kFailed;
        refusals_.push_back(std::move(e));
      }
  }
  deleted_ = gone;
  std::stable_sort(dels.begin(), dels.end(), [](const Del& a, const Del& b) {
    return std::make_tuple(-kind_rank(a.l->kind), a.ns) < std::make_tuple(-kind_rank(b.l->kind), b.ns);
  });
  // Where a namespace loses several links, they are deleted as one IFLA_GROUP (see
  // Op::delete_group): a group number no link there is in now.
  std::map<std::string, size_t> per_ns;
  for (const Del& d : dels) ++per_ns[d.ns];
  std::map<std::string, uint32_t> group_of;
  for (const auto& [ns, n] : per_ns) {
    if (n < 2) continue;
    std::set<uint32_t> used;
    for (const auto& [idx, l] : ns_state(ns).links) used.insert(l.group);
    uint32_t g = kDeleteGroupBase;
    while (used.count(g)) ++g;
    group_of[ns] = g;
  }
  for (const Del& d : dels) {
    Op op;
    op.kind = OpKind::kDeleteLink;
    if (auto it = group_of.find(d.ns); it != group_of.end()) {
      op.delete_group = it->second;
      op.old_group = d.l->group;
    }
    op.ns = d.ns;
    op.ifindex = d.l->ifindex;
    op.ifname = d.l->name;
    op.object = kind_word(d.l->kind) + " " + d.l->name + ns_suffix(d.ns);
    op.reason = d.reason;
    op.loc = d.loc;
    op.undo = recreate_ops(d.ns, *d.l);
    emit(kPhDelete, std::move(op));
  }
}

// An op of `kind` on the link `w` stands for, in its namespace.
Op op_on(const Want& w, OpKind kind) {
  Op op;
  op.kind = kind;
  op.ns = w.ns;
  op.ifindex = w.ifindex;
  op.ifname = w.name;
  op.object = w.object;
  op.loc = w.loc;
  return op;
}

void Planner::plan_creates() {
  std::vector<const Want*> creates;
  for (const Want& w : wants_)
    if (!w.is_peer && !w.existing &&
        (w.action == Action::kCreate || w.action == Action::kRecreate || w.action == Action::kMove))
      creates.push_back(&w);
  // links on a parent are created in the parent's namespace (then moved), so sort by the
  // namespace the op runs in
  auto run_ns = [](const Want* w) {
    if (w->action == Action::kMove) return w->from_ns;
    if (w->parent) return w->parent_ns;
    return w->ns;
  };
  std::stable_sort(creates.begin(), creates.end(), [&](const Want* a, const Want* b) {
    return std::make_tuple(kind_rank(a->kind), run_ns(a)) <
           std::make_tuple(kind_rank(b->kind), run_ns(b));
  });
  for (const Want* wp : creates) {
    const Want& w = *wp;
    Op op;
    op.ifname = w.name;
    op.ifindex = w.ifindex;
    op.object = w.object;
    op.loc = w.loc;
    op.reason = w.action == Action::kRecreate ? "recreate: " + w.reason : "";
    if (w.action == Action::kMove) {
      op.kind = OpKind::kMoveLink;
      op.ns = w.from_ns;
      op.object = kind_word(w.kind) + " " + w.name + ns_suffix(w.from_ns);
      op.to_ns = w.ns;
      op.reason = "declared in " + (w.ns.empty() ? std::string("the target namespace") : "netns " + w.ns);
      Op back;
      back.kind = OpKind::kMoveLink;
      back.ns = w.ns;
      back.to_ns = w.from_ns;
      back.ifindex = w.ifindex;
      back.ifname = w.name;
      back.object = w.object;
      op.undo.push_back(back);
      emit(kPhCreate, std::move(op));
      continue;
    }
    // A kept link this one sits on, whose MTU rises in this plan: first, because the
    // kernel refuses a vlan or macvlan above its lower link's MTU (EINVAL), and one
    // without `mtu` inherits the lower link's at creation, as under networkd.
    if (w.kl && w.parent) {
      Want* p = find_parent(w, w.kl->lower());
      if (p && p->mtu && p->action == Action::kKeep && p->predicted.mtu < *p->mtu) {
        Op mtu = op_on(*p, OpKind::kSetLink);
        mtu.mtu = *p->mtu;
        Op undo = mtu;
        undo.mtu = p->predicted.mtu;
        mtu.undo.push_back(undo);
        p->predicted.mtu = *p->mtu;  // plan_diffs finds it done
        emit(kPhCreate, std::move(mtu));
      }
    }
    op.kind = OpKind::kCreateLink;
    op.ns = run_ns(&w);
    LinkSpec& s = op.spec;
    s.kind = w.kind;
    s.name = w.name;
    if (!w.bridge) s.mtu = w.mtu;
    s.mac = w.mac;
    s.alias = mark_;
    if (w.veth) {
      const Want& p = wants_[&w - wants_.data() + 1];
      s.peer = p.name;
      s.peer_ns = p.ns;
      s.peer_ifindex = p.ifindex;
      s.peer_mac = p.mac;
    }
    if (w.kl) {
      s.desc = w.kl->desc;
      s.info = w.kl->info();
    }
    if (w.kl && w.parent) {
      s.parent = w.parent;
      if (w.ns != w.parent_ns) {
        s.has_dest = true;
        s.dest_ns = w.ns;
      }
    }
    if (w.tap) {
      s.owner_name = w.tap->owner_name();
      s.group_name = w.tap->group_name();
    }
    Op del;
    del.kind = OpKind::kDeleteLink;
    del.ns = w.ns;
    del.ifindex = w.ifindex;
    del.ifname = w.name;
    del.object = w.object;
    del.undo_ignore_missing = true;
    op.undo.push_back(del);
    if (s.has_dest) {
      del.ns = op.ns;  // the move may not have happened
      op.undo.push_back(del);
    }
    emit(kPhCreate, std::move(op));
    // A bridge's MTU goes through a SETLINK: only then does the kernel keep it when ports
    // join (it lowers an MTU the user did not set to the smallest port's). It comes right
    // after the create, before the links stacked on the bridge are made: they inherit it
    // (as under networkd, which creates them once the bridge is configured), and one
    // declared with the bridge's MTU is refused (EINVAL) while the bridge is below it.
    if (w.bridge && w.mtu) {
      Op mtu = op_on(w, OpKind::kSetLink);
      mtu.mtu = *w.mtu;  // no undo of its own: the create's undo deletes the bridge
      emit(kPhCreate, std::move(mtu));
    }
  }
  for (const Want& w : wants_) {
    if (!w.adopt_mark) continue;
    Op op = op_on(w, OpKind::kMark);
    op.alias = mark_;
    op.reason = "adopt";
    Op undo = op;
    undo.alias = w.cur->alias;
    undo.reason.clear();
    op.undo.push_back(undo);
    emit(kPhCreate, std::move(op));
  }
}

void Planner::plan_diffs() {
  // bridges by (ns, name) -> their Want, for masters and VLANs
  for (Want& w : wants_) {
    if (w.action == Action::kRefused) continue;
    bool manage = !w.existing;  // owned or adopted: attributes not declared are ours too
    // ops start empty and get the link's identity when emitted: most links need none,
    // and copying an Op per link per attribute showed in the no-op profile
    auto emit = [&](Phase ph, Op op) {
      auto fill = [&](Op& o) {
        o.ns = w.ns;
        o.ifindex = w.ifindex;
        o.ifname = w.name;
        o.object = w.object;
        if (!o.loc.known()) o.loc = w.loc;
      };
      fill(op);
      for (Op& u : op.undo) fill(u);
      this->emit(ph, std::move(op));
    };
    LinkState& cur = w.predicted;

    if (opt_.destroy) {
      // [links]: released from the bridge (unless that bridge is deleted, which releases
      // it anyway), left up
      if (w.existing && w.port && cur.master && !deleted_.count({w.ns, cur.master}) &&
          ns_state(w.ns).by_index(cur.master) &&
          ns_state(w.ns).by_index(cur.master)->name == w.port->bridge) {
        Op op;
        op.kind = OpKind::kSetMaster;
        op.master = 0;
        undo_master(op, w.ns, cur);
        emit(kPhMaster, std::move(op));
      }
      // a bond member: the driver closes it when its bond goes; it was up, so up again
      if (!w.member_of.empty() && cur.master && deleted_.count({w.ns, cur.master}) && cur.up) {
        Op op;
        op.kind = OpKind::kSetUp;
        op.up = true;
        emit(kPhUp, std::move(op));
      }
      // and it gets back the kernel's IPv6 link-local mode, which vnet turned off when it
      // enslaved it (unless the file asks for none)
      if (!w.member_of.empty() && cur.master && deleted_.count({w.ns, cur.master}) &&
          !w.existing_link_local && cur.addr_gen_mode && *cur.addr_gen_mode == kAddrGenNone) {
        Op op;
        op.kind = OpKind::kSetLink;
        op.addr_gen_mode = kAddrGenEui64;
        Op undo;
        undo.kind = OpKind::kSetLink;
        undo.addr_gen_mode = kAddrGenNone;
        op.undo.push_back(undo);
        emit(kPhSetLink, std::move(op));
      }
      continue;
    }

    // settings
    {
      Op op;
      op.kind = OpKind::kSetLink;
      Op undo;
      undo.kind = OpKind::kSetLink;
      bool any = false;
      if (w.mtu && cur.mtu != *w.mtu) {
        op.mtu = *w.mtu;
        // a link this plan creates has no MTU to go back to: deleting it is its undo
        if (cur.mtu) undo.mtu = cur.mtu;
        any = true;
      }
      if (w.mac && !w.existing && cur.mac != *w.mac) {
        op.mac = *w.mac;
        undo.mac = cur.mac;
        any = true;
      }
      // Below IPv6's minimum MTU the kernel has IPv6 off on the link (nothing to
      // autoconfigure) and refuses the mode with EAFNOSUPPORT: leave it alone there.
      uint32_t final_mtu = w.mtu ? *w.mtu : cur.mtu;
      bool ipv6_on = final_mtu == 0 || final_mtu >= kIpv6MinMtu;
      if ((manage || w.existing_link_local) && ipv6_on) {
        uint8_t want_mode = w.link_local == LinkLocal::kNone ? kAddrGenNone : kAddrGenEui64;
        bool is_none = cur.addr_gen_mode && *cur.addr_gen_mode == kAddrGenNone;
        if ((want_mode == kAddrGenNone) != is_none) {
          op.addr_gen_mode = want_mode;
          // a link whose IPv6 was off had no mode: the undo has none to put back
          if (cur.addr_gen_mode) undo.addr_gen_mode = *cur.addr_gen_mode;
          any = true;
        }
      }
      if (w.kl && !w.kl->desc->tun_device) {  // a tap's: kSetTap below
        for (const auto& [attr, value] : w.kl->info()) {
          if (!attr->in_place) continue;
          std::optional<InfoValue> have = cur.attr(*attr);
          if (have && *have == value) continue;
          op.desc = undo.desc = w.kl->desc;
          op.info.push_back({attr, value});
          if (have) undo.info.push_back({attr, *have});
          any = true;
        }
      }
      if (any) {
        op.undo.push_back(undo);
        emit(kPhSetLink, std::move(op));
      }
    }
    if (w.tap && (w.action == Action::kKeep || w.action == Action::kMove)) {
      std::optional<uint64_t> cur_owner = cur.number("owner"), cur_group = cur.number("group");
      bool own = w.tap->owner() && cur_owner != w.tap->owner();
      bool grp = w.tap->group() && cur_group != w.tap->group();
      if (own || grp) {
        Op op;
        op.kind = OpKind::kSetTap;
        if (own) op.owner = w.tap->owner();
        if (grp) op.group = w.tap->group();
        op.owner_name = w.tap->owner_name();
        op.group_name = w.tap->group_name();
        Op undo;
        undo.kind = OpKind::kSetTap;
        if (own) undo.owner = static_cast<uint32_t>(cur_owner.value_or(static_cast<uint32_t>(-1)));
        if (grp) undo.group = static_cast<uint32_t>(cur_group.value_or(static_cast<uint32_t>(-1)));
        op.undo.push_back(undo);
        emit(kPhSetLink, std::move(op));
      }
    }

    // master
    const Want* bridge = nullptr;
    if (!w.member_of.empty()) {
      const Want* bond = find_want(w.ns, w.member_of);
      if (!bond || bond->action == Action::kRefused) continue;
      if (cur.master != bond->ifindex) {
        // the bonding driver refuses an up slave, and brings it up itself once enslaved
        // (down and master in one request leave it down since 6.1)
        if (cur.up) {
          Op down;
          down.kind = OpKind::kSetUp;
          down.up = false;
          Op up;
          up.kind = OpKind::kSetUp;
          up.up = true;
          down.undo.push_back(up);
          emit(kPhMaster, std::move(down));
        }
        Op op;
        op.kind = OpKind::kSetMaster;
        op.master = bond->ifindex;
        op.master_name = bond->name;
        undo_master(op, w.ns, cur);
        emit(kPhMaster, std::move(op));
        cur.master = bond->ifindex;
        cur.up = true;
      }
    } else if (w.port) {
      bridge = find_want(w.ns, w.port->bridge);
      if (!bridge || !bridge->bridge) {
        refuse(w, "bridge '" + w.port->bridge + "' is not declared" +
                      (w.ns.empty() ? "" : " in netns " + w.ns));
        continue;
      }
      if (bridge->action == Action::kRefused) continue;
      if (cur.master != bridge->ifindex) {
        Op op;
        op.kind = OpKind::kSetMaster;
        op.master = bridge->ifindex;
        op.master_name = bridge->name;
        undo_master(op, w.ns, cur);
        emit(kPhMaster, std::move(op));
        cur.master = bridge->ifindex;
        // the kernel puts a new port into the bridge's default PVID
        cur.vlans.clear();
        if (bridge->bridge->vlan_filtering() && bridge->bridge->default_pvid() != 0)
          cur.vlans.push_back({bridge->bridge->default_pvid(), true, true});
      }
    } else if (manage && cur.master != 0) {
      Op op;
      op.kind = OpKind::kSetMaster;
      op.master = 0;
      undo_master(op, w.ns, cur);
      emit(kPhMaster, std::move(op));
      cur.master = 0;
    }

    // bridge VLANs: ports, and the bridge itself
    auto vlan_diff = [&](const std::vector<VlanEntry>& want_v, bool self) {
      std::vector<VlanEntry> add, del, undo_add, undo_del;
      for (const VlanEntry& e : want_v) {
        auto it = std::find_if(cur.vlans.begin(), cur.vlans.end(),
                               [&](const VlanEntry& c) { return c.vid == e.vid; });
        if (it != cur.vlans.end() && *it == e) continue;
        add.push_back(e);
        if (it != cur.vlans.end()) undo_add.push_back(*it);
        else undo_del.push_back(e);
      }
      for (const VlanEntry& c : cur.vlans) {
        bool wanted = std::any_of(want_v.begin(), want_v.end(),
                                  [&](const VlanEntry& e) { return e.vid == c.vid; });
        if (wanted) continue;
        del.push_back(c);
        undo_add.push_back(c);
      }
      if (add.empty() && del.empty()) return;
      Op op;
      op.kind = OpKind::kSetVlans;
      op.self = self;
      op.vlan_add = add;
      op.vlan_del = del;
      Op undo;
      undo.kind = OpKind::kSetVlans;
      undo.self = self;
      undo.vlan_add = undo_add;
      undo.vlan_del = undo_del;
      op.undo.push_back(undo);
      emit(kPhVlans, std::move(op));
    };
    if (w.bridge && w.bridge->vlan_filtering()) vlan_diff(desired_self_vlans(topo_, *w.bridge), true);
    if (w.port && bridge && bridge->bridge->vlan_filtering())
      vlan_diff(desired_port_vlans(*bridge->bridge, *w.port), false);

    // routes (deletes first), addresses
    const NetnsState& st = ns_state(w.ns);
    bool exists_now = w.action == Action::kKeep;
    std::vector<WantRoute> want_routes = declared_routes(w);
    auto is_declared = [&](const RouteState& r) {
      return std::any_of(want_routes.begin(), want_routes.end(), [&](const WantRoute& d) {
        return same_route(d.route, r);
      });
    };
    if (exists_now) {
      // Only routes vnet added (its protocol) are vnet's to remove.
      for (const RouteState& r : st.routes) {
        if (r.oif != w.ifindex || r.proto != kRouteProtoVnet || is_declared(r)) continue;
        Op op;
        op.kind = OpKind::kDelRoute;
        op.route = r;
        Op undo;
        undo.kind = OpKind::kAddRoute;
        undo.route = r;
        op.undo.push_back(undo);
        going_routes_.push_back({w.ns, r, &w, {}});
        emit(kPhDelRoute, std::move(op));
      }
    }
    const std::vector<Cidr> none;
    const std::vector<Cidr>& want_addrs = w.addresses ? *w.addresses : none;
    // Link-scope addresses are the kernel's own (IPv6 autoconfiguration) unless declared
    // or added by vnet (its IFA_PROTO): a declared fe80::1/64 converges like any
    // address, and goes when the file drops it; the kernel's are left alone.
    auto declared = [&](const AddrState& a) {
      return std::any_of(want_addrs.begin(), want_addrs.end(), [&](const Cidr& c) {
        return c.addr == a.addr && c.prefix == a.prefix;
      });
    };
    std::vector<AddrState> have;
    for (const AddrState& a : cur.addrs)
      if (!a.kernel_made() || declared(a)) have.push_back(a);
    if (manage) {
      for (const AddrState& a : have) {
        if (declared(a)) continue;
        Op op;
        op.kind = OpKind::kDelAddress;
        op.addr = a;
        Op undo;
        undo.kind = OpKind::kAddAddress;
        undo.addr = a;
        op.undo.push_back(undo);
        emit(kPhDelAddr, std::move(op));
      }
    }
    for (const Cidr& c : want_addrs) {
      AddrState a{c.addr, c.prefix, 0};
      if (std::find(have.begin(), have.end(), a) != have.end()) continue;
      Op op;
      op.kind = OpKind::kAddAddress;
      op.addr = a;
      op.loc = c.loc.known() ? c.loc : w.loc;
      Op undo;
      undo.kind = OpKind::kDelAddress;
      undo.addr = a;
      undo.undo_ignore_missing = true;
      op.undo.push_back(undo);
      emit(kPhAddAddr, std::move(op));
    }
    // up
    if ((manage || w.existing_up) && !cur.up) {
      Op op;
      op.kind = OpKind::kSetUp;
      op.up = true;
      if (w.action == Action::kKeep) {
        Op undo;
        undo.kind = OpKind::kSetUp;
        undo.up = false;
        op.undo.push_back(undo);
      }
      emit(kPhUp, std::move(op));
    }
    for (const WantRoute& want : want_routes) {
      const RouteState& r = want.route;
      const SourceLoc& loc = want.loc;
      bool present = exists_now && std::any_of(st.routes.begin(), st.routes.end(),
                                               [&](const RouteState& h) { return same_route(r, h); });
      if (present) continue;
      Op op;
      op.kind = OpKind::kAddRoute;
      op.route = r;
      op.loc = loc;
      Op undo;
      undo.kind = OpKind::kDelRoute;
      undo.route = r;
      undo.undo_ignore_missing = true;
      op.undo.push_back(undo);
      added_routes_.push_back({w.ns, r, &w, loc});
      emit(kPhAddRoute, std::move(op));
    }
  }
  refuse_route_conflicts();
}

void Planner::plan_netns_deletes() {
  std::set<std::string> referenced;
  if (!opt_.destroy)
    for (const std::string& ns : involved_netns(topo_, nullptr)) referenced.insert(ns);
  std::set<Key> moved_out;
  for (const Want& w : wants_)
    if (w.action == Action::kMove) moved_out.insert({w.from_ns, w.ifindex});
  for (const std::string& ns : snap_.created_netns) {
    if (ns.empty() || referenced.count(ns)) continue;
    const NetnsState* st = snap_.find(ns);
    if (!st || !st->exists) continue;
    std::string foreign;
    for (const auto& [idx, l] : st->links) {
      if (idx == 1 && l.name == "lo") continue;
      if (deleted_.count({ns, idx}) || moved_out.count({ns, idx})) continue;
      foreign = l.name;
      break;
    }
    if (!foreign.empty()) {
      notes_.push_back("netns " + ns + " kept: link " + foreign +
                       " in it is not owned by " + mark_);
      continue;
    }
    Op op;
    op.kind = OpKind::kDeleteNetns;
    op.ns = ns;
    op.object = "netns " + ns;
    op.reason = opt_.destroy ? "destroy" : "no longer referenced";
    Op undo;
    undo.kind = OpKind::kCreateNetns;
    undo.ns = ns;
    undo.object = op.object;
    op.undo.push_back(undo);
    emit(kPhDelNetns, std::move(op));
  }
}

Plan Planner::run() {
  involved_ = involved_netns(topo_, &snap_);
  index_snapshot();
  collect_wants();
  resolve();
  plan_netns();
  plan_deletes();
  plan_creates();
  plan_diffs();
  plan_netns_deletes();
  Plan plan;
  for (int ph = 0; ph < kPhCount; ++ph) {
    std::vector<Op>& ops = phases_[ph];
    // group by namespace so the executor batches; creates and deletes keep their
    // dependency order (sorted already)
    if (ph != kPhCreate && ph != kPhDelete)
      std::stable_sort(ops.begin(), ops.end(),
                       [](const Op& a, const Op& b) { return a.ns < b.ns; });
    if (ph == kPhVlans)  // bridges' own VLANs before their ports'
      std::stable_sort(ops.begin(), ops.end(), [](const Op& a, const Op& b) {
        return std::make_tuple(a.ns, !a.self) < std::make_tuple(b.ns, !b.self);
      });
    for (Op& op : ops) plan.ops.push_back(std::move(op));
  }
  plan.refusals = std::move(refusals_);
  plan.notes = std::move(notes_);
  return plan;
}

}  // namespace

std::vector<std::string> involved_netns(const Topology& want, const Snapshot* have) {
  std::vector<std::string> out{""};
  auto add = [&](const std::string& raw) {
    std::string ns = norm_ns(raw);
    if (std::find(out.begin(), out.end(), ns) == out.end()) out.push_back(ns);
  };
  for (const Netns& n : want.netns) add(n.name);
  for (const Bridge& b : want.bridges) add(b.netns);
  for (const Veth& v : want.veths) {
    add(v.netns);
    add(v.peer_netns);
  }
  for (const Tap& t : want.taps) add(t.netns);
  for (const KindLink& l : want.kind_links) add(l.netns);
  if (have)
    for (const std::string& ns : have->created_netns) add(ns);
  return out;
}

Plan make_plan(const Topology& want, const Snapshot& have, const PlanOptions& options) {
  return Planner(want, have, options).run();
}

}  // namespace vnet::plan
