// Test harness for SessionServer (tests/session/session_server_test.cc).
//
//  - CounterMachine: a tiny user state machine. Command "add" (argument: an 8-byte amount)
//    adds to a counter, publishes an "added" event with the new value to every live session
//    and answers the new value; command "fail" is refused by the state machine (an
//    application error); query "get" answers the value. Each server's machine reports to a
//    CounterProbe the test reads (how many adds it executed), so that "applied once" and
//    "never reached the state machine" can be checked.
//  - ServerCluster: SessionServers joined by a perfect in-memory network: messages are
//    delivered in the order they were sent (one at a time, or until quiet), every persist op
//    is acknowledged as soon as it is handed out, a snapshot is stored as soon as it is taken.
//    Links can be cut by hand. All servers share one clock, which tick() advances by one tick.
//    Client requests go to a chosen server on a chosen connection; responses and event
//    batches are collected per server and connection for the test to take.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <vector>

#include "consensus/raft/raft.h"
#include "consensus/session/session_server.h"

namespace copycat::session::testing {

// SplitMix64, from a fixed seed.
class SeededRandom : public raft::Random {
public:
    explicit SeededRandom(uint64_t seed) : state_(seed) {}
    uint64_t next() override;

private:
    uint64_t state_;
};

struct CounterProbe {
    uint64_t adds_executed = 0;
    int64_t value = 0;
};

Bytes encode_amount(int64_t amount);
std::optional<int64_t> decode_amount(const Bytes& bytes);

std::unique_ptr<statemachine::StateMachine> make_counter_machine(
    std::shared_ptr<CounterProbe> probe, bool snapshottable = false);

struct ClusterOptions {
    size_t voters = 3;
    std::vector<raft::Member> extra_members;  // e.g. a reserve member after the voters
    bool snapshottable = false;
    std::function<void(SessionServerOptions&)> adjust;  // per-test tuning of every server
};

class ServerCluster {
public:
    explicit ServerCluster(ClusterOptions options = {});

    SessionServer& server(raft::NodeId id) { return *nodes_.at(id).server; }
    const CounterProbe& probe(raft::NodeId id) const { return *nodes_.at(id).probe; }
    std::vector<raft::NodeId> ids() const;
    uint64_t now_ms() const { return now_ms_; }

    // --- network and clock ---
    // Delivers messages until none is left.
    void run();
    // Delivers one message (dropped if its link is cut); false if none was in flight.
    bool deliver_one();
    // Advances the clock one tick and ticks every server, running after each.
    void tick(int count = 1);
    // Ticks only `id` until it leads (the others hear nothing to make them campaign).
    void elect(raft::NodeId id);
    // Ticks every server until a server other than `not_this` leads a higher term than the
    // current one; returns it.
    raft::NodeId fail_over(raft::NodeId not_this);
    std::optional<raft::NodeId> leader() const;
    void isolate(raft::NodeId id);
    void block(raft::NodeId from, raft::NodeId to);
    void heal();

    // --- clients ---
    // Hands a request to a server (no messages delivered); the request id it was given.
    uint64_t submit(raft::NodeId node, ConnectionId connection, Request request);
    // submit() then run(); the response, if one came.
    std::optional<Response> call(raft::NodeId node, ConnectionId connection, Request request);
    // The response to request_id that server sent on that connection, taken out.
    std::optional<Response> take_response(raft::NodeId node, ConnectionId connection,
                                          uint64_t request_id);
    // Every response the server sent on that connection, taken out.
    std::vector<Response> take_responses(raft::NodeId node, ConnectionId connection);
    // The event batches the server sent on that connection, in order, taken out.
    std::vector<PublishRequest> take_events(raft::NodeId node, ConnectionId connection);
    void close_connection(raft::NodeId node, ConnectionId connection);

    // Registers a session through node on connection; its id (0 if it failed: the test fails).
    SessionId open_session(raft::NodeId node, ConnectionId connection, uint64_t timeout_ms = 5000);

    // Every entry the server applied, in order.
    const std::vector<raft::Entry>& applied(raft::NodeId id) const { return nodes_.at(id).applied; }
    const std::vector<raft::Snapshot>& snapshots_stored(raft::NodeId id) const {
        return nodes_.at(id).snapshots;
    }

private:
    struct Node {
        std::unique_ptr<SeededRandom> random;
        std::shared_ptr<CounterProbe> probe;
        std::unique_ptr<SessionServer> server;
        std::map<ConnectionId, std::vector<Response>> responses;
        std::map<ConnectionId, std::vector<PublishRequest>> events;
        std::vector<raft::Entry> applied;
        std::vector<raft::Snapshot> snapshots;
    };
    // Takes what the server handed out: messages into flight, persist ops acknowledged,
    // snapshots stored, responses and events recorded; until it hands out nothing.
    void collect(raft::NodeId id);
    bool blocked(const raft::Envelope& envelope) const;

    std::map<raft::NodeId, Node> nodes_;
    std::deque<raft::Envelope> in_flight_;
    std::set<raft::NodeId> isolated_;
    std::set<std::pair<raft::NodeId, raft::NodeId>> blocked_links_;
    uint64_t now_ms_ = 1'000'000;
    uint64_t tick_ms_ = 10;
    uint64_t next_request_id_ = 1;
};

// Requests as a client builds them.
CommandRequest add_command(SessionId session, uint64_t sequence, int64_t amount);
QueryRequest get_query(SessionId session, uint64_t sequence, Index index, Consistency consistency);
KeepAliveRequest keep_alive(std::vector<KeepAliveItem> items);

// The value of an ok operation response (nullopt otherwise).
std::optional<int64_t> value_of(const Response& response);
Index index_of(const Response& response);

}  // namespace copycat::session::testing
