// Executor tests against FakeKernel: batching per namespace, undo in reverse after the
// first failure (including ops the kernel ran after it in the same batch), the fail-at
// seam, tap index remapping, and zero requests for an empty plan.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "netlink/executor.h"
#include "tests/netlink/fake_kernel.h"
#include "tests/plan/builders.h"

namespace vnet::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

Plan three_bridges() {
  World w;
  w.bridge("a");
  w.bridge("b");
  w.bridge("c");
  return w.plan();  // create a, b, c (2 requests each), up a, b, c
}

TEST(Executor, EmptyPlanSendsNothing) {
  FakeKernel k;
  auto r = netlink::execute({}, k);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->requests, 0u);
  EXPECT_TRUE(k.log.requests.empty());
}

TEST(Executor, BatchesOneNamespaceIntoOneSendmsg) {
  FakeKernel k;
  Plan p = three_bridges();
  auto r = netlink::execute(p.ops, k);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->requests, 9u);
  EXPECT_EQ(r->sendmsgs, 1u);
  EXPECT_THAT(k.log.requests, ElementsAre(":NEWLINK 2", ":SETLINK 2", ":NEWLINK 3", ":SETLINK 3",
                                          ":NEWLINK 4", ":SETLINK 4", ":SETLINK 2", ":SETLINK 3",
                                          ":SETLINK 4"));
}

Plan three_owned_bridges_go() {
  World w;
  w.have("", 5, "a", "bridge");
  w.have("", 6, "b", "bridge");
  w.have("", 7, "c", "bridge").group = 3;
  return w.plan();
}

TEST(Executor, DeletesSeveralLinksOfANamespaceAsOneGroup) {
  FakeKernel k;
  Plan p = three_owned_bridges_go();
  auto r = netlink::execute(p.ops, k);
  ASSERT_TRUE(r);
  // each joins the group, then one RTM_DELLINK by group (ifindex 0)
  EXPECT_THAT(k.log.requests, ElementsAre(":SETLINK 5", ":SETLINK 6", ":SETLINK 7", ":DELLINK 0"));
  EXPECT_EQ(r->sendmsgs, 1u);
}

TEST(Executor, AFailedGroupDeletePutsTheLinksBackInTheirGroups) {
  FakeKernel k;
  Plan p = three_owned_bridges_go();
  k.log.failures[3] = {EOPNOTSUPP, "a member cannot be deleted"};
  auto r = netlink::execute(p.ops, k);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().error.err, EOPNOTSUPP);
  // nothing was deleted, so nothing is recreated: the links go back to groups 0, 0, 3
  std::vector<std::string> after(k.log.requests.begin() + 4, k.log.requests.end());
  EXPECT_THAT(after, ElementsAre(":SETLINK 5", ":SETLINK 6", ":SETLINK 7"));
  EXPECT_EQ(k.log.groups.at(7), 3u);
  EXPECT_EQ(k.log.groups.at(5), 0u);
}

TEST(Executor, UndoesEverythingThatRanAfterAFailureInReverse) {
  FakeKernel k;
  Plan p = three_bridges();
  k.log.failures[2] = {EEXIST, "File exists"};  // NEWLINK of b
  k.log.failures[3] = {ENODEV, ""};             // its mark then finds nothing
  auto r = netlink::execute(p.ops, k);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().failed_op, 1u);
  EXPECT_THAT(r.error().error.what, HasSubstr("bridge b"));
  EXPECT_EQ(r.error().error.err, EEXIST);
  EXPECT_EQ(r.error().error.kernel_msg, "");  // same as strerror: not repeated
  // the kernel ran the rest of the batch: c was created and a, c brought up; undone newest
  // first (a created link's "up" needs no undo of its own: deleting it is enough)
  std::vector<std::string> undo(k.log.requests.begin() + 9, k.log.requests.end());
  EXPECT_THAT(undo, ElementsAre(":DELLINK 4", ":DELLINK 2"));
  EXPECT_EQ(r.error().error.loc->line, 3u);
}

TEST(Executor, FailAtSeamStopsBeforeTheStepAndUndoes) {
  Plan p = three_bridges();
  for (size_t k = 0; k < p.ops.size(); ++k) {
    FakeKernel fk;
    netlink::ExecOptions eo;
    eo.fail_at = k;
    auto r = netlink::execute(p.ops, fk, eo);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().failed_op, k);
    EXPECT_THAT(r.error().error.kernel_msg, HasSubstr("injected"));
    // every create that ran is deleted again, every up taken back
    size_t creates = 0, deletes = 0;
    for (const std::string& s : fk.log.requests) {
      creates += s.find("NEWLINK") != std::string::npos;
      deletes += s.find("DELLINK") != std::string::npos;
    }
    EXPECT_EQ(creates, deletes) << "k=" << k;
  }
}

TEST(Executor, SplitsBatchesAtNamespaceBoundaries) {
  World w;
  w.veth("v", "p", "c1").peer_addresses = {cidr4(10, 0, 0, 1, 24)};
  Plan p = w.plan();
  FakeKernel k;
  auto r = netlink::execute(p.ops, k);
  ASSERT_TRUE(r);
  EXPECT_THAT(k.special, ElementsAre("create-netns c1"));
  // create in "", address in c1, up in "", up lo + peer in c1
  EXPECT_EQ(r->sendmsgs, 4u);
}

TEST(Executor, RemapsTapIndexesForLaterOps) {
  World w;
  w.bridge("br0");
  World::port(w.tap("t0"), "br0");
  Plan p = w.plan();
  FakeKernel k;
  auto r = netlink::execute(p.ops, k);
  ASSERT_TRUE(r);
  // the mark, enslave and up of the tap address the index the kernel gave (500)
  EXPECT_THAT(k.log.requests, ElementsAre(":NEWLINK 2", ":SETLINK 2", ":TAP t0", ":SETLINK 500",
                                          ":SETLINK 500", ":SETLINK 2", ":SETLINK 500"));
}

TEST(Executor, ReportsKernelExtendedAckText) {
  FakeKernel k;
  World w;
  w.bridge("br0").set_number("vlan_filtering", 1);
  Plan p = w.plan();
  k.log.failures[0] = {EOPNOTSUPP, "VLAN filtering is not supported"};
  auto r = netlink::execute(p.ops, k);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().error.kernel_msg, "VLAN filtering is not supported");
  EXPECT_EQ(r.error().error.exit, ExitCode::kEnvironment);
}

}  // namespace
}  // namespace vnet::testing
