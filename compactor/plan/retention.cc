#include "compactor/plan/retention.h"

namespace copycat::compactor::plan {
namespace {

using compaction::Kind;
using compaction::removable;

// Removable even though not released: only the snapshot removes such a record (kinds
// snapshot and major), and then whatever its mode.
bool covered_by_snapshot(const RecordState& r, const compaction::Indexes& indexes, Kind kind) {
    return removable(r.mode, r.index, /*released=*/false, indexes, kind);
}

// A delete: a record major compaction removes and minor compaction never does.
bool is_removable_delete(const RecordState& r, const compaction::Indexes& indexes, Kind kind) {
    return kind == Kind::major && removable(r.mode, r.index, r.released, indexes, kind) &&
           !removable(r.mode, r.index, r.released, indexes, Kind::minor);
}

// Whether the first record of a range is known to be the first of its term.
bool starts_a_term(const RecordState& r, const RunMemory& run) {
    return r.index == 1 || (run.last_term.has_value() && *run.last_term != r.term);
}

}  // namespace

Retention plan_retention(std::span<const RecordState> range, const compaction::Indexes& indexes,
                         Kind kind, RunMemory* run) {
    RunMemory alone;
    RunMemory& memory = run != nullptr ? *run : alone;
    Retention retention;
    retention.keep.assign(range.size(), true);
    bool first = true;
    uint64_t previous_term = 0;
    for (size_t k = 0; k < range.size(); ++k) {
        const RecordState& r = range[k];
        bool remove = covered_by_snapshot(r, indexes, kind);
        if (!remove) {
            bool by_rules = removable(r.mode, r.index, r.released, indexes, kind);
            if (memory.kept_write_first_in_range && is_removable_delete(r, indexes, kind)) {
                by_rules = false;
            }
            // The first record of the range stays (the term before it is not known here), and
            // each whose term differs from the record before it.
            bool for_terms = first || compaction::must_keep_for_terms(previous_term, r.term);
            bool write = removable(r.mode, r.index, r.released, indexes, Kind::minor);
            if (first && write && !starts_a_term(r, memory)) {
                memory.kept_write_first_in_range = true;
            }
            remove = by_rules && !for_terms;
            first = false;
            previous_term = r.term;
        }
        memory.last_term = r.term;
        retention.keep[k] = !remove;
        retention.removed += remove ? 1 : 0;
    }
    return retention;
}

}  // namespace copycat::compactor::plan
