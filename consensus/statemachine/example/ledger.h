// An example of a user state machine: a ledger of account balances (ledger_ops.h), written
// against the typed operations of operation.h. Small on purpose; read it before writing your
// own. What it shows:
//  - configure() registers each operation by type with a handler that gets the decoded
//    operation and its Commit and returns the operation's Output or an error Status (an
//    application error: the client gets it, and a resubmitted command gets it again);
//  - determinism: the state is a std::map (ordered), no clocks, no randomness;
//  - compaction by snapshots: snapshottable() is true, each command is SNAPSHOT and its Commit
//    is released as soon as it has applied, because the next snapshot will hold its effect.
//    (The built-in resources show the other way, incremental compaction: coordination.h.)
//
// Build your own into the consensus executable by passing its factory
// (statemachine::StateMachineFactory), as make_ledger_state_machine() is.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>

#include "consensus/statemachine/example/ledger_ops.h"
#include "consensus/statemachine/state_machine.h"

namespace copycat::example {

class Ledger final : public statemachine::StateMachine {
public:
    void configure(statemachine::Executor& executor) override;

    bool snapshottable() const override { return true; }
    statemachine::Bytes snapshot() const override;
    // Refuses a snapshot that does not decode, names an account twice or has an empty name,
    // and then keeps the current balances.
    Status install(std::span<const uint8_t> snapshot) override;

private:
    Result<Deposit::Output> deposit(const Deposit& op);
    Result<Withdraw::Output> withdraw(const Withdraw& op);
    Result<Transfer::Output> transfer(const Transfer& op);
    uint64_t balance(const std::string& account) const;
    void set_balance(const std::string& account, uint64_t balance);

    std::map<std::string, uint64_t> balances_;  // accounts with a balance above 0
};

std::unique_ptr<statemachine::StateMachine> make_ledger_state_machine();

}  // namespace copycat::example
