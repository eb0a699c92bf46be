#include "logstore/service.h"

#include <algorithm>
#include <chrono>

#include "common/log.h"

namespace copycat::logstore {
namespace {

constexpr uint32_t kReadMaxBytes = 32u << 20;

prometheus::Histogram::BucketBoundaries batch_buckets() {
    prometheus::Histogram::BucketBoundaries buckets;
    for (double b = 1; b <= 65536; b *= 2) buckets.push_back(b);
    return buckets;
}

}  // namespace

LogstoreMetrics::LogstoreMetrics(Metrics& metrics)
    : fsync_duration_seconds(metrics.histogram("copycat_logstore_fsync_duration_seconds",
                                               "Duration of each fdatasync of the log",
                                               duration_buckets_seconds())),
      write_bytes_total(metrics.counter("copycat_logstore_write_bytes_total",
                                        "Bytes of records written to segments")),
      batch_entries(metrics.histogram("copycat_logstore_batch_entries",
                                      "Entries made durable by one group commit", batch_buckets())),
      segments_sealed(metrics.gauge_family("copycat_logstore_segments", "Live segments by state")
                          .Add({{"state", "sealed"}})),
      segments_active(metrics.gauge_family("copycat_logstore_segments", "Live segments by state")
                          .Add({{"state", "active"}})),
      size_bytes(metrics.gauge("copycat_logstore_size_bytes", "Bytes of all live segments")),
      first_index(metrics.gauge("copycat_logstore_first_index", "First index of the log")),
      last_index(metrics.gauge("copycat_logstore_last_index", "Last index of the log")),
      malformed_messages_total(metrics.counter("copycat_logstore_malformed_messages_total",
                                               "Received messages that failed verification")),
      refused_requests_total(metrics.counter("copycat_logstore_refused_requests_total",
                                             "Requests answered with an error")) {}

StorageService::StorageService(SegmentedLog& log, LogstoreMetrics* metrics, Duration fsync_warn)
    : log_(log), metrics_(metrics), fsync_warn_(fsync_warn) {
    refresh_gauges();
}

void StorageService::handle(const std::string& peer, std::span<const uint8_t> bytes,
                            std::vector<Outgoing>* out) {
    const fb::StorageMessage* message = parse_message(bytes);
    if (message == nullptr) {
        if (metrics_ != nullptr) metrics_->malformed_messages_total.Increment();
        log::warn_once("storage: malformed message",
                       "a message failed verification; answered "
                       "with an error and counted",
                       {{"bytes", bytes.size()}});
        out->push_back({peer, make_error(0, fb::ErrorCode::Malformed,
                                         "message is not a valid StorageMessage")});
        return;
    }
    bool deferred = false;
    Reply reply = dispatch(*message, peer, &deferred);
    if (!deferred) out->push_back({peer, std::move(reply)});
}

// tidy: long-function (one case per message type)
StorageService::Reply StorageService::dispatch(const fb::StorageMessage& m, const std::string& peer,
                                               bool* deferred) {
    uint64_t id = m.request_id();
    if (writer_ && peer != *writer_ && is_write(m.body_type())) {
        if (metrics_ != nullptr) metrics_->refused_requests_total.Increment();
        log::warn_once("storage: fenced " + peer,
                       "refused a write from a connection that is not the log's writer",
                       {{"peer", peer}, {"writer", *writer_}});
        return make_error(id, fb::ErrorCode::Stopped,
                          "fenced: another consensus process has claimed this log");
    }
    switch (m.body_type()) {
        case fb::Body::AppendRequest:
            return on_append(id, *m.body_as_AppendRequest(), peer, deferred);
        case fb::Body::ReadRequest: return on_read(id, *m.body_as_ReadRequest());
        case fb::Body::TruncateRequest: return on_truncate(id, *m.body_as_TruncateRequest());
        case fb::Body::ResetLogRequest: return on_reset(id, *m.body_as_ResetLogRequest());
        case fb::Body::SaveTermRequest: return on_save_term(id, *m.body_as_SaveTermRequest());
        case fb::Body::SaveConfigurationRequest:
            return on_save_configuration(id, *m.body_as_SaveConfigurationRequest());
        case fb::Body::LoadMetaRequest:
            if (m.body_as_LoadMetaRequest()->claim_writer()) claim_writer(peer);
            return on_load_meta(id);
        case fb::Body::ReleaseRequest: return on_release(id, *m.body_as_ReleaseRequest());
        case fb::Body::SetIndexesRequest: return on_set_indexes(id, *m.body_as_SetIndexesRequest());
        case fb::Body::StatusRequest: return on_status(id);
        case fb::Body::TermAtRequest: return on_term_at(id, *m.body_as_TermAtRequest());
        case fb::Body::ListSegmentsRequest: return on_list_segments(id);
        case fb::Body::InstallSegmentRequest:
            return on_install_segment(id, *m.body_as_InstallSegmentRequest());
        case fb::Body::ReleaseBitsRequest:
            return on_release_bits(id, *m.body_as_ReleaseBitsRequest());
        case fb::Body::RemoveLeftoversRequest: return on_remove_leftovers(id);
        default:
            log::warn_once("storage: not a request", "a message that is not a request",
                           {{"type", fb::EnumNameBody(m.body_type())}});
            return refuse(id, invalid_argument(std::string(fb::EnumNameBody(m.body_type())) +
                                               " is not a request the logstore serves"));
    }
}

StorageService::Reply StorageService::refuse(uint64_t id, const Status& status) {
    if (metrics_ != nullptr) metrics_->refused_requests_total.Increment();
    return make_error(id, error_code_for(status.code()), status.message());
}

StorageService::Reply StorageService::on_append(uint64_t id, const fb::AppendRequest& request,
                                                const std::string& peer, bool* deferred) {
    std::vector<EntryRef> entries;
    uint64_t bytes = 0;
    if (request.entries() != nullptr) {
        entries.reserve(request.entries()->size());
        for (const fb::Entry* e : *request.entries()) {
            std::span<const uint8_t> payload;
            if (e->payload() != nullptr) payload = {e->payload()->data(), e->payload()->size()};
            entries.push_back({e->index(), e->term(), static_cast<uint8_t>(e->mode()), payload});
            bytes += record_size(payload.size());
        }
    }
    Status appended = log_.append(entries, request.allow_holes());
    if (!appended.is_ok()) return refuse(id, appended);
    staged_entries_ += entries.size();
    staged_bytes_ += bytes;
    uint64_t& waiting = waiting_acks_[peer];
    waiting = std::max(waiting, id);
    *deferred = true;  // answered by commit()
    return {};
}

void StorageService::commit(std::vector<Outgoing>* out) {
    if (waiting_acks_.empty()) return;
    auto started = std::chrono::steady_clock::now();
    Status synced = log_.sync();
    std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - started;
    if (Duration(elapsed) > fsync_warn_) {
        log::warn("slow fdatasync", {{"took", Duration(elapsed)},
                                     {"expected_under", fsync_warn_},
                                     {"entries", staged_entries_}});
    }
    if (metrics_ != nullptr && synced.is_ok()) {
        metrics_->fsync_duration_seconds.Observe(elapsed.count());
        metrics_->batch_entries.Observe(static_cast<double>(staged_entries_));
        metrics_->write_bytes_total.Increment(static_cast<double>(staged_bytes_));
    }
    for (const auto& [peer, request_id] : waiting_acks_) {
        if (!synced.is_ok()) {
            out->push_back({peer, refuse(request_id, synced)});
            continue;
        }
        flatbuffers::FlatBufferBuilder builder(64);
        out->push_back({peer, finish_message(builder, request_id,
                                             fb::CreateDurableAck(builder, log_.durable_index()))});
    }
    waiting_acks_.clear();
    staged_entries_ = 0;
    staged_bytes_ = 0;
}

StorageService::Reply StorageService::on_read(uint64_t id, const fb::ReadRequest& request) {
    uint32_t max_bytes = std::min(request.max_bytes(), kReadMaxBytes);
    uint64_t to = std::min(request.to_index(), log_.last_index());
    std::vector<Entry> entries;
    if (request.from_index() <= to) {
        Result<std::vector<Entry>> read = log_.read(request.from_index(), to, max_bytes);
        if (!read.is_ok()) return refuse(id, read.status());
        entries = std::move(*read);
    }
    flatbuffers::FlatBufferBuilder builder(1024 + max_bytes / 4);
    auto list = build_entries(builder, entries);
    return finish_message(builder, id,
                          fb::CreateReadResponse(builder, list, log_.first_index(),
                                                 log_.last_index(), log_.durable_index()));
}

StorageService::Reply StorageService::on_truncate(uint64_t id, const fb::TruncateRequest& request) {
    Status truncated = log_.truncate_after(request.after_index(), request.floor());
    if (!truncated.is_ok()) return refuse(id, truncated);
    return on_status(id);
}

StorageService::Reply StorageService::on_reset(uint64_t id, const fb::ResetLogRequest& request) {
    Status reset = log_.reset(request.next_index());
    if (!reset.is_ok()) return refuse(id, reset);
    return on_status(id);
}

StorageService::Reply StorageService::meta_reply(uint64_t id) {
    const Meta& meta = log_.meta();
    flatbuffers::FlatBufferBuilder builder(128 + meta.configuration.size());
    auto configuration = builder.CreateVector(meta.configuration);
    return finish_message(
        builder, id,
        fb::CreateMetaResponse(builder, meta.term, meta.vote, meta.configuration_index,
                               meta.configuration_term, configuration, meta.floor_term,
                               meta.floor_index, meta.holes_released_by));
}

StorageService::Reply StorageService::on_save_term(uint64_t id,
                                                   const fb::SaveTermRequest& request) {
    Status saved = log_.save_term({request.term(), request.vote(), request.floor_term(),
                                   request.floor_index(), request.holes_released_by()});
    return saved.is_ok() ? meta_reply(id) : refuse(id, saved);
}

StorageService::Reply StorageService::on_save_configuration(
    uint64_t id, const fb::SaveConfigurationRequest& request) {
    std::span<const uint8_t> payload;
    if (request.payload() != nullptr)
        payload = {request.payload()->data(), request.payload()->size()};
    Status saved = log_.save_configuration(request.index(), request.term(), payload);
    return saved.is_ok() ? meta_reply(id) : refuse(id, saved);
}

StorageService::Reply StorageService::on_load_meta(uint64_t id) { return meta_reply(id); }

bool StorageService::is_write(fb::Body body) {
    switch (body) {
        case fb::Body::AppendRequest:
        case fb::Body::TruncateRequest:
        case fb::Body::ResetLogRequest:
        case fb::Body::SaveTermRequest:
        case fb::Body::SaveConfigurationRequest: return true;
        default: return false;
    }
}

void StorageService::claim_writer(const std::string& peer) {
    if (writer_ != peer) log::info("a new writer claimed the log", {{"writer", peer}});
    writer_ = peer;
}

StorageService::Reply StorageService::on_release(uint64_t id, const fb::ReleaseRequest& request) {
    uint32_t released = 0;
    if (request.reset()) log_.clear_release_bits();
    releases_.complete = !request.partial();
    releases_.global_cap = request.global_cap();
    if (request.indexes() != nullptr) {
        std::span<const uint64_t> indexes(request.indexes()->data(), request.indexes()->size());
        released = log_.release(indexes);
    }
    flatbuffers::FlatBufferBuilder builder(64);
    return finish_message(builder, id, fb::CreateReleaseResponse(builder, released));
}

StorageService::Reply StorageService::on_set_indexes(uint64_t id,
                                                     const fb::SetIndexesRequest& request) {
    indexes_.commit_index = std::max(indexes_.commit_index, request.commit_index());
    indexes_.global_index = std::max(indexes_.global_index, request.global_index());
    indexes_.snapshot_index = std::max(indexes_.snapshot_index, request.snapshot_index());
    indexes_.minor_index = std::max(indexes_.minor_index, request.minor_index());
    return on_status(id);
}

StorageService::Reply StorageService::on_status(uint64_t id) {
    flatbuffers::FlatBufferBuilder builder(256);
    fb::StatusResponseBuilder status(builder);
    status.add_first_index(log_.first_index());
    status.add_last_index(log_.last_index());
    status.add_durable_index(log_.durable_index());
    status.add_term(log_.meta().term);
    status.add_vote(log_.meta().vote);
    status.add_commit_index(indexes_.commit_index);
    status.add_global_index(indexes_.global_index);
    status.add_snapshot_index(indexes_.snapshot_index);
    status.add_minor_index(indexes_.minor_index);
    status.add_size_bytes(log_.size_bytes());
    status.add_sealed_through(log_.sealed_through());
    status.add_releases_complete(releases_.complete);
    return finish_message(builder, id, status.Finish());
}

StorageService::Reply StorageService::on_term_at(uint64_t id, const fb::TermAtRequest& request) {
    std::optional<uint64_t> term = log_.term_at(request.index());
    flatbuffers::FlatBufferBuilder builder(64);
    return finish_message(
        builder, id,
        fb::CreateTermAtResponse(builder, request.index(), term.value_or(0), term.has_value()));
}

StorageService::Reply StorageService::on_list_segments(uint64_t id) {
    flatbuffers::FlatBufferBuilder builder(1024);
    std::vector<flatbuffers::Offset<fb::SegmentInfo>> infos;
    for (const SegmentSummary& summary : log_.segments()) {
        infos.push_back(build_segment_info(builder, summary));
    }
    auto list = builder.CreateVector(infos);
    return finish_message(builder, id, fb::CreateListSegmentsResponse(builder, list));
}

StorageService::Reply StorageService::on_install_segment(uint64_t id,
                                                         const fb::InstallSegmentRequest& request) {
    if (request.replaces() == nullptr || request.file_name() == nullptr) {
        return refuse(id, invalid_argument("install needs replaces and file_name"));
    }
    std::span<const uint64_t> replaces(request.replaces()->data(), request.replaces()->size());
    Result<SegmentSummary> installed = log_.install_segment(replaces, request.file_name()->str());
    if (!installed.is_ok()) return refuse(id, installed.status());
    flatbuffers::FlatBufferBuilder builder(256);
    auto info = build_segment_info(builder, *installed);
    return finish_message(builder, id, fb::CreateInstallSegmentResponse(builder, info));
}

StorageService::Reply StorageService::on_release_bits(uint64_t id,
                                                      const fb::ReleaseBitsRequest& request) {
    std::vector<SegmentBits> found;
    if (request.segments() != nullptr) {
        found = log_.release_bits(
            std::span<const uint64_t>(request.segments()->data(), request.segments()->size()));
    }
    size_t bytes = 0;
    for (const SegmentBits& bits : found) bytes += bits.bits.size();
    flatbuffers::FlatBufferBuilder builder(256 + bytes + found.size() * 64);
    std::vector<flatbuffers::Offset<fb::SegmentBits>> list;
    for (const SegmentBits& bits : found) list.push_back(build_segment_bits(builder, bits));
    auto segments = builder.CreateVector(list);
    return finish_message(
        builder, id,
        fb::CreateReleaseBitsResponse(builder, segments, releases_.complete, releases_.global_cap));
}

StorageService::Reply StorageService::on_remove_leftovers(uint64_t id) {
    Result<std::vector<std::string>> removed = log_.remove_leftovers();
    if (!removed.is_ok()) return refuse(id, removed.status());
    for (const std::string& name : *removed) {
        log::info("removed a compaction leftover the manifest does not name", {{"file", name}});
    }
    flatbuffers::FlatBufferBuilder builder(128);
    auto names = builder.CreateVectorOfStrings(*removed);
    return finish_message(builder, id, fb::CreateRemoveLeftoversResponse(builder, names));
}

void StorageService::refresh_gauges() {
    if (metrics_ == nullptr) return;
    std::vector<SegmentSummary> segments = log_.segments();
    metrics_->segments_sealed.Set(static_cast<double>(segments.size() - 1));
    metrics_->segments_active.Set(1);
    metrics_->size_bytes.Set(static_cast<double>(log_.size_bytes()));
    metrics_->first_index.Set(static_cast<double>(log_.first_index()));
    metrics_->last_index.Set(static_cast<double>(log_.last_index()));
}

}  // namespace copycat::logstore
