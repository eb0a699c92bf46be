// One simulated server: the shell around raft::Raft that the consensus process will be, with
// the simulator's clock, disk and key/value state machine in place of the real ones.
//
//  - Clock: the node's own, running at a skewed rate (parts per million of virtual time) from
//    a random phase; Raft ticks every Options::tick_ms of it, and entry timestamps come from it.
//  - Start (and restart): a new raft::Raft built from the disk's durable state, a fresh state
//    machine that Raft re-fills with committed entries. Crash: Raft, the state machine, waiting
//    clients and pending disk writes are gone; only the disk's durable state remains.
//  - After every input (tick, message, persisted(), client request) the node drains
//    Raft::take_ready(): what it must send, persist and apply, and which reads are ready; the
//    caller routes the resulting Effects to the network, the disk and the clients (the node
//    writes to its disk only the snapshots it takes).
//  - Commands are answered by the node that proposed them, once applied; reads are answered
//    once the node has applied up to the read's index.
//  - Snapshots (when asked for): every so many applied entries the node stores the state
//    machine durably on its disk and tells Raft (Raft::snapshot_taken); a snapshot Raft
//    installs from the leader (Ready::install) replaces the state machine; on start the node
//    loads the disk's snapshot before Raft hands it the entries that follow.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "consensus/raft/raft.h"
#include "tests/sim/client_messages.h"
#include "tests/sim/kv.h"
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
    uint64_t state_hash = 0;  // the state machine's hash after applying it
};

// What one or more inputs made the node do.
struct Effects {
    std::vector<raft::Envelope> messages;
    std::vector<raft::PersistOp> persist;
    std::vector<ClientReply> replies;
    std::vector<AppliedEntry> applied;
    // The lowest index at which the in-memory log may have changed (from the persist ops; 1
    // after a start); 0 when it did not change.
    raft::Index log_changed_from = 0;
    // A snapshot Raft handed over (Ready::install) replaced the state machine at this index.
    raft::Index installed_snapshot = 0;
    // The node took a snapshot of its state machine at this index (0: none).
    raft::Index took_snapshot = 0;
    // Reads handed to Raft (by read id), and those Raft declared ready, with their index.
    std::vector<uint64_t> reads_started;
    std::vector<std::pair<uint64_t, raft::Index>> reads_ready;
    // Broken promises of the shell contract seen by the node (an undecodable snapshot).
    std::vector<std::string> problems;
};

class Node {
public:
    // options.id is set to id. The disk must outlive the node. snapshot_every_entries: take a
    // snapshot of the state machine each time it applied that many entries (0: never).
    Node(raft::NodeId id, raft::Options options, NodeClock clock, Disk& disk, uint64_t seed,
         uint64_t snapshot_every_entries = 0);

    raft::NodeId id() const { return id_; }
    bool up() const { return raft_ != nullptr; }
    uint64_t incarnation() const { return incarnation_; }  // starts counted, from 1

    // Builds Raft from the disk's durable state. The node must be down.
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
    void request(const ClientRequest& request, uint64_t now_us);
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
    const raft::Raft& raft() const { return *raft_; }
    const KvStore& kv() const { return kv_; }
    raft::Index applied_index() const { return applied_index_; }
    // Over every incarnation: snapshots taken here, and installed from a leader.
    uint64_t snapshots_taken() const { return snapshots_taken_; }
    uint64_t snapshots_installed() const { return snapshots_installed_; }
    uint64_t local_time_us(uint64_t now_us) const;

private:
    void schedule_tick(uint64_t local_tick);
    void set_time(uint64_t now_us);
    void drain();
    void apply(const raft::Entry& entry);
    void install(const raft::Snapshot& snapshot);
    void maybe_take_snapshot();
    void on_read(const raft::ReadState& read);
    void answer_reads();
    void propose(const ClientRequest& request);
    void start_read(const ClientRequest& request);
    void refuse(const ClientRequest& request);
    void reply(const ClientRequest& request, OpOutput output);
    void note_persist(const raft::PersistOp& op);

    raft::NodeId id_;
    raft::Options options_;
    NodeClock clock_;
    Disk& disk_;
    uint64_t seed_;
    uint64_t snapshot_every_entries_;
    raft::Index last_snapshot_index_ = 0;
    uint64_t snapshots_taken_ = 0;
    uint64_t snapshots_installed_ = 0;
    raft::Configuration applied_configuration_;  // in force at applied_index_
    uint64_t incarnation_ = 0;

    std::unique_ptr<Rng> random_;  // Raft holds a reference: it lives as long as raft_
    std::unique_ptr<raft::Raft> raft_;
    KvStore kv_;
    raft::Index applied_index_ = 0;
    uint64_t next_local_tick_ = 0;  // number of the next tick, in Options::tick_ms
    uint64_t next_tick_us_ = 0;

    std::map<std::pair<int, uint64_t>, ClientRequest> writes_waiting_;  // (process, sequence)
    std::map<uint64_t, ClientRequest> reads_waiting_state_;             // by read id
    std::multimap<raft::Index, ClientRequest> reads_waiting_apply_;     // by read index
    uint64_t next_read_id_ = 1;
    Effects effects_;
};

}  // namespace copycat::sim
