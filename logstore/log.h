// SegmentedLog: the durable log of one node (FORMAT.md). It owns <data-dir>/log/: the
// segments, the manifest, the metadata and the release bitmaps.
//
// Single-threaded: one owner (the logstore server's event loop, or a test) calls it.
// Writes are staged: append() buffers, sync() writes and fdatasyncs, and only then does
// durable_index() cover the entries; the server acknowledges nothing beyond it. Every
// refused request (Status not ok) leaves the log unchanged. After an I/O failure the
// log refuses every further write (fsync errors are not retried: PostgreSQL's fsyncgate).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/status.h"
#include "logstore/manifest.h"
#include "logstore/meta_store.h"
#include "logstore/record.h"
#include "logstore/segment.h"

namespace copycat::logstore {

struct LogOptions {
    std::string directory;  // the log folder itself, e.g. <data-dir>/log
    uint64_t segment_max_bytes = 32ull << 20;
    uint64_t segment_max_entries = 1ull << 20;
    uint32_t entry_max_bytes = 16u << 20;
    // Allocate each new segment file to segment_max_bytes up front (FORMAT.md,
    // "Preallocation"): an fdatasync then has no file size to update.
    bool preallocate = true;
};

Status validate(const LogOptions& options);

// What start-up found and repaired, for the log.
struct RecoveryReport {
    std::vector<std::string> removed_orphans;
    std::optional<Segment::TailRepair> tail_repair;
    std::optional<uint64_t> finished_truncate_intent;
    bool created = false;
};

struct SegmentSummary {
    uint64_t id = 0;
    uint64_t version = 0;
    std::string file_name;
    uint64_t first_index = 0;
    uint64_t last_index = 0;
    uint64_t records = 0;
    uint64_t released = 0;
    uint64_t size_bytes = 0;
    bool sealed = false;
};

// The release bits of one sealed segment (ReleaseBitsResponse): bit k % 8 of byte k / 8 is the
// bit of its k-th record.
struct SegmentBits {
    uint64_t id = 0;
    uint64_t version = 0;
    uint64_t records = 0;
    std::vector<uint8_t> bits;

    bool released(uint64_t ordinal) const { return (bits[ordinal / 8] >> (ordinal % 8)) & 1; }
};

struct EntryRef {  // an entry to append; the payload is not copied until append
    uint64_t index = 0;
    uint64_t term = 0;
    uint8_t mode = 0;
    std::span<const uint8_t> payload;
};

class SegmentedLog {
public:
    static Result<std::unique_ptr<SegmentedLog>> open(const LogOptions& options,
                                                      RecoveryReport* report);
    ~SegmentedLog();

    uint64_t first_index() const;
    uint64_t last_index() const;
    uint64_t last_term() const;
    uint64_t durable_index() const { return durable_index_; }
    uint64_t size_bytes() const;
    bool failed() const { return !failure_.is_ok(); }

    // Stages entries after last_index(). Indexes strictly increase and terms never go
    // down; without allow_holes they must continue last_index() without a gap.
    Status append(std::span<const EntryRef> entries, bool allow_holes);
    // Writes staged entries and fdatasyncs; then durable_index() == last_index().
    Status sync();
    // Entries in [from, to], at most max_bytes of payload (the first always comes).
    Result<std::vector<Entry>> read(uint64_t from, uint64_t to, size_t max_bytes);
    std::optional<uint64_t> term_at(uint64_t index) const;

    // Removes entries after index; refused below floor or below any earlier floor.
    Status truncate_after(uint64_t index, uint64_t floor);
    // Drops everything; the log starts again, empty, at next_index.
    Status reset(uint64_t next_index);

    const Meta& meta() const { return meta_store_.meta(); }
    // Term, vote and log floor (Meta::floor_*), durable before it returns ok.
    Status save_term(const TermRecord& record);
    Status save_configuration(uint64_t index, uint64_t term, std::span<const uint8_t> config);

    // Sets release bits; returns how many were newly set (unknown indexes are skipped).
    uint32_t release(std::span<const uint64_t> indexes);
    void clear_release_bits();
    // The end of the sealed segments: the active segment's first index - 1.
    uint64_t sealed_through() const { return active().first_index() - 1; }
    Status save_release_bitmaps();

    std::vector<SegmentSummary> segments() const;
    // The release bits of the sealed segments named in ids, in log order; ids that are not
    // sealed segments are left out.
    std::vector<SegmentBits> release_bits(std::span<const uint64_t> ids) const;
    // Replaces the sealed segments `replaces` by the compacted file `file_name` (FORMAT.md,
    // "Compaction: rewrite and swap").
    Result<SegmentSummary> install_segment(std::span<const uint64_t> replaces,
                                           const std::string& file_name);
    // Removes the files a compactor may have left (FORMAT.md, "Compaction leftovers") that the
    // manifest does not name; returns their names. Refused after an I/O failure, when what is
    // on disk may differ from what the log holds.
    Result<std::vector<std::string>> remove_leftovers();

private:
    SegmentedLog(LogOptions options, File lock, MetaStore meta_store);
    Status recover(RecoveryReport* report);
    Status create_fresh(RecoveryReport* report);
    Status open_segments(const Manifest& manifest, RecoveryReport* report);
    Status remove_orphans(RecoveryReport* report);
    Status check_append(std::span<const EntryRef> entries, bool allow_holes) const;
    Status roll_over();
    Status write_current_manifest(std::optional<uint64_t> truncate_intent);
    Status swap_in_manifest(std::vector<std::unique_ptr<Segment>>& replaced,
                            const char* crash_point_name);
    Status truncate_across_segments(uint64_t index);
    Status verify_compacted(std::span<const uint64_t> replaces, const Segment& candidate,
                            size_t* first_position) const;
    Status fail(Status status);
    // The segment whose range holds index (the index may be a hole in it), or null.
    Segment* segment_for(uint64_t index) const;
    Segment& active() { return *segments_.back(); }
    const Segment& active() const { return *segments_.back(); }
    SegmentSummary summarize(const Segment& segment, bool sealed) const;
    std::string path(const std::string& name) const { return options_.directory + "/" + name; }
    uint64_t preallocate_bytes() const {
        return options_.preallocate ? options_.segment_max_bytes : 0;
    }

    LogOptions options_;
    File lock_;  // flock on LOCK: one process per log directory
    MetaStore meta_store_;
    std::vector<std::unique_ptr<Segment>> segments_;
    uint64_t manifest_sequence_ = 0;
    uint64_t durable_index_ = 0;
    uint64_t floor_ = 0;
    Status failure_;
};

}  // namespace copycat::logstore
