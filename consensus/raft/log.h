// RaftLog: the Raft core's in-memory view of its log, from first_index() to last_index(). The
// durable copy lives in the logstore (or the simulator's disk); the core keeps every entry it
// has not compacted away, so it can replicate and compare terms without waiting for storage.
//
// Holes. Log compaction removes entries that no longer contribute to state (common/compaction.h):
// on disk (the compactor) and here (compact()). A removed index is a hole: it keeps its place in
// the log, reads skip it, and its term is still known exactly, because compaction never removes
// the first entry of a term: a hole's term is the term of the nearest entry before it (or the
// term before the log). So term_at() answers for every index in the log, holes included, and
// Raft's log comparison is the same as without holes. The last entry is never a hole.
//
// A follower receives holes too: a leader sends the entries it has, and what it compacted away
// arrives as gaps (the same rule holds for the leader's log, so it holds for the follower's).
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <set>
#include <span>
#include <vector>

#include "common/compaction.h"
#include "consensus/raft/types.h"

namespace copycat::raft {

class RaftLog {
public:
    explicit RaftLog(Index first_index = 1, Term term_before_first = 0);

    Index first_index() const { return first_index_; }
    Index last_index() const { return entries_.empty() ? first_index_ - 1 : entries_.back().index; }
    Term last_term() const;
    bool empty() const { return entries_.empty(); }
    // The term at index, for an entry or a hole: first_index() - 1 gives the term before the
    // log; 0 gives 0; outside the log nullopt.
    std::optional<Term> term_at(Index index) const;
    // The entry at index; asserts it is held (not a hole, inside the log).
    const Entry& at(Index index) const;
    // The entry at index, or null for a hole or an index outside the log.
    const Entry* find(Index index) const;
    // Inside [first_index(), last_index()], entry or hole.
    bool contains(Index index) const { return index >= first_index_ && index <= last_index(); }
    // The greatest index <= index that holds an entry, or first_index() - 1 if none.
    Index held_at_or_before(Index index) const;

    // Entries held in [from, to], at most max_bytes of payload but at least one (if any).
    std::vector<Entry> slice(Index from, Index to, size_t max_bytes) const;
    // The first index in [from, to] (entry or hole, inside the log) whose term is not `term`.
    std::optional<Index> first_term_other_than(Index from, Index to, Term term) const;
    // Index of the first entry of the term of the index (for fast back-off).
    Index first_index_of_term_at(Index index) const;

    // entry.index must be above last_index() (the indexes between become holes, whose term is
    // the last term: a caller appending after a gap must know that is true) and its term at
    // least last_term().
    void append(Entry entry);
    void truncate_after(Index index);
    // Drops entries up to index (covered by a snapshot of term `term` at index); the log
    // then starts at index + 1, keeping what follows if it is there.
    void compact_to(Index index, Term term);

    // The state machine no longer needs these entries (unknown indexes and holes are ignored).
    void release(std::span<const Index> indexes);
    // Removes released entries that common/compaction.h allows (Kind::major), keeping the first
    // entry of each term and the last entry: the released entries from the highest down, to
    // the first that must stay. What an entry did can depend on entries before it that were
    // released earlier or later (a lock request that failed because another held the lock; a
    // resent command answered as a duplicate of its first copy), and a replay that skips the
    // earlier entry must skip the later one too (tests/sim FINDINGS.md 9): so no released entry
    // stays above one that goes. When one stays, so does every released delete above it (the
    // writes it undid may be below). Returns the indexes it removed.
    std::vector<Index> compact(const compaction::Indexes& indexes);
    size_t released_held() const { return released_.size(); }
    // One past the highest index that was a hole of this log at any time since it was made
    // (0: it never had one). Entries removed there may have been deletes: a member that may lack
    // them is sent at least this as the global index (Raft::make_append).
    Index hole_end() const { return hole_end_; }

private:
    static constexpr size_t npos = static_cast<size_t>(-1);
    // The position of the first held entry with an index >= index (size() if none).
    size_t lower_position(Index index) const;
    // The position of the entry at index, or npos. O(1) where there is no hole before it or
    // after it (the common case: holes are old), else a binary search.
    size_t position(Index index) const;
    Term term_before(size_t position) const;

    Index first_index_;
    Term term_before_first_;
    std::deque<Entry> entries_;  // held entries, by increasing index; the gaps are holes
    std::set<Index> released_;   // held entries released and not yet removed
    Index hole_end_ = 0;
};

}  // namespace copycat::raft
