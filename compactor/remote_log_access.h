// RemoteLogAccess: LogAccess over the storage protocol, one DEALER connection to the node's
// copycat-logstore (logstore/client.h). Each call waits for its reply up to the timeout; a
// reply of another type than the request's is an error. Use from one thread.
#pragma once

#include <zmq.hpp>

#include <chrono>
#include <string>

#include "compactor/log_access.h"
#include "logstore/client.h"

namespace copycat::compactor {

class RemoteLogAccess : public LogAccess {
public:
    // routing_id names this connection to the logstore; one of its own per process, so that
    // replies to a connection of an earlier process never reach this one.
    RemoteLogAccess(zmq::context_t& context, const std::string& endpoint,
                    const std::string& routing_id, std::chrono::milliseconds timeout);

    Result<compaction::Indexes> indexes() override;
    Result<std::vector<logstore::SegmentSummary>> segments() override;
    Result<ReleaseBits> release_bits(std::span<const uint64_t> ids) override;
    // Passes the crash point compactor.install_sent between sending the request and its reply.
    Result<logstore::SegmentSummary> install(std::span<const uint64_t> replaces,
                                             const std::string& file_name) override;
    Result<std::vector<std::string>> remove_leftovers() override;

private:
    // Sends request (built with request_id) and waits for a reply whose body is `expected`.
    Result<logstore::Reply> call(std::span<const uint8_t> request, uint64_t request_id,
                                 logstore::fb::Body expected);

    logstore::StorageClient client_;
    std::chrono::milliseconds timeout_;
};

}  // namespace copycat::compactor
