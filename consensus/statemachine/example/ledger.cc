#include "consensus/statemachine/example/ledger.h"

#include <string>
#include <tuple>
#include <utility>
#include <vector>

namespace copycat::example {

using statemachine::Commit;

namespace {

// The snapshot: every account with its balance, in name order.
struct AccountBalance {
    std::string account;
    uint64_t balance = 0;
    static auto fields(auto& s) { return std::tie(s.account, s.balance); }
};
struct LedgerSnapshot {
    std::vector<AccountBalance> accounts;
    static auto fields(auto& s) { return std::tie(s.accounts); }
};

Status insufficient(const std::string& account, uint64_t balance, uint64_t amount) {
    return conflict("account " + account + " holds " + std::to_string(balance) + ", less than " +
                    std::to_string(amount));
}

}  // namespace

void Ledger::configure(statemachine::Executor& executor) {
    // Each command's effect lives in the balances, which the next snapshot captures: the
    // commit is released right away (destroying it on return would do the same).
    statemachine::register_command<Deposit>(executor, [this](Deposit op, Commit commit) {
        commit.release();
        return deposit(op);
    });
    statemachine::register_command<Withdraw>(executor, [this](Withdraw op, Commit commit) {
        commit.release();
        return withdraw(op);
    });
    statemachine::register_command<Transfer>(executor, [this](Transfer op, Commit commit) {
        commit.release();
        return transfer(op);
    });
    statemachine::register_query<Balance>(
        executor, [this](const Balance& op, const Commit&) -> Result<Balance::Output> {
            return Balance::Output{balance(op.account)};
        });
}

Result<Deposit::Output> Ledger::deposit(const Deposit& op) {
    uint64_t sum = 0;
    if (__builtin_add_overflow(balance(op.account), op.amount, &sum)) {
        return out_of_range("ledger.deposit: account " + op.account + " would overflow");
    }
    set_balance(op.account, sum);
    return Deposit::Output{sum};
}

Result<Withdraw::Output> Ledger::withdraw(const Withdraw& op) {
    const uint64_t current = balance(op.account);
    if (current < op.amount) return insufficient(op.account, current, op.amount);
    set_balance(op.account, current - op.amount);
    return Withdraw::Output{current - op.amount};
}

Result<Transfer::Output> Ledger::transfer(const Transfer& op) {
    const uint64_t from = balance(op.from);
    const uint64_t to = balance(op.to);
    if (from < op.amount) return insufficient(op.from, from, op.amount);
    uint64_t credited = 0;
    if (__builtin_add_overflow(to, op.amount, &credited)) {
        return out_of_range("ledger.transfer: account " + op.to + " would overflow");
    }
    // Both checks passed before either balance changes: all or nothing.
    set_balance(op.from, from - op.amount);
    set_balance(op.to, credited);
    return Transfer::Output{from - op.amount, credited};
}

uint64_t Ledger::balance(const std::string& account) const {
    auto found = balances_.find(account);
    return found == balances_.end() ? 0 : found->second;
}

void Ledger::set_balance(const std::string& account, uint64_t balance) {
    if (balance == 0) {
        balances_.erase(account);
    } else {
        balances_[account] = balance;
    }
}

statemachine::Bytes Ledger::snapshot() const {
    LedgerSnapshot snapshot;
    for (const auto& [account, balance] : balances_) {
        snapshot.accounts.push_back(AccountBalance{account, balance});
    }
    return statemachine::encode_to_bytes(snapshot);
}

Status Ledger::install(std::span<const uint8_t> snapshot) {
    LedgerSnapshot decoded;
    if (!statemachine::decode_from_bytes(snapshot, decoded)) {
        return invalid_argument("ledger snapshot: malformed (" + std::to_string(snapshot.size()) +
                                " bytes)");
    }
    std::map<std::string, uint64_t> balances;
    for (AccountBalance& entry : decoded.accounts) {
        if (entry.account.empty()) return invalid_argument("ledger snapshot: empty account name");
        if (!balances.emplace(std::move(entry.account), entry.balance).second) {
            return invalid_argument("ledger snapshot: an account appears twice");
        }
    }
    std::erase_if(balances, [](const auto& entry) { return entry.second == 0; });
    balances_ = std::move(balances);
    return Status::ok();
}

std::unique_ptr<statemachine::StateMachine> make_ledger_state_machine() {
    return std::make_unique<Ledger>();
}

}  // namespace copycat::example
