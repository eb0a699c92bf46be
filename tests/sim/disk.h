// The simulated disk of one node: what survives a crash. It holds the durable state (hard
// state, the log from index 1, the bootstrap configuration) and the PersistOps written but not
// yet synced. Each write completes (its fsync returns) after a simulated latency, in the order
// written; only then is it durable and may the node be told persisted(seq).
//
// A crash loses every pending write. With a torn tail, a prefix of the pending writes survives,
// cut anywhere: the parts of the pending ops in order (hard state, snapshot, truncation, then
// each entry, as raft.h orders a PersistOp) up to a random point. A write that completed is
// never lost.
//
// The disk also remembers every (term, vote) that was ever durable, for the invariant that a
// vote is granted only once it is durable.
//
// Log compaction: the node's released indexes are marked here (the logstore's release bits),
// and compact() removes durable entries as copycat-compactor does (common/compaction.h, major
// rules, keeping the first entry of each term and the last entry), at once and atomically: the
// crash windows of the real rewrite-and-swap are tested on the real files (tests/compactor/).
// Removed indexes are holes; entries may also arrive with holes (a leader sends what it kept).
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <utility>
#include <vector>

#include "common/compaction.h"
#include "common/status.h"
#include "consensus/raft/raft.h"
#include "consensus/session/disk_releases.h"
#include "tests/sim/random.h"

namespace copycat::sim {

struct DiskTiming {
    uint64_t sync_min_us = 100;
    uint64_t sync_max_us = 2'000;
    double slow_sync_chance = 0.0;  // chance of a slow fsync (a stall)
    uint64_t slow_sync_max_us = 50'000;
};

struct DiskStats {
    uint64_t writes = 0;
    uint64_t syncs = 0;        // writes made durable
    uint64_t lost_writes = 0;  // pending writes lost in crashes
    uint64_t torn_tails = 0;   // crashes that left part of a pending write behind
};

class Disk {
public:
    // segment_entries: the active segment is sealed once it holds that many entries.
    Disk(raft::Configuration bootstrap, Rng rng, DiskTiming timing, uint64_t segment_entries = 1);

    // Queues a write; it completes after the ones before it. Refuses (and changes nothing) an
    // op that breaks raft.h's contract: an append that does not continue the written log.
    Status write(raft::PersistOp op, uint64_t now_us);
    // When the earliest pending write completes; nullopt when none is pending.
    std::optional<uint64_t> next_sync_us() const;
    // Makes every write due by now durable; the highest seq made durable, or 0 when none.
    uint64_t sync_due(uint64_t now_us);

    struct CrashLoss {
        size_t lost_writes = 0;
        size_t surviving_parts = 0;  // torn tail: parts of pending writes that survived
    };
    // Loses what is pending; with torn_tail a random prefix of it survives.
    CrashLoss crash(bool torn_tail);

    // A snapshot the node took of its state machine: durable at once (the shell syncs it before
    // telling Raft). The log stays; restore() hands both, and Raft skips what the snapshot
    // covers.
    void save_snapshot(const raft::Snapshot& snapshot);
    const std::optional<raft::Snapshot>& snapshot() const { return snapshot_; }

    // What the node restores on start-up.
    raft::RestoredState restore() const;
    // The configuration a restart would put in force: the latest configuration entry of the
    // durable log, else the snapshot's, else the bootstrap configuration.
    raft::Configuration configuration() const;

    // Release bits, as the logstore keeps them: a batch of session::DiskReleases (reset first
    // if it says so; marks the durable entries it names, unknown indexes skipped; replaces the
    // cap on the global index). applied_at: for each index, the node's applied index when it
    // released it, kept with the bit for the invariants. Bits are lost in a crash, and the disk
    // acts on none until a batch came after it.
    void release(const session::DiskReleases::Batch& batch,
                 const std::map<raft::Index, raft::Index>& applied_at);
    // The end of the sealed part of the log (the logstore's sealed_through): the active
    // segment, after it, is never compacted.
    raft::Index sealed_through() const { return sealed_through_; }
    // Removes durable released entries the rules allow from the sealed part, from the highest
    // down to the first that must stay (as the Raft core's log: consensus/raft/log.h; a released
    // entry of the active segment stays, so stops it) with the global index capped as the last
    // batch said; returns, for each removed, its index and the applied index it was released at.
    std::vector<std::pair<raft::Index, raft::Index>> compact(const compaction::Indexes& indexes);

    const raft::HardState& hard_state() const { return hard_state_; }
    raft::Index first_index() const { return first_index_; }
    raft::Index last_index() const {
        return entries_.empty() ? first_index_ - 1 : entries_.rbegin()->first;
    }
    // Inside [first_index(), last_index()] and not a hole.
    bool holds(raft::Index index) const { return entries_.count(index) > 0; }
    // Inside [first_index(), last_index()]: an entry or a hole.
    bool covers(raft::Index index) const { return index >= first_index_ && index <= last_index(); }
    // The term of the last durable entry (of the snapshot when the log is empty), 0 if none.
    raft::Term last_term() const;
    // The durable entry at index, or nullptr (a hole, or outside the log).
    const raft::Entry* entry(raft::Index index) const;
    bool vote_was_durable(raft::Term term, raft::NodeId vote) const {
        return durable_votes_.count({term, vote}) > 0;
    }
    size_t pending_writes() const { return pending_.size(); }
    const DiskStats& stats() const { return stats_; }
    void set_timing(const DiskTiming& timing) { timing_ = timing; }

private:
    struct Pending {
        raft::PersistOp op;
        uint64_t sync_us = 0;
    };

    // Applies the first `parts` parts of op (hard state, snapshot, truncation, entries); all
    // by default.
    void apply(const raft::PersistOp& op, size_t parts = SIZE_MAX);
    void set_hard_state(const raft::HardState& hard_state);
    void store_snapshot(const raft::Snapshot& snapshot);
    void truncate_after(raft::Index index);
    static size_t parts_of(const raft::PersistOp& op) { return 3 + op.entries.size(); }

    raft::Configuration bootstrap_;
    Rng rng_;
    DiskTiming timing_;
    raft::HardState hard_state_;
    std::optional<raft::Snapshot> snapshot_;
    raft::Index first_index_ = 1;
    std::map<raft::Index, raft::Entry> entries_;   // by index; the gaps are holes
    std::map<raft::Index, raft::Index> released_;  // -> applied_at
    bool releases_complete_ = false;               // a batch came since the last crash
    raft::Index release_cap_ = session::DiskReleases::no_cap;
    uint64_t segment_entries_ = 1;
    raft::Index sealed_through_ = 0;
    std::set<std::pair<raft::Term, raft::NodeId>> durable_votes_;
    std::deque<Pending> pending_;
    raft::Index written_last_index_ = 0;  // the log's end once every pending write is done
    uint64_t last_sync_us_ = 0;
    DiskStats stats_;
};

}  // namespace copycat::sim
