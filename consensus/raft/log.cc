#include "consensus/raft/log.h"

#include <algorithm>

#include "common/assert.h"

namespace copycat::raft {

RaftLog::RaftLog(Index first_index, Term term_before_first)
    : first_index_(first_index), term_before_first_(term_before_first) {
    COPYCAT_ASSERT(first_index >= 1, "a log starts at index 1 or later");
}

Term RaftLog::last_term() const {
    return entries_.empty() ? term_before_first_ : entries_.back().term;
}

size_t RaftLog::lower_position(Index index) const {
    auto it = std::lower_bound(entries_.begin(), entries_.end(), index,
                               [](const Entry& entry, Index i) { return entry.index < i; });
    return static_cast<size_t>(it - entries_.begin());
}

size_t RaftLog::position(Index index) const {
    if (entries_.empty() || index < entries_.front().index || index > entries_.back().index) {
        return npos;
    }
    const size_t from_front = index - entries_.front().index;
    if (from_front < entries_.size() && entries_[from_front].index == index) return from_front;
    const size_t from_back = entries_.back().index - index;
    if (from_back < entries_.size() && entries_[entries_.size() - 1 - from_back].index == index) {
        return entries_.size() - 1 - from_back;
    }
    const size_t found = lower_position(index);
    return found < entries_.size() && entries_[found].index == index ? found : npos;
}

// The term of the entry before `position` (the term of a hole just before it), or the term
// before the log.
Term RaftLog::term_before(size_t position) const {
    return position == 0 ? term_before_first_ : entries_[position - 1].term;
}

std::optional<Term> RaftLog::term_at(Index index) const {
    if (index == 0) return 0;
    if (index + 1 == first_index_) return term_before_first_;
    if (!contains(index)) return std::nullopt;
    const size_t held = position(index);
    if (held != npos) return entries_[held].term;
    return term_before(lower_position(index));  // a hole: the term of the entry before it
}

const Entry& RaftLog::at(Index index) const {
    const Entry* entry = find(index);
    COPYCAT_ASSERT(entry != nullptr, "log index out of range or a hole");
    return *entry;
}

const Entry* RaftLog::find(Index index) const {
    if (!contains(index)) return nullptr;
    const size_t held = position(index);
    return held == npos ? nullptr : &entries_[held];
}

Index RaftLog::held_at_or_before(Index index) const {
    const size_t held = position(index);
    if (held != npos) return index;
    const size_t after = lower_position(index + 1);
    return after == 0 ? first_index_ - 1 : entries_[after - 1].index;
}

std::vector<Entry> RaftLog::slice(Index from, Index to, size_t max_bytes) const {
    std::vector<Entry> out;
    size_t bytes = 0;
    size_t start = position(from);
    if (start == npos) start = lower_position(from);
    for (size_t p = start; p < entries_.size() && entries_[p].index <= to; ++p) {
        const Entry& entry = entries_[p];
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
    for (size_t p = lower_position(from + 1); p < entries_.size() && entries_[p].index <= to; ++p) {
        if (entries_[p].term != term) return entries_[p].index;
    }
    return std::nullopt;
}

// The first entry of every term is held (see the header), so the earliest held entry of the
// term is where the term starts.
Index RaftLog::first_index_of_term_at(Index index) const {
    if (!contains(index)) return index;
    const Term term = *term_at(index);
    size_t p = lower_position(index + 1);
    Index first = index;
    while (p > 0 && entries_[p - 1].term == term) {
        --p;
        first = entries_[p].index;
    }
    return first;
}

void RaftLog::append(Entry entry) {
    COPYCAT_ASSERT(entry.index > last_index(), "log append must go after the last entry");
    COPYCAT_ASSERT(entry.term >= last_term(), "terms in the log never decrease");
    if (entry.index > last_index() + 1) hole_end_ = std::max(hole_end_, entry.index);
    entries_.push_back(std::move(entry));
}

void RaftLog::truncate_after(Index index) {
    COPYCAT_ASSERT(index + 1 >= first_index_, "truncation below the start of the log");
    while (!entries_.empty() && entries_.back().index > index) entries_.pop_back();
    released_.erase(released_.upper_bound(index), released_.end());
}

void RaftLog::compact_to(Index index, Term term) {
    if (index < first_index_) return;
    while (!entries_.empty() && entries_.front().index <= index) entries_.pop_front();
    released_.erase(released_.begin(), released_.upper_bound(index));
    first_index_ = index + 1;
    term_before_first_ = term;
}

void RaftLog::release(std::span<const Index> indexes) {
    for (Index index : indexes) {
        if (position(index) != npos) released_.insert(index);
    }
}

// The released entries from the highest down while each may go, then one pass that keeps what
// stays (O(entries held) per call: the server calls it every so many applied entries, not per
// entry).
std::vector<Index> RaftLog::compact(const compaction::Indexes& indexes) {
    std::vector<Index> removed;
    const Index last = last_index();
    auto going = released_.end();
    while (going != released_.begin()) {
        const Index index = *std::prev(going);
        const Entry& entry = entries_[position(index)];
        // The entry before it, held or a hole (a hole's term is the one before it).
        const Term previous_term = *term_at(index - 1);
        if (index > indexes.commit ||
            !compaction::may_remove_released(entry.compaction_mode, index, entry.term,
                                             previous_term, last, indexes)) {
            break;
        }
        --going;
    }
    // Below an entry that stays, released writes stay too; a delete above it must stay with
    // them, since the writes it undid may be among them (a replay would bring them back).
    if (going != released_.begin()) {
        for (auto it = released_.end(); it != going;) {
            --it;
            if (compaction::is_delete(entries_[position(*it)].compaction_mode)) {
                going = std::next(it);
                break;
            }
        }
    }
    if (going == released_.end()) return removed;
    const Index lowest = *going;
    std::deque<Entry> kept;
    for (Entry& entry : entries_) {
        if (entry.index >= lowest && released_.count(entry.index) != 0) {
            removed.push_back(entry.index);
        } else {
            kept.push_back(std::move(entry));
        }
    }
    entries_ = std::move(kept);
    released_.erase(going, released_.end());
    if (!removed.empty()) hole_end_ = std::max(hole_end_, removed.back() + 1);
    return removed;
}

}  // namespace copycat::raft
