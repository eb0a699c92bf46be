// The client library and copycat-bench on real processes: a 3-node cluster (logstore +
// consensus per node) behind a copycat-gateway, on ipc sockets in a temporary directory.
//
//  - kill -9 of the leader during a copycat-bench put run: the run finishes, and afterwards
//    every acknowledged key reads back with its value;
//  - a watcher's events arrive exactly once and in order across a leader kill, and every
//    acknowledged write is among them;
//  - the library's typed calls at every consistency level, and its session states.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "client/client.h"
#include "consensus/statemachine/resources/ops.h"
#include "tests/support/built_cluster.h"
#include "tests/support/consensus_cluster.h"
#include "tests/support/operations.h"

namespace copycat::testing {
namespace {

using namespace std::chrono_literals;
using client::Client;
using client::ClientOptions;
using session::Consistency;

ClusterOptions cluster_options() {
    ClusterOptions options = built_cluster_options();
    options.election_timeout = "300ms";
    options.heartbeat_interval = "50ms";
    options.session_timeout = "5s";
    return options;
}

// The node that leads now, waiting for one; 0 if none within 20 s.
int wait_for_leader(ProcessCluster& cluster, zmq::context_t& context) {
    session::NodeId leader = 0;
    eventually(
        [&] { return (leader = find_leader(context, cluster.client_endpoints(), 300ms)) != 0; },
        20s);
    return static_cast<int>(leader);
}

ClientOptions options_for(ProcessCluster& cluster) {
    ClientOptions options;
    options.endpoints = {cluster.gateway_endpoint(1)};
    options.dial_timeout = 10s;
    options.command_timeout = 15s;
    options.attempt_timeout = 3s;
    return options;
}

std::unique_ptr<Client> connect(ProcessCluster& cluster) {
    auto client = Client::connect(options_for(cluster));
    EXPECT_TRUE(client.is_ok()) << client.status().to_string();
    return client.is_ok() ? std::move(client).value() : nullptr;
}

// Lines "key value" written by copycat-bench --ack-log.
std::map<std::string, std::string> read_ack_log(const std::string& path) {
    std::map<std::string, std::string> acknowledged;
    std::ifstream in(path);
    std::string key, value;
    while (in >> key >> value) acknowledged[key] = value;
    return acknowledged;
}

TEST(ClientProcess, BenchPutRunFinishesThroughALeaderKillAndEveryAcknowledgedKeyReadsBack) {
    ProcessCluster cluster(cluster_options());
    cluster.start_all();
    zmq::context_t context(1);
    const int leader = wait_for_leader(cluster, context);
    ASSERT_NE(leader, 0);
    cluster.start_gateway(1);

    TempDir scratch;
    const std::string ack_log = scratch.path() + "/acknowledged";
    auto bench = Subprocess::start(
        {COPYCAT_BENCH_BINARY, "put", "--endpoints", cluster.gateway_endpoint(1), "--clients", "16",
         "--total", "6000", "--key-space", "1000000", "--sequential-keys", "--val-size", "32",
         "--rate", "1500", "--command-timeout", "20s", "--ack-log", ack_log},
        scratch.path() + "/bench.out");
    ASSERT_TRUE(bench.is_ok()) << bench.status().to_string();
    std::this_thread::sleep_for(1500ms);  // a quarter of the run, at 1,500 puts/s
    cluster.kill_node(leader);
    const int exit_code = bench->wait(120s);
    ASSERT_EQ(exit_code, 0) << bench->output();
    EXPECT_NE(bench->output().find("\"ops_per_s\""), std::string::npos) << bench->output();
    cluster.start_node(leader);

    const auto acknowledged = read_ack_log(ack_log);
    // Most of the run is acknowledged (the outage lasts about a second of a four-second run).
    EXPECT_GT(acknowledged.size(), 3000u) << bench->output();
    auto reader = connect(cluster);
    ASSERT_NE(reader, nullptr);
    for (const auto& [key, value] : acknowledged) {
        auto got = reader->query(resources::MapGet{"bench", key}, Consistency::linearizable).get();
        ASSERT_TRUE(got.is_ok()) << key << ": " << got.status().to_string();
        ASSERT_TRUE(got->value.has_value()) << "acknowledged key " << key << " is missing";
        ASSERT_EQ(text_of(*got->value), value) << "key " << key;
    }
    EXPECT_TRUE(reader->close().is_ok());
}

TEST(ClientProcess, WatchEventsArriveExactlyOnceAndInOrderAcrossALeaderKill) {
    ProcessCluster cluster(cluster_options());
    cluster.start_all();
    zmq::context_t context(1);
    ASSERT_NE(wait_for_leader(cluster, context), 0);
    cluster.start_gateway(1);

    auto watcher = connect(cluster);
    auto writer = connect(cluster);
    ASSERT_NE(watcher, nullptr);
    ASSERT_NE(writer, nullptr);
    std::mutex mutex;
    std::vector<resources::MapChanged> seen;
    std::vector<session::Index> event_indexes;
    watcher->on_event(std::string(resources::MapChanged::name), [&](const session::Event& event,
                                                                    session::Index index) {
        auto changed = statemachine::decode_event<resources::MapChanged>(event.message);
        ASSERT_TRUE(changed.is_ok());
        std::lock_guard lock(mutex);
        seen.push_back(*changed);
        event_indexes.push_back(index);
    });
    auto watched = watcher->command(resources::MapWatch{"watched", "w/", true}).get();
    ASSERT_TRUE(watched.is_ok()) << watched.status().to_string();

    // Values are unique per attempt: an event names the very write it reports.
    std::map<std::string, session::Index> acknowledged;  // value -> index of its put
    std::set<std::string> attempted;
    const int writes = 400;
    for (int i = 0; i < writes; ++i) {
        if (i == writes / 3) {
            const int leader = wait_for_leader(cluster, context);
            ASSERT_NE(leader, 0);
            cluster.kill_node(leader);
        }
        const std::string value = "v" + std::to_string(i);
        attempted.insert(value);
        auto put = writer
                       ->command(resources::MapPut{"watched", "w/" + std::to_string(i % 7),
                                                   bytes_of(value), 0})
                       .get();
        if (put.is_ok()) acknowledged[value] = put->version;
    }
    EXPECT_GT(acknowledged.size(), static_cast<size_t>(writes * 9 / 10));

    // Every acknowledged write reaches the watcher (its event index is the put's index).
    ASSERT_TRUE(eventually(
        [&] {
            std::lock_guard lock(mutex);
            std::set<std::string> values;
            for (const auto& change : seen) values.insert(text_of(*change.value));
            for (const auto& [value, index] : acknowledged) {
                if (values.count(value) == 0) return false;
            }
            return true;
        },
        20s));
    std::lock_guard lock(mutex);
    std::set<std::string> delivered;
    for (size_t k = 0; k < seen.size(); ++k) {
        const auto& change = seen[k];
        ASSERT_TRUE(change.value.has_value());
        const std::string value = text_of(*change.value);
        EXPECT_TRUE(attempted.count(value)) << "an event for a write never made: " << value;
        EXPECT_TRUE(delivered.insert(value).second) << "event delivered twice: " << value;
        if (k > 0) {
            EXPECT_GT(event_indexes[k], event_indexes[k - 1]) << "events out of order";
            EXPECT_GT(change.index, seen[k - 1].index) << "changes out of order";
        }
        auto ack = acknowledged.find(value);
        if (ack != acknowledged.end()) {
            EXPECT_EQ(change.index, ack->second) << value;
        }
    }
    EXPECT_TRUE(writer->close().is_ok());
    EXPECT_TRUE(watcher->close().is_ok());
}

TEST(ClientProcess, TypedCallsAtEveryConsistencyLevelAndSessionStates) {
    ProcessCluster cluster(cluster_options());
    cluster.start_all();
    zmq::context_t context(1);
    ASSERT_NE(wait_for_leader(cluster, context), 0);
    cluster.start_gateway(1);

    auto client = connect(cluster);
    ASSERT_NE(client, nullptr);
    EXPECT_EQ(client->state(), client::SessionState::open);
    EXPECT_NE(client->session_id(), 0u);
    std::atomic<int> closed_seen{0};
    client->on_state_change([&](client::SessionState state, const std::string&) {
        if (state == client::SessionState::closed) ++closed_seen;
    });

    auto put = client->command(resources::MapPut{"m", "k", bytes_of("one"), 0}).get();
    ASSERT_TRUE(put.is_ok()) << put.status().to_string();
    for (Consistency consistency :
         {Consistency::linearizable, Consistency::linearizable_lease, Consistency::sequential}) {
        auto got = client->query(resources::MapGet{"m", "k"}, consistency).get();
        ASSERT_TRUE(got.is_ok()) << session::consistency_name(consistency) << ": "
                                 << got.status().to_string();
        ASSERT_TRUE(got->value.has_value());
        EXPECT_EQ(text_of(*got->value), "one") << session::consistency_name(consistency);
        EXPECT_EQ(got->version, put->version);
    }
    auto added = client->command(resources::CounterAdd{"c", 5}).get();
    ASSERT_TRUE(added.is_ok()) << added.status().to_string();
    EXPECT_EQ(added->value, 5);
    // A malformed argument is refused, and the session goes on.
    auto bad = client->command(session::Operation{"map.put", {0xff, 0xff}}).get();
    EXPECT_EQ(bad.error, session::ErrorCode::bad_request) << bad.message;
    auto after = client->command(resources::MapPut{"m", "k", bytes_of("two"), 0}).get();
    ASSERT_TRUE(after.is_ok()) << after.status().to_string();
    auto unknown = client->command(session::Operation{"no.such.op", {}}).get();
    EXPECT_EQ(unknown.error, session::ErrorCode::unknown_operation) << unknown.message;

    EXPECT_TRUE(client->close().is_ok());
    EXPECT_EQ(client->state(), client::SessionState::closed);
    EXPECT_TRUE(eventually([&] { return closed_seen.load() == 1; }, 2s));
}

TEST(ClientProcess, ASessionMovesToAnotherGatewayWhenItsGatewayDies) {
    ProcessCluster cluster(cluster_options());
    cluster.start_all();
    zmq::context_t context(1);
    ASSERT_NE(wait_for_leader(cluster, context), 0);
    cluster.start_gateway(1);
    cluster.start_gateway(2);

    ClientOptions options = options_for(cluster);
    options.endpoints = {cluster.gateway_endpoint(1), cluster.gateway_endpoint(2)};
    options.selection = client::GatewaySelection::ordered;
    auto moved = Client::connect(options);
    ASSERT_TRUE(moved.is_ok()) << moved.status().to_string();
    auto& client = *moved;
    EXPECT_EQ(client->runtime().gateway(), cluster.gateway_endpoint(1));
    const session::SessionId session = client->session_id();
    std::mutex mutex;
    std::vector<std::string> events;
    client->on_event(
        std::string(resources::MapChanged::name), [&](const session::Event& event, session::Index) {
            auto changed = statemachine::decode_event<resources::MapChanged>(event.message);
            std::lock_guard lock(mutex);
            if (changed.is_ok() && changed->value) {
                events.push_back(text_of(*changed->value));
            }
        });
    ASSERT_TRUE(client->command(resources::MapWatch{"g", "key", false}).get().is_ok());
    ASSERT_TRUE(
        client->command(resources::MapPut{"g", "key", bytes_of("before"), 0}).get().is_ok());

    cluster.kill_gateway(1);
    auto after = client->command(resources::MapPut{"g", "key", bytes_of("after"), 0}).get();
    ASSERT_TRUE(after.is_ok()) << after.status().to_string();
    EXPECT_EQ(client->runtime().gateway(), cluster.gateway_endpoint(2));
    EXPECT_EQ(client->session_id(), session) << "the session must survive the move";
    EXPECT_EQ(client->state(), client::SessionState::open);
    // Another session's write reaches the watcher through the new gateway.
    ClientOptions second = options_for(cluster);
    second.endpoints = {cluster.gateway_endpoint(2)};
    auto other = Client::connect(second);
    ASSERT_TRUE(other.is_ok()) << other.status().to_string();
    ASSERT_TRUE(
        (*other)->command(resources::MapPut{"g", "key", bytes_of("other"), 0}).get().is_ok());
    EXPECT_TRUE(eventually(
        [&] {
            std::lock_guard lock(mutex);
            return events == std::vector<std::string>{"before", "after", "other"};
        },
        10s));
    std::lock_guard lock(mutex);
    EXPECT_EQ(events, (std::vector<std::string>{"before", "after", "other"}));
}

TEST(ClientProcess, ConnectFailsWithinTheDialTimeoutWhenNoGatewayAnswers) {
    TempDir scratch;
    ClientOptions options;
    options.endpoints = {"ipc://" + scratch.path() + "/nobody.sock"};
    options.dial_timeout = 1s;
    const auto start = std::chrono::steady_clock::now();
    auto client = Client::connect(options);
    const auto took = std::chrono::steady_clock::now() - start;
    ASSERT_FALSE(client.is_ok());
    EXPECT_EQ(client.status().code(), StatusCode::unavailable) << client.status().to_string();
    EXPECT_LT(took, 4s);
}

}  // namespace
}  // namespace copycat::testing
