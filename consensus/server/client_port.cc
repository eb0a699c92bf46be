#include "consensus/server/client_port.h"

#include "common/log.h"
#include "common/zmq_socket.h"
#include "consensus/wire/client_codec.h"

namespace copycat::server {

namespace {

SocketOptions client_socket_options() {
    SocketOptions options;
    options.send_high_water_mark = 100000;
    options.receive_high_water_mark = 100000;
    options.max_message_bytes = 16 << 20;
    options.router_mandatory = true;
    return options;
}

}  // namespace

ClientPort::ClientPort(zmq::context_t& context, Metrics& metrics)
    : router_(make_router(context, client_socket_options())),
      builder_(16 * 1024),
      malformed_(metrics.counter("copycat_server_client_messages_malformed_total",
                                 "Client messages refused because they do not decode")),
      dropped_(metrics.counter("copycat_server_client_messages_dropped_total",
                               "Answers and events not sent: the connection was gone or full")) {}

Status ClientPort::bind(const std::string& endpoint, const CurveServer* curve) {
    if (curve != nullptr) make_curve_server(router_, *curve);
    try {
        router_.bind(endpoint);
    } catch (const zmq::error_t& e) {
        return Status(StatusCode::unavailable,
                      "cannot listen for clients on " + endpoint + ": " + e.what());
    }
    return Status::ok();
}

// The connection of a routing id that just sent something (it is active now).
session::ConnectionId ClientPort::connection_for(const std::string& routing_id) {
    const Clock::time_point now = Clock::now();
    auto found = ids_.find(routing_id);
    if (found != ids_.end()) {
        connections_.at(found->second).last_active = now;
        return found->second;
    }
    session::ConnectionId id = next_id_++;
    ids_.emplace(routing_id, id);
    connections_.emplace(id, Connection{routing_id, now});
    return id;
}

void ClientPort::forget(std::map<session::ConnectionId, Connection>::iterator connection,
                        const LostHandler& on_lost) {
    const session::ConnectionId id = connection->first;
    ids_.erase(connection->second.routing_id);
    connections_.erase(connection);
    on_lost(id);
}

void ClientPort::forget_idle(Clock::time_point now, Clock::duration idle_after,
                             const LostHandler& on_lost) {
    if (now < next_idle_sweep_) return;
    next_idle_sweep_ = now + idle_after / 8;
    for (auto it = connections_.begin(); it != connections_.end();) {
        auto next = std::next(it);
        if (now - it->second.last_active >= idle_after) forget(it, on_lost);
        it = next;
    }
}

void ClientPort::receive(const RequestHandler& on_request, const AdminHandler& on_admin,
                         const LostHandler& on_lost, size_t max_messages) {
    for (size_t i = 0; i < max_messages; ++i) {
        std::optional<ReceivedMessage> message = try_receive(router_);
        if (!message) return;
        if (message->routing_frames.empty()) continue;
        std::string routing_id = message->routing_frames.front().to_string();
        const void* data = message->payload.data();
        const size_t size = message->payload.size();
        Result<wire::ClientMessage> decoded = wire::decode_client(data, size);
        if (!decoded.is_ok()) {
            malformed_.Increment();
            log::warn_once("client-malformed", "refused a client message that does not decode",
                           {{"error", decoded.status().message()}});
            if (std::optional<uint64_t> id = wire::refused_request_id(data, size)) {
                refuse(routing_id, *id, decoded.status().message(), on_lost);
            }
            continue;
        }
        session::ConnectionId connection = connection_for(routing_id);
        if (auto* request = std::get_if<wire::RequestMessage>(&*decoded)) {
            on_request(connection, request->request_id, std::move(request->request));
        } else if (auto* admin = std::get_if<wire::AdminRequestMessage>(&*decoded)) {
            on_admin(connection, admin->request_id, std::move(admin->request));
        } else {
            malformed_.Increment();
            log::warn_once("client-not-a-request", "dropped a client message that is no request");
        }
    }
}

void ClientPort::refuse(const std::string& routing_id, uint64_t request_id, const std::string& why,
                        const LostHandler& on_lost) {
    session::Response response;
    response.request_id = request_id;
    response.error = session::ErrorCode::bad_request;
    response.message = why;
    send(connection_for(routing_id), response, on_lost);
}

void ClientPort::send(session::ConnectionId connection, const session::Response& response,
                      const LostHandler& on_lost) {
    send_bytes(connection, wire::encode_response(builder_, response), on_lost);
}

void ClientPort::send(session::ConnectionId connection, const session::AdminResponse& response,
                      const LostHandler& on_lost) {
    send_bytes(connection, wire::encode_admin_response(builder_, response), on_lost);
}

void ClientPort::send(session::ConnectionId connection, const session::PublishRequest& publish,
                      const LostHandler& on_lost) {
    send_bytes(connection, wire::encode_publish(builder_, publish), on_lost);
}

void ClientPort::send_bytes(session::ConnectionId connection, std::span<const uint8_t> bytes,
                            const LostHandler& on_lost) {
    auto found = connections_.find(connection);
    if (found == connections_.end()) {
        dropped_.Increment();
        return;
    }
    switch (try_send_result(router_, found->second.routing_id, bytes)) {
        case SendResult::sent: found->second.last_active = Clock::now(); return;
        case SendResult::would_block:
            // Slow, not gone: its queue is at the high-water mark. Drop this one and keep the
            // connection, so that its sessions' events and its other answers still reach it
            // once it drains (a client notices the drop by a timeout and resubmits; events
            // left unacknowledged are sent again after its next keep-alive).
            dropped_.Increment();
            log::warn_once("client-queue-full",
                           "a client connection's queue is full: dropping answers and events to "
                           "it until it reads",
                           {{"connection", connection}});
            return;
        case SendResult::unreachable:
            // Gone: forget it; it comes back with its next request, as a new connection.
            dropped_.Increment();
            forget(found, on_lost);
            return;
    }
}

}  // namespace copycat::server
