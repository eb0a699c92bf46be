// The client protocol as plain values (copycat.md §5.1, DESIGN.md "Message flows"): what a
// gateway (or a test client, or the simulator's clients) sends to a node, and what the node
// answers. The shells turn these into FlatBuffers (schemas/client.fbs); the pure cores and the
// simulator use them as they are.
//
// Every request carries a request_id chosen by its sender and echoed in its response. A node
// that is not the leader answers commands, linearizable queries and session requests with
// no_leader and a leader hint; the sender retries there (no forwarding between nodes).
#pragma once

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "consensus/statemachine/state_machine.h"

namespace copycat::session {

using statemachine::Bytes;
using statemachine::Index;
using statemachine::Operation;
using statemachine::SessionId;
using NodeId = uint64_t;

// copycat.md §5 error codes, and ours after them. Numeric values travel on the wire.
enum class ErrorCode : uint8_t {
    ok = 0,
    no_leader = 1,             // not the leader (see leader hint), or no leader known
    query_error = 2,           // a linearizable query lost its leader before confirming it
    command_error = 3,         // command sequence out of order: resubmit after last_sequence
    application_error = 4,     // the state machine refused (message says why); cached
    illegal_member_state = 5,  // this member cannot serve it (e.g. a reserve member)
    unknown_session = 6,       // no such session here, or it expired or closed
    internal_error = 7,
    configuration_error = 8,  // a membership change conflicts with another (retry later)
    bad_request = 9,          // malformed, oversized or out of range: never retried as is
    unknown_operation = 10,   // no command or query of that type is registered
    timeout = 11,             // the node gave up waiting (outcome unknown for commands)
};
const char* error_code_name(ErrorCode code);

enum class Consistency : uint8_t {
    linearizable = 0,        // ReadIndex on the leader: a heartbeat round after the read
    linearizable_lease = 1,  // the leader's lease (bounded clock drift)
    sequential = 2,          // any member caught up to what the session has seen
};
const char* consistency_name(Consistency consistency);

struct RegisterRequest {
    std::string client_id;
    uint64_t timeout_ms = 0;  // 0: the server's default
};

struct KeepAliveItem {
    SessionId session = 0;
    uint64_t command_sequence = 0;  // highest sequence whose response the client has
    Index event_index = 0;          // highest event index the client has received in order
    bool operator==(const KeepAliveItem&) const = default;
};

// One keep-alive for many sessions: a gateway batches those of its clients.
struct KeepAliveRequest {
    std::vector<KeepAliveItem> sessions;
};

struct UnregisterRequest {
    SessionId session = 0;
};

struct CommandRequest {
    SessionId session = 0;
    uint64_t sequence = 0;  // 1, 2, 3, ... per session
    Operation operation;    // an empty type is a no-op filling a failed sequence (#102)
};

struct QueryRequest {
    SessionId session = 0;
    uint64_t sequence = 0;  // the session's last command sequence issued: read your writes
    Index index = 0;        // the highest index the session has seen: monotonic reads
    Consistency consistency = Consistency::linearizable;
    Operation operation;
};

// One-way: the client has every event up to index; resend what follows.
struct ResetRequest {
    SessionId session = 0;
    Index index = 0;
};

using Request = std::variant<RegisterRequest, KeepAliveRequest, UnregisterRequest, CommandRequest,
                             QueryRequest, ResetRequest>;

struct RegisterResponse {
    SessionId session = 0;
    uint64_t timeout_ms = 0;
};

struct KeepAliveResponse {
    // Per session of the request, in its order: ok or unknown_session.
    std::vector<ErrorCode> sessions;
};

struct UnregisterResponse {};

struct OperationResponse {  // commands and queries
    Index index = 0;        // command: its log index; query: the index it read at
    Index event_index = 0;  // the session's last event index as of this operation
    Bytes value;
};

struct Response {
    uint64_t request_id = 0;
    ErrorCode error = ErrorCode::ok;
    std::string message;         // for errors: what a user can act on
    NodeId leader = 0;           // this node's view of the leader (0: unknown)
    uint64_t last_sequence = 0;  // command_error: the last sequence the leader accepted
    std::variant<std::monostate, RegisterResponse, KeepAliveResponse, UnregisterResponse,
                 OperationResponse>
        body;
};

struct Event {
    std::string name;
    Bytes message;
    bool operator==(const Event&) const = default;
};

// One-way, node to client: the events published to a session at one index.
struct PublishRequest {
    SessionId session = 0;
    Index event_index = 0;     // the index of the entry that published them
    Index previous_index = 0;  // the session's previous event index (the client checks it)
    std::vector<Event> events;
    bool operator==(const PublishRequest&) const = default;
};

}  // namespace copycat::session

// --- administration (copycat-ctl member / endpoint / move-leader / session list) ------------
// Answered by the consensus shell itself, on the same socket as the client protocol.
namespace copycat::session {

struct StatusRequest {};

struct MemberInfo {
    NodeId id = 0;
    uint8_t type = 0;  // raft::MemberType
    bool available = true;
    std::string address;
    bool operator==(const MemberInfo&) const = default;
};

struct StatusResponse {
    NodeId node_id = 0;
    std::string role;         // follower, candidate, leader (or "passive", "reserve")
    uint8_t member_type = 0;  // raft::MemberType of this node in its configuration
    uint64_t term = 0;
    NodeId leader = 0;
    Index commit_index = 0;
    Index applied_index = 0;
    Index first_index = 0;  // of the log
    Index last_index = 0;
    Index configuration_index = 0;
    uint64_t configuration_term = 0;
    std::vector<MemberInfo> members;
    uint64_t sessions = 0;
    uint64_t events_pending = 0;
    bool logstore_reachable = false;
    std::string client_address;  // this node's client endpoint, as gateways reach it
    bool operator==(const StatusResponse&) const = default;
};

// A single-server change, asked of the leader: add a member (join, with its address), remove
// it (leave), or change its type (promote / demote). Compare and set: refused with
// configuration_error unless the configuration is still the one at expected_index (0: whatever
// is current).
struct MemberChangeRequest {
    enum class Action : uint8_t { join = 0, leave = 1, set_type = 2 };
    Action action = Action::join;
    NodeId node = 0;
    uint8_t type = 3;  // raft::MemberType, for join and set_type
    std::string address;
    Index expected_index = 0;
};

struct MemberChangeResponse {
    Index index = 0;  // of the configuration entry, once committed
    std::vector<MemberInfo> members;
};

struct TransferLeadershipRequest {
    NodeId target = 0;
};

struct SessionsRequest {};

struct SessionsResponse {
    struct Item {
        SessionId id = 0;
        std::string client_id;
        uint8_t state = 0;  // statemachine::SessionState
        uint64_t timeout_ms = 0;
        uint64_t command_sequence = 0;
        Index event_index = 0;
        uint64_t events_pending = 0;
        bool operator==(const Item&) const = default;
    };
    std::vector<Item> sessions;
};

// Compaction of this node's log, now: answered once its copycat-compactor finished the run.
struct CompactLogRequest {
    bool major = false;
};

struct CompactLogResponse {
    bool major = false;
    uint64_t segments_rewritten = 0;
    uint64_t segments_replaced = 0;
    uint64_t entries_removed = 0;
    uint64_t reclaimed_bytes = 0;
    double duration_seconds = 0;
    bool operator==(const CompactLogResponse&) const = default;
};

using AdminRequest = std::variant<StatusRequest, MemberChangeRequest, TransferLeadershipRequest,
                                  SessionsRequest, CompactLogRequest>;

struct AdminResponse {
    uint64_t request_id = 0;
    ErrorCode error = ErrorCode::ok;
    std::string message;
    NodeId leader = 0;
    std::variant<std::monostate, StatusResponse, MemberChangeResponse, SessionsResponse,
                 CompactLogResponse>
        body;
};

}  // namespace copycat::session
