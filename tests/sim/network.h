// The simulated network between the Raft nodes of one run: every message (raft::Envelope) is in
// flight with a delivery time on the virtual clock (microseconds). Faults, all drawn from the
// run's seed: a latency spread, loss, duplication, reordering (an extra random delay on some
// messages), partitions as a set of cut directed links (symmetric, one-way, isolating one node,
// a majority/minority split, a ring or bridge of overlapping majorities), and clogging a link
// for a while (its messages wait, they are not lost).
//
// A link cut when a message is sent drops it at once; a link cut while the message is in flight
// drops it on arrival (pop() says so), as a real network would. heal() restores every link.
// Deterministic: equal seeds and equal calls give equal deliveries.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "consensus/raft/types.h"
#include "tests/sim/random.h"

namespace copycat::sim {

using raft::NodeId;

struct NetworkFaults {
    uint64_t latency_min_us = 100;
    uint64_t latency_max_us = 2'000;
    double loss = 0.0;       // chance that a message is lost
    double duplicate = 0.0;  // chance that a message is delivered twice
    double reorder = 0.0;    // chance of an extra delay, so later messages overtake it
    uint64_t reorder_delay_max_us = 20'000;
};

struct NetworkStats {
    uint64_t sent = 0;
    uint64_t delivered = 0;
    uint64_t lost = 0;        // dropped by the loss knob
    uint64_t duplicated = 0;  // extra copies
    uint64_t reordered = 0;   // messages given an extra delay
    uint64_t cut = 0;         // dropped by a partition, at send or on arrival
    uint64_t clogged = 0;     // held back by a clogged link
};

// One line for the trace: "append t3 prev 5/2 +2 [6..7] commit 4 round 9".
std::string describe_message(const raft::Message& message);

class Network {
public:
    explicit Network(Rng rng) : rng_(std::move(rng)) {}

    void set_faults(const NetworkFaults& faults) { faults_ = faults; }
    const NetworkFaults& faults() const { return faults_; }

    // Puts a message in flight (or loses it, or duplicates it).
    void send(const raft::Envelope& envelope, uint64_t now_us);
    // When the earliest message in flight arrives; nullopt when none is.
    std::optional<uint64_t> next_delivery_us() const;

    struct Arrival {
        raft::Envelope envelope;
        bool cut = false;  // its link is cut now: the message is dropped, not delivered
    };
    // Takes the earliest message in flight out of the network. Call only when one is in flight.
    Arrival pop();

    // --- partitions -------------------------------------------------------------------------
    void cut(NodeId from, NodeId to);  // one direction
    void cut_both(NodeId a, NodeId b);
    // Cuts every link between `side` and the other nodes of `all`, both ways.
    void split(const std::vector<NodeId>& side, const std::vector<NodeId>& all);
    // Cuts every link from `side` to the rest (one-way: the rest still reach `side`).
    void split_one_way(const std::vector<NodeId>& side, const std::vector<NodeId>& all);
    void isolate(NodeId node, const std::vector<NodeId>& all) { split({node}, all); }
    // Holds every message from `from` to `to` until `until_us`.
    void clog(NodeId from, NodeId to, uint64_t until_us);
    // Restores every link and unclogs every clogged one.
    void heal();

    bool is_cut(NodeId from, NodeId to) const { return cut_.count({from, to}) > 0; }
    bool partitioned() const { return !cut_.empty(); }
    // "1->2 2->1 ..." for the trace.
    std::string describe_cuts() const;
    size_t in_flight() const { return in_flight_.size(); }
    const NetworkStats& stats() const { return stats_; }

private:
    uint64_t delivery_us(const raft::Envelope& envelope, uint64_t now_us);

    Rng rng_;
    NetworkFaults faults_;
    std::set<std::pair<NodeId, NodeId>> cut_;
    std::map<std::pair<NodeId, NodeId>, uint64_t> clogged_until_us_;
    std::map<std::pair<uint64_t, uint64_t>, raft::Envelope> in_flight_;  // (arrival, sequence)
    uint64_t next_sequence_ = 0;
    NetworkStats stats_;
};

}  // namespace copycat::sim
