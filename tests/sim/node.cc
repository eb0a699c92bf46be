#include "tests/sim/node.h"

#include <algorithm>
#include <variant>

#include "common/assert.h"
#include "consensus/session/entries.h"
#include "consensus/statemachine/resources/coordination.h"
#include "tests/sim/disk.h"
#include "tests/sim/sim_plants.h"
#include "tests/sim/snapshot_resources.h"

namespace copycat::sim {
namespace {

std::string str(uint64_t value) { return std::to_string(value); }

uint64_t mix(uint64_t a, uint64_t b) {
    uint64_t state = a ^ (b + 0x9E3779B97F4A7C15ULL + (a << 6) + (a >> 2));
    return splitmix64_next(state);
}

}  // namespace

Node::Node(raft::NodeId id, NodeOptions options, NodeClock clock, Disk& disk, uint64_t seed)
    : id_(id),
      options_(std::move(options)),
      clock_(clock),
      disk_(disk),
      seed_(seed),
      shell_rng_(seed, "shell") {
    options_.raft.id = id;
    COPYCAT_ASSERT(clock_.rate_ppm > 0, "a node clock must run forward");
}

Node::~Node() = default;

uint64_t Node::local_time_us(uint64_t now_us) const {
    const uint64_t since_us = now_us > clock_.base_us ? now_us - clock_.base_us : 0;
    return clock_.phase_us + since_us * static_cast<uint64_t>(clock_.rate_ppm) / 1'000'000;
}

void Node::set_clock_rate(int64_t rate_ppm, uint64_t now_us) {
    COPYCAT_ASSERT(rate_ppm > 0, "a node clock must run forward");
    clock_.phase_us = local_time_us(now_us);
    clock_.base_us = now_us;
    clock_.rate_ppm = rate_ppm;
    schedule_tick(next_local_tick_);
}

uint64_t Node::catch_up_ticks(uint64_t now_us) {
    uint64_t ticks = 0;
    while (up() && next_tick_us_ <= now_us) {
        tick(now_us);
        ++ticks;
    }
    return ticks;
}

void Node::schedule_tick(uint64_t local_tick) {
    next_local_tick_ = local_tick;
    const uint64_t local_us = local_tick * options_.raft.tick_ms * 1000;
    const uint64_t rate = static_cast<uint64_t>(clock_.rate_ppm);
    if (local_us <= clock_.phase_us) {
        next_tick_us_ = clock_.base_us;
        return;
    }
    // The first virtual time whose local time reaches local_us.
    next_tick_us_ = clock_.base_us + ((local_us - clock_.phase_us) * 1'000'000 + rate - 1) / rate;
}

void Node::set_time(uint64_t now_us) { server_->set_time_ms(local_time_us(now_us) / 1000); }

void Node::start(uint64_t now_us) {
    COPYCAT_ASSERT(!up(), "start() of a node that is up: crash it first");
    ++incarnation_;
    random_ = std::make_unique<Rng>(seed_, "raft incarnation", incarnation_);
    executed_sequence_.clear();
    session::SessionServerOptions server_options;
    server_options.raft = options_.raft;
    server_options.sessions = options_.sessions;
    server_options.snapshot_every_entries = options_.snapshot_every_entries;
    server_options.compact_log_every_entries = options_.compact_log_every_entries;
    disk_compacted_at_ = 0;
    raft::RestoredState restored = disk_.restore();
    // The server loads the stored snapshot at once: the entries it applies continue after it.
    if (restored.snapshot) effects_.installed_snapshot = restored.snapshot->index;
    // The server makes its state machine here, and again, empty, if it resets (a member that
    // came back behind the global index): then its commands run again from the start.
    auto factory = [this]() -> std::unique_ptr<statemachine::StateMachine> {
        std::unique_ptr<ObservedStateMachine> observed = make_state_machine();
        observer_ = observed.get();
        executed_sequence_.clear();
        return observed;
    };
    server_ = std::make_unique<session::SessionServer>(std::move(server_options), *random_,
                                                       std::move(restored), factory);
    schedule_tick(local_time_us(now_us) / (options_.raft.tick_ms * 1000) + 1);
    effects_.log_changed_from = 1;
    set_time(now_us);
    collect();
}

// The built-in resources; in seeds with snapshots, the simulator's own map and locks that take
// snapshots (snapshot_resources.h), so that the snapshot paths run too.
std::unique_ptr<ObservedStateMachine> Node::make_state_machine() const {
    if (options_.snapshot_every_entries > 0) {
        auto machine = std::make_unique<SnapshotResources>();
        const SnapshotResources* inner = machine.get();
        return std::make_unique<ObservedStateMachine>(std::move(machine),
                                                      [inner] { return inner->digest(); });
    }
    auto machine = std::make_unique<resources::CoordinationStateMachine>();
    const resources::CoordinationStateMachine* inner = machine.get();
    return std::make_unique<ObservedStateMachine>(std::move(machine),
                                                  [inner] { return inner->digest(); });
}

void Node::crash() {
    server_.reset();
    disk_releases_ = session::DiskReleases();
    release_applied_at_.clear();
    observer_ = nullptr;
    random_.reset();
    executed_sequence_.clear();
    // What its disk compaction removed stays removed: the invariants must still hear of it.
    std::vector<std::pair<raft::Index, raft::Index>> removed = std::move(effects_.removed);
    effects_ = Effects{};
    effects_.removed = std::move(removed);
}

raft::Index Node::applied_index() const { return server_->state().last_applied(); }

uint64_t Node::state_hash() const { return mix(server_->state().digest(), observer_->digest()); }

void Node::tick(uint64_t now_us) {
    if (!up()) return;
    set_time(now_us);
    server_->tick();
    schedule_tick(next_local_tick_ + 1);
    collect();
}

void Node::receive(const raft::Envelope& envelope, uint64_t now_us) {
    if (!up()) return;
    set_time(now_us);
    server_->step(envelope);
    collect();
}

void Node::persisted(uint64_t seq, uint64_t now_us) {
    if (!up()) return;
    set_time(now_us);
    server_->persisted(seq);
    collect();
}

void Node::client_input(const ToNode& input, uint64_t now_us) {
    if (!up()) return;
    set_time(now_us);
    if (const auto* request = std::get_if<ClientRequest>(&input)) {
        server_->request(request->connection, request->request_id, request->request);
    } else {
        server_->connection_closed(std::get<ConnectionClosed>(input).connection);
    }
    collect();
}

Result<raft::Index> Node::configure(std::vector<raft::Member> members,
                                    raft::Index expected_configuration_index,
                                    raft::Term expected_configuration_term, uint64_t now_us) {
    if (!up()) return Status(StatusCode::unavailable, "down");
    set_time(now_us);
    Result<raft::Index> result = server_->configure(
        std::move(members), expected_configuration_index, expected_configuration_term);
    collect();
    return result;
}

Status Node::transfer_leadership(raft::NodeId target, uint64_t now_us) {
    if (!up()) return Status(StatusCode::unavailable, "down");
    set_time(now_us);
    Status status = server_->transfer_leadership(target);
    collect();
    return status;
}

// Everything the server handed out since the last input. Storing a snapshot it took makes
// more output (Raft compacts its log), hence the loop.
void Node::collect() {
    while (up()) {
        session::ServerOutput output = server_->take_output();
        if (output.empty()) break;
        for (raft::PersistOp& op : output.persist) {
            note_persist(op);
            if (op.reset_log) {
                effects_.reset = true;
                disk_compacted_at_ = 0;
                disk_releases_.clear();
                release_applied_at_.clear();
            }
            if (op.snapshot) {
                effects_.installed_snapshot = op.snapshot->index;
                ++snapshots_installed_;
            }
            effects_.persist.push_back(std::move(op));
        }
        for (raft::Envelope& envelope : output.messages) {
            effects_.messages.push_back(std::move(envelope));
        }
        for (auto& response : output.responses) effects_.responses.push_back(std::move(response));
        for (auto& events : output.events) {
            if (sim_plants.shell_hides_event_gap && hide_event_gap(events.publish)) continue;
            effects_.events.push_back(std::move(events));
        }
        collect_applied(std::move(output.applied));
        for (const session::Release& release : output.released) {
            release_applied_at_.emplace(release.index, applied_index());
        }
        disk_releases_.add(output.released);
        forward_releases();
        for (raft::Index index : output.compacted) {
            effects_.removed.push_back({index, applied_index()});
        }
        if (output.snapshot) store_snapshot(std::move(*output.snapshot));
        compact_disk();
    }
    if (observer_ == nullptr) return;
    for (ObservedProblem& problem : observer_->take_problems()) {
        effects_.problems.push_back(std::move(problem));
    }
}

void Node::collect_applied(std::vector<raft::Entry> applied) {
    if (applied.empty()) return;
    std::map<raft::Index, IndexEffects> effects = observer_->take_effects();
    for (raft::Entry& entry : applied) {
        IndexEffects at_index;
        at_index.index = entry.index;
        if (auto found = effects.find(entry.index); found != effects.end()) {
            at_index = std::move(found->second);
            effects.erase(found);
        }
        check_sequences(entry, at_index);
        effects_.applied.push_back({std::move(entry), std::move(at_index), std::nullopt});
    }
    for (const auto& [index, unmatched] : effects) {
        effects_.problems.push_back({"shell contract", "node " + str(id_) +
                                                           ": the state machine acted at index " +
                                                           str(index) + ", which was not applied"});
    }
    effects_.applied.back().state_hash = state_hash();
}

// A command executes at most once: each session's executed sequences only go up.
void Node::check_sequences(const raft::Entry& entry, IndexEffects& effects) {
    if (effects.executions.empty()) return;
    const Result<session::SessionEntry> decoded = session::decode_entry(entry.payload);
    const auto* command =
        decoded.is_ok() ? std::get_if<session::CommandEntry>(&decoded.value()) : nullptr;
    const Execution& execution = effects.executions.front();
    if (command == nullptr || effects.executions.size() != 1 ||
        command->session != execution.session) {
        effects_.problems.push_back(
            {"session safety", "node " + str(id_) + ": the state machine executed " +
                                   str(effects.executions.size()) + " commands at index " +
                                   str(entry.index) + ", which holds no command of session " +
                                   str(execution.session)});
        return;
    }
    effects.executions.front().sequence = command->sequence;
    uint64_t& last = executed_sequence_[command->session];
    if (command->sequence <= last) {
        effects_.problems.push_back(
            {"session safety", "node " + str(id_) + ": session " + str(command->session) +
                                   "'s command " + str(command->sequence) + " executed at index " +
                                   str(entry.index) + " after its command " + str(last) +
                                   ": applied twice or out of order"});
    }
    last = std::max(last, command->sequence);
}

// The planted shell bug: one batch in twenty is dropped, and the session's next batch is made to
// chain from where the dropped one did, so that the client does not see the gap. True: drop.
bool Node::hide_event_gap(session::PublishRequest& batch) {
    if (const auto hidden = hidden_previous_.find(batch.session);
        hidden != hidden_previous_.end()) {
        batch.previous_index = hidden->second;
        hidden_previous_.erase(hidden);
        return false;
    }
    if (!shell_rng_.chance(0.05)) return false;
    hidden_previous_[batch.session] = batch.previous_index;
    return true;
}

// copycat-compactor's work on this node's disk, each time the node applied
// disk_compact_every_entries more, from the indexes its consensus server reports.
void Node::compact_disk() {
    const raft::Index applied = applied_index();
    if (options_.disk_compact_every_entries == 0 ||
        applied < disk_compacted_at_ + options_.disk_compact_every_entries) {
        return;
    }
    disk_compacted_at_ = applied;
    compaction::Indexes indexes;
    indexes.commit = std::min(server_->raft().commit_index(), applied);
    indexes.minor = server_->state().completed_index();
    indexes.global = server_->raft().compaction_global_index();  // the disk caps it
    forward_releases();
    indexes.snapshot = disk_.snapshot() ? disk_.snapshot()->index : 0;
    for (const auto& [index, released_at] : disk_.compact(indexes)) {
        effects_.removed.push_back({index, released_at});
    }
}

// What the consensus shell sends its logstore: the releases made in the sealed part of the log
// (session::DiskReleases).
void Node::forward_releases() {
    std::optional<session::DiskReleases::Batch> batch =
        disk_releases_.take(disk_.sealed_through(), server_->state().lowest_pending_release());
    if (batch) disk_.release(*batch, release_applied_at_);
}

void Node::store_snapshot(raft::Snapshot snapshot) {
    const raft::Index index = snapshot.index;
    disk_.save_snapshot(snapshot);  // durable before the server hears of it
    ++snapshots_taken_;
    effects_.took_snapshot = index;
    server_->snapshot_stored(index);
}

void Node::note_persist(const raft::PersistOp& op) {
    // An installed snapshot may replace the whole log; a reset does.
    raft::Index from = op.snapshot || op.reset_log ? 1 : 0;
    if (op.truncate_after && from == 0) from = *op.truncate_after + 1;
    if (!op.entries.empty()) {
        from = from == 0 ? op.entries.front().index : std::min(from, op.entries.front().index);
    }
    if (from == 0) return;
    raft::Index& changed = effects_.log_changed_from;
    changed = changed == 0 ? from : std::min(changed, from);
}

}  // namespace copycat::sim
