#include "compactor/compactor.h"

#include <algorithm>
#include <chrono>
#include <map>

#include "common/log.h"
#include "logstore/file.h"
#include "logstore/segment.h"

namespace copycat::compactor {
namespace {

using compaction::Kind;

uint64_t now_ms() {
    using namespace std::chrono;
    return static_cast<uint64_t>(
        duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count());
}

std::vector<plan::SegmentState> states_of(const std::vector<logstore::SegmentSummary>& segments) {
    std::vector<plan::SegmentState> states;
    for (const logstore::SegmentSummary& s : segments) {
        states.push_back(
            {s.id, s.version, s.first_index, s.last_index, s.records, s.released, s.sealed});
    }
    return states;
}

std::vector<uint64_t> choose(Kind kind, std::span<const plan::SegmentState> segments,
                             const compaction::Indexes& indexes, double threshold) {
    switch (kind) {
        case Kind::minor: return plan::choose_minor(segments, indexes, threshold);
        case Kind::major: return plan::choose_major(segments, indexes);
        case Kind::snapshot: return plan::choose_snapshot(segments, indexes);
    }
    return {};
}

std::string describe(const std::vector<uint64_t>& ids) {
    std::string text;
    for (uint64_t id : ids) text += (text.empty() ? "" : ",") + std::to_string(id);
    return text;
}

}  // namespace

RunReport& RunReport::operator+=(const RunReport& other) {
    segments_rewritten += other.segments_rewritten;
    segments_replaced += other.segments_replaced;
    entries_removed += other.entries_removed;
    reclaimed_bytes += other.reclaimed_bytes;
    leftovers_removed += other.leftovers_removed;
    return *this;
}

Compactor::Compactor(LogAccess& log, CompactorOptions options, CompactorMetrics* metrics)
    : log_(log), options_(std::move(options)), metrics_(metrics) {}

Result<RunReport> Compactor::compact(bool major, const std::atomic<bool>* stop) {
    RunReport total;
    std::vector<Kind> kinds =
        major ? std::vector<Kind>{Kind::major} : std::vector<Kind>{Kind::snapshot, Kind::minor};
    for (size_t k = 0; k < kinds.size(); ++k) {
        if (stop != nullptr && *stop) break;
        Result<RunReport> done = run_pass(kinds[k], stop, /*remove_leftovers_first=*/k == 0);
        if (!done.is_ok()) return done.status();
        total += *done;
    }
    return total;
}

Result<RunReport> Compactor::run_pass(Kind kind, const std::atomic<bool>* stop,
                                      bool remove_leftovers_first) {
    auto started = std::chrono::steady_clock::now();
    RunReport done;
    Status passed = remove_leftovers_first ? remove_leftovers(&done) : Status::ok();
    if (passed.is_ok()) passed = pass(kind, stop, &done);
    std::chrono::duration<double> took = std::chrono::steady_clock::now() - started;
    if (metrics_ != nullptr) metrics_->record_pass(kind, took.count(), done, !passed.is_ok());
    log::Fields fields = {{"kind", compaction::kind_name(kind)},
                          {"took", Duration(took)},
                          {"segments_rewritten", done.segments_rewritten},
                          {"entries_removed", done.entries_removed},
                          {"reclaimed_bytes", done.reclaimed_bytes}};
    if (!passed.is_ok()) {
        fields.push_back({"error", passed});
        log::warn("compaction pass failed; what it installed stays installed", fields);
        return Status(passed.code(), std::string(compaction::kind_name(kind)) +
                                         " compaction stopped after " +
                                         std::to_string(done.segments_rewritten) +
                                         " rewrites: " + passed.message());
    }
    log::info("compaction pass done", fields);
    return done;
}

Status Compactor::remove_leftovers(RunReport* done) {
    Result<std::vector<std::string>> removed = log_.remove_leftovers();
    if (!removed.is_ok()) {
        return Status(removed.status().code(),
                      "cannot have compaction leftovers removed: " + removed.status().message());
    }
    for (const std::string& name : *removed) {
        log::info("the logstore removed a leftover of an interrupted compaction", {{"file", name}});
    }
    done->leftovers_removed += removed->size();
    if (metrics_ != nullptr) metrics_->record_leftovers_removed(removed->size());
    return Status::ok();
}

Status Compactor::pass(Kind kind, const std::atomic<bool>* stop, RunReport* done) {
    Result<compaction::Indexes> indexes = log_.indexes();
    if (!indexes.is_ok()) return indexes.status();
    Result<std::vector<Candidate>> chosen = candidates(kind, *indexes);
    if (!chosen.is_ok()) return chosen.status();
    std::vector<std::vector<Candidate>> groups;
    if (kind == Kind::major) {
        Result<std::vector<std::vector<Candidate>>> grouped =
            major_groups(std::move(*chosen), *indexes);
        if (!grouped.is_ok()) return grouped.status();
        groups = std::move(*grouped);
    } else {
        for (Candidate& candidate : *chosen) groups.push_back({std::move(candidate)});
    }
    // One memory for the whole run: groups go oldest first (plan/retention.h, the guard).
    plan::RunMemory memory;
    for (const std::vector<Candidate>& group : groups) {
        if (stop != nullptr && *stop) break;
        COPYCAT_RETURN_IF_ERROR(rewrite(group, kind, *indexes, &memory, done));
    }
    return Status::ok();
}

// The chosen segments with one copy of all their release bits, taken before any rewrite
// (copycat.md 4.14: a major run must not remove a delete on newer bits than its writes).
Result<std::vector<Compactor::Candidate>> Compactor::candidates(
    Kind kind, const compaction::Indexes& indexes) {
    Result<std::vector<logstore::SegmentSummary>> segments = log_.segments();
    if (!segments.is_ok()) return segments.status();
    std::vector<plan::SegmentState> states = states_of(*segments);
    std::vector<uint64_t> ids = choose(kind, states, indexes, options_.threshold);
    std::vector<Candidate> chosen;
    if (ids.empty()) return chosen;
    Result<std::vector<logstore::SegmentBits>> bits = log_.release_bits(ids);
    if (!bits.is_ok()) return bits.status();
    std::map<uint64_t, logstore::SegmentBits> bits_by_id;
    for (logstore::SegmentBits& b : *bits) bits_by_id[b.id] = std::move(b);
    for (const logstore::SegmentSummary& segment : *segments) {
        if (std::find(ids.begin(), ids.end(), segment.id) == ids.end()) continue;
        auto found = bits_by_id.find(segment.id);
        if (found == bits_by_id.end() || found->second.version != segment.version ||
            found->second.records != segment.records) {
            return Status(StatusCode::conflict, "segment " + segment.file_name +
                                                    " changed before its release bits were read");
        }
        chosen.push_back({segment, std::move(found->second)});
    }
    return chosen;
}

Result<std::vector<std::vector<Compactor::Candidate>>> Compactor::major_groups(
    std::vector<Candidate> chosen, const compaction::Indexes& indexes) {
    std::vector<plan::RewrittenSize> sizes;
    for (const Candidate& candidate : chosen) {
        Result<plan::RewrittenSize> size = size_after_major(candidate, indexes);
        if (!size.is_ok()) return size.status();
        sizes.push_back(*size);
    }
    std::vector<std::vector<Candidate>> groups;
    for (const std::vector<size_t>& positions : plan::group_neighbours(sizes, options_.limits)) {
        groups.emplace_back();
        for (size_t position : positions) groups.back().push_back(std::move(chosen[position]));
    }
    return groups;
}

// What the segment would hold after major compaction on its own, keeping every delete: no
// less than it keeps in any group (plan/retention.h), so a group within the limits by these
// sizes is within them once written.
Result<plan::RewrittenSize> Compactor::size_after_major(const Candidate& candidate,
                                                        const compaction::Indexes& indexes) {
    std::vector<SegmentImage> images;
    std::vector<plan::RecordState> records;
    COPYCAT_RETURN_IF_ERROR(read_group({candidate}, &images, &records));
    plan::RunMemory keeping_deletes;
    keeping_deletes.kept_write_first_in_range = true;
    plan::Retention retention =
        plan::plan_retention(records, indexes, Kind::major, &keeping_deletes);
    plan::RewrittenSize size;
    for (size_t k = 0; k < records.size(); ++k) {
        if (!retention.keep[k]) continue;
        size.records++;
        size.record_bytes += images[0].records[k].size_bytes;
    }
    return size;
}

Status Compactor::read_group(const std::vector<Candidate>& group, std::vector<SegmentImage>* images,
                             std::vector<plan::RecordState>* records) {
    for (const Candidate& candidate : group) {
        Result<SegmentImage> image = read_sealed_segment(options_.log_directory, candidate.summary);
        if (!image.is_ok()) return image.status();
        for (size_t k = 0; k < image->records.size(); ++k) {
            const RecordPlace& r = image->records[k];
            records->push_back({r.index, r.term, r.mode, candidate.bits.released(k)});
        }
        images->push_back(std::move(*image));
    }
    return Status::ok();
}

Status Compactor::rewrite(const std::vector<Candidate>& group, Kind kind,
                          const compaction::Indexes& indexes, plan::RunMemory* memory,
                          RunReport* done) {
    std::vector<SegmentImage> images;
    std::vector<plan::RecordState> records;
    COPYCAT_RETURN_IF_ERROR(read_group(group, &images, &records));
    plan::Retention retention = plan::plan_retention(records, indexes, kind, memory);
    if (group.size() == 1 && retention.removed == 0) return Status::ok();  // nothing to gain
    logstore::SegmentHeader header{group.front().summary.id, 0, group.front().summary.first_index,
                                   now_ms()};
    uint64_t replaced_bytes = 0;
    for (const Candidate& candidate : group) {
        header.version = std::max(header.version, candidate.summary.version + 1);
        replaced_bytes += candidate.summary.size_bytes;
    }
    Result<WrittenSegment> written =
        write_compacted_segment(options_.log_directory, header, images, retention.keep);
    if (!written.is_ok()) return written.status();
    logstore::crash_point("compactor.before_install");
    COPYCAT_RETURN_IF_ERROR(install(group, *written, records.size() - retention.removed));
    logstore::crash_point("compactor.after_install");
    done->segments_rewritten++;
    done->segments_replaced += group.size();
    done->entries_removed += retention.removed;
    done->reclaimed_bytes += replaced_bytes - std::min(replaced_bytes, written->size_bytes);
    return Status::ok();
}

Status Compactor::install(const std::vector<Candidate>& group, const WrittenSegment& written,
                          uint64_t kept_records) {
    std::vector<uint64_t> replaces;
    for (const Candidate& candidate : group) replaces.push_back(candidate.summary.id);
    Result<logstore::SegmentSummary> installed = log_.install(replaces, written.file_name);
    if (!installed.is_ok()) {
        return Status(installed.status().code(), "the logstore refused " + written.file_name +
                                                     " for segments " + describe(replaces) + ": " +
                                                     installed.status().message());
    }
    if (installed->file_name != written.file_name || installed->records != kept_records) {
        return Status(StatusCode::conflict, "the logstore installed " + installed->file_name +
                                                " with " + std::to_string(installed->records) +
                                                " records for " + written.file_name);
    }
    log::info("installed a compacted segment", {{"file", written.file_name},
                                                {"replaces", describe(replaces)},
                                                {"records", kept_records},
                                                {"bytes", written.size_bytes}});
    return Status::ok();
}

}  // namespace copycat::compactor
