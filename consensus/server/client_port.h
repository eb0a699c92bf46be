// ClientPort: the ROUTER that gateways (and clients, tests, benchmarks) connect their DEALERs
// to. Each distinct routing id is one connection, named by a ConnectionId for the cores. The
// ROUTER is mandatory-routing: a reply to a connection that has gone is reported (and the
// connection forgotten) rather than silently dropped.
//
// Single-threaded: the event loop's thread only.
#pragma once

#include <zmq.hpp>

#include <flatbuffers/flatbuffers.h>

#include <functional>
#include <map>
#include <span>
#include <string>
#include <variant>

#include "common/metrics.h"
#include "consensus/session/protocol.h"
#include "consensus/session/session_server.h"

namespace copycat::server {

class ClientPort {
public:
    using RequestHandler = std::function<void(session::ConnectionId connection, uint64_t request_id,
                                              session::Request request)>;
    using AdminHandler = std::function<void(session::ConnectionId connection, uint64_t request_id,
                                            session::AdminRequest request)>;
    // A connection found gone while sending to it.
    using LostHandler = std::function<void(session::ConnectionId connection)>;

    ClientPort(zmq::context_t& context, Metrics& metrics);

    Status bind(const std::string& endpoint);
    void receive(const RequestHandler& on_request, const AdminHandler& on_admin,
                 const LostHandler& on_lost, size_t max_messages);
    void send(session::ConnectionId connection, const session::Response& response,
              const LostHandler& on_lost);
    void send(session::ConnectionId connection, const session::AdminResponse& response,
              const LostHandler& on_lost);
    void send(session::ConnectionId connection, const session::PublishRequest& publish,
              const LostHandler& on_lost);

    zmq::socket_t& router() { return router_; }
    size_t connections() const { return ids_.size(); }

private:
    session::ConnectionId connection_for(const std::string& routing_id);
    void send_bytes(session::ConnectionId connection, std::span<const uint8_t> bytes,
                    const LostHandler& on_lost);
    void refuse(const std::string& routing_id, uint64_t request_id, const std::string& why,
                const LostHandler& on_lost);

    zmq::socket_t router_;
    flatbuffers::FlatBufferBuilder builder_;
    std::map<std::string, session::ConnectionId> ids_;
    std::map<session::ConnectionId, std::string> routing_ids_;
    session::ConnectionId next_id_ = 1;
    prometheus::Counter& malformed_;
    prometheus::Counter& dropped_;
};

}  // namespace copycat::server
