// What simulated clients and simulated nodes say to each other: the client protocol of
// consensus/session/protocol.h as plain values, on connections. A client talks to one node at a
// time through one connection (as a client behind a gateway does); moving to another node opens
// a new connection and closes the old one. These travel on the clients' links (client.h), not
// on the Raft network.
#pragma once

#include <cstdint>
#include <string>
#include <variant>

#include "consensus/raft/types.h"
#include "consensus/session/protocol.h"
#include "consensus/session/session_server.h"

namespace copycat::sim {

using session::ConnectionId;

// The client that owns a connection: connection ids are (client + 1) << 32 | serial.
inline int connection_client(ConnectionId connection) {
    return static_cast<int>(connection >> 32) - 1;
}
inline ConnectionId make_connection(int client, uint64_t serial) {
    return (static_cast<uint64_t>(client + 1) << 32) | (serial & 0xFFFFFFFFULL);
}

// A request of a client to a node, on a connection.
struct ClientRequest {
    raft::NodeId node = 0;
    ConnectionId connection = 0;
    uint64_t request_id = 0;  // unique per attempt; echoed in the response
    session::Request request;
};

// The client closed a connection (it moved to another node): the node forgets it.
struct ConnectionClosed {
    raft::NodeId node = 0;
    ConnectionId connection = 0;
};

using ToNode = std::variant<ClientRequest, ConnectionClosed>;

inline raft::NodeId destination(const ToNode& input) {
    return std::visit([](const auto& message) { return message.node; }, input);
}
// One line for the trace: `client c2 -> n3 command s14 seq 3 map.put (request 88)`.
std::string describe(const ToNode& input);

// What a node sends on a connection: a response, or a batch of session events.
struct ToClient {
    raft::NodeId node = 0;
    ConnectionId connection = 0;
    std::variant<session::Response, session::PublishRequest> message;
};

}  // namespace copycat::sim
