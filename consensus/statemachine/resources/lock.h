// LockResource: the "lock.*" operations (ops.h) over many named fair locks. Part of
// CoordinationStateMachine, which forwards session ends to it.
//
// Promises: at most one holder per lock (asserted); waiters are granted in the order their
// requests were applied; a holder's session ending (expiry or close) releases its lock and a
// waiter's session ending drops its request, both at the index where the session ended; a
// waiter with a timeout is dropped, and told by a LockFailed event, once log time reaches its
// request's time + timeout_ms. Fencing tokens are request indexes: successive holders of a lock
// have strictly increasing tokens, because requests are granted in index order.
//
// Compaction: a request's Commit is held while it holds or waits; lock.release (TOMBSTONE) is
// released at once and releases the request it ends; a try that found the lock held, and a
// timed-out request, are released then. Everything is keyed by session, so a replay of a
// compacted log that lost a request is corrected by the release or session end after it.
// Known limit (copycat's as well): a try (or timed request) that failed because of a holder
// whose request compaction removed, while the failed request itself is still in the log, is
// granted in a replay; incremental compaction cannot record why a request failed.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>

#include "consensus/statemachine/resources/ops.h"
#include "consensus/statemachine/resources/state_hash.h"
#include "consensus/statemachine/state_machine.h"

namespace copycat::resources {

class LockResource {
public:
    LockResource() = default;
    // Scheduled timeouts point at this object: it never moves.
    LockResource(const LockResource&) = delete;
    LockResource& operator=(const LockResource&) = delete;

    // Registers lock.*; the executor must outlive this object.
    void configure(statemachine::Executor& executor);
    // Releases the session's locks (granting them to their next waiters) and drops its
    // requests.
    void on_close(statemachine::Session& session);

    void hash(StateHash& hash) const;
    size_t instance_count() const { return locks_.size(); }

private:
    struct Waiter {
        statemachine::Commit request;
        statemachine::ScheduledHandle timeout;
        uint64_t deadline_ms = 0;  // log time; 0: waits until granted or its session ends
    };
    struct Instance {
        std::optional<statemachine::Commit> holder;  // the holder's request
        std::deque<Waiter> waiters;                  // in request order
    };

    Result<LockAcquire::Output> acquire(const LockAcquire& op, statemachine::Commit commit);
    Result<LockRelease::Output> release(const LockRelease& op, SessionId session);
    void time_out(const std::string& name, Index token);
    // Grants a free lock to its first waiter, if any, and tells it.
    void grant_next(const std::string& name, Instance& lock);
    // Drops the session's request from the lock; what happened to it.
    LockReleaseOutcome drop(const std::string& name, Instance& lock, SessionId session);
    void drop_if_idle(const std::string& name);

    statemachine::Executor* executor_ = nullptr;
    std::map<std::string, Instance> locks_;
};

}  // namespace copycat::resources
