// Which segments each kind of compaction chooses, and how major compaction groups neighbours
// (compactor/plan/selection.h).
#include "compactor/plan/selection.h"

#include <gtest/gtest.h>

#include <vector>

#include "logstore/record.h"
#include "tests/compactor/indexes.h"

namespace copycat::compactor::plan {
namespace {

using Ids = std::vector<uint64_t>;

// A sealed segment of 10 records [first, first + 9] with `released` of them released.
SegmentState sealed(uint64_t id, uint64_t first, uint64_t released = 0, uint64_t version = 1) {
    return SegmentState{id, version, first, first + 9, 10, released, true};
}

SegmentState active(uint64_t id, uint64_t first) {
    return SegmentState{id, 1, first, first + 4, 5, 5, false};
}

TEST(SelectionTest, EligibleWhenSealedAndWhollyAtOrBelowCommitAndMinor) {
    EXPECT_TRUE(is_eligible(sealed(1, 1), make_indexes(10, 10)));
    EXPECT_FALSE(is_eligible(sealed(1, 1), make_indexes(9, 100))) << "10 is not committed";
    EXPECT_FALSE(is_eligible(sealed(1, 1), make_indexes(100, 9))) << "10 is above minor";
    EXPECT_FALSE(is_eligible(active(1, 1), make_indexes(100, 100))) << "never the active tail";
    SegmentState empty{2, 2, 11, 10, 0, 0, true};
    EXPECT_TRUE(is_eligible(empty, make_indexes(10, 10))) << "an empty segment's range ends at 10";
}

TEST(SelectionTest, MinorWeighsTheReleasedRatioByVersion) {
    std::vector<SegmentState> segments = {
        sealed(1, 1, 5),      // 0.5 x 1: chosen (the threshold is reached, not passed)
        sealed(2, 11, 4),     // 0.4 x 1: not
        sealed(3, 21, 2, 3),  // 0.2 x 3 = 0.6: chosen, a rewritten segment needs fewer
        sealed(4, 31, 1, 4),  // 0.1 x 4 = 0.4: not
        sealed(5, 41, 10),    // everything released but above minor (45): not eligible
        active(6, 51),        // the active segment: never
    };
    EXPECT_EQ(choose_minor(segments, make_indexes(100, 45), 0.5), (Ids{1, 3}));
    EXPECT_EQ(choose_minor(segments, make_indexes(100, 45), 0.2), (Ids{1, 2, 3, 4}));
    EXPECT_EQ(choose_minor(segments, make_indexes(100, 45), 0.0), (Ids{1, 2, 3, 4}));
    EXPECT_EQ(choose_minor(segments, make_indexes(0, 45), 0.0), Ids{}) << "nothing committed";
}

TEST(SelectionTest, MinorSkipsSegmentsWithoutRecords) {
    std::vector<SegmentState> segments = {SegmentState{1, 3, 1, 0, 0, 0, true}};
    EXPECT_EQ(choose_minor(segments, make_indexes(100, 100), 0.0), Ids{});
}

TEST(SelectionTest, SnapshotChoosesSealedSegmentsTheSnapshotReaches) {
    std::vector<SegmentState> segments = {sealed(1, 1), sealed(2, 11), sealed(3, 21),
                                          SegmentState{4, 2, 31, 30, 0, 0, true}, active(5, 41)};
    EXPECT_EQ(choose_snapshot(segments, make_indexes(100, 0, 0, 0)), Ids{}) << "no snapshot";
    EXPECT_EQ(choose_snapshot(segments, make_indexes(100, 0, 0, 11)), (Ids{1, 2}));
    EXPECT_EQ(choose_snapshot(segments, make_indexes(100, 0, 0, 25)), (Ids{1, 2, 3}));
    EXPECT_EQ(choose_snapshot(segments, make_indexes(15, 0, 0, 25)), (Ids{1, 2}))
        << "nothing above the commit index";
    EXPECT_EQ(choose_snapshot(segments, make_indexes(100, 0, 0, 100)), (Ids{1, 2, 3}))
        << "neither the empty segment 4 nor the active one";
}

TEST(SelectionTest, MajorTakesTheEligiblePrefixOfTheLog) {
    std::vector<SegmentState> segments = {sealed(1, 1), sealed(2, 11), sealed(3, 21), sealed(4, 31),
                                          active(5, 41)};
    EXPECT_EQ(choose_major(segments, make_indexes(100, 100)), (Ids{1, 2, 3, 4}));
    EXPECT_EQ(choose_major(segments, make_indexes(25, 100)), (Ids{1, 2}));
    EXPECT_EQ(choose_major(segments, make_indexes(100, 5)), Ids{});
    segments[1].sealed = false;  // as if 2 were not sealed: 3 and 4 are not taken either
    EXPECT_EQ(choose_major(segments, make_indexes(100, 100)), (Ids{1}));
}

using Groups = std::vector<std::vector<size_t>>;
constexpr uint64_t kHeader = logstore::kSegmentHeaderBytes;

TEST(SelectionTest, GroupsGrowWhileTheCombinedFileFitsItsBytes) {
    Limits limits{kHeader + 100, 1000};
    std::vector<RewrittenSize> sizes = {{1, 40}, {1, 60}, {1, 1}, {1, 50}, {1, 50}};
    EXPECT_EQ(group_neighbours(sizes, limits), (Groups{{0, 1}, {2, 3}, {4}}))
        << "40 + 60 fit exactly with the header; 1 + 50 + 50 would not";
}

TEST(SelectionTest, GroupsGrowWhileTheirRecordsFitTheEntryLimit) {
    Limits limits{1 << 20, 10};
    std::vector<RewrittenSize> sizes = {{4, 10}, {6, 10}, {0, 0}, {7, 10}, {4, 10}};
    EXPECT_EQ(group_neighbours(sizes, limits), (Groups{{0, 1, 2}, {3}, {4}}))
        << "an empty segment joins the group before it";
}

TEST(SelectionTest, ASegmentOverTheLimitsIsAGroupOfItsOwn) {
    Limits limits{kHeader + 100, 10};
    std::vector<RewrittenSize> sizes = {{20, 10}, {1, 500}, {1, 10}};
    EXPECT_EQ(group_neighbours(sizes, limits), (Groups{{0}, {1}, {2}}));
    EXPECT_EQ(group_neighbours({}, limits), Groups{});
}

TEST(SelectionTest, GroupsKeepLogOrderOldestFirst) {
    Limits limits{1 << 20, 1 << 20};
    std::vector<RewrittenSize> sizes(5, RewrittenSize{1, 1});
    EXPECT_EQ(group_neighbours(sizes, limits), (Groups{{0, 1, 2, 3, 4}}));
}

}  // namespace
}  // namespace copycat::compactor::plan
