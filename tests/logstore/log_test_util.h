// Helpers for the logstore tests: a fresh temporary directory per test, deterministic entries,
// and byte-level surgery on files for the corruption and crash tests.
//
// Helpers that cannot go on after a failure (opening a log, reading a file) throw
// std::runtime_error; GoogleTest reports the exception as a failure of the test.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <ostream>
#include <span>
#include <string>
#include <vector>

#include "common/status.h"
#include "logstore/log.h"
#include "logstore/record.h"

namespace copycat::logstore {

inline const Status& status_of(const Status& status) { return status; }
template <typename T>
const Status& status_of(const Result<T>& result) {
    return result.status();
}

#define EXPECT_OK(expr)                                                            \
    do {                                                                           \
        const ::copycat::Status expect_ok_ = ::copycat::logstore::status_of(expr); \
        EXPECT_TRUE(expect_ok_.is_ok()) << expect_ok_.to_string();                 \
    } while (0)

#define ASSERT_OK(expr)                                                            \
    do {                                                                           \
        const ::copycat::Status assert_ok_ = ::copycat::logstore::status_of(expr); \
        ASSERT_TRUE(assert_ok_.is_ok()) << assert_ok_.to_string();                 \
    } while (0)

// How GoogleTest prints an Entry in a failure: index/term/mode and payload size.
void PrintTo(const Entry& entry, std::ostream* out);

// Throws std::runtime_error naming `what` when status is not ok.
void require_ok(const Status& status, const std::string& what);

// A test with its own directory under /tmp (mkdtemp), removed with everything in it at the end.
// The log under test lives in log_dir(). TearDown also removes any crash point handler.
class LogstoreTest : public ::testing::Test {
protected:
    void SetUp() override;
    void TearDown() override;

    std::string log_dir() const { return root_ + "/log"; }
    std::string log_path(const std::string& name) const { return log_dir() + "/" + name; }
    // Options for log_dir() with the given roll-over limits.
    LogOptions options(uint64_t segment_max_entries = 1ull << 20,
                       uint64_t segment_max_bytes = 32ull << 20) const;

    std::string root_;
};

// Opens the log or throws.
std::unique_ptr<SegmentedLog> open_log(const LogOptions& options, RecoveryReport* report = nullptr);

// Deterministic payload of `bytes` bytes for (index, term): a fixed-seed generator per entry,
// so that entries of equal index but different term differ.
std::vector<uint8_t> test_payload(uint64_t index, uint64_t term, size_t bytes);
Entry test_entry(uint64_t index, uint64_t term, size_t payload_bytes = 16);
std::vector<Entry> test_entries(uint64_t first, uint64_t last, uint64_t term,
                                size_t payload_bytes = 16);
std::vector<Entry> concat(std::vector<Entry> a, const std::vector<Entry>& b);
// The entries of `all` whose index is in `indexes`.
std::vector<Entry> pick(const std::vector<Entry>& all, const std::vector<uint64_t>& indexes);

// Stages the entries; returns the refusal if append refuses them.
Status append_entries(SegmentedLog& log, const std::vector<Entry>& entries,
                      bool allow_holes = false);
// append_entries, then sync; throws if either fails.
void append_and_sync(SegmentedLog& log, const std::vector<Entry>& entries,
                     bool allow_holes = false);
// Every entry from first_index() to last_index(), no byte budget; throws on failure.
std::vector<Entry> read_all(SegmentedLog& log);
std::vector<uint64_t> indexes_of(const std::vector<Entry>& entries);

// segments() as one line per segment, for comparing a log before and after.
std::string describe_segments(const SegmentedLog& log);
// first/last index, last term, every entry (index, term, mode, payload size, payload hash),
// the released count: what a user of the log can observe.
std::string describe_log(SegmentedLog& log);
uint64_t released_total(const SegmentedLog& log);

// Files.
std::vector<uint8_t> read_file_bytes(const std::string& path);
void write_file_bytes(const std::string& path, std::span<const uint8_t> bytes);
void flip_bit(const std::string& path, uint64_t offset, int bit);
void resize_file(const std::string& path, uint64_t size);  // extends with zeros
uint64_t file_size(const std::string& path);
// Replaces `to` by a copy of the regular files of `from`.
void copy_directory(const std::string& from, const std::string& to);
std::vector<std::string> directory_names(const std::string& directory);  // sorted

// File offset of each record of a segment holding `entries`, and the end of the last one.
std::vector<uint64_t> record_offsets(const std::vector<Entry>& entries);
// Writes a whole segment file with the library's encoders: header, then the records.
void write_segment_file(const std::string& path, const SegmentHeader& header,
                        const std::vector<Entry>& entries);
// Only LOCK, MANIFEST, meta and the live segments with their bitmaps are left in the directory.
void expect_no_orphans(const std::string& directory, const SegmentedLog& log);

}  // namespace copycat::logstore
