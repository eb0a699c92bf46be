#include "tests/logstore/log_test_util.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>

#include "common/crc32c.h"
#include "logstore/file.h"
#include "logstore/segment.h"

namespace copycat::logstore {

namespace fs = std::filesystem;

void PrintTo(const Entry& entry, std::ostream* out) {
    *out << "{" << entry.index << "/" << entry.term << "/" << int{entry.mode} << ", "
         << entry.payload.size() << " bytes, crc "
         << crc32c(entry.payload.data(), entry.payload.size()) << "}";
}

void require_ok(const Status& status, const std::string& what) {
    if (!status.is_ok()) throw std::runtime_error(what + ": " + status.to_string());
}

void LogstoreTest::SetUp() {
    std::string pattern = (fs::temp_directory_path() / "logstore_test.XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    root_ = pattern;
}

void LogstoreTest::TearDown() {
    set_crash_point_handler(nullptr);
    std::error_code ignored;
    fs::remove_all(root_, ignored);
}

LogOptions LogstoreTest::options(uint64_t segment_max_entries, uint64_t segment_max_bytes) const {
    LogOptions options;
    options.directory = log_dir();
    options.segment_max_entries = segment_max_entries;
    options.segment_max_bytes = segment_max_bytes;
    return options;
}

std::unique_ptr<SegmentedLog> open_log(const LogOptions& options, RecoveryReport* report) {
    Result<std::unique_ptr<SegmentedLog>> log = SegmentedLog::open(options, report);
    require_ok(log.status(), "open " + options.directory);
    return std::move(*log);
}

std::vector<uint8_t> test_payload(uint64_t index, uint64_t term, size_t bytes) {
    std::mt19937_64 random(index * 1000003 + term);
    std::vector<uint8_t> payload(bytes);
    for (auto& byte : payload) byte = static_cast<uint8_t>(random());
    return payload;
}

Entry test_entry(uint64_t index, uint64_t term, size_t payload_bytes) {
    return Entry{index, term, static_cast<uint8_t>(index % 3),
                 test_payload(index, term, payload_bytes)};
}

std::vector<Entry> test_entries(uint64_t first, uint64_t last, uint64_t term,
                                size_t payload_bytes) {
    std::vector<Entry> entries;
    for (uint64_t index = first; index <= last; ++index) {
        entries.push_back(test_entry(index, term, payload_bytes));
    }
    return entries;
}

std::vector<Entry> concat(std::vector<Entry> a, const std::vector<Entry>& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
}

std::vector<Entry> pick(const std::vector<Entry>& all, const std::vector<uint64_t>& indexes) {
    std::vector<Entry> picked;
    for (const Entry& entry : all) {
        if (std::find(indexes.begin(), indexes.end(), entry.index) != indexes.end()) {
            picked.push_back(entry);
        }
    }
    return picked;
}

Status append_entries(SegmentedLog& log, const std::vector<Entry>& entries, bool allow_holes) {
    std::vector<EntryRef> refs;
    for (const Entry& e : entries) refs.push_back({e.index, e.term, e.mode, e.payload});
    return log.append(refs, allow_holes);
}

void append_and_sync(SegmentedLog& log, const std::vector<Entry>& entries, bool allow_holes) {
    require_ok(append_entries(log, entries, allow_holes), "append");
    require_ok(log.sync(), "sync");
}

std::vector<Entry> read_all(SegmentedLog& log) {
    if (log.last_index() < log.first_index()) return {};
    Result<std::vector<Entry>> entries = log.read(log.first_index(), log.last_index(), SIZE_MAX);
    require_ok(entries.status(), "read");
    return *entries;
}

std::vector<uint64_t> indexes_of(const std::vector<Entry>& entries) {
    std::vector<uint64_t> indexes;
    for (const Entry& entry : entries) indexes.push_back(entry.index);
    return indexes;
}

std::string describe_segments(const SegmentedLog& log) {
    std::ostringstream text;
    for (const SegmentSummary& s : log.segments()) {
        text << s.file_name << " first " << s.first_index << " last " << s.last_index << " records "
             << s.records << " released " << s.released << " bytes " << s.size_bytes
             << (s.sealed ? " sealed" : " active") << "\n";
    }
    return text.str();
}

std::string describe_log(SegmentedLog& log) {
    std::ostringstream text;
    text << "first " << log.first_index() << " last " << log.last_index() << " last term "
         << log.last_term() << " released " << released_total(log) << "\n";
    for (const Entry& e : read_all(log)) {
        text << e.index << "/" << e.term << "/" << int{e.mode} << "/" << e.payload.size() << "/"
             << crc32c(e.payload.data(), e.payload.size()) << " ";
    }
    return text.str();
}

uint64_t released_total(const SegmentedLog& log) {
    uint64_t total = 0;
    for (const SegmentSummary& s : log.segments()) total += s.released;
    return total;
}

std::vector<uint8_t> read_file_bytes(const std::string& path) {
    Result<std::vector<uint8_t>> bytes = read_whole_file(path);
    require_ok(bytes.status(), "read " + path);
    return *bytes;
}

void write_file_bytes(const std::string& path, std::span<const uint8_t> bytes) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<long>(bytes.size()));
    if (!out) throw std::runtime_error("cannot write " + path);
}

void flip_bit(const std::string& path, uint64_t offset, int bit) {
    std::vector<uint8_t> bytes = read_file_bytes(path);
    if (offset >= bytes.size()) throw std::runtime_error("flip past the end of " + path);
    bytes[offset] ^= static_cast<uint8_t>(1u << bit);
    write_file_bytes(path, bytes);
}

void resize_file(const std::string& path, uint64_t size) { fs::resize_file(path, size); }

uint64_t file_size(const std::string& path) { return fs::file_size(path); }

void copy_directory(const std::string& from, const std::string& to) {
    fs::remove_all(to);
    fs::create_directories(to);
    for (const auto& item : fs::directory_iterator(from)) {
        fs::copy_file(item.path(), fs::path(to) / item.path().filename());
    }
}

std::vector<std::string> directory_names(const std::string& directory) {
    std::vector<std::string> names;
    for (const auto& item : fs::directory_iterator(directory)) {
        names.push_back(item.path().filename().string());
    }
    std::sort(names.begin(), names.end());
    return names;
}

std::vector<uint64_t> record_offsets(const std::vector<Entry>& entries) {
    std::vector<uint64_t> offsets = {kSegmentHeaderBytes};
    for (const Entry& e : entries) {
        offsets.push_back(offsets.back() + kRecordHeaderBytes + e.payload.size());
    }
    return offsets;
}

void write_segment_file(const std::string& path, const SegmentHeader& header,
                        const std::vector<Entry>& entries) {
    std::vector<uint8_t> bytes(kSegmentHeaderBytes);
    encode_segment_header(header, bytes.data());
    for (const Entry& e : entries) append_record(bytes, e.index, e.term, e.mode, e.payload);
    write_file_bytes(path, bytes);
}

void expect_no_orphans(const std::string& directory, const SegmentedLog& log) {
    std::vector<std::string> expected = {"LOCK", "MANIFEST", "meta"};
    for (const SegmentSummary& s : log.segments()) {
        expected.push_back(s.file_name);
        std::string release = release_file_name(s.id, s.version);
        if (file_exists(directory + "/" + release)) expected.push_back(release);
    }
    std::sort(expected.begin(), expected.end());
    EXPECT_EQ(directory_names(directory), expected);
}

}  // namespace copycat::logstore
