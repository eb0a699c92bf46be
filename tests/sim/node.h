// One simulated server: the shell around session::SessionServer (Raft, the session layer and
// the built-in resources of CoordinationStateMachine) that the consensus process is, with the
// simulator's clock and disk in place of the real ones. In seeds with snapshots the state
// machine is the simulator's SnapshotResources instead (the same map and lock operations), since
// the built-in resources take no snapshots.
//
//  - Clock: the node's own, running at a skewed rate (parts per million of virtual time) from
//    a random phase; the server ticks every Options::tick_ms of it, and entry timestamps (the
//    log time sessions expire by) come from it.
//  - Start (and restart): a new SessionServer built from the disk's durable state, with a fresh
//    state machine that Raft re-fills with committed entries (after the disk's snapshot, if
//    any). Crash: the server, its connections and pending disk writes are gone; only the
//    disk's durable state remains.
//  - After every input (tick, message, persisted(), client request, closed connection) the
//    node takes the server's output: what it must send, persist, answer and publish, and what
//    it applied; the caller routes the resulting Effects to the network, the disk and the
//    clients. A snapshot the server takes is written to the disk here, durably, before the
//    server hears it is stored.
//  - The state machine is wrapped in an ObservedStateMachine (observer.h): for every entry
//    applied, Effects carry what the state machine did at its index, the hash of that, and,
//    for the last entry applied by one input, the hash of the whole state (the session
//    layer's digest and the resources' digest), for the invariants to compare between nodes.
//    The node also checks, from the applied log entries, that each session's commands execute
//    in increasing sequence order (so never twice: TESTING.md failure 5).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "consensus/raft/raft.h"
#include "consensus/session/disk_releases.h"
#include "consensus/session/session_server.h"
#include "tests/sim/client_messages.h"
#include "tests/sim/observer.h"
#include "tests/sim/random.h"

namespace copycat::sim {

class Disk;

// Local time = phase_us + (virtual time - base_us) * rate_ppm / 1e6, from base_us on. A rate
// change (a clock jump) rebases the clock at the virtual time of the change, so that local
// time stays continuous and only its rate changes.
struct NodeClock {
    int64_t rate_ppm = 1'000'000;  // local microseconds per million virtual microseconds
    uint64_t phase_us = 0;         // local time at virtual time base_us
    uint64_t base_us = 0;
};

// An entry the node applied, for the invariants.
struct AppliedEntry {
    raft::Entry entry;
    IndexEffects effects;  // what the state machine did at its index
    // The hash of the whole state after it: known for the last entry applied by one input
    // only (the server applies a batch at a time).
    std::optional<uint64_t> state_hash;
};

// What one or more inputs made the node do.
struct Effects {
    std::vector<raft::Envelope> messages;
    std::vector<raft::PersistOp> persist;
    std::vector<session::OutboundResponse> responses;
    std::vector<session::OutboundEvents> events;
    std::vector<AppliedEntry> applied;
    // The lowest index at which the in-memory log may have changed (from the persist ops; 1
    // after a start); 0 when it did not change.
    raft::Index log_changed_from = 0;
    // A snapshot Raft received from the leader replaced the state machine at this index.
    raft::Index installed_snapshot = 0;
    // The node took a snapshot of its state machine at this index (0: none).
    raft::Index took_snapshot = 0;
    // Raft reset this follower (AppendResponse::reset): its log and state start again.
    bool reset = false;
    // Entries removed by log compaction (in memory or on disk): (index, this node's applied
    // index when it removed it). The state at indexes from there on no longer depends on it.
    std::vector<std::pair<raft::Index, raft::Index>> removed;
    // Broken promises seen by the node: its observer's (session and lock safety) and its own.
    std::vector<ObservedProblem> problems;
};

struct NodeOptions {
    raft::Options raft;
    session::ServerStateMachineOptions sessions;
    // Take a snapshot of the state machine each time it applied that many entries (0: never).
    // The built-in resources take none: with snapshots, the node runs the simulator's map and
    // locks that do (snapshot_resources.h) instead.
    uint64_t snapshot_every_entries = 0;
    uint64_t compact_log_every_entries = 0;   // FaultPlan's
    uint64_t disk_compact_every_entries = 0;  // FaultPlan's
};

class Node {
public:
    // options.raft.id is set to id. The disk must outlive the node.
    Node(raft::NodeId id, NodeOptions options, NodeClock clock, Disk& disk, uint64_t seed);
    ~Node();

    raft::NodeId id() const { return id_; }
    bool up() const { return server_ != nullptr; }
    uint64_t incarnation() const { return incarnation_; }  // starts counted, from 1

    // Builds the server from the disk's durable state. The node must be down.
    void start(uint64_t now_us);
    // Drops everything volatile. The caller crashes the disk alongside.
    void crash();

    // Virtual time of the next tick. Ticks are numbered by the local clock (tick k when local
    // time reaches k * tick_ms), so a late tick does not shift the ones after it: the number
    // of ticks delivered follows the clock's elapsed time.
    uint64_t next_tick_us() const { return next_tick_us_; }
    void tick(uint64_t now_us);
    // A shell resuming after a pause (SIGCONT): one tick() for each tick period its clock says
    // elapsed, before any input that queued meanwhile. Returns how many.
    uint64_t catch_up_ticks(uint64_t now_us);
    // From now on, the clock runs at rate_ppm (local time stays continuous).
    void set_clock_rate(int64_t rate_ppm, uint64_t now_us);
    int64_t clock_rate_ppm() const { return clock_.rate_ppm; }
    void receive(const raft::Envelope& envelope, uint64_t now_us);
    void persisted(uint64_t seq, uint64_t now_us);
    // A client's request or closed connection.
    void client_input(const ToNode& input, uint64_t now_us);
    // The operator's requests, as an administrative client hands them to the node: a
    // single-server configuration change (compare and set on the configuration index) and a
    // leadership transfer. Refused unless the node is up and believes it leads; otherwise the
    // core's answer.
    Result<raft::Index> configure(std::vector<raft::Member> members,
                                  raft::Index expected_configuration_index,
                                  raft::Term expected_configuration_term, uint64_t now_us);
    Status transfer_leadership(raft::NodeId target, uint64_t now_us);

    Effects take_effects() { return std::exchange(effects_, Effects{}); }

    // Valid while up().
    const raft::Raft& raft() const { return server_->raft(); }
    const session::SessionServer& server() const { return *server_; }
    raft::Index applied_index() const;
    // The hash of the whole state: the session layer's digest and the state machine's.
    uint64_t state_hash() const;
    // Over every incarnation: snapshots taken here, and installed from a leader.
    uint64_t snapshots_taken() const { return snapshots_taken_; }
    uint64_t snapshots_installed() const { return snapshots_installed_; }
    uint64_t local_time_us(uint64_t now_us) const;

private:
    void schedule_tick(uint64_t local_tick);
    void set_time(uint64_t now_us);
    std::unique_ptr<ObservedStateMachine> make_state_machine() const;
    void collect();
    void collect_applied(std::vector<raft::Entry> applied);
    void check_sequences(const raft::Entry& entry, IndexEffects& effects);
    void compact_disk();
    void forward_releases();
    void store_snapshot(raft::Snapshot snapshot);
    bool hide_event_gap(session::PublishRequest& batch);
    void note_persist(const raft::PersistOp& op);

    raft::NodeId id_;
    NodeOptions options_;
    NodeClock clock_;
    Disk& disk_;
    uint64_t seed_;
    uint64_t snapshots_taken_ = 0;
    uint64_t snapshots_installed_ = 0;
    uint64_t incarnation_ = 0;

    std::unique_ptr<Rng> random_;  // the server holds a reference: it lives as long as it
    std::unique_ptr<session::SessionServer> server_;
    ObservedStateMachine* observer_ = nullptr;  // owned by server_
    // Per session, the sequence of the last command the state machine executed here.
    std::map<SessionId, uint64_t> executed_sequence_;
    Rng shell_rng_;  // the shell's own choices (planted bugs), apart from Raft's
    std::map<SessionId, raft::Index> hidden_previous_;
    uint64_t next_local_tick_ = 0;  // number of the next tick, in Options::tick_ms
    uint64_t next_tick_us_ = 0;
    raft::Index disk_compacted_at_ = 0;
    // The releases this incarnation made, on their way to the disk, and the applied index at
    // which each was made (for the invariants).
    session::DiskReleases disk_releases_;
    std::map<raft::Index, raft::Index> release_applied_at_;
    Effects effects_;
};

}  // namespace copycat::sim
