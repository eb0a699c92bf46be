// Keep-alive batching (DESIGN.md, Message flows: "the gateway batches the keep-alives of many
// sessions into one entry"). Clients' keep-alive requests wait in a queue; the gateway sends
// one KeepAliveRequest for all of them, which the leader logs as one entry, and answers each
// client with the codes of its own sessions, in its own order.
//
// A session named twice (two clients' requests, or one client's two) goes once, with the
// highest command sequence and event index of its items: both only ever grow, so the highest
// acknowledges everything the lower ones did.
//
// The gateway never keeps a session alive on its own: only items that clients sent go out.
//
// Pure; single-threaded.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "consensus/session/protocol.h"
#include "gateway/clients.h"
#include "gateway/clock.h"

namespace copycat::gateway {

// One client keep-alive request, waiting for its answer.
struct KeepAliveWaiter {
    ClientDirectory::Ref client{};
    uint64_t request_id = 0;
    Time arrived{};
    size_t first = 0;  // its items: [first, first + count) of its batch's items
    size_t count = 0;
};

struct KeepAliveBatch {
    std::vector<KeepAliveWaiter> waiters;
    std::vector<session::KeepAliveItem> items;   // the waiters' items, in order
    std::vector<session::KeepAliveItem> merged;  // one per session, by session: what is sent

    // The codes for `waiter`'s items, given the batch answer's codes (one per merged item, in
    // order). A code the answer lacks is internal_error.
    std::vector<session::ErrorCode> codes_for(
        const KeepAliveWaiter& waiter, std::span<const session::ErrorCode> merged_codes) const;
};

class KeepAliveQueue {
public:
    void add(ClientDirectory::Ref client, uint64_t request_id,
             std::span<const session::KeepAliveItem> items, Time now);
    // Time for a batch: the oldest waiter has waited `window`, or `enough_items` are queued.
    bool due(Time now, Micros window, size_t enough_items) const;
    // Takes whole waiters, oldest first, while the batch has at most max_items items (the
    // first waiter always); merges their items.
    KeepAliveBatch take(size_t max_items);

    bool empty() const { return waiters_.empty(); }
    size_t items() const { return items_.size(); }

private:
    std::vector<KeepAliveWaiter> waiters_;
    std::vector<session::KeepAliveItem> items_;
};

}  // namespace copycat::gateway
