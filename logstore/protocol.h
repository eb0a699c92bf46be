// Building and reading the messages of the storage protocol (schemas/storage.fbs),
// shared by copycat-logstore, its clients, tests and the benchmark.
#pragma once

#include <flatbuffers/flatbuffers.h>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "logstore/log.h"
#include "logstore/record.h"
#include "schemas/storage_generated.h"

namespace copycat::logstore {

namespace fb = copycat::storage;

// The verified message in bytes, or nullptr when they are not a valid StorageMessage.
const fb::StorageMessage* parse_message(std::span<const uint8_t> bytes);

// Wraps a body built in builder into a StorageMessage and returns the finished bytes.
template <typename Body>
std::vector<uint8_t> finish_message(flatbuffers::FlatBufferBuilder& builder, uint64_t request_id,
                                    flatbuffers::Offset<Body> body) {
    auto message = fb::CreateStorageMessage(builder, request_id, fb::BodyTraits<Body>::enum_value,
                                            body.Union());
    builder.Finish(message, fb::StorageMessageIdentifier());
    return std::vector<uint8_t>(builder.GetBufferPointer(),
                                builder.GetBufferPointer() + builder.GetSize());
}

flatbuffers::Offset<flatbuffers::Vector<flatbuffers::Offset<fb::Entry>>> build_entries(
    flatbuffers::FlatBufferBuilder& builder, std::span<const Entry> entries);

std::vector<uint8_t> make_append(uint64_t request_id, std::span<const Entry> entries,
                                 bool allow_holes = false);
std::vector<uint8_t> make_read(uint64_t request_id, uint64_t from, uint64_t to, uint32_t max_bytes);
std::vector<uint8_t> make_truncate(uint64_t request_id, uint64_t after_index, uint64_t floor);
std::vector<uint8_t> make_reset(uint64_t request_id, uint64_t next_index);
std::vector<uint8_t> make_save_term(uint64_t request_id, const TermRecord& record);
std::vector<uint8_t> make_save_configuration(uint64_t request_id, uint64_t index, uint64_t term,
                                             std::span<const uint8_t> payload);
// claim_writer: see LoadMetaRequest in schemas/storage.fbs.
std::vector<uint8_t> make_load_meta(uint64_t request_id, bool claim_writer = false);
// A release batch (ReleaseRequest in schemas/storage.fbs: reset, partial, global_cap).
struct ReleaseBatch {
    bool reset = false;
    bool partial = false;
    uint64_t global_cap = UINT64_MAX;
};
std::vector<uint8_t> make_release(uint64_t request_id, std::span<const uint64_t> indexes,
                                  const ReleaseBatch& batch = {});
std::vector<uint8_t> make_set_indexes(uint64_t request_id, uint64_t commit_index,
                                      uint64_t global_index, uint64_t snapshot_index,
                                      uint64_t minor_index);
std::vector<uint8_t> make_status(uint64_t request_id);
std::vector<uint8_t> make_term_at(uint64_t request_id, uint64_t index);
std::vector<uint8_t> make_list_segments(uint64_t request_id);
std::vector<uint8_t> make_install_segment(uint64_t request_id, std::span<const uint64_t> replaces,
                                          const std::string& file_name);
std::vector<uint8_t> make_release_bits(uint64_t request_id, std::span<const uint64_t> segments);
std::vector<uint8_t> make_remove_leftovers(uint64_t request_id);
// To copycat-compactor: compact now (schemas/storage.fbs, CompactRequest).
std::vector<uint8_t> make_compact(uint64_t request_id, bool major);
// The ErrorCode a refusal with this Status code is sent with.
fb::ErrorCode error_code_for(StatusCode code);
std::vector<uint8_t> make_error(uint64_t request_id, fb::ErrorCode code,
                                const std::string& message);

flatbuffers::Offset<fb::SegmentInfo> build_segment_info(flatbuffers::FlatBufferBuilder& builder,
                                                        const SegmentSummary& summary);
SegmentSummary summary_of(const fb::SegmentInfo& info);
flatbuffers::Offset<fb::SegmentBits> build_segment_bits(flatbuffers::FlatBufferBuilder& builder,
                                                        const SegmentBits& bits);
// nullopt when the bits are fewer than the records need (a reply that does not verify as ours).
std::optional<SegmentBits> segment_bits_of(const fb::SegmentBits& bits);

std::vector<Entry> entries_of(const flatbuffers::Vector<flatbuffers::Offset<fb::Entry>>* list);

}  // namespace copycat::logstore
