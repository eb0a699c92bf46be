// The built-in leader election (resources/election.h) through CoordinationStateMachine.
#include <gtest/gtest.h>

#include <vector>

#include "consensus/statemachine/resources/coordination.h"
#include "consensus/statemachine/resources/ops.h"
#include "tests/statemachine/harness.h"

namespace copycat::resources {
namespace {

using statemachine::testing::Harness;

class ElectionTest : public ::testing::Test {
protected:
    ElectionTest() : harness_(make_coordination_state_machine()) {
        a_ = harness_.open_session("a");
        b_ = harness_.open_session("b");
        c_ = harness_.open_session("c");
    }
    CoordinationStateMachine& machine() {
        return static_cast<CoordinationStateMachine&>(harness_.state_machine());
    }
    ElectionEnter::Output enter(SessionId session) {
        auto output = harness_.run(session, ElectionEnter{"e"});
        EXPECT_TRUE(output.is_ok()) << output.status().to_string();
        return output.is_ok() ? *output : ElectionEnter::Output{};
    }
    ElectionLeave::Output leave(SessionId session) {
        auto output = harness_.run(session, ElectionLeave{"e"});
        EXPECT_TRUE(output.is_ok()) << output.status().to_string();
        return output.is_ok() ? *output : ElectionLeave::Output{};
    }
    ElectionLeader::Output leader() { return *harness_.ask(a_, ElectionLeader{"e"}); }

    Harness harness_;
    SessionId a_ = 0, b_ = 0, c_ = 0;
};

TEST_F(ElectionTest, FirstCandidateIsElectedWithItsEnterIndexAsTerm) {
    ElectionEnter::Output a = enter(a_);
    EXPECT_TRUE(a.entered);
    EXPECT_TRUE(a.elected);
    EXPECT_EQ(a.leader, a_);
    EXPECT_EQ(a.term, harness_.last_index());
    EXPECT_EQ(harness_.compaction_of(a.term), CompactionMode::release);
    std::vector<ElectionElected> told = harness_.take_events<ElectionElected>(a_);
    ASSERT_EQ(told.size(), 1u);
    EXPECT_EQ(told[0], (ElectionElected{"e", a.term, a_}));

    ElectionEnter::Output b = enter(b_);
    EXPECT_FALSE(b.elected);
    EXPECT_EQ(b.leader, a_);
    EXPECT_EQ(b.term, a.term);
    EXPECT_EQ(leader().candidates, (std::vector<SessionId>{a_, b_}));
}

TEST_F(ElectionTest, EnteringAgainChangesNothing) {
    const Index term = enter(a_).term;
    ElectionEnter::Output again = enter(a_);
    EXPECT_FALSE(again.entered);
    EXPECT_TRUE(again.elected);
    EXPECT_EQ(again.term, term);
    EXPECT_TRUE(harness_.released(harness_.last_index()));
    EXPECT_EQ(leader().candidates.size(), 1u);
}

TEST_F(ElectionTest, LeaderLeavingElectsTheNextCandidateAndTellsEveryCandidate) {
    const Index first_term = enter(a_).term;
    enter(b_);
    const Index b_enter = harness_.last_index();
    enter(c_);
    harness_.take_raw_events(a_);
    ElectionLeave::Output left = leave(a_);
    EXPECT_TRUE(left.left);
    EXPECT_TRUE(left.was_leader);
    EXPECT_EQ(harness_.compaction_of(harness_.last_index()), CompactionMode::tombstone);
    EXPECT_TRUE(harness_.released(first_term));

    const ElectionElected expected{"e", b_enter, b_};
    std::vector<ElectionElected> to_b = harness_.take_events<ElectionElected>(b_);
    std::vector<ElectionElected> to_c = harness_.take_events<ElectionElected>(c_);
    ASSERT_EQ(to_b.size(), 1u);
    ASSERT_EQ(to_c.size(), 1u);
    EXPECT_EQ(to_b[0], expected);
    EXPECT_EQ(to_c[0], expected);
    EXPECT_TRUE(harness_.take_events<ElectionElected>(a_).empty());
    EXPECT_GT(leader().term, first_term);
    EXPECT_EQ(leader().leader, b_);
}

TEST_F(ElectionTest, NonLeaderLeavingElectsNobody) {
    enter(a_);
    enter(b_);
    harness_.take_raw_events(a_);
    ElectionLeave::Output left = leave(b_);
    EXPECT_TRUE(left.left);
    EXPECT_FALSE(left.was_leader);
    EXPECT_TRUE(harness_.take_raw_events(a_).empty());
    EXPECT_FALSE(leave(c_).left);
}

TEST_F(ElectionTest, LeaderSessionEndingElectsTheNext) {
    enter(a_);
    enter(b_);
    harness_.close_session(a_);
    EXPECT_EQ(harness_.take_events<ElectionElected>(b_).size(), 1u);
    EXPECT_EQ(leader().leader, b_);
    harness_.expire_session(b_);
    EXPECT_FALSE(harness_.ask(c_, ElectionLeader{"e"})->leader.has_value());
    EXPECT_EQ(machine().instance_count(), 0u);
}

TEST_F(ElectionTest, TermsStrictlyIncreaseAcrossLeaders) {
    uint64_t last_term = 0;
    for (int round = 0; round < 3; ++round) {
        enter(a_);
        enter(b_);
        const uint64_t term = leader().term;
        EXPECT_GT(term, last_term);
        last_term = term;
        leave(leader().leader.value_or(0));
        EXPECT_GT(leader().term, last_term);
        last_term = leader().term;
        leave(a_);
        leave(b_);
    }
}

TEST_F(ElectionTest, ReplayOfTheCompactedLogElectsTheSameLeaderAndTerm) {
    enter(a_);
    enter(b_);
    enter(c_);
    leave(a_);
    enter(a_);
    leave(b_);

    Harness replayed(make_coordination_state_machine());
    replayed.replay(harness_.compacted_log());
    EXPECT_EQ(*replayed.ask(a_, ElectionLeader{"e"}), leader());
    EXPECT_EQ(static_cast<CoordinationStateMachine&>(replayed.state_machine()).digest(),
              machine().digest());
}

}  // namespace
}  // namespace copycat::resources
