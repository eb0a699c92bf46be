// The built-in group membership (resources/group.h) through CoordinationStateMachine.
#include <gtest/gtest.h>

#include <vector>

#include "consensus/statemachine/resources/coordination.h"
#include "consensus/statemachine/resources/ops.h"
#include "tests/statemachine/harness.h"

namespace copycat::resources {
namespace {

using statemachine::testing::Harness;

class GroupTest : public ::testing::Test {
protected:
    GroupTest() : harness_(make_coordination_state_machine()) {
        a_ = harness_.open_session("a");
        b_ = harness_.open_session("b");
        c_ = harness_.open_session("c");
    }
    CoordinationStateMachine& machine() {
        return static_cast<CoordinationStateMachine&>(harness_.state_machine());
    }
    GroupJoin::Output join(SessionId session, std::string member) {
        auto output = harness_.run(session, GroupJoin{"g", std::move(member)});
        EXPECT_TRUE(output.is_ok()) << output.status().to_string();
        return output.is_ok() ? *output : GroupJoin::Output{};
    }
    bool leave(SessionId session, std::string member) {
        auto output = harness_.run(session, GroupLeave{"g", std::move(member)});
        EXPECT_TRUE(output.is_ok()) << output.status().to_string();
        return output.is_ok() && output->left;
    }
    std::vector<GroupMember> members() { return harness_.ask(a_, GroupMembers{"g"})->members; }

    Harness harness_;
    SessionId a_ = 0, b_ = 0, c_ = 0;
};

TEST_F(GroupTest, JoinAddsAMemberTiedToTheSession) {
    GroupJoin::Output joined = join(a_, "web-1");
    EXPECT_TRUE(joined.joined);
    EXPECT_EQ(joined.index, harness_.last_index());
    EXPECT_EQ(harness_.compaction_of(joined.index), CompactionMode::release);
    EXPECT_FALSE(harness_.released(joined.index));
    const std::vector<GroupMember> expected{GroupMember{"web-1", a_, joined.index}};
    EXPECT_EQ(joined.members, expected);
    EXPECT_EQ(members(), expected);
    EXPECT_TRUE(harness_.ask(a_, GroupMembers{"empty"})->members.empty());
}

TEST_F(GroupTest, JoiningAgainChangesNothing) {
    const Index first = join(a_, "web-1").index;
    GroupJoin::Output again = join(a_, "web-1");
    EXPECT_FALSE(again.joined);
    EXPECT_EQ(again.index, first);
    EXPECT_TRUE(harness_.released(harness_.last_index()));
    EXPECT_EQ(members().size(), 1u);
}

TEST_F(GroupTest, TwoSessionsMayUseTheSameMemberName) {
    join(a_, "web");
    join(b_, "web");
    ASSERT_EQ(members().size(), 2u);
    EXPECT_EQ(members()[0].session, a_);
    EXPECT_EQ(members()[1].session, b_);
}

TEST_F(GroupTest, JoinIsToldToTheOtherMembersSessionsOnly) {
    join(a_, "a1");
    join(a_, "a2");
    EXPECT_TRUE(harness_.take_raw_events(a_).empty());
    const Index b_join = join(b_, "b1").index;
    std::vector<GroupJoined> to_a = harness_.take_events<GroupJoined>(a_);
    ASSERT_EQ(to_a.size(), 1u);  // once, though a has two members
    EXPECT_EQ(to_a[0], (GroupJoined{"g", GroupMember{"b1", b_, b_join}}));
    EXPECT_TRUE(harness_.take_raw_events(b_).empty());
    EXPECT_TRUE(harness_.take_raw_events(c_).empty());  // not a member
}

TEST_F(GroupTest, LeaveIsATombstoneAndIsToldToTheOthers) {
    join(a_, "a1");
    const Index b_join = join(b_, "b1").index;
    EXPECT_TRUE(leave(b_, "b1"));
    const Index left_at = harness_.last_index();
    EXPECT_EQ(harness_.compaction_of(left_at), CompactionMode::tombstone);
    EXPECT_TRUE(harness_.released(left_at));
    EXPECT_TRUE(harness_.released(b_join));
    std::vector<GroupLeft> to_a = harness_.take_events<GroupLeft>(a_);
    ASSERT_EQ(to_a.size(), 1u);
    EXPECT_EQ(to_a[0], (GroupLeft{"g", GroupMember{"b1", b_, b_join}, false, left_at}));
    EXPECT_FALSE(leave(b_, "b1"));
}

TEST_F(GroupTest, OnlyTheOwningSessionCanLeaveAMember) {
    join(a_, "a1");
    EXPECT_FALSE(leave(b_, "a1"));
    EXPECT_EQ(members().size(), 1u);
}

TEST_F(GroupTest, SessionEndingLeavesAllItsMembers) {
    join(a_, "a1");
    const Index b1 = join(b_, "b1").index;
    const Index b2 = join(b_, "b2").index;
    harness_.take_raw_events(a_);
    harness_.expire_session(b_);
    const Index ended_at = harness_.last_index();
    EXPECT_TRUE(harness_.released(b1));
    EXPECT_TRUE(harness_.released(b2));
    std::vector<GroupLeft> to_a = harness_.take_events<GroupLeft>(a_);
    ASSERT_EQ(to_a.size(), 2u);
    EXPECT_EQ(to_a[0], (GroupLeft{"g", GroupMember{"b1", b_, b1}, true, ended_at}));
    EXPECT_EQ(to_a[1], (GroupLeft{"g", GroupMember{"b2", b_, b2}, true, ended_at}));
    EXPECT_EQ(members().size(), 1u);
    harness_.close_session(a_);
    EXPECT_EQ(machine().instance_count(), 0u);
}

TEST_F(GroupTest, EmptyMemberNameIsRefused) {
    EXPECT_EQ(harness_.run(a_, GroupJoin{"g", ""}).status().code(), StatusCode::invalid_argument);
}

TEST_F(GroupTest, ReplayOfTheCompactedLogHasTheSameMembers) {
    join(a_, "x");
    join(b_, "x");
    join(b_, "x");
    leave(a_, "x");
    join(a_, "y");
    join(c_, "z");
    harness_.close_session(c_);

    Harness replayed(make_coordination_state_machine());
    replayed.replay(harness_.compacted_log());
    EXPECT_EQ(replayed.ask(a_, GroupMembers{"g"})->members, members());
    EXPECT_EQ(static_cast<CoordinationStateMachine&>(replayed.state_machine()).digest(),
              machine().digest());
}

}  // namespace
}  // namespace copycat::resources
