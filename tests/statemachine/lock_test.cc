// The built-in lock (resources/lock.h) through CoordinationStateMachine.
#include <gtest/gtest.h>

#include <vector>

#include "consensus/statemachine/resources/coordination.h"
#include "consensus/statemachine/resources/ops.h"
#include "tests/statemachine/harness.h"

namespace copycat::resources {
namespace {

using statemachine::testing::Harness;

class LockTest : public ::testing::Test {
protected:
    LockTest() : harness_(make_coordination_state_machine()) {
        a_ = harness_.open_session("a");
        b_ = harness_.open_session("b");
        c_ = harness_.open_session("c");
    }
    CoordinationStateMachine& machine() {
        return static_cast<CoordinationStateMachine&>(harness_.state_machine());
    }
    LockAcquire::Output acquire(SessionId session,
                                uint64_t timeout_ms = LockAcquire::kWaitForever) {
        auto output = harness_.run(session, LockAcquire{"l", timeout_ms});
        EXPECT_TRUE(output.is_ok()) << output.status().to_string();
        return output.is_ok() ? *output : LockAcquire::Output{};
    }
    LockReleaseOutcome release(SessionId session) {
        auto output = harness_.run(session, LockRelease{"l"});
        EXPECT_TRUE(output.is_ok()) << output.status().to_string();
        return output.is_ok() ? output->outcome : LockReleaseOutcome::not_held;
    }

    Harness harness_;
    SessionId a_ = 0, b_ = 0, c_ = 0;
};

TEST_F(LockTest, FreeLockIsGrantedAtOnceWithTheRequestIndexAsToken) {
    LockAcquire::Output got = acquire(a_);
    EXPECT_EQ(got.outcome, LockAcquireOutcome::acquired);
    EXPECT_EQ(got.token, harness_.last_index());
    EXPECT_EQ(harness_.compaction_of(got.token), CompactionMode::release);
    EXPECT_FALSE(harness_.released(got.token));
}

TEST_F(LockTest, WaitersAreGrantedInRequestOrderWithIncreasingTokens) {
    const Index first = acquire(a_).token;
    LockAcquire::Output b = acquire(b_);
    LockAcquire::Output c = acquire(c_);
    EXPECT_EQ(b.outcome, LockAcquireOutcome::queued);
    EXPECT_EQ(c.outcome, LockAcquireOutcome::queued);

    EXPECT_EQ(release(a_), LockReleaseOutcome::released);
    EXPECT_EQ(harness_.compaction_of(harness_.last_index()), CompactionMode::tombstone);
    EXPECT_TRUE(harness_.released(harness_.last_index()));
    EXPECT_TRUE(harness_.released(first));
    std::vector<LockAcquired> granted = harness_.take_events<LockAcquired>(b_);
    ASSERT_EQ(granted.size(), 1u);
    EXPECT_EQ(granted[0], (LockAcquired{"l", b.token}));
    EXPECT_TRUE(harness_.take_events<LockAcquired>(c_).empty());

    EXPECT_EQ(release(b_), LockReleaseOutcome::released);
    ASSERT_EQ(harness_.take_events<LockAcquired>(c_).size(), 1u);
    EXPECT_LT(first, b.token);
    EXPECT_LT(b.token, c.token);
}

TEST_F(LockTest, TryFailsAtOnceWhenHeld) {
    acquire(a_);
    LockAcquire::Output tried = acquire(b_, 0);
    EXPECT_EQ(tried.outcome, LockAcquireOutcome::failed);
    EXPECT_TRUE(harness_.released(harness_.last_index()));
    EXPECT_EQ(release(a_), LockReleaseOutcome::released);
    EXPECT_TRUE(harness_.take_raw_events(b_).empty());  // it was not queued
    EXPECT_EQ(acquire(b_, 0).outcome, LockAcquireOutcome::acquired);
}

TEST_F(LockTest, TimedRequestFailsAfterItsTimeoutOfLogTime) {
    acquire(a_);
    LockAcquire::Output queued = acquire(b_, 300);
    ASSERT_EQ(queued.outcome, LockAcquireOutcome::queued);
    harness_.advance(299);
    harness_.keep_alive();
    EXPECT_TRUE(harness_.take_events<LockFailed>(b_).empty());
    harness_.advance(1);
    harness_.keep_alive();
    std::vector<LockFailed> failed = harness_.take_events<LockFailed>(b_);
    ASSERT_EQ(failed.size(), 1u);
    EXPECT_EQ(failed[0], (LockFailed{"l", queued.token}));
    EXPECT_TRUE(harness_.released(queued.token));

    EXPECT_EQ(release(a_), LockReleaseOutcome::released);
    EXPECT_TRUE(harness_.take_events<LockAcquired>(b_).empty());
    EXPECT_EQ(machine().instance_count(), 0u);
}

TEST_F(LockTest, GrantBeforeTheTimeoutCancelsIt) {
    acquire(a_);
    LockAcquire::Output queued = acquire(b_, 300);
    EXPECT_EQ(release(a_), LockReleaseOutcome::released);
    harness_.advance(1000);
    harness_.keep_alive();
    EXPECT_TRUE(harness_.take_events<LockFailed>(b_).empty());
    EXPECT_EQ(harness_.take_events<LockAcquired>(b_).size(), 1u);
    EXPECT_FALSE(harness_.released(queued.token));
    EXPECT_EQ(harness_.pending_tasks(), 0u);
}

TEST_F(LockTest, HolderSessionEndingPassesTheLockOn) {
    const Index held = acquire(a_).token;
    LockAcquire::Output waiting = acquire(b_);
    harness_.expire_session(a_);
    EXPECT_TRUE(harness_.released(held));
    std::vector<LockAcquired> granted = harness_.take_events<LockAcquired>(b_);
    ASSERT_EQ(granted.size(), 1u);
    EXPECT_EQ(granted[0].token, waiting.token);
    EXPECT_EQ(acquire(c_, 0).outcome, LockAcquireOutcome::failed);
}

TEST_F(LockTest, WaiterSessionEndingDropsItsRequest) {
    acquire(a_);
    LockAcquire::Output b = acquire(b_);
    acquire(c_);
    harness_.close_session(b_);
    EXPECT_TRUE(harness_.released(b.token));
    EXPECT_EQ(release(a_), LockReleaseOutcome::released);
    EXPECT_EQ(harness_.take_events<LockAcquired>(c_).size(), 1u);
}

TEST_F(LockTest, ReleaseByAWaiterCancelsAndByOthersDoesNothing) {
    acquire(a_);
    LockAcquire::Output b = acquire(b_);
    EXPECT_EQ(release(c_), LockReleaseOutcome::not_held);
    EXPECT_EQ(release(b_), LockReleaseOutcome::cancelled);
    EXPECT_TRUE(harness_.released(b.token));
    EXPECT_EQ(release(a_), LockReleaseOutcome::released);
    EXPECT_TRUE(harness_.take_raw_events(b_).empty());
    EXPECT_EQ(machine().instance_count(), 0u);
}

TEST_F(LockTest, ASessionCannotHoldOrWaitTwice) {
    acquire(a_);
    auto again = harness_.run(a_, LockAcquire{"l", LockAcquire::kWaitForever});
    ASSERT_FALSE(again.is_ok());
    EXPECT_EQ(again.status().code(), StatusCode::conflict);
    acquire(b_);
    EXPECT_EQ(harness_.run(b_, LockAcquire{"l", 0}).status().code(), StatusCode::conflict);
}

TEST_F(LockTest, LocksAreIndependentByName) {
    acquire(a_);
    EXPECT_EQ(harness_.run(b_, LockAcquire{"other", 0})->outcome, LockAcquireOutcome::acquired);
}

TEST_F(LockTest, ReplayOfTheCompactedLogPassesTheLockTheSameWay) {
    acquire(a_);
    acquire(b_);
    acquire(c_, 200);
    EXPECT_EQ(release(a_), LockReleaseOutcome::released);
    harness_.advance(500);
    harness_.keep_alive();  // c times out

    Harness replayed(make_coordination_state_machine());
    replayed.replay(harness_.compacted_log());
    EXPECT_EQ(static_cast<CoordinationStateMachine&>(replayed.state_machine()).digest(),
              machine().digest());
}

TEST_F(LockTest, TimeoutAboveTheMaximumIsRefused) {
    auto refused = harness_.run(a_, LockAcquire{"l", kMaxDurationMs + 1});
    ASSERT_FALSE(refused.is_ok());
    EXPECT_EQ(refused.status().code(), StatusCode::invalid_argument);
}

}  // namespace
}  // namespace copycat::resources
