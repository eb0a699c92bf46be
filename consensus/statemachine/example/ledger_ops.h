// The operations of the example ledger (ledger.h): what a client of that state machine
// includes. Each is a plain struct: its type name, its fields in wire order, its output, and
// for commands the compaction mode (operation.h says what an operation type provides).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <tuple>

#include "common/status.h"
#include "consensus/statemachine/operation.h"

namespace copycat::example {

inline Status require_account(std::string_view op_type, std::string_view account) {
    if (!account.empty()) return Status::ok();
    return invalid_argument(std::string(op_type) + ": the account name is empty");
}

// The ledger takes snapshots, so its commands are compacted by them (copycat.md §2.4).
inline constexpr statemachine::CompactionMode kLedgerCompaction =
    statemachine::CompactionMode::snapshot;

struct Deposit {
    static constexpr std::string_view type = "ledger.deposit";
    std::string account;
    uint64_t amount = 0;
    static auto fields(auto& s) { return std::tie(s.account, s.amount); }
    statemachine::CompactionMode compaction() const { return kLedgerCompaction; }
    Status validate() const { return require_account(type, account); }
    struct Output {
        uint64_t balance = 0;  // after the deposit
        static auto fields(auto& s) { return std::tie(s.balance); }
    };
};

// Refused (conflict) when the account holds less than `amount`.
struct Withdraw {
    static constexpr std::string_view type = "ledger.withdraw";
    std::string account;
    uint64_t amount = 0;
    static auto fields(auto& s) { return std::tie(s.account, s.amount); }
    statemachine::CompactionMode compaction() const { return kLedgerCompaction; }
    Status validate() const { return require_account(type, account); }
    struct Output {
        uint64_t balance = 0;  // after the withdrawal
        static auto fields(auto& s) { return std::tie(s.balance); }
    };
};

// Moves money between two accounts, all or nothing.
struct Transfer {
    static constexpr std::string_view type = "ledger.transfer";
    std::string from;
    std::string to;
    uint64_t amount = 0;
    static auto fields(auto& s) { return std::tie(s.from, s.to, s.amount); }
    statemachine::CompactionMode compaction() const { return kLedgerCompaction; }
    Status validate() const {
        COPYCAT_RETURN_IF_ERROR(require_account(type, from));
        COPYCAT_RETURN_IF_ERROR(require_account(type, to));
        if (from == to) return invalid_argument("ledger.transfer: from and to are the same");
        return Status::ok();
    }
    struct Output {
        uint64_t from_balance = 0;
        uint64_t to_balance = 0;
        static auto fields(auto& s) { return std::tie(s.from_balance, s.to_balance); }
    };
};

// A query: no compaction mode.
struct Balance {
    static constexpr std::string_view type = "ledger.balance";
    std::string account;
    static auto fields(auto& s) { return std::tie(s.account); }
    Status validate() const { return require_account(type, account); }
    struct Output {
        uint64_t balance = 0;  // 0 for an account never paid into
        static auto fields(auto& s) { return std::tie(s.balance); }
    };
};

}  // namespace copycat::example
