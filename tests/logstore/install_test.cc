// Installing a compacted segment (FORMAT.md, "Compaction: rewrite and swap"): the compactor's
// file replaces sealed segments whole, or is refused and changes nothing.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "logstore/log.h"
#include "logstore/segment.h"
#include "tests/logstore/log_test_util.h"

namespace copycat::logstore {
namespace {

// A log of entries 1-14 in segments [1-4] [5-8] [9-12] and the active [13-14].
class InstallTest : public LogstoreTest {
protected:
    void SetUp() override {
        LogstoreTest::SetUp();
        log_ = open_log(options(4));
        append_and_sync(*log_, entries_);
    }

    void reopen(RecoveryReport* report = nullptr) {
        log_.reset();
        log_ = open_log(options(4), report);
    }

    // Writes the compacted file the way the compactor would; returns its name.
    std::string write_candidate(const SegmentHeader& header, const std::vector<Entry>& entries) {
        std::string name = segment_file_name(header.id, header.version);
        write_segment_file(log_path(name), header, entries);
        return name;
    }

    // install_segment refuses the file, with `why` in its message, and nothing changes, also
    // after a reopen (which removes the refused file as an orphan).
    void expect_refused(const std::vector<uint64_t>& replaces, const std::string& name,
                        const std::string& why) {
        std::string before = describe_segments(*log_) + describe_log(*log_);
        Result<SegmentSummary> installed = log_->install_segment(replaces, name);
        ASSERT_FALSE(installed.is_ok()) << name;
        EXPECT_EQ(installed.status().code(), StatusCode::invalid_argument);
        EXPECT_NE(installed.status().message().find(why), std::string::npos)
            << installed.status().message();
        EXPECT_FALSE(log_->failed());
        EXPECT_EQ(describe_segments(*log_) + describe_log(*log_), before);
        RecoveryReport report;
        reopen(&report);
        EXPECT_EQ(describe_segments(*log_) + describe_log(*log_), before);
        EXPECT_EQ(report.removed_orphans, std::vector<std::string>{name});
    }

    const std::vector<Entry> entries_ = test_entries(1, 14, 1, 20);
    std::unique_ptr<SegmentedLog> log_;
};

TEST_F(InstallTest, CompactedSegmentReplacesTheOldVersion) {
    std::string name = write_candidate({1, 2, 1, 0}, pick(entries_, {1, 3, 4}));
    Result<SegmentSummary> installed = log_->install_segment(std::vector<uint64_t>{1}, name);
    ASSERT_OK(installed);
    EXPECT_EQ(installed->file_name, name);
    EXPECT_EQ(installed->records, 3u);
    EXPECT_EQ(installed->first_index, 1u);
    EXPECT_EQ(installed->last_index, 4u);
    EXPECT_TRUE(installed->sealed);
    std::vector<Entry> expected = pick(entries_, {1, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14});
    for (int pass = 0; pass < 2; ++pass) {
        EXPECT_EQ(read_all(*log_), expected);
        EXPECT_EQ(log_->term_at(2), std::nullopt) << "a dropped entry is a hole";
        EXPECT_EQ(log_->segments()[0].file_name, name);
        expect_no_orphans(log_dir(), *log_);
        reopen();
    }
}

TEST_F(InstallTest, NeighboursCombineIntoOneSegment) {
    std::string name = write_candidate({1, 2, 1, 0}, pick(entries_, {2, 4, 5, 8, 10}));
    ASSERT_OK(log_->install_segment(std::vector<uint64_t>{1, 2, 3}, name));
    ASSERT_EQ(log_->segments().size(), 2u);
    EXPECT_EQ(log_->segments()[1].first_index, 13u);
    std::vector<Entry> expected = pick(entries_, {2, 4, 5, 8, 10, 13, 14});
    EXPECT_EQ(read_all(*log_), expected);
    reopen();
    EXPECT_EQ(read_all(*log_), expected);
    expect_no_orphans(log_dir(), *log_);
    append_and_sync(*log_, test_entries(15, 20, 2, 20));  // the log goes on rolling over
    reopen();
    EXPECT_EQ(read_all(*log_), concat(expected, test_entries(15, 20, 2, 20)));
}

TEST_F(InstallTest, ReleaseBitsOfKeptEntriesAreCarriedOver) {
    std::vector<uint64_t> released = {2, 3, 4, 6};
    EXPECT_EQ(log_->release(released), 4u);
    std::string name = write_candidate({1, 2, 1, 0}, pick(entries_, {1, 3, 4}));
    Result<SegmentSummary> installed = log_->install_segment(std::vector<uint64_t>{1}, name);
    ASSERT_OK(installed);
    EXPECT_EQ(installed->released, 2u) << "3 and 4 are kept and stay released";
    EXPECT_EQ(released_total(*log_), 3u);
    reopen();
    EXPECT_EQ(log_->segments()[0].released, 2u);
    std::vector<uint64_t> again = {1, 3, 4};
    EXPECT_EQ(log_->release(again), 1u) << "only 1 was not released yet";
}

// A segment the snapshot covers entirely is rewritten without records: a header alone.
TEST_F(InstallTest, SegmentWithoutRecordsReplacesOneAndIsAHoleUntilCombined) {
    std::vector<uint64_t> released = {5, 6};
    log_->release(released);
    std::string name = write_candidate({2, 2, 5, 0}, {});
    Result<SegmentSummary> installed = log_->install_segment(std::vector<uint64_t>{2}, name);
    ASSERT_OK(installed);
    EXPECT_EQ(installed->records, 0u);
    EXPECT_EQ(installed->first_index, 5u);
    EXPECT_EQ(installed->last_index, 4u) << "an empty range ends before it begins";
    EXPECT_EQ(installed->released, 0u);
    std::vector<Entry> expected = pick(entries_, {1, 2, 3, 4, 9, 10, 11, 12, 13, 14});
    for (int pass = 0; pass < 2; ++pass) {
        EXPECT_EQ(read_all(*log_), expected);
        for (uint64_t hole = 5; hole <= 8; ++hole) EXPECT_EQ(log_->term_at(hole), std::nullopt);
        EXPECT_EQ(log_->term_at(9), 1u);
        expect_no_orphans(log_dir(), *log_);
        reopen();
    }
    // Combined later with its neighbours, like any other segment.
    std::string combined = write_candidate({1, 3, 1, 0}, pick(entries_, {1, 4, 9, 12}));
    ASSERT_OK(log_->install_segment(std::vector<uint64_t>{1, 2, 3}, combined));
    reopen();
    EXPECT_EQ(read_all(*log_), pick(entries_, {1, 4, 9, 12, 13, 14}));
    append_and_sync(*log_, test_entries(15, 16, 2, 20));
    EXPECT_EQ(log_->last_index(), 16u);
}

TEST_F(InstallTest, EntriesAboveALoweredEntryLimitAreStillInstalled) {
    LogOptions lowered = options(4);
    lowered.entry_max_bytes = 10;  // the entries of this log have 20 bytes
    log_.reset();
    log_ = open_log(lowered);
    std::string name = write_candidate({1, 2, 1, 0}, pick(entries_, {1, 3}));
    ASSERT_OK(log_->install_segment(std::vector<uint64_t>{1}, name));
    EXPECT_EQ(read_all(*log_).front(), entries_[0]);
}

TEST_F(InstallTest, EntryNotInTheReplacedSegmentIsRefused) {
    std::vector<Entry> changed = pick(entries_, {1, 3});
    changed[1].payload[0] ^= 1;
    expect_refused({1}, write_candidate({1, 2, 1, 0}, changed), "entry 3");
}

TEST_F(InstallTest, EntryWithAnotherTermIsRefused) {
    std::vector<Entry> other_term = {entries_[0], test_entry(2, 2, 20)};
    expect_refused({1}, write_candidate({1, 2, 1, 0}, other_term), "entry 2");
}

TEST_F(InstallTest, EntryOfAnotherSegmentIsRefused) {
    expect_refused({1}, write_candidate({1, 2, 1, 0}, pick(entries_, {1, 5})), "entry 5");
}

TEST_F(InstallTest, VersionNotAboveTheReplacedOneIsRefused) {
    std::string v3 = write_candidate({1, 3, 1, 0}, pick(entries_, {1, 2}));
    ASSERT_OK(log_->install_segment(std::vector<uint64_t>{1}, v3));
    expect_refused({1}, write_candidate({1, 2, 1, 0}, pick(entries_, {1})), "version 2");
}

TEST_F(InstallTest, NonNeighboursAreRefused) {
    expect_refused({1, 3}, write_candidate({1, 2, 1, 0}, pick(entries_, {1})), "neighbours");
}

TEST_F(InstallTest, SegmentsOutOfOrderAreRefused) {
    expect_refused({2, 1}, write_candidate({2, 2, 5, 0}, pick(entries_, {5})), "neighbours");
}

TEST_F(InstallTest, ActiveSegmentIsRefused) {
    expect_refused({4}, write_candidate({4, 2, 13, 0}, pick(entries_, {13})), "sealed");
    expect_refused({3, 4}, write_candidate({3, 2, 9, 0}, pick(entries_, {9})), "sealed");
}

TEST_F(InstallTest, UnknownSegmentIsRefused) {
    expect_refused({9}, write_candidate({9, 2, 1, 0}, {}), "sealed");
}

TEST_F(InstallTest, AnotherFirstIndexOrIdIsRefused) {
    expect_refused({1}, write_candidate({1, 2, 2, 0}, pick(entries_, {2})), "first index");
    expect_refused({1}, write_candidate({2, 2, 5, 0}, pick(entries_, {5})), "id");
}

TEST_F(InstallTest, CorruptCandidateIsRefused) {
    std::string name = write_candidate({1, 2, 1, 0}, pick(entries_, {1, 2}));
    flip_bit(log_path(name), 100, 3);
    expect_refused({1}, name, name);
}

TEST_F(InstallTest, HeaderOfAnotherVersionThanItsNameIsRefused) {
    std::string name = segment_file_name(1, 5);
    write_segment_file(log_path(name), {1, 2, 1, 0}, pick(entries_, {1}));
    expect_refused({1}, name, name);
}

TEST_F(InstallTest, MissingReplacesOrBadNameIsRefused) {
    std::string name = write_candidate({1, 2, 1, 0}, pick(entries_, {1}));
    EXPECT_EQ(log_->install_segment({}, name).status().code(), StatusCode::invalid_argument);
    std::vector<uint64_t> one = {1};
    EXPECT_EQ(log_->install_segment(one, "compacted.log").status().code(),
              StatusCode::invalid_argument);
    EXPECT_EQ(log_->segments()[0].version, 1u);
}

}  // namespace
}  // namespace copycat::logstore
