// Test harness for the Raft core (tests/raft/).
//
//  - SeededRandom: the injected Random, from a fixed seed (same run on every machine).
//  - Driver: one Raft driven by hand. It keeps what every take_ready() handed out (an outbox of
//    messages, the persist operations not yet acknowledged, the committed entries, the read
//    states) and a Disk that applies the acknowledged operations, to restart from.
//  - Cluster: several Drivers joined by a perfect network: every message is delivered, in the
//    order it was sent, and every persist operation is acknowledged at once. Links can be cut
//    by hand (isolate, block) to model a crashed or partitioned server deterministically.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <variant>
#include <vector>

#include "consensus/raft/raft.h"

namespace copycat::raft {

// SplitMix64.
class SeededRandom : public Random {
public:
    explicit SeededRandom(uint64_t seed) : state_(seed) {}
    uint64_t next() override;

private:
    uint64_t state_;
};

// Defaults of Options (T = 75 ticks, heartbeat every 25), with the id.
Options test_options(NodeId id);

// Members 1..voters, all active, as the configuration a cluster starts with (index 0).
Configuration active_members(size_t voters);
RestoredState restored_state(Configuration configuration, HardState hard_state = {},
                             std::vector<Entry> entries = {});
RestoredState restored_state(size_t voters, HardState hard_state = {},
                             std::vector<Entry> entries = {});

// Command entries at indexes 1, 2, ... with these terms.
std::vector<Entry> entries_with_terms(const std::vector<Term>& terms);
Entry command(Index index, Term term, size_t payload_bytes = 0);

// Messages as a peer would send them.
AppendRequest append_request(Term term, NodeId leader, Index prev_index, Term prev_term,
                             std::vector<Entry> entries = {}, Index commit_index = 0);
VoteRequest vote_request(Term term, NodeId candidate, Index last_index = 0, Term last_term = 0,
                         bool transfer = false);

// The durable copy of what a Raft persisted: the PersistOps applied in order.
class Disk {
public:
    explicit Disk(RestoredState initial);
    void apply(const PersistOp& op);
    // What a restarted server reads back.
    const RestoredState& restored() const { return state_; }

private:
    RestoredState state_;
};

class Driver {
public:
    Driver(Options options, RestoredState restored, uint64_t seed = 1);
    Driver(NodeId id, RestoredState restored, uint64_t seed = 1);

    Raft& raft() { return *raft_; }
    const Raft& raft() const { return *raft_; }
    Raft* operator->() { return raft_.get(); }
    const Raft* operator->() const { return raft_.get(); }
    NodeId id() const { return raft_->id(); }

    void deliver(NodeId from, Message message);
    void tick(int count = 1);
    // Ticks until done() holds (checked before each tick); the ticks taken, or -1 if it did not
    // hold within limit ticks.
    int tick_until(const std::function<bool()>& done, int limit);
    // Moves what the Raft has to hand out into the outbox and the other records.
    void collect();
    // Acknowledges every persist operation handed out so far (applied to the disk first).
    void ack();
    // Restarts the server from its disk: a new Raft, same options; records are cleared.
    void restart(uint64_t seed = 2);

    // The messages of type M in the outbox (to `to`, or to anyone with 0), removed from it.
    template <typename M>
    std::vector<M> take(NodeId to = 0);
    template <typename M>
    size_t count(NodeId to = 0) const;
    std::vector<Envelope> take_all();

    uint64_t now_ms = 1'000'000;  // the shell's clock, set before each tick
    std::vector<Envelope> outbox;
    std::vector<PersistOp> unacked;
    std::vector<PersistOp> acked;
    std::vector<Entry> committed;
    std::vector<ReadState> reads;

private:
    Options options_;
    std::unique_ptr<SeededRandom> random_;
    Disk disk_;
    std::unique_ptr<Raft> raft_;
};

template <typename M>
std::vector<M> Driver::take(NodeId to) {
    collect();
    std::vector<M> taken;
    std::erase_if(outbox, [&](const Envelope& envelope) {
        const M* message = std::get_if<M>(&envelope.message);
        if (message == nullptr || (to != 0 && envelope.to != to)) return false;
        taken.push_back(*message);
        return true;
    });
    return taken;
}

template <typename M>
size_t Driver::count(NodeId to) const {
    size_t n = 0;
    for (const Envelope& envelope : outbox) {
        if (std::holds_alternative<M>(envelope.message) && (to == 0 || envelope.to == to)) n++;
    }
    return n;
}

// --- single-server scenarios ----------------------------------------------------------------

// Makes the driver's server leader of its configuration, as the peers would: it times out,
// every other voter accepts its poll and grants its vote. The persist op of its initialize
// entry is left unacknowledged.
void elect(Driver& node);
// Answers every AppendRequest in the outbox from `from` as a follower whose log matches:
// success, verified up to prev_index + entries. Returns how many were answered.
size_t answer_appends(Driver& leader, NodeId from);
// elect() then commit the leader's initialize entry with answers from every other voter.
void elect_and_commit(Driver& node);

// --- cluster --------------------------------------------------------------------------------

class Cluster {
public:
    explicit Cluster(size_t voters);
    Cluster(Configuration configuration, const std::function<Options(NodeId)>& options);

    Driver& node(NodeId id) { return *nodes_.at(id); }
    std::vector<NodeId> ids() const;
    // Delivers every message until there is none left (acknowledging every persist op).
    void run();
    // Ticks every server once (each followed by run()), count times.
    void tick(int count = 1);
    // Ticks only `id` until it leads (the others stay quiet, so it wins), then runs.
    void elect(NodeId id);
    // The server that leads in the highest term, if any.
    std::optional<NodeId> leader() const;

    // Rebuilds server id from this state (a restart from a prepared disk).
    void replace(NodeId id, RestoredState state);

    // Drops every message to and from id (a crashed or partitioned server), or only from->to.
    void isolate(NodeId id);
    void block(NodeId from, NodeId to);
    void heal();

private:
    bool blocked(const Envelope& envelope) const;

    std::function<Options(NodeId)> options_;
    std::map<NodeId, std::unique_ptr<Driver>> nodes_;
    std::set<NodeId> isolated_;
    std::set<std::pair<NodeId, NodeId>> blocked_links_;
    std::deque<Envelope> in_flight_;
};

}  // namespace copycat::raft
