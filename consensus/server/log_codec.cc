#include "consensus/server/log_codec.h"

#include <string>

namespace copycat::server {

namespace {
// The stored payload: type, timestamp (8 bytes, little-endian) and, when the type byte has
// kWithPrevious set, the previous entry's timestamp (8 more); then the entry's payload.
// Entries stored before the previous timestamp existed have the short header (read as 0).
constexpr size_t kHeaderBytes = 9;
constexpr size_t kLongHeaderBytes = 17;
constexpr uint8_t kWithPrevious = 0x80;

void put_u64(std::vector<uint8_t>& out, uint64_t value) {
    for (int i = 0; i < 8; ++i) out.push_back(static_cast<uint8_t>(value >> (8 * i)));
}

uint64_t get_u64(const uint8_t* in) {
    uint64_t value = 0;
    for (int i = 0; i < 8; ++i) value |= static_cast<uint64_t>(in[i]) << (8 * i);
    return value;
}
}  // namespace

logstore::Entry to_stored_entry(const raft::Entry& entry) {
    logstore::Entry stored{entry.index, entry.term, entry.compaction_mode, {}};
    stored.payload.reserve(kLongHeaderBytes + entry.payload.size());
    stored.payload.push_back(static_cast<uint8_t>(entry.type) | kWithPrevious);
    put_u64(stored.payload, entry.timestamp_ms);
    put_u64(stored.payload, entry.previous_timestamp_ms);
    stored.payload.insert(stored.payload.end(), entry.payload.begin(), entry.payload.end());
    return stored;
}

Result<raft::Entry> from_stored_entry(logstore::Entry stored) {
    const std::vector<uint8_t>& bytes = stored.payload;
    if (bytes.size() < kHeaderBytes) {
        return corruption("stored entry " + std::to_string(stored.index) +
                          " is shorter than its header");
    }
    const bool with_previous = (bytes[0] & kWithPrevious) != 0;
    const size_t header = with_previous ? kLongHeaderBytes : kHeaderBytes;
    if (bytes.size() < header) {
        return corruption("stored entry " + std::to_string(stored.index) +
                          " is shorter than its header");
    }
    uint8_t type = bytes[0] & static_cast<uint8_t>(~kWithPrevious);
    if (type < static_cast<uint8_t>(raft::EntryType::initialize) ||
        type > static_cast<uint8_t>(raft::EntryType::command)) {
        return corruption("stored entry " + std::to_string(stored.index) + " has entry type " +
                          std::to_string(type));
    }
    raft::Entry entry;
    entry.index = stored.index;
    entry.term = stored.term;
    entry.type = static_cast<raft::EntryType>(type);
    entry.timestamp_ms = get_u64(bytes.data() + 1);
    if (with_previous) entry.previous_timestamp_ms = get_u64(bytes.data() + kHeaderBytes);
    entry.compaction_mode = stored.mode;
    entry.payload.assign(bytes.begin() + static_cast<long>(header), bytes.end());
    return entry;
}

}  // namespace copycat::server
