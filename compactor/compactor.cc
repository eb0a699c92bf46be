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
    Result<std::vector<logstore::SegmentSummary>> segments = log_.segments();
    if (!segments.is_ok()) return segments.status();
    std::vector<plan::SegmentState> states = states_of(*segments);
    std::vector<uint64_t> ids = choose(kind, states, *indexes, options_.threshold);
    if (ids.empty()) return Status::ok();
    Result<std::vector<Candidate>> planned = plan_sealed(kind, *indexes, *segments);
    if (!planned.is_ok()) return planned.status();
    std::vector<Candidate> chosen;
    for (Candidate& candidate : *planned) {
        if (std::find(ids.begin(), ids.end(), candidate.summary.id) != ids.end()) {
            chosen.push_back(std::move(candidate));
        }
    }
    std::vector<std::vector<Candidate>> groups;
    if (kind == Kind::major) {
        groups = major_groups(std::move(chosen));
    } else {
        for (Candidate& candidate : chosen) groups.push_back({std::move(candidate)});
    }
    for (const std::vector<Candidate>& group : groups) {
        if (stop != nullptr && *stop) break;
        COPYCAT_RETURN_IF_ERROR(rewrite(group, done));
    }
    return Status::ok();
}

// One copy of the release bits of every sealed segment, taken before any rewrite, and one plan
// over all their records (plan/retention.h: released records go from the highest down, so the
// plan must see the whole sealed log, not only the segments it rewrites).
Result<std::vector<Compactor::Candidate>> Compactor::plan_sealed(
    Kind kind, const compaction::Indexes& indexes,
    const std::vector<logstore::SegmentSummary>& live) {
    std::vector<uint64_t> sealed_ids;
    uint64_t last_index = 0;
    uint64_t released_in_tail = 0;
    for (const logstore::SegmentSummary& segment : live) {
        last_index = std::max(last_index, segment.last_index);
        if (segment.sealed) {
            sealed_ids.push_back(segment.id);
        } else {
            released_in_tail += segment.released;
        }
    }
    Result<ReleaseBits> bits = log_.release_bits(sealed_ids);
    if (!bits.is_ok()) return bits.status();
    std::map<uint64_t, logstore::SegmentBits> bits_by_id;
    for (logstore::SegmentBits& b : bits->segments) bits_by_id[b.id] = std::move(b);
    // Bits that are not one cut of the log count for nothing (only the snapshot removes then).
    compaction::Indexes used = indexes;
    used.global = std::min(used.global, bits->global_cap);
    std::vector<Candidate> planned;
    std::vector<plan::RecordState> records;
    std::vector<uint64_t> sizes;
    for (const logstore::SegmentSummary& segment : live) {
        if (!segment.sealed) continue;
        auto found = bits_by_id.find(segment.id);
        if (found == bits_by_id.end() || found->second.version != segment.version ||
            found->second.records != segment.records) {
            return Status(StatusCode::conflict, "segment " + segment.file_name +
                                                    " changed before its release bits were read");
        }
        Result<SegmentImage> image = read_sealed_segment(options_.log_directory, segment);
        if (!image.is_ok()) return image.status();
        for (size_t k = 0; k < image->records.size(); ++k) {
            const RecordPlace& r = image->records[k];
            records.push_back(
                {r.index, r.term, r.mode, bits->complete && found->second.released(k)});
            sizes.push_back(r.size_bytes);
        }
        planned.push_back({segment, {}, 0, {}});
    }
    plan::Retention retention =
        plan::plan_log(records, used, kind, last_index, bits->complete && released_in_tail > 0);
    size_t at = 0;
    for (Candidate& candidate : planned) {
        for (uint64_t k = 0; k < candidate.summary.records; ++k, ++at) {
            candidate.keep.push_back(retention.keep[at]);
            if (retention.keep[at]) {
                candidate.kept.records++;
                candidate.kept.record_bytes += sizes[at];
            } else {
                candidate.removed++;
            }
        }
    }
    return planned;
}

std::vector<std::vector<Compactor::Candidate>> Compactor::major_groups(
    std::vector<Candidate> chosen) const {
    std::vector<plan::RewrittenSize> sizes;
    for (const Candidate& candidate : chosen) sizes.push_back(candidate.kept);
    std::vector<std::vector<Candidate>> groups;
    for (const std::vector<size_t>& positions : plan::group_neighbours(sizes, options_.limits)) {
        groups.emplace_back();
        for (size_t position : positions) groups.back().push_back(std::move(chosen[position]));
    }
    return groups;
}

Status Compactor::rewrite(const std::vector<Candidate>& group, RunReport* done) {
    uint64_t removed = 0;
    uint64_t kept = 0;
    for (const Candidate& candidate : group) {
        removed += candidate.removed;
        kept += candidate.kept.records;
    }
    if (group.size() == 1 && removed == 0) return Status::ok();  // nothing to gain
    std::vector<SegmentImage> images;
    std::vector<bool> keep;
    for (const Candidate& candidate : group) {
        Result<SegmentImage> image = read_sealed_segment(options_.log_directory, candidate.summary);
        if (!image.is_ok()) return image.status();
        images.push_back(std::move(*image));
        keep.insert(keep.end(), candidate.keep.begin(), candidate.keep.end());
    }
    logstore::SegmentHeader header{group.front().summary.id, 0, group.front().summary.first_index,
                                   now_ms()};
    uint64_t replaced_bytes = 0;
    for (const Candidate& candidate : group) {
        header.version = std::max(header.version, candidate.summary.version + 1);
        replaced_bytes += candidate.summary.size_bytes;
    }
    Result<WrittenSegment> written =
        write_compacted_segment(options_.log_directory, header, images, keep);
    if (!written.is_ok()) return written.status();
    logstore::crash_point("compactor.before_install");
    COPYCAT_RETURN_IF_ERROR(install(group, *written, kept));
    logstore::crash_point("compactor.after_install");
    done->segments_rewritten++;
    done->segments_replaced += group.size();
    done->entries_removed += removed;
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
