// Membership: single-server changes, passive and reserve members, availability
// (Raft dissertation §4.1, copycat.md 4.4, 4.10, 4.11).
#include <gtest/gtest.h>

#include "tests/raft/harness.h"

namespace copycat::raft {
namespace {

constexpr int T = 75;  // Options::election_timeout_ticks
constexpr int H = 25;  // Options::heartbeat_interval_ticks

// Members 1..3 active, plus 4 of the given type.
Configuration three_and(MemberType type) {
    Configuration configuration = active_members(3);
    configuration.members.push_back({4, type, true, {}});
    return configuration;
}

Driver committed_leader(Configuration configuration = active_members(3)) {
    Driver leader(1, restored_state(std::move(configuration)));
    elect_and_commit(leader);
    leader.take_all();
    return leader;
}

bool committed(const Raft& raft) { return raft.configuration().index <= raft.commit_index(); }

TEST(RaftMembership, ChangeIsRefusedWhenTheExpectedConfigurationIndexDiffers) {
    Driver leader = committed_leader();
    Result<Index> stale = leader->propose_configuration(three_and(MemberType::passive).members, 5);
    ASSERT_FALSE(stale.is_ok());
    EXPECT_EQ(stale.status().code(), StatusCode::conflict);
    EXPECT_TRUE(leader->propose_configuration(three_and(MemberType::passive).members, 0).is_ok());
}

TEST(RaftMembership, ChangeIsRefusedWhileAnotherIsUncommitted) {
    Driver leader = committed_leader();
    Result<Index> first = leader->propose_configuration(three_and(MemberType::passive).members, 0);
    ASSERT_TRUE(first.is_ok());
    Result<Index> second =
        leader->propose_configuration(three_and(MemberType::active).members, *first);
    ASSERT_FALSE(second.is_ok());
    EXPECT_EQ(second.status().code(), StatusCode::unavailable);

    leader.ack();
    answer_appends(leader, 2);
    ASSERT_TRUE(committed(leader.raft()));
    EXPECT_TRUE(
        leader->propose_configuration(three_and(MemberType::active).members, *first).is_ok());
}

TEST(RaftMembership, ChangeIsRefusedWhenItChangesMoreThanOneVoter) {
    Driver leader = committed_leader();
    Result<Index> two_added = leader->propose_configuration(active_members(5).members, 0);
    ASSERT_FALSE(two_added.is_ok());
    EXPECT_EQ(two_added.status().code(), StatusCode::invalid_argument);

    std::vector<Member> swapped = {{1, MemberType::active, true, {}},
                                   {2, MemberType::active, true, {}},
                                   {4, MemberType::active, true, {}}};  // 3 out, 4 in
    EXPECT_FALSE(leader->propose_configuration(swapped, 0).is_ok());
    EXPECT_TRUE(leader->propose_configuration(active_members(4).members, 0).is_ok());
}

TEST(RaftMembership, AddedVoterCountsTowardTheQuorumOnceTheChangeIsAppended) {
    Driver leader = committed_leader();
    Index change = *leader->propose_configuration(active_members(4).members, 0);
    EXPECT_EQ(leader->configuration().voters().size(), 4u) << "in force once appended";
    leader.ack();
    answer_appends(leader, 2);
    EXPECT_LT(leader->commit_index(), change) << "2 of 4 is no majority (it was of 3)";
    answer_appends(leader, 3);
    EXPECT_EQ(leader->commit_index(), change);
}

// Growing from one voter to two: the change commits only with the new voter, so the leader
// must bring it up to date without waiting for another proposal.
TEST(RaftMembership, AddedVoterIsBroughtUpToDateAndItsAdditionCommits) {
    Cluster cluster(1);
    cluster.replace(2, restored_state(active_members(1)));  // knows it is not a member yet
    cluster.elect(1);
    Result<Index> change = cluster.node(1)->propose_configuration(active_members(2).members, 0);
    ASSERT_TRUE(change.is_ok());
    cluster.tick(4 * H);
    EXPECT_GE(cluster.node(1)->commit_index(), *change);
    EXPECT_EQ(cluster.node(2)->log().last_index(), cluster.node(1)->log().last_index());
    EXPECT_EQ(cluster.node(2)->member_type(), MemberType::active);
}

TEST(RaftMembership, PassiveMemberReceivesOnlyCommittedEntries) {
    Driver leader = committed_leader(three_and(MemberType::passive));
    leader.tick(H);  // a heartbeat brings node 4 up to the commit index
    answer_appends(leader, 4);
    leader.take_all();

    Index index = *leader->propose({1});
    leader.ack();
    for (const AppendRequest& request : leader.take<AppendRequest>(4)) {
        for (const Entry& entry : request.entries) EXPECT_LE(entry.index, leader->commit_index());
    }
    answer_appends(leader, 2);
    ASSERT_EQ(leader->commit_index(), index);
    std::vector<AppendRequest> to_passive = leader.take<AppendRequest>(4);
    ASSERT_EQ(to_passive.size(), 1u);
    ASSERT_EQ(to_passive[0].entries.size(), 1u);
    EXPECT_EQ(to_passive[0].entries[0].index, index);
}

// Node 1 led, appended its own removal and restarted before it committed: node 2, the only voter
// left, lacks the entry and needs node 1's log to elect anyone, so node 1 campaigns, leads
// without counting itself, commits the removal and steps down (copycat-sim seeds 87, 155, 169,
// 303, 332: the cluster stalled for good).
TEST(RaftMembership, LeaderThatRemovedItselfAndRestartedCampaignsUntilTheRemovalCommits) {
    Configuration removal{
        2, 1, {{1, MemberType::inactive, true, {}}, {2, MemberType::active, true, {}}}};
    std::vector<Entry> entries = {
        command(1, 1), Entry{1, 2, EntryType::configuration, 0, 0, encode_configuration(removal)}};
    Driver node(1, restored_state(active_members(2), HardState{1, 1}, entries));
    ASSERT_EQ(node->member_type(), MemberType::inactive);
    ASSERT_GE(node.tick_until([&] { return node.count<PollRequest>(2) > 0; }, 4 * T), 0);
    node.take<PollRequest>();
    node.deliver(2, PollResponse{node->term(), true});
    node.ack();
    ASSERT_EQ(node->role(), Role::candidate) << "its own vote does not count";
    ASSERT_EQ(node.take<VoteRequest>(2).size(), 1u);
    node.deliver(2, VoteResponse{node->term(), true});
    ASSERT_EQ(node->role(), Role::leader) << "node 2 is the whole quorum";
    node.ack();
    answer_appends(node, 2);
    EXPECT_GE(node->commit_index(), 2u);
    EXPECT_EQ(node->role(), Role::follower) << "its removal committed: it steps down";
}

TEST(RaftMembership, PassiveMemberNeverCampaigns) {
    Driver passive(4, restored_state(three_and(MemberType::passive)));
    passive.tick(10 * T);
    EXPECT_EQ(passive.count<PollRequest>() + passive.count<VoteRequest>(), 0u);
    EXPECT_EQ(passive->role(), Role::follower);
    EXPECT_EQ(passive->term(), 0u);
}

TEST(RaftMembership, ReserveMemberGetsConfigureRequests) {
    Driver leader = committed_leader(three_and(MemberType::reserve));
    leader.tick(H);
    EXPECT_EQ(leader.count<AppendRequest>(4), 0u) << "a reserve member keeps no log";
    std::vector<ConfigureRequest> requests = leader.take<ConfigureRequest>(4);
    ASSERT_EQ(requests.size(), 1u);
    EXPECT_EQ(requests[0].configuration, leader->configuration());
    EXPECT_EQ(requests[0].commit_index, leader->commit_index());

    Driver reserve(4, restored_state(three_and(MemberType::reserve)));
    reserve.deliver(1, requests[0]);
    reserve.ack();  // the leader's term, made durable first
    EXPECT_EQ(reserve->leader(), 1u);
    EXPECT_EQ(reserve.take<ConfigureResponse>(1).size(), 1u);
}

TEST(RaftAvailability, SilentMemberIsMarkedUnavailableByACommittedChangeAndBackWhenItAnswers) {
    Cluster cluster(3);
    cluster.elect(1);
    cluster.isolate(3);
    auto available = [&](NodeId on) {
        const Raft& raft = cluster.node(on).raft();
        return committed(raft) && raft.configuration().find(3)->available;
    };
    int silent_ticks = 0;
    for (; available(1) && silent_ticks < 10 * T; ++silent_ticks) cluster.tick();
    EXPECT_GT(silent_ticks, 3 * H) << "unavailable_after_heartbeats is 3";
    EXPECT_LE(silent_ticks, 3 * H + H);
    EXPECT_FALSE(available(2));

    cluster.heal();
    cluster.tick(2 * H);
    for (NodeId id : cluster.ids()) EXPECT_TRUE(available(id)) << "node " << id;
}

}  // namespace
}  // namespace copycat::raft
