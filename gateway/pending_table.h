// PendingTable: the requests the gateway forwarded and has not answered yet, each under a
// gateway-unique request id (clients choose ids per connection, so theirs collide).
//
// Slots are reused, bytes buffers included, so that a steady load allocates nothing: an id is
// a slot index in its low bits and a serial number above them, so an answer that comes after
// its request was finished (timed out, or answered by another node) finds no request rather
// than a newer one in the same slot.
//
// Deadlines are the time a request arrived plus one timeout, so they come in arrival order
// and a queue gives them back in due order (add() asserts they never decrease).
//
// Pure; single-threaded. Pointers to requests stay valid until release().
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <utility>
#include <vector>

#include "gateway/clients.h"
#include "gateway/clock.h"
#include "gateway/message_view.h"

namespace copycat::gateway {

// Where a request goes.
enum class Route : uint8_t {
    leader,      // commands, linearizable queries, session and membership requests
    sequential,  // a caught-up follower, else the leader
    node,        // the one node an admin request names
    any,         // status and session lists: the leader if known, else any node
};

struct PendingRequest {
    uint64_t id = 0;  // the gateway's request id; 0 while the slot is free
    Op op = Op::command;
    Route route = Route::leader;
    bool internal = false;  // the gateway's own (a keep-alive batch): no client waits on it
    ClientDirectory::Ref client{};
    uint64_t client_request_id = 0;
    session::SessionId session = 0;  // the session it names, if any
    std::vector<uint8_t> bytes;      // as forwarded: the gateway's id inside
    std::optional<size_t> node;      // where the latest attempt went
    Time arrived{};
    // After answers without a usable leader hint, attempts wait: retry_at, doubling backoff.
    bool parked = false;
    Time retry_at{};
    Micros backoff{};
    uint32_t hops = 0;  // attempts sent at once after no_leader answers, since the last wait
};

class PendingTable {
public:
    // `capacity` requests at most (below 2^20).
    explicit PendingTable(size_t capacity);

    // A new request due at `deadline`, with a fresh id; nullptr when the table is full.
    // Deadlines come in order, except those of `long_running` requests (a compaction), kept
    // apart.
    PendingRequest* add(Time deadline, bool long_running = false);
    PendingRequest* find(uint64_t id);
    void release(PendingRequest& request);
    // A request whose deadline is at or before `now` (each once, in deadline order), or
    // nullptr. The caller answers and releases it.
    PendingRequest* next_expired(Time now);

    size_t size() const { return live_; }
    size_t capacity() const { return capacity_; }

    template <typename Visit>
    void for_each(Visit visit) {
        for (PendingRequest& request : slots_) {
            if (request.id != 0) visit(request);
        }
    }

private:
    static constexpr int kSlotBits = 20;
    static constexpr uint64_t kSlotMask = (uint64_t{1} << kSlotBits) - 1;
    // Past this, a finished request's buffer is given back rather than kept for reuse.
    static constexpr size_t kKeptBufferBytes = 64 * 1024;

    size_t capacity_;
    std::deque<PendingRequest> slots_;  // a deque: adding a slot moves no other
    std::vector<uint32_t> free_;
    std::deque<std::pair<Time, uint64_t>> deadlines_;  // in order
    std::multimap<Time, uint64_t> long_deadlines_;
    uint64_t next_serial_ = 1;
    size_t live_ = 0;
};

}  // namespace copycat::gateway
