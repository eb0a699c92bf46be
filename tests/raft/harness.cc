#include "tests/raft/harness.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace copycat::raft {

uint64_t SeededRandom::next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

Options test_options(NodeId id) {
    Options options;
    options.id = id;
    options.quiet_ticks_after_start = 0;  // most tests vote right away; QuietPeriod tests not
    return options;
}

Configuration active_members(size_t voters) {
    Configuration configuration;
    for (NodeId id = 1; id <= voters; ++id) {
        configuration.members.push_back({id, MemberType::active, true, {}});
    }
    return configuration;
}

RestoredState restored_state(Configuration configuration, HardState hard_state,
                             std::vector<Entry> entries) {
    RestoredState restored;
    restored.hard_state = hard_state;
    restored.configuration = std::move(configuration);
    restored.entries = std::move(entries);
    return restored;
}

RestoredState restored_state(size_t voters, HardState hard_state, std::vector<Entry> entries) {
    return restored_state(active_members(voters), hard_state, std::move(entries));
}

Entry command(Index index, Term term, size_t payload_bytes) {
    Entry entry;
    entry.index = index;
    entry.term = term;
    entry.payload.assign(payload_bytes, static_cast<uint8_t>(index));
    return entry;
}

std::vector<Entry> entries_with_terms(const std::vector<Term>& terms) {
    std::vector<Entry> entries;
    for (size_t i = 0; i < terms.size(); ++i) entries.push_back(command(i + 1, terms[i]));
    return entries;
}

AppendRequest append_request(Term term, NodeId leader, Index prev_index, Term prev_term,
                             std::vector<Entry> entries, Index commit_index) {
    AppendRequest request;
    request.term = term;
    request.leader = leader;
    request.prev_index = prev_index;
    request.prev_term = prev_term;
    request.entries = std::move(entries);
    request.commit_index = commit_index;
    return request;
}

VoteRequest vote_request(Term term, NodeId candidate, Index last_index, Term last_term,
                         bool transfer) {
    return VoteRequest{term, candidate, last_index, last_term, transfer};
}

// --- Disk -----------------------------------------------------------------------------------

Disk::Disk(RestoredState initial) : state_(std::move(initial)) {}

void Disk::apply(const PersistOp& op) {
    if (op.reset_log) {
        state_.entries.clear();
        state_.snapshot.reset();
        state_.first_index = 1;
        state_.term_before_first = 0;
    }
    if (op.hard_state) state_.hard_state = *op.hard_state;
    if (op.snapshot) {  // the log restarts after it, keeping what follows if it is there
        state_.snapshot = op.snapshot;
        std::erase_if(state_.entries,
                      [&](const Entry& entry) { return entry.index <= op.snapshot->index; });
        state_.first_index = op.snapshot->index + 1;
        state_.term_before_first = op.snapshot->term;
    }
    if (op.truncate_after) {
        std::erase_if(state_.entries,
                      [&](const Entry& entry) { return entry.index > *op.truncate_after; });
    }
    for (const Entry& entry : op.entries) {
        // Holes are allowed (compaction); going back is not.
        EXPECT_TRUE(state_.entries.empty() || state_.entries.back().index < entry.index)
            << "a persist op that appends index " << entry.index << " at or before the end";
        state_.entries.push_back(entry);
    }
}

// --- Driver ---------------------------------------------------------------------------------

Driver::Driver(Options options, RestoredState restored, uint64_t seed)
    : options_(options),
      random_(std::make_unique<SeededRandom>(seed)),
      disk_(restored),
      raft_(std::make_unique<Raft>(options, *random_, std::move(restored))) {}

Driver::Driver(NodeId id, RestoredState restored, uint64_t seed)
    : Driver(test_options(id), std::move(restored), seed) {}

void Driver::collect() {
    Ready ready = raft_->take_ready();
    for (Envelope& envelope : ready.messages) outbox.push_back(std::move(envelope));
    for (PersistOp& op : ready.persist) unacked.push_back(std::move(op));
    for (Entry& entry : ready.committed) committed.push_back(std::move(entry));
    for (ReadState& read : ready.reads) reads.push_back(read);
}

void Driver::deliver(NodeId from, Message message) {
    raft_->step(Envelope{from, id(), std::move(message)});
    collect();
}

void Driver::tick(int count) {
    for (int i = 0; i < count; ++i) {
        now_ms += options_.tick_ms;
        raft_->set_time_ms(now_ms);
        raft_->tick();
        collect();
    }
}

int Driver::tick_until(const std::function<bool()>& done, int limit) {
    for (int ticks = 0; ticks <= limit; ++ticks) {
        if (done()) return ticks;
        if (ticks < limit) tick();
    }
    return -1;
}

void Driver::ack() {
    collect();
    while (!unacked.empty()) {
        for (const PersistOp& op : unacked) disk_.apply(op);
        uint64_t last = unacked.back().seq;
        acked.insert(acked.end(), unacked.begin(), unacked.end());
        unacked.clear();
        raft_->persisted(last);
        collect();
    }
}

void Driver::restart(uint64_t seed) {
    random_ = std::make_unique<SeededRandom>(seed);
    raft_ = std::make_unique<Raft>(options_, *random_, disk_.restored());
    outbox.clear();
    unacked.clear();
    acked.clear();
    committed.clear();
    reads.clear();
}

std::vector<Envelope> Driver::take_all() {
    collect();
    return std::exchange(outbox, {});
}

// --- single-server scenarios ----------------------------------------------------------------

void elect(Driver& node) {
    std::vector<NodeId> peers;
    for (NodeId voter : node->configuration().voters()) {
        if (voter != node.id()) peers.push_back(voter);
    }
    int limit = 4 * static_cast<int>(test_options(0).election_timeout_ticks);
    bool polled = node.tick_until([&] { return node.count<PollRequest>() > 0; }, limit) >= 0;
    ASSERT_TRUE(polled || peers.empty()) << "no poll within " << limit << " ticks";
    node.take<PollRequest>();
    for (NodeId peer : peers) node.deliver(peer, PollResponse{node->term(), true});
    node.ack();
    node.take<VoteRequest>();
    for (NodeId peer : peers) node.deliver(peer, VoteResponse{node->term(), true});
    ASSERT_EQ(node->role(), Role::leader);
}

size_t answer_appends(Driver& leader, NodeId from) {
    std::vector<AppendRequest> requests = leader.take<AppendRequest>(from);
    for (const AppendRequest& request : requests) {
        Index verified = request.prev_index + request.entries.size();
        leader.deliver(from, AppendResponse{request.term, true, verified, request.round});
    }
    return requests.size();
}

void elect_and_commit(Driver& node) {
    elect(node);
    for (NodeId voter : node->configuration().voters()) {
        if (voter != node.id()) answer_appends(node, voter);
    }
    node.ack();
    ASSERT_EQ(node->commit_index(), node->log().last_index());
}

// --- Cluster --------------------------------------------------------------------------------

Cluster::Cluster(size_t voters) : Cluster(active_members(voters), test_options) {}

Cluster::Cluster(Configuration configuration, const std::function<Options(NodeId)>& options)
    : options_(options) {
    for (const Member& member : configuration.members) {
        nodes_[member.id] =
            std::make_unique<Driver>(options(member.id), restored_state(configuration), member.id);
    }
}

std::vector<NodeId> Cluster::ids() const {
    std::vector<NodeId> ids;
    for (const auto& [id, node] : nodes_) ids.push_back(id);
    return ids;
}

bool Cluster::blocked(const Envelope& envelope) const {
    return nodes_.count(envelope.to) == 0 || isolated_.count(envelope.from) > 0 ||
           isolated_.count(envelope.to) > 0 ||
           blocked_links_.count({envelope.from, envelope.to}) > 0;
}

void Cluster::run() {
    for (int delivered = 0;; ++delivered) {
        ASSERT_LT(delivered, 100'000) << "the cluster never went quiet";
        for (auto& [id, node] : nodes_) {
            node->ack();
            for (Envelope& envelope : node->take_all()) in_flight_.push_back(std::move(envelope));
        }
        if (in_flight_.empty()) return;
        Envelope envelope = std::move(in_flight_.front());
        in_flight_.pop_front();
        if (!blocked(envelope)) node(envelope.to).deliver(envelope.from, envelope.message);
    }
}

void Cluster::tick(int count) {
    for (int i = 0; i < count; ++i) {
        for (auto& [id, node] : nodes_) node->tick();
        run();
    }
}

void Cluster::elect(NodeId id) {
    Driver& candidate = node(id);
    for (int ticks = 0; candidate->role() != Role::leader; ++ticks) {
        ASSERT_LT(ticks, 1000) << "node " << id << " did not become leader";
        candidate.tick();
        run();
    }
}

std::optional<NodeId> Cluster::leader() const {
    std::optional<NodeId> leader;
    Term term = 0;
    for (const auto& [id, node] : nodes_) {
        if ((*node)->role() == Role::leader && (*node)->term() >= term) {
            leader = id;
            term = (*node)->term();
        }
    }
    return leader;
}

void Cluster::replace(NodeId id, RestoredState state) {
    nodes_[id] = std::make_unique<Driver>(options_(id), std::move(state), id);
}

void Cluster::isolate(NodeId id) { isolated_.insert(id); }

void Cluster::block(NodeId from, NodeId to) { blocked_links_.insert({from, to}); }

void Cluster::heal() {
    isolated_.clear();
    blocked_links_.clear();
}

}  // namespace copycat::raft
