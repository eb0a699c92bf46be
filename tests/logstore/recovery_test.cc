// Start-up over damaged files (FORMAT.md, "Append", "What start-up refuses"): torn tails are
// cut, everything else that fails its checks stops the open with a Status naming the file.
#include <gtest/gtest.h>

#include <cctype>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "logstore/log.h"
#include "logstore/segment.h"
#include "tests/logstore/log_test_util.h"

namespace copycat::logstore {
namespace {

const std::string kSealedFile = "segment-00000001-v1.log";
const std::string kActiveFile = "segment-00000002-v1.log";

// Entries with payloads of different sizes, so that records do not line up.
std::vector<Entry> varied_entries(uint64_t first, uint64_t last, uint64_t term) {
    std::vector<Entry> entries;
    for (uint64_t index = first; index <= last; ++index) {
        entries.push_back(test_entry(index, term, 3 + (index * 7) % 20));
    }
    return entries;
}

std::vector<uint8_t> read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

bool mentions_offset(const std::string& message, uint64_t offset) {
    std::string needle = "offset " + std::to_string(offset);
    size_t at = message.find(needle);
    size_t after = at + needle.size();
    return at != std::string::npos &&
           (after == message.size() || !std::isdigit(static_cast<unsigned char>(message[after])));
}

// Each test starts from a pristine log in log_dir(): entries 1-4 in the sealed segment 1 and
// 5-7 in the active segment 2. Each trial damages a copy of it in trial_dir().
class RecoveryTest : public LogstoreTest {
protected:
    void SetUp() override {
        LogstoreTest::SetUp();
        auto log = open_log(options(4));
        append_and_sync(*log, entries_);
    }

    std::string trial_dir() const { return root_ + "/trial"; }
    std::string trial_path(const std::string& name) const { return trial_dir() + "/" + name; }
    LogOptions trial_options() const {
        LogOptions trial = options(4);
        trial.directory = trial_dir();
        return trial;
    }
    void start_trial() { copy_directory(log_dir(), trial_dir()); }

    // Opening the trial directory fails with corruption naming `file` (and `offset`, if set).
    void expect_open_refused(const std::string& file, std::optional<uint64_t> offset) {
        Result<std::unique_ptr<SegmentedLog>> log = SegmentedLog::open(trial_options(), nullptr);
        ASSERT_FALSE(log.is_ok());
        const std::string& message = log.status().message();
        EXPECT_EQ(log.status().code(), StatusCode::corruption) << message;
        EXPECT_NE(message.find(trial_path(file)), std::string::npos) << message;
        if (offset) {
            EXPECT_TRUE(mentions_offset(message, *offset)) << *offset << ": " << message;
        }
    }

    // Opens the trial directory expecting entries_[0, kept) and a tail cut at `boundary`, then
    // appends one entry and checks it survives another reopen.
    void expect_tail_cut(size_t kept, uint64_t boundary, uint64_t dropped) {
        // Zeros at the end of the damage look like preallocated space: not reported.
        std::vector<uint8_t> bytes = read_file(trial_path(kActiveFile));
        while (dropped > 0 && bytes[boundary + dropped - 1] == 0) --dropped;
        RecoveryReport report;
        auto log = open_log(trial_options(), &report);
        std::vector<Entry> expected(entries_.begin(), entries_.begin() + kept);
        EXPECT_EQ(read_all(*log), expected);
        if (dropped > 0) {
            ASSERT_TRUE(report.tail_repair.has_value());
            EXPECT_EQ(report.tail_repair->offset, boundary);
            EXPECT_EQ(report.tail_repair->bytes_dropped, dropped);
        } else {
            EXPECT_FALSE(report.tail_repair.has_value());
        }
        EXPECT_EQ(log->segments().back().size_bytes, boundary);
        Entry next = test_entry(expected.back().index + 1, 2, 9);
        append_and_sync(*log, {next});
        log.reset();
        RecoveryReport second;
        log = open_log(trial_options(), &second);
        EXPECT_EQ(read_all(*log), concat(expected, {next}));
        EXPECT_FALSE(second.tail_repair.has_value());
    }

    const std::vector<Entry> entries_ = varied_entries(1, 7, 1);
    const std::vector<Entry> sealed_ = {entries_.begin(), entries_.begin() + 4};
    const std::vector<Entry> active_ = {entries_.begin() + 4, entries_.end()};
};

TEST_F(RecoveryTest, ActiveSegmentCutAtEveryByteOfTheLastTwoRecords) {
    std::vector<uint64_t> offsets = record_offsets(active_);  // starts of 5, 6, 7 and the end
    for (uint64_t cut = offsets[1]; cut < offsets[3]; ++cut) {
        SCOPED_TRACE("cut at " + std::to_string(cut));
        size_t whole = cut >= offsets[2] ? 2 : 1;  // records of the active segment kept
        start_trial();
        resize_file(trial_path(kActiveFile), cut);
        expect_tail_cut(sealed_.size() + whole, offsets[whole], cut - offsets[whole]);
    }
}

// Zeros after the last record are the preallocated, never written space (FORMAT.md,
// "Preallocation"): the end of the data, not damage.
TEST_F(RecoveryTest, ZeroFilledTailIsTheEndOfTheData) {
    uint64_t end = record_offsets(active_).back();
    for (uint64_t zeros : {1, 8, 24, 25, 26, 100, 4096}) {
        SCOPED_TRACE(std::to_string(zeros) + " zero bytes");
        start_trial();
        resize_file(trial_path(kActiveFile), end + zeros);
        expect_tail_cut(entries_.size(), end, 0);
    }
}

// A torn write inside preallocated space: a zeroed record followed by a partial one.
TEST_F(RecoveryTest, ZerosThenGarbageInPreallocatedSpaceIsATornTail) {
    uint64_t end = record_offsets(active_).back();
    start_trial();
    resize_file(trial_path(kActiveFile), end + 4096);
    flip_bit(trial_path(kActiveFile), end + 100, 3);
    expect_tail_cut(entries_.size(), end, 101);
}

TEST_F(RecoveryTest, FlippedBitInTheLastRecordOfTheActiveSegmentIsATornTail) {
    std::vector<uint64_t> offsets = record_offsets(active_);
    for (uint64_t position = offsets[2]; position < offsets[3]; ++position) {
        SCOPED_TRACE("flip at " + std::to_string(position));
        start_trial();
        flip_bit(trial_path(kActiveFile), position, static_cast<int>(position % 8));
        expect_tail_cut(entries_.size() - 1, offsets[2], offsets[3] - offsets[2]);
    }
}

TEST_F(RecoveryTest, FlippedBitBeforeValidRecordsOfTheActiveSegmentIsCorruption) {
    std::vector<uint64_t> offsets = record_offsets(active_);
    for (size_t record = 0; record < 2; ++record) {
        for (uint64_t position = offsets[record]; position < offsets[record + 1]; ++position) {
            SCOPED_TRACE("flip at " + std::to_string(position));
            start_trial();
            std::vector<uint8_t> before = read_file_bytes(trial_path(kActiveFile));
            flip_bit(trial_path(kActiveFile), position, static_cast<int>(position % 8));
            expect_open_refused(kActiveFile, offsets[record]);
            before[position] ^= static_cast<uint8_t>(1u << (position % 8));
            EXPECT_EQ(read_file_bytes(trial_path(kActiveFile)), before) << "nothing was cut";
        }
    }
}

TEST_F(RecoveryTest, FlippedBitAnywhereInASealedSegmentIsCorruption) {
    std::vector<uint64_t> offsets = record_offsets(sealed_);
    ASSERT_EQ(file_size(log_path(kSealedFile)), offsets.back());
    for (uint64_t position = 0; position < offsets.back(); ++position) {
        SCOPED_TRACE("flip at " + std::to_string(position));
        uint64_t record_start = 0;  // the header's offset for a flip in the header
        for (uint64_t start : offsets) record_start = start <= position ? start : record_start;
        start_trial();
        flip_bit(trial_path(kSealedFile), position, static_cast<int>(position % 8));
        expect_open_refused(kSealedFile, record_start);
    }
}

TEST_F(RecoveryTest, SealedSegmentMissingItsLastRecordIsCorruption) {
    start_trial();
    resize_file(trial_path(kSealedFile), record_offsets(sealed_)[3]);  // a whole-record cut
    expect_open_refused(kSealedFile, std::nullopt);
}

TEST_F(RecoveryTest, SealedSegmentWithZerosAfterItIsCorruption) {
    start_trial();
    uint64_t end = record_offsets(sealed_).back();
    resize_file(trial_path(kSealedFile), end + 30);
    expect_open_refused(kSealedFile, end);
}

TEST_F(RecoveryTest, SegmentNamedByTheManifestMissingIsCorruption) {
    for (const std::string& file : {kSealedFile, kActiveFile}) {
        start_trial();
        ASSERT_OK(remove_file(trial_path(file)));
        expect_open_refused(file, std::nullopt);
    }
}

TEST_F(RecoveryTest, CorruptManifestIsCorruptionNamingIt) {
    start_trial();
    flip_bit(trial_path("MANIFEST"), 25, 1);
    expect_open_refused("MANIFEST", std::nullopt);
}

TEST_F(RecoveryTest, NoManifestButASegmentWithEntriesIsRefused) {
    start_trial();
    ASSERT_OK(remove_file(trial_path("MANIFEST")));
    std::vector<uint8_t> active_before = read_file_bytes(trial_path(kActiveFile));
    Result<std::unique_ptr<SegmentedLog>> log = SegmentedLog::open(trial_options(), nullptr);
    ASSERT_FALSE(log.is_ok());
    EXPECT_EQ(log.status().code(), StatusCode::corruption);
    EXPECT_NE(log.status().message().find(trial_path("MANIFEST")), std::string::npos);
    EXPECT_EQ(read_file_bytes(trial_path(kActiveFile)), active_before) << "nothing removed";
    EXPECT_FALSE(file_exists(trial_path("MANIFEST")));
}

class FreshStartTest : public LogstoreTest {};

TEST_F(FreshStartTest, NoManifestAndOnlyAHeaderOnlySegmentStartsFresh) {
    ASSERT_OK(make_directories(log_dir()));
    write_segment_file(log_path(segment_file_name(1, 1)), {1, 1, 1, 0}, {});
    write_segment_file(log_path(segment_file_name(3, 1)), {3, 1, 40, 0}, {});
    RecoveryReport report;
    auto log = open_log(options(), &report);
    EXPECT_TRUE(report.created);
    EXPECT_EQ(log->first_index(), 1u);
    EXPECT_EQ(log->last_index(), 0u);
    EXPECT_EQ(report.removed_orphans.size(), 2u);
    append_and_sync(*log, test_entries(1, 3, 1));
    log.reset();
    log = open_log(options());
    EXPECT_EQ(read_all(*log), test_entries(1, 3, 1));
    expect_no_orphans(log_dir(), *log);
}

}  // namespace
}  // namespace copycat::logstore
