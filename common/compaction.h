// Which log entries compaction may remove (copycat.md §2.4, §4.14): one definition for every
// place that drops entries — the compactor rewriting sealed segments on disk, and the Raft core
// dropping entries from its in-memory log. Pure functions.
//
// Mode bytes are the values of statemachine::CompactionMode and storage::CompactionMode (the
// same numbering, stored in log entries). DEFAULT is resolved by the consensus server before an
// entry is logged (SNAPSHOT for a state machine that takes snapshots, else SEQUENTIAL); a DEFAULT
// that reaches these rules anyway is treated as UNKNOWN, the safest mode. An unknown byte is
// never removed.
//
// Indexes (each only grows; the consensus server reports them):
//  - commit: nothing above it is ever removed;
//  - minor: lastCompleted (copycat.md §4.9: every session's events up to it are acknowledged);
//    nothing above it is removed, so a replay regenerates every unacknowledged event;
//  - global: every member that counts (copycat.md §4.12) has stored the log up to it; FULL and
//    the sequential modes (SEQUENTIAL, EXPIRING, TOMBSTONE) are removed only below it, so no
//    member can miss a delete whose earlier write it holds (tombstone resurrection, copycat #38);
//  - snapshot: the latest durable snapshot of this node covers every entry up to it.
//
// Kinds (removable()):
//  - minor: released RELEASE/QUORUM entries; released FULL below global; released SNAPSHOT at or
//    below the snapshot; never the sequential modes, UNKNOWN or DEFAULT;
//  - major: minor's, plus released sequential modes below global, plus every entry at or below
//    the snapshot;
//  - snapshot: minor's, plus every entry at or below the snapshot, whatever its mode (the
//    snapshot holds the whole state: sessions and the state machine).
// Released entries leave a log from the highest down, to the first that must stay, with major's
// modes (may_remove_released): the Raft core's log (consensus/raft/log.h) and copycat-compactor
// (compactor/plan/retention.h, whatever kind of pass) alike. That order, not the kind, is what
// removes a delete only together with (or after) the writes it undid.
//
// Terms. A hole's term is the term of the nearest entry before it (or the term before the log,
// after a snapshot): so holes keep exact terms and Raft's log comparison stays exact. That holds
// because the first entry of each term is its leader's initialize entry, which is never released
// (only a snapshot covers it). must_keep_for_terms() checks it again wherever the entry before is
// known, as a safety net: an entry whose term differs from the one before it stays (the
// compactor also keeps the first record of each range it rewrites, where it does not know the
// term before: compactor/plan/retention.h). Entries a snapshot covers go whatever their term
// (their term is the snapshot's, or comes before it).
#pragma once

#include <cstdint>

namespace copycat::compaction {

enum class Kind : uint8_t { minor, major, snapshot };
const char* kind_name(Kind kind);

struct Indexes {
    uint64_t commit = 0;
    uint64_t minor = 0;
    uint64_t global = 0;
    uint64_t snapshot = 0;
};

// Whether the entry at index (with its mode byte and release bit) may be removed by this kind.
bool removable(uint8_t mode, uint64_t index, bool released, const Indexes& indexes, Kind kind);

// A delete: the sequential modes (SEQUENTIAL, EXPIRING, TOMBSTONE), which undo earlier writes.
bool is_delete(uint8_t mode);

// Whether an entry must stay for the term rule above; previous_term: the term of the entry
// before it in the log (removed or not).
inline bool must_keep_for_terms(uint64_t previous_term, uint64_t term) {
    return previous_term != term;
}

// Whether a released entry of a log may go now, in the Raft core's log and the simulator's
// disks alike: the rules allow it (Kind::major), it is not the log's last entry, and the term
// rule does not keep it (previous_term: of the entry before it, removed or not).
inline bool may_remove_released(uint8_t mode, uint64_t index, uint64_t term, uint64_t previous_term,
                                uint64_t last_index, const Indexes& indexes) {
    return index != last_index && !must_keep_for_terms(previous_term, term) &&
           removable(mode, index, /*released=*/true, indexes, Kind::major);
}

}  // namespace copycat::compaction
