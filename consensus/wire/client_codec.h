// The codec of the client protocol (schemas/client.fbs): the values of
// consensus/session/protocol.h to bytes and back, for nodes, gateways, copycat-ctl and clients.
// Pure functions: any thread may call them, each with its own builder.
//
// Encoding takes what it is given: a client encodes what its user asked for, and it is the
// receiver that enforces the bounds below (a client library checks them first to fail early).
// Decoding trusts nothing: every buffer is verified first, and anything out of range (an
// unknown message type, a bad enum value, an over-long name, vectors sharing their contents)
// is refused with a Status saying what was wrong. It never crashes and never allocates much
// more than the buffer's own size, whatever counts the buffer claims.
#pragma once

#include <flatbuffers/flatbuffers.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <variant>
#include <vector>

#include "common/status.h"
#include "consensus/session/protocol.h"

namespace copycat::wire {

// Longer names are refused by the decoder.
inline constexpr size_t kMaxOperationTypeBytes = 256;
inline constexpr size_t kMaxClientIdBytes = 256;

// A client request as a node receives it (a ResetRequest is one too, answered by nothing).
struct RequestMessage {
    uint64_t request_id = 0;
    session::Request request;
};

// An administration request as a node (or a gateway) receives it.
struct AdminRequestMessage {
    uint64_t request_id = 0;
    session::AdminRequest request;
    session::NodeId node = 0;  // through a gateway: the node to ask (0: the gateway chooses)
};

// Whatever arrives on the client protocol. A node handles the first two and drops the rest;
// a client handles the last three (Response and AdminResponse carry their request_id).
using ClientMessage = std::variant<RequestMessage, AdminRequestMessage, session::Response,
                                   session::AdminResponse, session::PublishRequest>;

// Each encoder clears `builder`, encodes into it and returns its bytes, valid until the
// builder is used again; reusing one builder saves an allocation per message.
std::span<const uint8_t> encode_request(flatbuffers::FlatBufferBuilder& builder,
                                        uint64_t request_id, const session::Request& request);
std::span<const uint8_t> encode_admin_request(flatbuffers::FlatBufferBuilder& builder,
                                              uint64_t request_id,
                                              const session::AdminRequest& request,
                                              session::NodeId node = 0);
std::span<const uint8_t> encode_response(flatbuffers::FlatBufferBuilder& builder,
                                         const session::Response& response);
std::span<const uint8_t> encode_admin_response(flatbuffers::FlatBufferBuilder& builder,
                                               const session::AdminResponse& response);
std::span<const uint8_t> encode_publish(flatbuffers::FlatBufferBuilder& builder,
                                        const session::PublishRequest& publish);

// The same into vectors of their own.
std::vector<uint8_t> encode_request(uint64_t request_id, const session::Request& request);
std::vector<uint8_t> encode_admin_request(uint64_t request_id, const session::AdminRequest& request,
                                          session::NodeId node = 0);
std::vector<uint8_t> encode_response(const session::Response& response);
std::vector<uint8_t> encode_admin_response(const session::AdminResponse& response);
std::vector<uint8_t> encode_publish(const session::PublishRequest& publish);

// The message in `data`, or why it is refused. `data` need only be valid during the call.
Result<ClientMessage> decode_client(const void* data, size_t size);

// For a buffer decode_client refused: its request_id when it is a well-formed request or
// admin request whose content is out of range, so that a node can answer bad_request instead
// of leaving the client to time out. nullopt for anything else (garbage, a response, a
// publish, a reset), which is dropped.
std::optional<uint64_t> refused_request_id(const void* data, size_t size);

}  // namespace copycat::wire
