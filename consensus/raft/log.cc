#include "consensus/raft/log.h"

#include <algorithm>

#include "common/assert.h"

namespace copycat::raft {

RaftLog::RaftLog(Index first_index, Term term_before_first)
    : first_index_(first_index), term_before_first_(term_before_first) {
    COPYCAT_ASSERT(first_index >= 1, "a log starts at index 1 or later");
}

Term RaftLog::last_term() const {
    return entries_.empty() ? term_before_first_ : entries_.rbegin()->second.term;
}

// The term of the entry before `it` (the term of a hole just before it), or the term before
// the log.
Term RaftLog::term_before(std::map<Index, Entry>::const_iterator it) const {
    return it == entries_.begin() ? term_before_first_ : std::prev(it)->second.term;
}

std::optional<Term> RaftLog::term_at(Index index) const {
    if (index == 0) return 0;
    if (index + 1 == first_index_) return term_before_first_;
    if (!contains(index)) return std::nullopt;
    auto after = entries_.upper_bound(index);
    return term_before(after);  // the entry at index itself, or the one before the hole
}

const Entry& RaftLog::at(Index index) const {
    const Entry* entry = find(index);
    COPYCAT_ASSERT(entry != nullptr, "log index out of range or a hole");
    return *entry;
}

const Entry* RaftLog::find(Index index) const {
    if (!contains(index)) return nullptr;
    auto found = entries_.find(index);
    return found == entries_.end() ? nullptr : &found->second;
}

Index RaftLog::held_at_or_before(Index index) const {
    auto after = entries_.upper_bound(index);
    return after == entries_.begin() ? first_index_ - 1 : std::prev(after)->first;
}

std::vector<Entry> RaftLog::slice(Index from, Index to, size_t max_bytes) const {
    std::vector<Entry> out;
    size_t bytes = 0;
    for (auto it = entries_.lower_bound(from); it != entries_.end() && it->first <= to; ++it) {
        const Entry& entry = it->second;
        if (!out.empty() && bytes + entry.payload.size() > max_bytes) break;
        bytes += entry.payload.size();
        out.push_back(entry);
    }
    return out;
}

// Terms change only at held entries: the index `from` itself, then each held entry after it.
std::optional<Index> RaftLog::first_term_other_than(Index from, Index to, Term term) const {
    from = std::max(from, first_index_);
    to = std::min(to, last_index());
    if (from > to) return std::nullopt;
    if (term_at(from) != term) return from;
    for (auto it = entries_.upper_bound(from); it != entries_.end() && it->first <= to; ++it) {
        if (it->second.term != term) return it->first;
    }
    return std::nullopt;
}

// The first entry of every term is held (see the header), so the earliest held entry of the
// term is where the term starts.
Index RaftLog::first_index_of_term_at(Index index) const {
    if (!contains(index)) return index;
    Term term = *term_at(index);
    auto it = entries_.upper_bound(index);
    Index first = index;
    while (it != entries_.begin()) {
        --it;
        if (it->second.term != term) break;
        first = it->first;
    }
    return first;
}

void RaftLog::append(Entry entry) {
    COPYCAT_ASSERT(entry.index > last_index(), "log append must go after the last entry");
    COPYCAT_ASSERT(entry.term >= last_term(), "terms in the log never decrease");
    Index index = entry.index;
    entries_.emplace_hint(entries_.end(), index, std::move(entry));
}

void RaftLog::truncate_after(Index index) {
    COPYCAT_ASSERT(index + 1 >= first_index_, "truncation below the start of the log");
    entries_.erase(entries_.upper_bound(index), entries_.end());
    released_.erase(released_.upper_bound(index), released_.end());
}

void RaftLog::compact_to(Index index, Term term) {
    if (index < first_index_) return;
    entries_.erase(entries_.begin(), entries_.upper_bound(index));
    released_.erase(released_.begin(), released_.upper_bound(index));
    first_index_ = index + 1;
    term_before_first_ = term;
}

void RaftLog::release(std::span<const Index> indexes) {
    for (Index index : indexes) {
        if (entries_.count(index) != 0) released_.insert(index);
    }
}

std::vector<Index> RaftLog::compact(const compaction::Indexes& indexes) {
    std::vector<Index> removed;
    Index last = last_index();
    for (auto r = released_.begin(); r != released_.end() && *r <= indexes.commit;) {
        auto it = entries_.find(*r);
        COPYCAT_ASSERT(it != entries_.end(), "a released entry that the log does not hold");
        const Entry& entry = it->second;
        if (!compaction::may_remove_released(entry.compaction_mode, entry.index, entry.term,
                                             term_before(it), last, indexes)) {
            ++r;
            continue;
        }
        removed.push_back(entry.index);
        entries_.erase(it);
        r = released_.erase(r);
    }
    return removed;
}

}  // namespace copycat::raft
