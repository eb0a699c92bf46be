// Roll-over into new segments and truncation, within the active segment and across segments
// (FORMAT.md, "Roll-over" and "Truncate after index T").
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "logstore/log.h"
#include "tests/logstore/log_test_util.h"

namespace copycat::logstore {
namespace {

class SegmentsTest : public LogstoreTest {
protected:
    void reopen(std::unique_ptr<SegmentedLog>& log, const LogOptions& options) {
        log.reset();
        log = open_log(options);
    }
};

// Every segment but the last sealed, ids counting up, index ranges following each other.
void expect_contiguous_segments(const SegmentedLog& log, uint64_t max_records) {
    std::vector<SegmentSummary> segments = log.segments();
    ASSERT_FALSE(segments.empty());
    EXPECT_EQ(segments.front().first_index, log.first_index());
    EXPECT_EQ(segments.back().last_index, log.last_index());
    for (size_t i = 0; i < segments.size(); ++i) {
        const SegmentSummary& s = segments[i];
        EXPECT_EQ(s.sealed, i + 1 < segments.size()) << s.file_name;
        EXPECT_EQ(s.file_name, segment_file_name(s.id, s.version));
        EXPECT_LE(s.records, max_records) << s.file_name;
        EXPECT_EQ(s.records, s.last_index + 1 - s.first_index) << s.file_name;
        if (i > 0) {
            EXPECT_EQ(s.id, segments[i - 1].id + 1);
            EXPECT_EQ(s.first_index, segments[i - 1].last_index + 1) << s.file_name;
        }
    }
}

TEST_F(SegmentsTest, RollsOverByEntryCount) {
    auto log = open_log(options(10));
    std::vector<Entry> entries = test_entries(1, 25, 1, 10);
    append_and_sync(*log, entries);
    std::vector<SegmentSummary> segments = log->segments();
    ASSERT_EQ(segments.size(), 3u);
    EXPECT_EQ(segments[0].last_index, 10u);
    EXPECT_EQ(segments[1].last_index, 20u);
    EXPECT_EQ(segments[2].records, 5u);
    expect_contiguous_segments(*log, 10);
    Result<std::vector<Entry>> spanning = log->read(5, 23, SIZE_MAX);
    ASSERT_OK(spanning);
    EXPECT_EQ(*spanning, std::vector<Entry>(entries.begin() + 4, entries.begin() + 23));
    std::string before = describe_segments(*log);
    reopen(log, options(10));
    EXPECT_EQ(describe_segments(*log), before);
    EXPECT_EQ(read_all(*log), entries);
}

TEST_F(SegmentsTest, RollsOverBySize) {
    auto log = open_log(options(1000, 4096));
    std::vector<Entry> entries = test_entries(1, 10, 1, 1000);  // 1,025-byte records
    append_and_sync(*log, entries);
    for (const SegmentSummary& s : log->segments()) {
        EXPECT_LE(s.size_bytes, 4096u) << s.file_name;
        EXPECT_EQ(s.records, s.sealed ? 3u : 1u) << s.file_name;  // 64 + 3 × 1,025 = 3,139
    }
    EXPECT_EQ(log->segments().size(), 4u);
    expect_contiguous_segments(*log, 3);
    reopen(log, options(1000, 4096));
    EXPECT_EQ(read_all(*log), entries);
    expect_contiguous_segments(*log, 3);
}

TEST_F(SegmentsTest, RecordLargerThanTheLimitGoesAloneInASegment) {
    auto log = open_log(options(1000, 4096));
    std::vector<Entry> entries = {test_entry(1, 1, 100), test_entry(2, 1, 6000),
                                  test_entry(3, 1, 100)};
    append_and_sync(*log, entries);
    std::vector<SegmentSummary> segments = log->segments();
    ASSERT_EQ(segments.size(), 3u);
    EXPECT_EQ(segments[1].first_index, 2u);
    EXPECT_EQ(segments[1].records, 1u);
    reopen(log, options(1000, 4096));
    EXPECT_EQ(read_all(*log), entries);
}

TEST_F(SegmentsTest, TruncateWithinTheActiveSegmentThenReappend) {
    auto log = open_log(options());
    std::vector<Entry> kept = test_entries(1, 6, 1);
    append_and_sync(*log, concat(kept, test_entries(7, 10, 1)));
    ASSERT_OK(log->truncate_after(6, 0));
    EXPECT_EQ(log->last_index(), 6u);
    EXPECT_EQ(log->durable_index(), 6u);
    EXPECT_EQ(log->term_at(7), std::nullopt);
    std::vector<Entry> replacement = test_entries(7, 9, 2);
    append_and_sync(*log, replacement);
    EXPECT_EQ(read_all(*log), concat(kept, replacement));
    reopen(log, options());
    EXPECT_EQ(read_all(*log), concat(kept, replacement));
    EXPECT_EQ(log->term_at(7), 2u);
}

TEST_F(SegmentsTest, TruncateStagedEntriesBeforeTheyAreSynced) {
    auto log = open_log(options());
    append_and_sync(*log, test_entries(1, 3, 1));
    ASSERT_OK(append_entries(*log, test_entries(4, 8, 1)));
    ASSERT_OK(log->truncate_after(5, 0));
    EXPECT_EQ(log->durable_index(), 5u);
    reopen(log, options());
    EXPECT_EQ(read_all(*log), test_entries(1, 5, 1));
}

TEST_F(SegmentsTest, TruncateAcrossSegmentsThenReappendRollsAgain) {
    auto log = open_log(options(4));
    append_and_sync(*log, test_entries(1, 14, 1));  // [1-4] [5-8] [9-12] [13-14]
    ASSERT_OK(log->truncate_after(6, 0));
    EXPECT_EQ(log->last_index(), 6u);
    ASSERT_EQ(log->segments().size(), 2u);
    EXPECT_FALSE(log->segments()[1].sealed);
    std::vector<Entry> expected = concat(test_entries(1, 6, 1), test_entries(7, 15, 2));
    append_and_sync(*log, test_entries(7, 15, 2));
    EXPECT_EQ(read_all(*log), expected);
    expect_contiguous_segments(*log, 4);
    reopen(log, options(4));
    EXPECT_EQ(read_all(*log), expected);
    expect_no_orphans(log_dir(), *log);
}

TEST_F(SegmentsTest, TruncateBackToTheEndOfASealedSegment) {
    auto log = open_log(options(4));
    append_and_sync(*log, test_entries(1, 10, 1));  // [1-4] [5-8] [9-10]
    ASSERT_OK(log->truncate_after(4, 0));
    ASSERT_EQ(log->segments().size(), 1u);
    EXPECT_FALSE(log->segments()[0].sealed) << "the segment holding 4 is active again";
    append_and_sync(*log, test_entries(5, 9, 3));
    std::vector<Entry> expected = concat(test_entries(1, 4, 1), test_entries(5, 9, 3));
    reopen(log, options(4));
    EXPECT_EQ(read_all(*log), expected);
    expect_contiguous_segments(*log, 4);
    expect_no_orphans(log_dir(), *log);
}

TEST_F(SegmentsTest, TruncateEverything) {
    auto log = open_log(options(4));
    append_and_sync(*log, test_entries(1, 10, 1));
    ASSERT_OK(log->truncate_after(0, 0));
    EXPECT_EQ(log->last_index(), 0u);
    append_and_sync(*log, test_entries(1, 2, 5));
    reopen(log, options(4));
    EXPECT_EQ(read_all(*log), test_entries(1, 2, 5));
}

TEST_F(SegmentsTest, TruncateBelowTheFloorIsRefusedAndChangesNothing) {
    auto log = open_log(options(4));
    std::vector<Entry> entries = test_entries(1, 12, 1);
    append_and_sync(*log, entries);
    std::string before = describe_segments(*log);
    Status refused = log->truncate_after(5, 7);
    EXPECT_EQ(refused.code(), StatusCode::invalid_argument) << refused.to_string();
    EXPECT_EQ(describe_segments(*log), before);
    EXPECT_EQ(read_all(*log), entries);
    ASSERT_OK(log->truncate_after(9, 9));  // the floor 9 is remembered from here on
    Status below_earlier = log->truncate_after(8, 0);
    EXPECT_EQ(below_earlier.code(), StatusCode::invalid_argument) << below_earlier.to_string();
    EXPECT_EQ(log->last_index(), 9u);
    EXPECT_FALSE(log->failed());
    reopen(log, options(4));
    EXPECT_EQ(read_all(*log), test_entries(1, 9, 1));
}

TEST_F(SegmentsTest, ResetStartsAnEmptyLogAtTheGivenIndex) {
    auto log = open_log(options(4));
    append_and_sync(*log, test_entries(1, 10, 1));
    ASSERT_OK(log->reset(100));
    EXPECT_EQ(log->first_index(), 100u);
    EXPECT_EQ(log->last_index(), 99u);
    EXPECT_EQ(log->term_at(5), std::nullopt);
    EXPECT_EQ(log->truncate_after(98, 0).code(), StatusCode::invalid_argument)
        << "nothing before the reset point can be truncated";
    std::vector<Entry> entries = test_entries(100, 105, 7);
    append_and_sync(*log, entries);
    reopen(log, options(4));
    EXPECT_EQ(log->first_index(), 100u);
    EXPECT_EQ(read_all(*log), entries);
    expect_no_orphans(log_dir(), *log);
}

}  // namespace
}  // namespace copycat::logstore
