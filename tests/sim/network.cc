#include "tests/sim/network.h"

#include <algorithm>

#include "common/assert.h"

namespace copycat::sim {
namespace {

std::string str(uint64_t value) { return std::to_string(value); }

std::string describe(const raft::AppendRequest& m) {
    std::string text = "append t" + str(m.term) + " prev " + str(m.prev_index) + "/" +
                       str(m.prev_term) + " +" + str(m.entries.size());
    if (!m.entries.empty()) {
        text += " [" + str(m.entries.front().index) + ".." + str(m.entries.back().index) + "]";
    }
    return text + " commit " + str(m.commit_index) + " round " + str(m.round);
}
std::string describe(const raft::AppendResponse& m) {
    return "append-reply t" + str(m.term) + (m.success ? " ok " : " refused ") + str(m.index) +
           " round " + str(m.round);
}
std::string describe(const raft::PollRequest& m) {
    return "poll t" + str(m.term) + " last " + str(m.last_index) + "/" + str(m.last_term);
}
std::string describe(const raft::PollResponse& m) {
    return "poll-reply t" + str(m.term) + (m.accepted ? " accepted" : " refused");
}
std::string describe(const raft::VoteRequest& m) {
    return "vote t" + str(m.term) + " last " + str(m.last_index) + "/" + str(m.last_term) +
           (m.transfer ? " transfer" : "");
}
std::string describe(const raft::VoteResponse& m) {
    return "vote-reply t" + str(m.term) + (m.granted ? " granted" : " refused");
}
std::string describe(const raft::TimeoutNow& m) { return "timeout-now t" + str(m.term); }
std::string describe(const raft::ConfigureRequest& m) {
    return "configure t" + str(m.term) + " commit " + str(m.commit_index);
}
std::string describe(const raft::ConfigureResponse& m) { return "configure-reply t" + str(m.term); }
std::string describe(const raft::InstallSnapshotRequest& m) {
    return "snapshot t" + str(m.term) + " at " + str(m.snapshot_index) + "/" +
           str(m.snapshot_term) + " bytes " + str(m.offset) + "+" + str(m.data.size()) + "/" +
           str(m.total_bytes) + (m.done ? " done" : "");
}
std::string describe(const raft::InstallSnapshotResponse& m) {
    return "snapshot-reply t" + str(m.term) + " at " + str(m.snapshot_index) + " next " +
           str(m.next_offset) + (m.installed ? " installed" : "");
}

}  // namespace

std::string describe_message(const raft::Message& message) {
    return std::visit([](const auto& m) { return describe(m); }, message);
}

void Network::send(const raft::Envelope& envelope, uint64_t now_us) {
    ++stats_.sent;
    if (is_cut(envelope.from, envelope.to)) {
        ++stats_.cut;
        return;
    }
    if (rng_.chance(faults_.loss)) {
        ++stats_.lost;
        return;
    }
    const int copies = rng_.chance(faults_.duplicate) ? 2 : 1;
    if (copies == 2) ++stats_.duplicated;
    for (int copy = 0; copy < copies; ++copy) {
        in_flight_.emplace(std::make_pair(delivery_us(envelope, now_us), next_sequence_++),
                           envelope);
    }
}

uint64_t Network::delivery_us(const raft::Envelope& envelope, uint64_t now_us) {
    uint64_t arrival_us = now_us + rng_.between(faults_.latency_min_us, faults_.latency_max_us);
    if (rng_.chance(faults_.reorder)) {
        ++stats_.reordered;
        arrival_us += rng_.between(1, faults_.reorder_delay_max_us);
    }
    const auto clog = clogged_until_us_.find({envelope.from, envelope.to});
    if (clog != clogged_until_us_.end() && clog->second > arrival_us) {
        ++stats_.clogged;
        arrival_us = clog->second + rng_.between(0, faults_.latency_max_us);
    }
    return arrival_us;
}

std::optional<uint64_t> Network::next_delivery_us() const {
    if (in_flight_.empty()) return std::nullopt;
    return in_flight_.begin()->first.first;
}

Network::Arrival Network::pop() {
    COPYCAT_ASSERT(!in_flight_.empty(), "Network::pop() with nothing in flight");
    auto first = in_flight_.begin();
    Arrival arrival{std::move(first->second), false};
    in_flight_.erase(first);
    arrival.cut = is_cut(arrival.envelope.from, arrival.envelope.to);
    if (arrival.cut) {
        ++stats_.cut;
    } else {
        ++stats_.delivered;
    }
    return arrival;
}

void Network::cut(NodeId from, NodeId to) {
    if (from != to) cut_.insert({from, to});
}

void Network::cut_both(NodeId a, NodeId b) {
    cut(a, b);
    cut(b, a);
}

void Network::split(const std::vector<NodeId>& side, const std::vector<NodeId>& all) {
    for (const NodeId inside : side) {
        for (const NodeId other : all) {
            if (std::find(side.begin(), side.end(), other) == side.end()) cut_both(inside, other);
        }
    }
}

void Network::split_one_way(const std::vector<NodeId>& side, const std::vector<NodeId>& all) {
    for (const NodeId inside : side) {
        for (const NodeId other : all) {
            if (std::find(side.begin(), side.end(), other) == side.end()) cut(inside, other);
        }
    }
}

void Network::clog(NodeId from, NodeId to, uint64_t until_us) {
    uint64_t& until = clogged_until_us_[{from, to}];
    until = std::max(until, until_us);
}

void Network::heal() {
    cut_.clear();
    clogged_until_us_.clear();
}

std::string Network::describe_cuts() const {
    if (cut_.empty()) return "none";
    std::string text;
    for (const auto& [from, to] : cut_) {
        if (!text.empty()) text += ' ';
        text += std::to_string(from) + "->" + std::to_string(to);
    }
    return text;
}

}  // namespace copycat::sim
