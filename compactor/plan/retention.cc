#include "compactor/plan/retention.h"

#include <algorithm>
#include <limits>

namespace copycat::compactor::plan {
namespace {

using compaction::Kind;

// Covered by the snapshot: removable even unreleased (kinds snapshot and major only).
bool covered_by_snapshot(const RecordState& r, const compaction::Indexes& indexes, Kind kind) {
    return compaction::removable(r.mode, r.index, /*released=*/false, indexes, kind);
}

}  // namespace

Retention plan_log(std::span<const RecordState> sealed, const compaction::Indexes& indexes,
                   Kind kind, uint64_t last_index, bool released_in_tail) {
    Retention retention;
    retention.keep.assign(sealed.size(), true);
    // Whether each released record above the snapshot may go on its own.
    std::vector<bool> may_go(sealed.size(), false);
    uint64_t floor = released_in_tail ? std::numeric_limits<uint64_t>::max() : 0;
    for (size_t k = 0; k < sealed.size(); ++k) {
        const RecordState& r = sealed[k];
        if (!r.released || r.index <= indexes.snapshot) continue;
        may_go[k] = k > 0 && compaction::may_remove_released(
                                 r.mode, r.index, r.term, sealed[k - 1].term, last_index, indexes);
        if (!may_go[k]) floor = std::max(floor, r.index);
    }
    if (floor > 0) {
        for (size_t k = sealed.size(); k-- > 0;) {
            const RecordState& r = sealed[k];
            if (r.index <= floor) break;
            if (may_go[k] && compaction::is_delete(r.mode)) {
                floor = r.index;
                break;
            }
        }
    }
    retention.floor = floor;
    for (size_t k = 0; k < sealed.size(); ++k) {
        const RecordState& r = sealed[k];
        const bool remove =
            covered_by_snapshot(r, indexes, kind) ||
            (r.released && r.index > indexes.snapshot && r.index > floor && may_go[k]);
        retention.keep[k] = !remove;
        retention.removed += remove ? 1 : 0;
    }
    return retention;
}

}  // namespace copycat::compactor::plan
