#include "consensus/session/server_state_machine.h"

#include <algorithm>
#include <deque>
#include <functional>
#include <set>
#include <string>
#include <type_traits>
#include <unordered_map>
#include <utility>

#include "common/assert.h"
#include "common/codec.h"

namespace copycat::session {
namespace {

using statemachine::ArgumentCheck;
using statemachine::CommandHandler;
using statemachine::Commit;
using statemachine::CompactionMode;
using statemachine::Output;
using statemachine::QueryHandler;
using statemachine::ScheduledHandle;
using statemachine::SessionState;

// Log time plus a delay, stopping at the end of time rather than wrapping to its start.
uint64_t later(uint64_t time_ms, uint64_t delay_ms) {
    return delay_ms > UINT64_MAX - time_ms ? UINT64_MAX : time_ms + delay_ms;
}

bool is_live(SessionState state) {
    return state == SessionState::open || state == SessionState::unstable;
}

// A command's answer, kept until a keep-alive acknowledges it so that a resubmission gets the
// same answer without running the command again.
struct CachedResult {
    ErrorCode error = ErrorCode::ok;
    std::string message;
    Bytes value;
    Index event_index = 0;
    Index index = 0;  // of the command's entry: held in the log until the client has the result
};

struct EventBatch {
    Index event_index = 0;
    Index previous_index = 0;
    std::vector<Event> events;
};

class SessionRecord;

// Where Session::publish goes: the session layer decides whether publishing is allowed now.
class EventSink {
public:
    virtual ~EventSink() = default;
    virtual Status publish(SessionRecord& session, std::string_view name, Bytes message) = 0;
};

// A row of the session table, and the Session the state machine sees.
class SessionRecord final : public statemachine::Session {
public:
    SessionRecord(EventSink& sink, SessionId id, std::string client_id)
        : session_id(id), client(std::move(client_id)), sink_(&sink) {}

    SessionId id() const override { return session_id; }
    const std::string& client_id() const override { return client; }
    SessionState state() const override { return session_state; }
    Status publish(std::string_view name, Bytes message) override {
        return sink_->publish(*this, name, std::move(message));
    }

    // --- replicated (the same on every server that applied the same entries) ---
    SessionId session_id = 0;
    std::string client;
    SessionState session_state = SessionState::open;
    uint64_t timeout_ms = 0;
    uint64_t last_keep_alive_ms = 0;
    uint64_t command_sequence = 0;  // highest applied
    Index command_index = 0;        // the entry of its last executed command (not in snapshots)
    std::map<uint64_t, CachedResult> results;
    Index event_index = 0;             // last published (the session id before any)
    Index log_acked_event_index = 0;   // acknowledged by keep-alive entries
    uint64_t keep_alive_sequence = 0;  // the highest command sequence a keep-alive carried
    // Keep-alive entries held in the log for this session: its last one (the time of its last
    // keep-alive) and the one that acknowledged the most (keep-alives may arrive carrying lower
    // figures than an earlier one: a replay without the earlier one would know less).
    Index keep_alive_index = 0;
    Index best_keep_alive_index = 0;
    // --- local ---
    Index acked_event_index = 0;  // by keep-alives or by resets to this server
    std::deque<EventBatch> batches;
    size_t open_commits = 0;  // commits of this session the state machine still holds
    // --- the leader's bookkeeping ---
    uint64_t request_sequence = 0;
    bool expiring = false;

private:
    EventSink* sink_;
};

// Tasks on log time. Ids grow for the life of the object, so a stale handle never cancels a
// newer task.
class Scheduler {
public:
    struct Tasks {
        std::map<uint64_t, std::pair<uint64_t, uint64_t>> timing;  // id -> (due, interval)
        std::map<uint64_t, std::function<void()>> functions;
        std::set<std::pair<uint64_t, uint64_t>> queue;  // (due, id)
    };

    uint64_t add(uint64_t due_ms, uint64_t interval_ms, std::function<void()> task) {
        uint64_t id = next_id_++;
        tasks_.timing[id] = {due_ms, interval_ms};
        tasks_.functions[id] = std::move(task);
        tasks_.queue.insert({due_ms, id});
        return id;
    }

    void cancel(uint64_t id) {
        auto it = tasks_.timing.find(id);
        if (it == tasks_.timing.end()) return;
        tasks_.queue.erase({it->second.first, id});
        tasks_.timing.erase(it);
        tasks_.functions.erase(id);
    }

    // Runs, in due order, the tasks due at or before until_ms that existed when the call began
    // (a task scheduled by a task waits for the next entry, so a zero delay cannot loop), each
    // after set_clock(its due time). A periodic task comes back one interval later, or one
    // interval after until_ms when it has fallen behind: it runs once per entry, not once per
    // interval missed.
    void run_due(uint64_t until_ms, const std::function<void(uint64_t)>& set_clock) {
        const uint64_t id_limit = next_id_;
        for (;;) {
            auto it = std::find_if(tasks_.queue.begin(), tasks_.queue.end(),
                                   [&](const auto& item) { return item.second < id_limit; });
            if (it == tasks_.queue.end() || it->first > until_ms) return;
            auto [due_ms, id] = *it;
            tasks_.queue.erase(it);
            run_one(id, due_ms, until_ms, set_clock);
        }
    }

    Tasks detach() { return std::exchange(tasks_, Tasks{}); }
    void attach(Tasks tasks) { tasks_ = std::move(tasks); }

private:
    void run_one(uint64_t id, uint64_t due_ms, uint64_t until_ms,
                 const std::function<void(uint64_t)>& set_clock) {
        // A copy: the task may cancel itself, which drops the stored one.
        std::function<void()> task = tasks_.functions[id];
        set_clock(due_ms);
        task();
        auto timing = tasks_.timing.find(id);
        if (timing == tasks_.timing.end()) return;  // cancelled while it ran
        const uint64_t interval_ms = timing->second.second;
        if (interval_ms == 0) {
            tasks_.timing.erase(timing);
            tasks_.functions.erase(id);
            return;
        }
        uint64_t next_ms = later(due_ms, interval_ms);
        if (next_ms <= until_ms) next_ms = later(until_ms, interval_ms);
        if (next_ms <= until_ms) {  // the end of time: it can never be due again
            tasks_.timing.erase(timing);
            tasks_.functions.erase(id);
            return;
        }
        timing->second.first = next_ms;
        tasks_.queue.insert({next_ms, id});
    }

    Tasks tasks_;
    uint64_t next_id_ = 1;
};

// What the state machine may do right now.
enum class Mode {
    idle,         // between calls: nothing is allowed
    configuring,  // configure(): registration only
    command,      // applying an entry (commands, session callbacks, scheduled tasks)
    query,        // a query: read only
    installing,   // install(): may re-create its schedules
};

constexpr uint8_t kSnapshotVersion = 2;
// The smallest encodings, so a corrupt count is refused before anything is reserved.
constexpr size_t kMinSessionBytes = 12;
constexpr size_t kMinResultBytes = 5;
constexpr size_t kMinBatchBytes = 3;
constexpr size_t kMinEventBytes = 2;
constexpr size_t kMaxNameBytes = 4096;

uint64_t fnv1a(std::span<const uint8_t> bytes) {
    uint64_t hash = 0xcbf29ce484222325ULL;
    for (uint8_t byte : bytes) {
        hash ^= byte;
        hash *= 0x100000001b3ULL;
    }
    return hash;
}

std::string session_text(SessionId id) { return "session " + std::to_string(id); }

CommandApplied answer(SessionId session, uint64_t sequence) {
    CommandApplied result;
    result.session = session;
    result.sequence = sequence;
    return result;
}

Admission admitted(CompactionMode compaction) {
    Admission admission;
    admission.compaction = compaction;
    return admission;
}

Admission refused(ErrorCode error, std::string message) {
    Admission admission;
    admission.error = error;
    admission.message = std::move(message);
    return admission;
}

}  // namespace

struct ServerStateMachine::Impl final : statemachine::Executor,
                                        statemachine::Context,
                                        statemachine::Sessions,
                                        statemachine::Releaser,
                                        EventSink {
    Impl(std::unique_ptr<statemachine::StateMachine> machine, ServerStateMachineOptions opts);
    ~Impl() override;

    // --- Executor ---
    statemachine::Context& context() override { return *this; }
    void register_command(std::string type, ArgumentCheck check, CommandHandler handler) override;
    void register_query(std::string type, ArgumentCheck check, QueryHandler handler) override;
    ScheduledHandle schedule(uint64_t delay_ms, std::function<void()> task) override;
    ScheduledHandle schedule_periodic(uint64_t delay_ms, uint64_t interval_ms,
                                      std::function<void()> task) override;
    void cancel(ScheduledHandle handle) override { scheduler_.cancel(handle.id); }
    // --- Context ---
    Index index() const override { return last_applied_; }
    uint64_t time_ms() const override { return time_ms_; }
    statemachine::Sessions& sessions() override { return *this; }
    bool in_command() const override { return mode_ == Mode::command; }
    // --- Sessions ---
    statemachine::Session* find(SessionId id) override { return live(id); }
    std::vector<SessionId> ids() const override;
    // --- Releaser: commits the state machine lets go of ---
    void release(Index index) override;
    // --- EventSink ---
    Status publish(SessionRecord& session, std::string_view name, Bytes message) override;

    // --- applying entries ---
    Applied apply(const raft::Entry& entry);
    void apply_session_entry(const raft::Entry& entry, Applied& applied);
    void apply_entry(RegisterEntry entry, Applied& applied);
    void apply_entry(KeepAliveEntry entry, Applied& applied);
    void apply_entry(UnregisterEntry entry, Applied& applied);
    void apply_entry(CommandEntry entry, Applied& applied);
    ErrorCode keep_alive(const KeepAliveItem& item, Index index);
    CommandApplied duplicate(const SessionRecord& session, uint64_t sequence) const;
    CommandApplied execute(SessionRecord& session, CommandEntry entry, Index index);
    void end_session(SessionRecord& session, SessionState final_state, Index unregister_index,
                     Applied& applied);
    void suspect_sessions();
    void flush_events(Applied& applied);
    void run_due_tasks(uint64_t until_ms);
    void run_tasks_of_removed_entries(const raft::Entry& entry);
    // Released while applying last_applied_, or later: see take_released().
    void release_entry(Index index);
    // A session ended and the state machine holds none of its commits: its register entry
    // `start` and the entry that ended it, `end` (0: none), may leave the log; `end` never
    // before `start` (shared_ends_).
    void release_session(Index start, Index end);
    void let_go(Index index);
    // A resent copy of a command, answered as a duplicate at `index`, depends on the entry that
    // raised its session's sequence past it: that entry leaves the log no earlier than the copy
    // (a replay that skipped it would run the copy as a new command).
    void hold_release_until(Index entry, Index index);
    void unref_keep_alive(Index index);
    void hold_keep_alive(Index& slot, Index index);
    void advance_time(uint64_t timestamp_ms) { time_ms_ = std::max(time_ms_, timestamp_ms); }

    // --- leader, queries, events ---
    Admission admit_command(SessionId id, uint64_t sequence, const statemachine::Operation& op);
    Admission check_command(const statemachine::Operation& operation) const;
    Admission admit_query(const statemachine::Operation& operation) const;
    Admission check_argument(const ArgumentCheck& check, std::span<const uint8_t> argument) const;
    CommandApplied query(SessionId id, const statemachine::Operation& operation);
    CompactionMode resolve(CompactionMode mode) const;
    std::vector<PublishRequest> pending_events(SessionId id) const;
    static PublishRequest to_publish(const SessionRecord& session, const EventBatch& batch);
    static void acknowledge(SessionRecord& session, Index index);

    // --- snapshots and introspection ---
    Bytes snapshot() const;
    Status install(std::span<const uint8_t> snapshot, Index index);
    void encode_session(codec::Writer& out, const SessionRecord& session) const;
    std::unique_ptr<SessionRecord> decode_session(codec::Reader& in, Index index,
                                                  uint64_t snapshot_time_ms);
    bool decode_session_events(codec::Reader& in, SessionRecord& session);
    Index completed_index(bool with_results) const;
    uint64_t digest() const;

    SessionRecord* live(SessionId id) const {
        auto it = sessions_.find(id);
        if (it == sessions_.end() || !is_live(it->second->session_state)) return nullptr;
        return it->second.get();
    }

    struct CommandType {
        ArgumentCheck check;
        CommandHandler handler;
    };
    struct QueryType {
        ArgumentCheck check;
        QueryHandler handler;
    };
    // An ended session whose commits the state machine still holds: its register entry (and
    // unregister entry) stay in the log until the last of them is released, so that a replay
    // finds the session for every command that still contributes to state.
    struct EndedSession {
        size_t open_commits = 0;
        Index unregister_index = 0;
    };

    ServerStateMachineOptions options_;
    std::map<std::string, CommandType, std::less<>> commands_;
    std::map<std::string, QueryType, std::less<>> queries_;

    Index last_applied_ = 0;
    uint64_t time_ms_ = 0;
    std::map<SessionId, std::unique_ptr<SessionRecord>> sessions_;
    std::map<std::string, SessionId, std::less<>> by_client_;
    std::map<Index, size_t> keep_alive_refs_;  // keep-alive entry -> sessions it is the last of
    // Command entry -> its session: looked up for every released entry (a map of one entry per
    // live key costs cache misses there), only ever cleared as a whole.
    std::unordered_map<Index, SessionId> open_commits_;  // tidy: unordered-ok (never iterated)
    std::map<SessionId, EndedSession> ended_with_commits_;
    // A register entry that ended an older session of its client is that session's end as well
    // as the new session's start: a replay without it would keep the older session live, and
    // one with it but without the new session's end would keep the new one live. It goes once
    // both sessions let it go, and the new session's end goes with it, not before.
    struct SharedEnd {
        size_t needed = 2;         // sessions that have not let it go yet
        std::vector<Index> after;  // entries released once it is
    };
    std::map<Index, SharedEnd> shared_ends_;
    Scheduler scheduler_;
    size_t malformed_entries_ = 0;
    uint64_t sessions_expired_ = 0;

    Mode mode_ = Mode::idle;
    SessionId registering_ = 0;                           // in its own on_register
    std::map<SessionId, std::vector<Event>> publishing_;  // at the entry being applied
    std::deque<Release> released_;                        // in the order of `at`
    Index release_floor_ = 0;                             // defer_releases_until()
    std::map<Index, Index> release_not_before_;           // hold_release_until()
    bool expiry_allowed_ = false;  // an initialize entry applied since reset_leader_state()

    // Last: destroyed first, while the commits it holds can still be released into this.
    std::unique_ptr<statemachine::StateMachine> state_machine_;
};

// --- construction and registration ----------------------------------------------------------

ServerStateMachine::Impl::Impl(std::unique_ptr<statemachine::StateMachine> machine,
                               ServerStateMachineOptions opts)
    : options_(opts), state_machine_(std::move(machine)) {
    COPYCAT_ASSERT(state_machine_ != nullptr, "ServerStateMachine needs a state machine");
    COPYCAT_ASSERT(options_.min_session_timeout_ms <= options_.max_session_timeout_ms,
                   "min_session_timeout_ms must not exceed max_session_timeout_ms");
    mode_ = Mode::configuring;
    state_machine_->configure(*this);
    mode_ = Mode::idle;
}

ServerStateMachine::Impl::~Impl() {
    // The state machine's commits release into released_ as it goes: destroy it while the
    // rest of this object is still whole.
    state_machine_.reset();
}

void ServerStateMachine::Impl::register_command(std::string type, ArgumentCheck check,
                                                CommandHandler handler) {
    COPYCAT_ASSERT(mode_ == Mode::configuring, "register operations in configure()");
    COPYCAT_ASSERT(!type.empty(), "an empty operation type is the no-op: choose a name");
    COPYCAT_ASSERT(handler != nullptr, "a command needs a handler");
    COPYCAT_ASSERT(!commands_.contains(type), "a command type is registered twice");
    commands_.emplace(std::move(type), CommandType{std::move(check), std::move(handler)});
}

void ServerStateMachine::Impl::register_query(std::string type, ArgumentCheck check,
                                              QueryHandler handler) {
    COPYCAT_ASSERT(mode_ == Mode::configuring, "register operations in configure()");
    COPYCAT_ASSERT(!type.empty(), "an empty operation type is the no-op: choose a name");
    COPYCAT_ASSERT(handler != nullptr, "a query needs a handler");
    COPYCAT_ASSERT(!queries_.contains(type), "a query type is registered twice");
    queries_.emplace(std::move(type), QueryType{std::move(check), std::move(handler)});
}

ScheduledHandle ServerStateMachine::Impl::schedule(uint64_t delay_ms, std::function<void()> task) {
    COPYCAT_ASSERT(mode_ == Mode::command || mode_ == Mode::installing,
                   "schedule only while applying a command, a session callback, a scheduled "
                   "task, or in install(): elsewhere servers would schedule differently");
    COPYCAT_ASSERT(task != nullptr, "schedule needs a task");
    return ScheduledHandle{scheduler_.add(later(time_ms_, delay_ms), 0, std::move(task))};
}

ScheduledHandle ServerStateMachine::Impl::schedule_periodic(uint64_t delay_ms, uint64_t interval_ms,
                                                            std::function<void()> task) {
    COPYCAT_ASSERT(mode_ == Mode::command || mode_ == Mode::installing,
                   "schedule only while applying a command, a session callback, a scheduled "
                   "task, or in install(): elsewhere servers would schedule differently");
    COPYCAT_ASSERT(task != nullptr, "schedule needs a task");
    // An interval of 0 would be due again at once, forever: the least interval is 1 ms.
    const uint64_t interval = std::max<uint64_t>(interval_ms, 1);
    return ScheduledHandle{scheduler_.add(later(time_ms_, delay_ms), interval, std::move(task))};
}

std::vector<SessionId> ServerStateMachine::Impl::ids() const {
    std::vector<SessionId> result;
    for (const auto& [id, session] : sessions_) {
        if (is_live(session->session_state)) result.push_back(id);
    }
    return result;
}

void ServerStateMachine::Impl::release_entry(Index index) {
    Index at = std::max(last_applied_, release_floor_);
    if (auto held = release_not_before_.find(index); held != release_not_before_.end()) {
        at = std::max(at, held->second);
        release_not_before_.erase(held);
    }
    released_.push_back({index, at});
}

void ServerStateMachine::Impl::let_go(Index index) {
    auto shared = shared_ends_.find(index);
    if (shared == shared_ends_.end()) return release_entry(index);
    if (--shared->second.needed > 0) return;
    const std::vector<Index> after = std::move(shared->second.after);
    shared_ends_.erase(shared);
    release_entry(index);
    for (Index entry : after) let_go(entry);
}

void ServerStateMachine::Impl::release_session(Index start, Index end) {
    auto shared = shared_ends_.find(start);
    if (end != 0 && shared != shared_ends_.end() && shared->second.needed > 1) {
        shared->second.after.push_back(end);  // the older session still needs `start`
        return let_go(start);
    }
    let_go(start);
    if (end != 0) let_go(end);
}

void ServerStateMachine::Impl::hold_release_until(Index entry, Index index) {
    if (entry == 0) return;
    // Released already and not handed out: it goes again, at the back, with the later mark.
    auto pending = std::find_if(released_.begin(), released_.end(),
                                [&](const Release& release) { return release.index == entry; });
    if (pending != released_.end()) {
        if (pending->at >= index) return;
        released_.erase(pending);
        released_.push_back({entry, index});
        return;
    }
    Index& held = release_not_before_[entry];
    held = std::max(held, index);
}

void ServerStateMachine::Impl::release(Index index) {
    auto it = open_commits_.find(index);
    // Unknown: a commit from before a snapshot install, whose entry the snapshot covers.
    if (it == open_commits_.end()) return;
    const SessionId id = it->second;
    open_commits_.erase(it);
    if (auto session = sessions_.find(id); session != sessions_.end()) {
        COPYCAT_ASSERT(session->second->open_commits > 0, "commit count of a session underflows");
        --session->second->open_commits;
        release_entry(index);
        return;
    }
    release_entry(index);
    auto ended = ended_with_commits_.find(id);
    COPYCAT_ASSERT(ended != ended_with_commits_.end(), "a commit outlived its session's record");
    if (--ended->second.open_commits > 0) return;
    release_session(id, ended->second.unregister_index);
    ended_with_commits_.erase(ended);
}

Status ServerStateMachine::Impl::publish(SessionRecord& session, std::string_view name,
                                         Bytes message) {
    if (mode_ != Mode::command) {
        return invalid_argument(
            "events can be published only while applying a command, a session callback or a "
            "scheduled task (not from a query, configure() or install())");
    }
    if (!is_live(session.session_state)) {
        return conflict("cannot publish to " + session_text(session.session_id) + ": it is " +
                        statemachine::session_state_name(session.session_state));
    }
    if (session.session_id == registering_) {
        return conflict("cannot publish to " + session_text(session.session_id) +
                        " during its own on_register: its client does not listen yet");
    }
    publishing_[session.session_id].push_back(Event{std::string(name), std::move(message)});
    return Status::ok();
}

// --- applying entries ------------------------------------------------------------------------

Applied ServerStateMachine::Impl::apply(const raft::Entry& entry) {
    COPYCAT_ASSERT(mode_ == Mode::idle, "apply() called from inside the state machine");
    COPYCAT_ASSERT(entry.index > last_applied_,
                   "entries must be applied once each, in index order");
    Applied applied;
    applied.index = entry.index;
    const bool after_holes = entry.index > last_applied_ + 1;
    last_applied_ = entry.index;
    if (after_holes) run_tasks_of_removed_entries(entry);
    // Tasks are due on log time, which an entry of a leader with a slower clock does not bring
    // back: run what is due by the log time this entry leaves, before any entry. By the entry's
    // own timestamp, a server that installed a snapshot (whose state machine re-created a task
    // overdue at the snapshot's log time as due then) ran it at a later entry than the servers
    // that applied the entries (copycat-sim seed 1554, tests/sim FINDINGS.md 8).
    run_due_tasks(entry.timestamp_ms);
    advance_time(entry.timestamp_ms);
    switch (entry.type) {
        case raft::EntryType::initialize:
            // A new leader: nobody is suspected because of the election (atomix #35).
            for (auto& [id, session] : sessions_) session->last_keep_alive_ms = time_ms_;
            expiry_allowed_ = true;
            break;
        case raft::EntryType::configuration: break;
        case raft::EntryType::command: apply_session_entry(entry, applied); break;
        default:
            // An entry type this version does not know: counted and ignored like a malformed
            // entry.
            ++malformed_entries_;
            break;
    }
    flush_events(applied);
    return applied;
}

void ServerStateMachine::Impl::run_due_tasks(uint64_t until_ms) {
    mode_ = Mode::command;
    scheduler_.run_due(std::max(time_ms_, until_ms),
                       [this](uint64_t due_ms) { advance_time(due_ms); });
    mode_ = Mode::idle;
}

// Entries compaction removed come before this one (a hole): the tasks they ran (those due by
// the timestamp of the entry just before this one) run now, as they did there. What they
// published went out at those entries and was acknowledged through the log before the entries
// could go (take_released): nobody gets it again.
void ServerStateMachine::Impl::run_tasks_of_removed_entries(const raft::Entry& entry) {
    if (entry.previous_timestamp_ms <= time_ms_) return;
    run_due_tasks(entry.previous_timestamp_ms);
    advance_time(entry.previous_timestamp_ms);
    publishing_.clear();
}

void ServerStateMachine::Impl::apply_session_entry(const raft::Entry& entry, Applied& applied) {
    Result<SessionEntry> decoded = decode_entry(entry.payload);
    if (!decoded.is_ok()) {
        // Committed garbage (a bug or corruption upstream): every server skips it the same
        // way, and it leaves the log.
        ++malformed_entries_;
        release_entry(entry.index);
        return;
    }
    mode_ = Mode::command;
    std::visit([&](auto&& value) { apply_entry(std::move(value), applied); },
               std::move(decoded.value()));
    mode_ = Mode::idle;
}

void ServerStateMachine::Impl::apply_entry(RegisterEntry entry, Applied& applied) {
    const SessionId id = last_applied_;
    if (!entry.client_id.empty()) {
        // The same client registering again has lost its old session: expire it first. This
        // entry ends it, and stays while either session needs it (shared_ends_).
        if (auto old = by_client_.find(entry.client_id); old != by_client_.end()) {
            shared_ends_[id] = SharedEnd{};
            end_session(*sessions_.at(old->second), SessionState::expired, id, applied);
        }
        by_client_[entry.client_id] = id;
    }
    auto record = std::make_unique<SessionRecord>(*this, id, entry.client_id);
    record->timeout_ms = entry.timeout_ms;
    record->last_keep_alive_ms = time_ms_;
    record->event_index = id;  // a client starts with event index = its session id
    record->log_acked_event_index = id;
    record->acked_event_index = id;
    SessionRecord& session = *record;
    sessions_.emplace(id, std::move(record));
    registering_ = id;
    state_machine_->on_register(session);
    registering_ = 0;
    suspect_sessions();
    applied.result = RegisterApplied{id, entry.timeout_ms};
}

void ServerStateMachine::Impl::apply_entry(KeepAliveEntry entry, Applied& applied) {
    const Index index = last_applied_;
    KeepAliveApplied result;
    for (const KeepAliveItem& item : entry.sessions)
        result.sessions.push_back(keep_alive(item, index));
    // An entry that no session points at is superseded already.
    if (!keep_alive_refs_.contains(index)) release_entry(index);
    suspect_sessions();
    applied.result = std::move(result);
}

ErrorCode ServerStateMachine::Impl::keep_alive(const KeepAliveItem& item, Index index) {
    SessionRecord* session = live(item.session);
    if (session == nullptr) return ErrorCode::unknown_session;
    session->session_state = SessionState::open;
    session->expiring = false;
    session->last_keep_alive_ms = time_ms_;
    // The client has the responses up to command_sequence, so those commands applied before
    // this entry. After compaction a replay may have missed the last of them: without this a
    // query waiting for that sequence would wait forever (copycat #282).
    session->command_sequence = std::max(session->command_sequence, item.command_sequence);
    auto& results = session->results;
    results.erase(results.begin(), results.upper_bound(item.command_sequence));
    // Clamped to this entry's index, not to the events published here: a replay that skipped
    // a compacted entry publishing an event (acknowledged through the log, or it would not have
    // been removed) must reach the same figures. The event index follows what the client
    // acknowledged, for the same reason.
    const Index acked = std::min(item.event_index, index);
    const bool dominates = acked >= session->log_acked_event_index &&
                           item.command_sequence >= session->keep_alive_sequence;
    session->log_acked_event_index = std::max(session->log_acked_event_index, acked);
    session->event_index = std::max(session->event_index, session->log_acked_event_index);
    session->keep_alive_sequence = std::max(session->keep_alive_sequence, item.command_sequence);
    acknowledge(*session, item.event_index);
    hold_keep_alive(session->keep_alive_index, index);
    if (dominates) hold_keep_alive(session->best_keep_alive_index, index);
    return ErrorCode::ok;
}

// Points a session's keep-alive slot at the entry at index, releasing what it held before.
void ServerStateMachine::Impl::hold_keep_alive(Index& slot, Index index) {
    if (slot == index) return;
    ++keep_alive_refs_[index];
    unref_keep_alive(slot);
    slot = index;
}

void ServerStateMachine::Impl::unref_keep_alive(Index index) {
    if (index == 0) return;
    auto it = keep_alive_refs_.find(index);
    COPYCAT_ASSERT(it != keep_alive_refs_.end() && it->second > 0,
                   "keep-alive reference count underflows");
    if (--it->second > 0) return;
    keep_alive_refs_.erase(it);
    release_entry(index);
}

void ServerStateMachine::Impl::apply_entry(UnregisterEntry entry, Applied& applied) {
    const Index index = last_applied_;
    UnregisterApplied result{entry.session, entry.expired, ErrorCode::ok};
    SessionRecord* session = live(entry.session);
    if (session == nullptr) {
        result.error = ErrorCode::unknown_session;
        release_entry(index);
    } else {
        // A logged expiry takes effect whatever state the session is in here, even if a
        // keep-alive applied after the leader decided (its client then registers again): whether
        // the session looks open at this entry depends on keep-alive entries that compaction
        // may remove, so deciding by it would make a server replaying a compacted log differ
        // from the others (copycat.md §4.8: only the leader decides, and the log carries it).
        const SessionState final_state =
            entry.expired ? SessionState::expired : SessionState::closed;
        end_session(*session, final_state, index, applied);
    }
    suspect_sessions();
    applied.result = result;
}

void ServerStateMachine::Impl::end_session(SessionRecord& session, SessionState final_state,
                                           Index unregister_index, Applied& applied) {
    const SessionId id = session.session_id;
    session.session_state = final_state;
    if (final_state == SessionState::expired) {
        ++sessions_expired_;
        state_machine_->on_expire(session);
    } else {
        state_machine_->on_unregister(session);
    }
    state_machine_->on_close(session);
    if (auto it = by_client_.find(session.client); it != by_client_.end() && it->second == id) {
        by_client_.erase(it);
    }
    unref_keep_alive(session.keep_alive_index);
    unref_keep_alive(session.best_keep_alive_index);
    if (session.open_commits == 0) {
        release_session(id, unregister_index);
    } else {
        ended_with_commits_[id] = EndedSession{session.open_commits, unregister_index};
    }
    applied.ended.push_back(id);
    sessions_.erase(id);
}

void ServerStateMachine::Impl::suspect_sessions() {
    for (auto& [id, session] : sessions_) {
        // last_keep_alive_ms is always a log time already reached, so this cannot wrap.
        const uint64_t silent_ms = time_ms_ - session->last_keep_alive_ms;
        if (session->session_state == SessionState::open && silent_ms > session->timeout_ms) {
            session->session_state = SessionState::unstable;
        }
    }
}

void ServerStateMachine::Impl::apply_entry(CommandEntry entry, Applied& applied) {
    const Index index = last_applied_;
    SessionRecord* session = live(entry.session);
    if (session == nullptr) {
        release_entry(index);
        CommandApplied result = answer(entry.session, entry.sequence);
        result.error = ErrorCode::unknown_session;
        result.message = session_text(entry.session) + " is unknown, closed or expired";
        applied.result = std::move(result);
    } else if (entry.sequence <= session->command_sequence) {
        release_entry(index);  // a resubmission: answered, never applied twice
        hold_release_until(session->command_index, index);
        applied.result = duplicate(*session, entry.sequence);
    } else {
        applied.result = execute(*session, std::move(entry), index);
    }
}

CommandApplied ServerStateMachine::Impl::duplicate(const SessionRecord& session,
                                                   uint64_t sequence) const {
    CommandApplied result = answer(session.session_id, sequence);
    auto cached = session.results.find(sequence);
    if (cached == session.results.end()) {
        // The client acknowledged this response with a keep-alive, so it no longer waits for
        // it; saying ok with an empty value would invent a result.
        result.error = ErrorCode::command_error;
        result.message = "command " + std::to_string(sequence) + " of " +
                         session_text(session.session_id) +
                         " is at or below its last applied sequence " +
                         std::to_string(session.command_sequence) +
                         " and its result was acknowledged; it was not applied again";
        result.event_index = session.event_index;
        return result;
    }
    result.error = cached->second.error;
    result.message = cached->second.message;
    result.value = cached->second.value;
    result.event_index = cached->second.event_index;
    return result;
}

// Runs a command whose sequence is past the session's last applied one. A sequence beyond the
// next one is applied too: the leader admits only the next sequence, so a gap in the log
// means the commands in between were applied earlier and their entries released and compacted
// away (a replay). Waiting for them would stop the session forever; applying the later one
// repeats what happened the first time. A missing command that did show up later would be
// at or below the session's sequence and never run: program order is never reversed.
CommandApplied ServerStateMachine::Impl::execute(SessionRecord& session, CommandEntry entry,
                                                 Index index) {
    CommandApplied result = answer(session.session_id, entry.sequence);
    const std::string& type = entry.operation.type;
    auto handler = commands_.find(type);
    if (type.empty()) {
        release_entry(index);  // a no-op: fills the sequence and reaches nobody
    } else if (handler == commands_.end()) {
        release_entry(index);
        result.error = ErrorCode::unknown_operation;
        result.message = "no command of type '" + type + "' is registered";
    } else {
        open_commits_[index] = session.session_id;
        ++session.open_commits;
        Output output = handler->second.handler(
            Commit(index, time_ms_, session.session_id, std::move(entry.operation), this));
        if (output.is_ok()) {
            result.value = std::move(output.value());
        } else {
            result.error = ErrorCode::application_error;
            result.message = output.status().message();
        }
    }
    session.command_sequence = entry.sequence;
    // flush_events() makes this index the session's event index if anything was published to
    // it (by this command or by a task that ran before it).
    result.event_index = publishing_.contains(session.session_id) ? index : session.event_index;
    session.command_index = index;
    session.results[entry.sequence] =
        CachedResult{result.error, result.message, result.value, result.event_index, index};
    return result;
}

void ServerStateMachine::Impl::flush_events(Applied& applied) {
    const Index index = last_applied_;
    for (auto& [id, events] : publishing_) {
        SessionRecord* session = live(id);
        if (session == nullptr) continue;  // it ended at this entry: its events go with it
        EventBatch batch{index, session->event_index, std::move(events)};
        session->event_index = index;
        applied.events.push_back(to_publish(*session, batch));
        session->batches.push_back(std::move(batch));
    }
    publishing_.clear();
}

PublishRequest ServerStateMachine::Impl::to_publish(const SessionRecord& session,
                                                    const EventBatch& batch) {
    // The client already has everything up to what it acknowledged: chain from there.
    const Index previous = std::max(batch.previous_index, session.acked_event_index);
    return PublishRequest{session.session_id, batch.event_index, previous, batch.events};
}

void ServerStateMachine::Impl::acknowledge(SessionRecord& session, Index index) {
    // A client cannot have events beyond the last published: clamp a bogus claim.
    const Index acked = std::min(index, session.event_index);
    session.acked_event_index = std::max(session.acked_event_index, acked);
    while (!session.batches.empty() && session.batches.front().event_index <= acked) {
        session.batches.pop_front();
    }
}

// --- the leader, queries, events -------------------------------------------------------------

Admission ServerStateMachine::Impl::admit_command(SessionId id, uint64_t sequence,
                                                  const statemachine::Operation& op) {
    SessionRecord* session = live(id);
    if (session == nullptr) {
        return refused(ErrorCode::unknown_session,
                       session_text(id) + " is unknown, closed or expired");
    }
    if (sequence == 0) return refused(ErrorCode::bad_request, "command sequences start at 1");
    // What this leader admitted, or what applied (a new leader catching up on its log).
    const uint64_t last = std::max(session->request_sequence, session->command_sequence);
    if (sequence - 1 > last) {
        Admission out_of_order =
            refused(ErrorCode::command_error,
                    "command " + std::to_string(sequence) + " of " + session_text(id) +
                        " is out of order: resubmit the commands after " + std::to_string(last));
        out_of_order.last_sequence = last;
        return out_of_order;
    }
    Admission admission = check_command(op);
    if (admission.error == ErrorCode::ok && sequence == last + 1) {
        session->request_sequence = sequence;
        admission.advanced = true;
    }
    return admission;
}

Admission ServerStateMachine::Impl::check_command(const statemachine::Operation& op) const {
    if (op.type.empty()) return admitted(CompactionMode::release);
    auto type = commands_.find(op.type);
    if (type == commands_.end()) {
        return refused(ErrorCode::unknown_operation,
                       "no command of type '" + op.type + "' is registered");
    }
    return check_argument(type->second.check, op.argument);
}

Admission ServerStateMachine::Impl::admit_query(const statemachine::Operation& op) const {
    auto type = queries_.find(op.type);
    if (type == queries_.end()) {
        return refused(ErrorCode::unknown_operation,
                       "no query of type '" + op.type + "' is registered");
    }
    return check_argument(type->second.check, op.argument);
}

Admission ServerStateMachine::Impl::check_argument(const ArgumentCheck& check,
                                                   std::span<const uint8_t> argument) const {
    if (check == nullptr) return admitted(resolve(CompactionMode::default_mode));
    Result<CompactionMode> mode = check(argument);
    if (!mode.is_ok()) return refused(ErrorCode::bad_request, mode.status().message());
    return admitted(resolve(*mode));
}

CompactionMode ServerStateMachine::Impl::resolve(CompactionMode mode) const {
    if (mode != CompactionMode::default_mode) return mode;
    return state_machine_->snapshottable() ? CompactionMode::snapshot : CompactionMode::sequential;
}

CommandApplied ServerStateMachine::Impl::query(SessionId id, const statemachine::Operation& op) {
    COPYCAT_ASSERT(mode_ == Mode::idle, "query() called from inside the state machine");
    CommandApplied result = answer(id, 0);
    SessionRecord* session = live(id);
    if (session == nullptr) {
        result.error = ErrorCode::unknown_session;
        result.message = session_text(id) + " is unknown, closed or expired";
        return result;
    }
    result.sequence = session->command_sequence;
    result.event_index = session->event_index;
    Admission admission = admit_query(op);
    if (admission.error != ErrorCode::ok) {
        result.error = admission.error;
        result.message = std::move(admission.message);
        return result;
    }
    mode_ = Mode::query;
    Output output =
        queries_.find(op.type)->second.handler(Commit(last_applied_, time_ms_, id, op, nullptr));
    mode_ = Mode::idle;
    if (output.is_ok()) {
        result.value = std::move(output.value());
    } else {
        result.error = ErrorCode::application_error;
        result.message = output.status().message();
    }
    return result;
}

std::vector<PublishRequest> ServerStateMachine::Impl::pending_events(SessionId id) const {
    std::vector<PublishRequest> result;
    const SessionRecord* session = live(id);
    if (session == nullptr) return result;
    for (const EventBatch& batch : session->batches) result.push_back(to_publish(*session, batch));
    return result;
}

// From what the log says (the same on every server), not from this server's local
// acknowledgements: an event its client acknowledged only here (a reset) still counts as
// pending, or a replay elsewhere would lose it. With results, also below the first command whose
// result the client has not acknowledged: a server that replays a log without that entry has no
// result to answer a resubmission with.
Index ServerStateMachine::Impl::completed_index(bool with_results) const {
    Index completed = last_applied_;
    for (const auto& [id, session] : sessions_) {
        if (session->event_index > session->log_acked_event_index) {
            completed = std::min(completed, session->log_acked_event_index);
        }
        if (with_results && !session->results.empty()) {
            completed = std::min(completed, session->results.begin()->second.index - 1);
        }
    }
    return completed;
}

uint64_t ServerStateMachine::Impl::digest() const {
    codec::Writer out;
    out.varint(time_ms_);
    for (const auto& [id, session] : sessions_) {
        out.varint(id);
        out.string(session->client);
        out.u8(static_cast<uint8_t>(session->session_state));
        out.varint(session->timeout_ms);
        out.varint(session->last_keep_alive_ms);
        out.varint(session->command_sequence);
        // What the log says about events: batches after log_acked up to event_index are
        // pending on every server (a local reset may have dropped some on one server only).
        out.varint(session->event_index);
        out.varint(session->log_acked_event_index);
    }
    return fnv1a(out.bytes());
}

// --- snapshots -------------------------------------------------------------------------------
//
// Layout (common/codec.h): version u8, log time, session count, the sessions, then the state
// machine's snapshot as a byte string. A session: id, client id, state, timeout, last
// keep-alive, command sequence, event index, log-acknowledged and acknowledged event indexes,
// keep-alive entry, cached results (sequence, error, message, value, event index, entry index)
// and pending
// event batches (index, previous index, events: name, message).

Bytes ServerStateMachine::Impl::snapshot() const {
    COPYCAT_ASSERT(state_machine_->snapshottable(),
                   "snapshot() of a state machine that does not take snapshots");
    COPYCAT_ASSERT(mode_ == Mode::idle, "snapshot() called from inside the state machine");
    codec::Writer out;
    out.u8(kSnapshotVersion);
    out.varint(time_ms_);
    out.varint(sessions_.size());
    for (const auto& [id, session] : sessions_) encode_session(out, *session);
    out.bytes(state_machine_->snapshot());
    return out.take();
}

void ServerStateMachine::Impl::encode_session(codec::Writer& out,
                                              const SessionRecord& session) const {
    out.varint(session.session_id);
    out.string(session.client);
    out.u8(static_cast<uint8_t>(session.session_state));
    out.varint(session.timeout_ms);
    out.varint(session.last_keep_alive_ms);
    out.varint(session.command_sequence);
    out.varint(session.event_index);
    out.varint(session.log_acked_event_index);
    out.varint(session.acked_event_index);
    out.varint(session.keep_alive_sequence);
    out.varint(session.keep_alive_index);
    out.varint(session.best_keep_alive_index);
    out.varint(session.results.size());
    for (const auto& [sequence, cached] : session.results) {
        out.varint(sequence);
        out.u8(static_cast<uint8_t>(cached.error));
        out.string(cached.message);
        out.bytes(cached.value);
        out.varint(cached.event_index);
        out.varint(cached.index);
    }
    out.varint(session.batches.size());
    for (const EventBatch& batch : session.batches) {
        out.varint(batch.event_index);
        out.varint(batch.previous_index);
        out.varint(batch.events.size());
        for (const Event& event : batch.events) {
            out.string(event.name);
            out.bytes(event.message);
        }
    }
}

std::unique_ptr<SessionRecord> ServerStateMachine::Impl::decode_session(codec::Reader& in,
                                                                        Index index,
                                                                        uint64_t snapshot_time_ms) {
    uint64_t id = 0;
    std::string client;
    uint8_t state = 0;
    in.varint(id);
    in.string(client, kMaxNameBytes);
    in.u8(state);
    auto session = std::make_unique<SessionRecord>(*this, id, std::move(client));
    in.varint(session->timeout_ms);
    in.varint(session->last_keep_alive_ms);
    in.varint(session->command_sequence);
    in.varint(session->event_index);
    in.varint(session->log_acked_event_index);
    in.varint(session->acked_event_index);
    in.varint(session->keep_alive_sequence);
    in.varint(session->keep_alive_index);
    in.varint(session->best_keep_alive_index);
    if (!in.ok() || id == 0 || id > index || state > 1) return nullptr;
    session->session_state = static_cast<SessionState>(state);
    const SessionRecord& s = *session;
    if (s.event_index < id || s.event_index > index || s.log_acked_event_index > s.event_index ||
        s.acked_event_index > s.event_index || s.keep_alive_index > index ||
        s.best_keep_alive_index > index || s.last_keep_alive_ms > snapshot_time_ms) {
        return nullptr;
    }
    uint64_t count = 0;
    in.count(count, kMinResultBytes);
    for (uint64_t i = 0; i < count && in.ok(); ++i) {
        uint64_t sequence = 0;
        uint8_t error = 0;
        CachedResult cached;
        in.varint(sequence);
        in.u8(error);
        in.string(cached.message);
        in.bytes(cached.value);
        in.varint(cached.event_index);
        in.varint(cached.index);
        if (error > static_cast<uint8_t>(ErrorCode::timeout) || sequence == 0 ||
            sequence > s.command_sequence || session->results.contains(sequence) ||
            cached.index == 0 || cached.index > index) {
            return nullptr;
        }
        cached.error = static_cast<ErrorCode>(error);
        session->results.emplace(sequence, std::move(cached));
    }
    if (!decode_session_events(in, *session)) return nullptr;
    return session;
}

bool ServerStateMachine::Impl::decode_session_events(codec::Reader& in, SessionRecord& session) {
    uint64_t count = 0;
    in.count(count, kMinBatchBytes);
    Index previous = session.acked_event_index;
    for (uint64_t i = 0; i < count && in.ok(); ++i) {
        EventBatch batch;
        uint64_t events = 0;
        in.varint(batch.event_index);
        in.varint(batch.previous_index);
        in.count(events, kMinEventBytes);
        for (uint64_t e = 0; e < events && in.ok(); ++e) {
            Event event;
            in.string(event.name, kMaxNameBytes);
            in.bytes(event.message);
            batch.events.push_back(std::move(event));
        }
        // Batches are in index order, after what was acknowledged, up to the last published.
        if (batch.event_index <= previous || batch.event_index > session.event_index ||
            batch.previous_index >= batch.event_index) {
            return false;
        }
        previous = batch.event_index;
        session.batches.push_back(std::move(batch));
    }
    return in.ok();
}

// Decodes everything first and swaps last: an error leaves the state as it was.
Status ServerStateMachine::Impl::install(std::span<const uint8_t> snapshot, Index index) {
    COPYCAT_ASSERT(mode_ == Mode::idle, "install() called from inside the state machine");
    if (!state_machine_->snapshottable()) {
        return invalid_argument("this state machine does not take snapshots");
    }
    // Committed entries never change, so the applied state already holds everything a snapshot
    // at or before last_applied_ holds: nothing to do (and nothing to go back to).
    if (index <= last_applied_) return Status::ok();
    codec::Reader in(snapshot);
    uint8_t version = 0;
    uint64_t snapshot_time_ms = 0;
    uint64_t count = 0;
    in.u8(version);
    in.varint(snapshot_time_ms);
    in.count(count, kMinSessionBytes);
    if (!in.ok() || version != kSnapshotVersion) {
        return corruption("session snapshot: bad header or unknown version");
    }
    std::map<SessionId, std::unique_ptr<SessionRecord>> sessions;
    std::map<std::string, SessionId, std::less<>> by_client;
    bool valid = true;
    for (uint64_t i = 0; i < count && valid; ++i) {
        std::unique_ptr<SessionRecord> session = decode_session(in, index, snapshot_time_ms);
        valid = session != nullptr && !sessions.contains(session->session_id) &&
                (session->client.empty() ||
                 by_client.emplace(session->client, session->session_id).second);
        if (valid) sessions.emplace(session->session_id, std::move(session));
    }
    Bytes user_snapshot;
    in.bytes(user_snapshot);
    if (!valid || !in.done()) {
        return corruption("session snapshot: malformed session table");
    }
    // Log time is a function of the log prefix: a snapshot further on is never earlier.
    const uint64_t saved_time_ms = std::exchange(time_ms_, std::max(time_ms_, snapshot_time_ms));
    const Index saved_index = std::exchange(last_applied_, index);
    Scheduler::Tasks saved_tasks = scheduler_.detach();
    mode_ = Mode::installing;
    Status status = state_machine_->install(user_snapshot);
    mode_ = Mode::idle;
    if (!status.is_ok()) {
        scheduler_.attach(std::move(saved_tasks));
        time_ms_ = saved_time_ms;
        last_applied_ = saved_index;
        return status;
    }
    sessions_ = std::move(sessions);
    by_client_ = std::move(by_client);
    keep_alive_refs_.clear();
    for (const auto& [id, session] : sessions_) {
        if (session->keep_alive_index != 0) ++keep_alive_refs_[session->keep_alive_index];
        if (session->best_keep_alive_index != 0) {
            ++keep_alive_refs_[session->best_keep_alive_index];
        }
        session->request_sequence = session->command_sequence;
    }
    open_commits_.clear();
    ended_with_commits_.clear();
    shared_ends_.clear();
    return Status::ok();
}

// --- ServerStateMachine ----------------------------------------------------------------------

ServerStateMachine::ServerStateMachine(std::unique_ptr<statemachine::StateMachine> state_machine,
                                       ServerStateMachineOptions options)
    : impl_(std::make_unique<Impl>(std::move(state_machine), options)) {}

ServerStateMachine::~ServerStateMachine() = default;

Applied ServerStateMachine::apply(const raft::Entry& entry) { return impl_->apply(entry); }

Index ServerStateMachine::lowest_pending_release() const {
    Index lowest = std::numeric_limits<Index>::max();
    for (const auto& release : impl_->released_) lowest = std::min(lowest, release.index);
    return lowest;
}

void ServerStateMachine::defer_releases_until(Index index) {
    impl_->release_floor_ = std::max(impl_->release_floor_, index);
}

std::vector<Release> ServerStateMachine::take_released(Index durable) {
    std::vector<Release> result;
    auto& pending = impl_->released_;
    // completed_index() visits every session: not when nothing could go anyway (it runs after
    // every applied batch).
    // Not before this server's log holds durably every entry it applied (not only the one that
    // made the release): completed_index() leaves out sessions that ended by last_applied(), and
    // a restart must find their end in the stored log, below the holes' horizon, or it would
    // send them events chained across the holes (SessionServer::events_may_go()).
    if (pending.empty() || pending.front().at > durable || last_applied() > durable) return result;
    const Index completed = completed_index();
    while (!pending.empty() && pending.front().at <= completed) {
        result.push_back(pending.front());
        pending.pop_front();
    }
    return result;
}

uint64_t ServerStateMachine::choose_session_timeout(uint64_t requested_ms) const {
    const ServerStateMachineOptions& options = impl_->options_;
    const uint64_t timeout_ms =
        requested_ms == 0 ? options.default_session_timeout_ms : requested_ms;
    return std::clamp(timeout_ms, options.min_session_timeout_ms, options.max_session_timeout_ms);
}

Admission ServerStateMachine::admit_command(SessionId session, uint64_t sequence,
                                            const statemachine::Operation& operation) {
    return impl_->admit_command(session, sequence, operation);
}

void ServerStateMachine::note_keep_alive(const KeepAliveItem& item) {
    if (SessionRecord* session = impl_->live(item.session); session != nullptr) {
        session->request_sequence = std::max(session->request_sequence, item.command_sequence);
    }
}

void ServerStateMachine::reset_leader_state() {
    for (auto& [id, session] : impl_->sessions_) {
        session->request_sequence = session->command_sequence;
        session->expiring = false;
    }
    impl_->expiry_allowed_ = false;
}

std::vector<SessionId> ServerStateMachine::take_sessions_to_expire() {
    std::vector<SessionId> result;
    if (!impl_->expiry_allowed_) return result;
    for (auto& [id, session] : impl_->sessions_) {
        if (session->session_state == SessionState::unstable && !session->expiring) {
            session->expiring = true;
            result.push_back(id);
        }
    }
    return result;
}

Admission ServerStateMachine::admit_query(const statemachine::Operation& operation) const {
    return impl_->admit_query(operation);
}

bool ServerStateMachine::query_ready(SessionId session, uint64_t sequence, Index index) const {
    const SessionRecord* record = impl_->live(session);
    return record != nullptr && record->command_sequence >= sequence &&
           impl_->last_applied_ >= index;
}

CommandApplied ServerStateMachine::query(SessionId session,
                                         const statemachine::Operation& operation) {
    return impl_->query(session, operation);
}

std::vector<PublishRequest> ServerStateMachine::pending_events(SessionId session) const {
    return impl_->pending_events(session);
}

void ServerStateMachine::acknowledge_events(SessionId session, Index index) {
    if (SessionRecord* record = impl_->live(session); record != nullptr) {
        Impl::acknowledge(*record, index);
    }
}

bool ServerStateMachine::snapshottable() const { return impl_->state_machine_->snapshottable(); }

Bytes ServerStateMachine::snapshot() const { return impl_->snapshot(); }

Status ServerStateMachine::install(std::span<const uint8_t> snapshot, Index index) {
    return impl_->install(snapshot, index);
}

Index ServerStateMachine::last_applied() const { return impl_->last_applied_; }

uint64_t ServerStateMachine::time_ms() const { return impl_->time_ms_; }

bool ServerStateMachine::session_live(SessionId session) const {
    return impl_->live(session) != nullptr;
}

std::vector<SessionInfo> ServerStateMachine::sessions() const {
    std::vector<SessionInfo> result;
    for (const auto& [id, session] : impl_->sessions_) {
        result.push_back(SessionInfo{id, session->client, session->session_state,
                                     session->timeout_ms, session->last_keep_alive_ms,
                                     session->command_sequence, session->event_index,
                                     session->batches.size()});
    }
    return result;
}

size_t ServerStateMachine::sessions_live() const { return impl_->ids().size(); }

size_t ServerStateMachine::events_pending() const {
    size_t total = 0;
    for (const auto& [id, session] : impl_->sessions_) total += session->batches.size();
    return total;
}

Index ServerStateMachine::completed_index() const { return impl_->completed_index(true); }
Index ServerStateMachine::events_completed_index() const { return impl_->completed_index(false); }

uint64_t ServerStateMachine::digest() const { return impl_->digest(); }

size_t ServerStateMachine::malformed_entries() const { return impl_->malformed_entries_; }

uint64_t ServerStateMachine::sessions_expired() const { return impl_->sessions_expired_; }

}  // namespace copycat::session
