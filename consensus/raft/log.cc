#include "consensus/raft/log.h"

#include "common/assert.h"

namespace copycat::raft {

RaftLog::RaftLog(Index first_index, Term term_before_first)
    : first_index_(first_index), term_before_first_(term_before_first) {
    COPYCAT_ASSERT(first_index >= 1, "a log starts at index 1 or later");
}

Term RaftLog::last_term() const {
    return entries_.empty() ? term_before_first_ : entries_.back().term;
}

std::optional<Term> RaftLog::term_at(Index index) const {
    if (index == 0) return 0;
    if (index + 1 == first_index_) return term_before_first_;
    if (!contains(index)) return std::nullopt;
    return at(index).term;
}

const Entry& RaftLog::at(Index index) const {
    COPYCAT_ASSERT(contains(index), "log index out of range");
    return entries_[index - first_index_];
}

std::vector<Entry> RaftLog::slice(Index from, Index to, size_t max_bytes) const {
    std::vector<Entry> out;
    size_t bytes = 0;
    for (Index index = std::max(from, first_index_); index <= std::min(to, last_index()); ++index) {
        const Entry& entry = at(index);
        if (!out.empty() && bytes + entry.payload.size() > max_bytes) break;
        bytes += entry.payload.size();
        out.push_back(entry);
    }
    return out;
}

Index RaftLog::first_index_of_term_at(Index index) const {
    if (!contains(index)) return index;
    Term term = at(index).term;
    while (index > first_index_ && at(index - 1).term == term) --index;
    return index;
}

void RaftLog::append(Entry entry) {
    COPYCAT_ASSERT(entry.index == last_index() + 1, "log append must continue the log");
    COPYCAT_ASSERT(entry.term >= last_term(), "terms in the log never decrease");
    entries_.push_back(std::move(entry));
}

void RaftLog::compact_to(Index index, Term term) {
    if (index < first_index_) return;
    if (index > last_index()) {
        entries_.clear();
    } else {
        entries_.erase(entries_.begin(),
                       entries_.begin() + static_cast<long>(index + 1 - first_index_));
    }
    first_index_ = index + 1;
    term_before_first_ = term;
}

void RaftLog::truncate_after(Index index) {
    COPYCAT_ASSERT(index + 1 >= first_index_, "truncation below the start of the log");
    while (!entries_.empty() && last_index() > index) entries_.pop_back();
}

}  // namespace copycat::raft
