// Log replication (Raft paper §5.3, copycat.md 4.2-4.3): one test per claim.
#include <gtest/gtest.h>

#include "tests/raft/harness.h"

namespace copycat::raft {
namespace {

constexpr int H = 25;  // Options::heartbeat_interval_ticks

std::vector<Term> terms_of(const RaftLog& log) {
    std::vector<Term> terms;
    for (Index index = log.first_index(); index <= log.last_index(); ++index) {
        terms.push_back(log.at(index).term);
    }
    return terms;
}

std::vector<Index> indexes_of(const std::vector<Entry>& entries) {
    std::vector<Index> indexes;
    for (const Entry& entry : entries) indexes.push_back(entry.index);
    return indexes;
}

std::vector<Index> one_to(Index last) {
    std::vector<Index> indexes;
    for (Index index = 1; index <= last; ++index) indexes.push_back(index);
    return indexes;
}

TEST(RaftReplication, FollowerRejectsAppendWhosePrevEntryDoesNotMatchAndHintsWhereToBackOff) {
    Driver follower(2, restored_state(3, HardState{2, 0}, entries_with_terms({1, 1, 2, 2})));
    follower.deliver(1, append_request(3, 1, 4, 3, {command(5, 3)}));
    follower.deliver(1, append_request(3, 1, 7, 3, {command(8, 3)}));
    follower.ack();
    std::vector<AppendResponse> responses = follower.take<AppendResponse>(1);
    ASSERT_EQ(responses.size(), 2u);
    EXPECT_FALSE(responses[0].success);
    EXPECT_EQ(responses[0].index, 2u) << "before the first entry of the conflicting term 2";
    EXPECT_FALSE(responses[1].success);
    EXPECT_EQ(responses[1].index, 4u) << "prev entry beyond the log: the follower's last index";
    EXPECT_EQ(terms_of(follower->log()), (std::vector<Term>{1, 1, 2, 2}));
}

TEST(RaftReplication, FollowerTruncatesConflictingSuffixAndAppendsLeaderEntries) {
    Driver follower(2, restored_state(3, HardState{2, 0}, entries_with_terms({1, 1, 2, 2})));
    follower.deliver(1, append_request(3, 1, 2, 1, {command(3, 3), command(4, 3), command(5, 3)}));
    EXPECT_EQ(terms_of(follower->log()), (std::vector<Term>{1, 1, 3, 3, 3}));
    ASSERT_EQ(follower.unacked.size(), 2u);  // the new term, then the log
    const PersistOp& op = follower.unacked[1];
    EXPECT_EQ(op.truncate_after, 2u);
    EXPECT_EQ(indexes_of(op.entries), (std::vector<Index>{3, 4, 5}));
    follower.ack();
    std::vector<AppendResponse> responses = follower.take<AppendResponse>(1);
    ASSERT_EQ(responses.size(), 1u);
    EXPECT_TRUE(responses[0].success);
    EXPECT_EQ(responses[0].index, 5u);
}

TEST(RaftReplication, FollowerAnswersSuccessOnlyAfterItsPersistOpIsAcknowledged) {
    Driver follower(2, restored_state(3, HardState{1, 0}));
    follower.deliver(1, append_request(1, 1, 0, 0, {command(1, 1), command(2, 1)}));
    EXPECT_EQ(follower.count<AppendResponse>(), 0u);
    ASSERT_EQ(follower.unacked.size(), 1u);
    follower.ack();
    std::vector<AppendResponse> responses = follower.take<AppendResponse>(1);
    ASSERT_EQ(responses.size(), 1u);
    EXPECT_TRUE(responses[0].success);
    EXPECT_EQ(responses[0].index, 2u);
}

// copycat #265/#266: a follower committed a stale entry beyond what the request verified.
TEST(RaftReplication, FollowerCommitsNoFurtherThanLeaderCommitAndVerifiedIndex) {
    // Entry 3 (term 1) is a stale leftover: the leader of term 2 has another entry 3.
    Driver follower(3, restored_state(3, HardState{1, 0}, entries_with_terms({1, 1, 1})));
    follower.deliver(1, append_request(2, 1, 2, 1, {}, 3));  // a heartbeat: verifies 1..2
    EXPECT_EQ(follower->commit_index(), 2u);
    EXPECT_EQ(indexes_of(follower.committed), (std::vector<Index>{1, 2}));

    follower.deliver(1, append_request(2, 1, 2, 1, {command(3, 2), command(4, 2)}, 3));
    EXPECT_EQ(follower->commit_index(), 3u) << "the leader's commit index bounds it too";
    ASSERT_EQ(follower.committed.size(), 3u);
    EXPECT_EQ(follower.committed[2].term, 2u) << "the leader's entry 3, not the stale one";
}

TEST(RaftReplication, LeaderBacksOffAndRepairsADivergentFollowerLog) {
    Cluster cluster(3);
    for (NodeId id : {1, 2}) {
        cluster.replace(id, restored_state(3, HardState{2, 0}, entries_with_terms({1, 1, 1})));
    }
    // Node 3 led term 2 and kept three entries nobody else has.
    cluster.replace(3, restored_state(3, HardState{2, 3}, entries_with_terms({1, 2, 2, 2})));
    cluster.elect(1);
    cluster.tick(H);
    for (NodeId id : {2, 3}) {
        EXPECT_EQ(terms_of(cluster.node(id)->log()), (std::vector<Term>{1, 1, 1, 3})) << id;
        EXPECT_EQ(cluster.node(id)->commit_index(), 4u) << id;
    }
}

// Paper §5.3: "the leader retries AppendEntries RPCs indefinitely until all followers
// eventually store all log entries", even when requests are lost. Here two AppendRequests
// to node 3 are lost (as many as the pipeline window); every heartbeat after that arrives.
TEST(RaftReplication, LeaderRetriesUntilAFollowerThatLostAppendsStoresEveryEntry) {
    Cluster cluster(3);
    cluster.elect(1);
    cluster.isolate(3);
    for (int i = 0; i < 2; ++i) {
        ASSERT_TRUE(cluster.node(1)->propose({1, 2, 3}).is_ok());
        cluster.run();
    }
    cluster.heal();
    cluster.tick(4 * H);
    const Raft& leader = cluster.node(1).raft();
    EXPECT_EQ(cluster.node(3)->log().last_index(), leader.log().last_index());
    EXPECT_EQ(cluster.node(3)->commit_index(), leader.commit_index());
}

// The same claim when only heartbeats were lost: two of them, as many as the window.
TEST(RaftReplication, LeaderRetriesUntilAFollowerThatLostHeartbeatsStoresEveryEntry) {
    Cluster cluster(3);
    cluster.elect(1);
    cluster.isolate(3);
    cluster.tick(2 * H);
    cluster.heal();
    ASSERT_TRUE(cluster.node(1)->propose({1, 2, 3}).is_ok());
    cluster.run();
    cluster.tick(4 * H);
    const Raft& leader = cluster.node(1).raft();
    EXPECT_EQ(cluster.node(3)->log().last_index(), leader.log().last_index());
    EXPECT_EQ(cluster.node(3)->commit_index(), leader.commit_index());
}

TEST(RaftReplication, CommittedEntriesComeOutInOrderExactlyOnce) {
    Cluster cluster(3);
    cluster.elect(1);
    for (int i = 0; i < 10; ++i) {
        ASSERT_TRUE(cluster.node(1)->propose({static_cast<uint8_t>(i)}).is_ok());
        if (i % 3 == 0) cluster.run();
        if (i % 4 == 0) cluster.tick(H);
    }
    cluster.tick(H);
    Index last = cluster.node(1)->log().last_index();
    for (NodeId id : cluster.ids()) {
        EXPECT_EQ(indexes_of(cluster.node(id).committed), one_to(last)) << "node " << id;
    }

    // A duplicated request commits nothing twice.
    Driver follower(2, restored_state(3, HardState{1, 0}));
    AppendRequest request = append_request(1, 1, 0, 0, {command(1, 1), command(2, 1)}, 2);
    follower.deliver(1, request);
    follower.deliver(1, request);
    EXPECT_EQ(indexes_of(follower.committed), (std::vector<Index>{1, 2}));
}

}  // namespace
}  // namespace copycat::raft
