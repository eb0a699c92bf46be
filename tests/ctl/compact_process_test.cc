// copycat-ctl compact on a real 3-node cluster that runs, per node, a copycat-logstore, a
// copycat-compactor and a copycat-consensus (as ops/run does), behind a copycat-gateway, on ipc
// sockets. Segments are 64 KiB and the compactors' own timers would first fire after an hour,
// so only the command compacts.
//
//  - compact removes the overwritten puts on every node, compact --major runs too, and after
//    every node restarted from its compacted log each key reads back the last value written;
//  - a node whose compactor is stopped makes compact exit 1, its row saying why, while the
//    other nodes' runs happen;
//  - a follower paused (SIGSTOP) while the others delete and overwrite keys, compact, and
//    restart from their compacted logs never serves a deleted key once it is back (resumed, or
//    killed and started again so that nothing sent to it meanwhile arrives): not to a session's
//    sequential reads, not as the leader, and not after the deletes were compacted away with
//    the writes they undid and every node restarted (TESTING.md #9: no tombstone resurrection).
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "consensus/statemachine/resources/ops.h"
#include "tests/ctl/ctl_runner.h"
#include "tests/support/built_cluster.h"
#include "tests/support/consensus_cluster.h"
#include "tests/support/operations.h"
#include "tests/support/subprocess.h"

namespace copycat::testing {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using Values = std::map<std::string, std::string>;  // key -> value

constexpr const char* kSegmentMaxBytes = "65536";

// One row of `copycat-ctl -w json compact`.
struct CompactRow {
    int node_id = 0;
    std::string kind;  // "minor", "major"; "" when the node's run did not happen
    uint64_t entries_removed = 0;
    uint64_t reclaimed_bytes = 0;
    std::string errors;
    std::string line;
};

uint64_t number_field(const std::string& line, const std::string& name) {
    const size_t at = line.find("\"" + name + "\":");
    if (at == std::string::npos) return 0;
    return std::stoull(line.substr(at + name.size() + 3));
}

std::string text_field(const std::string& line, const std::string& name) {
    const std::string start = "\"" + name + "\":\"";
    const size_t at = line.find(start);
    if (at == std::string::npos) return "<no " + name + ">";
    const size_t from = at + start.size();
    return line.substr(from, line.find('"', from) - from);
}

std::vector<CompactRow> compact_rows(const CtlResult& result) {
    std::vector<CompactRow> rows;
    for (const std::string& line : lines_of(result.out)) {
        CompactRow row;
        row.node_id = static_cast<int>(number_field(line, "node_id"));
        row.kind = text_field(line, "kind");
        row.entries_removed = number_field(line, "entries_removed");
        row.reclaimed_bytes = number_field(line, "reclaimed_bytes");
        // The last field: the rest of the line (a message may hold quotes).
        const size_t errors = line.find("\"errors\":\"");
        row.errors = errors == std::string::npos ? "<no errors>" : line.substr(errors + 10);
        if (row.errors.size() >= 2) row.errors.resize(row.errors.size() - 2);  // "}
        row.line = line;
        rows.push_back(std::move(row));
    }
    return rows;
}

// `copycat-ctl list` in its simple form: each key, then its value, one line each.
Values listed(const CtlResult& result) {
    Values values;
    const std::vector<std::string> lines = lines_of(result.out);
    for (size_t k = 0; k + 1 < lines.size(); k += 2) values[lines[k]] = lines[k + 1];
    return values;
}

// The last value acknowledged for each key, from copycat-bench --ack-log of a run with one
// client and one put in flight (so the file's order is the log's).
Values last_acknowledged(const std::string& ack_log) {
    Values values;
    std::ifstream in(ack_log);
    std::string key, value;
    while (in >> key >> value) values[key] = value;
    return values;
}

std::string key_name(int i) {
    char name[8];
    std::snprintf(name, sizeof name, "k%02d", i);
    return name;
}

Values values_of(const resources::MapList::Output& list) {
    Values values;
    for (const resources::MapEntry& entry : list.entries) values[entry.key] = text_of(entry.value);
    return values;
}

class CtlCompactProcess : public ::testing::Test {
protected:
    void SetUp() override {
        ClusterOptions options = built_cluster_options();
        options.session_timeout = "5s";
        options.logstore_flags = {"--segment-max-bytes", kSegmentMaxBytes};
        options.compactor_flags = {"--segment-max-bytes", kSegmentMaxBytes,
                                   "--minor-interval",    "1h",
                                   "--major-interval",    "1h"};
        cluster_ = std::make_unique<ProcessCluster>(options);
        cluster_->start_all();
        cluster_->start_gateway(1);
        ctl_ = std::make_unique<Ctl>(COPYCAT_CTL_BINARY, cluster_->gateway_endpoint(1));
        ASSERT_NO_FATAL_FAILURE(wait_until_healthy());
    }

    CtlResult ctl(const std::vector<std::string>& args, const std::string& input = "") {
        return ctl_->run(args, input);
    }

    // Every node answers through the gateway and knows the leader.
    void wait_until_healthy() {
        CtlResult health;
        const bool ready = eventually(
            [&] {
                return (health = ctl({"endpoint", "health"})).exit_code == 0;
            },
            30s);
        ASSERT_TRUE(ready) << describe(health) << cluster_->gateway_output(1);
    }

    // copycat-bench put of `total` 200-byte values to `key_space` keys of `map`, in order, by
    // one client with one put in flight; with ack_log, each acknowledged put is written there.
    void bench_put(const std::string& map, int key_space, int total,
                   const std::string& ack_log = "") {
        std::vector<std::string> argv = {COPYCAT_BENCH_BINARY,
                                         "put",
                                         "--endpoints",
                                         cluster_->gateway_endpoint(1),
                                         "--map",
                                         map,
                                         "--clients",
                                         "1",
                                         "--total",
                                         std::to_string(total),
                                         "--key-space",
                                         std::to_string(key_space),
                                         "--sequential-keys",
                                         "--val-size",
                                         "200",
                                         "--command-timeout",
                                         "20s"};
        if (!ack_log.empty()) argv.insert(argv.end(), {"--ack-log", ack_log});
        auto bench = Subprocess::start(argv, ctl_->scratch() + "/bench-" + map + ".out");
        ASSERT_TRUE(bench.is_ok()) << bench.status().to_string();
        ASSERT_EQ(bench->wait(60s), 0) << bench->output();
        EXPECT_NE(bench->output().find("\"errors\":0,"), std::string::npos) << bench->output();
    }

    // Runs of `copycat-ctl -w json compact <flags>` until each node of `nodes` has removed
    // `at_least` entries (added up over the runs), a failure if that takes over 20 s: every
    // run's result.
    // Releases reach a logstore a second or two after the entries that made them are sealed
    // (the consensus server forwards them on its 1 s housekeeping, once its logstore said they
    // are sealed), and nothing reports when they have arrived; so a run right after the writes
    // may find none yet, and the next one finds them.
    std::vector<CtlResult> compact_until_removed(const std::vector<std::string>& flags,
                                                 const std::set<int>& nodes,
                                                 uint64_t at_least = 1) {
        std::vector<std::string> args = {"-w", "json", "compact"};
        args.insert(args.end(), flags.begin(), flags.end());
        std::vector<CtlResult> runs;
        std::map<int, uint64_t> removed;
        const auto deadline = Clock::now() + 20s;
        while (Clock::now() < deadline) {
            runs.push_back(ctl(args));
            for (const CompactRow& row : compact_rows(runs.back())) {
                removed[row.node_id] += row.entries_removed;
            }
            bool all = true;
            for (int n : nodes) all = all && removed[n] >= at_least;
            if (all) return runs;
            std::this_thread::sleep_for(250ms);
        }
        for (int n : nodes) {
            EXPECT_GE(removed[n], at_least)
                << "node " << n << " removed " << removed[n] << " entries in 20 s; last run:\n"
                << describe(runs.back());
        }
        return runs;
    }

    // The node ids of `copycat-ctl endpoint status` that say they lead (true) or follow.
    std::vector<int> nodes_leading(bool leading) {
        CtlResult status = ctl({"-w", "json", "endpoint", "status"});
        EXPECT_EQ(status.exit_code, 0) << describe(status);
        std::vector<int> ids;
        const std::string mark = leading ? "\"is_leader\":true" : "\"is_leader\":false";
        for (const std::string& line : lines_of(status.out)) {
            if (line.find(mark) != std::string::npos) {
                ids.push_back(static_cast<int>(number_field(line, "node_id")));
            }
        }
        return ids;
    }

    // One copycat-ctl session running `script` on `map`; every line must succeed.
    void run_script(const std::string& map, const std::string& script) {
        CtlResult run = ctl({"--map", map, "session"}, script);
        ASSERT_EQ(run.exit_code, 0) << describe(run);
        for (const std::string& line : lines_of(run.out)) {
            EXPECT_EQ(line.rfind("{\"ok\":true", 0), 0u) << line;
        }
    }

    // compact --major while node `paused` does not answer: its runs cannot happen, the other
    // nodes' do and remove released entries (the filler's overwrites at least).
    void compact_the_others_major(int paused, const std::set<int>& others) {
        for (const CtlResult& run :
             compact_until_removed({"--major", "--dial-timeout", "1s"}, others)) {
            EXPECT_EQ(run.exit_code, 1) << describe(run);
            const std::vector<CompactRow> rows = compact_rows(run);
            ASSERT_EQ(rows.size(), 3u) << describe(run);
            for (const CompactRow& row : rows) {
                if (row.node_id == paused) {
                    EXPECT_EQ(row.kind, "") << row.line;
                    EXPECT_NE(row.errors.find("did not answer"), std::string::npos) << row.line;
                } else {
                    EXPECT_EQ(row.kind, "major") << row.line;
                    EXPECT_EQ(row.errors, "") << row.line;
                }
            }
        }
    }

    // Each node of `nodes`, asked directly (not through the gateway) for a sequential read of
    // the whole map by one session, answers within 20 s, with exactly `expected`.
    void expect_served(const std::string& map, const Values& expected,
                       const std::vector<int>& nodes) {
        zmq::context_t context(1);
        SessionClient reader(context, cluster_->client_endpoints(), "reader", 60000);
        ASSERT_TRUE(reader.open(10s));
        for (int n : nodes) {
            Result<resources::MapList::Output> got = Status(StatusCode::timeout, "not asked");
            const bool answered = eventually(
                [&] {
                    got = output_of<resources::MapList>(
                        reader.query(statemachine::make_operation(resources::MapList{map, "", 0}),
                                     session::Consistency::sequential, 1s, n));
                    return got.is_ok();
                },
                20s);
            ASSERT_TRUE(answered) << "node " << n << ": " << got.status().to_string();
            EXPECT_EQ(values_of(*got), expected) << "node " << n;
        }
        EXPECT_TRUE(reader.close(10s));
    }

    // The nodes stopped (SIGTERM, by pid) and started again, until one of them leads: each
    // rebuilds its state by replaying its own, compacted, log (this state machine takes no
    // snapshots).
    void restart_nodes(const std::set<int>& nodes) {
        std::vector<std::string> endpoints;
        for (int n : nodes) {
            cluster_->stop_node(n);
            endpoints.push_back(cluster_->client_endpoint(n));
        }
        for (int n : nodes) cluster_->start_node(n);
        zmq::context_t context(1);
        ASSERT_TRUE(eventually([&] { return find_leader(context, endpoints, 300ms) != 0; }, 20s));
    }

    // How the paused follower of delete_while_a_follower_is_paused comes back.
    enum class Comeback { sigcont, kill_and_start };
    void delete_while_a_follower_is_paused(Comeback comeback);

    std::unique_ptr<ProcessCluster> cluster_;
    std::unique_ptr<Ctl> ctl_;
};

TEST_F(CtlCompactProcess, CompactRemovesOverwrittenPutsOnEveryNodeAndEveryKeyKeepsItsLastValue) {
    const std::string ack_log = ctl_->scratch() + "/acknowledged";
    constexpr int kPuts = 3000;
    constexpr int kKeys = 16;
    ASSERT_NO_FATAL_FAILURE(bench_put("compaction", kKeys, kPuts, ack_log));
    // Later puts to another map: the last puts above are then in sealed segments too.
    ASSERT_NO_FATAL_FAILURE(bench_put("filler", 1, 600));
    const Values written = last_acknowledged(ack_log);
    ASSERT_EQ(written.size(), static_cast<size_t>(kKeys));

    std::map<int, uint64_t> removed;
    std::map<int, uint64_t> reclaimed;
    // Releases reach the logstores within a second or so (and only once the segment holding
    // them is sealed): compact until most overwritten puts went, or 20 s passed.
    for (const CtlResult& run : compact_until_removed({}, {1, 2, 3}, kPuts / 2)) {
        ASSERT_EQ(run.exit_code, 0) << describe(run);
        const std::vector<CompactRow> rows = compact_rows(run);
        ASSERT_EQ(rows.size(), 3u) << describe(run);
        for (const CompactRow& row : rows) {
            EXPECT_EQ(row.kind, "minor") << row.line;
            EXPECT_EQ(row.errors, "") << row.line;
            removed[row.node_id] += row.entries_removed;
            reclaimed[row.node_id] += row.reclaimed_bytes;
        }
    }
    for (int n = 1; n <= 3; ++n) {
        // Most of the 2,984 overwritten puts were in sealed segments, and went.
        EXPECT_GE(removed[n], static_cast<uint64_t>(kPuts / 2)) << "node " << n;
        // Each removed put took its 200-byte value with it.
        EXPECT_GE(reclaimed[n], removed[n] * 200) << "node " << n;
    }

    CtlResult major = ctl({"-w", "json", "compact", "--major"});
    ASSERT_EQ(major.exit_code, 0) << describe(major);
    const std::vector<CompactRow> major_rows = compact_rows(major);
    ASSERT_EQ(major_rows.size(), 3u) << describe(major);
    for (const CompactRow& row : major_rows) {
        EXPECT_EQ(row.kind, "major") << row.line;
        EXPECT_EQ(row.errors, "") << row.line;
    }

    ASSERT_NO_FATAL_FAILURE(restart_nodes({1, 2, 3}));
    ASSERT_NO_FATAL_FAILURE(wait_until_healthy());
    CtlResult list = ctl({"--map", "compaction", "list"});
    ASSERT_EQ(list.exit_code, 0) << describe(list);
    EXPECT_EQ(listed(list), written);
    for (const auto& [key, value] : written) {
        CtlResult get = ctl({"--map", "compaction", "get", key});
        EXPECT_EQ(get.exit_code, 0) << describe(get);
        EXPECT_EQ(get.out, value + "\n") << key;
    }
}

TEST_F(CtlCompactProcess, CompactExitsOneAndNamesTheNodeWhoseCompactorIsStopped) {
    cluster_->stop_compactor(2);
    CtlResult compact = ctl({"-w", "json", "compact"});
    EXPECT_EQ(compact.exit_code, 1) << describe(compact);
    const std::vector<CompactRow> rows = compact_rows(compact);
    ASSERT_EQ(rows.size(), 3u) << describe(compact);
    for (const CompactRow& row : rows) {
        if (row.node_id == 2) {
            EXPECT_EQ(row.kind, "") << row.line;
            EXPECT_NE(row.errors.find("the compactor of node 2"), std::string::npos) << row.line;
            EXPECT_NE(row.errors.find("does not take requests"), std::string::npos) << row.line;
        } else {
            EXPECT_EQ(row.kind, "minor") << row.line;
            EXPECT_EQ(row.errors, "") << row.line;
        }
    }
    // The table says so too, and the exit code is the same.
    CtlResult table = ctl({"-w", "table", "compact"});
    EXPECT_EQ(table.exit_code, 1) << describe(table);
    EXPECT_NE(table.out.find("does not take requests"), std::string::npos) << describe(table);
}

// A follower's consensus process is paused (SIGSTOP) while the others delete half of 20 keys
// and overwrite the rest, compact, and restart from their compacted logs; then it comes back,
// and neither it nor any node ever serves a deleted key, also once the deletes were compacted
// away everywhere and every node restarted.
void CtlCompactProcess::delete_while_a_follower_is_paused(Comeback comeback) {
    constexpr int kKeys = 20;
    std::string first;
    for (int i = 0; i < kKeys; ++i) {
        first += "put " + key_name(i) + " first-" + std::to_string(i) + "\n";
    }
    ASSERT_NO_FATAL_FAILURE(run_script("tombstones", first));

    const std::vector<int> followers = nodes_leading(false);
    ASSERT_EQ(followers.size(), 2u);
    const int paused = followers[0];
    std::set<int> others = {1, 2, 3};
    others.erase(paused);
    cluster_->pause_consensus(paused);
    // The majority deletes half the keys and overwrites the rest.
    std::string second;
    Values expected;
    for (int i = 0; i < kKeys; ++i) {
        const std::string value = "second-" + std::to_string(i);
        second +=
            i < kKeys / 2 ? "del " + key_name(i) + "\n" : "put " + key_name(i) + " " + value + "\n";
        if (i >= kKeys / 2) expected[key_name(i)] = value;
    }
    ASSERT_NO_FATAL_FAILURE(run_script("tombstones", second));
    // The deletes go into sealed segments, their releases to the logstores.
    ASSERT_NO_FATAL_FAILURE(bench_put("filler", 1, 1500));
    ASSERT_NO_FATAL_FAILURE(compact_the_others_major(paused, others));
    // The majority restarts from its compacted logs: what the paused node is caught up from
    // is what compaction left (a leader's log in memory is its stored log after a restart).
    ASSERT_NO_FATAL_FAILURE(restart_nodes(others));

    if (comeback == Comeback::sigcont) {
        cluster_->resume_consensus(paused);
    } else {
        cluster_->kill_consensus(paused);
        cluster_->start_node(paused);
    }
    // Refused until it applied the session's registration (after the deletes); then it answers
    // with the state after them.
    ASSERT_NO_FATAL_FAILURE(expect_served("tombstones", expected, {paused}));
    ASSERT_NO_FATAL_FAILURE(wait_until_healthy());
    CtlResult moved = ctl({"move-leader", std::to_string(paused), "--command-timeout", "10s"});
    ASSERT_EQ(moved.exit_code, 0) << describe(moved);
    CtlResult list = ctl({"--map", "tombstones", "list"});
    ASSERT_EQ(list.exit_code, 0) << describe(list);
    EXPECT_EQ(listed(list), expected);
    CtlResult deleted = ctl({"--map", "tombstones", "get", key_name(0)});
    EXPECT_EQ(deleted.exit_code, 0) << describe(deleted);
    EXPECT_EQ(deleted.out, "") << describe(deleted);
    CtlResult overwritten = ctl({"--map", "tombstones", "get", key_name(kKeys - 1)});
    EXPECT_EQ(overwritten.out, expected[key_name(kKeys - 1)] + "\n") << describe(overwritten);

    // Now that every node has the deletes, compaction may remove them with the writes they
    // undid; then every node replays its own log. (Releases a node made while it replayed or
    // took a log with holes count from the end of the holes: they reach its logstore once more
    // writes sealed the segment that end is in.)
    ASSERT_NO_FATAL_FAILURE(bench_put("filler", 1, 600));
    for (const CtlResult& run : compact_until_removed({"--major"}, {1, 2, 3})) {
        EXPECT_EQ(run.exit_code, 0) << describe(run);
    }
    ASSERT_NO_FATAL_FAILURE(restart_nodes({1, 2, 3}));
    ASSERT_NO_FATAL_FAILURE(wait_until_healthy());
    CtlResult relisted = ctl({"--map", "tombstones", "list"});
    ASSERT_EQ(relisted.exit_code, 0) << describe(relisted);
    EXPECT_EQ(listed(relisted), expected);
    expect_served("tombstones", expected, {1, 2, 3});
}

TEST_F(CtlCompactProcess, AFollowerPausedWhileKeysAreDeletedNeverServesThemAfterCompaction) {
    delete_while_a_follower_is_paused(Comeback::sigcont);
}

// SIGSTOP is no partition: what the leader sent the paused process before it restarted waits
// in the socket and arrives on SIGCONT, deletes included. Killed (SIGKILL) and started again
// instead, the follower has only its stored log, which lacks the deletes, and is caught up
// from logs that compaction has emptied around them.
TEST_F(CtlCompactProcess, AFollowerDownWhileKeysAreDeletedNeverServesThemAfterCompaction) {
    delete_while_a_follower_is_paused(Comeback::kill_and_start);
}

}  // namespace
}  // namespace copycat::testing
