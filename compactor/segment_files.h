// The compactor's files (logstore/FORMAT.md, "Segments" and "Compaction"): reading a sealed
// segment of the log read-only, and writing a compacted version beside it. Built on the
// logstore's own encoders and scan (logstore/record.h, segment.h, file.h), so the bytes are the
// logstore's format by construction.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "common/status.h"
#include "logstore/log.h"
#include "logstore/record.h"

namespace copycat::compactor {

// One record of a segment file image.
struct RecordPlace {
    uint64_t offset = 0;  // in the image
    uint64_t size_bytes = 0;
    uint64_t index = 0;
    uint64_t term = 0;
    uint8_t mode = 0;
};

// A sealed segment read whole: its bytes and where each record is.
struct SegmentImage {
    logstore::SegmentHeader header;
    std::vector<uint8_t> bytes;
    std::vector<RecordPlace> records;
};

// Reads the file of `segment` from `directory` (opened read-only) and checks it is what the
// logstore listed: header of that id, version and first index, every record intact, nothing
// after the last one, as many records as listed. Anything else is an error naming the file.
Result<SegmentImage> read_sealed_segment(const std::string& directory,
                                         const logstore::SegmentSummary& segment);

// Writes `header` and the kept records (keep[k] for the k-th record of the images, in order)
// as segment-<id>-v<version>.log in directory: first to that name + ".tmp", fdatasync'd, then
// renamed, and the directory fsync'd (logstore/file.h, replace_file: crash points
// replace.after_tmp_write and replace.after_rename). Returns the file name and its size.
struct WrittenSegment {
    std::string file_name;
    uint64_t size_bytes = 0;
};
Result<WrittenSegment> write_compacted_segment(const std::string& directory,
                                               const logstore::SegmentHeader& header,
                                               std::span<const SegmentImage> images,
                                               const std::vector<bool>& keep);

}  // namespace copycat::compactor
