// The built-in counter (resources/counter.h) through CoordinationStateMachine.
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>

#include "consensus/statemachine/resources/coordination.h"
#include "consensus/statemachine/resources/ops.h"
#include "tests/statemachine/harness.h"

namespace copycat::resources {
namespace {

using statemachine::testing::Harness;

class CounterTest : public ::testing::Test {
protected:
    CounterTest() : harness_(make_coordination_state_machine()) {
        session_ = harness_.open_session();
    }
    CoordinationStateMachine& machine() {
        return static_cast<CoordinationStateMachine&>(harness_.state_machine());
    }
    int64_t add(int64_t delta) {
        auto output = harness_.run(session_, CounterAdd{"c", delta});
        EXPECT_TRUE(output.is_ok()) << output.status().to_string();
        return output.is_ok() ? output->value : 0;
    }
    int64_t value() { return harness_.ask(session_, CounterGet{"c"})->value; }

    Harness harness_;
    SessionId session_ = 0;
};

TEST_F(CounterTest, StartsAtZeroAndAddsSignedDeltas) {
    EXPECT_EQ(value(), 0);
    EXPECT_EQ(add(5), 5);
    EXPECT_EQ(add(-8), -3);
    EXPECT_EQ(value(), -3);
    EXPECT_EQ(harness_.ask(session_, CounterGet{"other"})->value, 0);
    EXPECT_EQ(harness_.compaction_of(harness_.last_index()), CompactionMode::release);
}

TEST_F(CounterTest, OverflowIsRefusedAndChangesNothing) {
    add(std::numeric_limits<int64_t>::max());
    auto refused = harness_.run(session_, CounterAdd{"c", 1});
    ASSERT_FALSE(refused.is_ok());
    EXPECT_EQ(refused.status().code(), StatusCode::out_of_range);
    EXPECT_TRUE(harness_.released(harness_.last_index()));
    EXPECT_EQ(value(), std::numeric_limits<int64_t>::max());
}

TEST_F(CounterTest, CasSetsOnlyOnTheExpectedValue) {
    add(2);
    auto wrong = harness_.run(session_, CounterCas{"c", 1, 10});
    ASSERT_TRUE(wrong.is_ok());
    EXPECT_FALSE(wrong->succeeded);
    EXPECT_EQ(wrong->value, 2);
    EXPECT_TRUE(harness_.released(harness_.last_index()));
    auto right = harness_.run(session_, CounterCas{"c", 2, 10});
    ASSERT_TRUE(right.is_ok());
    EXPECT_TRUE(right->succeeded);
    EXPECT_EQ(right->value, 10);
    EXPECT_EQ(value(), 10);
}

TEST_F(CounterTest, AddsStayInTheLogUntilASetReplacesThem) {
    add(1);
    const Index first = harness_.last_index();
    add(1);
    const Index second = harness_.last_index();
    EXPECT_FALSE(harness_.released(first));  // the value 2 needs both
    auto set = harness_.run(session_, CounterSet{"c", 7});
    ASSERT_TRUE(set.is_ok());
    EXPECT_EQ(set->previous, 2);
    EXPECT_TRUE(harness_.released(first));
    EXPECT_TRUE(harness_.released(second));
    EXPECT_FALSE(harness_.released(harness_.last_index()));
    EXPECT_EQ(value(), 7);
}

TEST_F(CounterTest, ReplayOfTheCompactedLogEndsAtTheSameValue) {
    add(5);
    add(3);
    ASSERT_TRUE(harness_.run(session_, CounterCas{"c", 8, 20})->succeeded);
    ASSERT_FALSE(harness_.run(session_, CounterCas{"c", 8, 30})->succeeded);
    ASSERT_TRUE(harness_.run(session_, CounterSet{"d", 4}).is_ok());
    ASSERT_TRUE(harness_.run(session_, CounterSet{"d", 6}).is_ok());
    add(1);

    Harness replayed(make_coordination_state_machine());
    replayed.replay(harness_.compacted_log());
    EXPECT_EQ(replayed.ask(session_, CounterGet{"c"})->value, 21);
    EXPECT_EQ(replayed.ask(session_, CounterGet{"d"})->value, 6);
    EXPECT_EQ(static_cast<CoordinationStateMachine&>(replayed.state_machine()).digest(),
              machine().digest());
}

TEST_F(CounterTest, ACounterBackAtZeroStillExists) {
    add(3);
    add(-3);
    EXPECT_EQ(value(), 0);
    EXPECT_EQ(machine().instance_count(), 1u);  // its adds still say what its value is
}

}  // namespace
}  // namespace copycat::resources
