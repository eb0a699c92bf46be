// The peer codec (consensus/wire/peer_codec.h): every Raft message crosses the wire with every
// field intact, and what is not a valid peer message is refused with a reason, never a crash.
#include "consensus/wire/peer_codec.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "consensus/wire/client_codec.h"
#include "schemas/peer_generated.h"
#include "tests/wire/wire_test_util.h"

namespace copycat::wire {
namespace {

using testing::Bytes;
using testing::expect_fields_differ;
using testing::expect_fields_equal;
namespace fb = copycat::peer;

// --- the fields of each value, in declaration order (raft/types.h) ---

auto fields(const raft::Entry& m) {
    return std::tie(m.term, m.index, m.type, m.timestamp_ms, m.compaction_mode, m.payload,
                    m.previous_timestamp_ms);
}
auto fields(const raft::Member& m) { return std::tie(m.id, m.type, m.available, m.address); }
auto fields(const raft::Configuration& m) { return std::tie(m.index, m.term, m.members); }
auto fields(const raft::AppendRequest& m) {
    return std::tie(m.term, m.leader, m.prev_index, m.prev_term, m.commit_index, m.global_index,
                    m.round, m.entries, m.holes_released_by);
}
auto fields(const raft::AppendResponse& m) {
    return std::tie(m.term, m.success, m.index, m.round, m.reset);
}
auto fields(const raft::PollRequest& m) {
    return std::tie(m.term, m.candidate, m.last_index, m.last_term);
}
auto fields(const raft::PollResponse& m) { return std::tie(m.term, m.accepted); }
auto fields(const raft::VoteRequest& m) {
    return std::tie(m.term, m.candidate, m.last_index, m.last_term, m.transfer);
}
auto fields(const raft::VoteResponse& m) { return std::tie(m.term, m.granted); }
auto fields(const raft::TimeoutNow& m) { return std::tie(m.term); }
auto fields(const raft::ConfigureRequest& m) {
    return std::tie(m.term, m.leader, m.commit_index, m.configuration);
}
auto fields(const raft::ConfigureResponse& m) { return std::tie(m.term); }
auto fields(const raft::InstallSnapshotRequest& m) {
    return std::tie(m.term, m.leader, m.snapshot_index, m.snapshot_term, m.configuration, m.offset,
                    m.total_bytes, m.data, m.done);
}
auto fields(const raft::InstallSnapshotResponse& m) {
    return std::tie(m.term, m.snapshot_index, m.next_offset, m.installed);
}

// --- samples: every field away from its default, and no two numbers alike, so that a field
// forgotten or swapped in either direction changes the result ---

raft::Entry sample_entry(uint64_t k) {
    return {.term = 7 + k,
            .index = 100 + k,
            .type = k % 2 == 0 ? raft::EntryType::configuration : raft::EntryType::initialize,
            .timestamp_ms = 1'700'000'000'000 + k,
            .compaction_mode = static_cast<uint8_t>(1 + k % 8),
            .payload = {0xde, 0xad, static_cast<uint8_t>(k), 0x00, 0xff},
            .previous_timestamp_ms = 1'699'999'999'000 + k};
}

raft::Configuration sample_configuration() {
    return {.index = 41,
            .term = 5,
            .members = {{2, raft::MemberType::passive, false, "tcp://127.0.0.1:7102"},
                        {3, raft::MemberType::active, true, "tcp://127.0.0.1:7103"},
                        {9, raft::MemberType::reserve, false, ""}}};
}

std::vector<raft::Message> sample_messages() {
    std::vector<raft::Entry> entries = {sample_entry(0), sample_entry(1), sample_entry(2)};
    return {
        raft::AppendRequest{11, 12, 13, 14, 15, 16, 17, entries, 18},
        raft::AppendResponse{21, true, 22, 23, true},
        raft::PollRequest{31, 32, 33, 34},
        raft::PollResponse{41, true},
        raft::VoteRequest{51, 52, 53, 54, true},
        raft::VoteResponse{61, true},
        raft::TimeoutNow{71},
        raft::ConfigureRequest{81, 82, 83, sample_configuration()},
        raft::ConfigureResponse{91},
        raft::InstallSnapshotRequest{101, 102, 103, 104, sample_configuration(), 105, 106,
                                     Bytes{9, 8, 7, 6}, true},
        raft::InstallSnapshotResponse{111, 112, 113, true},
    };
}

raft::Envelope sample_envelope(raft::Message message) { return {3, 4, std::move(message)}; }

void expect_same_message(const raft::Message& sent, const raft::Message& received) {
    ASSERT_EQ(sent.index(), received.index()) << "sent a " << raft::message_name(sent);
    std::visit(
        [&](const auto& expected) {
            using T = std::decay_t<decltype(expected)>;
            expect_fields_equal(fields(expected), fields(std::get<T>(received)),
                                raft::message_name(sent));
        },
        sent);
}

Result<PeerMessage> decode(const Bytes& bytes) { return decode_peer(bytes.data(), bytes.size()); }

Result<PeerMessage> decode(flatbuffers::FlatBufferBuilder& builder) {
    return decode_peer(builder.GetBufferPointer(), builder.GetSize());
}

// The message of a refusal, for EXPECT_THAT-free matching.
std::string refusal(const Result<PeerMessage>& result) {
    EXPECT_FALSE(result.is_ok()) << "expected a refusal";
    return result.is_ok() ? "" : result.status().message();
}

// A hand-built PeerMessage around `body`, for bodies no encoder would write.
template <typename Wire>
void finish_raw(flatbuffers::FlatBufferBuilder& builder, flatbuffers::Offset<Wire> body,
                uint64_t from = 3, uint64_t to = 4) {
    auto root =
        fb::CreatePeerMessage(builder, 0, from, to, fb::BodyTraits<Wire>::enum_value, body.Union());
    builder.Finish(root, fb::PeerMessageIdentifier());
}

// --- round trips ---

TEST(PeerCodecTest, SamplesSetEveryField) {
    for (const raft::Message& message : sample_messages()) {
        std::visit(
            [&](const auto& sample) {
                using T = std::decay_t<decltype(sample)>;
                expect_fields_differ(fields(sample), fields(T{}), raft::message_name(message));
            },
            message);
    }
    expect_fields_differ(fields(sample_entry(1)), fields(raft::Entry{}), "Entry");
    expect_fields_differ(fields(sample_configuration().members[0]), fields(raft::Member{}),
                         "Member");
    expect_fields_differ(fields(sample_configuration()), fields(raft::Configuration{}),
                         "Configuration");
}

TEST(PeerCodecTest, EveryMessageTypeSurvivesTheRoundTripWithEveryField) {
    std::set<size_t> kinds;
    for (const raft::Message& message : sample_messages()) {
        Result<PeerMessage> decoded = decode(encode_peer("east", sample_envelope(message)));
        ASSERT_TRUE(decoded.is_ok()) << decoded.status().to_string();
        EXPECT_EQ(decoded->cluster, "east");
        EXPECT_EQ(decoded->envelope.from, 3u);
        EXPECT_EQ(decoded->envelope.to, 4u);
        expect_same_message(message, decoded->envelope.message);
        kinds.insert(message.index());
    }
    EXPECT_EQ(kinds.size(), std::variant_size_v<raft::Message>) << "a message type untested";
}

TEST(PeerCodecTest, EmptyVectorsAndStringsComeBackEmpty) {
    raft::InstallSnapshotRequest request{1, 2, 3, 4, {}, 0, 0, {}, false};
    Result<PeerMessage> decoded = decode(encode_peer("", sample_envelope(request)));
    ASSERT_TRUE(decoded.is_ok()) << decoded.status().to_string();
    EXPECT_EQ(decoded->cluster, "");
    expect_same_message(request, decoded->envelope.message);

    raft::AppendRequest heartbeat{1, 2, 0, 0, 0, 0, 9, {}};
    decoded = decode(encode_peer("c", sample_envelope(heartbeat)));
    ASSERT_TRUE(decoded.is_ok()) << decoded.status().to_string();
    expect_same_message(heartbeat, decoded->envelope.message);
}

TEST(PeerCodecTest, ALargeAppendRoundTripsAndAReusedBuilderEncodesLikeAFreshOne) {
    raft::AppendRequest append{8, 1, 999, 7, 990, 900, 3, {}};
    for (uint64_t k = 0; k < 20000; ++k) {
        raft::Entry entry = sample_entry(k);
        entry.index = 1000 + k;
        entry.payload.assign(k % 100, static_cast<uint8_t>(k));
        append.entries.push_back(std::move(entry));
    }
    flatbuffers::FlatBufferBuilder builder;
    std::span<const uint8_t> first = encode_peer(builder, "east", sample_envelope(append));
    Bytes large(first.begin(), first.end());
    EXPECT_EQ(large, encode_peer("east", sample_envelope(append)));

    // The same builder, now holding a large buffer, encodes a small message exactly.
    raft::Message vote = raft::VoteResponse{61, true};
    std::span<const uint8_t> second = encode_peer(builder, "east", sample_envelope(vote));
    EXPECT_EQ(Bytes(second.begin(), second.end()), encode_peer("east", sample_envelope(vote)));

    Result<PeerMessage> decoded = decode(large);
    ASSERT_TRUE(decoded.is_ok()) << decoded.status().to_string();
    expect_same_message(append, decoded->envelope.message);
}

// --- refusals ---

TEST(PeerCodecTest, AnotherProtocolsMessageIsRefusedByItsIdentifier) {
    Bytes client = encode_request(5, session::UnregisterRequest{7});
    EXPECT_EQ(refusal(decode(client)),
              "peer message: file identifier \"CCCL\" is not \"CCPR\": another protocol's "
              "message");

    Bytes peer = encode_peer("east", sample_envelope(raft::TimeoutNow{3}));
    std::memcpy(peer.data() + 4, "CC\x01R", 4);
    EXPECT_NE(refusal(decode(peer)).find("\"CC\\x01R\""), std::string::npos);
}

// FlatBuffers may end a buffer with alignment padding; a cut through it loses nothing. Any
// cut into content is refused.
TEST(PeerCodecTest, EveryTruncationIntoContentIsRefused) {
    for (const raft::Message& message : sample_messages()) {
        Bytes bytes = encode_peer("east", sample_envelope(message));
        size_t padding = 0;
        while (padding < bytes.size() && bytes[bytes.size() - 1 - padding] == 0) padding++;
        for (size_t size = 0; size < bytes.size(); ++size) {
            Result<PeerMessage> decoded = decode_peer(bytes.data(), size);
            if (size < bytes.size() - padding) {
                EXPECT_FALSE(decoded.is_ok())
                    << raft::message_name(message) << " cut to " << size << " bytes decoded";
            } else if (decoded.is_ok()) {
                expect_same_message(message, decoded->envelope.message);
            }
        }
    }
    EXPECT_EQ(refusal(decode_peer(nullptr, 0)),
              "peer message: 0 bytes: too short for a message (at least 8)");
}

TEST(PeerCodecTest, AMessageWithoutABodyOrOfAnUnknownTypeIsRefused) {
    flatbuffers::FlatBufferBuilder builder;
    builder.Finish(fb::CreatePeerMessage(builder, 0, 3, 4), fb::PeerMessageIdentifier());
    EXPECT_EQ(refusal(decode(builder)), "peer message: no message body");

    builder.Clear();
    auto body = fb::CreateTimeoutNow(builder, 5);
    builder.Finish(
        fb::CreatePeerMessage(builder, 0, 3, 4, static_cast<fb::Body>(200), body.Union()),
        fb::PeerMessageIdentifier());
    EXPECT_EQ(refusal(decode(builder)), "peer message: unknown message type 200");

    builder.Clear();
    builder.Finish(fb::CreatePeerMessage(builder, 0, 3, 4, fb::Body::VoteRequest, 0),
                   fb::PeerMessageIdentifier());
    EXPECT_EQ(refusal(decode(builder)), "peer message: VoteRequest without a body");
}

TEST(PeerCodecTest, EnumValuesOutOfRangeAreRefused) {
    struct Case {
        fb::EntryType type;
        fb::CompactionMode mode;
        const char* refusal;
    };
    const Case cases[] = {
        {static_cast<fb::EntryType>(0), fb::CompactionMode::Full,
         "peer message: entry type 0 is not one of 1..3"},
        {static_cast<fb::EntryType>(4), fb::CompactionMode::Full,
         "peer message: entry type 4 is not one of 1..3"},
        {fb::EntryType::Command, static_cast<fb::CompactionMode>(9),
         "peer message: entry compaction mode 9 is not one of 0..8"},
    };
    for (const Case& c : cases) {
        flatbuffers::FlatBufferBuilder builder;
        std::vector<flatbuffers::Offset<fb::Entry>> entries = {
            fb::CreateEntry(builder, 1, 1, c.type, 0, c.mode)};
        auto list = builder.CreateVector(entries);
        finish_raw(builder, fb::CreateAppendRequest(builder, 1, 2, 0, 0, 0, 0, 0, list));
        EXPECT_EQ(refusal(decode(builder)), c.refusal);
    }

    flatbuffers::FlatBufferBuilder builder;
    std::vector<flatbuffers::Offset<fb::Member>> members = {
        fb::CreateMember(builder, 1, static_cast<fb::MemberType>(4))};
    auto configuration = fb::CreateConfiguration(builder, 1, 1, builder.CreateVector(members));
    finish_raw(builder, fb::CreateConfigureRequest(builder, 1, 2, 0, configuration));
    EXPECT_EQ(refusal(decode(builder)), "peer message: member type 4 is not one of 0..3");
}

TEST(PeerCodecTest, NodeZeroIsRefusedWhereANodeIsNamed) {
    flatbuffers::FlatBufferBuilder builder;
    finish_raw(builder, fb::CreateTimeoutNow(builder, 1), 0, 4);
    EXPECT_EQ(refusal(decode(builder)), "peer message: sender is node 0 (no node)");
    builder.Clear();
    finish_raw(builder, fb::CreateTimeoutNow(builder, 1), 3, 0);
    EXPECT_EQ(refusal(decode(builder)), "peer message: receiver is node 0 (no node)");
    builder.Clear();
    finish_raw(builder, fb::CreateAppendRequest(builder, 1, 0));
    EXPECT_EQ(refusal(decode(builder)), "peer message: leader is node 0 (no node)");
    builder.Clear();
    finish_raw(builder, fb::CreateVoteRequest(builder, 1, 0));
    EXPECT_EQ(refusal(decode(builder)), "peer message: candidate is node 0 (no node)");
    builder.Clear();
    finish_raw(builder, fb::CreatePollRequest(builder, 1, 0));
    EXPECT_EQ(refusal(decode(builder)), "peer message: candidate is node 0 (no node)");
}

// Configuration::find assumes one member per id; the core keeps them sorted.
TEST(PeerCodecTest, ConfigurationsWithMembersOutOfOrderRepeatedOrMissingAreRefused) {
    const std::vector<std::vector<uint64_t>> bad_ids = {{3, 2}, {2, 2}, {0, 1}};
    for (const std::vector<uint64_t>& ids : bad_ids) {
        flatbuffers::FlatBufferBuilder builder;
        std::vector<flatbuffers::Offset<fb::Member>> members;
        for (uint64_t id : ids) members.push_back(fb::CreateMember(builder, id));
        auto configuration = fb::CreateConfiguration(builder, 1, 1, builder.CreateVector(members));
        finish_raw(builder, fb::CreateInstallSnapshotRequest(builder, 1, 2, 3, 4, configuration));
        EXPECT_NE(refusal(decode(builder)).find("configuration members not sorted by id"),
                  std::string::npos)
            << ids[0] << ", " << ids[1];
    }
    flatbuffers::FlatBufferBuilder builder;
    finish_raw(builder, fb::CreateConfigureRequest(builder, 1, 2, 3));
    EXPECT_EQ(refusal(decode(builder)), "peer message: configuration missing");
}

TEST(PeerCodecTest, AClusterNameLongerThanTheBoundIsRefused) {
    Bytes longest =
        encode_peer(std::string(kMaxClusterNameBytes, 'c'), sample_envelope(raft::TimeoutNow{1}));
    EXPECT_TRUE(decode(longest).is_ok());

    flatbuffers::FlatBufferBuilder builder;
    auto name = builder.CreateString(std::string(kMaxClusterNameBytes + 1, 'c'));
    auto body = fb::CreateTimeoutNow(builder, 1);
    builder.Finish(fb::CreatePeerMessage(builder, name, 3, 4, fb::Body::TimeoutNow, body.Union()),
                   fb::PeerMessageIdentifier());
    EXPECT_EQ(refusal(decode(builder)),
              "peer message: cluster name of 257 bytes is longer than 256");
}

// Verification allows many offsets to one vector; decoding each copy would turn a 64 KiB
// message into gigabytes.
TEST(PeerCodecTest, EntriesSharingOnePayloadAreRefusedBeforeTheyAreCopied) {
    flatbuffers::FlatBufferBuilder builder;
    auto payload = builder.CreateVector(Bytes(64 * 1024, 0xab));
    auto entry = fb::CreateEntry(builder, 1, 1, fb::EntryType::Command, 0,
                                 fb::CompactionMode::Default, payload);
    std::vector<flatbuffers::Offset<fb::Entry>> entries(100'000, entry);
    auto list = builder.CreateVector(entries);
    finish_raw(builder, fb::CreateAppendRequest(builder, 1, 2, 0, 0, 0, 0, 0, list));
    ASSERT_LT(builder.GetSize(), 1u << 20);
    EXPECT_EQ(refusal(decode(builder)),
              "peer message: entry payload: the message decodes to more bytes than it holds "
              "(vectors share their contents)");
}

// --- arbitrary damage ---

TEST(PeerCodecRobustnessTest, MutatedMessagesAreRefusedOrDecodeToMessagesThatEncodeAgain) {
    std::vector<Bytes> seeds;
    for (const raft::Message& message : sample_messages()) {
        seeds.push_back(encode_peer("east", sample_envelope(message)));
    }
    std::mt19937_64 random(0x5eed'0001);
    size_t accepted = 0;
    size_t refused = 0;
    for (int round = 0; round < 30000; ++round) {
        Bytes bytes = testing::mutate(seeds[random() % seeds.size()], random);
        Result<PeerMessage> decoded = decode(bytes);
        if (!decoded.is_ok()) {
            EXPECT_FALSE(decoded.status().message().empty());
            refused++;
            continue;
        }
        accepted++;
        // What decodes is a message the core could have sent: it encodes (no assertion
        // fires) and comes back the same.
        Result<PeerMessage> again = decode(encode_peer(decoded->cluster, decoded->envelope));
        ASSERT_TRUE(again.is_ok()) << "round " << round << ": " << again.status().to_string();
        expect_same_message(decoded->envelope.message, again->envelope.message);
    }
    EXPECT_GT(accepted, 1000u) << "mutations too destructive to reach the field checks";
    EXPECT_GT(refused, 1000u);
}

}  // namespace
}  // namespace copycat::wire
