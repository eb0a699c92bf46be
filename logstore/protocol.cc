#include "logstore/protocol.h"

#include "common/fbs.h"

namespace copycat::logstore {

const fb::StorageMessage* parse_message(std::span<const uint8_t> bytes) {
    const fb::StorageMessage* message = verify_flatbuffer<fb::StorageMessage>(
        bytes.data(), bytes.size(), fb::StorageMessageIdentifier(), {16, 4'000'000});
    // A union type with no value verifies, but has no body to read (robustness_test.cc).
    if (message == nullptr || message->body_type() == fb::Body::NONE ||
        message->body() == nullptr) {
        return nullptr;
    }
    return message;
}

flatbuffers::Offset<flatbuffers::Vector<flatbuffers::Offset<fb::Entry>>> build_entries(
    flatbuffers::FlatBufferBuilder& builder, std::span<const Entry> entries) {
    std::vector<flatbuffers::Offset<fb::Entry>> offsets;
    offsets.reserve(entries.size());
    for (const Entry& entry : entries) {
        auto payload = builder.CreateVector(entry.payload);
        offsets.push_back(fb::CreateEntry(builder, entry.index, entry.term,
                                          static_cast<fb::CompactionMode>(entry.mode), payload));
    }
    return builder.CreateVector(offsets);
}

std::vector<uint8_t> make_append(uint64_t request_id, std::span<const Entry> entries,
                                 bool allow_holes) {
    flatbuffers::FlatBufferBuilder builder(256 + entries.size() * 160);
    auto list = build_entries(builder, entries);
    return finish_message(builder, request_id, fb::CreateAppendRequest(builder, list, allow_holes));
}

std::vector<uint8_t> make_read(uint64_t request_id, uint64_t from, uint64_t to,
                               uint32_t max_bytes) {
    flatbuffers::FlatBufferBuilder builder(128);
    return finish_message(builder, request_id, fb::CreateReadRequest(builder, from, to, max_bytes));
}

std::vector<uint8_t> make_truncate(uint64_t request_id, uint64_t after_index, uint64_t floor) {
    flatbuffers::FlatBufferBuilder builder(128);
    return finish_message(builder, request_id,
                          fb::CreateTruncateRequest(builder, after_index, floor));
}

std::vector<uint8_t> make_reset(uint64_t request_id, uint64_t next_index) {
    flatbuffers::FlatBufferBuilder builder(128);
    return finish_message(builder, request_id, fb::CreateResetLogRequest(builder, next_index));
}

std::vector<uint8_t> make_save_term(uint64_t request_id, const TermRecord& record) {
    flatbuffers::FlatBufferBuilder builder(128);
    return finish_message(
        builder, request_id,
        fb::CreateSaveTermRequest(builder, record.term, record.vote, record.floor_term,
                                  record.floor_index, record.holes_released_by));
}

std::vector<uint8_t> make_save_configuration(uint64_t request_id, uint64_t index, uint64_t term,
                                             std::span<const uint8_t> payload) {
    flatbuffers::FlatBufferBuilder builder(128 + payload.size());
    auto bytes = builder.CreateVector(payload.data(), payload.size());
    return finish_message(builder, request_id,
                          fb::CreateSaveConfigurationRequest(builder, index, term, bytes));
}

std::vector<uint8_t> make_load_meta(uint64_t request_id, bool claim_writer) {
    flatbuffers::FlatBufferBuilder builder(64);
    return finish_message(builder, request_id, fb::CreateLoadMetaRequest(builder, claim_writer));
}

std::vector<uint8_t> make_release(uint64_t request_id, std::span<const uint64_t> indexes,
                                  const ReleaseBatch& batch) {
    flatbuffers::FlatBufferBuilder builder(64 + indexes.size() * 8);
    auto list = builder.CreateVector(indexes.data(), indexes.size());
    return finish_message(
        builder, request_id,
        fb::CreateReleaseRequest(builder, list, batch.reset, batch.partial, batch.global_cap));
}

std::vector<uint8_t> make_set_indexes(uint64_t request_id, uint64_t commit_index,
                                      uint64_t global_index, uint64_t snapshot_index,
                                      uint64_t minor_index) {
    flatbuffers::FlatBufferBuilder builder(96);
    return finish_message(builder, request_id,
                          fb::CreateSetIndexesRequest(builder, commit_index, global_index,
                                                      snapshot_index, minor_index));
}

std::vector<uint8_t> make_status(uint64_t request_id) {
    flatbuffers::FlatBufferBuilder builder(64);
    return finish_message(builder, request_id, fb::CreateStatusRequest(builder));
}

std::vector<uint8_t> make_term_at(uint64_t request_id, uint64_t index) {
    flatbuffers::FlatBufferBuilder builder(64);
    return finish_message(builder, request_id, fb::CreateTermAtRequest(builder, index));
}

std::vector<uint8_t> make_list_segments(uint64_t request_id) {
    flatbuffers::FlatBufferBuilder builder(64);
    return finish_message(builder, request_id, fb::CreateListSegmentsRequest(builder));
}

std::vector<uint8_t> make_install_segment(uint64_t request_id, std::span<const uint64_t> replaces,
                                          const std::string& file_name) {
    flatbuffers::FlatBufferBuilder builder(128);
    auto list = builder.CreateVector(replaces.data(), replaces.size());
    auto name = builder.CreateString(file_name);
    return finish_message(builder, request_id,
                          fb::CreateInstallSegmentRequest(builder, list, name));
}

std::vector<uint8_t> make_release_bits(uint64_t request_id, std::span<const uint64_t> segments) {
    flatbuffers::FlatBufferBuilder builder(64 + segments.size() * 8);
    auto list = builder.CreateVector(segments.data(), segments.size());
    return finish_message(builder, request_id, fb::CreateReleaseBitsRequest(builder, list));
}

std::vector<uint8_t> make_remove_leftovers(uint64_t request_id) {
    flatbuffers::FlatBufferBuilder builder(64);
    return finish_message(builder, request_id, fb::CreateRemoveLeftoversRequest(builder));
}

std::vector<uint8_t> make_compact(uint64_t request_id, bool major) {
    flatbuffers::FlatBufferBuilder builder(64);
    return finish_message(builder, request_id, fb::CreateCompactRequest(builder, major));
}

fb::ErrorCode error_code_for(StatusCode code) {
    switch (code) {
        case StatusCode::invalid_argument: return fb::ErrorCode::InvalidArgument;
        case StatusCode::out_of_range: return fb::ErrorCode::OutOfRange;
        case StatusCode::conflict: return fb::ErrorCode::Conflict;
        default: return fb::ErrorCode::IoError;
    }
}

std::vector<uint8_t> make_error(uint64_t request_id, fb::ErrorCode code,
                                const std::string& message) {
    flatbuffers::FlatBufferBuilder builder(128 + message.size());
    auto text = builder.CreateString(message);
    return finish_message(builder, request_id, fb::CreateErrorResponse(builder, code, text));
}

std::vector<Entry> entries_of(const flatbuffers::Vector<flatbuffers::Offset<fb::Entry>>* list) {
    std::vector<Entry> entries;
    if (list == nullptr) return entries;
    entries.reserve(list->size());
    for (const fb::Entry* entry : *list) {
        Entry copy{entry->index(), entry->term(), static_cast<uint8_t>(entry->mode()), {}};
        if (entry->payload() != nullptr) {
            copy.payload.assign(entry->payload()->begin(), entry->payload()->end());
        }
        entries.push_back(std::move(copy));
    }
    return entries;
}

flatbuffers::Offset<fb::SegmentInfo> build_segment_info(flatbuffers::FlatBufferBuilder& builder,
                                                        const SegmentSummary& s) {
    auto name = builder.CreateString(s.file_name);
    return fb::CreateSegmentInfo(builder, s.id, s.version, name, s.first_index, s.last_index,
                                 s.records, s.released, s.size_bytes, s.sealed);
}

SegmentSummary summary_of(const fb::SegmentInfo& info) {
    return SegmentSummary{info.id(),
                          info.version(),
                          info.file_name() != nullptr ? info.file_name()->str() : "",
                          info.first_index(),
                          info.last_index(),
                          info.entries(),
                          info.released(),
                          info.size_bytes(),
                          info.sealed()};
}

flatbuffers::Offset<fb::SegmentBits> build_segment_bits(flatbuffers::FlatBufferBuilder& builder,
                                                        const SegmentBits& bits) {
    auto bytes = builder.CreateVector(bits.bits);
    return fb::CreateSegmentBits(builder, bits.id, bits.version, bits.records, bytes);
}

std::optional<SegmentBits> segment_bits_of(const fb::SegmentBits& bits) {
    SegmentBits copy{bits.id(), bits.version(), bits.records(), {}};
    if (bits.bits() != nullptr) copy.bits.assign(bits.bits()->begin(), bits.bits()->end());
    if (copy.bits.size() < (copy.records + 7) / 8) return std::nullopt;
    return copy;
}

}  // namespace copycat::logstore
