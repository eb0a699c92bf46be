#include "logstore/segment.h"

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstring>

#include "common/assert.h"
#include "common/crc32c.h"

namespace copycat::logstore {
namespace {

constexpr char kReleaseMagic[8] = {'C', 'C', 'R', 'E', 'L', 'E', 'A', 'S'};

uint64_t now_ms() {
    using namespace std::chrono;
    return static_cast<uint64_t>(
        duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count());
}

std::string at(const std::string& file, uint64_t offset) {
    return file + " at offset " + std::to_string(offset);
}

// The bitmap file of the segment's records (FORMAT.md, "Release bitmaps"). Advisory: no
// fdatasync unless `durable` (only when records were cut: see Segment::truncate_after).
Status write_release_bitmap(const Segment& segment, const std::string& directory, bool durable) {
    uint32_t count = static_cast<uint32_t>(segment.record_count());
    std::vector<uint8_t> bytes(kReleaseMagic, kReleaseMagic + 8);
    bytes.resize(12 + (count + 7) / 8, 0);
    std::memcpy(bytes.data() + 8, &count, 4);
    for (uint64_t k = 0; k < count; ++k) {
        if (segment.is_released_ordinal(k)) {
            bytes[12 + k / 8] |= static_cast<uint8_t>(1u << (k % 8));
        }
    }
    uint32_t crc = crc32c(bytes.data(), bytes.size());
    bytes.resize(bytes.size() + 4);
    std::memcpy(bytes.data() + bytes.size() - 4, &crc, 4);
    std::string path = directory + "/" + release_file_name(segment.id(), segment.version());
    return replace_file(path, bytes, durable);
}

// The preallocated, never written part of a segment (FORMAT.md, "Preallocation").
bool only_zeros_from(std::span<const uint8_t> bytes, uint64_t offset) {
    for (uint64_t i = offset; i < bytes.size(); ++i) {
        if (bytes[i] != 0) return false;
    }
    return true;
}

// After a bad record at bad_offset, is there any record further on that passes its
// checks and continues the index order? Then the damage is not a torn tail.
std::optional<uint64_t> find_valid_record_after(std::span<const uint8_t> bytes, uint64_t bad_offset,
                                                uint64_t last_index, uint32_t entry_max_bytes) {
    for (uint64_t offset = bad_offset + 1; offset + kRecordHeaderBytes <= bytes.size(); ++offset) {
        uint64_t index = 0;
        std::memcpy(&index, bytes.data() + offset + 8, 8);
        // Cheap filters before a CRC: a record after the damaged one continues the index order
        // closely (a write holds at most a few million entries). They keep the search linear
        // on zeros and on random garbage (robustness_test.cc).
        if (index <= last_index || index - last_index > (uint64_t{1} << 24)) continue;
        RecordView record;
        if (decode_record(bytes.subspan(offset), entry_max_bytes, &record) != RecordCheck::ok) {
            continue;
        }
        if (record.index > last_index) return offset;
    }
    return std::nullopt;
}

}  // namespace

std::string segment_file_name(uint64_t id, uint64_t version) {
    char name[64];
    std::snprintf(name, sizeof name, "segment-%08" PRIu64 "-v%" PRIu64 ".log", id, version);
    return name;
}

std::string release_file_name(uint64_t id, uint64_t version) {
    char name[64];
    std::snprintf(name, sizeof name, "segment-%08" PRIu64 "-v%" PRIu64 ".release", id, version);
    return name;
}

bool parse_segment_file_name(const std::string& name, uint64_t* id, uint64_t* version) {
    unsigned long long parsed_id = 0, parsed_version = 0;
    int consumed = 0;
    if (std::sscanf(name.c_str(), "segment-%llu-v%llu.log%n", &parsed_id, &parsed_version,
                    &consumed) != 2) {
        return false;
    }
    if (static_cast<size_t>(consumed) != name.size()) return false;
    if (segment_file_name(parsed_id, parsed_version) != name) return false;
    *id = parsed_id;
    *version = parsed_version;
    return true;
}

uint64_t end_of_nonzero_bytes(std::span<const uint8_t> bytes, uint64_t from) {
    uint64_t end = bytes.size();
    while (end > from && bytes[end - 1] == 0) --end;
    return std::max(end, from);
}

ScanOutcome scan_segment(std::span<const uint8_t> bytes, const SegmentHeader& header,
                         uint32_t entry_max_bytes, const RecordVisitor& visit) {
    ScanOutcome outcome;
    outcome.last_index = header.first_index - 1;
    uint64_t offset = kSegmentHeaderBytes;
    while (offset < bytes.size()) {
        if (bytes[offset] == 0 && only_zeros_from(bytes, offset)) break;  // preallocated space
        RecordView record;
        RecordCheck check = decode_record(bytes.subspan(offset), entry_max_bytes, &record);
        bool in_order = check == RecordCheck::ok && record.index > outcome.last_index &&
                        record.term >= outcome.last_term;
        if (!in_order) {
            outcome.bad_offset = offset;
            outcome.problem =
                check != RecordCheck::ok ? record_check_name(check) : "index or term out of order";
            if (check == RecordCheck::ok) {
                outcome.valid_record_after_bad = offset;  // a whole record: never a torn write
            } else {
                outcome.valid_record_after_bad =
                    find_valid_record_after(bytes, offset, outcome.last_index, entry_max_bytes);
            }
            break;
        }
        if (visit) visit(record, offset);
        outcome.records++;
        outcome.last_index = record.index;
        outcome.last_term = record.term;
        offset += record.size_bytes();
        outcome.valid_end = offset;
    }
    return outcome;
}

Segment::Segment(File file, std::string directory, const SegmentHeader& header)
    : file_(std::move(file)), directory_(std::move(directory)), header_(header) {}

Result<std::unique_ptr<Segment>> Segment::create(const std::string& directory,
                                                 const SegmentHeader& header,
                                                 uint64_t preallocate_bytes) {
    SegmentHeader stamped = header;
    stamped.created_ms = now_ms();
    std::string path = directory + "/" + segment_file_name(header.id, header.version);
    Result<File> file = File::open(path, File::Mode::create_new);
    if (!file.is_ok()) return file.status();
    uint8_t bytes[kSegmentHeaderBytes];
    encode_segment_header(stamped, bytes);
    COPYCAT_RETURN_IF_ERROR(file->write_at(0, bytes));
    if (preallocate_bytes > kSegmentHeaderBytes) {
        COPYCAT_RETURN_IF_ERROR(
            file->allocate(kSegmentHeaderBytes, preallocate_bytes - kSegmentHeaderBytes));
    }
    COPYCAT_RETURN_IF_ERROR(file->sync_data());
    auto segment = std::unique_ptr<Segment>(new Segment(std::move(*file), directory, stamped));
    segment->preallocate_bytes_ = preallocate_bytes;
    return segment;
}

Result<std::unique_ptr<Segment>> Segment::open(const std::string& directory,
                                               const std::string& file_name, Kind kind,
                                               uint32_t entry_max_bytes, TailRepair* repair,
                                               uint64_t preallocate_bytes) {
    std::string path = directory + "/" + file_name;
    Result<File> file = File::open(path, File::Mode::read_write);
    if (!file.is_ok()) return file.status();
    Result<std::vector<uint8_t>> bytes = read_whole_file(path);
    if (!bytes.is_ok()) return bytes.status();
    std::optional<SegmentHeader> header = decode_segment_header(*bytes);
    if (!header) return corruption("bad segment header in " + at(path, 0));
    uint64_t id = 0, version = 0;
    if (!parse_segment_file_name(file_name, &id, &version) || id != header->id ||
        version != header->version) {
        return corruption("segment header of " + path + " names another segment");
    }
    auto segment = std::unique_ptr<Segment>(new Segment(std::move(*file), directory, *header));
    ScanOutcome outcome = scan_segment(
        *bytes, *header, entry_max_bytes,
        [&](const RecordView& r, uint64_t pos) { segment->index_record(r.index, r.term, pos); });
    segment->flushed_end_ = outcome.valid_end;
    segment->preallocate_bytes_ = kind == Kind::active ? preallocate_bytes : 0;
    if (kind == Kind::sealed && !outcome.bad_offset && outcome.valid_end != bytes->size()) {
        return corruption("bytes after the last record of sealed segment " +
                          at(path, outcome.valid_end));
    }
    if (!outcome.bad_offset) return segment;
    std::string where = at(path, *outcome.bad_offset);
    if (kind == Kind::sealed || outcome.valid_record_after_bad) {
        return corruption(
            outcome.problem + " in " + where +
            (kind == Kind::sealed ? " (sealed segment)" : " with valid records after it"));
    }
    // A torn tail: nothing past the last whole record was ever acknowledged.
    COPYCAT_RETURN_IF_ERROR(segment->cut_at(outcome.valid_end));
    if (repair != nullptr) {
        uint64_t data_end = end_of_nonzero_bytes(*bytes, outcome.valid_end);
        *repair = TailRepair{outcome.valid_end, data_end - outcome.valid_end, outcome.problem};
    }
    return segment;
}

void Segment::index_record(uint64_t index, uint64_t term, uint64_t position) {
    COPYCAT_ASSERT(position <= UINT32_MAX, "segment larger than 4 GiB");
    if (positions_.empty()) dense_base_ = index;
    bool contiguous = indexes_.empty() && index == dense_base_ + positions_.size();
    if (!contiguous && indexes_.empty()) {
        for (uint64_t k = 0; k < positions_.size(); ++k) indexes_.push_back(dense_base_ + k);
    }
    if (!indexes_.empty() || !contiguous) indexes_.push_back(index);
    positions_.push_back(static_cast<uint32_t>(position));
    if (term_runs_.empty() || term_runs_.back().second != term) term_runs_.push_back({index, term});
}

uint64_t Segment::last_index() const {
    if (positions_.empty()) return header_.first_index - 1;
    return index_at(positions_.size() - 1);
}

uint64_t Segment::last_term() const { return term_runs_.empty() ? 0 : term_runs_.back().second; }

uint64_t Segment::index_at(uint64_t ordinal) const {
    return indexes_.empty() ? dense_base_ + ordinal : indexes_[ordinal];
}

std::optional<uint64_t> Segment::ordinal_of(uint64_t index) const {
    if (positions_.empty()) return std::nullopt;
    if (indexes_.empty()) {
        if (index < dense_base_ || index - dense_base_ >= positions_.size()) return std::nullopt;
        return index - dense_base_;
    }
    auto it = std::lower_bound(indexes_.begin(), indexes_.end(), index);
    if (it == indexes_.end() || *it != index) return std::nullopt;
    return static_cast<uint64_t>(it - indexes_.begin());
}

std::optional<uint64_t> Segment::term_at(uint64_t index) const {
    if (!ordinal_of(index)) return std::nullopt;
    auto it =
        std::upper_bound(term_runs_.begin(), term_runs_.end(), std::make_pair(index, UINT64_MAX));
    COPYCAT_ASSERT(it != term_runs_.begin(), "term runs do not cover an indexed record");
    return std::prev(it)->second;
}

void Segment::append(uint64_t index, uint64_t term, uint8_t mode,
                     std::span<const uint8_t> payload) {
    uint64_t position = size_bytes();
    append_record(pending_, index, term, mode, payload);
    index_record(index, term, position);
}

Status Segment::flush() {
    if (pending_.empty()) return Status::ok();
    COPYCAT_RETURN_IF_ERROR(file_.write_at(flushed_end_, pending_));
    flushed_end_ += pending_.size();
    pending_.clear();
    dirty_ = true;
    return Status::ok();
}

Status Segment::sync() {
    COPYCAT_RETURN_IF_ERROR(flush());
    if (!dirty_) return Status::ok();
    COPYCAT_RETURN_IF_ERROR(file_.sync_data());
    dirty_ = false;
    return Status::ok();
}

uint64_t Segment::record_end(uint64_t ordinal) const {
    return ordinal + 1 < positions_.size() ? positions_[ordinal + 1] : flushed_end_;
}

Status Segment::read(uint64_t from, uint64_t to, size_t* budget_bytes, bool* first_taken,
                     std::vector<Entry>* out) const {
    COPYCAT_ASSERT(pending_.empty(), "read of a segment with unflushed records");
    uint64_t begin = 0;
    if (indexes_.empty()) {
        begin = from > dense_base_ ? from - dense_base_ : 0;
    } else {
        begin = static_cast<uint64_t>(std::lower_bound(indexes_.begin(), indexes_.end(), from) -
                                      indexes_.begin());
    }
    uint64_t end = begin;
    while (end < positions_.size() && index_at(end) <= to) {
        size_t payload = record_end(end) - positions_[end] - kRecordHeaderBytes;
        if (*first_taken && payload > *budget_bytes) {
            *budget_bytes = 0;  // tells the caller the budget, not the range, ended the read
            break;
        }
        *budget_bytes -= std::min(payload, *budget_bytes);
        *first_taken = true;
        ++end;
    }
    if (end == begin) return Status::ok();
    std::vector<uint8_t> bytes(record_end(end - 1) - positions_[begin]);
    COPYCAT_RETURN_IF_ERROR(file_.read_at(positions_[begin], bytes));
    for (uint64_t k = begin; k < end; ++k) {
        uint64_t offset = positions_[k] - positions_[begin];
        RecordView record;
        auto slice = std::span<const uint8_t>(bytes).subspan(offset, record_end(k) - positions_[k]);
        RecordCheck check = decode_record(slice, UINT32_MAX, &record);
        if (check != RecordCheck::ok || record.index != index_at(k)) {
            return corruption(std::string(record_check_name(check)) + " reading " +
                              at(path(), positions_[k]));
        }
        out->push_back(record.to_entry());
    }
    return Status::ok();
}

Status Segment::visit_records(const RecordVisitor& visit) const {
    COPYCAT_ASSERT(pending_.empty(), "visit of a segment with unflushed records");
    Result<std::vector<uint8_t>> bytes = read_whole_file(path());
    if (!bytes.is_ok()) return bytes.status();
    auto image = std::span<const uint8_t>(*bytes).first(flushed_end_);
    ScanOutcome outcome = scan_segment(image, header_, UINT32_MAX, visit);
    if (outcome.bad_offset || outcome.records != positions_.size()) {
        return corruption(outcome.problem + " in " + at(path(), outcome.bad_offset.value_or(0)));
    }
    return Status::ok();
}

Status Segment::truncate_after(uint64_t index) {
    COPYCAT_RETURN_IF_ERROR(flush());
    uint64_t keep = 0;
    while (keep < positions_.size() && index_at(keep) <= index) ++keep;
    if (keep == positions_.size()) return Status::ok();
    uint64_t new_end = positions_[keep];
    positions_.resize(keep);
    if (!indexes_.empty()) indexes_.resize(keep);
    while (!term_runs_.empty() && term_runs_.back().first > index) term_runs_.pop_back();
    for (uint64_t k = keep; k < release_words_.size() * 64; ++k) {
        uint64_t bit = uint64_t{1} << (k % 64);
        if (release_words_[k / 64] & bit) {
            release_words_[k / 64] &= ~bit;
            released_count_--;
            release_dirty_ = true;
        }
    }
    // Bits are by position: a bit of a cut record left in the file would mark the record
    // appended in its place as released, and compaction would drop it. So the file is
    // rewritten, durably, before the cut (release_test.cc, BitsOfTruncatedEntries...).
    if (release_dirty_ || file_exists(directory_ + "/" + release_file_name(id(), version()))) {
        COPYCAT_RETURN_IF_ERROR(write_release_bitmap(*this, directory_, true));
        release_dirty_ = false;
    }
    return cut_at(new_end);
}

Status Segment::cut_at(uint64_t offset) {
    COPYCAT_RETURN_IF_ERROR(file_.truncate(offset));
    if (preallocate_bytes_ > offset) {
        COPYCAT_RETURN_IF_ERROR(file_.allocate(offset, preallocate_bytes_ - offset));
    }
    flushed_end_ = offset;
    COPYCAT_RETURN_IF_ERROR(file_.sync_data());
    dirty_ = false;
    return Status::ok();
}

Status Segment::seal() {
    COPYCAT_RETURN_IF_ERROR(flush());
    preallocate_bytes_ = 0;
    return cut_at(flushed_end_);  // drops the preallocated space: sealed files are exact
}

bool Segment::release(uint64_t index) {
    std::optional<uint64_t> ordinal = ordinal_of(index);
    if (!ordinal) return false;
    if (release_words_.size() <= *ordinal / 64) release_words_.resize(*ordinal / 64 + 1, 0);
    uint64_t bit = uint64_t{1} << (*ordinal % 64);
    if (release_words_[*ordinal / 64] & bit) return false;
    release_words_[*ordinal / 64] |= bit;
    released_count_++;
    release_dirty_ = true;
    return true;
}

void Segment::clear_release_bits() {
    if (released_count_ == 0) return;
    release_words_.clear();
    released_count_ = 0;
    release_dirty_ = true;
}

bool Segment::is_released_ordinal(uint64_t ordinal) const {
    if (ordinal / 64 >= release_words_.size()) return false;
    return (release_words_[ordinal / 64] >> (ordinal % 64)) & 1;
}

Status Segment::save_release_bitmap() {
    COPYCAT_RETURN_IF_ERROR(write_release_bitmap(*this, directory_, false));
    release_dirty_ = false;
    return Status::ok();
}

std::optional<std::vector<bool>> read_release_bits(const std::string& path) {
    Result<std::vector<uint8_t>> bytes = read_whole_file(path);
    if (!bytes.is_ok() || bytes->size() < 16) return std::nullopt;
    uint32_t count = 0, crc = 0;
    std::memcpy(&count, bytes->data() + 8, 4);
    std::memcpy(&crc, bytes->data() + bytes->size() - 4, 4);
    bool valid = std::memcmp(bytes->data(), kReleaseMagic, 8) == 0 &&
                 bytes->size() == 16 + (static_cast<uint64_t>(count) + 7) / 8 &&
                 crc == crc32c(bytes->data(), bytes->size() - 4);
    if (!valid) return std::nullopt;
    std::vector<bool> bits(count);
    for (uint64_t k = 0; k < count; ++k) bits[k] = (*bytes)[12 + k / 8] & (1u << (k % 8));
    return bits;
}

void Segment::load_release_bitmap() {
    std::optional<std::vector<bool>> bits =
        read_release_bits(directory_ + "/" + release_file_name(id(), version()));
    if (!bits) return;  // read as "nothing released": safe
    for (uint64_t k = 0; k < std::min<uint64_t>(bits->size(), positions_.size()); ++k) {
        if ((*bits)[k]) release(index_at(k));
    }
    release_dirty_ = false;
    if (bits->size() > positions_.size()) {
        // The file covers records cut since (a torn tail): rewrite it before new records take
        // their positions (release_test.cc, BitsOfATornTailDoNotMarkReappendedEntries).
        std::string path = directory_ + "/" + release_file_name(id(), version());
        if (!write_release_bitmap(*this, directory_, true).is_ok()) (void)remove_file(path);
    }
}

Status Segment::remove_files() {
    file_.close();
    COPYCAT_RETURN_IF_ERROR(remove_file(directory_ + "/" + file_name()));
    return remove_file(directory_ + "/" + release_file_name(id(), version()));
}

}  // namespace copycat::logstore
