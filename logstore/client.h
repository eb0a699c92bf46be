// StorageClient: one DEALER connection to a copycat-logstore (tests, the benchmark, and
// the consensus server). Single-threaded: use it from one thread.
//
// Requests are fire-and-forget sends with a request_id of the caller's choosing
// (next_request_id()); replies arrive in any order relative to other requests (a
// DurableAck comes after the fdatasync, other replies at once) and are matched by
// request_id. call() is the blocking convenience: it sends and waits for the reply with
// that id, keeping other replies for later receive() calls.
#pragma once

#include <zmq.hpp>

#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/status.h"
#include "logstore/protocol.h"

namespace copycat::logstore {

// A received message; owns its bytes.
class Reply {
public:
    explicit Reply(zmq::message_t message);
    // Null if the bytes were not a valid StorageMessage.
    const fb::StorageMessage* message() const { return message_; }
    uint64_t request_id() const { return message_ ? message_->request_id() : 0; }
    // The ErrorResponse as a Status, or ok for any other body.
    Status error() const;

private:
    zmq::message_t bytes_;
    const fb::StorageMessage* message_ = nullptr;
};

class StorageClient {
public:
    // Connects (asynchronously) to endpoint. send() waits up to send_timeout for the
    // connection, so a client may send right away. routing_id names this connection to the
    // logstore: a process that writes uses one of its own (replies to another connection with
    // the same id would reach it).
    StorageClient(zmq::context_t& context, const std::string& endpoint,
                  std::chrono::milliseconds send_timeout = std::chrono::seconds(5),
                  const std::string& routing_id = "storage-client");

    uint64_t next_request_id() { return ++last_request_id_; }
    Status send(std::span<const uint8_t> bytes);
    // The next reply (kept ones first), waiting at most timeout.
    std::optional<Reply> receive(std::chrono::milliseconds timeout);
    // Sends `request` (built with request_id) and waits for the reply carrying that id.
    // An ErrorResponse comes back as a Status with its message.
    Result<Reply> call(std::span<const uint8_t> request, uint64_t request_id,
                       std::chrono::milliseconds timeout = std::chrono::seconds(10));
    // The second half of call(): waits for the reply carrying request_id, keeping others.
    Result<Reply> wait_for(uint64_t request_id,
                           std::chrono::milliseconds timeout = std::chrono::seconds(10));

    zmq::socket_t& socket() { return socket_; }

private:
    zmq::socket_t socket_;
    uint64_t last_request_id_ = 0;
    std::deque<Reply> kept_;
};

}  // namespace copycat::logstore
