// The fault plan of a run, drawn from its seed: the cluster's size and Raft options (with
// "buggify" choices that push rare paths: one entry per AppendRequest, a single append in
// flight, no pre-vote), each node's clock skew, the disks' fsync latency and stalls, the
// network's latency, loss, duplication and reordering, the clients, and how often and how hard
// the fault schedule strikes (crashes, torn tails, partitions of every kind, clogged links).
// The schedule itself (which fault when) is drawn as the run goes, by the cluster, from the
// plan's weights.
//
// Membership (TESTING.md #7), in a fraction of the plans, drawn from streams of its own so that
// the plans without it are those of before: some members start PASSIVE or RESERVE, and an
// operator asks the leader, at random moments, for single-server changes (promote, demote,
// remove, add back) with the configuration index it last saw, and for leadership transfers.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "consensus/raft/raft.h"
#include "consensus/session/server_state_machine.h"
#include "tests/sim/client.h"
#include "tests/sim/disk.h"
#include "tests/sim/network.h"
#include "tests/sim/node.h"

namespace copycat::sim {

enum class FaultKind {
    crash,
    crash_leader,
    restart,
    partition_split,           // a minority cut from the majority, both ways
    partition_isolate,         // one node cut from all
    partition_isolate_leader,  // the leader cut from all (its clients still reach it)
    partition_one_way,         // a group cannot send to the rest, but hears them
    partition_bridge,          // overlapping majorities: a ring (5 nodes) or a bridge (3)
    heal,
    clog,           // one link holds its messages for a while
    network_knobs,  // loss, duplication and reordering redrawn
    pause,          // a node (often the leader) stops, like SIGSTOP, for a while
    clock_jump,     // a node's clock rate changes for a while (within the bound, +-10%)
    client_pause,   // a client stops, like SIGSTOP, often past its session timeout
};
constexpr int fault_kind_count = 14;
const char* fault_kind_name(FaultKind kind);

struct MembershipPlan {
    bool enabled = false;
    std::vector<raft::MemberType> initial;  // by node ([0] is node 1): the bootstrap types
    uint64_t gap_min_us = 100'000;          // between two requests of the operator
    uint64_t gap_max_us = 1'000'000;
    double refresh_chance = 0.7;   // the operator re-reads the configuration before a change
    double transfer_chance = 0.2;  // a request is a leadership transfer
};

// Pauses and clock jumps (TESTING.md #2: lease reads under clock drift or pause), drawn from a
// stream of their own so that the rest of the plan is that of before.
//  - pause: a node stops (SIGSTOP) for pause_min_us..pause_max_us of virtual time (0.5 to 3
//    election timeouts); its input queues and is delivered when it resumes, after the ticks
//    its clock says elapsed meanwhile.
//  - clock jump: a node's clock runs at 1 +- jump_max_ppm (at most 10%: within the lease's
//    margin of 1 - lease_fraction = 20%) for jump_min_us..jump_max_us, then at its own rate.
//  - unsafe_clock_skew (--unsafe-clock-skew only): a negative control beyond the bound; a
//    clock jump makes the leader's clock run at unsafe_rate_ppm (50% slow) and isolates it
//    from the other nodes (its clients still reach it), so that its lease outlives the
//    followers' election timeouts: the read-safety and linearizability checks must catch it.
struct ClockFaultPlan {
    uint64_t pause_min_us = 0;
    uint64_t pause_max_us = 0;
    double pause_leader_chance = 0.6;
    int64_t jump_max_ppm = 100'000;
    uint64_t jump_min_us = 0;
    uint64_t jump_max_us = 0;
    bool unsafe_clock_skew = false;
    int64_t unsafe_rate_ppm = 500'000;
};

// Sessions (TESTING.md #6), from a stream of their own: the session timeout clients ask for,
// and pauses of clients (a stopped process) of pause_min_us..pause_max_us, from half to five
// times the session timeout, so that many outlast it and the leader expires the session (unless
// an election meanwhile restarts every session's timeout). Half of the pauses stop a client that
// holds a lock, when there is one: its expiry must pass the lock on.
struct SessionPlan {
    uint64_t pause_min_us = 0;
    uint64_t pause_max_us = 0;
};

struct FaultPlan {
    int nodes = 3;
    raft::Options raft;
    session::ServerStateMachineOptions sessions;
    SessionPlan session_faults;
    std::vector<NodeClock> clocks;  // by node, [0] is node 1
    DiskTiming disk;
    NetworkFaults network;
    ClientOptions clients;
    uint64_t fault_gap_min_us = 100'000;  // between two scheduled faults
    uint64_t fault_gap_max_us = 1'000'000;
    uint64_t down_min_us = 10'000;  // how long a crashed node stays down
    uint64_t down_max_us = 2'000'000;
    uint64_t partition_min_us = 50'000;
    uint64_t partition_max_us = 2'000'000;
    double torn_tail_chance = 0.3;
    // Crash points (etcd's failpoints, inside the simulator): right after a node grants a
    // vote, acknowledges entries, or (a leader) advances its commit index, it crashes with
    // this chance, before anything more is synced, and restarts soon after.
    double crash_point_chance = 0.0;
    // Each node snapshots its state machine every this many applied entries (0: never), so
    // that leaders compact their logs and send snapshots to followers behind.
    uint64_t snapshot_every_entries = 0;
    // Log compaction: Raft's in-memory log drops released entries each time this many entries
    // applied (0: never), and each disk compacts (as copycat-compactor) each time its node
    // applied this many (0: never).
    uint64_t compact_log_every_entries = 0;
    uint64_t disk_compact_every_entries = 0;
    // A disk's active segment is sealed once it holds this many entries: compaction and the
    // releases it acts on stop at the sealed part (session::DiskReleases).
    uint64_t disk_segment_entries = 1;
    uint64_t crash_point_down_max_us = 20'000;
    int weights[fault_kind_count] = {};  // by FaultKind; restart is scheduled, weight unused
    MembershipPlan membership;
    ClockFaultPlan clock_faults;
};

// nodes: 3 or 5, or 0 to draw it from the seed. unsafe_clock_skew: the negative control of
// ClockFaultPlan (never in ctest or default runs).
// Which log compaction a seed may draw (--compaction).
struct CompactionDraw {
    bool memory = false;
    bool disk = false;
};
std::optional<CompactionDraw> compaction_draw(const std::string& name);
FaultPlan draw_fault_plan(uint64_t seed, int nodes, bool unsafe_clock_skew = false,
                          CompactionDraw compaction = {});
// Fresh network knobs within the plan's style (for FaultKind::network_knobs).
NetworkFaults draw_network_faults(Rng& rng);
// One line for the trace.
std::string describe(const FaultPlan& plan);
FaultKind draw_fault_kind(const FaultPlan& plan, Rng& rng);

}  // namespace copycat::sim
