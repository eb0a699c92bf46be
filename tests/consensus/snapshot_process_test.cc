// Snapshots in the real process (consensus/server/SNAPSHOTS.md), with the example ledger's
// consensus executable (copycat-ledger-consensus, a state machine that takes snapshots): three
// nodes, real logstores and fsync, a snapshot every 40 applied entries. Every node stores
// snapshots; a follower killed with kill -9 while the leader's log moves past what it lacks is
// caught up by an InstallSnapshot when it comes back and ends with the leader's state; and after
// kill -9 of every node, each restarts from its snapshot and log with the balances intact.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "consensus/statemachine/example/ledger_ops.h"
#include "consensus/statemachine/operation.h"
#include "tests/support/consensus_cluster.h"
#include "tests/support/operations.h"
#include "tests/support/subprocess.h"

namespace copycat::testing {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using session::Consistency;
using session::ErrorCode;

constexpr int kAccounts = 10;

// The snapshot index of a consensus process's "restored" log line (text format), or nullopt.
std::optional<uint64_t> restored_snapshot_index(const std::string& output) {
    const size_t line = output.find("] restored ");
    if (line == std::string::npos) return std::nullopt;
    const size_t end = output.find('\n', line);
    const std::string_view text = std::string_view(output).substr(line, end - line);
    const size_t field = text.find("snapshot_index=");
    if (field == std::string::npos) return std::nullopt;
    return std::stoull(std::string(text.substr(field + 15)));
}

class SnapshotProcessTest : public ::testing::Test {
protected:
    static ClusterOptions cluster_options() {
        ClusterOptions options;
        options.logstore_binary = COPYCAT_LOGSTORE_BINARY;
        options.consensus_binary = COPYCAT_LEDGER_CONSENSUS_BINARY;
        options.consensus_flags = {"--snapshot-every-entries", "40"};
        return options;
    }
    SnapshotProcessTest() : cluster_(cluster_options()) {}

    int wait_for_leader(std::chrono::milliseconds timeout = 20s) {
        session::NodeId leader = 0;
        eventually(
            [&] {
                leader = find_leader(context_, cluster_.client_endpoints(), 300ms);
                return leader != 0;
            },
            timeout);
        return static_cast<int>(leader);
    }

    std::optional<session::StatusResponse> status(int node) {
        return node_status(context_, cluster_.client_endpoint(node), 500ms);
    }

    // `count` deposits spread over the accounts, with keep-alives that acknowledge their
    // results: a snapshot is stored only once what it covers is acknowledged.
    void deposit(SessionClient& client, int count) {
        for (int i = 0; i < count; ++i) {
            const std::string account = "account-" + std::to_string(next_deposit_ % kAccounts);
            const uint64_t amount = 1 + next_deposit_ % 7;
            ++next_deposit_;
            auto balance = command_output(client, example::Deposit{account, amount}, 20s);
            ASSERT_TRUE(balance.is_ok()) << balance.status().message();
            expected_[account] += amount;
            ASSERT_EQ(balance->balance, expected_[account]);
            if (i % 20 == 19) {
                ASSERT_TRUE(client.keep_alive(10s).has_value());
            }
        }
        ASSERT_TRUE(client.keep_alive(10s).has_value());
    }

    std::vector<std::string> snapshot_files(int node) const {
        std::vector<std::string> names;
        const fs::path folder = cluster_.data_dir(node) + "/snapshots";
        if (!fs::exists(folder)) return names;
        for (const auto& item : fs::directory_iterator(folder)) {
            const std::string name = item.path().filename().string();
            if (name.size() > 5 && name.substr(name.size() - 5) == ".snap") names.push_back(name);
        }
        return names;
    }

    // Every account's balance read from `node` (SEQUENTIAL: that node's own state machine)
    // equals what was deposited.
    void expect_balances_on(SessionClient& client, int node) {
        for (const auto& [account, expected] : expected_) {
            auto response = client.query(statemachine::make_operation(example::Balance{account}),
                                         Consistency::sequential, 10s, node);
            auto balance = output_of<example::Balance>(response);
            ASSERT_TRUE(balance.is_ok()) << "node " << node << ": " << balance.status().message();
            EXPECT_EQ(balance->balance, expected) << "node " << node << ", " << account;
        }
    }

    bool applied_everywhere(session::Index index, std::chrono::milliseconds timeout) {
        return eventually(
            [&] {
                for (int n = 1; n <= cluster_.nodes(); ++n) {
                    auto s = status(n);
                    if (!s || s->applied_index < index) return false;
                }
                return true;
            },
            timeout);
    }

    void expect_snapshots_everywhere();
    int kill_a_follower_and_move_past_it(SessionClient& client, int leader);
    void restart_and_expect_an_install(SessionClient& client, int follower, int leader);
    void restart_everything_and_expect_the_state();

    zmq::context_t context_{1};
    ProcessCluster cluster_;
    std::map<std::string, uint64_t> expected_;
    uint64_t next_deposit_ = 0;
};

void SnapshotProcessTest::expect_snapshots_everywhere() {
    for (int n = 1; n <= cluster_.nodes(); ++n) {
        // Between a save's rename and its cleanup there are three for a moment.
        EXPECT_TRUE(eventually(
            [&] {
                const size_t stored = snapshot_files(n).size();
                return stored >= 1 && stored <= 2;
            },
            20s))
            << "node " << n << " stores " << snapshot_files(n).size() << " snapshots\n"
            << cluster_.output(n);
    }
}

// Kills a follower (kill -9, its logstore too), then writes until the leader's log starts
// after the follower's last entry: the log can no longer catch it up. The follower's number.
int SnapshotProcessTest::kill_a_follower_and_move_past_it(SessionClient& client, int leader) {
    const int follower = leader == 1 ? 2 : 1;
    auto before = status(follower);
    EXPECT_TRUE(before.has_value());
    const session::Index follower_last = before ? before->last_index : 0;
    cluster_.kill_node(follower);
    bool moved_past = false;
    for (int round = 0; round < 40 && !moved_past; ++round) {
        deposit(client, 25);
        auto leading = status(leader);
        moved_past = leading && leading->first_index > follower_last + 1;
    }
    auto leading = status(leader);
    EXPECT_TRUE(moved_past) << "the leader's log still starts at "
                            << (leading ? leading->first_index : 0) << ", the follower's ends at "
                            << follower_last;
    return follower;
}

void SnapshotProcessTest::restart_and_expect_an_install(SessionClient& client, int follower,
                                                        int leader) {
    cluster_.start_node(follower);
    EXPECT_TRUE(eventually(
        [&] {
            return cluster_.output(follower).find("installed a snapshot from the leader") !=
                   std::string::npos;
        },
        30s))
        << cluster_.output(follower);
    deposit(client, 5);  // entries after the snapshot reach it through the log
    auto leading = status(leader);
    ASSERT_TRUE(leading.has_value());
    EXPECT_TRUE(applied_everywhere(leading->applied_index, 20s))
        << "the follower did not catch up\n"
        << cluster_.output(follower);
    expect_balances_on(client, follower);
    expect_balances_on(client, leader);
    EXPECT_FALSE(snapshot_files(follower).empty()) << "the installed snapshot was not stored";
}

void SnapshotProcessTest::restart_everything_and_expect_the_state() {
    for (int n = 1; n <= cluster_.nodes(); ++n) cluster_.kill_node(n);
    cluster_.start_all();
    ASSERT_NE(wait_for_leader(), 0);
    SessionClient reader(context_, cluster_.client_endpoints(), "reader", 10000);
    ASSERT_TRUE(reader.open(30s));
    auto leading = status(wait_for_leader());
    ASSERT_TRUE(leading.has_value());
    EXPECT_TRUE(applied_everywhere(leading->applied_index, 20s));
    for (int n = 1; n <= cluster_.nodes(); ++n) {
        const std::string output = cluster_.output(n);
        EXPECT_GT(restored_snapshot_index(output).value_or(0), 0u)
            << "node " << n << " restarted without its snapshot\n"
            << output;
        expect_balances_on(reader, n);
    }
}

TEST_F(SnapshotProcessTest, AFollowerFarBehindGetsASnapshotAndRestartsKeepTheState) {
    cluster_.start_all();
    const int leader = wait_for_leader();
    ASSERT_NE(leader, 0);
    SessionClient client(context_, cluster_.client_endpoints(), "teller", 10000);
    ASSERT_TRUE(client.open(20s));
    ASSERT_NO_FATAL_FAILURE(deposit(client, 120));
    ASSERT_NO_FATAL_FAILURE(expect_snapshots_everywhere());

    const int follower = kill_a_follower_and_move_past_it(client, leader);
    ASSERT_FALSE(HasFailure());
    ASSERT_NO_FATAL_FAILURE(restart_and_expect_an_install(client, follower, leader));
    ASSERT_NO_FATAL_FAILURE(restart_everything_and_expect_the_state());
}

}  // namespace
}  // namespace copycat::testing
