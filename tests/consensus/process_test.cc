// copycat-consensus as real processes: three nodes (a copycat-logstore and a copycat-consensus
// each) on ipc:// sockets, real fsync, kill -9. What must hold is what a user would notice:
// no acknowledged write lost when the leader dies, a restarted node catching up, a wiped node
// rejoining as a new member, a silent session expiring and its lock passing on, and bad
// input answered with clear errors while the cluster keeps serving.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "consensus/statemachine/example/ledger_ops.h"
#include "consensus/statemachine/operation.h"
#include "consensus/statemachine/resources/ops.h"
#include "consensus/wire/client_codec.h"
#include "consensus/wire/peer_codec.h"
#include "tests/support/built_cluster.h"
#include "tests/support/consensus_cluster.h"
#include "tests/support/operations.h"
#include "tests/support/subprocess.h"

namespace copycat::testing {
namespace {

using namespace std::chrono_literals;
using session::Consistency;
using session::ErrorCode;
using statemachine::Bytes;
using statemachine::make_operation;

// Environment variables for the processes a test starts (they inherit them), restored after.
class ScopedEnvironment {
public:
    ScopedEnvironment() = default;
    ScopedEnvironment(const ScopedEnvironment&) = delete;
    ScopedEnvironment& operator=(const ScopedEnvironment&) = delete;
    ~ScopedEnvironment() {
        for (auto it = saved_.rbegin(); it != saved_.rend(); ++it) {
            if (it->second) {
                ::setenv(it->first.c_str(), it->second->c_str(), 1);
            } else {
                ::unsetenv(it->first.c_str());
            }
        }
    }
    void set(const std::string& name, const std::string& value) {
        const char* old = std::getenv(name.c_str());
        saved_.emplace_back(name, old != nullptr ? std::optional<std::string>(old) : std::nullopt);
        ::setenv(name.c_str(), value.c_str(), 1);
    }

private:
    std::vector<std::pair<std::string, std::optional<std::string>>> saved_;
};

void write_file(const std::string& path, const std::string& text) {
    std::ofstream file(path, std::ios::trunc);
    file << text;
}

// A client connection driven by hand: a DEALER that reads only when told to, with a small
// receive queue, so that the node's queue to it fills as soon as it stops reading.
class SlowConnection {
public:
    SlowConnection(zmq::context_t& context, const std::string& endpoint)
        : socket_(context, zmq::socket_type::dealer) {
        socket_.set(zmq::sockopt::linger, 0);
        socket_.set(zmq::sockopt::rcvhwm, 10);
        socket_.set(zmq::sockopt::sndtimeo, 10000);  // a node that stops reading fails the test
        socket_.set(zmq::sockopt::routing_id, "slow-client");
        socket_.connect(endpoint);
    }
    // Waits while the node's receive queue is full; false after 10 s of that.
    bool send(const std::vector<uint8_t>& bytes) {
        return socket_.send(zmq::const_buffer(bytes.data(), bytes.size()), zmq::send_flags::none)
            .has_value();
    }
    // The next message that decodes, if one comes within timeout.
    std::optional<wire::ClientMessage> receive(std::chrono::milliseconds timeout) {
        zmq::pollitem_t item{socket_.handle(), 0, ZMQ_POLLIN, 0};
        if (zmq::poll(&item, 1, timeout) == 0) return std::nullopt;
        zmq::message_t message;
        if (!socket_.recv(message, zmq::recv_flags::dontwait)) return std::nullopt;
        Result<wire::ClientMessage> decoded = wire::decode_client(message.data(), message.size());
        if (!decoded.is_ok()) return std::nullopt;
        return std::move(decoded.value());
    }
    std::optional<session::Response> call(uint64_t request_id, const session::Request& request) {
        if (!send(wire::encode_request(request_id, request))) return std::nullopt;
        while (std::optional<wire::ClientMessage> message = receive(10s)) {
            auto* response = std::get_if<session::Response>(&*message);
            if (response != nullptr && response->request_id == request_id) return *response;
        }
        return std::nullopt;
    }

private:
    zmq::socket_t socket_;
};

class ConsensusProcessTest : public ::testing::Test {
protected:
    static ClusterOptions cluster_options() {
        ClusterOptions options = built_cluster_options();
        return options;
    }
    ConsensusProcessTest() : cluster_(cluster_options()) {}

    // The leader's node number once one is known to every caller, else 0.
    int wait_for_leader(std::chrono::milliseconds timeout = 15s) {
        session::NodeId leader = 0;
        eventually(
            [&] {
                leader = find_leader(context_, cluster_.client_endpoints(), 300ms);
                return leader != 0;
            },
            timeout);
        return static_cast<int>(leader);
    }

    SessionClient open_session(const std::string& name, uint64_t timeout_ms = 5000) {
        SessionClient client(context_, cluster_.client_endpoints(), name, timeout_ms);
        EXPECT_TRUE(client.open(20s)) << "no session for " << name;
        return client;
    }

    static std::optional<Bytes> get_value(const session::Response& response) {
        const auto* body = std::get_if<session::OperationResponse>(&response.body);
        if (body == nullptr) return std::nullopt;
        auto output = statemachine::decode_output<resources::MapGet>(body->value);
        if (!output.is_ok()) return std::nullopt;
        return output->value;
    }

    // How a bad-input test ends: "k" still holds the "v1" written before the bad input, and
    // the cluster still takes writes.
    static void expect_v1_kept_and_writable(SessionClient& client) {
        auto read = client.query(make_operation(resources::MapGet{"m", "k"}),
                                 Consistency::linearizable, 10s);
        ASSERT_TRUE(read && read->error == ErrorCode::ok);
        EXPECT_EQ(text_of(get_value(*read).value_or(Bytes{})), "v1");
        auto next =
            client.command(make_operation(resources::MapPut{"m", "k", bytes_of("v2"), 0}), 10s);
        ASSERT_TRUE(next.has_value());
        EXPECT_EQ(next->error, ErrorCode::ok) << next->message;
    }

    session::Index applied_index(int node) {
        auto status = node_status(context_, cluster_.client_endpoint(node), 500ms);
        return status ? status->applied_index : 0;
    }

    // As an operator's tool would: a change refused because another is still in progress
    // (configuration_error) is tried again.
    static std::optional<session::AdminResponse> change_members(
        NodeClient& admin, const session::MemberChangeRequest& change) {
        std::optional<session::AdminResponse> response;
        eventually(
            [&] {
                response = admin.admin(change, 10s);
                return !response || response->error != ErrorCode::configuration_error;
            },
            10s);
        return response;
    }

    // Whether node n says it leads before timeout.
    bool becomes_leader(int n, std::chrono::milliseconds timeout = 10s) {
        return eventually(
            [&] {
                auto status = node_status(context_, cluster_.client_endpoint(n), 300ms);
                return status && status->role == "leader";
            },
            timeout);
    }

    std::string describe(int node) {
        auto status = node_status(context_, cluster_.client_endpoint(node), 500ms);
        if (!status) return "\nnode " + std::to_string(node) + ": no status";
        std::string text =
            "\nnode " + std::to_string(node) + ": role " + status->role + " term " +
            std::to_string(status->term) + " commit " + std::to_string(status->commit_index) +
            " applied " + std::to_string(status->applied_index) + " log " +
            std::to_string(status->first_index) + ".." + std::to_string(status->last_index) +
            " configuration " + std::to_string(status->configuration_index) + " members";
        for (const auto& member : status->members) text += " " + std::to_string(member.id);
        return text;
    }

    zmq::context_t context_{1};
    ProcessCluster cluster_;
};

TEST_F(ConsensusProcessTest, KillingTheLeaderUnderLoadLosesNoAcknowledgedWrite) {
    cluster_.start_all();
    const int first_leader = wait_for_leader();
    ASSERT_NE(first_leader, 0);
    SessionClient client = open_session("writer");
    std::map<std::string, std::string> acknowledged;
    int unknown = 0;
    for (int i = 0; i < 600; ++i) {
        if (i == 200) cluster_.kill_node(first_leader);  // both of its processes, kill -9
        std::string key = "key-" + std::to_string(i);
        std::string value = "value-" + std::to_string(i);
        auto response =
            client.command(make_operation(resources::MapPut{"m", key, bytes_of(value), 0}), 20s);
        if (!response) {
            ++unknown;
            break;  // the outcome is unknown; later sequences would wait for it
        }
        ASSERT_EQ(response->error, ErrorCode::ok) << response->message;
        acknowledged[key] = value;
    }
    EXPECT_EQ(unknown, 0);
    ASSERT_EQ(acknowledged.size(), 600u);
    const int second_leader = wait_for_leader();
    ASSERT_NE(second_leader, 0);
    EXPECT_NE(second_leader, first_leader);

    // The old leader comes back and catches up with the rest.
    cluster_.start_node(first_leader);
    const session::Index target = applied_index(second_leader);
    EXPECT_TRUE(eventually([&] { return applied_index(first_leader) >= target; }, 20s))
        << cluster_.output(first_leader);

    for (const auto& [key, value] : acknowledged) {
        auto response = client.query(make_operation(resources::MapGet{"m", key}),
                                     Consistency::linearizable, 10s);
        ASSERT_TRUE(response.has_value()) << key;
        ASSERT_EQ(response->error, ErrorCode::ok) << response->message;
        std::optional<Bytes> read = get_value(*response);
        ASSERT_TRUE(read.has_value()) << key << " lost";
        EXPECT_EQ(text_of(*read), value);
    }
    // The restarted node serves what it caught up with, to this session, sequentially.
    auto sequential = client.query(make_operation(resources::MapGet{"m", "key-599"}),
                                   Consistency::sequential, 10s, first_leader);
    ASSERT_TRUE(sequential.has_value());
    ASSERT_EQ(sequential->error, ErrorCode::ok) << sequential->message;
    EXPECT_EQ(text_of(get_value(*sequential).value_or(Bytes{})), "value-599");
}

TEST_F(ConsensusProcessTest, AWipedNodeRejoinsAsANewMember) {
    cluster_.start_all();
    int leader = wait_for_leader();
    ASSERT_NE(leader, 0);
    SessionClient client = open_session("writer");
    for (int i = 0; i < 50; ++i) {
        auto response = client.command(
            make_operation(resources::MapPut{"m", "k" + std::to_string(i), bytes_of("v"), 0}), 10s);
        ASSERT_TRUE(response && response->error == ErrorCode::ok);
    }
    const int lost = leader == 3 ? 2 : 3;  // a follower loses its disk
    // Bootstrapped from --initial-cluster, it said that this is for a brand-new cluster only.
    EXPECT_NE(cluster_.output(lost).find("only for a brand-new cluster"), std::string::npos)
        << cluster_.output(lost);
    cluster_.kill_node(lost);
    cluster_.wipe_node(lost);

    // The operator removes the lost member, then starts a new one (id 4) that joins.
    NodeClient admin(context_, cluster_.client_endpoint(leader));
    session::MemberChangeRequest remove{session::MemberChangeRequest::Action::leave,
                                        static_cast<session::NodeId>(lost), 3, "", 0};
    auto removed = change_members(admin, remove);
    ASSERT_TRUE(removed.has_value());
    ASSERT_EQ(removed->error, ErrorCode::ok) << removed->message;
    cluster_.start_node(
        4, {cluster_.client_endpoint(1), cluster_.client_endpoint(2), cluster_.client_endpoint(3)});
    EXPECT_TRUE(eventually(
        [&] {
            auto status = node_status(context_, cluster_.client_endpoint(4), 300ms);
            return status && status->member_type == 3 &&
                   status->applied_index >= applied_index(leader);
        },
        30s))
        << cluster_.output(4) << "\nleader:\n"
        << cluster_.output(leader) << describe(4) << describe(leader);
    auto status = node_status(context_, cluster_.client_endpoint(leader), 1s);
    ASSERT_TRUE(status.has_value());
    std::vector<session::NodeId> members;
    for (const auto& member : status->members) members.push_back(member.id);
    EXPECT_EQ(members.size(), 3u);
    EXPECT_EQ(std::count(members.begin(), members.end(), 4), 1);
    EXPECT_EQ(std::count(members.begin(), members.end(), static_cast<session::NodeId>(lost)), 0);

    // The new member keeps the log: it answers sequential reads of what was written before.
    auto read = client.query(make_operation(resources::MapGet{"m", "k49"}), Consistency::sequential,
                             10s, 4);
    ASSERT_TRUE(read.has_value());
    ASSERT_EQ(read->error, ErrorCode::ok) << read->message;
    EXPECT_EQ(text_of(get_value(*read).value_or(Bytes{})), "v");
}

TEST_F(ConsensusProcessTest, ASilentSessionExpiresAndItsLockPassesOn) {
    cluster_.start_all();
    ASSERT_NE(wait_for_leader(), 0);
    SessionClient holder = open_session("holder", 1000);
    SessionClient waiter = open_session("waiter", 5000);
    auto acquire = [](SessionClient& client) {
        return command_output(client, resources::LockAcquire{"the-lock"}, 10s);
    };
    auto held = acquire(holder);
    ASSERT_TRUE(held.is_ok()) << held.status().message();
    EXPECT_EQ(held->outcome, resources::LockAcquireOutcome::acquired);

    auto queued = acquire(waiter);
    ASSERT_TRUE(queued.is_ok()) << queued.status().message();
    EXPECT_EQ(queued->outcome, resources::LockAcquireOutcome::queued);

    // The holder goes silent; the waiter keeps its own session alive (its keep-alives are
    // also what moves log time on), and is told once the holder's session expired.
    std::vector<session::Event> events;
    eventually(
        [&] {
            waiter.keep_alive(2s);
            for (session::Event& event : waiter.take_events(200ms)) events.push_back(event);
            return !events.empty();
        },
        20s);
    ASSERT_EQ(events.size(), 1u);
    EXPECT_EQ(events[0].name, "lock.acquired");
    auto acquired = statemachine::decode_event<resources::LockAcquired>(events[0].message);
    ASSERT_TRUE(acquired.is_ok());
    EXPECT_EQ(acquired->token, queued->token);

    // The expired session's commands are refused for good.
    auto late = holder.command(make_operation(resources::LockRelease{"the-lock"}), 5s);
    ASSERT_TRUE(late.has_value());
    EXPECT_EQ(late->error, ErrorCode::unknown_session);
}

TEST_F(ConsensusProcessTest, BadInputGetsAClearErrorAndTheClusterKeepsServing) {
    cluster_.start_all();
    const int leader = wait_for_leader();
    ASSERT_NE(leader, 0);
    SessionClient client = open_session("good");
    NodeClient raw(context_, cluster_.client_endpoint(leader));

    auto unknown_session = raw.call(
        session::CommandRequest{999999, 1, make_operation(resources::MapPut{"m", "k", {}, 0})}, 5s);
    ASSERT_TRUE(unknown_session.has_value());
    EXPECT_EQ(unknown_session->error, ErrorCode::unknown_session);

    auto unknown_type = client.command(session::Operation{"queue.push", {1, 2, 3}}, 5s);
    ASSERT_TRUE(unknown_type.has_value());
    EXPECT_EQ(unknown_type->error, ErrorCode::unknown_operation) << unknown_type->message;

    auto bad_argument = client.command(session::Operation{"map.put", {0xff, 0xff, 0xff}}, 5s);
    ASSERT_TRUE(bad_argument.has_value());
    EXPECT_EQ(bad_argument->error, ErrorCode::bad_request) << bad_argument->message;

    Bytes huge(2 * 1024 * 1024, 'x');
    auto oversized =
        client.command(make_operation(resources::MapPut{"m", "big", std::move(huge), 0}), 5s);
    ASSERT_TRUE(oversized.has_value());
    EXPECT_EQ(oversized->error, ErrorCode::bad_request) << oversized->message;

    // Garbage bytes: nothing to answer (no request id can be trusted), nothing breaks.
    raw.send_raw(Bytes{'n', 'o', 't', ' ', 'a', ' ', 'm', 'e', 's', 's', 'a', 'g', 'e'});
    // A well-formed request whose content is out of range: a bad_request answer.
    session::CommandRequest long_type{client.id(), 1000, {std::string(300, 't'), {}}};
    auto refused = raw.call_raw(wire::encode_request(77, long_type), 77, 5s);
    ASSERT_TRUE(refused.has_value());
    EXPECT_EQ(refused->error, ErrorCode::bad_request);

    // Nothing of that reached the state machine, and the cluster still serves.
    auto count = query_output(client, resources::MapSize{"m"}, Consistency::linearizable, 5s);
    ASSERT_TRUE(count.is_ok()) << count.status().message();
    EXPECT_EQ(count->size, 0u);
    auto put = client.command(make_operation(resources::MapPut{"m", "k", bytes_of("v"), 0}), 5s);
    ASSERT_TRUE(put.has_value());
    EXPECT_EQ(put->error, ErrorCode::ok) << put->message;
    for (int n = 1; n <= 3; ++n) EXPECT_TRUE(cluster_.consensus_running(n));
}

// Garbage on every port of every node (the deterministic stand-in for fuzzing the shells'
// entry points): random bytes, and valid messages with bytes flipped. Nothing crashes, nothing
// reaches the state machine, and the cluster keeps serving.
TEST_F(ConsensusProcessTest, GarbageOnThePeerAndClientPortsChangesNothing) {
    cluster_.start_all();
    ASSERT_NE(wait_for_leader(), 0);
    SessionClient client = open_session("good");
    auto put = client.command(make_operation(resources::MapPut{"m", "k", bytes_of("v1"), 0}), 10s);
    ASSERT_TRUE(put && put->error == ErrorCode::ok);
    std::mt19937_64 random(42);
    const std::vector<uint8_t> valid = wire::encode_request(
        5,
        session::CommandRequest{client.id(), 99, make_operation(resources::MapRemove{"m", "k"})});
    for (int n = 1; n <= 3; ++n) {
        for (const std::string& endpoint :
             {cluster_.peer_endpoint(n), cluster_.client_endpoint(n)}) {
            zmq::socket_t socket(context_, zmq::socket_type::dealer);
            socket.set(zmq::sockopt::linger, 0);
            socket.set(zmq::sockopt::routing_id, "7");  // a peer's id: its messages are read
            socket.connect(endpoint);
            for (int i = 0; i < 500; ++i) {
                std::vector<uint8_t> bytes = valid;
                if (i % 2 == 0) {
                    bytes.resize(random() % 200);
                    for (uint8_t& byte : bytes) byte = static_cast<uint8_t>(random());
                } else {
                    for (int flips = 0; flips < 3; ++flips) {
                        bytes[random() % bytes.size()] ^= static_cast<uint8_t>(1 + random() % 255);
                    }
                }
                socket.send(zmq::const_buffer(bytes.data(), bytes.size()), zmq::send_flags::none);
            }
        }
    }
    for (int n = 1; n <= 3; ++n) EXPECT_TRUE(cluster_.consensus_running(n)) << cluster_.output(n);
    ASSERT_NO_FATAL_FAILURE(expect_v1_kept_and_writable(client));
}

TEST_F(ConsensusProcessTest, AdministrationTransfersLeadershipAndChangesMemberTypes) {
    cluster_.start_all();
    const int leader = wait_for_leader();
    ASSERT_NE(leader, 0);
    const int other = leader == 1 ? 2 : 1;
    const int third = 6 - leader - other;
    NodeClient admin(context_, cluster_.client_endpoint(leader));

    // Demote a follower to passive, then promote it back: each a committed configuration.
    auto set_type = [&](int node, uint8_t type) {
        session::MemberChangeRequest change{session::MemberChangeRequest::Action::set_type,
                                            static_cast<session::NodeId>(node), type, "", 0};
        return change_members(admin, change);
    };
    auto demoted = set_type(third, 2);
    ASSERT_TRUE(demoted.has_value());
    ASSERT_EQ(demoted->error, ErrorCode::ok) << demoted->message;
    EXPECT_TRUE(eventually(
        [&] {
            auto status = node_status(context_, cluster_.client_endpoint(third), 300ms);
            return status && status->member_type == 2 && status->role == "passive";
        },
        10s))
        << describe(third);
    auto promoted = set_type(third, 3);
    ASSERT_TRUE(promoted.has_value());
    ASSERT_EQ(promoted->error, ErrorCode::ok) << promoted->message;

    // A stale compare-and-set is refused.
    session::MemberChangeRequest demote{session::MemberChangeRequest::Action::set_type,
                                        static_cast<session::NodeId>(third), 2, "", 1};
    auto refused = admin.admin(demote, 10s);
    ASSERT_TRUE(refused.has_value());
    EXPECT_EQ(refused->error, ErrorCode::configuration_error) << refused->message;

    // Leadership moves to the node asked for.
    auto moved =
        admin.admin(session::TransferLeadershipRequest{static_cast<session::NodeId>(other)}, 10s);
    ASSERT_TRUE(moved.has_value());
    ASSERT_EQ(moved->error, ErrorCode::ok) << moved->message;
    EXPECT_TRUE(becomes_leader(other)) << describe(other);

    // Followers refuse administration with a hint.
    NodeClient follower(context_, cluster_.client_endpoint(third));
    demote.expected_index = 0;
    auto hinted = follower.admin(demote, 10s);
    ASSERT_TRUE(hinted.has_value());
    EXPECT_EQ(hinted->error, ErrorCode::no_leader);

    // The leader is asked to remove itself: it hands leadership over and says where to ask.
    NodeClient new_leader(context_, cluster_.client_endpoint(other));
    session::MemberChangeRequest leave{session::MemberChangeRequest::Action::leave,
                                       static_cast<session::NodeId>(other), 3, "", 0};
    auto handed_over = change_members(new_leader, leave);
    ASSERT_TRUE(handed_over.has_value());
    ASSERT_EQ(handed_over->error, ErrorCode::no_leader) << handed_over->message;
    ASSERT_TRUE(handed_over->leader == static_cast<session::NodeId>(leader) ||
                handed_over->leader == static_cast<session::NodeId>(third));
    NodeClient next_leader(context_,
                           cluster_.client_endpoint(static_cast<int>(handed_over->leader)));
    std::optional<session::AdminResponse> left;
    eventually(
        [&] {
            left = change_members(next_leader, leave);
            return left && left->error != ErrorCode::no_leader;  // until the transfer is done
        },
        10s);
    ASSERT_TRUE(left.has_value()) << describe(leader) << describe(third) << describe(other);
    ASSERT_EQ(left->error, ErrorCode::ok) << left->message;
    EXPECT_TRUE(eventually(  // one of the two that remain leads a configuration of two
        [&] {
            for (int n : {leader, third}) {
                auto status = node_status(context_, cluster_.client_endpoint(n), 300ms);
                if (status && status->role == "leader" && status->members.size() == 2) return true;
            }
            return false;
        },
        10s))
        << describe(leader) << describe(third) << describe(other);
}

// A client that reads too slowly fills the node's queue to it: answers that do not fit are
// dropped and counted, but the connection is kept (it is slow, not gone), so the events of its
// session reach it once it reads again, without its asking. Forgotten as if gone, the
// connection took its sessions' events with it until their next request.
TEST_F(ConsensusProcessTest, AClientWhoseQueueFilledStillGetsItsSessionsEvents) {
    cluster_.start_all();
    const int leader = wait_for_leader();
    ASSERT_NE(leader, 0);
    SessionClient holder = open_session("holder", 30000);
    auto held = holder.command(make_operation(resources::LockAcquire{"the-lock"}), 10s);
    ASSERT_TRUE(held && held->error == ErrorCode::ok);

    SlowConnection slow(context_, cluster_.client_endpoint(leader));
    auto registered = slow.call(1, session::RegisterRequest{"slow", 30000});
    ASSERT_TRUE(registered && registered->error == ErrorCode::ok);
    const session::SessionId session =
        std::get<session::RegisterResponse>(registered->body).session;
    auto queued = slow.call(
        2, session::CommandRequest{session, 1, make_operation(resources::LockAcquire{"the-lock"})});
    ASSERT_TRUE(queued && queued->error == ErrorCode::ok);

    // Requests whose answers it does not read: the node's queue to it (100,000 messages) fills,
    // and the answers beyond are dropped.
    constexpr uint64_t kRequests = 150'000;
    const std::vector<uint8_t> status = wire::encode_admin_request(3, session::StatusRequest{});
    for (uint64_t i = 0; i < kRequests; ++i) ASSERT_TRUE(slow.send(status)) << i;
    uint64_t received = 0;
    while (slow.receive(1s)) ++received;  // until the node has answered everything
    ASSERT_LT(received, kRequests) << "the node's queue to the client never filled";

    // The lock passes to the slow client's session: the event comes without its asking.
    auto released = holder.command(make_operation(resources::LockRelease{"the-lock"}), 10s);
    ASSERT_TRUE(released && released->error == ErrorCode::ok);
    std::optional<session::PublishRequest> publish;
    while (std::optional<wire::ClientMessage> message = slow.receive(10s)) {
        if (auto* p = std::get_if<session::PublishRequest>(&*message)) {
            publish = std::move(*p);
            break;
        }
    }
    ASSERT_TRUE(publish.has_value()) << "the session's event never came";
    EXPECT_EQ(publish->session, session);
    ASSERT_EQ(publish->events.size(), 1u);
    EXPECT_EQ(publish->events[0].name, "lock.acquired");
}

// A snapshot message from a peer is dropped before it reaches the core when the state machine
// takes no snapshots (the built-in resources): no peer of such a cluster has one to send, so
// only a buggy or hostile peer sends one. Given to the core, the InstallSnapshotRequest raised
// the node's term and stopped it at an assertion (the state machine cannot load a snapshot).
// Servers whose state machine takes snapshots accept them: snapshot_process_test.cc.
TEST_F(ConsensusProcessTest, SnapshotMessagesFromAPeerAreDroppedNotInstalled) {
    cluster_.start_all();
    ASSERT_NE(wait_for_leader(), 0);
    SessionClient client = open_session("good");
    auto put = client.command(make_operation(resources::MapPut{"m", "k", bytes_of("v1"), 0}), 10s);
    ASSERT_TRUE(put && put->error == ErrorCode::ok);
    raft::Configuration configuration{1'000'000, 1000, {}};
    for (int n = 1; n <= 3; ++n) {
        configuration.members.push_back({static_cast<raft::NodeId>(n), raft::MemberType::active,
                                         true, cluster_.peer_endpoint(n)});
    }
    std::vector<zmq::socket_t> sockets;  // kept open: what they queued goes out once connected
    for (int n = 1; n <= 3; ++n) {
        zmq::socket_t& socket = sockets.emplace_back(context_, zmq::socket_type::dealer);
        socket.set(zmq::sockopt::linger, 0);
        socket.set(zmq::sockopt::routing_id, "7");
        socket.connect(cluster_.peer_endpoint(n));
        const auto to = static_cast<raft::NodeId>(n);
        raft::InstallSnapshotRequest install{1000, 7, 1'000'000, 1000, configuration,
                                             0,    3, {1, 2, 3}, true};
        raft::InstallSnapshotResponse installed{1000, 1'000'000, 3, true};
        for (const raft::Message& message : {raft::Message(install), raft::Message(installed)}) {
            std::vector<uint8_t> bytes =
                wire::encode_peer("copycat", raft::Envelope{7, to, message});
            socket.send(zmq::const_buffer(bytes.data(), bytes.size()), zmq::send_flags::none);
        }
    }
    ASSERT_NO_FATAL_FAILURE(expect_v1_kept_and_writable(client));
    for (int n = 1; n <= 3; ++n) {
        EXPECT_TRUE(cluster_.consensus_running(n)) << cluster_.output(n);
        auto status = node_status(context_, cluster_.client_endpoint(n), 1s);
        ASSERT_TRUE(status.has_value()) << "node " << n;
        EXPECT_LT(status->term, 1000u) << "node " << n << " took the snapshot's term";
    }
}

// A leader asked to remove itself hands leadership to a voter it hears from: not to one that
// is down (the lowest id, which it would consider first), which never takes over and to which
// the caller would be sent.
TEST_F(ConsensusProcessTest, ALeavingLeaderHandsOverToAnAvailableVoter) {
    cluster_.start_all();
    const int leader = wait_for_leader();
    ASSERT_NE(leader, 0);
    const int down = leader == 1 ? 2 : 1;
    const int up = 6 - leader - down;
    cluster_.kill_node(down);
    EXPECT_TRUE(eventually(
        [&] {
            auto status = node_status(context_, cluster_.client_endpoint(leader), 300ms);
            if (!status) return false;
            for (const auto& member : status->members) {
                if (member.id == static_cast<session::NodeId>(down)) return !member.available;
            }
            return false;
        },
        10s))
        << describe(leader);
    NodeClient admin(context_, cluster_.client_endpoint(leader));
    session::MemberChangeRequest leave{session::MemberChangeRequest::Action::leave,
                                       static_cast<session::NodeId>(leader), 3, "", 0};
    auto handed_over = change_members(admin, leave);
    ASSERT_TRUE(handed_over.has_value());
    ASSERT_EQ(handed_over->error, ErrorCode::no_leader) << handed_over->message;
    EXPECT_EQ(handed_over->leader, static_cast<session::NodeId>(up));
    EXPECT_TRUE(becomes_leader(up)) << describe(up);
}

// A step of the wall clock (NTP, an operator, a VM resumed) does not move log time. Every
// node's wall clock jumps 2 hours ahead (libfaketime, its offset read from a file at each
// call; the steady clock left alone), and a session that made a request a moment before is
// still there. On the wall clock, the next entry was 2 hours later in log time than its last
// request, and every session expired at once. The server runs on glibc's malloc here: libfaketime
// cannot be loaded beside jemalloc (consensus/server/CMakeLists.txt).
TEST(WallClockStepProcessTest, AForwardStepOfTheWallClockExpiresNoSession) {
    const std::string faketime = "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1";
    if (!std::filesystem::exists(faketime)) {
        GTEST_SKIP() << "libfaketime missing: apt-get install faketime";
    }
    TempDir temp;
    const std::string offset_file = temp.path() + "/clock-offset";
    write_file(offset_file, "+0\n");
    ScopedEnvironment environment;
    environment.set("LD_PRELOAD", faketime);
    environment.set("FAKETIME_TIMESTAMP_FILE", offset_file);
    environment.set("FAKETIME_NO_CACHE", "1");
    environment.set("FAKETIME_DONT_FAKE_MONOTONIC", "1");
    ClusterOptions options;
    options.logstore_binary = COPYCAT_LOGSTORE_BINARY;
    options.consensus_binary = COPYCAT_CONSENSUS_GLIBC_MALLOC_BINARY;
    ProcessCluster cluster(options);
    cluster.start_all();
    zmq::context_t context(1);
    SessionClient quiet(context, cluster.client_endpoints(), "quiet", 5000);
    SessionClient busy(context, cluster.client_endpoints(), "busy", 5000);
    ASSERT_TRUE(quiet.open(30s));
    ASSERT_TRUE(busy.open(30s));
    auto before = quiet.command(make_operation(resources::MapPut{"m", "q", bytes_of("1"), 0}), 10s);
    ASSERT_TRUE(before && before->error == ErrorCode::ok);

    // The other session's keep-alives log entries at the leader's time, and make every member
    // look for sessions that have been silent for longer than their timeout.
    write_file(offset_file, "+2h\n");
    for (int i = 0; i < 3; ++i) {
        auto kept = busy.keep_alive(5s);
        ASSERT_TRUE(kept.has_value());
        ASSERT_EQ(kept->error, ErrorCode::ok) << kept->message;
    }
    auto after = quiet.command(make_operation(resources::MapPut{"m", "q", bytes_of("2"), 0}), 10s);
    ASSERT_TRUE(after.has_value());
    EXPECT_EQ(after->error, ErrorCode::ok) << after->message;
}

// TESTING.md #12: an fdatasync that fails is never retried as if it had worked. Node 1's
// logstore gets EIO from its 60th fdatasync on (strace); it refuses every write after that,
// node 1's consensus stops with exit 1, and the two others go on: nothing acknowledged is lost.
TEST(FsyncFailureProcessTest, AFailedFdatasyncStopsTheNodeAndLosesNothingAcknowledged) {
    if (!std::filesystem::exists(kStracePath)) {
        GTEST_SKIP() << "strace missing: run ops/install-deps";
    }
    ClusterOptions options = built_cluster_options();
    options.logstore_wrappers[1] = failing_fdatasync_wrapper(60);
    ProcessCluster cluster(options);
    cluster.start_all();
    zmq::context_t context(1);
    SessionClient client(context, cluster.client_endpoints(), "writer", 10000);
    ASSERT_TRUE(client.open(30s));
    std::map<std::string, std::string> acknowledged;
    for (int i = 0; i < 300; ++i) {
        std::string key = "key-" + std::to_string(i);
        auto response =
            client.command(make_operation(resources::MapPut{"m", key, bytes_of(key), 0}), 20s);
        if (!response) break;  // unknown outcome: stop here
        ASSERT_EQ(response->error, ErrorCode::ok) << response->message;
        acknowledged[key] = key;
    }
    EXPECT_EQ(cluster.wait_consensus(1, 20s), 1) << cluster.output(1);
    EXPECT_NE(cluster.output(1).find("logstore"), std::string::npos);
    ASSERT_GT(acknowledged.size(), 100u);
    for (const auto& [key, value] : acknowledged) {
        auto output =
            query_output(client, resources::MapGet{"m", key}, Consistency::linearizable, 10s);
        ASSERT_TRUE(output.is_ok()) << key << ": " << output.status().message();
        ASSERT_TRUE(output->value.has_value()) << key << " lost";
        EXPECT_EQ(text_of(*output->value), value);
    }
}

// The example ledger, built into its own consensus executable (README, "Your own state
// machine"), runs on the same real cluster machinery.
TEST(LedgerProcessTest, YourOwnStateMachineRunsInItsOwnConsensusExecutable) {
    ClusterOptions options;
    options.logstore_binary = COPYCAT_LOGSTORE_BINARY;
    options.consensus_binary = COPYCAT_LEDGER_CONSENSUS_BINARY;
    ProcessCluster cluster(options);
    cluster.start_all();
    zmq::context_t context(1);
    SessionClient client(context, cluster.client_endpoints(), "teller", 5000);
    ASSERT_TRUE(client.open(20s));
    auto deposit = client.command(make_operation(example::Deposit{"alice", 70}), 10s);
    ASSERT_TRUE(deposit && deposit->error == ErrorCode::ok);
    auto overdraw = client.command(make_operation(example::Withdraw{"alice", 100}), 10s);
    ASSERT_TRUE(overdraw.has_value());
    EXPECT_EQ(overdraw->error, ErrorCode::application_error) << overdraw->message;
    auto balance = query_output(client, example::Balance{"alice"}, Consistency::linearizable, 10s);
    ASSERT_TRUE(balance.is_ok()) << balance.status().message();
    EXPECT_EQ(balance->balance, 70u);
    // The built-in resources are not there: their operations are unknown here.
    auto put = client.command(make_operation(resources::MapPut{"m", "k", {}, 0}), 10s);
    ASSERT_TRUE(put.has_value());
    EXPECT_EQ(put->error, ErrorCode::unknown_operation);
}

}  // namespace
}  // namespace copycat::testing
