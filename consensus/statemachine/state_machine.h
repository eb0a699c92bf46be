// The state machine API (copycat.md §2): what a user's state machine, and the built-in
// resources, are written against. Pure: no I/O, no clocks, no threads. The session layer
// (consensus/session/) drives it, on every server, with the same committed entries in the same
// order, so a state machine must be deterministic: its only time is Commit::time_ms() and
// Context::time_ms() (log time, from the leader's entry timestamps, never going back), and its
// only randomness must come from its inputs.
//
// A state machine:
//  - registers its commands and queries by type in configure() (Executor::register_command,
//    register_query, or the typed helpers in operation.h);
//  - gets each command as a Commit: index, log time, session, operation. The commit holds its
//    log entry: while the state machine keeps the Commit object, the entry contributes to state
//    and stays in the log; release() (or destroying the Commit) tells the log it may be
//    compacted according to its compaction mode (copycat.md §2.4);
//  - may publish events to sessions, and schedule work on log time, while applying a command;
//  - may implement snapshot()/install() (then DEFAULT compaction means SNAPSHOT), and session
//    listeners (register, unregister, expire, close).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace copycat::statemachine {

using Index = uint64_t;
using SessionId = uint64_t;  // the log index of the session's register entry
using Bytes = std::vector<uint8_t>;

// copycat.md §2.4. The numeric values are stored in log entries: never renumber.
enum class CompactionMode : uint8_t {
    default_mode = 0,  // SNAPSHOT if the state machine takes snapshots, else SEQUENTIAL
    unknown = 1,       // safest: removed only by snapshot and major compaction together
    snapshot = 2,      // state captured by snapshots
    release = 3,       // an overwrite: removable once released
    quorum = 4,        // as release
    full = 5,          // must reach every server before removal
    sequential = 6,    // full, and removed only in order (major compaction)
    expiring = 7,      // sequential, for TTL writes
    tombstone = 8,     // sequential, for deletes
};
const char* compaction_mode_name(CompactionMode mode);
std::optional<CompactionMode> compaction_mode_from_byte(uint8_t value);

enum class SessionState : uint8_t {
    open = 0,
    unstable = 1,  // suspected expired: no keep-alive within its timeout (log time)
    expired = 2,   // expired by the leader
    closed = 3,    // unregistered by its client
};
const char* session_state_name(SessionState state);

// An operation as a client submits it: a registered type name ("map.put") and its argument,
// encoded by the operation's own codec (operation.h).
struct Operation {
    std::string type;
    Bytes argument;
    bool operator==(const Operation&) const = default;
};

// A session as the state machine sees it. Owned by the session layer; valid during the call
// that handed it out (look it up again by id later).
class Session {
public:
    virtual ~Session() = default;
    virtual SessionId id() const = 0;
    virtual const std::string& client_id() const = 0;
    virtual SessionState state() const = 0;
    // Queues an event for this session's client, in the batch of the entry being applied.
    // Allowed only while applying a command, a session callback or a scheduled task (never in
    // a query), and only to an open or unstable session; otherwise an error says why and
    // nothing is queued.
    virtual Status publish(std::string_view name, Bytes message) = 0;
};

class Sessions {
public:
    virtual ~Sessions() = default;
    // nullptr if the session is unknown, closed or expired.
    virtual Session* find(SessionId id) = 0;
    // The live (open or unstable) sessions, by id.
    virtual std::vector<SessionId> ids() const = 0;
};

// Where a commit's release goes: the session layer collects released indexes for the log.
class Releaser {
public:
    virtual ~Releaser() = default;
    virtual void release(Index index) = 0;
};

// One applied command (or executed query). Move-only: the owner holds the log entry; destroying
// an unreleased commit releases it. A query's commit has nothing to release (index = the last
// applied index when it ran).
class Commit {
public:
    Commit(Index index, uint64_t time_ms, SessionId session, Operation operation,
           Releaser* releaser);
    Commit(Commit&& other) noexcept;
    Commit& operator=(Commit&& other) noexcept;
    Commit(const Commit&) = delete;
    Commit& operator=(const Commit&) = delete;
    ~Commit();

    Index index() const { return index_; }
    uint64_t time_ms() const { return time_ms_; }
    SessionId session() const { return session_; }
    const Operation& operation() const { return operation_; }
    // The entry no longer contributes to state. Idempotent.
    void release();
    bool released() const { return releaser_ == nullptr; }

private:
    Index index_ = 0;
    uint64_t time_ms_ = 0;
    SessionId session_ = 0;
    Operation operation_;
    Releaser* releaser_ = nullptr;
};

// What a command or query returns to its client: a value, or an application error (cached
// like a value: a resubmitted command gets the same error back).
using Output = Result<Bytes>;

using CommandHandler = std::function<Output(Commit commit)>;
using QueryHandler = std::function<Output(const Commit& commit)>;
// Checks an operation's argument before the leader logs it, and says how its entry is
// compacted. An error refuses the operation: it never reaches the log or the state machine.
using ArgumentCheck = std::function<Result<CompactionMode>(std::span<const uint8_t> argument)>;

struct ScheduledHandle {
    uint64_t id = 0;  // 0: nothing scheduled
};

// The state machine's view of its surroundings while it runs.
class Context {
public:
    virtual ~Context() = default;
    virtual Index index() const = 0;       // of the entry being applied (or last applied)
    virtual uint64_t time_ms() const = 0;  // log time
    virtual Sessions& sessions() = 0;
    virtual bool in_command() const = 0;  // publishing and scheduling are allowed
};

// Registration and scheduling. Implemented by the session layer.
class Executor {
public:
    virtual ~Executor() = default;
    virtual Context& context() = 0;

    // Registers a command or query type by name. Registering a name twice is a programming
    // error (asserts).
    virtual void register_command(std::string type, ArgumentCheck check,
                                  CommandHandler handler) = 0;
    virtual void register_query(std::string type, ArgumentCheck check, QueryHandler handler) = 0;

    // Runs `task` on log time: once when log time passes now + delay, or every interval
    // after that. Only while applying a command (asserts otherwise: scheduling from a query
    // would make servers differ). Tasks run before the entry whose timestamp passes their due
    // time, in due-time order, in command context.
    virtual ScheduledHandle schedule(uint64_t delay_ms, std::function<void()> task) = 0;
    virtual ScheduledHandle schedule_periodic(uint64_t delay_ms, uint64_t interval_ms,
                                              std::function<void()> task) = 0;
    virtual void cancel(ScheduledHandle handle) = 0;
};

class StateMachine {
public:
    virtual ~StateMachine() = default;

    // Called once, before any entry: register operations, keep the executor.
    virtual void configure(Executor& executor) = 0;

    // Snapshots (copycat.md §2.5): a state machine that returns true here must implement
    // both; the snapshot covers every command applied so far. A snapshottable state machine
    // re-creates its scheduled tasks in install() (the session layer's snapshot holds none),
    // and tasks already overdue at the snapshot's log time, which all come due at once, must
    // be re-created in their original due order.
    virtual bool snapshottable() const { return false; }
    virtual Bytes snapshot() const { return {}; }
    virtual Status install(std::span<const uint8_t> /*snapshot*/) {
        return invalid_argument("this state machine does not take snapshots");
    }

    // Session listeners (copycat.md §2.6), at the same index on every server. Events may be
    // published from these (not to the session being registered).
    virtual void on_register(Session& /*session*/) {}
    virtual void on_unregister(Session& /*session*/) {}
    virtual void on_expire(Session& /*session*/) {}
    virtual void on_close(Session& /*session*/) {}
};

// A state machine per process: the consensus executable is built around one factory
// (consensus/server/main.cc takes it; your own executable passes its own).
using StateMachineFactory = std::function<std::unique_ptr<StateMachine>()>;

}  // namespace copycat::statemachine
