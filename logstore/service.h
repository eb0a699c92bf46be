// StorageService: the request handling of copycat-logstore, between the ZeroMQ shell
// (server.cc) and the SegmentedLog. It has no sockets: it takes received buffers and
// returns the replies to send.
//
// Group commit: handle() stages appends without waiting for the disk; the shell calls
// commit() after each batch of received messages, which writes and fdatasyncs everything
// staged once, then acknowledges "durable up to N" to each peer with appends waiting.
// So what arrived while the previous fdatasync ran goes into one write and one fdatasync.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/duration.h"
#include "common/metrics.h"
#include "logstore/log.h"
#include "logstore/protocol.h"

namespace copycat::logstore {

struct Outgoing {
    std::string peer;  // ZeroMQ routing id
    std::vector<uint8_t> bytes;
};

// The logstore metrics of CONVENTIONS.md.
struct LogstoreMetrics {
    explicit LogstoreMetrics(Metrics& metrics);

    prometheus::Histogram& fsync_duration_seconds;
    prometheus::Counter& write_bytes_total;
    prometheus::Histogram& batch_entries;
    prometheus::Gauge& segments_sealed;
    prometheus::Gauge& segments_active;
    prometheus::Gauge& size_bytes;
    prometheus::Gauge& first_index;
    prometheus::Gauge& last_index;
    prometheus::Counter& malformed_messages_total;
    prometheus::Counter& refused_requests_total;
};

// The compaction indexes consensus reports (each only grows).
struct CompactionIndexes {
    uint64_t commit_index = 0;
    uint64_t global_index = 0;
    uint64_t snapshot_index = 0;
    uint64_t minor_index = 0;
};

// The state of the release bits as the consensus server's batches left it (ReleaseRequest).
struct ReleaseState {
    bool complete = false;  // the bits are one cut of the log: compaction may act on them
    uint64_t global_cap = UINT64_MAX;
};

class StorageService {
public:
    // metrics may be null (tests). The log must outlive the service. An fdatasync slower
    // than fsync_warn is logged as a warning.
    StorageService(SegmentedLog& log, LogstoreMetrics* metrics,
                   Duration fsync_warn = std::chrono::milliseconds(50));

    void handle(const std::string& peer, std::span<const uint8_t> bytes,
                std::vector<Outgoing>* out);
    // Writes and fdatasyncs what handle() staged; appends DurableAck replies to out.
    void commit(std::vector<Outgoing>* out);
    bool has_staged() const { return !waiting_acks_.empty(); }
    void refresh_gauges();

private:
    using Reply = std::vector<uint8_t>;
    Reply dispatch(const fb::StorageMessage& message, const std::string& peer, bool* deferred);
    Reply on_append(uint64_t id, const fb::AppendRequest& request, const std::string& peer,
                    bool* deferred);
    Reply on_read(uint64_t id, const fb::ReadRequest& request);
    Reply on_truncate(uint64_t id, const fb::TruncateRequest& request);
    Reply on_reset(uint64_t id, const fb::ResetLogRequest& request);
    Reply on_save_term(uint64_t id, const fb::SaveTermRequest& request);
    Reply on_save_configuration(uint64_t id, const fb::SaveConfigurationRequest& request);
    Reply on_load_meta(uint64_t id);
    static bool is_write(fb::Body body);
    void claim_writer(const std::string& peer);
    Reply on_release(uint64_t id, const fb::ReleaseRequest& request);
    Reply on_set_indexes(uint64_t id, const fb::SetIndexesRequest& request);
    Reply on_status(uint64_t id);
    Reply on_term_at(uint64_t id, const fb::TermAtRequest& request);
    Reply on_list_segments(uint64_t id);
    Reply on_install_segment(uint64_t id, const fb::InstallSegmentRequest& request);
    Reply on_release_bits(uint64_t id, const fb::ReleaseBitsRequest& request);
    Reply on_remove_leftovers(uint64_t id);
    Reply refuse(uint64_t id, const Status& status);
    Reply meta_reply(uint64_t id);

    SegmentedLog& log_;
    LogstoreMetrics* metrics_;
    Duration fsync_warn_;
    CompactionIndexes indexes_;
    ReleaseState releases_;
    std::map<std::string, uint64_t> waiting_acks_;  // peer -> highest staged append request
    // The connection that claimed the log (LoadMetaRequest.claim_writer); unset: anyone writes.
    std::optional<std::string> writer_;
    uint64_t staged_entries_ = 0;
    uint64_t staged_bytes_ = 0;
};

}  // namespace copycat::logstore
