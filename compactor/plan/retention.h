// Which records a rewrite keeps: common/compaction.h's rules applied to one range of records
// (one segment, or a group of neighbours that major compaction combines). Pure.
//
// A record goes when
//  - it is covered by the snapshot (compaction::removable says so even of an unreleased
//    record: snapshot and major kinds): whatever its mode, release or term, since the snapshot
//    holds the state up to its index and the term of that index; so a segment the snapshot
//    covers entirely becomes empty; or
//  - the rules remove it (compaction::removable) and the term rule does not keep it
//    (compaction::must_keep_for_terms over the records of the range above the snapshot: the
//    first of them, and each whose term differs from the record before it, stay).
//
// One guard more than the rules, for major runs (TESTING.md #9, no tombstone resurrection).
// A delete (a record only major compaction removes: released SEQUENTIAL, EXPIRING, TOMBSTONE
// below the global index) may go only if every write it released went too. Major runs rewrite
// oldest first from one copy of the release bits, so a released write before the delete goes
// in the same run, unless the term rule keeps it. The first record of each term is the
// leader's no-op (each leader's first entry), harmless to keep; but the first record of a
// range is kept whatever it is. So once a run keeps a released write as the first of its range
// without knowing that it starts a term (the run saw no record before it, or one of the same
// term, and it is not index 1), it keeps every delete after it. RunMemory carries that from
// one group to the next.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "common/compaction.h"

namespace copycat::compactor::plan {

// One record of a range, in log order.
struct RecordState {
    uint64_t index = 0;
    uint64_t term = 0;
    uint8_t mode = 0;
    bool released = false;
};

// What a major run has seen so far, from the beginning of the log (oldest group first).
struct RunMemory {
    // A released write was kept as the first of its range: keep every delete from now on.
    bool kept_write_first_in_range = false;
    // The term of the last record the run has seen (before removal), if any.
    std::optional<uint64_t> last_term;
};

struct Retention {
    std::vector<bool> keep;  // one per record of the range
    uint64_t removed = 0;
};

// The records of `range` that stay. `run` is the memory of the major run the range belongs
// to (groups in log order), updated here; null for a range on its own.
Retention plan_retention(std::span<const RecordState> range, const compaction::Indexes& indexes,
                         compaction::Kind kind, RunMemory* run = nullptr);

}  // namespace copycat::compactor::plan
