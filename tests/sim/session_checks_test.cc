// The session checks on their own: the observer's models (session and lock safety) driven by a
// hand-made state machine, and SessionChecks on hand-made histories of events, grants and reads.
// Each check is shown to pass on a correct history and to flag the broken one.
#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "consensus/statemachine/operation.h"
#include "consensus/statemachine/resources/ops.h"
#include "tests/sim/observer.h"
#include "tests/sim/session_checks.h"

namespace copycat::sim {
namespace {

using statemachine::Commit;
using statemachine::Output;

// --- a hand-made environment for the observer -------------------------------------------------

class FakeSession final : public statemachine::Session {
public:
    explicit FakeSession(SessionId id) : id_(id) {}
    SessionId id() const override { return id_; }
    const std::string& client_id() const override { return client_; }
    statemachine::SessionState state() const override { return statemachine::SessionState::open; }
    Status publish(std::string_view name, Bytes message) override {
        published.push_back({std::string(name), std::move(message)});
        return Status::ok();
    }
    std::vector<session::Event> published;

private:
    SessionId id_;
    std::string client_;
};

class FakeExecutor final : public statemachine::Executor,
                           public statemachine::Context,
                           public statemachine::Sessions {
public:
    Context& context() override { return *this; }
    void register_command(std::string type, statemachine::ArgumentCheck,
                          statemachine::CommandHandler handler) override {
        commands[type] = std::move(handler);
    }
    void register_query(std::string, statemachine::ArgumentCheck,
                        statemachine::QueryHandler) override {}
    statemachine::ScheduledHandle schedule(uint64_t, std::function<void()>) override { return {}; }
    statemachine::ScheduledHandle schedule_periodic(uint64_t, uint64_t,
                                                    std::function<void()>) override {
        return {};
    }
    void cancel(statemachine::ScheduledHandle) override {}

    statemachine::Index index() const override { return at; }
    uint64_t time_ms() const override { return 0; }
    Sessions& sessions() override { return *this; }
    bool in_command() const override { return true; }
    statemachine::Session* find(SessionId id) override {
        auto [session, inserted] = all.try_emplace(id, id);
        return &session->second;
    }
    std::vector<SessionId> ids() const override { return {}; }

    // Runs a registered command at an index, as the session layer does.
    Output run(const std::string& type, statemachine::Index index, SessionId session,
               Bytes argument) {
        at = index;
        return commands.at(type)(Commit(index, 0, session, {type, std::move(argument)}, nullptr));
    }

    statemachine::Index at = 0;
    std::map<std::string, statemachine::CommandHandler> commands;
    std::map<SessionId, FakeSession> all;
};

// A lock without a queue that grants every acquire, and tells a waiter "lock.acquired" on
// request: enough to break the single-holder rule on purpose.
class GreedyLock final : public statemachine::StateMachine {
public:
    void configure(statemachine::Executor& executor) override {
        executor_ = &executor;
        statemachine::register_command<resources::LockAcquire>(
            executor, [](resources::LockAcquire, Commit commit) {
                return Result<resources::LockAcquire::Output>(resources::LockAcquire::Output{
                    resources::LockAcquireOutcome::acquired, commit.index()});
            });
        statemachine::register_command<
            resources::LockRelease>(executor, [this](resources::LockRelease op, Commit commit) {
            // Grants the lock to session 9 while releasing it.
            statemachine::Session* next = executor_->context().sessions().find(9);
            (void)statemachine::publish(*next, resources::LockAcquired{op.lock, commit.index()});
            return Result<resources::LockRelease::Output>(
                resources::LockRelease::Output{resources::LockReleaseOutcome::released});
        });
    }

private:
    statemachine::Executor* executor_ = nullptr;
};

Bytes acquire(const std::string& lock) {
    return statemachine::make_operation(resources::LockAcquire{lock, 0}).argument;
}

std::vector<std::string> invariants_of(const std::vector<ObservedProblem>& problems) {
    std::vector<std::string> names;
    for (const ObservedProblem& problem : problems) names.push_back(problem.invariant);
    return names;
}

TEST(SimObserver, ASecondGrantWhileTheLockIsHeldIsTwoHolders) {
    FakeExecutor executor;
    ObservedStateMachine observed(std::make_unique<GreedyLock>(), [] { return 0; });
    observed.configure(executor);
    FakeSession one(1), two(2);
    executor.at = 1;
    observed.on_register(one);
    executor.at = 2;
    observed.on_register(two);
    ASSERT_TRUE(executor.run("lock.acquire", 3, 1, acquire("l")).is_ok());
    EXPECT_TRUE(observed.take_problems().empty());
    ASSERT_TRUE(executor.run("lock.acquire", 4, 2, acquire("l")).is_ok());
    EXPECT_EQ(invariants_of(observed.take_problems()), std::vector<std::string>{"lock safety"});
    const auto effects = observed.take_effects();
    ASSERT_EQ(effects.at(3).grants.size(), 1u);
    EXPECT_EQ(effects.at(3).grants.front().token, 3u);
}

TEST(SimObserver, AGrantBeforeTheReleaseItFollowsIsNotTwoHolders) {
    FakeExecutor executor;
    ObservedStateMachine observed(std::make_unique<GreedyLock>(), [] { return 0; });
    observed.configure(executor);
    FakeSession one(1), nine(9);
    executor.at = 1;
    observed.on_register(one);
    executor.at = 2;
    observed.on_register(nine);
    ASSERT_TRUE(executor.run("lock.acquire", 3, 1, acquire("l")).is_ok());
    const Bytes release = statemachine::make_operation(resources::LockRelease{"l"}).argument;
    ASSERT_TRUE(executor.run("lock.release", 4, 1, release).is_ok());
    EXPECT_TRUE(observed.take_problems().empty()) << "the release frees the lock first";
    const auto effects = observed.take_effects();
    ASSERT_EQ(effects.at(4).grants.size(), 1u);
    EXPECT_EQ(effects.at(4).grants.front().session, 9u);
    ASSERT_EQ(effects.at(4).publications.size(), 1u);
}

TEST(SimObserver, ACommandOfAnEndedSessionBreaksSessionSafety) {
    FakeExecutor executor;
    ObservedStateMachine observed(std::make_unique<GreedyLock>(), [] { return 0; });
    observed.configure(executor);
    FakeSession one(1);
    executor.at = 1;
    observed.on_register(one);
    executor.at = 2;
    observed.on_close(one);
    ASSERT_TRUE(executor.run("lock.acquire", 3, 1, acquire("l")).is_ok());
    EXPECT_EQ(invariants_of(observed.take_problems()), std::vector<std::string>{"session safety"});
}

TEST(SimObserver, EventsForASessionEndingAtTheirIndexAreDroppedAsTheSessionLayerDoes) {
    FakeExecutor executor;
    ObservedStateMachine observed(std::make_unique<GreedyLock>(), [] { return 0; });
    observed.configure(executor);
    FakeSession nine(9);
    executor.at = 5;
    observed.note_publication(9, "x", {1});
    observed.on_close(nine);
    executor.at = 6;
    observed.note_publication(9, "y", {2});
    const auto effects = observed.take_effects();
    EXPECT_TRUE(effects.at(5).publications.empty());
    EXPECT_EQ(effects.at(6).publications.size(), 1u);
    EXPECT_NE(effects.at(5).hash(), effects.at(6).hash());
}

// --- SessionChecks ---------------------------------------------------------------------------

IndexEffects published(raft::Index index, SessionId session, std::string name) {
    IndexEffects effects;
    effects.index = index;
    effects.publications.push_back({session, {std::move(name), {}}});
    return effects;
}

IndexEffects nothing(raft::Index index) {
    IndexEffects effects;
    effects.index = index;
    return effects;
}

session::PublishRequest batch(SessionId session, raft::Index index, raft::Index previous,
                              std::string name) {
    return {session, index, previous, {{std::move(name), {}}}};
}

std::vector<std::string> invariants_of(SessionChecks& checks) {
    std::vector<std::string> names;
    for (const Violation& violation : checks.take_violations()) {
        names.push_back(violation.invariant);
    }
    return names;
}

// Session 1 gets batches at indexes 2 and 4.
SessionChecks two_batches() {
    SessionChecks checks;
    checks.observe_applied(nothing(1));
    checks.observe_applied(published(2, 1, "a"));
    checks.observe_applied(nothing(3));
    checks.observe_applied(published(4, 1, "b"));
    return checks;
}

TEST(SimSessionChecks, EveryBatchDeliveredOnceInOrderPasses) {
    SessionChecks checks = two_batches();
    checks.observe_delivery(batch(1, 2, 1, "a"));
    checks.observe_delivery(batch(1, 4, 2, "b"));
    checks.check_complete({1});
    EXPECT_TRUE(checks.take_violations().empty());
    EXPECT_EQ(checks.last_published(1), 4u);
    EXPECT_EQ(checks.last_delivered(1), 4u);
}

TEST(SimSessionChecks, DuplicatesGapsAndOtherEventsBreakTheEventStream) {
    SessionChecks duplicate = two_batches();
    duplicate.observe_delivery(batch(1, 2, 1, "a"));
    duplicate.observe_delivery(batch(1, 2, 1, "a"));
    EXPECT_EQ(invariants_of(duplicate), std::vector<std::string>{"events"});

    SessionChecks gap = two_batches();
    gap.observe_delivery(batch(1, 4, 1, "b"));
    EXPECT_EQ(invariants_of(gap), std::vector<std::string>{"events"});

    SessionChecks content = two_batches();
    content.observe_delivery(batch(1, 2, 1, "not a"));
    EXPECT_EQ(invariants_of(content), std::vector<std::string>{"events"});

    SessionChecks missing = two_batches();
    missing.observe_delivery(batch(1, 2, 1, "a"));
    missing.check_complete({1});
    EXPECT_EQ(invariants_of(missing), std::vector<std::string>{"events"});
}

TEST(SimSessionChecks, AClientHoldsALockOnlyByAGrantOfTheLogToItsSession) {
    SessionChecks checks;
    IndexEffects granted = nothing(1);
    granted.grants.push_back({"l", 5, 1});
    checks.observe_applied(granted);
    checks.observe_lock_held(5, "l", 1);
    EXPECT_TRUE(checks.take_violations().empty());
    checks.observe_lock_held(6, "l", 1);  // granted to session 5
    checks.observe_lock_held(5, "l", 2);  // never granted
    checks.observe_lock_held(5, "l", 1);  // not a newer grant than the one it had
    EXPECT_EQ(invariants_of(checks),
              (std::vector<std::string>{"lock safety", "lock safety", "lock safety"}));
}

Execution execution(SessionId session, uint64_t sequence, const statemachine::Operation& op,
                    Bytes output) {
    return {session, sequence, op.type, op.argument, true, std::move(output)};
}

// Session 1 puts "v" on key k at index 2 (its command 1) and removes it at index 4 (command 2).
SessionChecks put_then_remove() {
    SessionChecks checks;
    checks.observe_applied(nothing(1));
    IndexEffects put = nothing(2);
    put.executions.push_back(
        execution(1, 1, statemachine::make_operation(resources::MapPut{"m", "k", {'v'}, 0}),
                  statemachine::encode_output<resources::MapPut>({std::nullopt, 2})));
    checks.observe_applied(put);
    checks.observe_applied(nothing(3));
    IndexEffects remove = nothing(4);
    remove.executions.push_back(
        execution(1, 2, statemachine::make_operation(resources::MapRemove{"m", "k"}),
                  statemachine::encode_output<resources::MapRemove>({Bytes{'v'}})));
    checks.observe_applied(remove);
    return checks;
}

ReadSeen read(raft::Index index, std::optional<Bytes> value, raft::Index version) {
    return {1, "m", "k", std::move(value), version, index, 0, 0, session::Consistency::sequential};
}

TEST(SimSessionChecks, AReadReturnsTheValueTheLogHasAtItsIndex) {
    SessionChecks checks = put_then_remove();
    checks.observe_read(read(1, std::nullopt, 0));
    checks.observe_read(read(3, Bytes{'v'}, 2));
    checks.observe_read(read(4, std::nullopt, 0));
    EXPECT_TRUE(checks.take_violations().empty());
    checks.observe_read(read(4, Bytes{'v'}, 2));    // removed there
    checks.observe_read(read(3, Bytes{'w'}, 2));    // never written
    checks.observe_read(read(9, std::nullopt, 0));  // not applied anywhere yet
    EXPECT_EQ(invariants_of(checks),
              (std::vector<std::string>{"read values", "read values", "read values"}));
}

TEST(SimSessionChecks, AReadBelowWhatTheSessionSawOrBeforeItsOwnCommandsIsStale) {
    SessionChecks floor = put_then_remove();
    ReadSeen below = read(3, Bytes{'v'}, 2);
    below.floor = 4;
    floor.observe_read(below);
    EXPECT_EQ(invariants_of(floor), std::vector<std::string>{"monotonic reads"});

    SessionChecks own = put_then_remove();
    ReadSeen before_own = read(3, Bytes{'v'}, 2);
    before_own.sequence = 2;  // the session's command 2 executed at index 4
    own.observe_read(before_own);
    EXPECT_EQ(invariants_of(own), std::vector<std::string>{"read your writes"});

    // The same, found when the command executes after the read was answered.
    SessionChecks later;
    later.observe_applied(nothing(1));
    ReadSeen early = read(1, std::nullopt, 0);
    early.sequence = 1;
    later.observe_read(early);
    IndexEffects put = nothing(2);
    put.executions.push_back(
        execution(1, 1, statemachine::make_operation(resources::MapPut{"m", "k", {'v'}, 0}),
                  statemachine::encode_output<resources::MapPut>({std::nullopt, 2})));
    later.observe_applied(put);
    EXPECT_EQ(invariants_of(later), std::vector<std::string>{"read your writes"});
}

}  // namespace
}  // namespace copycat::sim
