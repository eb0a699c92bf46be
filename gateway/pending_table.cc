#include "gateway/pending_table.h"

#include "common/assert.h"

namespace copycat::gateway {

PendingTable::PendingTable(size_t capacity) : capacity_(capacity) {
    COPYCAT_ASSERT(capacity > 0 && capacity <= kSlotMask, "pending capacity is 1..2^20-1");
}

PendingRequest* PendingTable::add(Time deadline, bool long_running) {
    if (live_ >= capacity_) return nullptr;
    COPYCAT_ASSERT(long_running || deadlines_.empty() || deadlines_.back().first <= deadline,
                   "pending deadlines must come in order (time never goes back)");
    uint32_t slot = 0;
    if (free_.empty()) {
        slot = static_cast<uint32_t>(slots_.size());
        slots_.emplace_back();
    } else {
        slot = free_.back();
        free_.pop_back();
    }
    PendingRequest& request = slots_[slot];
    std::vector<uint8_t> bytes = std::move(request.bytes);  // keep the buffer's capacity
    bytes.clear();
    request = PendingRequest{};
    request.bytes = std::move(bytes);
    request.id = (next_serial_++ << kSlotBits) | slot;
    if (long_running) {
        long_deadlines_.emplace(deadline, request.id);
    } else {
        deadlines_.emplace_back(deadline, request.id);
    }
    ++live_;
    return &request;
}

PendingRequest* PendingTable::find(uint64_t id) {
    const uint64_t slot = id & kSlotMask;
    if (slot >= slots_.size() || slots_[slot].id != id || id == 0) return nullptr;
    return &slots_[slot];
}

void PendingTable::release(PendingRequest& request) {
    COPYCAT_ASSERT(request.id != 0, "releasing a free pending slot");
    const auto slot = static_cast<uint32_t>(request.id & kSlotMask);
    request.id = 0;
    if (request.bytes.capacity() > kKeptBufferBytes) request.bytes = {};
    free_.push_back(slot);
    --live_;
}

PendingRequest* PendingTable::next_expired(Time now) {
    while (true) {
        const bool usual = !deadlines_.empty() && deadlines_.front().first <= now;
        const bool long_running = !long_deadlines_.empty() && long_deadlines_.begin()->first <= now;
        uint64_t id = 0;
        if (long_running && (!usual || long_deadlines_.begin()->first < deadlines_.front().first)) {
            id = long_deadlines_.begin()->second;
            long_deadlines_.erase(long_deadlines_.begin());
        } else if (usual) {
            id = deadlines_.front().second;
            deadlines_.pop_front();
        } else {
            return nullptr;
        }
        if (PendingRequest* request = find(id)) return request;
    }
}

}  // namespace copycat::gateway
