// Typed resources: the built-in resources (consensus/statemachine/resources/ops.h) as small
// classes over a Client and an instance name.
//
//   copycat::client::Map map(*client, "default");
//   auto put = map.put("k", to_bytes("v"), 10s).get();       // Result<MapPut::Output>
//   auto got = map.get("k", Consistency::sequential).get();   // got->value, got->version
//   copycat::client::Lock lock(*client, "backup");
//   auto grant = lock.acquire().get();                         // waits until granted
//   if (grant.is_ok() && grant->acquired) { ... grant->token ... lock.release().get(); }
//
// Every operation returns a std::future of Result<the operation's Output> (an error Status
// when the cluster refused it, or when it timed out: StatusCode::timeout, outcome unknown for
// commands). The objects are thin: each method is one operation of the session, and the same
// state machine rules apply (instances exist on first use; locks, candidacies, group members
// and watches belong to the session and end with it).
//
// Events: a resource object that has events (Map watches, Lock grants, Election and Group
// notifications) registers its own handler with Client::on_event when constructed and removes
// it when destroyed. Handlers given to these objects run on the client's runtime thread, in
// the order the session delivers events; like every callback there, they must not block on a
// result of the same client (see client.h). Destroying a resource object stops its handlers
// here; it does not undo anything in the cluster (a watch stays until unwatch() or the end of
// the session, a lock stays held until release()).
//
// Threads: the methods may be called from any thread; the objects must outlive no Client (they
// hold a reference) and must not be destroyed while one of their methods runs.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>

#include "client/client.h"
#include "consensus/statemachine/resources/ops.h"

namespace copycat::client {

template <typename T>
using Pending = std::future<Result<T>>;

// ---------------------------------------------------------------------------------------------
// Map: keys to byte values, with versions, TTLs and watches.

class Map {
public:
    using ChangeHandler = std::function<void(const resources::MapChanged& change)>;
    // Names one watch of this object (for unwatch).
    struct WatchId {
        uint64_t id = 0;
    };

    Map(Client& client, std::string name);
    ~Map();
    Map(const Map&) = delete;
    Map& operator=(const Map&) = delete;

    const std::string& name() const { return name_; }

    // ttl 0: the key lives until overwritten or removed.
    Pending<resources::MapPut::Output> put(std::string key, Bytes value,
                                           std::chrono::milliseconds ttl = {});
    Pending<resources::MapGet::Output> get(std::string key,
                                           Consistency consistency = Consistency::linearizable);
    Pending<resources::MapRemove::Output> remove(std::string key);
    // Sets value only if the current value equals expected (nullopt: only if the key is absent).
    Pending<resources::MapCas::Output> cas(std::string key, std::optional<Bytes> expected,
                                           Bytes value, std::chrono::milliseconds ttl = {});
    // Keys starting with prefix in byte order, at most limit (0: all).
    Pending<resources::MapList::Output> list(std::string prefix = {}, uint64_t limit = 0,
                                             Consistency consistency = Consistency::linearizable);
    Pending<resources::MapSize::Output> size(Consistency consistency = Consistency::linearizable);

    // Watches one key (watch) or every key starting with prefix (watch_prefix, "" for all):
    // handler sees each later change, from the runtime's thread. The future completes once the
    // cluster has the watch. A session has one watch per (key, prefix) in the cluster: a second
    // watch of the same key through this object shares it (unwatch removes it from the cluster
    // when the last one goes); other Map objects on the same client must not watch the same
    // key, or unwatching through one silences the other.
    Pending<WatchId> watch(std::string key, ChangeHandler handler);
    Pending<WatchId> watch_prefix(std::string prefix, ChangeHandler handler);
    // The handler stops at once; removed: false when this object had no such watch.
    Pending<resources::MapUnwatch::Output> unwatch(WatchId watch);

    struct State;  // shared with the event handler

private:
    Pending<WatchId> add_watch(std::string key, bool prefix, ChangeHandler handler);

    Client& client_;
    std::string name_;
    std::shared_ptr<State> state_;
    uint64_t handler_id_ = 0;
};

// ---------------------------------------------------------------------------------------------
// Counter: a signed 64-bit value, 0 until first written.

class Counter {
public:
    Counter(Client& client, std::string name);
    const std::string& name() const { return name_; }

    Pending<resources::CounterGet::Output> get(Consistency consistency = Consistency::linearizable);
    Pending<resources::CounterSet::Output> set(int64_t value);  // output: the previous value
    Pending<resources::CounterAdd::Output> add(int64_t delta);  // output: the value after
    Pending<resources::CounterCas::Output> cas(int64_t expected, int64_t value);

private:
    Client& client_;
    std::string name_;
};

// ---------------------------------------------------------------------------------------------
// Lock: a fair (FIFO) lock held by the session, with fencing tokens.

// The outcome of acquire(): acquired, with its fencing token (tokens of successive holders of a
// lock strictly increase: pass it to what the lock protects, which refuses smaller ones); or
// not, because the try (timeout 0) found the lock held or the timeout passed first.
struct LockGrant {
    bool acquired = false;
    Index token = 0;
    bool operator==(const LockGrant&) const = default;
};

class Lock {
public:
    static constexpr std::chrono::milliseconds kWaitForever = std::chrono::milliseconds::max();

    Lock(Client& client, std::string name);
    ~Lock();
    Lock(const Lock&) = delete;
    Lock& operator=(const Lock&) = delete;

    const std::string& name() const { return name_; }

    // Asks for the lock and completes when the session holds it (or the wait failed):
    // kWaitForever waits until granted; 0 tries once; otherwise gives up after timeout of log
    // time. Fails (unavailable) if the session ends while waiting. A session that already holds
    // or waits for this lock is refused.
    Pending<LockGrant> acquire(std::chrono::milliseconds timeout = kWaitForever);
    // Releases it (or stops waiting for it): the next waiter is granted the lock.
    Pending<resources::LockRelease::Output> release();
    // The fencing token while this object knows the session holds the lock. The session ending
    // loses the lock: token() is then empty.
    std::optional<Index> token() const;

    struct State;

private:
    Client& client_;
    std::string name_;
    std::shared_ptr<State> state_;
    uint64_t acquired_handler_ = 0;
    uint64_t failed_handler_ = 0;
    uint64_t state_listener_ = 0;
};

// ---------------------------------------------------------------------------------------------
// Election: candidates queue; the earliest live candidate leads.

class Election {
public:
    using ElectedHandler = std::function<void(const resources::ElectionElected& elected)>;

    Election(Client& client, std::string name);
    ~Election();
    Election(const Election&) = delete;
    Election& operator=(const Election&) = delete;

    const std::string& name() const { return name_; }

    // Runs for every leader elected in this election while this session is a candidate
    // (elected.leader == the client's session_id(): this session leads). Set it before enter().
    void on_elected(ElectedHandler handler);
    Pending<resources::ElectionEnter::Output> enter();
    Pending<resources::ElectionLeave::Output> leave();
    Pending<resources::ElectionLeader::Output> leader(
        Consistency consistency = Consistency::linearizable);

    struct State;

private:
    Client& client_;
    std::string name_;
    std::shared_ptr<State> state_;
    uint64_t handler_id_ = 0;
};

// ---------------------------------------------------------------------------------------------
// Group: named members, each tied to the session that joined it.

class Group {
public:
    using JoinedHandler = std::function<void(const resources::GroupJoined& joined)>;
    using LeftHandler = std::function<void(const resources::GroupLeft& left)>;

    Group(Client& client, std::string name);
    ~Group();
    Group(const Group&) = delete;
    Group& operator=(const Group&) = delete;

    const std::string& name() const { return name_; }

    // Other sessions' members joining and leaving, told to a session while it has a member in
    // the group. Set them before join().
    void on_joined(JoinedHandler handler);
    void on_left(LeftHandler handler);
    Pending<resources::GroupJoin::Output> join(std::string member);
    Pending<resources::GroupLeave::Output> leave(std::string member);
    Pending<resources::GroupMembers::Output> members(
        Consistency consistency = Consistency::linearizable);

    struct State;

private:
    Client& client_;
    std::string name_;
    std::shared_ptr<State> state_;
    uint64_t joined_handler_ = 0;
    uint64_t left_handler_ = 0;
};

}  // namespace copycat::client
