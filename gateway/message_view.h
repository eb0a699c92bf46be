// What the gateway reads of the messages it forwards (schemas/client.fbs), straight from their
// verified FlatBuffers buffers, and the one change it makes to them: the request_id, rewritten
// in place. Commands, queries, their answers and events cross the gateway as the bytes that
// came in; only keep-alives and the gateway's own answers are encoded here.
//
// Every buffer is verified before a field is read (DESIGN.md, Wire). What is read is only what
// routing needs; the node that receives a request still decodes and checks all of it (operation
// names, sizes, enum values) and answers bad_request itself.
//
// Pure functions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "common/status.h"
#include "consensus/session/protocol.h"
#include "schemas/client_generated.h"

namespace copycat::gateway {

namespace fb = copycat::schema::client;

// A client request's kind, as the gateway routes it and counts it (the `op` label of
// copycat_gateway_requests_total). malformed: what could not be read as a request.
enum class Op : uint8_t {
    register_session,
    keep_alive,
    unregister,
    command,
    query_linearizable,
    query_lease,
    query_sequential,
    reset,
    admin,
    malformed,
};
inline constexpr size_t kOpCount = 10;
const char* op_name(Op op);

enum class AdminKind : uint8_t { status, member_change, transfer_leadership, sessions, compact };

using KeepAliveItems = flatbuffers::Vector<const fb::KeepAliveItem*>;

// A client's request, as far as routing needs it.
struct ClientRequestView {
    Op op = Op::malformed;
    AdminKind admin = AdminKind::status;  // when op is admin
    uint64_t request_id = 0;
    session::SessionId session = 0;  // of a command, query, unregister or reset; else 0
    session::NodeId node = 0;        // an admin request's target (0: the gateway chooses)
    const KeepAliveItems* keep_alive_items = nullptr;  // of a keep-alive (null: none)
};

// The request in `bytes`, or why it is not one: not a verified client message, a body without
// its table, or no request at all (a response or a publish, which clients never send).
// wire::refused_request_id(bytes) tells whether the refusal can be answered.
Result<ClientRequestView> read_client_request(std::span<const uint8_t> bytes);

// A node's message, as far as the gateway needs it.
struct NodeMessageView {
    enum class Kind : uint8_t { response, admin_response, publish };
    Kind kind = Kind::response;
    uint64_t request_id = 0;  // 0 for a publish
    session::ErrorCode error = session::ErrorCode::ok;
    session::NodeId leader = 0;  // the node's view of the leader (0: unknown)
    // A register response's new session; a publish's session; else 0.
    session::SessionId session = 0;
    bool unregistered = false;  // an unregister response
    // A keep-alive response's codes, one per session of the request (null: none).
    const flatbuffers::Vector<fb::ErrorCode>* keep_alive_codes = nullptr;
    const fb::StatusResponse* status = nullptr;  // an admin response's status body
};

// The node's message in `bytes`, or why it is refused (not verified, an error code out of
// range, a request sent the wrong way).
Result<NodeMessageView> read_node_message(std::span<const uint8_t> bytes);

// A refused client message that can still be answered: it is a well-formed request (or admin
// request) whose content is out of range, so its sender waits for an answer with this id.
struct Refusal {
    uint64_t request_id = 0;
    bool admin = false;  // answer with an AdminResponse
};
std::optional<Refusal> answerable_refusal(std::span<const uint8_t> bytes);

// Writes request_id into the verified client message in `bytes`. False when the message
// stores no request_id field, which only happens when it is 0: the gateway refuses requests
// with id 0 and never sends one, so callers treat false as a broken message.
bool rewrite_request_id(std::span<uint8_t> bytes, uint64_t request_id);

}  // namespace copycat::gateway
