// ZeroMQ sockets set up the way CONVENTIONS.md (ZeroMQ) asks, and sending/receiving that never
// blocks the event loop. Each node binds one ROUTER for what it receives and keeps a DEALER
// per peer, whose routing id is this node's id.
//
// Sockets are not thread-safe: use each one from one thread (the event loop's).
#pragma once

#include <zmq.hpp>

#include <array>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace copycat {

struct SocketOptions {
    // Messages queued per peer before sends fail (send) or the sender is throttled (receive).
    int send_high_water_mark = 1000;
    int receive_high_water_mark = 1000;
    // Larger inbound messages disconnect the sender (a bound on memory per message).
    int64_t max_message_bytes = 64 * 1024 * 1024;
    // ROUTER only: fail sends to unknown peers (and at the high-water mark) instead of
    // dropping them silently, so that try_send reports them.
    bool router_mandatory = false;
};

// A ROUTER with linger 0, the given high-water marks and message bound, router_handover = 1
// (a restarted peer takes its routing id back) and router_mandatory as asked.
zmq::socket_t make_router(zmq::context_t& context, const SocketOptions& options = {});

// A DEALER with linger 0, the given high-water marks and message bound, immediate = 1 (nothing
// queues for a peer that is not connected) and the given routing id (not empty).
zmq::socket_t make_dealer(zmq::context_t& context, std::string_view routing_id,
                          const SocketOptions& options = {});

// Sends one multipart message without blocking. False, with nothing sent, when it would block
// (high-water mark reached; a DEALER with no connected peer) or, with router_mandatory, when
// the routing id names no connected peer (EHOSTUNREACH). Callers count false in a drop metric.
// Other errors (a closed socket or context) are bugs and throw zmq::error_t.
bool try_send(zmq::socket_t& socket, std::span<const zmq::const_buffer> frames);

// try_send(router, peer_id, payload): each frame is a std::string, std::string_view,
// zmq::const_buffer, zmq::message_t or std::span<const uint8_t>.
template <typename... Frames>
bool try_send(zmq::socket_t& socket, const Frames&... frames);

// Why a send did not happen, for callers that treat the two differently: a mandatory ROUTER
// refuses both a peer that is gone and a peer that is slow, and only the first is a lost
// connection (a slow one drains its queue and takes messages again).
enum class SendResult {
    sent,
    would_block,  // EAGAIN: the high-water mark is reached (or a DEALER has no peer yet)
    unreachable,  // EHOSTUNREACH: router_mandatory and no connected peer has that routing id
};

// try_send, saying which of the three happened.
SendResult try_send_result(zmq::socket_t& socket, std::span<const zmq::const_buffer> frames);
template <typename... Frames>
SendResult try_send_result(zmq::socket_t& socket, const Frames&... frames);

// One received message: on a ROUTER, the routing id frame(s) and any empty delimiter, then
// the payload (the last frame); on a DEALER only the payload.
struct ReceivedMessage {
    std::vector<zmq::message_t> routing_frames;
    zmq::message_t payload;
};

// Receives one whole message if one is waiting; nullopt if none is. Never blocks.
std::optional<ReceivedMessage> try_receive(zmq::socket_t& socket);

// "ipc://" + path, if the path fits in a Unix socket address (107 bytes, sun_path less its
// terminator); else invalid_argument saying how long it is and what to do. Relative paths are
// kept relative (to the working directory), which helps to stay under the limit.
Result<std::string> ipc_endpoint_for(const std::filesystem::path& path);

// Implementation of the variadic try_send.
namespace detail {
inline zmq::const_buffer as_frame(std::string_view text) { return zmq::buffer(text); }
inline zmq::const_buffer as_frame(const std::string& text) { return zmq::buffer(text); }
inline zmq::const_buffer as_frame(zmq::const_buffer buffer) { return buffer; }
inline zmq::const_buffer as_frame(const zmq::message_t& message) {
    return zmq::const_buffer(message.data(), message.size());
}
inline zmq::const_buffer as_frame(std::span<const uint8_t> bytes) {
    return zmq::const_buffer(bytes.data(), bytes.size());
}
}  // namespace detail

template <typename... Frames>
bool try_send(zmq::socket_t& socket, const Frames&... frames) {
    const std::array<zmq::const_buffer, sizeof...(Frames)> buffers = {detail::as_frame(frames)...};
    return try_send(socket, std::span<const zmq::const_buffer>(buffers));
}

template <typename... Frames>
SendResult try_send_result(zmq::socket_t& socket, const Frames&... frames) {
    const std::array<zmq::const_buffer, sizeof...(Frames)> buffers = {detail::as_frame(frames)...};
    return try_send_result(socket, std::span<const zmq::const_buffer>(buffers));
}

}  // namespace copycat
