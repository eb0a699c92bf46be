#include "tests/statemachine/harness.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <utility>

#include "common/assert.h"

namespace copycat::statemachine::testing {

Status FakeSession::publish(std::string_view name, Bytes message) {
    if (!*in_command_) return invalid_argument("publish outside command context");
    if (state_ != SessionState::open && state_ != SessionState::unstable) {
        return invalid_argument("publish to a session that has ended");
    }
    events_.push_back(PublishedEvent{index_, std::string(name), std::move(message)});
    return Status::ok();
}

Harness::Harness(std::unique_ptr<StateMachine> state_machine)
    : state_machine_(std::move(state_machine)) {
    state_machine_->configure(*this);
}

// The state machine's commits release into this object: destroy it first.
Harness::~Harness() { state_machine_.reset(); }

void Harness::set_time(uint64_t time_ms) {
    COPYCAT_ASSERT(time_ms >= now_ms_, "log time never goes back");
    now_ms_ = time_ms;
}

SessionId Harness::open_session(std::string client_id) {
    LogEntry entry{LogEntry::Kind::register_session, index_ + 1, now_ms_, index_ + 1, {}, {}};
    entry.operation.type = std::move(client_id);  // the register entry carries the client id
    apply(entry);
    return entry.session;
}

void Harness::close_session(SessionId session) {
    apply(LogEntry{LogEntry::Kind::unregister, index_ + 1, now_ms_, session, {}, {}});
}

void Harness::expire_session(SessionId session) {
    apply(LogEntry{LogEntry::Kind::expire, index_ + 1, now_ms_, session, {}, {}});
}

void Harness::keep_alive() {
    apply(LogEntry{LogEntry::Kind::keep_alive, index_ + 1, now_ms_, 0, {}, {}});
}

Result<CompactionMode> Harness::check_command(const Operation& operation) {
    auto found = commands_.find(operation.type);
    if (found == commands_.end()) return not_found("unknown command " + operation.type);
    return found->second.first(operation.argument);
}

Result<CompactionMode> Harness::check_query(const Operation& operation) {
    auto found = queries_.find(operation.type);
    if (found == queries_.end()) return not_found("unknown query " + operation.type);
    return found->second.first(operation.argument);
}

Output Harness::command(SessionId session, const Operation& operation) {
    Result<CompactionMode> mode = check_command(operation);
    if (!mode.is_ok()) return mode.status();
    LogEntry entry{LogEntry::Kind::command, index_ + 1, now_ms_, session, operation, *mode};
    log_.push_back(entry);
    begin_entry(entry.index, entry.time_ms);
    Output output = apply_command(entry);
    end_entry();
    return output;
}

Output Harness::apply_unchecked(SessionId session, const Operation& operation) {
    LogEntry entry{LogEntry::Kind::command, index_ + 1, now_ms_, session, operation, {}};
    log_.push_back(entry);
    begin_entry(entry.index, entry.time_ms);
    Output output = apply_command(entry);
    end_entry();
    return output;
}

Output Harness::query(SessionId session, const Operation& operation) {
    Result<CompactionMode> mode = check_query(operation);
    if (!mode.is_ok()) return mode.status();
    Commit commit(index_, context_time_ms_, session, operation, nullptr);
    return queries_.at(operation.type).second(commit);
}

std::vector<PublishedEvent> Harness::take_raw_events(SessionId session,
                                                     std::optional<std::string_view> name) {
    auto found = sessions_.find(session);
    if (found == sessions_.end()) return {};
    std::vector<PublishedEvent>& events = found->second->events();
    std::vector<PublishedEvent> taken;
    std::vector<PublishedEvent> kept;
    for (PublishedEvent& event : events) {
        const bool matches = !name.has_value() || event.name == *name;
        (matches ? taken : kept).push_back(std::move(event));
    }
    events = std::move(kept);
    return taken;
}

std::optional<CompactionMode> Harness::compaction_of(Index index) const {
    for (const LogEntry& entry : log_) {
        if (entry.index == index && entry.kind == LogEntry::Kind::command) return entry.compaction;
    }
    return std::nullopt;
}

std::vector<LogEntry> Harness::compacted_log() const {
    std::vector<LogEntry> kept;
    for (const LogEntry& entry : log_) {
        const bool removable = entry.compaction == CompactionMode::release ||
                               entry.compaction == CompactionMode::quorum;
        const bool is_command = entry.kind == LogEntry::Kind::command;
        if (!(is_command && removable && released(entry.index))) kept.push_back(entry);
    }
    return kept;
}

void Harness::replay(const std::vector<LogEntry>& entries) {
    for (const LogEntry& entry : entries) {
        set_time(entry.time_ms);
        apply(entry);
    }
}

std::vector<std::string> Harness::registered_commands() const {
    std::vector<std::string> types;
    for (const auto& [type, registration] : commands_) types.push_back(type);
    return types;
}

std::vector<std::string> Harness::registered_queries() const {
    std::vector<std::string> types;
    for (const auto& [type, registration] : queries_) types.push_back(type);
    return types;
}

void Harness::register_command(std::string type, ArgumentCheck check, CommandHandler handler) {
    COPYCAT_ASSERT(!commands_.contains(type) && !queries_.contains(type), "registered twice");
    commands_.emplace(std::move(type), std::make_pair(std::move(check), std::move(handler)));
}

void Harness::register_query(std::string type, ArgumentCheck check, QueryHandler handler) {
    COPYCAT_ASSERT(!commands_.contains(type) && !queries_.contains(type), "registered twice");
    queries_.emplace(std::move(type), std::make_pair(std::move(check), std::move(handler)));
}

ScheduledHandle Harness::schedule(uint64_t delay_ms, std::function<void()> task) {
    return schedule_periodic(delay_ms, 0, std::move(task));
}

ScheduledHandle Harness::schedule_periodic(uint64_t delay_ms, uint64_t interval_ms,
                                           std::function<void()> task) {
    COPYCAT_ASSERT(in_command_, "scheduling outside command context");
    const uint64_t id = next_task_id_++;
    tasks_.emplace(id, Task{context_time_ms_ + delay_ms, interval_ms, std::move(task)});
    return ScheduledHandle{id};
}

void Harness::cancel(ScheduledHandle handle) { tasks_.erase(handle.id); }

Session* Harness::find(SessionId id) {
    auto found = sessions_.find(id);
    if (found == sessions_.end()) return nullptr;
    const SessionState state = found->second->state();
    if (state == SessionState::closed || state == SessionState::expired) return nullptr;
    return found->second.get();
}

std::vector<SessionId> Harness::ids() const {
    std::vector<SessionId> live;
    for (const auto& [id, session] : sessions_) {
        const SessionState state = session->state();
        if (state == SessionState::open || state == SessionState::unstable) live.push_back(id);
    }
    return live;
}

void Harness::release(Index index) {
    COPYCAT_ASSERT(released_.insert(index).second, "an index was released twice");
}

void Harness::begin_entry(Index index, uint64_t time_ms) {
    COPYCAT_ASSERT(index > index_, "entries apply in index order");
    index_ = index;
    in_command_ = true;
    for (auto& [id, session] : sessions_) session->set_index(index);
    // Tasks due at or before this entry's time run first, in due-time order, at this index (as
    // consensus/session/ does); a task scheduled by a task waits for the next entry.
    const uint64_t id_limit = next_task_id_;
    std::set<uint64_t> ran;  // a periodic task runs once per entry
    for (;;) {
        auto next = tasks_.end();
        for (auto it = tasks_.begin(); it != tasks_.end(); ++it) {
            if (it->first >= id_limit || it->second.due_ms > time_ms || ran.contains(it->first)) {
                continue;
            }
            if (next == tasks_.end() || it->second.due_ms < next->second.due_ms) next = it;
        }
        if (next == tasks_.end()) break;
        const uint64_t id = next->first;
        ran.insert(id);
        context_time_ms_ = std::max(context_time_ms_, next->second.due_ms);
        std::function<void()> run = next->second.run;  // the task may cancel itself
        if (next->second.interval_ms == 0) {
            tasks_.erase(next);
        } else {
            next->second.due_ms += next->second.interval_ms;
        }
        run();
    }
    context_time_ms_ = std::max(context_time_ms_, time_ms);
}

Output Harness::apply_command(const LogEntry& entry) {
    auto found = commands_.find(entry.operation.type);
    if (found == commands_.end()) return not_found("unknown command " + entry.operation.type);
    Commit commit(entry.index, context_time_ms_, entry.session, entry.operation, this);
    return found->second.second(std::move(commit));
}

void Harness::end_session(const LogEntry& entry) {
    auto found = sessions_.find(entry.session);
    COPYCAT_ASSERT(found != sessions_.end(), "ending an unknown session");
    FakeSession& session = *found->second;
    const bool expired = entry.kind == LogEntry::Kind::expire;
    session.set_state(expired ? SessionState::expired : SessionState::closed);
    if (expired) {
        state_machine_->on_expire(session);
    } else {
        state_machine_->on_unregister(session);
    }
    state_machine_->on_close(session);
}

void Harness::apply(const LogEntry& entry) {
    if (entry.kind == LogEntry::Kind::command) {
        log_.push_back(entry);
        begin_entry(entry.index, entry.time_ms);
        (void)apply_command(entry);
        end_entry();
        return;
    }
    log_.push_back(entry);
    begin_entry(entry.index, entry.time_ms);
    switch (entry.kind) {
        case LogEntry::Kind::register_session: {
            auto session =
                std::make_unique<FakeSession>(entry.session, entry.operation.type, &in_command_);
            session->set_index(entry.index);
            FakeSession& registered = *session;
            sessions_.emplace(entry.session, std::move(session));
            state_machine_->on_register(registered);
            break;
        }
        case LogEntry::Kind::unregister:
        case LogEntry::Kind::expire: end_session(entry); break;
        case LogEntry::Kind::keep_alive:
        case LogEntry::Kind::command: break;
    }
    end_entry();
}

void Harness::record_decode(bool ok, const std::string& name) {
    EXPECT_TRUE(ok) << "event " << name << " does not decode";
}

}  // namespace copycat::statemachine::testing
