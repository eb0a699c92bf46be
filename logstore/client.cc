#include "logstore/client.h"

#include "common/zmq_socket.h"

namespace copycat::logstore {
namespace {

StatusCode status_code_for(fb::ErrorCode code) {
    switch (code) {
        case fb::ErrorCode::InvalidArgument: return StatusCode::invalid_argument;
        case fb::ErrorCode::Malformed: return StatusCode::invalid_argument;
        case fb::ErrorCode::OutOfRange: return StatusCode::out_of_range;
        case fb::ErrorCode::Conflict: return StatusCode::conflict;
        default: return StatusCode::io_error;
    }
}

// The reply, or its ErrorResponse as a Status.
Result<Reply> answer(Reply reply) {
    Status error = reply.error();
    if (!error.is_ok()) return error;
    return reply;
}

}  // namespace

Reply::Reply(zmq::message_t message) : bytes_(std::move(message)) {
    message_ = parse_message(
        std::span<const uint8_t>(static_cast<const uint8_t*>(bytes_.data()), bytes_.size()));
}

Status Reply::error() const {
    if (message_ == nullptr) return invalid_argument("reply is not a valid StorageMessage");
    const fb::ErrorResponse* error = message_->body_as_ErrorResponse();
    if (error == nullptr) return Status::ok();
    return Status(status_code_for(error->code()), error->message() ? error->message()->str() : "");
}

StorageClient::StorageClient(zmq::context_t& context, const std::string& endpoint,
                             std::chrono::milliseconds send_timeout, const std::string& routing_id)
    : socket_(make_dealer(context, routing_id, SocketOptions{100000, 100000, 256 << 20, false})) {
    socket_.set(zmq::sockopt::sndtimeo, static_cast<int>(send_timeout.count()));
    socket_.connect(endpoint);
}

Status StorageClient::send(std::span<const uint8_t> bytes) {
    zmq::send_result_t sent =
        socket_.send(zmq::const_buffer(bytes.data(), bytes.size()), zmq::send_flags::none);
    if (!sent) return Status(StatusCode::unavailable, "logstore not reachable (send timed out)");
    return Status::ok();
}

std::optional<Reply> StorageClient::receive(std::chrono::milliseconds timeout) {
    if (!kept_.empty()) {
        Reply reply = std::move(kept_.front());
        kept_.pop_front();
        return reply;
    }
    zmq::pollitem_t item{socket_.handle(), 0, ZMQ_POLLIN, 0};
    if (zmq::poll(&item, 1, timeout) == 0) return std::nullopt;
    zmq::message_t message;
    if (!socket_.recv(message, zmq::recv_flags::dontwait)) return std::nullopt;
    return Reply(std::move(message));
}

Result<Reply> StorageClient::call(std::span<const uint8_t> request, uint64_t request_id,
                                  std::chrono::milliseconds timeout) {
    COPYCAT_RETURN_IF_ERROR(send(request));
    return wait_for(request_id, timeout);
}

Result<Reply> StorageClient::wait_for(uint64_t request_id, std::chrono::milliseconds timeout) {
    for (auto it = kept_.begin(); it != kept_.end(); ++it) {
        if (it->request_id() != request_id) continue;
        Reply reply = std::move(*it);
        kept_.erase(it);
        return answer(std::move(reply));
    }
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        zmq::pollitem_t item{socket_.handle(), 0, ZMQ_POLLIN, 0};
        if (zmq::poll(&item, 1, std::max(left, std::chrono::milliseconds(1))) == 0) continue;
        zmq::message_t message;
        if (!socket_.recv(message, zmq::recv_flags::dontwait)) continue;
        Reply reply(std::move(message));
        if (reply.request_id() != request_id) {
            kept_.push_back(std::move(reply));
            continue;
        }
        return answer(std::move(reply));
    }
    return Status(StatusCode::timeout,
                  "no reply from the logstore to request " + std::to_string(request_id));
}

}  // namespace copycat::logstore
