// DiskReleases: which of this server's releases its stored log may act on, and when. Pure: the
// consensus shell sends its batches to the logstore (ReleaseRequest), the simulator to its disks.
//
// Why releases wait. copycat-compactor removes released entries from the *sealed* part of the
// stored log only, never from the active tail, and from the highest down, stopping at the first
// released entry that must stay (consensus/raft/log.h says why: an entry can depend on entries
// before it that were released, and a replay must not run it without them). That holds only if
// the release bits the compactor sees are those of one moment of the log: every release made
// by the entries up to some index X (a cut) and none made later. A release made by a later
// entry, of an entry in a sealed segment, could otherwise let that entry go while an entry
// after it, in the tail, still depends on it; and a replay after a restart would run the tail.
// So a release waits here until the entry that made it (Release::at) is in the sealed part of
// the log (sealed_through, as the logstore reports it), and releases go out in the order of
// `at`: the bits are then exactly the releases with at <= X for the X of the last batch.
//
// Deletes. Compaction removes the sequential modes (and FULL) only below the global index, and
// a delete must not go while a write it undid stays (ServerStateMachine::lowest_pending_release).
// The cut has its own bound for that: each batch carries global_cap, the lowest entry whose
// release was not sent yet (held by the state machine, or waiting here); the compactor uses
// min(global index, global_cap of the latest batch). A later batch replaces it: each is right
// for its own cut.
//
// Restarts. Release bits are advisory in the logstore (lost in a crash, or partly saved), and a
// set of bits that is not one cut is unsafe. So the first batch of this process, and the first
// after the logstore lost its bits (resend()), clears every bit (reset) and sends every release
// sent before: the logstore acts on bits only once such a batch has arrived whole.
#pragma once

#include <cstdint>
#include <deque>
#include <limits>
#include <map>
#include <optional>
#include <span>
#include <vector>

#include "consensus/session/server_state_machine.h"

namespace copycat::session {

class DiskReleases {
public:
    static constexpr Index no_cap = std::numeric_limits<Index>::max();

    struct Batch {
        bool reset = false;          // clear every release bit first
        std::vector<Index> indexes;  // then mark these released
        Index global_cap = no_cap;   // deletes (and FULL entries) stay at and above it
    };

    // Releases handed out by the state machine (ServerStateMachine::take_released), in order.
    void add(std::span<const Release> releases);
    // What to send now: every waiting release made at or below sealed_through, with the cap for
    // that cut (pending: ServerStateMachine::lowest_pending_release()); after a reset is due,
    // every release sent before too. Nullopt when there is nothing new to say.
    std::optional<Batch> take(Index sealed_through, Index pending);
    // The logstore lost its release bits: the next batch sends them all again.
    void resend() { reset_due_ = true; }
    // The log was dropped: nothing sent or waiting counts any more (the next batch resets).
    void clear();

    size_t waiting() const { return waiting_.size(); }
    uint64_t sent() const { return sent_count_; }

private:
    static constexpr Index chunk_bits = 1 << 16;
    using Chunk = std::vector<uint64_t>;  // chunk_bits bits

    void mark_sent(Index index);
    void append_sent(std::vector<Index>* out) const;

    std::deque<Release> waiting_;  // in the order of `at`
    // What was sent, for a resend: one bit per index, in chunks that exist once one is set.
    std::map<Index, Chunk> sent_;
    uint64_t sent_count_ = 0;
    bool reset_due_ = true;
    std::optional<Index> last_cap_;
};

}  // namespace copycat::session
