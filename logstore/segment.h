// One segment file of the log (FORMAT.md, "Segments"): its records, the in-memory
// offset index built by scanning it, its term runs and its release bitmap.
//
// A Segment is owned by SegmentedLog and used from its single thread. Appends are
// buffered in memory until flush(); reads see only flushed records, so callers
// flush before reading (SegmentedLog does).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/status.h"
#include "logstore/file.h"
#include "logstore/record.h"

namespace copycat::logstore {

std::string segment_file_name(uint64_t id, uint64_t version);
std::string release_file_name(uint64_t id, uint64_t version);
// Parses "segment-<id>-v<version>.log"; false for any other name.
bool parse_segment_file_name(const std::string& name, uint64_t* id, uint64_t* version);

// What a scan of a segment's bytes found. Records end at valid_end; if the scan stopped
// early, bad_offset and problem say where and why.
struct ScanOutcome {
    uint64_t valid_end = kSegmentHeaderBytes;
    uint64_t records = 0;
    uint64_t last_index = 0;
    uint64_t last_term = 0;
    std::optional<uint64_t> bad_offset;
    std::string problem;
    // A record with a valid CRC found after bad_offset: the damage is not a torn tail.
    std::optional<uint64_t> valid_record_after_bad;
};

// The bits of a release bitmap file (FORMAT.md), or nullopt if missing or invalid.
std::optional<std::vector<bool>> read_release_bits(const std::string& path);

// The offset just past the last non-zero byte at or after `from` (`from` if there is none):
// where the data of a damaged tail ends, preallocated zeros excluded.
uint64_t end_of_nonzero_bytes(std::span<const uint8_t> bytes, uint64_t from);

using RecordVisitor = std::function<void(const RecordView& record, uint64_t offset)>;

// Scans the records of a whole segment file image (header included), checking CRCs,
// lengths and index/term order. Pure: used by recovery, install checks and inspect.
ScanOutcome scan_segment(std::span<const uint8_t> bytes, const SegmentHeader& header,
                         uint32_t entry_max_bytes, const RecordVisitor& visit);

class Segment {
public:
    enum class Kind { sealed, active };

    // A torn tail cut while opening an active segment.
    struct TailRepair {
        uint64_t offset = 0;
        uint64_t bytes_dropped = 0;  // up to the last non-zero byte (not preallocated zeros)
        std::string problem;
    };

    // preallocate_bytes: the file is allocated to this size up front (FORMAT.md,
    // "Preallocation"); 0 or less than the header allocates nothing.
    static Result<std::unique_ptr<Segment>> create(const std::string& directory,
                                                   const SegmentHeader& header,
                                                   uint64_t preallocate_bytes = 0);
    // Sealed segments must be intact; an active one has its torn tail cut (reported in
    // *repair). Corruption is a Status naming the file and offset.
    static Result<std::unique_ptr<Segment>> open(const std::string& directory,
                                                 const std::string& file_name, Kind kind,
                                                 uint32_t entry_max_bytes, TailRepair* repair,
                                                 uint64_t preallocate_bytes = 0);

    const SegmentHeader& header() const { return header_; }
    uint64_t id() const { return header_.id; }
    uint64_t version() const { return header_.version; }
    std::string file_name() const { return segment_file_name(header_.id, header_.version); }
    const std::string& path() const { return file_.path(); }

    uint64_t first_index() const { return header_.first_index; }
    // Index of the last record, or first_index() - 1 when empty.
    uint64_t last_index() const;
    uint64_t last_term() const;
    uint64_t record_count() const { return positions_.size(); }
    bool empty() const { return positions_.empty(); }
    uint64_t size_bytes() const { return flushed_end_ + pending_.size(); }
    bool has_pending() const { return !pending_.empty(); }
    bool dirty() const { return dirty_; }

    void append(uint64_t index, uint64_t term, uint8_t mode, std::span<const uint8_t> payload);
    Status flush();
    Status sync();

    std::optional<uint64_t> ordinal_of(uint64_t index) const;
    uint64_t index_at(uint64_t ordinal) const;
    std::optional<uint64_t> term_at(uint64_t index) const;
    // Appends entries with index in [from, to] to out while *budget_bytes lasts; the first
    // entry of the whole read is taken even if larger (first_taken says if one was).
    Status read(uint64_t from, uint64_t to, size_t* budget_bytes, bool* first_taken,
                std::vector<Entry>* out) const;
    // Visits every flushed record, verifying CRCs (install checks, release carry-over).
    Status visit_records(const RecordVisitor& visit) const;

    // Keeps records with index <= index; cuts the file and fdatasyncs it.
    Status truncate_after(uint64_t index);
    // Makes the segment sealed on disk: everything written and fdatasync'd, and the file
    // cut to its last record (no preallocated space).
    Status seal();

    bool release(uint64_t index);
    void clear_release_bits();
    bool is_released_ordinal(uint64_t ordinal) const;
    uint64_t released_count() const { return released_count_; }
    bool release_bitmap_dirty() const { return release_dirty_; }
    Status save_release_bitmap();
    void load_release_bitmap();
    Status remove_files();

private:
    Segment(File file, std::string directory, const SegmentHeader& header);
    void index_record(uint64_t index, uint64_t term, uint64_t position);
    uint64_t record_end(uint64_t ordinal) const;
    // Cuts the file at offset (re-allocating the preallocated size) and fdatasyncs it.
    Status cut_at(uint64_t offset);

    File file_;
    std::string directory_;
    SegmentHeader header_;
    uint64_t flushed_end_ = kSegmentHeaderBytes;
    std::vector<uint8_t> pending_;
    bool dirty_ = false;  // flushed but not yet fdatasync'd
    uint64_t preallocate_bytes_ = 0;

    // Offset index: positions_[k] is the file offset of record k. While the records'
    // indexes are contiguous from dense_base_, indexes_ stays empty.
    std::vector<uint32_t> positions_;
    std::vector<uint64_t> indexes_;
    uint64_t dense_base_ = 0;
    std::vector<std::pair<uint64_t, uint64_t>> term_runs_;  // (first index, term)

    std::vector<uint64_t> release_words_;
    uint64_t released_count_ = 0;
    bool release_dirty_ = false;
};

}  // namespace copycat::logstore
