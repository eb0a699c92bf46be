// copycat-consensus as real processes: three nodes (a copycat-logstore and a copycat-consensus
// each) on ipc:// sockets, real fsync, kill -9. What must hold is what a user would notice:
// no acknowledged write lost when the leader dies, a restarted node catching up, a wiped node
// rejoining as a new member, a silent session expiring and its lock passing on, and bad
// input answered with clear errors while the cluster keeps serving.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <random>
#include <string>

#include "consensus/statemachine/example/ledger_ops.h"
#include "consensus/statemachine/operation.h"
#include "consensus/statemachine/resources/ops.h"
#include "consensus/wire/client_codec.h"
#include "tests/support/consensus_cluster.h"

namespace copycat::testing {
namespace {

using namespace std::chrono_literals;
using session::Consistency;
using session::ErrorCode;
using statemachine::Bytes;
using statemachine::make_operation;

statemachine::Bytes bytes_of(const std::string& text) { return Bytes(text.begin(), text.end()); }
std::string text_of(const statemachine::Bytes& bytes) {
    return std::string(bytes.begin(), bytes.end());
}

class ConsensusProcessTest : public ::testing::Test {
protected:
    static ClusterOptions cluster_options() {
        ClusterOptions options;
        options.logstore_binary = COPYCAT_LOGSTORE_BINARY;
        options.consensus_binary = COPYCAT_CONSENSUS_BINARY;
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
        return client.command(make_operation(resources::LockAcquire{"the-lock"}), 10s);
    };
    auto held = acquire(holder);
    ASSERT_TRUE(held && held->error == ErrorCode::ok);
    auto held_output = statemachine::decode_output<resources::LockAcquire>(
        std::get<session::OperationResponse>(held->body).value);
    ASSERT_TRUE(held_output.is_ok());
    EXPECT_EQ(held_output->outcome, resources::LockAcquireOutcome::acquired);

    auto queued = acquire(waiter);
    ASSERT_TRUE(queued && queued->error == ErrorCode::ok);
    auto queued_output = statemachine::decode_output<resources::LockAcquire>(
        std::get<session::OperationResponse>(queued->body).value);
    ASSERT_TRUE(queued_output.is_ok());
    EXPECT_EQ(queued_output->outcome, resources::LockAcquireOutcome::queued);

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
    EXPECT_EQ(acquired->token, queued_output->token);

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
    auto size =
        client.query(make_operation(resources::MapSize{"m"}), Consistency::linearizable, 5s);
    ASSERT_TRUE(size && size->error == ErrorCode::ok);
    auto count = statemachine::decode_output<resources::MapSize>(
        std::get<session::OperationResponse>(size->body).value);
    ASSERT_TRUE(count.is_ok());
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
    auto read =
        client.query(make_operation(resources::MapGet{"m", "k"}), Consistency::linearizable, 10s);
    ASSERT_TRUE(read && read->error == ErrorCode::ok);
    EXPECT_EQ(text_of(get_value(*read).value_or(Bytes{})), "v1");
    auto next = client.command(make_operation(resources::MapPut{"m", "k", bytes_of("v2"), 0}), 10s);
    ASSERT_TRUE(next.has_value());
    EXPECT_EQ(next->error, ErrorCode::ok) << next->message;
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
    session::MemberChangeRequest stale{session::MemberChangeRequest::Action::set_type,
                                       static_cast<session::NodeId>(third), 2, "", 1};
    auto refused = admin.admin(stale, 10s);
    ASSERT_TRUE(refused.has_value());
    EXPECT_EQ(refused->error, ErrorCode::configuration_error) << refused->message;

    // Leadership moves to the node asked for.
    auto moved =
        admin.admin(session::TransferLeadershipRequest{static_cast<session::NodeId>(other)}, 10s);
    ASSERT_TRUE(moved.has_value());
    ASSERT_EQ(moved->error, ErrorCode::ok) << moved->message;
    EXPECT_TRUE(eventually(
        [&] {
            auto status = node_status(context_, cluster_.client_endpoint(other), 300ms);
            return status && status->role == "leader";
        },
        10s))
        << describe(other);

    // Followers refuse administration with a hint.
    NodeClient follower(context_, cluster_.client_endpoint(third));
    session::MemberChangeRequest change{session::MemberChangeRequest::Action::set_type,
                                        static_cast<session::NodeId>(third), 2, "", 0};
    auto hinted = follower.admin(change, 10s);
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
    int remaining = 0;
    EXPECT_TRUE(eventually(
        [&] {
            for (int n : {leader, third}) {
                auto status = node_status(context_, cluster_.client_endpoint(n), 300ms);
                if (status && status->role == "leader" && status->members.size() == 2) {
                    remaining = n;
                }
            }
            return remaining != 0;
        },
        10s))
        << describe(leader) << describe(third) << describe(other);
}

// TESTING.md #12: an fdatasync that fails is never retried as if it had worked. Node 1's
// logstore gets EIO from its 60th fdatasync on (strace); it refuses every write after that,
// node 1's consensus stops with exit 1, and the two others go on: nothing acknowledged is lost.
TEST(FsyncFailureProcessTest, AFailedFdatasyncStopsTheNodeAndLosesNothingAcknowledged) {
    if (!std::filesystem::exists("/usr/bin/strace")) {
        GTEST_SKIP() << "strace missing: run ops/install-deps";
    }
    ClusterOptions options;
    options.logstore_binary = COPYCAT_LOGSTORE_BINARY;
    options.consensus_binary = COPYCAT_CONSENSUS_BINARY;
    options.logstore_wrappers[1] = {"/usr/bin/strace",
                                    "-f",
                                    "-qq",
                                    "-o",
                                    "/dev/null",
                                    "-e",
                                    "trace=fdatasync",
                                    "-e",
                                    "inject=fdatasync:error=EIO:when=60+"};
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
        auto read = client.query(make_operation(resources::MapGet{"m", key}),
                                 Consistency::linearizable, 10s);
        ASSERT_TRUE(read && read->error == ErrorCode::ok) << key;
        auto output = statemachine::decode_output<resources::MapGet>(
            std::get<session::OperationResponse>(read->body).value);
        ASSERT_TRUE(output.is_ok() && output->value.has_value()) << key << " lost";
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
    auto balance =
        client.query(make_operation(example::Balance{"alice"}), Consistency::linearizable, 10s);
    ASSERT_TRUE(balance && balance->error == ErrorCode::ok);
    auto output = statemachine::decode_output<example::Balance>(
        std::get<session::OperationResponse>(balance->body).value);
    ASSERT_TRUE(output.is_ok());
    EXPECT_EQ(output->balance, 70u);
    // The built-in resources are not there: their operations are unknown here.
    auto put = client.command(make_operation(resources::MapPut{"m", "k", {}, 0}), 10s);
    ASSERT_TRUE(put.has_value());
    EXPECT_EQ(put->error, ErrorCode::unknown_operation);
}

}  // namespace
}  // namespace copycat::testing
