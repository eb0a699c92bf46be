#include "consensus/statemachine/resources/lock.h"

#include <algorithm>
#include <iterator>
#include <utility>

#include "common/assert.h"
#include "consensus/statemachine/resources/session_events.h"

namespace copycat::resources {

using statemachine::Commit;

void LockResource::configure(statemachine::Executor& executor) {
    executor_ = &executor;
    statemachine::register_command<LockAcquire>(
        executor, [this](LockAcquire op, Commit commit) { return acquire(op, std::move(commit)); });
    statemachine::register_command<LockRelease>(executor, [this](LockRelease op, Commit commit) {
        Result<LockRelease::Output> output = release(op, commit.session());
        commit.release();  // a tombstone holds no state
        return output;
    });
}

Result<LockAcquire::Output> LockResource::acquire(const LockAcquire& op, Commit commit) {
    Instance& lock = locks_[op.lock];
    const SessionId session = commit.session();
    const bool holds = lock.holder.has_value() && lock.holder->session() == session;
    const bool waits = std::any_of(lock.waiters.begin(), lock.waiters.end(),
                                   [&](const Waiter& w) { return w.request.session() == session; });
    if (holds || waits) {
        // The lock is held or waited for, so the instance is not left idle.
        return conflict("lock.acquire: session " + std::to_string(session) + " already " +
                        (holds ? "holds" : "waits for") + " lock " + op.lock);
    }
    const Index token = commit.index();
    if (!lock.holder.has_value()) {
        COPYCAT_ASSERT(lock.waiters.empty(), "a free lock has waiters: a release did not grant");
        lock.holder.emplace(std::move(commit));
        return LockAcquire::Output{LockAcquireOutcome::acquired, token};
    }
    if (op.timeout_ms == 0) return LockAcquire::Output{LockAcquireOutcome::failed, 0};

    Waiter waiter{std::move(commit), {}, 0};
    if (op.timeout_ms != LockAcquire::kWaitForever) {
        waiter.deadline_ms = executor_->context().time_ms() + op.timeout_ms;
        waiter.timeout = executor_->schedule(
            op.timeout_ms, [this, name = op.lock, token] { time_out(name, token); });
    }
    lock.waiters.push_back(std::move(waiter));
    return LockAcquire::Output{LockAcquireOutcome::queued, token};
}

Result<LockRelease::Output> LockResource::release(const LockRelease& op, SessionId session) {
    auto lock = locks_.find(op.lock);
    if (lock == locks_.end()) return LockRelease::Output{LockReleaseOutcome::not_held};
    const LockReleaseOutcome outcome = drop(op.lock, lock->second, session);
    drop_if_idle(op.lock);
    return LockRelease::Output{outcome};
}

LockReleaseOutcome LockResource::drop(const std::string& name, Instance& lock, SessionId session) {
    if (lock.holder.has_value() && lock.holder->session() == session) {
        lock.holder.reset();  // destroys the holder's request: released
        grant_next(name, lock);
        return LockReleaseOutcome::released;
    }
    auto waiter = std::find_if(lock.waiters.begin(), lock.waiters.end(),
                               [&](const Waiter& w) { return w.request.session() == session; });
    if (waiter == lock.waiters.end()) return LockReleaseOutcome::not_held;
    if (waiter->timeout.id != 0) executor_->cancel(waiter->timeout);
    lock.waiters.erase(waiter);  // destroys its request: released
    return LockReleaseOutcome::cancelled;
}

void LockResource::grant_next(const std::string& name, Instance& lock) {
    COPYCAT_ASSERT(!lock.holder.has_value(), "granting a lock that is held: two holders");
    if (lock.waiters.empty()) return;
    Waiter next = std::move(lock.waiters.front());
    lock.waiters.pop_front();
    if (next.timeout.id != 0) executor_->cancel(next.timeout);
    const Index token = next.request.index();
    const SessionId session = next.request.session();
    lock.holder.emplace(std::move(next.request));
    notify(executor_->context(), session, LockAcquired{name, token});
}

void LockResource::time_out(const std::string& name, Index token) {
    auto lock = locks_.find(name);
    COPYCAT_ASSERT(lock != locks_.end(),
                   "a lock request timed out in a lock that no longer "
                   "exists: its timeout was not cancelled");
    auto& waiters = lock->second.waiters;
    auto waiter = std::find_if(waiters.begin(), waiters.end(),
                               [&](const Waiter& w) { return w.request.index() == token; });
    COPYCAT_ASSERT(waiter != waiters.end(),
                   "a lock request timed out that no longer waits: its timeout was not "
                   "cancelled when it was granted or dropped");
    const SessionId session = waiter->request.session();
    waiters.erase(waiter);  // destroys its request: released
    notify(executor_->context(), session, LockFailed{name, token});
    drop_if_idle(name);
}

void LockResource::on_close(statemachine::Session& session) {
    for (auto lock = locks_.begin(); lock != locks_.end();) {
        drop(lock->first, lock->second, session.id());
        const bool idle = !lock->second.holder.has_value() && lock->second.waiters.empty();
        lock = idle ? locks_.erase(lock) : std::next(lock);
    }
}

void LockResource::drop_if_idle(const std::string& name) {
    auto lock = locks_.find(name);
    if (lock == locks_.end()) return;
    if (!lock->second.holder.has_value() && lock->second.waiters.empty()) locks_.erase(lock);
}

void LockResource::hash(StateHash& hash) const {
    hash.add(std::string_view("lock"));
    hash.add(static_cast<uint64_t>(locks_.size()));
    for (const auto& [name, lock] : locks_) {
        hash.add(std::string_view(name));
        hash.add(lock.holder.has_value());
        if (lock.holder.has_value()) {
            hash.add(lock.holder->session());
            hash.add(lock.holder->index());
        }
        hash.add(static_cast<uint64_t>(lock.waiters.size()));
        for (const Waiter& waiter : lock.waiters) {
            hash.add(waiter.request.session());
            hash.add(waiter.request.index());
            hash.add(waiter.deadline_ms);
        }
    }
}

}  // namespace copycat::resources
