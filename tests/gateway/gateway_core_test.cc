// GatewayCore without sockets or clocks: client messages and node answers go in as encoded
// bytes, what it sends comes out through a recording GatewayOutput, and time is whatever the
// test says. Each test is a claim of gateway/gateway_core.h that a client would notice.
#include "gateway/gateway_core.h"

#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include "consensus/wire/client_codec.h"

namespace copycat::gateway {
namespace {

using namespace std::chrono_literals;
using session::Consistency;
using session::ErrorCode;

using Bytes = std::vector<uint8_t>;

Time at(Micros since_start) { return Time(since_start); }

class RecordingOutput : public GatewayOutput {
public:
    struct Sent {
        size_t node = 0;
        Bytes bytes;
    };
    struct Answer {
        Op op;
        ErrorCode code;
    };

    bool send_to_node(size_t node, std::span<const uint8_t> bytes) override {
        if (unsendable.count(node) != 0) return false;
        to_nodes.push_back({node, Bytes(bytes.begin(), bytes.end())});
        return true;
    }
    ClientSend send_to_client(std::string_view routing_id,
                              std::span<const uint8_t> bytes) override {
        if (gone.count(std::string(routing_id)) != 0) return ClientSend::gone;
        to_clients[std::string(routing_id)].push_back(Bytes(bytes.begin(), bytes.end()));
        return ClientSend::sent;
    }
    void answered(Op op, ErrorCode code, Micros) override { answers.push_back({op, code}); }
    void malformed(std::string_view, const Status& why) override {
        malformed_reasons.push_back(why.message());
    }

    std::vector<Sent> to_nodes;
    std::map<std::string, std::vector<Bytes>> to_clients;
    std::vector<Answer> answers;
    std::vector<std::string> malformed_reasons;
    std::set<size_t> unsendable;
    std::set<std::string> gone;
};

// A request as a node receives it from the gateway.
struct Forwarded {
    size_t node = 0;
    uint64_t request_id = 0;
    std::variant<session::Request, session::AdminRequest> request;
    Bytes bytes;
};

class GatewayCoreTest : public ::testing::Test {
protected:
    static GatewayOptions default_options() {
        GatewayOptions options;
        options.node_endpoints = {"ipc://n1", "ipc://n2", "ipc://n3"};
        return options;
    }

    explicit GatewayCoreTest(GatewayOptions options = default_options())
        : core_(options, output_, at(0ms)) {}

    // --- the clients ---

    void client_sends(const std::string& client, Bytes bytes) {
        core_.on_client_message(client, bytes, now_);
    }
    void client_sends(const std::string& client, uint64_t request_id,
                      const session::Request& request) {
        client_sends(client, wire::encode_request(request_id, request));
    }
    void client_admin(const std::string& client, uint64_t request_id,
                      const session::AdminRequest& request, session::NodeId node = 0) {
        client_sends(client, wire::encode_admin_request(request_id, request, node));
    }
    static session::Request command(session::SessionId session, uint64_t sequence,
                                    const std::string& type = "map.put") {
        return session::CommandRequest{session, sequence, {type, {1, 2, 3}}};
    }
    static session::Request query(session::SessionId session, Consistency consistency) {
        return session::QueryRequest{session, 0, 0, consistency, {"map.get", {4}}};
    }

    // What `client` was sent, decoded, oldest first; forgets it.
    std::vector<wire::ClientMessage> client_received(const std::string& client) {
        std::vector<wire::ClientMessage> messages;
        for (const Bytes& bytes : output_.to_clients[client]) {
            Result<wire::ClientMessage> decoded = wire::decode_client(bytes.data(), bytes.size());
            EXPECT_TRUE(decoded.is_ok()) << decoded.status().message();
            if (decoded.is_ok()) messages.push_back(std::move(decoded.value()));
        }
        output_.to_clients[client].clear();
        return messages;
    }
    // The only message `client` was sent, as a Response.
    session::Response one_response(const std::string& client) {
        std::vector<wire::ClientMessage> messages = client_received(client);
        EXPECT_EQ(messages.size(), 1u) << "messages to " << client;
        if (messages.size() != 1) return {};
        const auto* response = std::get_if<session::Response>(&messages[0]);
        EXPECT_NE(response, nullptr);
        return response != nullptr ? *response : session::Response{};
    }
    session::AdminResponse one_admin_response(const std::string& client) {
        std::vector<wire::ClientMessage> messages = client_received(client);
        EXPECT_EQ(messages.size(), 1u) << "messages to " << client;
        if (messages.size() != 1) return {};
        const auto* response = std::get_if<session::AdminResponse>(&messages[0]);
        EXPECT_NE(response, nullptr);
        return response != nullptr ? *response : session::AdminResponse{};
    }

    // --- the nodes ---

    // What the gateway sent to nodes since the last call, status polls left out.
    std::vector<Forwarded> forwarded() {
        std::vector<Forwarded> requests;
        for (RecordingOutput::Sent& sent : output_.to_nodes) {
            Result<wire::ClientMessage> decoded =
                wire::decode_client(sent.bytes.data(), sent.bytes.size());
            EXPECT_TRUE(decoded.is_ok());
            if (!decoded.is_ok()) continue;
            if (auto* request = std::get_if<wire::RequestMessage>(&*decoded)) {
                requests.push_back({sent.node, request->request_id, request->request, sent.bytes});
            } else if (auto* admin = std::get_if<wire::AdminRequestMessage>(&*decoded)) {
                if (std::holds_alternative<session::StatusRequest>(admin->request) &&
                    (admin->request_id >> 63) != 0) {
                    continue;  // the gateway's own status poll
                }
                requests.push_back({sent.node, admin->request_id, admin->request, sent.bytes});
            }
        }
        output_.to_nodes.clear();
        return requests;
    }
    Forwarded one_forwarded() {
        std::vector<Forwarded> requests = forwarded();
        EXPECT_EQ(requests.size(), 1u);
        return requests.empty() ? Forwarded{} : requests[0];
    }

    void node_answers(size_t node, session::Response response) {
        Bytes bytes = wire::encode_response(response);
        core_.on_node_message(node, bytes, now_);
    }
    void node_answers_ok(const Forwarded& request, Bytes value = {7}) {
        session::Response response;
        response.request_id = request.request_id;
        response.body = session::OperationResponse{10, 0, std::move(value)};
        node_answers(request.node, response);
    }
    void node_says_no_leader(const Forwarded& request, session::NodeId hint) {
        session::Response response;
        response.request_id = request.request_id;
        response.error = ErrorCode::no_leader;
        response.leader = hint;
        node_answers(request.node, response);
    }
    void node_publishes(size_t node, const session::PublishRequest& publish) {
        Bytes bytes = wire::encode_publish(publish);
        core_.on_node_message(node, bytes, now_);
    }

    // Node `node` (0-based, id node + 1) answers a status poll: `leader` (an id; 0: none)
    // leads, at `commit`; it applied `applied`.
    void node_reports_status(size_t node, session::NodeId leader, session::Index commit,
                             session::Index applied, uint64_t term = 1) {
        session::StatusResponse status;
        status.node_id = node + 1;
        status.role = status.node_id == leader ? "leader" : "follower";
        status.term = term;
        status.leader = leader;
        status.commit_index = commit;
        status.applied_index = applied;
        session::AdminResponse response;
        response.request_id = (uint64_t{1} << 63) | node;  // the id of the gateway's polls
        response.body = status;
        Bytes bytes = wire::encode_admin_response(response);
        core_.on_node_message(node, bytes, now_);
    }
    // Answers every status poll sent so far: node i (0-based) has id i + 1; `leader` is the
    // id of the leader (0: none), `applied` each node's applied index.
    void answer_polls(session::NodeId leader, std::vector<session::Index> applied = {},
                      session::Index commit = 100) {
        std::vector<RecordingOutput::Sent> sent = std::move(output_.to_nodes);
        output_.to_nodes.clear();
        for (const RecordingOutput::Sent& poll : sent) {
            Result<wire::ClientMessage> decoded =
                wire::decode_client(poll.bytes.data(), poll.bytes.size());
            const auto* admin = std::get_if<wire::AdminRequestMessage>(&*decoded);
            if (admin == nullptr || (admin->request_id >> 63) == 0) {
                output_.to_nodes.push_back(poll);  // not a poll: keep it for forwarded()
                continue;
            }
            const session::Index own = poll.node < applied.size() ? applied[poll.node] : commit;
            node_reports_status(poll.node, leader, commit, own);
        }
    }
    // A cluster whose statuses say node `leader` (an id) leads; applied indexes as given.
    void start_with_leader(session::NodeId leader, std::vector<session::Index> applied = {},
                           session::Index commit = 100) {
        tick(0ms);
        answer_polls(leader, std::move(applied), commit);
    }

    void tick(Micros since_start) {
        now_ = at(since_start);
        core_.on_tick(now_);
    }

    size_t answers_of(Op op, ErrorCode code) const {
        size_t count = 0;
        for (const auto& answer : output_.answers) count += answer.op == op && answer.code == code;
        return count;
    }

    RecordingOutput output_;
    GatewayCore core_;
    Time now_ = at(0ms);
};

// --- request ids ----------------------------------------------------------------------------

TEST_F(GatewayCoreTest, ClientsRequestIdsAreMappedToUniqueIdsAndBack) {
    start_with_leader(1);
    client_sends("alice", 7, command(100, 1));
    client_sends("bob", 7, command(200, 1));
    std::vector<Forwarded> sent = forwarded();
    ASSERT_EQ(sent.size(), 2u);
    EXPECT_NE(sent[0].request_id, sent[1].request_id);
    EXPECT_EQ(sent[0].node, 0u);
    // The request itself arrives as the client sent it.
    EXPECT_EQ(
        std::get<session::CommandRequest>(std::get<session::Request>(sent[1].request)).session,
        200u);

    node_answers_ok(sent[1], {2});
    node_answers_ok(sent[0], {1});
    session::Response to_bob = one_response("bob");
    session::Response to_alice = one_response("alice");
    EXPECT_EQ(to_bob.request_id, 7u);
    EXPECT_EQ(to_alice.request_id, 7u);
    EXPECT_EQ(std::get<session::OperationResponse>(to_bob.body).value, Bytes{2});
    EXPECT_EQ(std::get<session::OperationResponse>(to_alice.body).value, Bytes{1});
    EXPECT_EQ(answers_of(Op::command, ErrorCode::ok), 2u);
    EXPECT_EQ(core_.pending(), 0u);
}

TEST_F(GatewayCoreTest, RequestIdZeroIsRefusedExceptForOneWayResets) {
    start_with_leader(1);
    client_sends("alice", 0, command(100, 1));
    session::Response refused = one_response("alice");
    EXPECT_EQ(refused.error, ErrorCode::bad_request);
    EXPECT_TRUE(forwarded().empty());

    client_sends("alice", 0, session::ResetRequest{100, 5});
    Forwarded reset = one_forwarded();
    EXPECT_EQ(reset.node, 0u);  // the leader
    EXPECT_TRUE(
        std::holds_alternative<session::ResetRequest>(std::get<session::Request>(reset.request)));
    EXPECT_TRUE(client_received("alice").empty());
}

// --- routing to the leader ------------------------------------------------------------------

TEST_F(GatewayCoreTest, NoLeaderWithAHintIsResentToTheHintAtOnce) {
    start_with_leader(1);
    client_sends("alice", 1, command(100, 1));
    Forwarded first = one_forwarded();
    EXPECT_EQ(first.node, 0u);
    node_says_no_leader(first, 2);
    Forwarded second = one_forwarded();
    EXPECT_EQ(second.node, 1u);
    EXPECT_EQ(second.bytes, first.bytes);  // the same request, the same gateway id
    node_answers_ok(second);
    EXPECT_EQ(one_response("alice").error, ErrorCode::ok);

    // The hint is the leader now.
    client_sends("alice", 2, command(100, 2));
    EXPECT_EQ(one_forwarded().node, 1u);
}

TEST_F(GatewayCoreTest, WithoutALeaderRequestsBackOffThenTimeOut) {
    start_with_leader(0);  // every node says: no leader
    client_sends("alice", 1, command(100, 1));
    Forwarded first = one_forwarded();
    node_says_no_leader(first, 0);
    tick(10ms);
    EXPECT_TRUE(forwarded().empty()) << "resent before the first backoff (20 ms)";
    tick(20ms);
    Forwarded second = one_forwarded();
    EXPECT_NE(second.node, first.node);  // round robin
    node_says_no_leader(second, 0);
    tick(50ms);
    EXPECT_TRUE(forwarded().empty()) << "the backoff doubles: 40 ms";
    tick(60ms);
    EXPECT_EQ(forwarded().size(), 1u);

    tick(2499ms);
    EXPECT_TRUE(client_received("alice").empty());
    tick(2500ms);
    session::Response timed_out = one_response("alice");
    EXPECT_EQ(timed_out.request_id, 1u);
    EXPECT_EQ(timed_out.error, ErrorCode::timeout);
    EXPECT_NE(timed_out.message.find("no leader answered within 2500ms"), std::string::npos)
        << timed_out.message;
    EXPECT_NE(timed_out.message.find("may or may not have been applied"), std::string::npos);

    // A late answer finds nothing to answer.
    node_answers_ok(second);
    EXPECT_TRUE(client_received("alice").empty());
    EXPECT_EQ(core_.stats().dropped[static_cast<size_t>(Drop::stale_answer)], 1u);
}

TEST_F(GatewayCoreTest, WaitingRequestsGoAtOnceWhenALeaderBecomesKnown) {
    start_with_leader(0);
    client_sends("alice", 1, command(100, 1));
    node_says_no_leader(one_forwarded(), 0);
    tick(5ms);
    EXPECT_TRUE(forwarded().empty());
    node_reports_status(0, 3, 100, 100);  // well before the backoff ends
    Forwarded resent = one_forwarded();
    EXPECT_EQ(resent.node, 2u);
}

TEST_F(GatewayCoreTest, AHintNamingAnUnknownNodeIsNoHint) {
    start_with_leader(1);
    client_sends("alice", 1, command(100, 1));
    node_says_no_leader(one_forwarded(), 9);
    EXPECT_TRUE(forwarded().empty());
    tick(20ms);
    EXPECT_EQ(forwarded().size(), 1u);
}

TEST_F(GatewayCoreTest, AFollowerNamingItselfIsNoHint) {
    start_with_leader(1);
    client_sends("alice", 1, command(100, 1));
    Forwarded first = one_forwarded();
    node_says_no_leader(first, first.node + 1);
    EXPECT_TRUE(forwarded().empty());
}

TEST_F(GatewayCoreTest, ANodeThatCannotBeSentToIsSkipped) {
    start_with_leader(1);
    output_.unsendable.insert(0);
    client_sends("alice", 1, command(100, 1));
    Forwarded sent = one_forwarded();
    EXPECT_NE(sent.node, 0u);
    EXPECT_FALSE(core_.cluster().node(0).reachable);
}

TEST_F(GatewayCoreTest, RequestsToASilentLeaderGoElsewhere) {
    start_with_leader(1);
    client_sends("alice", 1, command(100, 1));
    EXPECT_EQ(one_forwarded().node, 0u);
    // Nodes 2 and 3 answer their polls; the leader stops answering anything.
    for (Micros t = 250ms; t <= 750ms; t += 250ms) {
        tick(t);
        std::vector<RecordingOutput::Sent> polls = std::move(output_.to_nodes);
        output_.to_nodes.clear();
        for (auto& poll : polls) {
            if (poll.node != 0) output_.to_nodes.push_back(poll);
        }
        answer_polls(0);
    }
    std::vector<Forwarded> resent = forwarded();
    ASSERT_FALSE(resent.empty());
    EXPECT_NE(resent.back().node, 0u);
    EXPECT_FALSE(core_.cluster().node(0).reachable);
}

TEST_F(GatewayCoreTest, ALostLinearizableReadIsRetried) {
    start_with_leader(1);
    client_sends("alice", 1, query(100, Consistency::linearizable));
    Forwarded first = one_forwarded();
    session::Response lost;
    lost.request_id = first.request_id;
    lost.error = ErrorCode::query_error;
    node_answers(first.node, lost);
    EXPECT_TRUE(client_received("alice").empty());
    tick(20ms);
    EXPECT_EQ(forwarded().size(), 1u);
}

// --- sequential reads -----------------------------------------------------------------------

TEST_F(GatewayCoreTest, SequentialReadsSpreadOverCaughtUpFollowers) {
    start_with_leader(1, {5000, 4990, 5000}, 5000);
    std::map<size_t, int> per_node;
    for (int i = 0; i < 10; ++i) {
        client_sends("alice", 10 + i, query(100, Consistency::sequential));
        per_node[one_forwarded().node]++;
    }
    EXPECT_EQ(per_node[0], 0) << "the leader serves none while followers can";
    EXPECT_EQ(per_node[1], 5);
    EXPECT_EQ(per_node[2], 5);
    // Linearizable reads still go to the leader.
    client_sends("alice", 99, query(100, Consistency::linearizable));
    EXPECT_EQ(one_forwarded().node, 0u);
}

TEST_F(GatewayCoreTest, LaggingFollowersAreSkippedAndTheLeaderServesWhenNoneIsCaughtUp) {
    start_with_leader(1, {5000, 4500, 3000}, 5000);  // node 3 is 2000 behind: too far
    for (int i = 0; i < 4; ++i) {
        client_sends("alice", 10 + i, query(100, Consistency::sequential));
        EXPECT_EQ(one_forwarded().node, 1u);
    }
    tick(250ms);
    answer_polls(1, {5000, 3000, 3000}, 5000);
    client_sends("alice", 20, query(100, Consistency::sequential));
    EXPECT_EQ(one_forwarded().node, 0u);
}

TEST_F(GatewayCoreTest, AFollowerThatCannotServeASequentialReadPassesItToTheLeader) {
    start_with_leader(1);
    client_sends("alice", 1, query(100, Consistency::sequential));
    Forwarded first = one_forwarded();
    EXPECT_NE(first.node, 0u);
    node_says_no_leader(first, 1);  // it has not seen the session yet
    Forwarded second = one_forwarded();
    EXPECT_EQ(second.node, 0u);
    node_answers_ok(second);
    EXPECT_EQ(one_response("alice").error, ErrorCode::ok);
    EXPECT_EQ(answers_of(Op::query_sequential, ErrorCode::ok), 1u);
}

// --- keep-alives ----------------------------------------------------------------------------

session::Request keep_alive(std::vector<session::KeepAliveItem> items) {
    return session::KeepAliveRequest{std::move(items)};
}

TEST_F(GatewayCoreTest, KeepAlivesOfManyClientsGoAsOneBatchAndTheirCodesComeBackInOrder) {
    start_with_leader(1);
    client_sends("alice", 1, keep_alive({{30, 4, 30}, {10, 1, 10}}));
    client_sends("bob", 5, keep_alive({{20, 2, 20}}));
    client_sends("carol", 9, keep_alive({{30, 6, 25}}));  // alice's session 30 again
    tick(49ms);
    EXPECT_TRUE(forwarded().empty()) << "sent before the window closed";
    tick(50ms);
    Forwarded batch = one_forwarded();
    EXPECT_EQ(batch.node, 0u);
    const auto& sent =
        std::get<session::KeepAliveRequest>(std::get<session::Request>(batch.request));
    const std::vector<session::KeepAliveItem> expected = {{10, 1, 10}, {20, 2, 20}, {30, 6, 30}};
    EXPECT_EQ(sent.sessions, expected) << "one item per session, the highest of each";

    session::Response answer;
    answer.request_id = batch.request_id;
    answer.body =
        session::KeepAliveResponse{{ErrorCode::ok, ErrorCode::unknown_session, ErrorCode::ok}};
    node_answers(0, answer);
    session::Response to_alice = one_response("alice");
    EXPECT_EQ(to_alice.request_id, 1u);
    EXPECT_EQ(std::get<session::KeepAliveResponse>(to_alice.body).sessions,
              (std::vector<ErrorCode>{ErrorCode::ok, ErrorCode::ok}));
    session::Response to_bob = one_response("bob");
    EXPECT_EQ(to_bob.request_id, 5u);
    EXPECT_EQ(std::get<session::KeepAliveResponse>(to_bob.body).sessions,
              (std::vector<ErrorCode>{ErrorCode::unknown_session}));
    EXPECT_EQ(std::get<session::KeepAliveResponse>(one_response("carol").body).sessions,
              (std::vector<ErrorCode>{ErrorCode::ok}));
    EXPECT_EQ(core_.stats().keep_alive_batches, 1u);
    EXPECT_EQ(core_.stats().keep_alive_items, 3u);
    EXPECT_EQ(answers_of(Op::keep_alive, ErrorCode::ok), 3u);
}

TEST_F(GatewayCoreTest, AFullQueueSendsABatchAtOnceAndOnlyOneBatchIsInFlight) {
    start_with_leader(1);
    std::vector<session::KeepAliveItem> items;
    for (uint64_t s = 1; s <= 1000; ++s) items.push_back({s, 0, s});
    client_sends("alice", 1, keep_alive(items));
    Forwarded batch = one_forwarded();  // no window to wait for

    client_sends("bob", 2, keep_alive({{5000, 0, 5000}}));
    tick(100ms);
    EXPECT_TRUE(forwarded().empty()) << "a second batch while the first is unanswered";
    session::Response answer;
    answer.request_id = batch.request_id;
    answer.body = session::KeepAliveResponse{std::vector<ErrorCode>(1000, ErrorCode::ok)};
    node_answers(0, answer);
    EXPECT_EQ(one_response("alice").error, ErrorCode::ok);
    EXPECT_EQ(one_forwarded().node, 0u) << "bob's waited long enough: it goes with the answer";
}

TEST_F(GatewayCoreTest, TheGatewayNeverKeepsSessionsAliveOnItsOwn) {
    start_with_leader(1);
    client_sends("alice", 1, keep_alive({{10, 1, 10}}));
    tick(50ms);
    Forwarded batch = one_forwarded();
    session::Response answer;
    answer.request_id = batch.request_id;
    answer.body = session::KeepAliveResponse{{ErrorCode::ok}};
    node_answers(0, answer);
    for (Micros t = 100ms; t < 20s; t += 100ms) {
        tick(t);
        answer_polls(1);
    }
    EXPECT_TRUE(forwarded().empty());
}

TEST_F(GatewayCoreTest, AKeepAliveBatchWithoutAnswerTimesOutForEveryClient) {
    start_with_leader(1);
    client_sends("alice", 1, keep_alive({{10, 1, 10}}));
    client_sends("bob", 2, keep_alive({{20, 1, 20}}));
    tick(50ms);
    EXPECT_EQ(forwarded().size(), 1u);
    tick(2550ms);
    EXPECT_EQ(one_response("alice").error, ErrorCode::timeout);
    EXPECT_EQ(one_response("bob").error, ErrorCode::timeout);
}

// --- administration -------------------------------------------------------------------------

TEST_F(GatewayCoreTest, AdminRequestsGoToTheNodeTheyNameOrAreRefused) {
    start_with_leader(1);
    client_admin("ops", 1, session::StatusRequest{}, 3);
    EXPECT_EQ(one_forwarded().node, 2u);
    client_admin("ops", 2, session::StatusRequest{}, 9);
    session::AdminResponse refused = one_admin_response("ops");
    EXPECT_EQ(refused.request_id, 2u);
    EXPECT_EQ(refused.error, ErrorCode::bad_request);
    EXPECT_EQ(refused.message, "unknown node 9; known: 1, 2, 3");
    EXPECT_TRUE(forwarded().empty());
}

TEST_F(GatewayCoreTest, ChangesGoToTheLeaderAndStatusToTheLeaderWhenKnown) {
    start_with_leader(2);
    client_admin("ops", 1, session::TransferLeadershipRequest{3});
    EXPECT_EQ(one_forwarded().node, 1u);
    client_admin("ops", 2, session::MemberChangeRequest{});
    EXPECT_EQ(one_forwarded().node, 1u);
    client_admin("ops", 3, session::SessionsRequest{});
    Forwarded sessions = one_forwarded();
    EXPECT_EQ(sessions.node, 1u);

    session::AdminResponse answer;
    answer.request_id = sessions.request_id;
    answer.body = session::SessionsResponse{};
    Bytes bytes = wire::encode_admin_response(answer);
    core_.on_node_message(1, bytes, now_);
    session::AdminResponse to_ops = one_admin_response("ops");
    EXPECT_EQ(to_ops.request_id, 3u);
    EXPECT_TRUE(std::holds_alternative<session::SessionsResponse>(to_ops.body));
}

TEST_F(GatewayCoreTest, ANamedNodeThatDoesNotAnswerTimesOutWithAnAdminResponse) {
    start_with_leader(1);
    client_admin("ops", 1, session::StatusRequest{}, 2);
    EXPECT_EQ(one_forwarded().node, 1u);
    tick(2500ms);
    session::AdminResponse timed_out = one_admin_response("ops");
    EXPECT_EQ(timed_out.error, ErrorCode::timeout);
    EXPECT_EQ(timed_out.message, "node 2 did not answer within 2500ms");
}

// --- events ---------------------------------------------------------------------------------

TEST_F(GatewayCoreTest, EventsGoToTheClientOfTheirSessionAndUnknownSessionsAreDropped) {
    start_with_leader(1);
    client_sends("alice", 1, session::RegisterRequest{"alice", 5000});
    Forwarded registration = one_forwarded();
    session::Response registered;
    registered.request_id = registration.request_id;
    registered.body = session::RegisterResponse{42, 5000};
    node_answers(0, registered);
    EXPECT_EQ(std::get<session::RegisterResponse>(one_response("alice").body).session, 42u);
    EXPECT_EQ(core_.sessions(), 1u);

    const session::PublishRequest publish{42, 50, 42, {{"map.changed", {1}}}};
    node_publishes(2, publish);  // a follower that served a sequential read publishes too
    std::vector<wire::ClientMessage> events = client_received("alice");
    ASSERT_EQ(events.size(), 1u);
    EXPECT_EQ(std::get<session::PublishRequest>(events[0]), publish);

    node_publishes(0, {99, 50, 99, {{"map.changed", {1}}}});
    EXPECT_EQ(core_.stats().dropped[static_cast<size_t>(Drop::unknown_session)], 1u);

    // The session's client moves to another connection: its events follow its requests.
    client_sends("alice-reconnected", 2, command(42, 1));
    node_publishes(0, publish);
    EXPECT_TRUE(client_received("alice").empty());
    EXPECT_EQ(client_received("alice-reconnected").size(), 1u);
}

TEST_F(GatewayCoreTest, AnUnregisteredSessionGetsNoMoreEvents) {
    start_with_leader(1);
    client_sends("alice", 1, command(42, 1));
    node_answers_ok(one_forwarded());
    client_sends("alice", 2, session::UnregisterRequest{42});
    Forwarded unregister = one_forwarded();
    session::Response done;
    done.request_id = unregister.request_id;
    done.body = session::UnregisterResponse{};
    node_answers(0, done);
    client_received("alice");
    node_publishes(0, {42, 50, 42, {}});
    EXPECT_TRUE(client_received("alice").empty());
    EXPECT_EQ(core_.sessions(), 0u);
}

// --- bad input and bounds -------------------------------------------------------------------

TEST_F(GatewayCoreTest, MalformedInputIsCountedAnsweredWhenPossibleAndChangesNothing) {
    start_with_leader(1);
    client_sends("mallory", Bytes{0xde, 0xad, 0xbe, 0xef, 1, 2, 3});
    EXPECT_TRUE(client_received("mallory").empty());

    // A well-formed message whose body type names a command but carries no table.
    flatbuffers::FlatBufferBuilder builder;
    builder.Finish(fb::CreateClientMessage(builder, 5, fb::Body::CommandRequest, 0),
                   fb::ClientMessageIdentifier());
    client_sends("mallory",
                 Bytes(builder.GetBufferPointer(), builder.GetBufferPointer() + builder.GetSize()));
    session::Response refused = one_response("mallory");
    EXPECT_EQ(refused.request_id, 5u);
    EXPECT_EQ(refused.error, ErrorCode::bad_request);

    // A response, which clients never send: dropped.
    session::Response stray;
    stray.request_id = 6;
    client_sends("mallory", wire::encode_response(stray));
    EXPECT_TRUE(client_received("mallory").empty());

    EXPECT_EQ(answers_of(Op::malformed, ErrorCode::bad_request), 3u);
    EXPECT_EQ(output_.malformed_reasons.size(), 3u);
    EXPECT_TRUE(forwarded().empty());

    client_sends("alice", 1, command(100, 1));
    EXPECT_EQ(one_forwarded().node, 0u);
}

TEST_F(GatewayCoreTest, GarbageFromANodeIsDroppedAndCounted) {
    start_with_leader(1);
    Bytes garbage{1, 2, 3, 4, 5, 6, 7, 8, 9};
    core_.on_node_message(0, garbage, now_);
    EXPECT_EQ(core_.stats().dropped[static_cast<size_t>(Drop::malformed_node_message)], 1u);
}

class SmallGatewayTest : public GatewayCoreTest {
protected:
    static GatewayOptions small() {
        GatewayOptions options = default_options();
        options.max_pending_per_client = 2;
        options.max_pending = 3;
        return options;
    }
    SmallGatewayTest() : GatewayCoreTest(small()) {}
};

TEST_F(SmallGatewayTest, PendingRequestsAreBoundedPerClientAndInTotal) {
    start_with_leader(1);
    client_sends("alice", 1, command(100, 1));
    client_sends("alice", 2, command(100, 2));
    client_sends("alice", 3, command(100, 3));
    session::Response busy = one_response("alice");
    EXPECT_EQ(busy.request_id, 3u);
    EXPECT_EQ(busy.error, ErrorCode::internal_error);
    client_sends("bob", 1, command(200, 1));
    client_sends("carol", 1, command(300, 1));
    EXPECT_EQ(one_response("carol").error, ErrorCode::internal_error);
    EXPECT_EQ(forwarded().size(), 3u);
}

TEST_F(GatewayCoreTest, IdleClientsAndSessionsAreForgotten) {
    start_with_leader(1);
    client_sends("alice", 1, command(42, 1));
    node_answers_ok(one_forwarded());
    EXPECT_EQ(core_.sessions(), 1u);
    EXPECT_EQ(core_.clients(), 1u);
    tick(std::chrono::minutes(30));
    EXPECT_EQ(core_.sessions(), 1u);
    tick(std::chrono::minutes(70));
    EXPECT_EQ(core_.sessions(), 0u);
    EXPECT_EQ(core_.clients(), 0u);
}

}  // namespace
}  // namespace copycat::gateway
