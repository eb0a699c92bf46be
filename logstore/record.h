// Byte layouts of segment headers and records (logstore/FORMAT.md, "Segments").
// Pure functions: no files, no state.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace copycat::logstore {

inline constexpr size_t kSegmentHeaderBytes = 64;
inline constexpr size_t kRecordHeaderBytes = 25;
inline constexpr uint32_t kSegmentFormat = 1;

struct SegmentHeader {
    uint64_t id = 0;
    uint64_t version = 1;
    uint64_t first_index = 1;
    uint64_t created_ms = 0;
};

void encode_segment_header(const SegmentHeader& header, uint8_t* out /* 64 bytes */);
// nullopt when the magic, format or CRC is wrong.
std::optional<SegmentHeader> decode_segment_header(std::span<const uint8_t> bytes);

// One entry as the logstore stores it; the payload is opaque.
struct Entry {
    uint64_t index = 0;
    uint64_t term = 0;
    uint8_t mode = 0;
    std::vector<uint8_t> payload;

    bool operator==(const Entry&) const = default;
};

// A record decoded in place: the payload points into the buffer it was read from.
struct RecordView {
    uint32_t crc = 0;
    uint64_t index = 0;
    uint64_t term = 0;
    uint8_t mode = 0;
    std::span<const uint8_t> payload;

    size_t size_bytes() const { return kRecordHeaderBytes + payload.size(); }
    Entry to_entry() const;
};

size_t record_size(size_t payload_bytes);
// Appends the encoded record to out and returns its CRC.
uint32_t append_record(std::vector<uint8_t>& out, uint64_t index, uint64_t term, uint8_t mode,
                       std::span<const uint8_t> payload);

enum class RecordCheck {
    ok,
    truncated,  // fewer bytes than the header or the payload need
    too_large,  // the length field exceeds the entry limit
    bad_crc,
};

const char* record_check_name(RecordCheck check);

// Decodes the record at the start of bytes, verifying its length and CRC.
RecordCheck decode_record(std::span<const uint8_t> bytes, uint32_t entry_max_bytes,
                          RecordView* out);

}  // namespace copycat::logstore
