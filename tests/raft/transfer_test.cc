// Leadership transfer (Raft dissertation §3.10, copycat specifics: TimeoutNow, transfer votes).
#include <gtest/gtest.h>

#include "tests/raft/harness.h"

namespace copycat::raft {
namespace {

constexpr int T = 75;  // Options::election_timeout_ticks

// A leader of three with its initialize entry committed and one proposal that only node 3
// has acknowledged: node 3 is caught up, node 2 is not.
Driver leader_with_node_2_behind() {
    Driver leader(1, restored_state(3));
    elect_and_commit(leader);
    leader.take_all();
    EXPECT_TRUE(leader->propose({1}).is_ok());
    leader.ack();
    answer_appends(leader, 3);
    return leader;
}

TEST(RaftTransfer, TimeoutNowIsSentOnceTheTargetIsCaughtUp) {
    Driver leader = leader_with_node_2_behind();
    ASSERT_TRUE(leader->transfer_leadership(2).is_ok());
    EXPECT_EQ(leader.count<TimeoutNow>(2), 0u) << "node 2 lacks the last entry";
    answer_appends(leader, 2);
    std::vector<TimeoutNow> sent = leader.take<TimeoutNow>(2);
    ASSERT_EQ(sent.size(), 1u);
    EXPECT_EQ(sent[0].term, leader->term());

    Driver other = leader_with_node_2_behind();
    ASSERT_TRUE(other->transfer_leadership(3).is_ok());
    EXPECT_EQ(other.take<TimeoutNow>(3).size(), 1u) << "node 3 is caught up: at once";
}

TEST(RaftTransfer, TargetCampaignsAtOnceWithTheTransferFlag) {
    Driver target(2, restored_state(3, HardState{1, 0}));
    target.deliver(1, append_request(1, 1, 0, 0));
    target.deliver(1, TimeoutNow{1});
    EXPECT_EQ(target->role(), Role::candidate);
    EXPECT_EQ(target->term(), 2u);
    EXPECT_EQ(target.count<PollRequest>(), 0u) << "no pre-vote: the leader asked for it";
    target.ack();
    std::vector<VoteRequest> requests = target.take<VoteRequest>();
    ASSERT_EQ(requests.size(), 2u);
    for (const VoteRequest& request : requests) EXPECT_TRUE(request.transfer);
}

TEST(RaftTransfer, VotersIgnoreStickinessForATransferElection) {
    Cluster cluster(3);
    cluster.elect(1);
    cluster.tick(1);  // node 3 has just heard from leader 1
    Term term = cluster.node(1)->term();
    ASSERT_TRUE(cluster.node(1)->transfer_leadership(2).is_ok());
    cluster.run();
    EXPECT_EQ(cluster.leader(), 2u);
    EXPECT_EQ(cluster.node(2)->term(), term + 1);
    EXPECT_EQ(cluster.node(3)->vote(), 2u);
    EXPECT_EQ(cluster.node(1)->role(), Role::follower);
    EXPECT_EQ(cluster.node(1)->leader(), 2u);
}

TEST(RaftTransfer, ProposalsAreRefusedDuringATransfer) {
    Driver leader = leader_with_node_2_behind();
    ASSERT_TRUE(leader->transfer_leadership(2).is_ok());  // pending: node 2 does not answer
    Result<Index> refused = leader->propose({2});
    ASSERT_FALSE(refused.is_ok());
    EXPECT_EQ(refused.status().code(), StatusCode::unavailable);

    for (int tick = 0; tick < T; ++tick) {  // the transfer times out
        leader.tick();
        answer_appends(leader, 3);
    }
    EXPECT_EQ(leader->role(), Role::leader);
    EXPECT_TRUE(leader->propose({3}).is_ok());
}

}  // namespace
}  // namespace copycat::raft
