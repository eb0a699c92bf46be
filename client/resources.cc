#include "client/resources.h"

#include <map>
#include <mutex>
#include <utility>
#include <vector>

namespace copycat::client {

namespace {

template <typename T>
Pending<T> ready(Result<T> result) {
    std::promise<Result<T>> promise;
    promise.set_value(std::move(result));
    return promise.get_future();
}

Result<uint64_t> duration_ms(std::string_view what, std::chrono::milliseconds duration) {
    if (duration.count() < 0) {
        return invalid_argument(std::string(what) + " is negative (" +
                                std::to_string(duration.count()) + "ms)");
    }
    return static_cast<uint64_t>(duration.count());
}

// Runs the handler of every event of type E named E::name that decodes; a malformed event (a
// server of another version) is dropped: there is nobody to report it to.
template <statemachine::EventType E>
uint64_t on_typed_event(Client& client, std::function<void(const E&)> handler) {
    return client.on_event(std::string(E::name),
                           [handler = std::move(handler)](const session::Event& event, Index) {
                               Result<E> decoded = statemachine::decode_event<E>(event.message);
                               if (decoded.is_ok()) handler(*decoded);
                           });
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Map

struct Map::State {
    struct Watch {
        std::string key;
        bool prefix = false;
        ChangeHandler handler;
    };
    std::mutex mutex;
    uint64_t last_id = 0;
    std::map<uint64_t, Watch> watches;

    bool matches(const Watch& watch, const std::string& key) const {
        return watch.prefix ? key.starts_with(watch.key) : key == watch.key;
    }
    // Watches of this object with the same key and kind.
    size_t count(const std::string& key, bool prefix) {
        size_t n = 0;
        for (const auto& [id, watch] : watches) n += watch.key == key && watch.prefix == prefix;
        return n;
    }
    void deliver(const resources::MapChanged& change) {
        std::vector<ChangeHandler> handlers;
        {
            std::lock_guard lock(mutex);
            for (const auto& [id, watch] : watches) {
                if (matches(watch, change.key)) handlers.push_back(watch.handler);
            }
        }
        for (const ChangeHandler& handler : handlers) handler(change);
    }
};

Map::Map(Client& client, std::string name)
    : client_(client), name_(std::move(name)), state_(std::make_shared<State>()) {
    std::weak_ptr<State> weak = state_;
    std::string map = name_;
    handler_id_ = on_typed_event<resources::MapChanged>(
        client_, [weak, map](const resources::MapChanged& change) {
            auto state = weak.lock();
            if (state && change.map == map) state->deliver(change);
        });
}

Map::~Map() { client_.remove_event_handler(handler_id_); }

Pending<resources::MapPut::Output> Map::put(std::string key, Bytes value,
                                            std::chrono::milliseconds ttl) {
    Result<uint64_t> ttl_ms = duration_ms("ttl", ttl);
    if (!ttl_ms.is_ok()) return ready<resources::MapPut::Output>(ttl_ms.status());
    return client_.command(resources::MapPut{name_, std::move(key), std::move(value), *ttl_ms});
}

Pending<resources::MapGet::Output> Map::get(std::string key, Consistency consistency) {
    return client_.query(resources::MapGet{name_, std::move(key)}, consistency);
}

Pending<resources::MapRemove::Output> Map::remove(std::string key) {
    return client_.command(resources::MapRemove{name_, std::move(key)});
}

Pending<resources::MapCas::Output> Map::cas(std::string key, std::optional<Bytes> expected,
                                            Bytes value, std::chrono::milliseconds ttl) {
    Result<uint64_t> ttl_ms = duration_ms("ttl", ttl);
    if (!ttl_ms.is_ok()) return ready<resources::MapCas::Output>(ttl_ms.status());
    return client_.command(
        resources::MapCas{name_, std::move(key), std::move(expected), std::move(value), *ttl_ms});
}

Pending<resources::MapList::Output> Map::list(std::string prefix, uint64_t limit,
                                              Consistency consistency) {
    return client_.query(resources::MapList{name_, std::move(prefix), limit}, consistency);
}

Pending<resources::MapSize::Output> Map::size(Consistency consistency) {
    return client_.query(resources::MapSize{name_}, consistency);
}

Pending<Map::WatchId> Map::watch(std::string key, ChangeHandler handler) {
    return add_watch(std::move(key), false, std::move(handler));
}

Pending<Map::WatchId> Map::watch_prefix(std::string prefix, ChangeHandler handler) {
    return add_watch(std::move(prefix), true, std::move(handler));
}

// The handler is in place before the watch command is sent, so that no change after the watch
// is missed; it goes again if the cluster refuses the watch.
Pending<Map::WatchId> Map::add_watch(std::string key, bool prefix, ChangeHandler handler) {
    uint64_t id = 0;
    bool shared = false;
    {
        std::lock_guard lock(state_->mutex);
        id = ++state_->last_id;
        shared = state_->count(key, prefix) > 0;
        state_->watches[id] = State::Watch{key, prefix, std::move(handler)};
    }
    if (shared) return ready<WatchId>(WatchId{id});
    auto promise = std::make_shared<std::promise<Result<WatchId>>>();
    auto future = promise->get_future();
    std::weak_ptr<State> weak = state_;
    client_.submit_command(
        statemachine::make_operation(resources::MapWatch{name_, std::move(key), prefix}),
        [promise, weak, id](Reply reply) {
            Result<resources::MapWatch::Output> output = typed_reply<resources::MapWatch>(reply);
            if (output.is_ok()) {
                promise->set_value(WatchId{id});
                return;
            }
            if (auto state = weak.lock()) {
                std::lock_guard lock(state->mutex);
                state->watches.erase(id);
            }
            promise->set_value(output.status());
        });
    return future;
}

Pending<resources::MapUnwatch::Output> Map::unwatch(WatchId watch) {
    std::string key;
    bool prefix = false;
    {
        std::lock_guard lock(state_->mutex);
        auto found = state_->watches.find(watch.id);
        if (found == state_->watches.end()) {
            return ready<resources::MapUnwatch::Output>(resources::MapUnwatch::Output{false});
        }
        key = found->second.key;
        prefix = found->second.prefix;
        state_->watches.erase(found);
        if (state_->count(key, prefix) > 0) {
            return ready<resources::MapUnwatch::Output>(resources::MapUnwatch::Output{true});
        }
    }
    return client_.command(resources::MapUnwatch{name_, std::move(key), prefix});
}

// ---------------------------------------------------------------------------------------------
// Counter

Counter::Counter(Client& client, std::string name) : client_(client), name_(std::move(name)) {}

Pending<resources::CounterGet::Output> Counter::get(Consistency consistency) {
    return client_.query(resources::CounterGet{name_}, consistency);
}

Pending<resources::CounterSet::Output> Counter::set(int64_t value) {
    return client_.command(resources::CounterSet{name_, value});
}

Pending<resources::CounterAdd::Output> Counter::add(int64_t delta) {
    return client_.command(resources::CounterAdd{name_, delta});
}

Pending<resources::CounterCas::Output> Counter::cas(int64_t expected, int64_t value) {
    return client_.command(resources::CounterCas{name_, expected, value});
}

// ---------------------------------------------------------------------------------------------
// Lock
//
// acquire() answers acquired, failed, or queued with a token; a queued request ends with a
// lock.acquired or lock.failed event carrying that token (or with the session). The session
// delivers the queued answer before those events, but the outcome is kept either way round.

struct Lock::State {
    using Promise = std::shared_ptr<std::promise<Result<LockGrant>>>;
    std::mutex mutex;
    std::map<Index, Promise> waiting;  // by token
    std::map<Index, bool> decided;     // events seen before their queued answer: acquired?
    std::optional<Index> held;

    // A queued answer, or an event (from_event), for token.
    void settle(Index token, bool acquired, const Promise& promise, bool from_event) {
        Promise to_complete;
        {
            std::lock_guard lock(mutex);
            if (from_event) {
                auto found = waiting.find(token);
                if (found == waiting.end()) {
                    decided[token] = acquired;
                    return;
                }
                to_complete = found->second;
                waiting.erase(found);
            } else {
                auto found = decided.find(token);
                if (found == decided.end()) {
                    waiting[token] = promise;
                    return;
                }
                acquired = found->second;
                decided.erase(found);
                to_complete = promise;
            }
            if (acquired) held = token;
        }
        to_complete->set_value(LockGrant{acquired, token});
    }

    void granted_now(Index token, const Promise& promise) {
        {
            std::lock_guard lock(mutex);
            held = token;
        }
        promise->set_value(LockGrant{true, token});
    }

    void session_ended(const std::string& reason) {
        std::map<Index, Promise> abandoned;
        {
            std::lock_guard lock(mutex);
            abandoned.swap(waiting);
            held.reset();
        }
        for (auto& [token, promise] : abandoned) {
            promise->set_value(
                Status(StatusCode::unavailable, "the session ended while waiting for the lock (" +
                                                    reason + "): the request died with it"));
        }
    }
};

Lock::Lock(Client& client, std::string name)
    : client_(client), name_(std::move(name)), state_(std::make_shared<State>()) {
    std::weak_ptr<State> weak = state_;
    std::string lock = name_;
    acquired_handler_ = on_typed_event<resources::LockAcquired>(
        client_, [weak, lock](const resources::LockAcquired& event) {
            auto state = weak.lock();
            if (state && event.lock == lock) state->settle(event.token, true, nullptr, true);
        });
    failed_handler_ = on_typed_event<resources::LockFailed>(
        client_, [weak, lock](const resources::LockFailed& event) {
            auto state = weak.lock();
            if (state && event.lock == lock) state->settle(event.token, false, nullptr, true);
        });
    state_listener_ =
        client_.on_state_change([weak](SessionState session_state, const std::string& reason) {
            auto state = weak.lock();
            if (!state) return;
            if (session_state == SessionState::expired || session_state == SessionState::closed) {
                state->session_ended(std::string(session_state_name(session_state)) +
                                     (reason.empty() ? "" : ": " + reason));
            }
        });
}

Lock::~Lock() {
    client_.remove_event_handler(acquired_handler_);
    client_.remove_event_handler(failed_handler_);
    client_.remove_state_listener(state_listener_);
}

Pending<LockGrant> Lock::acquire(std::chrono::milliseconds timeout) {
    uint64_t timeout_ms = resources::LockAcquire::kWaitForever;
    if (timeout != kWaitForever) {
        Result<uint64_t> ms = duration_ms("lock timeout", timeout);
        if (!ms.is_ok()) return ready<LockGrant>(ms.status());
        timeout_ms = *ms;
    }
    auto promise = std::make_shared<std::promise<Result<LockGrant>>>();
    auto future = promise->get_future();
    std::weak_ptr<State> weak = state_;
    client_.submit_command(
        statemachine::make_operation(resources::LockAcquire{name_, timeout_ms}),
        [promise, weak](Reply reply) {
            Result<resources::LockAcquire::Output> output =
                typed_reply<resources::LockAcquire>(reply);
            auto state = weak.lock();
            if (!output.is_ok() || !state) {
                promise->set_value(output.is_ok()
                                       ? Status(StatusCode::unavailable, "the Lock object is gone")
                                       : output.status());
                return;
            }
            switch (output->outcome) {
                case resources::LockAcquireOutcome::acquired:
                    state->granted_now(output->token, promise);
                    return;
                case resources::LockAcquireOutcome::failed:
                    promise->set_value(LockGrant{false, 0});
                    return;
                case resources::LockAcquireOutcome::queued:
                    state->settle(output->token, false, promise, false);
                    return;
            }
        });
    return future;
}

Pending<resources::LockRelease::Output> Lock::release() {
    {
        std::lock_guard lock(state_->mutex);
        state_->held.reset();
    }
    return client_.command(resources::LockRelease{name_});
}

std::optional<Index> Lock::token() const {
    std::lock_guard lock(state_->mutex);
    return state_->held;
}

// ---------------------------------------------------------------------------------------------
// Election

struct Election::State {
    std::mutex mutex;
    ElectedHandler handler;
};

Election::Election(Client& client, std::string name)
    : client_(client), name_(std::move(name)), state_(std::make_shared<State>()) {
    std::weak_ptr<State> weak = state_;
    std::string election = name_;
    handler_id_ = on_typed_event<resources::ElectionElected>(
        client_, [weak, election](const resources::ElectionElected& elected) {
            auto state = weak.lock();
            if (!state || elected.election != election) return;
            ElectedHandler handler;
            {
                std::lock_guard lock(state->mutex);
                handler = state->handler;
            }
            if (handler) handler(elected);
        });
}

Election::~Election() { client_.remove_event_handler(handler_id_); }

void Election::on_elected(ElectedHandler handler) {
    std::lock_guard lock(state_->mutex);
    state_->handler = std::move(handler);
}

Pending<resources::ElectionEnter::Output> Election::enter() {
    return client_.command(resources::ElectionEnter{name_});
}

Pending<resources::ElectionLeave::Output> Election::leave() {
    return client_.command(resources::ElectionLeave{name_});
}

Pending<resources::ElectionLeader::Output> Election::leader(Consistency consistency) {
    return client_.query(resources::ElectionLeader{name_}, consistency);
}

// ---------------------------------------------------------------------------------------------
// Group

struct Group::State {
    std::mutex mutex;
    JoinedHandler joined;
    LeftHandler left;
};

Group::Group(Client& client, std::string name)
    : client_(client), name_(std::move(name)), state_(std::make_shared<State>()) {
    std::weak_ptr<State> weak = state_;
    std::string group = name_;
    joined_handler_ = on_typed_event<resources::GroupJoined>(
        client_, [weak, group](const resources::GroupJoined& joined) {
            auto state = weak.lock();
            if (!state || joined.group != group) return;
            JoinedHandler handler;
            {
                std::lock_guard lock(state->mutex);
                handler = state->joined;
            }
            if (handler) handler(joined);
        });
    left_handler_ = on_typed_event<resources::GroupLeft>(
        client_, [weak, group](const resources::GroupLeft& left) {
            auto state = weak.lock();
            if (!state || left.group != group) return;
            LeftHandler handler;
            {
                std::lock_guard lock(state->mutex);
                handler = state->left;
            }
            if (handler) handler(left);
        });
}

Group::~Group() {
    client_.remove_event_handler(joined_handler_);
    client_.remove_event_handler(left_handler_);
}

void Group::on_joined(JoinedHandler handler) {
    std::lock_guard lock(state_->mutex);
    state_->joined = std::move(handler);
}

void Group::on_left(LeftHandler handler) {
    std::lock_guard lock(state_->mutex);
    state_->left = std::move(handler);
}

Pending<resources::GroupJoin::Output> Group::join(std::string member) {
    return client_.command(resources::GroupJoin{name_, std::move(member)});
}

Pending<resources::GroupLeave::Output> Group::leave(std::string member) {
    return client_.command(resources::GroupLeave{name_, std::move(member)});
}

Pending<resources::GroupMembers::Output> Group::members(Consistency consistency) {
    return client_.query(resources::GroupMembers{name_}, consistency);
}

}  // namespace copycat::client
