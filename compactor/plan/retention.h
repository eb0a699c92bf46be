// Which records a pass removes: common/compaction.h's rules applied to the whole sealed part of
// the log at once, in the same order as the Raft core's in-memory log (consensus/raft/log.h).
// Pure.
//
// A record goes when
//  - it is covered by the snapshot (snapshot and major kinds; compaction::removable says so
//    even of an unreleased record): whatever its mode, release or term, since the snapshot holds
//    the state up to its index and the term of that index; so a segment the snapshot covers
//    entirely becomes empty; or
//  - it is released, above the removal floor, and may go (compaction::may_remove_released: the
//    rules allow it, with Kind::major's modes, and the term rule does not keep it).
//
// The removal floor: released records go from the highest down, stopping at the first that must
// stay (a released record that may not go), as in the Raft core's log: an entry can depend on
// released entries before it (a lock request that failed because another held the lock; a resent
// command answered as a duplicate of its first copy), and a replay must not run it without them.
// When one stays, every released delete above it stays too (the writes it undid may be below).
// The floor is computed over every record above the snapshot of the sealed segments, whatever
// segments the pass rewrites; a released record in the active segment (only after a truncation
// moved the sealed end back) stops everything. Since the release bits are those of one cut of the
// log (consensus/session/disk_releases.h), the removed records are those the Raft core's log
// would have removed at that cut.
//
// Modes: the top-down order is what keeps deletes safe, so minor passes remove released deletes
// below the global index too (copycat.md keeps them for major passes only, which rewrite oldest
// first; here every pass follows the order). Minor and major passes differ in which segments they
// rewrite and in that major combines neighbours and removes what the snapshot covers.
//
// Terms: a record whose term differs from the record before it stays (the first entry of each
// term; a hole's term is the term of the nearest record before it). The first record of the
// sealed part stays too: the term before it (before the log, or of a snapshot) is not known here.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "common/compaction.h"

namespace copycat::compactor::plan {

// One record of the log, in log order.
struct RecordState {
    uint64_t index = 0;
    uint64_t term = 0;
    uint8_t mode = 0;
    bool released = false;
};

struct Retention {
    std::vector<bool> keep;  // one per record
    uint64_t removed = 0;
    uint64_t floor = 0;  // released records at or below it stay (0: none has to)
};

// The records of the sealed segments (all of them, in log order) that stay after a pass of
// `kind`. last_index: the log's last index; released_in_tail: a record of the active segment
// is released.
Retention plan_log(std::span<const RecordState> sealed, const compaction::Indexes& indexes,
                   compaction::Kind kind, uint64_t last_index, bool released_in_tail);

}  // namespace copycat::compactor::plan
