// Which segments a compaction run rewrites (copycat.md 4.14; compactor/README.md, "How runs
// are chosen"). Pure: the live segments and the compaction indexes come in as values, segment
// ids and groups go out. The records each rewrite keeps are retention.h's business.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "common/compaction.h"

namespace copycat::compactor::plan {

// A live segment as the logstore lists it.
struct SegmentState {
    uint64_t id = 0;
    uint64_t version = 1;
    uint64_t first_index = 1;
    uint64_t last_index = 0;  // first_index - 1 when it holds no record
    uint64_t records = 0;
    uint64_t released = 0;
    bool sealed = false;
};

// Sealed (never the active tail), and its whole range at or below min(commit, minor): nothing
// in it can still be overwritten or needed to regenerate an unacknowledged event.
bool is_eligible(const SegmentState& segment, const compaction::Indexes& indexes);

// Minor: eligible segments with records whose (released / records) x version reaches the
// threshold. A rewritten segment (higher version) qualifies with fewer releases.
std::vector<uint64_t> choose_minor(std::span<const SegmentState> segments,
                                   const compaction::Indexes& indexes, double threshold);

// Snapshot: sealed segments with records whose range begins at or below min(snapshot, commit),
// i.e. the snapshot has moved past some of their entries.
std::vector<uint64_t> choose_snapshot(std::span<const SegmentState> segments,
                                      const compaction::Indexes& indexes);

// Major: the eligible segments from the beginning of the log up to the first ineligible one.
std::vector<uint64_t> choose_major(std::span<const SegmentState> segments,
                                   const compaction::Indexes& indexes);

struct Limits {
    uint64_t segment_max_bytes = 32ull << 20;
    uint64_t segment_max_entries = 1ull << 20;
};

// What a segment holds once rewritten: its records and their bytes (the header not counted).
struct RewrittenSize {
    uint64_t records = 0;
    uint64_t record_bytes = 0;
};

// Major compaction's groups of neighbours, oldest first: positions into `sizes` (which are in
// log order), each position in exactly one group. A group takes the next segment while the
// combined file (one header and all their records) stays within segment_max_bytes and its
// records within segment_max_entries; a segment over the limits on its own is a group alone.
std::vector<std::vector<size_t>> group_neighbours(std::span<const RewrittenSize> sizes,
                                                  const Limits& limits);

}  // namespace copycat::compactor::plan
