#include "tests/sim/faults.h"

#include <algorithm>
#include <cstdio>

#include "common/assert.h"

namespace copycat::sim {

const char* fault_kind_name(FaultKind kind) {
    switch (kind) {
        case FaultKind::crash: return "crash";
        case FaultKind::crash_leader: return "crash_leader";
        case FaultKind::restart: return "restart";
        case FaultKind::partition_split: return "partition_split";
        case FaultKind::partition_isolate: return "partition_isolate";
        case FaultKind::partition_isolate_leader: return "partition_isolate_leader";
        case FaultKind::partition_one_way: return "partition_one_way";
        case FaultKind::partition_bridge: return "partition_bridge";
        case FaultKind::heal: return "heal";
        case FaultKind::clog: return "clog";
        case FaultKind::network_knobs: return "network_knobs";
        case FaultKind::pause: return "pause";
        case FaultKind::clock_jump: return "clock_jump";
        case FaultKind::client_pause: return "client_pause";
    }
    return "unknown";
}

namespace {

raft::Options draw_raft_options(Rng& rng) {
    raft::Options options;
    options.tick_ms = 10;
    options.election_timeout_ticks = static_cast<uint32_t>(rng.between(10, 20));
    options.heartbeat_interval_ticks = static_cast<uint32_t>(rng.between(2, 4));
    // Buggify: the smallest batches make every step of replication a separate message.
    options.max_append_bytes = rng.chance(0.5) ? 1 : rng.between(64, 32 * 1024);
    options.max_inflight_appends = static_cast<uint32_t>(rng.between(1, 4));
    options.pre_vote = !rng.chance(0.2);
    options.quiet_ticks_after_start = options.election_timeout_ticks;
    return options;
}

// Rates within +-4%: the lease (80% of the election timeout) keeps its margin for drift.
std::vector<NodeClock> draw_clocks(Rng& rng, int nodes, const raft::Options& options) {
    std::vector<NodeClock> clocks;
    for (int node = 0; node < nodes; ++node) {
        NodeClock clock;
        clock.rate_ppm = 1'000'000 + static_cast<int64_t>(rng.between(0, 80'000)) - 40'000;
        clock.phase_us = rng.between(0, options.tick_ms * 1000 - 1);
        clocks.push_back(clock);
    }
    return clocks;
}

DiskTiming draw_disk_timing(Rng& rng) {
    DiskTiming timing;
    timing.sync_min_us = rng.between(20, 500);
    timing.sync_max_us = timing.sync_min_us + rng.between(0, 5'000);
    timing.slow_sync_chance = rng.chance(0.5) ? rng.unit() * 0.05 : 0.0;
    timing.slow_sync_max_us = rng.between(5'000, 100'000);
    return timing;
}

ClientOptions draw_client_options(Rng& rng, const raft::Options& raft) {
    ClientOptions clients;
    clients.clients = static_cast<int>(rng.between(2, 8));
    clients.max_slots = static_cast<int>(rng.between(1, 3));
    const uint64_t election_timeout_us = raft.election_timeout_ticks * raft.tick_ms * 1000;
    // From half an election timeout (clients that leave an isolated leader before it steps
    // down) to several.
    clients.attempt_timeout_us = election_timeout_us * rng.between(3, 50) / 10;
    // Short attempts get more of them: about four election timeouts in all before giving up.
    clients.max_timeouts = static_cast<int>(
        std::min<uint64_t>(10, 3 + 4 * election_timeout_us / clients.attempt_timeout_us));
    clients.think_max_us = rng.between(1'000, 50'000);
    clients.latency_min_us = rng.between(50, 500);
    clients.latency_max_us = clients.latency_min_us + rng.between(0, 3'000);
    clients.loss = rng.chance(0.5) ? rng.unit() * 0.02 : 0.0;
    clients.lease_read_chance = rng.unit();
    clients.random_node_chance = rng.unit() * 0.4;
    return clients;
}

// From a stream of its own: what sessions add to the clients (timeouts, watches, locks,
// SEQUENTIAL reads, malformed commands) and the client pauses.
void draw_session_plan(uint64_t seed, FaultPlan& plan) {
    Rng rng(seed, "session plan");
    const uint64_t election_timeout_ms =
        uint64_t{plan.raft.election_timeout_ticks} * plan.raft.tick_ms;
    ClientOptions& clients = plan.clients;
    // From a few election timeouts (sessions that expire in long disruptions too) to many.
    clients.session_timeout_ms = election_timeout_ms * rng.between(3, 15);
    clients.sequential_read_chance = rng.chance(0.7) ? rng.unit() * 0.4 : 0.0;
    clients.watch_chance = rng.unit() * 0.6;
    clients.lock_chance = rng.unit() * 0.7;
    clients.locks = static_cast<int>(rng.between(1, 2));
    clients.lock_hold_max_us = rng.between(1'000, 200'000);
    clients.bad_command_chance = rng.chance(0.3) ? rng.unit() * 0.02 : 0.0;
    clients.close_chance = rng.chance(0.5) ? rng.unit() * 0.01 : 0.0;
    clients.batch_keep_alives = rng.chance(0.5);
    plan.sessions.min_session_timeout_ms = 50;
    plan.sessions.default_session_timeout_ms = clients.session_timeout_ms;
    plan.session_faults.pause_min_us = clients.session_timeout_ms * 1000 / 2;
    plan.session_faults.pause_max_us = clients.session_timeout_ms * 1000 * 5;
    plan.weights[static_cast<int>(FaultKind::client_pause)] = static_cast<int>(rng.between(0, 6));
}

void draw_weights(Rng& rng, FaultPlan& plan) {
    auto weight = [&](FaultKind kind, uint64_t low, uint64_t high) {
        plan.weights[static_cast<int>(kind)] = static_cast<int>(rng.between(low, high));
    };
    weight(FaultKind::crash, 0, 10);
    weight(FaultKind::crash_leader, 0, 10);
    weight(FaultKind::partition_split, 0, 10);
    weight(FaultKind::partition_isolate, 0, 6);
    weight(FaultKind::partition_isolate_leader, 0, 15);
    weight(FaultKind::partition_one_way, 0, 6);
    weight(FaultKind::partition_bridge, 0, 4);
    weight(FaultKind::heal, 2, 10);
    weight(FaultKind::clog, 0, 6);
    weight(FaultKind::network_knobs, 0, 3);
}

// Bootstrap member types: all active, or a few voters with passive and reserve members.
std::vector<raft::MemberType> draw_initial_types(Rng& rng, int nodes) {
    using raft::MemberType;
    constexpr MemberType A = MemberType::active, P = MemberType::passive, R = MemberType::reserve;
    const std::vector<std::vector<MemberType>> layouts =
        nodes == 5 ? std::vector<std::vector<MemberType>>{{A, A, A, A, A}, {A, A, A, P, R},
                                                          {A, A, A, A, P}, {A, A, A, P, P},
                                                          {A, A, A, R, R}, {A, A, A, A, R}}
                   : std::vector<std::vector<MemberType>>{{A, A, A}, {A, A, P}, {A, A, R}};
    std::vector<MemberType> types = rng.pick(layouts);
    rng.shuffle(types);
    return types;
}

MembershipPlan draw_membership_plan(uint64_t seed, int nodes) {
    Rng rng(seed, "membership plan");
    MembershipPlan plan;
    plan.initial.assign(static_cast<size_t>(nodes), raft::MemberType::active);
    plan.enabled = rng.chance(0.4);
    if (!plan.enabled) return plan;
    plan.initial = draw_initial_types(rng, nodes);
    plan.gap_min_us = rng.between(20'000, 300'000);
    plan.gap_max_us = plan.gap_min_us + rng.between(0, 1'500'000);
    plan.refresh_chance = 0.4 + rng.unit() * 0.6;
    plan.transfer_chance = rng.unit() * 0.4;
    return plan;
}

// From a stream of its own: the weights of pauses and clock jumps, and their spans.
void draw_clock_faults(uint64_t seed, bool unsafe_clock_skew, FaultPlan& plan) {
    Rng rng(seed, "clock fault plan");
    const uint64_t election_timeout_us =
        uint64_t{plan.raft.election_timeout_ticks} * plan.raft.tick_ms * 1000;
    ClockFaultPlan& clock = plan.clock_faults;
    clock.pause_min_us = election_timeout_us / 2;
    clock.pause_max_us = election_timeout_us * 3;
    clock.pause_leader_chance = 0.3 + rng.unit() * 0.6;
    clock.jump_min_us = election_timeout_us;
    clock.jump_max_us = election_timeout_us * rng.between(2, 10);
    plan.weights[static_cast<int>(FaultKind::pause)] = static_cast<int>(rng.between(0, 8));
    plan.weights[static_cast<int>(FaultKind::clock_jump)] = static_cast<int>(rng.between(0, 6));
    clock.unsafe_clock_skew = unsafe_clock_skew;
    if (unsafe_clock_skew) {
        plan.weights[static_cast<int>(FaultKind::clock_jump)] = 12;
        clock.jump_min_us = election_timeout_us * 3;
        clock.jump_max_us = election_timeout_us * 6;
    }
}

}  // namespace

NetworkFaults draw_network_faults(Rng& rng) {
    NetworkFaults faults;
    faults.latency_min_us = rng.between(50, 1'000);
    faults.latency_max_us = faults.latency_min_us + rng.between(0, 10'000);
    faults.loss = rng.chance(0.6) ? rng.unit() * 0.1 : 0.0;
    faults.duplicate = rng.chance(0.4) ? rng.unit() * 0.05 : 0.0;
    faults.reorder = rng.chance(0.5) ? rng.unit() * 0.2 : 0.0;
    faults.reorder_delay_max_us = rng.between(1'000, 100'000);
    return faults;
}

std::optional<CompactionDraw> compaction_draw(const std::string& name) {
    if (name == "off") return CompactionDraw{};
    if (name == "memory") return CompactionDraw{true, false};
    if (name == "disk") return CompactionDraw{false, true};
    if (name == "both") return CompactionDraw{true, true};
    return std::nullopt;
}

FaultPlan draw_fault_plan(uint64_t seed, int nodes, bool unsafe_clock_skew,
                          CompactionDraw compaction) {
    COPYCAT_ASSERT(nodes == 0 || nodes == 3 || nodes == 5, "a simulated cluster has 3 or 5 nodes");
    Rng rng(seed, "fault plan");
    FaultPlan plan;
    plan.nodes = nodes != 0 ? nodes : (rng.chance(0.5) ? 3 : 5);
    plan.raft = draw_raft_options(rng);
    plan.clocks = draw_clocks(rng, plan.nodes, plan.raft);
    plan.disk = draw_disk_timing(rng);
    plan.network = draw_network_faults(rng);
    plan.clients = draw_client_options(rng, plan.raft);
    plan.fault_gap_min_us = rng.between(20'000, 300'000);
    plan.fault_gap_max_us = plan.fault_gap_min_us + rng.between(0, 1'500'000);
    plan.down_min_us = rng.between(1'000, 100'000);
    plan.down_max_us = plan.down_min_us + rng.between(0, 3'000'000);
    plan.partition_min_us = rng.between(10'000, 300'000);
    plan.partition_max_us = plan.partition_min_us + rng.between(0, 3'000'000);
    plan.torn_tail_chance = rng.unit();
    draw_weights(rng, plan);
    plan.crash_point_chance = rng.chance(0.5) ? rng.unit() * 0.03 : 0.0;
    plan.crash_point_down_max_us = rng.between(1'000, 200'000);
    plan.snapshot_every_entries = rng.chance(0.6) ? rng.between(10, 300) : 0;
    // Drawn from their own stream, so that switching compaction on leaves the rest of the
    // seed's plan as it was.
    Rng compaction_rng(seed, "compaction");
    const uint64_t memory_every = compaction_rng.between(1, 200);
    const uint64_t disk_every = compaction_rng.between(1, 300);
    const bool suspend = compaction_rng.chance(0.4);
    const uint64_t suspend_ticks = compaction_rng.between(50, 600);
    plan.compact_log_every_entries = compaction.memory ? memory_every : 0;
    plan.disk_compact_every_entries = compaction.disk ? disk_every : 0;
    // Drawn last, so that the draws before it are those of earlier versions of the simulator.
    plan.disk_segment_entries = compaction_rng.between(1, 40);
    // Sometimes a member silent for a while stops holding the global index back, so that one
    // coming back behind it must reset (Raft::must_reset); else the default hour.
    if ((compaction.memory || compaction.disk) && suspend) {
        plan.raft.global_suspend_ticks = suspend_ticks;
    }
    plan.membership = draw_membership_plan(seed, plan.nodes);
    draw_clock_faults(seed, unsafe_clock_skew, plan);
    draw_session_plan(seed, plan);
    return plan;
}

FaultKind draw_fault_kind(const FaultPlan& plan, Rng& rng) {
    int total = 0;
    for (const int weight : plan.weights) total += weight;
    if (total == 0) return FaultKind::heal;
    int choice = static_cast<int>(rng.uniform(static_cast<uint64_t>(total)));
    for (int kind = 0; kind < fault_kind_count; ++kind) {
        if (choice < plan.weights[kind]) return static_cast<FaultKind>(kind);
        choice -= plan.weights[kind];
    }
    return FaultKind::heal;
}

namespace {

std::string describe_membership(const MembershipPlan& plan) {
    if (!plan.enabled) return "";
    std::string text = "; membership changes every " + std::to_string(plan.gap_min_us) + "-" +
                       std::to_string(plan.gap_max_us) + " us, members";
    for (size_t node = 0; node < plan.initial.size(); ++node) {
        text += " n" + std::to_string(node + 1) + " " + raft::member_type_name(plan.initial[node]);
    }
    return text;
}

}  // namespace

std::string describe(const FaultPlan& plan) {
    char text[512];
    std::snprintf(
        text, sizeof text,
        "plan: %d nodes; election timeout %u ticks, heartbeat %u, max append bytes %zu, "
        "inflight %u, pre-vote %s; fsync %llu-%llu us; latency %llu-%llu us, loss %.3f, "
        "duplicate %.3f, reorder %.3f; %d clients; fault gap %llu-%llu us; snapshot every %llu; "
        "compaction every %llu (memory), %llu (disk); global suspend %llu ticks",
        plan.nodes, plan.raft.election_timeout_ticks, plan.raft.heartbeat_interval_ticks,
        plan.raft.max_append_bytes, plan.raft.max_inflight_appends,
        plan.raft.pre_vote ? "on" : "off", static_cast<unsigned long long>(plan.disk.sync_min_us),
        static_cast<unsigned long long>(plan.disk.sync_max_us),
        static_cast<unsigned long long>(plan.network.latency_min_us),
        static_cast<unsigned long long>(plan.network.latency_max_us), plan.network.loss,
        plan.network.duplicate, plan.network.reorder, plan.clients.clients,
        static_cast<unsigned long long>(plan.fault_gap_min_us),
        static_cast<unsigned long long>(plan.fault_gap_max_us),
        static_cast<unsigned long long>(plan.snapshot_every_entries),
        static_cast<unsigned long long>(plan.compact_log_every_entries),
        static_cast<unsigned long long>(plan.disk_compact_every_entries),
        static_cast<unsigned long long>(plan.raft.global_suspend_ticks));
    std::string clock_faults =
        "; pause weight " + std::to_string(plan.weights[static_cast<int>(FaultKind::pause)]) +
        ", clock jump weight " +
        std::to_string(plan.weights[static_cast<int>(FaultKind::clock_jump)]);
    const ClientOptions& clients = plan.clients;
    char sessions[320];
    std::snprintf(sessions, sizeof sessions,
                  "; sessions: timeout %llu ms, slots up to %d, watch %.2f, locks %.2f (%d), "
                  "sequential reads %.2f, bad commands %.3f, closes %.3f, keep-alives %s, "
                  "client pause weight %d",
                  static_cast<unsigned long long>(clients.session_timeout_ms), clients.max_slots,
                  clients.watch_chance, clients.lock_chance, clients.locks,
                  clients.sequential_read_chance, clients.bad_command_chance, clients.close_chance,
                  clients.batch_keep_alives ? "batched" : "per client",
                  plan.weights[static_cast<int>(FaultKind::client_pause)]);
    clock_faults += sessions;
    if (plan.clock_faults.unsafe_clock_skew) clock_faults += " (UNSAFE clock skew)";
    return text + describe_membership(plan.membership) + clock_faults;
}

}  // namespace copycat::sim
