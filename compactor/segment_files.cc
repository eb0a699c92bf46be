#include "compactor/segment_files.h"

#include "common/assert.h"
#include "logstore/file.h"
#include "logstore/segment.h"

namespace copycat::compactor {

Result<SegmentImage> read_sealed_segment(const std::string& directory,
                                         const logstore::SegmentSummary& segment) {
    std::string path = directory + "/" + segment.file_name;
    Result<std::vector<uint8_t>> bytes = logstore::read_whole_file(path);
    if (!bytes.is_ok()) return bytes.status();
    SegmentImage image;
    std::optional<logstore::SegmentHeader> header = logstore::decode_segment_header(*bytes);
    if (!header || header->id != segment.id || header->version != segment.version ||
        header->first_index != segment.first_index) {
        return corruption("segment header of " + path + " is not that of the segment listed");
    }
    image.header = *header;
    logstore::ScanOutcome scan = logstore::scan_segment(
        *bytes, *header, UINT32_MAX, [&](const logstore::RecordView& r, uint64_t offset) {
            image.records.push_back({offset, r.size_bytes(), r.index, r.term, r.mode});
        });
    if (scan.bad_offset || scan.valid_end != bytes->size() || scan.records != segment.records) {
        return corruption(path + " is not the sealed segment listed: " +
                          (scan.bad_offset
                               ? scan.problem + " at offset " + std::to_string(*scan.bad_offset)
                               : std::to_string(scan.records) + " records"));
    }
    image.bytes = std::move(*bytes);
    return image;
}

Result<WrittenSegment> write_compacted_segment(const std::string& directory,
                                               const logstore::SegmentHeader& header,
                                               std::span<const SegmentImage> images,
                                               const std::vector<bool>& keep) {
    std::vector<uint8_t> bytes(logstore::kSegmentHeaderBytes);
    logstore::encode_segment_header(header, bytes.data());
    size_t k = 0;
    for (const SegmentImage& image : images) {
        for (const RecordPlace& record : image.records) {
            COPYCAT_ASSERT(k < keep.size(), "fewer keep decisions than records");
            if (keep[k++]) {
                // The record's bytes as they are: the logstore checks that index, term and CRC
                // of each kept record match the replaced segments.
                auto first = image.bytes.begin() + static_cast<long>(record.offset);
                bytes.insert(bytes.end(), first, first + static_cast<long>(record.size_bytes));
            }
        }
    }
    COPYCAT_ASSERT(k == keep.size(), "more keep decisions than records");
    WrittenSegment written{logstore::segment_file_name(header.id, header.version), bytes.size()};
    COPYCAT_RETURN_IF_ERROR(
        logstore::replace_file(directory + "/" + written.file_name, bytes, /*durable=*/true));
    return written;
}

}  // namespace copycat::compactor
