#include "netlink/executor.h"

#include <cerrno>
#include <cstring>
#include <map>
#include <set>

#include "netlink/codec.h"

namespace vnet::netlink {
namespace {

using plan::Op;
using plan::OpKind;

bool is_tap_create(const Op& op) { return op.kind == OpKind::kCreateLink && op.spec.kind == "tun"; }

bool netlink_only(const Op& op) {
  return op.kind != OpKind::kCreateNetns && op.kind != OpKind::kDeleteNetns &&
         op.kind != OpKind::kSetTap && !is_tap_create(op);
}

struct OpResult {
  bool first_failed = false;  // the op's first request failed (a create that did not happen)
  bool any_ok = false;
  bool failed = false;
  int err = 0;
  std::string msg;
};

uint32_t grouped_delete(const Op& op) { return op.kind == OpKind::kDeleteLink ? op.delete_group : 0; }

bool missing_error(int err) {
  return err == ENODEV || err == ENOENT || err == ESRCH || err == EADDRNOTAVAIL;
}

class Executor {
 public:
  Executor(Kernel& k) : k_(k) {
    ctx_.ifindex = [this](int planned) {
      auto it = remap_.find(planned);
      return it == remap_.end() ? planned : it->second;
    };
    ctx_.netns_fd = [this](const std::string& ns) {
      auto fd = k_.netns_fd(ns);
      return fd ? *fd : -1;
    };
  }

  // Runs ops[i] for i in `idx` (all in one namespace, all netlink) as one batch.
  void run_group(const std::vector<const Op*>& ops, std::vector<OpResult*> res) {
    std::vector<uint8_t> buf;
    uint32_t seq = next_seq_;
    std::vector<std::pair<uint32_t, size_t>> ranges;  // first seq, count
    // seq of each group RTM_DELLINK -> the ops whose links joined that group
    std::map<uint32_t, std::vector<size_t>> group_deletes;
    std::vector<size_t> joining;
    for (size_t i = 0; i < ops.size(); ++i) {
      uint32_t first = seq;
      encode(*ops[i], ctx_, buf, seq);
      ranges.push_back({first, seq - first});
      uint32_t g = grouped_delete(*ops[i]);
      if (!g) continue;
      joining.push_back(i);
      // the group goes right after its last member, before any create that may reuse a name
      if (i + 1 == ops.size() || grouped_delete(*ops[i + 1]) != g) {
        group_deletes[seq] = std::move(joining);
        joining.clear();
        encode_group_delete(g, buf, seq);
      }
    }
    next_seq_ = seq;
    if (buf.empty()) {
      for (OpResult* r : res) r->any_ok = true;
      return;
    }
    auto t = k_.transport(ops[0]->ns);
    if (!t) {
      res[0]->failed = true;
      res[0]->err = t.error().err;
      res[0]->msg = t.error().str();
      return;
    }
    size_t count = seq - ranges[0].first;
    auto acks = (*t)->transact(buf, count);
    if (!acks) {
      for (OpResult* r : res) {
        r->failed = true;
        r->err = acks.error().err;
        r->msg = acks.error().str();
      }
      return;
    }
    std::map<uint32_t, const Ack*> by_seq;
    for (const Ack& a : *acks) by_seq[a.seq] = &a;
    for (size_t i = 0; i < ops.size(); ++i) {
      auto [first, n] = ranges[i];
      if (n == 0) res[i]->any_ok = true;
      for (uint32_t s = first; s < first + n; ++s) {
        auto it = by_seq.find(s);
        if (it == by_seq.end()) {
          if (!res[i]->failed) {
            res[i]->failed = true;
            res[i]->err = EIO;
            res[i]->msg = "no ack from the kernel";
          }
          continue;
        }
        if (it->second->error == 0) {
          res[i]->any_ok = true;
        } else {
          if (s == first) res[i]->first_failed = true;
          if (!res[i]->failed) {
            res[i]->failed = true;
            res[i]->err = it->second->error;
            res[i]->msg = it->second->msg;
          }
        }
      }
    }
    // A grouped delete happened when its group's RTM_DELLINK did: joining the group is
    // not yet a change anyone keeps. If the group delete failed, nothing was deleted
    // (the kernel checks every member first): put the joined links back in their group.
    std::vector<uint8_t> restore;
    uint32_t rseq = next_seq_;
    for (const auto& [gseq, members] : group_deletes) {
      auto it = by_seq.find(gseq);
      int err = it == by_seq.end() ? EIO : it->second->error;
      for (size_t i : members) {
        bool joined = res[i]->any_ok && !res[i]->failed;
        res[i]->any_ok = joined && err == 0;
        if (err == 0) continue;
        if (joined) encode_set_group(ctx_.ifindex(ops[i]->ifindex), ops[i]->old_group, restore, rseq);
        if (!res[i]->failed) {
          res[i]->failed = true;
          res[i]->err = err;
          res[i]->msg = it == by_seq.end() ? "no ack from the kernel" : it->second->msg;
        }
      }
    }
    if (!restore.empty()) {
      (void)(*t)->transact(restore, rseq - next_seq_);  // best effort: the links are intact
      next_seq_ = rseq;
    }
  }

  // A single op that is not (only) netlink.
  void run_special(const Op& op, OpResult& r, const std::vector<Op>* later, size_t from) {
    Status st;
    switch (op.kind) {
      case OpKind::kCreateNetns: st = k_.create_netns(op.ns); break;
      case OpKind::kDeleteNetns: st = k_.delete_netns(op.ns); break;
      case OpKind::kSetTap: st = k_.set_tap(op.ns, op.ifname, op.owner, op.group); break;
      default: {  // tap create, then its mark
        auto idx = k_.create_tap(op.ns, op.spec);
        if (!idx) {
          st = tl::unexpected(idx.error());
          break;
        }
        r.any_ok = true;
        if (*idx != op.ifindex) {
          remap_[op.ifindex] = *idx;
          // the kernel's choice may be an index planned for a link created later
          if (later) {
            int fresh = *idx + 1;
            for (size_t j = from; j < later->size(); ++j)
              for (int p : {(*later)[j].ifindex, (*later)[j].spec.peer_ifindex}) fresh = std::max(fresh, p + 1);
            for (size_t j = from; j < later->size(); ++j) {
              const Op& o = (*later)[j];
              if (o.kind == OpKind::kCreateLink && (o.ifindex == *idx || o.spec.peer_ifindex == *idx) &&
                  !remap_.count(*idx))
                remap_[*idx] = fresh++;
            }
          }
        }
        std::vector<const Op*> one{&op};
        OpResult mark;
        run_group(one, {&mark});
        if (mark.failed) {
          r.failed = true;
          r.err = mark.err;
          r.msg = mark.msg;
        }
        return;
      }
    }
    if (st) {
      r.any_ok = true;
    } else {
      r.failed = true;
      r.err = st.error().err;
      r.msg = st.error().kernel_msg.empty() ? st.error().str() : st.error().kernel_msg;
    }
  }

  // Runs `ops`; stops at the first failed group unless `keep_going`. Returns the index of
  // the first failed op, or ops.size().
  size_t run(const std::vector<Op>& ops, std::vector<OpResult>& res, bool keep_going,
             std::optional<size_t> fail_at, const std::function<int()>& interrupted = {},
             const std::function<void(size_t, size_t)>& on_step = {}) {
    res.assign(ops.size(), {});
    size_t first_fail = ops.size();
    size_t i = 0;
    while (i < ops.size()) {
      if (on_step) on_step(i, ops.size());
      if (int sig = interrupted ? interrupted() : 0) {
        res[i].failed = true;
        res[i].err = EINTR;
        res[i].msg = std::string("interrupted by SIG") + sigabbrev_np(sig);
        return i;
      }
      if (fail_at && i == *fail_at) {
        res[i].failed = true;
        res[i].err = 0;
        res[i].msg = "injected failure (test seam)";
        return i;
      }
      if (!netlink_only(ops[i])) {
        run_special(ops[i], res[i], &ops, i + 1);
        if (res[i].failed && first_fail == ops.size()) first_fail = i;
        ++i;
      } else {
        size_t j = i;
        std::vector<const Op*> group;
        std::vector<OpResult*> gres;
        while (j < ops.size() && netlink_only(ops[j]) && ops[j].ns == ops[i].ns &&
               !(fail_at && j == *fail_at)) {
          group.push_back(&ops[j]);
          gres.push_back(&res[j]);
          ++j;
        }
        run_group(group, gres);
        for (size_t k = i; k < j; ++k)
          if (res[k].failed && first_fail == ops.size()) first_fail = k;
        i = j;
      }
      if (first_fail != ops.size() && !keep_going) return first_fail;
    }
    return first_fail;
  }

  Kernel& k_;
  EncodeContext ctx_;
  std::map<int, int> remap_;
  uint32_t next_seq_ = 1000;
};

// Runs undo ops to the end (an undo that fails does not stop the others); returns the
// failures that matter (a missing object is fine where the undo says so).
std::vector<Error> run_undo(Executor& ex, const std::vector<Op>& undo) {
  std::vector<OpResult> ures;
  ex.run(undo, ures, true, std::nullopt);
  std::vector<Error> errors;
  for (size_t i = 0; i < undo.size(); ++i) {
    if (!ures[i].failed) continue;
    if (undo[i].undo_ignore_missing && missing_error(ures[i].err)) continue;
    Error ue;
    ue.err = ures[i].err;
    ue.what = "undo: " + undo[i].describe();
    ue.kernel_msg = ures[i].msg;
    errors.push_back(ue);
  }
  return errors;
}

}  // namespace

std::vector<Error> roll_back(const std::vector<Op>& ops, const ExecStats& done, Kernel& kernel) {
  Executor ex(kernel);
  ex.remap_ = done.remap;
  std::vector<Op> undo;
  for (size_t i = ops.size(); i-- > 0;)
    for (const Op& u : ops[i].undo) undo.push_back(u);
  return run_undo(ex, undo);
}

tl::expected<ExecStats, ExecFailure> execute(const std::vector<Op>& ops, Kernel& kernel,
                                             const ExecOptions& options) {
  uint64_t req0 = kernel.requests_sent(), calls0 = kernel.sendmsg_calls();
  Executor ex(kernel);
  std::vector<OpResult> res;
  size_t failed = ex.run(ops, res, false, options.fail_at, options.interrupted, options.on_step);
  ExecStats stats;
  stats.ops = ops.size();
  if (failed == ops.size()) {
    stats.remap = ex.remap_;
    stats.requests = kernel.requests_sent() - req0;
    stats.sendmsgs = kernel.sendmsg_calls() - calls0;
    return stats;
  }
  const Op& bad = ops[failed];
  Error e;
  e.err = res[failed].err;
  e.what = bad.object + ": " + bad.describe() + " failed";
  if (res[failed].err == 0 || res[failed].msg != strerror(res[failed].err)) e.kernel_msg = res[failed].msg;
  if (bad.loc.known()) e.loc = bad.loc;
  if (e.err == EXFULL && bad.kind == OpKind::kSetMaster && e.kernel_msg.empty())
    e.kernel_msg = "a Linux bridge takes at most 1024 ports (BR_MAX_PORTS)";
  e.exit = (e.err == EOPNOTSUPP || e.err == EPERM) ? ExitCode::kEnvironment : ExitCode::kFailed;
  // undo everything that took effect, newest first
  std::vector<Op> undo;
  for (size_t i = res.size(); i-- > 0;) {
    if (!res[i].any_ok) continue;
    // a create whose RTM_NEWLINK failed made nothing: whatever answered to its index
    // afterwards is not vnet's, and deleting it would destroy someone else's link
    if (ops[i].kind == OpKind::kCreateLink && ops[i].spec.kind != "tun" && res[i].first_failed)
      continue;
    for (const Op& u : ops[i].undo) undo.push_back(u);
  }
  stats.undo_errors = run_undo(ex, undo);
  stats.requests = kernel.requests_sent() - req0;
  stats.sendmsgs = kernel.sendmsg_calls() - calls0;
  return tl::unexpected(ExecFailure{e, failed, stats});
}

}  // namespace vnet::netlink
