// How copycat-consensus stores a Raft entry in the logstore (consensus/server/log_codec.h): the
// entry type, its timestamp and the timestamp of the entry before it ahead of the payload.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "consensus/server/log_codec.h"

namespace copycat::server {
namespace {

raft::Entry sample() {
    raft::Entry entry;
    entry.index = 42;
    entry.term = 7;
    entry.type = raft::EntryType::configuration;
    entry.timestamp_ms = 1'700'000'000'123;
    entry.compaction_mode = 5;
    entry.payload = {1, 2, 3};
    entry.previous_timestamp_ms = 1'700'000'000'100;
    return entry;
}

TEST(LogCodecTest, AnEntryComesBackWithEveryField) {
    const raft::Entry entry = sample();
    Result<raft::Entry> back = from_stored_entry(to_stored_entry(entry));
    ASSERT_TRUE(back.is_ok()) << back.status().message();
    EXPECT_EQ(back.value(), entry);
}

// Entries stored before the previous timestamp existed: type and timestamp, then the payload.
TEST(LogCodecTest, AnEntryStoredWithTheShortHeaderReadsWithPreviousTimestampZero) {
    raft::Entry entry = sample();
    logstore::Entry stored{entry.index, entry.term, entry.compaction_mode, {}};
    stored.payload.push_back(static_cast<uint8_t>(entry.type));
    for (int i = 0; i < 8; ++i) {
        stored.payload.push_back(static_cast<uint8_t>(entry.timestamp_ms >> (8 * i)));
    }
    stored.payload.insert(stored.payload.end(), entry.payload.begin(), entry.payload.end());
    Result<raft::Entry> back = from_stored_entry(stored);
    ASSERT_TRUE(back.is_ok()) << back.status().message();
    entry.previous_timestamp_ms = 0;
    EXPECT_EQ(back.value(), entry);
}

TEST(LogCodecTest, AHeaderCutShortOrAnUnknownTypeIsCorruption) {
    logstore::Entry stored = to_stored_entry(sample());
    logstore::Entry cut = stored;
    cut.payload.resize(12);  // the long header announced, not all there
    EXPECT_FALSE(from_stored_entry(cut).is_ok());
    logstore::Entry unknown = stored;
    unknown.payload[0] = 0x80 | 0x7f;
    EXPECT_FALSE(from_stored_entry(unknown).is_ok());
}

}  // namespace
}  // namespace copycat::server
