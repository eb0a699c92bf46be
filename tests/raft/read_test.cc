// Reads without writing to the log (Raft paper §8, ReadIndex; leases; copycat.md 2.8).
#include <gtest/gtest.h>

#include <optional>

#include "tests/raft/harness.h"

namespace copycat::raft {
namespace {

constexpr int H = 25;  // Options::heartbeat_interval_ticks

// The ReadState for read_id, if the leader handed one out.
std::optional<ReadState> read_state(const Driver& node, uint64_t read_id) {
    for (const ReadState& read : node.reads) {
        if (read.id == read_id) return read;
    }
    return std::nullopt;
}

// A leader of three whose initialize entry is committed, with nothing in flight.
Driver quiet_leader() {
    Driver leader(1, restored_state(3));
    elect_and_commit(leader);
    leader.take_all();
    return leader;
}

void answer_round(Driver& leader, NodeId from, const AppendRequest& request) {
    leader.deliver(from, AppendResponse{request.term, true, request.prev_index, request.round});
}

TEST(RaftReadIndex, AnsweredOnlyOnceARoundStartedAfterTheCallIsConfirmedByAMajority) {
    Driver leader = quiet_leader();
    leader.tick(H);  // a heartbeat round starts before the read
    std::vector<AppendRequest> before = leader.take<AppendRequest>(2);
    ASSERT_EQ(before.size(), 1u);

    leader->read_index(7);
    std::vector<AppendRequest> after = leader.take<AppendRequest>(2);
    ASSERT_EQ(after.size(), 1u) << "the read starts a round of its own";
    EXPECT_GT(after[0].round, before[0].round);
    answer_round(leader, 2, before[0]);
    EXPECT_FALSE(read_state(leader, 7)) << "that round started before the read";

    answer_round(leader, 2, after[0]);
    std::optional<ReadState> read = read_state(leader, 7);
    ASSERT_TRUE(read);
    EXPECT_EQ(read->status, ReadStatus::ready);
    EXPECT_EQ(read->index, leader->commit_index());
}

TEST(RaftReadIndex, ReadsWaitingForARoundShareOne) {
    Driver leader = quiet_leader();
    leader->read_index(1);
    std::vector<AppendRequest> first = leader.take<AppendRequest>(2);
    ASSERT_EQ(first.size(), 1u);
    ASSERT_EQ(leader.take<AppendRequest>(3).size(), 1u);
    leader->read_index(2);
    leader->read_index(3);
    EXPECT_EQ(leader.take<AppendRequest>().size(), 0u) << "they wait for the next round";

    answer_round(leader, 2, first[0]);
    EXPECT_TRUE(read_state(leader, 1));
    EXPECT_FALSE(read_state(leader, 2));
    std::vector<AppendRequest> second = leader.take<AppendRequest>(2);
    ASSERT_EQ(second.size(), 1u) << "one round for both waiting reads";
    EXPECT_EQ(second[0].round, first[0].round + 1);
    answer_round(leader, 2, second[0]);
    EXPECT_TRUE(read_state(leader, 2));
    EXPECT_TRUE(read_state(leader, 3));
}

TEST(RaftReadIndex, ReadIndexOnAFollowerAnswersNotLeader) {
    Driver follower(2, restored_state(3, HardState{1, 0}));
    follower.deliver(1, append_request(1, 1, 0, 0));
    follower->read_index(5);
    follower.collect();
    std::optional<ReadState> read = read_state(follower, 5);
    ASSERT_TRUE(read);
    EXPECT_EQ(read->status, ReadStatus::not_leader);
}

TEST(RaftReadIndex, LeaderThatStepsDownFailsItsWaitingReads) {
    Driver leader = quiet_leader();
    leader->read_index(5);
    leader.deliver(2, AppendResponse{leader->term() + 1, false, 0, 0});
    ASSERT_EQ(leader->role(), Role::follower);
    std::optional<ReadState> read = read_state(leader, 5);
    ASSERT_TRUE(read);
    EXPECT_EQ(read->status, ReadStatus::lost_leadership);
}

TEST(RaftReadIndex, NewLeaderAnswersReadsOnlyAfterCommittingItsInitializeEntry) {
    Driver leader(1, restored_state(3, HardState{1, 0}, entries_with_terms({1, 1})));
    elect(leader);
    leader->read_index(9);
    answer_appends(leader, 2);  // confirms the first round, but nothing of term 2 committed
    leader.collect();
    EXPECT_FALSE(read_state(leader, 9));

    leader.ack();  // the initialize entry commits: the read gets its index and a new round
    ASSERT_EQ(leader->commit_index(), 3u);
    EXPECT_FALSE(read_state(leader, 9));
    answer_appends(leader, 2);
    std::optional<ReadState> read = read_state(leader, 9);
    ASSERT_TRUE(read);
    EXPECT_EQ(read->status, ReadStatus::ready);
    EXPECT_EQ(read->index, 3u);
}

TEST(RaftLease, LeaseReadIsAnsweredAtOnceAfterAMajorityConfirmedRound) {
    Driver leader = quiet_leader();  // its first round was confirmed by both followers
    leader->lease_read(4);
    leader.collect();
    std::optional<ReadState> read = read_state(leader, 4);
    ASSERT_TRUE(read);
    EXPECT_EQ(read->status, ReadStatus::ready);
    EXPECT_EQ(read->index, leader->commit_index());
    EXPECT_EQ(leader.count<AppendRequest>(), 0u) << "no round needed";
}

TEST(RaftLease, LeaseReadIsNotServedOnceTheLeaseFractionPassedWithoutAConfirmedRound) {
    Driver leader = quiet_leader();  // the confirmed round started at this tick
    int lease_ticks = 60;            // lease_fraction 0.8 of T = 75
    leader.tick(lease_ticks - 1);    // heartbeats go unanswered
    leader->lease_read(1);
    leader.collect();
    EXPECT_TRUE(read_state(leader, 1));

    leader.tick(1);
    leader.take_all();
    leader->lease_read(2);
    std::vector<AppendRequest> round = leader.take<AppendRequest>(2);
    EXPECT_FALSE(read_state(leader, 2)) << "the lease ran out";
    ASSERT_EQ(round.size(), 1u) << "it falls back to ReadIndex";
    answer_round(leader, 2, round[0]);
    EXPECT_TRUE(read_state(leader, 2));
}

// Voters ignore stickiness for a transfer, which is what the lease rests on: once the target
// was told to campaign, a new leader can commit while the old one's lease still runs.
TEST(RaftLease, LeaseReadIsNotServedOnceALeadershipTransferStarted) {
    Cluster cluster(3);
    cluster.elect(1);
    cluster.tick(1);
    cluster.block(2, 1);  // node 1 does not hear of the new term in time
    cluster.block(3, 1);
    ASSERT_TRUE(cluster.node(1)->transfer_leadership(2).is_ok());
    cluster.run();
    ASSERT_EQ(cluster.leader(), 2u);
    Result<Index> written = cluster.node(2)->propose({42});
    ASSERT_TRUE(written.is_ok());
    cluster.run();
    ASSERT_GE(cluster.node(2)->commit_index(), *written);

    cluster.node(1)->lease_read(11);
    cluster.node(1).collect();
    std::optional<ReadState> read = read_state(cluster.node(1), 11);
    if (read && read->status == ReadStatus::ready) {
        EXPECT_GE(read->index, *written) << "a stale read: it misses a committed write";
    }
}

// A leader that appended its own removal is no longer a voter: node 2, the only voter left, may
// already have elected itself and committed more, so the read waits for node 2 to confirm it
// (copycat-sim seed 274: a stale read).
TEST(RaftRead, LeaderThatAppendedItsOwnRemovalConfirmsReadsWithTheVotersLeft) {
    Driver leader(1, restored_state(2));
    elect_and_commit(leader);
    leader.take_all();
    std::vector<Member> members = {{1, MemberType::inactive, true, {}},
                                   {2, MemberType::active, true, {}}};
    ASSERT_TRUE(leader->propose_configuration(members, 0).is_ok());
    ASSERT_EQ(leader->role(), Role::leader) << "until its removal commits";
    leader->read_index(7);
    leader.tick(static_cast<int>(test_options(1).election_timeout_ticks));  // past the lease
    leader->lease_read(8);
    leader.collect();
    for (const ReadState& read : leader.reads) {
        EXPECT_NE(read.status, ReadStatus::ready) << "read " << read.id << " not confirmed";
    }
}

}  // namespace
}  // namespace copycat::raft
