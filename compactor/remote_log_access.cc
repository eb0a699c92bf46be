#include "compactor/remote_log_access.h"

#include "logstore/file.h"
#include "logstore/protocol.h"

namespace copycat::compactor {

namespace fb = logstore::fb;

RemoteLogAccess::RemoteLogAccess(zmq::context_t& context, const std::string& endpoint,
                                 const std::string& routing_id, std::chrono::milliseconds timeout)
    : client_(context, endpoint, timeout, routing_id), timeout_(timeout) {}

Result<logstore::Reply> RemoteLogAccess::call(std::span<const uint8_t> request, uint64_t request_id,
                                              fb::Body expected) {
    Result<logstore::Reply> reply = client_.call(request, request_id, timeout_);
    if (!reply.is_ok()) return reply.status();
    if (reply->message()->body_type() != expected) {
        return invalid_argument(std::string("the logstore answered ") +
                                fb::EnumNameBody(reply->message()->body_type()) + ", not " +
                                fb::EnumNameBody(expected));
    }
    return reply;
}

Result<compaction::Indexes> RemoteLogAccess::indexes() {
    uint64_t id = client_.next_request_id();
    Result<logstore::Reply> reply = call(logstore::make_status(id), id, fb::Body::StatusResponse);
    if (!reply.is_ok()) return reply.status();
    const fb::StatusResponse* status = reply->message()->body_as_StatusResponse();
    compaction::Indexes indexes;
    indexes.commit = status->commit_index();
    indexes.minor = status->minor_index();
    indexes.global = status->global_index();
    indexes.snapshot = status->snapshot_index();
    return indexes;
}

Result<std::vector<logstore::SegmentSummary>> RemoteLogAccess::segments() {
    uint64_t id = client_.next_request_id();
    Result<logstore::Reply> reply =
        call(logstore::make_list_segments(id), id, fb::Body::ListSegmentsResponse);
    if (!reply.is_ok()) return reply.status();
    std::vector<logstore::SegmentSummary> summaries;
    const auto* list = reply->message()->body_as_ListSegmentsResponse()->segments();
    if (list == nullptr || list->size() == 0) {
        return invalid_argument("the logstore listed no segments");
    }
    for (const fb::SegmentInfo* info : *list) summaries.push_back(logstore::summary_of(*info));
    return summaries;
}

Result<ReleaseBits> RemoteLogAccess::release_bits(std::span<const uint64_t> ids) {
    uint64_t id = client_.next_request_id();
    Result<logstore::Reply> reply =
        call(logstore::make_release_bits(id, ids), id, fb::Body::ReleaseBitsResponse);
    if (!reply.is_ok()) return reply.status();
    const fb::ReleaseBitsResponse* response = reply->message()->body_as_ReleaseBitsResponse();
    ReleaseBits found;
    found.complete = response->complete();
    found.global_cap = response->global_cap();
    if (response->segments() == nullptr) return found;
    for (const fb::SegmentBits* bits : *response->segments()) {
        std::optional<logstore::SegmentBits> copy = logstore::segment_bits_of(*bits);
        if (!copy) return invalid_argument("the logstore sent fewer release bits than records");
        found.segments.push_back(std::move(*copy));
    }
    return found;
}

Result<logstore::SegmentSummary> RemoteLogAccess::install(std::span<const uint64_t> replaces,
                                                          const std::string& file_name) {
    uint64_t id = client_.next_request_id();
    COPYCAT_RETURN_IF_ERROR(client_.send(logstore::make_install_segment(id, replaces, file_name)));
    logstore::crash_point("compactor.install_sent");
    Result<logstore::Reply> reply = client_.wait_for(id, timeout_);
    if (!reply.is_ok()) return reply.status();
    const fb::InstallSegmentResponse* installed =
        reply->message()->body_as_InstallSegmentResponse();
    if (installed == nullptr || installed->segment() == nullptr) {
        return invalid_argument("the logstore did not answer the install with a segment");
    }
    return logstore::summary_of(*installed->segment());
}

Result<std::vector<std::string>> RemoteLogAccess::remove_leftovers() {
    uint64_t id = client_.next_request_id();
    Result<logstore::Reply> reply =
        call(logstore::make_remove_leftovers(id), id, fb::Body::RemoveLeftoversResponse);
    if (!reply.is_ok()) return reply.status();
    std::vector<std::string> removed;
    const auto* names = reply->message()->body_as_RemoveLeftoversResponse()->removed();
    if (names == nullptr) return removed;
    for (const auto* name : *names) removed.push_back(name->str());
    return removed;
}

}  // namespace copycat::compactor
