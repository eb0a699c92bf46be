// SessionServer (consensus/session/session_server.h) on a three-server in-memory cluster
// (server_harness.h): client requests, leader changes, queries, events and session expiry.
#include "consensus/session/session_server.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <optional>
#include <variant>
#include <vector>

#include "consensus/session/entries.h"
#include "tests/session/server_harness.h"

namespace copycat::session {
namespace {

using testing::add_command;
using testing::ClusterOptions;
using testing::get_query;
using testing::index_of;
using testing::keep_alive;
using testing::ServerCluster;
using testing::value_of;

// The entries of a server's applied log that decode as session entries of type T.
template <typename T>
std::vector<std::pair<Index, T>> applied_entries(const ServerCluster& cluster, raft::NodeId id) {
    std::vector<std::pair<Index, T>> found;
    for (const raft::Entry& entry : cluster.applied(id)) {
        if (entry.type != raft::EntryType::command) continue;
        Result<SessionEntry> decoded = decode_entry(entry.payload);
        if (!decoded.is_ok()) continue;
        if (const T* typed = std::get_if<T>(&decoded.value())) {
            found.emplace_back(entry.index, *typed);
        }
    }
    return found;
}

ClusterOptions tuned(std::function<void(SessionServerOptions&)> adjust) {
    ClusterOptions options;
    options.adjust = std::move(adjust);
    return options;
}

// A cluster of three whose server 1 leads.
struct Led {
    explicit Led(ClusterOptions options = {}) : cluster(std::move(options)) { cluster.elect(1); }
    ServerCluster cluster;
};

// Followers learn the commit index with the leader's next append: let a heartbeat go by.
void heartbeat(ServerCluster& cluster) { cluster.tick(30); }

// --- sessions and commands ------------------------------------------------------------------

TEST(SessionServerTest, RegisterIsAnsweredWithTheIndexOfItsEntryOnceApplied) {
    Led led;
    ServerCluster& cluster = led.cluster;
    const uint64_t id = cluster.submit(1, 7, RegisterRequest{"alice", 2000});
    EXPECT_FALSE(cluster.take_response(1, 7, id)) << "answered before a majority stored it";
    cluster.run();
    const std::optional<Response> response = cluster.take_response(1, 7, id);
    ASSERT_TRUE(response);
    ASSERT_EQ(response->error, ErrorCode::ok) << response->message;
    const auto& registered = std::get<RegisterResponse>(response->body);
    EXPECT_EQ(registered.timeout_ms, 2000u);
    const auto entries = applied_entries<RegisterEntry>(cluster, 1);
    ASSERT_EQ(entries.size(), 1u);
    EXPECT_EQ(registered.session, entries[0].first);
    EXPECT_EQ(entries[0].second, (RegisterEntry{"alice", 2000}));
    heartbeat(cluster);
    for (raft::NodeId node : cluster.ids()) {
        EXPECT_TRUE(cluster.server(node).state().session_live(registered.session)) << node;
    }
}

TEST(SessionServerTest, TheLeaderLogsTheTimeoutItChoseWithinItsBounds) {
    Led led(tuned([](SessionServerOptions& options) {
        options.sessions.min_session_timeout_ms = 300;
        options.sessions.default_session_timeout_ms = 4000;
    }));
    ServerCluster& cluster = led.cluster;
    const std::optional<Response> short_one = cluster.call(1, 1, RegisterRequest{"a", 1});
    const std::optional<Response> by_default = cluster.call(1, 1, RegisterRequest{"b", 0});
    ASSERT_TRUE(short_one && by_default);
    EXPECT_EQ(std::get<RegisterResponse>(short_one->body).timeout_ms, 300u);
    EXPECT_EQ(std::get<RegisterResponse>(by_default->body).timeout_ms, 4000u);
    const auto entries = applied_entries<RegisterEntry>(cluster, 1);
    ASSERT_EQ(entries.size(), 2u);
    EXPECT_EQ(entries[0].second.timeout_ms, 300u);
    EXPECT_EQ(entries[1].second.timeout_ms, 4000u);
}

TEST(SessionServerTest, CommandIsAnsweredOnceAppliedWithTheStateMachinesValue) {
    Led led;
    ServerCluster& cluster = led.cluster;
    const SessionId session = cluster.open_session(1, 1);
    const uint64_t id = cluster.submit(1, 1, add_command(session, 1, 5));
    EXPECT_FALSE(cluster.take_response(1, 1, id)) << "answered before it committed";
    cluster.run();
    const std::optional<Response> response = cluster.take_response(1, 1, id);
    ASSERT_TRUE(response);
    EXPECT_EQ(value_of(*response), 5);
    const auto commands = applied_entries<CommandEntry>(cluster, 1);
    ASSERT_EQ(commands.size(), 1u);
    EXPECT_EQ(index_of(*response), commands[0].first);
    heartbeat(cluster);
    for (raft::NodeId node : cluster.ids()) {
        EXPECT_EQ(cluster.probe(node).adds_executed, 1u) << node;
        EXPECT_EQ(cluster.probe(node).value, 5) << node;
    }
}

TEST(SessionServerTest, ApplicationErrorIsAnsweredWithItsMessageAndCached) {
    Led led;
    ServerCluster& cluster = led.cluster;
    const SessionId session = cluster.open_session(1, 1);
    const CommandRequest fail{session, 1, Operation{"fail", {}}};
    const std::optional<Response> first = cluster.call(1, 1, fail);
    const std::optional<Response> again = cluster.call(1, 1, fail);
    ASSERT_TRUE(first && again);
    EXPECT_EQ(first->error, ErrorCode::application_error);
    EXPECT_EQ(first->message, "the counter refuses this command");
    EXPECT_EQ(again->error, ErrorCode::application_error);
    EXPECT_EQ(again->message, first->message);
    const std::optional<Response> next = cluster.call(1, 1, add_command(session, 2, 3));
    ASSERT_TRUE(next);
    EXPECT_EQ(value_of(*next), 3);
}

TEST(SessionServerTest, DuplicateSequenceIsAnsweredFromTheCacheAndAppliedOnce) {
    Led led;
    ServerCluster& cluster = led.cluster;
    const SessionId session = cluster.open_session(1, 1);
    const std::optional<Response> first = cluster.call(1, 1, add_command(session, 1, 5));
    const std::optional<Response> duplicate = cluster.call(1, 1, add_command(session, 1, 5));
    const std::optional<Response> next = cluster.call(1, 1, add_command(session, 2, 1));
    ASSERT_TRUE(first && duplicate && next);
    EXPECT_EQ(value_of(*first), 5);
    EXPECT_EQ(value_of(*duplicate), 5);
    EXPECT_EQ(value_of(*next), 6);
    heartbeat(cluster);
    for (raft::NodeId node : cluster.ids()) {
        EXPECT_EQ(cluster.probe(node).adds_executed, 2u) << node;
        EXPECT_EQ(cluster.probe(node).value, 6) << node;
    }
}

TEST(SessionServerTest, OutOfOrderSequenceIsRefusedWithTheLastSequence) {
    Led led;
    ServerCluster& cluster = led.cluster;
    const SessionId session = cluster.open_session(1, 1);
    ASSERT_TRUE(cluster.call(1, 1, add_command(session, 1, 5)));
    const raft::Index last = cluster.server(1).raft().log().last_index();
    const std::optional<Response> response = cluster.call(1, 1, add_command(session, 3, 1));
    ASSERT_TRUE(response);
    EXPECT_EQ(response->error, ErrorCode::command_error);
    EXPECT_EQ(response->last_sequence, 1u);
    EXPECT_EQ(cluster.server(1).raft().log().last_index(), last) << "logged anyway";
    EXPECT_EQ(cluster.probe(1).adds_executed, 1u);
    const std::optional<Response> in_order = cluster.call(1, 1, add_command(session, 2, 1));
    ASSERT_TRUE(in_order);
    EXPECT_EQ(value_of(*in_order), 6);
}

TEST(SessionServerTest, UnknownOperationAndBadArgumentsNeverReachTheStateMachine) {
    Led led(tuned([](SessionServerOptions& options) { options.max_operation_bytes = 64; }));
    ServerCluster& cluster = led.cluster;
    const SessionId session = cluster.open_session(1, 1);
    const raft::Index last = cluster.server(1).raft().log().last_index();
    const std::vector<std::pair<Request, ErrorCode>> refused = {
        {CommandRequest{session, 1, Operation{"nope", {}}}, ErrorCode::unknown_operation},
        {CommandRequest{session, 1, Operation{"add", Bytes(100, 1)}}, ErrorCode::bad_request},
        {CommandRequest{session, 1, Operation{"add", Bytes(3, 1)}}, ErrorCode::bad_request},
        {CommandRequest{session, 1, Operation{std::string(100, 'x'), {}}}, ErrorCode::bad_request},
        {CommandRequest{session, 0, Operation{"add", Bytes(8, 1)}}, ErrorCode::bad_request},
        {QueryRequest{session, 0, 0, Consistency::linearizable, Operation{"nope", {}}},
         ErrorCode::unknown_operation},
        {QueryRequest{session, 0, 0, Consistency::sequential, Operation{"get", Bytes(100, 1)}},
         ErrorCode::bad_request},
        {QueryRequest{session, 0, 0, static_cast<Consistency>(9), Operation{"get", {}}},
         ErrorCode::bad_request},
        {RegisterRequest{std::string(100, 'c'), 0}, ErrorCode::bad_request},
    };
    for (const auto& [request, error] : refused) {
        const std::optional<Response> response = cluster.call(1, 1, request);
        ASSERT_TRUE(response) << "request " << request.index();
        EXPECT_EQ(response->error, error) << "request " << request.index();
        EXPECT_FALSE(response->message.empty());
    }
    EXPECT_EQ(cluster.server(1).raft().log().last_index(), last) << "a refusal was logged";
    EXPECT_EQ(cluster.probe(1).adds_executed, 0u);
    const std::optional<Response> accepted = cluster.call(1, 1, add_command(session, 1, 5));
    ASSERT_TRUE(accepted);
    EXPECT_EQ(value_of(*accepted), 5) << "a refusal consumed the sequence";
}

TEST(SessionServerTest, RequestsOfUnknownSessionsAreRefused) {
    Led led;
    ServerCluster& cluster = led.cluster;
    const raft::Index last = cluster.server(1).raft().log().last_index();
    const std::optional<Response> command = cluster.call(1, 1, add_command(999, 1, 1));
    const std::optional<Response> unregister = cluster.call(1, 1, UnregisterRequest{999});
    const std::optional<Response> query =
        cluster.call(1, 1, get_query(999, 0, 0, Consistency::linearizable));
    ASSERT_TRUE(command && unregister && query);
    EXPECT_EQ(command->error, ErrorCode::unknown_session);
    EXPECT_EQ(unregister->error, ErrorCode::unknown_session);
    EXPECT_EQ(query->error, ErrorCode::unknown_session);
    EXPECT_EQ(cluster.server(1).raft().log().last_index(), last);
    cluster.submit(1, 1, ResetRequest{999, 5});  // one-way: nothing to answer, nothing kept
    EXPECT_TRUE(cluster.take_responses(1, 1).empty());
}

TEST(SessionServerTest, UnregisterEndsTheSessionOnEveryServer) {
    Led led;
    ServerCluster& cluster = led.cluster;
    const SessionId session = cluster.open_session(1, 1);
    const std::optional<Response> response = cluster.call(1, 1, UnregisterRequest{session});
    ASSERT_TRUE(response);
    EXPECT_EQ(response->error, ErrorCode::ok) << response->message;
    EXPECT_TRUE(std::holds_alternative<UnregisterResponse>(response->body));
    const std::optional<Response> later = cluster.call(1, 1, add_command(session, 1, 1));
    ASSERT_TRUE(later);
    EXPECT_EQ(later->error, ErrorCode::unknown_session);
    heartbeat(cluster);
    for (raft::NodeId node : cluster.ids()) {
        EXPECT_FALSE(cluster.server(node).state().session_live(session)) << node;
    }
}

TEST(SessionServerTest, HugeKeepAliveBatchIsRefusedAndNotLogged) {
    Led led(tuned([](SessionServerOptions& options) { options.max_keep_alive_sessions = 4; }));
    ServerCluster& cluster = led.cluster;
    const SessionId session = cluster.open_session(1, 1);
    const raft::Index last = cluster.server(1).raft().log().last_index();
    std::vector<KeepAliveItem> items(5, KeepAliveItem{session, 0, session});
    const std::optional<Response> huge = cluster.call(1, 1, keep_alive(items));
    ASSERT_TRUE(huge);
    EXPECT_EQ(huge->error, ErrorCode::bad_request);
    EXPECT_EQ(cluster.server(1).raft().log().last_index(), last);
    const std::optional<Response> fits = cluster.call(
        1, 1, keep_alive({{session, 0, session}, {12345, 0, 0}, {0, 0, 0}, {session, 0, 0}}));
    ASSERT_TRUE(fits);
    ASSERT_EQ(fits->error, ErrorCode::ok) << fits->message;
    EXPECT_EQ(std::get<KeepAliveResponse>(fits->body).sessions,
              (std::vector<ErrorCode>{ErrorCode::ok, ErrorCode::unknown_session,
                                      ErrorCode::unknown_session, ErrorCode::ok}));
    EXPECT_EQ(applied_entries<KeepAliveEntry>(cluster, 1).size(), 1u) << "one entry per batch";
}

// Requests built from a seeded generator: any type, real and made-up sessions, sequences,
// indexes, operation types and sizes, consistency levels, at every server. Every request but
// the one-way resets is answered with its own id (queries waiting for commands the session
// never sent, once no-ops fill those sequences), and the cluster still works afterwards.
TEST(SessionServerTest, ArbitraryRequestsAreAnsweredAndNeverBreakTheCluster) {
    Led led;
    ServerCluster& cluster = led.cluster;
    const SessionId session = cluster.open_session(1, 1);
    testing::SeededRandom random(42);
    auto pick = [&](uint64_t below) { return random.uniform(below); };
    auto any_session = [&] { return pick(3) == 0 ? session : pick(1000); };
    auto any_operation = [&] {
        const char* types[] = {"add", "get", "fail", "", "nope"};
        return Operation{types[pick(5)], Bytes(pick(3) == 0 ? 8 : pick(40), 7)};
    };
    std::vector<std::pair<raft::NodeId, uint64_t>> waiting;
    for (int i = 0; i < 3000; ++i) {
        Request request;
        switch (pick(6)) {
            case 0: request = RegisterRequest{std::string(pick(20), 'r'), pick(10'000)}; break;
            case 1: {
                std::vector<KeepAliveItem> items(pick(5));
                for (KeepAliveItem& item : items) item = {any_session(), pick(50), pick(500)};
                request = keep_alive(std::move(items));
                break;
            }
            case 2: request = UnregisterRequest{pick(1000)}; break;
            case 3: request = CommandRequest{any_session(), pick(6), any_operation()}; break;
            case 4:
                request = QueryRequest{any_session(), pick(6), pick(500),
                                       static_cast<Consistency>(pick(4)), any_operation()};
                break;
            default: request = ResetRequest{any_session(), pick(500)}; break;
        }
        const bool one_way = std::holds_alternative<ResetRequest>(request);
        const raft::NodeId node = 1 + pick(3);
        const uint64_t id = cluster.submit(node, 2, std::move(request));
        if (pick(4) == 0) cluster.tick();
        if (one_way) continue;
        cluster.run();
        cluster.tick(pick(2) == 0 ? 0 : 30);
        if (!cluster.take_response(node, 2, id)) waiting.push_back({node, id});
    }
    // Queries may wait for commands the session never sent: no-ops fill its sequences.
    for (uint64_t sequence = 1; sequence <= 6; ++sequence) {
        cluster.call(1, 1, CommandRequest{session, sequence, Operation{"", {}}});
    }
    heartbeat(cluster);
    for (const auto& [node, id] : waiting) {
        EXPECT_TRUE(cluster.take_response(node, 2, id)) << "request " << id << " unanswered";
    }
    const SessionId fresh = cluster.open_session(1, 3);
    const std::optional<Response> write = cluster.call(1, 3, add_command(fresh, 1, 1));
    ASSERT_TRUE(write);
    EXPECT_EQ(write->error, ErrorCode::ok) << write->message;
}

// --- leadership -----------------------------------------------------------------------------

TEST(SessionServerTest, NonLeaderAnswersNoLeaderWithTheLeadersId) {
    Led led;
    ServerCluster& cluster = led.cluster;
    const SessionId session = cluster.open_session(1, 1);
    heartbeat(cluster);
    const std::vector<Request> requests = {
        RegisterRequest{"bob", 0},
        keep_alive({{session, 0, session}}),
        UnregisterRequest{session},
        add_command(session, 1, 1),
        get_query(session, 0, 0, Consistency::linearizable),
        get_query(session, 0, 0, Consistency::linearizable_lease),
    };
    for (const Request& request : requests) {
        const std::optional<Response> response = cluster.call(2, 4, request);
        ASSERT_TRUE(response) << "request " << request.index();
        EXPECT_EQ(response->error, ErrorCode::no_leader) << "request " << request.index();
        EXPECT_EQ(response->leader, 1u) << "request " << request.index();
    }
    EXPECT_EQ(cluster.probe(2).adds_executed, 0u);
    EXPECT_TRUE(cluster.server(1).state().session_live(session));
}

// The command reached the followers but the leader never heard that it committed: the new
// leader commits it, the old one answers no_leader, the resubmission is answered from the
// result cache.
TEST(SessionServerTest, DeposedLeaderAnswersNoLeaderAndTheResubmissionAppliesOnce) {
    Led led;
    ServerCluster& cluster = led.cluster;
    const SessionId session = cluster.open_session(1, 1);
    cluster.block(2, 1);
    cluster.block(3, 1);
    const uint64_t id = cluster.submit(1, 1, add_command(session, 1, 5));
    cluster.run();
    EXPECT_FALSE(cluster.take_response(1, 1, id));
    cluster.isolate(1);
    const raft::NodeId leader = cluster.fail_over(1);
    cluster.heal();
    heartbeat(cluster);
    const std::optional<Response> refused = cluster.take_response(1, 1, id);
    ASSERT_TRUE(refused) << "the deposed leader never answered";
    EXPECT_EQ(refused->error, ErrorCode::no_leader);
    const std::optional<Response> resubmitted = cluster.call(leader, 1, add_command(session, 1, 5));
    ASSERT_TRUE(resubmitted);
    EXPECT_EQ(value_of(*resubmitted), 5);
    heartbeat(cluster);
    for (raft::NodeId node : cluster.ids()) {
        EXPECT_EQ(cluster.probe(node).adds_executed, 1u) << node;
        EXPECT_EQ(cluster.probe(node).value, 5) << node;
    }
}

// The command never left the leader: another entry takes its index, the old leader answers
// no_leader, and the resubmission to the new leader is applied once.
TEST(SessionServerTest, CommandLostInALeaderChangeIsAnsweredNoLeaderAndAppliedOnResubmission) {
    Led led;
    ServerCluster& cluster = led.cluster;
    const SessionId session = cluster.open_session(1, 1);
    heartbeat(cluster);
    cluster.isolate(1);
    const uint64_t id = cluster.submit(1, 1, add_command(session, 1, 5));
    const raft::NodeId leader = cluster.fail_over(1);
    const std::optional<Response> resubmitted = cluster.call(leader, 1, add_command(session, 1, 5));
    ASSERT_TRUE(resubmitted);
    EXPECT_EQ(value_of(*resubmitted), 5);
    cluster.heal();
    heartbeat(cluster);
    const std::optional<Response> refused = cluster.take_response(1, 1, id);
    ASSERT_TRUE(refused) << "the deposed leader never answered";
    EXPECT_EQ(refused->error, ErrorCode::no_leader);
    for (raft::NodeId node : cluster.ids()) {
        EXPECT_EQ(cluster.probe(node).adds_executed, 1u) << node;
        EXPECT_EQ(cluster.probe(node).value, 5) << node;
    }
}

// A new leader that has not yet applied what earlier leaders committed would not know the
// session: it holds the command until its own first entry applies.
TEST(SessionServerTest, NewLeaderHoldsSessionRequestsUntilItAppliedItsFirstEntry) {
    Led led;
    ServerCluster& cluster = led.cluster;
    const uint64_t id = cluster.submit(1, 1, RegisterRequest{"carol", 5000});
    const raft::Index entry = cluster.server(1).raft().log().last_index();
    while (cluster.server(2).raft().log().last_index() < entry) ASSERT_TRUE(cluster.deliver_one());
    cluster.block(1, 2);  // server 2 stores the register but does not learn it committed
    cluster.run();
    const std::optional<Response> registered = cluster.take_response(1, 1, id);
    ASSERT_TRUE(registered);
    const SessionId session = std::get<RegisterResponse>(registered->body).session;
    ASSERT_FALSE(cluster.server(2).state().session_live(session));
    cluster.heal();
    ASSERT_TRUE(cluster.server(1).transfer_leadership(2).is_ok());
    while (cluster.server(2).raft().role() != raft::Role::leader) {
        ASSERT_TRUE(cluster.deliver_one());
    }
    ASSERT_FALSE(cluster.server(2).state().session_live(session)) << "too late to show it";
    const uint64_t command = cluster.submit(2, 1, add_command(session, 1, 5));
    EXPECT_FALSE(cluster.take_response(2, 1, command));
    cluster.run();
    const std::optional<Response> response = cluster.take_response(2, 1, command);
    ASSERT_TRUE(response);
    EXPECT_EQ(response->error, ErrorCode::ok) << response->message;
    EXPECT_EQ(value_of(*response), 5);
}

// During a leadership transfer Raft logs nothing: a command admitted then is not in the log,
// and a later sequence must not be logged ahead of it once the transfer gave up.
TEST(SessionServerTest, CommandRefusedDuringATransferKeepsItsPlaceInTheSequence) {
    Led led;
    ServerCluster& cluster = led.cluster;
    const SessionId session = cluster.open_session(1, 1);
    ASSERT_TRUE(cluster.call(1, 1, add_command(session, 1, 1)));
    cluster.isolate(3);
    ASSERT_TRUE(cluster.server(1).transfer_leadership(3).is_ok());  // 3 cannot catch up
    const std::optional<Response> refused = cluster.call(1, 1, add_command(session, 2, 10));
    ASSERT_TRUE(refused);
    EXPECT_EQ(refused->error, ErrorCode::no_leader);
    cluster.tick(100);  // the transfer gives up; server 1 still leads with server 2
    ASSERT_EQ(cluster.leader(), 1u);
    const std::optional<Response> ahead = cluster.call(1, 1, add_command(session, 3, 100));
    ASSERT_TRUE(ahead);
    EXPECT_EQ(ahead->error, ErrorCode::command_error);
    EXPECT_EQ(ahead->last_sequence, 1u);
    const std::optional<Response> second = cluster.call(1, 1, add_command(session, 2, 10));
    const std::optional<Response> third = cluster.call(1, 1, add_command(session, 3, 100));
    ASSERT_TRUE(second && third);
    EXPECT_EQ(value_of(*second), 11);
    EXPECT_EQ(value_of(*third), 111);
}

// The client resubmits command 1 (logged and applied already) while the transfer refuses to
// log command 2 as well; the refused resubmission must not let the leader forget that 2 is
// missing: once 1 is logged again, 3 still waits for 2, and 2 is not skipped for good
// (copycat-sim seeds 402 and 1050, tests/sim FINDINGS.md 7).
TEST(SessionServerTest, RefusedResubmissionDuringATransferDoesNotLetACommandBeSkipped) {
    Led led;
    ServerCluster& cluster = led.cluster;
    const SessionId session = cluster.open_session(1, 1);
    ASSERT_TRUE(cluster.call(1, 1, add_command(session, 1, 1)));
    cluster.isolate(3);
    ASSERT_TRUE(cluster.server(1).transfer_leadership(3).is_ok());  // 3 cannot catch up
    const std::optional<Response> refused = cluster.call(1, 1, add_command(session, 2, 10));
    const std::optional<Response> refused_again = cluster.call(1, 1, add_command(session, 1, 1));
    ASSERT_TRUE(refused && refused_again);
    EXPECT_EQ(refused->error, ErrorCode::no_leader);
    EXPECT_EQ(refused_again->error, ErrorCode::no_leader);
    cluster.tick(100);  // the transfer gives up; server 1 still leads with server 2
    ASSERT_EQ(cluster.leader(), 1u);
    const std::optional<Response> resubmitted = cluster.call(1, 1, add_command(session, 1, 1));
    ASSERT_TRUE(resubmitted);
    EXPECT_EQ(value_of(*resubmitted), 1) << "not answered from the result cache";
    const std::optional<Response> ahead = cluster.call(1, 1, add_command(session, 3, 100));
    ASSERT_TRUE(ahead);
    EXPECT_EQ(ahead->error, ErrorCode::command_error) << "logged ahead of command 2";
    EXPECT_EQ(ahead->last_sequence, 1u);
    const std::optional<Response> second = cluster.call(1, 1, add_command(session, 2, 10));
    const std::optional<Response> third = cluster.call(1, 1, add_command(session, 3, 100));
    ASSERT_TRUE(second && third);
    EXPECT_EQ(second->error, ErrorCode::ok) << second->message;
    EXPECT_EQ(value_of(*second), 11);
    EXPECT_EQ(value_of(*third), 111);
    EXPECT_EQ(cluster.probe(1).adds_executed, 3u);
}

TEST(SessionServerTest, AdministrationIsRefusedByFollowers) {
    Led led;
    ServerCluster& cluster = led.cluster;
    heartbeat(cluster);
    EXPECT_FALSE(cluster.server(2).transfer_leadership(3).is_ok());
    const raft::Configuration configuration = cluster.server(2).raft().configuration();
    EXPECT_FALSE(cluster.server(2).configure(configuration.members, configuration.index).is_ok());
    ASSERT_TRUE(cluster.server(1).transfer_leadership(3).is_ok());
    cluster.run();
    EXPECT_EQ(cluster.leader(), 3u);
}

// --- queries ------------------------------------------------------------------------------

TEST(SessionServerTest, LinearizableQueryIsAnsweredAfterAHeartbeatRound) {
    Led led;
    ServerCluster& cluster = led.cluster;
    const SessionId session = cluster.open_session(1, 1);
    const std::optional<Response> write = cluster.call(1, 1, add_command(session, 1, 5));
    ASSERT_TRUE(write);
    const uint64_t id =
        cluster.submit(1, 1, get_query(session, 1, index_of(*write), Consistency::linearizable));
    EXPECT_FALSE(cluster.take_response(1, 1, id)) << "answered before a majority confirmed it";
    cluster.run();
    const std::optional<Response> read = cluster.take_response(1, 1, id);
    ASSERT_TRUE(read);
    EXPECT_EQ(value_of(*read), 5);
    EXPECT_GE(index_of(*read), index_of(*write));
    EXPECT_EQ(cluster.probe(1).adds_executed, 1u) << "a query changed the state";
}

TEST(SessionServerTest, LeaseQueryIsAnsweredAtOnceWhileTheLeaseHolds) {
    Led led;
    ServerCluster& cluster = led.cluster;
    const SessionId session = cluster.open_session(1, 1);
    const std::optional<Response> write = cluster.call(1, 1, add_command(session, 1, 5));
    ASSERT_TRUE(write);
    const uint64_t id = cluster.submit(
        1, 1, get_query(session, 1, index_of(*write), Consistency::linearizable_lease));
    const std::optional<Response> read = cluster.take_response(1, 1, id);
    ASSERT_TRUE(read) << "a lease read waited for the network";
    EXPECT_EQ(value_of(*read), 5);
}

TEST(SessionServerTest, LinearizableQueryOnADeposedLeaderFailsWithQueryError) {
    Led led;
    ServerCluster& cluster = led.cluster;
    const SessionId session = cluster.open_session(1, 1);
    heartbeat(cluster);
    cluster.isolate(1);
    const uint64_t id = cluster.submit(1, 1, get_query(session, 0, 0, Consistency::linearizable));
    cluster.fail_over(1);
    cluster.heal();
    heartbeat(cluster);
    const std::optional<Response> response = cluster.take_response(1, 1, id);
    ASSERT_TRUE(response);
    EXPECT_EQ(response->error, ErrorCode::query_error);
    EXPECT_FALSE(value_of(*response));
}

// Read your writes on a follower: it answers once it applied the session's command.
TEST(SessionServerTest, SequentialQueryOnAFollowerWaitsForTheSessionsCommands) {
    Led led;
    ServerCluster& cluster = led.cluster;
    const SessionId session = cluster.open_session(1, 1);
    const std::optional<Response> first = cluster.call(1, 1, add_command(session, 1, 5));
    ASSERT_TRUE(first);
    heartbeat(cluster);
    cluster.block(1, 3);
    const std::optional<Response> second = cluster.call(1, 1, add_command(session, 2, 10));
    ASSERT_TRUE(second);
    const std::optional<Response> old_read =
        cluster.call(3, 9, get_query(session, 1, index_of(*first), Consistency::sequential));
    ASSERT_TRUE(old_read) << "a query the follower can serve waited";
    EXPECT_EQ(value_of(*old_read), 5);
    const uint64_t id =
        cluster.submit(3, 9, get_query(session, 2, index_of(*second), Consistency::sequential));
    cluster.run();
    EXPECT_FALSE(cluster.take_response(3, 9, id)) << "answered before applying command 2";
    cluster.heal();
    heartbeat(cluster);
    const std::optional<Response> read = cluster.take_response(3, 9, id);
    ASSERT_TRUE(read);
    EXPECT_EQ(value_of(*read), 15);
    EXPECT_GE(index_of(*read), index_of(*second));
}

TEST(SessionServerTest, SequentialQueryOnAFollowerThatHasNotSeenTheSessionAsksForTheLeader) {
    Led led;
    ServerCluster& cluster = led.cluster;
    heartbeat(cluster);
    cluster.block(1, 3);
    const SessionId session = cluster.open_session(1, 1);
    const std::optional<Response> response =
        cluster.call(3, 9, get_query(session, 0, session, Consistency::sequential));
    ASSERT_TRUE(response);
    EXPECT_EQ(response->error, ErrorCode::no_leader) << "it would say unknown_session";
    EXPECT_EQ(response->leader, 1u);
}

TEST(SessionServerTest, SequentialQueryOnAReserveMemberIsRefused) {
    ClusterOptions options;
    options.extra_members = {{4, raft::MemberType::reserve, true, {}}};
    Led led(options);
    ServerCluster& cluster = led.cluster;
    const SessionId session = cluster.open_session(1, 1);
    heartbeat(cluster);
    const std::optional<Response> response =
        cluster.call(4, 9, get_query(session, 0, 0, Consistency::sequential));
    ASSERT_TRUE(response);
    EXPECT_EQ(response->error, ErrorCode::illegal_member_state);
}

TEST(SessionServerTest, SequentialQueriesBeyondTheWaitingLimitAreRefused) {
    Led led(tuned([](SessionServerOptions& options) { options.max_waiting_queries = 2; }));
    ServerCluster& cluster = led.cluster;
    const SessionId session = cluster.open_session(1, 1);
    // Sequence 1 was never applied: these wait.
    const QueryRequest ahead = get_query(session, 1, 0, Consistency::sequential);
    const uint64_t first = cluster.submit(1, 1, ahead);
    const uint64_t second = cluster.submit(1, 1, ahead);
    const uint64_t third = cluster.submit(1, 1, ahead);
    EXPECT_FALSE(cluster.take_response(1, 1, first));
    EXPECT_FALSE(cluster.take_response(1, 1, second));
    const std::optional<Response> refused = cluster.take_response(1, 1, third);
    ASSERT_TRUE(refused);
    EXPECT_EQ(refused->error, ErrorCode::timeout);
    ASSERT_TRUE(cluster.call(1, 1, add_command(session, 1, 5)));
    for (uint64_t id : {first, second}) {
        const std::optional<Response> answered = cluster.take_response(1, 1, id);
        ASSERT_TRUE(answered);
        EXPECT_EQ(value_of(*answered), 5);
    }
}

// --- events ---------------------------------------------------------------------------------

// Three commands, three batches: each at its command's index, chained by previous_index.
std::vector<Index> add_three(ServerCluster& cluster, raft::NodeId node, ConnectionId connection,
                             SessionId session) {
    std::vector<Index> indexes;
    for (uint64_t sequence = 1; sequence <= 3; ++sequence) {
        const std::optional<Response> response =
            cluster.call(node, connection, add_command(session, sequence, 1));
        EXPECT_TRUE(response && response->error == ErrorCode::ok);
        if (!response) return indexes;
        indexes.push_back(index_of(*response));
        EXPECT_EQ(std::get<OperationResponse>(response->body).event_index, indexes.back());
    }
    return indexes;
}

void expect_batches(const std::vector<PublishRequest>& batches, SessionId session,
                    const std::vector<Index>& indexes, Index previous) {
    ASSERT_EQ(batches.size(), indexes.size());
    for (size_t i = 0; i < batches.size(); ++i) {
        EXPECT_EQ(batches[i].session, session);
        EXPECT_EQ(batches[i].event_index, indexes[i]);
        EXPECT_EQ(batches[i].previous_index, i == 0 ? previous : indexes[i - 1]);
        ASSERT_EQ(batches[i].events.size(), 1u);
        EXPECT_EQ(batches[i].events[0].name, "added");
    }
}

TEST(SessionServerTest, EventsGoToTheSessionsConnectionInOrder) {
    Led led;
    ServerCluster& cluster = led.cluster;
    const SessionId session = cluster.open_session(1, 1);
    const std::vector<Index> indexes = add_three(cluster, 1, 1, session);
    const std::vector<PublishRequest> batches = cluster.take_events(1, 1);
    expect_batches(batches, session, indexes, session);
    for (size_t i = 0; i < batches.size(); ++i) {
        EXPECT_EQ(batches[i].events[0].message, testing::encode_amount(int64_t(i) + 1));
    }
    heartbeat(cluster);
    EXPECT_TRUE(cluster.take_events(2, 1).empty()) << "a server the client never used sent";
}

TEST(SessionServerTest, ResetResendsTheBatchesAfterTheClientsIndex) {
    Led led;
    ServerCluster& cluster = led.cluster;
    const SessionId session = cluster.open_session(1, 1);
    const std::vector<Index> indexes = add_three(cluster, 1, 1, session);
    cluster.take_events(1, 1);
    cluster.submit(1, 1, ResetRequest{session, indexes[0]});
    expect_batches(cluster.take_events(1, 1), session, {indexes[1], indexes[2]}, indexes[0]);
    cluster.submit(1, 1, ResetRequest{session, indexes[2]});
    EXPECT_TRUE(cluster.take_events(1, 1).empty()) << "resent what the client acknowledged";
}

TEST(SessionServerTest, RequestOnANewConnectionResendsPendingEventsAndMovesThem) {
    Led led;
    ServerCluster& cluster = led.cluster;
    const SessionId session = cluster.open_session(1, 1);
    const std::vector<Index> indexes = add_three(cluster, 1, 1, session);
    cluster.take_events(1, 1);
    ASSERT_TRUE(cluster.call(1, 2, get_query(session, 3, indexes[2], Consistency::sequential)));
    expect_batches(cluster.take_events(1, 2), session, indexes, session);
    const std::optional<Response> next = cluster.call(1, 2, add_command(session, 4, 1));
    ASSERT_TRUE(next);
    EXPECT_EQ(cluster.take_events(1, 2).size(), 1u);
    EXPECT_TRUE(cluster.take_events(1, 1).empty()) << "events still go to the old connection";
}

TEST(SessionServerTest, FollowerSendsEventsToTheConnectionItsClientUsedThere) {
    Led led;
    ServerCluster& cluster = led.cluster;
    const SessionId session = cluster.open_session(1, 1);
    heartbeat(cluster);
    ASSERT_TRUE(cluster.call(2, 7, get_query(session, 0, session, Consistency::sequential)));
    const std::optional<Response> write = cluster.call(1, 1, add_command(session, 1, 1));
    ASSERT_TRUE(write);
    heartbeat(cluster);
    expect_batches(cluster.take_events(2, 7), session, {index_of(*write)}, session);
    EXPECT_TRUE(cluster.take_events(3, 7).empty());
}

TEST(SessionServerTest, ClosedConnectionGetsNoEventsUntilTheSessionComesBack) {
    Led led;
    ServerCluster& cluster = led.cluster;
    const SessionId quiet = cluster.open_session(1, 1);
    const SessionId busy = cluster.open_session(1, 2);
    cluster.close_connection(1, 1);
    const std::optional<Response> write = cluster.call(1, 2, add_command(busy, 1, 1));
    ASSERT_TRUE(write);
    EXPECT_TRUE(cluster.take_events(1, 1).empty());
    EXPECT_EQ(cluster.take_events(1, 2).size(), 1u);
    cluster.submit(1, 3, ResetRequest{quiet, quiet});
    expect_batches(cluster.take_events(1, 3), quiet, {index_of(*write)}, quiet);
}

TEST(SessionServerTest, NewLeaderResendsPendingEventsAfterFailover) {
    Led led;
    ServerCluster& cluster = led.cluster;
    const SessionId session = cluster.open_session(1, 1);
    std::vector<Index> indexes = add_three(cluster, 1, 1, session);
    heartbeat(cluster);
    cluster.isolate(1);
    const raft::NodeId leader = cluster.fail_over(1);
    const std::optional<Response> next = cluster.call(leader, 5, add_command(session, 4, 1));
    ASSERT_TRUE(next);
    ASSERT_EQ(next->error, ErrorCode::ok) << next->message;
    indexes.push_back(index_of(*next));
    expect_batches(cluster.take_events(leader, 5), session, indexes, session);
}

TEST(SessionServerTest, KeepAliveAcknowledgesEventsAndResendsTheRest) {
    Led led;
    ServerCluster& cluster = led.cluster;
    const SessionId session = cluster.open_session(1, 1);
    const std::vector<Index> indexes = add_three(cluster, 1, 1, session);
    cluster.take_events(1, 1);
    const std::optional<Response> response =
        cluster.call(1, 1, keep_alive({{session, 3, indexes[1]}}));
    ASSERT_TRUE(response);
    EXPECT_EQ(std::get<KeepAliveResponse>(response->body).sessions,
              std::vector<ErrorCode>{ErrorCode::ok});
    expect_batches(cluster.take_events(1, 1), session, {indexes[2]}, indexes[1]);
    heartbeat(cluster);
    for (raft::NodeId node : cluster.ids()) {
        EXPECT_EQ(cluster.server(node).state().events_pending(), 1u) << node;
    }
}

// --- expiry ---------------------------------------------------------------------------------

TEST(SessionServerTest, KeepAlivesKeepOneSessionWhileTheLeaderExpiresTheIdleOne) {
    Led led;
    ServerCluster& cluster = led.cluster;
    const SessionId kept = cluster.open_session(1, 1, 1000);
    const SessionId idle = cluster.open_session(1, 2, 1000);
    auto keep_alive_round = [&] {
        cluster.tick(20);  // 200 ms of the leader's clock, logged with the keep-alive
        const std::optional<Response> response = cluster.call(1, 1, keep_alive({{kept, 0, kept}}));
        ASSERT_TRUE(response);
        EXPECT_EQ(std::get<KeepAliveResponse>(response->body).sessions,
                  std::vector<ErrorCode>{ErrorCode::ok});
    };
    for (int round = 0; round < 4; ++round) keep_alive_round();  // 800 ms
    EXPECT_TRUE(cluster.server(1).state().session_live(idle)) << "expired before its timeout";
    for (int round = 0; round < 6; ++round) keep_alive_round();  // 2000 ms
    heartbeat(cluster);
    for (raft::NodeId node : cluster.ids()) {
        EXPECT_TRUE(cluster.server(node).state().session_live(kept)) << node;
        EXPECT_FALSE(cluster.server(node).state().session_live(idle)) << node;
    }
    const auto unregisters = applied_entries<UnregisterEntry>(cluster, 2);
    ASSERT_EQ(unregisters.size(), 1u);
    EXPECT_EQ(unregisters[0].second, (UnregisterEntry{idle, true}));
    const std::optional<Response> late = cluster.call(1, 2, add_command(idle, 1, 1));
    ASSERT_TRUE(late);
    EXPECT_EQ(late->error, ErrorCode::unknown_session);
}

// The expiry falls due while a leadership transfer refuses proposals: it is logged once the
// transfer gave up.
TEST(SessionServerTest, ExpiryRefusedDuringATransferIsLoggedAfterIt) {
    Led led;
    ServerCluster& cluster = led.cluster;
    const SessionId kept = cluster.open_session(1, 1, 1000);
    const SessionId idle = cluster.open_session(1, 2, 1000);
    cluster.tick(120);
    cluster.isolate(3);
    const uint64_t id = cluster.submit(1, 1, keep_alive({{kept, 0, kept}}));
    ASSERT_TRUE(cluster.server(1).transfer_leadership(3).is_ok());
    cluster.run();  // the keep-alive applies: idle is suspected, its expiry refused
    ASSERT_TRUE(cluster.take_response(1, 1, id));
    EXPECT_TRUE(cluster.server(1).state().session_live(idle));
    cluster.tick(100);
    ASSERT_EQ(cluster.leader(), 1u);
    EXPECT_FALSE(cluster.server(1).state().session_live(idle));
    EXPECT_TRUE(cluster.server(1).state().session_live(kept));
}

// --- snapshots ------------------------------------------------------------------------------

TEST(SessionServerTest, LaggingFollowerCatchesUpFromASnapshot) {
    ClusterOptions options = tuned([](SessionServerOptions& server) {
        server.snapshot_every_entries = 5;
        server.raft.snapshot_trailing_entries = 0;
    });
    options.snapshottable = true;
    Led led(options);
    ServerCluster& cluster = led.cluster;
    const SessionId session = cluster.open_session(1, 1);
    heartbeat(cluster);
    cluster.isolate(3);
    for (uint64_t sequence = 1; sequence <= 12; ++sequence) {
        ASSERT_TRUE(cluster.call(1, 1, add_command(session, sequence, 1)));
    }
    EXPECT_TRUE(cluster.snapshots_stored(1).empty())
        << "a snapshot waits until the events up to it are acknowledged";
    const Index last_event = cluster.server(1).state().last_applied();
    ASSERT_TRUE(cluster.call(1, 1, keep_alive({{session, 12, last_event}})));
    ASSERT_FALSE(cluster.snapshots_stored(1).empty());
    EXPECT_GT(cluster.server(1).raft().log().first_index(), cluster.applied(3).back().index + 1);
    cluster.heal();
    heartbeat(cluster);
    EXPECT_EQ(cluster.probe(3).value, 12);
    EXPECT_LT(cluster.probe(3).adds_executed, 12u) << "replayed the log, not the snapshot";
    EXPECT_TRUE(cluster.server(3).state().session_live(session));
    const std::optional<Response> read = cluster.call(
        3, 9,
        get_query(session, 12, cluster.server(1).state().last_applied(), Consistency::sequential));
    ASSERT_TRUE(read);
    EXPECT_EQ(value_of(*read), 12);
}

}  // namespace
}  // namespace copycat::session
