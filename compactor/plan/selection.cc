#include "compactor/plan/selection.h"

#include <algorithm>

#include "logstore/record.h"

namespace copycat::compactor::plan {

bool is_eligible(const SegmentState& segment, const compaction::Indexes& indexes) {
    return segment.sealed && segment.last_index <= std::min(indexes.commit, indexes.minor);
}

std::vector<uint64_t> choose_minor(std::span<const SegmentState> segments,
                                   const compaction::Indexes& indexes, double threshold) {
    std::vector<uint64_t> chosen;
    for (const SegmentState& segment : segments) {
        if (!is_eligible(segment, indexes) || segment.records == 0) continue;
        double released_ratio =
            static_cast<double>(segment.released) / static_cast<double>(segment.records);
        if (released_ratio * static_cast<double>(segment.version) >= threshold) {
            chosen.push_back(segment.id);
        }
    }
    return chosen;
}

std::vector<uint64_t> choose_snapshot(std::span<const SegmentState> segments,
                                      const compaction::Indexes& indexes) {
    std::vector<uint64_t> chosen;
    uint64_t covered = std::min(indexes.snapshot, indexes.commit);
    for (const SegmentState& segment : segments) {
        if (segment.sealed && segment.records > 0 && segment.first_index <= covered) {
            chosen.push_back(segment.id);
        }
    }
    return chosen;
}

std::vector<uint64_t> choose_major(std::span<const SegmentState> segments,
                                   const compaction::Indexes& indexes) {
    std::vector<uint64_t> chosen;
    for (const SegmentState& segment : segments) {
        if (!is_eligible(segment, indexes)) break;
        chosen.push_back(segment.id);
    }
    return chosen;
}

std::vector<std::vector<size_t>> group_neighbours(std::span<const RewrittenSize> sizes,
                                                  const Limits& limits) {
    std::vector<std::vector<size_t>> groups;
    uint64_t bytes = 0, records = 0;
    for (size_t position = 0; position < sizes.size(); ++position) {
        const RewrittenSize& size = sizes[position];
        bool fits = !groups.empty() && bytes + size.record_bytes <= limits.segment_max_bytes &&
                    records + size.records <= limits.segment_max_entries;
        if (!fits) {
            groups.emplace_back();
            bytes = logstore::kSegmentHeaderBytes;
            records = 0;
        }
        groups.back().push_back(position);
        bytes += size.record_bytes;
        records += size.records;
    }
    return groups;
}

}  // namespace copycat::compactor::plan
