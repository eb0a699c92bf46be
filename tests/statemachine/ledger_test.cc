// The example user state machine (consensus/statemachine/example/ledger.h).
#include "consensus/statemachine/example/ledger.h"

#include <gtest/gtest.h>

#include "tests/statemachine/harness.h"

namespace copycat::example {
namespace {

using statemachine::testing::Harness;

class LedgerTest : public ::testing::Test {
protected:
    LedgerTest() : harness_(make_ledger_state_machine()) { session_ = harness_.open_session(); }

    uint64_t balance(const std::string& account) {
        return harness_.ask(session_, Balance{account})->balance;
    }

    Harness harness_;
    statemachine::SessionId session_ = 0;
};

TEST_F(LedgerTest, DepositsAndWithdrawalsMoveTheBalance) {
    EXPECT_EQ(harness_.run(session_, Deposit{"alice", 100})->balance, 100u);
    EXPECT_EQ(harness_.run(session_, Withdraw{"alice", 30})->balance, 70u);
    EXPECT_EQ(balance("alice"), 70u);
    EXPECT_EQ(balance("nobody"), 0u);
}

TEST_F(LedgerTest, OverdraftIsAnApplicationErrorAndChangesNothing) {
    ASSERT_TRUE(harness_.run(session_, Deposit{"alice", 10}).is_ok());
    auto refused = harness_.run(session_, Withdraw{"alice", 11});
    ASSERT_FALSE(refused.is_ok());
    EXPECT_EQ(refused.status().code(), StatusCode::conflict);
    EXPECT_EQ(balance("alice"), 10u);
}

TEST_F(LedgerTest, TransferIsAllOrNothing) {
    ASSERT_TRUE(harness_.run(session_, Deposit{"alice", 10}).is_ok());
    auto moved = harness_.run(session_, Transfer{"alice", "bob", 4});
    ASSERT_TRUE(moved.is_ok());
    EXPECT_EQ(moved->from_balance, 6u);
    EXPECT_EQ(moved->to_balance, 4u);
    EXPECT_FALSE(harness_.run(session_, Transfer{"alice", "bob", 7}).is_ok());
    EXPECT_EQ(balance("alice"), 6u);
    EXPECT_EQ(balance("bob"), 4u);
    EXPECT_EQ(harness_.run(session_, Transfer{"bob", "bob", 1}).status().code(),
              StatusCode::invalid_argument);
}

TEST_F(LedgerTest, CommandsAreSnapshotModeAndReleasedAtOnce) {
    ASSERT_TRUE(harness_.run(session_, Deposit{"alice", 10}).is_ok());
    EXPECT_EQ(harness_.compaction_of(harness_.last_index()),
              statemachine::CompactionMode::snapshot);
    EXPECT_TRUE(harness_.released(harness_.last_index()));
    EXPECT_TRUE(harness_.state_machine().snapshottable());
}

TEST_F(LedgerTest, SnapshotInstallsIntoAnotherLedger) {
    ASSERT_TRUE(harness_.run(session_, Deposit{"alice", 10}).is_ok());
    ASSERT_TRUE(harness_.run(session_, Deposit{"bob", 5}).is_ok());
    const statemachine::Bytes snapshot = harness_.state_machine().snapshot();

    Harness other(make_ledger_state_machine());
    ASSERT_TRUE(other.state_machine().install(snapshot).is_ok());
    statemachine::SessionId reader = other.open_session();
    EXPECT_EQ(other.ask(reader, Balance{"alice"})->balance, 10u);
    EXPECT_EQ(other.ask(reader, Balance{"bob"})->balance, 5u);
}

TEST_F(LedgerTest, DamagedSnapshotIsRefusedAndKeepsTheBalances) {
    ASSERT_TRUE(harness_.run(session_, Deposit{"alice", 10}).is_ok());
    statemachine::Bytes snapshot = harness_.state_machine().snapshot();
    snapshot.pop_back();
    EXPECT_FALSE(harness_.state_machine().install(snapshot).is_ok());
    EXPECT_FALSE(harness_.state_machine().install(statemachine::Bytes{2, 0, 1, 0, 1}).is_ok());
    EXPECT_EQ(balance("alice"), 10u);
}

}  // namespace
}  // namespace copycat::example
