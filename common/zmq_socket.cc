#include "common/zmq_socket.h"

#include <sys/un.h>

#include <cerrno>

#include "common/assert.h"

namespace copycat {
namespace {

// sun_path holds the path and its terminating NUL.
constexpr size_t kMaxIpcPathBytes = sizeof(sockaddr_un::sun_path) - 1;

void set_common_options(zmq::socket_t& socket, const SocketOptions& options) {
    socket.set(zmq::sockopt::linger, 0);
    socket.set(zmq::sockopt::sndhwm, options.send_high_water_mark);
    socket.set(zmq::sockopt::rcvhwm, options.receive_high_water_mark);
    socket.set(zmq::sockopt::maxmsgsize, options.max_message_bytes);
}

// One frame with dontwait: sent, would block (EAGAIN), or the peer is unknown (EHOSTUNREACH).
SendResult send_frame(zmq::socket_t& socket, zmq::const_buffer frame, bool more) {
    const auto flags =
        more ? zmq::send_flags::dontwait | zmq::send_flags::sndmore : zmq::send_flags::dontwait;
    try {
        return socket.send(frame, flags).has_value() ? SendResult::sent : SendResult::would_block;
    } catch (const zmq::error_t& e) {
        if (e.num() == EHOSTUNREACH) return SendResult::unreachable;
        throw;
    }
}

}  // namespace

zmq::socket_t make_router(zmq::context_t& context, const SocketOptions& options) {
    zmq::socket_t socket(context, zmq::socket_type::router);
    set_common_options(socket, options);
    socket.set(zmq::sockopt::router_handover, 1);
    socket.set(zmq::sockopt::router_mandatory, options.router_mandatory ? 1 : 0);
    return socket;
}

zmq::socket_t make_dealer(zmq::context_t& context, std::string_view routing_id,
                          const SocketOptions& options) {
    COPYCAT_ASSERT(!routing_id.empty() && routing_id.size() <= 255,
                   "a DEALER's routing id is 1..255 bytes (the node id)");
    zmq::socket_t socket(context, zmq::socket_type::dealer);
    set_common_options(socket, options);
    socket.set(zmq::sockopt::immediate, 1);
    socket.set(zmq::sockopt::routing_id, zmq::buffer(routing_id));
    return socket;
}

bool try_send(zmq::socket_t& socket, std::span<const zmq::const_buffer> frames) {
    return try_send_result(socket, frames) == SendResult::sent;
}

SendResult try_send_result(zmq::socket_t& socket, std::span<const zmq::const_buffer> frames) {
    COPYCAT_ASSERT(!frames.empty(), "try_send needs at least one frame");
    for (size_t i = 0; i < frames.size(); ++i) {
        const bool more = i + 1 < frames.size();
        // ZeroMQ accepts or refuses a message as a whole at its first frame; a later frame
        // only fails if the peer's pipe went away meanwhile, and ZeroMQ drops the rest.
        const SendResult result = send_frame(socket, frames[i], more);
        if (result != SendResult::sent) return result;
    }
    return SendResult::sent;
}

std::optional<ReceivedMessage> try_receive(zmq::socket_t& socket) {
    zmq::message_t frame;
    if (!socket.recv(frame, zmq::recv_flags::dontwait)) return std::nullopt;
    ReceivedMessage message;
    // The other frames of a message arrive together with the first one.
    while (frame.more()) {
        message.routing_frames.push_back(std::move(frame));
        frame = zmq::message_t();
        const auto received = socket.recv(frame, zmq::recv_flags::dontwait);
        COPYCAT_ASSERT(received.has_value(), "ZeroMQ delivered part of a multipart message");
    }
    message.payload = std::move(frame);
    return message;
}

Result<std::string> ipc_endpoint_for(const std::filesystem::path& path) {
    const std::string text = path.string();
    if (text.empty()) return invalid_argument("an ipc:// endpoint needs a path");
    if (text.size() > kMaxIpcPathBytes) {
        return invalid_argument("the Unix socket path '" + text + "' is " +
                                std::to_string(text.size()) + " bytes; at most " +
                                std::to_string(kMaxIpcPathBytes) +
                                " fit (sun_path): use a shorter or relative data directory");
    }
    return "ipc://" + text;
}

}  // namespace copycat
