#include "gateway/keep_alive_batcher.h"

#include <algorithm>

namespace copycat::gateway {

namespace {

// One item per session, sorted by session, each with the highest acknowledgements seen.
std::vector<session::KeepAliveItem> merge(std::vector<session::KeepAliveItem> items) {
    std::sort(items.begin(), items.end(),
              [](const auto& a, const auto& b) { return a.session < b.session; });
    std::vector<session::KeepAliveItem> merged;
    merged.reserve(items.size());
    for (const session::KeepAliveItem& item : items) {
        if (!merged.empty() && merged.back().session == item.session) {
            session::KeepAliveItem& kept = merged.back();
            kept.command_sequence = std::max(kept.command_sequence, item.command_sequence);
            kept.event_index = std::max(kept.event_index, item.event_index);
        } else {
            merged.push_back(item);
        }
    }
    return merged;
}

}  // namespace

std::vector<session::ErrorCode> KeepAliveBatch::codes_for(
    const KeepAliveWaiter& waiter, std::span<const session::ErrorCode> merged_codes) const {
    std::vector<session::ErrorCode> codes;
    codes.reserve(waiter.count);
    for (size_t i = waiter.first; i < waiter.first + waiter.count; ++i) {
        auto found = std::lower_bound(
            merged.begin(), merged.end(), items[i].session,
            [](const session::KeepAliveItem& item, uint64_t id) { return item.session < id; });
        const auto position = static_cast<size_t>(found - merged.begin());
        codes.push_back(position < merged_codes.size() ? merged_codes[position]
                                                       : session::ErrorCode::internal_error);
    }
    return codes;
}

void KeepAliveQueue::add(ClientDirectory::Ref client, uint64_t request_id,
                         std::span<const session::KeepAliveItem> items, Time now) {
    waiters_.push_back({client, request_id, now, items_.size(), items.size()});
    items_.insert(items_.end(), items.begin(), items.end());
}

bool KeepAliveQueue::due(Time now, Micros window, size_t enough_items) const {
    if (waiters_.empty()) return false;
    return items_.size() >= enough_items || now - waiters_.front().arrived >= window;
}

KeepAliveBatch KeepAliveQueue::take(size_t max_items) {
    size_t taken = 0;
    size_t end = 0;  // of the taken waiters' items
    while (taken < waiters_.size() && (taken == 0 || end + waiters_[taken].count <= max_items)) {
        end += waiters_[taken].count;
        ++taken;
    }
    KeepAliveBatch batch;
    batch.waiters.assign(waiters_.begin(), waiters_.begin() + static_cast<ptrdiff_t>(taken));
    batch.items.assign(items_.begin(), items_.begin() + static_cast<ptrdiff_t>(end));
    batch.merged = merge(batch.items);
    waiters_.erase(waiters_.begin(), waiters_.begin() + static_cast<ptrdiff_t>(taken));
    items_.erase(items_.begin(), items_.begin() + static_cast<ptrdiff_t>(end));
    for (KeepAliveWaiter& waiter : waiters_) waiter.first -= end;
    return batch;
}

}  // namespace copycat::gateway
