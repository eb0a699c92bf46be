#include "consensus/server/log_codec.h"

#include <string>

namespace copycat::server {

namespace {
constexpr size_t kHeaderBytes = 9;
}

logstore::Entry to_stored_entry(const raft::Entry& entry) {
    logstore::Entry stored{entry.index, entry.term, entry.compaction_mode, {}};
    stored.payload.reserve(kHeaderBytes + entry.payload.size());
    stored.payload.push_back(static_cast<uint8_t>(entry.type));
    for (int i = 0; i < 8; ++i) {
        stored.payload.push_back(static_cast<uint8_t>(entry.timestamp_ms >> (8 * i)));
    }
    stored.payload.insert(stored.payload.end(), entry.payload.begin(), entry.payload.end());
    return stored;
}

Result<raft::Entry> from_stored_entry(logstore::Entry stored) {
    const std::vector<uint8_t>& bytes = stored.payload;
    if (bytes.size() < kHeaderBytes) {
        return corruption("stored entry " + std::to_string(stored.index) +
                          " is shorter than its header");
    }
    uint8_t type = bytes[0];
    if (type < static_cast<uint8_t>(raft::EntryType::initialize) ||
        type > static_cast<uint8_t>(raft::EntryType::command)) {
        return corruption("stored entry " + std::to_string(stored.index) + " has entry type " +
                          std::to_string(type));
    }
    raft::Entry entry;
    entry.index = stored.index;
    entry.term = stored.term;
    entry.type = static_cast<raft::EntryType>(type);
    for (int i = 0; i < 8; ++i)
        entry.timestamp_ms |= static_cast<uint64_t>(bytes[1 + i]) << (8 * i);
    entry.compaction_mode = stored.mode;
    entry.payload.assign(bytes.begin() + kHeaderBytes, bytes.end());
    return entry;
}

}  // namespace copycat::server
