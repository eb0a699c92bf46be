// Leader election (Raft paper §5.2, copycat.md 4.1): one test per claim.
#include <gtest/gtest.h>

#include <set>

#include "tests/raft/harness.h"

namespace copycat::raft {
namespace {

constexpr int T = 75;  // Options::election_timeout_ticks
constexpr int H = 25;  // Options::heartbeat_interval_ticks

// Node 1 of three, polled by its peers until it is a candidate (vote requests not yet sent).
Driver candidate_of_three() {
    Driver node(1, restored_state(3));
    node.tick_until([&] { return node.count<PollRequest>() > 0; }, 2 * T);
    node.take<PollRequest>();
    node.deliver(2, PollResponse{node->term(), true});
    return node;
}

TEST(RaftElection, ServerStartsAsFollower) {
    Driver node(1, restored_state(3, HardState{4, 0}));
    EXPECT_EQ(node->role(), Role::follower);
    EXPECT_EQ(node->leader(), 0u);
    EXPECT_EQ(node->term(), 4u);
    EXPECT_TRUE(node.outbox.empty());
}

TEST(RaftElection, FollowerThatHearsNothingCampaignsAfterPreVoteWithinOneToTwoTimeouts) {
    Driver node(1, restored_state(3, HardState{4, 0}));
    int ticks = node.tick_until([&] { return node.count<PollRequest>() > 0; }, 2 * T);
    EXPECT_GE(ticks, T);
    EXPECT_LT(ticks, 2 * T);
    EXPECT_EQ(node.take<PollRequest>().size(), 2u);
    EXPECT_EQ(node->term(), 4u) << "polling must not raise the term";

    node.deliver(2, PollResponse{4, true});
    EXPECT_EQ(node->role(), Role::candidate);
    EXPECT_EQ(node->term(), 5u);
    EXPECT_EQ(node->vote(), 1u);
}

TEST(RaftElection, CandidateSendsVoteRequestsOnlyAfterTermAndVoteArePersisted) {
    Driver node = candidate_of_three();
    ASSERT_EQ(node->role(), Role::candidate);
    EXPECT_EQ(node.count<VoteRequest>(), 0u);
    ASSERT_EQ(node.unacked.size(), 1u);
    EXPECT_EQ(node.unacked[0].hard_state, (HardState{1, 1}));

    node.ack();
    std::vector<VoteRequest> requests = node.take<VoteRequest>();
    ASSERT_EQ(requests.size(), 2u);
    for (const VoteRequest& request : requests) {
        EXPECT_EQ(request.term, 1u);
        EXPECT_EQ(request.candidate, 1u);
        EXPECT_FALSE(request.transfer);
    }
}

TEST(RaftPreVote, PollRaisesNoTerm) {
    Driver poller(1, restored_state(3, HardState{3, 0}));
    poller.tick_until([&] { return poller.count<PollRequest>() > 0; }, 2 * T);
    std::vector<PollRequest> polls = poller.take<PollRequest>(2);
    ASSERT_EQ(polls.size(), 1u);
    EXPECT_EQ(poller->term(), 3u);
    EXPECT_TRUE(poller.unacked.empty()) << "a poll persists nothing";

    Driver voter(2, restored_state(3, HardState{3, 0}));
    voter.deliver(1, polls[0]);
    std::vector<PollResponse> responses = voter.take<PollResponse>(1);
    ASSERT_EQ(responses.size(), 1u);
    EXPECT_TRUE(responses[0].accepted);
    EXPECT_EQ(voter->term(), 3u);
    EXPECT_EQ(voter->vote(), 0u);
    EXPECT_TRUE(voter.unacked.empty());
}

TEST(RaftPreVote, LeaderRejectsPolls) {
    Driver leader(1, restored_state(3));
    elect_and_commit(leader);
    Term term = leader->term();
    leader.deliver(2, PollRequest{term + 1, 2, leader->log().last_index(), term});
    std::vector<PollResponse> responses = leader.take<PollResponse>(2);
    ASSERT_EQ(responses.size(), 1u);
    EXPECT_FALSE(responses[0].accepted);
    EXPECT_EQ(leader->role(), Role::leader);
    EXPECT_EQ(leader->term(), term);
}

TEST(RaftPreVote, FollowerThatHeardFromLeaderWithinTimeoutRejectsPollsAndVotes) {
    Driver follower(2, restored_state(3, HardState{1, 0}));
    follower.deliver(1, append_request(1, 1, 0, 0));
    follower.tick(T - 1);
    follower.deliver(3, PollRequest{2, 3, 0, 0});
    follower.deliver(3, vote_request(2, 3));
    follower.ack();
    ASSERT_EQ(follower.count<PollResponse>(3), 1u);
    EXPECT_FALSE(follower.take<PollResponse>(3)[0].accepted);
    ASSERT_EQ(follower.count<VoteResponse>(3), 1u);
    EXPECT_FALSE(follower.take<VoteResponse>(3)[0].granted);
    EXPECT_EQ(follower->term(), 1u) << "a refused vote request must not raise the term";

    follower.tick(1);  // T ticks since the leader was heard from
    follower.deliver(3, PollRequest{2, 3, 0, 0});
    ASSERT_EQ(follower.count<PollResponse>(3), 1u);
    EXPECT_TRUE(follower.take<PollResponse>(3)[0].accepted);
}

TEST(RaftElection, CandidateWithMajorityBecomesLeaderAndAppendsTimestampedInitializeEntry) {
    Driver node = candidate_of_three();
    node.ack();
    node->set_time_ms(7'000'000);
    node.deliver(3, VoteResponse{1, false});
    EXPECT_EQ(node->role(), Role::candidate) << "one vote of three is no majority";
    node.deliver(2, VoteResponse{1, true});
    ASSERT_EQ(node->role(), Role::leader);
    EXPECT_EQ(node->leader(), 1u);

    const Entry& initialize = node->log().at(node->log().last_index());
    EXPECT_EQ(initialize.type, EntryType::initialize);
    EXPECT_EQ(initialize.term, 1u);
    EXPECT_EQ(initialize.timestamp_ms, 7'000'000u);
    ASSERT_EQ(node.unacked.size(), 1u);
    EXPECT_EQ(node.unacked[0].entries, std::vector<Entry>{initialize});
    for (NodeId peer : {2, 3}) {
        std::vector<AppendRequest> appends = node.take<AppendRequest>(peer);
        ASSERT_EQ(appends.size(), 1u);
        EXPECT_EQ(appends[0].entries, std::vector<Entry>{initialize});
    }
}

TEST(RaftElection, CandidateStepsDownOnAppendRequestFromLeaderOfItsTerm) {
    Driver node = candidate_of_three();
    node.ack();
    node.deliver(2, append_request(1, 2, 0, 0));
    EXPECT_EQ(node->role(), Role::follower);
    EXPECT_EQ(node->leader(), 2u);
    EXPECT_EQ(node->term(), 1u);
    node.ack();
    ASSERT_EQ(node.count<AppendResponse>(2), 1u);
    EXPECT_TRUE(node.take<AppendResponse>(2)[0].success);
}

TEST(RaftElection, HigherTermInAnyMessageMakesServerAFollowerOfThatTerm) {
    // Not polls (pre-vote raises no term) and not vote requests a leader is sticky against.
    std::vector<Message> messages = {
        append_request(9, 2, 0, 0), AppendResponse{9, false, 0, 0},
        VoteResponse{9, false},     ConfigureRequest{9, 2, 0, active_members(3)},
        ConfigureResponse{9},       vote_request(9, 2, 10, 9, true),
    };
    for (const Message& message : messages) {
        SCOPED_TRACE(message_name(message));
        Driver leader(1, restored_state(3));
        elect_and_commit(leader);
        leader.deliver(2, message);
        EXPECT_EQ(leader->role(), Role::follower);
        EXPECT_EQ(leader->term(), 9u);
        ASSERT_FALSE(leader.unacked.empty());
        EXPECT_EQ(leader.unacked[0].hard_state->term, 9u);
    }
}

TEST(RaftElection, AdoptedTermIsDurableBeforeServerAnswers) {
    Driver follower(2, restored_state(3, HardState{1, 0}));
    follower.deliver(1, append_request(3, 1, 5, 2));  // prev entry missing: a refusal
    EXPECT_EQ(follower->term(), 3u);
    EXPECT_EQ(follower.count<AppendResponse>(), 0u);
    ASSERT_EQ(follower.unacked.size(), 1u);
    EXPECT_EQ(follower.unacked[0].hard_state, (HardState{3, 0}));

    follower.ack();
    std::vector<AppendResponse> responses = follower.take<AppendResponse>(1);
    ASSERT_EQ(responses.size(), 1u);
    EXPECT_EQ(responses[0].term, 3u);
    EXPECT_FALSE(responses[0].success);
}

TEST(RaftVote, AtMostOneVotePerTerm) {
    Driver voter(1, restored_state(3));
    voter.deliver(2, vote_request(1, 2));
    voter.ack();
    voter.deliver(3, vote_request(1, 3));
    voter.deliver(2, vote_request(1, 2));  // the same candidate again
    voter.ack();
    std::vector<VoteResponse> to_2 = voter.take<VoteResponse>(2);
    std::vector<VoteResponse> to_3 = voter.take<VoteResponse>(3);
    ASSERT_EQ(to_2.size(), 2u);
    EXPECT_TRUE(to_2[0].granted);
    EXPECT_TRUE(to_2[1].granted) << "re-granting to the same candidate is fine";
    ASSERT_EQ(to_3.size(), 1u);
    EXPECT_FALSE(to_3[0].granted);
    EXPECT_EQ(voter->vote(), 2u);
}

TEST(RaftVote, VoteOnlyForLogAtLeastAsUpToDate) {
    // The voter's log: terms 1, 2, 2 (last term 2, last index 3).
    auto grants = [](Index last_index, Term last_term) {
        Driver voter(1, restored_state(3, HardState{2, 0}, entries_with_terms({1, 2, 2})));
        voter.deliver(2, vote_request(3, 2, last_index, last_term));
        voter.ack();
        std::vector<VoteResponse> responses = voter.take<VoteResponse>(2);
        EXPECT_EQ(responses.size(), 1u);
        return !responses.empty() && responses[0].granted;
    };
    EXPECT_FALSE(grants(5, 1)) << "lower last term, longer log";
    EXPECT_FALSE(grants(2, 2)) << "same last term, shorter log";
    EXPECT_TRUE(grants(3, 2)) << "same last term, same length";
    EXPECT_TRUE(grants(4, 2)) << "same last term, longer log";
    EXPECT_TRUE(grants(1, 3)) << "higher last term, shorter log";
}

// A voter whose log stops before the entry that made the candidate a voter still sees it as
// passive; its vote may be the one the candidate needs (Raft dissertation §4.1; copycat-sim
// seeds 51 and 71 stalled for good when it was refused).
TEST(RaftVote, VoteIsGrantedToACandidateTheVotersStaleConfigurationDoesNotListAsVoter) {
    Configuration stale = active_members(3);
    stale.members[0].type = MemberType::passive;  // node 1, since promoted
    Driver voter(2, restored_state(stale));
    voter.deliver(1, PollRequest{1, 1, 0, 0});
    std::vector<PollResponse> polls = voter.take<PollResponse>(1);
    ASSERT_EQ(polls.size(), 1u);
    EXPECT_TRUE(polls[0].accepted);
    voter.deliver(1, vote_request(1, 1));
    voter.ack();
    std::vector<VoteResponse> votes = voter.take<VoteResponse>(1);
    ASSERT_EQ(votes.size(), 1u);
    EXPECT_TRUE(votes[0].granted);
    EXPECT_EQ(voter->vote(), 1u);
}

TEST(RaftVote, VoteIsPersistedBeforeResponseLeaves) {
    Driver voter(1, restored_state(3));
    voter.deliver(2, vote_request(1, 2));
    EXPECT_EQ(voter.count<VoteResponse>(), 0u);
    ASSERT_EQ(voter.unacked.size(), 2u);  // the new term, then the vote
    EXPECT_EQ(voter.unacked.back().hard_state, (HardState{1, 2}));

    voter.raft().persisted(voter.unacked[0].seq);  // the term alone is not enough
    EXPECT_EQ(voter.take<VoteResponse>().size(), 0u);
    voter.ack();
    std::vector<VoteResponse> responses = voter.take<VoteResponse>(2);
    ASSERT_EQ(responses.size(), 1u);
    EXPECT_TRUE(responses[0].granted);
}

// The only voter wins by its own vote, but only once that vote is durable: a crash before could
// lose the term, and the restarted server would lead the same term again with another entry at
// the same index (copycat-sim seeds 293 and 394).
TEST(RaftElection, OnlyVoterLeadsOnceItsOwnVoteIsDurable) {
    Driver node(1, restored_state(1));
    ASSERT_GE(node.tick_until([&] { return node->role() != Role::follower; }, 4 * T), 0);
    EXPECT_EQ(node->role(), Role::candidate) << "its vote is not durable yet";
    EXPECT_EQ(node->log().last_index(), 0u) << "no entry of a term it may lose";
    node.ack();
    EXPECT_EQ(node->role(), Role::leader);
    EXPECT_EQ(node->log().last_index(), 1u);
}

TEST(RaftElection, ElectionTimeoutsAreRandomizedBetweenOneAndTwoTimeouts) {
    std::set<int> timeouts;
    for (uint64_t seed = 1; seed <= 20; ++seed) {
        Driver node(1, restored_state(3), seed);
        int ticks = node.tick_until([&] { return node.count<PollRequest>() > 0; }, 2 * T);
        EXPECT_GE(ticks, T);
        EXPECT_LT(ticks, 2 * T);
        timeouts.insert(ticks);
    }
    EXPECT_GE(timeouts.size(), 10u) << "20 seeds should give many different timeouts";
}

TEST(RaftElection, LeaderSendsHeartbeatsEveryHeartbeatInterval) {
    Driver leader(1, restored_state(3));
    elect_and_commit(leader);
    leader.take_all();
    for (int interval = 0; interval < 4; ++interval) {
        leader.tick(H - 1);
        EXPECT_EQ(leader.count<AppendRequest>(), 0u);
        leader.tick(1);
        for (NodeId peer : {2, 3}) {
            std::vector<AppendRequest> heartbeats = leader.take<AppendRequest>(peer);
            ASSERT_EQ(heartbeats.size(), 1u);
            EXPECT_TRUE(heartbeats[0].entries.empty());
            EXPECT_EQ(heartbeats[0].commit_index, leader->commit_index());
            leader.deliver(peer, AppendResponse{heartbeats[0].term, true, heartbeats[0].prev_index,
                                                heartbeats[0].round});
        }
    }
}

TEST(RaftElection, LeaderStepsDownAfterTwoTimeoutsWithoutHearingFromMajority) {
    Driver alone(1, restored_state(3));
    elect_and_commit(alone);
    alone.tick(2 * T);
    EXPECT_EQ(alone->role(), Role::leader);
    alone.tick(1);
    EXPECT_EQ(alone->role(), Role::follower);

    Driver heard(1, restored_state(3));  // follower 2 answers: a majority with the leader
    elect_and_commit(heard);
    for (int tick = 0; tick < 10 * T; ++tick) {
        heard.tick();
        answer_appends(heard, 2);
    }
    EXPECT_EQ(heard->role(), Role::leader);
}

TEST(RaftElection, ClusterElectsOneLeaderThatKeepsLeading) {
    Cluster cluster(5);
    for (int tick = 0; tick < 4 * T && !cluster.leader(); ++tick) cluster.tick();
    ASSERT_TRUE(cluster.leader());
    NodeId leader = *cluster.leader();
    Term term = cluster.node(leader)->term();
    cluster.tick(10 * T);
    EXPECT_EQ(cluster.leader(), leader);
    for (NodeId id : cluster.ids()) {
        EXPECT_EQ(cluster.node(id)->term(), term) << "node " << id;
        EXPECT_EQ(cluster.node(id)->leader(), leader) << "node " << id;
    }
}

}  // namespace
}  // namespace copycat::raft
