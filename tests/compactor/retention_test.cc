// Which records a rewrite keeps (compactor/plan/retention.h): common/compaction.h's rules per
// mode and kind, the term rule, the snapshot, and the guard against tombstone resurrection.
#include "compactor/plan/retention.h"

#include <gtest/gtest.h>

#include <vector>

#include "schemas/storage_generated.h"
#include "tests/compactor/indexes.h"

namespace copycat::compactor::plan {
namespace {

using compaction::Kind;
using Mode = storage::CompactionMode;
using Keep = std::vector<bool>;

RecordState record(uint64_t index, uint64_t term, Mode mode, bool released) {
    return RecordState{index, term, static_cast<uint8_t>(mode), released};
}

// Everything committed and acknowledged up to 100, stored everywhere up to 50, no snapshot.
const compaction::Indexes kUsual = make_indexes(100, 100, 50, 0);

// The fate of one record of `mode` at `index`, released or not, behind a first record that the
// term rule keeps (same term, so the term rule keeps nothing else).
bool kept(Mode mode, uint64_t index, bool released, Kind kind,
          const compaction::Indexes& at = kUsual) {
    std::vector<RecordState> range = {record(1, 1, Mode::Unknown, false),
                                      record(index, 1, mode, released)};
    Retention retention = plan_retention(range, at, kind);
    EXPECT_TRUE(retention.keep[0]);
    EXPECT_EQ(retention.removed, retention.keep[1] ? 0u : 1u);
    return retention.keep[1];
}

TEST(RetentionTest, MinorRemovesReleasedRecordsPerMode) {
    EXPECT_FALSE(kept(Mode::Release, 10, true, Kind::minor));
    EXPECT_FALSE(kept(Mode::Quorum, 10, true, Kind::minor));
    EXPECT_FALSE(kept(Mode::Full, 10, true, Kind::minor)) << "below global";
    EXPECT_TRUE(kept(Mode::Full, 60, true, Kind::minor)) << "above global";
    EXPECT_TRUE(kept(Mode::Snapshot, 10, true, Kind::minor)) << "no snapshot covers it";
    for (Mode mode :
         {Mode::Sequential, Mode::Expiring, Mode::Tombstone, Mode::Unknown, Mode::Default}) {
        EXPECT_TRUE(kept(mode, 10, true, Kind::minor)) << storage::EnumNameCompactionMode(mode);
    }
}

TEST(RetentionTest, NothingUnreleasedUncommittedOrAboveMinorGoes) {
    for (Kind kind : {Kind::minor, Kind::major, Kind::snapshot}) {
        EXPECT_TRUE(kept(Mode::Release, 10, false, kind)) << "not released";
        EXPECT_TRUE(kept(Mode::Release, 30, true, kind, make_indexes(20, 100, 50, 0)))
            << "above the commit index";
        EXPECT_TRUE(kept(Mode::Release, 30, true, kind, make_indexes(100, 20, 50, 0)))
            << "above the minor index: its events may still be needed";
    }
}

TEST(RetentionTest, MajorRemovesTombstonesOnlyBelowTheGlobalIndex) {
    for (Mode mode : {Mode::Sequential, Mode::Expiring, Mode::Tombstone}) {
        SCOPED_TRACE(storage::EnumNameCompactionMode(mode));
        EXPECT_FALSE(kept(mode, 49, true, Kind::major));
        EXPECT_TRUE(kept(mode, 50, true, Kind::major)) << "at the global index";
        EXPECT_TRUE(kept(mode, 60, true, Kind::major));
        EXPECT_TRUE(kept(mode, 49, false, Kind::major)) << "not released";
        EXPECT_TRUE(kept(mode, 49, true, Kind::snapshot)) << "snapshot compaction is minor's";
    }
    EXPECT_FALSE(kept(Mode::Full, 49, true, Kind::major));
    EXPECT_TRUE(kept(Mode::Full, 50, true, Kind::major));
    EXPECT_TRUE(kept(Mode::Unknown, 49, true, Kind::major)) << "only a snapshot covers UNKNOWN";
}

TEST(RetentionTest, TheTermRuleKeepsTheFirstRecordAndTheFirstOfEachTerm) {
    std::vector<RecordState> range;
    for (uint64_t index = 1; index <= 9; ++index) {
        range.push_back(record(index, 1 + (index - 1) / 3, Mode::Release, true));
    }
    range.push_back(record(10, 3, Mode::Release, false));  // terms 1 1 1 2 2 2 3 3 3 3
    Retention retention = plan_retention(range, kUsual, Kind::minor);
    EXPECT_EQ(retention.keep, (Keep{1, 0, 0, 1, 0, 0, 1, 0, 0, 1}));
    EXPECT_EQ(retention.removed, 6u);
    range.erase(range.begin());  // a range starting at 2: its first record stays
    EXPECT_EQ(plan_retention(range, kUsual, Kind::minor).keep, (Keep{1, 0, 1, 0, 0, 1, 0, 0, 1}));
}

TEST(RetentionTest, ATermChangeAfterAHoleIsStillKept) {
    // 3 is a hole (removed before): the record after it starts term 2 and stays.
    std::vector<RecordState> range = {record(1, 1, Mode::Release, true),
                                      record(2, 1, Mode::Release, true),
                                      record(4, 2, Mode::Release, true)};
    EXPECT_EQ(plan_retention(range, kUsual, Kind::major).keep, (Keep{1, 0, 1}));
}

TEST(RetentionTest, TheSnapshotRemovesEverythingItCoversWhateverModeReleaseOrTerm) {
    compaction::Indexes at = make_indexes(100, 100, 0, 6);
    std::vector<RecordState> range = {
        record(1, 1, Mode::Unknown, false),  record(2, 1, Mode::Tombstone, false),
        record(3, 2, Mode::Full, false),     record(4, 2, Mode::Default, false),
        record(5, 3, Mode::Snapshot, false), record(6, 3, Mode::Release, false),
        record(7, 3, Mode::Release, true),   record(8, 3, Mode::Release, true),
        record(9, 3, Mode::Snapshot, true),  record(10, 4, Mode::Release, true)};
    for (Kind kind : {Kind::snapshot, Kind::major}) {
        Retention retention = plan_retention(range, at, kind);
        EXPECT_EQ(retention.keep, (Keep{0, 0, 0, 0, 0, 0, 1, 0, 1, 1}))
            << compaction::kind_name(kind)
            << ": 7 is the first record above the snapshot, so the first of the range";
        EXPECT_EQ(retention.removed, 7u);
    }
    // Minor compaction leaves what the snapshot covers alone, but released SNAPSHOT-mode ones.
    range[5] = record(6, 3, Mode::Snapshot, true);
    EXPECT_EQ(plan_retention(range, at, Kind::minor).keep, (Keep{1, 1, 1, 1, 1, 0, 0, 0, 1, 1}));
}

TEST(RetentionTest, ASegmentTheSnapshotCoversBecomesEmpty) {
    std::vector<RecordState> range = {record(11, 2, Mode::Release, false),
                                      record(12, 3, Mode::Tombstone, false)};
    Retention retention = plan_retention(range, make_indexes(100, 100, 0, 12), Kind::snapshot);
    EXPECT_EQ(retention.keep, (Keep{0, 0}));
    EXPECT_EQ(retention.removed, 2u);
    EXPECT_EQ(plan_retention(range, make_indexes(11, 100, 0, 12), Kind::snapshot).keep,
              (Keep{0, 1}))
        << "nothing above the commit index goes";
}

// The guard (retention.h): a delete goes only if no released write before it in the run was
// kept as the first record of its range without being known to start a term.
TEST(RetentionTest, ADeleteStaysAfterAWriteKeptAsTheFirstOfItsRange) {
    std::vector<RecordState> range = {record(5, 1, Mode::Release, true),
                                      record(6, 1, Mode::Release, true),
                                      record(7, 1, Mode::Tombstone, true)};
    RunMemory unknown_before;  // the run saw nothing before index 5
    EXPECT_EQ(plan_retention(range, kUsual, Kind::major, &unknown_before).keep, (Keep{1, 0, 1}));
    EXPECT_TRUE(unknown_before.kept_write_first_in_range);
    RunMemory same_term_before;
    same_term_before.last_term = 1;
    EXPECT_EQ(plan_retention(range, kUsual, Kind::major, &same_term_before).keep, (Keep{1, 0, 1}));
}

TEST(RetentionTest, ADeleteGoesWhenTheFirstRecordStartsATerm) {
    std::vector<RecordState> range = {record(5, 2, Mode::Release, true),
                                      record(6, 2, Mode::Release, true),
                                      record(7, 2, Mode::Tombstone, true)};
    RunMemory term_before;
    term_before.last_term = 1;  // 5 is the first record of term 2: a leader's no-op
    EXPECT_EQ(plan_retention(range, kUsual, Kind::major, &term_before).keep, (Keep{1, 0, 0}));
    EXPECT_FALSE(term_before.kept_write_first_in_range);
    EXPECT_EQ(term_before.last_term, 2u);
    std::vector<RecordState> from_one = {record(1, 1, Mode::Release, true),
                                         record(2, 1, Mode::Tombstone, true)};
    EXPECT_EQ(plan_retention(from_one, kUsual, Kind::major).keep, (Keep{1, 0}))
        << "index 1 is the first entry of the log";
}

TEST(RetentionTest, TheGuardHoldsAcrossTheGroupsOfOneRun) {
    std::vector<RecordState> first_group = {record(1, 1, Mode::Release, true),
                                            record(2, 1, Mode::Release, true)};
    std::vector<RecordState> second_group = {record(3, 1, Mode::Release, true),
                                             record(4, 1, Mode::Tombstone, true),
                                             record(5, 1, Mode::Tombstone, true)};
    RunMemory run;
    EXPECT_EQ(plan_retention(first_group, kUsual, Kind::major, &run).keep, (Keep{1, 0}));
    EXPECT_FALSE(run.kept_write_first_in_range);
    EXPECT_EQ(plan_retention(second_group, kUsual, Kind::major, &run).keep, (Keep{1, 1, 1}))
        << "3 is kept as the first of its group, in the term of 2: deletes after it stay";
    EXPECT_TRUE(run.kept_write_first_in_range);
    // An unreleased first record is no released write: the deletes after it go.
    second_group[0].released = false;
    RunMemory fresh;
    (void)plan_retention(first_group, kUsual, Kind::major, &fresh);
    EXPECT_EQ(plan_retention(second_group, kUsual, Kind::major, &fresh).keep, (Keep{1, 0, 0}));
}

TEST(RetentionTest, AnEmptyRangeKeepsNothing) {
    Retention retention = plan_retention({}, kUsual, Kind::major);
    EXPECT_TRUE(retention.keep.empty());
    EXPECT_EQ(retention.removed, 0u);
}

}  // namespace
}  // namespace copycat::compactor::plan
