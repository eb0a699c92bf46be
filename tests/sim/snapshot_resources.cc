#include "tests/sim/snapshot_resources.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "common/assert.h"
#include "consensus/statemachine/operation.h"
#include "consensus/statemachine/resources/session_events.h"
#include "consensus/statemachine/resources/state_hash.h"

namespace copycat::sim {
namespace {

using namespace resources;
using statemachine::Bytes;
using statemachine::Commit;
using statemachine::Index;
using statemachine::SessionId;

// The snapshot's layout, in the codec of operation.h.
struct KeyState {
    std::string map;
    std::string key;
    Bytes value;
    uint64_t version = 0;
    static auto fields(auto& s) { return std::tie(s.map, s.key, s.value, s.version); }
};
struct WatchState {
    uint64_t session = 0;
    std::string map;
    std::string key;
    bool prefix = false;
    static auto fields(auto& s) { return std::tie(s.session, s.map, s.key, s.prefix); }
};
struct WaiterState {
    uint64_t session = 0;
    uint64_t token = 0;
    uint64_t deadline_ms = 0;
    static auto fields(auto& s) { return std::tie(s.session, s.token, s.deadline_ms); }
};
struct LockState {
    std::string lock;
    uint64_t holder = 0;
    uint64_t token = 0;
    std::vector<WaiterState> waiters;
    static auto fields(auto& s) { return std::tie(s.lock, s.holder, s.token, s.waiters); }
};
struct SnapshotState {
    std::vector<KeyState> keys;
    std::vector<WatchState> watches;
    std::vector<LockState> locks;
    static auto fields(auto& s) { return std::tie(s.keys, s.watches, s.locks); }
};

Status no_ttl(uint64_t ttl_ms) {
    if (ttl_ms == 0) return Status::ok();
    return invalid_argument("the simulator's snapshot resources take no TTLs");
}

}  // namespace

void SnapshotResources::configure(statemachine::Executor& executor) {
    executor_ = &executor;
    register_map();
    register_watches();
    register_locks();
}

void SnapshotResources::register_map() {
    statemachine::register_command<MapPut>(
        *executor_, [this](MapPut op, Commit commit) -> Result<MapPut::Output> {
            COPYCAT_RETURN_IF_ERROR(no_ttl(op.ttl_ms));
            const Value* old = find(op.map, op.key);
            MapPut::Output output{old != nullptr ? std::optional<Bytes>(old->value) : std::nullopt,
                                  commit.index()};
            write(op.map, op.key, std::move(op.value), std::move(commit), false);
            return output;
        });
    statemachine::register_command<MapCas>(
        *executor_, [this](MapCas op, Commit commit) -> Result<MapCas::Output> {
            COPYCAT_RETURN_IF_ERROR(no_ttl(op.ttl_ms));
            const Value* current = find(op.map, op.key);
            const bool matches =
                current == nullptr ? !op.expected.has_value() : op.expected == current->value;
            if (!matches) {
                if (current == nullptr) return MapCas::Output{false, std::nullopt, 0};
                return MapCas::Output{false, current->value, current->version};
            }
            MapCas::Output output{true, op.value, commit.index()};
            // The writes it replaced stay: a replay without them would find the cas fails.
            const bool keep_chain = current != nullptr;
            write(op.map, op.key, std::move(op.value), std::move(commit), keep_chain);
            return output;
        });
    statemachine::register_command<MapRemove>(
        *executor_, [this](MapRemove op, Commit commit) -> Result<MapRemove::Output> {
            auto map = maps_.find(op.map);
            if (map == maps_.end() || !map->second.contains(op.key)) return MapRemove::Output{};
            MapRemove::Output output{std::move(map->second.at(op.key).value)};
            map->second.erase(op.key);  // destroys the writes' commits: released
            if (map->second.empty()) maps_.erase(map);
            tell_watchers({op.map, op.key, MapChange::removed, std::nullopt, commit.index()});
            return output;
        });
    statemachine::register_query<MapGet>(
        *executor_, [this](const MapGet& op, const Commit&) -> Result<MapGet::Output> {
            const Value* value = find(op.map, op.key);
            if (value == nullptr) return MapGet::Output{};
            return MapGet::Output{value->value, value->version};
        });
}

void SnapshotResources::register_watches() {
    statemachine::register_command<MapWatch>(
        *executor_, [this](MapWatch op, Commit commit) -> Result<MapWatch::Output> {
            Watch watch{commit.session(), op.map, op.key, op.prefix};
            // try_emplace leaves `commit` alone when the watch exists: released on return.
            const bool added = watches_.try_emplace(std::move(watch), std::move(commit)).second;
            return MapWatch::Output{added};
        });
    statemachine::register_command<MapUnwatch>(
        *executor_, [this](MapUnwatch op, Commit commit) -> Result<MapUnwatch::Output> {
            const bool removed = watches_.erase({commit.session(), op.map, op.key, op.prefix}) > 0;
            return MapUnwatch::Output{removed};
        });
}

void SnapshotResources::register_locks() {
    statemachine::register_command<LockAcquire>(*executor_, [this](LockAcquire op, Commit commit) {
        return acquire(op, std::move(commit));
    });
    statemachine::register_command<LockRelease>(
        *executor_, [this](LockRelease op, Commit commit) -> Result<LockRelease::Output> {
            const LockReleaseOutcome outcome = drop(op.lock, commit.session());
            return LockRelease::Output{outcome};
        });
}

const SnapshotResources::Value* SnapshotResources::find(const std::string& map,
                                                        const std::string& key) const {
    const auto found = maps_.find(map);
    if (found == maps_.end()) return nullptr;
    const auto value = found->second.find(key);
    return value == found->second.end() ? nullptr : &value->second;
}

void SnapshotResources::write(const std::string& map, const std::string& key, Bytes value,
                              Commit commit, bool keep_chain) {
    const Index index = commit.index();
    Value& target = maps_[map][key];
    // Clearing the chain destroys the commits of the writes it replaces: they are released.
    if (!keep_chain) target.writes.clear();
    target.writes.push_back(std::move(commit));
    target.value = value;
    target.version = index;
    tell_watchers({map, key, MapChange::written, std::move(value), index});
}

void SnapshotResources::tell_watchers(const MapChanged& event) {
    std::set<SessionId> told;  // one event per session, however many of its watches match
    for (const auto& [watch, commit] : watches_) {
        const auto& [session, map, key, prefix] = watch;
        const bool matches =
            map == event.map && (prefix ? event.key.starts_with(key) : event.key == key);
        if (!matches || !told.insert(session).second) continue;
        notify(executor_->context(), session, event);
    }
}

// --- locks -----------------------------------------------------------------------------------

Result<LockAcquire::Output> SnapshotResources::acquire(const LockAcquire& op, Commit commit) {
    const SessionId session = commit.session();
    const Index index = commit.index();
    Lock& lock = locks_[op.lock];
    const bool waits = std::any_of(lock.waiters.begin(), lock.waiters.end(),
                                   [&](const Waiter& w) { return w.session == session; });
    if (lock.holder == session || waits) {
        return conflict("lock.acquire: session " + std::to_string(session) + " already " +
                        (waits ? "waits for" : "holds") + " lock " + op.lock);
    }
    if (lock.holder == 0) {
        lock.holder = session;
        lock.token = index;
        lock.request.emplace(std::move(commit));
        return LockAcquire::Output{LockAcquireOutcome::acquired, index};
    }
    if (op.timeout_ms == 0) return LockAcquire::Output{LockAcquireOutcome::failed, 0};
    Waiter& waiter = lock.waiters.emplace_back(Waiter{session, index, 0, {}, std::move(commit)});
    if (op.timeout_ms != LockAcquire::kWaitForever) {
        waiter.deadline_ms = executor_->context().time_ms() + op.timeout_ms;
        schedule_timeout(op.lock, waiter, op.timeout_ms);
    }
    return LockAcquire::Output{LockAcquireOutcome::queued, index};
}

void SnapshotResources::schedule_timeout(const std::string& name, Waiter& waiter,
                                         uint64_t delay_ms) {
    waiter.timeout = executor_->schedule(
        delay_ms, [this, name, token = waiter.token] { time_out(name, token); });
}

LockReleaseOutcome SnapshotResources::drop(const std::string& name, SessionId session) {
    auto found = locks_.find(name);
    if (found == locks_.end()) return LockReleaseOutcome::not_held;
    Lock& lock = found->second;
    LockReleaseOutcome outcome = LockReleaseOutcome::not_held;
    if (lock.holder == session) {
        lock.holder = 0;
        lock.request.reset();  // released
        grant_next(name, lock);
        outcome = LockReleaseOutcome::released;
    } else if (auto waiter = std::find_if(lock.waiters.begin(), lock.waiters.end(),
                                          [&](const Waiter& w) { return w.session == session; });
               waiter != lock.waiters.end()) {
        if (waiter->timeout.id != 0) executor_->cancel(waiter->timeout);
        lock.waiters.erase(waiter);
        outcome = LockReleaseOutcome::cancelled;
    }
    if (lock.holder == 0 && lock.waiters.empty()) locks_.erase(found);
    return outcome;
}

void SnapshotResources::grant_next(const std::string& name, Lock& lock) {
    COPYCAT_ASSERT(lock.holder == 0, "granting a lock that is held: two holders");
    if (lock.waiters.empty()) return;
    Waiter next = std::move(lock.waiters.front());
    lock.waiters.pop_front();
    if (next.timeout.id != 0) executor_->cancel(next.timeout);
    lock.holder = next.session;
    lock.token = next.token;
    lock.request = std::move(next.request);
    notify(executor_->context(), next.session, LockAcquired{name, next.token});
}

void SnapshotResources::time_out(const std::string& name, Index token) {
    auto found = locks_.find(name);
    COPYCAT_ASSERT(found != locks_.end(), "a lock request timed out in a lock that is gone");
    auto& waiters = found->second.waiters;
    auto waiter = std::find_if(waiters.begin(), waiters.end(),
                               [&](const Waiter& w) { return w.token == token; });
    COPYCAT_ASSERT(waiter != waiters.end(), "a lock request timed out that no longer waits");
    const SessionId session = waiter->session;
    waiters.erase(waiter);
    notify(executor_->context(), session, LockFailed{name, token});
    if (found->second.holder == 0 && waiters.empty()) locks_.erase(found);
}

void SnapshotResources::on_close(statemachine::Session& session) {
    std::vector<std::string> names;
    for (const auto& [name, lock] : locks_) names.push_back(name);
    for (const std::string& name : names) drop(name, session.id());
    std::erase_if(watches_,
                  [&](const auto& watch) { return std::get<0>(watch.first) == session.id(); });
}

// --- snapshots -------------------------------------------------------------------------------

Bytes SnapshotResources::snapshot() const {
    SnapshotState state;
    for (const auto& [map, keys] : maps_) {
        for (const auto& [key, value] : keys) {
            state.keys.push_back({map, key, value.value, value.version});
        }
    }
    for (const auto& [watch, commit] : watches_) {
        const auto& [session, map, key, prefix] = watch;
        state.watches.push_back({session, map, key, prefix});
    }
    for (const auto& [name, lock] : locks_) {
        LockState saved{name, lock.holder, lock.token, {}};
        for (const Waiter& waiter : lock.waiters) {
            saved.waiters.push_back({waiter.session, waiter.token, waiter.deadline_ms});
        }
        state.locks.push_back(std::move(saved));
    }
    return statemachine::encode_to_bytes(state);
}

Status SnapshotResources::install(std::span<const uint8_t> snapshot) {
    SnapshotState state;
    if (!statemachine::decode_from_bytes(snapshot, state)) {
        return corruption("the simulator's snapshot resources: a snapshot that does not decode");
    }
    maps_.clear();
    watches_.clear();
    locks_.clear();
    for (KeyState& key : state.keys) {
        Value& value = maps_[key.map][key.key];  // the snapshot covers its writes
        value.value = std::move(key.value);
        value.version = key.version;
    }
    for (WatchState& watch : state.watches) {
        watches_.try_emplace(Watch{watch.session, watch.map, watch.key, watch.prefix});
    }
    // Timeouts due at the same log times. Those already overdue at the snapshot's log time
    // (none has run since: tasks run only before session entries) are all due now, and run in
    // the order they are scheduled: by deadline, then by request, as they would have run on a
    // server that applied the entries (copycat-sim seed 292 with read_without_confirmation
    // and --checks end-to-end ran two of them in request order instead, and the nodes' events
    // differed).
    std::vector<std::tuple<uint64_t, Index, std::string>> timed;
    for (LockState& saved : state.locks) {
        Lock& lock = locks_[saved.lock];
        lock.holder = saved.holder;
        lock.token = saved.token;
        for (const WaiterState& waiter : saved.waiters) {
            lock.waiters.push_back({waiter.session, waiter.token, waiter.deadline_ms, {}, {}});
            if (waiter.deadline_ms != 0) {
                timed.emplace_back(waiter.deadline_ms, waiter.token, saved.lock);
            }
        }
    }
    std::sort(timed.begin(), timed.end());
    const uint64_t now_ms = executor_->context().time_ms();
    for (const auto& [deadline_ms, token, name] : timed) {
        for (Waiter& waiter : locks_.at(name).waiters) {
            if (waiter.token != token) continue;
            schedule_timeout(name, waiter,
                             waiter.deadline_ms > now_ms ? waiter.deadline_ms - now_ms : 0);
        }
    }
    return Status::ok();
}

uint64_t SnapshotResources::digest() const {
    StateHash hash;
    for (const auto& [map, keys] : maps_) {
        hash.add(std::string_view(map));
        for (const auto& [key, value] : keys) {
            hash.add(std::string_view(key));
            hash.add(std::span<const uint8_t>(value.value));
            hash.add(static_cast<uint64_t>(value.version));
        }
    }
    for (const auto& [watch, commit] : watches_) {
        const auto& [session, map, key, prefix] = watch;
        hash.add(session);
        hash.add(std::string_view(map));
        hash.add(std::string_view(key));
        hash.add(prefix);
    }
    for (const auto& [name, lock] : locks_) {
        hash.add(std::string_view(name));
        hash.add(lock.holder);
        hash.add(static_cast<uint64_t>(lock.token));
        for (const Waiter& waiter : lock.waiters) {
            hash.add(waiter.session);
            hash.add(static_cast<uint64_t>(waiter.token));
            hash.add(waiter.deadline_ms);
        }
    }
    return hash.value();
}

}  // namespace copycat::sim
