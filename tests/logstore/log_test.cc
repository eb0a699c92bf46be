// SegmentedLog as its user sees it: appends, holes, reads, roll-over and truncation, each
// checked again after a reopen.
#include "logstore/log.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/logstore/log_test_util.h"

namespace copycat::logstore {
namespace {

class LogTest : public LogstoreTest {
protected:
    // Reopens log_dir() with the same options as `log`, after closing `log`.
    void reopen(std::unique_ptr<SegmentedLog>& log, const LogOptions& options) {
        log.reset();
        log = open_log(options);
    }
};

TEST_F(LogTest, NewLogIsEmptyAndStartsAtIndexOne) {
    RecoveryReport report;
    auto log = open_log(options(), &report);
    EXPECT_TRUE(report.created);
    EXPECT_EQ(log->first_index(), 1u);
    EXPECT_EQ(log->last_index(), 0u);
    EXPECT_EQ(log->last_term(), 0u);
    EXPECT_EQ(log->term_at(1), std::nullopt);
    EXPECT_TRUE(read_all(*log).empty());
}

TEST_F(LogTest, SecondOpenOfTheSameDirectoryIsRefused) {
    auto log = open_log(options());
    Result<std::unique_ptr<SegmentedLog>> second = SegmentedLog::open(options(), nullptr);
    ASSERT_FALSE(second.is_ok());
    EXPECT_NE(second.status().message().find("LOCK"), std::string::npos);
    log.reset();
    EXPECT_OK(SegmentedLog::open(options(), nullptr));
}

TEST_F(LogTest, AppendedEntriesReadBackAfterSyncAndReopen) {
    auto log = open_log(options());
    std::vector<Entry> entries = concat(test_entries(1, 5, 1, 0), test_entries(6, 20, 3, 100));
    ASSERT_OK(append_entries(*log, entries));
    EXPECT_EQ(log->last_index(), 20u);
    EXPECT_EQ(log->durable_index(), 0u) << "nothing is durable before sync";
    EXPECT_EQ(read_all(*log), entries) << "staged entries are readable";
    ASSERT_OK(log->sync());
    EXPECT_EQ(log->durable_index(), 20u);
    EXPECT_EQ(log->last_term(), 3u);
    EXPECT_EQ(log->term_at(5), 1u);
    EXPECT_EQ(log->term_at(6), 3u);
    reopen(log, options());
    EXPECT_EQ(read_all(*log), entries);
    EXPECT_EQ(log->durable_index(), 20u);
}

TEST_F(LogTest, RefusedAppendsChangeNothing) {
    auto log = open_log(options());
    std::vector<Entry> entries = test_entries(1, 5, 2);
    append_and_sync(*log, entries);
    const std::vector<std::vector<Entry>> refused = {
        {test_entry(7, 2)},                         // a gap
        {test_entry(5, 2)},                         // the index goes back
        {test_entry(3, 2)},                         // further back
        {test_entry(6, 1)},                         // the term goes down
        {test_entry(6, 2), test_entry(6, 2)},       // a repeated index inside the batch
        {test_entry(6, 3), test_entry(7, 2)},       // the term goes down inside the batch
        {test_entry(6, 2), test_entry(8, 2)},       // a gap inside the batch
        {test_entry(6, 2), test_entry(7, 2, 2000)}  // over entry_max_bytes (below)
    };
    LogOptions small = options();
    small.entry_max_bytes = 1000;
    reopen(log, small);
    for (const auto& batch : refused) {
        Status status = append_entries(*log, batch);
        EXPECT_EQ(status.code(), StatusCode::invalid_argument) << status.to_string();
        EXPECT_EQ(log->last_index(), 5u);
        EXPECT_FALSE(log->failed());
    }
    EXPECT_EQ(append_entries(*log, {}).code(), StatusCode::invalid_argument);
    EXPECT_EQ(read_all(*log), entries);
    append_and_sync(*log, {test_entry(6, 2)});
    reopen(log, small);
    EXPECT_EQ(read_all(*log), concat(entries, {test_entry(6, 2)}));
}

TEST_F(LogTest, HolesAreSkippedByReadsAndHaveNoTerm) {
    auto log = open_log(options(3));
    std::vector<Entry> entries = {test_entry(1, 1), test_entry(2, 1), test_entry(5, 1),
                                  test_entry(7, 2), test_entry(8, 2), test_entry(12, 4)};
    ASSERT_OK(append_entries(*log, {entries[0], entries[1]}));
    ASSERT_OK(append_entries(*log, {entries[2], entries[3]}, /*allow_holes=*/true));
    ASSERT_OK(append_entries(*log, {entries[4]}));
    ASSERT_OK(append_entries(*log, {entries[5]}, /*allow_holes=*/true));
    ASSERT_OK(log->sync());
    for (int pass = 0; pass < 2; ++pass) {
        EXPECT_EQ(read_all(*log), entries);
        Result<std::vector<Entry>> middle = log->read(3, 7, SIZE_MAX);
        ASSERT_OK(middle);
        EXPECT_EQ(indexes_of(*middle), (std::vector<uint64_t>{5, 7}));
        for (uint64_t hole : {3, 4, 6, 9, 10, 11, 13}) EXPECT_EQ(log->term_at(hole), std::nullopt);
        EXPECT_EQ(log->term_at(5), 1u);
        EXPECT_EQ(log->term_at(7), 2u);
        EXPECT_EQ(log->term_at(12), 4u);
        EXPECT_EQ(log->last_index(), 12u);
        reopen(log, options(3));
    }
    Status gap = append_entries(*log, {test_entry(14, 4)});
    EXPECT_EQ(gap.code(), StatusCode::invalid_argument) << "holes need allow_holes";
    EXPECT_EQ(log->last_index(), 12u);
}

TEST_F(LogTest, ReadStopsAtTheByteBudgetButAlwaysReturnsTheFirstEntry) {
    auto log = open_log(options(4));
    std::vector<Entry> entries = test_entries(1, 10, 1, 100);  // segments of 4 entries
    append_and_sync(*log, entries);
    struct Case {
        uint64_t from, to;
        size_t budget;
        std::vector<uint64_t> expected;
    };
    const Case cases[] = {
        {1, 10, 0, {1}},          {1, 10, 99, {1}},           {1, 10, 100, {1}},
        {1, 10, 199, {1}},        {1, 10, 200, {1, 2}},       {3, 10, 250, {3, 4}},
        {3, 10, 300, {3, 4, 5}},  {4, 10, 450, {4, 5, 6, 7}}, {9, 10, 1000, {9, 10}},
        {2, 3, SIZE_MAX, {2, 3}},
    };
    for (const Case& c : cases) {
        Result<std::vector<Entry>> read = log->read(c.from, c.to, c.budget);
        ASSERT_OK(read);
        EXPECT_EQ(indexes_of(*read), c.expected) << c.from << ".." << c.to << " " << c.budget;
        for (const Entry& e : *read) EXPECT_EQ(e, entries[e.index - 1]);
    }
    EXPECT_EQ(log->read(5, 4, 100).status().code(), StatusCode::invalid_argument);
}

TEST_F(LogTest, FirstEntryLargerThanTheBudgetStillComesAlone) {
    auto log = open_log(options());
    std::vector<Entry> entries = {test_entry(1, 1, 5000), test_entry(2, 1, 10)};
    append_and_sync(*log, entries);
    Result<std::vector<Entry>> read = log->read(1, 2, 64);
    ASSERT_OK(read);
    EXPECT_EQ(*read, std::vector<Entry>{entries[0]});
}

TEST_F(LogTest, ReadOutsideTheLogReturnsNothing) {
    auto log = open_log(options());
    append_and_sync(*log, test_entries(1, 3, 1));
    Result<std::vector<Entry>> read = log->read(4, 100, SIZE_MAX);
    ASSERT_OK(read);
    EXPECT_TRUE(read->empty());
}

TEST_F(LogTest, LoweringTheEntryLimitKeepsEntriesWrittenBefore) {
    std::vector<Entry> entries = {test_entry(1, 1, 10), test_entry(2, 1, 3000),
                                  test_entry(3, 1, 2000)};
    auto log = open_log(options());
    append_and_sync(*log, entries);
    LogOptions lower = options();
    lower.entry_max_bytes = 1000;
    log.reset();
    RecoveryReport report;
    log = open_log(lower, &report);
    EXPECT_FALSE(report.tail_repair.has_value());
    EXPECT_EQ(read_all(*log), entries) << "acknowledged entries are never cut";
    EXPECT_EQ(append_entries(*log, {test_entry(4, 1, 1001)}).code(), StatusCode::invalid_argument)
        << "new entries keep to the new limit";
}

}  // namespace
}  // namespace copycat::logstore
