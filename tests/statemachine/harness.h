// A small stand-in for the session layer, for unit tests of state machines: it applies log
// entries one at a time (register, unregister, keep-alive, command) the way
// consensus/session/ does — the leader's argument check, scheduled tasks due before each
// entry, publishing only in command context — and records what the state machine did:
// outputs, events per session, released indexes, the compaction mode of each logged command.
// It also keeps the log it applied, so a test can replay a compacted copy of it.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "consensus/statemachine/operation.h"
#include "consensus/statemachine/state_machine.h"

namespace copycat::statemachine::testing {

struct PublishedEvent {
    Index index = 0;  // of the entry being applied when it was published
    std::string name;
    Bytes message;
};

class FakeSession final : public Session {
public:
    FakeSession(SessionId id, std::string client_id, const bool* in_command)
        : id_(id), client_id_(std::move(client_id)), in_command_(in_command) {}

    SessionId id() const override { return id_; }
    const std::string& client_id() const override { return client_id_; }
    SessionState state() const override { return state_; }
    Status publish(std::string_view name, Bytes message) override;

    void set_state(SessionState state) { state_ = state; }
    void set_index(Index index) { index_ = index; }
    std::vector<PublishedEvent>& events() { return events_; }

private:
    SessionId id_;
    std::string client_id_;
    const bool* in_command_;
    SessionState state_ = SessionState::open;
    Index index_ = 0;
    std::vector<PublishedEvent> events_;
};

// One applied log entry, enough to apply it again.
struct LogEntry {
    enum class Kind { register_session, unregister, expire, keep_alive, command };
    Kind kind = Kind::command;
    Index index = 0;
    uint64_t time_ms = 0;
    SessionId session = 0;
    Operation operation;
    CompactionMode compaction = CompactionMode::default_mode;
};

class Harness final : private Executor, private Context, private Sessions, private Releaser {
public:
    explicit Harness(std::unique_ptr<StateMachine> state_machine);
    ~Harness() override;

    StateMachine& state_machine() { return *state_machine_; }

    // Log time of the next entries; never goes back.
    void set_time(uint64_t time_ms);
    void advance(uint64_t delta_ms) { set_time(now_ms_ + delta_ms); }
    uint64_t now_ms() const { return now_ms_; }
    Index last_index() const { return index_; }

    SessionId open_session(std::string client_id = "client");
    void close_session(SessionId session);   // the client unregistered
    void expire_session(SessionId session);  // the leader expired it
    void keep_alive();                       // an entry that only moves log time

    // The leader's check: refused operations are not logged and do not use an index.
    Result<CompactionMode> check_command(const Operation& operation);
    Result<CompactionMode> check_query(const Operation& operation);
    // Checks, logs and applies a command at the next index.
    Output command(SessionId session, const Operation& operation);
    // Applies without the leader's check (an entry logged by someone else).
    Output apply_unchecked(SessionId session, const Operation& operation);
    Output query(SessionId session, const Operation& operation);

    template <CommandType Op>
    Result<typename Op::Output> run(SessionId session, const Op& op) {
        Output output = command(session, make_operation(op));
        if (!output.is_ok()) return output.status();
        return decode_output<Op>(*output);
    }
    template <QueryType Op>
    Result<typename Op::Output> ask(SessionId session, const Op& op) {
        Output output = query(session, make_operation(op));
        if (!output.is_ok()) return output.status();
        return decode_output<Op>(*output);
    }

    // Events named E::name published to the session since they were last taken, decoded (an
    // event that does not decode fails the test). Events of other names stay.
    template <EventType E>
    std::vector<E> take_events(SessionId session) {
        std::vector<E> decoded;
        for (const PublishedEvent& event : take_raw_events(session, E::name)) {
            Result<E> value = decode_event<E>(event.message);
            record_decode(value.is_ok(), event.name);
            if (value.is_ok()) decoded.push_back(std::move(value).value());
        }
        return decoded;
    }
    // All events (or those of one name) published to the session since they were last taken.
    std::vector<PublishedEvent> take_raw_events(SessionId session,
                                                std::optional<std::string_view> name = {});

    bool released(Index index) const { return released_.count(index) > 0; }
    const std::set<Index>& released_indexes() const { return released_; }
    std::optional<CompactionMode> compaction_of(Index index) const;
    const std::vector<LogEntry>& log() const { return log_; }
    // The log as minor compaction would leave it: released RELEASE and QUORUM commands
    // removed; tombstone-like entries, session entries and held commands kept.
    std::vector<LogEntry> compacted_log() const;
    // Applies entries (from another harness's log) at their own indexes and times.
    void replay(const std::vector<LogEntry>& entries);

    size_t pending_tasks() const { return tasks_.size(); }
    std::vector<std::string> registered_commands() const;
    std::vector<std::string> registered_queries() const;

private:
    struct Task {
        uint64_t due_ms = 0;
        uint64_t interval_ms = 0;  // 0: once
        std::function<void()> run;
    };

    // Executor
    Context& context() override { return *this; }
    void register_command(std::string type, ArgumentCheck check, CommandHandler handler) override;
    void register_query(std::string type, ArgumentCheck check, QueryHandler handler) override;
    ScheduledHandle schedule(uint64_t delay_ms, std::function<void()> task) override;
    ScheduledHandle schedule_periodic(uint64_t delay_ms, uint64_t interval_ms,
                                      std::function<void()> task) override;
    void cancel(ScheduledHandle handle) override;
    // Context
    Index index() const override { return index_; }
    uint64_t time_ms() const override { return context_time_ms_; }
    Sessions& sessions() override { return *this; }
    bool in_command() const override { return in_command_; }
    // Sessions
    Session* find(SessionId id) override;
    std::vector<SessionId> ids() const override;
    // Releaser
    void release(Index index) override;

    // Starts an entry at `index` and `time_ms`: runs the tasks due before it.
    void begin_entry(Index index, uint64_t time_ms);
    void end_entry() { in_command_ = false; }
    Output apply_command(const LogEntry& entry);
    void end_session(const LogEntry& entry);
    void apply(const LogEntry& entry);
    void record_decode(bool ok, const std::string& name);

    std::unique_ptr<StateMachine> state_machine_;
    std::map<std::string, std::pair<ArgumentCheck, CommandHandler>> commands_;
    std::map<std::string, std::pair<ArgumentCheck, QueryHandler>> queries_;
    std::map<uint64_t, Task> tasks_;  // by id
    uint64_t next_task_id_ = 1;
    std::map<SessionId, std::unique_ptr<FakeSession>> sessions_;
    std::set<Index> released_;
    std::vector<LogEntry> log_;
    Index index_ = 0;
    uint64_t now_ms_ = 1000;
    uint64_t context_time_ms_ = 1000;
    bool in_command_ = false;
};

}  // namespace copycat::statemachine::testing
