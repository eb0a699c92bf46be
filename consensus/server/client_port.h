// ClientPort: the ROUTER that gateways (and clients, tests, benchmarks) connect their DEALERs
// to. Each distinct routing id is one connection, named by a ConnectionId for the cores. The
// ROUTER is mandatory-routing: a reply to a connection that has gone is reported (and the
// connection forgotten) rather than silently dropped. A reply to a connection whose queue is
// full is dropped and counted, and the connection kept: it is slow, not gone.
// A connection with no traffic either way for a long time is forgotten too (forget_idle), so
// that the table does not grow with every client that ever connected; one that comes back is
// a new connection.
//
// Single-threaded: the event loop's thread only.
#pragma once

#include <zmq.hpp>

#include <flatbuffers/flatbuffers.h>

#include <chrono>
#include <functional>
#include <map>
#include <span>
#include <string>
#include <variant>

#include "common/curve.h"
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
    // A connection found gone while sending to it, or forgotten for being idle.
    using LostHandler = std::function<void(session::ConnectionId connection)>;
    using Clock = std::chrono::steady_clock;

    ClientPort(zmq::context_t& context, Metrics& metrics);

    // With `curve`, gateways (and joining nodes) connect with CURVE and only the keys it lists
    // get in (the process's ZAP handler must be bound).
    Status bind(const std::string& endpoint, const CurveServer* curve);
    void receive(const RequestHandler& on_request, const AdminHandler& on_admin,
                 const LostHandler& on_lost, size_t max_messages);
    void send(session::ConnectionId connection, const session::Response& response,
              const LostHandler& on_lost);
    void send(session::ConnectionId connection, const session::AdminResponse& response,
              const LostHandler& on_lost);
    void send(session::ConnectionId connection, const session::PublishRequest& publish,
              const LostHandler& on_lost);

    // Forgets the connections that neither sent a request nor were sent anything successfully
    // for idle_after, and tells on_lost about each. Looks at most every idle_after / 8.
    void forget_idle(Clock::time_point now, Clock::duration idle_after, const LostHandler& on_lost);

    zmq::socket_t& router() { return router_; }
    size_t connections() const { return ids_.size(); }

private:
    struct Connection {
        std::string routing_id;
        Clock::time_point last_active;
    };

    session::ConnectionId connection_for(const std::string& routing_id);
    void forget(std::map<session::ConnectionId, Connection>::iterator connection,
                const LostHandler& on_lost);
    void send_bytes(session::ConnectionId connection, std::span<const uint8_t> bytes,
                    const LostHandler& on_lost);
    void refuse(const std::string& routing_id, uint64_t request_id, const std::string& why,
                const LostHandler& on_lost);

    zmq::socket_t router_;
    flatbuffers::FlatBufferBuilder builder_;
    std::map<std::string, session::ConnectionId> ids_;
    std::map<session::ConnectionId, Connection> connections_;
    session::ConnectionId next_id_ = 1;
    Clock::time_point next_idle_sweep_{};
    prometheus::Counter& malformed_;
    prometheus::Counter& dropped_;
};

}  // namespace copycat::server
