// SnapshotResources: the map and lock resources as a state machine that takes snapshots, for
// the simulator's seeds with snapshots. The built-in CoordinationStateMachine compacts its log
// through releases and never takes a snapshot, so a cluster of it never exercises the snapshot
// paths of the Raft core (taking, sending in chunks, installing: FINDINGS.md 2) or of the session
// layer (its session table, result cache and pending events in a snapshot). In those seeds the
// nodes run this one instead: the same operations and events (resources/ops.h: map.put, map.cas,
// map.remove, map.get, map.watch, map.unwatch; lock.acquire with try, timeout or waiting
// forever, lock.release; map.changed, lock.acquired, lock.failed), the same promises (FIFO locks
// with fencing tokens = request indexes, a session's locks and watches end with it), so the
// clients and every check stay the same. TTLs are not supported (refused): the clients use none.
//
// It holds the commits its state depends on, as the built-in resources do (the operations'
// compaction modes say so: RELEASE for writes, watches and lock requests), so that compaction
// of released entries runs in these seeds too: a key's writes until a put or remove replaces
// them (a successful cas keeps the writes before it), a watch until it ends, a lock request
// while it holds or waits. What a snapshot restored has no commits: the snapshot covers them.
//
// Timeouts of waiting lock requests are kept as absolute log times, so that install()
// re-creates them due at the same log time, in the order they were first scheduled (request
// index), as a server that applied the entries has them.
//
// Only the simulator uses it. Called by the session layer only, one call at a time.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <tuple>
#include <vector>

#include "consensus/statemachine/resources/ops.h"
#include "consensus/statemachine/state_machine.h"

namespace copycat::sim {

class SnapshotResources final : public statemachine::StateMachine {
public:
    void configure(statemachine::Executor& executor) override;
    bool snapshottable() const override { return true; }
    statemachine::Bytes snapshot() const override;
    Status install(std::span<const uint8_t> snapshot) override;
    void on_close(statemachine::Session& session) override;

    // A hash of the whole state, equal on servers that applied the same entries.
    uint64_t digest() const;

private:
    struct Value {
        statemachine::Bytes value;
        statemachine::Index version = 0;
        std::vector<statemachine::Commit> writes;  // what the value depends on
    };
    using Watch = std::tuple<statemachine::SessionId, std::string, std::string, bool>;
    struct Waiter {
        statemachine::SessionId session = 0;
        statemachine::Index token = 0;
        uint64_t deadline_ms = 0;  // log time; 0: waits until granted or its session ends
        statemachine::ScheduledHandle timeout;
        std::optional<statemachine::Commit> request;  // none: restored from a snapshot
    };
    struct Lock {
        statemachine::SessionId holder = 0;  // 0: free
        statemachine::Index token = 0;
        std::optional<statemachine::Commit> request;  // the holder's; none: from a snapshot
        std::deque<Waiter> waiters;
    };

    void register_map();
    void register_watches();
    void register_locks();
    void write(const std::string& map, const std::string& key, statemachine::Bytes value,
               statemachine::Commit commit, bool keep_chain);
    void tell_watchers(const resources::MapChanged& event);
    const Value* find(const std::string& map, const std::string& key) const;
    Result<resources::LockAcquire::Output> acquire(const resources::LockAcquire& op,
                                                   statemachine::Commit commit);
    resources::LockReleaseOutcome drop(const std::string& name, statemachine::SessionId session);
    void grant_next(const std::string& name, Lock& lock);
    void time_out(const std::string& name, statemachine::Index token);
    void schedule_timeout(const std::string& name, Waiter& waiter, uint64_t delay_ms);

    statemachine::Executor* executor_ = nullptr;
    std::map<std::string, std::map<std::string, Value>> maps_;
    std::map<Watch, std::optional<statemachine::Commit>> watches_;  // none: from a snapshot
    std::map<std::string, Lock> locks_;
};

}  // namespace copycat::sim
