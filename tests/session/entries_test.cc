// The session log entries (entries.h): what the leader logs must come back the same on every
// server, and committed garbage must be refused with a reason, never crash a server.
#include "consensus/session/entries.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "common/codec.h"

namespace copycat::session {
namespace {

using statemachine::CompactionMode;

std::vector<SessionEntry> samples() {
    KeepAliveEntry many;
    for (uint64_t i = 1; i <= 300; ++i) many.sessions.push_back({i, i * 7, i * 1'000'000'007});
    return {
        RegisterEntry{"client-1", 5000},
        RegisterEntry{"", 0},
        RegisterEntry{std::string(1000, 'c'), UINT64_MAX},
        KeepAliveEntry{},
        KeepAliveEntry{{{3, 9, 12}}},
        many,
        UnregisterEntry{42, false},
        UnregisterEntry{UINT64_MAX, true},
        CommandEntry{7, 1, {"map.put", {1, 2, 3}}},
        CommandEntry{7, 2, {"", {}}},
        CommandEntry{1, UINT64_MAX, {"x", Bytes(100'000, 0xab)}},
    };
}

TEST(SessionEntries, EveryKindRoundTrips) {
    for (const SessionEntry& entry : samples()) {
        Result<SessionEntry> decoded = decode_entry(encode_entry(entry));
        ASSERT_TRUE(decoded.is_ok()) << decoded.status().to_string();
        EXPECT_EQ(*decoded, entry);
    }
}

TEST(SessionEntries, EveryTruncationIsRefused) {
    for (const SessionEntry& entry : samples()) {
        Bytes bytes = encode_entry(entry);
        for (size_t length = 0; length < bytes.size(); ++length) {
            Bytes cut(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(length));
            EXPECT_FALSE(decode_entry(cut).is_ok()) << "length " << length;
        }
    }
}

TEST(SessionEntries, TrailingBytesAreRefused) {
    Bytes bytes = encode_entry(UnregisterEntry{5, true});
    bytes.push_back(0);
    Result<SessionEntry> decoded = decode_entry(bytes);
    ASSERT_FALSE(decoded.is_ok());
    EXPECT_NE(decoded.status().message().find("trailing"), std::string::npos);
}

TEST(SessionEntries, UnknownKindIsRefused) {
    for (uint8_t kind : {uint8_t{0}, uint8_t{5}, uint8_t{255}}) {
        Result<SessionEntry> decoded = decode_entry(Bytes{kind, 1, 1});
        ASSERT_FALSE(decoded.is_ok());
        EXPECT_NE(decoded.status().message().find("unknown kind"), std::string::npos);
    }
}

TEST(SessionEntries, AbsurdKeepAliveCountIsRefusedWithoutReserving) {
    // Kind 2 (keep-alive), then a count of 2^62 items followed by three bytes.
    codec::Writer out;
    out.u8(2);
    out.varint(uint64_t{1} << 62);
    out.varint(1);
    out.varint(1);
    out.varint(1);
    EXPECT_FALSE(decode_entry(out.bytes()).is_ok());
}

TEST(SessionEntries, BooleanOtherThanZeroOrOneIsRefused) {
    Bytes bytes = encode_entry(UnregisterEntry{5, true});
    bytes.back() = 2;
    EXPECT_FALSE(decode_entry(bytes).is_ok());
}

TEST(SessionEntries, HugeStringLengthIsRefused) {
    codec::Writer out;
    out.u8(1);  // register
    out.varint(UINT64_MAX);
    EXPECT_FALSE(decode_entry(out.bytes()).is_ok());
}

// Thousands of mutated encodings (bytes flipped, inserted, removed): decoding never crashes,
// and whatever it accepts is a well-formed entry that encodes and decodes to itself.
TEST(SessionEntries, MutatedEncodingsNeverCrash) {
    std::mt19937_64 random(20240611);
    const std::vector<SessionEntry> entries = samples();
    size_t accepted = 0;
    for (int round = 0; round < 5000; ++round) {
        Bytes bytes = encode_entry(entries[random() % entries.size()]);
        const int mutations = 1 + static_cast<int>(random() % 4);
        for (int m = 0; m < mutations && !bytes.empty(); ++m) {
            const size_t at = random() % bytes.size();
            switch (random() % 3) {
                case 0: bytes[at] = static_cast<uint8_t>(random()); break;
                case 1: bytes.insert(bytes.begin() + at, static_cast<uint8_t>(random())); break;
                default: bytes.erase(bytes.begin() + at); break;
            }
        }
        Result<SessionEntry> decoded = decode_entry(bytes);
        if (!decoded.is_ok()) {
            EXPECT_FALSE(decoded.status().message().empty());
            continue;
        }
        ++accepted;
        Result<SessionEntry> again = decode_entry(encode_entry(*decoded));
        ASSERT_TRUE(again.is_ok());
        EXPECT_EQ(*again, *decoded);
    }
    // Both paths ran: some mutations keep an entry well formed (a changed number), most do not.
    EXPECT_GT(accepted, 0u);
    EXPECT_LT(accepted, 5000u);
}

TEST(SessionEntries, CompactionModesOfSessionEntries) {
    EXPECT_EQ(entry_compaction(RegisterEntry{"c", 1}), CompactionMode::quorum);
    EXPECT_EQ(entry_compaction(KeepAliveEntry{}), CompactionMode::quorum);
    EXPECT_EQ(entry_compaction(UnregisterEntry{1, false}), CompactionMode::tombstone);
    EXPECT_EQ(entry_compaction(CommandEntry{1, 1, {"", {}}}), CompactionMode::release);
    // A real command's mode comes from its Admission; asked here, the safest.
    EXPECT_EQ(entry_compaction(CommandEntry{1, 1, {"map.put", {}}}), CompactionMode::unknown);
}

TEST(SessionProtocol, NamesOfCodes) {
    EXPECT_STREQ(error_code_name(ErrorCode::ok), "ok");
    EXPECT_STREQ(error_code_name(ErrorCode::unknown_session), "unknown_session");
    EXPECT_STREQ(error_code_name(ErrorCode::timeout), "timeout");
    EXPECT_STREQ(error_code_name(static_cast<ErrorCode>(200)), "invalid");
    EXPECT_STREQ(consistency_name(Consistency::linearizable_lease), "linearizable_lease");
    EXPECT_STREQ(consistency_name(Consistency::sequential), "sequential");
    EXPECT_STREQ(consistency_name(static_cast<Consistency>(9)), "invalid");
}

TEST(StateMachineNames, CompactionModesAndSessionStates) {
    for (uint8_t value = 0; value <= 8; ++value) {
        std::optional<CompactionMode> mode = statemachine::compaction_mode_from_byte(value);
        ASSERT_TRUE(mode.has_value());
        EXPECT_EQ(static_cast<uint8_t>(*mode), value);
        EXPECT_STRNE(statemachine::compaction_mode_name(*mode), "invalid");
    }
    EXPECT_FALSE(statemachine::compaction_mode_from_byte(9).has_value());
    EXPECT_STREQ(statemachine::compaction_mode_name(CompactionMode::tombstone), "tombstone");
    EXPECT_STREQ(statemachine::session_state_name(statemachine::SessionState::unstable),
                 "unstable");
}

}  // namespace
}  // namespace copycat::session
