// Which records a pass removes (compactor/plan/retention.h): common/compaction.h's rules per
// mode and kind over the whole sealed part of the log, the removal floor (released records go
// from the highest down, stopping at the first that must stay, with the deletes above it), the
// term rule, the log's last index, a release in the tail, and the snapshot.
#include "compactor/plan/retention.h"

#include <gtest/gtest.h>

#include <limits>
#include <vector>

#include "schemas/storage_generated.h"
#include "tests/compactor/indexes.h"

namespace copycat::compactor::plan {
namespace {

using compaction::Kind;
using Mode = storage::CompactionMode;
using Keep = std::vector<bool>;

constexpr Kind kAllKinds[] = {Kind::minor, Kind::major, Kind::snapshot};

RecordState record(uint64_t index, uint64_t term, Mode mode, bool released) {
    return RecordState{index, term, static_cast<uint8_t>(mode), released};
}

// Everything committed and acknowledged up to 100, stored everywhere up to 50, no snapshot.
const compaction::Indexes kUsual = make_indexes(100, 100, 50, 0);
// The log goes on well past the sealed part of the tests.
constexpr uint64_t kLastIndex = 1000;

Retention plan(const std::vector<RecordState>& sealed, Kind kind,
               const compaction::Indexes& at = kUsual) {
    return plan_log(sealed, at, kind, kLastIndex, /*released_in_tail=*/false);
}

// The fate of one record of `mode` at `index`, released or not, behind an unreleased first
// record of the same term (so neither the first-record nor the term rule touches it).
bool kept(Mode mode, uint64_t index, bool released, Kind kind,
          const compaction::Indexes& at = kUsual) {
    std::vector<RecordState> sealed = {record(1, 1, Mode::Unknown, false),
                                       record(index, 1, mode, released)};
    Retention retention = plan(sealed, kind, at);
    EXPECT_TRUE(retention.keep[0]);
    EXPECT_EQ(retention.removed, retention.keep[1] ? 0u : 1u);
    EXPECT_EQ(retention.floor, released && retention.keep[1] ? index : 0u)
        << "a released record that stays is the floor";
    return retention.keep[1];
}

TEST(RetentionTest, ReleasedRecordsGoByTheirModeInEveryKind) {
    for (Kind kind : kAllKinds) {
        SCOPED_TRACE(compaction::kind_name(kind));
        EXPECT_FALSE(kept(Mode::Release, 10, true, kind));
        EXPECT_FALSE(kept(Mode::Quorum, 10, true, kind));
        EXPECT_TRUE(kept(Mode::Snapshot, 10, true, kind)) << "no snapshot covers it";
        EXPECT_TRUE(kept(Mode::Unknown, 10, true, kind)) << "only a snapshot covers UNKNOWN";
        EXPECT_TRUE(kept(Mode::Default, 10, true, kind)) << "DEFAULT counts as UNKNOWN";
    }
}

// Minor passes too: the top-down order is what keeps deletes safe (retention.h, "Modes").
TEST(RetentionTest, DeletesAndFullGoOnlyBelowTheGlobalIndexInEveryKind) {
    for (Kind kind : kAllKinds) {
        for (Mode mode : {Mode::Full, Mode::Sequential, Mode::Expiring, Mode::Tombstone}) {
            SCOPED_TRACE(std::string(compaction::kind_name(kind)) + " " +
                         storage::EnumNameCompactionMode(mode));
            EXPECT_FALSE(kept(mode, 49, true, kind));
            EXPECT_TRUE(kept(mode, 50, true, kind)) << "at the global index";
            EXPECT_TRUE(kept(mode, 60, true, kind));
            EXPECT_TRUE(kept(mode, 49, false, kind)) << "not released";
        }
    }
}

TEST(RetentionTest, NothingUnreleasedUncommittedOrAboveMinorGoes) {
    for (Kind kind : kAllKinds) {
        SCOPED_TRACE(compaction::kind_name(kind));
        EXPECT_TRUE(kept(Mode::Release, 10, false, kind)) << "not released";
        EXPECT_TRUE(kept(Mode::Release, 30, true, kind, make_indexes(20, 100, 50, 0)))
            << "above the commit index";
        EXPECT_TRUE(kept(Mode::Release, 30, true, kind, make_indexes(100, 20, 50, 0)))
            << "above the minor index: its events may still be needed";
    }
}

TEST(RetentionTest, AReleasedRecordThatMustStayKeepsEveryReleasedRecordBelowIt) {
    // 3 (UNKNOWN) and 5 (DEFAULT) must stay; the higher of them is the floor.
    std::vector<RecordState> sealed = {
        record(1, 1, Mode::Unknown, false), record(2, 1, Mode::Release, true),
        record(3, 1, Mode::Unknown, true),  record(4, 1, Mode::Release, true),
        record(5, 1, Mode::Default, true),  record(6, 1, Mode::Release, false),
        record(7, 1, Mode::Quorum, true),   record(8, 1, Mode::Release, true)};
    for (Kind kind : kAllKinds) {
        Retention retention = plan(sealed, kind);
        EXPECT_EQ(retention.keep, (Keep{1, 1, 1, 1, 1, 1, 0, 0})) << compaction::kind_name(kind);
        EXPECT_EQ(retention.removed, 2u);
        EXPECT_EQ(retention.floor, 5u);
    }
}

TEST(RetentionTest, AReleasedDeleteAtTheGlobalIndexIsAFloor) {
    // 4 is a delete that may go on its own, but it is below the floor.
    std::vector<RecordState> sealed = {
        record(1, 1, Mode::Unknown, false),  record(2, 1, Mode::Release, true),
        record(3, 1, Mode::Full, true),      record(4, 1, Mode::Tombstone, true),
        record(5, 1, Mode::Tombstone, true), record(6, 1, Mode::Release, true),
        record(7, 1, Mode::Quorum, true)};
    Retention retention = plan(sealed, Kind::minor, make_indexes(100, 100, 5, 0));
    EXPECT_EQ(retention.keep, (Keep{1, 1, 1, 1, 1, 0, 0}));
    EXPECT_EQ(retention.floor, 5u);
    EXPECT_EQ(plan(sealed, Kind::minor, make_indexes(100, 100, 6, 0)).keep,
              (Keep{1, 0, 0, 0, 0, 0, 0}))
        << "below the global index it goes, and nothing has to stay";
}

// The writes a delete undid may be below the floor: the delete stays with them.
TEST(RetentionTest, AReleasedDeleteAboveTheFloorStaysWithEverythingBelowIt) {
    std::vector<RecordState> sealed = {
        record(1, 1, Mode::Unknown, false),  record(2, 1, Mode::Release, true),
        record(3, 1, Mode::Unknown, true),   record(4, 1, Mode::Release, true),
        record(5, 1, Mode::Tombstone, true), record(6, 1, Mode::Release, true),
        record(7, 1, Mode::Expiring, true),  record(8, 1, Mode::Release, true),
        record(9, 1, Mode::Quorum, true)};
    Retention retention = plan(sealed, Kind::minor);
    EXPECT_EQ(retention.keep, (Keep{1, 1, 1, 1, 1, 1, 1, 0, 0}));
    EXPECT_EQ(retention.removed, 2u);
    EXPECT_EQ(retention.floor, 7u) << "the highest released delete above the floor";

    sealed[6].released = false;  // 7 stays anyway; the highest released delete is now 5
    retention = plan(sealed, Kind::minor);
    EXPECT_EQ(retention.keep, (Keep{1, 1, 1, 1, 1, 0, 1, 0, 0}));
    EXPECT_EQ(retention.floor, 5u);

    sealed[2].mode = static_cast<uint8_t>(Mode::Release);  // nothing released has to stay
    retention = plan(sealed, Kind::minor);
    EXPECT_EQ(retention.keep, (Keep{1, 0, 0, 0, 0, 0, 1, 0, 0}));
    EXPECT_EQ(retention.removed, 7u);
    EXPECT_EQ(retention.floor, 0u);
}

TEST(RetentionTest, ARecordStartingATermStaysAndIsAFloor) {
    std::vector<RecordState> sealed = {
        record(1, 1, Mode::Release, false), record(2, 1, Mode::Release, true),
        record(3, 1, Mode::Release, true),  record(4, 2, Mode::Release, true),
        record(5, 2, Mode::Release, true),  record(6, 2, Mode::Release, true)};
    Retention retention = plan(sealed, Kind::major);
    EXPECT_EQ(retention.keep, (Keep{1, 1, 1, 1, 0, 0}));
    EXPECT_EQ(retention.floor, 4u);
    sealed[3].term = sealed[4].term = sealed[5].term = 1;
    EXPECT_EQ(plan(sealed, Kind::major).keep, (Keep{1, 0, 0, 0, 0, 0})) << "one term: all go";
}

TEST(RetentionTest, ATermChangeAfterAHoleIsStillKept) {
    // 3 is a hole (removed before): the record after it starts term 2 and stays.
    std::vector<RecordState> sealed = {
        record(1, 1, Mode::Release, false), record(2, 1, Mode::Release, true),
        record(4, 2, Mode::Release, true), record(5, 2, Mode::Release, true)};
    Retention retention = plan(sealed, Kind::major);
    EXPECT_EQ(retention.keep, (Keep{1, 1, 1, 0}));
    EXPECT_EQ(retention.floor, 4u);
}

// The term before the sealed part is not known: its first record stays, and if released it
// is the floor, so the deletes above it stay too.
TEST(RetentionTest, TheFirstSealedRecordStaysAndIsAFloorWhenReleased) {
    std::vector<RecordState> sealed = {
        record(5, 1, Mode::Release, true), record(6, 1, Mode::Release, true),
        record(7, 1, Mode::Tombstone, true), record(8, 1, Mode::Release, true)};
    Retention retention = plan(sealed, Kind::major);
    EXPECT_EQ(retention.keep, (Keep{1, 1, 1, 0}));
    EXPECT_EQ(retention.floor, 7u);
    sealed[0].released = false;
    retention = plan(sealed, Kind::major);
    EXPECT_EQ(retention.keep, (Keep{1, 0, 0, 0})) << "an unreleased first record is no floor";
    EXPECT_EQ(retention.floor, 0u);
}

TEST(RetentionTest, TheLogsLastIndexStays) {
    std::vector<RecordState> sealed = {record(1, 1, Mode::Release, false),
                                       record(2, 1, Mode::Release, true),
                                       record(3, 1, Mode::Release, true)};
    Retention retention = plan_log(sealed, kUsual, Kind::minor, 3, false);
    EXPECT_EQ(retention.keep, (Keep{1, 1, 1}));
    EXPECT_EQ(retention.floor, 3u);
    EXPECT_EQ(plan_log(sealed, kUsual, Kind::minor, 4, false).keep, (Keep{1, 0, 0}));
}

// A release in the active segment can only come after a truncation moved the sealed end back:
// the bits are then no cut the sealed part can follow.
TEST(RetentionTest, AReleaseInTheTailKeepsEveryReleasedRecord) {
    std::vector<RecordState> sealed = {
        record(1, 1, Mode::Release, false), record(2, 1, Mode::Release, true),
        record(3, 1, Mode::Quorum, true), record(4, 1, Mode::Tombstone, true)};
    for (Kind kind : kAllKinds) {
        Retention retention = plan_log(sealed, kUsual, kind, kLastIndex, true);
        EXPECT_EQ(retention.keep, (Keep{1, 1, 1, 1})) << compaction::kind_name(kind);
        EXPECT_EQ(retention.removed, 0u);
        EXPECT_EQ(retention.floor, std::numeric_limits<uint64_t>::max());
    }
    Retention retention =
        plan_log(sealed, make_indexes(100, 100, 50, 2), Kind::snapshot, kLastIndex, true);
    EXPECT_EQ(retention.keep, (Keep{0, 0, 1, 1})) << "the snapshot still removes what it covers";
}

// Snapshot at 6: records 1-6 hold every mode, released or not, in three terms.
std::vector<RecordState> records_around_a_snapshot() {
    return {record(1, 1, Mode::Unknown, false),  record(2, 1, Mode::Tombstone, false),
            record(3, 2, Mode::Full, false),     record(4, 2, Mode::Default, true),
            record(5, 3, Mode::Snapshot, true),  record(6, 3, Mode::Release, true),
            record(7, 3, Mode::Release, true),   record(8, 3, Mode::Release, false),
            record(9, 3, Mode::Snapshot, false), record(10, 4, Mode::Release, false)};
}

TEST(RetentionTest, TheSnapshotRemovesEverythingItCoversWhateverModeReleaseOrTerm) {
    const compaction::Indexes at = make_indexes(100, 100, 0, 6);
    for (Kind kind : {Kind::snapshot, Kind::major}) {
        Retention retention = plan(records_around_a_snapshot(), kind, at);
        EXPECT_EQ(retention.keep, (Keep{0, 0, 0, 0, 0, 0, 0, 1, 1, 1}))
            << compaction::kind_name(kind)
            << ": 7 goes too, its term is that of 6, which the snapshot covers";
        EXPECT_EQ(retention.removed, 7u);
        EXPECT_EQ(retention.floor, 0u);
    }
}

// Released records the snapshot covers are neither removed nor a floor in a minor pass (4 is
// a released DEFAULT, which would otherwise keep 5-7; 5 a released SNAPSHOT-mode record).
TEST(RetentionTest, AMinorPassLeavesWhatTheSnapshotCoversEvenReleased) {
    Retention retention =
        plan(records_around_a_snapshot(), Kind::minor, make_indexes(100, 100, 0, 6));
    EXPECT_EQ(retention.keep, (Keep{1, 1, 1, 1, 1, 1, 0, 1, 1, 1}));
    EXPECT_EQ(retention.removed, 1u);
    EXPECT_EQ(retention.floor, 0u);
}

TEST(RetentionTest, ASegmentTheSnapshotCoversBecomesEmpty) {
    std::vector<RecordState> sealed = {record(11, 2, Mode::Release, false),
                                       record(12, 3, Mode::Tombstone, false)};
    Retention retention = plan(sealed, Kind::snapshot, make_indexes(100, 100, 0, 12));
    EXPECT_EQ(retention.keep, (Keep{0, 0}));
    EXPECT_EQ(retention.removed, 2u);
    EXPECT_EQ(plan(sealed, Kind::snapshot, make_indexes(11, 100, 0, 12)).keep, (Keep{0, 1}))
        << "nothing above the commit index goes";
}

TEST(RetentionTest, AnEmptyLogKeepsNothing) {
    Retention retention = plan({}, Kind::major);
    EXPECT_TRUE(retention.keep.empty());
    EXPECT_EQ(retention.removed, 0u);
    EXPECT_EQ(retention.floor, 0u);
}

}  // namespace
}  // namespace copycat::compactor::plan
