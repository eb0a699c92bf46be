// RaftLog: the Raft core's in-memory view of its log, from first_index() to last_index(),
// contiguous. The durable copy lives in the logstore (or the simulator's disk); the core
// keeps every entry it has not compacted away, so it can replicate and compare terms
// without waiting for storage.
#pragma once

#include <deque>
#include <optional>
#include <vector>

#include "consensus/raft/types.h"

namespace copycat::raft {

class RaftLog {
public:
    explicit RaftLog(Index first_index = 1, Term term_before_first = 0);

    Index first_index() const { return first_index_; }
    Index last_index() const { return first_index_ + entries_.size() - 1; }
    Term last_term() const;
    bool empty() const { return entries_.empty(); }
    // The term at index: first_index() - 1 gives the term before the log; 0 gives 0;
    // outside the log nullopt.
    std::optional<Term> term_at(Index index) const;
    const Entry& at(Index index) const;
    bool contains(Index index) const { return index >= first_index_ && index <= last_index(); }

    // Entries in [from, to], at most max_bytes of payload but at least one.
    std::vector<Entry> slice(Index from, Index to, size_t max_bytes) const;
    // Index of the first entry of the term of the entry at index (for fast back-off).
    Index first_index_of_term_at(Index index) const;

    void append(Entry entry);  // entry.index must be last_index() + 1
    void truncate_after(Index index);
    // Drops entries up to index (covered by a snapshot of term `term` at index); the log
    // then starts at index + 1, keeping what follows if it is there.
    void compact_to(Index index, Term term);

private:
    Index first_index_;
    Term term_before_first_;
    std::deque<Entry> entries_;
};

}  // namespace copycat::raft
