// One simulation run: a whole cluster in one process, from one seed.
//
// The run draws its fault plan (faults.h) from the seed, starts 3 or 5 nodes (node.h: the server
// core, session::SessionServer with the built-in resources) on empty disks with the same
// bootstrap configuration, starts the session clients (client.h), and then takes steps: each
// step is the earliest event of virtual time (a fault, a disk sync, a message arriving, a client
// event or a node's clock tick), followed by the invariants (invariants.h, and the session checks
// of session_checks.h fed by what each node's state machine did, observer.h). After the given
// number of steps it heals everything (links, client links, knobs, crashed nodes, paused nodes
// and clients), stops new client operations and lets the cluster settle until every node has
// applied the leader's whole committed log, the clients have finished what they started, and
// every session has received every event published to it (keep-alives go on); then every key is
// read back, the states compared, the event streams checked complete, and the client history
// checked for linearizability. The first violation ends the run; the report then carries the
// trace.
//
// With membership in the plan, members may start PASSIVE or RESERVE, and an operator asks the
// leader (as an administrative client would) for single-server changes and leadership transfers
// until healing; at the end only the members that keep the log (ACTIVE and PASSIVE in the
// leader's committed configuration) must have applied it all and hold the same state.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "tests/sim/faults.h"
#include "tests/sim/invariants.h"

namespace copycat::sim {

struct RunOptions {
    uint64_t seed = 1;
    int nodes = 0;           // 3 or 5; 0 draws it from the seed
    uint64_t steps = 40000;  // steps with faults, before healing
    uint64_t settle_limit_us = 60'000'000;
    size_t trace_lines = 600;
    bool verbose = false;  // print every trace line as it happens
    // Also check the promises behind the end results: durable votes and commits, commit
    // safety, read safety (invariants.h). Off: end results only (--checks end-to-end).
    bool promise_checks = true;
    // The negative control of the clock faults (faults.h, ClockFaultPlan): clock jumps beyond
    // the lease's bound. Never in ctest or default runs; success is a violation.
    bool unsafe_clock_skew = false;
    CompactionDraw compaction;  // --compaction
};

struct RunReport {
    uint64_t seed = 0;
    int nodes = 0;
    uint64_t steps = 0;  // all steps, settling included
    uint64_t virtual_us = 0;
    uint64_t operations = 0;  // client operations invoked
    uint64_t ok = 0;
    uint64_t fail = 0;
    uint64_t info = 0;
    uint64_t elections = 0;  // leaders seen: distinct (term, leader)
    // Faults injected, by kind: crashes, torn tails, partitions, clogs, knob changes, and the
    // messages lost, duplicated and reordered.
    std::map<std::string, uint64_t> faults;
    // What they caused, and recoveries: messages cut or held by partitions and clogs, unsynced
    // writes lost, heals, restarts, messages delivered.
    std::map<std::string, uint64_t> effects;
    uint64_t keys = 0;
    bool linearizability_unknown = false;  // the checker's budget ran out on a key
    std::string undecided;                 // the checker's explanation then
    std::vector<Violation> violations;
    std::string plan;   // the fault plan, one line
    std::string trace;  // the last events, when there is a violation

    bool ok_run() const { return violations.empty(); }
    uint64_t fault_total() const;
};

RunReport run_seed(const RunOptions& options);

// The trace of the run in progress, or empty: for a last word when an assertion aborts the
// process in the middle of a run (the Raft core asserts its own invariants).
std::string current_run_trace();

}  // namespace copycat::sim
