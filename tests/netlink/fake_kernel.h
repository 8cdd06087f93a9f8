// A Kernel that records every request and answers with canned acks: the executor's test
// seam. Each request is logged as "NS:TYPE ifindex" ("c1:NEWLINK 5"); `fail_request`
// makes the n-th request (0-based, across the whole run) fail with an errno and message.
#pragma once

#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "netlink/kernel.h"

namespace vnet::testing {

inline std::string msg_type(uint16_t t) {
  switch (t) {
    case RTM_NEWLINK: return "NEWLINK";
    case RTM_DELLINK: return "DELLINK";
    case RTM_SETLINK: return "SETLINK";
    case RTM_NEWADDR: return "NEWADDR";
    case RTM_DELADDR: return "DELADDR";
    case RTM_NEWROUTE: return "NEWROUTE";
    case RTM_DELROUTE: return "DELROUTE";
  }
  return std::to_string(t);
}

struct FakeLog {
  std::vector<std::string> requests;  // "ns:TYPE idx"
  std::map<size_t, std::pair<int, std::string>> failures;  // request number -> errno, msg
  size_t next = 0;
  std::map<int, uint32_t> groups;  // ifindex -> IFLA_GROUP of its last RTM_SETLINK that set one
};

class FakeTransport : public netlink::Transport {
 public:
  FakeTransport(std::string ns, FakeLog& log) : ns_(std::move(ns)), log_(log) {}
  Result<std::vector<netlink::Ack>> transact(std::span<const uint8_t> batch, size_t count) override {
    std::vector<netlink::Ack> acks;
    size_t off = 0;
    ++sendmsg_calls;
    requests_sent += count;
    while (off < batch.size()) {
      const auto* nlh = reinterpret_cast<const nlmsghdr*>(batch.data() + off);
      const auto* ifi = reinterpret_cast<const ifinfomsg*>(NLMSG_DATA(nlh));
      int idx = ifi->ifi_index;
      if (nlh->nlmsg_type == RTM_NEWADDR || nlh->nlmsg_type == RTM_DELADDR)
        idx = static_cast<int>(reinterpret_cast<const ifaddrmsg*>(NLMSG_DATA(nlh))->ifa_index);
      if (nlh->nlmsg_type == RTM_NEWROUTE || nlh->nlmsg_type == RTM_DELROUTE) idx = 0;
      log_.requests.push_back(ns_ + ":" + msg_type(nlh->nlmsg_type) + " " + std::to_string(idx));
      if (nlh->nlmsg_type == RTM_SETLINK) {
        const auto* attr = reinterpret_cast<const uint8_t*>(ifi) + NLMSG_ALIGN(sizeof(ifinfomsg));
        const auto* end = reinterpret_cast<const uint8_t*>(nlh) + nlh->nlmsg_len;
        while (attr + sizeof(nlattr) <= end) {
          const auto* na = reinterpret_cast<const nlattr*>(attr);
          if (na->nla_len < sizeof(nlattr)) break;
          if (na->nla_type == IFLA_GROUP) log_.groups[idx] = *reinterpret_cast<const uint32_t*>(na + 1);
          attr += NLA_ALIGN(na->nla_len);
        }
      }
      netlink::Ack a;
      a.seq = nlh->nlmsg_seq;
      auto f = log_.failures.find(log_.next++);
      if (f != log_.failures.end()) {
        a.error = f->second.first;
        a.msg = f->second.second;
      }
      acks.push_back(a);
      off += NLMSG_ALIGN(nlh->nlmsg_len);
    }
    return acks;
  }
  Result<std::vector<netlink::DumpReply>> dump(const std::vector<std::vector<uint8_t>>& r) override {
    return std::vector<netlink::DumpReply>(r.size());
  }

 private:
  std::string ns_;
  FakeLog& log_;
};

class FakeKernel : public netlink::Kernel {
 public:
  FakeLog log;
  std::vector<std::string> special;  // netns and tap operations, in order
  int next_tap_index = 500;

  bool netns_exists(const std::string&) override { return true; }
  Result<netlink::Transport*> transport(const std::string& ns) override {
    auto& t = transports_[ns];
    if (!t) t = std::make_unique<FakeTransport>(ns, log);
    return t.get();
  }
  Result<int> netns_fd(const std::string&) override { return 42; }
  Status create_netns(const std::string& ns) override {
    special.push_back("create-netns " + ns);
    return {};
  }
  Status delete_netns(const std::string& ns) override {
    special.push_back("delete-netns " + ns);
    return {};
  }
  Result<int> create_tap(const std::string& ns, const plan::LinkSpec& s) override {
    special.push_back("create-tap " + ns + ":" + s.name);
    log.requests.push_back(ns + ":TAP " + s.name);
    return next_tap_index++;
  }
  Status set_tap(const std::string& ns, const std::string& name, std::optional<uint32_t>,
                 std::optional<uint32_t>) override {
    special.push_back("set-tap " + ns + ":" + name);
    return {};
  }
  uint64_t requests_sent() const override {
    uint64_t n = 0;
    for (const auto& [k, t] : transports_) n += t->requests_sent;
    return n;
  }
  uint64_t sendmsg_calls() const override {
    uint64_t n = 0;
    for (const auto& [k, t] : transports_) n += t->sendmsg_calls;
    return n;
  }

 private:
  std::map<std::string, std::unique_ptr<FakeTransport>> transports_;
};

}  // namespace vnet::testing
