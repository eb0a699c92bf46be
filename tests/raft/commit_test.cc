// Commitment (Raft paper §5.3-5.4.2) and the leader's pipeline (copycat.md 4.2).
#include <gtest/gtest.h>

#include <numeric>

#include "tests/raft/harness.h"

namespace copycat::raft {
namespace {

std::vector<uint8_t> bytes(size_t count) { return std::vector<uint8_t>(count, 7); }

size_t payload_bytes(const std::vector<Entry>& entries) {
    return std::accumulate(entries.begin(), entries.end(), size_t{0},
                           [](size_t sum, const Entry& e) { return sum + e.payload.size(); });
}

AppendResponse success_for(const AppendRequest& request) {
    return AppendResponse{request.term, true, request.prev_index + request.entries.size(),
                          request.round};
}

Options small_batches(NodeId id) {
    Options options = test_options(id);
    options.max_append_bytes = 100;
    options.max_inflight_appends = 2;
    return options;
}

TEST(RaftCommit, LeaderCommitsOnceAMajorityHasTheEntryCountingItselfOnlyWhenDurable) {
    Driver leader(1, restored_state(3));
    elect_and_commit(leader);
    Index index = *leader->propose(bytes(3));
    leader.collect();
    ASSERT_EQ(leader.unacked.size(), 1u);
    answer_appends(leader, 2);
    EXPECT_LT(leader->commit_index(), index) << "the leader's own copy is not durable yet";
    leader.ack();
    EXPECT_EQ(leader->commit_index(), index);
    ASSERT_FALSE(leader.committed.empty());
    EXPECT_EQ(leader.committed.back().index, index);
}

// Figure 8: an entry of an earlier term stored on a majority is not committed by counting.
TEST(RaftCommit, LeaderNeverCommitsAnOldTermEntryByCountingReplicas) {
    // Entry 2 is from term 2; the leader of term 3 appends its initialize entry at 3.
    RestoredState state = restored_state(3, HardState{2, 0}, entries_with_terms({1, 2}));
    Driver leader(1, state);
    elect(leader);
    ASSERT_EQ(leader->term(), 3u);
    answer_appends(leader, 2);  // node 2 now holds 1..3; the leader has 1..2 durable
    EXPECT_EQ(leader->commit_index(), 0u) << "entry 2 is on a majority but of term 2";
    EXPECT_TRUE(leader.committed.empty());

    leader.ack();  // the leader's entry 3 is durable: a current-term entry on a majority
    EXPECT_EQ(leader->commit_index(), 3u);
    ASSERT_EQ(leader.committed.size(), 3u);
}

TEST(RaftPipelining, AtMostMaxInflightAppendsOutstandingPerFollower) {
    Driver leader(small_batches(1), restored_state(3));
    elect_and_commit(leader);
    std::vector<AppendRequest> outstanding;
    for (int i = 0; i < 5; ++i) {
        ASSERT_TRUE(leader->propose(bytes(60)).is_ok());  // 60 bytes: one entry per batch
        for (AppendRequest& request : leader.take<AppendRequest>(2)) {
            outstanding.push_back(std::move(request));
        }
    }
    EXPECT_EQ(outstanding.size(), 2u);

    for (int answered = 0; !outstanding.empty(); ++answered) {
        ASSERT_LT(answered, 10);
        leader.deliver(2, success_for(outstanding.front()));
        outstanding.erase(outstanding.begin());
        for (AppendRequest& request : leader.take<AppendRequest>(2)) {
            outstanding.push_back(std::move(request));
        }
        EXPECT_LE(outstanding.size(), 2u);
    }
    leader.ack();
    EXPECT_EQ(leader->commit_index(), leader->log().last_index());
}

TEST(RaftPipelining, BatchesAreBoundedByMaxAppendBytesAndALargerEntryGoesAlone) {
    Driver leader(small_batches(1), restored_state(3));
    elect_and_commit(leader);
    for (int i = 0; i < 2; ++i) {  // fill the window of node 2, so that the next ones queue
        ASSERT_TRUE(leader->propose(bytes(1)).is_ok());
        leader.collect();
    }
    for (size_t size : {40, 40, 40, 300, 40}) ASSERT_TRUE(leader->propose(bytes(size)).is_ok());

    std::vector<std::vector<Entry>> batches;
    for (int round = 0; round < 10 && (leader.collect(), leader.count<AppendRequest>(2) > 0);
         ++round) {
        for (const AppendRequest& request : leader.take<AppendRequest>(2)) {
            batches.push_back(request.entries);
            leader.deliver(2, success_for(request));
        }
    }
    leader.ack();
    EXPECT_EQ(leader->commit_index(), leader->log().last_index());
    bool some_batch_has_two = false;
    for (const std::vector<Entry>& batch : batches) {
        EXPECT_TRUE(batch.size() == 1 || payload_bytes(batch) <= 100) << batch.size();
        EXPECT_TRUE(payload_bytes(batch) < 300 || batch.size() == 1) << "the large entry alone";
        some_batch_has_two = some_batch_has_two || batch.size() > 1;
    }
    EXPECT_TRUE(some_batch_has_two) << "small entries are batched";
}

}  // namespace
}  // namespace copycat::raft
