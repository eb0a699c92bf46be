// copycat-gateway as a real process in front of a real three-node cluster (logstore +
// consensus per node, ipc:// sockets, real fsync). What must hold is what a client notices:
// sessions, commands and reads at every consistency level through a gateway; writes that go on
// across the leader's death with nothing acknowledged lost; a session that carries on through a
// second gateway when the first is killed, events included; sequential reads served by
// followers; keep-alives batched, and never sent for a silent client; bad input answered or
// dropped while everyone else is served.
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "consensus/statemachine/operation.h"
#include "consensus/statemachine/resources/ops.h"
#include "consensus/wire/client_codec.h"
#include "schemas/client_generated.h"
#include "tests/support/built_cluster.h"
#include "tests/support/consensus_cluster.h"
#include "tests/support/http_get.h"
#include "tests/support/operations.h"
#include "tests/support/subprocess.h"

namespace copycat::testing {
namespace {

using namespace std::chrono_literals;
using session::Consistency;
using session::ErrorCode;
using statemachine::Bytes;
using statemachine::make_operation;

class GatewayProcessTest : public ::testing::Test {
protected:
    static ClusterOptions cluster_options() {
        ClusterOptions options = built_cluster_options();
        return options;
    }
    GatewayProcessTest() : cluster_(cluster_options()) {}

    void SetUp() override { cluster_.start_all(); }

    // Starts gateway g and waits until it is ready (it knows a leader).
    void start_gateway(int g, const std::vector<std::string>& flags = {}) {
        cluster_.start_gateway(g, flags);
        const int port = cluster_.gateway_http_port(g, 10s);
        ASSERT_GT(port, 0) << cluster_.gateway_output(g);
        http_ports_[g] = port;
        ASSERT_TRUE(eventually([&] { return http_get(port, "/readyz", 1s).has_value(); }, 30s))
            << cluster_.gateway_output(g);
    }
    std::string metrics(int g) { return http_get(http_ports_[g], "/metrics", 5s).value_or(""); }

    // A session through the given gateways (the first is tried first).
    std::unique_ptr<SessionClient> open_session(const std::string& name,
                                                const std::vector<int>& gateways = {1},
                                                uint64_t timeout_ms = 5000) {
        std::vector<std::string> endpoints;
        for (int g : gateways) endpoints.push_back(cluster_.gateway_endpoint(g));
        auto client = std::make_unique<SessionClient>(context_, endpoints, name, timeout_ms);
        EXPECT_TRUE(client->open(20s)) << "no session for " << name;
        return client;
    }

    static std::optional<std::string> value_read(const std::optional<session::Response>& read) {
        Result<resources::MapGet::Output> output = output_of<resources::MapGet>(read);
        if (!output.is_ok() || !output->value) return std::nullopt;
        return text_of(*output->value);
    }

    static std::optional<session::Response> put(SessionClient& client, const std::string& key,
                                                const std::string& value) {
        return client.command(make_operation(resources::MapPut{"m", key, bytes_of(value), 0}), 20s);
    }

    static std::optional<std::string> get(SessionClient& client, const std::string& key,
                                          Consistency consistency) {
        return value_read(
            client.query(make_operation(resources::MapGet{"m", key}), consistency, 10s));
    }

    // The events `client` has received in order, once there are some (within 10 s).
    static std::vector<session::Event> events_of(SessionClient& client) {
        std::vector<session::Event> events;
        eventually(
            [&] {
                for (session::Event& event : client.take_events(200ms)) events.push_back(event);
                return !events.empty();
            },
            10s);
        return events;
    }

    int leader_node() { return static_cast<int>(find_leader(context_, node_endpoints(), 500ms)); }
    std::vector<std::string> node_endpoints() const { return cluster_.client_endpoints(); }

    zmq::context_t context_{1};
    ProcessCluster cluster_;
    std::map<int, int> http_ports_;
};

TEST_F(GatewayProcessTest, ServesSessionsCommandsAndReadsAtEveryConsistencyLevel) {
    ASSERT_NO_FATAL_FAILURE(start_gateway(1));
    std::unique_ptr<SessionClient> client = open_session("alice");
    auto written = put(*client, "k", "v1");
    ASSERT_TRUE(written.has_value());
    ASSERT_EQ(written->error, ErrorCode::ok) << written->message;
    for (Consistency consistency :
         {Consistency::linearizable, Consistency::linearizable_lease, Consistency::sequential}) {
        EXPECT_EQ(get(*client, "k", consistency), "v1") << session::consistency_name(consistency);
    }

    // Administration through the gateway: any node, a named one, an unknown one.
    NodeClient admin(context_, cluster_.gateway_endpoint(1));
    auto status = admin.admin(session::StatusRequest{}, 5s);
    ASSERT_TRUE(status.has_value());
    EXPECT_EQ(status->error, ErrorCode::ok);
    auto node_two = admin.admin(session::StatusRequest{}, 5s, 2);
    ASSERT_TRUE(node_two.has_value());
    ASSERT_TRUE(std::holds_alternative<session::StatusResponse>(node_two->body));
    EXPECT_EQ(std::get<session::StatusResponse>(node_two->body).node_id, 2u);
    auto unknown = admin.admin(session::StatusRequest{}, 5s, 9);
    ASSERT_TRUE(unknown.has_value());
    EXPECT_EQ(unknown->error, ErrorCode::bad_request);
    EXPECT_NE(unknown->message.find("unknown node 9"), std::string::npos) << unknown->message;

    EXPECT_TRUE(client->close(10s));
    const std::string text = metrics(1);
    EXPECT_GE(metric_sum(text, "copycat_gateway_requests_total", {"op=\"command\"", "code=\"ok\""}),
              1);
    EXPECT_GE(metric_sum(text, "copycat_gateway_requests_total",
                         {"op=\"query_sequential\"", "code=\"ok\""}),
              1);
    EXPECT_EQ(metric_sum(text, "copycat_build_info"), 1);
}

TEST_F(GatewayProcessTest, WritesGoOnWhenTheLeaderIsKilledAndNoAcknowledgedWriteIsLost) {
    ASSERT_NO_FATAL_FAILURE(start_gateway(1));
    std::unique_ptr<SessionClient> client = open_session("writer");
    std::map<std::string, std::string> acknowledged;
    for (int i = 0; i < 60; ++i) {
        if (i == 20) {
            const int leader = leader_node();
            ASSERT_NE(leader, 0);
            cluster_.kill_node(leader);  // kill -9, both of its processes
        }
        const std::string key = "key-" + std::to_string(i);
        const std::string value = "value-" + std::to_string(i);
        auto response = put(*client, key, value);
        ASSERT_TRUE(response.has_value()) << key << ": no answer\n" << cluster_.gateway_output(1);
        ASSERT_EQ(response->error, ErrorCode::ok) << key << ": " << response->message;
        acknowledged[key] = value;
    }
    for (const auto& [key, value] : acknowledged) {
        EXPECT_EQ(get(*client, key, Consistency::linearizable), value) << key;
    }
    EXPECT_TRUE(cluster_.gateway_running(1));
}

TEST_F(GatewayProcessTest, ASessionCarriesOnThroughASecondGatewayWhenTheFirstIsKilled) {
    ASSERT_NO_FATAL_FAILURE(start_gateway(1));
    ASSERT_NO_FATAL_FAILURE(start_gateway(2));
    std::unique_ptr<SessionClient> watcher = open_session("watcher", {1, 2});
    const session::SessionId session = watcher->id();
    auto watch = watcher->command(make_operation(resources::MapWatch{"m", "k", false}), 10s);
    ASSERT_TRUE(watch && watch->error == ErrorCode::ok);
    std::unique_ptr<SessionClient> writer = open_session("writer", {2});

    ASSERT_TRUE(put(*writer, "k", "v1").has_value());
    EXPECT_EQ(events_of(*watcher).size(), 1u) << "the event through gateway 1";

    cluster_.kill_gateway(1);
    // Published while the watcher's gateway is gone: delivered once it is back through
    // the other (the leader resends pending events to the new connection).
    ASSERT_TRUE(put(*writer, "k", "v2").has_value());
    auto next = put(*watcher, "other", "x");
    ASSERT_TRUE(next.has_value());
    EXPECT_EQ(next->error, ErrorCode::ok) << next->message;
    EXPECT_EQ(watcher->id(), session);
    EXPECT_EQ(watcher->sequence(), 2u);  // the watch, then this one: no new session
    std::vector<session::Event> events = events_of(*watcher);
    ASSERT_EQ(events.size(), 1u) << "v2's event, through gateway 2";
    auto changed = statemachine::decode_event<resources::MapChanged>(events[0].message);
    ASSERT_TRUE(changed.is_ok());
    EXPECT_EQ(text_of(changed->value.value_or(Bytes{})), "v2");

    // A reset through the gateway: the leader resends what follows the given index.
    const session::Index before_v2 = changed->index - 1;
    NodeClient other(context_, cluster_.gateway_endpoint(2));
    other.send(session::ResetRequest{session, session});
    bool resent = false;
    eventually(
        [&] {
            for (const session::PublishRequest& publish : other.take_events(500ms)) {
                resent |= publish.session == session && publish.event_index > before_v2;
            }
            return resent;
        },
        10s);
    EXPECT_TRUE(resent) << cluster_.gateway_output(2);
}

TEST_F(GatewayProcessTest, SequentialReadsAreServedByFollowers) {
    ASSERT_NO_FATAL_FAILURE(start_gateway(1));
    std::unique_ptr<SessionClient> client = open_session("reader");
    ASSERT_TRUE(put(*client, "k", "v").has_value());
    const int leader = leader_node();
    ASSERT_NE(leader, 0);
    // Followers qualify once the gateway's status polls show them caught up.
    double by_followers = 0;
    eventually(
        [&] {
            for (int i = 0; i < 50; ++i) {
                EXPECT_EQ(get(*client, "k", Consistency::sequential), "v");
            }
            const std::string text = metrics(1);
            by_followers = 0;
            for (int n = 1; n <= 3; ++n) {
                if (n == leader) continue;
                by_followers += metric_sum(
                    text, "copycat_gateway_node_answers_total",
                    {"node=\"" + cluster_.client_endpoint(n) + "\"", "op=\"query_sequential\""});
            }
            return by_followers >= 50;
        },
        20s);
    EXPECT_GE(by_followers, 50) << metrics(1);
}

TEST_F(GatewayProcessTest, KeepAlivesOfManyClientsAreBatched) {
    ASSERT_NO_FATAL_FAILURE(start_gateway(1, {"--keep-alive-window", "200ms"}));
    constexpr int kClients = 20;
    constexpr int kRounds = 3;
    std::vector<std::unique_ptr<SessionClient>> clients;
    for (int i = 0; i < kClients; ++i) clients.push_back(open_session("c" + std::to_string(i)));
    std::atomic<int> kept{0};
    std::vector<std::thread> threads;
    for (auto& client : clients) {
        threads.emplace_back([&kept, &client] {
            for (int round = 0; round < kRounds; ++round) {
                auto answer = client->keep_alive(10s);
                const auto* body =
                    answer ? std::get_if<session::KeepAliveResponse>(&answer->body) : nullptr;
                if (body != nullptr && body->sessions == std::vector{ErrorCode::ok}) ++kept;
            }
        });
    }
    for (std::thread& thread : threads) thread.join();
    EXPECT_EQ(kept, kClients * kRounds);
    const std::string text = metrics(1);
    const double requests =
        metric_sum(text, "copycat_gateway_requests_total", {"op=\"keep_alive\"", "code=\"ok\""});
    const double batches = metric_sum(text, "copycat_gateway_keep_alive_batches_total");
    EXPECT_EQ(requests, kClients * kRounds);
    EXPECT_GE(batches, 1);
    EXPECT_LE(batches, requests / 4) << "keep-alives were not batched";
}

// The gateway keeps a session alive only when its client asks: a silent client loses it
// while the others, whose keep-alives go in the same batches, keep theirs.
TEST_F(GatewayProcessTest, ASilentClientLosesItsSession) {
    ASSERT_NO_FATAL_FAILURE(start_gateway(1));
    std::unique_ptr<SessionClient> silent = open_session("silent", {1}, 1500);
    std::unique_ptr<SessionClient> talker = open_session("talker", {1}, 1500);
    ASSERT_TRUE(put(*silent, "a", "1").has_value());
    NodeClient admin(context_, cluster_.gateway_endpoint(1));
    auto silent_is_gone = [&] {
        auto sessions = admin.admin(session::SessionsRequest{}, 5s);
        if (!sessions || sessions->error != ErrorCode::ok) return false;
        for (const auto& item : std::get<session::SessionsResponse>(sessions->body).sessions) {
            if (item.id == silent->id()) return item.state != 0;  // not open
        }
        return true;  // gone altogether
    };
    const bool expired = eventually(
        [&] {
            talker->keep_alive(2s);
            return silent_is_gone();
        },
        20s);
    EXPECT_TRUE(expired);
    auto late = put(*silent, "a", "2");
    ASSERT_TRUE(late.has_value());
    EXPECT_EQ(late->error, ErrorCode::unknown_session);
    auto alive = put(*talker, "b", "1");
    ASSERT_TRUE(alive.has_value());
    EXPECT_EQ(alive->error, ErrorCode::ok) << alive->message;
}

TEST_F(GatewayProcessTest, BadInputIsRefusedOrDroppedAndEveryoneElseIsServed) {
    ASSERT_NO_FATAL_FAILURE(start_gateway(1));
    std::unique_ptr<SessionClient> client = open_session("good");
    ASSERT_TRUE(put(*client, "k", "v1").has_value());
    NodeClient raw(context_, cluster_.gateway_endpoint(1));

    // A request without an id: answered bad_request (with id 0, the only one it has).
    auto no_id = raw.call_raw(
        wire::encode_request(0, session::CommandRequest{client->id(), 99, {"map.get", {}}}), 0, 5s);
    ASSERT_TRUE(no_id.has_value());
    EXPECT_EQ(no_id->error, ErrorCode::bad_request);

    // A command body type without its table: answered bad_request with its id.
    flatbuffers::FlatBufferBuilder builder;
    builder.Finish(
        schema::client::CreateClientMessage(builder, 77, schema::client::Body::CommandRequest, 0),
        schema::client::ClientMessageIdentifier());
    auto refused = raw.call_raw(
        Bytes(builder.GetBufferPointer(), builder.GetBufferPointer() + builder.GetSize()), 77, 5s);
    ASSERT_TRUE(refused.has_value());
    EXPECT_EQ(refused->error, ErrorCode::bad_request);

    // Garbage and bit-flipped commands of a session that does not exist.
    std::mt19937_64 random(7);
    const Bytes valid = wire::encode_request(
        5, session::CommandRequest{999999, 1, make_operation(resources::MapRemove{"m", "k"})});
    for (int i = 0; i < 400; ++i) {
        Bytes bytes = valid;
        if (i % 2 == 0) {
            bytes.resize(random() % 200);
            for (uint8_t& byte : bytes) byte = static_cast<uint8_t>(random());
        } else {
            for (int flips = 0; flips < 3; ++flips) {
                bytes[random() % bytes.size()] ^= static_cast<uint8_t>(1 + random() % 255);
            }
        }
        raw.send_raw(bytes);
    }
    EXPECT_TRUE(cluster_.gateway_running(1)) << cluster_.gateway_output(1);
    EXPECT_EQ(get(*client, "k", Consistency::linearizable), "v1");
    auto next = put(*client, "k", "v2");
    ASSERT_TRUE(next.has_value());
    EXPECT_EQ(next->error, ErrorCode::ok) << next->message;
    EXPECT_GE(metric_sum(metrics(1), "copycat_gateway_requests_total", {"op=\"malformed\""}), 1);
}

TEST_F(GatewayProcessTest, BadUsageExitsWithTwoAndSigtermWithZero) {
    TempDir scratch;
    for (const std::vector<std::string>& argv :
         {std::vector<std::string>{COPYCAT_GATEWAY_BINARY, "--no-such-flag"},
          std::vector<std::string>{COPYCAT_GATEWAY_BINARY, "--request-timeout", "5"},
          std::vector<std::string>{COPYCAT_GATEWAY_BINARY, "--nodes", ""}}) {
        Result<Subprocess> process = Subprocess::start(argv, scratch.path() + "/bad.out");
        ASSERT_TRUE(process.is_ok());
        EXPECT_EQ(process->wait(10s), 2) << argv[1] << ": " << process->output();
    }
    ASSERT_NO_FATAL_FAILURE(start_gateway(1));
    EXPECT_EQ(cluster_.stop_gateway(1), 0);
}

}  // namespace
}  // namespace copycat::testing
