// CoordinationStateMachine: the built-in resources in one state machine, the one copycat runs
// by default. Many named instances of each kind (ops.h): maps (keys with versions, TTLs and
// watches), counters, fair locks, leader elections and membership groups. An instance is
// created by the first operation that names it and dropped when nothing is left in it.
//
// Not snapshottable: its log is compacted incrementally, through releases (copycat.md §2.4).
// Every command says its compaction mode (overwrites RELEASE, removals TOMBSTONE, TTL writes
// EXPIRING); a command's Commit is held exactly while the entry still contributes to state,
// and released (destroyed) as soon as it does not. Each resource's header says what it holds
// and why, and the known limits.
//
// Sessions: when a session ends (closed or expired) its watches end, its locks pass to their
// next waiters, its candidacies end (electing successors) and its members leave their groups,
// at the index where it ended, on every server.
//
// Called by the session layer only (configure once, then commands, queries and session
// callbacks, one at a time). digest() may be called between them by anyone.
#pragma once

#include <cstdint>
#include <memory>

#include "consensus/statemachine/resources/counter.h"
#include "consensus/statemachine/resources/election.h"
#include "consensus/statemachine/resources/group.h"
#include "consensus/statemachine/resources/lock.h"
#include "consensus/statemachine/resources/map.h"
#include "consensus/statemachine/state_machine.h"

namespace copycat::resources {

class CoordinationStateMachine final : public statemachine::StateMachine {
public:
    void configure(statemachine::Executor& executor) override;
    void on_close(statemachine::Session& session) override;

    // A hash of the whole state: equal on servers that applied the same entries, different
    // (but for hash collisions) when any key, value, version, TTL, watch, counter, holder,
    // waiter, candidate or member differs.
    uint64_t digest() const;
    // Live instances over all kinds (a map, a counter, a lock... each count one).
    size_t instance_count() const;

private:
    MapResource maps_;
    CounterResource counters_;
    LockResource locks_;
    ElectionResource elections_;
    GroupResource groups_;
};

// For the consensus executable (statemachine::StateMachineFactory).
std::unique_ptr<statemachine::StateMachine> make_coordination_state_machine();

}  // namespace copycat::resources
