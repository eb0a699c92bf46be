#include "logstore/record.h"

#include <cstring>

#include "common/crc32c.h"

namespace copycat::logstore {
namespace {

constexpr char kSegmentMagic[8] = {'C', 'C', 'S', 'E', 'G', 'M', 'N', 'T'};

void put_u32(uint8_t* out, uint32_t value) { std::memcpy(out, &value, 4); }
void put_u64(uint8_t* out, uint64_t value) { std::memcpy(out, &value, 8); }

uint32_t get_u32(const uint8_t* in) {
    uint32_t value;
    std::memcpy(&value, in, 4);
    return value;
}

uint64_t get_u64(const uint8_t* in) {
    uint64_t value;
    std::memcpy(&value, in, 8);
    return value;
}

}  // namespace

void encode_segment_header(const SegmentHeader& header, uint8_t* out) {
    std::memset(out, 0, kSegmentHeaderBytes);
    std::memcpy(out, kSegmentMagic, 8);
    put_u32(out + 8, kSegmentFormat);
    put_u64(out + 16, header.id);
    put_u64(out + 24, header.version);
    put_u64(out + 32, header.first_index);
    put_u64(out + 40, header.created_ms);
    put_u32(out + 60, crc32c(out, 60));
}

std::optional<SegmentHeader> decode_segment_header(std::span<const uint8_t> bytes) {
    if (bytes.size() < kSegmentHeaderBytes) return std::nullopt;
    const uint8_t* in = bytes.data();
    if (std::memcmp(in, kSegmentMagic, 8) != 0) return std::nullopt;
    if (get_u32(in + 60) != crc32c(in, 60)) return std::nullopt;
    if (get_u32(in + 8) != kSegmentFormat) return std::nullopt;
    SegmentHeader header;
    header.id = get_u64(in + 16);
    header.version = get_u64(in + 24);
    header.first_index = get_u64(in + 32);
    header.created_ms = get_u64(in + 40);
    return header;
}

Entry RecordView::to_entry() const {
    return Entry{index, term, mode, std::vector<uint8_t>(payload.begin(), payload.end())};
}

size_t record_size(size_t payload_bytes) { return kRecordHeaderBytes + payload_bytes; }

uint32_t append_record(std::vector<uint8_t>& out, uint64_t index, uint64_t term, uint8_t mode,
                       std::span<const uint8_t> payload) {
    size_t start = out.size();
    out.resize(start + kRecordHeaderBytes + payload.size());
    uint8_t* p = out.data() + start;
    put_u32(p + 4, static_cast<uint32_t>(payload.size()));
    put_u64(p + 8, index);
    put_u64(p + 16, term);
    p[24] = mode;
    if (!payload.empty()) std::memcpy(p + kRecordHeaderBytes, payload.data(), payload.size());
    uint32_t crc = crc32c(p + 4, kRecordHeaderBytes - 4 + payload.size());
    put_u32(p, crc);
    return crc;
}

const char* record_check_name(RecordCheck check) {
    switch (check) {
        case RecordCheck::ok: return "ok";
        case RecordCheck::truncated: return "record cut short";
        case RecordCheck::too_large: return "record length over the entry limit";
        case RecordCheck::bad_crc: return "CRC mismatch";
    }
    return "unknown";
}

RecordCheck decode_record(std::span<const uint8_t> bytes, uint32_t entry_max_bytes,
                          RecordView* out) {
    if (bytes.size() < kRecordHeaderBytes) return RecordCheck::truncated;
    const uint8_t* p = bytes.data();
    uint32_t length = get_u32(p + 4);
    if (length > entry_max_bytes) return RecordCheck::too_large;
    if (bytes.size() - kRecordHeaderBytes < length) return RecordCheck::truncated;
    uint32_t crc = get_u32(p);
    if (crc != crc32c(p + 4, kRecordHeaderBytes - 4 + length)) return RecordCheck::bad_crc;
    out->crc = crc;
    out->index = get_u64(p + 8);
    out->term = get_u64(p + 16);
    out->mode = p[24];
    out->payload = bytes.subspan(kRecordHeaderBytes, length);
    return RecordCheck::ok;
}

}  // namespace copycat::logstore
