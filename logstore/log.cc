#include "logstore/log.h"

#include <algorithm>
#include <set>

#include "common/assert.h"
#include "logstore/file.h"

namespace copycat::logstore {
namespace {

constexpr const char* kMetaFileName = "meta";
constexpr const char* kLockFileName = "LOCK";
// The highest entry_max_bytes validate() accepts. Start-up scans records against it, not the
// configured limit: records written before the limit was lowered are whole records, not a torn
// tail (log_test.cc, LoweringTheEntryLimitKeepsEntriesWrittenBefore).
constexpr uint32_t kEntryMaxBytesCeiling = 64u << 20;

bool ends_with(const std::string& text, const std::string& suffix) {
    return text.size() >= suffix.size() &&
           text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string n(uint64_t value) { return std::to_string(value); }

// Whether name is a file a compactor writes (FORMAT.md, "Compaction leftovers"): a compacted
// version being written (segment-<id>-v<version>.log.tmp, never live), a segment file of
// version 2 and up, or the bitmap of one. *segment: the segment file whose liveness keeps it.
bool is_compaction_output(const std::string& name, std::string* segment) {
    uint64_t id = 0, version = 0;
    if (ends_with(name, ".log.tmp")) {
        *segment = name;
        return parse_segment_file_name(name.substr(0, name.size() - 4), &id, &version);
    }
    *segment = ends_with(name, ".release") ? name.substr(0, name.size() - 8) + ".log" : name;
    return parse_segment_file_name(*segment, &id, &version) && version >= 2;
}

}  // namespace

Status validate(const LogOptions& options) {
    if (options.directory.empty()) return invalid_argument("the log directory is not set");
    if (options.segment_max_bytes < 4096 || options.segment_max_bytes > (1ull << 31)) {
        return invalid_argument("segment max bytes must be between 4 KiB and 2 GiB");
    }
    if (options.segment_max_entries < 1 || options.segment_max_entries > (1ull << 20)) {
        return invalid_argument("segment max entries must be between 1 and 1,048,576");
    }
    if (options.entry_max_bytes < 1 || options.entry_max_bytes > kEntryMaxBytesCeiling) {
        return invalid_argument("entry max bytes must be between 1 byte and 64 MiB");
    }
    return Status::ok();
}

SegmentedLog::SegmentedLog(LogOptions options, File lock, MetaStore meta_store)
    : options_(std::move(options)), lock_(std::move(lock)), meta_store_(std::move(meta_store)) {}

SegmentedLog::~SegmentedLog() { (void)save_release_bitmaps(); }

Result<std::unique_ptr<SegmentedLog>> SegmentedLog::open(const LogOptions& options,
                                                         RecoveryReport* report) {
    COPYCAT_RETURN_IF_ERROR(validate(options));
    COPYCAT_RETURN_IF_ERROR(make_directories(options.directory));
    Result<File> lock = lock_file(options.directory + "/" + kLockFileName);
    if (!lock.is_ok()) return lock.status();
    Result<MetaStore> meta = MetaStore::open(options.directory + "/" + kMetaFileName);
    if (!meta.is_ok()) return meta.status();
    auto log = std::unique_ptr<SegmentedLog>(
        new SegmentedLog(options, std::move(*lock), std::move(*meta)));
    RecoveryReport ignored;
    COPYCAT_RETURN_IF_ERROR(log->recover(report != nullptr ? report : &ignored));
    return log;
}

Status SegmentedLog::recover(RecoveryReport* report) {
    if (!file_exists(path(kManifestFileName))) return create_fresh(report);
    Result<Manifest> manifest = read_manifest(options_.directory);
    if (!manifest.is_ok()) return manifest.status();
    manifest_sequence_ = manifest->sequence;
    COPYCAT_RETURN_IF_ERROR(open_segments(*manifest, report));
    COPYCAT_RETURN_IF_ERROR(remove_orphans(report));
    // Bitmaps first, so that the cut below also cuts the bits of the records it removes.
    for (auto& segment : segments_) segment->load_release_bitmap();
    if (manifest->truncate_intent) {
        // FORMAT.md, "Truncate": repeat the cut, then clear the intent.
        COPYCAT_RETURN_IF_ERROR(active().truncate_after(*manifest->truncate_intent));
        COPYCAT_RETURN_IF_ERROR(write_current_manifest(std::nullopt));
        report->finished_truncate_intent = manifest->truncate_intent;
    }
    COPYCAT_RETURN_IF_ERROR(active().sync());
    durable_index_ = last_index();
    return Status::ok();
}

Status SegmentedLog::create_fresh(RecoveryReport* report) {
    Result<std::vector<std::string>> names = list_directory(options_.directory);
    if (!names.is_ok()) return names.status();
    for (const std::string& name : *names) {
        uint64_t id = 0, version = 0;
        if (!parse_segment_file_name(name, &id, &version)) continue;
        Result<std::vector<uint8_t>> bytes = read_whole_file(path(name));
        if (!bytes.is_ok()) return bytes.status();
        std::optional<SegmentHeader> header = decode_segment_header(*bytes);
        bool has_records =
            header && scan_segment(*bytes, *header, kEntryMaxBytesCeiling, nullptr).records > 0;
        bool has_data = !header && std::any_of(bytes->begin(), bytes->end(),
                                               [](uint8_t byte) { return byte != 0; });
        if (has_records || (has_data && bytes->size() > kSegmentHeaderBytes)) {
            return corruption("no " + path(kManifestFileName) + " but " + path(name) +
                              " holds data: refusing to start an empty log over it");
        }
    }
    // Only segment files without entries: a first start that crashed before its manifest.
    COPYCAT_RETURN_IF_ERROR(remove_orphans(report));
    Result<std::unique_ptr<Segment>> first =
        Segment::create(options_.directory, {1, 1, 1, 0}, preallocate_bytes());
    if (!first.is_ok()) return first.status();
    COPYCAT_RETURN_IF_ERROR(sync_directory(options_.directory));
    segments_.push_back(std::move(*first));
    COPYCAT_RETURN_IF_ERROR(write_current_manifest(std::nullopt));
    report->created = true;
    return Status::ok();
}

Status SegmentedLog::open_segments(const Manifest& manifest, RecoveryReport* report) {
    for (size_t i = 0; i < manifest.segments.size(); ++i) {
        const ManifestSegment& entry = manifest.segments[i];
        std::string name = segment_file_name(entry.id, entry.version);
        if (!file_exists(path(name))) {
            return corruption("segment " + path(name) + " named by the manifest is missing");
        }
        Segment::TailRepair repair;
        auto kind = entry.sealed ? Segment::Kind::sealed : Segment::Kind::active;
        Result<std::unique_ptr<Segment>> segment = Segment::open(
            options_.directory, name, kind, kEntryMaxBytesCeiling, &repair, preallocate_bytes());
        if (!segment.is_ok()) return segment.status();
        const Segment& s = **segment;
        bool matches = s.first_index() == entry.first_index &&
                       (!entry.sealed ||
                        (s.last_index() == entry.last_index && s.record_count() == entry.records &&
                         s.size_bytes() == entry.size_bytes));
        if (!matches) {
            return corruption("segment " + s.path() + " does not match the manifest (size " +
                              n(s.size_bytes()) + ", last index " + n(s.last_index()) + ")");
        }
        if (!segments_.empty() && s.first_index() <= segments_.back()->last_index()) {
            return corruption("segment " + s.path() + " overlaps the segment before it");
        }
        if (repair.bytes_dropped > 0) report->tail_repair = repair;
        segments_.push_back(std::move(*segment));
    }
    return Status::ok();
}

Status SegmentedLog::remove_orphans(RecoveryReport* report) {
    std::set<std::string> live = {kManifestFileName, kMetaFileName, kLockFileName};
    for (const auto& segment : segments_) {
        live.insert(segment->file_name());
        live.insert(release_file_name(segment->id(), segment->version()));
    }
    Result<std::vector<std::string>> names = list_directory(options_.directory);
    if (!names.is_ok()) return names.status();
    bool removed = false;
    for (const std::string& name : *names) {
        bool ours = ends_with(name, ".tmp") || name.rfind("segment-", 0) == 0;
        if (!ours || live.count(name) > 0) continue;
        COPYCAT_RETURN_IF_ERROR(remove_file(path(name)));
        report->removed_orphans.push_back(name);
        removed = true;
    }
    return removed ? sync_directory(options_.directory) : Status::ok();
}

uint64_t SegmentedLog::first_index() const { return segments_.front()->first_index(); }

uint64_t SegmentedLog::last_index() const { return active().last_index(); }

uint64_t SegmentedLog::last_term() const {
    for (auto it = segments_.rbegin(); it != segments_.rend(); ++it) {
        if (!(*it)->empty()) return (*it)->last_term();
    }
    return 0;
}

uint64_t SegmentedLog::size_bytes() const {
    uint64_t total = 0;
    for (const auto& segment : segments_) total += segment->size_bytes();
    return total;
}

Status SegmentedLog::fail(Status status) {
    failure_ = Status(status.code(), "the log stopped accepting writes after: " + status.message());
    return status;
}

Status SegmentedLog::check_append(std::span<const EntryRef> entries, bool allow_holes) const {
    if (failed()) return failure_;
    if (entries.empty()) return invalid_argument("append with no entries");
    uint64_t previous_index = last_index();
    uint64_t previous_term = last_term();
    for (const EntryRef& entry : entries) {
        if (entry.index <= previous_index) {
            return invalid_argument("entry index " + n(entry.index) + " does not follow " +
                                    n(previous_index) + " (truncate first to overwrite)");
        }
        if (!allow_holes && entry.index != previous_index + 1) {
            return invalid_argument("entry index " + n(entry.index) + " leaves a gap after " +
                                    n(previous_index));
        }
        if (entry.term < previous_term) {
            return invalid_argument("entry " + n(entry.index) + " has term " + n(entry.term) +
                                    ", lower than term " + n(previous_term) + " before it");
        }
        if (entry.payload.size() > options_.entry_max_bytes) {
            return invalid_argument("entry " + n(entry.index) + " of " + n(entry.payload.size()) +
                                    " bytes exceeds the limit of " + n(options_.entry_max_bytes));
        }
        previous_index = entry.index;
        previous_term = entry.term;
    }
    return Status::ok();
}

Status SegmentedLog::append(std::span<const EntryRef> entries, bool allow_holes) {
    COPYCAT_RETURN_IF_ERROR(check_append(entries, allow_holes));
    for (const EntryRef& entry : entries) {
        const Segment& current = active();
        bool full = !current.empty() && (current.size_bytes() + record_size(entry.payload.size()) >
                                             options_.segment_max_bytes ||
                                         current.record_count() >= options_.segment_max_entries);
        if (full) {
            Status rolled = roll_over();
            if (!rolled.is_ok()) return fail(rolled);
        }
        active().append(entry.index, entry.term, entry.mode, entry.payload);
    }
    return Status::ok();
}

Status SegmentedLog::roll_over() {
    COPYCAT_RETURN_IF_ERROR(active().seal());
    durable_index_ = active().last_index();
    SegmentHeader header{active().id() + 1, 1, active().last_index() + 1, 0};
    Result<std::unique_ptr<Segment>> next =
        Segment::create(options_.directory, header, preallocate_bytes());
    if (!next.is_ok()) return next.status();
    COPYCAT_RETURN_IF_ERROR(sync_directory(options_.directory));
    crash_point("roll.after_create");
    segments_.push_back(std::move(*next));
    COPYCAT_RETURN_IF_ERROR(write_current_manifest(std::nullopt));
    crash_point("roll.after_manifest");
    return Status::ok();
}

Status SegmentedLog::write_current_manifest(std::optional<uint64_t> truncate_intent) {
    Manifest manifest;
    manifest.sequence = ++manifest_sequence_;
    manifest.truncate_intent = truncate_intent;
    for (size_t i = 0; i < segments_.size(); ++i) {
        const Segment& s = *segments_[i];
        bool sealed = i + 1 < segments_.size();
        manifest.segments.push_back({s.id(), s.version(), s.first_index(), sealed,
                                     sealed ? s.last_index() : 0, sealed ? s.record_count() : 0,
                                     sealed ? s.size_bytes() : 0});
    }
    return write_manifest(options_.directory, manifest);
}

// Makes segments_ live by a manifest update, then removes the files of `replaced`; a failure
// here leaves the log directory in a state only a restart sorts out, so the log fails.
Status SegmentedLog::swap_in_manifest(std::vector<std::unique_ptr<Segment>>& replaced,
                                      const char* crash_point_name) {
    Status written = write_current_manifest(std::nullopt);
    if (!written.is_ok()) return fail(written);
    crash_point(crash_point_name);
    for (auto& segment : replaced) {
        Status removed = segment->remove_files();
        if (!removed.is_ok()) return fail(removed);
    }
    return Status::ok();
}

Status SegmentedLog::sync() {
    if (failed()) return failure_;
    Status synced = active().sync();
    if (!synced.is_ok()) return fail(synced);
    durable_index_ = last_index();
    return Status::ok();
}

Result<std::vector<Entry>> SegmentedLog::read(uint64_t from, uint64_t to, size_t max_bytes) {
    if (from > to) return invalid_argument("read from " + n(from) + " past to " + n(to));
    Status flushed = active().flush();
    if (!flushed.is_ok()) return fail(flushed);
    std::vector<Entry> entries;
    bool first_taken = false;
    for (const auto& segment : segments_) {
        if (segment->last_index() < from || segment->first_index() > to) continue;
        COPYCAT_RETURN_IF_ERROR(segment->read(from, to, &max_bytes, &first_taken, &entries));
        if (first_taken && max_bytes == 0) break;
    }
    return entries;
}

Segment* SegmentedLog::segment_for(uint64_t index) const {
    auto it = std::upper_bound(segments_.begin(), segments_.end(), index,
                               [](uint64_t i, const auto& s) { return i < s->first_index(); });
    return it == segments_.begin() ? nullptr : std::prev(it)->get();
}

std::optional<uint64_t> SegmentedLog::term_at(uint64_t index) const {
    const Segment* segment = segment_for(index);
    return segment != nullptr ? segment->term_at(index) : std::nullopt;
}

Status SegmentedLog::truncate_after(uint64_t index, uint64_t floor) {
    if (failed()) return failure_;
    uint64_t effective_floor = std::max(floor, floor_);
    if (index < effective_floor) {
        return invalid_argument("truncate after " + n(index) + " is below the floor " +
                                n(effective_floor) + " (committed entries are never removed)");
    }
    if (index + 1 < first_index()) {
        return out_of_range("truncate after " + n(index) + " is before the first index " +
                            n(first_index()) + "; reset the log instead");
    }
    floor_ = effective_floor;
    if (index >= last_index()) return Status::ok();
    Status truncated = index + 1 >= active().first_index() ? active().truncate_after(index)
                                                           : truncate_across_segments(index);
    if (!truncated.is_ok()) return fail(truncated);
    durable_index_ = last_index();
    return Status::ok();
}

Status SegmentedLog::truncate_across_segments(uint64_t index) {
    size_t target = 0;
    while (target + 1 < segments_.size() && segments_[target + 1]->first_index() <= index) {
        ++target;
    }
    std::vector<std::unique_ptr<Segment>> dropped;
    for (size_t i = target + 1; i < segments_.size(); ++i)
        dropped.push_back(std::move(segments_[i]));
    segments_.resize(target + 1);
    COPYCAT_RETURN_IF_ERROR(write_current_manifest(index));
    crash_point("truncate.after_manifest");
    COPYCAT_RETURN_IF_ERROR(active().truncate_after(index));
    crash_point("truncate.after_cut");
    for (auto& segment : dropped) COPYCAT_RETURN_IF_ERROR(segment->remove_files());
    COPYCAT_RETURN_IF_ERROR(sync_directory(options_.directory));
    crash_point("truncate.after_remove");
    return write_current_manifest(std::nullopt);
}

Status SegmentedLog::reset(uint64_t next_index) {
    if (failed()) return failure_;
    if (next_index == 0) return invalid_argument("reset to index 0: indexes start at 1");
    SegmentHeader header{active().id() + 1, 1, next_index, 0};
    Result<std::unique_ptr<Segment>> fresh =
        Segment::create(options_.directory, header, preallocate_bytes());
    if (!fresh.is_ok()) return fail(fresh.status());
    Status synced = sync_directory(options_.directory);
    if (!synced.is_ok()) return fail(synced);
    crash_point("reset.after_create");
    std::vector<std::unique_ptr<Segment>> old = std::move(segments_);
    segments_.clear();
    segments_.push_back(std::move(*fresh));
    Status swapped = swap_in_manifest(old, "reset.after_manifest");
    if (!swapped.is_ok()) return swapped;
    durable_index_ = next_index - 1;
    floor_ = std::max(floor_, next_index - 1);
    return sync_directory(options_.directory);
}

Status SegmentedLog::save_term(const TermRecord& record) {
    if (failed()) return failure_;
    Meta meta = meta_store_.meta();
    meta.term = record.term;
    meta.vote = record.vote;
    meta.floor_term = record.floor_term;
    meta.floor_index = record.floor_index;
    meta.holes_released_by = record.holes_released_by;
    Status saved = meta_store_.save(meta);
    if (!saved.is_ok() && saved.code() == StatusCode::io_error) return fail(saved);
    return saved;
}

Status SegmentedLog::save_configuration(uint64_t index, uint64_t term,
                                        std::span<const uint8_t> config) {
    if (failed()) return failure_;
    Meta meta = meta_store_.meta();
    meta.configuration_index = index;
    meta.configuration_term = term;
    meta.configuration.assign(config.begin(), config.end());
    Status saved = meta_store_.save(meta);
    if (!saved.is_ok() && saved.code() == StatusCode::io_error) return fail(saved);
    return saved;
}

uint32_t SegmentedLog::release(std::span<const uint64_t> indexes) {
    uint32_t released = 0;
    for (uint64_t index : indexes) {
        Segment* segment = segment_for(index);
        if (segment != nullptr && segment->release(index)) released++;
    }
    return released;
}

void SegmentedLog::clear_release_bits() {
    for (auto& segment : segments_) segment->clear_release_bits();
}

Status SegmentedLog::save_release_bitmaps() {
    for (auto& segment : segments_) {
        if (segment->release_bitmap_dirty())
            COPYCAT_RETURN_IF_ERROR(segment->save_release_bitmap());
    }
    return Status::ok();
}

SegmentSummary SegmentedLog::summarize(const Segment& s, bool sealed) const {
    return SegmentSummary{s.id(),         s.version(),      s.file_name(),      s.first_index(),
                          s.last_index(), s.record_count(), s.released_count(), s.size_bytes(),
                          sealed};
}

std::vector<SegmentSummary> SegmentedLog::segments() const {
    std::vector<SegmentSummary> summaries;
    for (size_t i = 0; i < segments_.size(); ++i) {
        summaries.push_back(summarize(*segments_[i], i + 1 < segments_.size()));
    }
    return summaries;
}

std::vector<SegmentBits> SegmentedLog::release_bits(std::span<const uint64_t> ids) const {
    std::vector<SegmentBits> found;
    for (size_t i = 0; i + 1 < segments_.size(); ++i) {
        const Segment& s = *segments_[i];
        if (std::find(ids.begin(), ids.end(), s.id()) == ids.end()) continue;
        SegmentBits bits{s.id(), s.version(), s.record_count(), {}};
        bits.bits.resize((s.record_count() + 7) / 8, 0);
        for (uint64_t k = 0; k < s.record_count(); ++k) {
            if (s.is_released_ordinal(k)) bits.bits[k / 8] |= static_cast<uint8_t>(1u << (k % 8));
        }
        found.push_back(std::move(bits));
    }
    return found;
}

Result<std::vector<std::string>> SegmentedLog::remove_leftovers() {
    if (failed()) return failure_;
    std::set<std::string> live;
    for (const auto& segment : segments_) live.insert(segment->file_name());
    Result<std::vector<std::string>> names = list_directory(options_.directory);
    if (!names.is_ok()) return names.status();
    std::vector<std::string> removed;
    for (const std::string& name : *names) {
        std::string segment;
        if (!is_compaction_output(name, &segment) || live.count(segment) > 0) continue;
        COPYCAT_RETURN_IF_ERROR(remove_file(path(name)));
        removed.push_back(name);
    }
    if (!removed.empty()) COPYCAT_RETURN_IF_ERROR(sync_directory(options_.directory));
    return removed;
}

Status SegmentedLog::verify_compacted(std::span<const uint64_t> replaces, const Segment& candidate,
                                      size_t* first_position) const {
    auto first = std::find_if(segments_.begin(), segments_.end(),
                              [&](const auto& s) { return s->id() == replaces[0]; });
    size_t position = static_cast<size_t>(first - segments_.begin());
    if (first == segments_.end() || position + replaces.size() >= segments_.size()) {
        return invalid_argument("segments to replace must be sealed segments of the log");
    }
    for (size_t k = 0; k < replaces.size(); ++k) {
        const Segment& old = *segments_[position + k];
        if (old.id() != replaces[k]) {
            return invalid_argument("segments to replace must be neighbours, oldest first");
        }
        if (candidate.version() <= old.version()) {
            return invalid_argument("version " + n(candidate.version()) +
                                    " is not above the replaced version " + n(old.version()));
        }
    }
    if (candidate.id() != replaces[0] || candidate.first_index() != (*first)->first_index()) {
        return invalid_argument("compacted segment must keep the id and first index of " +
                                (*first)->file_name());
    }
    struct Kept {
        uint64_t index, term;
        uint32_t crc;
    };
    std::vector<Kept> old_records;
    for (size_t k = 0; k < replaces.size(); ++k) {
        COPYCAT_RETURN_IF_ERROR(
            segments_[position + k]->visit_records([&](const RecordView& r, uint64_t) {
                old_records.push_back({r.index, r.term, r.crc});
            }));
    }
    size_t cursor = 0;
    Status mismatch = Status::ok();
    COPYCAT_RETURN_IF_ERROR(candidate.visit_records([&](const RecordView& r, uint64_t offset) {
        while (cursor < old_records.size() && old_records[cursor].index < r.index) ++cursor;
        bool same = cursor < old_records.size() && old_records[cursor].index == r.index &&
                    old_records[cursor].term == r.term && old_records[cursor].crc == r.crc;
        if (!same && mismatch.is_ok()) {
            mismatch = invalid_argument("entry " + n(r.index) + " at offset " + n(offset) + " of " +
                                        candidate.file_name() +
                                        " is not an entry of the replaced segments");
        }
    }));
    *first_position = position;
    return mismatch;
}

Result<SegmentSummary> SegmentedLog::install_segment(std::span<const uint64_t> replaces,
                                                     const std::string& file_name) {
    if (failed()) return failure_;
    uint64_t id = 0, version = 0;
    if (replaces.empty() || !parse_segment_file_name(file_name, &id, &version)) {
        return invalid_argument("install needs segments to replace and a segment file name");
    }
    // Records are checked against the ceiling, as at start-up: the compacted file holds records
    // written before any lowering of the entry limit.
    Result<std::unique_ptr<Segment>> candidate = Segment::open(
        options_.directory, file_name, Segment::Kind::sealed, kEntryMaxBytesCeiling, nullptr);
    if (!candidate.is_ok()) {
        return invalid_argument("compacted segment refused: " + candidate.status().message());
    }
    size_t position = 0;
    COPYCAT_RETURN_IF_ERROR(verify_compacted(replaces, **candidate, &position));
    Segment& fresh = **candidate;
    for (size_t k = 0; k < replaces.size(); ++k) {
        const Segment& old = *segments_[position + k];
        for (uint64_t ordinal = 0; ordinal < old.record_count(); ++ordinal) {
            if (old.is_released_ordinal(ordinal)) fresh.release(old.index_at(ordinal));
        }
    }
    (void)fresh.save_release_bitmap();  // advisory; a failure only loses compaction progress
    crash_point("install.after_verify");
    std::vector<std::unique_ptr<Segment>> replaced;
    for (size_t k = 0; k < replaces.size(); ++k) {
        replaced.push_back(std::move(segments_[position + k]));
    }
    segments_.erase(segments_.begin() + static_cast<long>(position),
                    segments_.begin() + static_cast<long>(position + replaces.size()));
    segments_.insert(segments_.begin() + static_cast<long>(position), std::move(*candidate));
    Status swapped = swap_in_manifest(replaced, "install.after_manifest");
    if (!swapped.is_ok()) return swapped;
    COPYCAT_RETURN_IF_ERROR(sync_directory(options_.directory));
    crash_point("install.after_remove");
    return summarize(*segments_[position], true);
}

}  // namespace copycat::logstore
