// Restarts (Raft paper §5.1, Figure 2: term, vote and log on stable storage before answering).
#include <gtest/gtest.h>

#include "tests/raft/harness.h"

namespace copycat::raft {
namespace {

constexpr int T = 75;  // Options::election_timeout_ticks

TEST(RaftRestart, RestartedServerKeepsTermVoteAndLog) {
    Driver node(2, restored_state(3));
    node.deliver(1, vote_request(3, 1));
    node.deliver(1, append_request(3, 1, 0, 0, {command(1, 3, 4), command(2, 3, 4)}));
    node.ack();
    std::vector<Entry> log = {node->log().at(1), node->log().at(2)};

    node.restart();
    EXPECT_EQ(node->term(), 3u);
    EXPECT_EQ(node->vote(), 1u);
    ASSERT_EQ(node->log().last_index(), 2u);
    EXPECT_EQ((std::vector<Entry>{node->log().at(1), node->log().at(2)}), log);
    EXPECT_EQ(node->role(), Role::follower);
}

TEST(RaftRestart, ServerNeverVotesTwiceInATermAcrossARestart) {
    Driver voter(1, restored_state(3));
    voter.deliver(2, vote_request(1, 2));
    voter.ack();
    ASSERT_TRUE(voter.take<VoteResponse>(2).at(0).granted);

    voter.restart();
    voter.deliver(3, vote_request(1, 3));
    voter.deliver(2, vote_request(1, 2));
    voter.ack();
    std::vector<VoteResponse> to_3 = voter.take<VoteResponse>(3);
    ASSERT_EQ(to_3.size(), 1u);
    EXPECT_FALSE(to_3[0].granted);
    std::vector<VoteResponse> to_2 = voter.take<VoteResponse>(2);
    ASSERT_EQ(to_2.size(), 1u);
    EXPECT_TRUE(to_2[0].granted) << "the same candidate again is fine";
}

// A restarted voter has forgotten when it last heard the leader: it waits out the quiet
// period before it votes, so no new leader is elected inside the old leader's lease.
TEST(RaftRestart, QuietPeriodAfterAStartRefusesVotesButNotTransfers) {
    Options options = test_options(1);
    options.quiet_ticks_after_start = T;
    Driver voter(options, restored_state(3));
    voter.deliver(2, vote_request(1, 2));
    voter.deliver(3, PollRequest{1, 3, 0, 0});
    voter.ack();
    EXPECT_FALSE(voter.take<VoteResponse>(2).at(0).granted);
    EXPECT_FALSE(voter.take<PollResponse>(3).at(0).accepted);
    EXPECT_EQ(voter->term(), 0u) << "a refused vote does not raise the term";

    voter.deliver(3, vote_request(1, 3, 0, 0, /*transfer=*/true));
    voter.ack();
    EXPECT_TRUE(voter.take<VoteResponse>(3).at(0).granted) << "a transfer is not disruptive";

    Driver later(options, restored_state(3));
    later.tick(T);
    later.deliver(2, vote_request(1, 2));
    later.ack();
    EXPECT_TRUE(later.take<VoteResponse>(2).at(0).granted);
}

TEST(RaftRestart, RestartedFollowerRejoinsAndCatchesUp) {
    Cluster cluster(3);
    cluster.elect(1);
    ASSERT_TRUE(cluster.node(1)->propose({1}).is_ok());
    cluster.run();
    cluster.isolate(3);
    cluster.node(3).restart();
    ASSERT_TRUE(cluster.node(1)->propose({2}).is_ok());
    cluster.run();
    cluster.heal();
    cluster.tick(T);
    EXPECT_EQ(cluster.leader(), 1u);
    EXPECT_EQ(cluster.node(3)->log().last_index(), cluster.node(1)->log().last_index());
    EXPECT_EQ(cluster.node(3)->commit_index(), cluster.node(1)->commit_index());
}

}  // namespace
}  // namespace copycat::raft
