// Byte layouts of segment headers and records (FORMAT.md, "Segments").
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "logstore/record.h"
#include "logstore/segment.h"
#include "tests/logstore/log_test_util.h"

namespace copycat::logstore {
namespace {

std::vector<uint8_t> encoded_header(const SegmentHeader& header) {
    std::vector<uint8_t> bytes(kSegmentHeaderBytes);
    encode_segment_header(header, bytes.data());
    return bytes;
}

TEST(SegmentHeader, RoundTripsEveryField) {
    SegmentHeader header{12345678901ull, 7, 1ull << 40, 1700000000123ull};
    std::vector<uint8_t> bytes = encoded_header(header);
    std::optional<SegmentHeader> decoded = decode_segment_header(bytes);
    ASSERT_TRUE(decoded.has_value());
    EXPECT_EQ(decoded->id, header.id);
    EXPECT_EQ(decoded->version, header.version);
    EXPECT_EQ(decoded->first_index, header.first_index);
    EXPECT_EQ(decoded->created_ms, header.created_ms);
}

TEST(SegmentHeader, LayoutMatchesTheFormat) {
    std::vector<uint8_t> bytes = encoded_header({3, 2, 99, 5});
    EXPECT_EQ(std::memcmp(bytes.data(), "CCSEGMNT", 8), 0);
    EXPECT_EQ(bytes[8], 1);  // format 1, little-endian
    EXPECT_EQ(bytes[16], 3);
    EXPECT_EQ(bytes[24], 2);
    EXPECT_EQ(bytes[32], 99);
    EXPECT_EQ(bytes[40], 5);
    for (size_t reserved : {12, 13, 14, 15, 48, 59}) EXPECT_EQ(bytes[reserved], 0);
}

TEST(SegmentHeader, EveryFlippedBitIsRefused) {
    const std::vector<uint8_t> good = encoded_header({1, 1, 1, 42});
    for (size_t bit = 0; bit < kSegmentHeaderBytes * 8; ++bit) {
        std::vector<uint8_t> bytes = good;
        bytes[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
        EXPECT_FALSE(decode_segment_header(bytes).has_value()) << "bit " << bit;
    }
}

TEST(SegmentHeader, ShortInputIsRefused) {
    std::vector<uint8_t> bytes = encoded_header({1, 1, 1, 0});
    bytes.pop_back();
    EXPECT_FALSE(decode_segment_header(bytes).has_value());
}

TEST(Record, RoundTripsEntriesOfSeveralSizes) {
    for (size_t size : {0, 1, 24, 25, 1000, 70000}) {
        Entry entry = test_entry(1000 + size, 9, size);
        std::vector<uint8_t> bytes;
        uint32_t crc = append_record(bytes, entry.index, entry.term, entry.mode, entry.payload);
        ASSERT_EQ(bytes.size(), record_size(size));
        RecordView view;
        ASSERT_EQ(decode_record(bytes, 1u << 20, &view), RecordCheck::ok) << size;
        EXPECT_EQ(view.crc, crc);
        EXPECT_EQ(view.size_bytes(), bytes.size());
        EXPECT_EQ(view.to_entry(), entry);
    }
}

TEST(Record, LayoutMatchesTheFormat) {
    std::vector<uint8_t> bytes;
    append_record(bytes, 0x0102, 0x0304, 2, std::vector<uint8_t>{0xaa, 0xbb});
    ASSERT_EQ(bytes.size(), 27u);
    EXPECT_EQ(bytes[4], 2);  // payload length
    EXPECT_EQ(bytes[8], 0x02);
    EXPECT_EQ(bytes[9], 0x01);
    EXPECT_EQ(bytes[16], 0x04);
    EXPECT_EQ(bytes[24], 2);
    EXPECT_EQ(bytes[25], 0xaa);
}

TEST(Record, RecordsDecodeBackToBack) {
    std::vector<Entry> entries = test_entries(5, 9, 2, 10);
    std::vector<uint8_t> bytes;
    for (const Entry& e : entries) append_record(bytes, e.index, e.term, e.mode, e.payload);
    size_t offset = 0;
    for (const Entry& e : entries) {
        RecordView view;
        ASSERT_EQ(decode_record(std::span<const uint8_t>(bytes).subspan(offset), 100, &view),
                  RecordCheck::ok);
        EXPECT_EQ(view.to_entry(), e);
        offset += view.size_bytes();
    }
    EXPECT_EQ(offset, bytes.size());
}

TEST(Record, EveryCutIsTruncated) {
    std::vector<uint8_t> bytes;
    append_record(bytes, 1, 1, 0, test_payload(1, 1, 30));
    for (size_t size = 0; size < bytes.size(); ++size) {
        RecordView view;
        auto cut = std::span<const uint8_t>(bytes).first(size);
        EXPECT_EQ(decode_record(cut, 100, &view), RecordCheck::truncated) << size;
    }
}

TEST(Record, EveryFlippedBitIsRefused) {
    std::vector<uint8_t> good;
    append_record(good, 77, 3, 1, test_payload(77, 3, 20));
    for (size_t bit = 0; bit < good.size() * 8; ++bit) {
        std::vector<uint8_t> bytes = good;
        bytes[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
        RecordView view;
        EXPECT_NE(decode_record(bytes, 1u << 20, &view), RecordCheck::ok) << "bit " << bit;
    }
}

TEST(Record, LengthOverTheEntryLimitIsTooLarge) {
    std::vector<uint8_t> bytes;
    append_record(bytes, 1, 1, 0, test_payload(1, 1, 101));
    RecordView view;
    EXPECT_EQ(decode_record(bytes, 100, &view), RecordCheck::too_large);
    EXPECT_EQ(decode_record(bytes, 101, &view), RecordCheck::ok);
}

TEST(SegmentFileName, RoundTripsAndRefusesOtherNames) {
    EXPECT_EQ(segment_file_name(1, 2), "segment-00000001-v2.log");
    EXPECT_EQ(release_file_name(1, 2), "segment-00000001-v2.release");
    EXPECT_EQ(segment_file_name(123456789, 1), "segment-123456789-v1.log");
    uint64_t id = 0, version = 0;
    ASSERT_TRUE(parse_segment_file_name("segment-00000042-v3.log", &id, &version));
    EXPECT_EQ(id, 42u);
    EXPECT_EQ(version, 3u);
    for (const char* name : {"segment-42-v3.log", "segment-00000042-v3.log.tmp",
                             "segment-00000042-v3.release", "segment-00000042.log", "MANIFEST"}) {
        EXPECT_FALSE(parse_segment_file_name(name, &id, &version)) << name;
    }
}

}  // namespace
}  // namespace copycat::logstore
