// Release bitmaps (FORMAT.md, "Release bitmaps"): advisory, kept across a reopen when saved,
// read as "nothing released" when damaged.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "logstore/log.h"
#include "logstore/segment.h"
#include "tests/logstore/log_test_util.h"

namespace copycat::logstore {
namespace {

class ReleaseTest : public LogstoreTest {
protected:
    // Segments [1-4] [5-8] [9-10] with 2, 1 and 1 entries released and the bitmaps saved.
    std::unique_ptr<SegmentedLog> log_with_releases() {
        auto log = open_log(options(4));
        append_and_sync(*log, test_entries(1, 10, 1));
        std::vector<uint64_t> indexes = {2, 4, 6, 10};
        EXPECT_EQ(log->release(indexes), 4u);
        require_ok(log->save_release_bitmaps(), "save release bitmaps");
        return log;
    }

    // Opens a copy of log_dir() taken now, as a restart after a crash would find it.
    std::unique_ptr<SegmentedLog> crash_copy() {
        std::string crashed = root_ + "/crashed";
        copy_directory(log_dir(), crashed);
        LogOptions crashed_options = options();
        crashed_options.directory = crashed;
        return open_log(crashed_options);
    }

    std::vector<uint64_t> released_per_segment(const SegmentedLog& log) {
        std::vector<uint64_t> counts;
        for (const SegmentSummary& s : log.segments()) counts.push_back(s.released);
        return counts;
    }
};

TEST_F(ReleaseTest, ReleaseCountsOnlyNewBitsOfKnownEntries) {
    auto log = log_with_releases();
    std::vector<uint64_t> again = {2, 4, 3, 0, 11, 1000};
    EXPECT_EQ(log->release(again), 1u) << "only 3 is new; 0, 11 and 1000 are not entries";
    EXPECT_EQ(released_per_segment(*log), (std::vector<uint64_t>{3, 1, 1}));
}

TEST_F(ReleaseTest, HolesCannotBeReleased) {
    auto log = open_log(options());
    append_and_sync(*log, {test_entry(1, 1), test_entry(5, 1)}, /*allow_holes=*/true);
    std::vector<uint64_t> indexes = {2, 3, 4, 5};
    EXPECT_EQ(log->release(indexes), 1u);
}

TEST_F(ReleaseTest, SavedBitsSurviveReopen) {
    auto log = log_with_releases();
    log.reset();
    log = open_log(options(4));
    EXPECT_EQ(released_per_segment(*log), (std::vector<uint64_t>{2, 1, 1}));
    std::vector<uint64_t> again = {2, 4, 6, 10};
    EXPECT_EQ(log->release(again), 0u) << "the bits read back are the same entries";
}

TEST_F(ReleaseTest, BitsAreSavedWhenTheLogCloses) {
    {
        auto log = open_log(options(4));
        append_and_sync(*log, test_entries(1, 10, 1));
        std::vector<uint64_t> indexes = {1, 9};
        EXPECT_EQ(log->release(indexes), 2u);
    }
    auto log = open_log(options(4));
    EXPECT_EQ(released_per_segment(*log), (std::vector<uint64_t>{1, 0, 1}));
}

TEST_F(ReleaseTest, CorruptBitmapReadsAsNothingReleased) {
    auto log = log_with_releases();
    std::string first = log_path(release_file_name(1, 1));
    std::string second = log_path(release_file_name(2, 1));
    std::string third = log_path(release_file_name(3, 1));
    log.reset();
    flip_bit(first, 12, 3);                      // a bit of the bitmap itself: CRC fails
    resize_file(second, file_size(second) - 1);  // short
    write_file_bytes(third, std::vector<uint8_t>(40, 0xff));
    log = open_log(options(4));
    EXPECT_EQ(released_per_segment(*log), (std::vector<uint64_t>{0, 0, 0}));
    std::vector<uint64_t> indexes = {2, 4, 6, 10};
    EXPECT_EQ(log->release(indexes), 4u) << "the log goes on and accepts releases again";
}

TEST_F(ReleaseTest, MissingBitmapReadsAsNothingReleased) {
    auto log = log_with_releases();
    log.reset();
    ASSERT_OK(remove_file(log_path(release_file_name(2, 1))));
    log = open_log(options(4));
    EXPECT_EQ(released_per_segment(*log), (std::vector<uint64_t>{2, 0, 1}));
}

// A bit of a truncated entry must not come back for the entry appended in its place: the
// bitmap is by position in the segment. The crash is simulated by opening a copy of the
// directory taken while the log is open (it holds only what the log had written by then).
TEST_F(ReleaseTest, BitsOfTruncatedEntriesDoNotMarkReappendedEntries) {
    auto log = open_log(options());
    append_and_sync(*log, test_entries(1, 10, 1));
    std::vector<uint64_t> indexes = {3, 7, 8};
    EXPECT_EQ(log->release(indexes), 3u);
    ASSERT_OK(log->save_release_bitmaps());
    ASSERT_OK(log->truncate_after(6, 0));
    EXPECT_EQ(released_total(*log), 1u);
    append_and_sync(*log, test_entries(7, 10, 2));
    EXPECT_EQ(released_total(*crash_copy()), 1u) << "only entry 3 was ever released";
}

// The same after a torn tail: the released entries 9 and 10 were cut at start-up.
TEST_F(ReleaseTest, BitsOfATornTailDoNotMarkReappendedEntries) {
    auto log = open_log(options());
    append_and_sync(*log, test_entries(1, 10, 1));
    std::vector<uint64_t> indexes = {2, 9, 10};
    EXPECT_EQ(log->release(indexes), 3u);
    log.reset();
    std::string active = log_path(segment_file_name(1, 1));
    resize_file(active, record_offsets(test_entries(1, 8, 1)).back() + 3);
    RecoveryReport report;
    log = open_log(options(), &report);
    ASSERT_TRUE(report.tail_repair.has_value());
    EXPECT_EQ(released_total(*log), 1u);
    append_and_sync(*log, test_entries(9, 10, 2));
    EXPECT_EQ(released_total(*crash_copy()), 1u) << "only entry 2 was ever released";
}

}  // namespace
}  // namespace copycat::logstore
