// Log compaction in the Raft core: holes in the in-memory log (log.h), a follower taking a
// leader's log with holes, and the reset of a follower that lacks entries below the global
// index (raft.cc, must_reset). The simulator runs the same paths with faults
// (copycat-sim --compaction).
#include <gtest/gtest.h>

#include <algorithm>

#include "common/compaction.h"
#include "consensus/raft/log.h"
#include "tests/raft/harness.h"

namespace copycat::raft {
namespace {

constexpr uint8_t kRelease = 3;
constexpr uint8_t kTombstone = 8;

Entry entry(Index index, Term term, uint8_t mode = kRelease) {
    Entry e = command(index, term);
    e.compaction_mode = mode;
    return e;
}

compaction::Indexes everything_below(Index index, Index global = 0) {
    return compaction::Indexes{index, index, global, 0};
}

TEST(RaftLogHoles, AHoleHasTheTermOfTheEntryBeforeIt) {
    RaftLog log;
    log.append(entry(1, 1));
    log.append(entry(4, 2));  // 2 and 3 are holes of term 1
    log.append(entry(5, 2));
    EXPECT_EQ(log.last_index(), 5u);
    EXPECT_TRUE(log.contains(2));
    EXPECT_EQ(log.find(2), nullptr);
    EXPECT_EQ(log.term_at(2), 1u);
    EXPECT_EQ(log.term_at(3), 1u);
    EXPECT_EQ(log.term_at(4), 2u);
    EXPECT_EQ(log.held_at_or_before(3), 1u);
    EXPECT_EQ(log.first_term_other_than(2, 5, 1), 4u);
    EXPECT_EQ(log.first_term_other_than(2, 3, 1), std::nullopt);
    EXPECT_EQ(log.first_index_of_term_at(5), 4u);
    EXPECT_EQ(log.slice(2, 5, 1 << 20).size(), 2u) << "a read skips holes";
}

TEST(RaftLogHoles, CompactionRemovesReleasedEntriesAndKeepsTheTermsAroundThem) {
    RaftLog log;
    for (Index i = 1; i <= 4; ++i) log.append(entry(i, 1));
    for (Index i = 5; i <= 9; ++i) log.append(entry(i, 2));
    std::vector<Index> released = {2, 3, 4, 6, 7, 8};
    log.release(released);
    std::vector<Index> removed = log.compact(everything_below(9));
    EXPECT_EQ(removed, (std::vector<Index>{2, 3, 4, 6, 7, 8}));
    for (Index i = 1; i <= 9; ++i) EXPECT_EQ(log.term_at(i), i <= 4 ? 1u : 2u) << i;
}

// What stays blocks everything released below it: an entry released earlier may have depended
// on one released later (a failed lock request on the holder's request), and a replay must not
// run the first without the second.
TEST(RaftLogHoles, ReleasedEntriesGoFromTheTopDownToTheFirstThatMustStay) {
    RaftLog log;
    for (Index i = 1; i <= 4; ++i) log.append(entry(i, 1));
    for (Index i = 5; i <= 8; ++i) log.append(entry(i, 2));
    std::vector<Index> with_the_last = {2, 3, 8};
    log.release(with_the_last);
    EXPECT_TRUE(log.compact(everything_below(8)).empty()) << "the last entry stays, and so all";
    log.append(entry(9, 2));
    EXPECT_EQ(log.compact(everything_below(9)), (std::vector<Index>{2, 3, 8}));

    std::vector<Index> first_of_term = {5, 6};
    log.release(first_of_term);
    EXPECT_EQ(log.compact(everything_below(9)), (std::vector<Index>{6}))
        << "the first entry of term 2 stays (a safety net: it is an initialize entry in a server)";
}

TEST(RaftLogHoles, NothingReleasedBelowAnEntryAboveTheMinorIndexIsRemoved) {
    RaftLog log;
    for (Index i = 1; i <= 6; ++i) log.append(entry(i, 1));
    std::vector<Index> released = {2, 3, 5};
    log.release(released);
    EXPECT_TRUE(log.compact(compaction::Indexes{6, 4, 0, 0}).empty());
    EXPECT_EQ(log.released_held(), 3u);
    EXPECT_EQ(log.compact(compaction::Indexes{6, 5, 0, 0}), (std::vector<Index>{2, 3, 5}));
    EXPECT_NE(log.find(4), nullptr) << "not released";
}

TEST(RaftLogHoles, ATombstoneGoesOnlyBelowTheGlobalIndex) {
    RaftLog log;
    log.append(entry(1, 1));
    log.append(entry(2, 1, kTombstone));
    log.append(entry(3, 1));
    std::vector<Index> released = {2};
    log.release(released);
    EXPECT_TRUE(log.compact(everything_below(3, 2)).empty()) << "global 2: index 2 is not below";
    EXPECT_EQ(log.compact(everything_below(3, 3)), (std::vector<Index>{2}));
}

TEST(RaftLogHoles, ATombstoneAboveTheGlobalIndexKeepsTheWritesBelowIt) {
    RaftLog log;
    log.append(entry(1, 1));
    log.append(entry(2, 1));
    log.append(entry(3, 1, kTombstone));
    log.append(entry(4, 1));
    std::vector<Index> released = {2, 3};
    log.release(released);
    EXPECT_TRUE(log.compact(everything_below(4, 3)).empty());
    EXPECT_EQ(log.compact(everything_below(4, 4)), (std::vector<Index>{2, 3}));
}

TEST(RaftLogHoles, TruncationDropsReleaseMarksOfTheCutEntries) {
    RaftLog log;
    for (Index i = 1; i <= 3; ++i) log.append(entry(i, 1));
    std::vector<Index> released = {3};
    log.release(released);
    log.truncate_after(2);
    log.append(entry(3, 2));
    EXPECT_TRUE(log.compact(everything_below(3)).empty());
    EXPECT_EQ(log.released_held(), 0u);
}

// A follower with entries 1..3 of term 1 gets, from a leader of term 2, a log whose indexes 4
// and 5 are holes: it takes the entries around them and answers up to the last one.
TEST(RaftFollowerHoles, TakesALogWithHolesAndVerifiesUpToItsLastEntry) {
    Driver follower(2, restored_state(3, {2, 0}, entries_with_terms({1, 1, 1})));
    follower.deliver(1, append_request(2, 1, 3, 1, {entry(6, 2), entry(7, 2)}, 7));
    follower.ack();  // a success goes out once the entries are durable
    std::vector<AppendResponse> responses = follower.take<AppendResponse>(1);
    ASSERT_EQ(responses.size(), 1u);
    EXPECT_TRUE(responses[0].success);
    EXPECT_EQ(responses[0].index, 7u);
    EXPECT_EQ(follower->log().last_index(), 7u);
    EXPECT_EQ(follower->log().find(4), nullptr);
    EXPECT_EQ(follower->log().term_at(5), 1u) << "holes after index 3 keep the term before them";
    EXPECT_EQ(follower->commit_index(), 7u);
}

// The leader's holes 3..4 carry term 1 (the term of its entry 2); the follower's entry 4 of
// term 3, from a deposed leader, differs there and must go, though the next entry the request
// carries (index 5) is beyond the follower's log.
TEST(RaftFollowerHoles, AConflictInsideAGapIsCutWhereItStarts) {
    Driver follower(2, restored_state(3, {4, 0}, entries_with_terms({1, 1, 1, 3})));
    follower.deliver(1, append_request(4, 1, 2, 1, {entry(5, 4)}, 2));
    follower.collect();
    ASSERT_FALSE(follower.unacked.empty());
    EXPECT_EQ(follower.unacked.back().truncate_after, 3u);
    follower.ack();
    std::vector<AppendResponse> responses = follower.take<AppendResponse>(1);
    ASSERT_EQ(responses.size(), 1u);
    EXPECT_TRUE(responses[0].success);
    EXPECT_EQ(follower->log().term_at(4), 1u) << "the stale entry 4 was cut";
    EXPECT_EQ(follower->log().find(4), nullptr);
}

TEST(RaftFollowerHoles, AFollowerMissingEntriesBelowTheGlobalIndexResets) {
    Driver follower(2, restored_state(3, {2, 0}, entries_with_terms({1, 1})));
    AppendRequest request = append_request(2, 1, 2, 1, {entry(5, 2), entry(6, 2)}, 6);
    request.global_index = 6;  // the leader's holes 3 and 4 may have been deletes
    follower.deliver(1, request);
    follower.ack();
    std::vector<AppendResponse> responses = follower.take<AppendResponse>(1);
    ASSERT_EQ(responses.size(), 1u);
    EXPECT_FALSE(responses[0].success);
    EXPECT_TRUE(responses[0].reset);
    EXPECT_EQ(follower->log().last_index(), 0u);
    EXPECT_EQ(follower->commit_index(), 0u);
    ASSERT_FALSE(follower.acked.empty());
    EXPECT_TRUE(follower.acked.back().reset_log);
}

TEST(RaftFollowerHoles, AnEmptyFollowerTakesHolesBelowTheGlobalIndex) {
    Driver follower(2, restored_state(3, {2, 0}));
    AppendRequest request = append_request(2, 1, 0, 0, {entry(1, 1), entry(5, 2)}, 5);
    request.global_index = 5;
    follower.deliver(1, request);
    follower.ack();
    std::vector<AppendResponse> responses = follower.take<AppendResponse>(1);
    ASSERT_EQ(responses.size(), 1u);
    EXPECT_TRUE(responses[0].success);
    EXPECT_FALSE(responses[0].reset);
    EXPECT_EQ(follower->log().last_index(), 5u);
}

// Its state is the state of no log prefix until it applied past the entries that released
// the holes; the bound goes with the entries, durably.
TEST(RaftFollowerHoles, TakingHolesSetsTheHoleHorizonDurably) {
    Driver follower(2, restored_state(3, {2, 0}, entries_with_terms({1, 1, 1})));
    AppendRequest request = append_request(2, 1, 3, 1, {entry(6, 2), entry(7, 2)}, 7);
    request.holes_released_by = 9;
    follower.deliver(1, request);
    follower.ack();
    EXPECT_EQ(follower->hole_horizon(), 9u);
    ASSERT_FALSE(follower.acked.empty());
    ASSERT_TRUE(follower.acked.back().hard_state.has_value());
    EXPECT_EQ(follower.acked.back().hard_state->holes_released_by, 9u);
    follower.restart();
    EXPECT_EQ(follower->hole_horizon(), 9u);
}

TEST(RaftFollowerHoles, ALogWithoutHolesSetsNoHorizon) {
    Driver follower(2, restored_state(3, {2, 0}, entries_with_terms({1, 1, 1})));
    AppendRequest request = append_request(2, 1, 3, 1, {entry(4, 2), entry(5, 2)}, 5);
    request.holes_released_by = 9;
    follower.deliver(1, request);
    follower.ack();
    EXPECT_EQ(follower->hole_horizon(), 0u);
}

// A follower that reset may have acknowledged entries it dropped: it votes as if it still held
// them, and does not campaign before it holds them again.
TEST(RaftFollowerHoles, AResetFollowerVotesAndCampaignsAsIfItHeldTheLogItDropped) {
    Driver follower(2, restored_state(3, {2, 0}, entries_with_terms({1, 2})));
    AppendRequest request = append_request(2, 1, 2, 2, {entry(5, 2), entry(6, 2)}, 6);
    request.global_index = 6;
    follower.deliver(1, request);
    follower.ack();
    ASSERT_EQ(follower->log().last_index(), 0u) << "it reset";
    ASSERT_FALSE(follower.acked.empty());
    ASSERT_TRUE(follower.acked.back().hard_state.has_value());
    EXPECT_EQ(follower.acked.back().hard_state->floor_index, 2u);
    EXPECT_EQ(follower.acked.back().hard_state->floor_term, 2u);

    follower.tick(1000);  // long past any election timeout, and the leader's lease
    follower.ack();
    EXPECT_TRUE(follower.take<PollRequest>().empty()) << "its log is behind what it dropped";
    EXPECT_TRUE(follower.take<VoteRequest>().empty());

    follower.deliver(3, vote_request(3, 3, 1, 1));
    follower.ack();
    std::vector<VoteResponse> refused = follower.take<VoteResponse>(3);
    ASSERT_EQ(refused.size(), 1u);
    EXPECT_FALSE(refused[0].granted) << "the candidate lacks index 2 of term 2";
    follower.deliver(3, vote_request(4, 3, 2, 2));
    follower.ack();
    std::vector<VoteResponse> granted = follower.take<VoteResponse>(3);
    ASSERT_EQ(granted.size(), 1u);
    EXPECT_TRUE(granted[0].granted);

    follower.restart();
    follower.tick(1000);
    follower.ack();
    EXPECT_TRUE(follower.take<PollRequest>().empty()) << "the floor is durable";
    EXPECT_TRUE(follower.take<VoteRequest>().empty());
}

// A member that loads the snapshot holds the writes up to it, and must find every delete
// after it in the log: deletes above the snapshot stay, whatever the global index.
TEST(RaftFollowerHoles, DeletesAboveTheSnapshotStayWhateverTheGlobalIndex) {
    RestoredState restored = restored_state(3, {2, 0}, entries_with_terms({1, 1, 2, 2, 2, 2}));
    auto data = std::make_shared<std::vector<uint8_t>>(8, uint8_t{1});
    restored.snapshot = Snapshot{4, 2, active_members(3), data};
    Driver follower(2, std::move(restored));
    AppendRequest request = append_request(2, 1, 6, 2, {}, 6);
    request.global_index = 7;
    follower.deliver(1, request);
    EXPECT_EQ(follower->global_index(), 7u);
    EXPECT_EQ(follower->compaction_global_index(), 5u);
}

// A new leader's global index starts low, below the holes of its log. A member holding an
// entry this log removed (index 2 here: a write, say) may lack what released it (holes 4 and 5:
// the later write and the delete that undid it). Its first requests carry only held entries
// (one per request), and it takes them; reaching the global index must not be taken as proof
// that it lacks no delete: until it holds the log up to the holes' end, a request with holes
// makes it reset, rather than take them and keep the write (copycat-sim seed 22966).
TEST(RaftLeaderHoles, AMemberIsTrustedWithHolesOnlyOnceItHoldsTheLogPastThem) {
    auto one_entry_per_request = [](NodeId id) {
        Options options = test_options(id);
        options.max_append_bytes = 1;
        return options;
    };
    Cluster cluster(active_members(2), one_entry_per_request);
    auto log = [](std::initializer_list<Index> indexes) {
        std::vector<Entry> entries;
        for (Index index : indexes) entries.push_back(command(index, 1, 1));
        return entries;
    };
    cluster.replace(1, restored_state(2, {1, 0}, log({1, 3, 6, 7})));  // 2, 4 and 5 removed
    cluster.replace(2, restored_state(2, {1, 0}, log({1, 2})));
    cluster.elect(1);
    cluster.tick(50);

    const std::vector<PersistOp>& stored = cluster.node(2).acked;
    EXPECT_TRUE(std::any_of(stored.begin(), stored.end(), [](const PersistOp& op) {
        return op.reset_log;
    })) << "it took holes 4 and 5 over its own entry 2";
    EXPECT_EQ(cluster.node(2)->log().find(2), nullptr) << "its log is the leader's again";
    EXPECT_EQ(cluster.node(2)->log().last_index(), cluster.node(1)->log().last_index());
}

TEST(RaftFollowerHoles, AMalformedRequestIsIgnored) {
    Driver follower(2, restored_state(3, {2, 0}, entries_with_terms({1})));
    follower.deliver(1, append_request(2, 1, 1, 1, {entry(3, 2), entry(2, 2)}, 0));
    EXPECT_EQ(follower.take<AppendResponse>(1).size(), 0u);
    EXPECT_EQ(follower->log().last_index(), 1u);
}

}  // namespace
}  // namespace copycat::raft
