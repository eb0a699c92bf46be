#include "tests/sim/cluster.h"

#include <algorithm>
#include <deque>
#include <functional>
#include <iterator>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "common/assert.h"
#include "consensus/session/entries.h"
#include "tests/sim/client.h"
#include "tests/sim/disk.h"
#include "tests/sim/faults.h"
#include "tests/sim/history.h"
#include "tests/sim/linearizability.h"
#include "tests/sim/network.h"
#include "tests/sim/node.h"
#include "tests/sim/session_checks.h"
#include "tests/sim/trace.h"

namespace copycat::sim {
namespace {

constexpr uint64_t never = std::numeric_limits<uint64_t>::max();

std::string str(uint64_t value) { return std::to_string(value); }

// What the trace last said about a node, to trace changes only.
struct NodeSeen {
    bool up = false;
    raft::Role role = raft::Role::follower;
    raft::Term term = 0;
    raft::Index commit_index = 0;
};

// One single-server change the operator asks for: its kind (as counted in fault_kinds), the
// member it changes, and the whole member list it proposes.
struct MembershipChange {
    std::string kind;
    raft::NodeId node = 0;
    std::vector<raft::Member> members;
};

struct ChangeOption {
    raft::NodeId node = 0;
    raft::MemberType to = raft::MemberType::inactive;
};

// The changes open to each member of the view: promote, demote, remove, or add back.
std::map<std::string, std::vector<ChangeOption>> change_options(
    const raft::Configuration& view, const std::vector<raft::NodeId>& ids, Rng& rng) {
    using raft::MemberType;
    std::map<std::string, std::vector<ChangeOption>> options;
    for (const raft::NodeId id : ids) {
        const raft::Member* member = view.find(id);
        const MemberType type = member != nullptr ? member->type : MemberType::inactive;
        if (type == MemberType::passive) {
            options["membership_promote_passive"].push_back({id, MemberType::active});
            options["membership_demote_passive"].push_back({id, MemberType::reserve});
        } else if (type == MemberType::active) {
            options["membership_demote_active"].push_back({id, MemberType::passive});
        } else if (type == MemberType::reserve) {
            options["membership_promote_reserve"].push_back({id, MemberType::passive});
        }
        if (type != MemberType::inactive) {
            options["membership_remove"].push_back({id, MemberType::inactive});
        } else {
            const uint64_t draw = rng.uniform(5);  // mostly as a non-voter, sometimes a voter
            const MemberType back = draw < 2   ? MemberType::reserve
                                    : draw < 4 ? MemberType::passive
                                               : MemberType::active;
            options["membership_add_back"].push_back({id, back});
        }
    }
    return options;
}

// A change of one member of the view, the kind drawn first (uniformly among those open).
std::optional<MembershipChange> draw_membership_change(const raft::Configuration& view,
                                                       const std::vector<raft::NodeId>& ids,
                                                       Rng& rng) {
    const std::map<std::string, std::vector<ChangeOption>> options = change_options(view, ids, rng);
    if (options.empty()) return std::nullopt;
    auto kind = options.begin();
    std::advance(kind, static_cast<long>(rng.uniform(options.size())));
    const ChangeOption option = rng.pick(kind->second);
    MembershipChange change{kind->first, option.node, view.members};
    std::erase_if(change.members, [&](const raft::Member& m) { return m.id == option.node; });
    // A removed member is either left out or listed as inactive: both mean the same.
    if (option.to != raft::MemberType::inactive || rng.chance(0.5)) {
        const raft::Member* member = view.find(option.node);
        change.members.push_back(
            {option.node, option.to, member == nullptr || member->available, {}});
    }
    return change;
}

std::string describe_configuration(const raft::Configuration& configuration) {
    std::string text = "configuration " + str(configuration.index) + ":";
    for (const raft::Member& member : configuration.members) {
        text += " n" + str(member.id) + " " + raft::member_type_name(member.type);
        if (!member.available) text += " (unavailable)";
    }
    return text;
}

// Whether a node may lead by its own configuration: as a voter of the configuration in force,
// or, while that is not committed, of the one before it (a leader that removed itself and
// restarted must finish the change: raft.cc, may_campaign). True when the log no longer holds
// the one before (compacted): unknown here.
bool may_lead(const raft::Raft& raft) {
    const raft::Configuration& configuration = raft.configuration();
    if (configuration.is_voter(raft.id())) return true;
    if (configuration.index <= raft.commit_index()) return false;
    const raft::RaftLog& log = raft.log();
    for (raft::Index index = std::min(configuration.index, log.last_index() + 1);
         index > log.first_index();) {
        const raft::Entry* entry = log.find(--index);  // never compacted; others may be
        if (entry == nullptr || entry->type != raft::EntryType::configuration) continue;
        const Result<raft::Configuration> previous = raft::decode_configuration(entry->payload);
        return previous.is_ok() && previous.value().is_voter(raft.id());
    }
    return true;
}

struct EntryText {
    std::string operator()(const session::RegisterEntry& e) const {
        return "register " + e.client_id + " timeout " + str(e.timeout_ms);
    }
    std::string operator()(const session::KeepAliveEntry& e) const {
        std::string text = "keep-alive";
        for (const session::KeepAliveItem& item : e.sessions) {
            text += " s" + str(item.session) + " seq " + str(item.command_sequence) + " event " +
                    str(item.event_index);
        }
        return text;
    }
    std::string operator()(const session::UnregisterEntry& e) const {
        return std::string(e.expired ? "expire" : "unregister") + " s" + str(e.session);
    }
    std::string operator()(const session::CommandEntry& e) const {
        return "command s" + str(e.session) + " seq " + str(e.sequence) + " " +
               (e.operation.type.empty() ? std::string("no-op") : e.operation.type);
    }
};

std::string describe_entry(const raft::Entry& entry) {
    if (entry.type == raft::EntryType::initialize) return "initialize";
    if (entry.type == raft::EntryType::configuration) return "configuration";
    const Result<session::SessionEntry> decoded = session::decode_entry(entry.payload);
    if (!decoded.is_ok()) return "undecodable: " + decoded.status().message();
    return std::visit(EntryText{}, decoded.value());
}

class Cluster;
const Cluster* running = nullptr;  // for current_run_trace()

class Cluster {
public:
    explicit Cluster(const RunOptions& options);
    ~Cluster() { running = nullptr; }
    Cluster(const Cluster&) = delete;
    Cluster& operator=(const Cluster&) = delete;
    RunReport run();
    std::string trace_text() const { return trace_.text(); }

private:
    enum class Source { none, fault, disk, network, client, tick, operator_request };
    struct Next {
        uint64_t time_us = never;
        Source source = Source::none;
        size_t node = 0;
    };

    // the loop
    bool step();
    Next next_event() const;
    void deliver();
    void sync_disk(size_t index);
    void tick(size_t index);
    void client_event();
    // faults
    void fault();
    void scheduled_fault();
    void crash(size_t index, const char* why);
    void arm_crash_point(size_t index, const char* name);
    void run_crash_points();
    void restart(size_t index);
    void partition(FaultKind kind);
    void heal(const char* why);
    void clog();
    // pauses (SIGSTOP) and clock jumps (faults.h, ClockFaultPlan)
    using HeldInput = std::variant<raft::Envelope, ToNode>;
    bool paused(size_t index) const { return resume_at_us_[index] != never; }
    bool clock_event();
    void pause();
    void pause_client();
    void resume(size_t index, const char* why);
    void deliver_held(size_t index);
    void clock_jump();
    void restore_clock(size_t index);
    // the operator: membership changes and leadership transfers (faults.h, MembershipPlan)
    void operator_request();
    void change_membership(size_t index);
    void transfer_leadership(size_t index);
    // the nodes' effects, and the invariants
    void route(size_t index);
    void send(size_t index, const raft::Envelope& envelope);
    void check();
    void check_node(size_t index);
    void check_leader_commit(size_t index);
    void check_commit_safety(size_t index);
    struct Candidacy;
    std::vector<Candidacy> candidacies(size_t index, raft::Index commit, uint64_t hash) const;
    void route_to_clients(size_t index, Effects& effects);
    void observe_applied(size_t index, const Effects& effects);
    void observe_query(size_t index, const ToNode& input);
    void collect_client_violations();
    void trace_violations();
    // the end of a run
    void settle();
    bool converged() const;
    bool events_caught_up() const;
    void wait_for(const char* what, const std::function<bool()>& done, uint64_t deadline_us);
    bool holds_state(const raft::Configuration& configuration, size_t index) const;
    void compare_states();
    void check_sessions(const Node& leader);
    void check_history();
    RunReport report();

    const Node* leader() const;
    std::vector<raft::NodeId> shuffled_ids();
    void count(const std::string& kind, uint64_t amount = 1) { faults_[kind] += amount; }

    RunOptions options_;
    FaultPlan plan_;
    Rng fault_rng_;
    Rng crash_point_rng_;
    Rng operator_rng_;
    History history_;
    SessionChecks checks_;
    Network network_;
    std::vector<std::unique_ptr<Disk>> disks_;
    std::vector<std::unique_ptr<Node>> nodes_;
    std::vector<raft::NodeId> ids_;
    Clients clients_;
    Invariants invariants_;
    Trace trace_;
    uint64_t now_us_ = 0;
    uint64_t steps_ = 0;
    bool faulty_ = true;
    uint64_t next_fault_us_ = never;
    uint64_t heal_at_us_ = never;
    uint64_t next_operator_us_ = never;
    raft::Configuration operator_view_;  // the configuration the operator last saw
    std::vector<uint64_t> restart_at_us_;
    std::vector<uint64_t> resume_at_us_;         // by node: never unless paused
    std::vector<std::deque<HeldInput>> held_;    // by node: input queued while paused
    std::vector<uint64_t> clock_restore_at_us_;  // by node: never unless its clock jumped
    std::vector<const char*> crash_point_;       // armed for the end of this step, by node
    std::vector<NodeSeen> seen_;
    std::map<std::string, uint64_t> faults_;
    std::map<std::string, uint64_t> effects_;  // what the operator's requests came to
    // Linearizable queries a node received, by (node, request id): the index committed then.
    std::map<std::pair<raft::NodeId, uint64_t>, raft::Index> read_started_;
    size_t violations_traced_ = 0;
    bool linearizability_unknown_ = false;
    std::string unknown_explanation_;
};

std::vector<raft::NodeId> node_ids(int nodes) {
    std::vector<raft::NodeId> ids;
    for (int id = 1; id <= nodes; ++id) ids.push_back(static_cast<raft::NodeId>(id));
    return ids;
}

Cluster::Cluster(const RunOptions& options)
    : options_(options),
      plan_(draw_fault_plan(options.seed, options.nodes, options.unsafe_clock_skew,
                            options.compaction)),
      fault_rng_(options.seed, "fault schedule"),
      crash_point_rng_(options.seed, "crash points"),
      operator_rng_(options.seed, "membership"),
      network_(Rng(options.seed, "network")),
      ids_(node_ids(plan_.nodes)),
      clients_(plan_.clients, ids_, Rng(options.seed, "clients"), history_, checks_),
      trace_(options.trace_lines, options.verbose) {
    raft::Configuration bootstrap;
    for (const raft::NodeId id : ids_) {
        bootstrap.members.push_back({id, plan_.membership.initial[id - 1], true, {}});
    }
    operator_view_ = bootstrap;
    network_.set_faults(plan_.network);
    for (const raft::NodeId id : ids_) {
        disks_.push_back(std::make_unique<Disk>(bootstrap, Rng(options.seed, "disk", id),
                                                plan_.disk, plan_.disk_segment_entries));
        nodes_.push_back(std::make_unique<Node>(
            id,
            NodeOptions{plan_.raft, plan_.sessions, plan_.snapshot_every_entries,
                        plan_.compact_log_every_entries, plan_.disk_compact_every_entries},
            plan_.clocks[id - 1], *disks_.back(), stream_seed(options.seed, "node", id)));
    }
    restart_at_us_.assign(ids_.size(), never);
    resume_at_us_.assign(ids_.size(), never);
    held_.resize(ids_.size());
    clock_restore_at_us_.assign(ids_.size(), never);
    crash_point_.assign(ids_.size(), nullptr);
    seen_.resize(ids_.size());
    running = this;
}

RunReport Cluster::run() {
    trace_.add(0, "seed " + str(options_.seed) + " " + describe(plan_));
    for (size_t index = 0; index < nodes_.size(); ++index) restart(index);
    clients_.start(0);
    next_fault_us_ = fault_rng_.between(plan_.fault_gap_min_us, plan_.fault_gap_max_us);
    if (plan_.membership.enabled) {
        next_operator_us_ =
            operator_rng_.between(plan_.membership.gap_min_us, plan_.membership.gap_max_us);
    }
    while (steps_ < options_.steps && invariants_.ok() && step()) {
    }
    if (invariants_.ok()) settle();
    // A cluster that did not converge still has a history to check: a plant that breaks
    // safety may also stall the cluster.
    const bool only_liveness = invariants_.violations().size() == 1 &&
                               invariants_.violations().front().invariant == "liveness";
    if (invariants_.ok()) compare_states();
    if (invariants_.ok() || only_liveness) check_history();
    trace_violations();
    trace_.flush_echo();
    return report();
}

// --- the loop -------------------------------------------------------------------------------

Cluster::Next Cluster::next_event() const {
    Next next;
    auto consider = [&](std::optional<uint64_t> time_us, Source source, size_t node) {
        if (time_us && *time_us < next.time_us) next = {*time_us, source, node};
    };
    uint64_t fault_us = faulty_ ? std::min(next_fault_us_, heal_at_us_) : never;
    for (size_t index = 0; index < nodes_.size(); ++index) {
        fault_us = std::min(
            {fault_us, restart_at_us_[index], resume_at_us_[index], clock_restore_at_us_[index]});
    }
    if (fault_us != never) consider(fault_us, Source::fault, 0);
    // A paused node takes no ticks and hears of no disk completion until it resumes.
    for (size_t index = 0; index < nodes_.size(); ++index) {
        if (nodes_[index]->up() && !paused(index)) {
            consider(disks_[index]->next_sync_us(), Source::disk, index);
        }
    }
    consider(network_.next_delivery_us(), Source::network, 0);
    consider(clients_.next_event_us(), Source::client, 0);
    if (faulty_ && next_operator_us_ != never) {
        consider(next_operator_us_, Source::operator_request, 0);
    }
    for (size_t index = 0; index < nodes_.size(); ++index) {
        if (nodes_[index]->up() && !paused(index)) {
            consider(nodes_[index]->next_tick_us(), Source::tick, index);
        }
    }
    return next;
}

bool Cluster::step() {
    const Next next = next_event();
    if (next.source == Source::none) return false;
    now_us_ = std::max(now_us_, next.time_us);
    switch (next.source) {
        case Source::fault: fault(); break;
        case Source::disk: sync_disk(next.node); break;
        case Source::network: deliver(); break;
        case Source::client: client_event(); break;
        case Source::tick: tick(next.node); break;
        case Source::operator_request: operator_request(); break;
        case Source::none: break;
    }
    ++steps_;
    check();
    run_crash_points();
    trace_violations();
    return true;
}

void Cluster::deliver() {
    Network::Arrival arrival = network_.pop();
    const raft::Envelope& envelope = arrival.envelope;
    const size_t index = envelope.to - 1;
    std::string& line = trace_.line(now_us_);
    line += "n" + str(envelope.from) + "->n" + str(envelope.to) + " ";
    if (arrival.cut || !nodes_[index]->up()) {
        line += arrival.cut ? "cut: " : "to a down node: ";
        line += describe_message(envelope.message);
        return;
    }
    line += describe_message(envelope.message);
    if (paused(index)) {  // in its socket buffer until it resumes
        line += " (held: paused)";
        held_[index].push_back(envelope);
        return;
    }
    nodes_[index]->receive(envelope, now_us_);
    route(index);
}

void Cluster::sync_disk(size_t index) {
    Disk& disk = *disks_[index];
    const uint64_t seq = disk.sync_due(now_us_);
    invariants_.observe_durable_term(ids_[index], disk.hard_state().term);
    if (seq == 0) return;
    trace_.add(now_us_, "n" + str(ids_[index]) + " synced to seq " + str(seq) + ": term " +
                            str(disk.hard_state().term) + " vote " + str(disk.hard_state().vote) +
                            " last index " + str(disk.last_index()));
    nodes_[index]->persisted(seq, now_us_);
    route(index);
}

void Cluster::tick(size_t index) {
    nodes_[index]->tick(now_us_);
    route(index);
}

void Cluster::client_event() {
    const std::optional<ToNode> input = clients_.step(now_us_);
    for (const std::string& note : clients_.take_notes()) trace_.add(now_us_, note);
    collect_client_violations();
    if (!input) return;
    const raft::NodeId node = destination(*input);
    const size_t index = node - 1;
    trace_.add(now_us_, describe(*input) + (nodes_[index]->up() ? "" : " (down)") +
                            (paused(index) ? " (held: paused)" : ""));
    if (paused(index)) {
        held_[index].push_back(*input);
        return;
    }
    if (!nodes_[index]->up()) return;
    observe_query(index, *input);
    nodes_[index]->client_input(*input, now_us_);
    route(index);
}

// --- faults ---------------------------------------------------------------------------------

void Cluster::fault() {
    for (size_t index = 0; index < nodes_.size(); ++index) {
        if (restart_at_us_[index] <= now_us_) {
            restart(index);
            count("restart");
            return;
        }
    }
    if (clock_event()) return;
    if (heal_at_us_ <= now_us_) {
        heal("the partition's time is up");
        return;
    }
    scheduled_fault();
    next_fault_us_ = now_us_ + fault_rng_.between(plan_.fault_gap_min_us, plan_.fault_gap_max_us);
}

void Cluster::scheduled_fault() {
    const FaultKind kind = draw_fault_kind(plan_, fault_rng_);
    switch (kind) {
        case FaultKind::crash: {
            const size_t index = fault_rng_.uniform(nodes_.size());
            if (nodes_[index]->up()) crash(index, "crash");
            break;
        }
        case FaultKind::crash_leader:
            if (const Node* node = leader()) crash(node->id() - 1, "crash_leader");
            break;
        case FaultKind::heal: heal("heal"); break;
        case FaultKind::clog: clog(); break;
        case FaultKind::network_knobs: {
            network_.set_faults(draw_network_faults(fault_rng_));
            const NetworkFaults& f = network_.faults();
            trace_.add(now_us_, "fault: network loss " + std::to_string(f.loss) + " duplicate " +
                                    std::to_string(f.duplicate) + " reorder " +
                                    std::to_string(f.reorder));
            count(fault_kind_name(kind));
            break;
        }
        case FaultKind::pause: pause(); break;
        case FaultKind::clock_jump: clock_jump(); break;
        case FaultKind::client_pause: pause_client(); break;
        case FaultKind::restart: break;
        default: partition(kind); break;
    }
}

void Cluster::crash(size_t index, const char* why) {
    Disk& disk = *disks_[index];
    const bool torn = fault_rng_.chance(plan_.torn_tail_chance);
    nodes_[index]->crash();
    resume_at_us_[index] = never;  // SIGKILL of a stopped process: its socket buffer is gone
    held_[index].clear();
    const Disk::CrashLoss loss = disk.crash(torn);
    invariants_.observe_crash(ids_[index]);
    invariants_.observe_durable_term(ids_[index], disk.hard_state().term);
    restart_at_us_[index] = now_us_ + fault_rng_.between(plan_.down_min_us, plan_.down_max_us);
    seen_[index].up = false;
    count(why);
    if (loss.surviving_parts > 0) count("torn_tail");
    count("disk_lost_writes", loss.lost_writes);
    trace_.add(now_us_, "fault: " + std::string(why) + " n" + str(ids_[index]) + ": " +
                            str(loss.lost_writes) + " unsynced writes lost" +
                            (loss.surviving_parts > 0
                                 ? ", torn tail keeps " + str(loss.surviving_parts) + " parts"
                                 : std::string()) +
                            "; durable last index " + str(disk.last_index()) + "; down until " +
                            format_time(restart_at_us_[index]));
}

void Cluster::arm_crash_point(size_t index, const char* name) {
    if (faulty_ && plan_.crash_point_chance > 0 &&
        crash_point_rng_.chance(plan_.crash_point_chance)) {
        crash_point_[index] = name;
    }
}

void Cluster::run_crash_points() {
    for (size_t index = 0; index < nodes_.size(); ++index) {
        const char* name = std::exchange(crash_point_[index], nullptr);
        if (name == nullptr || !nodes_[index]->up()) continue;
        crash(index, name);
        restart_at_us_[index] =
            now_us_ + crash_point_rng_.between(100, plan_.crash_point_down_max_us);
    }
}

void Cluster::restart(size_t index) {
    Disk& disk = *disks_[index];
    restart_at_us_[index] = never;
    nodes_[index]->start(now_us_);
    invariants_.observe_start(ids_[index], disk.hard_state());
    trace_.add(now_us_, "n" + str(ids_[index]) + " starts (incarnation " +
                            str(nodes_[index]->incarnation()) + "): term " +
                            str(disk.hard_state().term) + " vote " + str(disk.hard_state().vote) +
                            " log " + str(disk.first_index()) + ".." + str(disk.last_index()));
    seen_[index] = NodeSeen{true, nodes_[index]->raft().role(), nodes_[index]->raft().term(),
                            nodes_[index]->raft().commit_index()};
    route(index);
}

void Cluster::partition(FaultKind kind) {
    network_.heal();
    std::vector<raft::NodeId> ids = shuffled_ids();
    if (kind == FaultKind::partition_split) {
        ids.resize(fault_rng_.between(1, (ids_.size() - 1) / 2));
        network_.split(ids, ids_);
    } else if (kind == FaultKind::partition_isolate) {
        network_.isolate(ids.front(), ids_);
    } else if (kind == FaultKind::partition_isolate_leader) {
        const Node* node = leader();
        network_.isolate(node != nullptr ? node->id() : ids.front(), ids_);
    } else if (kind == FaultKind::partition_one_way) {
        ids.resize(fault_rng_.between(1, ids_.size() - 1));
        network_.split_one_way(ids, ids_);
    } else {  // bridge: each node reaches its ring neighbours only
        for (size_t i = 0; i < ids.size(); ++i) {
            for (size_t j = i + 2; j < ids.size(); ++j) {
                if (i != 0 || j != ids.size() - 1 || ids.size() == 3) {
                    network_.cut_both(ids[i], ids[j]);
                }
            }
        }
    }
    heal_at_us_ = now_us_ + fault_rng_.between(plan_.partition_min_us, plan_.partition_max_us);
    count(fault_kind_name(kind));
    trace_.add(now_us_, std::string("fault: ") + fault_kind_name(kind) + ", cut " +
                            network_.describe_cuts() + ", heals at " + format_time(heal_at_us_));
}

void Cluster::heal(const char* why) {
    heal_at_us_ = never;
    const bool partitioned = network_.partitioned();
    network_.heal();  // clogs too
    if (!partitioned) return;
    count("heal");
    trace_.add(now_us_, std::string("fault: heal (") + why + ")");
}

void Cluster::clog() {
    std::vector<raft::NodeId> ids = shuffled_ids();
    const uint64_t until_us = now_us_ + fault_rng_.between(10'000, 1'000'000);
    network_.clog(ids[0], ids[1], until_us);
    count("clog");
    trace_.add(now_us_, "fault: clog n" + str(ids[0]) + "->n" + str(ids[1]) + " until " +
                            format_time(until_us));
}

// --- pauses and clock jumps -----------------------------------------------------------------

// A resume or a clock restore that is due; false when none is.
bool Cluster::clock_event() {
    for (size_t index = 0; index < nodes_.size(); ++index) {
        if (resume_at_us_[index] <= now_us_) {
            resume(index, "its pause is over");
            return true;
        }
        if (clock_restore_at_us_[index] <= now_us_) {
            restore_clock(index);
            return true;
        }
    }
    return false;
}

void Cluster::pause() {
    const Node* lead = leader();
    size_t index = fault_rng_.uniform(nodes_.size());
    if (lead != nullptr && fault_rng_.chance(plan_.clock_faults.pause_leader_chance)) {
        index = lead->id() - 1;
    }
    if (!nodes_[index]->up() || paused(index)) return;
    const ClockFaultPlan& clock = plan_.clock_faults;
    resume_at_us_[index] = now_us_ + fault_rng_.between(clock.pause_min_us, clock.pause_max_us);
    count("pause");
    if (nodes_[index]->raft().role() == raft::Role::leader) effects_["pause_of_leader"]++;
    trace_.add(now_us_, "fault: pause n" + str(ids_[index]) + " (" +
                            raft::role_name(nodes_[index]->raft().role()) + ") until " +
                            format_time(resume_at_us_[index]));
}

// A client process stops: its keep-alives stop too, and a pause past its session timeout lets
// the leader expire the session (its locks pass to their next waiters).
void Cluster::pause_client() {
    if (clients_.count() == 0) return;
    int client = static_cast<int>(fault_rng_.uniform(static_cast<uint64_t>(clients_.count())));
    const std::vector<int> holders = clients_.lock_holders();
    if (!holders.empty() && fault_rng_.chance(0.5)) client = fault_rng_.pick(holders);
    const SessionPlan& plan = plan_.session_faults;
    const uint64_t until_us = now_us_ + fault_rng_.between(plan.pause_min_us, plan.pause_max_us);
    clients_.pause(client, until_us, now_us_);
    count("client_pause");
    for (const std::string& note : clients_.take_notes()) trace_.add(now_us_, note);
}

// As a correct shell does on SIGCONT: first the ticks its clock says elapsed, then the input
// that queued (disk completions, messages and client requests, in their order of arrival).
void Cluster::resume(size_t index, const char* why) {
    resume_at_us_[index] = never;
    Node& node = *nodes_[index];
    const uint64_t ticks = node.catch_up_ticks(now_us_);
    effects_["pause_ticks_caught_up"] += ticks;
    trace_.add(now_us_, "n" + str(ids_[index]) + " resumes (" + why + "): " + str(ticks) +
                            " ticks caught up, then " + str(held_[index].size()) + " held inputs");
    route(index);
    check_node(index);
    if (disks_[index]->next_sync_us().value_or(never) <= now_us_) sync_disk(index);
    deliver_held(index);
}

void Cluster::deliver_held(size_t index) {
    Node& node = *nodes_[index];
    std::deque<HeldInput> held = std::exchange(held_[index], {});
    effects_["pause_inputs_held"] += held.size();
    for (const HeldInput& input : held) {
        if (!node.up()) break;
        if (const auto* envelope = std::get_if<raft::Envelope>(&input)) {
            node.receive(*envelope, now_us_);
        } else {
            observe_query(index, std::get<ToNode>(input));
            node.client_input(std::get<ToNode>(input), now_us_);
        }
        route(index);
        check_node(index);
    }
}

void Cluster::clock_jump() {
    const ClockFaultPlan& clock = plan_.clock_faults;
    const Node* lead = leader();
    size_t index = fault_rng_.uniform(nodes_.size());
    int64_t rate_ppm =
        1'000'000 +
        static_cast<int64_t>(fault_rng_.between(0, 2 * static_cast<uint64_t>(clock.jump_max_ppm))) -
        clock.jump_max_ppm;
    if (clock.unsafe_clock_skew && lead != nullptr) {  // the negative control
        index = lead->id() - 1;
        rate_ppm = clock.unsafe_rate_ppm;
    }
    if (clock_restore_at_us_[index] != never) return;
    clock_restore_at_us_[index] =
        now_us_ + fault_rng_.between(clock.jump_min_us, clock.jump_max_us);
    nodes_[index]->set_clock_rate(rate_ppm, now_us_);
    count(clock.unsafe_clock_skew ? "clock_jump_unsafe" : "clock_jump");
    trace_.add(now_us_, "fault: clock jump n" + str(ids_[index]) + " runs at " +
                            str(static_cast<uint64_t>(rate_ppm)) + " ppm until " +
                            format_time(clock_restore_at_us_[index]));
    if (clock.unsafe_clock_skew && lead != nullptr) partition(FaultKind::partition_isolate_leader);
}

void Cluster::restore_clock(size_t index) {
    clock_restore_at_us_[index] = never;
    const int64_t rate_ppm = plan_.clocks[index].rate_ppm;
    nodes_[index]->set_clock_rate(rate_ppm, now_us_);
    trace_.add(now_us_, "n" + str(ids_[index]) + " clock back to " +
                            str(static_cast<uint64_t>(rate_ppm)) + " ppm");
}

// --- the operator ---------------------------------------------------------------------------

void Cluster::operator_request() {
    next_operator_us_ =
        now_us_ + operator_rng_.between(plan_.membership.gap_min_us, plan_.membership.gap_max_us);
    const Node* node = leader();
    if (node == nullptr || paused(node->id() - 1)) return;  // a stopped leader answers nobody
    const size_t index = node->id() - 1;
    if (operator_rng_.chance(plan_.membership.transfer_chance)) {
        transfer_leadership(index);
    } else {
        change_membership(index);
    }
    route(index);
}

void Cluster::change_membership(size_t index) {
    const raft::Raft& raft = nodes_[index]->raft();
    if (operator_rng_.chance(plan_.membership.refresh_chance))
        operator_view_ = raft.configuration();
    std::optional<MembershipChange> change =
        draw_membership_change(operator_view_, ids_, operator_rng_);
    if (!change) return;
    count(change->kind);
    // A view whose index matches a different configuration (the one the operator saw was
    // truncated and another took its index): the compare-and-set on index and term must
    // refuse it.
    const bool stale_view = raft.configuration().index == operator_view_.index &&
                            raft.configuration() != operator_view_;
    const Result<raft::Index> result = nodes_[index]->configure(
        change->members, operator_view_.index, operator_view_.term, now_us_);
    std::string line = "operator: " + change->kind + " n" + str(change->node) + " at n" +
                       str(ids_[index]) + ", expecting configuration " + str(operator_view_.index) +
                       ": ";
    if (result.is_ok()) {
        effects_["membership_appended"]++;
        if (stale_view) {
            invariants_.add("membership",
                            "a change was appended on a configuration the "
                            "operator never saw (compare-and-set)");
        }
        line += "appended at index " + str(result.value()) + " (" +
                describe_configuration(nodes_[index]->raft().configuration()) + ")";
        operator_view_ = nodes_[index]->raft().configuration();
    } else {
        const bool cas = result.status().code() == StatusCode::conflict;
        effects_[cas ? "membership_refused_cas" : "membership_refused"]++;
        line += "refused: " + result.status().message();
    }
    trace_.add(now_us_, line);
}

void Cluster::transfer_leadership(size_t index) {
    const std::vector<raft::NodeId> voters = nodes_[index]->raft().configuration().voters();
    if (voters.empty()) return;
    const raft::NodeId target = operator_rng_.pick(voters);
    count("transfer_leadership");
    const Status status = nodes_[index]->transfer_leadership(target, now_us_);
    if (!status.is_ok()) effects_["transfer_refused"]++;
    trace_.add(
        now_us_,
        "operator: transfer leadership from n" + str(ids_[index]) + " to n" + str(target) +
            (status.is_ok() ? std::string(": under way") : ": refused: " + status.message()));
}

std::vector<raft::NodeId> Cluster::shuffled_ids() {
    std::vector<raft::NodeId> ids = ids_;
    fault_rng_.shuffle(ids);
    return ids;
}

const Node* Cluster::leader() const {
    const Node* found = nullptr;
    for (const auto& node : nodes_) {
        if (!node->up() || node->raft().role() != raft::Role::leader) continue;
        if (found == nullptr || node->raft().term() > found->raft().term()) found = node.get();
    }
    return found;
}

// --- effects and invariants -----------------------------------------------------------------

void Cluster::route(size_t index) {
    Node& node = *nodes_[index];
    Effects effects = node.take_effects();
    const raft::NodeId id = ids_[index];
    for (ObservedProblem& problem : effects.problems) {
        invariants_.add(std::move(problem.invariant), std::move(problem.detail));
    }
    // Removals first: a node that crashed right after compacting its disk still removed them.
    std::string removed_text;
    for (const auto& [removed, applied_at] : effects.removed) {
        invariants_.observe_removed(removed, applied_at);
        removed_text += " " + str(removed) + "@" + str(applied_at);
    }
    if (!removed_text.empty()) {
        trace_.add(now_us_, "n" + str(id) + " compacted its disk: removed (index@released at)" +
                                removed_text);
    }
    if (!node.up()) return;
    if (effects.reset) {
        invariants_.observe_reset(id);
        effects_["resets"]++;
        trace_.add(now_us_, "n" + str(id) +
                                " resets: it drops its log and state to take the "
                                "leader's log again from index 1");
    }
    if (effects.installed_snapshot != 0) {
        invariants_.observe_install(id, effects.installed_snapshot);
        trace_.add(now_us_, "n" + str(id) + " loads the snapshot at index " +
                                str(effects.installed_snapshot));
    }
    if (effects.took_snapshot != 0) {
        trace_.add(now_us_, "n" + str(id) + " takes a snapshot at index " +
                                str(effects.took_snapshot) + "; its log now starts at " +
                                str(node.raft().log().first_index()));
    }
    invariants_.observe_log(id, node.raft().log(), effects.log_changed_from);
    observe_applied(index, effects);
    for (raft::PersistOp& op : effects.persist) {
        const Status status = disks_[index]->write(std::move(op), now_us_);
        if (!status.is_ok()) invariants_.add("shell contract", status.message());
    }
    for (const raft::Envelope& envelope : effects.messages) send(index, envelope);
    route_to_clients(index, effects);
}

// What the state machine did at each index: compared between nodes by the invariants, and,
// from the first node to apply an index, the reference the clients are checked against.
void Cluster::observe_applied(size_t index, const Effects& effects) {
    const raft::NodeId id = ids_[index];
    for (const AppliedEntry& applied : effects.applied) {
        invariants_.observe_apply(id, applied.entry, applied.effects.hash(), applied.state_hash);
        if (applied.entry.index == checks_.applied() + 1) {
            checks_.observe_applied(applied.effects);
            trace_.add(now_us_, "index " + str(applied.entry.index) + " applied (term " +
                                    str(applied.entry.term) +
                                    "): " + describe_entry(applied.entry));
            for (const LockGrant& grant : applied.effects.grants) {
                trace_.add(now_us_, "index " + str(applied.entry.index) + ": lock " + grant.lock +
                                        " granted to s" + str(grant.session) + " (token " +
                                        str(grant.token) + ")");
            }
            for (const SessionId session : applied.effects.closed) {
                trace_.add(now_us_, "index " + str(applied.entry.index) + ": session " +
                                        str(session) + " ends");
            }
        }
    }
    for (Violation& violation : checks_.take_violations()) {
        invariants_.add(std::move(violation.invariant), std::move(violation.detail));
    }
}

// Answers and event batches go back on the client links; an answer to a linearizable query
// is checked for read safety first.
void Cluster::route_to_clients(size_t index, Effects& effects) {
    const raft::NodeId id = ids_[index];
    for (session::OutboundResponse& response : effects.responses) {
        const auto started = read_started_.find({id, response.response.request_id});
        if (started != read_started_.end()) {
            const auto* body = std::get_if<session::OperationResponse>(&response.response.body);
            if (options_.promise_checks && response.response.error == session::ErrorCode::ok &&
                body != nullptr) {
                invariants_.observe_read(id, body->index, started->second);
            }
            read_started_.erase(started);
        }
        clients_.send_to_client(ToClient{id, response.connection, std::move(response.response)},
                                now_us_);
    }
    for (session::OutboundEvents& events : effects.events) {
        clients_.send_to_client(ToClient{id, events.connection, std::move(events.publish)},
                                now_us_);
    }
}

// A linearizable query arriving: what was committed anywhere then is the least its answer
// may reflect (invariants.h, read safety).
void Cluster::observe_query(size_t index, const ToNode& input) {
    const auto* request = std::get_if<ClientRequest>(&input);
    if (request == nullptr) return;
    const auto* query = std::get_if<session::QueryRequest>(&request->request);
    if (query == nullptr || query->consistency == session::Consistency::sequential) return;
    read_started_[{ids_[index], request->request_id}] = invariants_.committed_max();
}

void Cluster::collect_client_violations() {
    for (Violation& violation : clients_.take_violations()) {
        invariants_.add(std::move(violation.invariant), std::move(violation.detail));
    }
    for (Violation& violation : checks_.take_violations()) {
        invariants_.add(std::move(violation.invariant), std::move(violation.detail));
    }
}

void Cluster::send(size_t index, const raft::Envelope& envelope) {
    if (const auto* vote = std::get_if<raft::VoteResponse>(&envelope.message)) {
        if (vote->granted && options_.promise_checks) {
            invariants_.observe_vote_granted(
                envelope.from, envelope.to, vote->term,
                disks_[index]->vote_was_durable(vote->term, envelope.to));
        }
        if (vote->granted) arm_crash_point(index, "crash_after_vote");
    }
    const auto* append = std::get_if<raft::AppendResponse>(&envelope.message);
    if (append != nullptr && append->success) arm_crash_point(index, "crash_after_append_ack");
    network_.send(envelope, now_us_);
}

void Cluster::check() {
    for (size_t index = 0; index < nodes_.size(); ++index) {
        if (nodes_[index]->up()) check_node(index);
    }
}

void Cluster::check_node(size_t index) {
    const raft::Raft& raft = nodes_[index]->raft();
    const raft::NodeId id = ids_[index];
    invariants_.observe_role(id, raft.term(), raft.role());
    invariants_.observe_commit(id, raft.commit_index(), raft.term(), raft.log());
    if (raft.role() == raft::Role::leader) invariants_.observe_leader(id, raft.term(), raft.log());
    NodeSeen& seen = seen_[index];
    const bool led = seen.role == raft::Role::leader && seen.term == raft.term();
    if (raft.role() == raft::Role::leader && !led) {
        invariants_.observe_took_office(id, raft.term(), may_lead(raft));
    }
    if (seen.role != raft.role() || seen.term != raft.term()) {
        trace_.add(now_us_, "n" + str(id) + " is " + raft::role_name(raft.role()) + " in term " +
                                str(raft.term()) + " (vote " + str(raft.vote()) + ", leader " +
                                str(raft.leader()) + ", last index " +
                                str(raft.log().last_index()) + ")");
    }
    if (seen.commit_index != raft.commit_index()) {
        trace_.add(now_us_, "n" + str(id) + " commit index " + str(raft.commit_index()));
        // A leader that commits its own removal or demotion steps down at once, in its term:
        // that commit is checked too.
        const bool leads = raft.role() == raft::Role::leader || led;
        if (leads && raft.commit_index() > seen.commit_index) {
            if (options_.promise_checks) check_leader_commit(index);
            if (options_.promise_checks) check_commit_safety(index);
            arm_crash_point(index, "crash_after_commit");
        }
    }
    seen = NodeSeen{true, raft.role(), raft.term(), raft.commit_index()};
}

void Cluster::check_leader_commit(size_t index) {
    const raft::Raft& raft = nodes_[index]->raft();
    const raft::Index commit = raft.commit_index();
    const raft::Entry* committed = raft.log().find(commit);
    if (committed == nullptr) return;  // outside the log, or compacted (checked when committed)
    const uint64_t hash = entry_hash(*committed);
    size_t holders = 0;
    for (size_t other = 0; other < disks_.size(); ++other) {
        const Disk& disk = *disks_[other];
        const raft::Entry* entry = disk.entry(commit);
        // A hole holds it too: only applied (so committed) entries are compacted, here or by
        // the leader that sent the hole, and the committed entry at an index is this one. The
        // leader's own disk may have compacted it already, in the step that applied it.
        const bool held = commit < disk.first_index()  // in a durable snapshot
                          || (entry == nullptr ? disk.covers(commit) : entry_hash(*entry) == hash);
        if (raft.configuration().is_voter(ids_[other]) && held) ++holders;
    }
    invariants_.observe_leader_commit(ids_[index], commit, holders, raft.configuration().quorum());
}

struct LogEnd {
    raft::Term term = 0;
    raft::Index index = 0;
};

bool at_least_as_up_to_date(const LogEnd& a, const LogEnd& b) {
    return a.term > b.term || (a.term == b.term && a.index >= b.index);
}

// What a node would campaign with: its configuration, its log's end, and whether its log holds
// the entry; after a restart (its durable state) and, while it is up, now (in memory).
struct Cluster::Candidacy {
    raft::Configuration configuration;
    LogEnd end;
};

std::vector<Cluster::Candidacy> Cluster::candidacies(size_t index, raft::Index commit,
                                                     uint64_t hash) const {
    std::vector<Candidacy> found;
    const Disk& disk = *disks_[index];
    // A hole at the index is the entry, compacted after it committed there.
    const raft::Entry* entry = disk.entry(commit);
    const bool disk_hole = disk.covers(commit) && entry == nullptr;
    if (commit >= disk.first_index() && !disk_hole &&
        (entry == nullptr || entry_hash(*entry) != hash)) {
        found.push_back({disk.configuration(), {disk.last_term(), disk.last_index()}});
    }
    if (nodes_[index]->up()) {
        const raft::Raft& raft = nodes_[index]->raft();
        const raft::RaftLog& log = raft.log();
        const raft::Entry* held = log.find(commit);
        const bool hole = log.contains(commit) && held == nullptr;
        if (commit >= log.first_index() && !hole &&
            (held == nullptr || entry_hash(*held) != hash)) {
            found.push_back({raft.configuration(), {log.last_term(), log.last_index()}});
        }
    }
    return found;
}

// Figure 8: for each node without the newly committed entry that is a voter of its own
// configuration (the one it would campaign with, now or after a restart), how many voters of
// that configuration (itself, and those whose durable log, all a restart would leave them, is
// not ahead of its log) would vote for it. Membership changes: a candidate counts votes in its
// own configuration, which may differ from the leader's (a removed member that never heard of
// its removal still campaigns in the configuration before it), so every node is a candidate.
void Cluster::check_commit_safety(size_t index) {
    const raft::Raft& leader = nodes_[index]->raft();
    const raft::Index commit = leader.commit_index();
    const raft::Entry* committed = leader.log().find(commit);
    if (committed == nullptr) return;
    const uint64_t hash = entry_hash(*committed);
    for (size_t candidate = 0; candidate < nodes_.size(); ++candidate) {
        for (const Candidacy& candidacy : candidacies(candidate, commit, hash)) {
            const raft::Configuration& configuration = candidacy.configuration;
            if (!configuration.is_voter(ids_[candidate])) continue;  // it never campaigns
            // Nor before it holds the log it dropped in a reset again (Raft::may_campaign).
            const raft::HardState& own = disks_[candidate]->hard_state();
            if (!at_least_as_up_to_date(candidacy.end, {own.floor_term, own.floor_index})) {
                continue;
            }
            size_t voters = 0;
            for (const raft::NodeId voter : configuration.voters()) {
                if (voter == 0 || voter > disks_.size()) continue;  // not simulated: no vote
                const Disk& disk = *disks_[voter - 1];
                const LogEnd durable{disk.last_term(), disk.last_index()};
                // A voter that reset votes as if it still held the log it dropped.
                const LogEnd floor{disk.hard_state().floor_term, disk.hard_state().floor_index};
                if (voter == ids_[candidate] || (at_least_as_up_to_date(candidacy.end, durable) &&
                                                 at_least_as_up_to_date(candidacy.end, floor))) {
                    ++voters;
                }
            }
            invariants_.observe_commit_safety(ids_[index], commit, ids_[candidate], voters,
                                              configuration.quorum());
        }
    }
}

void Cluster::trace_violations() {
    const std::vector<Violation>& violations = invariants_.violations();
    for (; violations_traced_ < violations.size(); ++violations_traced_) {
        const Violation& violation = violations[violations_traced_];
        trace_.add(now_us_, "VIOLATION " + violation.invariant + ": " + violation.detail);
    }
}

// --- the end of a run -----------------------------------------------------------------------

// Heals every fault and lets the cluster settle: the clients finish what they started (and
// keep their sessions alive), every member that keeps the log applies all of it, and every
// session's client receives every event published to it. Then every key is read once more.
void Cluster::settle() {
    faulty_ = false;
    heal("settling");
    NetworkFaults calm = network_.faults();
    calm.loss = calm.duplicate = calm.reorder = 0;
    network_.set_faults(calm);
    for (uint64_t& restart_us : restart_at_us_) {
        if (restart_us != never) restart_us = now_us_;
    }
    for (size_t index = 0; index < nodes_.size(); ++index) {
        if (paused(index)) resume(index, "settling");
        if (clock_restore_at_us_[index] != never) restore_clock(index);
    }
    clients_.resume_all(now_us_);
    clients_.calm();
    clients_.stop_invoking();
    trace_.add(now_us_, "settling: links healed, crashed nodes restart, no new operations");
    const uint64_t deadline_us = now_us_ + options_.settle_limit_us;
    wait_for(
        "the cluster did not converge", [&] { return clients_.idle() && converged(); },
        deadline_us);
    wait_for(
        "sessions did not receive every event published to them",
        [&] { return clients_.idle() && converged() && events_caught_up(); }, deadline_us);
    if (!invariants_.ok()) return;
    trace_.add(now_us_, "settled: reading every key back");
    clients_.read_back(clients_.keys(), now_us_);
    wait_for(
        "the clients did not read every key back", [&] { return clients_.idle() && converged(); },
        deadline_us);
}

void Cluster::wait_for(const char* what, const std::function<bool()>& done, uint64_t deadline_us) {
    while (invariants_.ok() && !done() && now_us_ < deadline_us && step()) {
    }
    if (invariants_.ok() && !done()) {
        const Node* node = leader();
        invariants_.add(
            "liveness",
            std::string(what) + " within " + format_time(options_.settle_limit_us) +
                " of healing every fault (" +
                (node == nullptr ? std::string("no leader")
                                 : "leader n" + str(node->id()) + ", commit index " +
                                       str(node->raft().commit_index()) + ", last index " +
                                       str(node->raft().log().last_index())) +
                "; " + clients_.describe_pending() + ")");
    }
}

// Every session a client holds is live at the leader and has received every batch published to
// it so far.
bool Cluster::events_caught_up() const {
    const Node* node = leader();
    if (node == nullptr) return false;
    for (const ClientSession& session : clients_.sessions()) {
        if (!node->server().state().session_live(session.session)) return false;
        if (session.event_index != checks_.last_published(session.session)) return false;
    }
    return true;
}

// Members that keep the log (ACTIVE and PASSIVE) must end with the whole state; RESERVE members
// and those removed (inactive, or left out) keep no log and are not waited for.
bool Cluster::holds_state(const raft::Configuration& configuration, size_t index) const {
    const raft::Member* member = configuration.find(ids_[index]);
    return member != nullptr &&
           (member->type == raft::MemberType::active || member->type == raft::MemberType::passive);
}

// The leader's log is all committed (so its configuration is the committed one) and every
// member that holds state in it has applied all of it.
bool Cluster::converged() const {
    const Node* node = leader();
    if (node == nullptr) return false;
    const raft::Index commit = node->raft().commit_index();
    if (commit != node->raft().log().last_index()) return false;
    for (size_t index = 0; index < nodes_.size(); ++index) {
        if (!holds_state(node->raft().configuration(), index)) continue;
        const Node* other = nodes_[index].get();
        if (!other->up() || other->applied_index() != commit ||
            other->raft().commit_index() != commit) {
            return false;
        }
    }
    return true;
}

void Cluster::compare_states() {
    const Node& first = *leader();
    for (size_t index = 0; index < nodes_.size(); ++index) {
        const Node* node = nodes_[index].get();
        if (!holds_state(first.raft().configuration(), index)) continue;
        if (node->state_hash() != first.state_hash()) {
            invariants_.add("state machine safety",
                            "after settling at index " + str(first.applied_index()) + ", node " +
                                str(node->id()) + "'s state differs from node " + str(first.id()) +
                                "'s");
        }
    }
    trace_.add(now_us_, "settled: every member that keeps the log applied up to " +
                            str(first.applied_index()) + " (" +
                            describe_configuration(first.raft().configuration()) + ")");
    check_sessions(first);
}

// The sessions the settled leader holds have received all their events.
void Cluster::check_sessions(const Node& leader) {
    std::vector<SessionId> live;
    for (const session::SessionInfo& info : leader.server().state().sessions()) {
        live.push_back(info.id);
    }
    checks_.check_complete(live);
    collect_client_violations();
}

void Cluster::check_history() {
    const CheckResult result = check_linearizable(history_);
    if (result.verdict == Verdict::not_linearizable) {
        invariants_.add("linearizability", result.explanation());
    }
    linearizability_unknown_ = result.verdict == Verdict::unknown;
    if (linearizability_unknown_) {
        trace_.add(now_us_, "linearizability undecided: " + result.explanation());
        unknown_explanation_ = result.explanation();
    }
}

RunReport Cluster::report() {
    RunReport report;
    report.seed = options_.seed;
    report.nodes = plan_.nodes;
    report.steps = steps_;
    report.virtual_us = now_us_;
    const ClientStats& stats = clients_.stats();
    report.operations = stats.operations;
    report.ok = stats.ok;
    report.fail = stats.fail;
    report.info = stats.info;
    report.keys = stats.keys;
    report.elections = invariants_.leaders_seen();
    for (const auto& [kind, amount] : faults_) {
        const bool effect = kind == "restart" || kind == "heal" || kind == "disk_lost_writes";
        (effect ? report.effects : report.faults)[kind] = amount;
    }
    for (const auto& [kind, amount] : effects_) report.effects[kind] = amount;
    report.effects["client_attempts"] = stats.attempts;
    report.effects["client_timeouts"] = stats.timeouts;
    report.effects["client_refusals"] = stats.refusals;
    report.effects["sessions_registered"] = stats.sessions_registered;
    report.effects["sessions_ended"] = stats.sessions_expired;
    report.effects["sessions_closed_by_clients"] = stats.sessions_closed;
    report.effects["keep_alives"] = stats.keep_alives;
    report.effects["command_errors"] = stats.command_errors;
    report.effects["no_ops"] = stats.no_ops;
    report.effects["event_resets"] = stats.resets;
    report.effects["event_batches_published"] = checks_.batches_published();
    report.effects["event_batches_delivered"] = stats.events_delivered;
    report.effects["lock_grants_logged"] = checks_.grants();
    report.effects["lock_grants_learned"] = stats.lock_grants;
    report.effects["lock_grants_on_session_end"] = checks_.grants_on_close();
    report.effects["sessions_closed_in_log"] = checks_.sessions_closed();
    report.effects["client_pauses"] = stats.pauses;
    report.effects["reads_checked"] = checks_.reads_checked();
    report.effects["sequential_reads"] = stats.sequential_reads;
    const NetworkStats& network = network_.stats();
    report.faults["message_lost"] = network.lost;
    report.faults["message_duplicated"] = network.duplicated;
    report.faults["message_reordered"] = network.reordered;
    report.effects["message_cut"] = network.cut;
    report.effects["message_clogged"] = network.clogged;
    report.effects["messages_delivered"] = network.delivered;
    for (const auto& node : nodes_) {
        report.effects["snapshots_taken"] += node->snapshots_taken();
        report.effects["snapshots_installed"] += node->snapshots_installed();
    }
    report.linearizability_unknown = linearizability_unknown_;
    report.undecided = unknown_explanation_;
    report.violations = invariants_.violations();
    report.plan = describe(plan_);
    if (!report.violations.empty()) report.trace = trace_.text();
    return report;
}

}  // namespace

uint64_t RunReport::fault_total() const {
    uint64_t total = 0;
    for (const auto& [kind, amount] : faults) total += amount;
    return total;
}

RunReport run_seed(const RunOptions& options) { return Cluster(options).run(); }

std::string current_run_trace() { return running != nullptr ? running->trace_text() : ""; }

}  // namespace copycat::sim
