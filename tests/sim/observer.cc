#include "tests/sim/observer.h"

#include <algorithm>
#include <utility>

#include "common/assert.h"
#include "consensus/statemachine/operation.h"
#include "consensus/statemachine/resources/ops.h"
#include "consensus/statemachine/resources/state_hash.h"

namespace copycat::sim {
namespace {

std::string str(uint64_t value) { return std::to_string(value); }

using statemachine::Commit;
using statemachine::Context;
using statemachine::Executor;
using statemachine::Output;
using statemachine::Session;
using statemachine::Sessions;
using statemachine::SessionState;

}  // namespace

uint64_t IndexEffects::hash() const {
    resources::StateHash hash;
    hash.add(static_cast<uint64_t>(index));
    hash.add(static_cast<uint64_t>(registered.size()));
    for (const SessionId id : registered) hash.add(id);
    hash.add(static_cast<uint64_t>(closed.size()));
    for (const SessionId id : closed) hash.add(id);
    hash.add(static_cast<uint64_t>(executions.size()));
    for (const Execution& execution : executions) {
        hash.add(execution.session);
        hash.add(std::string_view(execution.type));
        hash.add(std::span<const uint8_t>(execution.argument));
        hash.add(execution.ok);
        hash.add(std::span<const uint8_t>(execution.output));
    }
    hash.add(static_cast<uint64_t>(publications.size()));
    for (const Publication& publication : publications) {
        hash.add(publication.session);
        hash.add(std::string_view(publication.event.name));
        hash.add(std::span<const uint8_t>(publication.event.message));
    }
    return hash.value();
}

// --- the decorators ---------------------------------------------------------------------------

namespace {

// A session as the state machine sees it, recording what it publishes.
class ObservedSession final : public Session {
public:
    explicit ObservedSession(ObservedStateMachine& owner) : owner_(owner) {}
    void bind(Session* target) { target_ = target; }

    SessionId id() const override { return target_->id(); }
    const std::string& client_id() const override { return target_->client_id(); }
    SessionState state() const override { return target_->state(); }
    Status publish(std::string_view name, Bytes message) override {
        const Bytes copy = message;
        Status status = target_->publish(name, std::move(message));
        if (status.is_ok()) owner_.note_publication(target_->id(), name, copy);
        return status;
    }

private:
    ObservedStateMachine& owner_;
    Session* target_ = nullptr;
};

class ObservedSessions final : public Sessions {
public:
    explicit ObservedSessions(ObservedStateMachine& owner) : owner_(owner) {}
    void bind(Sessions* target) { target_ = target; }

    Session* find(SessionId id) override {
        Session* found = target_->find(id);
        if (found == nullptr) return nullptr;
        auto [wrapper, inserted] = wrappers_.try_emplace(id, owner_);
        wrapper->second.bind(found);
        return &wrapper->second;
    }
    std::vector<SessionId> ids() const override { return target_->ids(); }

private:
    ObservedStateMachine& owner_;
    Sessions* target_ = nullptr;
    std::map<SessionId, ObservedSession> wrappers_;
};

class ObservedContext final : public Context {
public:
    explicit ObservedContext(ObservedStateMachine& owner) : sessions_(owner) {}
    void bind(Context* target) { target_ = target; }

    statemachine::Index index() const override { return target_->index(); }
    uint64_t time_ms() const override { return target_->time_ms(); }
    Sessions& sessions() override {
        sessions_.bind(&target_->sessions());
        return sessions_;
    }
    bool in_command() const override { return target_->in_command(); }

private:
    Context* target_ = nullptr;
    ObservedSessions sessions_;
};

class ObservedExecutor final : public Executor {
public:
    explicit ObservedExecutor(ObservedStateMachine& owner) : owner_(owner), context_(owner) {}
    void bind(Executor* target) { target_ = target; }

    Context& context() override {
        context_.bind(&target_->context());
        return context_;
    }
    void register_command(std::string type, statemachine::ArgumentCheck check,
                          statemachine::CommandHandler handler) override {
        auto observed = [this, type, handler = std::move(handler)](Commit commit) -> Output {
            const statemachine::Index index = commit.index();
            const SessionId session = commit.session();
            const Bytes argument = commit.operation().argument;
            owner_.before_execution(index, session, type, argument);
            Output output = handler(std::move(commit));
            owner_.after_execution(index, session, type, argument, output);
            return output;
        };
        target_->register_command(std::move(type), std::move(check), std::move(observed));
    }
    void register_query(std::string type, statemachine::ArgumentCheck check,
                        statemachine::QueryHandler handler) override {
        target_->register_query(std::move(type), std::move(check), std::move(handler));
    }
    statemachine::ScheduledHandle schedule(uint64_t delay_ms, std::function<void()> task) override {
        return target_->schedule(delay_ms, std::move(task));
    }
    statemachine::ScheduledHandle schedule_periodic(uint64_t delay_ms, uint64_t interval_ms,
                                                    std::function<void()> task) override {
        return target_->schedule_periodic(delay_ms, interval_ms, std::move(task));
    }
    void cancel(statemachine::ScheduledHandle handle) override { target_->cancel(handle); }

private:
    ObservedStateMachine& owner_;
    Executor* target_ = nullptr;
    ObservedContext context_;
};

}  // namespace

struct ObservedStateMachine::Wrappers {
    explicit Wrappers(ObservedStateMachine& owner) : executor(owner), callback_session(owner) {}
    ObservedExecutor executor;
    ObservedSession callback_session;  // the session handed to a session listener
    Executor* real_executor = nullptr;
};

// --- the state machine ------------------------------------------------------------------------

ObservedStateMachine::ObservedStateMachine(std::unique_ptr<statemachine::StateMachine> inner,
                                           std::function<uint64_t()> digest)
    : inner_(std::move(inner)),
      digest_(std::move(digest)),
      wrappers_(std::make_unique<Wrappers>(*this)) {
    COPYCAT_ASSERT(inner_ != nullptr, "an observed state machine needs a state machine");
}

ObservedStateMachine::~ObservedStateMachine() = default;

void ObservedStateMachine::configure(Executor& executor) {
    wrappers_->real_executor = &executor;
    wrappers_->executor.bind(&executor);
    inner_->configure(wrappers_->executor);
}

Status ObservedStateMachine::install(std::span<const uint8_t> snapshot) {
    Status status = inner_->install(snapshot);
    if (status.is_ok()) {
        // The snapshot holds sessions and locks the models never saw: stop checking them.
        known_ = false;
        holders_.clear();
    }
    return status;
}

raft::Index ObservedStateMachine::current_index() const {
    COPYCAT_ASSERT(wrappers_->real_executor != nullptr, "an observer used before configure()");
    return wrappers_->real_executor->context().index();
}

void ObservedStateMachine::on_register(Session& session) {
    const raft::Index index = current_index();
    at(index).registered.push_back(session.id());
    live_sessions_.insert(session.id());
    wrappers_->callback_session.bind(&session);
    inner_->on_register(wrappers_->callback_session);
}

void ObservedStateMachine::on_unregister(Session& session) {
    wrappers_->callback_session.bind(&session);
    inner_->on_unregister(wrappers_->callback_session);
}

void ObservedStateMachine::on_expire(Session& session) {
    wrappers_->callback_session.bind(&session);
    inner_->on_expire(wrappers_->callback_session);
}

// The session's locks pass to their next waiters inside the inner on_close, whose grants
// arrive here as lock.acquired events: the model releases them first.
void ObservedStateMachine::on_close(Session& session) {
    const raft::Index index = current_index();
    at(index).closed.push_back(session.id());
    live_sessions_.erase(session.id());
    ended_sessions_.insert(session.id());
    release_locks_of(index, session.id());
    wrappers_->callback_session.bind(&session);
    inner_->on_close(wrappers_->callback_session);
}

std::map<raft::Index, IndexEffects> ObservedStateMachine::take_effects() {
    std::map<raft::Index, IndexEffects> effects = std::exchange(effects_, {});
    // As the session layer does: a batch for a session that ended at its index is dropped.
    for (auto& [index, at_index] : effects) {
        std::erase_if(at_index.publications, [&](const Publication& publication) {
            return std::find(at_index.closed.begin(), at_index.closed.end(), publication.session) !=
                   at_index.closed.end();
        });
    }
    return effects;
}

IndexEffects& ObservedStateMachine::at(raft::Index index) {
    IndexEffects& effects = effects_[index];
    effects.index = index;
    return effects;
}

void ObservedStateMachine::problem(std::string invariant, std::string detail) {
    problems_.push_back({std::move(invariant), std::move(detail)});
}

void ObservedStateMachine::note_publication(SessionId session, std::string_view name,
                                            const Bytes& message) {
    const raft::Index index = current_index();
    at(index).publications.push_back({session, session::Event{std::string(name), message}});
    if (name != resources::LockAcquired::name) return;
    const Result<resources::LockAcquired> acquired =
        statemachine::decode_event<resources::LockAcquired>(message);
    if (!acquired.is_ok()) {
        problem("lock safety", "index " + str(index) + ": a lock.acquired event that does not " +
                                   "decode: " + acquired.status().message());
        return;
    }
    grant(index, acquired->lock, session, acquired->token);
}

void ObservedStateMachine::before_execution(raft::Index index, SessionId session,
                                            const std::string& type,
                                            std::span<const uint8_t> argument) {
    if (known_ && !live_sessions_.contains(session)) {
        problem("session safety",
                "index " + str(index) + ": command " + type + " executed for session " +
                    str(session) + ", which is " +
                    (ended_sessions_.contains(session) ? "ended" : "not registered"));
    }
    releasing_was_holder_.reset();
    if (type != resources::LockRelease::type) return;
    const Result<resources::LockRelease> release =
        statemachine::decode_argument<resources::LockRelease>(argument);
    if (!release.is_ok()) return;  // the state machine refuses it too
    const auto holder = holders_.find(release->lock);
    const bool held = holder != holders_.end() && holder->second.session == session;
    releasing_was_holder_ = held;
    if (held) {
        holders_.erase(holder);
        at(index).released_locks.push_back(release->lock);
    }
}

void ObservedStateMachine::after_execution(raft::Index index, SessionId session,
                                           const std::string& type, const Bytes& argument,
                                           const Output& output) {
    Execution execution{session, 0, type, argument, output.is_ok(), {}};
    if (output.is_ok()) {
        execution.output = output.value();
    } else {
        const std::string& message = output.status().message();
        execution.output.assign(message.begin(), message.end());
    }
    at(index).executions.push_back(execution);
    if (!output.is_ok()) return;
    if (type == resources::LockAcquire::type) {
        after_lock_acquire(index, session, argument, output.value());
    } else if (type == resources::LockRelease::type) {
        after_lock_release(index, session, output.value());
    }
}

void ObservedStateMachine::after_lock_acquire(raft::Index index, SessionId session,
                                              const Bytes& argument, const Bytes& output) {
    const Result<resources::LockAcquire> acquire =
        statemachine::decode_argument<resources::LockAcquire>(argument);
    const Result<resources::LockAcquire::Output> result =
        statemachine::decode_output<resources::LockAcquire>(output);
    if (!acquire.is_ok() || !result.is_ok()) {
        problem("lock safety", "index " + str(index) + ": a lock.acquire whose argument or " +
                                   "output does not decode");
        return;
    }
    switch (result->outcome) {
        case resources::LockAcquireOutcome::acquired:
            if (result->token != index) {
                problem("lock safety", "index " + str(index) + ": lock " + acquire->lock +
                                           " acquired with token " + str(result->token) +
                                           ", not the acquire's index");
            }
            grant(index, acquire->lock, session, result->token);
            break;
        case resources::LockAcquireOutcome::queued:
        case resources::LockAcquireOutcome::failed:
            if (known_ && !holders_.contains(acquire->lock)) {
                problem("lock safety", "index " + str(index) + ": lock " + acquire->lock +
                                           " is free, yet session " + str(session) + "'s " +
                                           "acquire was " +
                                           resources::lock_acquire_outcome_name(result->outcome));
            }
            break;
    }
}

void ObservedStateMachine::after_lock_release(raft::Index index, SessionId session,
                                              const Bytes& output) {
    const Result<resources::LockRelease::Output> result =
        statemachine::decode_output<resources::LockRelease>(output);
    if (!result.is_ok() || !releasing_was_holder_ || !known_) return;
    const bool released = result->outcome == resources::LockReleaseOutcome::released;
    if (released != *releasing_was_holder_) {
        problem("lock safety",
                "index " + str(index) + ": session " + str(session) + "'s lock.release was " +
                    resources::lock_release_outcome_name(result->outcome) + ", but the " +
                    "grants and releases before it say the session " +
                    (*releasing_was_holder_ ? "held" : "did not hold") + " the lock");
    }
}

void ObservedStateMachine::grant(raft::Index index, const std::string& lock, SessionId session,
                                 raft::Index token) {
    at(index).grants.push_back({lock, session, token});
    const auto holder = holders_.find(lock);
    if (holder != holders_.end()) {
        problem("lock safety", "index " + str(index) + ": lock " + lock + " granted to session " +
                                   str(session) + " (token " + str(token) + ") while session " +
                                   str(holder->second.session) + " holds it (token " +
                                   str(holder->second.token) + "): two holders");
    }
    raft::Index& last = last_token_[lock];
    if (token <= last) {
        problem("lock safety", "index " + str(index) + ": lock " + lock + " granted with token " +
                                   str(token) + ", not above the previous grant's " + str(last));
    }
    last = std::max(last, token);
    holders_[lock] = Holder{session, token};
}

void ObservedStateMachine::release_locks_of(raft::Index index, SessionId session) {
    for (auto holder = holders_.begin(); holder != holders_.end();) {
        if (holder->second.session != session) {
            ++holder;
            continue;
        }
        at(index).released_locks.push_back(holder->first);
        holder = holders_.erase(holder);
    }
}

}  // namespace copycat::sim
